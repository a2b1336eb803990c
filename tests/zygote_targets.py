"""Targets a test zygote forks (``target(fds, *args)``): how a child can end."""

from __future__ import annotations

import os
import signal
import time


def finish(fds: list[int], code: int) -> None:
    raise SystemExit(code)


def kill_self(fds: list[int]) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def close_all_then_exit(fds: list[int], code: int) -> None:
    """Closes every descriptor it has (as a daemonizing program may), so it cannot tell its code."""
    os.closerange(3, 1024)
    raise SystemExit(code)


def sleep(fds: list[int], seconds: float) -> None:
    time.sleep(seconds)


def fork_then_exit(fds: list[int], code: int) -> None:
    """Forks a process that ends as flyrun's own forks do (a local map's worker inside a task), then exits."""
    from flyrun.protocol import zygote

    pid = os.fork()
    if pid == 0:
        zygote.end(0)
    os.waitpid(pid, 0)
    time.sleep(0.2)
    raise SystemExit(code)
