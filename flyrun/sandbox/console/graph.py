"""The execution page's pictures, drawn on the server as SVG: the workflow graph and the timeline of its nodes.

Both are plain markup the page's stylesheet colours by phase (``class="phase-…"``), so they need no script (the
console's Content-Security-Policy forbids inline scripts and styles) and refresh with the rest of the page's live
fragment. The graph comes from the execution's compiled workflow (its plan), the phases from the node rows.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flyrun.sandbox.admin.compiler import entity_key
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


def _upstream_of(nodes: Any, connections: Any = None) -> tuple[dict[str, set[str]], dict[str, str], dict[str, Any]]:
    """Each node's upstream nodes (the compiler's connections, the node's own list, its input promises), its name
    and the node itself."""
    upstream: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    found: dict[str, Any] = {}
    for node in nodes:  # one pass: each access to a repeated protobuf field builds new wrappers
        upstream[node.id] = set(node.upstream_node_ids)
        names[node.id] = node.metadata.name
        found[node.id] = node
        for binding in node.inputs:
            _promises(binding.binding, upstream[node.id])
    if connections is not None:
        for node_id, ids in connections.upstream.items():
            if node_id in upstream:
                upstream[node_id].update(ids.ids)
    return ({node_id: {u for u in ids if u in upstream and u != node_id} for node_id, ids in upstream.items()},
            names, found)


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


def layout(upstream: dict[str, set[str]], order: list[str], sizes: dict[str, tuple[int, int]] | None = None
           ) -> tuple[dict[str, tuple[int, int]], int, int]:
    """Each node's top-left corner, and the picture's width and height.

    Nodes are ``NODE_W`` x ``NODE_H`` unless ``sizes`` says otherwise (an expanded node holds its inner graph).
    """
    sizes = sizes or {}
    depth = depths(upstream)
    levels: dict[int, list[str]] = defaultdict(list)
    for node_id in order:
        levels[depth[node_id]].append(node_id)
    rows: list[list[str]] = []
    for level in sorted(levels):
        members = levels[level]
        rows.extend(members[start:start + MAX_PER_ROW] for start in range(0, len(members), MAX_PER_ROW))
    fixed = (NODE_W, NODE_H)
    widths = [sum(sizes.get(n, fixed)[0] for n in row) + (len(row) - 1) * GAP_X for row in rows]
    width = PAD * 2 + max(widths, default=NODE_W)
    placed = {}
    top = PAD
    for row, row_width in zip(rows, widths):
        left = PAD + (width - 2 * PAD - row_width) // 2  # centre each row under the widest one
        for node_id in row:
            placed[node_id] = (left, top)
            left += sizes.get(node_id, fixed)[0] + GAP_X
        top += max(sizes.get(n, fixed)[1] for n in row) + GAP_Y
    height = top - (GAP_Y if rows else 0) + PAD
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


class _Graph:
    """One level of the picture: a workflow's nodes (boundary nodes left out) and their upstream nodes."""

    def __init__(self, nodes: Any, connections: Any = None) -> None:
        every, self.names, self.nodes = _upstream_of(nodes, connections)
        self.order = [node_id for node_id in every if node_id not in _BOUNDARY]
        upstream = {n: ids for n, ids in every.items() if n not in _BOUNDARY}
        self.upstream = {n: {u for u in ids if u in upstream} for n, ids in upstream.items()}


# Subworkflow templates by id, with their compiled connections when the plan has them.
Subworkflows = dict[tuple[str, str, str, str], tuple[Any, Any]]
CLUSTER_HEAD = 34


