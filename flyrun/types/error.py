"""``FlyteError``: what a workflow's failure handler gets in its ``err`` input (LiteralType ``ERROR``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyrun.types.engine import TypeMismatch, TypeTransformer


class ErrorTransformer(TypeTransformer):
    name = "error"

    def matches(self, python_type: Any) -> bool:
        return python_type is FlyteError

    def literal_type(self, python_type: Any) -> dict:
        return {"simple": "ERROR"}

    def to_literal(self, value: Any, python_type: Any) -> dict:
        if not isinstance(value, FlyteError):
            raise TypeMismatch(f"expected FlyteError, got {type(value).__name__} {value!r}")
        return {"scalar": {"error": {"failed_node_id": value.failed_node_id, "message": value.message}}}

    def to_python(self, literal: dict, python_type: Any) -> Any:
        try:
            error = literal["scalar"]["error"]
        except (KeyError, TypeError):
            raise TypeMismatch(f"literal {literal!r} is not an error") from None
        return FlyteError(message=error.get("message", ""), failed_node_id=error.get("failed_node_id", ""))

    def to_json(self, value: Any, python_type: Any) -> Any:
        return {"failed_node_id": value.failed_node_id, "message": value.message}

    def from_json(self, value: Any, python_type: Any) -> Any:
        if isinstance(value, dict):
            return FlyteError(message=str(value.get("message", "")),
                              failed_node_id=str(value.get("failed_node_id", "")))
        raise TypeMismatch(f"expected an object with message and failed_node_id, got {value!r}")

    def describe(self, python_type: Any) -> str:
        return "FlyteError"


@dataclass
class FlyteError:
    message: str
    failed_node_id: str

    __flyrun_transformer__ = ErrorTransformer
