"""``flyrun config show|init|validate``: what is configured and where it came from, a starter file, a check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options
from flyrun.errors import ConfigError

DEFAULT_PATH = "~/.flyrun/config.yaml"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
def config() -> None:
    """Show, create and check configuration (Flyte's YAML format)."""


@config.command()
@global_options
@click.pass_obj
def show(app: Application) -> None:
    """Print every resolved value and where it came from (secrets redacted)."""
    resolved = app.config
    rows = resolved.describe()
    if app.json_output:
        app.print_json({
            "config_file": str(resolved.path) if resolved.path else None,
            "values": {key: {"value": value, "source": source} for key, value, source in rows},
        })
        return
    app.echo(f"config file: {resolved.path or '(none found: built-in defaults)'}")
    width = max(len(key) for key, _, _ in rows)
    shown = [(key, _display(value)) for key, value, _ in rows]
    value_width = min(max(len(text) for _, text in shown), 48)
    for (key, text), (_, _, source) in zip(shown, rows):
        app.echo(f"{key:<{width}}  {text:<{value_width}}  {source}")


@config.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--local", "kind", flag_value="local", help="Local runs only (the default).")
@click.option("--sandbox", "kind", flag_value="sandbox", help="For `flyrun sandbox` on localhost:30080.")
@click.option("--endpoint", metavar="HOST", help="For a Flyte cluster, e.g. flyte.example.com.")
@click.option("--auth-type", default="DeviceFlow", show_default=True, metavar="TYPE",
              help="With --endpoint: DeviceFlow, Pkce, ClientSecret, ExternalCommand or None.")
@click.option("--client-id", metavar="ID", help="With --auth-type ClientSecret: the OAuth client id.")
@click.option("--secret-env-var", metavar="NAME", default="FLYTE_CLIENT_SECRET", show_default=True,
              help="With --auth-type ClientSecret: the variable that will hold the secret.")
@click.option("--command", "token_command", metavar="CMD", help="With --auth-type ExternalCommand: prints a token.")
@click.option("--insecure", is_flag=True, help="With --endpoint: plain http.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@global_options
@click.pass_obj
def init(app: Application, file: str | None, kind: str | None, endpoint: str | None, auth_type: str,
         client_id: str | None, secret_env_var: str, token_command: str | None, insecure: bool,
         force: bool) -> None:
    """Write a starter config FILE (default: -c FILE, else ~/.flyrun/config.yaml); never overwrites unless --force."""
    from flyrun.config.starter import starter_text, write_starter

    if endpoint and kind:
        raise click.UsageError("--endpoint cannot be combined with --local or --sandbox")
    text = starter_text("endpoint" if endpoint else kind or "local", endpoint, auth_type, insecure,
                        client_id=client_id, secret_env_var=secret_env_var, command=token_command)
    written = write_starter(Path(file or app.config_path or DEFAULT_PATH), text, force)
    if app.json_output:
        app.print_json({"path": str(written)})
    else:
        app.echo(f"Wrote {written}")


@config.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Count unknown keys as problems.")
@global_options
@click.pass_obj
def validate(app: Application, file: str, strict: bool) -> None:
    """Check FILE: YAML syntax, every key's type and value, and the keys an auth type needs."""
    from flyrun.config.checks import problems
    from flyrun.config.loader import load_file

    path = Path(file).expanduser()
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    checked = load_file(path)
    found: list[dict[str, str | None]] = [{"key": key, "reason": reason} for key, reason in problems(checked)]
    if strict:
        found += [{"key": None, "reason": warning} for warning in checked.warnings]
    if app.json_output:
        app.print_json({"file": str(path), "valid": not found, "problems": found, "warnings": checked.warnings})
    else:
        for warning in checked.warnings if not strict else ():
            app.warn(warning)
        for problem in found:
            app.echo(f"{path}: " + (f"key '{problem['key']}' " if problem["key"] else "") + str(problem["reason"]))
    if found:
        raise ConfigError(f"{path}: {len(found)} problem{'s' if len(found) > 1 else ''} found")
    if not app.json_output:
        app.echo(f"{path}: OK ({len(checked.values)} keys set)")


def _display(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}s"
    return str(value)
