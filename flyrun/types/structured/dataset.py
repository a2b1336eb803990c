"""``StructuredDataset`` and data frames (pandas, pyarrow, polars) as Flyte structured datasets.

LiteralType ``{"structured_dataset_type": {"columns": [{"name", "literal_type"}], "format": "csv"}}`` (empty for a
plain ``pd.DataFrame``); Literal ``{"scalar": {"structured_dataset": {"uri": "<raw>/<random hex>", "metadata":
{"structured_dataset_type": {"columns": [...], "format": "parquet"}}}}}``. The URI is a folder holding one file
named ``00000``, as flytekit's encoders write it. Reading accepts a folder (every file in name order) or one file.

Bytes move through fsspec streams (local disk, S3, GCS): writing streams into the object store, ``iter()`` reads
one parquet row group at a time, so memory stays bounded by a batch, not the dataset. Each frame library is an
optional extra, imported only when a value of its type is converted.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator
from typing import Any

from flyrun.data import fs as storage
from flyrun.data import transfer
from flyrun.data.files import _context as context
from flyrun.data.flytecontext import FlyteContextManager
from flyrun.errors import UsageError
from flyrun.types import registry
from flyrun.types.registry import TypeMismatch, TypeTransformer
from flyrun.types.structured import handlers

PARQUET = "parquet"
CSV = "csv"
FORMATS = (PARQUET, CSV)
# Frame classes by "module.qualname", so a type is recognized without importing its library.
FRAME_KINDS = {
    "pandas.core.frame.DataFrame": "pandas",
    "pyarrow.lib.Table": "pyarrow",
    "polars.dataframe.frame.DataFrame": "polars",
}
EXTRAS = {"pandas": "pandas", "pyarrow": "pyarrow", "polars": "polars", "numpy": "numpy"}
BATCH_ROWS = 65536


class MissingExtra(TypeMismatch):
    pass


def require(module: str, why: str) -> Any:
    """Import an optional library, or say which flyrun extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise UsageError(f"{why} needs {top}, which is not installed",
                         hint=f"pip install 'flyrun[{EXTRAS.get(top, top)}]'") from None


class StructuredDataset:
    """A table: a data frame in memory, or files (parquet by default, or CSV) at ``uri``.

    In a task: ``StructuredDataset(dataframe=df)`` to return one (``file_format="csv"`` for CSV), and
    ``sd.open(pd.DataFrame).all()`` (or ``.iter()`` for batches) to read one.
    """

    def __init__(self, dataframe: Any = None, uri: str | None = None, metadata: Any = None,
                 file_format: str = PARQUET, **_: Any) -> None:
        self._dataframe = dataframe
        self.uri = uri
        self.metadata = metadata
        self.file_format = file_format or PARQUET
        self._columns: list[str] | None = None
        self._opened: Any = None

    @property
    def dataframe(self) -> Any:
        return self._dataframe

    def open(self, dataframe_type: Any) -> StructuredDataset:
        """Read as ``dataframe_type`` (``pd.DataFrame``, ``pa.Table``, ``pl.DataFrame``, or a type with a registered
        decoder) with ``all()``/``iter()``."""
        if not handlers.is_registered(dataframe_type):
            frame_kind(dataframe_type, required=True)
        self._opened = dataframe_type
        return self

    def _reader_type(self) -> Any:
        if self._opened is not None:
            return self._opened
        return require("pandas", "reading a StructuredDataset").DataFrame

    def all(self) -> Any:
        if self._dataframe is not None and self.uri is None:
            return self._dataframe
        if self.uri is None:
            raise TypeMismatch("this StructuredDataset has neither a data frame nor a uri")
        decoded = _decode(self.uri, self.file_format, self._reader_type(), self._columns)
        if decoded is not _NO_DECODER:
            if isinstance(decoded, Iterator):  # a decoder may give batches; all() is the whole table
                return require("pandas", "joining decoded batches").concat(list(decoded), ignore_index=True)
            return decoded
        return read_frame(self.uri, self.file_format, self._columns, self._reader_type())

    def iter(self) -> Iterator[Any]:
        """The table in batches (one parquet row group, or up to 65536 CSV rows, at a time)."""
        if self._dataframe is not None and self.uri is None:
            yield self._dataframe
            return
        if self.uri is None:
            raise TypeMismatch("this StructuredDataset has neither a data frame nor a uri")
        decoded = _decode(self.uri, self.file_format, self._reader_type(), self._columns)
        if decoded is not _NO_DECODER:
            yield from (decoded if isinstance(decoded, Iterator) else [decoded])
            return
        yield from iter_frames(self.uri, self.file_format, self._columns, self._reader_type())

    def __repr__(self) -> str:
        where = self.uri or f"<{type(self._dataframe).__name__} in memory>"
        return f"StructuredDataset({where!r}, file_format={self.file_format!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def validate(value: Any) -> StructuredDataset:
            if isinstance(value, StructuredDataset):
                return value
            if isinstance(value, dict) and isinstance(value.get("uri"), str):
                return StructuredDataset(uri=value["uri"], file_format=value.get("file_format") or PARQUET)
            if isinstance(value, str):
                return StructuredDataset(uri=value)
            raise ValueError(f"expected a StructuredDataset, got {type(value).__name__}")

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(
                lambda sd: {"uri": sd.uri, "file_format": sd.file_format}))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"title": cls.__name__, "type": "object",
                "properties": {"uri": {"type": "string"}, "file_format": {"type": "string"}}, "required": ["uri"]}


