"""Follow an execution until it ends: node phase changes as they happen, then the outcome and the outputs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flyrun.errors import RunFailedError, TimeoutExpired
from flyrun.remote.client import AdminClient, ExecutionId

TERMINAL_PHASES = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


@dataclass(frozen=True)
class NodeChange:
    node_id: str
    phase: str
    error: str | None


def wait_for(client: AdminClient, execution: ExecutionId, *, timeout: float | None = None,
             on_node: Callable[[NodeChange], None] = lambda change: None, poll: float = 0.25,
             clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Poll until the execution ends; return it. ``timeout`` seconds -> TimeoutExpired (exit 7)."""
    deadline = None if timeout is None else clock() + timeout
    seen: dict[str, str] = {}
    interval = poll
    while True:
        current = client.get_execution(execution)
        _report_nodes(client, execution, seen, on_node)
        if phase_of(current) in TERMINAL_PHASES:
            return current
        if deadline is not None and clock() >= deadline:
            raise TimeoutExpired(f"execution {execution.name} is still {phase_of(current)} after {timeout:g} s",
                                 hint=f"follow it with `flyrun executions wait {execution.name}`")
        sleep_for = interval if deadline is None else max(0.0, min(interval, deadline - clock()))
        time.sleep(sleep_for)
        interval = min(interval * 1.5, 2.0)  # quick for short runs, gentle on the server for long ones


def _report_nodes(client: AdminClient, execution: ExecutionId, seen: dict[str, str],
                  on_node: Callable[[NodeChange], None]) -> None:
    for node in client.node_executions(execution):
        node_id = node.get("id", {}).get("node_id", "?")
        phase = node.get("closure", {}).get("phase", "UNDEFINED")
        if node_id in ("start-node", "end-node") or seen.get(node_id) == phase:
            continue
        seen[node_id] = phase
        on_node(NodeChange(node_id, phase, _error_text(node.get("closure", {}))))


def phase_of(execution: dict[str, Any]) -> str:
    return execution.get("closure", {}).get("phase", "UNDEFINED")


def _error_text(closure: dict[str, Any]) -> str | None:
    error = closure.get("error") or {}
    return error.get("message") or None


def raise_if_failed(execution: dict[str, Any], failing_node: str | None = None) -> None:
    """An execution that did not succeed is a failed run (exit 6), naming the failing node and its error."""
    phase = phase_of(execution)
    if phase == "SUCCEEDED":
        return
    name = execution.get("id", {}).get("name", "?")
    message = _error_text(execution.get("closure", {})) or "no error message"
    where = f" at node {failing_node}" if failing_node else ""
    first_line = message.strip().splitlines()[0] if message.strip() else message
    raise RunFailedError(f"execution {name} {phase}{where}: {first_line}")
