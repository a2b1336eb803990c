"""reference_task / reference_workflow / reference_launch_plan: locally (fail unless replaced), serialized (nodes
point at the registered ids, nothing of theirs is registered), and on the sandbox (the registered entities run)."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

BASE = '''
from flyrun import LaunchPlan, task, workflow


@task
def double(x: int) -> int:
    return x * 2


@task
def label(n: int, prefix: str = "n=") -> str:
    return f"{prefix}{n}"


@workflow
def pipeline(x: int) -> int:
    return double(x=double(x=x))


pipeline_plan = LaunchPlan.get_or_create(pipeline, "pipeline_plan", default_inputs={"x": 1})


@workflow
def direct(x: int) -> str:
    """What `caller` does through references, called directly: the outputs to expect."""
    a = double(x=x)
    b = pipeline(x=a)
    c = pipeline_plan(x=b)
    return label(n=c)
'''

CALLER = '''
from flyrun import Workflow, reference_launch_plan, reference_task, reference_workflow, workflow

VERSION = "{version}"


@reference_task(project="flytesnacks", domain="development", name="base.double", version=VERSION)
def double(x: int) -> int:
    ...


@reference_task(project="flytesnacks", domain="development", name="base.label", version=VERSION)
def label(n: int, prefix: str = "n=") -> str:
    ...


@reference_workflow(project="flytesnacks", domain="development", name="base.pipeline", version=VERSION)
def pipeline(x: int) -> int:
    ...


@reference_launch_plan(project="flytesnacks", domain="development", name="pipeline_plan", version=VERSION)
def pipeline_plan(x: int = 1) -> int:
    ...


@workflow
def caller(x: int) -> str:
    a = double(x=x)
    b = pipeline(x=a)
    c = pipeline_plan(x=b)
    return label(n=c)


built = Workflow(name="caller.built")
built.add_workflow_input("x", int)
doubled = built.add_entity(double, x=built.inputs["x"])
piped = built.add_subwf(pipeline, x=doubled.o0)
built.add_workflow_output("out", built.add_task(label, n=piped.o0, prefix="b=").o0)
'''


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_reference_cannot_run_locally_and_says_how_to_mock_it(cli, tmp_path):
    caller = _write(tmp_path / "c", "caller.py", CALLER.format(version="v1"))
    for target in ("double", "caller"):  # alone, and as a node of a workflow
        done = cli("run", str(caller), target, "--x", "1")
        assert done.exit_code == 2, done.output
        assert done.stderr.splitlines()[0] == (
            "Error: reference task 'base.double' (flytesnacks/development, version v1) cannot run locally: its "
            "code is only on the cluster")
        assert "task_mock(double)" in done.stderr and "Traceback" not in done.output
    plan = cli("run", str(caller), "pipeline_plan")
    assert plan.exit_code == 2, plan.output
    assert plan.stderr.splitlines()[0].startswith("Error: reference launch plan 'pipeline_plan' (flytesnacks/"
                                                  "development, version v1) cannot run locally")


def test_listing_shows_references_apart(cli, tmp_path):
    caller = _write(tmp_path / "c", "caller.py", CALLER.format(version="v1"))
    listed = cli("run", str(caller))
    assert listed.exit_code == 0, listed.output
    references = listed.stdout.split("References in")[1]
    assert "  double(x: int) -> o0: int" in references and "  pipeline_plan(x: int = 1) -> o0: int" in references
    assert "Tasks in" not in listed.stdout  # a reference is not a task of this file


def test_a_replaced_reference_runs_locally_in_a_workflow(tmp_path, monkeypatch):
    """flytekit's task_mock replaces a reference's ``execute``; flyrun's references call it, so a stand-in runs."""
    import importlib
    import sys

    _write(tmp_path / "c", "caller_mocked.py", CALLER.format(version="v1"))
    monkeypatch.syspath_prepend(str(tmp_path / "c"))
    module = importlib.import_module("caller_mocked")
    try:
        module.double.execute = lambda x: x * 2
        module.pipeline.execute = lambda x: x * 4
        module.pipeline_plan.execute = lambda x: x * 4
        module.label.execute = lambda n, prefix: f"{prefix}{n}"
        assert module.caller(x=3) == "n=96"
        assert module.built(x=3) == "b=24"
        module.double.execute = lambda x: "not an int"
        from flyrun.errors import UsageError

        with pytest.raises(UsageError, match="the stand-in for reference task 'base.double' .* returned a wrong "
                                             "value"):
            module.caller(x=3)
    finally:
        sys.modules.pop("caller_mocked", None)


