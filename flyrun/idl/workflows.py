"""Workflows as ``WorkflowTemplate`` dicts (nodes, bindings, outputs), with their sub-workflows, and their default
launch plans; conditionals as ``BranchNode``s and a workflow's failure policy and failure node
(flyte-language-wire.md section 7). Branch cases and failure nodes are nodes again, so they live here with
``node_dict`` rather than in modules that would import it back."""

from __future__ import annotations

import typing
from collections.abc import Collection
from typing import Any

from flyrun.idl.interface import literal, literal_type, parameter_map, typed_interface
from flyrun.idl.launch_plans import launch_plan_node
from flyrun.idl.literals import binding_data
from flyrun.idl.overrides import apply_overrides
from flyrun.idl.references import reference_node
from flyrun.idl.settings import SerializationSettings
from flyrun.idl.tasks import is_map_task
from flyrun.sdk import graph
from flyrun.sdk.docs import description
from flyrun.types.scalars import format_duration


def workflow_spec(workflow: Any, settings: SerializationSettings) -> dict:
    """An admin ``WorkflowSpec``: the template and every workflow it runs as a sub-workflow."""
    spec = {"template": workflow_template(workflow, settings),
            "sub_workflows": [workflow_template(sub, settings) for sub in subworkflows(workflow)]}
    if callable(getattr(workflow, "fn", None)):  # a function's workflow: its docs and docstring, as in flytekit
        spec["description"] = description(getattr(workflow, "docs", None), workflow.fn)
    return spec


def workflow_template(workflow: Any, settings: SerializationSettings) -> dict:
    owner = f"workflow {workflow.name}"
    interface = workflow.interface
    outputs = [{"var": name, "binding": _binding_data(binding, interface.outputs[name], owner, f"output '{name}'")}
               for name, binding in workflow.output_bindings.items()]
    template = {
        "id": settings.identifier("WORKFLOW", workflow.name),
        "metadata": {},
        "interface": typed_interface(interface.inputs, interface.outputs, owner, getattr(workflow, "fn", None)),
        "nodes": [node_dict(node, settings, owner) for node in workflow.ordered_nodes],
        "outputs": outputs,
        "metadata_defaults": {},
    }
    add_failure_handling(template, workflow, settings, owner)
    return template


def subworkflows(workflow: Any) -> list[Any]:
    """Every workflow run as a node inside ``workflow``, at any depth, innermost first, once each."""
    found: dict[str, Any] = {}

    def visit(parent: Any) -> None:
        for node in [*parent.nodes, *failure_handlers(parent)]:
            if getattr(node.entity, "kind", "") == "workflow" and node.entity.name not in found:
                visit(node.entity)
                found[node.entity.name] = node.entity
            elif getattr(node.entity, "kind", "") == "branch":
                visit(node.entity)  # a conditional's cases may run subworkflows

    visit(workflow)
    return list(found.values())


def node_dict(node: graph.Node, settings: SerializationSettings, owner: str) -> dict:
    if getattr(node.entity, "kind", "") == "branch":  # a conditional
        return branch_node(node, settings, owner)
    entity = node.entity
    where = f"{owner}, node {node.id} ({entity.name})"
    result = {
        "id": node.id,
        "metadata": node_metadata(entity),
        "inputs": node_bindings(node, where),
        "upstream_node_ids": node.depends_on(),
    }
    kind = getattr(entity, "kind", "")
    if kind == "reference":  # reference_task / reference_workflow / reference_launch_plan

        target, value = reference_node(entity)
        result[target] = value
    elif kind == "launch_plan":
        result["metadata"], result["workflow_node"] = launch_plan_node(entity, settings)
    elif kind == "workflow":
        result["workflow_node"] = {"sub_workflow_ref": settings.identifier("WORKFLOW", entity.name)}
    elif kind in GATE_KINDS:
        result["metadata"] = gate_metadata(entity)
        result["gate_node"] = gate_node(entity, where)
    elif is_map_task(entity):
        result["metadata"] = {"name": entity.name.rsplit(".", 1)[-1]}
        result["array_node"] = array_node(entity, result["inputs"], settings)
    else:
        result["task_node"] = {"reference_id": settings.identifier("TASK", entity.name)}
    if "overrides" in node.metadata:  # with_overrides(...)

        apply_overrides(result, node.metadata["overrides"], settings, entity)
    return result


GATE_KINDS = ("approve", "signal", "sleep")


def gate_metadata(gate: Any) -> dict:
    """A gate node is named by its gate name (the signal id people answer), with the gate's timeout."""
    metadata: dict[str, Any] = {"name": gate.name}
    if gate.timeout is not None:
        metadata["timeout"] = format_duration(gate.timeout)
    return metadata


def gate_node(gate: Any, where: str) -> dict:
    if gate.kind == "sleep":
        return {"sleep": {"duration": format_duration(gate.duration)}}
    if gate.kind == "approve":
        return {"approve": {"signal_id": gate.name}}
    signal_type = literal_type(gate.expected_type, where, "signal", gate.name)
    return {"signal": {"signal_id": gate.name, "type": signal_type, "output_variable_name": gate.output_name}}


