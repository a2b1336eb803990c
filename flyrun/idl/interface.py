"""Typed interfaces and launch plan parameters: Python types as ``VariableMap`` / ``ParameterMap`` dicts."""

from __future__ import annotations

from typing import Any

from flyrun.data.files import FlyteDirectory, FlyteFile
from flyrun.errors import UsageError
from flyrun.types import engine
from flyrun.types.described import enum_type, struct_type


def literal_type(python_type: Any, owner: str, label: str, name: str) -> dict:
    """The ``LiteralType`` of one variable, or a usage error naming the entity, the variable and its type."""
    try:
        return engine.literal_type(python_type)
    except engine.TypeMismatch as exc:
        raise UsageError(f"{owner}: {label} '{name}' of type {engine.describe(python_type)} cannot be "
                         f"serialized: {exc}", hint="use a type flyrun supports (see the README)") from None


def variable_map(types: dict[str, Any], owner: str, label: str) -> dict:
    # flytekit describes a variable by its name when the docstring says nothing; tools show this text.
    return {"variables": {name: {"type": literal_type(t, owner, label, name), "description": name}
                          for name, t in types.items()}}


def typed_interface(inputs: dict[str, Any], outputs: dict[str, Any], owner: str) -> dict:
    return {"inputs": variable_map(inputs, owner, "input"), "outputs": variable_map(outputs, owner, "output")}


def literal(value: Any, python_type: Any, what: str) -> dict:
    """A constant (a default or a bound value) as a ``Literal``, or a usage error naming ``what`` it is."""
    try:
        return engine.to_literal(value, python_type)
    except (engine.TypeMismatch, TypeError) as exc:
        raise UsageError(f"{what} ({engine.describe(python_type)}): value {value!r} cannot be serialized: "
                         f"{exc}") from None


def parameter_map(interface: Any, owner: str) -> dict:
    """Launch plan ``default_inputs``: every input, with its default or marked required."""
    parameters: dict[str, dict[str, Any]] = {}
    for name, python_type in interface.inputs.items():
        variable = {"type": literal_type(python_type, owner, "input", name), "description": name}
        if name in interface.defaults:
            default = literal(interface.defaults[name], python_type, f"{owner}: default of input '{name}'")
            parameters[name] = {"var": variable, "default": default}
        else:
            parameters[name] = {"var": variable, "required": True}
    return {"parameters": parameters}


_SIMPLE_TYPES = {"INTEGER": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


def python_type_for(literal_type_dict: dict) -> Any:
    """A Python type that reads and writes values of a ``LiteralType``, for entities known only from a server.

    The Python classes of enums and structs live in code flyrun does not have: enums become an ``enum.Enum`` of
    their values, structs a ``dict`` type that checks the fields the server describes (flyrun.types.described);
    blobs become ``FlyteFile``/``FlyteDirectory`` of their format.
    """
    import datetime as dt

    simple = literal_type_dict.get("simple")
    if simple in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[simple]
    if simple == "DATETIME":
        return dt.datetime
    if simple == "DURATION":
        return dt.timedelta
    if simple == "STRUCT":
        return struct_type(literal_type_dict, python_type_for)
    if "enum_type" in literal_type_dict:
        return enum_type(list(literal_type_dict["enum_type"].get("values") or []))
    if "collection_type" in literal_type_dict:
        return list[python_type_for(literal_type_dict["collection_type"])]  # type: ignore[misc]
    if "map_value_type" in literal_type_dict:
        return dict[str, python_type_for(literal_type_dict["map_value_type"])]  # type: ignore[misc]
    variants = literal_type_dict.get("union_type", {}).get("variants", [])
    some = [v for v in variants if v.get("simple") != "NONE"]
    if len(some) == 1 and len(variants) == 2:
        return python_type_for(some[0]) | None
    if "blob" in literal_type_dict:
        multipart = literal_type_dict["blob"].get("dimensionality") == "MULTIPART"
        base = FlyteDirectory if multipart else FlyteFile
        fmt = literal_type_dict["blob"].get("format")
        return base[fmt] if fmt else base  # type: ignore[index]  # a class that takes a format, as FlyteFile["csv"]
    raise UsageError(f"flyrun cannot give values of type {literal_type_dict} on the command line",
                     hint="use --inputs-file with the registered workflow's launch plan defaults")
