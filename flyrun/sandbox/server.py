"""Start and stop the sandbox server: bind, open the store, resume unfinished runs, serve, clean up.

The pid file (``<data-dir>/sandbox.pid``) is JSON: ``{"pid", "url", "local_url", "host", "port", "grpc_port",
"grpc_endpoint", "data_dir", "auth"}`` (``local_url`` reaches the bound address from this machine);
``flyrun sandbox status``/``stop`` read it.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import json
import os
import secrets
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
from flyrun.protocol.runtimes import runtime_problem
from flyrun.sandbox.admin.signing import Signer
from flyrun.sandbox.auth.models import Client, Settings
from flyrun.sandbox.auth.server import DEFAULT_CLIENT_ID, FORM_PATHS, AuthServer
from flyrun.sandbox.gate import RequestGate, host_name
from flyrun.sandbox.state.layout import DataDir
from flyrun.sandbox.state.store import Store

DEFAULT_PORT = 30080
DEFAULT_HOST = "127.0.0.1"
WORKERS = 32  # requests served at once; more wait in the queue, not in threads of their own
REQUEST_TIMEOUT = 30.0  # seconds a connection may stay silent while a request is read or answered
IDLE_TIMEOUT = 15.0  # seconds a new connection has to send its request head before it is closed


@dataclass(frozen=True)
class SandboxOptions:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    auth: bool = False
    quiet: bool = True
    container_runtime: str | None = None  # host, docker, podman; None: the first of docker, podman, host that works
    allowed_hosts: tuple[str, ...] = ()
    # The operator's secrets: <dir>/<group>/<key> files handed to tasks that request them, as propeller's webhook
    # mounts Kubernetes secrets. None: tasks that request a secret fail.
    secrets_dir: Path | None = None
    # The Python whose programs (flytekit's pyflyte-execute, ...) run tasks registered by other clients; None: the
    # server's own interpreter.
    task_python: Path | None = None
    # FlyteAdmin's gRPC services (pyflyte, flytectl), always on 127.0.0.1. None: the port after --port if free,
    # else any free one; 0: any free port.
    grpc_port: int | None = None
    task_pool: bool = True  # Python tasks forked from a warm zygote per code version (flyrun.sandbox.engine.taskpool)


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
    if options.grpc_port is not None and not 0 <= options.grpc_port < 65536:
        raise UsageError(f"--grpc-port {options.grpc_port} is not a TCP port", hint="give 0 for any free port")
    if options.grpc_port and options.grpc_port == options.port:
        raise UsageError(f"--grpc-port {options.grpc_port} is also --port; the REST API and gRPC need a port each",
                         hint="leave --grpc-port out to take the next free port")
    if options.container_runtime not in (None, "host"):
        problem = runtime_problem(options.container_runtime)
        if problem:
            raise UsageError(f"--container-runtime {options.container_runtime}: {problem}",
                             hint="start its engine, or run container tasks on this machine with "
                                  "--container-runtime host")
    for name in options.allowed_hosts:
        if not name or any(c in name for c in "/ @\\,") or name != name.strip():
            raise UsageError(f"--allowed-host {name!r} is not a host name",
                             hint="give a name or address as clients type it, e.g. --allowed-host sandbox.lan")
    if options.task_python is not None and not (options.task_python.is_file()
                                                 and os.access(options.task_python, os.X_OK)):
        raise UsageError(f"--task-python {options.task_python} is not an executable file",
                         hint="give the python of the environment that has flytekit installed, e.g. .venv/bin/python")
    if options.secrets_dir is not None and not options.secrets_dir.is_dir():
        raise UsageError(f"--secrets-dir {options.secrets_dir} is not a folder",
                         hint="give a folder holding <group>/<key> files")


def endpoint_of(host: str, port: int) -> str:
    """``admin.endpoint`` for clients: localhost for the usual loopback or wildcard binds, the host otherwise."""
    shown = "localhost" if host in ("127.0.0.1", "localhost", "0.0.0.0", "::") else host_name(host)
    return f"{shown}:{port}"


def grpc_endpoint(port: int) -> str:
    """``admin.endpoint`` for gRPC clients (pyflyte, flytectl): the gRPC port is bound on 127.0.0.1 only."""
    return f"dns:///127.0.0.1:{port}"


def local_url(host: str, port: int) -> str:
    """A URL that reaches a server bound to ``host`` from this machine (what readiness checks use)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{host_name(host)}:{port}"


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


