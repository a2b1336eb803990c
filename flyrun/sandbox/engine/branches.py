"""Branch nodes: evaluate ``if_else`` conditions against the branch node's inputs and pick the node to run."""

from __future__ import annotations

import operator
from typing import Any

from flyrun.sandbox.engine.records import USER
from flyrun.sandbox.engine.runtime import NodeFailed

_COMPARE = {0: operator.eq, 1: operator.ne, 2: operator.gt, 3: operator.ge, 4: operator.lt, 5: operator.le}
_AND = 0


def choose(if_else: Any, inputs: Any) -> Any:
    """The ``then_node`` of the first true case, else the ``else_node``; a failing ``error`` branch raises."""
    for block in [if_else.case, *if_else.other]:
        if evaluate(block.condition, inputs):
            return block.then_node
    if if_else.HasField("else_node"):
        return if_else.else_node
    message = if_else.error.message or "no branch condition matched"
    raise NodeFailed.of(if_else.error.failed_node_id or "BranchError", message, USER)


def evaluate(expression: Any, inputs: Any) -> bool:
    if expression.HasField("conjunction"):
        conjunction = expression.conjunction
        left = evaluate(conjunction.left_expression, inputs)
        if conjunction.operator == _AND:
            return left and evaluate(conjunction.right_expression, inputs)
        return left or evaluate(conjunction.right_expression, inputs)
    comparison = expression.comparison
    left = _operand(comparison.left_value, inputs)
    right = _operand(comparison.right_value, inputs)
    if left is None or right is None:
        equal = left is None and right is None
        return equal if comparison.operator == 0 else (not equal if comparison.operator == 1 else False)
    try:
        return bool(_COMPARE[comparison.operator](left, right))
    except TypeError:
        raise NodeFailed.of("BranchError", f"cannot compare {left!r} with {right!r}", USER) from None


def _operand(operand: Any, inputs: Any) -> Any:
    kind = operand.WhichOneof("val")
    if kind == "primitive":
        return _primitive(operand.primitive)
    if kind == "scalar":
        return _scalar(operand.scalar)
    if kind == "var":
        literal = inputs.literals.get(operand.var)
        if literal is None:
            raise NodeFailed.of("BranchError", f"branch condition uses an unbound variable {operand.var!r}")
        return _scalar(literal.scalar)
    return None


def _scalar(scalar: Any) -> Any:
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        return _primitive(scalar.primitive)
    if kind == "union":
        return _scalar(scalar.union.value.scalar)
    return None


def _primitive(primitive: Any) -> Any:
    kind = primitive.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(primitive, kind)
    if kind == "datetime":
        return value.ToDatetime()
    if kind == "duration":
        return value.ToTimedelta()
    return value
