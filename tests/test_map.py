"""Partial tasks and map tasks: definitions, local execution (in-process, threads, worker processes), failures."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO

HEADER = '''
import functools
import os
import sys
import threading
import time
from typing import List, Optional
from flyrun import map_task, partial, task, workflow

@task
def t1(a: int, b: str) -> str:
    return f"{a} -> {b}"

@task
def add(x: int, y: float) -> float:
    return x + y

@task
def flaky(x: int) -> int:
    if x % 2:
        raise ValueError(f"odd {x}")
    return x * 10

@task
def burn(n: int) -> int:
    """CPU-bound: about n * 0.05 s of pure Python work; returns the pid that ran it."""
    deadline = time.process_time() + n * 0.05
    while time.process_time() < deadline:
        pass
    return os.getpid()

@task
def nap(n: int) -> str:
    time.sleep(0.05)
    return threading.current_thread().name

@workflow
def sub(a: int) -> str:
    return t1(a=a, b="x")

'''


def run_json(cli, root, *args, verbose=False):
    result = cli("-o", "json", "run", *(["-v"] if verbose else []), str(root / "flows.py"), *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["outputs"], result


# -- the seed examples -------------------------------------------------------------------------
def test_seed_functools_partial_in_a_workflow(cli):
    result = cli("run", str(REPO / "examples" / "partial_task.py"), "wf", "--a", "3")
    assert (result.exit_code, result.stdout) == (0, "o0: 3 -> hello\n"), result.stderr


def test_seed_map_over_flyrun_partial(cli):
    result = cli("run", str(REPO / "examples" / "map_partial.py"), "wf", "--y", "[1.5, 2.5, 4]")
    assert (result.exit_code, result.stdout) == (0, "o0: [6.5, 7.5, 9.0]\n"), result.stderr


@pytest.mark.parametrize("make", ["functools.partial", "partial"])
def test_both_partials_work_in_workflows_and_maps(cli, project, make):
    root = project({"flows.py": HEADER + f'''
fixed_b = {make}(t1, b="hello")

@workflow
def direct(a: int) -> str:
    return fixed_b(a=a)

@workflow
def mapped(y: List[float]) -> List[float]:
    return map_task({make}(add, x=5))(y=y)
'''})
    assert run_json(cli, root, "direct", "--a", "7")[0] == {"o0": "7 -> hello"}
    assert run_json(cli, root, "mapped", "--y", "[1, 2.5]")[0] == {"o0": [6.0, 7.5]}


def test_map_interface_keeps_bound_inputs_scalar(cli, project):
    root = project({"flows.py": HEADER + '''
m = map_task(partial(t1, b="fixed"), concurrency=2)
plain = map_task(t1)
'''})
    result = cli("run", str(root / "flows.py"))
    assert "  m(a: List[int], b: str = 'fixed') -> o0: List[str]" in result.stdout
    assert "  plain(a: List[int], b: List[str]) -> o0: List[str]" in result.stdout
    outputs, _ = run_json(cli, root, "m", "--a", "[1, 2]", "--b", "fixed")
    assert outputs == {"o0": ["1 -> fixed", "2 -> fixed"]}
    result = cli("run", str(root / "flows.py"), "m", "--a", "[1]", "--b", "other")
    assert result.exit_code == 2
    assert "input 'b' of flows.map_t1_" in result.stderr and "is bound by the partial to 'fixed'" in result.stderr


def test_map_task_name_follows_flytekit():
    import hashlib

    from flyrun import map_task, partial, task

    @task
    def double(x: int, k: int) -> int:
        return x * k

    mapped = map_task(partial(double, k=2), concurrency=3)
    digest = hashlib.md5(b"k3None1.0").hexdigest()
    assert mapped.name == f"{double.module}.map_{double.attribute}_{digest}-arraynode"
    assert (mapped.bound_inputs, mapped.bound_values, mapped.concurrency) == (("k",), {"k": 2}, 3)
    assert mapped(x=[1, 2, 3]) == [2, 4, 6]  # a direct Python call runs the items in this process


DEFINITION_ERRORS = {
    "positional_functools": ('p = functools.partial(t1, 5)\n@workflow\ndef wf(a: int) -> str:\n    return p(b="x")\n',
                             "flows.py:{+3}: in workflow 'flows.wf', node n0 (flows.t1): the partial of flows.t1: "
                             "positional arguments (5,) cannot be bound to inputs of flows.t1"),
    "positional_flyrun": ("p = partial(t1, 5)\n",
                          "flows.py:{+0}: partial(flows.t1, ...): positional arguments (5,) cannot be bound"),
    "bound_and_passed": ('p = functools.partial(t1, b="hello")\n@workflow\ndef wf(a: int) -> str:\n'
                         '    return p(a=a, b="other")\n',
                         "flows.py:{+3}: in workflow 'flows.wf', node n0 (flows.t1): input 'b' is bound by the "
                         "partial and also passed at the call"),
    "bound_and_passed_local": ('@workflow\ndef wf(a: int) -> str:\n    p = partial(t1, b="hello")\n'
                               '    return p(a=a, b="other")\n',
                               "flows.py:{+3}: in workflow 'flows.wf', node n0 (flows.t1): input 'b' is bound"),
    "partial_of_workflow": ("p = partial(sub, a=1)\n", "flows.py:{+0}: partial(flows.sub, ...): flows.sub is a "
                                                       "workflow; only tasks can be partial"),
    "functools_partial_of_workflow": ("p = functools.partial(sub, a=1)\n@workflow\ndef wf(a: int) -> str:\n"
                                      "    return p()\n", "node n0 (flows.sub): the partial of flows.sub: "
                                                         "flows.sub is a workflow"),
    "map_bound_and_passed": ('@workflow\ndef wf(a: int) -> List[str]:\n'
                             '    return map_task(functools.partial(t1, b="hi"))(a=[a], b="x")\n',
                             "input 'b' of flows.t1 is bound by the partial and also passed at the call"),
    "map_positional": ('m = map_task(functools.partial(t1, 1))\n',
                       "flows.py:{+0}: map_task(partial(flows.t1, ...)): positional arguments (1,) cannot"),
    "map_of_workflow": ("m = map_task(sub)\n", "flows.py:{+0}: map_task(flows.sub): flows.sub is a workflow; "
                                               "map_task maps a @task"),
    "map_partial_of_workflow": ("m = map_task(functools.partial(sub, a=1))\n",
                                "flows.sub is a workflow; only tasks can be partial"),
    "partial_wrong_type": ('p = partial(t1, b=3)\n', "partial(flows.t1, ...): input 'b' expects str: expected "
                                                     "str, got int 3"),
    "partial_unknown_input": ('p = partial(t1, c=3)\n', "flows.t1 has no input 'c'; inputs are: a, b"),
    "everything_bound": ('m = map_task(partial(t1, a=1, b="x"))\n',
                         "every input of flows.t1 is bound by the partial, so there is nothing to map over"),
    "map_scalar_for_list": ('@workflow\ndef wf(a: int) -> List[str]:\n    return map_task(t1)(a=a, b=["x"])\n',
                            "input 'a' expects List[int] but workflow input 'a' is int"),
    "map_positional_call": ('@workflow\ndef wf(a: int) -> List[str]:\n    return map_task(t1)([a], ["x"])\n',
                            "pass the lists by keyword, e.g. a=[...]"),
    "bad_concurrency": ("m = map_task(t1, concurrency=-1)\n", "concurrency must be a whole number >= 0"),
    "bad_ratio": ("m = map_task(t1, min_success_ratio=1.5)\n", "min_success_ratio must be between 0 and 1"),
    "map_of_map": ("m = map_task(map_task(t1))\n", "is already a map task"),
    "bad_min_successes": ("m = map_task(t1, min_successes=-2)\n", "min_successes must be a whole number >= 0"),
    "no_inputs": ("@task\ndef constant() -> int:\n    return 1\n\nm = map_task(constant)\n",
                  "flows.constant has no inputs to map over"),
    "map_of_function": ("m = map_task(print)\n", "print is not a @task function"),
}


@pytest.mark.parametrize("case", sorted(DEFINITION_ERRORS))
def test_definition_errors_exit_2_with_file_and_line(cli, project, case):
    body, message = DEFINITION_ERRORS[case]
    first_line = HEADER.count("\n") + 1
    message = re.sub(r"\{\+(\d+)\}", lambda m: str(first_line + int(m.group(1))), message)
    root = project({"flows.py": HEADER + body})
    result = cli("run", str(root / "flows.py"), "wf", "--a", "1")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output


def test_lists_of_different_lengths_fail_at_run_time(cli, project):
    root = project({"flows.py": HEADER + "m = map_task(t1)\n"})
    result = cli("run", str(root / "flows.py"), "m", "--a", "[1, 2, 3]", "--b", '["x"]')
    assert result.exit_code == 6, result.output
    assert "the mapped lists differ in length: a has 3 items, b has 1 item" in result.stderr


# -- local execution -----------------------------------------------------------------------------------
def test_a_thousand_trivial_items_run_in_process_in_order(cli, project):
    root = project({"flows.py": HEADER + "m = map_task(partial(add, x=1))\n"})
    values = list(range(1000))
    outputs, result = run_json(cli, root, "m", "--y", json.dumps(values), verbose=True)
    assert outputs == {"o0": [v + 1.0 for v in values]}
    assert "1000 items, in-process" in result.stderr


def test_cpu_bound_items_run_in_worker_processes(cli, project):
    root = project({"pkg/__init__.py": "", "pkg/flows.py": HEADER + "m = map_task(burn)\n"})
    result = cli("-o", "json", "run", "-v", str(root / "pkg" / "flows.py"), "m", "--n", "[4, 4, 4, 4, 4, 4]")
    assert result.exit_code == 0, result.stderr
    pids = json.loads(result.stdout)["outputs"]["o0"]
    assert len(pids) == 6 and len(set(pids)) == 2, pids  # this process and one worker (2 cores, by default)
    assert "worker process and this one" in result.stderr


def _trace(stderr: str) -> list[tuple[float, str, str]]:
    """FLYRUN_MAP_TRACE's lines: (time, who, step), in time order."""
    steps = []
    for line in stderr.splitlines():
        if line.startswith("map-trace "):
            _, at, who, _pid, what = line.split(" ", 4)
            steps.append((float(at), who, what))
    return sorted(steps)


