"""The console: server-rendered pages for executions, refreshed by a little JavaScript while a run is live.

``/console`` lists recent executions; ``/console/projects/{p}/domains/{d}/executions/{name}`` (the URL
``flyrun run --remote`` prints) shows one: its nodes with phases, durations, inputs, outputs and errors, and the
gates waiting for someone (Approve/Reject, or a typed form for ``wait_for_input``). Actions call the REST API
(``POST /api/v1/signals``, ``DELETE /api/v1/executions/...``) like any client.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flyrun.sandbox.admin import registry
from flyrun.sandbox.admin.wire import ApiError, load
from flyrun.sandbox.console import entities
from flyrun.sandbox.console.graph import graph_svg, timeline_svg
from flyrun.sandbox.console.view import (
    deck_needs_scripts,
    decoded_nodes,
    duration_text,
    literal_map_rows,
    node_row,
    phase_name,
    time_text,
)
from flyrun.sandbox.engine.records import RUNNING, WF_FINAL
from flyrun.sandbox.gate import DECK_POLICY, DECK_SCRIPT_POLICY
from flyrun.sandbox.services import Services
from flyrun.sandbox.state.store import Key

_STATIC = {"console.js": "application/javascript", "console.css": "text/css"}
_BOUNDARY = ("start-node", "end-node")
_MAX_ITEMS_SHOWN = 20
LOG_TAIL_BYTES = 1_000_000


def handle(sb: Services, endpoint: str, request: Any, values: Mapping[str, Any], authorized: bool = True) -> Any:
    """A console page; with ``--auth`` and no bearer token, an empty page whose script signs in first."""
    from werkzeug.utils import redirect
    from werkzeug.wrappers import Response

    if endpoint == "console_home" and request.path == "/":
        return redirect("/console")
    if endpoint == "console_static":
        return _static(values["name"])
    fragment = bool(request.args.get("fragment"))
    title, region = _title(endpoint, values)
    if not authorized and endpoint == "console_deck" and "signature" in request.args:
        problem = sb.signer.verify("GET", deck_key(values), request.args.get("expires", ""),
                                   request.args.get("signature", ""))
        if problem:
            return Response(f"{problem}: reload the execution page for a fresh deck link\n", status=403,
                            content_type="text/plain")
        authorized = True  # the console page that framed it was signed in
    if not authorized:
        if fragment or endpoint in ("console_log", "console_deck"):
            return Response("sign in first", status=401, content_type="text/plain")
        return _page(title, f'<div id="{region}" data-auth="required"></div>')
    if endpoint == "console_log":
        return _log(sb, Key(values["project"], values["domain"], values["name"]), values["node"])
    if endpoint == "console_deck":
        return _deck(sb, Key(values["project"], values["domain"], values["name"]), values["node"])
    body, status = _body(sb, endpoint, values, request.args)
    if fragment:
        return Response(body, status=status, content_type="text/html; charset=utf-8")
    return _page(title, f'<div id="{region}">{body}</div>', status=status)


def _title(endpoint: str, values: Mapping[str, Any]) -> tuple[str, str]:
    if endpoint == "console_home":
        return "Executions", "content"
    if endpoint == "console_list":
        return f"Executions in {values['project']}/{values['domain']}", "content"
    if endpoint == "console_entities":
        return "Registered", "content"
    if endpoint == "console_entity":
        kind = values["kind"][:-1].replace("_", " ")
        return f"{kind[0].upper()}{kind[1:]} {values['name']}", "content"
    return f"Execution {values.get('name', '')}", "execution"


def _body(sb: Services, endpoint: str, values: Mapping[str, Any], args: Mapping[str, str]) -> tuple[str, int]:
    if endpoint in ("console_home", "console_list"):
        return _executions_page(sb, values, args)
    if endpoint == "console_entities":
        return entities.entities_page(sb)
    if endpoint == "console_entity":
        return entities.entity_page(sb, values, args)
    key = Key(values["project"], values["domain"], values["name"])
    row = sb.store.execution(key)
    if row is None:
        return (f"<p>No execution {html.escape(key.name)} in {html.escape(key.project)}/"
                f"{html.escape(key.domain)}.</p>", 404)
    expand = [part for part in args.get("expand", "").split(",") if part.strip()]
    return execution_fragment(sb, key, row, expand), 200


def _static(name: str) -> Any:
    from importlib import resources

    from werkzeug.wrappers import Response

    if name not in _STATIC:
        return Response("not found", status=404)
    text = resources.files("flyrun.sandbox.console").joinpath("static").joinpath(name).read_text()
    return Response(text, content_type=_STATIC[name])


def _page(title: str, body: str, status: int = 200) -> Any:
    from werkzeug.wrappers import Response

    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · flyrun sandbox</title>
<link rel="stylesheet" href="/console/static/console.css"></head>
<body><header><a href="/console">flyrun sandbox</a> · <a href="/console">Executions</a>
 · <a href="/console/entities">Registered</a></header>
<main><h1>{html.escape(title)}</h1>{body}</main>
<script src="/console/static/console.js"></script></body></html>"""
    return Response(document, status=status, content_type="text/html; charset=utf-8")


