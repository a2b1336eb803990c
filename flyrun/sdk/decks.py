"""A task's deck document: the decks its code made, then its inputs, outputs and source (flytekit's default
deck fields)."""

from __future__ import annotations

import html
import inspect
from typing import Any

from flyrun.deck import Deck, SourceCodeRenderer, TableRenderer, render_document


def task_document(task: Any, decks: list[Any], inputs: dict[str, Any], outputs: dict[str, Any]) -> str:
    shown = [deck for deck in decks if deck.name != "default" or deck.html]
    shown.append(Deck("Input", TableRenderer().to_html(_rows(inputs), ["Name", "Value"]), auto_add_to_deck=False))
    shown.append(Deck("Output", TableRenderer().to_html(_rows(outputs), ["Name", "Value"]), auto_add_to_deck=False))
    source = _source(task)
    if source:
        shown.append(Deck("Source Code", SourceCodeRenderer().to_html(source), auto_add_to_deck=False))
    return render_document(shown, f"{html.escape(task.name)} deck")


def _rows(values: dict[str, Any]) -> list[list[str]]:
    return [[name, _clip(repr(value))] for name, value in values.items()]


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _source(task: Any) -> str:
    fn = getattr(task, "fn", None)
    try:
        return inspect.getsource(fn) if fn is not None else ""
    except (OSError, TypeError):
        return ""