def test_a_worker_has_its_next_item_before_it_finishes_the_current_one(flyrun_process, project):
    # Handing an item over only after the worker's answer came back left the worker idle for a wake-up and a turn
    # at this process's GIL (milliseconds on a busy machine) between items; now the next one is already there.
    root = project({"flows.py": HEADER + "m = map_task(burn)\n"})
    result = flyrun_process("-o", "json", "run", "-v", str(root / "flows.py"), "m", "--n", "[4, 4, 4, 4, 4, 4]",
                            env={"FLYRUN_MAP_TRACE": "1"})
    assert result.exit_code == 0, result.stderr
    assert "1 worker process and this one, batches of 1" in result.stderr
    steps = _trace(result.stderr)
    sent = {what.removeprefix("lane: sent "): at for at, who, what in steps if what.startswith("lane: sent ")}
    got = [what.removeprefix("got ") for _, who, what in steps if who == "worker" and what.startswith("got ")]
    ran = [at for at, who, what in steps if who == "worker" and what == "ran"]
    assert len(got) == len(ran) >= 2, steps  # about half the items each for this process and the worker
    for batch, finished in zip(got[1:], ran):
        assert sent[batch] < finished, steps
    assert len(set(json.loads(result.stdout)["outputs"]["o0"])) == 2


