"""Typed interfaces and launch plan parameters: Python types as ``VariableMap`` / ``ParameterMap`` dicts."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from flyrun.data.files import FlyteDirectory, FlyteFile
from flyrun.errors import UsageError
from flyrun.sdk.docs import variable_descriptions
from flyrun.types import engine
from flyrun.types.described import enum_type, struct_type


def literal_type(python_type: Any, owner: str, label: str, name: str) -> dict:
    """The ``LiteralType`` of one variable, or a usage error naming the entity, the variable and its type."""
    try:
        return engine.literal_type(python_type)
    except engine.TypeMismatch as exc:
        raise UsageError(f"{owner}: {label} '{name}' of type {engine.describe(python_type)} cannot be "
                         f"serialized: {exc}", hint="use a type flyrun supports (see the README)") from None


def variable_map(types: dict[str, Any], owner: str, label: str, descriptions: dict[str, str] | None = None) -> dict:
    # flytekit describes a variable by its docstring's text for it, else by its name; tools show this text.
    described = descriptions or {}
    return {"variables": {name: {"type": literal_type(t, owner, label, name),
                                 "description": described.get(name, name)}
                          for name, t in types.items()}}


def typed_interface(inputs: dict[str, Any], outputs: dict[str, Any], owner: str, fn: Any = None) -> dict:
    """The ``TypedInterface``; with the task's or workflow's function, described by its docstring."""
    inputs_text, outputs_text = variable_descriptions(fn, inputs, outputs) if callable(fn) else ({}, {})
    return {"inputs": variable_map(inputs, owner, "input", inputs_text),
            "outputs": variable_map(outputs, owner, "output", outputs_text)}


def literal(value: Any, python_type: Any, what: str) -> dict:
    """A constant (a default or a bound value) as a ``Literal``, or a usage error naming ``what`` it is."""
    try:
        return engine.to_literal(value, python_type)
    except (engine.TypeMismatch, TypeError) as exc:
        raise UsageError(f"{what} ({engine.describe(python_type)}): value {value!r} cannot be serialized: "
                         f"{exc}") from None


def parameter_map(interface: Any, owner: str, fn: Any = None, undescribed: Collection[str] = ()) -> dict:
    """Launch plan ``default_inputs``: every input, with its default or marked required, described by the
    workflow function's docstring (except ``undescribed``: a named plan's own defaults, as flytekit leaves them)."""
    described = variable_descriptions(fn, interface.inputs, {})[0] if callable(fn) else {}
    parameters: dict[str, dict[str, Any]] = {}
    for name, python_type in interface.inputs.items():
        text = name if name in undescribed else described.get(name, name)
        variable = {"type": literal_type(python_type, owner, "input", name), "description": text}
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
