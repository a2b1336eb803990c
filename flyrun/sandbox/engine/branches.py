"""Branch nodes: evaluate ``if_else`` conditions against the branch node's inputs and pick the node to run.

The conditions are evaluated by ``flyrun.types.conditions``, the evaluator the local runner uses too, on the
protojson form of the expression and of the inputs.
"""

from __future__ import annotations

from typing import Any

from flyrun.sandbox.engine.records import USER
from flyrun.sandbox.engine.runtime import NodeFailed
from flyrun.types.conditions import ConditionError, evaluate


def choose(if_else: Any, inputs: Any) -> Any:
    """The ``then_node`` of the first true case, else the ``else_node``; a failing ``error`` branch raises."""
    from google.protobuf import json_format

    literals = {name: json_format.MessageToDict(literal, preserving_proto_field_name=True)
                for name, literal in inputs.literals.items()}
    for block in [if_else.case, *if_else.other]:
        condition = json_format.MessageToDict(block.condition, preserving_proto_field_name=True)
        try:
            if evaluate(condition, literals):
                return block.then_node
        except ConditionError as error:
            raise NodeFailed.of("MalformedBranchUserError", str(error), USER) from None
    if if_else.HasField("else_node"):
        return if_else.else_node
    if if_else.HasField("error"):
        raise NodeFailed.of(if_else.error.failed_node_id or "UserProvidedError", if_else.error.message, USER)
    raise NodeFailed.of("MalformedBranchUserError", "No branch satisfied", USER)
