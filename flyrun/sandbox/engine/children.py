"""A launch plan node as a child execution, as propeller runs one.

The node creates an execution of the launch plan (``spec.metadata``: mode CHILD_WORKFLOW, the parent's nesting +1,
``parent_node_execution`` = this node) named by a hash of the parent, the node and the attempt, waits for it, and
ends as it ends, with its outputs. The node records the child's id (``workflow_node_metadata.executionId``).
Terminating the parent terminates the child (the scheduler stops every child of an execution that ends); when the
server stops, the child stays RUNNING and a restarted server finds it again by its name.

An eager task's calls are child executions too, created by the task through the API with the same parent metadata
(``flyrun.remote.eager``), so the listing, the nesting and the termination of children are the same code.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flyrun.sandbox.admin.wire import ApiError, Code, load
from flyrun.sandbox.engine.literals import read_literal_map
from flyrun.sandbox.engine.records import USER, WF_ABORTED, WF_FINAL, WF_SUCCEEDED, NodeRecord
from flyrun.sandbox.engine.runtime import Aborted, NodeFailed, RunContext, Scope
from flyrun.sandbox.state.store import Key

FIRST_POLL, MAX_POLL = 0.05, 1.0  # seconds between looks at the child's phase


def child_name(parent: Key, unique_id: str, attempt: int) -> str:
    """FlyteAdmin's 20-character name for a child execution: a letter and a hash of (parent, node, attempt)."""
    return "f" + hashlib.sha256(f"{parent.name}/{unique_id}/{attempt}".encode()).hexdigest()[:19]


def run_launch_plan_node(ctx: RunContext, node: Any, inputs: Any, record: NodeRecord, scope: Scope) -> Any:
    """Launch the child execution (or find the one launched before a restart), wait, return its outputs."""

    key = Key(ctx.key.project, ctx.key.domain, child_name(ctx.key, record.node_id, 0))
    reference = node.workflow_node.launchplan_ref
    if ctx.store.execution(key) is None:
        try:
            key = ctx.scheduler.create_execution(_request(ctx, key, reference, inputs, record.node_id))
        except ApiError as error:
            if error.code != Code.ALREADY_EXISTS:
                code = "LaunchPlanNotFound" if error.code == Code.NOT_FOUND else "ChildExecutionRefused"
                raise NodeFailed.of(code, f"launch plan {reference.name}: {error.message}", USER) from None
    child = record.message.closure.workflow_node_metadata.executionId  # flyteidl spells this field in camelCase
    child.project, child.domain, child.name = key.project, key.domain, key.name
    record.note(child_execution=key.name)
    return wait_for_child(ctx, key, scope)


def _request(ctx: RunContext, key: Key, reference: Any, inputs: Any, unique_id: str) -> Any:
    from flyteidl.admin import execution_pb2

    request = execution_pb2.ExecutionCreateRequest(project=key.project, domain=key.domain, name=key.name)
    request.spec.launch_plan.CopyFrom(reference)
    metadata = request.spec.metadata
    metadata.principal = ctx.spec.metadata.principal or "sandbox"
    metadata.parent_node_execution.node_id = unique_id
    metadata.parent_node_execution.execution_id.project = ctx.key.project
    metadata.parent_node_execution.execution_id.domain = ctx.key.domain
    metadata.parent_node_execution.execution_id.name = ctx.key.name
    request.inputs.CopyFrom(inputs)
    return request


def wait_for_child(ctx: RunContext, key: Key, scope: Scope) -> Any:
    """The child's outputs once it succeeds; NodeFailed when it fails; Aborted (and the child terminated) when
    this node is stopped. A stopping server leaves the child to be resumed."""
    from flyteidl.admin import execution_pb2


    delay = FIRST_POLL
    while True:
        row = ctx.store.existing_execution(key)
        if row["phase"] in WF_FINAL:
            break
        if scope.stopped:
            if not ctx.shutting_down:
                ctx.scheduler.terminate(key, f"parent execution {ctx.key.name} was terminated")
            raise Aborted()
        time.sleep(delay)
        delay = min(delay * 1.5, MAX_POLL)
    execution = load(execution_pb2.Execution(), row["body"])
    closure = execution.closure
    if row["phase"] == WF_SUCCEEDED:
        return read_literal_map(closure.outputs.uri)
    if row["phase"] == WF_ABORTED:
        raise NodeFailed.of("ChildExecutionAborted", f"child execution {key.name} was aborted: "
                            f"{closure.abort_metadata.cause or 'aborted'}", USER)
    failure = NodeFailed.of(closure.error.code or "ChildExecutionFailed",
                            f"child execution {key.name} failed: {closure.error.message}", closure.error.kind or USER)
    failure.error.error_uri = closure.error.error_uri
    raise failure