def required_frame_kind(python_type: Any) -> str:
    """``"pandas"``, ``"pyarrow"`` or ``"polars"``; TypeMismatch for any other type."""
    kind = frame_kind(python_type)
    if kind is None:
        raise TypeMismatch(f"{registry.describe(python_type)} is not a data frame type flyrun reads: use "
                           "pandas.DataFrame, pyarrow.Table or polars.DataFrame")
    return kind


def frame_kind(python_type: Any, required: bool = False) -> str | None:
    """``"pandas"``, ``"pyarrow"``, ``"polars"`` for a frame class, else None."""
    if isinstance(python_type, type):
        for klass in python_type.__mro__:
            kind = FRAME_KINDS.get(f"{klass.__module__}.{klass.__qualname__}")
            if kind:
                return kind
    if required:
        raise TypeMismatch(f"{registry.describe(python_type)} is not a data frame type flyrun reads: use "
                           "pandas.DataFrame, pyarrow.Table or polars.DataFrame")
    return None


def _parts(python_type: Any) -> tuple[Any, dict[str, Any] | None, str]:
    """(base type, declared columns or None, declared format or "") of a dataset type, Annotated or not."""
    columns: dict[str, Any] | None = None
    fmt = ""
    base = python_type
    if typing.get_origin(python_type) is typing.Annotated:
        base, *metadata = typing.get_args(python_type)
        for item in metadata:
            if isinstance(item, dict):
                columns = dict(item)
            elif isinstance(item, str) and (item.lower() in FORMATS or item in handlers.registered_formats()):
                fmt = item if item in handlers.registered_formats() else item.lower()
    return base, columns, fmt


def _is_dataset_base(base: Any) -> bool:
    return (isinstance(base, type) and issubclass(base, StructuredDataset)) or frame_kind(base) is not None or \
        handlers.is_registered(base)


