"""flyrun sandbox: registering a 10,000-node workflow (a chain of one task), as any client could.

The figures are the server's whole answer to ``POST /api/v1/workflows``: parsing the body, compiling
(node checks, the cycle check, the connections) and storing the closure. The compiler is linear, so this grows
with the body, not with the square or cube of the node count. Wall time is what a client waits; the server's
CPU time (from /proc, Linux only) is the same work without the noise of a busy machine.

The 10,000-node chain is sent twice: as protojson, and as binary protobuf (``application/x-protobuf``, what
flyrun's client sends to a server advertising it), whose parse is C instead of protobuf's pure-Python json_format.
The client's cost of making the binary body from the serializer's dict is reported on its own line.
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
    from flyrun.remote import protobody

    timings: dict[tuple[int, str], list[float]] = {}
    cpu: dict[tuple[int, str], list[float]] = {}
    encode: list[float] = []
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        info, _ = bench_sandbox._start(data_dir)
        try:
            url = info["url"]
            http = requests.Session()
            http.post(f"{url}/api/v1/tasks", json=bench_sandbox._task(), timeout=30)
            for size, kind in ((2_000, "json"), (NODES, "json"), (NODES, "protobuf")):
                body = bench_sandbox.chain(size)
                key = (size, kind)
                timings[key], cpu[key] = [], []
                for attempt in range(3):
                    body["id"]["version"] = body["spec"]["template"]["id"]["version"] = f"{kind}{attempt}"
                    if kind == "json":
                        data, content_type = json.dumps(body).encode(), "application/json"
                    else:
                        begun = time.perf_counter()
                        data, content_type = protobody.create_request("WORKFLOW", body), protobody.BINARY_TYPE
                        encode.append(time.perf_counter() - begun)
                    sizes[kind] = len(data)
                    used = _server_cpu(info["pid"])
                    begun = time.perf_counter()
                    answer = http.post(f"{url}/api/v1/workflows", data=data, timeout=120,
                                       headers={"Content-Type": content_type})
                    timings[key].append(time.perf_counter() - begun)
                    cpu[key].append(_server_cpu(info["pid"]) - used)
                    if answer.status_code != 200:
                        raise RuntimeError(f"registering {size} nodes: {answer.status_code} {answer.text[:200]}")
        finally:
            bench_sandbox._stop(data_dir)
    def median(values: list[float], digits: int = 3) -> str:
        return f"{statistics.median(values):.{digits}f} s"

    return [
        ("register a 2,000-node chain workflow (JSON, median of 3)", median(timings[(2_000, "json")])),
        ("  server CPU", median(cpu[(2_000, "json")], 2)),
        (f"register a {NODES:,}-node chain workflow (JSON, median of 3)", median(timings[(NODES, "json")])),
        ("  server CPU", median(cpu[(NODES, "json")], 2)),
        ("  its request body", f"{sizes['json'] / (1 << 20):.1f} MiB"),
        (f"register a {NODES:,}-node chain workflow (protobuf, median of 3)", median(timings[(NODES, "protobuf")])),
        ("  server CPU", median(cpu[(NODES, "protobuf")], 2)),
        ("  its request body", f"{sizes['protobuf'] / (1 << 20):.1f} MiB"),
        ("  client: making the protobuf body from the dict", median(encode)),
    ]
