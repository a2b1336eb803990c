"""pydantic v2 ``BaseModel``s, like dataclasses: msgpack of the field map (flytekit 1.16's default literal), the
model's own JSON schema as metadata; the older ``generic`` Struct is read too.

pydantic is an optional extra (``flyrun[pydantic]``): a type is recognized as a model by its class hierarchy's
names, and pydantic is only imported once a model is converted.
"""

from __future__ import annotations

from typing import Any

from flyrun.types import engine
from flyrun.types.engine import TypeMismatch, TypeTransformer


def is_model(python_type: Any) -> bool:
    if not isinstance(python_type, type):
        return False
    return any(base.__name__ == "BaseModel" and base.__module__.startswith("pydantic")
               for base in python_type.__mro__)


def _fields(python_type: Any) -> dict[str, Any]:
    return {name: info.annotation for name, info in python_type.model_fields.items()}


class PydanticTransformer(TypeTransformer):
    name = "pydantic"

    def matches(self, python_type: Any) -> bool:
        return is_model(python_type)

    def literal_type(self, python_type: Any) -> dict:
        from flyrun.types.structs import struct_literal_type

        return struct_literal_type(python_type.model_json_schema(), _fields(python_type))

    def to_literal(self, value: Any, python_type: Any) -> dict:
        return engine.msgpack_literal(self.to_payload(value, python_type))

    def to_python(self, literal: dict, python_type: Any) -> Any:
        payload, is_msgpack = engine.struct_payload(literal, python_type.__name__)
        return self.from_payload(payload, python_type) if is_msgpack else self.from_json(payload, python_type)

    def check(self, value: Any, python_type: Any) -> None:
        self._walk(value, python_type, engine.check)

    def to_payload(self, value: Any, python_type: Any) -> dict:
        return self._walk(value, python_type, engine.to_payload)

    def to_json(self, value: Any, python_type: Any) -> dict:
        return self._walk(value, python_type, engine.to_json)

    def _walk(self, value: Any, python_type: Any, convert: Any) -> dict:
        if not isinstance(value, python_type):
            raise TypeMismatch(f"expected {python_type.__name__}, got {type(value).__name__}")
        out = {}
        for name, field_type in _fields(python_type).items():
            try:
                out[name] = convert(getattr(value, name), field_type)
            except TypeMismatch as exc:
                raise TypeMismatch(f"{python_type.__name__}.{name}: {exc}") from None
        return out

    def from_payload(self, value: Any, python_type: Any) -> Any:
        return self._build(value, python_type, engine.from_payload)

    def from_json(self, value: Any, python_type: Any) -> Any:
        from flyrun.types.structs import _from_struct_json

        return self._build(value, python_type, _from_struct_json)

    def _build(self, value: Any, python_type: Any, convert: Any) -> Any:
        if isinstance(value, python_type):
            return value
        if not isinstance(value, dict):
            raise TypeMismatch(f"expected a JSON object for {python_type.__name__}, got {value!r}")
        fields = _fields(python_type)
        values = {}
        for name, field_value in value.items():
            if name in fields:
                try:
                    values[name] = convert(field_value, fields[name])
                except TypeMismatch as exc:
                    raise TypeMismatch(f"{python_type.__name__}.{name}: {exc}") from None
            else:
                values[name] = field_value  # the model's own config decides about extra fields
        import pydantic

        try:
            return python_type.model_validate(values)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or python_type.__name__
            raise TypeMismatch(f"{python_type.__name__}: {where}: {first.get('msg')}") from None