class _Drawing:
    """What drawing a graph and the inner graphs of its expanded nodes shares."""

    def __init__(self, nodes: list[dict[str, Any]], expanded: set[str],
                 launch_plan: Callable[[Any], Any] | None) -> None:
        self.rows = {row["node_id"]: row for row in nodes}
        self.children: dict[str, list[Any]] = defaultdict(list)
        for row in nodes:
            if row["parent_id"] is not None:
                self.children[row["parent_id"]].append(row)
        self.expanded = expanded
        self.used: set[str] = set()
        self.launch_plan = launch_plan

    def toggle(self, unique: str) -> str:
        """The link that expands (or collapses) one node and keeps the others as they are."""
        from urllib.parse import urlencode

        chosen = self.expanded ^ {unique}
        return ("?" + urlencode({"expand": ",".join(sorted(chosen))}, safe=",") if chosen else "?") + "#graph"

    def expandable(self, graph: _Graph, local: str, unique: str) -> bool:
        row = self.rows.get(unique)
        return graph.nodes[local].WhichOneof("target") == "workflow_node" or bool(
            row is not None and row["extra"].get("futures"))

    def inner(self, node: Any, unique: str, subs: Subworkflows) -> tuple[_Graph, str, Subworkflows] | None:
        """An expandable node's inner graph, the id prefix of its nodes' rows, and the subworkflows it can use."""

        kind = node.WhichOneof("target")
        if kind == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref"):
            found = subs.get(entity_key(node.workflow_node.sub_workflow_ref))
            return (_Graph(found[0].nodes, found[1]), f"{unique}-0-", subs) if found else None
        if kind == "workflow_node" and self.launch_plan is not None:
            closure = self.launch_plan(node.workflow_node.launchplan_ref)
            if closure is None:
                return None
            return (_Graph(closure.primary.template.nodes, closure.primary.connections), f"{unique}-0-",
                    {**subs, **_compiled_subworkflows(closure)})
        extra = self.rows[unique]["extra"] if unique in self.rows else {}
        spec = _dynamic_spec(extra["futures"]) if kind == "task_node" and extra.get("futures") else None
        if spec is None:
            return None
        more = {entity_key(sub.id): (sub, None) for sub in spec.subworkflows}
        return _Graph(spec.nodes), f"{unique}-{extra.get('futures_attempt', 0)}-", {**subs, **more}


def _compiled_subworkflows(closure: Any) -> Subworkflows:
    return {entity_key(sub.template.id): (sub.template, sub.connections) for sub in closure.sub_workflows}


def _dynamic_spec(path: str) -> Any:
    """The DynamicJobSpec a dynamic task wrote (its generated graph), or None if it cannot be read."""
    from flyteidl.core import dynamic_job_pb2
    from google.protobuf.message import DecodeError

    spec = dynamic_job_pb2.DynamicJobSpec()
    try:
        spec.ParseFromString(Path(path).read_bytes())
    except (OSError, DecodeError):  # a missing or damaged file only means the node cannot be expanded
        return None
    return spec


def graph_svg(plan_bytes: bytes | None, nodes: list[dict[str, Any]], expanded: Iterable[str] = (),
              launch_plan: Callable[[Any], Any] | None = None) -> str:
    """The workflow graph (nodes from ``decoded_nodes``): top to bottom by depth, each a link to its table row.

    Subworkflow, launch plan and dynamic nodes whose unique ids are in ``expanded`` are drawn as a box holding
    their inner graph (recursively), from the plan's subworkflows, ``launch_plan(ref)`` (a compiled closure or
    None) and the ``futures.pb`` the dynamic task wrote. Every other node has a toggle link that expands it.
    """
    from flyteidl.core import compiler_pb2

    plan = load(compiler_pb2.CompiledWorkflowClosure(), plan_bytes)
    graph = _Graph(plan.primary.template.nodes, plan.primary.connections)
    if not graph.order:
        return ""
    drawing = _Drawing(nodes, set(expanded), launch_plan)
    body, width, height = _draw(drawing, graph, "", _compiled_subworkflows(plan))
    parts = [f'<svg class="graph" role="img" aria-label="workflow graph, {len(graph.order)} nodes" '
             f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="edge-head"/></marker></defs>',
             *body, "</svg>"]
    unknown = sorted(drawing.expanded - drawing.used)
    note = (f'<p class="hint error">Not expanded: {html.escape(", ".join(unknown))} (no subworkflow or dynamic node '
            'with that id is shown; expand its parent first, or remove it from the link).</p>') if unknown else ""
    return (f'<section class="graph-view" id="graph"><h2>Graph</h2>{note}<div class="scroll">{"".join(parts)}'
            '</div><p class="hint">Select a node to see its inputs, outputs, error, log and deck below; + expands a '
            "subworkflow, launch plan or dynamic node in place.</p></section>")


