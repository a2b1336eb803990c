"""Partial tasks: ``flyrun.partial(t, b=1)`` and ``functools.partial(t, b=1)``, checked when a workflow is defined.

``flyrun.partial`` is ``functools.partial`` with its checks done at once: the target must be a task, inputs are bound
by keyword only, to inputs the task has, with values of the declared types. A plain ``functools.partial`` gets the same
checks where it is used: by ``map_task``, or, inside a workflow, at the call (found through the caller's frame,
because a C-level ``functools.partial`` leaves no frame of its own).

A serializer never sees a partial: a direct call becomes an ordinary node whose bindings include the bound values,
and ``map_task`` records the bound names in ``MapTask.bound_inputs``.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import types
from typing import TYPE_CHECKING, Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk import graph

if TYPE_CHECKING:
    import ast

_HINT = "bind inputs by keyword, e.g. partial(t, b=1), and pass the others at the call"


def partial(entity: Any, *args: Any, **bound: Any) -> functools.partial:
    """Bind some inputs of a task by keyword; the result is a ``functools.partial``, checked now."""
    result = functools.partial(entity, *args, **bound)
    check_partial(result, f"{graph.user_call_site()}: partial({_entity_name(entity)}, ...)")
    return result


def _entity_name(entity: Any) -> str:
    return getattr(entity, "name", getattr(entity, "__name__", type(entity).__name__))


def check_partial(bound: functools.partial, where: str) -> Any:
    """Raise unless ``bound`` is a keyword-only partial of a task with inputs it has; return the task."""
    from flyrun.sdk.entity import Entity

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