class StructuredDatasetTransformer(TypeTransformer):
    name = "structured dataset"

    def matches(self, python_type: Any) -> bool:
        return _is_dataset_base(_parts(python_type)[0])

    def _sd_type(self, python_type: Any, fmt: str | None = None) -> dict:
        _, columns, declared = _parts(python_type)
        sd_type: dict[str, Any] = {}
        if columns:
            sd_type["columns"] = [{"name": name, "literal_type": registry.literal_type(t)}
                                  for name, t in columns.items()]
        chosen = fmt if fmt is not None else declared
        if chosen:
            sd_type["format"] = chosen
        return sd_type

    def literal_type(self, python_type: Any) -> dict:
        return {"structured_dataset_type": self._sd_type(python_type)}

    def describe(self, python_type: Any) -> str:
        base, columns, fmt = _parts(python_type)
        name = getattr(base, "__name__", str(base))
        details = [", ".join(columns)] if columns else []
        return f"{name}[{'; '.join(details + ([fmt] if fmt else []))}]" if details or fmt else name

    def check(self, value: Any, python_type: Any) -> None:
        base, _, _ = _parts(python_type)
        if isinstance(value, StructuredDataset):
            return
        if frame_kind(base) is not None and isinstance(value, base):
            return
        if isinstance(base, type) and issubclass(base, StructuredDataset) and frame_kind(type(value)):
            return
        if handlers.is_registered(type(value)) and isinstance(base, type) and (
                isinstance(value, base) or issubclass(base, StructuredDataset)):
            return
        raise TypeMismatch(f"expected {self.describe(python_type)}, got {type(value).__name__}")

    def fit(self, value: Any, python_type: Any) -> Any:
        base, _, _ = _parts(python_type)
        if isinstance(base, type) and isinstance(value, base) and not (
                isinstance(value, StructuredDataset) and value.uri is None and value.dataframe is not None):
            return value
        # A frame where a dataset is declared (or the other way round, or another library's frame): through the
        # literal, as it would cross a task boundary.
        return self.to_python(self.to_literal(value, python_type), python_type)

    def to_literal(self, value: Any, python_type: Any) -> dict:
        self.check(value, python_type)
        _, columns, declared = _parts(python_type)
        if isinstance(value, StructuredDataset) and value.dataframe is None and value.uri:
            uri, fmt = value.uri, (value.file_format or declared or PARQUET)
        else:
            frame = value.dataframe if isinstance(value, StructuredDataset) else value
            fmt = declared or (value.file_format if isinstance(value, StructuredDataset) else "") or \
                handlers.default_format(type(frame)) or PARQUET
            encoder = handlers.encoder_for(type(frame), storage.protocol_of(_raw_prefix()), fmt)
            if encoder is not None:
                return self._encode(encoder, value, python_type, fmt)
            uri = write_frame(frame, fmt)
        if storage_is_local(uri):
            uri = os.path.abspath(uri)
        return {"scalar": {"structured_dataset": {
            "uri": uri, "metadata": {"structured_dataset_type": self._sd_type(python_type, fmt)}}}}

    def _encode(self, encoder: handlers.StructuredDatasetEncoder, value: Any, python_type: Any, fmt: str) -> dict:
        """A registered encoder writes the frame; what it returns is the literal, with the declared columns and
        the format filled in where it left them out (as flytekit does)."""
        from flyteidl.core import types_pb2
        from google.protobuf import json_format

        dataset = value if isinstance(value, StructuredDataset) else StructuredDataset(dataframe=value,
                                                                                      file_format=fmt)
        sd_type = self._sd_type(python_type, encoder.supported_format or fmt)
        message = json_format.ParseDict(sd_type, types_pb2.StructuredDatasetType())
        try:
            written = encoder.encode(_flyte_context(), dataset, message)
        except (TypeMismatch, UsageError):
            raise
        except Exception as exc:  # the user's encoder: say which one failed and how
            raise TypeMismatch(f"{type(encoder).__name__}.encode failed: {type(exc).__name__}: {exc}") from None
        stored = written if isinstance(written, dict) else _message_dict(written, "encode", encoder)
        if not isinstance(stored.get("uri"), str) or not stored["uri"]:
            raise TypeMismatch(f"{type(encoder).__name__}.encode returned no uri: return "
                               "literals_pb2.StructuredDataset(uri=..., metadata=...)")
        metadata = stored.setdefault("metadata", {}).setdefault("structured_dataset_type", {})
        for key, given in sd_type.items():
            metadata.setdefault(key, given)
        return {"scalar": {"structured_dataset": stored}}

    def to_python(self, literal: dict, python_type: Any) -> Any:
        try:
            dataset = literal["scalar"]["structured_dataset"]
            uri = dataset["uri"]
        except (KeyError, TypeError):
            raise TypeMismatch(f"literal {literal!r} is not a structured dataset") from None
        stored = ((dataset.get("metadata") or {}).get("structured_dataset_type") or {})
        base, columns, declared = _parts(python_type)
        return self._open(uri, stored.get("format") or declared or PARQUET, base, columns)

    def _open(self, uri: str, fmt: str, base: Any, columns: dict[str, Any] | None) -> Any:
        wanted = list(columns) if columns else None
        if not (isinstance(base, type) and issubclass(base, StructuredDataset)):
            decoded = _decode(uri, fmt, base, wanted)
            if decoded is not _NO_DECODER:
                return decoded
        if wanted:
            check_columns(uri, fmt, wanted)
        if frame_kind(base) is not None:
            return read_frame(uri, fmt, wanted, base)
        dataset = base(uri=uri, file_format=fmt)
        dataset._columns = wanted
        return dataset

    def from_text(self, text: str, python_type: Any) -> Any:
        return self.from_json(text, python_type)

    def from_json(self, value: Any, python_type: Any) -> Any:
        """A path or URI of a parquet or CSV file, or of a folder of them (the format from the extension)."""
        if isinstance(value, dict) and isinstance(value.get("uri"), str):
            return StructuredDataset(uri=value["uri"], file_format=value.get("file_format") or PARQUET)
        if not isinstance(value, str) or not value.strip():
            raise TypeMismatch(f"expected a path or URI of a parquet or CSV file or folder, got {value!r}")

        location = storage.normalize(value.strip())
        if storage.is_local(location):
            if not os.path.exists(location):
                raise TypeMismatch(f"local dataset {value} does not exist")
            location = os.path.abspath(location)
        _, _, declared = _parts(python_type)
        return StructuredDataset(uri=location, file_format=declared or guess_format(location))

    def to_json(self, value: Any, python_type: Any) -> Any:
        if isinstance(value, StructuredDataset) and value.uri:
            return value.uri
        frame = value.dataframe if isinstance(value, StructuredDataset) else value
        shape = getattr(frame, "shape", None)
        # pyarrow's ``columns`` are the column arrays; its names are ``column_names``.
        columns = list(getattr(frame, "column_names", None) or getattr(frame, "columns", None) or [])
        rows = shape[0] if shape else getattr(frame, "num_rows", "?")
        return f"<{type(frame).__name__}: {rows} rows; columns {', '.join(map(str, columns))}>"

    def to_payload(self, value: Any, python_type: Any) -> dict:
        # flytekit's StructuredDataset inside a dataclass or model.
        literal = self.to_literal(value, python_type)["scalar"]["structured_dataset"]
        return {"uri": literal["uri"], "file_format": literal["metadata"]["structured_dataset_type"].get("format")
                or PARQUET}

    def from_payload(self, value: Any, python_type: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("uri"), str):
            base, columns, declared = _parts(python_type)
            return self._open(value["uri"], value.get("file_format") or declared or PARQUET, base, columns)
        return self.from_json(value, python_type)

    def literal_is_reusable(self, literal: dict, python_type: Any) -> bool:
        uri = ((literal.get("scalar") or {}).get("structured_dataset") or {}).get("uri")
        return not isinstance(uri, str) or not storage_is_local(uri) or os.path.exists(uri)


