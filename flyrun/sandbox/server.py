"""Start and stop the sandbox server: bind, open the store, resume unfinished runs, serve, clean up.

The pid file (``<data-dir>/sandbox.pid``) is JSON: ``{"pid", "url", "host", "port", "data_dir", "auth"}``;
``flyrun sandbox status``/``stop`` read it.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyrun.errors import ServerError, StorageError, UsageError
from flyrun.sandbox.state.layout import DataDir

DEFAULT_PORT = 30080
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class SandboxOptions:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    auth: bool = False
    quiet: bool = True
    # The operator's secrets: <dir>/<group>/<key> files handed to tasks that request them, as propeller's webhook
    # mounts Kubernetes secrets. None: tasks that request a secret fail.
    secrets_dir: Path | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_options(options: SandboxOptions) -> None:
    if not is_loopback(options.host) and not options.auth:
        raise UsageError(f"refusing to serve on {options.host} without --auth",
                         hint="add --auth, or keep the default --host 127.0.0.1")
    if not 0 <= options.port < 65536:
        raise UsageError(f"--port {options.port} is not a TCP port")
    if options.secrets_dir is not None and not options.secrets_dir.is_dir():
        raise UsageError(f"--secrets-dir {options.secrets_dir} is not a folder",
                         hint="give a folder holding <group>/<key> files")


def endpoint_of(host: str, port: int) -> str:
    """``admin.endpoint`` for clients: localhost for a loopback server, the host otherwise."""
    shown = "localhost" if is_loopback(host) or host in ("0.0.0.0", "::") else host
    return f"{shown}:{port}"


def read_pid_file(data: DataDir) -> dict[str, Any] | None:
    try:
        return json.loads(data.pid_file.read_text())
    except (OSError, ValueError):
        return None


def running_server(data: DataDir) -> dict[str, Any] | None:
    """The pid file's contents if that process is alive, else None (removing a stale file)."""
    info = read_pid_file(data)
    if info is None:
        return None
    try:
        alive = process_alive(int(info["pid"]))
    except (ValueError, KeyError, TypeError):
        alive = False
    if not alive:
        data.pid_file.unlink(missing_ok=True)
        return None
    return info


def process_alive(pid: int) -> bool:
    """True for a live process; a zombie (killed, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthcheck", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _prepare(options: SandboxOptions) -> DataDir:
    data = DataDir(options.data_dir.expanduser().resolve())
    try:
        data.prepare()
    except OSError as error:
        raise StorageError(f"cannot write the data dir {data.root}: {error.strerror or error}",
                           hint="choose another folder with --data-dir") from None
    other = running_server(data)
    if other is not None and int(other["pid"]) != os.getpid():
        raise ServerError(f"a sandbox (pid {other['pid']}) already serves {other.get('url')} from {data.root}",
                          hint="stop it with `flyrun sandbox stop`, or use another --data-dir")
    return data


def _listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a taken port is our one-line error, not werkzeug's printout."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ServerError(f"port {port} on {host} is already in use",
                              hint="pick another one with --port") from None
        raise ServerError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def _bind(options: SandboxOptions, app: Any) -> Any:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            if not options.quiet:
                super().log_request(*args, **kwargs)

    sock = _listen(options.host, options.port)
    try:
        return make_server(options.host, options.port, app, threaded=True, request_handler=QuietHandler,
                           fd=sock.fileno())
    finally:
        sock.close()  # the server holds its own duplicate of the descriptor


def serve(options: SandboxOptions, ready: Callable[[str], None] | None = None) -> None:
    """Run the sandbox until SIGTERM/SIGINT; ``ready(url)`` is called once requests are being accepted."""
    check_options(options)
    _require_server_libraries(options.auth)
    server, services = _open(options)
    stop = _install_stop_handlers(server)
    try:
        services.scheduler.resume_unfinished()
        if ready is not None:
            ready(services.base_url)
        server.serve_forever(poll_interval=0.2)
    finally:
        stop()
        services.scheduler.shutdown()
        server.server_close()
        services.store.close()
        if (read_pid_file(services.data) or {}).get("pid") == os.getpid():
            services.data.pid_file.unlink(missing_ok=True)


def _open(options: SandboxOptions) -> tuple[Any, Any]:
    """The data dir, store, scheduler and listening server, and the pid file that announces them."""
    from flyrun.sandbox.admin import registry
    from flyrun.sandbox.admin.signing import Signer
    from flyrun.sandbox.app import SandboxApp
    from flyrun.sandbox.engine.scheduler import Scheduler
    from flyrun.sandbox.services import Services
    from flyrun.sandbox.state.store import Store

    data = _prepare(options)
    store = Store.open(data.root)
    registry.ensure_default_project(store)
    services = Services(store=store, data=data, scheduler=Scheduler(store, data, secrets_dir=options.secrets_dir),
                        signer=Signer(data.key()))
    try:
        server = _bind(options, SandboxApp(services))
    except BaseException:
        store.close()
        raise
    port = server.server_address[1]
    services.base_url = f"http://{endpoint_of(options.host, port)}"
    if options.auth:  # off loopback, the issuer follows the host each request came to
        services.auth = _authorization_server(services.base_url if is_loopback(options.host) else None)
    _write_pid_file(data, services.base_url, options, port)
    return server, services


def _require_server_libraries(auth: bool) -> None:
    import importlib.util

    for name in ("werkzeug", *(("authlib",) if auth else ())):
        if importlib.util.find_spec(name) is None:
            raise UsageError(f"flyrun sandbox needs {name}, which is not installed",
                             hint="pip install 'flyrun[sandbox]'")


def _authorization_server(url: str | None) -> Any:
    """The OAuth2 server of ``--auth``: public client ``flytectl`` (device flow, PKCE); with
    ``FLYRUN_SANDBOX_CLIENT_SECRET`` set, also ``sandbox-ci`` for client credentials. Tokens live in memory."""
    from flyrun.sandbox.auth.models import Client, Settings
    from flyrun.sandbox.auth.server import DEFAULT_CLIENT_ID, AuthServer

    clients = [Client(DEFAULT_CLIENT_ID, redirect_uris=("http://localhost:53593/callback",))]
    secret = os.environ.get("FLYRUN_SANDBOX_CLIENT_SECRET")
    if secret:
        clients.append(Client("sandbox-ci", client_secret=secret, grant_types=("client_credentials",)))
    return AuthServer(issuer_url=url, clients=clients, settings=Settings(poll_interval=1.0))


def _write_pid_file(data: DataDir, url: str, options: SandboxOptions, port: int) -> None:
    info = {"pid": os.getpid(), "url": url, "host": options.host, "port": port, "data_dir": str(data.root),
            "auth": options.auth, "started_at": time.time()}
    scratch = data.pid_file.with_suffix(".tmp")
    scratch.write_text(json.dumps(info))
    os.replace(scratch, data.pid_file)


def _install_stop_handlers(server: Any) -> Callable[[], None]:
    """SIGTERM/SIGINT stop the server (from another thread: shutdown() waits for serve_forever to return)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def stop_server(data: DataDir, timeout: float = 20.0) -> dict[str, Any] | None:
    """SIGTERM the data dir's server and wait for it to exit; None if none was running."""
    info = running_server(data)
    if info is None:
        return None
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return info
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    data.pid_file.unlink(missing_ok=True)
    return info
