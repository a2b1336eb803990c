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
from typing import Any

from flyrun.sdk import graph
from flyrun.sdk.entity import check_partial

__all__ = ["check_partial", "partial"]


def partial(entity: Any, *args: Any, **bound: Any) -> functools.partial:
    """Bind some inputs of a task by keyword; the result is a ``functools.partial``, checked now."""
    result = functools.partial(entity, *args, **bound)
    check_partial(result, f"{graph.user_call_site()}: partial({_entity_name(entity)}, ...)")
    return result


def _entity_name(entity: Any) -> str:
    return getattr(entity, "name", getattr(entity, "__name__", type(entity).__name__))
