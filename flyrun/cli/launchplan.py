"""``flyrun launchplan activate|deactivate|list``: launch plans on the server, and their schedules."""

from __future__ import annotations

from typing import Any

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options
from flyrun.cli.remote_common import admin_client, project_domain, project_domain_options

_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=_SETTINGS)
@global_options
def launchplan() -> None:
    """Activate, deactivate and list launch plans on the server (an active one runs on its schedule)."""


def _set_state(app: Application, name: str, version: str | None, project: str | None, domain: str | None,
               state: str) -> None:
    from flyrun.remote.client import EntityId
    from flyrun.remote.registered import find_launch_plan

    project, domain = project_domain(app, project, domain)
    with admin_client(app) as client:
        full_name, chosen = find_launch_plan(client, name, project, domain, version)
        ident = EntityId("LAUNCH_PLAN", project, domain, full_name, chosen)
        client.update_launch_plan_state(ident, state)
    if app.json_output:
        app.print_json({"launch_plan": ident.as_dict(), "state": state})
    else:
        app.echo(f"{'Activated' if state == 'ACTIVE' else 'Deactivated'} {ident}")


@launchplan.command(context_settings=_SETTINGS)
@click.argument("name")
@click.option("--version", help="The version to activate (default: the latest).")
@project_domain_options
@global_options
@click.pass_obj
def activate(app: Application, name: str, version: str | None, project: str | None, domain: str | None) -> None:
    """Make NAME's version the active one (the others of that name become inactive); its schedule starts."""
    _set_state(app, name, version, project, domain, "ACTIVE")


@launchplan.command(context_settings=_SETTINGS)
@click.argument("name")
@click.option("--version", help="The version to deactivate (default: the latest).")
@project_domain_options
@global_options
@click.pass_obj
def deactivate(app: Application, name: str, version: str | None, project: str | None, domain: str | None) -> None:
    """Make NAME inactive; its schedule stops."""
    _set_state(app, name, version, project, domain, "INACTIVE")


def _row(plan: dict[str, Any]) -> dict[str, Any]:
    spec = plan.get("spec", {})
    schedule = spec.get("entity_metadata", {}).get("schedule") or {}
    if "cron_schedule" in schedule:
        when = f"cron {schedule['cron_schedule'].get('schedule')}"
    elif "rate" in schedule:
        when = f"every {schedule['rate'].get('value')} {schedule['rate'].get('unit', 'MINUTE').lower()}(s)"
    else:
        when = None
    return {"name": plan["id"]["name"], "version": plan["id"]["version"],
            "state": plan.get("closure", {}).get("state", "INACTIVE"), "schedule": when,
            "workflow": spec.get("workflow_id", {}).get("name")}


@launchplan.command("list", context_settings=_SETTINGS)
@click.option("--active", is_flag=True, help="Only the active launch plans.")
@project_domain_options
@global_options
@click.pass_obj
def list_(app: Application, active: bool, project: str | None, domain: str | None) -> None:
    """The newest version of each launch plan, with its state and schedule."""
    project, domain = project_domain(app, project, domain)
    with admin_client(app) as client:
        newest: dict[str, dict[str, Any]] = {}
        for plan in client.list_entities("LAUNCH_PLAN", project, domain):
            row = _row(plan)
            if row["name"] not in newest or row["state"] == "ACTIVE":  # newest first; an active version wins
                newest[row["name"]] = row
    rows = [r for r in newest.values() if r["state"] == "ACTIVE" or not active]
    if app.json_output:
        app.print_json({"launch_plans": rows})
        return
    if not rows:
        app.info(f"No launch plans in {project}/{domain}.")
    for row in rows:
        app.echo(f"{row['name']:<40} {row['state']:<8} {row['version']:<28} {row['schedule'] or '-'}")
