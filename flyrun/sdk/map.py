"""``map_task``: run a task once per item of its list inputs, as Flyte's ArrayNode does.

What a serializer reads from a ``MapTask`` (flytekit's ArrayNodeMapTask conventions, flyte-protocol.md section 6):

- ``task``: the mapped ``PythonFunctionTask``; workers and task containers find it by ``task.module`` and
  ``task.attribute``.
- ``bound_inputs``: sorted names of the inputs bound by a partial; they keep their scalar type, every other input
  becomes ``List[T]``. Their values (``bound_values``) are merged into the node's bindings when the map is called.
- ``concurrency`` (None: inherit, 0: unbounded), ``min_successes``, ``min_success_ratio``.
- ``name``: ``<module>.map_<function>_<md5(bound + concurrency + min_successes + min_success_ratio)>-arraynode``.
- ``interface``: the list interface; outputs are ``List[Optional[T]]`` when failures are allowed.
"""

from __future__ import annotations

import functools
import hashlib
import math
import traceback
import typing
from dataclasses import dataclass
from typing import Any

from flyrun.errors import RunFailedError, TaskExecutionError, UsageError, WorkflowDefinitionError
from flyrun.sdk import graph
from flyrun.sdk.context import current_context
from flyrun.sdk.entity import Entity, check_partial
from flyrun.sdk.interface import Interface
from flyrun.sdk.partials import partial
from flyrun.sdk.task import PythonFunctionTask

__all__ = ["MapTask", "ItemFailure", "map_task", "partial"]


@dataclass
class ItemFailure:
    """One map item that raised: enough to report it without the exception object (items may run elsewhere)."""

    index: int
    error_type: str
    message: str
    # (file, line, function, source line) of the item's traceback, innermost last.
    frames: list[tuple[str, int, str, str]] | None = None

    @classmethod
    def from_exception(cls, index: int, error: BaseException) -> ItemFailure:
        if isinstance(error, TaskExecutionError):
            error = error.error
        frames = [(f.filename, f.lineno or 0, f.name, f.line or "") for f in traceback.extract_tb(error.__traceback__)]
        return cls(index, getattr(error, "type_name", type(error).__name__), str(error), frames)


