"""Registered entities in the console: what is registered, each name's versions and interface, and a launch form.

The launch form is built from a launch plan's interface (typed fields, defaults filled in, fixed inputs shown
read-only); console.js turns it into ``POST /api/v1/executions``, so an execution launched from the browser goes
through the same admin handler, checks and errors as one launched by any client.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from flyrun.protocol.literals import display_text
from flyrun.sandbox.admin.wire import load
from flyrun.sandbox.console.view import time_text
from flyrun.sandbox.services import Services
from flyrun.sandbox.state.store import Key

TASK, WORKFLOW, LAUNCH_PLAN = 1, 2, 3
KINDS = {"tasks": TASK, "workflows": WORKFLOW, "launch_plans": LAUNCH_PLAN}
_KIND_TITLES = {TASK: "Tasks", WORKFLOW: "Workflows", LAUNCH_PLAN: "Launch plans"}
_KIND_PATHS = {number: path for path, number in KINDS.items()}
_FORM_SIMPLE = ("INTEGER", "FLOAT", "STRING", "BOOLEAN", "DATETIME", "DURATION")


def entity_link(project: str, domain: str, kind: int, name: str, version: str = "") -> str:
    from urllib.parse import quote

    link = f"/console/projects/{quote(project)}/domains/{quote(domain)}/{_KIND_PATHS[kind]}/{quote(name)}"
    return link + (f"?version={quote(version)}" if version else "")


def entities_page(sb: Services) -> tuple[str, int]:
    """Every registered name, grouped by project/domain and kind, with its number of versions."""
    rows = sb.store.entity_names()
    if not rows:
        return ("<p>Nothing is registered yet. Register with <code>flyrun register</code> or run with "
                "<code>flyrun run --remote</code>.</p>"), 200
    parts = []
    group = None
    for row in rows:
        if (row["project"], row["domain"], row["resource_type"]) != group:
            if group is not None:
                parts.append("</tbody></table>")
            group = (row["project"], row["domain"], row["resource_type"])
            parts.append(f'<h2>{_KIND_TITLES.get(row["resource_type"], "Entities")} in '
                         f'{html.escape(row["project"])}/{html.escape(row["domain"])}</h2>'
                         f'<table class="entities"><thead><tr><th>Name</th><th>Versions</th>'
                         "<th>Last registered</th></tr></thead><tbody>")
        link = entity_link(row["project"], row["domain"], row["resource_type"], row["name"])
        parts.append(f'<tr><td><a href="{html.escape(link)}">{html.escape(row["name"])}</a></td>'
                     f'<td>{row["versions"]}</td><td>{_time(row["newest"])}</td></tr>')
    parts.append("</tbody></table>")
    return "".join(parts), 200


def _time(seconds: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def entity_page(sb: Services, values: Mapping[str, Any], args: Mapping[str, str]) -> tuple[str, int]:
    """One name: its versions (newest first), the chosen version's interface and, for a launch plan, the form."""
    kind = KINDS[values["kind"]]
    project, domain, name = values["project"], values["domain"], values["name"]
    versions = sb.store.entity_versions(kind, project, domain, name)
    if not versions:
        return (f'<p class="error">No {values["kind"][:-1].replace("_", " ")} named {html.escape(name)} in '
                f'{html.escape(project)}/{html.escape(domain)}. See <a href="/console/entities">what is '
                "registered</a>.</p>"), 404
    wanted = args.get("version", "")
    chosen = next((row for row in versions if row["version"] == wanted), None) if wanted else versions[0]
    if chosen is None:
        return (f'<p class="error">{html.escape(name)} has no version {html.escape(wanted)!s}; choose one of '
                f'the versions below.</p>{_versions(project, domain, kind, name, versions, "")}'), 404
    parts = [_versions(project, domain, kind, name, versions, chosen["version"])]
    if kind == TASK:
        from flyteidl.admin import task_pb2

        interface = load(task_pb2.Task(), chosen["body"]).closure.compiled_task.template.interface
        parts.append(_interface(interface))
    elif kind == WORKFLOW:
        from flyteidl.admin import workflow_pb2

        interface = load(workflow_pb2.Workflow(), chosen["body"]).closure.compiled_workflow.primary.template.interface
        parts.append(_interface(interface))
        plans = sb.store.entity_versions(LAUNCH_PLAN, project, domain, name)
        if plans:
            link = entity_link(project, domain, LAUNCH_PLAN, name)
            parts.append(f'<p>Launch it from its launch plan <a href="{html.escape(link)}">{html.escape(name)}'
                         "</a>.</p>")
    else:
        from flyteidl.admin import launch_plan_pb2

        plan = load(launch_plan_pb2.LaunchPlan(), chosen["body"])
        workflow = entity_link(project, domain, WORKFLOW, plan.spec.workflow_id.name, plan.spec.workflow_id.version)
        parts.append(f'<p>Runs workflow <a href="{html.escape(workflow)}">{html.escape(plan.spec.workflow_id.name)}'
                     f"</a> version {html.escape(plan.spec.workflow_id.version)}.</p>")
        inputs = {n: p.var.type for n, p in plan.closure.expected_inputs.parameters.items()}
        parts.append(_interface_table(inputs, {n: v.type for n, v in plan.closure.expected_outputs.variables.items()}))
        parts.append(launch_form(sb, plan, args.get("relaunch", "")))
    return "".join(parts), 200


