"""Follow an execution until it ends: node phase changes as they happen, then the outcome and the outputs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flyrun.errors import FlyrunError, RunFailedError, TimeoutExpired, UsageError
from flyrun.idl.literals import literal_to_json
from flyrun.remote.client import AdminClient, EntityId, ExecutionId
from flyrun.types import engine

TERMINAL_PHASES = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


@dataclass(frozen=True)
class NodeChange:
    node_id: str
    phase: str
    error: str | None


def wait_for(client: AdminClient, execution: ExecutionId, *, timeout: float | None = None,
             on_node: Callable[[NodeChange], None] = lambda change: None, poll: float = 0.1,
             clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Poll until the execution ends; return it. ``timeout`` seconds -> TimeoutExpired (exit 7)."""
    deadline = None if timeout is None else clock() + timeout
    seen: dict[str, str] = {}
    interval = poll
    order: Callable[[str], tuple] | None = None
    while True:
        current = client.get_execution(execution)
        if order is None:
            order = graph_order(client, current)
        _report_nodes(client, execution, seen, on_node, order)
        if phase_of(current) in TERMINAL_PHASES:
            return current
        if deadline is not None and clock() >= deadline:
            raise TimeoutExpired(f"execution {execution.name} is still {phase_of(current)} after {timeout:g} s",
                                 hint=f"follow it with `flyrun executions wait {execution.name}`")
        sleep_for = interval if deadline is None else max(0.0, min(interval, deadline - clock()))
        time.sleep(sleep_for)
        # Quick for short runs (an end is seen within ~30% of the time so far), gentle on the server for long ones.
        interval = min(interval * 1.3, 2.0)


def _report_nodes(client: AdminClient, execution: ExecutionId, seen: dict[str, str],
                  on_node: Callable[[NodeChange], None], order: Callable[[str], tuple]) -> None:
    nodes = sorted(client.node_executions(execution), key=lambda n: order(n.get("id", {}).get("node_id", "?")))
    for node in nodes:
        node_id = node.get("id", {}).get("node_id", "?")
        phase = node.get("closure", {}).get("phase", "UNDEFINED")
        if node_id in ("start-node", "end-node") or seen.get(node_id) == phase:
            continue
        seen[node_id] = phase
        on_node(NodeChange(node_id, phase, _error_text(node.get("closure", {}))))


def graph_order(client: AdminClient, execution: dict[str, Any]) -> Callable[[str], tuple]:
    """A sort key for the execution's node ids: the workflow's graph order (upstream first; nodes free at the
    same time in the order the workflow defines them). Ids the graph does not have (a task run on its own, whose
    workflow the server made up) come after, ``n2`` before ``n10``."""
    ident = execution.get("closure", {}).get("workflow_id") or {}
    ranks: dict[str, int] = {}
    if ident.get("name") and ident.get("version"):
        try:
            workflow = client.get_entity(EntityId("WORKFLOW", ident.get("project", ""), ident.get("domain", ""),
                                                  ident["name"], ident["version"]))
        except FlyrunError:
            workflow = {}
        primary = workflow.get("closure", {}).get("compiled_workflow", {}).get("primary", {})
        defined = [node.get("id", "") for node in primary.get("template", {}).get("nodes", [])]
        upstream = {node: list((ids or {}).get("ids", []))
                    for node, ids in primary.get("connections", {}).get("upstream", {}).items()}
        ranks = {node: rank for rank, node in enumerate(topological(defined, upstream))}
    return lambda node_id: (node_id not in ranks, ranks.get(node_id, 0), natural_order(node_id))


def topological(defined: list[str], upstream: dict[str, list[str]]) -> list[str]:
    """``defined`` in an order where every node follows its upstream nodes; among nodes that are ready together,
    the order of ``defined``. Nodes in a cycle (there should be none) keep their place at the end."""
    position = {node: index for index, node in enumerate(defined)}
    waiting = {node: {up for up in upstream.get(node, []) if up in position and up != node} for node in defined}
    done: list[str] = []
    while True:
        ready = [node for node in defined if node in waiting and not waiting[node]]
        if not ready:
            break
        node = ready[0]
        done.append(node)
        del waiting[node]
        for rest in waiting.values():
            rest.discard(node)
    return done + [node for node in defined if node in waiting]


def phase_of(execution: dict[str, Any]) -> str:
    return execution.get("closure", {}).get("phase", "UNDEFINED")


def _error_text(closure: dict[str, Any]) -> str | None:
    error = closure.get("error") or {}
    return error.get("message") or None


def first_line(text: str) -> str:
    """The headline of an error message (the exception), without the traceback that may follow it."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else text


def failure_reason(execution: dict[str, Any]) -> str:
    """Why an execution did not succeed: its error, else the cause it was aborted with."""
    closure = execution.get("closure", {})
    message = _error_text(closure)
    if message:
        return first_line(message)
    aborted = closure.get("abort_metadata") or {}
    if aborted.get("cause"):
        by = f" (by {aborted['principal']})" if aborted.get("principal") else ""
        return f"aborted: {aborted['cause']}{by}"
    return "no error message"


def failing_node(client: AdminClient, execution: ExecutionId) -> str | None:
    """The id of the first top-level node that failed or timed out, if any."""
    for node in client.node_executions(execution):
        if node.get("closure", {}).get("phase") in ("FAILED", "TIMED_OUT"):
            return node["id"]["node_id"]
    return None


def raise_if_failed(execution: dict[str, Any], failing: str | None = None) -> None:
    """An execution that did not succeed is a failed run (exit 6), naming the failing node and its error."""
    phase = phase_of(execution)
    if phase == "SUCCEEDED":
        return
    name = execution.get("id", {}).get("name", "?")
    where = f" at node {failing}" if failing else ""
    raise RunFailedError(f"execution {name} {phase}{where}: {failure_reason(execution)}")


def finished_outputs(client: AdminClient, execution: ExecutionId,
                     output_types: dict[str, Any] | None = None) -> dict[str, Any]:
    """The outputs of an execution that succeeded, as JSON-ready values; a failed one is exit 6, one that is
    still going a usage error (exit 2)."""
    current = client.get_execution(execution)
    phase = phase_of(current)
    if phase not in TERMINAL_PHASES:
        raise UsageError(f"execution {execution.name} is still {phase}; it has no outputs yet",
                         hint=f"wait for it with `flyrun executions wait {execution.name}`")
    raise_if_failed(current, failing_node(client, execution))
    return outputs_as_json(client, execution, output_types or {})


def outputs_as_json(client: AdminClient, execution: ExecutionId, output_types: dict[str, Any]) -> dict[str, Any]:
    """The outputs as JSON-ready values: typed (in the interface's order) when their Python types are known,
    generic otherwise (``o0``, ``o1``, ... in order)."""
    literals = (client.execution_data(execution).get("full_outputs") or {}).get("literals") or {}
    typed = [name for name in output_types if name in literals]
    rest = sorted((name for name in literals if name not in output_types), key=natural_order)
    rendered = {}
    for name in typed:
        value = engine.to_python(literals[name], output_types[name])
        rendered[name] = engine.to_json(value, output_types[name])
    for name in rest:
        rendered[name] = literal_to_json(literals[name])
    return rendered


def natural_order(name: str) -> tuple[str, int]:
    """``o2`` before ``o10``."""
    stem = name.rstrip("0123456789")
    digits = name[len(stem):]
    return stem, int(digits) if digits else -1
