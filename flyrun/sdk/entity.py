"""What tasks and workflows have in common: a name, an interface, and a call that either adds a node to the
workflow being traced or runs locally."""

from __future__ import annotations

import functools
import itertools
import linecache
import sys
import types
from typing import TYPE_CHECKING, Any

from flyrun.errors import UsageError, WorkflowDefinitionError
from flyrun.sdk import graph
from flyrun.sdk.interface import Interface
from flyrun.sdk.mocks import run_call
from flyrun.types import engine

if TYPE_CHECKING:
    import ast

_HINT = "bind inputs by keyword, e.g. partial(t, b=1), and pass the others at the call"


class Entity:
    name: str
    interface: Interface
    kind = "entity"  # "task" or "workflow", for messages and listings

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = graph.active_builder()
        if builder is not None:
            check_call_through_partial(self, sys._getframe(1), builder.where(self, graph.user_call_site()))
            node = builder.add_node(self, args, kwargs)
            return graph.node_result(node, self.interface.outputs, self.interface.output_tuple)
        if getattr(self, "is_async", False):  # async tasks and @eager give an awaitable, as in flytekit
            from flyrun.sdk.asyncs import async_call

            return async_call(self, args, kwargs)

        inputs = self.bind_local_arguments(args, kwargs)
        return self.interface.outputs_as_result(run_call(self, inputs))

    def bind_local_arguments(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Outside a workflow an entity is called like the Python function it wraps."""
        names = list(self.interface.inputs)
        if len(args) > len(names):
            raise UsageError(f"{self.name} takes {len(names)} inputs but {len(args)} were given")
        inputs = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in self.interface.inputs:
                raise UsageError(f"{self.name} has no input '{name}'; inputs are: {', '.join(names) or 'none'}")
            if name in inputs:
                raise UsageError(f"{self.name} got input '{name}' twice")
            inputs[name] = value
        return self.complete_inputs(inputs)

    def complete_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Fill defaults, then check that every required input is there and has the declared type."""
        complete = {**self.interface.defaults, **inputs}
        for name, python_type in self.interface.inputs.items():
            if name not in complete:
                raise UsageError(f"missing required input '{name}' ({engine.describe(python_type)}) "
                                 f"for {self.name}", hint=f"pass --{name}")
            try:
                complete[name] = engine.roundtrip(complete[name], python_type)
            except engine.TypeMismatch as exc:
                raise UsageError(f"input '{name}' of {self.name}: {exc}") from None
        return complete

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run with complete, typed inputs and return the outputs by name."""
        raise NotImplementedError

    def signature(self) -> str:
        """``name(x: int, y: str = 'a') -> int``, for listings."""
        parts = []
        for name, python_type in self.interface.inputs.items():
            text = f"{name}: {engine.describe(python_type)}"
            if name in self.interface.defaults:
                text += f" = {self.interface.defaults[name]!r}"
            parts.append(text)
        outputs = ", ".join(f"{n}: {engine.describe(t)}" for n, t in self.interface.outputs.items())
        return f"{self.short_name}({', '.join(parts)})" + (f" -> {outputs}" if outputs else "")

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def module_attribute(self, module_name: str) -> str | None:
        """The module-level name this entity is bound to in ``module_name``, if any (looked up when asked)."""
        module = sys.modules.get(module_name)
        for key, value in vars(module).items() if module else ():
            if value is self:
                return key
        return None



class ModuleLevelEntity(Entity):
    """An entity made as an object, not by a decorator (a launch plan, a ShellTask, a DuckDBQuery, a builder, a
    reference): a worker or a task container finds it again by the variable it is bound to in its module."""

    _module: str
    attribute_fallback = "name"  # the attribute to use when no module-level variable holds the entity

    @property
    def module(self) -> str:
        return self._module

    @property
    def attribute(self) -> str:
        return self.module_attribute(self._module) or getattr(self, self.attribute_fallback)

# Partials, checked where a task is called through one (see flyrun.sdk.partials): here, because the check needs
# the Entity class and Entity.__call__ needs the check.

def check_partial(bound: functools.partial, where: str) -> Any:
    """Raise unless ``bound`` is a keyword-only partial of a task with inputs it has; return the task."""
    target = bound.func
    if not isinstance(target, Entity):
        raise WorkflowDefinitionError(f"{where}: a partial needs a @task, not {type(target).__name__}")
    if target.kind == "workflow":
        raise WorkflowDefinitionError(f"{where}: {target.name} is a workflow; only tasks can be partial",
                                      hint="call the workflow with all its inputs, or make a task of it")
    if bound.args:
        raise WorkflowDefinitionError(f"{where}: positional arguments {bound.args!r} cannot be bound to inputs "
                                      f"of {target.name}", hint=_HINT)
    for name, value in bound.keywords.items():
        if name not in target.interface.inputs:
            raise WorkflowDefinitionError(f"{where}: {target.name} has no input '{name}'; inputs are: "
                                          f"{', '.join(target.interface.inputs) or 'none'}")
        graph.bind(value, target.interface.inputs[name], f"{where}: input '{name}'")
    return target


def check_call_through_partial(entity: Any, caller: types.FrameType | None, where: str) -> None:
    """Inside a workflow: if ``entity`` is being called through a partial, check the partial and the call."""
    found = _partial_at_call(entity, caller)
    if found is None:
        return
    bound, call = found
    label = f"{where}: the partial of {entity.name}"
    check_partial(bound, label)
    twice = [k.arg for k in call.keywords if k.arg in bound.keywords]
    if twice:
        raise WorkflowDefinitionError(
            f"{where}: input '{twice[0]}' is bound by the partial and also passed at the call",
            hint=f"remove {twice[0]}= from the call or from the partial")


def _partial_at_call(entity: Any, frame: types.FrameType | None) -> tuple[functools.partial, ast.Call] | None:
    """The partial of ``entity`` that the frame is calling right now, with the call's syntax, if any."""
    if frame is None or not _reachable_partials(entity, frame):
        return None
    call = _current_call(frame)
    if call is None:
        return None
    callee = _resolve(call.func, frame)
    if isinstance(callee, functools.partial) and callee.func is entity:
        return callee, call
    return None


def _reachable_partials(entity: Any, frame: types.FrameType) -> bool:
    # Cheap first look: without a partial of this entity in scope there is nothing to parse.
    for namespace in (frame.f_locals, frame.f_globals):
        for value in namespace.values():
            if isinstance(value, functools.partial) and value.func is entity:
                return True
    return False


def _current_call(frame: types.FrameType) -> ast.Call | None:
    """The call expression the frame is executing, parsed from its source positions (Python 3.11+)."""
    import ast
    positions = getattr(frame.f_code, "co_positions", None)
    if positions is None:
        return None
    start, end, start_col, end_col = next(itertools.islice(positions(), frame.f_lasti // 2, None),
                                          (None, None, None, None))
    if start is None or end is None or start_col is None or end_col is None:
        return None
    lines = linecache.getlines(frame.f_code.co_filename, frame.f_globals)[start - 1:end]
    if not lines:
        return None
    encoded = [line.encode("utf-8") for line in lines]  # columns count UTF-8 bytes
    encoded[-1] = encoded[-1][:end_col]
    encoded[0] = encoded[0][start_col:]
    try:
        tree = ast.parse(b"".join(encoded).decode("utf-8").strip(), mode="eval")
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return None
    return tree.body if isinstance(tree.body, ast.Call) else None


def _resolve(node: ast.expr, frame: types.FrameType) -> Any:
    """The object a name or dotted attribute refers to in the frame; None for anything else."""
    import ast
    if isinstance(node, ast.Name):
        for namespace in (frame.f_locals, frame.f_globals, frame.f_builtins):
            if node.id in namespace:
                return namespace[node.id]
        return None
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, frame)
        if isinstance(base, types.ModuleType):  # never run arbitrary attribute code of other objects
            return getattr(base, node.attr, None)
    return None
