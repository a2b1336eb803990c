"""The sandbox runs tasks that pyflyte registered with flytekit's own entrypoints.

The project in tests/data/flytekit_project imports ``flytekit``; `pyflyte package --fast` serializes it (tasks run
``pyflyte-fast-execute --additional-distribution <bundle> --dest-dir /root -- pyflyte-execute ...``), the test
registers it through the REST API as `pyflyte register` would, and the sandbox runs each task as a process of
``--task-python`` with flytekit's own ``pyflyte-execute`` and ``pyflyte-map-execute``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import REPO, free_port, sandbox_cli
from flytekit_support import DOMAIN, PROJECT, clean_env, literal_text, package, register
from sandbox_entities import Client, task

from flyrun.sandbox.engine.taskrun import local_argv, task_python_path


@pytest.fixture(scope="module")
def flytekit_sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox whose tasks run with --task-python: a folder of its own holding a link to this test's Python
    (as a virtual environment's bin does) and a probe program found nowhere else; the flytekit project is
    registered."""
    pytest.importorskip("flytekit", reason="flytekit is in the test extra")
    data_dir = tmp_path_factory.mktemp("fk-sandbox")
    bin_dir = tmp_path_factory.mktemp("task-python") / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    probe = bin_dir / PROBE
    probe.write_text('#!/bin/sh\ncommand -v python > "$1/probe.txt"\n')
    probe.chmod(0o755)
    started = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(data_dir), "--detach",
                          "--task-python", str(bin_dir / "python"), "-o", "json")
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    try:
        work = tmp_path_factory.mktemp("fk-package")
        archive = package(work, clean_env(work))
        version = register(info["url"], archive)
        yield dict(info, data_dir=data_dir, version=version, client=Client(info["url"]), bin_dir=bin_dir)
    finally:
        stopped = sandbox_cli("stop", "--data-dir", str(data_dir))
        assert stopped.exit_code == 0, stopped.output


PROBE = "task-python-probe"
# Each flytekit task starts two interpreters that import flytekit (about 2 s of CPU each): on a loaded 2-core
# machine a task has taken 30 s, and a map of four items waits for CPU slots.
TIMEOUT = 400


def _plan(name: str, version: str) -> dict[str, str]:
    return {"resource_type": "LAUNCH_PLAN", "project": PROJECT, "domain": DOMAIN, "name": name, "version": version}


