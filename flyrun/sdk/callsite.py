"""Where the user's code called flyrun: ``file:line`` for errors and node records. A leaf module, so that anything
(pods, plugin configs, the graph) can name its caller without importing the graph."""

from __future__ import annotations

import os
import sys
import types

_FLYRUN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# "<string>": the __init__ that dataclasses generates, so a plugin's config dataclass reports its caller's line.
_SKIP_FILES = (_FLYRUN_DIR, os.path.dirname(os.__file__) + os.sep + "functools.py", "<string>")


def user_call_site() -> str:
    """``file:line`` of the innermost frame that is the user's, not flyrun's or functools'."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_SKIP_FILES):
            return f"{short_path(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def short_path(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith(".." + os.sep + "..") else relative
