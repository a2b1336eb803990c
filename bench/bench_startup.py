"""Startup: `flyrun --help`, a local run of the hello example, and of a multi-module project."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

from timing import REPO, flyrun_command, median_wall, peak_rss_mib

REPORT = "examples/project/flows/pipelines/report.py"


def _help_on_a_terminal(runs: int = 7) -> float:
    """`--help` with stdout on a pseudo-terminal, where flyrun renders rich help."""
    times = []
    for _ in range(runs + 1):
        leader, follower = pty.openpty()
        start = time.perf_counter()
        proc = subprocess.Popen(flyrun_command() + ["--help"], stdout=follower, stderr=follower, cwd=REPO)
        os.close(follower)
        while True:
            try:
                if not os.read(leader, 65536):
                    break
            except OSError:
                break
        proc.wait()
        times.append(time.perf_counter() - start)
        os.close(leader)
    times = sorted(times[1:])
    return times[len(times) // 2]


def _compile_bytecode() -> str:
    """Measure the installed state: `make install` (like pip for a regular install) compiles flyrun's bytecode.

    Without it, a machine that sets PYTHONDONTWRITEBYTECODE recompiles every flyrun module on every start.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", "flyrun"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    return "compiled (as `make install` leaves it)" + (
        "; PYTHONDONTWRITEBYTECODE is set here" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "")


def run() -> list[tuple[str, str]]:
    bytecode = _compile_bytecode()
    flyrun = flyrun_command()
    hello = flyrun + ["run", "examples/hello.py", "wf", "--x", "3"]
    multi = flyrun + ["run", REPORT, "report", "--rects", '[{"width": 2, "height": 3}]']
    floor = median_wall([sys.executable, '-c', 'pass'])
    hello_wall = median_wall(hello)
    rows = [
        ("flyrun's bytecode", bytecode),
        ("python -c pass (floor)", f"{floor:.3f} s"),
        ("flyrun --help (piped: plain help)", f"{median_wall(flyrun + ['--help']):.3f} s"),
        ("flyrun --help (on a terminal: rich help)", f"{_help_on_a_terminal():.3f} s"),
        ("flyrun run examples/hello.py wf --x 3 (target < 0.15 s)", f"{hello_wall:.3f} s"),
        ("  of which flyrun's own (hello run - floor)", f"{hello_wall - floor:.3f} s"),
        ("flyrun run <multi-module project> report", f"{median_wall(multi):.3f} s"),
        ("peak memory, hello run", f"{peak_rss_mib(hello):.0f} MiB"),
    ]
    return rows