def test_a_forked_worker_finds_its_spec_waiting(flyrun_process, project):
    # Asked for first, the fork ran (and the worker waited for its spec) while flyrun, preempted by the zygote it
    # had just woken, had not sent the spec yet: milliseconds on a busy machine, before the worker's first item.
    root = project({"flows.py": HEADER + "m = map_task(burn)\n"})
    result = flyrun_process("run", "-v", str(root / "flows.py"), "m", "--n", "[4, 4, 4, 4]",
                            env={"FLYRUN_MAP_TRACE": "1"})
    assert result.exit_code == 0, result.stderr
    assert "forked from a warm zygote" in result.stderr
    steps = [(who, what) for _, who, what in _trace(result.stderr)]
    parent = [what for who, what in steps if who == "parent"]
    assert parent.index("worker spec sent") < parent.index("worker fork asked for"), parent
    assert [what for who, what in steps if who == "worker"][:3] == ["forked", "spec", "ready"], steps


def test_large_items_are_not_sent_ahead_and_the_map_still_finishes(flyrun_process, project):
    # A batch sent while the worker runs another could fill the socket one way while the worker's large answer
    # fills it the other way: both processes would wait on each other forever. Large ones wait their turn.
    root = project({"flows.py": HEADER + '''
@task
def rows(n: int) -> List[List[int]]:
    return [list(range(i, i + 30000)) for i in range(n)]

@task
def heavy_echo(xs: List[int]) -> List[int]:
    burn.fn(2)
    return xs

@workflow
def wf(n: int) -> List[List[int]]:
    return map_task(heavy_echo)(xs=rows(n=n))
'''})
    result = flyrun_process("-o", "json", "run", "-v", str(root / "flows.py"), "wf", "--n", "6",
                            env={"FLYRUN_MAP_TRACE": "1"})
    assert result.exit_code == 0, result.stderr
    assert "worker process and this one" in result.stderr
    assert json.loads(result.stdout)["outputs"]["o0"] == [list(range(i, i + 30000)) for i in range(6)]
    steps = _trace(result.stderr)
    sent = [at for at, who, what in steps if what.startswith("lane: sent ")]
    answered = [at for at, who, what in steps if what.startswith("lane: answers ")]
    assert len(sent) == len(answered) >= 1, steps
    assert all(sent[k] > answered[k - 1] for k in range(1, len(sent))), steps  # each waited for the answers


