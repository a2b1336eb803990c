"""Enums, (nested) dataclasses and untyped dicts."""

from __future__ import annotations

import dataclasses
import enum
import typing
from typing import Any

from flyrun.types import engine
from flyrun.types.engine import TypeMismatch, TypeTransformer, register


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
    hints = typing.get_type_hints(python_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(python_type)}


@register
class DataclassTransformer(TypeTransformer):
    """A dataclass travels as a protobuf Struct (``scalar.generic``), described by a JSON schema."""

    def matches(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and dataclasses.is_dataclass(python_type)

    def literal_type(self, python_type: Any) -> dict:
        fields = _fields(python_type)
        return {
            "simple": "STRUCT",
            "metadata": _json_schema(python_type),
            "structure": {"dataclass_type": {name: engine.literal_type(t) for name, t in fields.items()}},
        }

    def to_literal(self, value: Any, python_type: Any) -> dict:
        return {"scalar": {"generic": self.to_json(value, python_type)}}

    def to_python(self, literal: dict, python_type: Any) -> Any:
        return self.from_json(literal["scalar"]["generic"], python_type)

    def check(self, value: Any, python_type: Any) -> None:
        self.to_json(value, python_type)

    def to_json(self, value: Any, python_type: Any) -> dict:
        if not isinstance(value, python_type):
            raise TypeMismatch(f"expected {python_type.__name__}, got {type(value).__name__}")
        out = {}
        for name, field_type in _fields(python_type).items():
            field_value = getattr(value, name)
            try:
                if engine.producing_outputs():
                    # A task's output: each field is stored as its own type stores it (a local file in a field
                    # is uploaded under the raw output prefix, as it would be on its own).
                    field_value = engine.to_python(engine.to_literal(field_value, field_type), field_type)
                else:
                    engine.check(field_value, field_type)
            except TypeMismatch as exc:
                raise TypeMismatch(f"{python_type.__name__}.{name}: {exc}") from None
            out[name] = engine.to_json(field_value, field_type)
        return out

    def from_json(self, value: Any, python_type: Any) -> Any:
        if isinstance(value, python_type):
            return value
        if not isinstance(value, dict):
            raise TypeMismatch(f"expected a JSON object for {python_type.__name__}, got {value!r}")
        fields = _fields(python_type)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise TypeMismatch(f"{python_type.__name__} has no field {unknown[0]!r} "
                               f"(fields: {', '.join(fields)})")
        kwargs = {}
        for name, field_type in fields.items():
            if name in value:
                try:
                    kwargs[name] = _from_struct_json(value[name], field_type)
                except TypeMismatch as exc:
                    raise TypeMismatch(f"{python_type.__name__}.{name}: {exc}") from None
        try:
            return python_type(**kwargs)
        except TypeError as exc:
            raise TypeMismatch(f"{python_type.__name__}: {exc}") from None


def _from_struct_json(value: Any, field_type: Any) -> Any:
    # A Struct has only one number type: whole floats must become ints again where an int is declared.
    if field_type is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    return engine.from_json(value, field_type)


_JSON_SCHEMA_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def _json_schema(python_type: type) -> dict:
    properties = {}
    for name, field_type in _fields(python_type).items():
        if isinstance(field_type, type) and dataclasses.is_dataclass(field_type):
            properties[name] = _json_schema(field_type)
        else:
            properties[name] = {"type": _JSON_SCHEMA_TYPES.get(field_type, "object"),
                                "title": engine.describe(field_type)}
    return {"title": python_type.__name__, "type": "object", "properties": properties,
            "required": list(properties)}


@register
class UntypedDictTransformer(TypeTransformer):
    """A plain ``dict`` (or ``Dict`` without arguments) travels as a Struct, as flytekit sends it: any JSON
    object with string keys."""

    def matches(self, python_type: Any) -> bool:
        return python_type is dict or (typing.get_origin(python_type) is dict and not typing.get_args(python_type))

    def literal_type(self, python_type: Any) -> dict:
        return {"simple": "STRUCT"}

    def describe(self, python_type: Any) -> str:
        return "dict"

    def to_literal(self, value: Any, python_type: Any) -> dict:
        return {"scalar": {"generic": self.to_json(value, python_type)}}

    def to_python(self, literal: dict, python_type: Any) -> dict:
        try:
            return dict(literal["scalar"]["generic"])
        except (KeyError, TypeError):
            raise TypeMismatch(f"literal {literal!r} is not a struct") from None

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
