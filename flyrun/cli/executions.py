"""``flyrun executions list|get|wait|terminate|outputs``: remote executions."""

from __future__ import annotations

import json
from typing import Any

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options
from flyrun.cli.remote_common import admin_client, execution_id, project_domain_options

_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=_SETTINGS)
@global_options
def executions() -> None:
    """List, inspect, follow and stop executions on the server."""


def _summary(execution: dict[str, Any]) -> dict[str, Any]:
    closure = execution.get("closure", {})
    launched = execution.get("spec", {}).get("launch_plan", {})
    return {"name": execution["id"]["name"], "project": execution["id"]["project"],
            "domain": execution["id"]["domain"], "phase": closure.get("phase"),
            "entity": launched.get("name"), "version": launched.get("version"),
            "started_at": closure.get("started_at") or closure.get("created_at"),
            "duration": closure.get("duration"), "error": (closure.get("error") or {}).get("message")}


@executions.command("list", context_settings=_SETTINGS)
@project_domain_options
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@global_options
@click.pass_obj
def list_(app: Application, project: str | None, domain: str | None, limit: int) -> None:
    """The most recent executions, newest first."""
    project = project or app.config.get("task.project")
    domain = domain or app.config.get("task.domain")
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
        row = _summary(client.get_execution(ident))
        nodes = [{"node_id": n["id"]["node_id"], "phase": n.get("closure", {}).get("phase"),
                  "error": (n.get("closure", {}).get("error") or {}).get("message")}
                 for n in client.node_executions(ident) if n["id"]["node_id"] not in ("start-node", "end-node")]
    if app.json_output:
        app.print_json({**row, "nodes": nodes})
        return
    for key in ("name", "phase", "entity", "version", "started_at", "duration", "error"):
        if row[key]:
            app.echo(f"{key + ':':<12}{row[key]}")
    for node in nodes:
        app.echo(f"  {node['node_id']}: {node['phase']}" + (f" ({node['error']})" if node["error"] else ""))


@executions.command(context_settings=_SETTINGS)
@click.argument("name")
@project_domain_options
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS", help="Give up after SECONDS (exit 7).")
@global_options
@click.pass_obj
def wait(app: Application, name: str, project: str | None, domain: str | None, timeout: float | None) -> None:
    """Follow an execution to its end; exit 0 if it succeeded, 6 if not, 7 on timeout."""
    from flyrun.cli.remote_run import _node_printer, execution_outputs
    from flyrun.remote.follow import raise_if_failed, wait_for

    ident = execution_id(app, name, project, domain)
    with admin_client(app) as client:
        final = wait_for(client, ident, timeout=timeout, on_node=_node_printer(app))
        if final["closure"]["phase"] != "SUCCEEDED":
            if app.json_output:
                app.print_json(_summary(final))
            raise_if_failed(final)
        outputs = execution_outputs(client, ident, {})
    _render_outputs(app, ident, outputs)


@executions.command(context_settings=_SETTINGS)
@click.argument("name")
@project_domain_options
@global_options
@click.pass_obj
def outputs(app: Application, name: str, project: str | None, domain: str | None) -> None:
    """The outputs of a finished execution."""
    from flyrun.cli.remote_run import execution_outputs

    ident = execution_id(app, name, project, domain)
    with admin_client(app) as client:
        _render_outputs(app, ident, execution_outputs(client, ident, {}))


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


def _render_outputs(app: Application, ident: Any, values: dict[str, Any]) -> None:
    if app.json_output:
        app.print_json({"execution": ident.as_dict(), "outputs": values})
        return
    for key, value in values.items():
        app.echo(f"{key}: {value if isinstance(value, str) else json.dumps(value)}")
