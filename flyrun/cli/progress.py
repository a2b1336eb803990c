"""Progress bars for large transfers: on a terminal only, never with NO_COLOR, drawn on stderr."""

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
