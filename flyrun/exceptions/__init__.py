"""flytekit's user-facing exceptions (``flytekit.exceptions.user``), for programs ported to flyrun."""
