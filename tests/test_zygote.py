"""The warm zygote behind a local map's worker processes: isolation between forks, crashes, no orphans, fallback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO

TASKS = '''
import os
import signal
import time
from typing import List
from flyrun import map_task, task, workflow

STATE: list = []

@task
def bump(x: int) -> int:
    """Leaks a module-level global: how many items this process has run."""
    STATE.append(x)
    return len(STATE)

@task
def crash(how: str) -> int:
    if how == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()

@task
def burn(n: int) -> int:
    deadline = time.process_time() + n * 0.05
    while time.process_time() < deadline:
        pass
    return os.getpid()

@task
def killed_in_workers(n: int) -> int:
    burn.fn(n)
    if os.getpid() != int(os.environ["MAIN_PID"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return n

m_burn = map_task(burn)
m_killed = map_task(killed_in_workers)
'''

# Drives a zygote the way a map does, in a fresh (single-threaded) process, and prints what it saw as JSON.
DRIVER = '''
import json, os, sys
sys.path.insert(0, sys.argv[1])
import tasks
from flyrun.protocol import zygote
from flyrun.local.map_worker import Worker
from flyrun.sdk.map import ItemFailure
from flyrun.types import engine

def spec(name):
    return {"sys_path": list(sys.path), "module": "tasks", "attribute": name, "raw_output_prefix": "",
            "storage_options": {}, "cache_dir": None, "overwrite_cache": False, "execution_id": "t"}

def lit(value, task, name):
    return engine.to_literal(value, task.interface.inputs[name])

def out(answer, task):
    index, result, notices = answer
    if isinstance(result, ItemFailure):
        return "failed"
    return engine.to_python(result["o0"], task.interface.outputs["o0"])

seen = {}
z = zygote.Zygote()
first = Worker(spec("bump"), z)
first.ready()
seen["first"] = [out(a, tasks.bump) for a in first.run([(0, {"x": lit(1, tasks.bump, "x")}),
                                                         (1, {"x": lit(2, tasks.bump, "x")})])]
first.close()
second = Worker(spec("bump"), z)  # forked after the first worker ran and grew STATE
second.ready()
seen["second"] = [out(a, tasks.bump) for a in second.run([(0, {"x": lit(3, tasks.bump, "x")})])]
second.close()
seen["here"] = len(tasks.STATE)
for how in ("segv", "kill"):
    doomed = Worker(spec("crash"), z)
    doomed.ready()
    try:
        doomed.run([(0, {"how": lit(how, tasks.crash, "how")})])
        seen[how] = "answered"
    except (EOFError, OSError):
        doomed.process.wait(timeout=10)
        seen[how] = doomed.exit_code()
    doomed.close()
after = Worker(spec("crash"), z)  # the pool goes on after a crash
after.ready()
seen["after"] = [out(a, tasks.crash) for a in after.run([(0, {"how": lit("fine", tasks.crash, "how")})])]
seen["after_pid"] = after.process.pid
after.close()
seen["zygote"] = z.pid
z.close()
import time
def ended(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # ended, not yet reaped
    except OSError:
        return True
deadline = time.monotonic() + 10
while not ended(z.pid) and time.monotonic() < deadline:
    time.sleep(0.01)
seen["zygote_gone"] = ended(z.pid)
print(json.dumps(seen))
'''


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), **extra)


def test_forks_are_isolated_and_a_crash_fails_only_its_worker(tmp_path: Path):
    (tmp_path / "tasks.py").write_text(TASKS)
    done = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path)], capture_output=True, text=True,
                          env=_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["first"] == [1, 2]  # items in one worker share it, as items in one process do
    assert seen["second"] == [1]  # a fresh fork: the first worker's global never reached it
    assert seen["here"] == 0  # nor the process that made the zygote
    assert seen["segv"] == -signal.SIGSEGV and seen["kill"] == -signal.SIGKILL
    assert seen["after"] == [seen["after_pid"]]
    assert seen["zygote_gone"]


def test_a_worker_killed_mid_map_fails_its_items_and_says_how(tmp_path: Path):
    (tmp_path / "tasks.py").write_text(TASKS)
    script = ("import os, sys; os.environ['MAIN_PID'] = str(os.getpid()); "
              "from flyrun.cli.main import main; sys.exit(main())")
    done = subprocess.run([sys.executable, "-c", script, "run", "-v", str(tmp_path / "tasks.py"), "m_killed",
                           "--n", "[4, 4, 4, 4, 4, 4]"], capture_output=True, text=True, env=_env(), timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 6, done.stderr
    assert "forked from a warm zygote" in done.stderr
    assert "failed: WorkerExited: the worker process running it exited with status -9" in done.stderr


def test_the_pool_off_uses_fresh_interpreters_and_says_why(tmp_path: Path):
    (tmp_path / "tasks.py").write_text(TASKS)
    done = subprocess.run([sys.executable, "-m", "flyrun.cli.main", "-o", "json", "run", "-v",
                           str(tmp_path / "tasks.py"), "m_burn", "--n", "[4, 4, 4, 4]"], capture_output=True,
                          text=True, env=_env(FLYRUN_WARM_POOL="0"), timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "fresh interpreters: the warm pool is off (FLYRUN_WARM_POOL=0)" in done.stderr
    assert len(set(json.loads(done.stdout)["outputs"]["o0"])) == 2


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def test_killing_flyrun_leaves_no_zygote_or_worker_behind(tmp_path: Path):
    (tmp_path / "tasks.py").write_text(TASKS)
    proc = subprocess.Popen([sys.executable, "-m", "flyrun.cli.main", "run", str(tmp_path / "tasks.py"), "m_burn",
                             "--n", "[200, 200, 200, 200]"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env(), cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_descendants(proc.pid)) < 2:  # the zygote and its worker
            time.sleep(0.05)
        started = _descendants(proc.pid)
        assert len(started) >= 2, started
    finally:
        proc.kill()  # SIGKILL: flyrun gets no chance to stop anything itself
        proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in started):
        time.sleep(0.05)
    assert not [pid for pid in started if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_stops_the_zygote_and_its_workers(tmp_path: Path):
    (tmp_path / "tasks.py").write_text(TASKS)
    proc = subprocess.Popen([sys.executable, "-m", "flyrun.cli.main", "run", str(tmp_path / "tasks.py"), "m_burn",
                             "--n", "[200, 200, 200, 200]"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=_env(), cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_descendants(proc.pid)) < 2:
            time.sleep(0.05)
        started = _descendants(proc.pid)
        assert len(started) >= 2, started
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 130, stderr
    assert not [pid for pid in started if _alive(pid)]  # gone when flyrun returns, not merely later


def test_no_fork_while_other_threads_run(monkeypatch):
    import threading

    from flyrun.protocol import zygote

    monkeypatch.delenv(zygote.POOL_VARIABLE, raising=False)
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    other.start()
    try:
        assert "threads are running, so forking is not safe" in (zygote.unavailable() or "")
    finally:
        release.set()
        other.join(timeout=10)
    monkeypatch.setenv(zygote.POOL_VARIABLE, "off")
    assert zygote.unavailable() == "the warm pool is off (FLYRUN_WARM_POOL=off)"


def _state(pid: int) -> str:
    """The process's state letter (Z: ended, not yet reaped), or "" once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def test_a_child_that_tells_its_exit_code_is_reaped_and_every_way_of_ending_is_reported():
    """The sandbox's children tell their exit code on a pipe as they exit (no wait for the teardown, no question to
    the zygote); one that dies without telling is still reported by its wait status, and none stays a zombie."""
    from flyrun.protocol.zygote import Zygote

    tests = str(Path(__file__).resolve().parent)
    zygote = Zygote.spawn(["zygote_targets"], dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), tests])))
    try:
        cases = [("zygote_targets:finish", (0,), 0), ("zygote_targets:finish", (3,), 3),
                 ("zygote_targets:kill_self", (), -signal.SIGKILL),
                 ("zygote_targets:close_all_then_exit", (5,), 5), ("zygote_targets:fork_then_exit", (7,), 7)]
        pids = []
        for target, args, code in cases:
            child = zygote.start(target, args, told=True)
            assert child.wait(timeout=20) == code, target
            pids.append(child.pid)
        import threading

        told = zygote.start("zygote_targets:finish", (0,), told=True)
        busy = threading.Thread(target=zygote.call, args=("time:sleep", (3,)))
        busy.start()  # the zygote answers nothing for 3 s
        began = time.monotonic()
        assert told.wait(timeout=20) == 0 and time.monotonic() - began < 2  # told, not asked
        busy.join()
        pids.append(told.pid)
        slow = zygote.start("zygote_targets:sleep", (60,), told=True)
        assert slow.poll() is None and not slow.ended(0.05)
        slow.kill()  # as a terminate or a timeout stops it: killed before it could tell anything
        assert slow.wait(timeout=20) == -signal.SIGKILL
        pids.append(slow.pid)
        deadline = time.monotonic() + 10
        while any(_state(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [_state(pid) for pid in pids] == [""] * len(pids)  # all reaped, with no further request
        assert zygote.call("os:getpid") == zygote.pid  # and the zygote still serves
    finally:
        zygote.close(wait=True)

HEAP = '''
import gc, os, sys
from flyrun.protocol import zygote

parent = os.getpid()


def seen(phase, info):
    if os.getpid() != parent and phase == "start" and gc.get_freeze_count() == 0:
        os.write(1, f"a collection of generation {info['generation']} in the zygote before gc.freeze\\n".encode())


gc.callbacks.append(seen)
assert "ctypes" not in sys.modules  # the zygote imports it as it starts (die_with_parent)
gc.set_threshold(1, 1, 1)  # any allocation in the zygote starts a collection
z = zygote.Zygote()
z.call("os:getpid")  # the zygote is through its start
gc.set_threshold(700, 10, 10)
z.close(wait=True)
'''


def test_the_zygote_freezes_the_heap_it_inherits_before_anything_can_collect_it(tmp_path: Path):
    # The zygote froze its objects only after its own imports (ctypes, for PR_SET_PDEATHSIG), which could set off
    # a collection over everything flyrun held when it forked: the whole heap walked, its pages copied, the first
    # worker ready tens of milliseconds later on a busy machine (a map's figures showed it).
    done = subprocess.run([sys.executable, "-c", HEAP], capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", done.stdout
