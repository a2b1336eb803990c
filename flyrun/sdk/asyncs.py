"""Calls of async entities: ``async def`` tasks and ``@eager`` workflows, outside a workflow being traced.

A call gives an awaitable that runs the entity in a thread of its own, so gathered calls overlap; a task's
coroutine runs to its value here. ``sdk/entity.py`` and ``sdk/task.py`` import this module when an async entity is
called (asyncio costs a local hello run ~10 ms); ``sdk/eager.py`` builds on them and is never imported by them.
"""

from __future__ import annotations

import asyncio
import contextvars
import linecache
import re
import threading
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk.mocks import run_call

# CPython's message for ``await <non-awaitable>``; flytekit 1.16 lets it through bare.
_AWAIT_ERROR = re.compile(r"object .* can't be used in 'await' expression")


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
