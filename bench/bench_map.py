"""Map tasks: 1,000 trivial items (whole `flyrun run`, per-item overhead) and 6 CPU-bound items of about 0.35 s
each (speed-up over running them one after another, i.e. `concurrency=1`), with the warm pool and without it."""

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

from timing import REPO, flyrun_command, median_wall

FLOWS = '''
from typing import List
from flyrun import map_task, task, workflow

@task
def inc(x: int) -> int:
    return x + 1

@workflow
def trivial(xs: List[int]) -> List[int]:
    return map_task(inc)(x=xs)

@task
def crunch(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total

@workflow
def parallel(ns: List[int]) -> List[int]:
    return map_task(crunch)(n=ns)

@workflow
def sequential(ns: List[int]) -> List[int]:
    return map_task(crunch, concurrency=1)(n=ns)
'''


def _loops_for(seconds: float) -> int:
    """How many iterations of crunch's loop take ``seconds`` here."""
    n, start = 2_000_000, time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i % 7
    return int(n * seconds / (time.perf_counter() - start))


def _parallel_ceiling(loops: int) -> float:
    """What two bare processes doing the same work get over one after another right now (the machine is shared)."""
    code = f"def f(n):\n    t = 0\n    for i in range(n):\n        t += i * i % 7\nf({loops * 2})"

    def wall(count: int) -> float:
        start = time.perf_counter()
        for proc in [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]:
            proc.wait()
        return time.perf_counter() - start

    return 2 * wall(1) / wall(2)


STARTS = '''
import statistics, sys, time
sys.path.insert(0, sys.argv[1])
import flows
from flyrun.protocol import zygote
from flyrun.local.map_worker import Worker

spec = {"sys_path": list(sys.path), "module": "flows", "attribute": "crunch", "raw_output_prefix": "",
        "storage_options": {}, "cache_dir": None, "overwrite_cache": False, "execution_id": "bench"}
forked, fresh = [], []
z = zygote.Zygote()
for _ in range(7):
    for kind, times in ((z, forked), (None, fresh)):
        start = time.perf_counter()
        worker = Worker(spec, kind)
        worker.ready()
        times.append(time.perf_counter() - start)
        worker.close()
z.close(wait=True)
print(statistics.median(forked), statistics.median(fresh))
'''


def _worker_starts(folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from asking for a worker to its answering ready: forked from a zygote, and a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", STARTS, str(folder)], capture_output=True, text=True, env=env,
                          check=True)
    forked, fresh = done.stdout.split()
    return float(forked), float(fresh)


