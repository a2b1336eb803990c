"""Flyte's raw-container data protocol, as flytecopilot implements it, on ``flyteidl`` messages.

- Before the container starts, every input is written to ``<input folder>/<name>`` (a list to a folder of ``0``,
  ``1``, ..., a map to a folder of its keys, a file or folder copied there, a struct as JSON), and the whole input
  map to ``inputs.pb`` and, for the JSON or YAML format, to ``inputs.json`` / ``inputs.yaml`` as plain values
  (integers as numbers, durations in nanoseconds, files as their path in the folder).
- After it exits, output ``x`` is read from ``<output folder>/x``: a simple value as text of at most 1 KiB
  (booleans as Go's ``strconv.ParseBool`` reads them), a file or folder as it is. A ``_ERROR`` file there fails
  the task with its contents.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flyrun.data.fs import filesystem_for, is_local, normalize
from flyrun.protocol.gotext import parse_go_bool, parse_go_duration
from flyrun.protocol.literals import file_text, type_name

MAX_PRIMITIVE_BYTES = 1024
ERROR_FILE = "_ERROR"
FORMATS = ("JSON", "YAML", "PROTO")


class ContainerOutputError(Exception):
    """The container ran but its outputs cannot be read (missing, too large, not of the declared type), or it
    reported an error itself."""


# -- inputs ------------------------------------------------------------------------------------------
def write_inputs(folder: Path, inputs: Any, metadata_format: str,
                 storage_options: Mapping[str, Any] | None = None) -> None:
    """Lay ``inputs`` (a ``LiteralMap``) out in ``folder`` as flytecopilot's downloader does."""
    folder.mkdir(parents=True, exist_ok=True)
    options = storage_options or {}
    native = {name: _write_literal(folder / name, literal, options) for name, literal in inputs.literals.items()}
    (folder / "inputs.pb").write_bytes(inputs.SerializeToString(deterministic=True))
    if metadata_format == "JSON":
        (folder / "inputs.json").write_text(json.dumps(native), encoding="utf-8")
    elif metadata_format == "YAML":
        import yaml

        (folder / "inputs.yaml").write_text(yaml.safe_dump(native), encoding="utf-8")


def _write_literal(path: Path, literal: Any, options: Mapping[str, Any]) -> Any:
    """Write one literal at ``path`` and return its plain value for inputs.json."""
    if literal.HasField("collection"):
        path.mkdir(exist_ok=True)
        return [_write_literal(path / str(i), item, options) for i, item in enumerate(literal.collection.literals)]
    if literal.HasField("map"):
        path.mkdir(exist_ok=True)
        return {key: _write_literal(path / key, item, options) for key, item in sorted(literal.map.literals.items())}
    scalar = literal.scalar
    kind = scalar.WhichOneof("value")
    if kind == "union":
        return _write_literal(path, scalar.union.value, options)
    if kind in ("blob", "structured_dataset"):
        _copy_blob(getattr(scalar, kind).uri, path, options)
        return str(path)
    if kind == "generic":
        from google.protobuf import json_format

        document = _go_numbers(json_format.MessageToDict(scalar.generic))
        path.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True), encoding="utf-8")
        return document
    if kind == "binary" and scalar.binary.tag == "msgpack":
        # A dataclass or model (flytekit 1.16's msgpack form): written as JSON, as a Struct is.
        import msgpack

        document = msgpack.unpackb(scalar.binary.value, raw=False, strict_map_key=False)
        path.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True), encoding="utf-8")
        return document
    if kind == "binary":
        path.write_bytes(scalar.binary.value)
        return None
    if kind == "primitive":
        path.write_text(file_text(scalar.primitive), encoding="utf-8")
        return _native(scalar.primitive)
    path.write_text("null", encoding="utf-8")  # none_type, or nothing set
    return None


