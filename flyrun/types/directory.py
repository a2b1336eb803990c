"""``flyrun.types.directory``: where flytekit programs import ``FlyteDirectory`` from (``flytekit.types.directory``)."""

from flyrun.data.files import FlyteDirectory

__all__ = ["FlyteDirectory"]
