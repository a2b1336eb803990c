"""pyflyte (flytekit from PyPI) as a real client of `flyrun sandbox`, over the sandbox's gRPC API.

A small flytekit project (tests/data/pyflyte_project, importing only `flytekit`) is registered with
`pyflyte --config cfg.yaml register`, run with `pyflyte run --remote`, and driven through flytekit's FlyteRemote:
fetch, execute, wait, outputs, a failing task's error, gates answered with set_signal, terminate. The same
suite runs again against a sandbox started with --auth, signing in with pyflyte's ClientSecret flow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, sandbox_cli

pytestmark = pytest.mark.slow

PROJECT_DIR = Path(__file__).resolve().parent / "data" / "pyflyte_project"
PROJECT, DOMAIN = "flytesnacks", "development"
CI_SECRET = "sandbox-ci-pyflyte-SEKRIT"
TASK_WAIT = timedelta(minutes=4)  # a flytekit task starts two interpreters that import flytekit: slow on a busy box


def pyflyte() -> str:
    beside = Path(sys.executable).with_name("pyflyte")
    found = str(beside) if beside.exists() else shutil.which("pyflyte")
    assert found, "pyflyte is not installed: pip install -e '.[test]' (flytekit is in the test extra)"
    return found


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """pyflyte's environment: a home of its own (no ~/.flyte config of the person running the tests)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "FLYTECTL_", "FLYRUN_"))}
    home.mkdir(parents=True, exist_ok=True)
    return dict(env, HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring", **extra)


def run_pyflyte(config: Path, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([pyflyte(), "--config", str(config), *args], cwd=PROJECT_DIR, env=env, text=True,
                          capture_output=True, timeout=timeout)


def remote_for(config: Path) -> Any:
    from flytekit.configuration import Config
    from flytekit.remote import FlyteRemote

    return FlyteRemote(config=Config.auto(str(config)), default_project=PROJECT, default_domain=DOMAIN)


def wait_for_signal(remote: Any, name: str, signal_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while signal_id not in [s.id.signal_id for s in remote.list_signals(name)]:
        assert time.monotonic() < deadline, f"gate {signal_id} of {name} never asked for its signal"
        time.sleep(0.1)


class Client:
    """One sandbox as pyflyte sees it: the config file `flyrun sandbox start` printed, and a registered version."""

    def __init__(self, info: dict[str, Any], workdir: Path, env: dict[str, str]) -> None:
        self.info = info
        self.config = workdir / "pyflyte.yaml"
        self.config.write_text(info["grpc_config"])
        self.env = env
        self.version = "t" + uuid.uuid4().hex[:10]

    def register(self) -> subprocess.CompletedProcess:
        return run_pyflyte(self.config, self.env, "register", "--project", PROJECT, "--domain", DOMAIN,
                           "--version", self.version, "flows")


@pytest.fixture(scope="module", params=["open", "auth"])
def client(request, tmp_path_factory, monkeypatch_module) -> Client:
    """The whole suite runs twice: against the shared sandbox, and against one started with --auth, where pyflyte
    signs in with its ClientSecret flow."""
    if request.param == "open":
        workdir = tmp_path_factory.mktemp("pyflyte")
        env = client_env(workdir / "home")
        monkeypatch_module.setenv("HOME", env["HOME"])  # FlyteRemote in this process: no ~/.flyte of the tester
        made = Client(request.getfixturevalue("sandbox_server"), workdir, env)
    else:
        made = request.getfixturevalue("secured")
        assert "authType: ClientSecret" in made.config.read_text()
        monkeypatch_module.setenv("HOME", made.env["HOME"])
    registered = made.register()
    assert registered.returncode == 0, registered.stdout + registered.stderr
    assert "Successfully registered" in registered.stdout
    return made


@pytest.fixture(scope="module")
def monkeypatch_module():
    """FlyteRemote runs in this process: a home of its own, and keyring's null backend for flytekit's token
    store (keyring keeps one backend per process, and an earlier test may have left one that needs a password)."""
    import keyring.core
    from keyring.backends import null

    # Not keyring.get_keyring(): choosing a backend can itself fail (keyrings.alt's encrypted one, once imported,
    # needs pycryptodome).
    previous = getattr(keyring.core, "_keyring_backend", None)
    keyring.core.set_keyring(null.Keyring())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
        yield patch
    if previous is not None:
        keyring.core.set_keyring(previous)


def test_register_then_fetch_task_workflow_and_launch_plan(client):
    remote = remote_for(client.config)
    task = remote.fetch_task(name="flows.hello.double", version=client.version)
    assert list(task.interface.inputs) == ["x"]
    workflow = remote.fetch_workflow(name="flows.hello.greeting", version=client.version)
    assert [n.id for n in workflow.nodes] == ["n0", "n1"]
    plan = remote.fetch_launch_plan(name="flows.hello.wf_five", version=client.version)
    assert plan.default_inputs.parameters["x"].default.scalar.primitive.integer == 5


def test_pyflyte_run_remote_creates_an_execution_that_flyteremote_follows_to_its_outputs(client):
    started = run_pyflyte(client.config, client.env, "run", "--remote", "--project", PROJECT, "--domain", DOMAIN,
                          "flows/hello.py", "wf", "--x", "4")
    assert started.returncode == 0, started.stdout + started.stderr
    name = re.search(r"/executions/([a-z0-9]+)", started.stdout).group(1)
    remote = remote_for(client.config)
    execution = remote.fetch_execution(name=name)
    assert execution.spec.launch_plan.name == "flows.hello.wf"
    done = remote.wait(execution, timeout=TASK_WAIT, poll_interval=timedelta(seconds=1))
    assert done.is_successful, done.error
    assert done.outputs["o0"] == 8


def test_pyflyte_run_remote_wait_follows_the_execution_itself(client):
    started = run_pyflyte(client.config, client.env, "run", "--remote", "--wait-execution", "--poll-interval", "1",
                          "--project", PROJECT, "--domain", DOMAIN, "flows/hello.py", "wf", "--x", "6")
    assert started.returncode == 0, started.stdout + started.stderr
    name = re.search(r"/executions/([a-z0-9]+)", started.stdout).group(1)
    done = remote_for(client.config).fetch_execution(name=name)
    assert done.is_done and done.is_successful  # pyflyte returned only once the sandbox said it had ended
    assert done.outputs["o0"] == 12


def test_a_failing_task_shows_its_error(client):
    remote = remote_for(client.config)
    plan = remote.fetch_launch_plan(name="flows.hello.failing", version=client.version)
    execution = remote.execute(plan, inputs={"x": 2})
    done = remote.wait(execution, timeout=TASK_WAIT, poll_interval=timedelta(seconds=1))
    assert done.is_done and not done.is_successful
    assert "refusing 2" in done.error.message


def test_run_remote_of_a_launch_plan_then_terminate(client):
    started = run_pyflyte(client.config, client.env, "run", "--remote", "--project", PROJECT, "--domain", DOMAIN,
                          "remote-launchplan", "flows.hello.wf_five")
    assert started.returncode == 0, started.stdout + started.stderr
    name = re.search(r"/executions/([a-z0-9]+)", started.stdout).group(1)
    remote = remote_for(client.config)
    execution = remote.fetch_execution(name=name)
    assert execution.spec.launch_plan.name == "flows.hello.wf_five"
    remote.terminate(execution, cause="stopped by pyflyte")
    ended = remote.wait(execution, timeout=timedelta(seconds=60), poll_interval=timedelta(seconds=1))
    assert ended.closure.abort_metadata.cause == "stopped by pyflyte"


def test_gates_answered_with_set_signal(client):
    remote = remote_for(client.config)
    workflow = remote.fetch_workflow(name="flows.hello.asks", version=client.version)
    execution = remote.execute(workflow, inputs={"x": 1})
    wait_for_signal(remote, execution.id.name, "answer")
    remote.set_signal("answer", execution.id.name, 42)
    wait_for_signal(remote, execution.id.name, "review")
    remote.approve("review", execution.id.name)
    done = remote.wait(execution, timeout=timedelta(seconds=60), poll_interval=timedelta(seconds=1))
    assert done.is_successful and done.outputs["o0"] == 42


def test_a_map_task_end_to_end(client):
    remote = remote_for(client.config)
    plan = remote.fetch_launch_plan(name="flows.hello.mapped", version=client.version)
    done = remote.wait(remote.execute(plan, inputs={"xs": [1, 2, 5]}), timeout=TASK_WAIT,
                       poll_interval=timedelta(seconds=1))
    assert done.is_successful, done.error
    assert done.outputs["o0"] == [2, 4, 10]


# -- --auth: pyflyte's ClientSecret flow against the sandbox's auth server ----------------------------------------
@pytest.fixture(scope="module")
def secured(tmp_path_factory, monkeypatch_module):
    data_dir = tmp_path_factory.mktemp("sandbox-pyflyte-auth")
    started = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(data_dir), "--auth", "--detach",
                          "-o", "json", env={"FLYRUN_SANDBOX_CLIENT_SECRET": CI_SECRET})
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    workdir = tmp_path_factory.mktemp("pyflyte-auth")
    secret_file = workdir / "secret"
    secret_file.write_text(CI_SECRET)
    secret_file.chmod(0o600)
    # What the snippet says for a person (DeviceFlow), switched to the CI client's secret.
    client_secret = f"authType: ClientSecret\n  clientId: sandbox-ci\n  clientSecretLocation: {secret_file}"
    info = dict(info, grpc_config=info["grpc_config"].replace("authType: DeviceFlow", client_secret))
    env = client_env(workdir / "home")
    yield Client(info, workdir, env)
    stopped = sandbox_cli("stop", "--data-dir", str(data_dir))
    assert stopped.exit_code == 0, stopped.output


def test_with_auth_pyflyte_without_credentials_is_refused(secured, tmp_path):
    config = tmp_path / "anonymous.yaml"
    config.write_text(f"admin:\n  endpoint: {secured.info['grpc_endpoint']}\n  insecure: true\n"
                      "  authType: ClientSecret\n  clientId: sandbox-ci\n")
    refused = run_pyflyte(config, secured.env, "register", "--project", PROJECT, "--domain", DOMAIN,
                          "--version", "never", "flows", timeout=120)
    assert refused.returncode != 0
    assert "Successfully registered" not in refused.stdout
