"""Answering gates of a remote execution: approve, reject, and typed values for ``wait_for_input``.

A gate's signal exists only once the run reaches it, so each call retries for a few seconds while the server
says the signal is not there yet (flyte-protocol.md section 4: ``signal_id`` is the gate name).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flyrun.errors import FlyrunError, InvalidArgumentError, NotFoundError, UsageError
from flyrun.idl.interface import python_type_for
from flyrun.remote.client import AdminClient, EntityId, ExecutionId
from flyrun.remote.follow import TERMINAL_PHASES, phase_of
from flyrun.types import engine

APPROVED = {"scalar": {"primitive": {"boolean": True}}}
REJECTED = {"scalar": {"primitive": {"boolean": False}}}


def find_signal(client: AdminClient, execution: ExecutionId, gate: str, retry_for: float,
                clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """The signal of ``gate``, waiting up to ``retry_for`` seconds for the run to reach it (not when the
    execution does not exist or has ended)."""
    deadline = clock() + retry_for
    checked = False
    while True:
        signals = client.list_signals(execution)
        for signal in signals:
            if signal.get("id", {}).get("signal_id") == gate:
                return signal
        current = client.get_execution(execution)  # NotFoundError when there is no such execution
        phase = phase_of(current)
        known = ", ".join(sorted(s["id"]["signal_id"] for s in signals)) or "none"
        if not checked:
            checked = True
            gates = graph_gates(client, current)
            if gates is not None and gate not in gates:
                # The workflow will never reach it: no point in waiting out --retry-for.
                raise UsageError(f"execution {execution.name} has no gate '{gate}' (its workflow's gates: "
                                 f"{', '.join(sorted(gates)) or 'none'})",
                                 hint="check the gate name with `flyrun signals EXECUTION`")
        if phase in TERMINAL_PHASES:
            raise UsageError(f"execution {execution.name} ended ({phase}) without reaching gate '{gate}' "
                             f"(gates reached: {known})")
        if clock() >= deadline:
            raise NotFoundError(f"execution {execution.name} has no gate '{gate}' (gates so far: {known})",
                                hint="check the gate name with `flyrun signals EXECUTION`")
        time.sleep(0.25)


def graph_gates(client: AdminClient, execution: dict[str, Any]) -> set[str] | None:
    """The signal ids of every gate in the execution's compiled workflow (sub-workflows and branches too), or None
    when the graph is not known (a task run on its own, a server that does not say)."""
    ident = execution.get("closure", {}).get("workflow_id") or {}
    if not ident.get("name") or not ident.get("version"):
        return None
    try:
        workflow = client.get_entity(EntityId("WORKFLOW", ident.get("project", ""), ident.get("domain", ""),
                                              ident["name"], ident["version"]))
    except FlyrunError:
        return None
    compiled = workflow.get("closure", {}).get("compiled_workflow")
    if not compiled:
        return None
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            gate_node = value.get("gate_node")
            if isinstance(gate_node, dict):
                for kind in ("approve", "signal"):
                    signal_id = (gate_node.get(kind) or {}).get("signal_id")
                    if signal_id:
                        found.add(signal_id)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(compiled)
    return found


def answer_gate(client: AdminClient, execution: ExecutionId, gate: str,
                value_for: Callable[[dict[str, Any]], dict[str, Any]], retry_for: float = 10.0) -> dict[str, Any]:
    """Set the gate's value (``value_for(signal)``) once its signal exists; returns the value set."""
    signal = find_signal(client, execution, gate, retry_for)
    if signal.get("value"):
        raise UsageError(f"gate '{gate}' of execution {execution.name} was already answered")
    value = value_for(signal)
    # The signal of a gate outlives its run: a FlyteAdmin takes a value for an ended run and nothing acts on it.
    phase = phase_of(client.get_execution(execution))
    if phase in TERMINAL_PHASES or phase == "ABORTING":
        raise _ended(execution, gate, phase)
    try:
        client.set_signal(execution, gate, value)
    except InvalidArgumentError as error:
        # It ended in between; the server (flyrun sandbox) refuses with FAILED_PRECONDITION.
        phase = phase_of(client.get_execution(execution))
        if phase in TERMINAL_PHASES or phase == "ABORTING":
            raise _ended(execution, gate, phase) from None
        raise error
    return value


def _ended(execution: ExecutionId, gate: str, phase: str) -> UsageError:
    return UsageError(f"execution {execution.name} is {phase}: its gate '{gate}' can no longer be answered",
                      hint=f"see `flyrun executions get {execution.name}`")


def typed_value(signal: dict[str, Any], text: str) -> dict[str, Any]:
    """The ``Literal`` for ``text`` read as the gate's declared type, or a usage error naming the type."""
    python_type = python_type_for(signal.get("type") or {})
    gate = signal["id"]["signal_id"]
    try:
        return engine.to_literal(engine.from_text(text, python_type), python_type)
    except engine.TypeMismatch as error:
        raise UsageError(f"gate '{gate}' expects {engine.describe(python_type)}: {error}") from None


def approval_value(signal: dict[str, Any], approve: bool) -> dict[str, Any]:
    gate = signal["id"]["signal_id"]
    if (signal.get("type") or {}).get("simple") not in (None, "BOOLEAN"):
        raise UsageError(f"gate '{gate}' waits for a value, not an approval",
                         hint=f"use `flyrun set-input EXECUTION {gate} VALUE`")
    return APPROVED if approve else REJECTED
