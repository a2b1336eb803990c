"""Unit-testing workflows with some tasks replaced (flytekit's ``flytekit.testing``): ``task_mock`` and ``patch``.

A mocked entity is not run: the mock is called with the entity's inputs as keyword arguments and its return value
is taken as the entity's outputs (one value, or a tuple for several). Mocks are found by the entity's name, so
anything a workflow calls can be replaced: tasks, sub-workflows, container tasks, reference entities.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import MagicMock

from flyrun.sdk import mocks

__all__ = ["patch", "task_mock"]

_log = logging.getLogger("flyrun.testing")


def _name_of(entity: Any) -> str:
    name = getattr(entity, "name", None)
    if not isinstance(name, str) or not hasattr(entity, "interface"):
        raise TypeError(f"task_mock/patch take a flyrun task or workflow, not {type(entity).__name__}")
    return name


@contextlib.contextmanager
def task_mock(t: Any) -> Iterator[MagicMock]:
    """``with task_mock(slow_task) as mock: mock.return_value = 3; assert wf() == ...``"""
    name = _name_of(t)
    mock = MagicMock(name=name)
    with mocks.replaced(name, mock):
        yield mock


def patch(target: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A test decorator: ``@patch(slow_task) def test_wf(mock_slow): ...`` (the mock comes first)."""
    name = _name_of(target)

    def wrapper(test_fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(test_fn)
        def new_test(*args: Any, **kwargs: Any) -> Any:
            _log.debug("invoking the mock for %s", name)
            mock = MagicMock(name=name)
            with mocks.replaced(name, mock):
                return test_fn(mock, *args, **kwargs)

        return new_test

    return wrapper
