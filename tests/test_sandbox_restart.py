"""A restart loses nothing: runs in flight when the server dies are resumed, finished nodes are not run again."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from conftest import free_port, sandbox_cli
from sandbox_entities import (
    ADD,
    INT,
    Client,
    approve_workflow,
    integer,
    launch_plan,
    promise,
    task,
    task_node,
    workflow,
)

from flyrun.sandbox.server import process_alive

pytestmark = pytest.mark.slow

STEP = """
with open(inputs['marker'], 'a') as f:
    f.write(inputs['label'] + ' ' + str(os.getpid()) + '\\n')
time.sleep(inputs['seconds'])
write({'o0': inputs['label']})
"""
STR = {"simple": "STRING"}


def start(data_dir, port):
    result = sandbox_cli("start", "--port", str(port), "--data-dir", str(data_dir), "--detach", "-o", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def text(value):
    return {"scalar": {"primitive": {"string_value": value}}}


def test_killed_server_resumes_the_run_without_redoing_finished_nodes(tmp_path):
    step = task("tests.step", STEP, {"marker": STR, "label": STR, "seconds": INT}, {"o0": STR})
    marker = text(str(tmp_path / "marker"))
    wf = workflow("tests.two_steps", {}, {"o0": STR}, [
        task_node("n0", step, {"marker": marker, "label": text("first"), "seconds": integer(0)}),
        task_node("n1", step, {"marker": marker, "label": text("second"), "seconds": integer(3)},
                  upstream_node_ids=["n0"])], {"o0": promise("n1", "o0")})
    port, data_dir = free_port(), tmp_path / "data"
    info = start(data_dir, port)
    client = Client(info["url"])
    client.register(step, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"))
    deadline = time.monotonic() + 30
    while "second" not in _read(tmp_path / "marker"):  # n1's process is running
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(info["pid"], signal.SIGKILL)  # no goodbye: the store must hold everything
    orphan = int(_read(tmp_path / "marker").split()[-1])
    deadline = time.monotonic() + 10
    while process_alive(orphan):  # the kernel stops the task with its server (PR_SET_PDEATHSIG)
        assert time.monotonic() < deadline, "a task outlived its killed server"
        time.sleep(0.05)
    assert sandbox_cli("status", "--data-dir", str(data_dir)).exit_code == 5
    info = start(data_dir, port)
    try:
        done = client.wait(name, timeout=60)
        assert done["closure"]["phase"] == "SUCCEEDED"
        assert client.outputs(name)["o0"]["scalar"]["primitive"]["string_value"] == "second"
        labels = [line.split()[0] for line in _read(tmp_path / "marker").splitlines()]
        assert labels == ["first", "second", "second"]
    finally:
        sandbox_cli("stop", "--data-dir", str(data_dir))


def _read(path):
    return path.read_text() if path.exists() else ""


def test_a_gate_keeps_waiting_across_a_clean_restart(tmp_path):
    from sandbox_entities import SQUARE

    port, data_dir = free_port(), tmp_path / "data"
    client = Client(start(data_dir, port)["url"])
    wf = approve_workflow("tests.restart_gate")
    client.register(SQUARE, ADD, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(2)})
    client.wait_for_node(name, "n1", "RUNNING")
    assert sandbox_cli("stop", "--data-dir", str(data_dir)).exit_code == 0
    start(data_dir, port)
    try:
        assert client.execution(name)["closure"]["phase"] == "RUNNING"
        client.wait_for_node(name, "n1", "RUNNING")
        assert client.signal(name, "review", {"scalar": {"primitive": {"boolean": True}}}).status_code == 200
        assert client.wait(name)["closure"]["phase"] == "SUCCEEDED"
        assert client.outputs(name)["o0"]["scalar"]["primitive"]["integer"] == "5"
        assert client.nodes(name)["n0"]["closure"]["phase"] == "SUCCEEDED"
    finally:
        sandbox_cli("stop", "--data-dir", str(data_dir))
