"""List requests as FlyteAdmin reads them: ``limit`` (required), ``token`` (an offset), ``sort_by`` and a subset of
its ``filters`` language (``eq(name,x)+value_in(phase,RUNNING;QUEUED)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from flyrun.sandbox.admin.wire import invalid
from flyrun.sandbox.state.store import Filter, Page

_OPERATORS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "contains": "LIKE",
              "value_in": "IN"}
_EXPRESSION = re.compile(r"^(\w+)\(([\w.]+),(.*)\)$")


class Column(NamedTuple):
    """A filterable/sortable field: the SQL column and how a filter value is read."""

    sql: str
    convert: Callable[[str], Any] = str


def page(request: Any, sortable: Mapping[str, Column], default_sort: str = "created_at") -> Page:
    """The page a list request asks for; FlyteAdmin refuses a missing limit and a bad token alike."""
    if request.limit == 0:
        raise invalid("invalid value for limit")
    offset = 0
    if request.token:
        if not request.token.isdigit() or len(request.token) > 18:  # SQLite's integers are 64-bit
            raise invalid(f"invalid pagination token {request.token}")
        offset = int(request.token)
    key, descending = default_sort, True
    if request.HasField("sort_by") and request.sort_by.key:
        key = request.sort_by.key
        descending = request.sort_by.direction == request.sort_by.DESCENDING
    column = sortable.get(key)
    if column is None:
        raise invalid(f"invalid sort_by key {key!r}; this server sorts by {', '.join(sorted(sortable))}")
    return Page(limit=request.limit, offset=offset, order_by=column.sql, descending=descending)


def next_token(page_: Page, returned: int) -> str:
    """FlyteAdmin's convention: a token only when the page came back full."""
    return str(page_.offset + returned) if returned == page_.limit else ""


def filters(text: str, columns: Mapping[str, Column]) -> list[Filter]:
    """Parse ``op(field,value)+op(field,value)``; unknown fields or operators are INVALID_ARGUMENT."""
    parsed: list[Filter] = []
    for expression in filter(None, text.split("+")):
        match = _EXPRESSION.match(expression.strip())
        if match is None:
            raise invalid(f"invalid filter expression {expression!r}")
        operator, field, raw = match.groups()
        op = _OPERATORS.get(operator)
        column = columns.get(field)
        if op is None:
            raise invalid(f"invalid filter function {operator!r}")
        if column is None:
            raise invalid(f"unsupported filter field {field!r}; this server filters on {', '.join(sorted(columns))}")
        parsed.append(_filter(column, op, raw))
    return parsed


def _filter(column: Column, op: str, raw: str) -> Filter:
    try:
        if op == "IN":
            return Filter(column.sql, op, [column.convert(v) for v in raw.split(";")])
        if op == "LIKE":
            return Filter(column.sql, op, f"%{raw}%")
        return Filter(column.sql, op, column.convert(raw))
    except (ValueError, KeyError):
        raise invalid(f"invalid filter value {raw!r}") from None
