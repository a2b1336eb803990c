"""``flyrun.extras.tensorflow.record`` (flytekit's ``flytekit.extras.tensorflow.record``)."""

from flyrun.types.tensorflow import TFRecordDatasetConfig, TFRecordFile, TFRecordsDirectory

__all__ = ["TFRecordDatasetConfig", "TFRecordFile", "TFRecordsDirectory"]
