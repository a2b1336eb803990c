"""create_node, `>>`, with_overrides and TaskMetadata: local run, serialized entities, and the sandbox."""

from __future__ import annotations

import json

import pytest

FLOW = '''
from datetime import timedelta

from flyrun import Resources, TaskMetadata, create_node, task, workflow


@task(metadata=TaskMetadata(retries=2, timeout=90, cache=True, cache_version="3", deprecated="use t2"),
      task_config={"plugin": "setting"})
def t0() -> None:
    print("ran t0")


@task
def t1() -> None:
    print("ran t1")


@task
def t2(x: int) -> int:
    print("ran t2")
    return x + 1


@workflow
def chain() -> int:
    a = create_node(t2, x=1)
    b = create_node(t1)
    c = create_node(t0)
    c >> b
    b >> a
    return a.o0


@workflow
def over(x: int) -> int:
    return t2(x=x).with_overrides(node_name="My Node", name="renamed", timeout=timedelta(minutes=5), retries=3,
                                  interruptible=True, cache=True, cache_version="7",
                                  requests=Resources(cpu="1", mem="1Gi"), limits=Resources(cpu="2", mem="2Gi"),
                                  container_image="other:2")
'''


@pytest.fixture
def flow(project):
    return project({"nodes.py": FLOW}) / "nodes.py"


def test_chaining_orders_the_local_run(cli, flow):
    done = cli("run", str(flow), "chain")
    assert done.exit_code == 0, done.output
    # what tasks print is theirs, on stderr; the order they ran in is the order of their lines
    assert [line for line in done.stderr.splitlines() if line.startswith("ran ")] == ["ran t0", "ran t1", "ran t2"]
    assert done.stdout.strip().endswith("o0: 2")


def test_overridden_node_runs_locally(cli, flow):
    done = cli("run", str(flow), "over", "--x", "3")
    assert done.exit_code == 0 and done.stdout.strip().endswith("o0: 4"), done.output


def test_bad_override_names_the_node(cli, project):
    root = project({"bad.py": '''
        from flyrun import task, workflow

        @task
        def t(x: int) -> int:
            return x

        @workflow
        def wf(x: int) -> int:
            return t(x=x).with_overrides(retries=-1)
        '''})
    result = cli("run", str(root / "bad.py"), "wf", "--x", "1")
    assert result.exit_code == 2
    assert "bad.py:10: with_overrides on node n0 (bad.t): retries must be a whole number >= 0, not -1" in \
        result.stderr.splitlines()[0]


def test_serialized_overrides_chain_and_task_metadata(cli, flow, tmp_path):
    from flyteidl.admin import task_pb2, workflow_pb2
    from google.protobuf import json_format

    out = tmp_path / "out"
    assert cli("package", str(flow), "--output-dir", str(out)).exit_code == 0
    over = json.loads((out / "workflows" / "nodes.over.json").read_text())
    json_format.ParseDict(over, workflow_pb2.WorkflowSpec(), ignore_unknown_fields=False)
    node = over["template"]["nodes"][0]
    assert node["id"] == "my-node"
    assert node["metadata"] == {"name": "renamed", "timeout": "300s", "retries": {"retries": 3},
                                "interruptible": True, "cacheable": True, "cache_version": "7"}
    assert node["task_node"]["overrides"] == {
        "resources": {"requests": [{"name": "CPU", "value": "1"}, {"name": "MEMORY", "value": "1Gi"}],
                      "limits": [{"name": "CPU", "value": "2"}, {"name": "MEMORY", "value": "2Gi"}]},
        "container_image": "other:2"}
    assert over["template"]["outputs"] == [{"var": "o0", "binding": {"promise": {"node_id": "my-node", "var": "o0"}}}]
    chain = json.loads((out / "workflows" / "nodes.chain.json").read_text())["template"]["nodes"]
    assert {n["id"]: n["upstream_node_ids"] for n in chain} == {"n2": [], "n1": ["n2"], "n0": ["n1"]}
    t0 = json.loads((out / "tasks" / "nodes.t0.json").read_text())
    json_format.ParseDict(t0, task_pb2.TaskSpec(), ignore_unknown_fields=False)
    meta = t0["template"]["metadata"]
    assert (meta["retries"], meta["timeout"], meta["discovery_version"], meta["deprecated_error_message"]) == (
        {"retries": 2}, "90s", "3", "use t2")


@pytest.mark.slow
def test_overrides_and_chains_on_the_sandbox(remote, flow):
    over = remote("run", "--remote", "--wait", "-o", "json", str(flow), "over", "--x", "3")
    assert over.exit_code == 0, over.output
    assert json.loads(over.stdout)["outputs"] == {"o0": 4}  # as the local run
    chain = remote("run", "--remote", "--wait", "-o", "json", str(flow), "chain")
    assert chain.exit_code == 0, chain.output
    assert json.loads(chain.stdout)["outputs"] == {"o0": 2}