def _go_numbers(value: Any) -> Any:
    """A Struct's numbers as Go's encoding/json writes them: a whole float64 without a fraction (1, not 1.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_numbers(item) for item in value]
    return value


def _native(primitive: Any) -> Any:
    kind = primitive.WhichOneof("value")
    if kind == "duration":  # Go marshals a time.Duration as whole nanoseconds
        return primitive.duration.ToNanoseconds()
    if kind == "datetime":
        return primitive.datetime.ToJsonString()
    return getattr(primitive, kind) if kind else None


def _copy_blob(uri: str, path: Path, options: Mapping[str, Any]) -> None:
    if is_local(uri):
        source = Path(normalize(uri))
        if source.is_dir():
            shutil.copytree(source, path)
        else:
            shutil.copyfile(source, path)
        return
    fs, remote = filesystem_for(uri, options)
    fs.get(remote, str(path), recursive=fs.isdir(remote))


# -- outputs -----------------------------------------------------------------------------------------
def read_outputs(folder: Path, outputs: Mapping[str, Any], shown_dir: str,
                 store: Callable[[Path, str], str] | None = None) -> Any:
    """The ``LiteralMap`` of ``outputs`` (names to ``LiteralType`` messages) the container left in ``folder``.

    ``shown_dir`` is the folder as the task knows it (its ``output_path``), for messages; ``store(path, name)``
    returns the URI a file or folder output is kept at (default: where it is). Raises ContainerOutputError naming
    the output and what is wrong with it.
    """
    from flyteidl.core import literals_pb2

    error_file = folder / ERROR_FILE
    if error_file.is_file():
        message = error_file.read_text(encoding="utf-8", errors="replace")[:MAX_PRIMITIVE_BYTES * 4].strip()
        raise ContainerOutputError(f"the container reported an error: {message}")
    result = literals_pb2.LiteralMap()
    for name, literal_type in outputs.items():
        try:
            literal = _read_output(folder / name, literal_type, f"{shown_dir.rstrip('/')}/{name}", name, store)
        except ContainerOutputError as error:
            raise ContainerOutputError(f"output '{name}': {error}") from None
        result.literals[name].CopyFrom(literal)
    return result


def _read_output(path: Path, literal_type: Any, shown: str, name: str,
                 store: Callable[[Path, str], str] | None) -> Any:
    from flyteidl.core import literals_pb2, types_pb2

    if not path.exists():
        raise ContainerOutputError(f"the container did not write {shown}")
    literal = literals_pb2.Literal()
    if literal_type.HasField("blob"):
        multipart = literal_type.blob.dimensionality == types_pb2.BlobType.MULTIPART
        if multipart != path.is_dir():
            raise ContainerOutputError(f"{shown} is a {'folder' if path.is_dir() else 'file'}; a "
                                       f"{type_name(literal_type)} output was expected")
        literal.scalar.blob.uri = store(path, name) if store else str(path)
        literal.scalar.blob.metadata.type.CopyFrom(literal_type.blob)
        return literal
    if not literal_type.HasField("simple"):
        raise ContainerOutputError(f"{type_name(literal_type)} cannot be read from a file (copilot reads simple "
                                   "values and files)")
    if path.is_dir():
        raise ContainerOutputError(f"{shown} is a folder; {type_name(literal_type)} is read from a file")
    size = path.stat().st_size
    if size > MAX_PRIMITIVE_BYTES:
        raise ContainerOutputError(f"{shown} holds {size} bytes; a simple value may have at most "
                                   f"{MAX_PRIMITIVE_BYTES} (write large data to a file output)")
    text = path.read_text(encoding="utf-8", errors="replace").strip(" \n\t")
    try:
        _parse_simple(literal, text, types_pb2.SimpleType.Name(literal_type.simple))
    except ValueError as error:
        raise ContainerOutputError(f"{text!r} is not a valid {type_name(literal_type)} ({error})") from None
    return literal


def _parse_simple(literal: Any, text: str, simple: str) -> None:
    primitive = literal.scalar.primitive
    if simple == "INTEGER":
        primitive.integer = int(text, 10)
    elif simple == "FLOAT":
        primitive.float_value = float(text)
    elif simple == "BOOLEAN":
        primitive.boolean = parse_go_bool(text)
    elif simple == "DURATION":
        primitive.duration.FromTimedelta(parse_go_duration(text))
    elif simple == "DATETIME":
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        primitive.datetime.FromDatetime(when.astimezone(dt.timezone.utc).replace(tzinfo=None) if when.tzinfo else when)
    elif simple == "STRUCT":
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ValueError("expected a JSON object")
        literal.scalar.generic.update(document)
    elif simple == "NONE":
        literal.scalar.none_type.SetInParent()
    else:
        primitive.string_value = text
