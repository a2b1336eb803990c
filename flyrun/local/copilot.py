"""Flyte's raw-container data protocol, as flytecopilot and propeller implement it, for local container runs.

- ``{{.inputs.x}}`` in a command is replaced with the input's text (propeller's template rendering: Go's ``%v``
  for numbers and booleans, RFC 3339 for datetimes, the URI for files, ``[a,b]`` for lists).
- Before the container starts, every input is written to ``input_data_dir/<name>`` (a list to a folder of
  ``0``, ``1``, ..., a dict to a folder of its keys, a file copied there), and the whole input map to
  ``inputs.pb`` and, for the JSON or YAML format, ``inputs.json`` / ``inputs.yaml``.
- After it exits, output ``x`` is read from ``output_data_dir/x``: a simple value as text of at most 1 KiB, a file
  or folder as it is. A ``_ERROR`` file there fails the task with its contents.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

from flyrun.errors import TaskExecutionError
from flyrun.types import engine

MAX_PRIMITIVE_BYTES = 1024
ERROR_FILE = "_ERROR"
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class ContainerOutputError(Exception):
    """The container ran but its outputs cannot be read (missing, too large, not of the declared type)."""


# -- Go's text forms ---------------------------------------------------------------------------------
def go_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form when the exponent is below -4 or at least 6."""
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    digits, point = _shortest_digits(abs(value))
    exponent = point - 1
    if value != 0 and (exponent < -4 or exponent >= 6):
        fraction = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return sign + _plain(abs(value))


