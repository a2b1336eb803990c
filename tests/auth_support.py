"""Test peers for sign-in: the sandbox authorization server on a loopback port, and keyring backends to spy with.

Every token the test server issues starts with ``TOKEN_PREFIX`` and the CI client's secret is ``CI_SECRET``, so a
test can assert that neither ever shows up in output or logs.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

# Imported here, before any in-process `cli` call: that fixture unloads modules first imported during a call,
# and libraries with module-level state (requests' cookie jar classes, keyring's backends) must not be loaded twice.
import keyring.backends.chainer  # noqa: F401
import keyring.backends.fail  # noqa: F401
import keyring.backends.null  # noqa: F401
import requests  # noqa: F401
import urllib3  # noqa: F401
import yaml  # noqa: F401
from keyring.backend import KeyringBackend
from keyrings.alt.file import Encrypted

TOKEN_PREFIX = "TOKSEKRIT"
CI_CLIENT_ID = "ci-deployer"
CI_SECRET = "CISEKRIT+/=&x%"  # characters HTTP Basic must quote (no space: authlib decodes "+" as "+")
PUBLIC_CLIENT_ID = "flytectl"
OPERATOR_SECRET = "OPSEKRIT-only-the-operator-knows"  # what approves a sign-in on /activate and the consent page
TESTS = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningAuthServer:
    server: object  # flyrun.sandbox.auth.server.AuthServer
    http: object  # werkzeug's BaseWSGIServer
    thread: threading.Thread
    redirect_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_port}"

    def reset(self) -> None:
        """Fresh state and fast settings for the next test."""
        from flyrun.sandbox.auth.server import Settings

        self.server.reset(Settings(poll_interval=0.05, device_code_ttl=30.0, access_token_ttl=3600.0,
                                   token_prefix=TOKEN_PREFIX))

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(timeout=5)


def start_auth_server(app_wrapper=None) -> RunningAuthServer:
    """The sandbox authorization server on 127.0.0.1 (a free port), in a daemon thread."""
    import logging

    from werkzeug.serving import make_server

    from flyrun.sandbox.auth.server import AuthServer, Client

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    redirect_port = free_port()
    redirect_uri = f"http://localhost:{redirect_port}/callback"
    clients = [Client(PUBLIC_CLIENT_ID, redirect_uris=(redirect_uri,)),
               Client(CI_CLIENT_ID, client_secret=CI_SECRET, grant_types=("client_credentials",))]
    server = AuthServer(clients=clients, public_client_id=PUBLIC_CLIENT_ID, redirect_uri=redirect_uri,
                        operator_secret=OPERATOR_SECRET)
    app = server.protect(app_wrapper or echo_app, public_prefixes=("/public",))
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                              name="auth-server")
    thread.start()
    running = RunningAuthServer(server, http, thread, redirect_port)
    running.reset()
    return running


def echo_app(environ, start_response):
    """A protected "API": reports which auth headers arrived (not their values) and whether they agree."""
    authorization = environ.get("HTTP_AUTHORIZATION")
    metadata = environ.get("HTTP_FLYTE_AUTHORIZATION")
    body = json.dumps({"path": environ.get("PATH_INFO"), "authorization": authorization is not None,
                       "flyte_authorization": metadata is not None,
                       "same": authorization == metadata}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def write_config(path: Path, url: str, **admin: object) -> Path:
    """A config file for the test server: ``admin.endpoint`` plus the given ``admin`` keys."""

    section = {"endpoint": url, **admin}
    path.write_text(yaml.safe_dump({"admin": section}))
    return path


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a flyrun subprocess: this checkout and these helpers importable, no colour."""
    from conftest import REPO

    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(TESTS)]), NO_COLOR="1")
    environ.update(extra)
    return environ


def flyrun_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "flyrun.cli.main", *args]


# -- keyring backends for tests --------------------------------------------------------------------------
class VaultKeyring(KeyringBackend):
    """Stands in for an OS keyring (Keychain, Secret Service) on a machine without one: a backend keyring ranks
    as a real choice, keeping its secrets in ``$HOME/.test-vault.json`` (0600) where a test can read them."""

    priority = 5

    @staticmethod
    def _path() -> Path:
        return Path(os.environ["HOME"]) / ".test-vault.json"

    def _entries(self) -> dict[str, str]:
        try:
            return json.loads(self._path().read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _write(self, entries: dict[str, str]) -> None:
        path = self._path()
        path.touch(mode=0o600)
        path.write_text(json.dumps(entries), encoding="utf-8")

    def get_password(self, service, username):
        return self._entries().get(f"{service}\0{username}")

    def set_password(self, service, username, password):
        self._write({**self._entries(), f"{service}\0{username}": password})

    def delete_password(self, service, username):
        from keyring.errors import PasswordDeleteError

        entries = self._entries()
        if entries.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._write(entries)


class TouchedKeyring(KeyringBackend):
    """Records (in ``$FLYRUN_TEST_KEYRING_LOG``) that anything loaded or called it; stores nothing."""

    priority = 5

    def __init__(self) -> None:
        super().__init__()
        self._record("loaded")

    def _record(self, what: str) -> None:
        log = os.environ.get("FLYRUN_TEST_KEYRING_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as stream:
                stream.write(what + "\n")

    def get_password(self, service, username):
        self._record("get")
        return None

    def set_password(self, service, username, password):
        self._record("set")

    def delete_password(self, service, username):
        self._record("delete")


class LowlyKeyring(VaultKeyring):
    """Works, but ranks itself below 1, as backends keyring would not choose on its own do: not a keyring."""

    priority = 0.9


class BrokenKeyring(KeyringBackend):
    """A backend whose every call fails the way a locked or headless keyring does."""

    priority = 5

    def get_password(self, service, username):
        raise EOFError("no stdin to unlock the keyring")

    def set_password(self, service, username, password):
        from keyring.errors import PasswordSetError

        raise PasswordSetError("locked")

    def delete_password(self, service, username):
        from keyring.errors import PasswordDeleteError

        raise PasswordDeleteError("locked")


class PromptingKeyring(Encrypted, TouchedKeyring):
    """Like keyrings.alt's EncryptedKeyring: would ask for a password on the terminal. Must never be called."""

    def get_password(self, service, username):
        self._record("get")
        return input("Please enter password for encrypted keyring: ")

    def set_password(self, service, username, password):
        self._record("set")
        input("Please set a password for your new keyring: ")

    def delete_password(self, service, username):
        self._record("delete")
        input("Please enter password for encrypted keyring: ")
