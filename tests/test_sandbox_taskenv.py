"""Tasks on the sandbox get a minimal environment: what a Flyte pod gets plus what the operator passes with
``--task-env``, never the server's own environment (its secrets would be in every task and its task.log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import free_port, sandbox_cli
from sandbox_entities import STR, Client, task

SHOW_ENV = """
import json
print('ENV ' + json.dumps(dict(os.environ)))
write({'o0': json.dumps(dict(os.environ))})
"""
SECRETS = {"FLYRUN_SANDBOX_CLIENT_SECRET": "client-secret-123", "OPERATOR_DB_PASSWORD": "hunter2-operator",
           "AWS_SECRET_ACCESS_KEY": "aws-secret-456"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("taskenv")
    env = dict(SECRETS, SHARED_SETTING="from-the-shell")
    started = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(data_dir), "--detach", "-o", "json",
                          "--task-env", "SHARED_SETTING", "--task-env", "GREETING=hello", env=env)
    assert started.exit_code == 0, started.output
    yield dict(json.loads(started.stdout), data_dir=data_dir)
    assert sandbox_cli("stop", "--data-dir", str(data_dir)).exit_code == 0


def run_env_task(client: Client, name: str, extra_args: list[str] = ()) -> tuple[dict, str]:
    body = task(name, SHOW_ENV, {}, {"o0": STR})
    body["spec"]["template"]["container"]["args"] += list(extra_args)
    body["spec"]["template"]["container"]["env"] = [{"key": "TASK_OWN", "value": "mine"}]
    client.register(body)
    execution = client.launch(body["id"])
    done = client.wait(execution)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"]
    environment = json.loads(client.outputs(execution)["o0"]["scalar"]["primitive"]["string_value"])
    log = next(iter(client.nodes(execution).values()))
    node = client.get(f"/api/v1/node_executions/flytesnacks/development/{execution}/"
                      f"{log['id']['node_id']}").json()
    assert node["closure"]["phase"] == "SUCCEEDED"
    return environment, execution


def task_logs(data_dir: Path, execution: str) -> str:
    return "".join(p.read_text() for p in data_dir.glob(f"blobs/metadata/**/{execution}/**/task.log"))


def test_a_task_does_not_see_the_servers_secrets(server):
    client = Client(server["url"])
    environment, execution = run_env_task(client, "tests.show_env")
    for name, secret in SECRETS.items():
        assert name not in environment
        assert secret not in json.dumps(environment)
    log = task_logs(server["data_dir"], execution)
    assert "ENV " in log and not any(secret in log for secret in SECRETS.values())
    # What a pod gets, and what the operator and the task asked for.
    assert environment["FLYTE_INTERNAL_EXECUTION_ID"] == execution
    assert environment["FLYTE_ATTEMPT_NUMBER"] == "0"
    assert environment["FLYTE_INTERNAL_TASK_NAME"] == "tests.show_env"
    assert environment["GREETING"] == "hello" and environment["SHARED_SETTING"] == "from-the-shell"
    assert environment["TASK_OWN"] == "mine"
    assert {"PATH", "HOME", "PYTHONPATH"} <= set(environment)
    unexpected = set(environment) - {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
                                     "PYTHONPATH", "PYTHONUNBUFFERED", "GREETING", "SHARED_SETTING", "TASK_OWN"}
    assert all(name.startswith("FLYTE_") for name in unexpected), unexpected


def test_storage_settings_reach_only_a_task_that_names_remote_storage(server):
    client = Client(server["url"])
    environment, _ = run_env_task(client, "tests.show_env_s3", ["s3://bucket/some/input"])
    assert environment["AWS_SECRET_ACCESS_KEY"] == SECRETS["AWS_SECRET_ACCESS_KEY"]
    assert "OPERATOR_DB_PASSWORD" not in environment and "FLYRUN_SANDBOX_CLIENT_SECRET" not in environment


def test_task_env_naming_an_unset_variable_is_a_usage_error(tmp_path):
    result = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(tmp_path), "--detach",
                         "--task-env", "SURELY_NOT_SET_ANYWHERE")
    assert result.exit_code == 2, result.output
    assert "SURELY_NOT_SET_ANYWHERE is not set in this shell" in result.stderr
    assert "Traceback" not in result.output
    bad = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(tmp_path), "--detach",
                      "--task-env", "1BAD=x")
    assert bad.exit_code == 2 and "not a variable name" in bad.stderr


def test_a_remote_file_among_the_inputs_counts_as_naming_remote_storage():
    from flyteidl.core import literals_pb2 as L

    from flyrun.sandbox.engine.taskrun import _names_remote_storage

    remote = L.LiteralMap()
    remote.literals["f"].scalar.blob.uri = "s3://bucket/data.csv"
    local = L.LiteralMap()
    local.literals["f"].scalar.blob.uri = "file:///data/data.csv"
    assert _names_remote_storage(["python", "-c", "..."], "/data/raw", remote)
    assert not _names_remote_storage(["python", "-c", "..."], "/data/raw", local)
    assert not _names_remote_storage(["flyrun-execute", "--bundle", "file:///b.tar.gz"], "/data/raw", None)
