"""Secrets, current_context() (checkpoints across retries), decks and flyrun.testing: flytesnacks-style programs run
locally, serialized, and (slow tests) on `flyrun sandbox`, with the same results."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, free_port, sandbox_cli

# flytesnacks' secrets, checkpoint and deck examples, ported by changing the imports.
PROGRAM = '''
from flyrun import Deck, Secret, current_context, task, workflow
from flyrun.deck.renderer import MarkdownRenderer, TableRenderer
from flyrun.exceptions.user import FlyteRecoverableException

SECRET_GROUP = "user-info"
SECRET_NAME = "user_secret"


@task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME)])
def secret_task() -> int:
    secret_val = current_context().secrets.get(SECRET_GROUP, SECRET_NAME)
    return len(secret_val)


@task(secret_requests=[Secret(group="db", key="password", mount_requirement=Secret.MountType.ENV_VAR)])
def env_secret_task() -> bool:
    return current_context().secrets.get("db", "password") == "hunter2"


@task(retries=3)
def use_checkpoint(n_iterations: int) -> int:
    cp = current_context().checkpoint
    prev = cp.read()
    start = int(prev.decode()) if prev else 0
    for i in range(start, n_iterations):
        cp.write(str(i + 1).encode())  # progress survives the failure below
        if i + 1 in (2, 4):
            raise FlyteRecoverableException(f"failed at {i + 1}, resuming from the checkpoint")
    return start


@task
def context_facts() -> str:
    ctx = current_context()
    assert os.path.isdir(ctx.working_directory)
    ctx.logging.info("hello from the task")
    return f"{ctx.execution_id.name}|{bool(ctx.raw_output_prefix)}"


@task(enable_deck=True)
def make_deck(rows: int) -> int:
    Deck("Report", MarkdownRenderer().to_html("# Totals\\n\\n*fine*"))
    Deck("Table", TableRenderer().to_html([{"i": i, "sq": i * i} for i in range(rows)]))
    return rows * 2


@workflow
def wf(n: int = 5) -> int:
    return make_deck(rows=use_checkpoint(n_iterations=n))


@workflow
def secrets_wf() -> Tuple[int, bool]:
    return secret_task(), env_secret_task()
'''.replace("from flyrun import", "import os\nfrom typing import Tuple\n\nfrom flyrun import", 1)


@pytest.fixture
def program(project):
    return project({"flows.py": PROGRAM}) / "flows.py"


@pytest.fixture
def secrets(tmp_path):
    folder = tmp_path / "secrets"
    (folder / "user-info").mkdir(parents=True)
    (folder / "user-info" / "user_secret").write_text("s3cr3t-value\n")
    (folder / "db").mkdir()
    (folder / "db" / "password").write_text("hunter2")
    return folder


# -- secrets, locally -------------------------------------------------------------------------------------
def test_secrets_from_a_folder_and_from_the_environment(cli, program, secrets, monkeypatch):
    done = cli("run", "-o", "json", "--secrets-dir", str(secrets), str(program), "secrets_wf")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": 12, "o1": True}
    # flytekit's env names: _FSEC_<GROUP>_<KEY>, and locally the unprefixed one; they win over the file
    monkeypatch.setenv("_FSEC_USER-INFO_USER_SECRET", "abc")
    monkeypatch.setenv("DB_PASSWORD", "hunter2")
    done = cli("run", "-o", "json", "--secrets-dir", str(secrets / "none"), str(program), "secrets_wf")
    assert json.loads(done.stdout)["outputs"] == {"o0": 3, "o1": True}, done.output


def test_a_missing_secret_is_one_line_naming_both_places_exit_3(flyrun_process, program, tmp_path):
    done = flyrun_process("run", "--secrets-dir", str(tmp_path / "empty"), str(program), "secret_task")
    assert done.exit_code == 3, done.output
    first = done.stderr.strip().splitlines()[0]
    assert "task flows.secret_task: secret user-info/user_secret not found" in first
    assert "$_FSEC_USER-INFO_USER_SECRET" in first and str(tmp_path / "empty" / "user-info" / "user_secret") in first
    assert "Traceback" not in done.stderr


def test_a_secret_is_never_printed_even_verbose(flyrun_process, program, secrets):
    done = flyrun_process("-v", "run", "--secrets-dir", str(secrets), str(program), "secret_task")
    assert done.exit_code == 0, done.output
    assert "s3cr3t" not in done.stdout + done.stderr


def test_secret_requests_serialize_in_the_security_context():
    from flyteidl.admin import task_pb2
    from google.protobuf import json_format

    from flyrun import Secret, task
    from flyrun.idl.settings import SerializationSettings
    from flyrun.idl.tasks import task_spec

    @task(secret_requests=[Secret(group="grp", key="k1"),
                           Secret(group="grp2", key="k2", mount_requirement=Secret.MountType.FILE),
                           Secret(group="g3", key="k3", mount_requirement=Secret.MountType.ENV_VAR, env_var="MY_ENV")],
          enable_deck=True)
    def t() -> int:
        return 1

    spec = task_spec(t, SerializationSettings(project="p", domain="d", version="v1"))
    assert spec["template"]["security_context"] == {"secrets": [
        {"group": "grp", "key": "k1"}, {"group": "grp2", "key": "k2", "mount_requirement": "FILE"},
        {"group": "g3", "key": "k3", "mount_requirement": "ENV_VAR", "env_var": "MY_ENV"}]}
    assert spec["template"]["metadata"]["generates_deck"] is True
    json_format.ParseDict(spec, task_pb2.TaskSpec(), ignore_unknown_fields=False)


def test_a_secret_needs_a_group():
    from flyrun import Secret
    from flyrun.errors import WorkflowDefinitionError

    with pytest.raises(WorkflowDefinitionError, match="needs a group"):
        Secret(key="k")


# -- current_context() and checkpoints, locally -----------------------------------------------------------
def test_checkpoint_survives_local_retries_and_decks_are_written(cli, program):
    done = cli("run", "-o", "json", str(program), "wf", "--n", "5")
    assert done.exit_code == 0, done.output
    # attempts fail at 2 and 4; the third attempt starts from the checkpoint 4 -> returns 4, doubled by make_deck
    assert json.loads(done.stdout)["outputs"] == {"o0": 8}
    assert done.stderr.count("retrying") == 2
    path = re.search(r"flows\.make_deck: deck written to (\S+\.html)", done.stderr).group(1)
    document = Path(path).read_text()
    for tab in ("Report", "Table", "Input", "Output", "Source Code"):
        assert f">{tab}</label>" in document
    assert "<h1>Totals</h1>" in document and "<td>9</td>" in document and "<script" not in document


def test_a_recoverable_failure_past_the_retries_fails_the_run(cli, project):
    root = project({"f.py": """
        from flyrun import task
        from flyrun.exceptions.user import FlyteRecoverableException

        @task(retries=1)
        def always() -> int:
            raise FlyteRecoverableException("still down")
    """})
    done = cli("run", str(root / "f.py"), "always")
    assert done.exit_code == 6 and "still down" in done.stderr and done.stderr.count("retrying") == 1


def test_current_context_has_flytekits_shape(cli, program):
    done = cli("run", "-o", "json", str(program), "context_facts")
    assert done.exit_code == 0, done.output
    name, has_prefix = json.loads(done.stdout)["outputs"]["o0"].split("|")
    assert name.startswith("local-") and has_prefix == "True"


def test_current_context_outside_a_task():
    from flyrun import current_context

    ctx = current_context()
    assert ctx.execution_id.project == "local" and ctx.secrets is not None
    with pytest.raises(NotImplementedError):
        ctx.checkpoint  # noqa: B018


# -- flyrun.testing -------------------------------------------------------------------------------------
def test_task_mock_and_patch_replace_slow_tasks(tmp_path, monkeypatch):
    (tmp_path / "mocked_flows.py").write_text('''
from flyrun import task, workflow

@task
def slow(x: int) -> int:
    raise RuntimeError("too slow for a unit test")

@task
def add_one(x: int) -> int:
    return x + 1

@workflow
def sub(x: int) -> int:
    return add_one(x=slow(x=x))

@workflow
def outer(x: int) -> int:
    return sub(x=x)
''')
    monkeypatch.syspath_prepend(str(tmp_path))
    import mocked_flows as m

    from flyrun.testing import patch, task_mock

    with task_mock(m.slow) as mock:
        mock.return_value = 10
        assert m.outer(x=3) == 11
        mock.assert_called_once_with(x=3)
    with task_mock(m.sub) as mock:  # any entity, by name: a sub-workflow too
        mock.return_value = 100
        assert m.outer(x=1) == 100

    @patch(m.slow)
    def a_test(mock_slow, offset):
        mock_slow.return_value = 5
        return m.outer(x=1) + offset

    assert a_test(1) == 7
    with pytest.raises(Exception, match="too slow"):
        m.outer(x=1)  # the mock is gone again


# -- on the sandbox (slow) --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def secrets_sandbox(tmp_path_factory):
    """A sandbox started with --secrets-dir (the session one has none)."""
    root = tmp_path_factory.mktemp("secret-sandbox")
    secrets = root / "secrets"
    (secrets / "user-info").mkdir(parents=True)
    (secrets / "user-info" / "user_secret").write_text("s3cr3t-value\n")
    (secrets / "db").mkdir()
    (secrets / "db" / "password").write_text("hunter2")
    started = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(root / "data"), "--detach",
                          "--secrets-dir", str(secrets), "-o", "json")
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    yield dict(info, data_dir=root / "data", secrets=secrets)
    assert sandbox_cli("stop", "--data-dir", str(root / "data")).exit_code == 0


def _remote(server, tmp_path, program, *args):
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {server['endpoint']}\n  insecure: true\n  authType: None\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "flyrun.cli.main", "-c", str(config), "run", "--remote", "--wait",
                           "-o", "json", str(program), *args], cwd=program.parent, capture_output=True, text=True,
                          env=env, timeout=240)


@pytest.mark.slow
def test_on_the_sandbox_secrets_checkpoints_and_decks(secrets_sandbox, tmp_path, program):
    from sandbox_entities import Client

    done = _remote(secrets_sandbox, tmp_path, program, "secrets_wf")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"] == {"o0": 12, "o1": True}  # as locally
    assert "s3cr3t" not in done.stdout + done.stderr
    done = _remote(secrets_sandbox, tmp_path, program, "wf", "--n", "5")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"] == {"o0": 8}  # retried twice, resumed from the checkpoint
    name = json.loads(done.stdout)["execution"]["name"]
    client = Client(secrets_sandbox["url"])
    nodes = client.nodes(name)
    assert nodes["n0"]["closure"]["phase"] == "SUCCEEDED"
    deck_uri = nodes["n1"]["closure"]["deck_uri"]
    assert deck_uri.endswith("/deck.html") and "Report" in Path(deck_uri).read_text()
    page = client.get(f"/console/projects/flytesnacks/domains/development/executions/{name}/nodes/n1/deck")
    assert page.status_code == 200 and "sandbox" in page.headers["Content-Security-Policy"]
    assert "<h1>Totals</h1>" in page.text


@pytest.mark.slow
def test_on_the_sandbox_a_missing_secret_fails_the_node_naming_the_file(secrets_sandbox, tmp_path, program):
    (secrets_sandbox["secrets"] / "db" / "password").rename(secrets_sandbox["secrets"] / "db" / "moved")
    try:
        done = _remote(secrets_sandbox, tmp_path, program, "env_secret_task")
    finally:
        (secrets_sandbox["secrets"] / "db" / "moved").rename(secrets_sandbox["secrets"] / "db" / "password")
    assert done.returncode == 6, done.stderr
    assert "secret db/password is not in the sandbox's secrets folder" in done.stderr
    assert "hunter2" not in done.stderr


@pytest.mark.slow
def test_the_console_shows_a_deck_under_its_policy(secrets_sandbox, tmp_path, program):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is installed by .ci/run")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("Debian's chromium is installed by .ci/run")
    done = _remote(secrets_sandbox, tmp_path, program, "make_deck", "--rows", "3")
    assert done.returncode == 0, done.stderr
    name = json.loads(done.stdout)["execution"]["name"]
    url = f"{secrets_sandbox['url']}/console/projects/flytesnacks/domains/development/executions/{name}"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(url)
            href = page.get_attribute("a.deck", "href")
            assert href and href.endswith("/deck")
            page.goto(secrets_sandbox["url"] + href)
            assert page.locator("section[data-deck=Report]").is_visible()
            assert "Totals" in page.inner_text("section[data-deck=Report]")
            assert not page.locator("section[data-deck=Table]").is_visible()
            page.click("label[for=deck-1]")  # the tabs work without scripts
            deadline = time.monotonic() + 5
            while not page.locator("section[data-deck=Table]").is_visible():
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert "4" in page.inner_text("section[data-deck=Table]")  # 2 squared
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            browser.close()
