"""Where tokens are kept: the keyring when one works, else a 0600 file; never a prompting backend."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from auth_support import TOKEN_PREFIX, write_config
from test_auth_device import decide_when_pending, service_of, stored_token

from flyrun.remote.auth.credentials import Credentials
from flyrun.remote.auth.store import TokenStore, config_dir

TOKENS = Credentials(TOKEN_PREFIX + "-access", TOKEN_PREFIX + "-refresh", expires_at=time.time() + 600)


def make_store(notices: list[str] | None = None, use_keyring: bool = True) -> TokenStore:
    sink = notices if notices is not None else []
    return TokenStore("flyte.example.com", environ=dict(os.environ), use_keyring=use_keyring, notify=sink.append)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keyring_round_trip_per_endpoint(isolated_home, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "auth_support.VaultKeyring")
    notices: list[str] = []
    store = make_store(notices)
    assert store.save(TOKENS) == "keyring (auth_support.VaultKeyring)"
    loaded = store.load()
    assert (loaded.access_token, loaded.refresh_token) == (TOKENS.access_token, TOKENS.refresh_token)
    assert loaded.expires_at == pytest.approx(TOKENS.expires_at)
    assert stored_token("flyte.example.com") == TOKENS.access_token
    assert TokenStore("other:30080", environ=dict(os.environ)).load() is None
    assert store.delete() and store.load() is None and not store.delete()
    assert notices == []


@pytest.mark.parametrize("backend", ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring",
                                     "auth_support.BrokenKeyring", "auth_support.PromptingKeyring",
                                     "keyrings.alt.file.PlaintextKeyring", "auth_support.LowlyKeyring",
                                     "no.such.module.Keyring"])
def test_without_a_working_keyring_tokens_go_to_a_0600_file(isolated_home, monkeypatch, backend):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    notices: list[str] = []
    store = make_store(notices)
    where = store.save(TOKENS)
    path = isolated_home / ".config" / "flyrun" / "credentials.json"
    assert where == str(path) and mode(path) == 0o600 and mode(path.parent) == 0o700
    assert len(notices) == 1 and notices[0].startswith("Notice: no working OS keyring (")
    assert notices[0].endswith(f"tokens are saved in {path} (mode 0600)")
    assert TOKEN_PREFIX not in notices[0]
    assert make_store().load().access_token == TOKENS.access_token
    assert json.loads(path.read_text())["flyte.example.com"]["refresh_token"] == TOKENS.refresh_token
    assert store.delete() and make_store().load() is None


def test_a_backend_that_would_prompt_is_never_called(isolated_home, monkeypatch, tmp_path: Path):
    log = tmp_path / "keyring.log"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "auth_support.PromptingKeyring")
    monkeypatch.setenv("FLYRUN_TEST_KEYRING_LOG", str(log))
    store = make_store()
    store.save(TOKENS)
    assert store.load().access_token == TOKENS.access_token
    calls = log.read_text().split() if log.exists() else []
    assert set(calls) <= {"loaded"}  # looked at, never asked for a password


def test_the_file_lives_in_home_without_xdg_config_home(isolated_home, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert config_dir(os.environ) == isolated_home / ".flyrun"


def test_disable_keyring_skips_it_without_a_notice(isolated_home, monkeypatch, tmp_path: Path):
    log = tmp_path / "keyring.log"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "auth_support.TouchedKeyring")
    monkeypatch.setenv("FLYRUN_TEST_KEYRING_LOG", str(log))
    notices: list[str] = []
    store = make_store(notices, use_keyring=False)
    store.save(TOKENS)
    assert store.load().access_token == TOKENS.access_token and notices == [] and not log.exists()
    assert store.location.endswith("credentials.json")


def test_a_loose_file_is_rewritten_0600(isolated_home, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    path = isolated_home / ".config" / "flyrun" / "credentials.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"other": {"access_token": "x"}}))
    path.chmod(0o644)
    make_store().save(TOKENS)
    assert mode(path) == 0o600 and set(json.loads(path.read_text())) == {"other", "flyte.example.com"}


def test_credentials_never_show_a_token_in_repr():
    assert TOKEN_PREFIX not in repr(TOKENS) and TOKEN_PREFIX not in str(TOKENS)


def test_login_without_a_keyring_says_so_once_and_works(cli, auth_server, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    config = str(write_config(tmp_path / "c.yaml", auth_server.url, authType="DeviceFlow"))
    decide_when_pending(auth_server)
    login = cli("-c", config, "auth", "login")
    assert login.exit_code == 0, login.output
    notices = [line for line in login.stderr.splitlines() if line.startswith("Notice:")]
    assert notices == [f"Notice: no working OS keyring (keyring.backends.fail.Keyring); tokens are saved in "
                       f"{Path.home() / '.config' / 'flyrun' / 'credentials.json'} (mode 0600)"]
    status = cli("-c", config, "auth", "status")
    assert status.exit_code == 0 and "Notice" not in status.stderr
    assert mode(Path.home() / ".config" / "flyrun" / "credentials.json") == 0o600


def test_disable_keyring_in_config(cli, auth_server, tmp_path: Path):
    config = str(write_config(tmp_path / "c.yaml", auth_server.url, authType="DeviceFlow", disableKeyring=True))
    decide_when_pending(auth_server)
    login = cli("-c", config, "auth", "login")
    assert login.exit_code == 0 and "Notice" not in login.stderr
    assert login.stdout.rstrip().endswith("credentials.json")
    assert stored_token(service_of(auth_server.url)) is None  # the (working) keyring was left alone


def test_a_plaintext_keyring_is_never_written(isolated_home, monkeypatch):
    """keyrings.alt's plaintext file (what keyring picks on a machine without an OS keyring) is no keyring."""
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr("keyring.core._keyring_backend", PlaintextKeyring())  # keyring's own choice, here
    store = make_store()
    assert store.save(TOKENS).endswith("credentials.json")
    plaintext = Path(PlaintextKeyring().file_path)
    assert not plaintext.exists() or TOKEN_PREFIX not in plaintext.read_text()
    assert make_store().load().access_token == TOKENS.access_token


def test_tokens_left_in_a_plaintext_keyring_move_to_the_0600_file(isolated_home, monkeypatch):
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    for name, value in (("access_token", TOKENS.access_token), ("refresh_token", TOKENS.refresh_token)):
        PlaintextKeyring().set_password("flyte.example.com", name, value)  # what an earlier flyrun wrote
    assert make_store().load().access_token == TOKENS.access_token
    assert PlaintextKeyring().get_password("flyte.example.com", "access_token") is None
    path = isolated_home / ".config" / "flyrun" / "credentials.json"
    assert mode(path) == 0o600 and TOKEN_PREFIX in path.read_text()
    assert make_store().delete() and make_store().load() is None


@pytest.mark.parametrize("xdg", [True, False])
def test_an_existing_loose_config_folder_is_tightened_to_0700(isolated_home, monkeypatch, xdg):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    if not xdg:
        monkeypatch.delenv("XDG_CONFIG_HOME")
    folders = [isolated_home / ".flyrun", isolated_home / ".config" / "flyrun"]
    for folder in folders:
        folder.mkdir(parents=True)
        folder.chmod(0o755)
    (isolated_home / ".flyrun" / "config.yaml").write_text("admin: {}\n")
    make_store().load()  # reading is enough: the folder that holds (or will hold) tokens is closed at once
    assert mode(folders[0]) == 0o700
    assert mode(folders[1]) == (0o700 if xdg else 0o755)
    make_store().save(TOKENS)
    assert mode(folders[0]) == 0o700 and mode(config_dir(os.environ)) == 0o700