def array_node(map_task: Any, bindings: Collection[dict], settings: SerializationSettings) -> dict:
    """flytekit's ArrayNode for a map task: one sub-node running the map task, bound inputs listed."""
    sub_node = {"id": map_task.name, "metadata": node_metadata(map_task.task), "inputs": bindings,
                "task_node": {"reference_id": settings.identifier("TASK", map_task.name)}}
    array: dict[str, Any] = {"node": sub_node}
    if map_task.concurrency is not None:
        array["parallelism"] = map_task.concurrency
    if map_task.min_successes is not None:
        array["min_successes"] = map_task.min_successes
    else:
        array["min_success_ratio"] = map_task.min_success_ratio
    array.update(execution_mode="MINIMAL_STATE", is_original_sub_node_interface=False,
                 bound_inputs=list(map_task.bound_inputs))
    return array


def node_metadata(entity: Any) -> dict:
    """flytekit names a node after its entity's short name and copies the task's retries and timeout."""
    metadata: dict[str, Any] = {"name": entity.name.rsplit(".", 1)[-1]}
    task_meta = getattr(entity, "metadata", None)
    if getattr(entity, "kind", "") == "task" and task_meta is not None:
        metadata["retries"] = {"retries": task_meta.retries}
        if task_meta.timeout is not None:
            metadata["timeout"] = format_duration(task_meta.timeout)
        if task_meta.interruptible is not None:
            metadata["interruptible"] = task_meta.interruptible
    return metadata


def node_bindings(node: graph.Node, where: str, inputs: dict[str, Any] | None = None) -> list[dict]:
    """The node's bindings, plus the defaults of inputs it leaves out (Flyte's compiler needs every input)."""
    interface = node.entity.interface
    types = interface.inputs if inputs is None else inputs
    bindings = [{"var": name, "binding": _binding_data(b, types[name], where, f"input '{name}'")}
                for name, b in node.bindings.items()]
    for name, python_type in types.items():
        if name not in node.bindings and name in interface.defaults:
            value = literal(interface.defaults[name], python_type, f"{where}: default of input '{name}'")
            bindings.append({"var": name, "binding": binding_data(value)})
    return bindings


def _binding_data(binding: graph.Binding, python_type: Any, where: str, label: str) -> dict:
    if binding.kind == "promise":
        promise = binding.value
        reference: dict[str, Any] = {"node_id": promise.node_id, "var": promise.var}
        if promise.attr_path:
            reference["attr_path"] = [{"int_value": k} if isinstance(k, int) else {"string_value": k}
                                      for k in promise.attr_path]
        return {"promise": reference}
    if binding.kind == "list":
        item = typing.get_args(python_type)[0]
        return {"collection": {"bindings": [_binding_data(b, item, where, f"{label}[{i}]")
                                            for i, b in enumerate(binding.value)]}}
    if binding.kind == "map":
        value_type = typing.get_args(python_type)[1]
        return {"map": {"bindings": {key: _binding_data(b, value_type, where, f"{label}[{key!r}]")
                                     for key, b in binding.value.items()}}}
    return binding_data(literal(binding.value, python_type, f"{where}: {label}"))


def launch_plan_spec(workflow: Any, settings: SerializationSettings) -> dict:
    """The default launch plan: the workflow's name and version, its defaults as ``default_inputs``."""
    return {
        "workflow_id": settings.identifier("WORKFLOW", workflow.name),
        "entity_metadata": {},
        "default_inputs": parameter_map(workflow.interface, f"workflow {workflow.name}",
                                        getattr(workflow, "fn", None)),
        "fixed_inputs": {"literals": {}},
        "labels": {"values": {}},
        "annotations": {"values": {}},
        "raw_output_data_config": {"output_location_prefix": ""},
    }


# Conditionals: the cases' conditions and nodes, the else node or the error to fail with.

def branch_node(node: graph.Node, settings: SerializationSettings, owner: str) -> dict:
    """A conditional's node as flytekit serializes it, named by the conditional."""
    conditional = node.entity
    where = f"{owner}, conditional '{conditional.name}'"
    inputs = node_bindings(node, where)
    inputs.extend({"var": name, "binding": binding_data(literal)}
                  for name, literal in conditional.static_inputs.items())
    result: dict[str, Any] = {"id": node.id, "metadata": {"name": conditional.name}, "inputs": inputs,
                              "upstream_node_ids": node.depends_on()}
    blocks = [{"condition": document, "then_node": node_dict(case, settings, where)}
              for document, case in conditional.cases]
    if_else: dict[str, Any] = {"case": blocks[0], "other": blocks[1:]}
    if conditional.else_node is not None:
        if_else["else_node"] = node_dict(conditional.else_node, settings, where)
    else:
        if_else["error"] = {"failed_node_id": conditional.name, "message": conditional.error}
    result["branch_node"] = {"if_else": if_else}
    return result


# Failure handling: ``metadata.on_failure`` and the failure node.

def add_failure_handling(template: dict, workflow: Any, settings: SerializationSettings, owner: str) -> None:
    """``metadata.on_failure`` for FAIL_AFTER_EXECUTABLE_NODES_COMPLETE, and the ``failure_node`` (``fn0``)."""
    failure = getattr(workflow, "failure", None)
    if failure is None:
        return
    if failure.policy:
        template["metadata"]["on_failure"] = failure.policy.name
    if failure.node is not None:
        node = node_dict(failure.node, settings, owner)
        node.pop("upstream_node_ids", None)  # it runs after the workflow failed, not after other nodes
        template["failure_node"] = node


def failure_handlers(workflow: Any) -> list[Any]:
    """The failure node of ``workflow`` as a one-item list (for walks over every node it runs), else empty."""
    failure = getattr(workflow, "failure", None)
    return [failure.node] if failure is not None and failure.node is not None else []
