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
