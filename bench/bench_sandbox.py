"""flyrun sandbox: time from `sandbox start` to ready, and what a workflow costs per node.

The workflows use hand-built task templates whose containers run a small `python -c` script reading inputs.pb
and writing outputs.pb with flyteidl (the propeller contract), so the figures are the sandbox's overhead plus one
Python process per task; the process floor is reported on its own line to tell the two apart.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from timing import REPO

ENV = None  # set in run(): this checkout's flyrun, not whichever is installed
LAST_RUN = [""]


def flyrun_command() -> list[str]:
    return [sys.executable, "-m", "flyrun.cli.main"]

SCRIPT = """
import sys
from flyteidl.core import literals_pb2
m = literals_pb2.LiteralMap(); m.ParseFromString(open(sys.argv[1], 'rb').read())
o = literals_pb2.LiteralMap(); o.literals['o0'].scalar.primitive.integer = m.literals['x'].scalar.primitive.integer + 1
open(sys.argv[2] + '/outputs.pb', 'wb').write(o.SerializeToString())
"""
INT = {"simple": "INTEGER"}
P, D = "flytesnacks", "development"


def _ident(kind: str, name: str) -> dict[str, str]:
    return {"resource_type": kind, "project": P, "domain": D, "name": name, "version": "bench"}


def _task() -> dict:
    tid = _ident("TASK", "bench.inc")
    return {"id": tid, "spec": {"template": {
        "id": tid, "type": "python-task", "metadata": {"runtime": {"type": "FLYTE_SDK", "version": "1"}},
        "interface": {"inputs": {"variables": {"x": {"type": INT}}}, "outputs": {"variables": {"o0": {"type": INT}}}},
        "container": {"image": "bench", "args": [sys.executable, "-c", SCRIPT, "{{.input}}", "{{.outputPrefix}}"]}}}}


def _node(node_id: str, source: tuple[str, str]) -> dict:
    return {"id": node_id, "metadata": {"name": "inc"}, "task_node": {"reference_id": _ident("TASK", "bench.inc")},
            "inputs": [{"var": "x", "binding": {"promise": {"node_id": source[0], "var": source[1]}}}]}


def _workflow(name: str, nodes: list[dict], output: str) -> dict:
    wid = _ident("WORKFLOW", name)
    template = {"id": wid, "interface": {"inputs": {"variables": {"x": {"type": INT}}},
                                         "outputs": {"variables": {"o0": {"type": INT}}}},
                "nodes": nodes, "outputs": [{"var": "o0", "binding": {"promise": {"node_id": output, "var": "o0"}}}]}
    return {"id": wid, "spec": {"template": template}}


def chain(n: int) -> dict:
    nodes = [_node(f"n{i}", ("start-node", "x") if i == 0 else (f"n{i - 1}", "o0")) for i in range(n)]
    return _workflow(f"bench.chain{n}", nodes, f"n{n - 1}")


def fan_out(n: int) -> dict:
    nodes = [_node(f"n{i}", ("start-node", "x")) for i in range(n)]
    return _workflow(f"bench.fan{n}", nodes, "n0")


def _start(data_dir: Path) -> tuple[dict, float]:
    begun = time.perf_counter()
    done = subprocess.run(flyrun_command() + ["sandbox", "start", "--port", "0", "--data-dir", str(data_dir),
                                              "--detach", "-o", "json"], capture_output=True, text=True, cwd=REPO,
                          env=ENV)
    elapsed = time.perf_counter() - begun
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout), elapsed


def _stop(data_dir: Path) -> None:
    subprocess.run(flyrun_command() + ["sandbox", "stop", "--data-dir", str(data_dir)], capture_output=True, env=ENV)


def _foreground_ready(data_dir: Path) -> float:
    """Spawn the server in the foreground and poll /healthcheck: the server's own time to ready."""
    from flyrun.sandbox.layout import DataDir
    from flyrun.sandbox.server import healthy, read_pid_file

    begun = time.perf_counter()
    process = subprocess.Popen(flyrun_command() + ["sandbox", "start", "--port", "0", "--data-dir", str(data_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=ENV)
    try:
        while True:
            info = read_pid_file(DataDir(data_dir))
            if info and info["pid"] == process.pid and healthy(info["url"], timeout=0.2):
                return time.perf_counter() - begun
            time.sleep(0.005)
    finally:
        process.terminate()
        process.wait()


def _stamp(text: str) -> float:
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp.ToNanoseconds() / 1e9


def _node_figures(url: str, name: str) -> tuple[float, float]:
    """(median task node duration, median gap from one node's end to the next one's start) from the API."""
    nodes = requests.get(f"{url}/api/v1/node_executions/{P}/{D}/{name}", params={"limit": 100}, timeout=30).json()
    tasks = [n["closure"] for n in nodes["node_executions"] if n["id"]["node_id"].startswith("n")]
    durations = [float(c["duration"].rstrip("s")) for c in tasks]
    gaps = [_stamp(b["started_at"]) - _stamp(a["updated_at"]) for a, b in zip(tasks, tasks[1:])]
    return statistics.median(durations), statistics.median(gaps)


def _run(url: str, workflow: dict) -> float:
    http = requests.Session()
    http.post(f"{url}/api/v1/workflows", json=workflow, timeout=30)
    lp_id = dict(workflow["id"], resource_type="LAUNCH_PLAN")
    http.post(f"{url}/api/v1/launch_plans", json={"id": lp_id, "spec": {"workflow_id": workflow["id"]}}, timeout=30)
    begun = time.perf_counter()
    created = http.post(f"{url}/api/v1/executions", timeout=30, json={
        "project": P, "domain": D, "spec": {"launch_plan": lp_id},
        "inputs": {"literals": {"x": {"scalar": {"primitive": {"integer": "0"}}}}}}).json()
    name = created["id"]["name"]
    while True:
        phase = http.get(f"{url}/api/v1/executions/{P}/{D}/{name}", timeout=30).json()["closure"]["phase"]
        if phase not in ("QUEUED", "RUNNING"):
            if phase != "SUCCEEDED":
                raise RuntimeError(f"{workflow['id']['name']} ended {phase}")
            LAST_RUN[0] = name
            return time.perf_counter() - begun
        time.sleep(0.01)


def _process_floor(runs: int = 5) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        inputs = Path(scratch) / "inputs.pb"
        from flyteidl.core import literals_pb2

        message = literals_pb2.LiteralMap()
        message.literals["x"].scalar.primitive.integer = 1
        inputs.write_bytes(message.SerializeToString())
        times = []
        for _ in range(runs):
            begun = time.perf_counter()
            subprocess.run([sys.executable, "-c", SCRIPT, str(inputs), scratch], check=True)
            times.append(time.perf_counter() - begun)
    return statistics.median(times)


def run() -> list[tuple[str, str]]:
    global ENV
    import os

    ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        detached = []
        for index in range(5):
            data_dir = root / f"start{index}"
            _, elapsed = _start(data_dir)
            detached.append(elapsed)
            _stop(data_dir)
        foreground = statistics.median(_foreground_ready(root / f"fg{i}") for i in range(5))
        info, _ = _start(root / "runs")
        try:
            url = info["url"]
            requests.post(f"{url}/api/v1/tasks", json=_task(), timeout=30)
            _run(url, chain(1))  # warm-up
            one = statistics.median(_run(url, chain(1)) for _ in range(3))
            ten = statistics.median(_run(url, chain(10)) for _ in range(3))
            node_time, gap = _node_figures(url, LAST_RUN[0])
            wide = statistics.median(_run(url, fan_out(10)) for _ in range(3))
        finally:
            _stop(root / "runs")
    floor = _process_floor()
    return [
        ("sandbox start --detach, to ready (median of 5)", f"{statistics.median(detached):.3f} s"),
        ("server process spawn to /healthcheck OK (median of 5)", f"{foreground:.3f} s"),
        ("1-node workflow, create to SUCCEEDED", f"{one:.3f} s"),
        ("10-node chain, create to SUCCEEDED", f"{ten:.3f} s"),
        ("  per node", f"{ten / 10 * 1000:.0f} ms"),
        ("  a node, RUNNING to SUCCEEDED (median, from the API)", f"{node_time * 1000:.0f} ms"),
        ("  between one node's end and the next one's start (median)", f"{gap * 1000:.1f} ms"),
        ("10 independent nodes (2 CPU slots), create to SUCCEEDED", f"{wide:.3f} s"),
        ("floor: one `python -c` task process reading/writing .pb", f"{floor * 1000:.0f} ms"),
        ("  sandbox overhead per node (node time + gap - floor)", f"{(node_time + gap - floor) * 1000:.0f} ms"),
    ]
