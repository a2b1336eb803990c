"""The execution page's pictures, drawn on the server as SVG: the workflow graph and the timeline of its nodes.

Both are plain markup the page's stylesheet colours by phase (``class="phase-…"``), so they need no script (the
console's Content-Security-Policy forbids inline scripts and styles) and refresh with the rest of the page's live
fragment. The graph comes from the execution's compiled workflow (its plan), the phases from the node rows.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from typing import Any

from flyrun.sandbox.admin.wire import load
from flyrun.sandbox.console.view import phase_name, seconds_text
from flyrun.sandbox.state.store import Key

_BOUNDARY = ("start-node", "end-node")
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 200, 52, 24, 40, 16
MAX_PER_ROW = 8  # a wide fan-out wraps onto more rows instead of making the picture kilometres wide
_MAX_CHILDREN_LISTED = 6
BAR_H, LABEL_W, TIMELINE_W = 18, 220, 760
MAX_TIMELINE_BARS = 500


def _promises(binding: Any, into: set[str]) -> None:
    """The nodes a binding's promises come from (collections and maps of bindings included)."""
    kind = binding.WhichOneof("value")
    if kind == "promise":
        into.add(binding.promise.node_id)
    elif kind == "collection":
        for item in binding.collection.bindings:
            _promises(item, into)
    elif kind == "map":
        for item in binding.map.bindings.values():
            _promises(item, into)


def _upstream_of(template: Any, plan: Any) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Each node's upstream nodes (the compiler's connections, the node's own list, its input promises) and name."""
    upstream: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for node in template.nodes:  # one pass: each access to a repeated protobuf field builds new wrappers
        upstream[node.id] = set(node.upstream_node_ids)
        names[node.id] = node.metadata.name
        for binding in node.inputs:
            _promises(binding.binding, upstream[node.id])
    for node_id, ids in plan.primary.connections.upstream.items():
        if node_id in upstream:
            upstream[node_id].update(ids.ids)

    return {node_id: {u for u in ids if u in upstream and u != node_id} for node_id, ids in upstream.items()}, names


def depths(upstream: dict[str, set[str]]) -> dict[str, int]:
    """Longest path from a root, so every edge points down the page; iterative (1,000-node chains are fine)."""
    depth: dict[str, int] = {}
    for start in upstream:
        stack = [start]
        while stack:
            node_id = stack[-1]
            if node_id in depth:
                stack.pop()
                continue
            pending = [u for u in upstream[node_id] if u not in depth and u not in stack]
            if pending:
                stack.extend(pending)
                continue
            depth[node_id] = 1 + max((depth.get(u, -1) for u in upstream[node_id]), default=-1)
            stack.pop()
    return depth


def layout(upstream: dict[str, set[str]], order: list[str]) -> tuple[dict[str, tuple[int, int]], int, int]:
    """Each node's top-left corner, and the picture's width and height."""
    depth = depths(upstream)
    levels: dict[int, list[str]] = defaultdict(list)
    for node_id in order:
        levels[depth[node_id]].append(node_id)
    position: dict[str, tuple[int, int]] = {}
    row, widest = 0, 1
    for level in sorted(levels):
        members = levels[level]
        for start in range(0, len(members), MAX_PER_ROW):
            chunk = members[start:start + MAX_PER_ROW]
            widest = max(widest, len(chunk))
            for column, node_id in enumerate(chunk):
                position[node_id] = (column, row)
            row += 1
    width = PAD * 2 + widest * NODE_W + (widest - 1) * GAP_X
    offsets = Counter(r for _, r in position.values())  # nodes in each row
    placed = {}
    for node_id, (column, r) in position.items():
        row_width = offsets[r] * NODE_W + (offsets[r] - 1) * GAP_X
        left = PAD + (width - 2 * PAD - row_width) // 2  # centre each row under the widest one
        placed[node_id] = (left + column * (NODE_W + GAP_X), PAD + r * (NODE_H + GAP_Y))
    height = PAD * 2 + row * NODE_H + max(row - 1, 0) * GAP_Y
    return placed, width, height


