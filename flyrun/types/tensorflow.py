"""TensorFlow types, with the literals flytekit's ``flytekit.extras.tensorflow`` writes:

- ``tf.keras.Model`` (and subclasses such as ``Sequential``): LiteralType ``{"blob": {"format": "TensorFlowModel"}}``,
  the model saved in Keras's own ``.keras`` format as one blob, loaded back with ``load_model``.
- ``TFRecordFile`` / ``TFRecordsDirectory``: ``{"blob": {"format": "TensorFlowRecord"}}``, SINGLE or MULTIPART. A task
  returns a ``tf.train.Example`` (a directory: a list of them; one ``part_<i>.tfrecord`` each), or a path/URI of
  TFRecord files already written; it receives a ``tf.data.TFRecordDataset``, read with the options of
  ``Annotated[TFRecordFile, TFRecordDatasetConfig(...)]``.
- ``tf.Tensor``: flytekit has no transformer for it and pickles it (FlytePickle); so does flyrun, with the same
  literal type, so a flytekit task reads what a flyrun task wrote. The command line and ``-o json`` use nested lists.

Types are recognised by module and class name: nothing imports tensorflow or keras until a value is converted, and
a missing library is one line naming ``pip install 'flyrun[tensorflow]'``.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from typing import Any

from flyrun.data import fs as storage
from flyrun.data import transfer
from flyrun.data.blob_type import BlobTransformer
from flyrun.data.files import FlyteDirectory, FlyteFile, _context
from flyrun.errors import UsageError
from flyrun.types import pickles
from flyrun.types.pickles import FORMAT, PickleTransformer, class_name
from flyrun.types.registry import TypeMismatch, TypeTransformer

MODEL_FORMAT = "TensorFlowModel"
RECORD_FORMAT = "TensorFlowRecord"
INSTALL = "pip install 'flyrun[tensorflow]'"


@dataclasses.dataclass
class TFRecordDatasetConfig:
    """How a ``TFRecordFile``/``TFRecordsDirectory`` input is read (``tf.data.TFRecordDataset``'s arguments):
    ``Annotated[TFRecordFile, TFRecordDatasetConfig(compression_type="GZIP")]``."""

    compression_type: str | None = None
    buffer_size: int | None = None
    num_parallel_reads: int | None = None
    name: str | None = None


class TFRecordFile(FlyteFile):
    """A file of TFRecords (flytekit's ``flytekit.types.file.TFRecordFile``)."""

    extension = RECORD_FORMAT

    @classmethod
    def __flyrun_transformer__(cls) -> Any:
        return TFRecordTransformer()


class TFRecordsDirectory(FlyteDirectory):
    """A folder of TFRecord files (flytekit's ``flytekit.types.directory.TFRecordsDirectory``)."""

    extension = RECORD_FORMAT

    @classmethod
    def __flyrun_transformer__(cls) -> Any:
        return TFRecordTransformer()


def require(module: str, why: str) -> Any:
    """Import tensorflow or keras, or say in one line which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"{why} needs {module}, which is not installed: {INSTALL}") from None


def _in_mro(python_type: Any, class_name: str, modules: tuple[str, ...]) -> type | None:
    if not isinstance(python_type, type):
        return None
    for klass in python_type.__mro__:
        if klass.__name__ == class_name and klass.__module__.split(".")[0] in modules:
            return klass
    return None


def is_keras_model(python_type: Any) -> bool:
    # Keras 3 (tf.keras from TF 2.16 on: keras.src.models.model.Model) and Keras 2 (tf_keras, tensorflow.keras).
    return _in_mro(python_type, "Model", ("keras", "tf_keras", "tensorflow")) is not None


def is_tensor(python_type: Any) -> bool:
    return _in_mro(python_type, "Tensor", ("tensorflow",)) is not None and python_type.__module__.startswith(
        "tensorflow.python.framework")


def _record_parts(python_type: Any) -> tuple[Any, TFRecordDatasetConfig]:
    """(TFRecordFile or TFRecordsDirectory, its read options) of a record type, Annotated or not."""
    if typing.get_origin(python_type) is typing.Annotated:
        base, *metadata = typing.get_args(python_type)
        configs = [m for m in metadata if isinstance(m, TFRecordDatasetConfig)]
        if not configs:
            raise TypeMismatch(f"{base.__name__}'s annotation must be a TFRecordDatasetConfig, got {metadata!r}")
        return base, configs[-1]
    return python_type, TFRecordDatasetConfig()


def is_record_type(python_type: Any) -> bool:
    if typing.get_origin(python_type) is typing.Annotated:
        base, *metadata = typing.get_args(python_type)
        return is_record_type(base) and any(isinstance(m, TFRecordDatasetConfig) for m in metadata)
    return isinstance(python_type, type) and issubclass(python_type, (TFRecordFile, TFRecordsDirectory))


def _storage_context() -> Any:
    return _context()


def _new_uri(name: str) -> str:
    import secrets
    import tempfile


    prefix = _storage_context().raw_output_prefix or tempfile.mkdtemp(prefix="flyrun-raw-")
    return storage.join(prefix, secrets.token_hex(16), name) if name else storage.join(prefix, secrets.token_hex(16))


def _blob(uri: str, dimensionality: str, fmt: str) -> dict:
    return {"scalar": {"blob": {"metadata": {"type": {"format": fmt, "dimensionality": dimensionality}},
                                "uri": uri}}}


def _blob_uri(literal: dict, what: str) -> str:
    try:
        return literal["scalar"]["blob"]["uri"]
    except (KeyError, TypeError):
        raise TypeMismatch(f"literal {literal!r} is not a {what} blob") from None


def _local_copy(uri: str, directory: bool, suffix: str = "") -> str:
    """A local path holding the blob at ``uri`` (the path itself when it is already local)."""
    import tempfile

    if storage.is_local(uri):
        return storage.normalize(uri)
    folder = tempfile.mkdtemp(prefix="flyrun-tensorflow-")
    local = os.path.join(folder, "data" + suffix)
    if directory:
        transfer.download_directory(uri, local, _storage_context())
    else:
        transfer.download_file(uri, local, _storage_context())
    return local


class KerasModelTransformer(TypeTransformer):
    name = "keras-model"

    def matches(self, python_type: Any) -> bool:
        return is_keras_model(python_type)

    def literal_type(self, python_type: Any) -> dict:
        return {"blob": {"format": MODEL_FORMAT, "dimensionality": "SINGLE"}}

    def describe(self, python_type: Any) -> str:
        return python_type.__name__

    def check(self, value: Any, python_type: Any) -> None:
        if not isinstance(value, python_type):
            raise TypeMismatch(f"expected a Keras {python_type.__name__}, got {type(value).__name__}")

    def _keras(self, python_type: Any) -> Any:
        model_class = _in_mro(python_type, "Model", ("keras", "tf_keras", "tensorflow"))
        top = model_class.__module__.split(".")[0] if model_class is not None else "keras"
        return require("tf_keras" if top == "tf_keras" else "keras", "a Keras model")

    def to_literal(self, value: Any, python_type: Any) -> dict:
        self.check(value, python_type)
        import shutil
        import tempfile


        folder = tempfile.mkdtemp(prefix="flyrun-keras-")
        try:
            local = os.path.join(folder, "model.keras")  # load_model and save_model go by the suffix
            try:
                self._keras(python_type).saving.save_model(value, local)
            except (ValueError, TypeError, NotImplementedError) as exc:
                raise TypeMismatch(f"this Keras model cannot be saved in the .keras format: "
                                   f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            uri = _new_uri("model.keras")
            transfer.upload_file(local, uri, _storage_context())
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return _blob(os.path.abspath(uri) if "://" not in uri else uri, "SINGLE", MODEL_FORMAT)

    def to_python(self, literal: dict, python_type: Any) -> Any:
        uri = _blob_uri(literal, "Keras model")
        keras = self._keras(python_type)
        local = _local_copy(uri, directory=False, suffix=".keras")
        if not local.endswith(".keras"):
            # A model another tool stored without the suffix: Keras reads the format from the name.
            import shutil
            import tempfile

            named = os.path.join(tempfile.mkdtemp(prefix="flyrun-keras-"), "model.keras")
            shutil.copyfile(local, named)
            local = named
        model = keras.saving.load_model(local)
        if not isinstance(model, python_type):
            raise TypeMismatch(f"the stored model is a {type(model).__name__}, not a {python_type.__name__}")
        return model

    def from_json(self, value: Any, python_type: Any) -> Any:
        if isinstance(value, str) and value.strip():
            return self.to_python({"scalar": {"blob": {"uri": value.strip()}}}, python_type)
        raise TypeMismatch(f"expected the path or URI of a .keras file for {python_type.__name__}, got {value!r}")

    def from_text(self, text: str, python_type: Any) -> Any:
        return self.from_json(text, python_type)

    def to_json(self, value: Any, python_type: Any) -> Any:
        return f"<{type(value).__name__} {getattr(value, 'name', '')}>".replace(" >", ">")


class TFRecordTransformer(TypeTransformer):
    name = "tfrecord"

    def matches(self, python_type: Any) -> bool:
        return is_record_type(python_type)

    def literal_type(self, python_type: Any) -> dict:
        base, _ = _record_parts(python_type)
        return {"blob": {"format": RECORD_FORMAT, "dimensionality": base.dimensionality}}

    def describe(self, python_type: Any) -> str:
        return _record_parts(python_type)[0].__name__

    def _as_location(self, value: Any) -> str | None:
        """The path or URI a value already stands for: a path, a FlyteFile/Directory, a dataset we read."""
        if isinstance(value, (str, os.PathLike)) and not hasattr(value, "SerializeToString"):
            return str(value.path) if hasattr(value, "path") else os.fspath(value)
        uri = getattr(value, "_flyrun_uri", None)
        return uri if isinstance(uri, str) else None

    def check(self, value: Any, python_type: Any) -> None:
        base, _ = _record_parts(python_type)
        if self._as_location(value) is not None:
            return
        if base.dimensionality == "SINGLE":
            if not hasattr(value, "SerializeToString"):
                raise TypeMismatch(f"expected a tf.train.Example or the path of a TFRecord file for "
                                   f"{base.__name__}, got {type(value).__name__}")
            return
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TypeMismatch(f"expected a list of tf.train.Example or the path of a folder of TFRecord files "
                               f"for {base.__name__}, got {type(value).__name__}")

    def to_literal(self, value: Any, python_type: Any) -> dict:
        base, _ = _record_parts(python_type)
        self.check(value, python_type)
        location = self._as_location(value)
        if location is not None:
            return BlobTransformer().to_literal(location, base)
        records = [value] if base.dimensionality == "SINGLE" else list(value)
        for record in records:
            if not hasattr(record, "SerializeToString"):
                raise TypeMismatch(f"expected tf.train.Example records for {base.__name__}, got "
                                   f"{type(record).__name__}")
        return self._write(records, base)

    def _write(self, records: list[Any], base: Any) -> dict:
        import shutil
        import tempfile


        tf = require("tensorflow", f"writing a {base.__name__}")
        folder = tempfile.mkdtemp(prefix="flyrun-tfrecord-")
        try:
            if base.dimensionality == "SINGLE":
                # flytekit's layout: one record in 0000.tfrecord; a folder gets part_<i>.tfrecord per record.
                local = os.path.join(folder, "0000.tfrecord")
                with tf.io.TFRecordWriter(local) as writer:
                    writer.write(records[0].SerializeToString())
                uri = _new_uri("0000.tfrecord")
                transfer.upload_file(local, uri, _storage_context())
            else:
                for index, record in enumerate(records):
                    with tf.io.TFRecordWriter(os.path.join(folder, f"part_{index}.tfrecord")) as writer:
                        writer.write(record.SerializeToString())
                uri = _new_uri("")
                transfer.upload_directory(folder, uri, _storage_context())
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return _blob(os.path.abspath(uri) if "://" not in uri else uri, base.dimensionality, RECORD_FORMAT)

    def to_python(self, literal: dict, python_type: Any) -> Any:
        base, config = _record_parts(python_type)
        uri = _blob_uri(literal, "TFRecord")
        return self._dataset(uri, base, config)

    def _dataset(self, uri: str, base: Any, config: TFRecordDatasetConfig) -> Any:
        tf = require("tensorflow", f"reading a {base.__name__}")
        directory = base.dimensionality == "MULTIPART"
        local = _local_copy(uri, directory=directory)
        if directory:
            if not os.path.isdir(local):
                raise TypeMismatch(f"{uri} is not a folder of TFRecord files")
            filenames = sorted(os.path.join(root, name) for root, _dirs, names in os.walk(local) for name in names
                               if not name.startswith("."))
        else:
            if not os.path.isfile(local):
                raise TypeMismatch(f"{uri} is not a TFRecord file")
            filenames = [local]
        dataset = tf.data.TFRecordDataset(filenames=filenames, compression_type=config.compression_type,
                                          buffer_size=config.buffer_size,
                                          num_parallel_reads=config.num_parallel_reads, name=config.name)
        # Locally values, not literals, flow between tasks: the next task's own read options rebuild the dataset
        # from this (see ``fit``), and returning the dataset stores this location again.
        dataset._flyrun_uri = uri
        return dataset

    def fit(self, value: Any, python_type: Any) -> Any:
        uri = getattr(value, "_flyrun_uri", None)
        if isinstance(uri, str):
            base, config = _record_parts(python_type)
            return self._dataset(uri, base, config)
        return value

    def from_json(self, value: Any, python_type: Any) -> Any:
        base, _ = _record_parts(python_type)
        return BlobTransformer().from_json(value, base)

    def from_text(self, text: str, python_type: Any) -> Any:
        return self.from_json(text, python_type)

    def to_json(self, value: Any, python_type: Any) -> Any:
        location = self._as_location(value)
        return location if location is not None else repr(value)

    def to_payload(self, value: Any, python_type: Any) -> Any:
        return {"path": self.to_literal(value, python_type)["scalar"]["blob"]["uri"]}

    def from_payload(self, value: Any, python_type: Any) -> Any:
        path = value.get("path") if isinstance(value, dict) else value
        if not isinstance(path, str):
            raise TypeMismatch(f"expected {{'path': ...}} for {self.describe(python_type)}, got {value!r}")
        base, config = _record_parts(python_type)
        return self._dataset(path, base, config)


class TensorTransformer(PickleTransformer):
    """``tf.Tensor``: pickled, exactly as flytekit does (it has no tensor transformer), without the warning a type
    unknown to flyrun gets; nested lists on the command line and in ``-o json``."""

    name = "tf-tensor"

    def matches(self, python_type: Any) -> bool:
        return is_tensor(python_type)

    def literal_type(self, python_type: Any) -> dict:
        return {"blob": {"format": FORMAT}, "metadata": {"python_class_name": class_name(python_type)}}

    def describe(self, python_type: Any) -> str:
        return "tf.Tensor"

    def check(self, value: Any, python_type: Any) -> None:
        if not isinstance(value, python_type):
            raise TypeMismatch(f"expected a tf.Tensor, got {type(value).__name__}")

    def to_literal(self, value: Any, python_type: Any) -> dict:
        # PickleTransformer's, without its warning: tensors are a known family, pickled on purpose as flytekit does.
        self.check(value, python_type)
        import cloudpickle


        uri = pickles.write_pickle(cloudpickle.dumps(value))
        return {"scalar": {"blob": {"metadata": {"type": {"format": pickles.FORMAT}}, "uri": uri}}}

    def from_text(self, text: str, python_type: Any) -> Any:
        return TypeTransformer.from_text(self, text, python_type)

    def from_json(self, value: Any, python_type: Any) -> Any:
        tf = require("tensorflow", "a tf.Tensor input")
        if isinstance(value, python_type):
            return value
        if isinstance(value, (list, int, float, bool)):
            try:
                return tf.constant(value)
            except (ValueError, TypeError) as exc:
                raise TypeMismatch(f"{value!r} is not a tensor: {str(exc).splitlines()[0]}") from None
        raise TypeMismatch(f"expected a number or a JSON list (nested for more dimensions) for a tf.Tensor, got "
                           f"{value!r}")

    def to_json(self, value: Any, python_type: Any) -> Any:
        return value.numpy().tolist()