def _draw(d: _Drawing, graph: _Graph, prefix: str, subs: Subworkflows) -> tuple[list[str], int, int]:
    """One graph's nodes and edges at (0, 0), expanded nodes holding their own inner graphs."""
    sizes: dict[str, tuple[int, int]] = {}
    inner: dict[str, tuple[list[str], int]] = {}
    for local in graph.order:
        unique = prefix + local
        if unique not in d.expanded:
            continue
        found = d.inner(graph.nodes[local], unique, subs)
        if found is None:
            continue
        d.used.add(unique)
        body, width, height = _draw(d, *found)
        box_width = max(width, NODE_W)
        sizes[local] = (box_width, height + CLUSTER_HEAD)
        inner[local] = (body, (box_width - width) // 2)
    placed, picture_width, picture_height = layout(graph.upstream, graph.order, sizes)
    fixed = (NODE_W, NODE_H)
    parts = []
    for node_id in graph.order:
        x2, y2 = placed[node_id]
        w2 = sizes.get(node_id, fixed)[0]
        for up in sorted(graph.upstream[node_id]):
            x1, y1 = placed[up]
            w1, h1 = sizes.get(up, fixed)
            sx, sy, ex, ey = x1 + w1 // 2, y1 + h1, x2 + w2 // 2, y2
            mid = (sy + ey) // 2
            parts.append(f'<path class="edge" d="M{sx},{sy} C{sx},{mid} {ex},{mid} {ex},{ey - 2}" '
                         'marker-end="url(#arrow)"/>')
    for node_id in graph.order:
        unique = prefix + node_id
        x, y = placed[node_id]
        row = d.rows.get(unique)
        phase, status = _node_state(row)
        kids = d.children.get(unique, [])
        tip = f"{unique} {graph.names[node_id]}: {phase}"
        if kids and row is not None and not row["extra"].get("items"):
            listed = ", ".join(_inner_id(unique, k["node_id"]) for k in kids[:_MAX_CHILDREN_LISTED])
            more = f" +{len(kids) - _MAX_CHILDREN_LISTED}" if len(kids) > _MAX_CHILDREN_LISTED else ""
            if row["extra"].get("kind") == "branch_node":
                status = f"branch took {listed}"
            else:
                status = f"{len(kids)} inner: {listed}{more}"
            tip += f"; inner nodes {listed}{more}"
        title = graph.names[node_id].rsplit(".", 1)[-1] or node_id
        safe = html.escape(unique)
        label = html.escape(_fit(node_id + " " + title, 26))
        if node_id in inner:
            body, offset = inner[node_id]
            width, height = sizes[node_id]
            parts.append(f'<g class="cluster" data-node-id="{safe}"><rect x="{x}" y="{y}" width="{width}" '
                         f'height="{height}" rx="9" class="cluster phase-{phase}"/>'
                         f'<a href="#node-{safe}" class="gnode gnode-open" data-node-id="{safe}">'
                         f"<title>{html.escape(tip)}</title>"
                         f'<text x="{x + 10}" y="{y + 21}" class="gname">'
                         f"{html.escape(_fit(f'{node_id} {title}', (width - 44) // 8))}</text></a>"
                         f'{_toggle(d, unique, x + width, y, opened=True)}'
                         f'<g transform="translate({x + offset},{y + CLUSTER_HEAD})">{"".join(body)}</g></g>')
            continue
        parts.append(f'<a href="#node-{safe}" class="gnode" data-node-id="{safe}">'
                     f"<title>{html.escape(tip)}</title>"
                     f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="7" class="phase-{phase}"/>'
                     f'<text x="{x + 10}" y="{y + 20}" class="gname">{label}'
                     f'</text><text x="{x + 10}" y="{y + 39}" class="gstatus">{html.escape(_fit(status, 30))}</text>'
                     "</a>")
        if d.expandable(graph, node_id, unique):
            parts.append(_toggle(d, unique, x + NODE_W, y, opened=False))
    return parts, picture_width, picture_height


def _toggle(d: _Drawing, unique: str, right: int, top: int, opened: bool) -> str:
    """The +/− link at a node's top-right corner: a link, so Tab reaches it and Enter follows it."""
    verb = "collapse" if opened else "expand"
    safe = html.escape(unique)
    return (f'<a href="{html.escape(d.toggle(unique))}" class="gtoggle" data-toggle="{safe}" '
            f'aria-label="{verb} {safe}"><title>{verb} {safe}</title>'
            f'<rect x="{right - 26}" y="{top + 4}" width="22" height="20" rx="4" class="toggle"/>'
            f'<text x="{right - 15}" y="{top + 19}" class="gtoggle-sign">{"−" if opened else "+"}</text></a>')


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
