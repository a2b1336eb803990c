"""``@eager``: an ``async def`` whose body runs at execution time and calls tasks as it goes (flytekit 1.16).

Inside the body a sync task, workflow or launch plan is called without ``await`` and returns its value (the call
blocks); ``async def`` tasks and nested eager workflows return awaitables, so ``asyncio.gather`` runs them
concurrently. Locally everything runs in this process: each awaited call runs in its own thread (its body, when
async, in that thread's own event loop), so the task's retries, cache and context behave as in any local run.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import linecache
import re
import threading
import traceback
import typing
from collections.abc import Callable, Coroutine
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk.context import run_call
from flyrun.sdk.task import PythonFunctionTask

# CPython's message for ``await <non-awaitable>``; flytekit 1.16 lets it through bare.
_AWAIT_ERROR = re.compile(r"object .* can't be used in 'await' expression")
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
        from flyrun.sdk.workflow import Workflow

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


def async_call(entity: Any, args: tuple, kwargs: dict[str, Any]) -> Coroutine[Any, Any, Any]:
    """The awaitable of a call to an async entity; its inputs are checked now, at the call, as a sync call's are."""
    inputs = entity.bind_local_arguments(args, kwargs)

    async def run() -> Any:
        outputs = await _in_thread(run_call, entity, inputs)
        return entity.interface.outputs_as_result(outputs)

    return run()


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in a thread of its own: a pool (``asyncio.to_thread``) would cap how many gathered calls overlap."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():  # the awaiting side was cancelled
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value = context.run(fn, *args)
        except BaseException as exc:  # handed to the awaiting coroutine, which raises it
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, value, None)

    threading.Thread(target=work, name=f"flyrun-eager-{getattr(args[0], 'name', 'call')}", daemon=True).start()
    return await future


def run_coroutine(task: Any, coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run an async task's (or eager body's) coroutine to its result, from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_translated(task, coroutine)
    # Called from inside a running loop (a sync caller within async code): a loop of its own, in a thread.
    result: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(_run_translated(task, coroutine))
        except BaseException as exc:
            errors.append(exc)

    context = contextvars.copy_context()  # the run's context (and an eager body's child launcher) follows
    thread = threading.Thread(target=context.run, args=(work,), daemon=True)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _run_translated(task: Any, coroutine: Coroutine[Any, Any, Any]) -> Any:
    try:
        return asyncio.run(coroutine)
    except TypeError as exc:
        if not _AWAIT_ERROR.search(str(exc)):
            raise
        raise _awaited_sync_call(task, exc) from None


def _awaited_sync_call(task: Any, exc: TypeError) -> WorkflowDefinitionError:
    """The clear form of ``await`` on a sync task's value, naming the user's line."""
    frames = traceback.extract_tb(exc.__traceback__)
    frame = frames[-1] if frames else None
    where = f"{frame.filename}:{frame.lineno}: " if frame else ""
    source = (linecache.getline(frame.filename, frame.lineno).strip() if frame and frame.lineno else "") or ""
    shown = f" (`{source}`)" if source else ""
    kind = "eager workflow" if getattr(task, "is_eager", False) else "async task"
    return WorkflowDefinitionError(
        f"{where}in {kind} '{task.name}', `await` on a value{shown}: a sync task, workflow or launch plan called "
        f"inside @eager returns its result directly, it is not awaitable ({exc})",
        hint="drop the `await` before that call; await only `async def` tasks and nested @eager workflows")