def storage_is_local(uri: str) -> bool:
    return storage.is_local(uri)


def guess_format(location: str) -> str:
    name = location.rstrip("/").lower()
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        return CSV
    if os.path.isdir(location):
        names = [n.lower() for n in os.listdir(location) if not n.startswith((".", "_"))]
        if names and all(n.endswith(".csv") for n in names):
            return CSV
    return PARQUET


# -- bytes --------------------------------------------------------------------------------------------------------
def _context() -> Any:
    return context()


def _raw_prefix() -> str:
    return _context().raw_output_prefix or ""


def _flyte_context() -> Any:
    return FlyteContextManager.current_context()


def _message_dict(message: Any, what: str, handler: Any) -> dict:
    try:
        from google.protobuf import json_format

        return json_format.MessageToDict(message, preserving_proto_field_name=True)
    except (AttributeError, TypeError):
        raise TypeMismatch(f"{type(handler).__name__}.{what} returned {type(message).__name__}, not a flyteidl "
                           "literals_pb2.StructuredDataset") from None


_NO_DECODER = object()


def _decode(uri: str, fmt: str, frame_type: Any, columns: list[str] | None) -> Any:
    """The frame a registered decoder reads (``_NO_DECODER`` when none is registered for it)."""
    decoder = handlers.decoder_for(frame_type, storage.protocol_of(uri), fmt)
    if decoder is None:
        return _NO_DECODER
    from flyteidl.core import literals_pb2
    from google.protobuf import json_format

    sd_type: dict[str, Any] = {"format": fmt}
    if columns:
        sd_type["columns"] = [{"name": name} for name in columns]
    metadata = {"structured_dataset_type": sd_type}
    value = json_format.ParseDict({"uri": uri, "metadata": metadata}, literals_pb2.StructuredDataset())
    try:
        return decoder.decode(_flyte_context(), value, value.metadata)
    except (TypeMismatch, UsageError):
        raise
    except Exception as exc:
        raise TypeMismatch(f"{type(decoder).__name__}.decode of {uri} failed: {type(exc).__name__}: {exc}") from None


