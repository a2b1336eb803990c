"""TensorFlow types: a Keras model, a tensor and TFRecords passed between tasks (as flytekit's TensorFlow types;
no import of a plugin is needed, a signature that names a TensorFlow type is enough).

    pip install 'flyrun[tensorflow]'
    flyrun run examples/tensorflow_keras.py train_wf --n 256 --epochs 20
    flyrun run examples/tensorflow_keras.py records_wf
    flyrun run --remote examples/tensorflow_keras.py train_wf      # on `flyrun sandbox` or a Flyte cluster

The model travels as one blob in Keras's own ``.keras`` format (flytekit's ``TensorFlowModel``); a TFRecord input
arrives as a ``tf.data.TFRecordDataset`` read with the options of its ``TFRecordDatasetConfig``.
"""

from typing import Annotated, List, Tuple

import tensorflow as tf

from flyrun import task, workflow
from flyrun.extras.tensorflow.record import TFRecordDatasetConfig
from flyrun.types.directory import TFRecordsDirectory
from flyrun.types.file import TFRecordFile


@task
def make_data(n: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """y = 3x - 1 with a little noise, fixed seed."""
    generator = tf.random.Generator.from_seed(7)
    x = generator.uniform((n, 1), -1.0, 1.0)
    return x, 3.0 * x - 1.0 + generator.normal((n, 1), stddev=0.01)


@task
def train(x: tf.Tensor, y: tf.Tensor, epochs: int) -> tf.keras.Model:
    tf.keras.utils.set_random_seed(7)
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.5), loss="mse")
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


@task
def predict(model: tf.keras.Model, points: List[float]) -> List[float]:
    predicted = model.predict(tf.constant([[p] for p in points]), verbose=0)
    return [round(float(v), 1) for v in predicted[:, 0]]


@workflow
def train_wf(n: int = 256, epochs: int = 20) -> List[float]:
    x, y = make_data(n=n)
    return predict(model=train(x=x, y=y, epochs=epochs), points=[0.0, 1.0, 2.0])


def _example(label: str, value: float) -> tf.train.Example:
    return tf.train.Example(features=tf.train.Features(feature={
        "label": tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
        "value": tf.train.Feature(float_list=tf.train.FloatList(value=[value])),
    }))


@task
def write_one() -> TFRecordFile:
    return _example("one", 1.0)


@task
def write_many(n: int) -> TFRecordsDirectory:
    return [_example(f"item{i}", float(i)) for i in range(n)]


def _labels(dataset: tf.data.TFRecordDataset) -> List[str]:
    spec = {"label": tf.io.FixedLenFeature([], tf.string), "value": tf.io.FixedLenFeature([], tf.float32)}
    return sorted(tf.io.parse_single_example(raw, spec)["label"].numpy().decode() for raw in dataset)


@task
def read_one(record: TFRecordFile) -> List[str]:
    return _labels(record)


@task
def read_many(records: Annotated[TFRecordsDirectory, TFRecordDatasetConfig(buffer_size=1024,
                                                                            num_parallel_reads=2)]) -> List[str]:
    return _labels(records)


@workflow
def records_wf(n: int = 3) -> Tuple[List[str], List[str]]:
    return read_one(record=write_one()), read_many(records=write_many(n=n))
