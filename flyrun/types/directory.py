"""``flyrun.types.directory``: where flytekit programs import ``FlyteDirectory`` and its typed aliases from
(``flytekit.types.directory``)."""

from flyrun.data.files import FlyteDirectory

TensorboardLogs = FlyteDirectory["tensorboard"]
TFRecordsDirectory = FlyteDirectory["tfrecord"]

__all__ = ["FlyteDirectory", "TFRecordsDirectory", "TensorboardLogs"]
