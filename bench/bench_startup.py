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


def run() -> list[tuple[str, str]]:
    flyrun = flyrun_command()
    hello = flyrun + ["run", "examples/hello.py", "wf", "--x", "3"]
    multi = flyrun + ["run", REPORT, "report", "--rects", '[{"width": 2, "height": 3}]']
    rows = [
        ("python -c pass (floor)", f"{median_wall([sys.executable, '-c', 'pass']):.3f} s"),
        ("flyrun --help (piped: plain help)", f"{median_wall(flyrun + ['--help']):.3f} s"),
        ("flyrun --help (on a terminal: rich help)", f"{_help_on_a_terminal():.3f} s"),
        ("flyrun run examples/hello.py wf --x 3", f"{median_wall(hello):.3f} s"),
        ("flyrun run <multi-module project> report", f"{median_wall(multi):.3f} s"),
        ("peak memory, hello run", f"{peak_rss_mib(hello):.0f} MiB"),
    ]
    return rows
