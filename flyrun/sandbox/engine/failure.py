"""A workflow's failure node: run once the workflow has failed, with its inputs and the error (propeller's
HandlingFailureNode). The workflow still fails, with the original error, or the failure node's own if it fails."""

from __future__ import annotations

from typing import Any

from flyrun.sandbox.engine.literals import BindingError, resolve_bindings
from flyrun.sandbox.engine.runtime import Aborted, ExecuteNode, NodeFailed, RunContext, Scope


def run_failure_node(ctx: RunContext, template: Any, outputs: dict[str, Any], prefix: str, parent_id: str | None,
                     scope: Scope, failure: BaseException, execute: ExecuteNode) -> BaseException:
    """Run ``template.failure_node`` if there is one; returns the error the workflow fails with."""
    from flyteidl.core import literals_pb2, types_pb2

    if not template.HasField("failure_node") or not isinstance(failure, NodeFailed) or ctx.aborted:
        return failure
    node = template.failure_node
    try:
        inputs = resolve_bindings(node.inputs, outputs)
    except BindingError as error:
        return NodeFailed.of("FailureNodeBindingError", f"failure node {node.id}: {error}")
    if "err" in inputs.literals:  # propeller replaces the literal named exactly `err` with the error
        err = literals_pb2.Literal()
        union = err.scalar.union
        union.value.scalar.error.failed_node_id = node.id
        union.value.scalar.error.message = failure.error.message
        union.type.simple = types_pb2.ERROR
        union.type.structure.tag = "FlyteError"
        inputs.literals["err"].CopyFrom(err)
    try:
        execute(ctx, node, inputs, f"{prefix}{node.id}", parent_id, scope)
    except NodeFailed as handler_failure:
        return handler_failure
    except Aborted:
        return failure
    return failure
