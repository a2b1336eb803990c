"""``@eager``: an ``async def`` whose body runs at execution time and calls tasks as it goes (flytekit 1.16).

Inside the body a sync task, workflow or launch plan is called without ``await`` and returns its value (the call
blocks); ``async def`` tasks and nested eager workflows return awaitables, so ``asyncio.gather`` runs them
concurrently. Locally everything runs in this process: each awaited call runs in its own thread (its body, when
async, in that thread's own event loop), so the task's retries, cache and context behave as in any local run.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk.task import PythonFunctionTask
from flyrun.sdk.workflow import Workflow

EAGER_FAILURE_NODE_ID = "efn"  # flytekit's id for the failure node of an eager workflow


class EagerTask(PythonFunctionTask):
    """An eager workflow: to Flyte a python task (``is_eager``) whose body launches the tasks it calls."""

    is_eager = True

    def __init__(self, fn: Callable[..., Any], **options: Any) -> None:
        if not inspect.iscoroutinefunction(fn):
            code = getattr(fn, "__code__", None)
            where = f"{code.co_filename}:{code.co_firstlineno}: " if code else ""
            raise WorkflowDefinitionError(
                f"{where}@eager '{getattr(fn, '__qualname__', fn)}' must be an `async def` function",
                hint="write `async def`, or use @workflow / @dynamic for a plain function")
        super().__init__(fn, **options)

    @functools.cached_property
    def cleanup(self) -> EagerCleanupTask:
        """``<name>-cleanup``: the failure handler that terminates the children a failed body left running."""
        return EagerCleanupTask(self)

    @functools.cached_property
    def eager_workflow(self) -> Any:
        """The workflow flytekit registers under the eager task's name: node ``n0`` runs the eager task and the
        failure node ``efn`` runs its cleanup task."""
        def body(**inputs: Any) -> Any:
            return self(**inputs)

        wrapper = Workflow(_shaped_like(self.fn, body), name=self.name, on_failure=self.cleanup)
        if wrapper.failure is not None and wrapper.failure.node is not None:
            wrapper.failure.node.id = EAGER_FAILURE_NODE_ID
        return wrapper

    def __repr__(self) -> str:
        return f"<eager {self.name}>"


class EagerCleanupTask(PythonFunctionTask):
    """The eager task's failure handler; it takes the eager inputs and has no outputs. A local run launches no
    child executions, so locally it has nothing to terminate."""

    task_type = "eager_failure_handler_task"

    def __init__(self, parent: EagerTask) -> None:
        def cleanup(**inputs: Any) -> None:
            return None

        super().__init__(_shaped_like(parent.fn, cleanup, returns=False), name=f"{parent.name}-cleanup")
        self.parent = parent

    @property
    def is_async(self) -> bool:
        return False

    @property
    def attribute(self) -> str:
        # Found again in a task container as an attribute of the eager task (flyrun's default resolver).
        return f"{self.parent.attribute}.cleanup"

    def __repr__(self) -> str:
        return f"<eager cleanup {self.name}>"


def _shaped_like(model: Callable[..., Any], fn: Callable[..., Any], returns: bool = True) -> Callable[..., Any]:
    """``fn`` with ``model``'s inputs (names, types, defaults), module and name, for the interface reader."""
    hints = typing.get_type_hints(model, include_extras=True)
    signature = inspect.signature(model)
    if not returns:
        hints.pop("return", None)
        signature = signature.replace(return_annotation=inspect.Signature.empty)
    fn.__signature__ = signature  # type: ignore[attr-defined]
    fn.__annotations__ = hints if returns else {**hints, "return": None}
    fn.__module__ = model.__module__
    fn.__qualname__ = model.__qualname__
    fn.__name__ = model.__name__
    return fn


def eager(_fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make an eager workflow of an ``async def``: ``@eager`` or ``@eager(retries=2, ...)`` (the ``@task`` options)."""
    if _fn is not None:
        return EagerTask(_fn, **options)
    return lambda fn: EagerTask(fn, **options)
