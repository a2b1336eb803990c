"""How a remote run ends, seen from a shell: exit 6 when it fails, 7 when the wait times out, and the
`flyrun executions` commands (one JSON document on stdout with -o json, progress on stderr)."""

from __future__ import annotations

import json

import pytest
from remote_projects import write_stages

pytestmark = pytest.mark.slow


@pytest.fixture
def stages(tmp_path):
    return write_stages(tmp_path)


def launched_name(result) -> str:
    assert result.stdout.strip().startswith("{"), result.output
    return json.loads(result.stdout)["execution"]["name"]


def test_a_task_that_raises_exits_6_naming_the_node_and_the_error(remote, stages):
    failed = remote("run", "--remote", "--wait", "-o", "json", str(stages), "breaks")
    assert failed.exit_code == 6, failed.output
    document = json.loads(failed.stdout)
    name = document["execution"]["name"]
    assert document["phase"] == "FAILED"
    error = f"Error: execution {name} FAILED at node n0: ValueError: x is too big: 5"
    assert document["error"] == error.removeprefix("Error: ")
    assert failed.stderr.splitlines()[-1] == error
    assert "  n0: FAILED (ValueError: x is too big: 5)" in failed.stderr.splitlines()

    waited = remote("executions", "wait", name)
    assert waited.exit_code == 6 and waited.stdout == ""
    assert waited.stderr.splitlines()[-1] == error
    outputs = remote("executions", "outputs", name)
    assert outputs.exit_code == 6 and outputs.stderr.splitlines() == [error]
    got = remote("executions", "get", name, "-o", "json")
    assert got.exit_code == 0, got.output
    details = json.loads(got.stdout)
    assert details["phase"] == "FAILED" and details["entity"] == "stages.breaks"
    assert [(n["node_id"], n["phase"]) for n in details["nodes"]] == [("n0", "FAILED")]
    assert details["nodes"][0]["error"].startswith("ValueError: x is too big: 5")
    assert "Traceback" in details["error"]  # the whole error, for a person to read
    text = remote("executions", "get", name)
    assert "phase:      FAILED" in text.stdout.splitlines()
    assert "  n0: FAILED (ValueError: x is too big: 5)" in text.stdout.splitlines()


def test_wait_timeout_exits_7_then_terminate_aborts_the_run(remote, stages):
    slow = remote("run", "--remote", "--wait", "--timeout", "0.5", "-o", "json", str(stages), "sleepy")
    assert slow.exit_code == 7, slow.output
    name = launched_name(slow)
    assert json.loads(slow.stdout)["phase"] in ("QUEUED", "RUNNING")
    assert slow.stderr.splitlines()[-2].startswith(f"Error: execution {name} is still ")
    assert slow.stderr.splitlines()[-1] == f"Hint: follow it with `flyrun executions wait {name}`"
    early = remote("executions", "outputs", name)
    assert early.exit_code == 2 and f"execution {name} is still " in early.stderr

    stopped = remote("executions", "terminate", name, "-o", "json")
    assert stopped.exit_code == 0, stopped.output
    assert json.loads(stopped.stdout) == {"execution": {"project": "flytesnacks", "domain": "development",
                                                        "name": name}, "terminated": True}
    waited = remote("executions", "wait", name, "--timeout", "20")
    assert waited.exit_code == 6
    assert waited.stderr.splitlines()[-1] == (f"Error: execution {name} ABORTED: aborted: terminated with flyrun "
                                              "(by sandbox)")
    got = remote("executions", "get", name, "-o", "json")
    assert json.loads(got.stdout)["phase"] == "ABORTED"
    assert json.loads(got.stdout)["error"] == "aborted: terminated with flyrun"
    again = remote("executions", "terminate", name)
    assert again.exit_code == 2 and "already terminated" in again.stderr


def test_list_get_and_outputs_print_one_json_document(remote, stages):
    done = remote("run", "--remote", "--wait", "-o", "json", str(stages), "breaks", "--x", "1")
    assert done.exit_code == 0, done.output
    name = launched_name(done)
    assert json.loads(done.stdout)["outputs"] == {"o0": 2}

    listed = remote("executions", "list", "--limit", "5", "-o", "json")
    assert listed.exit_code == 0 and listed.stderr == ""
    rows = json.loads(listed.stdout)["executions"]
    assert rows[0]["name"] == name and rows[0]["phase"] == "SUCCEEDED" and rows[0]["entity"] == "stages.breaks"
    got = json.loads(remote("executions", "get", name, "-o", "json").stdout)
    assert got["phase"] == "SUCCEEDED" and got["error"] is None
    assert [(n["node_id"], n["phase"]) for n in got["nodes"]] == [("n0", "SUCCEEDED"), ("n1", "SUCCEEDED")]
    outputs = remote("executions", "outputs", name, "-o", "json")
    assert outputs.exit_code == 0 and outputs.stderr == ""
    assert json.loads(outputs.stdout) == {"execution": {"project": "flytesnacks", "domain": "development",
                                                        "name": name}, "outputs": {"o0": 2}}
    waited = remote("executions", "wait", name, "-o", "json")
    assert json.loads(waited.stdout)["outputs"] == {"o0": 2} and json.loads(waited.stdout)["phase"] == "SUCCEEDED"

    assert remote("executions", "outputs", name).stdout == "o0: 2\n"
    text = remote("executions", "list", "--limit", "5").stdout.splitlines()
    assert text[0].split()[:3] == [name, "SUCCEEDED", "stages.breaks"]


ORDERED = '''
import time

from flyrun import task, workflow


@task
def nap(seconds: float) -> int:
    time.sleep(seconds)
    return 1


@task
def double(n: int) -> int:
    return n * 2


@task
def add(a: int, b: int) -> int:
    return a + b


@workflow
def ordered(x: int = 1) -> int:
    slow = nap(seconds=1.0)
    after_slow = double(n=slow)
    quick = double(n=x)
    return add(a=after_slow, b=quick)
'''


def test_get_and_wait_list_nodes_in_the_workflows_order(remote, tmp_path):
    """n1 (after the slow n0) starts after n2, so the server lists n0, n2, n1, n3; flyrun shows the graph's order."""
    flow = tmp_path / "ordered.py"
    flow.write_text(ORDERED)
    done = remote("run", "--remote", "--wait", "-o", "json", str(flow), "ordered")
    assert done.exit_code == 0, done.output
    name = launched_name(done)
    got = remote("executions", "get", name, "-o", "json")
    assert [node["node_id"] for node in json.loads(got.stdout)["nodes"]] == ["n0", "n1", "n2", "n3"]
    text = remote("executions", "get", name)
    assert [line.split(":")[0].strip() for line in text.stdout.splitlines() if line.startswith("  ")] == \
        ["n0", "n1", "n2", "n3"]
    waited = remote("executions", "wait", name)
    assert waited.exit_code == 0, waited.output
    assert [line for line in waited.stderr.splitlines() if line.startswith("  n")] == [
        "  n0: SUCCEEDED", "  n1: SUCCEEDED", "  n2: SUCCEEDED", "  n3: SUCCEEDED"]
