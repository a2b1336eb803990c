"""Rendering results and errors for people (text) and scripts (json)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from flyrun.cli.app import Application
from flyrun.errors import FlyrunError, TaskExecutionError
from flyrun.types import engine

if TYPE_CHECKING:
    import traceback

_FLYRUN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def outputs_as_json(outputs: dict[str, Any], types: dict[str, Any]) -> dict[str, Any]:
    return {name: engine.to_json(value, types[name]) for name, value in outputs.items()}


def render_outputs(app: Application, outputs: dict[str, Any], types: dict[str, Any]) -> None:
    document = outputs_as_json(outputs, types)
    if app.json_output:
        app.print_json({"outputs": document})
        return
    if not document:
        app.info("Done (no outputs).")
        return
    for name, value in document.items():
        if isinstance(value, str):
            app.echo(f"{name}: {value}")
        else:
            import json

            app.echo(f"{name}: {json.dumps(value)}")


def render_error(app: Application, error: FlyrunError) -> None:
    import traceback

    app.info(f"Error: {error.message}")
    if isinstance(error, TaskExecutionError):
        frames = user_frames(error.error, error.frames)
        if frames:
            app.info("Traceback (your code, most recent call last):")
            app.info("".join(traceback.format_list(frames)).rstrip())
    if error.hint:
        app.info(f"Hint: {error.hint}")
    if app.verbose and error.__cause__ is not None:
        app.info("".join(traceback.format_exception(error.__cause__)).rstrip())


def user_frames(error: BaseException, remote: list[tuple[str, int, str, str]] | None = None,
                ) -> list[traceback.FrameSummary]:
    """The frames of a traceback that are the user's: not flyrun's, not the standard library's.

    ``remote`` holds the frames of a traceback from another process, when the error happened there.
    """
    import sysconfig
    import traceback

    library_dirs = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    excluded = tuple(d + os.sep for d in library_dirs) + (_FLYRUN_DIR + os.sep,)
    if remote is not None:
        frames = [traceback.FrameSummary(file, line, name, line=source) for file, line, name, source in remote]
    else:
        frames = list(traceback.extract_tb(error.__traceback__))
    return [f for f in frames if not f.filename.startswith(excluded)]
