"""flyrun sandbox: registering a 10,000-node workflow (a chain of one task), as any client could.

The figures are the server's whole answer to ``POST /api/v1/workflows``: parsing the protojson body, compiling
(node checks, the cycle check, the connections) and storing the closure. The compiler is linear, so this grows
with the body, not with the square or cube of the node count. Wall time is what a client waits; the server's
CPU time (from /proc, Linux only) is the same work without the noise of a busy machine.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from timing import REPO

NODES = 10_000


def _server_cpu(pid: int) -> float:
    """User + system seconds the server process has used so far (0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run() -> list[tuple[str, str]]:
    import bench_sandbox

    bench_sandbox.ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                                                    os.environ.get("PYTHONPATH")])))
    sys.path.insert(0, str(REPO))
    timings: dict[int, list[float]] = {}
    cpu: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        info, _ = bench_sandbox._start(data_dir)
        try:
            url = info["url"]
            http = requests.Session()
            http.post(f"{url}/api/v1/tasks", json=bench_sandbox._task(), timeout=30)
            for size in (2_000, NODES):
                body = bench_sandbox.chain(size)
                timings[size], cpu[size] = [], []
                for attempt in range(3):
                    body["id"]["version"] = body["spec"]["template"]["id"]["version"] = f"r{attempt}"
                    data = json.dumps(body)
                    used = _server_cpu(info["pid"])
                    begun = time.perf_counter()
                    answer = http.post(f"{url}/api/v1/workflows", data=data, timeout=120,
                                       headers={"Content-Type": "application/json"})
                    timings[size].append(time.perf_counter() - begun)
                    cpu[size].append(_server_cpu(info["pid"]) - used)
                    if answer.status_code != 200:
                        raise RuntimeError(f"registering {size} nodes: {answer.status_code} {answer.text[:200]}")
        finally:
            bench_sandbox._stop(data_dir)
    body_mib = len(json.dumps(bench_sandbox.chain(NODES))) / (1 << 20)
    return [
        ("register a 2,000-node chain workflow (median of 3)", f"{statistics.median(timings[2_000]):.3f} s"),
        ("  server CPU", f"{statistics.median(cpu[2_000]):.2f} s"),
        (f"register a {NODES:,}-node chain workflow (median of 3)", f"{statistics.median(timings[NODES]):.3f} s"),
        ("  server CPU", f"{statistics.median(cpu[NODES]):.2f} s"),
        ("  its request body", f"{body_mib:.1f} MiB"),
    ]
