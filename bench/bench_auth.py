"""Sign-in and token use against the sandbox authorization server on loopback.

Whole-process figures (median of several runs): `config show`, `auth token` with a stored token (no network),
`auth status` (a GET /me), `auth token` for a CI client (a client-credentials grant), a device-flow
`auth login` approved as soon as the code appears (polling every 50 ms). In-process: the cost of one admin request
through AdminSession with a bearer token.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from timing import REPO, median_wall

CI_SECRET = "bench-secret"


def _start_server():
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines among the figures

    from flyrun.sandbox.auth.server import AuthServer, Client, Settings

    server = AuthServer(clients=[Client("flytectl"), Client("ci", client_secret=CI_SECRET,
                                                            grant_types=("client_credentials",))],
                        settings=Settings(poll_interval=0.05))
    http = make_server("127.0.0.1", 0, server.protect(_ok), threaded=True)
    threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, http


def _ok(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


def _approver(server, stop: threading.Event) -> None:
    while not stop.is_set():
        for code in server.pending_user_codes():
            server.approve_user_code(code, subject="bench")
        time.sleep(0.005)


def run() -> list[tuple[str, str]]:
    sys.path.insert(0, str(REPO))
    server, http = _start_server()
    url = f"http://127.0.0.1:{http.server_port}"
    stop = threading.Event()
    threading.Thread(target=_approver, args=(server, stop), daemon=True).start()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=f"{home}/.config", XDG_DATA_HOME=f"{home}/.local",
                   PYTHONPATH=str(REPO), PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
                   CI_SECRET=CI_SECRET)
        device = Path(home, "device.yaml")
        device.write_text(f"admin:\n  endpoint: {url}\n  authType: DeviceFlow\n")
        ci = Path(home, "ci.yaml")
        ci.write_text(f"admin:\n  endpoint: {url}\n  authType: ClientSecret\n  clientId: ci\n"
                      "  clientSecretEnvVar: CI_SECRET\n")
        flyrun = [sys.executable, "-m", "flyrun.cli.main"]
        login = _median_of(lambda: subprocess.run(flyrun + ["-c", str(device), "auth", "login"], env=env,
                                                  capture_output=True, check=True), runs=5)
        rows = [
            ("flyrun config show", f"{median_wall(flyrun + ['config', 'show'], env=env):.3f} s"),
            ("flyrun auth login (device flow, approved at once)", f"{login:.3f} s"),
            ("flyrun auth token (stored token, no network)",
             f"{median_wall(flyrun + ['-c', str(device), 'auth', 'token'], env=env):.3f} s"),
            ("flyrun auth status (GET /me)",
             f"{median_wall(flyrun + ['-c', str(device), 'auth', 'status'], env=env):.3f} s"),
            ("flyrun auth token (ClientSecret grant)",
             f"{median_wall(flyrun + ['-c', str(ci), 'auth', 'token'], env=env):.3f} s"),
            ("AdminSession.request with a bearer token, per call", f"{_per_request_ms(device, env):.2f} ms"),
        ]
    stop.set()
    http.shutdown()
    return rows


def _median_of(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _per_request_ms(config: Path, env: dict[str, str], calls: int = 300) -> float:
    from flyrun.config import load_config
    from flyrun.remote.session import AdminSession

    saved = dict(os.environ)
    os.environ.update(env)  # keyring reads PYTHON_KEYRING_BACKEND and XDG_DATA_HOME from the process
    try:
        with AdminSession(load_config(str(config), env), environ=env) as session:
            session.request("GET", "/api/v1/projects")  # warm: token load, discovery, connection
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                session.request("GET", "/api/v1/projects")
                times.append(time.perf_counter() - started)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return statistics.median(times) * 1000
