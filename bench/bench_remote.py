"""`flyrun run --remote` against a local `flyrun sandbox`: submit latency, submit-and-wait, and requests per re-run.

Whole-process wall times of `flyrun run --remote examples/hello.py wf --x 3`, medians over several runs, once the
code is registered (a re-run of unchanged code, the common case); the first, cold run (upload and register) is
reported on its own. Each timed run starts when nothing else runs on the sandbox. The request counts come from
the client's own `-v` lines (one per HTTP request, uploads included).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import REPO

HELLO = str(REPO / "examples" / "hello.py")
REQUEST_LINE = re.compile(r"^debug: (GET|POST|PUT|DELETE) ")


def _flyrun(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "flyrun.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)
    if check and done.returncode != 0:
        raise RuntimeError(f"flyrun {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def _timed(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess]:
    begun = time.perf_counter()
    done = _flyrun(env, *args)
    return time.perf_counter() - begun, done


def _requests(stderr: str) -> list[str]:
    return [line.split()[1] + " " + line.split()[2] for line in stderr.splitlines() if REQUEST_LINE.match(line)]


def _measure(env: dict[str, str], config: str, runs: int) -> list[tuple[str, str]]:
    cold, first = _timed(env, "-c", config, "run", "--remote", "-v", HELLO, "wf", "--x", "3")
    rows = [("first run (upload bundle, register 4 entities, launch)", f"{cold * 1000:.0f} ms, "
                                                                      f"{len(_requests(first.stderr))} requests")]
    submit, wait = [], []
    for _ in range(runs):
        seconds, done = _timed(env, "-c", config, "run", "--remote", "-o", "json", HELLO, "wf", "--x", "3")
        submit.append(seconds)
        name = json.loads(done.stdout)["execution"]["name"]
        _flyrun(env, "-c", config, "executions", "wait", name)  # untimed: let the run finish before the next one
    for _ in range(runs):
        seconds, _done = _timed(env, "-c", config, "run", "--remote", "--wait", HELLO, "wf", "--x", "3")
        wait.append(seconds)
    _, again = _timed(env, "-c", config, "run", "--remote", "-v", HELLO, "wf", "--x", "3")
    sent = _requests(again.stderr)
    _, waited = _timed(env, "-c", config, "run", "--remote", "--wait", "-v", HELLO, "wf", "--x", "3")
    rows += [
        (f"run --remote, unchanged code (submit only; median of {runs})", f"{statistics.median(submit) * 1000:.0f} ms"),
        (f"run --remote --wait, unchanged code (median of {runs})", f"{statistics.median(wait) * 1000:.0f} ms"),
        ("HTTP requests of an unchanged re-run (submit only)",
         f"{len(sent)} ({sent.count('POST /api/v1/dataproxy/artifact_urn')} data proxy, "
         f"{sum(r.startswith('PUT') for r in sent)} PUT, "
         f"{sum(r.split()[1] in ('/api/v1/tasks', '/api/v1/workflows', '/api/v1/launch_plans') for r in sent)} "
         "register, 1 execution)"),
        ("HTTP requests of an unchanged re-run with --wait", str(len(_requests(waited.stderr)))),
    ]
    return rows


def run(runs: int = 7) -> list[tuple[str, str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    with tempfile.TemporaryDirectory(prefix="flyrun-bench-remote-") as folder:
        env["HOME"] = folder
        data_dir = Path(folder) / "sandbox"
        started = json.loads(_flyrun(env, "sandbox", "start", "--port", "0", "--data-dir", str(data_dir),
                                     "--detach", "-o", "json").stdout)
        try:
            config = Path(folder) / "config.yaml"
            config.write_text(f"admin:\n  endpoint: {started['endpoint']}\n  insecure: true\n  authType: None\n")
            return _measure(env, str(config), runs)
        finally:
            _flyrun(env, "sandbox", "stop", "--data-dir", str(data_dir), check=False)


if __name__ == "__main__":
    for what, figure in run():
        print(f"{what:<60} {figure}")
