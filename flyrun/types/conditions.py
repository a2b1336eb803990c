"""Branch conditions evaluated as propeller evaluates them, on ``BooleanExpression`` and literals in protojson form.

The local runner and the sandbox both evaluate a conditional with this module, on the same expression that is
serialized for a cluster, so a condition that would fail on propeller fails locally too. Propeller's rules: a
comparison needs two primitives of the same kind (an integer is not a float); booleans only compare for equality;
strings compare lexically; datetimes and durations by time. ``AND``/``OR`` evaluate both sides. flyrun adds one
rule propeller's evaluator lacks: a None literal (also inside a union) equals a None literal and nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

OPERATORS = ("EQ", "NEQ", "GT", "GTE", "LT", "LTE")
_ORDERING = ("GT", "GTE", "LT", "LTE")


class ConditionError(ValueError):
    """A condition that cannot be evaluated (propeller fails the branch node with it)."""


def evaluate(expression: Mapping[str, Any], inputs: Mapping[str, Mapping[str, Any]]) -> bool:
    """Evaluate a ``BooleanExpression`` dict; ``inputs`` maps the branch node's input names to literal dicts."""
    if "conjunction" in expression:
        conjunction = expression["conjunction"]
        left = evaluate(conjunction["left_expression"], inputs)
        right = evaluate(conjunction["right_expression"], inputs)
        return (left or right) if conjunction.get("operator", "AND") == "OR" else (left and right)
    comparison = expression["comparison"]
    operator = comparison.get("operator", "EQ")
    return compare(operator, _operand(comparison.get("left_value", {}), inputs),
                   _operand(comparison.get("right_value", {}), inputs))


def compare(operator: str, left: tuple[str, Any], right: tuple[str, Any]) -> bool:
    """Compare two ``(kind, value)`` primitives; kind ``"none"`` is a None literal."""
    (left_kind, left_value), (right_kind, right_value) = left, right
    if "none" in (left_kind, right_kind):
        if operator not in ("EQ", "NEQ"):
            raise ConditionError(f"{operator} is not defined on None")
        equal = left_kind == right_kind
        return equal if operator == "EQ" else not equal
    if left_kind != right_kind:
        raise ConditionError(f"Comparison between different primitives types: {left_kind} and {right_kind}")
    if left_kind == "boolean" and operator in _ORDERING:
        raise ConditionError(f"{operator} is not defined on booleans")
    if operator == "EQ":
        return left_value == right_value
    if operator == "NEQ":
        return left_value != right_value
    if operator == "GT":
        return left_value > right_value
    if operator == "GTE":
        return left_value >= right_value
    if operator == "LT":
        return left_value < right_value
    if operator == "LTE":
        return left_value <= right_value
    raise ConditionError(f"unknown comparison operator {operator!r}")


def _operand(operand: Mapping[str, Any], inputs: Mapping[str, Mapping[str, Any]]) -> tuple[str, Any]:
    if "primitive" in operand:
        return primitive_value(operand["primitive"])
    if "var" in operand:
        literal = inputs.get(operand["var"])
        if literal is None:
            raise ConditionError(f"Failed to find Value for Variable [{operand['var']}]")
        return _literal_value(literal, operand["var"])
    if "scalar" in operand:
        return _scalar_value(operand["scalar"], "a constant")
    raise ConditionError("a comparison operand has no value")


def _literal_value(literal: Mapping[str, Any], name: str) -> tuple[str, Any]:
    if "scalar" not in literal:
        raise ConditionError(f"{name} is not a primitive and cannot be compared")
    return _scalar_value(literal["scalar"], name)


def _scalar_value(scalar: Mapping[str, Any], name: str) -> tuple[str, Any]:
    if "union" in scalar:
        return _literal_value(scalar["union"].get("value", {}), name)
    if "none_type" in scalar:
        return "none", None
    if "primitive" in scalar:
        return primitive_value(scalar["primitive"])
    raise ConditionError(f"{name} is not a primitive and cannot be compared")


def primitive_value(primitive: Mapping[str, Any]) -> tuple[str, Any]:
    """``(kind, comparable value)`` of a ``Primitive`` dict (int64 may be a JSON string, times are text)."""
    if not primitive:
        raise ConditionError("a primitive operand has no value")
    kind, raw = next(iter(primitive.items()))
    if kind == "integer":
        return kind, int(raw)
    if kind == "float_value":
        return kind, float(raw)
    if kind == "datetime":
        return kind, dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    if kind == "duration":
        return kind, _seconds(str(raw))
    if kind in ("string_value", "boolean"):
        return kind, raw
    raise ConditionError(f"primitives of kind {kind} cannot be compared")


def _seconds(text: str) -> float:
    if not text.endswith("s"):
        raise ConditionError(f"{text!r} is not a duration")
    return float(text[:-1])
