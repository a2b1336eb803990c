"""Enums, (nested) dataclasses and untyped dicts."""

from __future__ import annotations

import dataclasses
import enum
import typing
from typing import Any

from flyrun.types import registry
from flyrun.types.registry import TypeMismatch, TypeTransformer, register


@register
class EnumTransformer(TypeTransformer):
    def matches(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and issubclass(python_type, enum.Enum)

    def _values(self, python_type: type[enum.Enum]) -> list[str]:
        values = [member.value for member in python_type]
        if not all(isinstance(v, str) for v in values):
            raise TypeMismatch(f"enum {python_type.__name__} is not supported: its values must be str")
        return values

    def literal_type(self, python_type: Any) -> dict:
        return {"enum_type": {"values": self._values(python_type)}}

    def to_literal(self, value: Any, python_type: Any) -> dict:
        if isinstance(value, python_type):
            raw = value.value
        elif isinstance(value, str) and value in self._values(python_type):
            raw = value
        else:
            raise TypeMismatch(f"{value!r} is not one of {', '.join(self._values(python_type))}")
        return {"scalar": {"primitive": {"string_value": raw}}}

    def to_python(self, literal: dict, python_type: Any) -> enum.Enum:
        return python_type(literal["scalar"]["primitive"]["string_value"])

    def from_text(self, text: str, python_type: Any) -> enum.Enum:
        return self.from_json(text, python_type)

    def from_json(self, value: Any, python_type: Any) -> enum.Enum:
        try:
            return python_type(value)
        except ValueError:
            by_name = python_type.__members__.get(value) if isinstance(value, str) else None
            if by_name is not None:
                return by_name
            raise TypeMismatch(f"{value!r} is not one of {', '.join(self._values(python_type))}") from None

    def to_json(self, value: Any, python_type: Any) -> str:
        return value.value


def _fields(python_type: type) -> dict[str, Any]:
    hints = typing.get_type_hints(python_type, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(python_type)}


class StructTransformer(TypeTransformer):
    """What dataclasses and pydantic models share: msgpack of the field map (flytekit 1.16's default literal),
    described by a JSON schema; the older ``scalar.generic`` Struct form is read too. A subclass says what the
    fields and schema are and how an instance is built from converted field values."""

    def fields(self, python_type: Any) -> dict[str, Any]:
        raise NotImplementedError

    def json_schema(self, python_type: Any) -> dict:
        raise NotImplementedError

    def construct(self, value: dict, python_type: Any, convert: Any) -> Any:
        raise NotImplementedError

    def literal_type(self, python_type: Any) -> dict:
        return struct_literal_type(self.json_schema(python_type), self.fields(python_type))

    def to_literal(self, value: Any, python_type: Any) -> dict:
        return registry.msgpack_literal(self.to_payload(value, python_type))

    def to_python(self, literal: dict, python_type: Any) -> Any:
        payload, is_msgpack = registry.struct_payload(literal, python_type.__name__)
        return self.from_payload(payload, python_type) if is_msgpack else self.from_json(payload, python_type)

    def check(self, value: Any, python_type: Any) -> None:
        self._walk(value, python_type, registry.check)

    def to_payload(self, value: Any, python_type: Any) -> dict:
        return self._walk(value, python_type, registry.to_payload)

    def to_json(self, value: Any, python_type: Any) -> dict:
        return self._walk(value, python_type, registry.to_json)

    def _walk(self, value: Any, python_type: Any, convert: Any) -> dict:
        if not isinstance(value, python_type):
            raise TypeMismatch(f"expected {python_type.__name__}, got {type(value).__name__}")
        out = {}
        for name, field_type in self.fields(python_type).items():
            try:
                out[name] = convert(getattr(value, name), field_type)
            except TypeMismatch as exc:
                raise TypeMismatch(f"{python_type.__name__}.{name}: {exc}") from None
        return out

    def from_payload(self, value: Any, python_type: Any) -> Any:
        return self._build(value, python_type, registry.from_payload)

    def from_json(self, value: Any, python_type: Any) -> Any:
        return self._build(value, python_type, _from_struct_json)

    def _build(self, value: Any, python_type: Any, convert: Any) -> Any:
        if isinstance(value, python_type):
            return value
        if not isinstance(value, dict):
            raise TypeMismatch(f"expected a JSON object for {python_type.__name__}, got {value!r}")
        return self.construct(value, python_type, convert)


def convert_field(python_type: Any, name: str, value: Any, field_type: Any, convert: Any) -> Any:
    """One field's value converted, a mismatch named by its class and field."""
    try:
        return convert(value, field_type)
    except TypeMismatch as exc:
        raise TypeMismatch(f"{python_type.__name__}.{name}: {exc}") from None


@register
class DataclassTransformer(StructTransformer):
    """A dataclass: its fields from its type hints, its schema built here, an instance from the known fields."""

    def matches(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and dataclasses.is_dataclass(python_type)

    def fields(self, python_type: Any) -> dict[str, Any]:
        return _fields(python_type)

    def json_schema(self, python_type: Any) -> dict:
        return _json_schema(python_type)

    def construct(self, value: dict, python_type: Any, convert: Any) -> Any:
        fields = _fields(python_type)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise TypeMismatch(f"{python_type.__name__} has no field {unknown[0]!r} "
                               f"(fields: {', '.join(fields)})")
        kwargs = {name: convert_field(python_type, name, value[name], field_type, convert)
                  for name, field_type in fields.items() if name in value}
        try:
            return python_type(**kwargs)
        except TypeError as exc:
            raise TypeMismatch(f"{python_type.__name__}: {exc}") from None


def struct_literal_type(schema: dict, fields: dict[str, Any]) -> dict:
    """A STRUCT with its JSON schema, the msgpack annotation and each field's literal type (for attribute access)."""
    return {
        "simple": "STRUCT",
        "metadata": schema,
        "annotation": registry.MSGPACK_ANNOTATION,
        "structure": {"dataclass_type": {name: registry.literal_type(t) for name, t in fields.items()}},
    }


def _from_struct_json(value: Any, field_type: Any) -> Any:
    # A Struct has only one number type: whole floats must become ints again where an int is declared.
    if field_type is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    return registry.from_json(value, field_type)


_JSON_SCHEMA_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def _json_schema(python_type: type) -> dict:
    properties = {}
    for name, field_type in _fields(python_type).items():
        if isinstance(field_type, type) and dataclasses.is_dataclass(field_type):
            properties[name] = _json_schema(field_type)
        else:
            properties[name] = {"type": _JSON_SCHEMA_TYPES.get(field_type, "object"),
                                "title": registry.describe(field_type)}
    return {"title": python_type.__name__, "type": "object", "properties": properties,
            "required": list(properties)}


@register
class UntypedDictTransformer(TypeTransformer):
    """A plain ``dict`` (or ``Dict`` without arguments): any JSON object with string keys, as msgpack (flytekit
    1.16's form; a ``generic`` Struct is read too)."""

    def matches(self, python_type: Any) -> bool:
        return python_type is dict or (typing.get_origin(python_type) is dict and not typing.get_args(python_type))

    def literal_type(self, python_type: Any) -> dict:
        return {"simple": "STRUCT", "annotation": registry.MSGPACK_ANNOTATION}

    def describe(self, python_type: Any) -> str:
        return "dict"

    def to_literal(self, value: Any, python_type: Any) -> dict:
        return registry.msgpack_literal(self.to_json(value, python_type))

    def to_python(self, literal: dict, python_type: Any) -> dict:
        payload, _ = registry.struct_payload(literal, "dict")
        if not isinstance(payload, dict):
            raise TypeMismatch(f"literal {literal!r} is not a struct")
        return dict(payload)

    def from_json(self, value: Any, python_type: Any) -> dict:
        return self.to_json(value, python_type)

    def to_json(self, value: Any, python_type: Any) -> dict:
        import json

        if not isinstance(value, dict):
            raise TypeMismatch(f"expected a dict (a JSON object), got {type(value).__name__} {value!r}")
        try:
            # A Struct holds JSON only; a round trip through its text says whether the value is JSON.
            return json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise TypeMismatch(f"a dict input must hold JSON values (str keys, numbers, strings, lists, "
                               f"dicts): {exc}") from None
