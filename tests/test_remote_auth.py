"""Remote runs against `flyrun sandbox --auth`: a device login done by the test, then `run --remote --wait`; a
token the server forgot (it restarted) exits 4; and the README's CI script, run as written, with the sandbox's
`sandbox-ci` client-credentials client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from auth_support import TOKEN_PREFIX, flyrun_argv, subprocess_env
from conftest import REPO, free_port, require_tool, sandbox_cli
from test_auth_device import LineReader

pytestmark = pytest.mark.slow

CI_SECRET = "sandbox-ci-SEKRIT"
HELLO_OUTPUT = "Hello world, the answer is 9"


class SecuredSandbox:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.endpoint = f"localhost:{self.port}"
        self.url = f"http://{self.endpoint}"

    def start(self) -> None:
        started = sandbox_cli("start", "--port", str(self.port), "--data-dir", str(self.data_dir), "--auth",
                              "--detach", "-o", "json", env={"FLYRUN_SANDBOX_CLIENT_SECRET": CI_SECRET})
        assert started.exit_code == 0, started.output
        assert json.loads(started.stdout)["auth"] is True
        # What the operator types on /activate: `flyrun sandbox operator-secret` shows it.
        shown = sandbox_cli("operator-secret", "--data-dir", str(self.data_dir))
        assert shown.exit_code == 0, shown.output
        self.operator_secret = shown.stdout.strip()

    def stop(self) -> None:
        stopped = sandbox_cli("stop", "--data-dir", str(self.data_dir))
        assert stopped.exit_code == 0, stopped.output


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    sandbox = SecuredSandbox(tmp_path_factory.mktemp("sandbox-auth-remote"))
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def person_env(tmp_path):
    """A person's machine: their own home, and an OS keyring (a stand-in keeping its secrets under that home)."""
    home = tmp_path / "home"
    home.mkdir()
    return subprocess_env(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"),
                          XDG_CONFIG_HOME=str(home / ".config"),
                          PYTHON_KEYRING_BACKEND="auth_support.VaultKeyring")


