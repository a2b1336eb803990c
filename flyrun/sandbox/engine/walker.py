"""Walk a workflow's nodes in dependency order, running each as soon as what it waits for has finished.

Node ids follow propeller: a node's unique id is its id at the top level and ``<parent>-<attempt>-<id>`` inside a
subworkflow, branch or array node. A node already SUCCEEDED in the store is not run again, which is how a
restarted server resumes an execution.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flyrun.sandbox.admin.compiler import END_NODE, START_NODE, dependencies
from flyrun.sandbox.engine import arrays, branches, children, dynamic, gates, taskrun
from flyrun.sandbox.engine.failure import run_failure_node
from flyrun.sandbox.engine.literals import BindingError, read_literal_map, resolve_bindings, write_message
from flyrun.sandbox.engine.records import ABORTED, SUCCEEDED, SYSTEM, NodeRecord
from flyrun.sandbox.engine.runtime import Aborted, ArrayItem, NodeFailed, RunContext, Scope

FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = 1


def run_workflow(ctx: RunContext, template: Any, inputs: Any, prefix: str, parent_id: str | None,
                 scope: Scope) -> Any:
    """Run every node of ``template``; returns the workflow's outputs or raises NodeFailed/Aborted."""
    scope = scope.child()
    nodes = {n.id: n for n in template.nodes if n.id not in (START_NODE, END_NODE)}
    known = set(nodes)
    # Each node counts the upstream nodes it still waits for (Kahn's algorithm): a finished node touches only
    # its own downstream nodes, so a 2,000-node workflow is not rescanned after every node.
    remaining: dict[str, int] = {}
    downstream: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for node_id, node in nodes.items():
        upstream = dependencies(node, known)
        remaining[node_id] = len(upstream)
        for parent in upstream:
            downstream[parent].append(node_id)
    ready = sorted(node_id for node_id, count in remaining.items() if count == 0)
    outputs: dict[str, Any] = {START_NODE: inputs}
    running, failures = 0, []
    finished: queue.Queue = queue.Queue()
    keep_going = template.metadata.on_failure == FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
    while True:
        if not scope.stopped:
            for node_id in ready:
                running += 1
                _start(ctx, nodes[node_id], dict(outputs), prefix, parent_id, scope, finished)
            ready = []
        if running == 0:
            break
        node_id, result, error = finished.get()
        running -= 1
        if error is None:
            outputs[node_id] = result
            for child in downstream[node_id]:
                remaining[child] -= 1
                if remaining[child] == 0:
                    ready.append(child)
            ready.sort()
            continue
        failures.append(error)
        if not keep_going or isinstance(error, Aborted):
            scope.stop()
    if ctx.aborted:  # terminated: whatever the nodes said while being stopped, the run was aborted
        raise Aborted()
    if failures:  # the failure node, if any, runs in the scope around this (stopped) one
        raise run_failure_node(ctx, template, outputs, prefix, parent_id, scope.parent or scope, _first(failures),
                               execute)
    if scope.stopped:
        raise Aborted()
    try:
        return resolve_bindings(template.outputs, outputs)
    except BindingError as error:
        raise NodeFailed.of("OutputsNotFound", f"workflow {template.id.name}: {error}") from None


def _first(failures: list[BaseException]) -> BaseException:
    for failure in failures:
        if isinstance(failure, NodeFailed):
            return failure
    return failures[0]


def _start(ctx: RunContext, node: Any, outputs: dict[str, Any], prefix: str, parent_id: str | None, scope: Scope,
           finished: queue.Queue) -> None:
    def work() -> None:
        try:
            finished.put((node.id, run_node(ctx, node, outputs, prefix, parent_id, scope), None))
        except (NodeFailed, Aborted) as error:
            if isinstance(error, NodeFailed) and not error.node_id:
                error.node_id = f"{prefix}{node.id}"
            finished.put((node.id, None, error))
        except Exception as error:  # a bug: fail the node, never hang the workflow
            failure = NodeFailed.of("InternalError", f"flyrun sandbox: {type(error).__name__}: {error}", SYSTEM)
            finished.put((node.id, None, failure))

    threading.Thread(target=work, name=f"flyrun-node-{prefix}{node.id}", daemon=True).start()