def _timed_run(argv: list[str], env: dict[str, str], trace: bool = False) -> tuple[float, float, float, float]:
    """Whole-process seconds, the map's own seconds from the -v debug line, and from its FLYRUN_MAP_TRACE
    timeline: the mean seconds of an item and the map's seconds beyond its busier lane's items (what the map's
    own machinery costs, apart from items running slower when the machine's CPUs are shared)."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=dict(env, FLYRUN_MAP_TRACE=str(int(trace))),
                          check=True, cwd=REPO)
    wall = time.perf_counter() - start
    found = re.search(r"items, .*, ([\d.]+) s$", done.stderr, re.MULTILINE)
    item, beyond = _lanes(done.stderr)
    return wall, float(found.group(1)) if found else float("nan"), item, beyond


def _lanes(stderr: str) -> tuple[float, float]:
    steps = sorted((float(at), who, what) for _, at, who, _, what in
                   (line.split(" ", 4) for line in stderr.splitlines() if line.startswith("map-trace ")))
    started = {what: at for at, who, what in steps if who == "parent" and what.startswith("here ")}
    here = [at - started[what.removesuffix(" done")] for at, who, what in steps
            if who == "parent" and what.startswith("here ") and what.endswith(" done")]
    got = [at for at, who, what in steps if who == "worker" and what.startswith("got ")]
    ran = [at for at, who, what in steps if who == "worker" and what == "ran"]
    there = [end - begin for begin, end in zip(got, ran)]
    ends = [at for at, who, what in steps if what in ("map starts", "closed")]
    if not here or len(ends) != 2:
        return float("nan"), float("nan")
    return statistics.mean(here + there), ends[1] - ends[0] - max(sum(here), sum(there))


def run() -> list[tuple[str, str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    folder = Path(tempfile.mkdtemp(prefix="flyrun-bench-map-"))
    flows = folder / "flows.py"
    flows.write_text(FLOWS)
    flyrun = flyrun_command() + ["run"]
    one = median_wall(flyrun + [str(flows), "trivial", "--xs", "[1]"], env=env)
    thousand_args = [str(flows), "trivial", "--xs", json.dumps(list(range(1000)))]
    thousand = median_wall(flyrun + thousand_args, env=env)
    in_map = statistics.median(_timed_run(flyrun + ["-v", *thousand_args], env)[1] for _ in range(5))

    # The case: 6 items of ~0.35 s; serial, the warm pool (forked workers) and fresh-interpreter workers
    # (FLYRUN_WARM_POOL=0), interleaved, so that load from elsewhere hits all of them alike.
    loops = _loops_for(0.35)
    ns = json.dumps([loops] * 6)
    cold_env = dict(env, FLYRUN_WARM_POOL="0")
    seq_runs, par_runs, cold_runs, ceilings = [], [], [], []
    for _ in range(5):
        seq_runs.append(_timed_run(flyrun + ["-v", str(flows), "sequential", "--ns", ns], env, trace=True))
        par_runs.append(_timed_run(flyrun + ["-v", str(flows), "parallel", "--ns", ns], env, trace=True))
        cold_runs.append(_timed_run(flyrun + ["-v", str(flows), "parallel", "--ns", ns], cold_env))
        ceilings.append(_parallel_ceiling(loops))
    ceiling = statistics.median(ceilings)
    forked_start, fresh_start = _worker_starts(folder, env)
    seq_wall, seq_map, seq_item, _ = (statistics.median(r[i] for r in seq_runs) for i in (0, 1, 2, 3))
    par_wall, par_map, par_item, par_beyond = (statistics.median(r[i] for r in par_runs) for i in (0, 1, 2, 3))
    cold_wall, cold_map = (statistics.median(r[i] for r in cold_runs) for i in (0, 1))
    return [
        ("map over 1 trivial item, whole run", f"{one:.3f} s"),
        ("map over 1,000 trivial items, whole run (target < 0.5 s)", f"{thousand:.3f} s"),
        ("per-item cost, trivial items: whole run / inside the map",
         f"{(thousand - one) / 999 * 1e6:.0f} us / {in_map / 1000 * 1e6:.0f} us"),
        ("6 CPU-bound items of ~0.35 s, one after another (map / run)", f"{seq_map:.2f} s / {seq_wall:.2f} s"),
        ("6 CPU-bound items, warm pool: forked workers (map / run)", f"{par_map:.2f} s / {par_wall:.2f} s"),
        ("6 CPU-bound items, pool off: fresh interpreters (map / run)", f"{cold_map:.2f} s / {cold_wall:.2f} s"),
        ("speed-up over serial, warm pool (map / run; target >= 1.85x)",
         f"{seq_map / par_map:.2f}x / {seq_wall / par_wall:.2f}x on {os.cpu_count()} CPUs"),
        ("speed-up over serial, pool off (map / run)", f"{seq_map / cold_map:.2f}x / {seq_wall / cold_wall:.2f}x"),
        ("ceiling now: 2 bare processes vs 1 after another (shared machine)", f"{ceiling:.2f}x"),
        ("warm pool: map time beyond its busier lane's items (FLYRUN_MAP_TRACE)", f"{par_beyond * 1e3:.0f} ms"),
        ("an item's time, one after another / in the warm pool's lanes",
         f"{seq_item:.3f} s / {par_item:.3f} s ({(par_item / seq_item - 1) * 100:+.0f}%)"),
        ("load average (1 min) at the end", f"{os.getloadavg()[0]:.2f}"),
        ("a worker ready to take items: forked from the zygote / fresh interpreter",
         f"{forked_start * 1e3:.1f} ms / {fresh_start * 1e3:.0f} ms"),
    ]
