"""Literals as propeller handles them: binding resolution, attribute paths and ``.pb`` files.

Type checks (``fits``) and literal text are the protocol layer's (``flyrun.protocol.literals``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flyrun.protocol.literals import fits  # noqa: F401  (compiler.py takes it from here)


class BindingError(Exception):
    """A binding could not be resolved (a bad spec or a missing upstream output)."""


# -- files -----------------------------------------------------------------------------------------
def read_literal_map(path: str | os.PathLike[str]) -> Any:
    from flyteidl.core import literals_pb2

    message = literals_pb2.LiteralMap()
    message.ParseFromString(Path(path).read_bytes())
    return message


def write_message(path: str | os.PathLike[str], message: Any) -> None:
    """Write a message atomically: a reader never sees half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    scratch.write_bytes(message.SerializeToString(deterministic=True))
    os.replace(scratch, target)


# -- building literals ------------------------------------------------------------------------------
def literal_map(literals: Mapping[str, Any] | None = None) -> Any:
    from flyteidl.core import literals_pb2

    result = literals_pb2.LiteralMap()
    for name, literal in (literals or {}).items():
        result.literals[name].CopyFrom(literal)
    return result


def none_literal() -> Any:
    from flyteidl.core import literals_pb2

    literal = literals_pb2.Literal()
    literal.scalar.none_type.SetInParent()
    return literal


def collection_literal(items: list[Any]) -> Any:
    from flyteidl.core import literals_pb2

    literal = literals_pb2.Literal()
    literal.collection.SetInParent()
    for item in items:
        literal.collection.literals.add().CopyFrom(item)
    return literal


# -- bindings ---------------------------------------------------------------------------------------
def resolve_bindings(bindings: Any, outputs: Mapping[str, Any]) -> Any:
    """A node's inputs from its bindings; ``outputs`` maps node ids (and ``start-node``) to LiteralMaps."""
    return literal_map({b.var: resolve_binding(b.binding, outputs) for b in bindings})


def resolve_binding(data: Any, outputs: Mapping[str, Any]) -> Any:
    from flyteidl.core import literals_pb2

    kind = data.WhichOneof("value")
    literal = literals_pb2.Literal()
    if kind == "scalar":
        literal.scalar.CopyFrom(data.scalar)
    elif kind == "collection":
        literal = collection_literal([resolve_binding(b, outputs) for b in data.collection.bindings])
    elif kind == "map":
        literal.map.SetInParent()
        for key, item in data.map.bindings.items():
            literal.map.literals[key].CopyFrom(resolve_binding(item, outputs))
    elif kind == "promise":
        literal = _promised(data.promise, outputs)
    elif kind == "offloaded_metadata":
        literal.offloaded_metadata.CopyFrom(data.offloaded_metadata)
    else:
        raise BindingError("a binding has no value")
    return literal


def _promised(promise: Any, outputs: Mapping[str, Any]) -> Any:
    produced = outputs.get(promise.node_id)
    if produced is None:
        raise BindingError(f"node {promise.node_id!r} has produced no outputs")
    if promise.var not in produced.literals:
        raise BindingError(f"node {promise.node_id!r} has no output {promise.var!r}")
    literal = produced.literals[promise.var]
    if promise.attr_path:
        literal = follow_attr_path(literal, promise.attr_path, f"{promise.node_id}.{promise.var}")
    return literal


def follow_attr_path(literal: Any, path: Any, where: str) -> Any:
    """``o0["key"][2].field``: index collections and maps, then walk into a dataclass's Struct."""
    for step, attribute in enumerate(path):
        key: Any = attribute.string_value if attribute.WhichOneof("value") == "string_value" else attribute.int_value
        if literal.HasField("collection") and isinstance(key, int):
            items = literal.collection.literals
            if not 0 <= key < len(items):
                raise BindingError(f"index {key} is out of range for {where} ({len(items)} items)")
            literal = items[key]
        elif literal.HasField("map") and isinstance(key, str):
            if key not in literal.map.literals:
                raise BindingError(f"{where} has no key {key!r}")
            literal = literal.map.literals[key]
        elif literal.HasField("scalar") and literal.scalar.HasField("generic"):
            return _struct_path(literal.scalar.generic, list(path)[step:], where)
        elif literal.HasField("scalar") and literal.scalar.HasField("binary") and \
                literal.scalar.binary.tag == "msgpack":
            return _msgpack_path(literal.scalar.binary.value, list(path)[step:], where)
        else:
            raise BindingError(f"cannot take attribute {key!r} of {where}")
    return literal


def _struct_path(struct: Any, path: list[Any], where: str) -> Any:
    from google.protobuf import json_format

    value: Any = json_format.MessageToDict(struct)
    for attribute in path:
        key = attribute.string_value if attribute.WhichOneof("value") == "string_value" else attribute.int_value
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            raise BindingError(f"{where} has no attribute {key!r}") from None
    return python_to_literal(value)


def _msgpack_path(data: bytes, path: list[Any], where: str) -> Any:
    """As propeller walks msgpack data: a primitive leaf becomes a primitive, a list a collection of msgpack
    literals, an object msgpack again."""
    import msgpack
    from flyteidl.core import literals_pb2

    value: Any = msgpack.unpackb(data, raw=False, strict_map_key=False)
    for attribute in path:
        key = attribute.string_value if attribute.WhichOneof("value") == "string_value" else attribute.int_value
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            raise BindingError(f"{where} has no attribute {key!r}") from None

    def packed(item: Any) -> Any:
        if isinstance(item, list):
            return collection_literal([packed(element) for element in item])
        if isinstance(item, dict):
            literal = literals_pb2.Literal()
            literal.scalar.binary.value = msgpack.packb(item, use_bin_type=True)
            literal.scalar.binary.tag = "msgpack"
            return literal
        if isinstance(item, int) and not isinstance(item, bool):
            literal = literals_pb2.Literal()
            literal.scalar.primitive.integer = item
            return literal
        return python_to_literal(item)

    return packed(value)


def python_to_literal(value: Any) -> Any:
    """A JSON value as propeller turns one into a literal (numbers become floats, objects Structs)."""
    from flyteidl.core import literals_pb2

    literal = literals_pb2.Literal()
    if isinstance(value, bool):
        literal.scalar.primitive.boolean = value
    elif isinstance(value, (int, float)):
        literal.scalar.primitive.float_value = float(value)
    elif isinstance(value, str):
        literal.scalar.primitive.string_value = value
    elif isinstance(value, list):
        return collection_literal([python_to_literal(v) for v in value])
    elif isinstance(value, dict):
        literal.scalar.generic.update(value)
    elif value is None:
        return none_literal()
    return literal
