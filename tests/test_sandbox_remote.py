"""`flyrun run --remote` against `flyrun sandbox`: the path a cluster takes, with flyrun's own task entrypoint.

A workflow with a map over a partial, an approve gate and files on S3 (moto on loopback) runs to the end; the
gate is approved with `flyrun approve`.
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


FILES = '''
from typing import List

from flyrun import FlyteFile, approve, map_task, partial, task, workflow


@task
def split(ff: FlyteFile, parts: int) -> List[str]:
    with ff.open("r") as f:
        return f.read().splitlines()[:parts]


@task
def shout(line: str, suffix: str) -> FlyteFile:
    out = FlyteFile.new_remote_file(line + ".txt")
    with out.open("w") as f:
        f.write(line.upper() + suffix)
    return out


@task
def join(files: List[FlyteFile]) -> str:
    texts = []
    for file in files:
        with file.open("r") as f:
            texts.append(f.read())
    return ",".join(texts)


@workflow
def shouting(ff: FlyteFile) -> str:
    files = map_task(partial(shout, suffix="!"))(line=split(ff=ff, parts=3))
    return approve(join(files=files), "review")
'''


@pytest.fixture
def remote(sandbox_server, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox_server['endpoint']}\n  insecure: true\n  authType: None\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pipeline.py").write_text(PIPELINE)
    (project / "files.py").write_text(FILES)

    def run(*args: str, command: str = "run") -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path))
        words = ["run", "--remote", *args] if command == "run" else [command, *args]
        return subprocess.run([sys.executable, "-m", "flyrun.cli.main", "-c", str(config), *words],
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


def test_files_on_s3_through_a_map_and_a_gate(remote, sandbox_server, s3_peer):
    """Inputs, raw outputs and every FlyteFile on S3; the tasks reach it through the execution's env vars."""
    bucket = s3_peer.bucket("sandbox-e2e")
    s3_peer.filesystem().pipe(f"{bucket}/in/lines.txt", b"alpha\nbeta\ngamma\ndelta\n")
    envs = [word for name, value in s3_peer.env.items() for word in ("-e", f"{name}={value}")]
    launched = remote(*envs, "--raw-output-data-prefix", f"s3://{bucket}/raw", "files.py", "shouting",
                      "--ff", f"s3://{bucket}/in/lines.txt", "-o", "json")
    assert launched.returncode == 0, launched.stderr
    name = json.loads(launched.stdout)["execution"]["name"]
    approved = remote(name, "review", "--retry-for", "60", command="approve")
    assert approved.returncode == 0, approved.stderr
    client = Client(sandbox_server["url"])
    done = client.wait(name, timeout=120)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"]
    assert client.outputs(name)["o0"]["scalar"]["primitive"]["string_value"] == "ALPHA!,BETA!,GAMMA!"
    written = s3_peer.filesystem().find(f"{bucket}/raw")
    assert {path.rsplit("/", 1)[1] for path in written} >= {"alpha.txt", "beta.txt", "gamma.txt"}
