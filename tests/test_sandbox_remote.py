"""`flyrun run --remote` against `flyrun sandbox`: the path a cluster takes, with flyrun's own task entrypoint.

A workflow with a map over a partial and an approve gate runs to the end; the gate is approved over the API the
way `flyrun approve` or the console would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import REPO
from sandbox_entities import Client

pytestmark = pytest.mark.slow

PIPELINE = '''
from typing import List

from flyrun import approve, map_task, partial, task, workflow


@task
def scale(x: int, factor: int) -> int:
    return x * factor


@task
def total(values: List[int]) -> int:
    return sum(values)


@workflow
def pipeline(xs: List[int], factor: int = 10) -> int:
    scaled = map_task(partial(scale, factor=factor))(x=xs)
    checked = approve(total(values=scaled), "review")
    return total(values=[checked, 1])
'''


@pytest.fixture
def remote(sandbox_server, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox_server['endpoint']}\n  insecure: true\n  authType: None\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pipeline.py").write_text(PIPELINE)

    def run(*args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path))
        return subprocess.run([sys.executable, "-m", "flyrun.cli.main", "-c", str(config), "run", "--remote", *args],
                              cwd=project, capture_output=True, text=True, env=env, timeout=180)

    return run


def test_run_remote_wait_prints_the_outputs(remote):
    done = remote("--wait", str(REPO / "examples" / "hello.py"), "wf", "--x", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("o0: Hello world, the answer is 9")


def test_map_over_a_partial_and_an_approve_gate(remote, sandbox_server):
    launched = remote("pipeline.py", "pipeline", "--xs", "[1, 2, 3]", "-o", "json")
    assert launched.returncode == 0, launched.stderr
    name = json.loads(launched.stdout)["execution"]["name"]
    client = Client(sandbox_server["url"])
    deadline = time.monotonic() + 60
    while "review" not in [s["id"]["signal_id"] for s in client.get(
            f"/api/v1/signals/flytesnacks/development/{name}", params={"limit": 10}).json()["signals"]]:
        assert time.monotonic() < deadline, client.execution(name)
        time.sleep(0.1)
    assert client.signal(name, "review", {"scalar": {"primitive": {"boolean": True}}}).status_code == 200
    done = client.wait(name, timeout=120)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"]
    assert client.outputs(name)["o0"]["scalar"]["primitive"]["integer"] == "61"  # (10 + 20 + 30) + 1
    array = [n for n in client.nodes(name).values() if n["metadata"]["is_array"]]
    assert len(array) == 1 and len(client.nodes(name, parent=array[0]["id"]["node_id"])) == 3
