"""Workflow failure handling: ``failure_policy`` and the ``on_failure`` handler (flyte-language-wire.md section 7).

The handler is a task or a workflow that takes every input of the workflow (same names and types) and, if it
declares one, ``err: Optional[FlyteError]``; any other input must have a default. It runs as the failure node
``fn0`` once the workflow has failed; the workflow still fails with its original error.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk import graph
from flyrun.sdk.entity import Entity
from flyrun.types import engine
from flyrun.types.error import FlyteError

FAILURE_NODE_ID = "fn0"


class WorkflowFailurePolicy(enum.IntEnum):
    """flyteidl's ``WorkflowMetadata.OnFailurePolicy``."""

    FAIL_IMMEDIATELY = 0
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = 1


@dataclass
class FailureSettings:
    policy: WorkflowFailurePolicy
    node: graph.Node | None  # the failure node running the handler, if any


def configure(workflow: Any, policy: Any, handler: Any, where: str) -> FailureSettings | None:
    """Check ``failure_policy=`` and ``on_failure=`` of a workflow; None when neither was given."""
    if policy is None and handler is None:
        return None
    try:
        checked = WorkflowFailurePolicy(policy if policy is not None else 0)
    except ValueError:
        raise WorkflowDefinitionError(f"{where}: failure_policy must be a WorkflowFailurePolicy, not {policy!r}",
                                      hint="WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE") from None
    node = _failure_node(workflow, handler, where) if handler is not None else None
    return FailureSettings(checked, node)


def _failure_node(workflow: Any, handler: Any, where: str) -> graph.Node:
    label = f"{where}: on_failure handler"
    if not isinstance(handler, Entity) or handler.kind not in ("task", "workflow"):
        raise WorkflowDefinitionError(f"{label} must be a task or a workflow, not {handler!r}")
    inputs, handler_inputs = workflow.interface.inputs, handler.interface.inputs
    bindings: dict[str, graph.Binding] = {}
    for name, python_type in inputs.items():
        if name not in handler_inputs:
            raise WorkflowDefinitionError(f"{label} '{handler.name}' must take every workflow input, but not "
                                          f"'{name}'", hint=f"add `{name}: {engine.describe(python_type)}` to it")
        bindings[name] = graph.bind(graph.Promise(None, name, python_type), handler_inputs[name],
                                    f"{label} '{handler.name}': input '{name}'")
    for name, python_type in handler_inputs.items():
        if name in inputs:
            continue
        if name == "err":
            if engine.literal_type(python_type) != engine.literal_type(FlyteError | None):
                raise WorkflowDefinitionError(f"{label} '{handler.name}': input 'err' must be "
                                              f"Optional[FlyteError], not {engine.describe(python_type)}")
            bindings[name] = graph.Binding("value", None)
        elif name not in handler.interface.defaults:
            raise WorkflowDefinitionError(f"{label} '{handler.name}': input '{name}' is not a workflow input and "
                                          "has no default", hint="give it a default, or name it err")
    return graph.Node(FAILURE_NODE_ID, handler, bindings, where)


def local_execute(workflow: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run the nodes as a cluster would under the workflow's policy; on failure run the handler, then re-raise."""
    settings = workflow.failure
    results: dict[str, dict[str, Any]] = {graph.START_NODE: inputs}
    failed: dict[str, BaseException] = {}
    for node in workflow.ordered_nodes:
        if failed and (settings.policy == WorkflowFailurePolicy.FAIL_IMMEDIATELY
                       or any(upstream in failed or upstream not in results for upstream in node.depends_on())):
            continue  # after a failure only nodes that do not wait on a failed one still run
        node_inputs = {name: binding.resolve(results) for name, binding in node.bindings.items()}
        try:
            results[node.id] = node.entity.local_execute({**node.entity.interface.defaults, **node_inputs})
        except Exception as error:  # noqa: BLE001 - a node's failure of any kind is the workflow's
            failed[node.id] = error
    if not failed:
        outputs = {name: binding.resolve(results) for name, binding in workflow.output_bindings.items()}
        return {name: engine.roundtrip(value, workflow.interface.outputs[name]) for name, value in outputs.items()}
    first = next(iter(failed.values()))
    if settings.node is not None:
        _run_handler(settings.node, results, first)
    raise first


def _run_handler(node: graph.Node, results: dict[str, dict[str, Any]], error: BaseException) -> None:
    handler = node.entity
    values = {name: binding.resolve(results) for name, binding in node.bindings.items()}
    if "err" in values:
        values["err"] = FlyteError(message=str(error), failed_node_id=FAILURE_NODE_ID)
    handler.local_execute(handler.complete_inputs(values))
