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
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback needs --auth.")
@_data_dir_option
@click.option("--auth", is_flag=True, help="Require OAuth2 bearer tokens (device flow at /activate).")
@click.option("--detach", is_flag=True, help="Run in the background; stop it with `flyrun sandbox stop`.")
@click.option("--secrets-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of secrets (DIR/<group>/<key> files) for tasks that request them with secret_requests.")
@global_options
@click.pass_obj
def start(app: Application, port: int, host: str, data_dir: Path | None, auth: bool, detach: bool,
          secrets_dir: Path | None) -> None:
    """Start the sandbox and print the config that points flyrun (or pyflyte) at it."""
    from flyrun.sandbox.server import SandboxOptions, check_options, serve

    options = SandboxOptions(data_dir=_data_dir(app, data_dir), host=host, port=port, auth=auth,
                             quiet=not app.verbose, secrets_dir=secrets_dir.resolve() if secrets_dir else None)
    check_options(options)
    if detach:
        info = _start_detached(app, options)
        _render_started(app, info["url"], info["pid"], options, detached=True)
        return
    serve(options, ready=lambda url: _render_started(app, url, os.getpid(), options, detached=False))


def _start_detached(app: Application, options: Any) -> dict[str, Any]:
    from flyrun.sandbox.server import healthy, read_pid_file
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
            *(["--secrets-dir", str(options.secrets_dir)] if options.secrets_dir else [])]
    started = time.time()
    with log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                   env=dict(app.env.environ))
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        info = read_pid_file(data)
        if info and info.get("pid") == process.pid and healthy(info["url"], timeout=0.5):
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


def _render_started(app: Application, url: str, pid: int, options: Any, detached: bool) -> None:
    from flyrun.sandbox.server import endpoint_of

    endpoint = endpoint_of(options.host, int(url.rsplit(":", 1)[1]))
    snippet = f"admin:\n  endpoint: {endpoint}\n  insecure: true\n"
    if options.auth:
        snippet += "  authType: DeviceFlow\n"
    snippet += f"console:\n  endpoint: {url}\n"
    if app.json_output:
        app.print_json({"url": url, "endpoint": endpoint, "pid": pid, "data_dir": str(options.data_dir),
                        "auth": options.auth, "console": f"{url}/console", "config": snippet})
    else:
        app.echo(f"flyrun sandbox is ready at {url} (console: {url}/console)")
        app.echo(f"data dir: {options.data_dir}; pid {pid}")
        app.echo("Point flyrun at it with this in ~/.flyrun/config.yaml (or pass -c FILE):\n")
        app.echo(snippet)
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
    up = info is not None and healthy(info["url"])
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