def test_concurrency_1_keeps_everything_in_process(cli, project):
    root = project({"flows.py": HEADER + "m = map_task(burn, concurrency=1)\n"})
    outputs, result = run_json(cli, root, "m", "--n", "[2, 2, 2]", verbose=True)
    assert len(set(outputs["o0"])) == 1 and "in-process" in result.stderr


def test_io_bound_items_run_on_threads(cli, project):
    root = project({"flows.py": HEADER + "m = map_task(nap, concurrency=4)\n"})
    outputs, result = run_json(cli, root, "m", "--n", json.dumps(list(range(12))), verbose=True)
    assert "4 threads" in result.stderr
    assert any(name.startswith("flyrun-map") for name in outputs["o0"])


def test_a_task_workers_cannot_import_runs_here(cli, project):
    root = project({"flows.py": HEADER + '''
def make():
    @task
    def hidden(n: int) -> int:
        return burn.fn(n)
    return hidden

m = map_task(make())
'''})
    outputs, result = run_json(cli, root, "m", "--n", "[3, 3, 3]", verbose=True)
    assert len(set(outputs["o0"])) == 1 and "worker process" not in result.stderr


def test_an_item_that_raises_fails_the_run_naming_index_inputs_and_error(cli, project):
    root = project({"flows.py": HEADER + "m = map_task(flaky)\n"})
    result = cli("run", str(root / "flows.py"), "m", "--x", "[0, 2, 3, 4, 5]")
    assert result.exit_code == 6, result.output
    assert "Error: task flows.flaky (map item 2 of 5, x=3) failed: ValueError: odd 3" in result.stderr
    assert 'raise ValueError(f"odd {x}")' in result.stderr and result.stdout == ""


def test_a_failure_in_a_worker_process_names_the_item_and_shows_user_frames(cli, project):
    root = project({"flows.py": HEADER + '''
@task
def fails_in_workers(n: int) -> int:
    burn.fn(n)
    if "map_worker" in sys.argv[0]:
        raise RuntimeError(f"worker item {n}")
    return n

m = map_task(fails_in_workers)
'''})
    result = cli("run", str(root / "flows.py"), "m", "--n", "[4, 4, 4, 4, 4, 4]")
    assert result.exit_code == 6, result.output
    assert re.search(r"Error: task flows.fails_in_workers \(map item \d of 6, n=4\) failed: RuntimeError: "
                     r"worker item 4", result.stderr), result.stderr
    assert 'raise RuntimeError(f"worker item {n}")' in result.stderr


