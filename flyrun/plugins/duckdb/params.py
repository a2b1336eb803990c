"""``QueryParameters``: what a bare ``list`` input of a DuckDBQuery travels as.

flytekit's DuckDB examples declare ``params=list`` and pass mixed rows (``[["chainsaw", 500, 10], ...]``), which no
typed list literal holds. The value goes as a msgpack STRUCT (the form of an untyped dict) wrapping the JSON list,
so it survives the wire and the CLI takes it as JSON text.
"""

from __future__ import annotations

import json
from typing import Any

from flyrun.types import engine
from flyrun.types.engine import TypeMismatch, TypeTransformer


class QueryParametersTransformer(TypeTransformer):
    name = "query parameters"

    def matches(self, python_type: Any) -> bool:
        return python_type is QueryParameters

    def literal_type(self, python_type: Any) -> dict:
        return {"simple": "STRUCT", "annotation": engine.MSGPACK_ANNOTATION}

    def describe(self, python_type: Any) -> str:
        return "list"

    def to_literal(self, value: Any, python_type: Any) -> dict:
        return engine.msgpack_literal(self.to_json(value, python_type))

    def to_python(self, literal: dict, python_type: Any) -> list:
        payload, _ = engine.struct_payload(literal, "list")
        if not isinstance(payload, list):
            raise TypeMismatch(f"literal {literal!r} is not a list of query parameters")
        return list(payload)

    def from_json(self, value: Any, python_type: Any) -> list:
        return self.to_json(value, python_type)

    def to_json(self, value: Any, python_type: Any) -> list:
        if not isinstance(value, (list, tuple)):
            raise TypeMismatch(f"expected a list of query parameters, got {type(value).__name__} {value!r}")
        try:
            return json.loads(json.dumps(list(value), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise TypeMismatch(f"query parameters must be JSON values (numbers, strings, lists): {exc}") from None


class QueryParameters(list):
    """A ``list`` of DuckDB query parameters (any JSON values)."""

    __flyrun_transformer__ = QueryParametersTransformer
