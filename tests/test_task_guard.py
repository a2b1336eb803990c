"""A task process dies with the sandbox that started it, even when the sandbox is SIGKILLed, without the
``preexec_fn`` CPython warns can deadlock a multi-threaded parent: flyrun-execute asks the kernel itself, and any
other command starts through ``setpriv --pdeathsig`` or flyrun's few-line Python guard.

Each test starts a stand-in parent process that starts the task the way the sandbox does, then kills the parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from flyrun.sandbox.engine import taskrun
from flyrun.sandbox.server import process_alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

PARENT = """
import os, subprocess, sys, time
argv = [word.replace('{ppid}', str(os.getpid())) for word in sys.argv[1:]]
env = dict(os.environ)
if argv[1:3] == ['-m', 'flyrun.idl.entrypoint']:
    env['FLYRUN_DIE_WITH_PARENT'] = str(os.getpid())
child = subprocess.Popen(argv, env=env, start_new_session=True)
print(child.pid, flush=True)
time.sleep(120)
"""


def orphan_after_killing_parent(argv: list[str], started: callable) -> int:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, *argv], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        child = int(parent.stdout.readline())
        deadline = time.monotonic() + 30
        while not started(child):
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait()
    return child


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while process_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)  # leave nothing behind, then fail
            return False
        time.sleep(0.05)
    return True


def running(program: str):
    def check(pid: int) -> bool:
        try:
            return program in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False
    return check


def test_flyrun_execute_dies_with_its_parent(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    marker = tmp_path / "imported"
    (project / "slow.py").write_text(
        f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(60)\n")
    argv = [sys.executable, "-m", "flyrun.idl.entrypoint", "--inputs", str(tmp_path / "inputs.pb"),
            "--output-prefix", str(tmp_path / "out"), "--dest-dir", str(project), "--resolver", "flyrun.default",
            "--", "task-module", "slow", "task-name", "t"]
    child = orphan_after_killing_parent(argv, lambda pid: marker.exists())
    assert gone(child), "flyrun-execute outlived the process that started it"


def test_the_python_guard_kills_any_command_with_its_parent():
    argv = [sys.executable, "-I", "-S", "-c", taskrun._GUARD, "{ppid}", "sleep", "61"]
    child = orphan_after_killing_parent(argv, running("sleep"))
    assert gone(child), "a guarded command outlived the process that started it"


@pytest.mark.skipif(taskrun._setpriv() is None, reason="no setpriv here")
def test_setpriv_kills_any_command_with_its_parent():
    child = orphan_after_killing_parent([taskrun._setpriv(), "--pdeathsig", "KILL", "--", "sleep", "62"],
                                        running("sleep"))
    assert gone(child)


def test_the_guard_refuses_a_stale_parent():
    """If the server died between fork and the request, the guard does not run the task at all."""
    done = subprocess.run([sys.executable, "-I", "-S", "-c", taskrun._GUARD, "1", "true"], timeout=30)
    assert done.returncode == 137


def test_a_missing_program_is_named(tmp_path):
    from flyrun.sandbox.engine.runtime import NodeFailed

    with pytest.raises(NodeFailed) as caught:
        taskrun.guarded(["surely-no-such-program"], {"PATH": os.defpath}, tmp_path)
    assert "cannot start 'surely-no-such-program'" in caught.value.error.message
