"""``flyrun register``: package and register tasks, workflows and launch plans without running anything."""

from __future__ import annotations

import click

from flyrun.cli.app import Application
from flyrun.cli.options import apply_compat, compat_option, global_options


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, required=True, metavar="FILE_OR_DIR...")
@click.option("-p", "--project", help="Flyte project (default: config task.project).")
@click.option("-d", "--domain", help="Flyte domain (default: config task.domain).")
@click.option("--version", help="Register under this version (default: a hash of the code and images).")
@click.option("--image", "images", multiple=True, metavar="[NAME=]URI", help="Default or named image (repeatable).")
@click.option("--copy", type=click.Choice(["auto", "all", "none"]), default="auto", show_default=True,
              help="Which files go into the code bundle.")
@click.option("--root-dir", type=click.Path(file_okay=False), help="Project root (default: detected).")
@click.option("--dry-run", is_flag=True, help="Say what would be registered; send nothing.")
@click.option("--activate-launchplans", "activate", is_flag=True,
              help="Activate every named launch plan registered (their schedules start).")
@compat_option
@global_options
@click.pass_obj
def register(app: Application, paths: tuple[str, ...], project: str | None, domain: str | None,
             version: str | None, images: tuple[str, ...], copy: str, root_dir: str | None, dry_run: bool,
             activate: bool, flytekit_compat: bool) -> None:
    """Register every task, workflow and launch plan in FILE_OR_DIR... (and what they use) on the server."""
    from flyrun.idl import package as packaging
    from flyrun.idl.settings import settings_from_config

    apply_compat(app, flytekit_compat)
    settings = settings_from_config(app.config, project=project, domain=domain, version=version, images=images)
    built = packaging.build(list(paths), settings, copy=copy, root_dir=root_dir)
    if dry_run:
        ids = [e.id for e in built.entities]
        if app.json_output:
            app.print_json({"version": built.version, "register": ids})
        else:
            app.echo(f"Would register {len(ids)} entities, version {built.version}:")
            for ident in ids:
                app.echo(f"  {ident['resource_type'].lower()} {ident['name']}")
        return
    from flyrun.cli.progress import transfer_progress
    from flyrun.remote.client import AdminClient
    from flyrun.remote.submit import register_package

    with app.admin_session() as session:
        registration = register_package(AdminClient(session), session.transport, built, app.info,
                                        progress=transfer_progress(app), activate=activate)
    if app.json_output:
        app.print_json(registration.as_json())
        return
    for line in registration.created:
        app.echo(f"registered {line}")
    for line in registration.existing:
        app.echo(f"unchanged  {line}")
    for line in registration.activated:
        app.echo(f"activated  {line}")
    app.echo(f"version: {registration.version}")
