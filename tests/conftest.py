"""Shared fixtures: an isolated home, and a CLI runner that captures stdout, stderr and the exit status."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

# flyrun against the sandbox through a recording proxy that checks every body sent (tests/remote_support.py).
from remote_support import recording_proxy, remote  # noqa: F401, E402

# Storage servers on loopback (moto, gcp-storage-emulator) as session fixtures for any test module.
from storage_peers import gcs_env, gcs_peer, s3_auth_peer, s3_env, s3_peer  # noqa: F401, E402

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for var in ("FLYRUN_CONFIG", "FLYTECTL_CONFIG", "FLYRUN_DEBUG", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def cli(isolated_home: Path):
    """Run flyrun in-process: ``cli("run", "f.py", "wf", stdin="...")`` -> Result."""
    from flyrun import compat
    from flyrun.cli.app import Environment
    from flyrun.cli.main import run_cli

    def invoke(*args: str, stdin: str = "") -> Result:
        out, err = io.StringIO(), io.StringIO()
        env = Environment(stdout=out, stderr=err, stdin=io.StringIO(stdin), environ=dict(os.environ))
        modules_before = set(sys.modules)
        path_before = list(sys.path)
        compat_before = compat.active()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_cli(list(args), env)
        if compat.active() and not compat_before:  # `--flytekit-compat` lasts one command, as in its own process
            compat.uninstall()
        # Each invocation imports user modules afresh, as a new process would. Only the user's modules are
        # dropped: a library imported twice (requests, botocore) breaks on its own module-level state.
        for name in set(sys.modules) - modules_before:
            if _is_user_module(sys.modules[name]):
                del sys.modules[name]
        sys.path[:] = path_before
        return Result(int(code), out.getvalue(), err.getvalue())

    return invoke


# The interpreter's own folders hold the standard library and installed packages (site-packages).
_LIBRARY_DIRS = tuple({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix)})


def _is_user_module(module: object) -> bool:
    name = getattr(module, "__name__", "")
    file = getattr(module, "__file__", None)
    if name == "flyrun" or name.startswith("flyrun."):
        return False
    # A module without a file is a namespace package (google, ...): a library's, never the user's.
    return file is not None and not os.path.realpath(file).startswith(_LIBRARY_DIRS)


@pytest.fixture
def flyrun_process(isolated_home: Path):
    """Run flyrun as a real process (for what only a process shows: imports, stdin, exit codes)."""

    def invoke(*args: str, cwd: Path | None = None, stdin: str | None = None,
               env: dict[str, str] | None = None) -> Result:
        environ = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
        proc = subprocess.run([sys.executable, "-m", "flyrun.cli.main", *args], cwd=cwd, input=stdin,
                              capture_output=True, text=True, env=environ, timeout=120)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return invoke


@pytest.fixture
def project(tmp_path: Path):
    """Write a small project: ``project({"pkg/__init__.py": "", "pkg/wf.py": "..."})`` -> its folder."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "proj"
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return root

    return write


# -- sign-in: the sandbox authorization server on a loopback port (see tests/auth_support.py) ---------------
@pytest.fixture(scope="session")
def auth_server_process_wide():
    from auth_support import start_auth_server

    running = start_auth_server()
    yield running
    running.stop()


@pytest.fixture
def auth_server(auth_server_process_wide, isolated_home: Path, monkeypatch: pytest.MonkeyPatch):
    """The running server with fresh state and fast polling; keyring: a vault file under the test's home."""
    auth_server_process_wide.reset()
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "auth_support.VaultKeyring")
    for var in ("CI", "BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    return auth_server_process_wide


# -- programs outside Python: skipped with the reason where missing, a failure where CI requires them -----------
# .ci/run installs chromium, jq, fish and zsh and sets FLYRUN_REQUIRE_TOOLS=1, so CI never skips these tests silently.
REQUIRE_TOOLS_VAR = "FLYRUN_REQUIRE_TOOLS"
CHROMIUM_VAR = "FLYRUN_TEST_CHROMIUM"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def require_tool(found: bool, missing: str) -> None:
    """Skip the test (or fail it where FLYRUN_REQUIRE_TOOLS=1) when a program it needs is missing."""
    if found:
        return
    if os.environ.get(REQUIRE_TOOLS_VAR) == "1":
        pytest.fail(f"{missing}; {REQUIRE_TOOLS_VAR}=1 says this machine must have it", pytrace=False)
    pytest.skip(missing)


def chromium() -> tuple[object, str]:
    """Playwright's sync API and the Chromium binary it drives (Debian's; never `playwright install`)."""
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        sync_api = None
    require_tool(sync_api is not None, "Playwright is not installed: pip install -e '.[test]' (make test does)")
    path = os.environ.get(CHROMIUM_VAR, "/usr/bin/chromium")
    require_tool(os.access(path, os.X_OK), f"no Chromium browser at {path}: apt-get install chromium, "
                                           f"or set {CHROMIUM_VAR} to a Chromium binary")
    return sync_api, path


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sandbox_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
    """`flyrun sandbox ...` as a real process (start/stop must be exercised as users run them)."""
    environ = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "flyrun.cli.main", "sandbox", *args], capture_output=True,
                          text=True, env=environ, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox started with `flyrun sandbox start --detach` on a free loopback port, stopped at the end."""
    data_dir = tmp_path_factory.mktemp("sandbox")
    proxy_port = free_port()  # the recording proxy's (tests/remote_support.py): a Host the sandbox must accept
    started = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(data_dir), "--detach",
                          "--allowed-host", f"127.0.0.1:{proxy_port}", "-o", "json")
    assert started.exit_code == 0, started.output
    import json

    info = json.loads(started.stdout)
    yield dict(info, data_dir=data_dir, proxy_port=proxy_port)
    stopped = sandbox_cli("stop", "--data-dir", str(data_dir))
    assert stopped.exit_code == 0, stopped.output