def flyrun(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(flyrun_argv(*args), env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def device_login(config: Path, env: dict[str, str], url: str, operator_secret: str) -> None:
    """`flyrun auth login` as a person does it: read the code from the terminal, approve it on /activate."""
    proc = subprocess.Popen(flyrun_argv("-c", str(config), "auth", "login"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        stderr = LineReader(proc.stderr)
        stderr.wait_for("Authentication Pending...")
        code = stderr.lines[0].rsplit("enter code: ", 1)[1]
        page = requests.post(f"{url}/activate", timeout=10,
                             data={"user_code": code, "decision": "approve", "subject": "ci-tester",
                                   "operator_secret": operator_secret})
        assert page.status_code == 200 and "Device approved" in page.text
        assert proc.wait(timeout=30) == 0, stderr.read_to_end()
        assert "Signed in to" in proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()


def test_the_readme_ci_script_runs_as_written(secured, tmp_path):
    require_tool(shutil.which("jq") is not None, "jq is not installed (the README's CI script reads run.json with it): "
                                                  "apt-get install jq")
    script = (REPO / "config-examples" / "ci-run.sh").read_text()
    assert script.split("\n", 1)[1].strip() in (REPO / "README.md").read_text(), "README shows ci-run.sh as is"
    repo = tmp_path / "repo"
    (repo / ".flyte").mkdir(parents=True)
    (repo / "workflows").mkdir()
    shutil.copy(REPO / "config-examples" / "client-secret-ci.yaml", repo / ".flyte" / "ci.yaml")
    shutil.copy(REPO / "examples" / "hello.py", repo / "workflows" / "hello.py")
    tools = tmp_path / "bin"  # `flyrun` on PATH is this checkout's
    tools.mkdir()
    (tools / "flyrun").write_text(f'#!/bin/sh\nexec {sys.executable} -m flyrun.cli.main "$@"\n')
    (tools / "flyrun").chmod(0o755)
    # The CI system's settings: the secret as a secret env var; the endpoint of this sandbox instead of the
    # example's flyte.example.com, through the documented per-key environment overrides.
    env = subprocess_env(HOME=str(tmp_path), PATH=f"{tools}{os.pathsep}{os.environ['PATH']}",
                         FLYTE_CLIENT_SECRET=CI_SECRET, FLYRUN_ADMIN_ENDPOINT=secured.endpoint,
                         FLYRUN_ADMIN_INSECURE="true", FLYRUN_ADMIN_CLIENT_ID="sandbox-ci")
    env.pop("FLYRUN_CONFIG", None)
    done = subprocess.run(["bash", str(REPO / "config-examples" / "ci-run.sh")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    name = json.loads((repo / "run.json").read_text())["execution"]["name"]
    assert done.stdout == f"execution {name} said: {HELLO_OUTPUT}\n"
    assert CI_SECRET not in done.stdout + done.stderr and TOKEN_PREFIX not in done.stdout + done.stderr

    wrong = subprocess.run(["bash", str(REPO / "config-examples" / "ci-run.sh")], cwd=repo,
                           env=dict(env, FLYTE_CLIENT_SECRET="not-the-secret"), capture_output=True, text=True,
                           timeout=120)
    assert wrong.returncode == 4, wrong.stdout + wrong.stderr
    assert wrong.stderr.startswith("Error: ") and "not-the-secret" not in wrong.stderr


def test_device_login_then_a_remote_run_and_a_forgotten_token_exits_4(secured, person_env, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: dns:///{secured.endpoint}\n  insecure: true\n  authType: DeviceFlow\n")
    device_login(config, person_env, secured.url, secured.operator_secret)
    hello = str(REPO / "examples" / "hello.py")
    done = flyrun(person_env, "-c", str(config), "run", "--remote", "--wait", hello, "wf", "--x", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"o0: {HELLO_OUTPUT}"
    listed = flyrun(person_env, "-c", str(config), "executions", "list", "--limit", "1", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["executions"][0]["phase"] == "SUCCEEDED"

    secured.stop()  # the sandbox keeps tokens in memory: after a restart it knows neither stored token
    secured.start()
    stale = flyrun(person_env, "-c", str(config), "run", "--remote", "--wait", hello, "wf", "--x", "3")
    assert stale.returncode == 4, stale.stderr
    assert stale.stdout == ""
    assert stale.stderr.splitlines() == [
        f"Error: not signed in to {secured.endpoint}: the server rejected the token, and it could not be refreshed",
        "Hint: run `flyrun auth login`"]


def test_on_a_terminal_the_first_call_signs_in_with_the_device_flow_and_the_run_goes_on(secured, person_env,
                                                                                       tmp_path):
    """The headline: `run --remote` with no stored token, on an ssh-like terminal (no browser): the device-flow
    prompt appears, the person approves on /activate, and the run continues to its outputs."""
    import pty
    import re
    import select
    import time

    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: dns:///{secured.endpoint}\n  insecure: true\n  authType: DeviceFlow\n")
    env = {k: v for k, v in person_env.items() if k not in ("CI", "BROWSER", "DISPLAY")}
    leader, follower = pty.openpty()
    argv = flyrun_argv("-c", str(config), "run", "--remote", "--wait", str(REPO / "examples" / "hello.py"), "wf",
                       "--x", "3")
    proc = subprocess.Popen(argv, stdin=follower, stderr=follower, stdout=subprocess.PIPE, env=env)
    os.close(follower)
    seen, deadline = bytearray(), time.monotonic() + 60
    try:
        while b"Authentication Pending..." not in seen:
            assert time.monotonic() < deadline, bytes(seen)
            if select.select([leader], [], [], 1)[0]:
                seen.extend(os.read(leader, 4096))
        code = re.search(rb"enter code: (\S+)", bytes(seen)).group(1).decode()
        page = requests.post(f"{secured.url}/activate", timeout=10,
                             data={"user_code": code, "decision": "approve", "subject": "ssh-user",
                                   "operator_secret": secured.operator_secret})
        assert page.status_code == 200
        while proc.poll() is None:  # keep reading the terminal, or a full pty buffer would block the run
            assert time.monotonic() < deadline, bytes(seen)
            if select.select([leader], [], [], 0.2)[0]:
                try:
                    seen.extend(os.read(leader, 4096))
                except OSError:  # EIO: the run closed its end of the terminal
                    break
        stdout = proc.stdout.read()
        proc.wait(timeout=60)
    finally:
        proc.kill()
        os.close(leader)
    assert proc.returncode == 0, bytes(seen).decode(errors="replace")
    assert stdout.decode().splitlines()[-1] == f"o0: {HELLO_OUTPUT}"
    assert b"To Authenticate navigate in a browser to the following URL:" in seen


@pytest.mark.parametrize("auth_type", [None, "DeviceFlow", "ClientSecret"])
def test_a_server_without_authentication_needs_no_sign_in(cli, sandbox_server, secured, tmp_path, auth_type,
                                                          monkeypatch):
    """`auth status` and `auth login` against `flyrun sandbox` without --auth (whatever admin.authType says):
    no sign-in is needed, exit 0; against `--auth` status still says "not signed in" (exit 4)."""
    monkeypatch.setenv("FLYRUN_TEST_OPEN_SECRET", "unused")
    chosen = (f"  authType: {auth_type}\n  clientId: c\n  clientSecretEnvVar: FLYRUN_TEST_OPEN_SECRET\n"
              if auth_type else "")
    endpoint = sandbox_server["url"].split("://", 1)[1]
    config = tmp_path / "open.yaml"
    config.write_text(f"admin:\n  endpoint: {endpoint}\n  insecure: true\n{chosen}")
    for command in ("status", "login"):
        answered = cli("-c", str(config), "auth", command)
        assert answered.exit_code == 0, answered.output
        assert answered.stdout == f"{endpoint} needs no sign-in: it accepts requests without a token\n"
        assert "501" not in answered.output
    as_json = cli("-c", str(config), "auth", "status", "-o", "json")
    assert json.loads(as_json.stdout) == {"signed_in": False, "endpoint": endpoint, "sign_in_needed": False}

    config.write_text(f"admin:\n  endpoint: {secured.endpoint}\n  insecure: true\n  authType: DeviceFlow\n")
    closed = cli("-c", str(config), "auth", "status")
    assert closed.exit_code == 4 and "not signed in" in closed.stderr
