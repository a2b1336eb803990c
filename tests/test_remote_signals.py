"""Gates of a remote run answered from the shell: `flyrun set-input` typed by the gate, `signals`, `reject`.
(`flyrun approve` of a gate is in tests/test_sandbox_remote.py.)"""

from __future__ import annotations

import json
import time

import pytest
from remote_projects import write_stages

pytestmark = pytest.mark.slow


@pytest.fixture
def stages(tmp_path):
    return write_stages(tmp_path)


def launch(remote, stages, workflow: str) -> str:
    launched = remote("run", "--remote", "-o", "json", str(stages), workflow)
    assert launched.exit_code == 0, launched.output
    return json.loads(launched.stdout)["execution"]["name"]


def test_set_input_takes_the_gates_type_and_lets_the_run_finish(remote, stages):
    name = launch(remote, stages, "asks")
    wrong = remote("set-input", name, "count", "many", "--retry-for", "30")  # waits for the run to reach the gate
    assert wrong.exit_code == 2 and wrong.stdout == ""
    assert wrong.stderr.splitlines() == ["Error: gate 'count' expects int: 'many' is not a valid integer"]
    not_a_gate = remote("set-input", name, "counts", "3", "--retry-for", "0")
    assert not_a_gate.exit_code == 2
    assert not_a_gate.stderr.splitlines()[0] == (f"Error: execution {name} has no gate 'counts' (its workflow's "
                                                 "gates: count)")
    not_approval = remote("approve", name, "count")
    assert not_approval.exit_code == 2
    assert not_approval.stderr.splitlines() == ["Error: gate 'count' waits for a value, not an approval",
                                                "Hint: use `flyrun set-input EXECUTION count VALUE`"]

    listed = remote("signals", name, "-o", "json")
    assert listed.exit_code == 0, listed.output
    [gate] = json.loads(listed.stdout)["signals"]
    assert gate["gate"] == "count" and gate["type"]["simple"] == "INTEGER" and gate["answered"] is False
    assert remote("signals", name).stdout == "count: int waiting\n"

    given = remote("set-input", name, "count", "21")
    assert given.exit_code == 0, given.output
    assert given.stdout == f"Gate 'count' of {name}: set.\n"
    waited = remote("executions", "wait", name)
    assert waited.exit_code == 0, waited.output
    assert waited.stdout == "o0: 42\n"
    assert remote("signals", name).stdout == "count: int = 21\n"
    twice = remote("set-input", name, "count", "22")
    assert twice.exit_code == 2 and "was already answered" in twice.stderr


def test_reject_fails_the_run(remote, stages):
    name = launch(remote, stages, "reviewed")
    rejected = remote("reject", name, "review", "--retry-for", "30", "-o", "json")
    assert rejected.exit_code == 0, rejected.output
    assert json.loads(rejected.stdout)["result"] == "rejected"
    waited = remote("executions", "wait", name)
    assert waited.exit_code == 6
    assert waited.stderr.splitlines()[-1] == f"Error: execution {name} FAILED at node n1: gate 'review' was rejected"


def test_a_gate_of_an_aborted_or_finished_run_cannot_be_answered(remote, stages):
    name = launch(remote, stages, "reviewed")
    reached = remote("signals", name)
    for _ in range(100):  # the gate exists once the run reaches it
        if reached.stdout:
            break
        time.sleep(0.1)
        reached = remote("signals", name)
    assert reached.stdout == "review: bool waiting\n", reached.output
    assert remote("executions", "terminate", name).exit_code == 0
    assert remote("executions", "wait", name).exit_code == 6
    for command in (["approve", name, "review"], ["reject", name, "review"], ["set-input", name, "review", "true"]):
        answered = remote(*command)
        assert answered.exit_code == 2 and answered.stdout == "", answered.output
        assert answered.stderr.splitlines() == [
            f"Error: execution {name} is ABORTED: its gate 'review' can no longer be answered",
            f"Hint: see `flyrun executions get {name}`"]
    assert remote("signals", name).stdout == "review: bool waiting\n"  # nothing was set


def test_a_gate_the_workflow_does_not_have_fails_at_once(remote, stages):
    """The graph is known: no waiting out --retry-for for a gate that the run can never reach."""
    name = launch(remote, stages, "sleepy")
    started = time.monotonic()
    for command in (["set-input", name, "count", "3"], ["approve", name, "review"]):
        answered = remote(*command, "--retry-for", "60")
        assert answered.exit_code == 2, answered.output
        assert answered.stderr.splitlines()[0] == (f"Error: execution {name} has no gate '{command[2]}' (its "
                                                   "workflow's gates: none)")
    assert time.monotonic() - started < 15
    assert remote("executions", "terminate", name).exit_code == 0
