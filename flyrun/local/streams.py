"""Task output goes to stderr during a local run, so stdout carries flyrun's results only (``-o json`` promises one
JSON document there), as on the sandbox, where a task's output goes to its log.

Both levels are redirected for as long as any run is in progress: ``sys.stdout`` (``print`` from the task, from the
map's thread lanes) and file descriptor 1 (a subprocess the task starts, and the map's worker processes, which
inherit it). Nested or concurrent runs share one redirect, undone when the last one ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_depth = 0
_saved_stdout: Any = None
_saved_fd: int | None = None


@contextlib.contextmanager
def task_output_to_stderr() -> Iterator[None]:
    """While this is entered, whatever is written to stdout (by Python code or child processes) goes to stderr."""
    _enter()
    try:
        yield
    finally:
        _leave()


def _enter() -> None:
    global _depth, _saved_stdout, _saved_fd
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        _saved_stdout = sys.stdout
        _flush(sys.stdout, sys.__stdout__)  # what flyrun wrote before the run stays on stdout
        _saved_fd = _redirect_fd()
        sys.stdout = sys.stderr


def _leave() -> None:
    global _depth, _saved_stdout, _saved_fd
    with _lock:
        _depth -= 1
        if _depth > 0:
            return
        # Whatever the run left in a buffer was the task's: it belongs on stderr, so flush before restoring.
        _flush(sys.stdout, _saved_stdout, sys.__stdout__, sys.stderr)
        sys.stdout = _saved_stdout
        if _saved_fd is not None:
            with contextlib.suppress(OSError):
                os.dup2(_saved_fd, 1)
            os.close(_saved_fd)
        _saved_stdout, _saved_fd = None, None


def _redirect_fd() -> int | None:
    """Point descriptor 1 at descriptor 2; returns a copy of the old 1 (None when either is not open)."""
    try:
        os.fstat(2)
        saved = os.dup(1)
    except OSError:
        return None
    try:
        os.dup2(2, 1)
    except OSError:
        os.close(saved)
        return None
    return saved


def _flush(*streams: Any) -> None:
    for stream in streams:
        with contextlib.suppress(Exception):  # a closed pipe or a stream without flush is nothing to flush
            stream.flush()
