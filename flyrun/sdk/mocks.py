"""Entities replaced by mocks (``flyrun.testing``), by name; the local runner asks here before running one."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from flyrun.sdk.context import active_context
from flyrun.types import engine

_REPLACED: dict[str, list[Callable[..., Any]]] = {}


@contextlib.contextmanager
def replaced(name: str, mock: Callable[..., Any]) -> Iterator[None]:
    _REPLACED.setdefault(name, []).append(mock)
    try:
        yield
    finally:
        stack = _REPLACED[name]
        stack.remove(mock)
        if not stack:
            del _REPLACED[name]


def mock_for(entity: Any) -> Callable[..., Any] | None:
    if not _REPLACED:  # the common case: nothing mocked, no lookup
        return None
    stack = _REPLACED.get(getattr(entity, "name", ""))
    return stack[-1] if stack else None


def run_call(entity: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """A direct call of an entity (not a node): a child execution inside an eager body on a platform, else a local
    run (or the entity's mock)."""
    context = active_context()
    launcher = context.child_launcher if context is not None else None
    if launcher is not None:
        return launcher(entity, inputs)
    return execute(entity, inputs)


def execute(entity: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run ``entity`` locally, or its mock: the mock's return value is the entity's result, as its function's."""
    mock = mock_for(entity)
    if mock is None:
        return entity.local_execute(inputs)

    outputs = entity.interface.result_as_outputs(mock(**inputs), f"the mock of {entity.name}")
    return {name: engine.roundtrip(outputs[name], t) for name, t in entity.interface.outputs.items()}