def test_a_worker_process_that_dies_fails_its_items(cli, project):
    root = project({"flows.py": HEADER + '''
@task
def dies_in_workers(n: int) -> int:
    burn.fn(n)
    if "map_worker" in sys.argv[0]:
        os._exit(3)
    return n

m = map_task(dies_in_workers)
'''})
    result = cli("run", str(root / "flows.py"), "m", "--n", "[4, 4, 4, 4, 4, 4]")
    assert result.exit_code == 6, result.output
    assert re.search(r"\(map item \d of 6, n=4\) failed: WorkerExited: the worker process running it exited with "
                     r"status 3", result.stderr), result.stderr


def test_min_success_ratio_makes_failed_items_none(cli, project):
    root = project({"flows.py": HEADER + '''
m = map_task(flaky, min_success_ratio=0.5)

@workflow
def wf(xs: List[int]) -> List[Optional[int]]:
    return m(x=xs)
'''})
    listing = cli("run", str(root / "flows.py")).stdout
    assert "(x: List[int]) -> o0: List[Optional[int]]" in listing
    outputs, result = run_json(cli, root, "wf", "--xs", "[0, 1, 2, 3]")
    assert outputs == {"o0": [0, None, 20, None]}
    assert "2 of 4 items failed (allowed by min_success_ratio=0.5); their outputs are None: item 1: ValueError: " \
           "odd 1; item 3: ValueError: odd 3" in result.stderr


def test_too_many_failures_for_the_ratio_fail_the_run(cli, project):
    root = project({"flows.py": HEADER + "m = map_task(flaky, min_success_ratio=0.6)\n"})
    result = cli("run", str(root / "flows.py"), "m", "--x", "[1, 2, 3, 4, 5]")
    assert result.exit_code == 6
    assert "(map item 0 of 5, x=1; 3 items failed, min_success_ratio=0.6 allows 2) failed: ValueError: odd 1" \
        in result.stderr


def test_map_inside_a_workflow_with_upstream_and_downstream_tasks(cli, project):
    root = project({"flows.py": HEADER + '''
@task
def numbers(n: int) -> List[int]:
    return list(range(n))

@task
def total(xs: List[float]) -> float:
    return sum(xs)

@workflow
def wf(n: int) -> float:
    return total(xs=map_task(partial(add, y=0.5))(x=numbers(n=n)))
'''})
    assert run_json(cli, root, "wf", "--n", "4")[0] == {"o0": 8.0}


def test_empty_lists_map_to_an_empty_list(cli, project):
    root = project({"flows.py": HEADER + "m = map_task(t1)\n"})
    assert run_json(cli, root, "m", "--a", "[]", "--b", "[]")[0] == {"o0": []}


@pytest.mark.slow
def test_ctrl_c_stops_the_map_and_its_workers(project, isolated_home):
    import os
    import signal
    import subprocess
    import sys
    import time

    root = project({"flows.py": HEADER + "m = map_task(burn)\n"})
    proc = subprocess.Popen([sys.executable, "-m", "flyrun.cli.main", "run", str(root / "flows.py"), "m",
                             "--n", "[200, 200, 200, 200]"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _children(proc.pid):  # wait for the worker
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert workers, "no worker process started"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "Interrupted."  # click ends the ^C line first
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]


@pytest.mark.slow
def test_ctrl_c_at_any_moment_of_the_workers_start_is_a_clean_interrupt(project, isolated_home):
    # Ctrl-C while the zygote was still starting once ended the run with "internal error" (a worker's pid asked
    # of a zygote that had gone; two threads waiting on one worker, the second on a closed pidfd).
    import os
    import signal
    import subprocess
    import sys
    import time

    root = project({"flows.py": HEADER + "m = map_task(burn)\n"})
    for attempt in range(16):
        proc = subprocess.Popen([sys.executable, "-m", "flyrun.cli.main", "run", str(root / "flows.py"), "m",
                                 "--n", "[200, 200, 200, 200]"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _children(proc.pid):
            time.sleep(0.002)
        time.sleep(0.01 * (attempt % 8))  # from the zygote's first moment to its workers' first items
        started = _children(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        assert (proc.returncode, stderr.strip()) == (130, "Interrupted."), (attempt, stderr)
        time.sleep(0.2)
        assert not [pid for pid in started if os.path.exists(f"/proc/{pid}")], attempt


def _children(parent: int) -> list[int]:
    import os

    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent and fields[0] != "Z":
                found.append(int(entry))
    return found
