"""What FlyteAdmin's compiler does at registration, to the extent the sandbox needs it.

A workflow is compiled into a ``CompiledWorkflowClosure``: its template (with the ``start-node`` and ``end-node``
propeller adds), its subworkflows, every task it references (which must be registered) and the connections
between nodes. A launch plan's expected inputs are worked out from its workflow's interface.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flyrun.sandbox import limits
from flyrun.sandbox.admin.wire import ApiError, Code, id_text, invalid

START_NODE = "start-node"
END_NODE = "end-node"
MAX_NODES_VARIABLE = "FLYRUN_SANDBOX_MAX_WORKFLOW_NODES"
DEFAULT_MAX_NODES = 50_000


def max_workflow_nodes() -> int:
    """The most nodes (counting subworkflows, branches and array sub-nodes) one registered workflow may have."""
    import os

    text = os.environ.get(MAX_NODES_VARIABLE, "")
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_MAX_NODES


def entity_key(identifier: Any) -> tuple[str, str, str, str]:
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


def child_nodes(node: Any) -> Iterator[Any]:
    """Nodes nested in a node: an array node's sub-node and a branch node's candidates."""
    kind = node.WhichOneof("target")
    if kind == "array_node":
        yield node.array_node.node
    elif kind == "branch_node":
        block = node.branch_node.if_else
        yield block.case.then_node
        for other in block.other:
            yield other.then_node
        if block.HasField("else_node"):
            yield block.else_node


def walk_nodes(nodes: Any) -> Iterator[Any]:
    for node in nodes:
        yield node
        yield from walk_nodes(child_nodes(node))


def dependencies(node: Any, known: set[str]) -> set[str]:
    """The sibling nodes a node waits for: declared upstream ids plus every promise in its bindings."""
    found = set(node.upstream_node_ids)
    for binding in node.inputs:
        found |= set(_promised_nodes(binding.binding))
    for child in child_nodes(node):
        found |= dependencies(child, known)
    return {n for n in found if n in known}


def _promised_nodes(data: Any) -> Iterator[str]:
    kind = data.WhichOneof("value")
    if kind == "promise":
        yield data.promise.node_id
    elif kind == "collection":
        for item in data.collection.bindings:
            yield from _promised_nodes(item)
    elif kind == "map":
        for item in data.map.bindings.values():
            yield from _promised_nodes(item)


def compile_workflow(template: Any, sub_workflows: Any, get_task: Callable[[Any], Any],
                     get_launch_plan: Callable[[Any], Any]) -> Any:
    """Compile a WorkflowSpec's templates; ``get_task``/``get_launch_plan`` raise NOT_FOUND for unknown ids."""
    from flyteidl.core import compiler_pb2

    closure = compiler_pb2.CompiledWorkflowClosure()
    template = with_start_node(template)
    sub_workflows = [with_start_node(sub) for sub in sub_workflows]
    subs = {entity_key(s.id): s for s in sub_workflows}
    tasks: dict[tuple[str, str, str, str], Any] = {}
    _check_size(template, sub_workflows)
    waits = []
    for workflow in [template, *sub_workflows]:
        waits.append(_check_workflow(workflow, subs))
        failure_node = [workflow.failure_node] if workflow.HasField("failure_node") else []
        for node in walk_nodes([*workflow.nodes, *failure_node]):
            kind = node.WhichOneof("target")
            if kind == "task_node":
                ref = node.task_node.reference_id
                if entity_key(ref) not in tasks:
                    tasks[entity_key(ref)] = get_task(ref)
            elif kind == "workflow_node" and node.workflow_node.HasField("launchplan_ref"):
                get_launch_plan(node.workflow_node.launchplan_ref)
    closure.primary.CopyFrom(_compiled(template, waits[0]))
    for sub, sub_waits in zip(sub_workflows, waits[1:]):
        closure.sub_workflows.add().CopyFrom(_compiled(sub, sub_waits))
    for key in sorted(tasks):
        closure.tasks.add().template.CopyFrom(tasks[key])
    return closure


def with_start_node(workflow: Any) -> Any:
    """A copy of ``workflow`` whose promises of workflow inputs name ``start-node``.

    flytekit writes a workflow input's promise with an empty node id (its ``GLOBAL_INPUT_NODE_ID``); FlyteAdmin's
    compiler takes that as the start node and the compiled closure names it, so the walker sees one spelling.
    """
    copy = type(workflow)()
    copy.CopyFrom(workflow)
    failure_node = [copy.failure_node] if copy.HasField("failure_node") else []
    for node in walk_nodes([*copy.nodes, *failure_node]):
        for binding in node.inputs:  # a branch's operands name its node's inputs, so these are all
            _name_start(binding.binding)
    for binding in copy.outputs:
        _name_start(binding.binding)
    return copy


