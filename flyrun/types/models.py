"""pydantic v2 ``BaseModel``s, like dataclasses: msgpack of the field map (flytekit 1.16's default literal), the
model's own JSON schema as metadata; the older ``generic`` Struct is read too.

pydantic is an optional extra (``flyrun[pydantic]``): a type is recognized as a model by its class hierarchy's
names, and pydantic is only imported once a model is converted.
"""

from __future__ import annotations

from typing import Any

from flyrun.types.registry import TypeMismatch
from flyrun.types.structs import StructTransformer, convert_field


def is_model(python_type: Any) -> bool:
    if not isinstance(python_type, type):
        return False
    return any(base.__name__ == "BaseModel" and base.__module__.startswith("pydantic")
               for base in python_type.__mro__)


def _fields(python_type: Any) -> dict[str, Any]:
    return {name: info.annotation for name, info in python_type.model_fields.items()}


class PydanticTransformer(StructTransformer):
    """A model: its fields from ``model_fields``, its own JSON schema, an instance from ``model_validate`` (so the
    model's config decides about extra fields)."""

    name = "pydantic"

    def matches(self, python_type: Any) -> bool:
        return is_model(python_type)

    def fields(self, python_type: Any) -> dict[str, Any]:
        return _fields(python_type)

    def json_schema(self, python_type: Any) -> dict:
        return python_type.model_json_schema()

    def construct(self, value: dict, python_type: Any, convert: Any) -> Any:
        import pydantic

        fields = _fields(python_type)
        values = {name: convert_field(python_type, name, field_value, fields[name], convert) if name in fields
                  else field_value for name, field_value in value.items()}
        try:
            return python_type.model_validate(values)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or python_type.__name__
            raise TypeMismatch(f"{python_type.__name__}: {where}: {first.get('msg')}") from None
