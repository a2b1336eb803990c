"""Gates: ``approve``, ``wait_for_input`` and ``sleep`` as workflow nodes.

Each call inside a workflow adds a node whose entity is a ``Gate``. What a serializer reads from ``node.entity``
(flyte-protocol.md section 4, Flyte's ``GateNode``):

- ``kind``: "approve" | "signal" | "sleep" (the ``gate_node`` field to set).
- ``name``: the signal id for approve and signal gates ("sleep-gate" for sleeps); ``timeout`` (timedelta, the
  node's metadata timeout; default one hour); ``duration`` for sleeps.
- ``expected_type``: the Python type of the value (the upstream's type for approve, ``bool`` is what the
  platform's approve signal carries); ``output_name``: "o0" for signals, the upstream output's name for approve.
- ``upstream``: the approved ``Promise`` (approve only); the node's single binding points at it too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flyrun.errors import UsageError, WorkflowDefinitionError
from flyrun.sdk import graph
from flyrun.sdk.context import current_context
from flyrun.sdk.entity import Entity
from flyrun.sdk.interface import Interface
from flyrun.types import engine
from flyrun.types.scalars import format_duration

DEFAULT_TIMEOUT = dt.timedelta(hours=1)
SLEEP_NAME = "sleep-gate"


class Gate(Entity):
    """One gate node: it waits for an approval, a value, or a while, and then lets the workflow go on."""

    def __init__(self, kind: str, name: str, timeout: dt.timedelta | None = None, expected_type: Any = None,
                 output_name: str | None = None, upstream: graph.Promise | None = None,
                 duration: dt.timedelta | None = None) -> None:
        self.kind = kind
        self.name = name
        self.timeout = timeout
        self.expected_type = expected_type
        self.output_name = output_name
        self.upstream = upstream
        self.duration = duration
        inputs = {output_name: expected_type} if upstream is not None and output_name else {}
        outputs = {output_name: expected_type} if output_name else {}
        self.interface = Interface(inputs=inputs, outputs=outputs)

    def describe(self) -> str:
        if self.kind == "sleep":
            return f"sleep gate ({_seconds(self.duration)})"
        return f"{'approval' if self.kind == 'approve' else 'input'} gate '{self.name}'"

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        context = current_context()
        upstream_value = inputs.get(self.output_name) if self.upstream is not None and self.output_name else None
        if context.gate_resolver is not None:
            value = context.gate_resolver(self, upstream_value)
        elif self.kind == "sleep":
            context.notify(f"{self.describe()}: not waiting in a local run")
            value = None
        else:
            raise UsageError(f"{self.describe()} needs an answer, and nothing here can give one",
                             hint="run the workflow with `flyrun run`, which asks or takes --approve/--signal")
        return {self.output_name: value} if self.output_name else {}

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


def approve(upstream_item: Any, name: str, timeout: dt.timedelta | int = DEFAULT_TIMEOUT) -> Any:
    """Pass ``upstream_item`` on once someone approves gate ``name``; a rejection fails the run."""
    builder, where = _builder("approve", name)
    _check_name(name, where)
    if isinstance(upstream_item, tuple) or not isinstance(upstream_item, graph.NodeHandle):
        raise WorkflowDefinitionError(f"{where}: approve() takes the output of one task call, not "
                                      f"{type(upstream_item).__name__}")
    if not isinstance(upstream_item, graph.Promise):
        raise WorkflowDefinitionError(f"{where}: {upstream_item.node.label} has no output to approve")
    if upstream_item.node is None:
        raise WorkflowDefinitionError(f"{where}: a workflow input cannot be approved directly",
                                      hint="approve the output of a task that uses it")
    gate = Gate("approve", name, _checked_timeout(timeout, where), upstream_item.python_type, upstream_item.var,
                upstream_item)
    node = builder.add_node(gate, (), {upstream_item.var: upstream_item}, metadata={"gate": "approve"})
    return graph.Promise(node, upstream_item.var, upstream_item.python_type)


def wait_for_input(name: str, timeout: dt.timedelta | int = DEFAULT_TIMEOUT, expected_type: Any = str) -> Any:
    """A value of ``expected_type`` given from outside the run (a signal), once it arrives."""
    builder, where = _builder("wait_for_input", name)
    _check_name(name, where)
    try:
        engine.literal_type(expected_type)
    except engine.TypeMismatch as exc:
        raise WorkflowDefinitionError(f"{where}: expected_type: {exc}") from None
    gate = Gate("signal", name, _checked_timeout(timeout, where), expected_type, "o0")
    node = builder.add_node(gate, (), {}, metadata={"gate": "signal"})
    return graph.Promise(node, "o0", expected_type)


def sleep(duration: dt.timedelta | int) -> graph.NodeHandle:
    """Wait ``duration`` before the nodes ordered after this one (``sleep(...) >> t()``)."""
    builder, where = _builder("sleep", None)
    gate = Gate("sleep", SLEEP_NAME, duration=_checked_timeout(duration, where, "duration"))
    return graph.NodeHandle(builder.add_node(gate, (), {}, metadata={"gate": "sleep"}))


def _builder(function: str, name: Any) -> tuple[graph.GraphBuilder, str]:
    builder = graph.active_builder()
    label = f"{function}({name!r})" if name is not None else f"{function}()"
    if builder is None:
        raise WorkflowDefinitionError(f"{graph.user_call_site()}: {label} only works inside a @workflow")
    return builder, f"{graph.user_call_site()}: in workflow '{builder.workflow_name}', {label}"


def _check_name(name: Any, where: str) -> None:
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise WorkflowDefinitionError(f"{where}: a gate name must be a non-empty string without spaces")
    builder = graph.active_builder()
    for node in builder.nodes if builder else ():
        if isinstance(node.entity, Gate) and node.entity.name == name:
            raise WorkflowDefinitionError(f"{where}: gate name '{name}' is already used by node {node.id}",
                                          hint="each gate needs its own name; it is the signal id")


def _checked_timeout(value: Any, where: str, what: str = "timeout") -> dt.timedelta:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = dt.timedelta(seconds=value)
    if not isinstance(value, dt.timedelta) or value.total_seconds() <= 0:
        raise WorkflowDefinitionError(f"{where}: {what} must be a positive timedelta (or seconds), not {value!r}")
    return value


def _seconds(value: dt.timedelta | None) -> str:
    return format_duration(value) if value is not None else "?"