def _integer(value: int) -> dict:
    return {"scalar": {"primitive": {"integer": str(value)}}}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_pyflyte_registered_workflow_runs_with_flytekits_entrypoints(flytekit_sandbox):
    client, version = flytekit_sandbox["client"], flytekit_sandbox["version"]
    task = client.get(f"/api/v1/tasks/{PROJECT}/{DOMAIN}/fkproj.workflows.double/{version}").json()
    args = task["closure"]["compiled_task"]["template"]["container"]["args"]
    assert args[0] == "pyflyte-fast-execute" and args[2].startswith("file://")  # the uploaded bundle's URL
    name = client.launch(_plan("fkproj.workflows.hello", version), {"x": _integer(2)})  # name: the default
    done = client.wait(name, timeout=TIMEOUT)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"].get("error")
    assert literal_text(client.outputs(name)["o0"]) == " ".join(["hello world"] * 4)
    nodes = client.nodes(name)
    assert {nodes[n]["closure"]["phase"] for n in ("n0", "n1")} == {"SUCCEEDED"}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_commands_find_the_task_pythons_programs_first(flytekit_sandbox):
    client = flytekit_sandbox["client"]
    probe = task("tests.task_python_probe", "", {}, {})
    probe["spec"]["template"]["container"]["args"] = [PROBE, "{{.outputPrefix}}"]
    client.register(probe)
    name = client.launch(probe["id"])
    done = client.wait(name, timeout=60)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"].get("error")
    (node,) = [n for i, n in client.nodes(name).items() if i not in ("start-node", "end-node")]
    found = (Path(node["closure"]["output_uri"]).parent / "probe.txt").read_text().strip()
    assert found == str(flytekit_sandbox["bin_dir"] / "python")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_flytekit_map_task_runs_each_item_with_pyflyte_map_execute(flytekit_sandbox):
    client, version = flytekit_sandbox["client"], flytekit_sandbox["version"]
    xs = {"collection": {"literals": [_integer(i) for i in (1, 2, 3, 4)]}}
    name = client.launch(_plan("fkproj.workflows.squares", version), {"xs": xs})
    done = client.wait(name, timeout=TIMEOUT)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"].get("error")
    assert literal_text(client.outputs(name)["o0"]) == "30"
    children = client.nodes(name, parent="n0")
    assert sorted(children) == [f"n0-0-{i}" for i in range(4)]
    data = client.get(f"/api/v1/data/node_executions/{PROJECT}/{DOMAIN}/{name}/n0-0-2").json()
    assert literal_text(data["full_outputs"]["literals"]["o0"]) == "9"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_failing_flytekit_task_shows_its_error_in_executions_get(flytekit_sandbox, tmp_path):
    client, version = flytekit_sandbox["client"], flytekit_sandbox["version"]
    name = client.launch(_plan("fkproj.workflows.failing", version), {"x": _integer(5)})
    done = client.wait(name, timeout=TIMEOUT)
    assert done["closure"]["phase"] == "FAILED"
    assert "x is too big: 5" in done["closure"]["error"]["message"]
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {flytekit_sandbox['url']}\n  insecure: true\n  authType: None\n")
    import subprocess

    shown = subprocess.run([sys.executable, "-m", "flyrun.cli.main", "executions", "get", name, "-c", str(config)],
                           capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path)})
    assert shown.returncode == 0, shown.stderr
    assert "FAILED" in shown.stdout and "x is too big: 5" in shown.stdout


def test_the_fast_register_folder_becomes_the_attempts_work_folder(tmp_path):
    words = ["pyflyte-fast-execute", "--additional-distribution", "file:///b/fast.tar.gz", "--dest-dir", "/root",
             "--", "pyflyte-execute", "--dest-dir", "/kept", "--inputs", "/x/inputs.pb"]
    mapped = local_argv(words, tmp_path)
    assert mapped[3:5] == ["--dest-dir", str(tmp_path)]  # not /root, shared by every task of the machine
    assert mapped[6:9] == ["pyflyte-execute", "--dest-dir", "/kept"]  # the inner command's options are its own
    assert local_argv(["pyflyte-fast-execute", "--dest-dir=/root", "--"], tmp_path)[1] == f"--dest-dir={tmp_path}"
    assert local_argv(["sh", "-c", "echo --dest-dir /root"], tmp_path) == ["sh", "-c", "echo --dest-dir /root"]
    assert local_argv(["flyrun-execute", "--inputs", "x"])[:3] == [sys.executable, "-m", "flyrun.idl.entrypoint"]


def test_the_task_pythons_folder_comes_first_on_path(tmp_path):
    venv_python = tmp_path / "venv" / "bin" / "python"
    path = task_python_path(str(venv_python), f"/usr/bin{os.pathsep}{venv_python.parent}{os.pathsep}/bin")
    assert path.split(os.pathsep) == [str(venv_python.parent), "/usr/bin", "/bin"]


@pytest.mark.parametrize("given", ["missing/python", "plain.txt"])
def test_a_task_python_that_is_not_a_program_is_refused(tmp_path, given):
    (tmp_path / "plain.txt").write_text("not a program")
    data_dir = tmp_path / "data"
    started = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(data_dir), "--detach",
                          "--task-python", str(tmp_path / given))
    assert started.exit_code == 2, started.output
    assert "--task-python" in started.stderr and "not an executable file" in started.stderr
    assert "Traceback" not in started.stderr
