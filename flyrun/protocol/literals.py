"""Literals (``flyteidl.core.Literal`` messages) as text, and whether one fits a ``LiteralType``.

- ``template_text``: what propeller writes in place of ``{{.inputs.x}}`` (Go's ``%v`` of numbers and booleans,
  RFC 3339 datetimes, Go durations, a file's URI, ``[a,b]`` for lists);
- ``file_text``: what flytecopilot writes in an input's file (floats never in exponent form);
- ``display_text``: a short Python-like rendering for people (the console, tables);
- ``fits``: propeller's type check of a literal against a variable's type.
"""

from __future__ import annotations

import json
from typing import Any

from flyrun.protocol.gotext import go_duration, go_float, go_float_plain


class NotTemplatable(ValueError):
    """The literal has no text form in a command (a map, a struct, binary data)."""


def template_text(literal: Any) -> str:
    """The text propeller puts in place of ``{{.inputs.x}}``."""
    if literal.HasField("collection"):
        return "[" + ",".join(template_text(item) for item in literal.collection.literals) + "]"
    scalar = literal.scalar
    kind = scalar.WhichOneof("value") if literal.HasField("scalar") else None
    if kind == "union":
        return template_text(scalar.union.value)
    if kind == "blob":
        return scalar.blob.uri
    if kind == "structured_dataset":
        return scalar.structured_dataset.uri
    if kind == "primitive":
        return primitive_text(scalar.primitive, go_float)
    raise NotTemplatable("only simple values, files and lists of them can be used in a command template")


def file_text(primitive: Any) -> str:
    """A primitive as flytecopilot writes it into the input's file."""
    return primitive_text(primitive, go_float_plain)


def primitive_text(primitive: Any, float_text: Any = go_float) -> str:
    kind = primitive.WhichOneof("value")
    if kind == "float_value":
        return float_text(primitive.float_value)
    if kind == "boolean":
        return "true" if primitive.boolean else "false"
    if kind == "duration":
        return go_duration(primitive.duration.ToTimedelta())
    if kind == "datetime":
        return primitive.datetime.ToJsonString()
    if kind is None:
        return ""
    return str(getattr(primitive, kind))  # integer, string_value


def display_text(literal: Any) -> str:
    """A literal as a short Python-like value: 3, 'a', [1, 2], {'k': 1}, a file's URI, None."""
    from google.protobuf import json_format

    if literal.HasField("collection"):
        return "[" + ", ".join(display_text(item) for item in literal.collection.literals) + "]"
    if literal.HasField("map"):
        return "{" + ", ".join(f"{k!r}: {display_text(v)}" for k, v in sorted(literal.map.literals.items())) + "}"
    if not literal.HasField("scalar"):
        return json.dumps(json_format.MessageToDict(literal))
    scalar = literal.scalar
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        value_kind = scalar.primitive.WhichOneof("value")
        value = getattr(scalar.primitive, value_kind) if value_kind else None
        if value is not None and value_kind in ("datetime", "duration"):
            return value.ToJsonString()
        return repr(value)
    if kind == "blob":
        return scalar.blob.uri
    if kind == "none_type":
        return "None"
    if kind == "generic":
        return json.dumps(json_format.MessageToDict(scalar.generic))
    if kind == "union":
        return display_text(scalar.union.value)
    if kind == "structured_dataset":
        return scalar.structured_dataset.uri
    if kind == "binary" and scalar.binary.tag == "msgpack":  # a dataclass or model, as flytekit 1.16 writes it
        try:
            import msgpack

            return json.dumps(msgpack.unpackb(scalar.binary.value, raw=False, strict_map_key=False), default=str)
        except Exception:  # not valid msgpack after all: shown as bytes below
            pass
    if kind == "binary":
        return f"<{len(scalar.binary.value)} bytes of {scalar.binary.tag or 'binary'}>"
    if kind == "error":
        return f"error: {scalar.error.message}"
    return json.dumps(json_format.MessageToDict(scalar))


# -- types ------------------------------------------------------------------------------------------
_PRIMITIVE_SIMPLE = {"integer": "INTEGER", "float_value": "FLOAT", "string_value": "STRING", "boolean": "BOOLEAN",
                     "datetime": "DATETIME", "duration": "DURATION"}


def fits(literal: Any, expected: Any) -> bool:
    """Whether ``literal`` may be bound to a variable of ``expected`` type.

    Strict where Flyte is (an int is not a string, a scalar is not a list), lenient for kinds it cannot judge
    without the type's own transformer (binary, structured datasets, offloaded literals).
    """
    from flyteidl.core import types_pb2

    type_kind = expected.WhichOneof("type")
    if type_kind is None:
        return True
    if type_kind == "union_type":
        is_union = literal.HasField("scalar") and literal.scalar.HasField("union")
        return is_union or any(fits(literal, variant) for variant in expected.union_type.variants)
    if literal.HasField("collection"):
        return type_kind == "collection_type" and all(
            fits(item, expected.collection_type) for item in literal.collection.literals)
    if literal.HasField("map"):
        return type_kind == "map_value_type" and all(
            fits(item, expected.map_value_type) for item in literal.map.literals.values())
    if not literal.HasField("scalar"):
        return True
    scalar_kind = literal.scalar.WhichOneof("value")
    if type_kind in ("collection_type", "map_value_type"):
        return scalar_kind in ("binary", "union")
    if scalar_kind == "none_type":
        return type_kind == "simple" and expected.simple == types_pb2.NONE
    if type_kind == "simple":
        return _fits_simple(literal.scalar, scalar_kind, types_pb2.SimpleType.Name(expected.simple))
    if type_kind == "blob":
        return scalar_kind == "blob"
    if type_kind == "enum_type":
        return scalar_kind == "primitive" and literal.scalar.primitive.WhichOneof("value") == "string_value"
    return True


def _fits_simple(scalar: Any, scalar_kind: str, simple: str) -> bool:
    if scalar_kind == "primitive":
        return _PRIMITIVE_SIMPLE.get(scalar.primitive.WhichOneof("value")) == simple
    if scalar_kind == "generic":
        return simple == "STRUCT"
    if scalar_kind == "error":
        return simple == "ERROR"
    return True


_SIMPLE_NAMES = {"INTEGER": "int", "FLOAT": "float", "STRING": "str", "BOOLEAN": "bool", "DATETIME": "datetime",
                 "DURATION": "timedelta", "STRUCT": "JSON object", "NONE": "None"}


def type_name(literal_type: Any) -> str:
    """A short name of a ``LiteralType`` for messages: int, float, file, directory, ..."""
    from flyteidl.core import types_pb2

    kind = literal_type.WhichOneof("type")
    if kind == "simple":
        simple = types_pb2.SimpleType.Name(literal_type.simple)
        return _SIMPLE_NAMES.get(simple, simple.lower())
    if kind == "blob":
        return "directory" if literal_type.blob.dimensionality == types_pb2.BlobType.MULTIPART else "file"
    if kind == "collection_type":
        return f"list of {type_name(literal_type.collection_type)}"
    return (kind or "any").replace("_type", "")
