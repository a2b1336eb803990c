"""`flyrun auth login` with the device flow (and PKCE), against the sandbox authorization server on loopback."""

from __future__ import annotations

import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests
from auth_support import OPERATOR_SECRET, TOKEN_PREFIX, flyrun_argv, subprocess_env, write_config


def service_of(url: str) -> str:
    return url.split("://", 1)[1]


def stored_token(service: str, name: str = "access_token") -> str | None:
    from auth_support import VaultKeyring

    return VaultKeyring().get_password(service, name)


def decide_when_pending(auth_server, approve: bool = True, subject: str = "alice",
                        action=None) -> threading.Thread:
    """In the background: wait for a device code to be issued, then approve, deny or run ``action`` on it."""

    store = auth_server.server.store  # this test's state: a later test resets it, and this thread then stops

    def run() -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and auth_server.server.store is store:
            codes = auth_server.server.pending_user_codes()
            if codes:
                if action is not None:
                    action(codes[0])
                elif approve:
                    auth_server.server.approve_user_code(codes[0], subject=subject)
                else:
                    auth_server.server.deny_user_code(codes[0])
                return
            time.sleep(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


class LineReader:
    """Reads a process's stream in the background, so a test can wait for a line with a bounded timeout."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line is not None, f"stream ended without {text!r}: {self.lines}"
            self.lines.append(line)

    def read_to_end(self, timeout: float = 20.0) -> list[str]:
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return self.lines


@pytest.mark.slow
def test_login_polls_while_the_code_is_approved_over_http(auth_server, tmp_path: Path):
    config = write_config(tmp_path / "c.yaml", "dns:///" + service_of(auth_server.url), insecure=True,
                          authType="DeviceFlow")
    proc = subprocess.Popen(flyrun_argv("-c", str(config), "auth", "login", "-v"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        stderr = LineReader(proc.stderr)
        stderr.wait_for("Authentication Pending...")
        code = stderr.lines[0].rsplit("enter code: ", 1)[1]
        page = requests.get(f"{auth_server.url}/activate?user_code={code}", timeout=5)
        assert page.status_code == 200
        done = requests.post(f"{auth_server.url}/activate", timeout=5,
                             data={"user_code": code, "decision": "approve", "subject": "alice",
                                   "operator_secret": OPERATOR_SECRET})
        assert "Device approved" in done.text
        stdout = proc.stdout.read()
        assert proc.wait(timeout=30) == 0
        lines = stderr.read_to_end()
    finally:
        proc.kill()
    code = lines[0].rsplit(" ", 1)[1]
    assert lines[:4] == [
        f"To Authenticate navigate in a browser to the following URL: {auth_server.url}/activate and enter code: "
        f"{code}",
        f"OR copy paste the following URL: {auth_server.url}/activate?user_code={code}",
        "",
        "Authentication Pending...",
    ]
    assert "Authentication successful!" in lines
    assert stdout.strip() == (f"Signed in to {service_of(auth_server.url)} as alice; tokens kept in keyring "
                              "(auth_support.VaultKeyring)")
    assert TOKEN_PREFIX not in stdout + "\n".join(lines)
    assert stored_token(service_of(auth_server.url)).startswith(TOKEN_PREFIX)
    assert stored_token(service_of(auth_server.url), "refresh_token").startswith(TOKEN_PREFIX)
    assert float(stored_token(service_of(auth_server.url), "expires_at")) > time.time() + 3000


def test_login_in_process_then_status_and_logout(cli, auth_server, tmp_path: Path):
    config = str(write_config(tmp_path / "c.yaml", auth_server.url, authType="DeviceFlow"))
    decide_when_pending(auth_server, subject="dana")
    login = cli("-c", config, "auth", "login", "-o", "json")
    assert login.exit_code == 0, login.output
    document = __import__("json").loads(login.stdout)
    assert document["user"]["subject"] == "dana" and document["auth_type"] == "DeviceFlow"
    status = cli("-c", config, "auth", "status")
    assert status.exit_code == 0, status.output
    assert "user:       dana <dana@sandbox.local>" in status.stdout and "(in 59 min" in status.stdout
    assert cli("-c", config, "auth", "logout").stdout.strip() == f"Signed out of {service_of(auth_server.url)} " \
                                                                "(stored tokens removed)"
    assert stored_token(service_of(auth_server.url)) is None
    after = cli("-c", config, "auth", "status")
    assert after.exit_code == 4
    assert after.stderr.splitlines() == [f"Error: not signed in to {service_of(auth_server.url)}: no token is stored",
                                         "Hint: run `flyrun auth login`"]
    assert cli("-c", config, "auth", "logout").stdout.strip().startswith("No stored tokens for")


def test_denied_sign_in_exits_4(cli, auth_server, tmp_path: Path):
    config = str(write_config(tmp_path / "c.yaml", auth_server.url, authType="DeviceFlow"))
    decide_when_pending(auth_server, approve=False)
    result = cli("-c", config, "auth", "login")
    assert result.exit_code == 4
    assert "Error: sign-in was denied at the authorization server" in result.stderr
    assert "Authentication successful!" not in result.stderr and result.stdout == ""
    assert stored_token(service_of(auth_server.url)) is None


def test_code_lifetime_running_out_exits_7(cli, auth_server, tmp_path: Path):
    auth_server.server.settings.device_code_ttl = 0.3
    config = str(write_config(tmp_path / "c.yaml", auth_server.url, authType="DeviceFlow"))
    started = time.monotonic()
    result = cli("-c", config, "auth", "login")
    assert result.exit_code == 7, result.output
    assert "Error: the device code expired before the sign-in was approved" in result.stderr
    assert time.monotonic() - started < 5


def test_expired_token_from_the_server_exits_7(cli, auth_server, tmp_path: Path):
    config = str(write_config(tmp_path / "c.yaml", auth_server.url, authType="DeviceFlow"))
    decide_when_pending(auth_server, action=lambda _code: auth_server.server.expire_device_codes())
    result = cli("-c", config, "auth", "login")
    assert result.exit_code == 7
    assert "expired" in result.stderr.splitlines()[-2]


def test_slow_down_adds_five_seconds_to_every_later_poll(auth_server):
    from flyrun.remote.auth.device import DeviceFlow
    from flyrun.remote.auth.discovery import ClientSettings
    from flyrun.remote.transport import Transport

    auth_server.server.settings.slow_down_polls = 2
    settings = ClientSettings(client_id="flytectl", scopes=["all", "offline"],
                              token_endpoint=auth_server.url + "/oauth2/token",
                              device_authorization_endpoint=auth_server.url + "/oauth2/device_authorization")
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # record the wait instead of waiting it out
        waits.append(seconds)
        if len(waits) == 3:  # after two slow_downs
            auth_server.server.approve_user_code(auth_server.server.pending_user_codes()[0])

    shown: list[str] = []
    credentials = DeviceFlow(Transport(), settings, shown.append, sleep=sleep).login()
    assert credentials.access_token.startswith(TOKEN_PREFIX)
    assert waits == pytest.approx([0.05, 5.05, 10.05])
    assert shown[-1] == "Authentication successful!" and shown.count("Authentication Pending...") == 1


def test_pkce_without_a_browser_points_to_the_device_flow(cli, auth_server, tmp_path: Path):
    config = str(write_config(tmp_path / "c.yaml", auth_server.url, authType="Pkce"))
    result = cli("-c", config, "auth", "login")
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "Error: Pkce sign-in needs a web browser, and none can be opened here (no display)",
        "Hint: set admin.authType: DeviceFlow to sign in from this terminal, then run `flyrun auth login`"]


FAKE_BROWSER = """\
#!{python}
# A stand-in for a person at a browser: open the consent page, press Approve, follow the redirect home.
import html, re, sys, urllib.parse, urllib.request
url = sys.argv[1]
page = urllib.request.urlopen(url, timeout=10).read().decode()
action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
form = urllib.parse.urlencode({{"decision": "approve", "subject": "carol", "operator_secret": {secret!r}}}).encode()
urllib.request.urlopen(urllib.parse.urljoin(url, action), data=form, timeout=10).read()
"""


@pytest.mark.slow
def test_pkce_signs_in_through_a_browser_and_a_loopback_redirect(auth_server, tmp_path: Path):
    browser = tmp_path / "fake-browser"
    browser.write_text(textwrap.dedent(FAKE_BROWSER.format(python=sys.executable, secret=OPERATOR_SECRET)))
    browser.chmod(0o755)
    config = write_config(tmp_path / "c.yaml", auth_server.url, authType="Pkce")
    proc = subprocess.run(flyrun_argv("-c", str(config), "auth", "login"), capture_output=True, text=True,
                          timeout=60, env=subprocess_env(BROWSER=str(browser)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Signed in to {service_of(auth_server.url)} as carol")
    assert "Authentication successful!" in proc.stderr and TOKEN_PREFIX not in proc.stdout + proc.stderr
    assert auth_server.server.grant_counts.get("authorization_code") == 1
    assert stored_token(service_of(auth_server.url)).startswith(TOKEN_PREFIX)
