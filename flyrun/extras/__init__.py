"""flytekit's ``flytekit.extras``: extra kinds of tasks."""
