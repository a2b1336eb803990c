"""Using tokens: refresh before expiry, a 401 then refresh, CI credentials, external commands, failures, no leaks."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from auth_support import CI_CLIENT_ID, CI_SECRET, TOKEN_PREFIX, free_port, write_config
from test_auth_device import decide_when_pending, service_of, stored_token

from flyrun.errors import AuthError


def device_config(tmp_path: Path, auth_server, **admin) -> str:
    return str(write_config(tmp_path / "c.yaml", auth_server.url, authType="DeviceFlow", **admin))


def ci_config(tmp_path: Path, auth_server, **admin) -> str:
    return str(write_config(tmp_path / "ci.yaml", auth_server.url, authType="ClientSecret", clientId=CI_CLIENT_ID,
                            **({"clientSecretEnvVar": "CI_FLYTE_SECRET"} | admin)))


def signed_in(cli, auth_server, config: str) -> None:
    decide_when_pending(auth_server)
    result = cli("-c", config, "auth", "login")
    assert result.exit_code == 0, result.output


def session_for(config_path: str, **options):
    import os

    from flyrun.config import load_config
    from flyrun.remote.session import AdminSession

    return AdminSession(load_config(config_path, os.environ), environ=dict(os.environ), **options)


def test_a_token_close_to_expiry_is_refreshed_first(cli, auth_server, tmp_path: Path):
    auth_server.server.settings.access_token_ttl = 30  # inside the default 60 s refresh window
    config = device_config(tmp_path, auth_server)
    signed_in(cli, auth_server, config)
    before = stored_token(service_of(auth_server.url))
    result = cli("-c", config, "auth", "status", "-v")
    assert result.exit_code == 0, result.output
    assert auth_server.server.grant_counts.get("refresh_token") == 1
    after = stored_token(service_of(auth_server.url))
    assert after != before and after.startswith(TOKEN_PREFIX)
    assert "debug: token refreshed; valid for" in result.stderr


def test_a_401_is_followed_by_one_refresh_and_a_retry(cli, auth_server, tmp_path: Path):
    config = device_config(tmp_path, auth_server)
    signed_in(cli, auth_server, config)
    auth_server.server.revoke_access_tokens()  # the server forgets the token before it says it expires
    result = cli("-c", config, "auth", "status", "-v")
    assert result.exit_code == 0, result.output
    debug = [line for line in result.stderr.splitlines() if "GET /me" in line]
    assert debug[0].startswith("debug: GET /me -> 401") and debug[1].startswith("debug: GET /me -> 200")
    assert auth_server.server.grant_counts.get("refresh_token") == 1


def test_a_failed_refresh_without_a_terminal_exits_4_and_forgets_the_tokens(cli, auth_server, tmp_path: Path):
    config = device_config(tmp_path, auth_server)
    signed_in(cli, auth_server, config)
    auth_server.server.reset()  # every token and refresh token unknown now
    result = cli("-c", config, "auth", "status")
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        f"Error: not signed in to {service_of(auth_server.url)}: the server rejected the token, and it could not "
        "be refreshed", "Hint: run `flyrun auth login`"]
    assert stored_token(service_of(auth_server.url)) is None


def test_an_expired_token_that_cannot_be_refreshed_exits_4(cli, auth_server, tmp_path: Path):
    from auth_support import VaultKeyring

    config = device_config(tmp_path, auth_server)
    signed_in(cli, auth_server, config)
    VaultKeyring().set_password(service_of(auth_server.url), "expires_at", str(time.time() - 5))
    auth_server.server.reset()
    token = cli("-c", config, "auth", "token")
    assert token.exit_code == 4 and token.stdout == ""
    assert token.stderr.splitlines()[0] == (f"Error: not signed in to {service_of(auth_server.url)}: the token "
                                            "expired and could not be refreshed")


def test_an_interactive_session_signs_in_again_and_sends_both_headers(cli, auth_server, tmp_path: Path):
    config = device_config(tmp_path, auth_server)
    signed_in(cli, auth_server, config)
    auth_server.server.reset()
    prompts: list[str] = []

    def person(line: str) -> None:  # a person reading stderr: approves the code they are shown
        prompts.append(line)
        if "enter code: " in line:
            auth_server.server.approve_user_code(line.rsplit(" ", 1)[1], subject="erin")

    with session_for(config, interactive=True, notify=person) as session:
        echoed = session.json("GET", "/api/v1/projects")
    assert echoed == {"path": "/api/v1/projects", "authorization": True, "flyte_authorization": True, "same": True}
    assert prompts[-1] == "Authentication successful!"
    assert stored_token(service_of(auth_server.url)).startswith(TOKEN_PREFIX)


def test_client_secret_from_an_env_var_keeps_tokens_in_memory(cli, auth_server, tmp_path: Path, monkeypatch):
    log = tmp_path / "keyring.log"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "auth_support.TouchedKeyring")
    monkeypatch.setenv("FLYRUN_TEST_KEYRING_LOG", str(log))
    monkeypatch.setenv("CI_FLYTE_SECRET", CI_SECRET)
    config = ci_config(tmp_path, auth_server)
    status = cli("-c", config, "auth", "status")
    assert status.exit_code == 0, status.output
    assert f"user:       {CI_CLIENT_ID}" in status.stdout and "stored in:  memory only" in status.stdout
    token = cli("-c", config, "auth", "token")
    assert token.exit_code == 0 and token.stdout.startswith(TOKEN_PREFIX) and token.stderr == ""
    assert not log.exists(), log.read_text()
    assert not (Path.home() / ".flyrun" / "credentials.json").exists()


def test_client_secret_from_a_file_with_a_trailing_newline(cli, auth_server, tmp_path: Path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(CI_SECRET + "\n")
    path = write_config(tmp_path / "ci.yaml", auth_server.url, clientId=CI_CLIENT_ID,
                        clientSecretLocation=str(secret_file))  # authType implied by the secret
    result = cli("-c", str(path), "auth", "token", "-o", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["token_type"] == "Bearer" and document["access_token"].startswith(TOKEN_PREFIX)


def test_a_wrong_client_secret_exits_4_without_showing_it(cli, auth_server, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("CI_FLYTE_SECRET", "WRONGSEKRIT")
    result = cli("-c", ci_config(tmp_path, auth_server), "auth", "status", "-v")
    assert result.exit_code == 4
    assert result.stderr.splitlines()[:2] == [
        f"Error: the authorization server rejected client '{CI_CLIENT_ID}' (invalid_client)",
        "Hint: check admin.clientId and the secret in $CI_FLYTE_SECRET"]
    assert "WRONGSEKRIT" not in result.output


def test_a_missing_secret_variable_is_a_config_error(cli, auth_server, tmp_path: Path):
    result = cli("-c", ci_config(tmp_path, auth_server), "auth", "login")
    assert result.exit_code == 3
    assert "admin.clientSecretEnvVar names $CI_FLYTE_SECRET, which is not set or empty" in result.stderr


def test_external_command_prints_the_token(cli, auth_server, tmp_path: Path):
    issued = requests.post(auth_server.url + "/oauth2/token", data={"grant_type": "client_credentials"},
                           auth=(CI_CLIENT_ID, CI_SECRET), timeout=5).json()["access_token"]
    token_file = tmp_path / "token"
    token_file.write_text(issued + "\n")
    command = [sys.executable, "-c", f"print(open({str(token_file)!r}).read())"]
    config = str(write_config(tmp_path / "c.yaml", auth_server.url, authType="ExternalCommand", command=command))
    result = cli("-c", config, "auth", "status")
    assert result.exit_code == 0, result.output
    assert f"user:       {CI_CLIENT_ID}" in result.stdout and TOKEN_PREFIX not in result.output


@pytest.mark.parametrize("command, code, message", [
    ([sys.executable, "-c", "import sys; sys.exit('token service is down')"], 4,
     "failed with exit status 1: token service is down"),
    (["no-such-token-program-xyz"], 3, "admin.command: program 'no-such-token-program-xyz' not found"),
    ([sys.executable, "-c", "pass"], 4, "printed no token"),
])
def test_external_command_failures(cli, auth_server, tmp_path: Path, command, code, message):
    config = str(write_config(tmp_path / "c.yaml", auth_server.url, authType="ExternalCommand", command=command))
    result = cli("-c", config, "auth", "token")
    assert result.exit_code == code and message in result.stderr and result.stdout == ""


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:{port}", "dns:///localhost:{port}"])
def test_an_unreachable_endpoint_exits_5_naming_it(cli, isolated_home, tmp_path: Path, endpoint: str):
    port = free_port()
    config = write_config(tmp_path / "c.yaml", endpoint.format(port=port), authType="DeviceFlow", insecure=True)
    result = cli("-c", str(config), "auth", "login")
    assert result.exit_code == 5, result.output
    host = "127.0.0.1" if "127.0.0.1" in endpoint else "localhost"
    assert result.stderr.splitlines()[0] == f"Error: cannot reach http://{host}:{port}: connection refused"
    assert result.stderr.splitlines()[1].startswith("Hint: check that the server is running")


def test_no_endpoint_is_a_config_error(cli, isolated_home):
    result = cli("auth", "login")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == "Error: admin.endpoint is not set"


def test_with_auth_off_nothing_touches_the_keyring(cli, auth_server, tmp_path: Path, monkeypatch):
    log = tmp_path / "keyring.log"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "auth_support.TouchedKeyring")
    monkeypatch.setenv("FLYRUN_TEST_KEYRING_LOG", str(log))
    off = str(write_config(tmp_path / "off.yaml", auth_server.url, authType="None"))
    with session_for(off) as session:
        assert session.request("GET", "/public/health").status_code == 200
        with pytest.raises(AuthError, match="requires sign-in .* admin.authType is None"):
            session.request("GET", "/api/v1/projects")
    status = cli("-c", off, "auth", "status")
    assert status.exit_code == 0 and "sign-in is off" in status.stdout
    lazy = str(write_config(tmp_path / "lazy.yaml", auth_server.url))  # authType left at its default
    with session_for(lazy) as session:
        assert session.request("GET", "/public/health").status_code == 200
    assert not log.exists()
    with session_for(lazy) as session, pytest.raises(AuthError, match="requires sign-in and no token is stored"):
        session.request("GET", "/api/v1/projects")  # a 401: now, and only now, the store is consulted
    assert log.read_text().splitlines()[0] == "loaded"


def test_concurrent_requests_share_one_refresh(cli, auth_server, tmp_path: Path):
    config = device_config(tmp_path, auth_server)
    signed_in(cli, auth_server, config)
    auth_server.server.revoke_access_tokens()
    with session_for(config) as session:
        session.auth.token()  # load the stored (now rejected) token before the threads race
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(session.request("GET", "/api/x").status_code))
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert results == [200] * 4
    assert auth_server.server.grant_counts.get("refresh_token") == 1


def test_no_token_or_secret_in_any_output_or_log_line(cli, auth_server, tmp_path: Path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    auth_server.server.settings.access_token_ttl = 30
    monkeypatch.setenv("CI_FLYTE_SECRET", CI_SECRET)
    config = device_config(tmp_path, auth_server)
    ci = ci_config(tmp_path, auth_server)
    decide_when_pending(auth_server)
    outputs = [cli("-c", config, "auth", "login", "-v")]
    auth_server.server.revoke_access_tokens()
    outputs += [cli("-c", config, "auth", "status", "-v"), cli("-c", config, "auth", "status", "-v", "-o", "json"),
                cli("-c", ci, "auth", "status", "-v"), cli("-c", ci, "config", "show", "-v"),
                cli("-c", ci, "config", "show", "-o", "json")]
    token = cli("-c", config, "auth", "token", "-v")
    outputs += [cli("-c", config, "auth", "logout", "-v")]
    monkeypatch.setenv("CI_FLYTE_SECRET", CI_SECRET + "x")
    outputs += [cli("-c", ci, "auth", "token", "-v")]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 0, 0, 0, 0, 4]
    assert token.exit_code == 0 and token.stdout.startswith(TOKEN_PREFIX) and TOKEN_PREFIX not in token.stderr
    for result in outputs:
        assert TOKEN_PREFIX not in result.output and CI_SECRET not in result.output, result.output
    assert any(r.stderr.count("debug: ") >= 2 for r in outputs)
    assert TOKEN_PREFIX not in caplog.text and CI_SECRET not in caplog.text
