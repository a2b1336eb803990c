"""Gates: approve, wait_for_input and sleep, answered by flags or, on a terminal, by a person."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from conftest import REPO

GATES = str(REPO / "examples" / "gates.py")

FLOWS = '''
from datetime import timedelta
from typing import List
from flyrun import approve, sleep, task, wait_for_input, workflow

@task
def double(x: int) -> int:
    return 2 * x

@task
def nothing() -> None:
    pass

@task
def combine(a: int, xs: List[int]) -> List[int]:
    return [a] + xs

'''


def test_flags_answer_every_gate(cli):
    result = cli("run", GATES, "report", "--x", "3", "--approve", "review", "--signal", "title=Q3")
    assert (result.exit_code, result.stdout) == (0, "o0: Q3: 9\n"), result.stderr
    assert "approval gate 'review': approved" in result.stderr
    assert "input gate 'title': got 'Q3'" in result.stderr
    assert "sleep gate (30s): not waiting in a local run" in result.stderr


def test_flags_may_follow_the_inputs_or_precede_the_file(cli):
    result = cli("run", "--approve", "review", GATES, "report", "--x", "2", "--signal", "title=T", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"outputs": {"o0": "T: 4"}}


def test_rejection_fails_the_run_naming_the_gate(cli):
    result = cli("run", GATES, "report", "--x", "3", "--reject", "review", "--signal", "title=Q3")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: approval gate 'review' was rejected (--reject review)")
    assert result.stdout == ""


def test_typed_signals_and_approval_by_signal(cli, project):
    root = project({"flows.py": FLOWS + '''
@workflow
def wf(x: int) -> List[int]:
    n = wait_for_input("n", timeout=timedelta(minutes=5), expected_type=int)
    xs = wait_for_input("xs", timeout=60, expected_type=List[int])
    ok = approve(double(x=n), "ok", timeout=timedelta(hours=1))
    return combine(a=ok, xs=xs)
'''})
    result = cli("-o", "json", "run", str(root / "flows.py"), "wf", "--x", "1", "--signal", "n=4",
                 "--signal", "xs=[1, 2]", "--signal", "ok=true")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outputs"] == {"o0": [8, 1, 2]}


BAD_FLAGS = [
    (("--signal", "title=Q3"), 2, "approval gate 'review' needs an answer, and this run cannot ask (no terminal, "
                                  "or CI is set)", "Hint: pass --approve review (or --reject review)"),
    (("--approve", "review"), 2, "input gate 'title' needs an answer", "Hint: pass --signal title=VALUE (str)"),
    (("--approve", "revieww", "--signal", "title=x"), 2, "--approve revieww: gates.report has no gate named "
                                                         "'revieww'; its gates: review, title", None),
    (("--approve", "title", "--signal", "title=x", "--approve", "review"), 2,
     "--approve title: 'title' waits for a value, not an approval", "Hint: pass --signal title=VALUE"),
    (("--approve", "review", "--reject", "review", "--signal", "title=x"), 2,
     "gate 'review' is both approved and rejected", None),
    (("--approve", "review", "--signal", "title"), 2, "--signal title: expected GATE=VALUE", None),
    (("--approve", "review", "--signal", "title=a", "--signal", "title=b"), 2, "--signal title is given twice",
     None),
    (("--signal", "review=maybe", "--signal", "title=x"), 2,
     "--signal review=maybe: 'maybe' is not a valid boolean (true/false)", None),
]


@pytest.mark.parametrize(("flags", "code", "message", "hint"), BAD_FLAGS)
def test_bad_or_missing_answers_fail_before_anything_runs(cli, flags, code, message, hint, tmp_path):
    prefix = tmp_path / "raw"
    result = cli("run", "--raw-output-data-prefix", str(prefix), GATES, "report", "--x", "3", *flags)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("Error: " + message), result.stderr
    if hint:
        assert hint in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert not prefix.exists()


def test_a_badly_typed_signal_fails_at_once(cli, project):
    root = project({"flows.py": FLOWS + '''
@workflow
def wf() -> int:
    return double(x=wait_for_input("n", timeout=60, expected_type=int))
'''})
    result = cli("run", str(root / "flows.py"), "wf", "--signal", "n=three")
    assert result.exit_code == 2
    assert "Error: --signal n=three: 'three' is not a valid integer" in result.stderr
    assert "Hint: input gate 'n' expects int" in result.stderr


def test_gates_in_a_sub_workflow_need_answers_too(cli, project):
    root = project({"flows.py": FLOWS + '''
@workflow
def inner(x: int) -> int:
    return approve(double(x=x), "inner-ok", timeout=60)

@workflow
def outer(x: int) -> int:
    return double(x=inner(x=x))
'''})
    result = cli("run", str(root / "flows.py"), "outer", "--x", "1")
    assert result.exit_code == 2 and "approval gate 'inner-ok' needs an answer" in result.stderr
    result = cli("run", str(root / "flows.py"), "outer", "--x", "1", "--approve", "inner-ok")
    assert (result.exit_code, result.stdout) == (0, "o0: 4\n"), result.stderr


DEFINITION_ERRORS = {
    "approve_input": ('@workflow\ndef wf(x: int) -> int:\n    return approve(x, "ok", timeout=60)\n',
                      "a workflow input cannot be approved directly"),
    "approve_no_output": ('@workflow\ndef wf() -> None:\n    approve(nothing(), "ok", timeout=60)\n',
                          "has no output to approve"),
    "approve_constant": ('@workflow\ndef wf() -> int:\n    return approve(3, "ok", timeout=60)\n',
                         "approve() takes the output of one task call, not int"),
    "duplicate_name": ('@workflow\ndef wf(x: int) -> int:\n    a = approve(double(x=x), "ok", timeout=60)\n'
                       '    return approve(double(x=a), "ok", timeout=60)\n',
                       "gate name 'ok' is already used by node n1"),
    "bad_timeout": ('@workflow\ndef wf(x: int) -> int:\n    return approve(double(x=x), "ok", timeout="soon")\n',
                    "timeout must be a positive timedelta (or seconds), not 'soon'"),
    "bad_name": ('@workflow\ndef wf() -> int:\n    return wait_for_input("two words", 60, int)\n',
                 "a gate name must be a non-empty string without spaces"),
    "bad_type": ('@workflow\ndef wf() -> int:\n    return wait_for_input("n", 60, set)\n',
                 "expected_type: type set is not supported"),
    "outside_workflow": ('x = wait_for_input("n", 60, int)\n', "wait_for_input('n') only works inside a @workflow"),
    "bad_sleep": ('@workflow\ndef wf() -> None:\n    sleep(-5)\n', "duration must be a positive timedelta"),
}


@pytest.mark.parametrize("case", sorted(DEFINITION_ERRORS))
def test_gate_definition_errors(cli, project, case):
    body, message = DEFINITION_ERRORS[case]
    root = project({"flows.py": FLOWS + body})
    result = cli("run", str(root / "flows.py"), "wf")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "flows.py:" in result.stderr
    assert "Traceback" not in result.stderr


def test_gate_nodes_describe_themselves_for_serialization():
    from flyrun import approve, sleep, task, wait_for_input, workflow
    from flyrun.sdk.gates import Gate

    @task
    def square(x: int) -> int:
        return x * x

    @workflow
    def wf(x: int) -> int:
        value = approve(square(x=x), "review", timeout=dt.timedelta(hours=2))
        factor = wait_for_input("factor", timeout=dt.timedelta(minutes=10), expected_type=int)
        sleep(dt.timedelta(seconds=30)) >> value
        return square(x=factor)

    gates = [node.entity for node in wf.nodes if isinstance(node.entity, Gate)]
    assert [(g.kind, g.name) for g in gates] == [("approve", "review"), ("signal", "factor"), ("sleep", "sleep-gate")]
    review, factor, pause = gates
    assert review.timeout == dt.timedelta(hours=2) and review.output_name == "o0" and review.expected_type is int
    assert review.upstream.node.entity is square
    assert factor.expected_type is int and factor.output_name == "o0" and factor.upstream is None
    assert pause.duration == dt.timedelta(seconds=30) and pause.interface.outputs == {}


def _read_until(fd: int, marker: bytes, seen: bytearray, deadline: float) -> None:
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, f"terminal closed; got {bytes(seen)!r}"
            seen.extend(chunk)


class Terminal:
    """`flyrun run ARGS` with stdin and stderr on a pseudo-terminal (a person at the keyboard), stdout piped."""

    def __init__(self, *args: str, cwd=None) -> None:
        self.leader, follower = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k != "CI"}
        env["PYTHONPATH"] = str(REPO)
        self.proc = subprocess.Popen([sys.executable, "-m", "flyrun.cli.main", "run", *args], stdin=follower,
                                     stderr=follower, stdout=subprocess.PIPE, env=env, cwd=cwd)
        os.close(follower)
        self.seen, self.deadline = bytearray(), time.monotonic() + 60

    def expect(self, marker: bytes) -> None:
        _read_until(self.leader, marker, self.seen, self.deadline)

    def send(self, line: bytes) -> None:
        os.write(self.leader, line + b"\n")

    def finish(self) -> tuple[int, str]:
        try:
            stdout, _ = self.proc.communicate(timeout=60)
        finally:
            self.proc.kill()
            os.close(self.leader)
        return self.proc.returncode, stdout.decode()


def _flows_waiting_for(tmp_project, timeout: int):
    return tmp_project({"flows.py": FLOWS + f'''
@workflow
def wf() -> int:
    return double(x=wait_for_input("n", timeout={timeout}, expected_type=int))
'''}) / "flows.py"


@pytest.mark.slow
def test_on_a_terminal_flyrun_asks_and_re_asks(isolated_home):
    terminal = Terminal(GATES, "report", "--x", "3", cwd=REPO)
    terminal.expect(b"Approve approval gate 'review' (value: 9)? [y/n]: ")
    terminal.send(b"maybe")
    terminal.expect(b"Please answer y or n: ")
    terminal.send(b"y")
    terminal.expect(b"Value for input gate 'title' (str): ")
    terminal.send(b"Annual")
    assert terminal.finish() == (0, "o0: Annual: 9\n")


@pytest.mark.slow
def test_on_a_terminal_a_typed_value_is_re_asked_until_it_parses(isolated_home, project):
    terminal = Terminal(str(_flows_waiting_for(project, 60)), "wf")
    terminal.expect(b"Value for input gate 'n' (int): ")
    terminal.send(b"seven")
    terminal.expect(b"'seven' is not a valid integer; try again (int): ")
    terminal.send(b"7")
    assert terminal.finish() == (0, "o0: 14\n")


@pytest.mark.slow
def test_on_a_terminal_a_gate_without_an_answer_times_out(isolated_home, project):
    terminal = Terminal(str(_flows_waiting_for(project, 1)), "wf")
    terminal.expect(b"Value for input gate 'n' (int): ")
    terminal.expect(b"timed out: no answer within 1s")
    assert terminal.finish() == (6, "")


def test_an_unanswerable_gate_fails_before_any_task_runs(cli, project, tmp_path):
    marker = tmp_path / "ran"
    root = project({"flows.py": FLOWS + f'''
from pathlib import Path

@task
def side_effect(x: int) -> int:
    Path({str(marker)!r}).write_text("ran")
    return x

@workflow
def wf(x: int) -> int:
    return approve(side_effect(x=x), "late", timeout=60)
'''})
    result = cli("run", str(root / "flows.py"), "wf", "--x", "1")
    assert result.exit_code == 2 and "Hint: pass --approve late (or --reject late)" in result.stderr
    assert not marker.exists()
    assert cli("run", str(root / "flows.py"), "wf", "--x", "1", "--approve", "late").stdout == "o0: 1\n"
    assert marker.exists()
