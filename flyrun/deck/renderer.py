"""Renderers that turn a value into HTML for a deck (flytekit's ``flytekit.deck.renderer`` names).

Markdown goes through markdown-it (a dependency of rich, so always there) with raw HTML escaped; source code
through Pygments, with its styles inlined so a deck stays one self-contained file.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class MarkdownRenderer:
    def to_html(self, text: str) -> str:
        from markdown_it import MarkdownIt

        return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


class SourceCodeRenderer:
    def __init__(self, title: str = "Source Code") -> None:
        self.title = title

    def to_html(self, source_code: str) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        return highlight(source_code, PythonLexer(), HtmlFormatter(noclasses=True, style="default"))


class TableRenderer:
    """A table of rows: a DataFrame (anything with ``to_html``), a list of dicts, or rows with ``header_labels``."""

    def to_html(self, table: Any, header_labels: Sequence[str] | None = None, table_width: int | None = None) -> str:
        if hasattr(table, "to_html"):
            return str(table.to_html(index=False)) if _takes_index(table) else str(table.to_html())
        rows = list(table)
        if rows and isinstance(rows[0], Mapping):
            header_labels = list(header_labels or rows[0].keys())
            rows = [[row.get(label, "") for label in header_labels] for row in rows]
        head = "".join(f"<th>{html.escape(str(label))}</th>" for label in header_labels or ())
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in _cells(row)) + "</tr>"
                       for row in rows)
        width = f' style="width: {int(table_width)}px"' if table_width else ""
        return f'<table class="table"{width}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class TopFrameRenderer:
    """The first ``max_rows`` rows of a data frame."""

    def __init__(self, max_rows: int = 10, max_cols: int = 100) -> None:
        self.max_rows = max_rows
        self.max_cols = max_cols

    def to_html(self, df: Any) -> str:
        if hasattr(df, "head") and hasattr(df, "to_html"):
            return str(df.head(self.max_rows).to_html())
        return TableRenderer().to_html(list(df)[: self.max_rows])


def _takes_index(table: Any) -> bool:
    return type(table).__module__.startswith("pandas")


def _cells(row: Any) -> Iterable[Any]:
    return row if isinstance(row, (list, tuple)) else [row]