def _versions(project: str, domain: str, kind: int, name: str, versions: list[Any], chosen: str) -> str:
    items = []
    for row in versions[:50]:
        link = entity_link(project, domain, kind, name, row["version"])
        current = ' aria-current="true" class="current"' if row["version"] == chosen else ""
        items.append(f'<li><a href="{html.escape(link)}"{current}>{html.escape(row["version"])}</a> '
                     f'<small>{_time(row["created_at"])}</small></li>')
    more = f"<li>… {len(versions) - 50} older</li>" if len(versions) > 50 else ""
    return f'<section class="versions"><h2>Versions</h2><ul>{"".join(items)}{more}</ul></section>'


def type_label(literal_type: Any) -> str:
    """A LiteralType as a short Python-like name: int, list[str], dict[str, float], file, union[int, str]."""
    kind = literal_type.WhichOneof("type")
    if kind == "simple":
        from flyteidl.core import types_pb2

        return {"INTEGER": "int", "FLOAT": "float", "STRING": "str", "BOOLEAN": "bool", "DATETIME": "datetime",
                "DURATION": "timedelta", "STRUCT": "dict", "NONE": "None", "BINARY": "bytes"}.get(
            types_pb2.SimpleType.Name(literal_type.simple), types_pb2.SimpleType.Name(literal_type.simple).lower())
    if kind == "collection_type":
        return f"list[{type_label(literal_type.collection_type)}]"
    if kind == "map_value_type":
        return f"dict[str, {type_label(literal_type.map_value_type)}]"
    if kind == "blob":
        return "directory" if literal_type.blob.dimensionality == 1 else "file"
    if kind == "union_type":
        return "union[" + ", ".join(type_label(v) for v in literal_type.union_type.variants) + "]"
    if kind == "enum_type":
        return "enum(" + ", ".join(literal_type.enum_type.values) + ")"
    if kind == "structured_dataset_type":
        return "structured dataset"
    return kind or "unknown"


def _interface(interface: Any) -> str:
    return _interface_table({n: v.type for n, v in interface.inputs.variables.items()},
                            {n: v.type for n, v in interface.outputs.variables.items()})