class MapTask(Entity):
    kind = "task"

    def __init__(self, target: Any, concurrency: int | None = None, min_success_ratio: float = 1.0,
                 min_successes: int | None = None) -> None:
        where = f"{graph.user_call_site()}: map_task({_target_label(target)})"
        if isinstance(target, functools.partial):
            task, bound_values = check_partial(target, where), dict(target.keywords)
        else:
            task, bound_values = target, {}
        _check_target(task, where)
        _check_settings(concurrency, min_success_ratio, min_successes, where)
        self.task = task
        self.bound_values = bound_values
        self.bound_inputs = tuple(sorted(bound_values))
        self.concurrency = concurrency
        self.min_success_ratio = float(min_success_ratio)
        self.min_successes = min_successes
        mapped = [name for name in task.interface.inputs if name not in bound_values]
        if not mapped:
            raise WorkflowDefinitionError(f"{where}: every input of {task.name} is bound by the partial, so "
                                          "there is nothing to map over")
        self.mapped_inputs = tuple(mapped)
        self.name = self._flyte_name()
        self.interface = self._list_interface()

    @property
    def module(self) -> str:
        return self.task.module

    @property
    def short_name(self) -> str:
        """What ``flyrun run FILE NAME`` calls a map task bound to a module-level name: that name."""
        return self.module_attribute(self.module) or self.name.rsplit(".", 1)[-1]

    @property
    def allows_failures(self) -> bool:
        return self.min_success_ratio < 1 or self.min_successes is not None

    def _flyte_name(self) -> str:
        settings = f"{','.join(self.bound_inputs)}{self.concurrency}{self.min_successes}{self.min_success_ratio}"
        digest = hashlib.md5(settings.encode("utf-8")).hexdigest()
        return f"{self.task.module}.map_{self.task.attribute}_{digest}-arraynode"

    def _list_interface(self) -> Interface:
        inputs = {name: (t if name in self.bound_values else list[t])  # type: ignore[valid-type]
                  for name, t in self.task.interface.inputs.items()}

        def item(t: Any) -> Any:
            return typing.Optional[t] if self.allows_failures else t  # noqa: UP045 (any t, even a string)

        outputs = {name: list[item(t)] for name, t in self.task.interface.outputs.items()}  # type: ignore[misc]
        return Interface(inputs=inputs, defaults=dict(self.bound_values), outputs=outputs,
                         output_tuple=self.task.interface.output_tuple)

    def complete_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """A map run on its own (``flyrun run file.py m``) takes the partial's values; others are refused."""
        for name, value in inputs.items():
            if name in self.bound_values and value != self.bound_values[name]:
                raise UsageError(f"input '{name}' of {self.name} is bound by the partial to "
                                 f"{self.bound_values[name]!r}; it cannot be {value!r}")
        return super().complete_inputs(inputs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = graph.active_builder()
        where = builder.where(self, graph.user_call_site()) if builder else f"map task {self.name}"
        error = WorkflowDefinitionError if builder else UsageError
        if args:
            raise error(f"{where}: pass the lists by keyword, e.g. {self.mapped_inputs[0]}=[...]")
        twice = [name for name in kwargs if name in self.bound_values]
        if twice:
            raise error(f"{where}: input '{twice[0]}' of {self.task.name} is bound by the partial and also "
                        "passed at the call", hint=f"remove {twice[0]}= from the call or from the partial")
        return super().__call__(**self.bound_values, **kwargs)

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        items = self.items(inputs)
        allowed = self.allowed_failures(len(items))
        context = current_context()
        run = context.map_executor or run_items_here
        results = run(self, items, allowed)
        return self.gather(results, items, allowed)

    def items(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        """One input dict per item; all mapped lists must have the same length."""
        lengths = {name: len(inputs[name]) for name in self.mapped_inputs}
        if len(set(lengths.values())) > 1:
            described = ", ".join(f"{name} has {n} item{'s' * (n != 1)}" for name, n in lengths.items())
            raise RunFailedError(f"map task {self.name}: the mapped lists differ in length: {described}",
                                 hint="give every mapped input a list of the same length")
        count = next(iter(lengths.values()))
        bound = {name: inputs[name] for name in self.bound_inputs}
        return [{**bound, **{name: inputs[name][i] for name in self.mapped_inputs}} for i in range(count)]

    def allowed_failures(self, count: int) -> int:
        """How many items may fail: flytekit's rule, min_successes first, else ceil(count * ratio)."""
        if self.min_successes is not None:
            needed = min(self.min_successes, count)
        else:
            needed = math.ceil(count * self.min_success_ratio)
        return count - needed

    def describe_item(self, item: dict[str, Any]) -> str:
        parts = []
        for name in self.mapped_inputs:
            text = repr(item[name])
            parts.append(f"{name}={text if len(text) <= 40 else text[:37] + '...'}")
        return ", ".join(parts)

    def gather(self, results: list[Any], items: list[dict[str, Any]], allowed: int) -> dict[str, Any]:
        """Outputs as lists in input order; too many failures fail the run, naming the first one."""
        failures = [r for r in results if isinstance(r, ItemFailure)]
        if len(failures) > allowed:
            raise self._failure_error(failures, items, allowed)
        if failures:
            listed = "; ".join(f"item {f.index}: {f.error_type}: {f.message}" for f in failures[:3])
            more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
            current_context().notify(f"map task {self.name}: {len(failures)} of {len(items)} items failed "
                                     f"(allowed by min_success_ratio={self.min_success_ratio}); their outputs are "
                                     f"None: {listed}{more}")
        return {name: [None if isinstance(r, ItemFailure) else r[name] for r in results]
                for name in self.interface.outputs}

    def _failure_error(self, failures: list[ItemFailure], items: list[dict[str, Any]],
                       allowed: int) -> TaskExecutionError:
        first = min(failures, key=lambda f: f.index)
        context = f"map item {first.index} of {len(items)}, {self.describe_item(items[first.index])}"
        if allowed:
            context += f"; {len(failures)} items failed, min_success_ratio={self.min_success_ratio} allows {allowed}"
        error = RemoteError(first.error_type, first.message)
        return TaskExecutionError(self.task.name, error, context, frames=first.frames)

    def __repr__(self) -> str:
        return f"<map task {self.name}>"


class RemoteError(Exception):
    """An error that happened in another process, known by its type name and message."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


def run_items_here(map_task: MapTask, items: list[dict[str, Any]], allowed_failures: int) -> list[Any]:
    """Run every item in this process, one after another; stop once more than the allowed failures happened."""
    results: list[Any] = []
    failed = 0
    for index, item in enumerate(items):
        if failed > allowed_failures:
            results.append(None)
            continue
        try:
            results.append(map_task.task.local_execute(item))
        except Exception as exc:  # an item's failure is data here; gather() decides what it means
            results.append(ItemFailure.from_exception(index, exc))
            failed += 1
    return results


def _target_label(target: Any) -> str:
    if isinstance(target, functools.partial):
        return f"partial({getattr(target.func, 'name', target.func)!s}, ...)"
    return str(getattr(target, "name", None) or getattr(target, "__name__", None) or type(target).__name__)


def _check_target(task: Any, where: str) -> None:
    if isinstance(task, PythonFunctionTask):
        if not task.interface.inputs:
            raise WorkflowDefinitionError(f"{where}: {task.name} has no inputs to map over")
        return
    what = getattr(task, "kind", None) if isinstance(task, Entity) else None
    name = _target_label(task)
    if what == "workflow":
        reason = f"{name} is a workflow; map_task maps a @task"
    elif isinstance(task, MapTask):
        reason = f"{name} is already a map task"
    else:
        reason = f"{name} is not a @task function (map_task maps @task functions)"
    raise WorkflowDefinitionError(f"{where}: {reason}")


def _check_settings(concurrency: Any, ratio: Any, min_successes: Any, where: str) -> None:
    if concurrency is not None and (not isinstance(concurrency, int) or isinstance(concurrency, bool)
                                    or concurrency < 0):
        raise WorkflowDefinitionError(f"{where}: concurrency must be a whole number >= 0 (0: no limit), "
                                      f"not {concurrency!r}")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
        raise WorkflowDefinitionError(f"{where}: min_success_ratio must be between 0 and 1, not {ratio!r}")
    if min_successes is not None and (not isinstance(min_successes, int) or isinstance(min_successes, bool)
                                      or min_successes < 0):
        raise WorkflowDefinitionError(f"{where}: min_successes must be a whole number >= 0, not {min_successes!r}")


def map_task(target: Any, concurrency: int | None = None, min_success_ratio: float = 1.0,
             min_successes: int | None = None) -> MapTask:
    """Map a task (or a partial of one) over list inputs: ``map_task(t)(x=[1, 2, 3])``."""
    return MapTask(target, concurrency=concurrency, min_success_ratio=min_success_ratio,
                   min_successes=min_successes)
