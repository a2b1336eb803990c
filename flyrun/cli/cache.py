"""``flyrun cache``: the local task cache of ``cache=True`` tasks (``info``, ``clear``)."""

from __future__ import annotations

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options


def _open_cache(app: Application):
    from flyrun.local.cache import LocalCache

    return LocalCache(app.config.get("cache.dir"), environ=app.env.environ)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
def cache() -> None:
    """The local cache of tasks with cache=True (flyrun run --overwrite-cache recomputes)."""


@cache.command()
@global_options
@click.pass_obj
def info(app: Application) -> None:
    """Where the cache is and how much it holds."""
    from flyrun.local.cache import summarize

    summary = summarize(_open_cache(app))
    if app.json_output:
        app.print_json({"dir": summary.directory, "entries": summary.entries, "tasks": summary.tasks,
                        "bytes": summary.bytes})
        return
    app.echo(f"dir: {summary.directory}")
    app.echo(f"entries: {summary.entries} (of {summary.tasks} task{'s' * (summary.tasks != 1)}, "
             f"{summary.bytes} bytes)")


@cache.command()
@click.option("--task", "task_name", metavar="NAME", help="Only this task's entries (its full name, "
              "e.g. flows.shapes.area).")
@global_options
@click.pass_obj
def clear(app: Application, task_name: str | None) -> None:
    """Delete cached outputs, so that the next run computes them again."""
    from flyrun.local.cache import clear as clear_cache

    local_cache = _open_cache(app)
    removed = clear_cache(local_cache, task_name)
    if app.json_output:
        app.print_json({"dir": str(local_cache.directory), "removed": removed})
        return
    what = f" of {task_name}" if task_name else ""
    app.echo(f"Removed {removed} cached result{'s' * (removed != 1)}{what} from {local_cache.directory}.")
