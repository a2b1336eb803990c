"""How the console shows things: phases, times, durations, literals and node rows as (escaped) HTML text."""

from __future__ import annotations

import functools
import html
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flyrun.protocol.literals import display_text
from flyrun.sandbox.admin.wire import load
from flyrun.sandbox.state.store import Key

_MAX_TEXT = 300


@functools.lru_cache(maxsize=64)
def phase_name(number: int, workflow: bool = False) -> str:
    from flyteidl.core import execution_pb2

    enum = execution_pb2.WorkflowExecution.Phase if workflow else execution_pb2.NodeExecution.Phase
    return enum.Name(number)


def time_text(timestamp: Any) -> str:
    if not timestamp.seconds:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp.seconds))


def seconds_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest}s"
    return f"{minutes // 60}h {minutes % 60}m"


def duration_text(closure: Any) -> str:
    """A final phase's duration, or the time running so far."""
    if closure.HasField("duration"):
        return seconds_text(closure.duration.ToNanoseconds() / 1e9)
    if closure.HasField("started_at"):
        return seconds_text(time.time() - closure.started_at.ToNanoseconds() / 1e9) + "…"
    return ""


def literal_map_rows(literals: Any) -> list[tuple[str, str]]:
    return [(name, _clip(display_text(literal))) for name, literal in sorted(literals.literals.items())]


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def _map_cell(path: str) -> str:
    from flyteidl.core import literals_pb2

    if not path or not Path(path).exists():
        return ""
    literals = literals_pb2.LiteralMap()
    literals.ParseFromString(Path(path).read_bytes())
    return "<br>".join(f"{html.escape(name)}: <code>{html.escape(text)}</code>"
                       for name, text in literal_map_rows(literals))


def decoded_nodes(rows: list[Any]) -> list[dict[str, Any]]:
    """Node rows with their message and extra parsed once per page (graph, timeline and table all read them)."""
    from flyteidl.admin import node_execution_pb2

    return [{"node_id": row["node_id"], "parent_id": row["parent_id"], "phase": row["phase"],
             "node": load(node_execution_pb2.NodeExecution(), row["body"]), "extra": json.loads(row["extra"])}
            for row in rows]


def node_row(key: Key, row: dict[str, Any], depth: int, deck_query: Callable[[str], str] | None = None) -> str:
    """A row of the node table, for a node from ``decoded_nodes``; ``deck_query`` signs its deck's iframe (--auth)."""
    node, extra = row["node"], row["extra"]
    closure = node.closure
    phase = phase_name(closure.phase)
    kind = (extra.get("kind") or "").replace("_node", "")
    if extra.get("items"):
        items = extra["items"]
        kind += f" · {items['succeeded']}/{items['total']} done" + (f", {items['failed']} failed"
                                                                     if items["failed"] else "")
    if extra.get("attempt"):
        kind += f" · attempt {extra['attempt'] + 1}"
    name = extra.get("name") or node.metadata.spec_node_id
    node_id = html.escape(node.id.node_id)
    label = node_id + (f" <small>{html.escape(name)}</small>" if name else "")
    if extra.get("log"):
        link = (f"/console/projects/{key.project}/domains/{key.domain}/executions/{key.name}/nodes/"
                f"{node.id.node_id}/log")
        label += f' <a class="log" href="{html.escape(link)}">log</a>'
    deck = ""
    if closure.deck_uri:
        link = html.escape(f"/console/projects/{key.project}/domains/{key.domain}/executions/{key.name}/nodes/"
                           f"{node.id.node_id}/deck")
        src = link + (html.escape(deck_query(node.id.node_id)) if deck_query else "")
        label += f' <a class="deck" href="{src}" target="_blank" rel="noopener">deck</a>'
        # The deck's panel: an iframe in an opaque origin (never allow-same-origin), scripts only if it has any;
        # loaded when the panel is opened. data-key lets the live refresh keep an open panel open.
        sandbox = "allow-scripts" if deck_needs_scripts(closure.deck_uri) else ""
        deck = (f'<tr class="deck-row depth-{depth}"><td colspan="8"><details class="deck-panel" '
                f'data-key="deck-{node_id}"><summary>Deck of {node_id}</summary><iframe class="deck-frame" '
                f'title="deck of node {node_id}" sandbox="{sandbox}" loading="lazy" src="{src}"></iframe>'
                "</details></td></tr>")
    error = f'<pre class="error">{html.escape(closure.error.message[-2000:])}</pre>' if closure.HasField(
        "error") else ""
    output = _map_cell(closure.output_uri) if closure.output_uri else ""
    anchor = f' id="node-{node_id}"'  # the graph's nodes link here (inner ones too, when expanded)
    return (f'<tr class="depth-{depth}"{anchor} data-node-id="{node_id}"><td>{label}</td>'
            f"<td>{html.escape(kind)}</td><td><span class=\"phase phase-{phase}\">{phase}</span></td>"
            f"<td>{time_text(closure.started_at)}</td><td>{duration_text(closure)}</td>"
            f"<td>{_map_cell(node.input_uri)}</td><td>{output}</td><td>{error}</td></tr>{deck}")


def deck_needs_scripts(path: str) -> bool:
    """Whether a deck has scripts of its own (flytekit's tabs do), so its iframe and policy must allow them."""
    try:
        stat = Path(path).stat()
    except OSError:
        return False
    return _has_script(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)
def _has_script(path: str, mtime_ns: int, size: int) -> bool:
    # Keyed on the file's mtime and size: a live page re-renders every few seconds and must not re-read every deck.
    import re

    try:
        text = Path(path).read_bytes()
    except OSError:
        return False
    return re.search(rb"<script\b|<[a-z][^>]*\son[a-z]+\s*=", text, re.IGNORECASE) is not None