def _executions_page(sb: Services, values: Mapping[str, Any], args: Mapping[str, str]) -> tuple[str, int]:
    """The executions list, filtered by phase, workflow (launch plan) name and start date, a page at a time.

    The filter form is a GET form, so a filtered view (and each of its pages) is a link that can be shared.
    """
    import datetime

    from flyteidl.core import execution_pb2 as core

    phases = core.WorkflowExecution.Phase
    phase = args.get("phase", "").strip().upper()
    workflow = args.get("workflow", "").strip()
    since = args.get("since", "").strip()
    form = _filter_form(phase, workflow, since)
    if phase and phase not in phases.keys():
        known = ", ".join(phases.keys())
        return (f'<p class="error">Unknown phase {html.escape(phase)!r}: use one of {html.escape(known)}, '
                f"or leave it empty.</p>{form}", 400)
    try:
        after = datetime.datetime.strptime(since, "%Y-%m-%d").timestamp() if since else None
    except ValueError:
        return (f'<p class="error">Cannot read the date {html.escape(since)!r}: write it as YYYY-MM-DD, or leave it '
                f"empty.</p>{form}", 400)
    number = args.get("page", "1")
    if not number.isdigit() or int(number) < 1:
        return f'<p class="error">page must be a whole number from 1, not {html.escape(number)!r}.</p>{form}', 400
    page = int(number)
    filtered = bool(phase or workflow or since)
    # Unfiltered, only as many rows as this page and the "Older" link need.
    wanted = _MAX_SEARCHED if filtered or "project" in values else min(page * _MAX_LISTED + 1, _MAX_SEARCHED)
    rows = sb.store.recent_executions(wanted)
    if "project" in values:
        rows = [r for r in rows if (r["project"], r["domain"]) == (values["project"], values["domain"])]
    if phase:
        rows = [r for r in rows if r["phase"] == phases.Value(phase)]
    if after is not None:
        rows = [r for r in rows if r["created_at"] >= after]
    if workflow:
        rows = [r for r in rows if workflow.lower() in _launched(r).spec.launch_plan.name.lower()]
    shown = rows[(page - 1) * _MAX_LISTED:page * _MAX_LISTED]
    pager = []
    if page > 1:
        pager.append(f'<a rel="prev" href="{html.escape(_page_link(args, page - 1))}">Newer</a>')
    if len(rows) > page * _MAX_LISTED:
        pager.append(f'<a rel="next" href="{html.escape(_page_link(args, page + 1))}">Older</a>')
    nav = f'<nav class="pager">{" · ".join(pager)}</nav>' if pager else ""
    return form + _executions_table(shown, filtered) + nav, 200