def test_serialized_nodes_point_at_the_registered_ids_and_register_nothing_of_theirs(cli, tmp_path):
    from flyteidl.admin import workflow_pb2
    from google.protobuf import json_format

    caller = _write(tmp_path / "c", "caller.py", CALLER.format(version="v7"))
    out = tmp_path / "out"
    done = cli("package", str(caller), "--output-dir", str(out))
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted((e["kind"], e["id"]["name"]) for e in manifest["entities"]) == [
        ("launch_plan", "caller.built"), ("launch_plan", "caller.caller"),
        ("workflow", "caller.built"), ("workflow", "caller.caller")]
    spec = json.loads((out / "workflows" / "caller.caller.json").read_text())
    json_format.ParseDict(spec, workflow_pb2.WorkflowSpec(), ignore_unknown_fields=False)
    assert spec["sub_workflows"] == []  # the referenced workflow is the server's, not embedded

    def ref(kind, name):
        return {"resource_type": kind, "project": "flytesnacks", "domain": "development", "name": name,
                "version": "v7"}

    nodes = spec["template"]["nodes"]
    assert [n["metadata"]["name"] for n in nodes] == ["double", "pipeline", "pipeline_plan", "label"]
    assert nodes[0]["task_node"] == {"reference_id": ref("TASK", "base.double")}
    assert nodes[1]["workflow_node"] == {"sub_workflow_ref": ref("WORKFLOW", "base.pipeline")}
    assert nodes[2]["workflow_node"] == {"launchplan_ref": ref("LAUNCH_PLAN", "pipeline_plan")}
    assert {b["var"]: b["binding"] for b in nodes[3]["inputs"]} == {
        "n": {"promise": {"node_id": "n2", "var": "o0"}}, "prefix": {"scalar": {"primitive": {"string_value": "n="}}}}
    built = json.loads((out / "workflows" / "caller.built.json").read_text())
    json_format.ParseDict(built, workflow_pb2.WorkflowSpec(), ignore_unknown_fields=False)
    assert built["template"]["nodes"][1]["workflow_node"] == {"sub_workflow_ref": ref("WORKFLOW", "base.pipeline")}


@pytest.mark.parametrize("decorator, fragment", [
    ('reference_task(project="p", domain="d", name="base.double", version="")',
     "reference_task 'base.double': version is missing"),
    ('reference_workflow(project="p", domain="", name="base.pipeline", version="v1")',
     "reference_workflow 'base.pipeline': domain is missing"),
    ('reference_launch_plan(project="p", domain="d", name="", version="v1")',
     "reference_launch_plan '': name is missing"),
])
def test_a_reference_without_its_full_id_fails_at_definition(cli, project, decorator, fragment):
    root = project({"flows.py": f'''
        from flyrun import reference_launch_plan, reference_task, reference_workflow

        @{decorator}
        def ref(x: int) -> int:
            ...
        '''})
    result = cli("run", str(root / "flows.py"), "ref", "--x", "1")
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: ") and "flows.py:4: " in first and fragment in first, first
    assert "Traceback" not in result.output


def test_wiring_a_reference_wrongly_names_the_node(cli, project):
    root = project({"flows.py": '''
        from flyrun import reference_task, workflow

        @reference_task(project="p", domain="d", name="base.double", version="v1")
        def double(x: int) -> int:
            ...

        @workflow
        def wf(y: int) -> int:
            return double(y=y)
        '''})
    result = cli("run", str(root / "flows.py"), "wf", "--y", "1")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == (
        f"Error: {root / 'flows.py'}:10: in workflow 'flows.wf', node n0 (base.double): unknown input 'y'; "
        "inputs are: x")


@pytest.mark.slow
def test_references_run_the_registered_entities_on_the_sandbox(remote, cli, tmp_path):
    base = _write(tmp_path / "b", "base.py", BASE)
    registered = remote("register", "-o", "json", str(base))
    assert registered.exit_code == 0, registered.output
    entries = json.loads(registered.stdout)
    listed = entries["created"] + entries["existing"]
    version = re.search(r"task flytesnacks/development/base\.double@(\S+)", "\n".join(listed)).group(1)
    expected = cli("run", "-o", "json", str(base), "direct", "--x", "3")
    assert json.loads(expected.stdout)["outputs"] == {"o0": "n=96"}, expected.output

    caller = _write(tmp_path / "c", "caller.py", CALLER.format(version=version))
    done = remote("run", "--remote", "--wait", "-o", "json", str(caller), "caller", "--x", "3")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["outputs"] == {"o0": "n=96"}  # what the local run of the same calls gave
    sent = result["registration"]["created"] + result["registration"]["existing"]
    assert sent and not [line for line in sent if "base." in line or "pipeline_plan" in line], sent
    built = remote("run", "--remote", "--wait", "-o", "json", str(caller), "built", "--x", "3")
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["outputs"] == {"out": "b=24"}
    alone = remote("run", "--remote", "--wait", "-o", "json", str(caller), "double", "--x", "5")
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.stdout)["outputs"] == {"o0": 10}
    unknown = _write(tmp_path / "u", "caller.py", CALLER.format(version="no-such-version"))
    refused = remote("register", str(unknown))
    assert refused.exit_code == 2, refused.output
    assert "node 'n1' refers to an unknown subworkflow 'base.pipeline'" in refused.stderr, refused.stderr
