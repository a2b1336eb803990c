"""@dynamic fanning out to many task nodes: a whole local `flyrun run` of 1,000 nodes (time and peak memory), and
the same dynamic on the sandbox (each node one flyrun-execute process; BENCH_DYNAMIC_SANDBOX_NODES, default 100,
because 1,000 processes on a shared 2-core machine take minutes).

Measured 2026-11-30 on the shared 2-core machine (other engineers' tests running): local 1,000 nodes 0.47-1.07 s
whole run (0.20-0.48 ms per node), peak RSS 23.3 MiB (22.4 MiB for 1 node); sandbox 100 nodes 37 s (372 ms per
node), 1,000 nodes 534 s (534 ms per node, 2 task slots), server peak RSS 42.5 / 75.3 MiB.

Independent local nodes in threads (flyrun.sdk.parallel), before/after, measured 2026-11-30 09:30-09:37 with the
machine's load average at 12-13 (BENCH_DYNAMIC_SANDBOX_NODES=0): 1,000 nodes that each sleep 10 ms, whole run
11.61 / 15.55 s before (one after another), 2.68 / 3.63 s after; peak RSS 23.2-23.4 MiB before, 23.6-24.1 MiB
after. Trivial nodes gain nothing and lose nothing measurable: the 1,000-node fan-out in-process (best of 5)
602 ms before, 472 ms after; whole runs 0.65-3.6 s before, 1.3-1.5 s after (the load, not the code, decides)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import REPO, median_wall, peak_rss_mib

FLOWS = '''
import time

from flyrun import dynamic, task


@task
def inc(x: int) -> int:
    return x + 1


@task
def total(values: list[int]) -> int:
    return sum(values)


@dynamic
def fan(n: int) -> int:
    return total(values=[inc(x=i) for i in range(n)])


@task
def nap(x: int) -> int:
    time.sleep(0.01)
    return x + 1


@dynamic
def nap_fan(n: int) -> int:
    return total(values=[nap(x=i) for i in range(n)])
'''


def _flyrun() -> list[str]:
    return [sys.executable, "-m", "flyrun.cli.main"]  # this checkout's flyrun (PYTHONPATH), not the installed one


def _server_peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _sandbox(folder: Path, env: dict[str, str], nodes: int) -> tuple[float, float, float]:
    """(seconds from launch to SUCCEEDED, per node, server peak RSS MiB) of fan(n=nodes) on a fresh sandbox."""
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
        begun = time.perf_counter()
        done = subprocess.run(_flyrun() + ["-c", str(config), "run", "--remote", "--wait", "-o", "json", "flows.py",
                                           "fan", "--n", str(nodes)], cwd=folder, env=env, capture_output=True,
                              text=True)
        wall = time.perf_counter() - begun
        if done.returncode != 0 or json.loads(done.stdout)["outputs"] != {"o0": nodes * (nodes + 1) // 2}:
            raise RuntimeError(done.stderr[-2000:])
        peak = _server_peak_mib(int(info["pid"])) if info.get("pid") else float("nan")
    finally:
        subprocess.run(_flyrun() + ["sandbox", "stop", "--data-dir", str(data_dir)], env=env, capture_output=True)
    return wall, wall / nodes, peak


def run() -> list[tuple[str, str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    folder = Path(tempfile.mkdtemp(prefix="flyrun-bench-dynamic-"))
    (folder / "flows.py").write_text(FLOWS)
    argv = _flyrun() + ["run", str(folder / "flows.py"), "fan"]
    one = median_wall(argv + ["--n", "1"], runs=3, env=env)
    thousand = median_wall(argv + ["--n", "1000"], runs=3, env=env)
    peak_one = peak_rss_mib(argv + ["--n", "1"], env=env)
    peak = peak_rss_mib(argv + ["--n", "1000"], env=env)
    naps = [*_flyrun(), "run", str(folder / "flows.py"), "nap_fan", "--n", "1000"]
    napping = median_wall(naps, runs=3, env=env)
    nap_peak = peak_rss_mib(naps, env=env)
    figures = [
        ("local: dynamic with 1 task node (+1 gather), whole run", f"{one:.3f} s"),
        ("local: dynamic fanning out to 1,000 task nodes (+1 gather), whole run", f"{thousand:.3f} s"),
        ("local: per generated node", f"{(thousand - one) / 999 * 1e6:.0f} us"),
        ("local: peak RSS, 1 node / 1,000 nodes", f"{peak_one:.1f} MiB / {peak:.1f} MiB"),
        ("local: 1,000 nodes that each sleep 10 ms, whole run / peak RSS", f"{napping:.2f} s / {nap_peak:.1f} MiB"),
    ]
    nodes = int(os.environ.get("BENCH_DYNAMIC_SANDBOX_NODES", "100"))
    if nodes == 0:  # BENCH_DYNAMIC_SANDBOX_NODES=0: the local figures only
        return figures
    wall, per_node, server_peak = _sandbox(folder, env, nodes)
    return figures + [
        (f"sandbox: dynamic fanning out to {nodes} task nodes, launch to SUCCEEDED", f"{wall:.2f} s"),
        ("sandbox: per generated node (one flyrun-execute process each)", f"{per_node * 1000:.0f} ms"),
        ("sandbox: server peak RSS after the run", f"{server_peak:.1f} MiB"),
    ]