def _interface_table(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> str:
    rows = []
    for title, variables in (("input", inputs), ("output", outputs)):
        for name, literal_type in sorted(variables.items()):
            rows.append(f"<tr><td>{title}</td><th>{html.escape(name)}</th>"
                        f"<td><code>{html.escape(type_label(literal_type))}</code></td></tr>")
    if not rows:
        return "<p>No inputs or outputs.</p>"
    return ('<section class="interface"><h2>Interface</h2><table><thead><tr><th></th><th>Name</th><th>Type</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


def _field_text(literal: Any, simple: str | None) -> str:
    """A literal as a form field's text: a primitive's plain value, anything else its protojson."""
    from google.protobuf import json_format

    if simple and literal.HasField("scalar") and literal.scalar.HasField("primitive"):
        primitive = literal.scalar.primitive
        kind = primitive.WhichOneof("value")
        if kind is None:
            return ""
        value = getattr(primitive, kind)
        if kind in ("datetime", "duration"):
            return value.ToJsonString()
        if kind == "boolean":
            return "true" if value else "false"
        return str(value)
    return json_format.MessageToJson(literal, indent=None)


def launch_form(sb: Services, plan: Any, relaunch: str = "") -> str:
    """A form for the plan's inputs: defaults filled in (or a relaunched execution's inputs), fixed ones read-only."""
    from flyteidl.core import literals_pb2, types_pb2
    from google.protobuf import json_format

    given = literals_pb2.LiteralMap()
    note = ""
    if relaunch:
        row = sb.store.execution(Key(plan.id.project, plan.id.domain, relaunch))
        if row is not None:
            load(given, row["inputs"])
            note = f'<p class="hint">Filled in with the inputs of execution {html.escape(relaunch)}.</p>'
    fields = []
    for name, parameter in sorted(plan.closure.expected_inputs.parameters.items()):
        literal_type = parameter.var.type
        simple = (types_pb2.SimpleType.Name(literal_type.simple) if literal_type.WhichOneof("type") == "simple"
                  else None)
        simple = simple if simple in _FORM_SIMPLE else None
        value = given.literals[name] if name in given.literals else (
            parameter.default if parameter.HasField("default") else None)
        text = _field_text(value, simple) if value is not None else ""
        required = parameter.required and value is None
        type_json = html.escape(json.dumps(json_format.MessageToDict(literal_type)))
        common = (f'name="{html.escape(name)}" data-input="{html.escape(name)}" data-type="{type_json}"'
                  + (" required" if required else ""))
        label = (f'<span>{html.escape(name)} <code>{html.escape(type_label(literal_type))}</code>'
                 + (" (required)" if required else "") + "</span>")
        if simple == "BOOLEAN":
            options = "".join(f'<option{" selected" if text == v else ""}>{v}</option>' for v in ("true", "false"))
            blank = "" if text else '<option value="" selected>choose</option>'
            control = f"<select {common}>{blank}{options}</select>"
        elif simple:
            control = f'<input {common} value="{html.escape(text)}" autocomplete="off">'
        else:
            control = (f'<textarea {common} rows="3" placeholder="the Literal as JSON">{html.escape(text)}'
                       "</textarea>")
        fields.append(f"<label>{label}{control}</label>")
    for name, literal in sorted(plan.spec.fixed_inputs.literals.items()):
        fields.append(f'<label><span>{html.escape(name)} <small>(fixed by the launch plan)</small></span>'
                      f'<input value="{html.escape(display_text(literal))}" readonly class="fixed"></label>')
    identity = html.escape(json.dumps({"resource_type": "LAUNCH_PLAN", "project": plan.id.project,
                                       "domain": plan.id.domain, "name": plan.id.name,
                                       "version": plan.id.version}))
    created = time_text(plan.closure.created_at)
    return (f'<section class="launch-section"><h2>Launch</h2>{note}'
            f'<form class="launch" data-launch-plan="{identity}">{"".join(fields) or "<p>No inputs.</p>"}'
            f'<p class="launch-error" role="alert" hidden></p><button type="submit">Launch</button> '
            f"<small>version {html.escape(plan.id.version)}, registered {created}</small></form></section>")
