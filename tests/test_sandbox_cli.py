"""`flyrun sandbox start|status|stop`: what users see, and the one-line errors for what goes wrong."""

from __future__ import annotations

import json
import socket
import time

import pytest
from conftest import free_port, sandbox_cli


def test_status_of_the_running_sandbox(sandbox_server):
    result = sandbox_cli("status", "--data-dir", str(sandbox_server["data_dir"]))
    assert result.exit_code == 0 and result.stdout.startswith(f"running at {sandbox_server['url']}")
    as_json = json.loads(sandbox_cli("status", "--data-dir", str(sandbox_server["data_dir"]), "-o", "json").stdout)
    assert as_json["running"] is True and as_json["url"] == sandbox_server["url"]


def test_start_prints_a_ready_to_use_config(sandbox_server):
    assert sandbox_server["endpoint"].startswith("localhost:")
    assert f"endpoint: {sandbox_server['endpoint']}" in sandbox_server["config"]
    assert "insecure: true" in sandbox_server["config"]


def test_a_second_server_on_the_same_data_dir_is_refused(sandbox_server):
    result = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(sandbox_server["data_dir"]))
    assert result.exit_code == 5 and "already serves" in result.stderr


@pytest.mark.parametrize("detach", [False, True])
def test_port_in_use_is_a_one_line_error(tmp_path, detach):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = sandbox_cli("start", "--port", str(port), "--data-dir", str(tmp_path / "d"),
                             *(["--detach"] if detach else []))
    assert result.exit_code == 5
    assert result.stderr.splitlines()[0] == f"Error: port {port} on 127.0.0.1 is already in use"
    assert "Traceback" not in result.stderr


def test_data_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(blocker / "sandbox"))
    assert result.exit_code == 5 and result.stderr.startswith("Error: cannot write the data dir")
    detached = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(blocker / "sandbox"), "--detach")
    assert detached.exit_code == 5 and detached.stderr.startswith("Error: cannot write the data dir")


def test_non_loopback_host_needs_auth(tmp_path):
    result = sandbox_cli("start", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: refusing to serve on 0.0.0.0 without --auth")


def test_status_and_stop_without_a_server(tmp_path):
    status = sandbox_cli("status", "--data-dir", str(tmp_path))
    assert status.exit_code == 5 and status.stderr.startswith("Error: no sandbox is running")
    stop = sandbox_cli("stop", "--data-dir", str(tmp_path))
    assert stop.exit_code == 0 and "nothing to stop" in stop.stderr


def test_default_data_dir_follows_xdg(tmp_path):
    status = sandbox_cli("status", env={"XDG_DATA_HOME": str(tmp_path)})
    assert str(tmp_path / "flyrun" / "sandbox") in status.stderr


def test_sandbox_help_lists_its_commands(flyrun_process):
    result = flyrun_process("sandbox", "--help")
    assert result.exit_code == 0
    assert all(word in result.stdout for word in ("start", "status", "stop"))


def test_foreground_start_prints_the_config_and_stops_on_ctrl_c(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from conftest import REPO

    process = subprocess.Popen([sys.executable, "-m", "flyrun.cli.main", "sandbox", "start", "--port", "0",
                                "--data-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    first = process.stdout.readline()
    assert first.startswith("flyrun sandbox is ready at http://localhost:")
    assert (tmp_path / "sandbox.pid").exists()
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()  # not communicate(): readline() may already hold the rest in its buffer
    assert process.wait(timeout=30) == 0, process.stderr.read()
    assert "endpoint: localhost:" in rest and "insecure: true" in rest
    assert not (tmp_path / "sandbox.pid").exists()


def test_two_starts_on_one_data_dir_at_the_same_moment_run_one_server(tmp_path):
    """Both processes start together: exactly one serves; the other exits 5 with one line naming the data dir."""
    import os
    import signal
    import subprocess
    import sys

    from conftest import REPO

    data_dir = tmp_path / "shared"
    argv = [sys.executable, "-m", "flyrun.cli.main", "sandbox", "start", "--port", "0", "--data-dir", str(data_dir)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    try:
        loser = None
        deadline = time.monotonic() + 60
        while loser is None and time.monotonic() < deadline:
            loser = next((p for p in procs if p.poll() is not None), None)
            time.sleep(0.05)
        assert loser is not None, "both servers kept running"
        winner = procs[1 - procs.index(loser)]
        out, err = loser.communicate(timeout=10)
        assert loser.returncode == 5, out + err
        lines = err.strip().splitlines()
        assert lines[0].startswith("Error: ") and str(data_dir) in lines[0] and len(lines) == 2, err
        assert "another flyrun sandbox is already using" in lines[0] or "already serves" in lines[0]
        assert winner.poll() is None
        assert "is ready at" in winner.stdout.readline()  # serving; its stop handlers are installed
        winner.send_signal(signal.SIGTERM)
        assert winner.wait(timeout=30) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
