"""Python types built from a server's ``LiteralType`` alone, for entities whose code flyrun does not have.

A struct (a dataclass on the side that registered it) becomes a ``dict`` subclass that knows its fields from the
literal type's ``structure.dataclass_type`` or its JSON schema (``metadata``); values stay plain ``dict``s, checked
field by field as the dataclass would check them. An enum becomes an ``enum.Enum`` of its values.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

from flyrun.types import engine
from flyrun.types.engine import TypeMismatch, TypeTransformer

_JSON_SCHEMA_TYPES = {"integer": int, "number": float, "string": str, "boolean": bool}


class _AnyJson:
    """A struct field whose type the schema does not pin down: any JSON value passes as it is."""

    __name__ = "any"

    @classmethod
    def __flyrun_transformer__(cls) -> TypeTransformer:
        return _AnyJsonTransformer()


class _AnyJsonTransformer(TypeTransformer):
    def to_literal(self, value: Any, python_type: Any) -> dict:
        return engine.msgpack_literal(value)

    def check(self, value: Any, python_type: Any) -> None:
        pass

    def describe(self, python_type: Any) -> str:
        return "any"


class ServerStruct(dict):
    """Base of the struct types made by ``struct_type``; never instantiated (values are plain dicts)."""

    literal: ClassVar[dict] = {}
    fields: ClassVar[dict[str, Any] | None] = None  # None: the server did not say, any mapping passes
    required: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __flyrun_transformer__(cls) -> TypeTransformer:
        return ServerStructTransformer()


class ServerStructTransformer(TypeTransformer):
    """A ``scalar.generic`` Struct, as the registering side's dataclass transformer writes it."""

    def literal_type(self, python_type: Any) -> dict:
        return python_type.literal

    def describe(self, python_type: Any) -> str:
        return python_type.__name__

    def to_literal(self, value: Any, python_type: Any) -> dict:
        data = self.to_json(self.from_json(value, python_type), python_type)
        annotations = (python_type.literal.get("annotation") or {}).get("annotations") or {}
        if (annotations.get("cache-key-metadata") or {}).get("serialization-format") == "msgpack":
            return engine.msgpack_literal(data)  # the registering side reads msgpack (flytekit >= 1.14)
        return {"scalar": {"generic": data}}

    def to_python(self, literal: dict, python_type: Any) -> dict:
        data, _ = engine.struct_payload(literal, python_type.__name__)
        return self.from_json(data, python_type)

    def check(self, value: Any, python_type: Any) -> None:
        self.from_json(value, python_type)

    def from_json(self, value: Any, python_type: Any) -> dict:
        name = python_type.__name__
        if not isinstance(value, dict):
            raise TypeMismatch(f"expected a JSON object for {name}, got {value!r}")
        fields = python_type.fields
        if fields is None:
            return dict(value)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise TypeMismatch(f"{name} has no field {unknown[0]!r} (fields: {', '.join(fields)})")
        missing = [field for field in python_type.required if field not in value]
        if missing:
            raise TypeMismatch(f"{name} needs field {missing[0]!r} (fields: {', '.join(fields)})")
        out = {}
        for field, field_value in value.items():
            field_type = fields[field]
            # A Struct has one number type: a whole float must become an int again where an int is declared.
            if field_type is int and isinstance(field_value, float) and field_value.is_integer():
                field_value = int(field_value)
            try:
                out[field] = engine.from_json(field_value, field_type)
            except TypeMismatch as exc:
                raise TypeMismatch(f"{name}.{field}: {exc}") from None
        return out

    def to_json(self, value: Any, python_type: Any) -> dict:
        fields = python_type.fields or {}
        ordered = [f for f in fields if f in value] + [f for f in value if f not in fields]
        return {field: engine.to_json(value[field], fields.get(field, _AnyJson)) for field in ordered}


def struct_type(literal_type: dict, python_type_for: Any) -> type:
    """A ``ServerStruct`` subclass for a STRUCT literal type; ``python_type_for`` maps a field's literal type."""
    root = literal_type.get("metadata") or {}
    structure = (literal_type.get("structure") or {}).get("dataclass_type")
    schema = _resolve(root, root)
    title = schema.get("title") if isinstance(schema.get("title"), str) else None
    fields: dict[str, Any] | None = None
    if structure:
        fields = {name: python_type_for(field_type) for name, field_type in structure.items()}
    elif isinstance(schema.get("properties"), dict):
        fields = {name: _from_schema(_resolve(root, sub), root, python_type_for)
                  for name, sub in schema["properties"].items()}
    required = tuple(schema.get("required") or ()) if fields is not None else ()
    if fields is not None:
        # A map (structure, properties) keeps no order on the wire; the schema's list of required fields does.
        fields = {name: fields[name] for name in sorted(fields, key=lambda n: (n not in required, _index(required, n)))}
    name = title or "dict"
    return type(name, (ServerStruct,), {"literal": literal_type, "fields": fields, "required": required,
                                        "__qualname__": name, "__module__": __name__})


def _index(items: tuple[str, ...], item: str) -> int:
    return items.index(item) if item in items else len(items)


def enum_type(values: list[str]) -> Any:
    """An ``enum.Enum`` whose members are the literal type's values (named by them), or ``str`` if they cannot
    be member names."""
    try:
        return enum.Enum("Enum", [(value, value) for value in values])
    except (ValueError, TypeError):
        return str


def _resolve(root: dict, schema: Any) -> dict:
    """Follow a local ``$ref`` (marshmallow-jsonschema's ``definitions``, pydantic/mashumaro's ``$defs``)."""
    for _ in range(16):
        if not isinstance(schema, dict) or not isinstance(schema.get("$ref"), str):
            break
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        schema = target
    return schema if isinstance(schema, dict) else {}


def _from_schema(schema: dict, root: dict, python_type_for: Any) -> Any:
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _JSON_SCHEMA_TYPES:
        return _JSON_SCHEMA_TYPES[kind]
    if kind == "array" and isinstance(schema.get("items"), dict):
        return list[_from_schema(_resolve(root, schema["items"]), root, python_type_for)]  # type: ignore[misc]
    if kind == "object" and isinstance(schema.get("properties"), dict):
        # A nested dataclass: its own schema, with the root's definitions reachable for its $refs.
        nested = dict(schema, definitions=root.get("definitions"), **{"$defs": root.get("$defs")})
        return struct_type({"simple": "STRUCT", "metadata": nested}, python_type_for)
    return _AnyJson
