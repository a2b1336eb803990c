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


# -- issue 14's gaps: a plain-tuple multi-output node, accelerator, shared_memory and pod_template ---------------
GAPS = '''
from typing import NamedTuple, Tuple

from flyrun import PodTemplate, Resources, task, workflow
from flyrun.extras.accelerators import A100, T4, V5P


class Named(NamedTuple):
    total: int
    text: str


@task
def pair(x: int) -> Tuple[int, str]:
    return x + 1, str(x)


@task
def named(x: int) -> Named:
    return Named(x * 2, "named")


@task(requests=Resources(cpu="1"))
def t(x: int) -> int:
    return x


POD = PodTemplate(pod_spec={"containers": [{"name": "main"}], "nodeSelector": {"pool": "gpu"}},
                  labels={"l": "1"}, annotations={"a": "2"}, primary_container_name="main")


@workflow
def gaps(x: int) -> Tuple[int, str, int]:
    a, b = pair(x=x).with_overrides(retries=2, accelerator=A100.partition_1g_5gb, shared_memory=True)
    c = t(x=a).with_overrides(accelerator=T4, shared_memory="2Gi", pod_template=POD)
    n = named(x=c).with_overrides(accelerator=V5P.slice_2x2x1, node_name="named-node")
    return n.total, b, pair(x=x).o0
'''


@pytest.fixture
def gaps(project):
    return project({"gaps.py": GAPS}) / "gaps.py"


def test_overrides_on_tuple_outputs_and_extended_resources_run_locally(cli, gaps):
    done = cli("run", "-o", "json", str(gaps), "gaps", "--x", "3")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": 8, "o1": "3", "o2": 4}


def test_tuple_outputs_extended_resources_and_pod_template_serialize_as_flytekit_does(cli, gaps, tmp_path):
    from flyteidl.admin import workflow_pb2
    from google.protobuf import json_format

    out = tmp_path / "out"
    assert cli("package", str(gaps), "--output-dir", str(out), "--image", "img:1").exit_code == 0
    spec = json.loads((out / "workflows" / "gaps.gaps.json").read_text())
    json_format.ParseDict(spec, workflow_pb2.WorkflowSpec(), ignore_unknown_fields=False)
    nodes = {node["id"]: node for node in spec["template"]["nodes"]}
    # What pyflyte package (flytekit 1.16.31) writes for the same calls.
    assert nodes["n0"]["metadata"]["retries"] == {"retries": 2}
    assert nodes["n0"]["task_node"]["overrides"] == {"extended_resources": {
        "gpu_accelerator": {"device": "nvidia-tesla-a100", "partition_size": "1g.5gb"},
        "shared_memory": {"mount_path": "/dev/shm", "mount_name": "flyte-shared-memory"}}}
    t_overrides = nodes["n1"]["task_node"]["overrides"]
    assert t_overrides["extended_resources"] == {
        "gpu_accelerator": {"device": "nvidia-tesla-t4"},
        "shared_memory": {"mount_path": "/dev/shm", "mount_name": "flyte-shared-memory", "size_limit": "2Gi"}}
    pod = t_overrides["pod_template"]
    assert pod["primary_container_name"] == "main"
    assert pod["metadata"] == {"labels": {"l": "1"}, "annotations": {"a": "2"}}
    assert pod["pod_spec"]["nodeSelector"] == {"pool": "gpu"}
    [main] = pod["pod_spec"]["containers"]
    # the task's own container fills the template's primary container
    assert (main["name"], main["image"], main["command"], main["args"][-4:]) == (
        "main", "img:1", [], ["task-module", "gaps", "task-name", "t"])
    assert main["resources"] == {"requests": {"cpu": "1"}}
    assert nodes["named-node"]["task_node"]["overrides"] == {"extended_resources": {
        "gpu_accelerator": {"device": "tpu-v5p-slice", "partition_size": "2x2x1"}}}
    assert spec["template"]["outputs"][2]["binding"] == {"promise": {"node_id": "n3", "var": "o0"}}


@pytest.mark.parametrize(("setting", "message"), [
    ("accelerator='T4'", "accelerator must be one of flyrun.extras.accelerators"),
    ("shared_memory=False", "shared_memory must be True (as much as the memory) or a size such as \"2Gi\", not False"),
    ("pod_template={'containers': []}", "pod_template must be a flyrun PodTemplate, not dict"),
])
def test_bad_extended_overrides_are_one_line(cli, project, setting, message):
    root = project({"bad.py": f'''
        from typing import Tuple

        from flyrun import task, workflow

        @task
        def t(x: int) -> Tuple[int, int]:
            return x, x

        @workflow
        def wf(x: int) -> int:
            a, b = t(x=x).with_overrides({setting})
            return a
        '''})
    result = cli("run", str(root / "bad.py"), "wf", "--x", "1")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad.py:12: with_overrides on node n0 (bad.t): " in lines[0] and message in lines[0], \
        result.stderr


def test_accelerators_match_flytekits_wire_and_names():
    flytekit_accelerators = pytest.importorskip("flytekit.extras.accelerators")
    from flyrun.extras import accelerators

    for name in accelerators.__all__:
        theirs, ours = getattr(flytekit_accelerators, name), getattr(accelerators, name)
        if isinstance(theirs, type):
            continue
        assert ours.to_flyte_idl() == theirs.to_flyte_idl(), name
        parts = [n for n in dir(theirs) if n.startswith(("partition_", "slice_"))]
        for part in parts + (["unpartitioned"] if parts else []):
            assert getattr(ours, part).to_flyte_idl() == getattr(theirs, part).to_flyte_idl(), (name, part)
    assert accelerators.A100.partitioned("3g.20gb").to_wire() == {"device": "nvidia-tesla-a100",
                                                                  "partition_size": "3g.20gb"}


@pytest.mark.slow
def test_extended_overrides_register_and_run_on_the_sandbox(remote, gaps):
    done = remote("run", "--remote", "--wait", "-o", "json", str(gaps), "gaps", "--x", "3")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": 8, "o1": "3", "o2": 4}  # as the local run
