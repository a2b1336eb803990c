"""Decks: HTML pages a task writes about its run (``@task(enable_deck=True)``, ``Deck("name", html)``).

A task's decks become one self-contained HTML document, one tab per deck. The tabs are plain CSS (radio buttons),
with no script and nothing fetched, so the document shows the same from a file, in the sandbox console under a
strict Content-Security-Policy, or in a sandboxed iframe.
"""

from __future__ import annotations

import enum
import html
from typing import Any

from flyrun.deck.renderer import MarkdownRenderer, SourceCodeRenderer, TableRenderer, TopFrameRenderer
from flyrun.sdk.context import TASK_PARAMS

__all__ = ["Deck", "DeckField", "MarkdownRenderer", "SourceCodeRenderer", "TableRenderer", "TopFrameRenderer",
           "render_document"]


class DeckField(str, enum.Enum):
    SOURCE_CODE = "Source Code"
    DEPENDENCIES = "Dependencies"
    TIMELINE = "Timeline"
    INPUT = "Input"
    OUTPUT = "Output"


class Deck:
    """A named HTML page; made inside a task it joins that task's decks (``current_context().decks``)."""

    def __init__(self, name: str, html: str | None = "", auto_add_to_deck: bool = True) -> None:
        self._name = name
        self._html = html or ""
        params = TASK_PARAMS.get()
        if auto_add_to_deck and params is not None:  # outside a task there is no deck to join
            params.decks.append(self)

    @property
    def name(self) -> str:
        return self._name

    @property
    def html(self) -> str:
        return self._html

    def append(self, html: str) -> Deck:
        self._html += html
        return self

    @staticmethod
    def publish() -> None:
        """Decks are written when the task ends; kept for flytekit programs that call it."""


_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222}
.tabs{display:flex;flex-wrap:wrap}
.tabs>input{position:absolute;opacity:0}
.tabs>label{padding:.5em 1em;border-bottom:2px solid #ddd;cursor:pointer}
.tabs>input:checked+label{border-bottom-color:#6f2aef;font-weight:600}
.tabs>section{display:none;order:1;width:100%;padding:1em;box-sizing:border-box;overflow:auto}
.tabs>input:checked+label+section{display:block}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left}
"""


def render_document(decks: list[Any], title: str) -> str:
    """One HTML document with a tab per deck (the first one shown)."""
    parts = []
    for index, deck in enumerate(decks):
        tab = f"deck-{index}"
        checked = " checked" if index == 0 else ""
        parts.append(f'<input type="radio" name="deck" id="{tab}"{checked}>'
                     f'<label for="{tab}">{html.escape(deck.name)}</label>'
                     f'<section class="deck" data-deck="{html.escape(deck.name)}">{deck.html}</section>')
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<style>{_STYLE}</style></head><body><div class="tabs">{"".join(parts)}</div></body></html>\n')
