"""The sandbox's task pool: flyrun @tasks forked from a warm zygote per code version (flyrun.sandbox.engine.taskpool).

Each test drives a real sandbox (`flyrun sandbox start --detach`) with real `flyrun run --remote` registrations, and
tells a forked task from a fresh process by its parent: a fresh `flyrun-execute` is the server's child, a forked
one is its code version's zygote's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, free_port, sandbox_cli
from sandbox_entities import DOMAIN, PROJECT, Client

from flyrun.sandbox.server import process_alive

pytestmark = pytest.mark.slow

TASKS = '''
import builtins
import os
import signal
import time
from flyrun import task, workflow

STATE: list = []


@task
def bump(x: int) -> str:
    """Mutates module state, the environment and builtins: a later run must see none of it."""
    STATE.append(x)
    leaked = os.environ.get("LEAKED", "")
    os.environ["LEAKED"] = "yes"
    seen = getattr(builtins, "flyrun_leak", "")
    builtins.flyrun_leak = "leaked"
    print("bump ran")
    return f"{len(STATE)}|{leaked}|{seen}|{os.getppid()}"


@task
def crash(how: str) -> int:
    if how == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getppid()


@task
def hold(marker: str) -> int:
    with open(marker, "w") as out:
        out.write(f"{os.getpid()} {os.getppid()}")
    time.sleep(120)
    return 0


@task
def tamper() -> str:
    """Changes its copy of the code (in its working folder) and the file its module was imported from."""
    mark = "# changed " + "by a task"  # split: the text of this module holds no mark until a task adds one
    with open("pooled.py") as source:
        fresh = mark not in source.read() and os.stat("pooled.py").st_mode & 0o777 == 0o644
    for path in ("pooled.py", __file__):
        with open(path, "a") as source:
            source.write(mark + "\\n")
    os.chmod("pooled.py", 0o600)
    return f"{fresh}|{TAMPERED}|{os.getppid()}"


TAMPERED = "no"


@workflow
def tampering() -> str:
    return tamper()


@workflow
def isolated(x: int = 1) -> str:
    return bump(x=x)


@workflow
def crashing(how: str = "fine") -> int:
    return crash(how=how)


@workflow
def holding(marker: str) -> int:
    return hold(marker=marker)
'''

VERSIONED = '''
from flyrun import task, workflow

VALUE = "{value}"


@task
def which() -> str:
    import os
    return VALUE + "|" + str(os.getppid())


@workflow
def versioned() -> str:
    return which()
'''


class Sandbox:
    def __init__(self, root: Path, *flags: str) -> None:
        self.root, self.flags = root, flags
        self.data = root / "data"
        self.port = free_port()
        self.project = root / "proj"
        self.project.mkdir(exist_ok=True)
        (self.project / "pooled.py").write_text(TASKS)
        self.info: dict = {}
        self.start()

    def start(self) -> None:
        started = sandbox_cli("start", "--port", str(self.port), "--data-dir", str(self.data), "--detach", "-o",
                              "json", *self.flags, env={"FLYRUN_DEBUG": "1"})
        assert started.exit_code == 0, started.output
        self.info = json.loads(started.stdout)
        self.client = Client(self.info["url"])
        (self.root / "config.yaml").write_text(f"admin:\n  endpoint: {self.info['endpoint']}\n  insecure: true\n"
                                               "  authType: None\n")

    def stop(self) -> None:
        sandbox_cli("stop", "--data-dir", str(self.data))

    def run(self, *args: str) -> dict:
        """`flyrun run --remote ... -o json` from the project folder: registers the code, launches, returns JSON."""
        env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(self.root))
        done = subprocess.run([sys.executable, "-m", "flyrun.cli.main", "-c", str(self.root / "config.yaml"), "run",
                               "--remote", *args, "-o", "json"], cwd=self.project, capture_output=True, text=True,
                              env=env, timeout=180)
        assert done.returncode in (0, 6), done.stderr
        return json.loads(done.stdout)

    def launch(self, plan: str, version: str, **inputs: dict) -> str:
        reference = {"resource_type": "LAUNCH_PLAN", "project": PROJECT, "domain": DOMAIN, "name": plan,
                     "version": version}
        return self.client.launch(reference, inputs)

    def finish(self, name: str) -> dict:
        return self.client.wait(name, timeout=120)

    def output(self, name: str) -> str:
        value = self.client.outputs(name)["o0"]["scalar"]["primitive"]
        return next(iter(value.values()))

    def log(self) -> str:
        return (self.data / "sandbox.log").read_text() if (self.data / "sandbox.log").exists() else \
            "".join(p.read_text() for p in self.data.glob("*.log"))


def _text(value: str) -> dict:
    return {"scalar": {"primitive": {"string_value": value}}}


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _gone(pids: list[int], timeout: float = 20) -> list[int]:
    """The pids still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [pid for pid in pids if process_alive(pid)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def _wait_for(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.05)
    return path.read_text()


@pytest.fixture
def sandbox(tmp_path: Path):
    server = Sandbox(tmp_path)
    yield server
    server.stop()


def test_a_run_never_sees_what_an_earlier_one_did_to_module_state(sandbox: Sandbox):
    first = sandbox.run("--wait", "pooled.py", "isolated", "--x", "1")
    version = first["registration"]["version"]
    outputs = [first["outputs"]["o0"]]
    outputs += [sandbox.output(sandbox.finish(sandbox.launch("pooled.isolated", version))["id"]["name"])
                for _ in range(3)]
    parents = set()
    for output in outputs:
        count, leaked, seen, parent = output.split("|")
        assert (count, leaked, seen) == ("1", "", "")  # a clean copy every time
        parents.add(int(parent))
    server = sandbox.info["pid"]
    assert server not in parents and len(parents) == 1  # all forked from one warm zygote, not the server
    assert _parent(next(iter(parents))) != server  # ... which is itself a fork of the base zygote
    logs = list(sandbox.data.glob("blobs/metadata/**/task.log"))
    assert logs and all("bump ran" in log.read_text() for log in logs)  # stdout captured per run, as before


def test_a_task_that_changes_its_code_files_does_not_change_the_next_runs(sandbox: Sandbox):
    """Each forked task writes its own copy of the bundle from what its zygote unpacked (not from the archive):
    what one task writes into its files, or into the zygote's folder, reaches no later task."""
    first = sandbox.run("--wait", "pooled.py", "tampering")
    version = first["registration"]["version"]
    outputs = [first["outputs"]["o0"]]
    outputs += [sandbox.output(sandbox.finish(sandbox.launch("pooled.tampering", version))["id"]["name"])
                for _ in range(2)]
    parents = {output.rsplit("|", 1)[1] for output in outputs}
    assert [output.rsplit("|", 1)[0] for output in outputs] == ["True|no"] * 3
    assert len(parents) == 1 and int(next(iter(parents))) != sandbox.info["pid"]  # all forked, one zygote


def test_a_task_that_segfaults_or_is_killed_fails_alone_and_the_pool_recovers(sandbox: Sandbox):
    fine = sandbox.run("--wait", "pooled.py", "crashing", "--how", "fine")
    version, zygote = fine["registration"]["version"], int(fine["outputs"]["o0"])
    assert zygote != sandbox.info["pid"]
    for how, code in (("segv", -signal.SIGSEGV), ("kill", -signal.SIGKILL)):
        done = sandbox.finish(sandbox.launch("pooled.crashing", version, how=_text(how)))
        assert done["closure"]["phase"] == "FAILED"
        assert f"exited with code {code}" in done["closure"]["error"]["message"]
    again = sandbox.finish(sandbox.launch("pooled.crashing", version, how=_text("fine")))
    assert again["closure"]["phase"] == "SUCCEEDED"
    assert int(sandbox.output(again["id"]["name"])) == zygote  # the same warm zygote served it


def test_a_new_code_version_never_runs_old_modules(sandbox: Sandbox):
    module = sandbox.project / "versions.py"
    module.write_text(VERSIONED.format(value="v1"))
    one = sandbox.run("--wait", "versions.py", "versioned")
    module.write_text(VERSIONED.format(value="v2"))
    two = sandbox.run("--wait", "versions.py", "versioned")
    assert one["registration"]["version"] != two["registration"]["version"]
    value_one, zygote_one = one["outputs"]["o0"].split("|")
    value_two, zygote_two = two["outputs"]["o0"].split("|")
    assert (value_one, value_two) == ("v1", "v2") and zygote_one != zygote_two
    again = sandbox.finish(sandbox.launch("versions.versioned", one["registration"]["version"]))
    assert sandbox.output(again["id"]["name"]).split("|")[0] == "v1"  # the old version still runs its own code


def test_terminate_stop_and_restart_leave_no_process_behind(tmp_path: Path):
    server = Sandbox(tmp_path)
    try:
        marker = tmp_path / "held"
        launched = server.run("pooled.py", "holding", "--marker", str(marker))
        name, version = launched["execution"]["name"], launched["registration"]["version"]
        task, zygote = (int(word) for word in _wait_for(marker).split())
        base = _parent(zygote)
        assert server.info["pid"] not in (zygote, base) and _parent(base) == server.info["pid"]
        deleted = server.client.http.delete(f"{server.info['url']}/api/v1/executions/{PROJECT}/{DOMAIN}/{name}",
                                            json={}, timeout=10)
        assert deleted.status_code == 200, deleted.text
        assert _gone([task]) == []  # terminate stops the forked task ...
        assert process_alive(zygote) and process_alive(base)  # ... and the pool stays warm

        marker.unlink()
        server.launch("pooled.holding", version, marker=_text(str(marker)))
        task, zygote = (int(word) for word in _wait_for(marker).split())
        server.stop()  # a clean stop ends the task, its zygote and the base zygote
        assert _gone([task, zygote, base]) == []

        marker.unlink()
        server.start()  # resumes the held execution in a new pool
        task, zygote = (int(word) for word in _wait_for(marker).split())
        base = _parent(zygote)
        os.kill(server.info["pid"], signal.SIGKILL)  # no goodbye: the kernel ends the whole chain
        assert _gone([task, zygote, base]) == []
    finally:
        server.stop()


def test_no_task_pool_runs_fresh_processes_and_says_why(tmp_path: Path):
    server = Sandbox(tmp_path, "--no-task-pool")
    try:
        done = server.run("--wait", "pooled.py", "crashing", "--how", "fine")
        assert int(done["outputs"]["o0"]) == server.info["pid"]  # the server's own child
        assert "a fresh process: the task pool is off (--no-task-pool)" in server.log()
    finally:
        server.stop()


THREADED = '''
import os
import threading
import time
from flyrun import task, workflow

threading.Thread(target=time.sleep, args=(600,), daemon=True).start()  # a library's pool, started at import


@task
def parent() -> int:
    return os.getppid()


@workflow
def threaded() -> int:
    return parent()
'''


def test_a_module_that_starts_threads_at_import_runs_in_fresh_processes(sandbox: Sandbox):
    """Forking a process with other threads can deadlock the child (a lock held by a thread that is not copied):
    types_data's numpy and pyarrow modules hung exactly so, through their native thread pools."""
    (sandbox.project / "threaded.py").write_text(THREADED)
    done = sandbox.run("--wait", "threaded.py", "threaded")
    assert int(done["outputs"]["o0"]) == sandbox.info["pid"]  # a fresh process, the server's own child
    assert "started 1 thread(s), so its tasks are not forked" in sandbox.log()