def _node_state(row: dict[str, Any] | None) -> tuple[str, str]:
    """A node's phase name and its short status line (map counts, kind)."""
    if row is None:
        return "UNDEFINED", "not started"
    node, extra = row["node"], row["extra"]
    phase = phase_name(node.closure.phase)
    items = extra.get("items")
    if items:
        running = max(items["total"] - items["succeeded"] - items["failed"], 0)
        return phase, f"{items['succeeded']} ok · {items['failed']} failed · {running} running"
    kind = (extra.get("kind") or "").replace("_node", "")
    return phase, f"{kind} · {phase.lower()}" if kind else phase.lower()


def graph_svg(plan_bytes: bytes | None, nodes: list[dict[str, Any]]) -> str:
    """The workflow graph (nodes from ``decoded_nodes``): top to bottom by depth, each a link to its table row."""
    from flyteidl.core import compiler_pb2

    plan = load(compiler_pb2.CompiledWorkflowClosure(), plan_bytes)
    template = plan.primary.template
    every, names = _upstream_of(template, plan)
    order = [node_id for node_id in every if node_id not in _BOUNDARY]
    if not order:
        return ""
    upstream = {n: ids for n, ids in every.items() if n not in _BOUNDARY}
    upstream = {n: {u for u in ids if u in upstream} for n, ids in upstream.items()}
    rows = {row["node_id"]: row for row in nodes if row["parent_id"] is None}
    children: dict[str, list[Any]] = defaultdict(list)
    for row in nodes:
        if row["parent_id"] is not None:
            children[row["parent_id"]].append(row)
    placed, width, height = layout(upstream, order)
    parts = [f'<svg class="graph" role="img" aria-label="workflow graph, {len(order)} nodes" '
             f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="edge-head"/></marker></defs>']
    for node_id in order:
        x2, y2 = placed[node_id]
        for up in sorted(upstream[node_id]):
            x1, y1 = placed[up]
            sx, sy, ex, ey = x1 + NODE_W // 2, y1 + NODE_H, x2 + NODE_W // 2, y2
            mid = (sy + ey) // 2
            parts.append(f'<path class="edge" d="M{sx},{sy} C{sx},{mid} {ex},{mid} {ex},{ey - 2}" '
                         'marker-end="url(#arrow)"/>')
    for node_id in order:
        x, y = placed[node_id]
        phase, status = _node_state(rows.get(node_id))
        kids = children.get(node_id, [])
        tip = f"{node_id} {names[node_id]}: {phase}"
        if kids and not rows[node_id]["extra"].get("items"):
            listed = ", ".join(_inner_id(node_id, k["node_id"]) for k in kids[:_MAX_CHILDREN_LISTED])
            more = f" +{len(kids) - _MAX_CHILDREN_LISTED}" if len(kids) > _MAX_CHILDREN_LISTED else ""
            if rows[node_id]["extra"].get("kind") == "branch_node":
                status = f"branch took {listed}"
            else:
                status = f"{len(kids)} inner: {listed}{more}"
            tip += f"; inner nodes {listed}{more}"
        title = names[node_id].rsplit(".", 1)[-1] or node_id
        safe = html.escape(node_id)
        parts.append(f'<a href="#node-{safe}" class="gnode" data-node-id="{safe}">'
                     f"<title>{html.escape(tip)}</title>"
                     f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="7" class="phase-{phase}"/>'
                     f'<text x="{x + 10}" y="{y + 20}" class="gname">{html.escape(_fit(node_id + " " + title, 26))}'
                     f'</text><text x="{x + 10}" y="{y + 39}" class="gstatus">{html.escape(_fit(status, 30))}</text>'
                     "</a>")
    parts.append("</svg>")
    return (f'<section class="graph-view"><h2>Graph</h2><div class="scroll">{"".join(parts)}</div>'
            '<p class="hint">Select a node to see its inputs, outputs, error and log below.</p></section>')


def _inner_id(parent: str, child: str) -> str:
    """An inner node's own id: ``n0-0-n1`` (parent n0, attempt 0, node n1) is shown as ``n1``."""
    head, _, rest = child.partition(f"{parent}-")
    return rest.split("-", 1)[-1] if not head and rest[:1].isdigit() and "-" in rest else child


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def timeline_svg(key: Key, nodes: list[dict[str, Any]]) -> str:
    """A Gantt chart of node start and end times: one bar per node row (a retry's attempts are rows too)."""
    import time

    bars = []
    now = time.time()
    for row in nodes:
        if row["node_id"] in _BOUNDARY:
            continue
        closure = row["node"].closure
        if not closure.HasField("started_at"):
            continue
        start = closure.started_at.ToNanoseconds() / 1e9
        end = start + closure.duration.ToNanoseconds() / 1e9 if closure.HasField("duration") else now
        phase = phase_name(closure.phase)
        spans = row["extra"].get("attempts") or []
        if len(spans) > 1 or (spans and row["extra"].get("attempt", 0) >= len(spans)):
            # Retried: one bar per attempt; every attempt but the last failed, the last has the node's phase.
            running = row["extra"].get("attempt", 0) >= len(spans)  # an attempt started and not yet ended
            for number, (begun, ended) in enumerate(spans):
                last = number == len(spans) - 1 and not running
                bars.append((begun, max(ended, begun), f"{row['node_id']} #{number + 1}",
                             phase if last else "FAILED", row["parent_id"], row["node_id"]))
            if running:
                bars.append((spans[-1][1], max(end, spans[-1][1]), f"{row['node_id']} #{len(spans) + 1}", phase,
                             row["parent_id"], row["node_id"]))
            continue
        bars.append((start, max(end, start), row["node_id"], phase, row["parent_id"], row["node_id"]))
    if not bars:
        return ""
    bars.sort(key=lambda bar: (bar[0], bar[2]))
    hidden = len(bars) - MAX_TIMELINE_BARS
    bars = bars[:MAX_TIMELINE_BARS]
    first = min(bar[0] for bar in bars)
    span = max(max(bar[1] for bar in bars) - first, 1e-3)
    scale = (TIMELINE_W - 60) / span
    height = PAD + len(bars) * (BAR_H + 6) + 24
    width = LABEL_W + TIMELINE_W
    parts = [f'<svg class="timeline" role="img" aria-label="timeline, {len(bars)} bars" '
             f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for tick in range(5):
        x = LABEL_W + tick * (TIMELINE_W - 60) / 4
        parts.append(f'<line class="tick" x1="{x:.1f}" y1="{PAD - 6}" x2="{x:.1f}" y2="{height - 20}"/>'
                     f'<text class="ticklabel" x="{x:.1f}" y="{height - 6}">{seconds_text(span * tick / 4)}</text>')
    for index, (start, end, name, phase, parent, node_id) in enumerate(bars):
        y = PAD + index * (BAR_H + 6)
        x = LABEL_W + (start - first) * scale
        w = max((end - start) * scale, 2)
        label = ("  " if parent else "") + name
        safe = html.escape(name)
        parts.append(f'<g class="bar" data-node-id="{html.escape(node_id)}"><title>{safe}: {phase}, '
                     f'{seconds_text(end - start)}</title>'
                     f'<text class="barlabel" x="4" y="{y + 13}">{html.escape(_fit(label, 30))}</text>'
                     f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H}" rx="3" class="phase-{phase}"/>'
                     f'<text class="bartime" x="{x + w + 4:.1f}" y="{y + 13}">{seconds_text(end - start)}</text></g>')
    parts.append("</svg>")
    more = f'<p class="hint">{hidden} later bars not shown.</p>' if hidden > 0 else ""
    return f'<section class="timeline-view"><h2>Timeline</h2><div class="scroll">{"".join(parts)}</div>{more}</section>'