def _name_start(data: Any) -> None:
    kind = data.WhichOneof("value")
    if kind == "promise" and not data.promise.node_id:
        data.promise.node_id = START_NODE
    elif kind == "collection":
        for item in data.collection.bindings:
            _name_start(item)
    elif kind == "map":
        for item in data.map.bindings.values():
            _name_start(item)


def _check_size(template: Any, sub_workflows: Any) -> None:
    limit = max_workflow_nodes()
    count = 0
    for workflow in [template, *sub_workflows]:
        for _ in walk_nodes(workflow.nodes):
            count += 1
            if count > limit:
                raise _compile_error(template.id.name, f"it has more than {limit} nodes; split it into "
                                     f"subworkflows or launch plans, or raise {MAX_NODES_VARIABLE}")


def _check_workflow(workflow: Any, subs: dict[tuple[str, str, str, str], Any]) -> dict[str, set[str]]:
    """Checks one workflow; returns each node's dependencies (computed once: big workflows are common)."""
    name = workflow.id.name
    ids = [node.id for node in workflow.nodes]
    for node_id in ids:
        if not node_id or node_id in (START_NODE, END_NODE):
            raise _compile_error(name, f"invalid node id {node_id!r}")
    if len(set(ids)) != len(ids):
        raise _compile_error(name, "node ids are not unique")
    known = set(ids) | {START_NODE}
    inputs = set(workflow.interface.inputs.variables)
    for node in walk_nodes(workflow.nodes):
        if node.WhichOneof("target") is None:
            raise _compile_error(name, f"node {node.id!r} has no target")
        limits.check_node(name, node)
        for binding in node.inputs:
            _check_promises(name, node.id, binding.binding, known, inputs)
        ref = node.workflow_node.sub_workflow_ref if node.HasField("workflow_node") else None
        if ref is not None and node.workflow_node.HasField("sub_workflow_ref") and entity_key(ref) not in subs:
            raise _compile_error(name, f"node {node.id!r} refers to an unknown subworkflow {ref.name!r}")
    for binding in workflow.outputs:
        _check_promises(name, END_NODE, binding.binding, known, inputs)
    return _check_acyclic(name, workflow.nodes, set(ids))


def _check_promises(workflow: str, node_id: str, data: Any, known: set[str], inputs: set[str]) -> None:
    kind = data.WhichOneof("value")
    if kind == "promise":
        upstream = data.promise.node_id
        if upstream not in known:
            raise _compile_error(workflow, f"node {node_id!r} binds to an unknown node {upstream!r}")
        if upstream == START_NODE and data.promise.var not in inputs:
            raise _compile_error(workflow, f"node {node_id!r} binds to an unknown workflow input "
                                           f"{data.promise.var!r}")
    elif kind == "collection":
        for item in data.collection.bindings:
            _check_promises(workflow, node_id, item, known, inputs)
    elif kind == "map":
        for item in data.map.bindings.values():
            _check_promises(workflow, node_id, item, known, inputs)


def _check_acyclic(workflow: str, nodes: Any, ids: set[str]) -> dict[str, set[str]]:
    """Kahn's algorithm: linear in nodes plus edges, so any client can register a big workflow cheaply."""
    waits: dict[str, set[str]] = {}
    for node in nodes:
        deps = dependencies(node, ids)
        if node.id in deps:
            raise _compile_error(workflow, f"node {node.id!r} depends on itself")
        waits[node.id] = deps
    downstream: dict[str, list[str]] = {node_id: [] for node_id in waits}
    for node_id, deps in waits.items():
        for upstream in deps:
            downstream[upstream].append(node_id)
    remaining = {node_id: len(deps) for node_id, deps in waits.items()}
    ready = [node_id for node_id, count in remaining.items() if count == 0]
    while ready:
        for child in downstream[ready.pop()]:
            remaining[child] -= 1
            if remaining[child] == 0:
                ready.append(child)
    cycle = sorted(node_id for node_id, count in remaining.items() if count)
    if cycle:
        shown = ", ".join(cycle[:20]) + (f" and {len(cycle) - 20} more" if len(cycle) > 20 else "")
        raise _compile_error(workflow, f"the nodes {shown} form a cycle or wait on one")
    return waits


def _compile_error(workflow: str, reason: str) -> ApiError:
    return invalid(f"failed to compile workflow for [{workflow}] with err {reason}")