def _prepare(options: SandboxOptions) -> tuple[DataDir, int]:
    """The data dir, locked for this process (the lock's descriptor is returned; closing it unlocks)."""
    data = DataDir(options.data_dir.expanduser().resolve())
    try:
        data.root.mkdir(parents=True, exist_ok=True)
        lock = os.open(data.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise StorageError(f"cannot write the data dir {data.root}: {error.strerror or error}",
                           hint="choose another folder with --data-dir") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        other = read_pid_file(data)
        if other is not None and process_alive(int(other.get("pid", 0) or 0)):
            what = f"a sandbox (pid {other['pid']}) already serves {other.get('url')} from {data.root}"
        else:
            what = f"another flyrun sandbox is already using the data dir {data.root}"
        raise ServerError(what, hint="stop it with `flyrun sandbox stop`, or use another --data-dir") from None
    try:
        return _prepare_locked(data), lock
    except BaseException:
        os.close(lock)
        raise


def _prepare_locked(data: DataDir) -> DataDir:
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
    from werkzeug.serving import WSGIRequestHandler

    from flyrun.sandbox.pool import PooledWSGIServer

    class QuietHandler(WSGIRequestHandler):
        # One request per connection: a kept-alive idle connection would hold a worker until its timeout.
        protocol_version = "HTTP/1.0"
        timeout = REQUEST_TIMEOUT

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            if not options.quiet:
                super().log_request(*args, **kwargs)

    sock = _listen(options.host, options.port)
    try:
        return PooledWSGIServer(options.host, options.port, app, QuietHandler, fd=sock.fileno(), workers=WORKERS,
                                idle_timeout=IDLE_TIMEOUT)
    finally:
        sock.close()  # the server holds its own duplicate of the descriptor


def serve(options: SandboxOptions, ready: Callable[[str, int], None] | None = None) -> None:
    """Run the sandbox until SIGTERM/SIGINT; ``ready(url, grpc_port)`` is called once requests are being
    accepted."""
    check_options(options)
    _require_server_libraries(options.auth)
    server, services, lock, grpc_server = _open(options)
    stop = _install_stop_handlers(server)
    from flyrun.sandbox.admin.schedules import ScheduleRunner

    schedules = ScheduleRunner(services)
    try:
        services.scheduler.resume_unfinished()
        schedules.start()
        if ready is not None:
            ready(services.base_url, grpc_server.port)
        server.serve_forever(poll_interval=0.2)
    finally:
        stop()
        grpc_server.stop()
        schedules.stop()
        services.scheduler.shutdown()
        server.server_close()
        services.store.close()
        if (read_pid_file(services.data) or {}).get("pid") == os.getpid():
            services.data.pid_file.unlink(missing_ok=True)
        os.close(lock)  # last: the data dir is free for the next server only once this one is done with it


def _open(options: SandboxOptions) -> tuple[Any, Any, int, Any]:
    """The locked data dir, store, scheduler, the listening REST and gRPC servers, and the pid file that announces
    them."""
    from flyrun.sandbox.admin import registry
    from flyrun.sandbox.app import SandboxApp
    from flyrun.sandbox.engine.scheduler import Scheduler
    from flyrun.sandbox.services import Services

    data, lock = _prepare(options)
    try:
        store = Store.open(data.root)
        registry.ensure_default_project(store)
        scheduler = Scheduler(store, data, container_runtime=options.container_runtime,
                              secrets_dir=options.secrets_dir, task_pool=options.task_pool,
                              verbose=not options.quiet,
                              task_python=str(options.task_python) if options.task_python else "")
        services = Services(store=store, data=data, scheduler=scheduler, signer=Signer(data.key()))
        app = SandboxApp(services)
        try:
            server = _bind(options, app)
        except BaseException:
            store.close()
            raise
    except BaseException:
        os.close(lock)
        raise
    port = server.server_address[1]
    app.guard(RequestGate(options.host, port, options.allowed_hosts, form_paths=FORM_PATHS))
    services.base_url = f"http://{endpoint_of(options.host, port)}"
    task_secret = secrets.token_urlsafe(32) if options.auth else None
    if options.auth:  # off loopback, the issuer follows the host each request came to
        services.auth = _authorization_server(services.base_url if is_loopback(options.host) else None, data,
                                              task_secret)
    scheduler.admin_env = eager_admin_env(local_url(options.host, port), task_secret)
    try:
        grpc_server = _start_grpc(options, services, port)
    except BaseException:
        server.server_close()
        store.close()
        os.close(lock)
        raise
    _write_pid_file(data, services.base_url, options, port, grpc_server.port)
    return server, services, lock, grpc_server


def _start_grpc(options: SandboxOptions, services: Any, port: int) -> Any:
    from flyrun.sandbox.grpc import server as grpc_server

    if options.grpc_port is not None:
        return grpc_server.start(services, options.grpc_port)
    return grpc_server.start(services, port + 1 if port < 65535 else 0, fallback_to_any=True)


def _require_server_libraries(auth: bool) -> None:
    import importlib.util

    for name in ("werkzeug", "grpc", *(("authlib",) if auth else ())):
        if importlib.util.find_spec(name) is None:
            raise UsageError(f"flyrun sandbox needs {name}, which is not installed",
                             hint="pip install 'flyrun[sandbox]'")


TASK_CLIENT_ID = "sandbox-tasks"
TASK_SECRET_VARIABLE = "FLYRUN_SANDBOX_TASK_SECRET"


def eager_admin_env(url: str, task_secret: str | None) -> dict[str, str]:
    """What an eager task gets to launch its calls here: the API's URL and, with ``--auth``, client credentials
    of ``sandbox-tasks`` (a secret made at each start, known only to this server and its eager tasks)."""
    env = {"FLYTE_PLATFORM_URL": url, "FLYTE_PLATFORM_INSECURE": "true", "FLYRUN_ADMIN_AUTH_TYPE": "None"}
    if task_secret:
        env.update({"FLYRUN_ADMIN_AUTH_TYPE": "ClientSecret", "FLYRUN_ADMIN_CLIENT_ID": TASK_CLIENT_ID,
                    "FLYRUN_ADMIN_CLIENT_SECRET_ENV_VAR": TASK_SECRET_VARIABLE, TASK_SECRET_VARIABLE: task_secret})
    return env


def _authorization_server(url: str | None, data: DataDir, task_secret: str | None = None) -> Any:
    """The OAuth2 server of ``--auth``: public client ``flytectl`` (device flow, PKCE); with
    ``FLYRUN_SANDBOX_CLIENT_SECRET`` set, also ``sandbox-ci`` for client credentials; ``sandbox-tasks`` (client
    credentials) for eager tasks. Tokens live in memory.
    Approvals take the data dir's operator secret, read at each approval so that a rotation applies at once."""
    clients = [Client(DEFAULT_CLIENT_ID, redirect_uris=("http://localhost:53593/callback",))]
    if task_secret:
        clients.append(Client(TASK_CLIENT_ID, client_secret=task_secret, grant_types=("client_credentials",)))
    secret = os.environ.get("FLYRUN_SANDBOX_CLIENT_SECRET")
    if secret:
        clients.append(Client("sandbox-ci", client_secret=secret, grant_types=("client_credentials",)))
    data.operator_secret()
    return AuthServer(issuer_url=url, clients=clients, settings=Settings(poll_interval=1.0),
                      operator_secret=lambda: data.operator_secret()[0])


def _write_pid_file(data: DataDir, url: str, options: SandboxOptions, port: int, grpc_port: int) -> None:
    info = {"pid": os.getpid(), "url": url, "local_url": local_url(options.host, port), "host": options.host,
            "port": port, "grpc_port": grpc_port, "grpc_endpoint": grpc_endpoint(grpc_port),
            "data_dir": str(data.root), "auth": options.auth, "started_at": time.time()}
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
