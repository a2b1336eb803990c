"""One task of a 2,000-node workflow, run as a task container runs it (flyrun-execute), beside a module holding
only that task: what the workflow in the task's module costs each task process (tracing it is deferred there).
Wall and CPU time (user + system, from ``wait4``) of whole processes, median of 5 after a warm-up."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import REPO

TASK = "from flyrun import task, workflow\n\n\n@task\ndef inc(x: int) -> int:\n    return x + 1\n"
NODES = 2_000


def _measure(argv: list[str], env: dict[str, str], runs: int = 5) -> tuple[float, float]:
    walls, cpus = [], []
    for index in range(runs + 1):
        begun = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        if status:
            raise RuntimeError(f"{argv} failed")
        if index:  # the first run warms the file cache and writes .pyc files
            walls.append(time.perf_counter() - begun)
            cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def run() -> list[tuple[str, str]]:
    from flyteidl.core import literals_pb2 as L

    with tempfile.TemporaryDirectory(prefix="flyrun-bench-big-") as scratch:
        root = Path(scratch)
        (root / "small.py").write_text(TASK)
        body = "".join("    x = inc(x=x)\n" for _ in range(NODES))
        (root / "big.py").write_text(f"{TASK}\n\n@workflow\ndef chain(x: int = 0) -> int:\n{body}    return x\n")
        inputs = root / "inputs.pb"
        inputs.write_bytes(L.LiteralMap(literals={"x": L.Literal(scalar=L.Scalar(primitive=L.Primitive(
            integer=1)))}).SerializeToString())
        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        figures = {}
        for module in ("small", "big"):
            argv = [sys.executable, "-m", "flyrun.idl.entrypoint", "--inputs", str(inputs), "--output-prefix",
                    str(root / "out"), "--dest-dir", str(root), "--resolver", "flyrun.default", "--",
                    "task-module", module, "task-name", "inc"]
            figures[module] = _measure(argv, env)
    (small_wall, small_cpu), (big_wall, big_cpu) = figures["small"], figures["big"]
    return [
        ("flyrun-execute, a task alone in its module: wall / CPU", f"{small_wall:.3f} s / {small_cpu:.3f} s"),
        (f"flyrun-execute, a task of a {NODES:,}-node workflow: wall / CPU", f"{big_wall:.3f} s / {big_cpu:.3f} s"),
        ("  the workflow's cost to each task (CPU)", f"{(big_cpu - small_cpu) * 1000:.0f} ms"),
    ]
