"""A task's output goes to stderr in a local run, so stdout carries the results only: `-o json` is one document.

Each case is a real `flyrun run` process: what a task prints, what a subprocess it starts writes to descriptor 1,
what map items print on thread lanes and in worker processes, and a container task run on the host."""

from __future__ import annotations

import json

import pytest

FLOWS = '''
import os
import subprocess
import sys
import threading
import time
from typing import List
from flyrun import ContainerTask, kwtypes, map_task, task, workflow

@task
def chatty(x: int) -> int:
    print(f"print from the task {x}")
    sys.stdout.write("sys.stdout.write from the task\\n")
    os.write(1, b"descriptor 1 from the task\\n")
    subprocess.run(["echo", "echo from a subprocess"], check=True)
    return x + 1

@workflow
def wf(x: int) -> int:
    return chatty(x=chatty(x=x))

@task
def nap(n: int) -> str:
    time.sleep(0.05)
    print(f"nap {n} on {threading.current_thread().name}")
    return threading.current_thread().name

naps = map_task(nap, concurrency=4)

@task
def burn(n: int) -> int:
    deadline = time.process_time() + n * 0.05
    while time.process_time() < deadline:
        pass
    print(f"burn {n} in pid {os.getpid()}", flush=True)
    return os.getpid()

burns = map_task(burn)

shout = ContainerTask(name="shout", image="python", command=[sys.executable, "-c", "print('from the container')"],
                      inputs=kwtypes(), outputs=kwtypes())
'''


@pytest.fixture
def flows(project):
    return project({"pkg/__init__.py": "", "pkg/flows.py": FLOWS}) / "pkg" / "flows.py"


def test_what_a_task_and_its_subprocess_print_goes_to_stderr(flyrun_process, flows):
    done = flyrun_process("-o", "json", "run", str(flows), "wf", "--x", "1")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) == {"outputs": {"o0": 3}}  # one document and nothing else
    for text in ("print from the task 1", "print from the task 2", "sys.stdout.write from the task",
                 "descriptor 1 from the task", "echo from a subprocess"):
        assert text in done.stderr, done.stderr


def test_text_mode_stdout_holds_only_the_results(flyrun_process, flows):
    done = flyrun_process("run", str(flows), "chatty", "--x", "4")
    assert done.exit_code == 0, done.stderr
    assert done.stdout == "o0: 5\n"
    assert "print from the task 4" in done.stderr


def test_map_items_on_threads_print_to_stderr(flyrun_process, flows):
    done = flyrun_process("-o", "json", "run", "-v", str(flows), "naps", "--n", json.dumps(list(range(12))))
    assert done.exit_code == 0, done.stderr
    assert len(json.loads(done.stdout)["outputs"]["o0"]) == 12
    # Threads on a quiet machine; a loaded one may measure the naps as busy and use processes: stderr either way.
    assert "4 threads" in done.stderr or "worker process" in done.stderr
    assert all(f"nap {n} on " in done.stderr for n in range(12)), done.stderr


def test_map_items_in_worker_processes_print_to_stderr(flyrun_process, flows):
    done = flyrun_process("-o", "json", "run", "-v", str(flows), "burns", "--n", "[4, 4, 4, 4, 4, 4]")
    assert done.exit_code == 0, done.stderr
    pids = json.loads(done.stdout)["outputs"]["o0"]
    assert len(set(pids)) == 2 and "worker process and this one" in done.stderr, done.stderr
    assert all(f"burn 4 in pid {pid}" in done.stderr for pid in set(pids)), done.stderr


def test_a_container_task_on_the_host_prints_to_stderr(flyrun_process, flows):
    done = flyrun_process("-o", "json", "run", "--container-runtime", "host", str(flows), "shout")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) == {"outputs": {}}
    assert "[shout] from the container" in done.stderr


def test_the_redirect_is_undone_after_the_run(cli, flows):
    import sys

    before = sys.stdout
    result = cli("-o", "json", "run", str(flows), "chatty", "--x", "1")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"outputs": {"o0": 2}}
    assert "print from the task 1" in result.stderr
    assert sys.stdout is before