def data_files(uri: str) -> list[str]:
    """The files of a dataset: the URI itself if it is a file, else the files in the folder, in name order
    (hidden files and markers such as ``_SUCCESS`` left out)."""
    context = _context()
    fs, path = storage.filesystem_for(uri, context.storage_options)
    with storage.storage_errors("read dataset", uri, context.storage_options):
        if fs.isfile(path):
            return [uri]
        if not fs.isdir(path):
            raise TypeMismatch(f"dataset {uri} does not exist")
        names = sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(path, detail=False))
    files = [storage.join(uri, name) for name in names if not name.startswith((".", "_"))]
    if not files:
        raise TypeMismatch(f"dataset {uri} holds no files")
    return files


def _reader(uri: str) -> Any:
    return transfer.open_for_read(uri, _context())


def file_columns(uri: str, fmt: str) -> list[str]:
    """The column names of the dataset's first file, from the parquet footer or the CSV header."""
    first = data_files(uri)[0]
    with _reader(first) as reader:
        if fmt == CSV:
            import csv
            import io

            header = io.TextIOWrapper(reader, encoding="utf-8", newline="").readline()
            return next(csv.reader([header]), [])
        try:
            pq = require("pyarrow.parquet", "reading parquet")
            return list(pq.ParquetFile(reader).schema_arrow.names)
        except Exception as exc:
            if isinstance(exc, TypeMismatch) or type(exc).__name__ == "UsageError":
                raise
            raise TypeMismatch(f"{first} is not a readable parquet file: {type(exc).__name__}: {exc}") from None


def check_columns(uri: str, fmt: str, wanted: list[str]) -> None:
    present = file_columns(uri, fmt)
    missing = [name for name in wanted if name not in present]
    if missing:
        raise TypeMismatch(f"{fmt} dataset {uri} has columns {', '.join(present) or '(none)'}; the declared "
                           f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                           f"{'are' if len(missing) > 1 else 'is'} not there")


def write_frame(frame: Any, fmt: str) -> str:
    """Store a frame (or an iterator of frames/record batches, streamed) as ``<raw>/<random>/00000``."""
    import secrets

    if fmt not in FORMATS:
        raise TypeMismatch(f"format {fmt!r} is not supported; use parquet or csv")
    context = _context()
    prefix = context.raw_output_prefix
    if not prefix:
        import tempfile

        prefix = tempfile.mkdtemp(prefix="flyrun-raw-")
    folder = storage.join(prefix, secrets.token_hex(16))
    kind = frame_kind(type(frame))
    with transfer.open_for_write(storage.join(folder, "00000"), context) as writer:
        if kind == "pandas":
            if fmt == CSV:
                frame.to_csv(writer, index=False, encoding="utf-8")
            else:
                require("pyarrow", "writing parquet from pandas")
                frame.to_parquet(writer)
        elif kind == "polars":
            frame.write_csv(writer) if fmt == CSV else frame.write_parquet(writer)
        elif kind == "pyarrow":
            if fmt == CSV:
                require("pyarrow.csv", "writing CSV").write_csv(frame, writer)
            else:
                require("pyarrow.parquet", "writing parquet").write_table(frame, writer)
        elif isinstance(frame, Iterator) or hasattr(frame, "__next__"):
            _write_batches(frame, fmt, writer)
        else:
            raise TypeMismatch(f"cannot store a {type(frame).__name__} as a dataset: use a pandas, pyarrow or "
                               "polars frame (or an iterator of them)")
    return folder


