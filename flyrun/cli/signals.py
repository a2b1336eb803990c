"""``flyrun approve``, ``reject``, ``set-input`` and ``signals``: the gates of a remote execution."""

from __future__ import annotations

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options
from flyrun.cli.remote_common import admin_client, execution_id, project_domain_options

_RETRY = click.option("--retry-for", type=click.FloatRange(min=0), default=10.0, show_default=True,
                      metavar="SECONDS", help="Wait this long for the run to reach the gate.")


def _answer(app: Application, execution: str, gate: str, project: str | None, domain: str | None,
            retry_for: float, value_for, verb: str) -> None:
    from flyrun.remote.signals import answer_gate

    ident = execution_id(app, execution, project, domain)
    with admin_client(app) as client:
        value = answer_gate(client, ident, gate, value_for, retry_for)
    if app.json_output:
        app.print_json({"execution": ident.as_dict(), "gate": gate, "value": value, "result": verb})
    else:
        app.echo(f"Gate '{gate}' of {ident.name}: {verb}.")


def _approval_command(name: str, approved: bool, summary: str) -> click.Command:
    """``approve`` and ``reject`` differ only in the boolean they send."""

    @click.command(name, help=summary, context_settings={"help_option_names": ["-h", "--help"]})
    @click.argument("execution")
    @click.argument("gate")
    @project_domain_options
    @_RETRY
    @global_options
    @click.pass_obj
    def command(app: Application, execution: str, gate: str, project: str | None, domain: str | None,
                retry_for: float) -> None:
        from flyrun.remote.signals import approval_value

        _answer(app, execution, gate, project, domain, retry_for, lambda s: approval_value(s, approved),
                "approved" if approved else "rejected")

    return command


approve = _approval_command("approve", True, "Approve the approve() gate GATE of EXECUTION.")
reject = _approval_command("reject", False, "Reject the approve() gate GATE of EXECUTION; the execution fails.")


@click.command("set-input", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("execution")
@click.argument("gate")
@click.argument("value")
@project_domain_options
@_RETRY
@global_options
@click.pass_obj
def set_input(app: Application, execution: str, gate: str, value: str, project: str | None, domain: str | None,
              retry_for: float) -> None:
    """Give VALUE to the wait_for_input() gate GATE of EXECUTION, read as the gate's declared type."""
    from flyrun.remote.signals import typed_value

    _answer(app, execution, gate, project, domain, retry_for, lambda s: typed_value(s, value), "set")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("execution")
@project_domain_options
@global_options
@click.pass_obj
def signals(app: Application, execution: str, project: str | None, domain: str | None) -> None:
    """List the gates EXECUTION has reached, their types and values."""
    from flyrun.idl.literals import literal_to_json

    ident = execution_id(app, execution, project, domain)
    with admin_client(app) as client:
        found = client.list_signals(ident)
        if not found:
            client.get_execution(ident)  # no gates, or no such execution?
    rows = [{"gate": s["id"]["signal_id"], "type": s.get("type"),
             "value": literal_to_json(s["value"]) if s.get("value") else None,
             "answered": bool(s.get("value"))} for s in found]
    if app.json_output:
        app.print_json({"execution": ident.as_dict(), "signals": rows})
        return
    if not rows:
        app.info(f"Execution {ident.name} has reached no gates yet.")
    for row in rows:
        shown = "waiting" if not row["answered"] else f"= {row['value']!r}"
        app.echo(f"{row['gate']}: {_type_name(row['type'])} {shown}")


def _type_name(literal_type: dict | None) -> str:
    from flyrun.errors import UsageError
    from flyrun.idl.interface import python_type_for
    from flyrun.types import engine

    try:
        return engine.describe(python_type_for(literal_type or {}))
    except UsageError:
        return "?"
