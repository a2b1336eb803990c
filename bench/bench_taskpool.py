"""The sandbox's task pool: flyrun @tasks forked from a warm zygote per code version, against a fresh
`flyrun-execute` process per task (`--no-task-pool`), side by side.

Figures: per-task overhead (median node duration of a trivial task in a 10-task chain, warm: the task itself does
almost nothing), and 40 executions of a 3-task chain launched together (wall from the first launch to the last
one's end). The load average is printed with them: the machine is shared.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from timing import REPO, flyrun_command

P, D = "flytesnacks", "development"
FLOWS = """
from flyrun import task, workflow


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def chain3(x: int = 0) -> int:
    return inc(x=inc(x=inc(x=x)))


@workflow
def chain10(x: int = 0) -> int:
""" + "".join("    x = inc(x=x)\n" for _ in range(10)) + "    return x\n"


def _stamp(text: str) -> float:
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp.ToNanoseconds() / 1e9


def _launch(http: requests.Session, url: str, plan: dict) -> str:
    created = http.post(f"{url}/api/v1/executions", timeout=60, json={
        "project": P, "domain": D, "spec": {"launch_plan": plan},
        "inputs": {"literals": {"x": {"scalar": {"primitive": {"integer": "0"}}}}}})
    created.raise_for_status()
    return created.json()["id"]["name"]


def _finish(http: requests.Session, url: str, name: str) -> float:
    """Wait for the execution; its end time (the server's clock)."""
    while True:
        closure = http.get(f"{url}/api/v1/executions/{P}/{D}/{name}", timeout=60).json()["closure"]
        if closure["phase"] not in ("QUEUED", "RUNNING"):
            if closure["phase"] != "SUCCEEDED":
                raise RuntimeError(f"{name} ended {closure['phase']}: {closure.get('error')}")
            return _stamp(closure["updated_at"])
        time.sleep(0.05)


def _node_durations(http: requests.Session, url: str, name: str) -> list[float]:
    nodes = http.get(f"{url}/api/v1/node_executions/{P}/{D}/{name}", params={"limit": 100}, timeout=60).json()
    return [float(n["closure"]["duration"].rstrip("s")) for n in nodes["node_executions"]
            if n["id"]["node_id"].startswith("n")]


def _measure(root: Path, pool: bool, env: dict[str, str]) -> dict[str, float]:
    data = root / ("data-pool" if pool else "data-fresh")
    started = subprocess.run(flyrun_command() + ["sandbox", "start", "--port", "0", "--data-dir", str(data),
                                                 "--detach", "-o", "json",
                                                 "--task-pool" if pool else "--no-task-pool"],
                             capture_output=True, text=True, env=env, check=True)
    info = json.loads(started.stdout)
    url = info["url"]
    try:
        config = root / "config.yaml"
        config.write_text(f"admin:\n  endpoint: {info['endpoint']}\n  insecure: true\n  authType: None\n")
        done = subprocess.run(flyrun_command() + ["-c", str(config), "run", "--remote", "--wait", "flows.py",
                                                  "chain10", "-o", "json"],
                              capture_output=True, text=True, cwd=root / "proj", env=env, check=True)
        version = json.loads(done.stdout)["registration"]["version"]
        http = requests.Session()

        def plan(name: str) -> dict:
            return {"resource_type": "LAUNCH_PLAN", "project": P, "domain": D, "name": f"flows.{name}",
                    "version": version}

        durations = []
        for _ in range(3):  # warm: the zygote for this code version exists after the first run above
            name = _launch(http, url, plan("chain10"))
            _finish(http, url, name)
            durations += _node_durations(http, url, name)
        _finish(http, url, _launch(http, url, plan("chain3")))  # the same code version, warm
        load = os.getloadavg()[0]
        begun = time.time()
        with ThreadPoolExecutor(8) as launcher:
            names = list(launcher.map(lambda _: _launch(http, url, plan("chain3")), range(40)))
        ends = [_finish(http, url, name) for name in names]
        return {"per_task": statistics.median(durations), "forty": max(ends) - begun, "load": load}
    finally:
        subprocess.run(flyrun_command() + ["sandbox", "stop", "--data-dir", str(data)], capture_output=True,
                       env=env)


def run() -> list[tuple[str, str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    root = Path(tempfile.mkdtemp(prefix="flyrun-bench-pool-"))
    (root / "proj").mkdir()
    (root / "proj" / "flows.py").write_text(FLOWS)
    on = _measure(root, True, env)
    off = _measure(root, False, env)
    return [
        ("per-task overhead, warm (node duration of a trivial task): pool / fresh processes (target < 20 ms)",
         f"{on['per_task'] * 1e3:.1f} ms / {off['per_task'] * 1e3:.1f} ms"),
        ("40 executions of a 3-task chain launched together: pool / fresh processes (target < 8 s)",
         f"{on['forty']:.2f} s / {off['forty']:.2f} s"),
        ("load average (1 min) when the 40 were launched: pool run / fresh run",
         f"{on['load']:.2f} / {off['load']:.2f} on {os.cpu_count()} CPUs"),
    ]


if __name__ == "__main__":
    for what, figure in run():
        print(f"{what:<100} {figure}")
