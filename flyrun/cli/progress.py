"""Progress drawn on stderr: transfer bars and the live node table of a followed run on a terminal (never with
NO_COLOR); plain node lines, and no bars, elsewhere."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from flyrun.cli.app import Application


def transfer_progress(app: Application) -> Callable[[str, int], Any] | None:
    """The ``ExecutionContext.transfer_progress`` hook for this invocation, or None where nothing may be drawn."""
    if not app.env.color:
        return None

    @contextlib.contextmanager
    def show(description: str, total_bytes: int) -> Iterator[Callable[[int], None]]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        console = Console(file=app.env.stderr, force_terminal=True)
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task_id = bar.add_task(description, total=total_bytes)
            yield lambda n: bar.advance(task_id, n)

    return show


PHASE_STYLES = {"SUCCEEDED": "green", "FAILED": "bold red", "TIMED_OUT": "red", "ABORTED": "yellow",
                "RUNNING": "cyan", "QUEUED": "dim"}


@contextlib.contextmanager
def node_progress(app: Application) -> Iterator[Callable[[Any], None]]:
    """Show the node phase changes of a followed execution: a live table on a terminal (unless NO_COLOR), plain
    lines on stderr otherwise. Yields the ``on_node`` callback for ``flyrun.remote.follow.wait_for``."""
    from flyrun.remote.follow import first_line

    def headline(change: Any) -> str:
        return first_line(change.error)[:200] if change.error else ""

    if not app.env.color:
        def print_line(change: Any) -> None:
            app.info(f"  {change.node_id}: {change.phase}" + (f" ({headline(change)})" if change.error else ""))

        yield print_line
        return
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    nodes: dict[str, tuple[str, str]] = {}

    def table() -> Table:
        grid = Table.grid(padding=(0, 2))
        for node_id, (phase, error) in nodes.items():
            grid.add_row(f"  {node_id}", f"[{PHASE_STYLES.get(phase, '')}]{phase}[/]", error)
        return grid

    console = Console(file=app.env.stderr, force_terminal=True)
    with Live(table(), console=console, refresh_per_second=8) as live:
        def update(change: Any) -> None:
            nodes[change.node_id] = (change.phase, headline(change))
            live.update(table())

        yield update