def go_float_plain(value: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent (copilot's input files)."""
    if math.isnan(value) or math.isinf(value):
        return go_float(value)
    return ("-" if math.copysign(1.0, value) < 0 else "") + _plain(abs(value))


def _shortest_digits(number: float) -> tuple[str, int]:
    """The shortest round-tripping digits of ``number`` and where the decimal point goes (Go's d and dp)."""
    from decimal import Decimal

    _, digit_tuple, exponent = Decimal(repr(number)).as_tuple()
    digits = "".join(map(str, digit_tuple))
    stripped = digits.rstrip("0") or "0"
    return stripped, len(digits) + int(exponent)


def _plain(number: float) -> str:
    from decimal import Decimal

    text = format(Decimal(repr(number)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def go_duration(value: dt.timedelta) -> str:
    """Go's ``time.Duration.String()``: ``1h30m0s``, ``1.5s``, ``250ms``, ``0s``."""
    total_ns = round(value.total_seconds() * 1e9)
    if total_ns == 0:
        return "0s"
    sign, total_ns = ("-" if total_ns < 0 else ""), abs(total_ns)
    if total_ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if total_ns >= size:
                return sign + _trim(total_ns / size) + unit
    hours, rest = divmod(total_ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _trim(rest / 1e9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    return f"{sign}{minutes}m{seconds}" if minutes else sign + seconds


def _trim(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


def parse_go_duration(text: str) -> dt.timedelta:
    """Go's ``time.ParseDuration``: ``300ms``, ``-1.5h``, ``2h45m``."""
    body = text[1:] if text[:1] in "+-" else text
    parts = _GO_DURATION_PART.findall(body)
    if body == "0":
        return dt.timedelta(0)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"{text!r} is not a duration (e.g. 300ms, 1.5h, 2h45m)")
    seconds = sum(float(n) * _GO_UNITS[u] for n, u in parts)
    return dt.timedelta(seconds=-seconds if text.startswith("-") else seconds)


# -- inputs ------------------------------------------------------------------------------------------
def template_text(literal: dict) -> str:
    """The text propeller puts in place of ``{{.inputs.x}}``."""
    if "collection" in literal:
        return "[" + ",".join(template_text(lit) for lit in literal["collection"].get("literals", [])) + "]"
    scalar = literal.get("scalar", {})
    if "union" in scalar:
        return template_text(scalar["union"]["value"])
    if "blob" in scalar:
        return scalar["blob"]["uri"]
    if "primitive" in scalar:
        return _primitive_text(scalar["primitive"], go_float)
    raise ValueError("only simple values, files and lists of them can be used in a command template")


def _primitive_text(primitive: dict, float_text: Any) -> str:
    (kind, raw), = primitive.items()
    if kind == "float_value":
        return float_text(float(raw))
    if kind == "boolean":
        return "true" if raw else "false"
    if kind == "duration":
        from flyrun.types.scalars import parse_duration

        return go_duration(parse_duration(raw))
    return str(raw)  # integer (a string in protojson), string_value, datetime (already RFC 3339)


def write_inputs(folder: Path, literals: dict[str, dict], metadata_format: str) -> None:
    """Lay the inputs out in ``folder`` as flytecopilot's downloader does."""
    folder.mkdir(parents=True, exist_ok=True)
    native = {name: _write_literal(folder / name, literal) for name, literal in literals.items()}
    (folder / "inputs.pb").write_bytes(_literal_map_bytes(literals))
    if metadata_format == "JSON":
        (folder / "inputs.json").write_text(json.dumps(native), encoding="utf-8")
    elif metadata_format == "YAML":
        import yaml

        (folder / "inputs.yaml").write_text(yaml.safe_dump(native), encoding="utf-8")


def _write_literal(path: Path, literal: dict) -> Any:
    """Write one literal at ``path`` and return its plain value for inputs.json."""
    if "collection" in literal:
        path.mkdir(exist_ok=True)
        return [_write_literal(path / str(i), lit) for i, lit in enumerate(literal["collection"].get("literals", []))]
    if "map" in literal:
        path.mkdir(exist_ok=True)
        return {key: _write_literal(path / key, lit) for key, lit in literal["map"].get("literals", {}).items()}
    scalar = literal.get("scalar", {})
    if "union" in scalar:
        return _write_literal(path, scalar["union"]["value"])
    if "blob" in scalar:
        _copy_blob(scalar["blob"]["uri"], path)
        return str(path)
    if "generic" in scalar:
        path.write_text(json.dumps(scalar["generic"], separators=(",", ":")), encoding="utf-8")
        return scalar["generic"]
    if "binary" in scalar and scalar["binary"].get("tag") == "msgpack":
        # A dataclass or model (flytekit 1.16's msgpack form): copilot decodes it and writes JSON, as for a Struct.
        from flyrun.types.engine import struct_payload

        value, _ = struct_payload(literal, str(path.name))
        path.write_text(json.dumps(value, separators=(",", ":")), encoding="utf-8")
        return value
    if "binary" in scalar:
        path.write_bytes(base64.b64decode(scalar["binary"].get("value", "")))
        return None
    if "none_type" in scalar:
        path.write_text("null", encoding="utf-8")
        return None
    primitive = scalar["primitive"]
    path.write_text(_primitive_text(primitive, go_float_plain), encoding="utf-8")
    return _native(primitive)


def _native(primitive: dict) -> Any:
    (kind, raw), = primitive.items()
    if kind == "integer":
        return int(raw)
    if kind == "duration":  # Go marshals a time.Duration as whole nanoseconds
        from flyrun.types.scalars import parse_duration

        return round(parse_duration(raw).total_seconds() * 1e9)
    return raw


def _copy_blob(uri: str, path: Path) -> None:
    source = uri[len("file://"):] if uri.startswith("file://") else uri
    if "://" not in source:
        if Path(source).is_dir():
            shutil.copytree(source, path)
        else:
            shutil.copyfile(source, path)
        return
    import fsspec

    fs, remote = fsspec.core.url_to_fs(uri)
    fs.get(remote, str(path), recursive=fs.isdir(remote))


def _literal_map_bytes(literals: dict[str, dict]) -> bytes:
    from flyteidl.core import literals_pb2
    from google.protobuf import json_format

    message = json_format.ParseDict({"literals": literals}, literals_pb2.LiteralMap())
    return message.SerializeToString(deterministic=True)


# -- outputs -----------------------------------------------------------------------------------------
def read_outputs(task: Any, folder: Path) -> dict[str, Any]:
    """The outputs of ``task`` from ``folder``; raises TaskExecutionError naming what is missing or wrong."""
    error_file = folder / ERROR_FILE
    if error_file.is_file():
        message = error_file.read_text(encoding="utf-8", errors="replace")[:MAX_PRIMITIVE_BYTES * 4].strip()
        raise TaskExecutionError(task.name, ContainerOutputError(f"the container reported an error: {message}"))
    outputs = {}
    for name, python_type in task.interface.outputs.items():
        try:
            outputs[name] = _read_output(folder / name, python_type, f"{task.output_data_dir}/{name}")
        except (ContainerOutputError, engine.TypeMismatch) as exc:
            raise TaskExecutionError(task.name, ContainerOutputError(f"output '{name}': {exc}")) from None
    return outputs


def _read_output(path: Path, python_type: Any, shown: str) -> Any:
    literal_type = engine.literal_type(python_type)
    if not path.exists():
        raise ContainerOutputError(f"the container did not write {shown}")
    if "blob" in literal_type:
        blob = {"metadata": {"type": literal_type["blob"]}, "uri": str(path)}
        return engine.to_python({"scalar": {"blob": blob}}, python_type)
    if path.is_dir():
        raise ContainerOutputError(f"{shown} is a folder; {engine.describe(python_type)} is read from a file")
    size = path.stat().st_size
    if size > MAX_PRIMITIVE_BYTES:
        raise ContainerOutputError(f"{shown} holds {size} bytes; a simple value may have at most "
                                   f"{MAX_PRIMITIVE_BYTES} (write large data to a file output)")
    text = path.read_text(encoding="utf-8", errors="replace").strip(" \n\t")
    return _parse_simple(text, literal_type["simple"], python_type)


def _parse_simple(text: str, simple: str, python_type: Any) -> Any:
    try:
        if simple == "INTEGER":
            return int(text, 10)
        if simple == "FLOAT":
            return float(text)
        if simple == "BOOLEAN":
            return _go_bool(text)
        if simple == "DURATION":
            return parse_go_duration(text)
        if simple == "DATETIME":
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if simple == "STRUCT":
            return engine.from_json(json.loads(text), python_type)
        if simple == "NONE":
            return None
        return text
    except ValueError as exc:
        raise ContainerOutputError(f"{text!r} is not a valid {engine.describe(python_type)} ({exc})") from None


def _go_bool(text: str) -> bool:
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError("expected true or false")
