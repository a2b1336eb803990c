"""Real storage servers on loopback for tests: S3 through moto, GCS through gcp-storage-emulator.

Session fixtures (imported by conftest.py, usable from any test module):
- ``s3_peer``: moto in server mode in this process (``ThreadedMotoServer``), no authentication.
- ``s3_auth_peer``: a ``moto_server`` process that checks credentials (only keys it issued are accepted).
- ``gcs_peer``: a ``gcp-storage-emulator`` process, in memory.
Each peer has ``env`` (what flyrun and the SDKs need to reach it, for ``monkeypatch.setenv`` or a subprocess),
``filesystem()`` (an fsspec file system on it, for setting up and checking) and ``bucket(name)`` (create if
missing, return the name). Per-test fixtures ``s3_env`` / ``gcs_env`` put a peer's ``env`` in ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# The standard dummy credentials of moto's documentation; moto without authentication accepts any.
AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class StoragePeer:
    protocol: str
    endpoint: str
    env: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)
    _fs: Any = field(default=None, repr=False)

    def filesystem(self) -> Any:
        """The tests' own client (not shared with flyrun's), made once: a new client costs a tenth of a second."""
        if self._fs is None:
            if self.protocol == "gs":
                os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
            import fsspec

            self._fs = fsspec.filesystem(self.protocol, use_listings_cache=False, skip_instance_cache=True,
                                         **self.options)
        return self._fs

    def bucket(self, name: str) -> str:
        fs = self.filesystem()
        if not fs.exists(name):
            fs.mkdir(name)
        return name

    def uri(self, bucket: str, *parts: str) -> str:
        return f"{self.protocol}://" + "/".join((bucket, *parts))


def _quiet_werkzeug() -> None:
    # moto's server logs every request through werkzeug; tests read stderr and want only flyrun's.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def s3_peer() -> Iterator[StoragePeer]:
    from moto.server import ThreadedMotoServer

    _quiet_werkzeug()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {**AWS_TEST_ENV, "FLYRUN_STORAGE_ENDPOINT": endpoint}
    # Region through the environment only: a region in client_kwargs makes bucket creation send a
    # LocationConstraint that moto rejects.
    peer = StoragePeer("s3", endpoint, env, {"endpoint_url": endpoint, "key": "testing", "secret": "testing"})
    try:
        yield peer
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_auth_peer() -> Iterator[StoragePeer]:
    """moto checking signatures: any key it did not issue is refused (InvalidAccessKeyId)."""
    port = free_port()
    env = dict(os.environ, **AWS_TEST_ENV, INITIAL_NO_AUTH_ACTION_COUNT="0")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_for_port(port, process)
        endpoint = f"http://127.0.0.1:{port}"
        yield StoragePeer("s3", endpoint, {**AWS_TEST_ENV, "FLYRUN_STORAGE_ENDPOINT": endpoint},
                          {"endpoint_url": endpoint})
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def gcs_peer() -> Iterator[StoragePeer]:
    port = free_port()
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "-H", "127.0.0.1", "--port", str(port),
               "--in-memory"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        endpoint = f"http://127.0.0.1:{port}"
        env = {"FLYRUN_GCS_ENDPOINT": endpoint, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
        yield StoragePeer("gs", endpoint, env, {"endpoint_url": endpoint, "token": "anon"})
    finally:
        stop_process(process)


@pytest.fixture
def s3_env(s3_peer: StoragePeer, monkeypatch: pytest.MonkeyPatch) -> StoragePeer:
    for name, value in s3_peer.env.items():
        monkeypatch.setenv(name, value)
    return s3_peer


@pytest.fixture
def gcs_env(gcs_peer: StoragePeer, monkeypatch: pytest.MonkeyPatch) -> StoragePeer:
    for name, value in gcs_peer.env.items():
        monkeypatch.setenv(name, value)
    return gcs_peer
