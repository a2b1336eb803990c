"""Typed interfaces and launch plan parameters: Python types as ``VariableMap`` / ``ParameterMap`` dicts."""

from __future__ import annotations

from typing import Any

from flyrun.errors import UsageError
from flyrun.types import engine


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
    parameters = {}
    for name, python_type in interface.inputs.items():
        variable = {"type": literal_type(python_type, owner, "input", name), "description": name}
        if name in interface.defaults:
            default = literal(interface.defaults[name], python_type, f"{owner}: default of input '{name}'")
            parameters[name] = {"var": variable, "default": default}
        else:
            parameters[name] = {"var": variable, "required": True}
    return {"parameters": parameters}