def _compiled(template: Any, waits: dict[str, set[str]] | None = None) -> Any:
    """The template with propeller's start and end nodes, and its connections."""
    from flyteidl.core import compiler_pb2, workflow_pb2

    compiled = compiler_pb2.CompiledWorkflow()
    compiled.template.CopyFrom(template)
    ids = {node.id for node in template.nodes}
    nodes = compiled.template.nodes
    del nodes[:]
    nodes.add().CopyFrom(workflow_pb2.Node(id=START_NODE))
    end_upstream: set[str] = set()
    for binding in template.outputs:
        end_upstream |= set(_promised_nodes(binding.binding)) & ids
    upstream: dict[str, list[str]] = {}
    for node in template.nodes:
        copy = nodes.add()
        copy.CopyFrom(node)
        deps = sorted(waits[node.id] if waits is not None else dependencies(node, ids))
        del copy.upstream_node_ids[:]
        copy.upstream_node_ids.extend(deps)
        upstream[node.id] = deps or [START_NODE]
    end = nodes.add()
    end.id = END_NODE
    end.inputs.extend(template.outputs)
    upstream[END_NODE] = sorted(end_upstream) or [START_NODE]
    _connect(compiled.connections, upstream)
    return compiled


def _connect(connections: Any, upstream: dict[str, list[str]]) -> None:
    # Built in Python first: a protobuf map lookup per edge costs more than the rest of the compile.
    downstream: dict[str, list[str]] = {}
    for node_id, parents in upstream.items():
        connections.upstream[node_id].ids.extend(parents)
        for parent in parents:
            downstream.setdefault(parent, []).append(node_id)
    for parent, children in downstream.items():
        connections.downstream[parent].ids.extend(children)


def single_task_closure(task: Any) -> Any:
    """The one-node workflow FlyteAdmin makes to execute a task directly."""
    from flyteidl.core import compiler_pb2, literals_pb2, workflow_pb2

    node_id = task.id.name.split(".")[-1].replace("_", "-").lower()[:63] or "task"
    template = workflow_pb2.WorkflowTemplate()
    template.id.CopyFrom(task.id)
    template.id.resource_type = 2  # WORKFLOW
    template.interface.CopyFrom(task.interface)
    node = template.nodes.add(id=node_id)
    node.metadata.name = node_id
    node.task_node.reference_id.CopyFrom(task.id)
    for name in task.interface.inputs.variables:
        promise = literals_pb2.BindingData()
        promise.promise.node_id = START_NODE
        promise.promise.var = name
        node.inputs.add(var=name, binding=promise)
    for name in task.interface.outputs.variables:
        promise = literals_pb2.BindingData()
        promise.promise.node_id = node_id
        promise.promise.var = name
        template.outputs.add(var=name, binding=promise)
    closure = compiler_pb2.CompiledWorkflowClosure()
    closure.primary.CopyFrom(_compiled(template))
    closure.tasks.add().template.CopyFrom(task)
    return closure


def expected_inputs(workflow_inputs: Any, fixed: Any, defaults: Any) -> Any:
    """FlyteAdmin's ``checkAndFetchExpectedInputForLaunchPlan``: the inputs an execution of a launch plan takes."""
    from flyteidl.core import interface_pb2

    from flyrun.sandbox.engine.literals import fits

    variables = workflow_inputs.variables
    if not variables and (defaults.parameters or fixed.literals):
        which = "default" if defaults.parameters else "fixed"
        count = len(defaults.parameters) if defaults.parameters else len(fixed.literals)
        raise invalid(f"invalid launch plan {which} inputs, expected none but found {count}")
    for name in defaults.parameters:
        if name not in variables:
            raise invalid(f"unexpected default_input {name}")
    for name, literal in fixed.literals.items():
        if name not in variables:
            raise invalid(f"unexpected fixed_input {name}")
        if not fits(literal, variables[name].type):
            raise invalid(f"invalid fixed_input wrong type {name}")
    result = interface_pb2.ParameterMap()
    for name, variable in variables.items():
        if name in defaults.parameters:
            result.parameters[name].CopyFrom(defaults.parameters[name])
        elif name not in fixed.literals:
            parameter = result.parameters[name]
            parameter.var.type.CopyFrom(variable.type)
            parameter.var.description = variable.description
            parameter.required = True
    return result


def check_parameters(parameters: Any, field: str) -> None:
    """FlyteAdmin's ``validateParameterMap``."""
    from flyrun.sandbox.engine.literals import fits

    for name, parameter in parameters.parameters.items():
        if not name:
            raise invalid(f"missing key in {field}")
        if not parameter.var.HasField("type"):
            raise invalid(f"The Variable component of the Parameter {name} in {field} either is missing, "
                          "or has a missing Type")
        if not parameter.HasField("default") and not parameter.required and not parameter.HasField(
                "artifact_query"):
            raise invalid(f"Invalid variable {name} in {field} - variable has neither default, nor is required. "
                          "One must be specified")
        if parameter.HasField("default") and not fits(parameter.default, parameter.var.type):
            raise invalid(f"Type mismatch for Parameter {name} in {field}")


def missing_entity(kind: str, identifier: Any) -> ApiError:
    return ApiError(Code.NOT_FOUND, f"missing entity of type {kind} with identifier {id_text(identifier)}")
