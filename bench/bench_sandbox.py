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
    from flyrun.sandbox.server import healthy, read_pid_file
    from flyrun.sandbox.state.layout import DataDir

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


def _node_figures(url: str, names: list[str]) -> tuple[float, float]:
    """(median task node duration, median gap from one node's end to the next one's start) from the API."""
    durations, gaps = [], []
    for name in names:
        nodes = requests.get(f"{url}/api/v1/node_executions/{P}/{D}/{name}", params={"limit": 100},
                             timeout=30).json()
        tasks = [n["closure"] for n in nodes["node_executions"] if n["id"]["node_id"].startswith("n")]
        durations += [float(c["duration"].rstrip("s")) for c in tasks]
        gaps += [_stamp(b["started_at"]) - _stamp(a["updated_at"]) for a, b in zip(tasks, tasks[1:])]
    return statistics.median(durations), statistics.median(gaps)


def _run(url: str, workflow: dict) -> tuple[float, str]:
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
            return time.perf_counter() - begun, name
        time.sleep(0.01)


CHAIN_PY = """
from flyrun import task, workflow


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def chain(x: int = 0) -> int:
""" + "".join("    x = inc(x=x)\n" for _ in range(10)) + "    return x\n"


def _flyrun_chain(root: Path, info: dict) -> tuple[float, float, float]:
    """10 chained flyrun @tasks through `flyrun run --remote` (the real entrypoint): (wall, node, gap)."""
    project = root / "chainproj"
    project.mkdir()
    (project / "chain.py").write_text(CHAIN_PY)
    config = root / "chain.yaml"
    config.write_text(f"admin:\n  endpoint: {info['endpoint']}\n  insecure: true\n  authType: None\n")
    walls, names = [], []
    for _ in range(3):
        done = subprocess.run(flyrun_command() + ["-c", str(config), "run", "--remote", "chain.py", "chain", "-o",
                                                  "json"], capture_output=True, text=True, cwd=project, env=ENV)
        name = json.loads(done.stdout)["execution"]["name"]
        url = info["url"]
        while True:
            execution = requests.get(f"{url}/api/v1/executions/{P}/{D}/{name}", timeout=30).json()["closure"]
            if execution["phase"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.02)
        walls.append(_stamp(execution["updated_at"]) - _stamp(execution["created_at"]))
        names.append(name)
    return (statistics.median(walls), *_node_figures(info["url"], names))


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
            one = statistics.median(_run(url, chain(1))[0] for _ in range(3))
            tens = [_run(url, chain(10)) for _ in range(3)]
            ten = statistics.median(wall for wall, _ in tens)
            node_time, gap = _node_figures(url, [name for _, name in tens])
            wide = statistics.median(_run(url, fan_out(10))[0] for _ in range(3))
            real_wall, real_node, real_gap = _flyrun_chain(root, info)
        finally:
            _stop(root / "runs")
    floor = _process_floor()
    return [
        ("sandbox start --detach, to ready (median of 5)", f"{statistics.median(detached):.3f} s"),
        ("server process spawn to /healthcheck OK (median of 5)", f"{foreground:.3f} s"),
        ("1-node workflow (hand-built task), create to SUCCEEDED", f"{one:.3f} s"),
        ("10-node chain (hand-built tasks), create to SUCCEEDED", f"{ten:.3f} s"),
        ("  per node", f"{ten / 10 * 1000:.0f} ms"),
        ("  a node, RUNNING to SUCCEEDED (median of 30, from the API)", f"{node_time * 1000:.0f} ms"),
        ("  between one node's end and the next one's start (median)", f"{gap * 1000:.1f} ms"),
        ("  floor: the same task process run alone", f"{floor * 1000:.0f} ms"),
        ("  sandbox overhead per node (node time + gap - floor)", f"{(node_time + gap - floor) * 1000:.0f} ms"),
        ("10 independent nodes (2 CPU slots), create to SUCCEEDED", f"{wide:.3f} s"),
        ("10 chained flyrun @tasks (flyrun-execute), created to SUCCEEDED", f"{real_wall:.3f} s"),
        ("  a node, RUNNING to SUCCEEDED (median of 30)", f"{real_node * 1000:.0f} ms"),
        ("  between one node's end and the next one's start (median)", f"{real_gap * 1000:.1f} ms"),
    ]
