"""Terminating a sandbox execution while its tasks run, then checking that nothing of it is left: no process (by
pid), no node and no child execution QUEUED or RUNNING. Shared by the dynamic and eager tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PROJECT, DOMAIN = "flytesnacks", "development"
NOT_ENDED = (1, 2)  # QUEUED, RUNNING: the same numbers for executions and node executions


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def wait_for_pids(folder: Path, count: int, timeout: float = 60) -> set[int]:
    """The pids that ``count`` tasks wrote to ``folder/*.pid`` once they are all running."""
    deadline = time.monotonic() + timeout
    while len([p for p in folder.glob("*.pid") if p.read_text()]) < count:
        assert time.monotonic() < deadline, f"only {len(list(folder.glob('*.pid')))} of {count} tasks started"
        time.sleep(0.1)
    return {int(p.read_text()) for p in folder.glob("*.pid")}


def terminate_and_check(remote: Any, data_dir: Path, name: str, pids: set[int]) -> dict[str, dict[str, int]]:
    """Terminate execution ``name``, wait for it to end, and check that every pid has exited and that neither it
    nor any execution launched from it (at any depth) has a node or a phase still QUEUED or RUNNING.

    Returns the node phases of ``name`` and of each descendant execution, by execution name."""
    assert remote("executions", "terminate", name).exit_code == 0
    waited = remote("executions", "wait", name, "--timeout", "30")
    assert waited.exit_code == 6, waited.output  # ABORTED: the run did not succeed
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "a task process outlived its terminated execution"
        time.sleep(0.1)
    from flyrun.sandbox.state.store import Key, Store

    store = Store.open(data_dir)
    try:
        deadline = time.monotonic() + 15
        while True:
            found = _tree(store, Key(PROJECT, DOMAIN, name))
            running = {n: p for n, (p, _) in found.items() if p in NOT_ENDED}
            if not running:
                break
            assert time.monotonic() < deadline, f"executions left running: {running}"
            time.sleep(0.1)
    finally:
        store.close()
    for execution, (_, nodes) in found.items():
        assert not [n for n, phase in nodes.items() if phase in NOT_ENDED], (execution, nodes)
    return {execution: nodes for execution, (_, nodes) in found.items()}


def _tree(store: Any, key: Any) -> dict[str, tuple[int, dict[str, int]]]:
    """(phase, node phases) of ``key`` and every execution launched from it, by name."""
    from flyrun.sandbox.state.store import Key

    found = {key.name: (store.existing_execution(key)["phase"],
                        {row["node_id"]: row["phase"] for row in store.all_nodes(key)})}
    for row in store.child_executions(key):
        found.update(_tree(store, Key(row["project"], row["domain"], row["name"])))
    return found


def launched(result: Any) -> str:
    """The execution name of a `run --remote -o json` result."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["execution"]["name"]


@contextlib.contextmanager
def killed_mid_step(cli: Callable[..., Any], tmp_path: Path, source: str, file_name: str,
                    timeout: float) -> Iterator[tuple[Callable[..., Any], str, Path]]:
    """Workflow ``steps`` of ``source`` (saved as ``file_name``) launched on a sandbox of its own; the server is
    killed (SIGKILL) while the step labelled "second" runs, then started again on the same data dir.

    Yields ``(remote, execution name, marker file)``: ``remote(*args)`` runs the CLI against that sandbox, and each
    step appends its label to the marker file. The sandbox is stopped at the end."""
    from conftest import free_port, sandbox_cli

    folder = tmp_path / "steps"
    folder.mkdir()
    (folder / file_name).write_text(source)
    marker = tmp_path / "marker"
    data_dir, port = tmp_path / "data", free_port()
    started = sandbox_cli("start", "--port", str(port), "--data-dir", str(data_dir), "--detach", "-o", "json")
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    config = tmp_path / "own.yaml"
    config.write_text(f"admin:\n  endpoint: {info['endpoint']}\n  insecure: true\n  authType: None\n")

    def remote(*args: str) -> Any:
        return cli("-c", str(config), *args)

    try:
        launched = remote("run", "--remote", "-o", "json", str(folder / file_name), "steps", "--marker", str(marker))
        assert launched.exit_code == 0, launched.output
        name = json.loads(launched.stdout)["execution"]["name"]
        deadline = time.monotonic() + timeout
        while "second" not in (marker.read_text() if marker.exists() else ""):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(info["pid"], signal.SIGKILL)
        time.sleep(0.5)
        assert sandbox_cli("start", "--port", str(port), "--data-dir", str(data_dir), "--detach").exit_code == 0
        yield remote, name, marker
    finally:
        sandbox_cli("stop", "--data-dir", str(data_dir))
