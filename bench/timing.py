"""Shared measuring: whole-process wall time (median of several runs) and peak memory."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def flyrun_command() -> list[str]:
    """The installed console script itself (not a pyenv shim), else the module."""
    script = Path(sys.executable).parent / "flyrun"
    return [str(script)] if script.exists() else [sys.executable, "-m", "flyrun.cli.main"]


def median_wall(argv: list[str], runs: int = 7, cwd: Path = REPO, env: dict[str, str] | None = None) -> float:
    """Median seconds of ``runs`` whole-process runs, after one warm-up run (file cache, .pyc)."""
    environ = dict(os.environ, **(env or {}))
    subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_mib(argv: list[str], cwd: Path = REPO, env: dict[str, str] | None = None) -> float:
    """Peak resident memory of one run of ``argv`` alone, in MiB.

    ``wait4`` gives this child's own rusage; RUSAGE_CHILDREN would be the largest of every child so far.
    """
    process = subprocess.Popen(argv, cwd=cwd, env=dict(os.environ, **(env or {})), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{argv} exited {process.returncode}")
    return usage.ru_maxrss / 1024  # Linux reports KiB
