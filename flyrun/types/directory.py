"""``flyrun.types.directory``: where flytekit programs import ``FlyteDirectory`` and its typed aliases from
(``flytekit.types.directory``)."""

from flyrun.data.files import FlyteDirectory

# FlyteDirectory["fmt"] at run time; spelled as the call so type checkers read a value, not a generic alias.

TensorboardLogs = FlyteDirectory.__class_getitem__("tensorboard")
TFRecordsDirectory = FlyteDirectory.__class_getitem__("tfrecord")

__all__ = ["FlyteDirectory", "TFRecordsDirectory", "TensorboardLogs"]
