"""``flyrun executions list|get|wait|terminate|outputs``: remote executions."""

from __future__ import annotations

from typing import Any

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options
from flyrun.cli.remote_common import admin_client, execution_id, project_domain, project_domain_options

_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=_SETTINGS)
@global_options
def executions() -> None:
    """List, inspect, follow and stop executions on the server."""


def _summary(execution: dict[str, Any]) -> dict[str, Any]:
    closure = execution.get("closure", {})
    spec = execution.get("spec", {})
    launched = spec.get("launch_plan", {})
    parent = (spec.get("metadata") or {}).get("parent_node_execution") or {}  # null when it has none
    return {"name": execution["id"]["name"], "project": execution["id"]["project"],
            "domain": execution["id"]["domain"], "phase": closure.get("phase"),
            "entity": launched.get("name"), "version": launched.get("version"),
            "started_at": closure.get("started_at") or closure.get("created_at"),
            "duration": closure.get("duration"), "error": _error_of(closure),
            "parent": (parent.get("execution_id") or {}).get("name") or None}


def _error_of(closure: dict[str, Any]) -> str | None:
    aborted = closure.get("abort_metadata") or {}
    return (closure.get("error") or {}).get("message") or (f"aborted: {aborted['cause']}"
                                                           if aborted.get("cause") else None)


@executions.command("list", context_settings=_SETTINGS)
@project_domain_options
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@global_options
@click.pass_obj
def list_(app: Application, project: str | None, domain: str | None, limit: int) -> None:
    """The most recent executions, newest first."""
    project, domain = project_domain(app, project, domain)
    with admin_client(app) as client:
        rows = [_summary(e) for e in client.list_executions(project, domain, limit)]
    if app.json_output:
        app.print_json({"executions": rows})
        return
    if not rows:
        app.info(f"No executions in {project}/{domain}.")
    for row in rows:
        app.echo(f"{row['name']:<22} {row['phase'] or '?':<10} {row['entity'] or '?'}  {row['started_at'] or ''}")


@executions.command(context_settings=_SETTINGS)
@click.argument("name")
@project_domain_options
@global_options
@click.pass_obj
def get(app: Application, name: str, project: str | None, domain: str | None) -> None:
    """One execution: its phase, what it runs, its nodes and any error."""
    ident = execution_id(app, name, project, domain)
    with admin_client(app) as client:
        from flyrun.remote.follow import graph_order

        execution = client.get_execution(ident)
        row = _summary(execution)
        listed = [n for n in client.node_executions(ident) if n["id"]["node_id"] not in ("start-node", "end-node")]
        order = graph_order(client, execution)
        listed.sort(key=lambda node: order(node["id"]["node_id"]))
        nodes = [_node_row(n) for n in _with_dynamic_children(client, ident, listed)]
        children = [_summary(e) for e in client.child_executions(ident)]
    if app.json_output:
        app.print_json({**row, "nodes": nodes, "children": children})
        return
    for key in ("name", "phase", "entity", "version", "parent", "started_at", "duration", "error"):
        if row[key]:  # a multi-line error (a traceback) stays aligned under its first line
            app.echo(f"{key + ':':<12}" + str(row[key]).rstrip().replace("\n", "\n" + " " * 12))
    from flyrun.remote.follow import first_line

    for node in nodes:
        app.echo(f"  {node['node_id']}: {node['phase']}" + (f" ({first_line(node['error'])})" if node["error"]
                                                            else ""))
    if children:
        app.echo("children:")
    for child in children:
        app.echo(f"  {child['name']}: {child['phase']} {child['entity'] or '?'}")


def _node_row(node: dict[str, Any]) -> dict[str, Any]:
    closure = node.get("closure", {})
    return {"node_id": node["id"]["node_id"], "phase": closure.get("phase"),
            "error": (closure.get("error") or {}).get("message")}


def _with_dynamic_children(client: Any, ident: Any, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each node followed by the nodes its dynamic task generated (at any depth), in their dn order."""
    import re

    def natural(node: dict[str, Any]) -> list[Any]:
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", node["id"]["node_id"])]

    found: list[dict[str, Any]] = []
    for node in nodes:
        found.append(node)
        if node.get("metadata", {}).get("is_dynamic"):
            children = sorted(client.node_executions(ident, parent=node["id"]["node_id"]), key=natural)
            found.extend(_with_dynamic_children(client, ident, children))
    return found


@executions.command(context_settings=_SETTINGS)
@click.argument("name")
@project_domain_options
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS", help="Give up after SECONDS (exit 7).")
@global_options
@click.pass_obj
def wait(app: Application, name: str, project: str | None, domain: str | None, timeout: float | None) -> None:
    """Follow an execution to its end; exit 0 if it succeeded, 6 if not, 7 on timeout."""
    from flyrun.cli.remote_run import follow_to_outputs

    ident = execution_id(app, name, project, domain)
    document: dict[str, Any] = {"execution": ident.as_dict()}
    with admin_client(app) as client:
        values = follow_to_outputs(app, client, ident, timeout, {}, document)
    _render_outputs(app, ident, values, document)


@executions.command(context_settings=_SETTINGS)
@click.argument("name")
@project_domain_options
@global_options
@click.pass_obj
def outputs(app: Application, name: str, project: str | None, domain: str | None) -> None:
    """The outputs of an execution that succeeded (exit 6 if it failed, 2 if it is still running)."""
    from flyrun.remote.follow import finished_outputs

    ident = execution_id(app, name, project, domain)
    with admin_client(app) as client:
        _render_outputs(app, ident, finished_outputs(client, ident))


@executions.command(context_settings=_SETTINGS)
@click.argument("name")
@project_domain_options
@click.option("--cause", default="terminated with flyrun", show_default=True)
@global_options
@click.pass_obj
def terminate(app: Application, name: str, project: str | None, domain: str | None, cause: str) -> None:
    """Stop a running execution."""
    ident = execution_id(app, name, project, domain)
    with admin_client(app) as client:
        client.terminate_execution(ident, cause)
    if app.json_output:
        app.print_json({"execution": ident.as_dict(), "terminated": True})
    else:
        app.echo(f"Execution {ident.name} terminated.")


def _render_outputs(app: Application, ident: Any, values: dict[str, Any],
                    document: dict[str, Any] | None = None) -> None:
    from flyrun.cli.remote_run import echo_outputs

    if app.json_output:
        app.print_json({**(document or {"execution": ident.as_dict()}), "outputs": values})
        return
    echo_outputs(app, values)