def _write_batches(frames: Iterator[Any], fmt: str, writer: Any) -> None:
    """An iterator of frames written one at a time into one parquet file (one row group each): bounded memory."""
    if fmt != PARQUET:
        raise TypeMismatch("an iterator of frames can only be stored as parquet")
    pa = require("pyarrow", "streaming a dataset")
    pq = require("pyarrow.parquet", "streaming a dataset")
    parquet_writer = None
    try:
        for frame in frames:
            table = _to_arrow(frame, pa)
            if parquet_writer is None:
                parquet_writer = pq.ParquetWriter(writer, table.schema)
            parquet_writer.write_table(table)
    finally:
        if parquet_writer is not None:
            parquet_writer.close()


def _to_arrow(frame: Any, pa: Any) -> Any:
    kind = frame_kind(type(frame))
    if kind == "pandas":
        return pa.Table.from_pandas(frame, preserve_index=False)
    if kind == "polars":
        return frame.to_arrow()
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    if isinstance(frame, pa.Table):
        return frame
    raise TypeMismatch(f"cannot stream a {type(frame).__name__} into a dataset")


def read_frame(uri: str, fmt: str, columns: list[str] | None, frame_type: Any) -> Any:
    """The whole dataset as one frame of ``frame_type``."""
    kind = required_frame_kind(frame_type)
    parts = [_read_one(path, fmt, columns, kind) for path in data_files(uri)]
    if len(parts) == 1:
        return parts[0]
    if kind == "pandas":
        return require("pandas", "reading a dataset").concat(parts, ignore_index=True)
    if kind == "polars":
        return require("polars", "reading a dataset").concat(parts)
    return require("pyarrow", "reading a dataset").concat_tables(parts)


def _read_one(path: str, fmt: str, columns: list[str] | None, kind: str) -> Any:
    with _reader(path) as reader:
        if kind == "pandas":
            pd = require("pandas", "reading a dataset as pandas")
            if fmt == CSV:
                return pd.read_csv(reader, usecols=columns)
            require("pyarrow", "reading parquet with pandas")
            return pd.read_parquet(reader, columns=columns)
        if kind == "polars":
            pl = require("polars", "reading a dataset as polars")
            if fmt == CSV:
                return pl.read_csv(reader, columns=columns)
            return pl.read_parquet(reader, columns=columns)
        if fmt == CSV:
            table = require("pyarrow.csv", "reading CSV as pyarrow").read_csv(reader)
            return table.select(columns) if columns else table
        return require("pyarrow.parquet", "reading parquet as pyarrow").read_table(reader, columns=columns)


def iter_frames(uri: str, fmt: str, columns: list[str] | None, frame_type: Any) -> Iterator[Any]:
    """The dataset in batches of ``frame_type``: parquet one row group at a time, streamed from storage."""
    kind = required_frame_kind(frame_type)
    for path in data_files(uri):
        if fmt == CSV:
            pd = require("pandas", "reading CSV in batches")
            with _reader(path) as reader:
                for chunk in pd.read_csv(reader, usecols=columns, chunksize=BATCH_ROWS):
                    yield _convert(chunk, kind)
            continue
        pq = require("pyarrow.parquet", "reading parquet in batches")
        pa = require("pyarrow", "reading parquet in batches")
        with _reader(path) as reader:
            parquet = pq.ParquetFile(reader)
            for index in range(parquet.num_row_groups):
                yield _convert(parquet.read_row_group(index, columns=columns), kind, pa)


def _convert(frame: Any, kind: str, pa: Any = None) -> Any:
    source = frame_kind(type(frame))
    if source == kind:
        return frame
    if source == "pandas":
        pa = pa or require("pyarrow", "converting frames")
        frame = pa.Table.from_pandas(frame, preserve_index=False)
    if kind == "pandas":
        return frame.to_pandas()
    if kind == "polars":
        return require("polars", "reading a dataset as polars").from_arrow(frame)
    return frame