_MAX_LISTED, _MAX_SEARCHED = 100, 5000  # a page; and the most recent executions a filter searches


def _launched(row: Any) -> Any:
    from flyteidl.admin import execution_pb2

    return load(execution_pb2.Execution(), row["body"])


def _page_link(args: Mapping[str, str], page: int) -> str:
    from urllib.parse import urlencode

    query = {name: args[name] for name in ("phase", "workflow", "since") if args.get(name)}
    return "?" + urlencode({**query, "page": page})


def _filter_form(phase: str, workflow: str, since: str) -> str:
    from flyteidl.core import execution_pb2 as core

    options = ['<option value="">any phase</option>'] + [
        f'<option{" selected" if name == phase else ""}>{name}</option>'
        for name in core.WorkflowExecution.Phase.keys() if name != "UNDEFINED"]
    return ('<form class="filters" method="get"><label>Phase <select name="phase">' + "".join(options) +
            '</select></label><label>Workflow name contains <input name="workflow" value="'
            f'{html.escape(workflow)}"></label><label>Created on or after <input name="since" type="date" '
            f'value="{html.escape(since)}"></label><button type="submit">Filter</button>'
            '<a href="?">Clear</a></form>')


def _executions_table(rows: list[Any], filtered: bool = False) -> str:
    if not rows:
        if filtered:
            return '<p class="empty">No executions match these filters.</p>'
        return "<p>No executions yet. Start one with <code>flyrun run --remote FILE WORKFLOW</code>.</p>"
    lines = ['<table class="executions"><thead><tr><th>Execution</th><th>Project/domain</th><th>Launched</th>'
             "<th>Phase</th><th>Created</th><th>Duration</th></tr></thead><tbody>"]
    for row in rows:
        execution = _launched(row)
        link = f"/console/projects/{row['project']}/domains/{row['domain']}/executions/{row['name']}"
        phase = phase_name(execution.closure.phase, workflow=True)
        lines.append(f'<tr><td><a href="{html.escape(link)}">{html.escape(row["name"])}</a></td>'
                     f"<td>{html.escape(row['project'])}/{html.escape(row['domain'])}</td>"
                     f"<td>{html.escape(execution.spec.launch_plan.name)}</td>"
                     f'<td><span class="phase phase-{phase}">{phase}</span></td>'
                     f"<td>{time_text(execution.closure.created_at)}</td>"
                     f"<td>{duration_text(execution.closure)}</td></tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


def execution_fragment(sb: Services, key: Key, row: Any, expand: list[str] | None = None) -> str:
    """The live part of the execution page (re-fetched with ``?fragment=1`` while the run is not final).

    ``expand`` names the subworkflow, launch plan and dynamic nodes (unique ids) the graph draws opened.
    """
    from flyteidl.admin import execution_pb2

    execution = load(execution_pb2.Execution(), row["body"])
    closure = execution.closure
    phase = phase_name(closure.phase, workflow=True)
    final = closure.phase in WF_FINAL
    parts = [f'<section class="summary" data-phase="{phase}" data-final="{str(final).lower()}" '
             f'data-project="{html.escape(key.project)}" data-domain="{html.escape(key.domain)}" '
             f'data-name="{html.escape(key.name)}">',
             f'<p><span class="phase phase-{phase}" id="execution-phase">{phase}</span> '
             f"{html.escape(execution.spec.launch_plan.name)} <small>version "
             f"{html.escape(execution.spec.launch_plan.version)}</small></p>",
             f"<p>Created {time_text(closure.created_at)} · duration {duration_text(closure)}</p>"]
    if execution.spec.metadata.HasField("parent_node_execution"):  # a launch plan node's or an eager call's
        parent = execution.spec.metadata.parent_node_execution
        link = (f"/console/projects/{parent.execution_id.project}/domains/{parent.execution_id.domain}/executions/"
                f"{parent.execution_id.name}")
        parts.append(f'<p class="parent">Launched by <a href="{html.escape(link)}">'
                     f"{html.escape(parent.execution_id.name)}</a> (node {html.escape(parent.node_id)})</p>")
    if closure.HasField("error"):
        parts.append(f'<pre class="error">{html.escape(closure.error.message[-4000:])}</pre>')
    if closure.HasField("abort_metadata"):
        parts.append(f'<p class="error">Terminated: {html.escape(closure.abort_metadata.cause)}</p>')
    if not final:
        parts.append('<button class="terminate" type="button">Terminate</button>')
    plan_id = execution.spec.launch_plan
    if plan_id.resource_type == entities.LAUNCH_PLAN:
        from urllib.parse import quote

        link = entities.entity_link(key.project, key.domain, entities.LAUNCH_PLAN, plan_id.name, plan_id.version)
        parts.append(f' <a class="relaunch" href="{html.escape(link)}&amp;relaunch={quote(key.name)}">Relaunch '
                     "with these inputs</a>")
    parts.append("</section>")
    nodes = decoded_nodes(sb.store.all_nodes(key))
    parts.append(_gates(nodes))
    parts.append(graph_svg(row["plan"], nodes, [part.strip() for part in expand or ()],
                           lambda ref: _launch_plan_closure(sb, ref)))
    parts.append(timeline_svg(key, nodes))
    parts.append(_io_section("Inputs", row["inputs"], None))
    if closure.outputs.uri:
        parts.append(_io_section("Outputs", None, closure.outputs.uri))
    parts.append(_nodes_table(key, nodes, _deck_signer(sb, key)))
    children = sb.store.child_executions(key)
    if children:
        parts.append(f'<section class="children"><h2>Child executions</h2>{_executions_table(children)}</section>')
    return "".join(parts)


def _launch_plan_closure(sb: Services, reference: Any) -> Any:
    """The compiled workflow a launch plan node runs (the graph draws it when the node is expanded), or None."""

    try:
        plan = registry.get_launch_plan_by_id(sb.store, reference)
        return registry.get_workflow_by_id(sb.store, plan.spec.workflow_id).closure.compiled_workflow
    except ApiError:
        return None


def _io_section(title: str, data: bytes | None, path: str | None) -> str:
    from flyteidl.core import literals_pb2

    literals = literals_pb2.LiteralMap()
    if data is not None:
        load(literals, data)
    elif path and Path(path).exists():
        literals.ParseFromString(Path(path).read_bytes())
    rows = literal_map_rows(literals)
    if not rows:
        return ""
    cells = "".join(f"<tr><th>{html.escape(name)}</th><td><code>{html.escape(text)}</code></td></tr>"
                    for name, text in rows)
    return f'<section class="io"><h2>{title}</h2><table>{cells}</table></section>'


def _gates(nodes: list[Any]) -> str:
    """A card for every gate waiting for its signal: Approve/Reject, or a form for the typed value."""
    cards = []
    for row in nodes:
        gate = row["extra"].get("gate")
        if row["phase"] != RUNNING or not gate:
            continue
        signal_id = html.escape(gate["signal_id"])
        if gate["kind"] == "approve":
            controls = ('<button class="approve" type="button">Approve</button> '
                        '<button class="reject" type="button">Reject</button>')
        else:
            type_json = html.escape(json.dumps(gate.get("type", {})))
            controls = (f'<form class="signal-form" data-type="{type_json}">'
                        f'<label>Value ({html.escape(_type_label(gate.get("type", {})))}): '
                        '<input name="value" required></label> <button type="submit">Send</button></form>')
        cards.append(f'<div class="gate" data-signal-id="{signal_id}"><p>Gate <strong>{signal_id}</strong> '
                     f"(node {html.escape(row['node_id'])}) is waiting.</p>{controls}"
                     '<p class="gate-error" hidden></p></div>')
    return f'<section class="gates"><h2>Waiting for you</h2>{"".join(cards)}</section>' if cards else ""


def _type_label(literal_type: dict[str, Any]) -> str:
    if "simple" in literal_type:
        return str(literal_type["simple"]).lower()
    return "Literal JSON"


DECK_LINK_SECONDS = 3600


def deck_key(values: Mapping[str, Any]) -> str:
    """What a signed deck link signs: one node's deck in one execution."""
    return f"deck/{values['project']}/{values['domain']}/{values['name']}/{values['node']}"


def _deck_signer(sb: Services, key: Key) -> Callable[[str], str] | None:
    """With ``--auth``, a deck's iframe carries a signed query: a frame's request cannot send the bearer token."""
    if getattr(sb, "auth", None) is None:
        return None
    values = {"project": key.project, "domain": key.domain, "name": key.name}
    return lambda node_id: "?" + sb.signer.query("GET", deck_key({**values, "node": node_id}), DECK_LINK_SECONDS)


def _nodes_table(key: Key, nodes: list[Any], deck_query: Callable[[str], str] | None = None) -> str:
    children: dict[str | None, list[Any]] = defaultdict(list)
    for row in nodes:
        if row["node_id"] not in _BOUNDARY:
            children[row["parent_id"]].append(row)
    lines = ['<section><h2>Nodes</h2><table class="nodes"><thead><tr><th>Node</th><th>Kind</th><th>Phase</th>'
             "<th>Started</th><th>Duration</th><th>Inputs</th><th>Outputs</th><th>Error</th></tr></thead><tbody>"]
    _node_rows(key, children, None, 0, lines, deck_query)
    lines.append("</tbody></table></section>")
    return "".join(lines)


def _node_rows(key: Key, children: dict[str | None, list[Any]], parent: str | None, depth: int,
               lines: list[str], deck_query: Callable[[str], str] | None = None) -> None:
    rows = children.get(parent, [])
    if parent is not None:  # a parent's children in id order: array items by index, not by start time
        rows = sorted(rows, key=lambda r: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", r["node_id"])])
    # Every node of the workflow itself has a row (the graph links to it); a map's items are capped.
    shown = rows
    if parent is not None and len(rows) > _MAX_ITEMS_SHOWN:
        shown = [r for r in rows if r["phase"] != 3][:_MAX_ITEMS_SHOWN]
    for row in shown:
        lines.append(node_row(key, row, depth, deck_query))
        _node_rows(key, children, row["node_id"], depth + 1, lines, deck_query)
    if len(shown) < len(rows):
        lines.append(f'<tr class="depth-{depth}"><td colspan="8">… {len(rows) - len(shown)} more succeeded '
                     "items not shown</td></tr>")


def _log(sb: Services, key: Key, node_id: str) -> Any:
    from werkzeug.wrappers import Response

    row = sb.store.node(key, node_id)
    log = json.loads(row["extra"]).get("log") if row is not None else None
    try:
        with open(log or "", "rb") as handle:  # the last megabyte only: seek, never read a whole big log
            handle.seek(max(0, handle.seek(0, 2) - LOG_TAIL_BYTES))
            tail = handle.read(LOG_TAIL_BYTES)
    except OSError:
        return Response("no log for this node\n", status=404, content_type="text/plain")
    return Response(tail, content_type="text/plain; charset=utf-8")


def _deck(sb: Services, key: Key, node_id: str) -> Any:
    """A node's deck, as a document of its own under the gate's deck policy (sandboxed; framable by the console)."""
    from flyteidl.admin import node_execution_pb2
    from werkzeug.wrappers import Response

    row = sb.store.node(key, node_id)
    deck = load(node_execution_pb2.NodeExecution(), row["body"]).closure.deck_uri if row is not None else ""
    if not deck or not Path(deck).is_file():
        return Response("no deck for this node\n", status=404, content_type="text/plain")
    policy = DECK_SCRIPT_POLICY if deck_needs_scripts(deck) else DECK_POLICY
    return Response(Path(deck).read_bytes(), content_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": policy})
