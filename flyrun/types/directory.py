"""``flyrun.types.directory``: where flytekit programs import ``FlyteDirectory`` and its typed aliases from
(``flytekit.types.directory``)."""

from flyrun.data.files import FlyteDirectory
from flyrun.types.tensorflow import TFRecordsDirectory

# FlyteDirectory["fmt"] at run time; spelled as the call so type checkers read a value, not a generic alias.

TensorboardLogs = FlyteDirectory.__class_getitem__("tensorboard")

__all__ = ["FlyteDirectory", "TFRecordsDirectory", "TensorboardLogs"]
