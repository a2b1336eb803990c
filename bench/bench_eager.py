"""@eager on the sandbox: each call in the body is a child execution (one flyrun-execute process each), launched
through the admin API. Measures launch-to-SUCCEEDED of an eager workflow making N calls one after another and N
gathered calls (BENCH_EAGER_CALLS, default 10), and the same body run locally.

Measured 2026-11-30 10:16 on the shared 2-core machine (load average 4): locally 10 sync calls 0.44 s whole run;
on the sandbox 1 call 2.42 s whole run / 1.09 s execution, 10 calls one after another 6.80 s / 4.74 s (0.41 s per
child execution: a flyrun-execute process each), 10 gathered calls 5.60 s / 4.24 s (they start within 0.2 s of
each other; the 2 CPU slots and each child's process start bound the overlap on this machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import REPO, median_wall

FLOWS = '''
import asyncio

from flyrun import eager, task


@task
def inc(x: int) -> int:
    return x + 1


@task
async def ainc(x: int) -> int:
    return x + 1


@eager
async def chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = inc(x=value)
    return value


@eager
async def fan(n: int) -> int:
    return sum(await asyncio.gather(*[ainc(x=i) for i in range(n)]))
'''


def _flyrun() -> list[str]:
    return [sys.executable, "-m", "flyrun.cli.main"]  # this checkout's flyrun (PYTHONPATH), not the installed one


def _timed_run(folder: Path, env: dict[str, str], config: Path, target: str, calls: int,
               expected: int) -> tuple[float, float]:
    """(whole `run --remote --wait` seconds, the execution's own duration from the server)."""
    begun = time.perf_counter()
    done = subprocess.run(_flyrun() + ["-c", str(config), "run", "--remote", "--wait", "-o", "json", "flows.py",
                                       target, "--n", str(calls)], cwd=folder, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - begun
    if done.returncode != 0 or json.loads(done.stdout)["outputs"] != {"o0": expected}:
        raise RuntimeError(done.stderr[-2000:])
    shown = subprocess.run(_flyrun() + ["-c", str(config), "executions", "get", "-o", "json",
                                        json.loads(done.stdout)["execution"]["name"]], cwd=folder, env=env,
                           capture_output=True, text=True, check=True)
    return wall, float(json.loads(shown.stdout)["duration"].rstrip("s"))


def run() -> list[tuple[str, str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    calls = int(os.environ.get("BENCH_EAGER_CALLS", "10"))
    folder = Path(tempfile.mkdtemp(prefix="flyrun-bench-eager-"))
    (folder / "flows.py").write_text(FLOWS)
    local = median_wall(_flyrun() + ["run", str(folder / "flows.py"), "chain", "--n", str(calls)], runs=3, env=env)
    data_dir = folder / "sandbox"
    started = subprocess.run(_flyrun() + ["sandbox", "start", "--port", "0", "--data-dir", str(data_dir),
                                          "--detach", "-o", "json"], capture_output=True, text=True, env=env,
                             check=True)
    info = json.loads(started.stdout)
    config = folder / "remote.yaml"
    config.write_text(f"admin:\n  endpoint: {info['endpoint']}\n  insecure: true\n  authType: None\n")
    try:
        subprocess.run(_flyrun() + ["-c", str(config), "register", "flows.py"], cwd=folder, env=env, check=True,
                       capture_output=True)
        one = _timed_run(folder, env, config, "chain", 1, 1)
        chained = _timed_run(folder, env, config, "chain", calls, calls)
        gathered = _timed_run(folder, env, config, "fan", calls, calls * (calls + 1) // 2)
    finally:
        subprocess.run(_flyrun() + ["sandbox", "stop", "--data-dir", str(data_dir)], env=env, capture_output=True)
    return [
        (f"local: eager with {calls} sync calls, whole run", f"{local:.2f} s"),
        ("sandbox: eager with 1 call (child execution): whole run / execution", f"{one[0]:.2f} s / {one[1]:.2f} s"),
        (f"sandbox: eager with {calls} sync calls one after another: whole run / execution",
         f"{chained[0]:.2f} s / {chained[1]:.2f} s"),
        ("sandbox: per sequential child execution", f"{(chained[1] - one[1]) / (calls - 1):.2f} s"),
        (f"sandbox: eager with {calls} gathered async calls: whole run / execution",
         f"{gathered[0]:.2f} s / {gathered[1]:.2f} s"),
    ]
