"""The public API for user types, in flytekit's shape: subclass ``TypeTransformer[T]`` with ``get_literal_type``,
``to_literal`` and ``to_python_value``, then ``TypeEngine.register(MyTransformer())``.

Transformers speak flyteidl's protobuf messages (``flyteidl.core.types_pb2.LiteralType``,
``flyteidl.core.literals_pb2.Literal``), whose attributes read as flytekit's models do
(``lv.scalar.primitive.string_value``); protojson dicts are accepted too. The engine turns them into its own dict
form, so user types work locally, serialized and on a server alike.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from flyrun.sdk.context import current_context
from flyrun.types import engine

T = TypeVar("T")


class TypeTransformerFailedError(TypeError):
    """Raise from a transformer when a value does not fit; the message reaches the user as a type mismatch."""


class TypeTransformer(Generic[T]):
    """Base of a user's transformer for one Python type ``t`` (and, unless ``enable_type_assertions`` is false,
    instances of it only)."""

    def __init__(self, name: str, t: type[T], enable_type_assertions: bool = True) -> None:
        self._name = name
        self._t = t
        self._type_assertions_enabled = enable_type_assertions

    @property
    def name(self) -> str:
        return self._name

    @property
    def python_type(self) -> type[T]:
        return self._t

    @property
    def type_assertions_enabled(self) -> bool:
        return self._type_assertions_enabled

    def assert_type(self, t: type[T], v: T) -> None:
        if self._type_assertions_enabled and not isinstance(v, t):
            raise TypeTransformerFailedError(f"expected {getattr(t, '__name__', t)}, got {type(v).__name__}")

    def get_literal_type(self, t: type[T]) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.get_literal_type")

    def to_literal(self, ctx: Any, python_val: T, python_type: type[T], expected: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.to_literal")

    def to_python_value(self, ctx: Any, lv: Any, expected_python_type: type[T]) -> T:
        raise NotImplementedError(f"{type(self).__name__}.to_python_value")

    def from_json(self, value: Any, python_type: type[T]) -> T:
        """A value from the command line or an inputs file (JSON/YAML); override to accept one."""
        raise TypeTransformerFailedError(f"{getattr(python_type, '__name__', python_type)} cannot be given on the "
                                         "command line")

    def to_json(self, value: T, python_type: type[T]) -> Any:
        """How ``flyrun run`` shows a value; ``str(value)`` by default."""
        return str(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, {self._t!r})"


class TypeEngine:
    """Where user transformers are registered (flytekit's ``TypeEngine.register``)."""

    @classmethod
    def register(cls, transformer: TypeTransformer, additional_types: list[type] | None = None) -> None:
        if not isinstance(transformer, TypeTransformer):
            raise TypeError(f"TypeEngine.register takes a flyrun.extend.TypeTransformer, not {transformer!r}")
        engine.register_custom(_Adapter(transformer, [transformer.python_type, *(additional_types or [])]))

    @classmethod
    def to_literal_type(cls, python_type: Any) -> Any:
        from flyteidl.core import types_pb2

        from flyrun.idl.literals import parse

        return parse(engine.literal_type(python_type), types_pb2.LiteralType)

    @classmethod
    def to_literal(cls, ctx: Any, python_val: Any, python_type: Any, expected: Any = None) -> Any:
        from flyteidl.core import literals_pb2

        from flyrun.idl.literals import parse

        return parse(engine.to_literal(python_val, python_type), literals_pb2.Literal)

    @classmethod
    def to_python_value(cls, ctx: Any, lv: Any, expected_python_type: Any) -> Any:
        return engine.to_python(_as_dict(lv), expected_python_type)


def _flyte_context() -> Any:
    """The ``ctx`` a flytekit-shaped transformer gets: flytekit's ``FlyteContext`` (``file_access``,
    ``execution_state``, ``user_space_params``) over the run's context."""
    from flyrun.data.flytecontext import FlyteContextManager

    current_context().ensure_storage()
    return FlyteContextManager.current_context()


def _as_dict(message: Any) -> dict:
    if isinstance(message, dict):
        return message
    from google.protobuf import json_format

    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _as_message(document: dict, message_class: Any) -> Any:
    from flyrun.idl.literals import parse

    return parse(document, message_class)


class _Adapter(engine.TypeTransformer):
    """A user's transformer as one of the engine's families."""

    def __init__(self, user: TypeTransformer, types: list[type]) -> None:
        self.user = user
        self.types = types
        self.name = user.name

    def matches(self, python_type: Any) -> bool:
        return any(python_type is t for t in self.types) or (
            isinstance(python_type, type) and any(isinstance(t, type) and issubclass(python_type, t)
                                                  for t in self.types))

    def _call(self, what: str, function: Any, *args: Any) -> Any:
        try:
            return function(*args)
        except (TypeTransformerFailedError, engine.TypeMismatch, AssertionError, ValueError, TypeError) as exc:
            raise engine.TypeMismatch(f"{self.user.name}: {what}: {exc}") from None

    def literal_type(self, python_type: Any) -> dict:
        return _as_dict(self._call("literal type", self.user.get_literal_type, python_type))

    def check(self, value: Any, python_type: Any) -> None:
        self._call("type check", self.user.assert_type, python_type, value)

    def to_literal(self, value: Any, python_type: Any) -> dict:
        from flyteidl.core import types_pb2

        self.check(value, python_type)
        expected = _as_message(self.literal_type(python_type), types_pb2.LiteralType)
        literal = self._call("to literal", self.user.to_literal, _flyte_context(), value, python_type, expected)
        return _as_dict(literal)

    def to_python(self, literal: dict, python_type: Any) -> Any:
        from flyteidl.core import literals_pb2

        message = _as_message(literal, literals_pb2.Literal)
        return self._call("to python value", self.user.to_python_value, _flyte_context(), message, python_type)

    def from_json(self, value: Any, python_type: Any) -> Any:
        if isinstance(python_type, type) and isinstance(value, python_type):
            return value
        return self._call("from JSON", self.user.from_json, value, python_type)

    def from_text(self, text: str, python_type: Any) -> Any:
        return self.from_json(text, python_type)

    def to_json(self, value: Any, python_type: Any) -> Any:
        return self.user.to_json(value, python_type)

    def describe(self, python_type: Any) -> str:
        return getattr(python_type, "__name__", str(python_type))


