"""Typed interfaces: what goes into and comes out of a task or a workflow."""

from __future__ import annotations

import collections
import functools
import inspect
import typing
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from flyrun.errors import WorkflowDefinitionError

_NO_DEFAULT = inspect.Parameter.empty


def kwtypes(**names_and_types: Any) -> OrderedDict[str, Any]:
    """Name typed inputs or outputs, in order: ``kwtypes(a=int, b=str)``."""
    return OrderedDict(names_and_types)


@dataclass
class Interface:
    inputs: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # The NamedTuple class of a multi-output return, so local calls hand back the same shape.
    output_tuple: type | None = None

    @property
    def required_inputs(self) -> list[str]:
        return [name for name in self.inputs if name not in self.defaults]

    def outputs_as_result(self, values: dict[str, Any]) -> Any:
        """The Python value a call returns: nothing, the single output, or a tuple of outputs."""
        if not self.outputs:
            return None
        if len(self.outputs) == 1 and self.output_tuple is None:
            return next(iter(values.values()))
        ordered = [values[name] for name in self.outputs]
        return self.output_tuple(*ordered) if self.output_tuple else tuple(ordered)

    def result_as_outputs(self, result: Any, owner: str) -> dict[str, Any]:
        """Name the value a function returned after its declared outputs."""
        names = list(self.outputs)
        if not names:
            return {}
        if len(names) == 1 and (self.output_tuple is None or not isinstance(result, tuple)):
            return {names[0]: result}  # a one-field NamedTuple's task may return the bare value, as in flytekit
        if not isinstance(result, tuple) or len(result) != len(names):
            raise TypeError(f"{owner} must return {len(names)} values ({', '.join(names)}), got {result!r}")
        return dict(zip(names, result))


def _is_named_tuple(python_type: Any) -> bool:
    return isinstance(python_type, type) and issubclass(python_type, tuple) and hasattr(python_type, "_fields")


def interface_from_function(fn: Any, where: str) -> Interface:
    """Read a function's signature and annotations; every input must be annotated."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)  # keeps Annotated (HashMethod, columns)
    except Exception as exc:
        raise WorkflowDefinitionError(f"{where}: cannot resolve type annotations: {exc}") from None
    interface = Interface()
    for name, parameter in inspect.signature(fn).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise WorkflowDefinitionError(f"{where}: *args and **kwargs are not supported (input '{name}')")
        if name not in hints:
            raise WorkflowDefinitionError(f"{where}: input '{name}' has no type annotation",
                                          hint=f"annotate it, e.g. `{name}: int`")
        interface.inputs[name] = hints[name]
        if parameter.default is not _NO_DEFAULT:
            interface.defaults[name] = parameter.default
    returns = hints.get("return", None)
    interface.outputs, interface.output_tuple = outputs_from_annotation(returns, where)
    return interface


@functools.cache
def _default_tuple(size: int) -> type:
    return collections.namedtuple("DefaultNamedTupleOutput", [f"o{i}" for i in range(size)])


def _describe(returns: Any) -> str:
    return getattr(returns, "__name__", None) or repr(returns)


def outputs_from_annotation(returns: Any, where: str = "") -> tuple[dict[str, Any], type | None]:
    if returns is None or returns is type(None):
        return {}, None
    if _is_named_tuple(returns):
        return dict(typing.get_type_hints(returns, include_extras=True)), returns
    # `-> (float, float)` is a tuple of types, not a type; flytekit reads it like `Tuple[float, float]`.
    args = returns if isinstance(returns, tuple) else typing.get_args(returns) \
        if typing.get_origin(returns) is tuple else None
    if args is not None:
        if len(args) < 2 or Ellipsis in args:
            raise WorkflowDefinitionError(
                f"{where}: a return annotation of {len(args)} type{'s' if len(args) != 1 else ''} in a tuple "
                f"({_describe(returns)}) is not supported", hint="return the type itself, or a NamedTuple of "
                "one field, e.g. `-> int` or `-> NamedTuple('out', [('x', int)])`")
        # As in flytekit, the results can be unpacked or read as `.o0`, `.o1`, ...
        names = [f"o{i}" for i in range(len(args))]
        return dict(zip(names, args)), _default_tuple(len(names))
    return {"o0": returns}, None
