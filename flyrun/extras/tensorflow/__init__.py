"""``flyrun.extras.tensorflow`` (flytekit's ``flytekit.extras.tensorflow``): TensorFlow's types need no import to be
used in a signature; the read options of TFRecord inputs live in ``record``. tensorflow itself is the optional extra
``flyrun[tensorflow]``, imported only when a value is converted."""

from flyrun.types.tensorflow import TFRecordDatasetConfig, TFRecordFile, TFRecordsDirectory

__all__ = ["TFRecordDatasetConfig", "TFRecordFile", "TFRecordsDirectory"]
