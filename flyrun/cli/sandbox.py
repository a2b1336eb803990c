"""``flyrun sandbox start|status|stop``: a local FlyteAdmin-compatible server for `flyrun run --remote`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options
from flyrun.errors import ServerError

_READY_TIMEOUT = 30.0


def _data_dir_option(func: Any) -> Any:
    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="State folder (default: $XDG_DATA_HOME/flyrun/sandbox).")(func)


def _data_dir(app: Application, given: Path | None) -> Path:
    from flyrun.sandbox.state.layout import default_data_dir

    return (given or default_data_dir(dict(app.env.environ))).expanduser().resolve()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
def sandbox() -> None:
    """A one-process Flyte-compatible server on this machine: API, scheduler and console."""


@sandbox.command()
@click.option("--port", type=int, default=30080, show_default=True, help="TCP port to listen on (0: any free port).")
@click.option("--grpc-port", type=int, default=None,
              help="TCP port of FlyteAdmin's gRPC API for pyflyte and flytectl, on 127.0.0.1 only "
                   "(default: the port after --port if free, else any free port; 0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback needs --auth.")
@_data_dir_option
@click.option("--auth", is_flag=True,
              help="Require OAuth2 bearer tokens (device flow at /activate, approved with the operator secret).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Another name clients reach the server by (Host header), e.g. a DNS name; repeatable.")
@click.option("--detach", is_flag=True, help="Run in the background; stop it with `flyrun sandbox stop`.")
@click.option("--container-runtime", type=click.Choice(["host", "docker", "podman"]), default=None,
              help="Where container tasks run (default: the first of docker, podman, host that works).")
@click.option("--task-env", "task_env", multiple=True, metavar="NAME[=VALUE]",
              help="Give every task this variable (NAME alone: its value in this shell). Repeatable. Tasks get "
                   "no other variable of this shell but PATH, HOME, the locale and TMPDIR.")
@click.option("--secrets-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of secrets (DIR/<group>/<key> files) for tasks that request them with secret_requests.")
@click.option("--task-python", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
              help="Python whose environment runs tasks registered by pyflyte (its flytekit's pyflyte-execute; "
                   "default: this sandbox's own Python).")
@click.option("--task-pool/--no-task-pool", "task_pool", default=None,
              help="Fork Python tasks from a warm process per code version (default; config sandbox.taskPool, "
                   "FLYRUN_SANDBOX_TASK_POOL), or start a fresh process for every task.")
@global_options
@click.pass_obj
def start(app: Application, port: int, grpc_port: int | None, host: str, data_dir: Path | None, auth: bool,
          allowed_hosts: tuple[str, ...], detach: bool, container_runtime: str | None, task_env: tuple[str, ...],
          secrets_dir: Path | None, task_python: Path | None, task_pool: bool | None) -> None:
    """Start the sandbox and print the config that points flyrun (or pyflyte) at it."""
    from flyrun.sandbox.server import SandboxOptions, check_options, serve

    options = SandboxOptions(data_dir=_data_dir(app, data_dir), host=host, port=port, grpc_port=grpc_port,
                             auth=auth, quiet=not app.verbose, allowed_hosts=tuple(allowed_hosts),
                             container_runtime=container_runtime,
                             secrets_dir=secrets_dir.resolve() if secrets_dir else None,
                             # absolute but not resolved: a virtual environment's python is a link
                             task_python=Path(os.path.abspath(task_python)) if task_python else None,
                             task_pool=bool(app.config.get("sandbox.taskPool")) if task_pool is None else task_pool)
    check_options(options)
    task_variables = _task_environment(app, task_env)
    new_secret = _announce_operator_secret(app, options.data_dir) if auth else None
    if detach:
        info = _start_detached(app, options, task_variables)
        _render_started(app, info["url"], info["pid"], options, detached=True, new_secret=new_secret,
                        grpc_port=int(info["grpc_port"]))
        return
    os.environ.update(task_variables)  # a foreground server reads its own process environment
    serve(options, ready=lambda url, grpc: _render_started(app, url, os.getpid(), options, detached=False,
                                                           new_secret=new_secret, grpc_port=grpc))


def _task_environment(app: Application, given: tuple[str, ...]) -> dict[str, str]:
    """Resolve ``--task-env`` and hand it to the server (this process, or the detached one) in its environment.

    Values travel in the environment, never on a command line, where any user of the machine could read them.
    """
    import json
    import re

    from flyrun.errors import UsageError
    from flyrun.sandbox.engine.taskrun import TASK_ENV_VARIABLE, operator_task_env

    if not given:
        try:
            operator_task_env(app.env.environ)  # one exported by hand must be well-formed too
        except ValueError as error:
            raise UsageError(str(error)) from None
        return {}
    resolved: dict[str, str] = {}
    for item in given:
        name, has_value, value = item.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"--task-env {item.split('=')[0]!r} is not a variable name",
                             hint="use --task-env NAME or --task-env NAME=VALUE")
        if not has_value:
            if name not in app.env.environ:
                raise UsageError(f"--task-env {name}: {name} is not set in this shell",
                                 hint=f"export {name} first, or pass --task-env {name}=VALUE")
            value = app.env.environ[name]
        resolved[name] = value
    return {TASK_ENV_VARIABLE: json.dumps(resolved)}


def _announce_operator_secret(app: Application, data_dir: Path) -> str | None:
    """Create the operator secret at the first --auth start and show it that once (never in a log file);
    returns it when it was just created (``-o json`` shows it then)."""
    from flyrun.errors import StorageError
    from flyrun.sandbox.state.layout import DataDir

    data = DataDir(data_dir)
    try:
        secret, created = data.operator_secret()
    except OSError as error:
        raise StorageError(f"cannot write the operator secret in {data.root}: {error.strerror or error}",
                           hint="choose another folder with --data-dir") from None
    if app.json_output:
        return secret if created else None
    if created:
        app.info(f"Operator secret (approves sign-ins at /activate; shown once, kept in "
                 f"{data.operator_secret_file}): {secret}")
    else:
        app.info("Approve sign-ins with the operator secret: `flyrun sandbox operator-secret` shows it.")
    return None


def _start_detached(app: Application, options: Any, extra_env: dict[str, str]) -> dict[str, Any]:
    from flyrun.sandbox.server import healthy, local_url, read_pid_file
    from flyrun.sandbox.state.layout import DataDir

    data = DataDir(options.data_dir)
    try:
        data.root.mkdir(parents=True, exist_ok=True)
        log = open(data.log_file, "ab")
    except OSError as error:
        from flyrun.errors import StorageError

        raise StorageError(f"cannot write the data dir {data.root}: {error.strerror or error}",
                           hint="choose another folder with --data-dir") from None
    argv = [sys.executable, "-m", "flyrun.cli.main", "sandbox", "start", "--port", str(options.port),
            "--host", options.host, "--data-dir", str(data.root), *(["--auth"] if options.auth else []),
            *(["--grpc-port", str(options.grpc_port)] if options.grpc_port is not None else []),
            *(["--container-runtime", options.container_runtime] if options.container_runtime else []),
            *(["--secrets-dir", str(options.secrets_dir)] if options.secrets_dir else []),
            *(["--task-python", str(options.task_python)] if options.task_python else []),
            "--task-pool" if options.task_pool else "--no-task-pool",
            *(word for name in options.allowed_hosts for word in ("--allowed-host", name))]
    started = time.time()
    with log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                   env={**app.env.environ, **extra_env})
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        info = read_pid_file(data)
        # The bound address itself: "localhost" may resolve elsewhere (a server on 127.0.0.2, on ::1).
        if info and info.get("pid") == process.pid and healthy(
                info.get("local_url") or local_url(options.host, int(info["port"])), timeout=0.5):
            return info
        code = process.poll()
        if code is not None:
            _relay_failure(app, data.log_file, started, code)
        time.sleep(0.05)
    process.terminate()
    raise ServerError(f"the sandbox did not become ready within {_READY_TIMEOUT:.0f}s",
                      hint=f"see {data.log_file}")


def _relay_failure(app: Application, log_file: Path, started: float, code: int) -> None:
    """The background server exited: repeat its own error (written to the log) and its exit code."""
    lines = log_file.read_text(errors="replace").splitlines()
    message = [line for line in lines[-20:] if line.startswith(("Error: ", "Hint: "))]
    for line in message:
        app.info(line)
    if not message:
        app.info(f"Error: the sandbox exited with code {code}; see {log_file}")
    from flyrun.cli.app import Abort

    raise Abort(code or 5)


def _render_started(app: Application, url: str, pid: int, options: Any, detached: bool,
                    new_secret: str | None = None, grpc_port: int = 0) -> None:
    from flyrun.sandbox.server import endpoint_of, grpc_endpoint

    endpoint = endpoint_of(options.host, int(url.rsplit(":", 1)[1]))
    snippet = f"admin:\n  endpoint: {endpoint}\n  insecure: true\n"
    # pyflyte and flytectl speak gRPC: the same config shape, pointed at the gRPC port.
    grpc_snippet = f"admin:\n  endpoint: {grpc_endpoint(grpc_port)}\n  insecure: true\n"
    if options.auth:
        snippet += "  authType: DeviceFlow\n"
        grpc_snippet += "  authType: DeviceFlow\n"
    snippet += f"console:\n  endpoint: {url}\n"
    grpc_snippet += f"console:\n  endpoint: {url}\n"
    if app.json_output:
        extra = {}
        if options.auth:
            from flyrun.sandbox.state.layout import DataDir

            extra["operator_secret_file"] = str(DataDir(options.data_dir).operator_secret_file)
            if new_secret:
                extra["operator_secret"] = new_secret
        app.print_json({"url": url, "endpoint": endpoint, "pid": pid, "data_dir": str(options.data_dir),
                        "auth": options.auth, "console": f"{url}/console", "config": snippet,
                        "grpc_port": grpc_port, "grpc_endpoint": grpc_endpoint(grpc_port),
                        "grpc_config": grpc_snippet, **extra})
    else:
        app.echo(f"flyrun sandbox is ready at {url} (console: {url}/console)")
        app.echo(f"data dir: {options.data_dir}; pid {pid}")
        app.echo("Point flyrun at it with this in ~/.flyrun/config.yaml (or pass -c FILE):\n")
        app.echo(snippet)
        app.echo(f"Point pyflyte or flytectl at its gRPC API ({grpc_endpoint(grpc_port)}) with a config file "
                 "holding (pyflyte --config FILE):\n")
        app.echo(grpc_snippet)
        if not detached:
            app.info("Press Ctrl-C to stop.")
    app.env.stdout.flush()


@sandbox.command()
@_data_dir_option
@global_options
@click.pass_obj
def status(app: Application, data_dir: Path | None) -> None:
    """Say whether a sandbox is running for the data dir, and where."""
    from flyrun.sandbox.server import healthy, running_server
    from flyrun.sandbox.state.layout import DataDir

    data = DataDir(_data_dir(app, data_dir))
    info = running_server(data)
    up = info is not None and healthy(info.get("local_url") or info["url"])
    if app.json_output:
        app.print_json({"running": up, "data_dir": str(data.root), **({"url": info["url"], "pid": info["pid"]}
                                                                        if up and info else {})})
    elif up and info:
        app.echo(f"running at {info['url']} (pid {info['pid']}, data dir {data.root})")
    if not up:
        from flyrun.errors import ExitStatus

        app.abort(f"no sandbox is running for {data.root}", ExitStatus.SERVER,
                  hint="start one with `flyrun sandbox start --detach`")


@sandbox.command()
@_data_dir_option
@global_options
@click.pass_obj
def stop(app: Application, data_dir: Path | None) -> None:
    """Stop the sandbox running for the data dir (its runs resume on the next start)."""
    from flyrun.sandbox.server import stop_server
    from flyrun.sandbox.state.layout import DataDir

    data = DataDir(_data_dir(app, data_dir))
    info = stop_server(data)
    if app.json_output:
        app.print_json({"stopped": info is not None, "data_dir": str(data.root)})
    elif info is None:
        app.info(f"No sandbox is running for {data.root}; nothing to stop.")
    else:
        app.echo(f"stopped the sandbox at {info['url']} (pid {info['pid']})")


@sandbox.command("operator-secret")
@_data_dir_option
@click.option("--rotate", is_flag=True, help="Replace it with a new one (a running sandbox uses it at once).")
@global_options
@click.pass_obj
def operator_secret(app: Application, data_dir: Path | None, rotate: bool) -> None:
    """Show the secret that approves sign-ins (with --auth) at /activate; --rotate replaces it."""
    from flyrun.errors import ExitStatus
    from flyrun.sandbox.state.layout import DataDir

    data = DataDir(_data_dir(app, data_dir))
    if not rotate and not data.operator_secret_file.exists():
        app.abort(f"no operator secret in {data.root} yet", ExitStatus.USAGE,
                  hint="`flyrun sandbox start --auth` creates it, or run this with --rotate")
    try:
        secret, _ = data.operator_secret(rotate=rotate)
    except OSError as error:
        from flyrun.errors import StorageError

        raise StorageError(f"cannot {'write' if rotate else 'read'} {data.operator_secret_file}: "
                           f"{error.strerror or error}") from None
    if app.json_output:
        app.print_json({"operator_secret": secret, "file": str(data.operator_secret_file), "rotated": rotate})
    else:
        app.echo(secret)
