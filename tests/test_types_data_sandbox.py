"""The data types of issue 16 on `flyrun sandbox` (`flyrun run --remote --wait`, flyrun's own task entrypoint):
the same results as the local runs in tests/test_types_data.py, with pickles, models, datasets, arrays and hashes
crossing task boundaries as literals in inputs.pb/outputs.pb."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO
from sandbox_entities import Client
from test_types_data import FLOWS

pytestmark = pytest.mark.slow


@pytest.fixture
def remote(sandbox_server, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox_server['endpoint']}\n  insecure: true\n  authType: None\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "flows.py").write_text(FLOWS)

    def run(*args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path))
        return subprocess.run([sys.executable, "-m", "flyrun.cli.main", "-c", str(config), "run", "--remote", *args],
                              cwd=project, capture_output=True, text=True, env=env, timeout=240)

    return run


@pytest.mark.parametrize(("workflow", "args", "expected"), [
    ("heroes", ("--n", "4"), ["o0: bat:9000", "o1: 6"]),
    ("models", ("--n", "7"), ["o0: 7 ['x'] hello 3"]),
    ("frames", (), ["o0: 3", "o1: 2"]),
    ("arrays", ("--n", "5"), ["o0: 10"]),
])
def test_the_same_results_as_locally(remote, workflow, args, expected):
    done = remote("--wait", "flows.py", workflow, *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-len(expected):] == expected


def test_hashed_output_literal_carries_the_hash_and_the_dataset(remote, sandbox_server):
    launched = remote("flows.py", "hashing", "-o", "json")
    assert launched.returncode == 0, launched.stderr
    name = json.loads(launched.stdout)["execution"]["name"]
    client = Client(sandbox_server["url"])
    done = client.wait(name, timeout=180)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"]
    assert client.outputs(name)["o0"]["scalar"]["primitive"]["integer"] == "10"
    nodes = client.nodes(name)
    hashed = next(n for n in nodes.values() if n["metadata"].get("spec_node_id", n["id"]["node_id"]) == "n0")
    data = client.get(f"/api/v1/data/node_executions/flytesnacks/development/{name}/"
                      f"{hashed['id']['node_id']}").json()
    literal = data["full_outputs"]["literals"]["o0"]
    assert literal["hash"] and literal["scalar"]["structured_dataset"]["uri"]


def test_a_dataset_with_missing_columns_fails_the_task_with_the_message(remote, tmp_path):
    import pandas as pd

    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "bad.parquet")
    done = remote("--wait", "flows.py", "ages", "--df", str(tmp_path / "bad.parquet"))
    assert done.returncode != 0
    assert "has columns x; the declared column age is not there" in done.stderr, done.stderr
