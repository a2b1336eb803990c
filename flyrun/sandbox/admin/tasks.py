"""Task executions (list, get, data), derived from node executions: one per attempt of a task node.

The sandbox records a task node's attempts on its node execution (``attempt``, ``attempts`` in the console
extras) rather than in a table of their own; FlyteAdmin's task-execution calls, which pyflyte's FlyteRemote makes
whenever it syncs an execution's nodes, are answered from that record and the execution's compiled workflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flyrun.sandbox.admin import nodes
from flyrun.sandbox.admin.compiler import walk_nodes
from flyrun.sandbox.admin.executions import execution_key, url_blob
from flyrun.sandbox.admin.wire import ApiError, Code, load, missing, stamp
from flyrun.sandbox.engine.literals import read_literal_map
from flyrun.sandbox.services import Services

# NodeExecution.Phase -> TaskExecution.Phase (numbers from flyteidl/core/execution.proto)
_TASK_PHASE = {0: 0, 1: 1, 2: 2, 3: 3, 4: 2, 5: 5, 6: 4, 7: 4, 8: 5, 9: 2, 10: 3}
_FAILED = 5


def _task_id(sb: Services, key: Any, spec_node_id: str) -> Any:
    """The task a node runs, from the execution's compiled workflow; None for nodes that run no registered task
    (gates, branches, subworkflows, a dynamic workflow's nodes)."""
    from flyteidl.core import compiler_pb2

    row = sb.store.execution(key)
    if row is None:
        return None
    plan = load(compiler_pb2.CompiledWorkflowClosure(), row["plan"])
    for workflow in (plan.primary, *plan.sub_workflows):
        for node in walk_nodes(workflow.template.nodes):
            if node.id != spec_node_id:
                continue
            if node.HasField("task_node"):
                return node.task_node.reference_id
            if node.HasField("array_node") and node.array_node.node.HasField("task_node"):
                return node.array_node.node.task_node.reference_id
    return None


def _attempts(sb: Services, node_execution_id: Any) -> list[Any]:
    from flyteidl.admin import node_execution_pb2, task_execution_pb2

    row = nodes._node_row(sb, node_execution_pb2.NodeExecutionGetRequest(id=node_execution_id))
    node = load(node_execution_pb2.NodeExecution(), row["body"])
    key = execution_key(node_execution_id.execution_id, True, "execution_id")
    task_id = _task_id(sb, key, node.metadata.spec_node_id or node.id.node_id)
    if task_id is None or node.closure.phase in (0, 1):  # not started: no attempt yet
        return []
    extra = json.loads(row["extra"] or "{}")
    spans = extra.get("attempts", [])
    count = max(len(spans), int(extra.get("attempt", 0)) + 1)
    found = []
    for number in range(count):
        execution = task_execution_pb2.TaskExecution(input_uri=node.input_uri)
        execution.id.task_id.CopyFrom(task_id)
        execution.id.node_execution_id.CopyFrom(node.id)
        execution.id.retry_attempt = number
        closure = execution.closure
        closure.created_at.CopyFrom(node.closure.created_at)
        if number < len(spans):
            stamp(closure.started_at, spans[number][0])
            stamp(closure.updated_at, spans[number][1])
        last = number == count - 1
        if last:
            closure.phase = _TASK_PHASE.get(node.closure.phase, 0)
            if node.closure.output_uri:
                closure.output_uri = node.closure.output_uri
            if node.closure.HasField("error"):
                closure.error.CopyFrom(node.closure.error)
            if node.closure.HasField("duration"):
                closure.duration.CopyFrom(node.closure.duration)
        else:  # an earlier attempt failed and was retried, as FlyteAdmin lists it
            closure.phase = _FAILED
        found.append(execution)
    return found


def list_task_executions(sb: Services, request: Any) -> Any:
    from flyteidl.admin import task_execution_pb2

    if not request.HasField("node_execution_id"):
        raise missing("node_execution_id")
    result = task_execution_pb2.TaskExecutionList()
    result.task_executions.extend(_attempts(sb, request.node_execution_id))
    return result


def get_task_execution(sb: Services, request: Any) -> Any:
    if not request.HasField("id"):
        raise missing("id")
    for execution in _attempts(sb, request.id.node_execution_id):
        if execution.id == request.id:
            return execution
    ident = request.id
    raise ApiError(Code.NOT_FOUND, f"missing entity of type task execution with identifier "
                                   f"{ident.node_execution_id.execution_id.name}:{ident.node_execution_id.node_id}:"
                                   f"{ident.task_id.name}:{ident.retry_attempt}")


def get_task_execution_data(sb: Services, request: Any) -> Any:
    from flyteidl.admin import task_execution_pb2

    execution = get_task_execution(sb, request)
    result = task_execution_pb2.TaskExecutionGetDataResponse()
    if execution.input_uri and Path(execution.input_uri).exists():
        result.full_inputs.CopyFrom(read_literal_map(execution.input_uri))
        url_blob(sb, result.inputs, execution.input_uri)
    output_uri = execution.closure.output_uri
    if output_uri and Path(output_uri).exists():
        result.full_outputs.CopyFrom(read_literal_map(output_uri))
        url_blob(sb, result.outputs, output_uri)
    return result
