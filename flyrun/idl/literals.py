"""Literal maps: Python values <-> protojson dicts <-> binary ``flyteidl.core.LiteralMap``.

The type engine speaks protojson-shaped dicts; this module is where they meet the protobuf classes, for
``inputs.pb`` / ``outputs.pb`` and for strict validation of what crosses the wire.
"""

from __future__ import annotations

from typing import Any

from flyrun.types import engine


def to_literal_map(values: dict[str, Any], types: dict[str, Any]) -> dict:
    """A protojson ``LiteralMap`` of ``values`` (every name in ``types`` that has a value)."""
    return {"literals": {name: engine.to_literal(values[name], t) for name, t in types.items() if name in values}}


def from_literal_map(literal_map: dict, types: dict[str, Any]) -> dict[str, Any]:
    """Python values for the names in ``types`` that ``literal_map`` holds."""
    literals = literal_map.get("literals", {})
    return {name: engine.to_python(literals[name], t) for name, t in types.items() if name in literals}


def parse(document: dict, message_class: Any) -> Any:
    """A flyteidl message from a protojson dict; unknown fields are an error (the server would reject them)."""
    from google.protobuf import json_format

    return json_format.ParseDict(document, message_class(), ignore_unknown_fields=False)


def to_dict(message: Any) -> dict:
    """A protojson dict with snake_case names and fields without presence filled in (enums as names)."""
    from google.protobuf import json_format

    try:
        return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)
    except TypeError:  # protobuf < 5.26 spells it differently
        return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         including_default_value_fields=True)


def literal_map_to_bytes(literal_map: dict) -> bytes:
    """Binary protobuf of a protojson ``LiteralMap`` (what ``inputs.pb`` and ``outputs.pb`` hold)."""
    from flyteidl.core import literals_pb2

    return parse(literal_map, literals_pb2.LiteralMap).SerializeToString(deterministic=True)


def literal_map_from_bytes(data: bytes) -> dict:
    from flyteidl.core import literals_pb2

    message = literals_pb2.LiteralMap()
    message.ParseFromString(data)
    return to_dict(message)


def literal_from_bytes(data: bytes) -> dict:
    """One ``Literal`` (an offloaded literal is stored as one)."""
    from flyteidl.core import literals_pb2

    message = literals_pb2.Literal()
    message.ParseFromString(data)
    return to_dict(message)


def binding_data(literal: dict) -> dict:
    """A constant ``Literal`` as ``BindingData``: collections and maps become collections/maps of bindings."""
    if "collection" in literal:
        items = literal["collection"].get("literals", [])
        return {"collection": {"bindings": [binding_data(item) for item in items]}}
    if "map" in literal:
        items = literal["map"].get("literals", {})
        return {"map": {"bindings": {key: binding_data(item) for key, item in items.items()}}}
    return {"scalar": literal["scalar"]}


def literal_to_json(literal: dict) -> Any:
    """A JSON-ready value of any ``Literal``, without knowing its Python type (for entities known only from a
    server): primitives as themselves, collections as lists, maps and structs as objects, blobs as their URI."""
    if "collection" in literal:
        return [literal_to_json(item) for item in literal["collection"].get("literals", [])]
    if "map" in literal:
        return {key: literal_to_json(item) for key, item in literal["map"].get("literals", {}).items()}
    scalar = literal.get("scalar", {})
    if "primitive" in scalar:
        primitive = scalar["primitive"]
        if "integer" in primitive:
            return int(primitive["integer"])
        return next(iter(primitive.values()), None)
    if "union" in scalar:
        return literal_to_json(scalar["union"].get("value", {}))
    if "blob" in scalar:
        return scalar["blob"].get("uri")
    if "generic" in scalar:
        return scalar["generic"]
    if "none_type" in scalar:
        return None
    return literal
