"""List[T], Dict[str, T] and Optional[T]."""

from __future__ import annotations

import typing
from typing import Any

from flyrun.types import registry
from flyrun.types.registry import TypeMismatch, TypeTransformer, register


def _args(python_type: Any) -> tuple:
    return typing.get_args(python_type)


@register
class ListTransformer(TypeTransformer):
    def matches(self, python_type: Any) -> bool:
        return typing.get_origin(python_type) is list

    def _item(self, python_type: Any) -> Any:
        args = _args(python_type)
        if not args:
            raise TypeMismatch("a list needs an item type, e.g. List[int]")
        return args[0]

    def literal_type(self, python_type: Any) -> dict:
        return {"collection_type": registry.literal_type(self._item(python_type))}

    def to_literal(self, value: Any, python_type: Any) -> dict:
        if not isinstance(value, (list, tuple)):
            raise TypeMismatch(f"expected {registry.describe(python_type)}, got {type(value).__name__}")
        item = self._item(python_type)
        literals = []
        for index, element in enumerate(value):
            try:
                literals.append(registry.to_literal(element, item))
            except TypeMismatch as exc:
                raise TypeMismatch(f"item {index}: {exc}") from None
        return {"collection": {"literals": literals}}

    def to_python(self, literal: dict, python_type: Any) -> list:
        item = self._item(python_type)
        return [registry.to_python(lit, item) for lit in literal["collection"].get("literals", [])]

    def from_json(self, value: Any, python_type: Any) -> list:
        if not isinstance(value, list):
            raise TypeMismatch(f"expected a JSON list for {registry.describe(python_type)}, got {value!r}")
        item = self._item(python_type)
        return [registry.from_json(element, item) for element in value]

    def to_json(self, value: Any, python_type: Any) -> list:
        item = self._item(python_type)
        return [registry.to_json(element, item) for element in value]

    def to_payload(self, value: Any, python_type: Any) -> list:
        if not isinstance(value, (list, tuple)):
            raise TypeMismatch(f"expected {registry.describe(python_type)}, got {type(value).__name__}")
        item = self._item(python_type)
        return [registry.to_payload(element, item) for element in value]

    def from_payload(self, value: Any, python_type: Any) -> list:
        if not isinstance(value, list):
            raise TypeMismatch(f"expected a list for {registry.describe(python_type)}, got {value!r}")
        item = self._item(python_type)
        return [registry.from_payload(element, item) for element in value]

    def describe(self, python_type: Any) -> str:
        return f"List[{registry.describe(self._item(python_type))}]"


@register
class DictTransformer(TypeTransformer):
    def matches(self, python_type: Any) -> bool:
        # Dict without arguments is an untyped dict (flyrun.types.structs).
        return typing.get_origin(python_type) is dict and bool(_args(python_type))

    def _value(self, python_type: Any) -> Any:
        args = _args(python_type)
        if len(args) != 2 or args[0] is not str:
            raise TypeMismatch(f"{registry.describe(python_type)} is not supported: keys must be str, "
                               "e.g. Dict[str, int]")
        return args[1]

    def literal_type(self, python_type: Any) -> dict:
        return {"map_value_type": registry.literal_type(self._value(python_type))}

    def to_literal(self, value: Any, python_type: Any) -> dict:
        if not isinstance(value, dict):
            raise TypeMismatch(f"expected {registry.describe(python_type)}, got {type(value).__name__}")
        value_type = self._value(python_type)
        literals = {}
        for key, element in value.items():
            if not isinstance(key, str):
                raise TypeMismatch(f"key {key!r}: keys must be str")
            try:
                literals[key] = registry.to_literal(element, value_type)
            except TypeMismatch as exc:
                raise TypeMismatch(f"key {key!r}: {exc}") from None
        return {"map": {"literals": literals}}

    def to_python(self, literal: dict, python_type: Any) -> dict:
        value_type = self._value(python_type)
        return {k: registry.to_python(v, value_type) for k, v in literal["map"].get("literals", {}).items()}

    def from_json(self, value: Any, python_type: Any) -> dict:
        if not isinstance(value, dict):
            raise TypeMismatch(f"expected a JSON object for {registry.describe(python_type)}, got {value!r}")
        value_type = self._value(python_type)
        return {str(k): registry.from_json(v, value_type) for k, v in value.items()}

    def to_json(self, value: Any, python_type: Any) -> dict:
        value_type = self._value(python_type)
        return {k: registry.to_json(v, value_type) for k, v in value.items()}

    def to_payload(self, value: Any, python_type: Any) -> dict:
        if not isinstance(value, dict):
            raise TypeMismatch(f"expected {registry.describe(python_type)}, got {type(value).__name__}")
        value_type = self._value(python_type)
        return {k: registry.to_payload(v, value_type) for k, v in value.items()}

    def from_payload(self, value: Any, python_type: Any) -> dict:
        if not isinstance(value, dict):
            raise TypeMismatch(f"expected a map for {registry.describe(python_type)}, got {value!r}")
        value_type = self._value(python_type)
        return {str(k): registry.from_payload(v, value_type) for k, v in value.items()}


def optional_inner(python_type: Any) -> Any | None:
    """T for Optional[T] (or T | None), else None."""
    origin = typing.get_origin(python_type)
    if origin is typing.Union or registry._is_union_type(origin):
        args = _args(python_type)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return rest[0]
    return None


@register
class OptionalTransformer(TypeTransformer):
    def matches(self, python_type: Any) -> bool:
        origin = typing.get_origin(python_type)
        return origin is typing.Union or registry._is_union_type(origin)

    def _inner(self, python_type: Any) -> Any:
        inner = optional_inner(python_type)
        if inner is None:
            raise TypeMismatch(f"{registry.describe(python_type)} is not supported; only Optional[T] unions are")
        return inner

    def _variants(self, python_type: Any) -> list[dict]:
        inner = self._inner(python_type)
        some = dict(registry.literal_type(inner), structure={"tag": registry.describe(inner)})
        return [some, {"simple": "NONE", "structure": {"tag": "none"}}]

    def literal_type(self, python_type: Any) -> dict:
        return {"union_type": {"variants": self._variants(python_type)}}

    def to_literal(self, value: Any, python_type: Any) -> dict:
        some, none = self._variants(python_type)
        if value is None:
            return {"scalar": {"union": {"value": {"scalar": {"none_type": {}}}, "type": none}}}
        return {"scalar": {"union": {"value": registry.to_literal(value, self._inner(python_type)), "type": some}}}

    def to_python(self, literal: dict, python_type: Any) -> Any:
        scalar = literal.get("scalar", {})
        inner_literal = scalar["union"]["value"] if "union" in scalar else literal
        if "none_type" in inner_literal.get("scalar", {}):
            return None
        return registry.to_python(inner_literal, self._inner(python_type))

    def from_text(self, text: str, python_type: Any) -> Any:
        return registry.from_text(text, self._inner(python_type))

    def from_json(self, value: Any, python_type: Any) -> Any:
        return None if value is None else registry.from_json(value, self._inner(python_type))

    def to_json(self, value: Any, python_type: Any) -> Any:
        return registry.to_json(value, self._inner(python_type))

    def to_payload(self, value: Any, python_type: Any) -> Any:
        return registry.to_payload(value, self._inner(python_type))

    def from_payload(self, value: Any, python_type: Any) -> Any:
        return None if value is None else registry.from_payload(value, self._inner(python_type))

    def describe(self, python_type: Any) -> str:
        return f"Optional[{registry.describe(self._inner(python_type))}]"