def run_node(ctx: RunContext, node: Any, outputs: Mapping[str, Any], prefix: str, parent_id: str | None,
             scope: Scope) -> Any:
    """Resolve a node's inputs from upstream outputs, then execute it."""
    unique_id = f"{prefix}{node.id}"
    try:
        inputs = resolve_bindings(node.inputs, outputs)
    except BindingError as error:
        record = NodeRecord(ctx.store, ctx.key, unique_id, parent_id, node.id)
        failure = NodeFailed.of("BindingResolutionError", f"node {node.id}: {error}")
        record.failed(failure.error)
        raise failure from None
    return execute(ctx, node, inputs, unique_id, parent_id, scope, outputs)


def execute(ctx: RunContext, node: Any, inputs: Any, unique_id: str, parent_id: str | None, scope: Scope,
            outputs: Mapping[str, Any] | None = None, item: ArrayItem | None = None) -> Any:
    """Run one node with its inputs known; records its phases and returns its outputs (``item``: the node is
    one item of an array node)."""
    record = NodeRecord(ctx.store, ctx.key, unique_id, parent_id, node.id)
    if record.phase == SUCCEEDED and record.message.closure.output_uri:
        return read_literal_map(record.message.closure.output_uri)
    node_dir = ctx.node_dir(unique_id)
    write_message(node_dir / "inputs.pb", inputs)
    if node.HasField("gate_node"):
        gates.create_signal(ctx, node)  # before the node shows RUNNING, so a client seeing that can set the signal
    record.running(str(node_dir / "inputs.pb"), kind=node.WhichOneof("target"), name=node.metadata.name)
    try:
        result, output_uri = _dispatch(ctx, node, inputs, record, node_dir, scope, outputs or {}, item)
    except NodeFailed as failure:
        record.failed(failure.error, failure.phase)
        raise
    except Aborted:
        if not ctx.shutting_down:
            record.save(ABORTED)
        raise
    for alias in node.output_aliases:
        if alias.var in result.literals:
            result.literals[alias.alias].CopyFrom(result.literals[alias.var])
    if output_uri is None:
        output_uri = str(node_dir / "0" / "outputs.pb")
        write_message(output_uri, result)
    record.succeeded(output_uri)
    return result


def _dispatch(ctx: RunContext, node: Any, inputs: Any, record: NodeRecord, node_dir: Path, scope: Scope,
              outputs: Mapping[str, Any], item: ArrayItem | None = None) -> tuple[Any, str | None]:
    kind = node.WhichOneof("target")
    if kind == "task_node":
        task = ctx.task(node.task_node.reference_id)
        futures = dynamic.resumed(record)
        if futures is None:
            result, output_uri = taskrun.run_task(ctx, record, node, task, inputs, node_dir, scope, item)
            if not isinstance(result, taskrun.Futures):
                return result, output_uri
            futures = result
        return dynamic.run_dynamic(ctx, record, task, futures, scope, run_workflow)
    if kind == "gate_node":
        return gates.run_gate(ctx, record, node, inputs, scope), None
    if kind == "array_node":
        # As propeller reports an ArrayNode: is_array, not is_parent_node (clients such as flytekit's FlyteRemote
        # treat a parent node as a subworkflow or dynamic workflow and cannot sync it). Its items are still
        # listed as child node executions (unique_parent_id).
        record.message.metadata.is_array = True
        return arrays.run_array(ctx, record, node, inputs, scope, execute), None
    if kind == "workflow_node":
        # A subworkflow's nodes are this node's children; a launch plan's run in an execution of their own.
        record.message.metadata.is_parent_node = node.workflow_node.HasField("sub_workflow_ref")
        return _run_workflow_node(ctx, node, inputs, record, scope), None
    if kind == "branch_node":
        record.message.metadata.is_parent_node = True
        chosen = branches.choose(node.branch_node.if_else, inputs)
        return run_node(ctx, chosen, outputs, f"{record.node_id}-0-", record.node_id, scope), None
    raise NodeFailed.of("UnsupportedNode", f"node {node.id} has no target this sandbox can run")


def _run_workflow_node(ctx: RunContext, node: Any, inputs: Any, record: NodeRecord, scope: Scope) -> Any:
    prefix = f"{record.node_id}-0-"
    if node.workflow_node.HasField("sub_workflow_ref"):
        template = ctx.subworkflow(node.workflow_node.sub_workflow_ref)
        return run_workflow(ctx, template, inputs, prefix, record.node_id, scope)
    return children.run_launch_plan_node(ctx, node, inputs, record, scope)  # a child execution, as propeller's

