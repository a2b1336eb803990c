"""``flyrun package``: serialize a project's tasks, workflows and launch plans, and bundle its code."""

from __future__ import annotations

from pathlib import Path

import click

from flyrun.cli.app import Application
from flyrun.cli.options import apply_compat, compat_option, global_options


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, required=True, metavar="FILE_OR_DIR...")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the bundle, the entity files and manifest.json (required unless --dry-run).")
@click.option("--copy", type=click.Choice(["auto", "all", "none"]), default="auto", show_default=True,
              help="auto: the modules loaded from the project; all: the whole project root (honouring "
                   ".gitignore and .flyteignore); none: no bundle, the code is in the image.")
@click.option("--dry-run", is_flag=True, help="List the bundle's files, its digest and the version; write nothing.")
@click.option("-p", "--project", help="Flyte project (default: config task.project).")
@click.option("-d", "--domain", help="Flyte domain (default: config task.domain).")
@click.option("--image", "images", multiple=True, metavar="[NAME=]URI",
              help="The default image, or a named one (repeatable).")
@click.option("--root-dir", type=click.Path(file_okay=False), help="Project root (default: the first folder "
              "above each file without an __init__.py).")
@compat_option
@global_options
@click.pass_obj
def package(app: Application, paths: tuple[str, ...], output_dir: Path | None, copy: str, dry_run: bool,
            project: str | None, domain: str | None, images: tuple[str, ...], root_dir: str | None,
            flytekit_compat: bool) -> None:
    """Package FILE_OR_DIR... for a Flyte cluster.

    \b
    flyrun package flows/ --output-dir dist          bundle + tasks/ workflows/ launch_plans/ + manifest.json
    flyrun package flows/ --dry-run                  the bundle's files, digest and version
    """
    from flyrun.errors import UsageError
    from flyrun.idl import package as packaging
    from flyrun.idl.settings import settings_from_config

    if output_dir is None and not dry_run:
        raise UsageError("--output-dir is required (or use --dry-run)",
                         hint="e.g. flyrun package flows/ --output-dir dist")
    apply_compat(app, flytekit_compat)
    settings = settings_from_config(app.config, project=project, domain=domain, images=images)
    exclude = [output_dir] if output_dir is not None else []
    built = packaging.build(list(paths), settings, copy=copy, root_dir=root_dir, exclude=exclude)
    for large in built.bundle.large_files:
        app.warn(f"{large.relative} is {large.size / 1e6:.1f} MB; large files slow every task's start "
                 "(add it to .flyteignore?)")
    if dry_run or output_dir is None:
        _render_dry_run(app, built)
        return
    manifest = packaging.write(built, output_dir)
    _render_written(app, built, manifest, output_dir)


def _render_dry_run(app: Application, built) -> None:
    bundle = built.bundle
    files = [{"path": f.relative, "size": f.size} for f in bundle.files]
    if app.json_output:
        app.print_json({"root": str(bundle.root), "copy": bundle.copy, "files": files, "digest": bundle.digest,
                        "version": built.version, "entities": [e.id for e in built.entities]})
        return
    shown = "no bundle (--copy none); the version still follows these files" if bundle.copy == "none" else \
        f"bundle {bundle.filename} ({bundle.copy})"
    app.echo(f"{shown}, from {bundle.root}:")
    for file in files:
        app.echo(f"  {_size(file['size']):>9}  {file['path']}")
    app.echo(f"{len(files)} files, {_size(sum(f['size'] for f in files))}")
    app.echo(f"digest:  {bundle.digest}")
    app.echo(f"version: {built.version}")


def _render_written(app: Application, built, manifest: dict, output_dir: Path) -> None:
    if app.json_output:
        app.print_json({"output_dir": str(output_dir), **manifest})
        return
    counts = {kind: sum(1 for e in built.entities if e.kind == kind) for kind in ("task", "workflow", "launch_plan")}
    app.echo(f"Packaged {counts['task']} tasks, {counts['workflow']} workflows and {counts['launch_plan']} "
             f"launch plans into {output_dir}")
    if manifest["bundle"]:
        app.echo(f"bundle:  {manifest['bundle']['file']} ({manifest['bundle']['files']} files)")
    app.echo(f"version: {built.version}")


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"
