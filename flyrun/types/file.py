"""``flyrun.types.file``: where flytekit programs import ``FlyteFile`` from (``flytekit.types.file``)."""

from flyrun.data.files import FlyteFile

__all__ = ["FlyteFile"]
