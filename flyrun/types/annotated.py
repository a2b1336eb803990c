"""``Annotated[T, ...]``: ``HashMethod`` on outputs, dataset columns and formats; any other annotation is ignored,
as flytekit ignores it."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from flyrun.types import registry
from flyrun.types.registry import TypeMismatch, TypeTransformer


class HashMethod:
    """``Annotated[T, HashMethod(fn)]`` on an output: ``fn(value)`` becomes the output literal's ``hash``, which
    downstream cached tasks use in their cache key instead of the value (flytekit's ``HashMethod``)."""

    def __init__(self, function: Callable[[Any], str]) -> None:
        if not callable(function):
            raise TypeError(f"HashMethod takes a function of the value, not {function!r}")
        self._function = function

    def calculate(self, value: Any) -> str:
        return str(self._function(value))

    def __repr__(self) -> str:
        return f"HashMethod({getattr(self._function, '__name__', self._function)!r})"


def split(python_type: Any) -> tuple[Any, list[HashMethod]]:
    """The type to convert with (``T``, or ``Annotated[T, rest]`` when a family reads the rest) and the hash
    methods."""
    inner, *metadata = typing.get_args(python_type)
    hashes = [m for m in metadata if isinstance(m, HashMethod)]
    rest = [m for m in metadata if not isinstance(m, HashMethod)]
    if rest:
        arguments = (inner, *rest)
        whole = typing.Annotated[arguments]  # type: ignore[valid-type]
        if registry.annotated_transformer(whole) is not None:
            return whole, hashes
    if typing.get_origin(inner) is typing.Annotated:
        nested, more = split(inner)
        return nested, more + hashes
    return inner, hashes


@registry.register_annotated
class AnnotatedTransformer(TypeTransformer):
    def matches(self, python_type: Any) -> bool:
        return typing.get_origin(python_type) is typing.Annotated

    def _target(self, python_type: Any) -> tuple[TypeTransformer, Any, list[HashMethod]]:
        target, hashes = split(python_type)
        if typing.get_origin(target) is typing.Annotated:
            transformer = registry.annotated_transformer(target)
            assert transformer is not None
            return transformer, target, hashes
        return registry.transformer_for(target), target, hashes

    def literal_type(self, python_type: Any) -> dict:
        transformer, target, _ = self._target(python_type)
        return transformer.literal_type(target)

    def to_literal(self, value: Any, python_type: Any) -> dict:
        transformer, target, hashes = self._target(python_type)
        literal = transformer.to_literal(value, target)
        if hashes:
            try:
                digest = hashes[-1].calculate(value)
            except Exception as exc:
                raise TypeMismatch(f"{hashes[-1]!r} failed on the value: {type(exc).__name__}: {exc}") from None
            literal = dict(literal, hash=digest)
            remember_hash(value, digest)
        return literal

    def to_python(self, literal: dict, python_type: Any) -> Any:
        transformer, target, _ = self._target(python_type)
        value = transformer.to_python(literal, target)
        if literal.get("hash"):
            remember_hash(value, literal["hash"])
        return value

    def from_text(self, text: str, python_type: Any) -> Any:
        transformer, target, _ = self._target(python_type)
        return transformer.from_text(text, target)

    def from_json(self, value: Any, python_type: Any) -> Any:
        transformer, target, _ = self._target(python_type)
        return transformer.from_json(value, target)

    def to_json(self, value: Any, python_type: Any) -> Any:
        transformer, target, _ = self._target(python_type)
        return transformer.to_json(value, target)

    def to_payload(self, value: Any, python_type: Any) -> Any:
        transformer, target, _ = self._target(python_type)
        return transformer.to_payload(value, target)

    def from_payload(self, value: Any, python_type: Any) -> Any:
        transformer, target, _ = self._target(python_type)
        return transformer.from_payload(value, target)

    def fit(self, value: Any, python_type: Any) -> Any:
        transformer, target, _ = self._target(python_type)
        return transformer.fit(value, target)

    def check(self, value: Any, python_type: Any) -> None:
        transformer, target, _ = self._target(python_type)
        transformer.check(value, target)

    def describe(self, python_type: Any) -> str:
        transformer, target, _ = self._target(python_type)
        return transformer.describe(target)

    def literal_is_reusable(self, literal: dict, python_type: Any) -> bool:
        transformer, target, _ = self._target(python_type)
        return transformer.literal_is_reusable(literal, target)


# Values that came out of a hashed output, by identity, with their hash: locally, values (not literals) flow from
# task to task, so this is how a downstream task's cache key finds the hash flytekit keeps on the literal. The
# value itself is kept too, so that its id is not reused by another object while the process lives.
_HASHES: dict[int, tuple[Any, str]] = {}


def remember_hash(value: Any, digest: str) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return  # interned values are shared by unrelated inputs: their identity says nothing
    _HASHES[id(value)] = (value, digest)


def known_hash(value: Any) -> str | None:
    found = _HASHES.get(id(value))
    return found[1] if found is not None and found[0] is value else None
