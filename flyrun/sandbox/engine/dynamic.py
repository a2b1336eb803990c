"""A dynamic task's ``futures.pb``, run the way propeller runs it.

The task attempt wrote a DynamicJobSpec instead of outputs. Its nodes become a workflow with the task's interface
and no inputs, compiled with the spec's own tasks and subworkflows (launch plans come from admin), then walked with
the node ids scoped under the task's node (``<node>-<attempt>-dn0``). The outputs gathered through the spec's
output bindings are the task node's outputs. The futures file is noted on the node record, so a restarted server
walks the same graph again and skips the sub-nodes that had already succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flyrun.sandbox.admin import registry
from flyrun.sandbox.admin.compiler import compile_workflow, entity_key, missing_entity
from flyrun.sandbox.admin.wire import ApiError
from flyrun.sandbox.engine.literals import literal_map, write_message
from flyrun.sandbox.engine.records import USER, NodeRecord
from flyrun.sandbox.engine.runtime import NodeFailed, RunContext, Scope
from flyrun.sandbox.engine.taskrun import Futures

RunWorkflow = Callable[[RunContext, Any, Any, str, "str | None", Scope], Any]


def resumed(record: NodeRecord) -> Futures | None:
    """The futures a previous server run of this node already produced, if any (a restart in the middle)."""
    path = record.extra.get("futures")
    if path and Path(path).is_file():
        return Futures(Path(path), int(record.extra.get("futures_attempt", 0)))
    return None


def run_dynamic(ctx: RunContext, record: NodeRecord, task: Any, futures: Futures, scope: Scope,
                run_workflow: RunWorkflow) -> tuple[Any, str]:
    """Compile and walk the spec; returns (outputs LiteralMap, outputs.pb path) or raises NodeFailed/Aborted."""
    template, closure = _compile(ctx, task, futures.path)
    ctx.add_closure(closure)
    record.message.metadata.is_parent_node = True
    record.message.metadata.is_dynamic = True
    record.note(futures=str(futures.path), futures_attempt=futures.attempt)
    prefix = f"{record.node_id}-{futures.attempt}-"
    try:
        result = run_workflow(ctx, closure.primary.template, literal_map(), prefix, record.node_id, scope)
    except NodeFailed as failure:
        # The dynamic node's error names the generated node that failed, which no registered workflow shows.
        if failure.node_id and not failure.error.message.startswith("node "):
            failure.error.message = f"node {failure.node_id} failed: {failure.error.message}"
        raise
    declared = set(task.interface.outputs.variables)
    missing = sorted(declared - set(result.literals))
    if missing:
        raise NodeFailed.of("DynamicWorkflowOutputsNotFound", f"dynamic task {task.id.name}: its graph gave no "
                            f"value for output '{missing[0]}'", USER)
    outputs_path = futures.path.parent / "outputs.pb"  # propeller copies the end node's outputs here
    write_message(outputs_path, result)
    return result, str(outputs_path)


def _compile(ctx: RunContext, task: Any, path: Path) -> tuple[Any, Any]:
    from flyteidl.core import dynamic_job_pb2, identifier_pb2, workflow_pb2

    spec = dynamic_job_pb2.DynamicJobSpec()
    try:
        spec.ParseFromString(path.read_bytes())
    except Exception as error:
        raise NodeFailed.of("DynamicJobSpecUnreadable", f"dynamic task {task.id.name}: {path} is not a "
                            f"DynamicJobSpec: {type(error).__name__}: {error}", USER) from None
    tasks = {entity_key(t.id): t for t in spec.tasks}

    def get_task(identifier: Any) -> Any:
        # Propeller compiles a dynamic graph's tasks from the spec alone, never from admin.
        found = tasks.get(entity_key(identifier))
        if found is None:
            raise missing_entity("task", identifier)
        return found

    workflow_id = identifier_pb2.Identifier(resource_type=identifier_pb2.WORKFLOW, project=task.id.project,
                                            domain=task.id.domain, name=f"{task.id.name}-dynamic",
                                            version=task.id.version)
    template = workflow_pb2.WorkflowTemplate(id=workflow_id, interface=task.interface, nodes=spec.nodes,
                                             outputs=spec.outputs)
    try:
        closure = compile_workflow(template, spec.subworkflows, get_task,
                                   lambda ref: registry.get_launch_plan_by_id(ctx.store, ref))
    except ApiError as error:
        raise NodeFailed.of("DynamicWorkflowCompileError", f"dynamic task {task.id.name}: {error.message}",
                            USER) from None
    return template, closure
