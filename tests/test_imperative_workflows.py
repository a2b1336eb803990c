"""The imperative ``Workflow("name")`` builder in the three places: locally, serialized, and on the sandbox."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import REPO

EXAMPLE = REPO / "examples" / "imperative.py"
EXPECTED = {"greeting": "hello world", "size": 33, "both": ["hello world world world", "hello world world"]}


@pytest.fixture
def example(tmp_path):
    folder = tmp_path / "ex"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "imperative.py")
    return folder / "imperative.py"


def test_flytekit_workflow_name_is_the_imperative_builder():
    import flyrun
    from flyrun.sdk.imperative import ImperativeWorkflow
    from flyrun.sdk.workflow import Workflow as Traced

    assert flyrun.Workflow is ImperativeWorkflow is flyrun.ImperativeWorkflow
    assert issubclass(flyrun.Workflow, Traced)  # so it is a workflow everywhere flyrun looks for one


def test_local_run_of_the_builder_by_its_variable_name(cli, example):
    done = cli("run", "-o", "json", str(example), "wb", "--in1", "hello")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == EXPECTED


def test_a_bare_name_finds_the_builder_and_completion_offers_it(cli, example, monkeypatch):
    from flyrun.loader import defined_entity_names

    assert {"wb", "nested", "twice_plan"} <= set(defined_entity_names(example))
    monkeypatch.chdir(example.parent)
    done = cli("run", "wb", "--in1", "hello")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[0] == "greeting: hello world"


def test_called_in_python_and_inside_a_traced_workflow(project, cli):
    root = project({"flows.py": '''
        from flyrun import Workflow, task, workflow

        @task
        def add(a: int, b: int = 1) -> int:
            return a + b

        @task
        def noop() -> None:
            pass

        wb = Workflow(name="flows.adder")
        x = wb.add_workflow_input("x", int)
        first = wb.add_entity(add, a=x)
        second = wb.add_entity(add, a=first.o0, b=wb.inputs["x"])
        wb.add_entity(noop)
        wb.add_workflow_output("total", second.outputs["o0"])
        wb.add_workflow_output("echo", x)

        @workflow
        def outer(y: int) -> int:
            total, echo = wb(x=y)
            return add(a=total, b=echo)
        '''})
    import sys

    sys.path.insert(0, str(root))
    try:
        import flows

        assert flows.wb(x=2) == (5, 2)  # (2 + 1) + 2, and the input itself
        assert flows.wb.ready()
        assert [n.id for n in flows.wb.nodes] == ["n0", "n1", "n2"]
        assert flows.outer(y=2) == 7
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("flows", None)
    done = cli("run", str(root / "flows.py"), "outer", "--y", "3")
    assert done.exit_code == 0 and done.stdout.strip() == "o0: 10", done.output


def test_serialized_as_any_workflow_and_parsed_strictly(cli, example, tmp_path):
    from flyteidl.admin import workflow_pb2
    from google.protobuf import json_format

    out = tmp_path / "out"
    done = cli("package", str(example), "--output-dir", str(out))
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "manifest.json").read_text())
    names = [(e["kind"], e["id"]["name"]) for e in manifest["entities"]]
    assert ("workflow", "examples.imperative.builder") in names
    assert ("launch_plan", "examples.imperative.builder") in names  # its default launch plan
    assert names.index(("workflow", "imperative.twice")) < names.index(("workflow", "examples.imperative.builder"))
    spec = json.loads((out / "workflows" / "examples.imperative.builder.json").read_text())
    json_format.ParseDict(spec, workflow_pb2.WorkflowSpec(), ignore_unknown_fields=False)
    template = spec["template"]
    assert sorted(template["interface"]["inputs"]["variables"]) == ["in1"]
    outputs = template["interface"]["outputs"]["variables"]
    assert outputs["both"]["type"] == {"collection_type": {"simple": "STRING"}}
    nodes = template["nodes"]
    assert [n["id"] for n in nodes] == ["n0", "n1", "n2", "n3"]
    kinds = [next(k for k in ("task_node", "workflow_node") if k in n) for n in nodes]
    assert kinds == ["task_node", "task_node", "workflow_node", "workflow_node"]
    assert nodes[2]["workflow_node"]["sub_workflow_ref"]["name"] == "imperative.twice"
    assert nodes[3]["workflow_node"]["launchplan_ref"]["name"] == "twice_plan"
    assert {b["var"]: b["binding"] for b in nodes[1]["inputs"]} == {
        "x": {"promise": {"node_id": "n0", "var": "o0"}}, "times": {"scalar": {"primitive": {"integer": "3"}}}}
    assert [s["id"]["name"] for s in spec["sub_workflows"]] == ["imperative.twice"]
    by_var = {o["var"]: o["binding"] for o in template["outputs"]}
    assert by_var["greeting"] == {"promise": {"node_id": "n0", "var": "o0"}}
    assert by_var["both"] == {"collection": {"bindings": [{"promise": {"node_id": "n2", "var": "o0"}},
                                                          {"promise": {"node_id": "n3", "var": "o0"}}]}}


@pytest.mark.parametrize("line, fragment", [
    ('n = wb.add_entity(add, a=wb.inputs["x"], c=1)',
     "in workflow 'flows.built', node n0 (flows.add): unknown input 'c'; inputs are: a, b"),
    ('n = wb.add_entity(add, a="text")', "in workflow 'flows.built', node n0 (flows.add): input 'a' expects int"),
    ('wb.add_workflow_output("out", 3)',
     "workflow 'flows.built': output 'out' must be bound to a promise (a node's output or a workflow input), not 3"),
    ('wb.add_workflow_output("out", wb.add_entity(noop))',
     "output 'out' must be bound to a promise (a node's output or a workflow input), not node n0 (flows.noop)"),
    ('wb.add_workflow_output("out", [wb.inputs["x"]])', "output 'out': a list or dict of promises needs python_type="),
    ('wb.add_workflow_input("x", int)', "workflow 'flows.built': input 'x' is already declared"),
    ('wb.add_entity(42)', "in workflow 'flows.built', add_entity needs a task, workflow or launch plan, not 42"),
])
def test_definition_errors_name_file_line_and_node(cli, project, line, fragment):
    root = project({"flows.py": f'''
        from flyrun import Workflow, task

        @task
        def add(a: int, b: int = 1) -> int:
            return a + b

        @task
        def noop() -> None:
            pass

        wb = Workflow(name="flows.built")
        wb.add_workflow_input("x", int)
        {line}
        '''})
    result = cli("run", str(root / "flows.py"), "wb", "--x", "1")
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: ") and "flows.py:14" in first, first
    assert fragment in first, first
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_the_builder_on_the_sandbox_gives_the_local_outputs(remote, example):
    done = remote("run", "--remote", "--wait", "-o", "json", str(example), "wb", "--in1", "hello")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == EXPECTED
    nested = remote("run", "--remote", "--wait", "-o", "json", str(example), "nested", "--word", "hi")
    assert nested.exit_code == 0, nested.output
    local = remote("run", "-o", "json", str(example), "nested", "--word", "hi")
    assert json.loads(nested.stdout)["outputs"] == json.loads(local.stdout)["outputs"] == {"o0": 192}


def test_failure_policy_and_handler_on_the_builder(project, cli, tmp_path):
    log = tmp_path / "log.txt"
    root = project({"flows.py": f'''
        from typing import Optional

        from flyrun import FlyteError, Workflow, WorkflowFailurePolicy, task

        @task
        def breaks(x: int) -> int:
            if x < 0:
                raise ValueError(f"negative: {{x}}")
            return x

        @task
        def note(x: int) -> None:
            open({str(log)!r}, "a").write(f"note {{x}}\\n")

        @task
        def cleanup(x: int, err: Optional[FlyteError] = None) -> None:
            open({str(log)!r}, "a").write(f"cleanup {{x}} {{err.failed_node_id}}: {{err.message}}\\n")

        wb = Workflow(name="flows.guarded",
                      failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
        wb.add_workflow_input("x", int)
        wb.add_entity(breaks, x=wb.inputs["x"])
        wb.add_entity(note, x=wb.inputs["x"])
        wb.add_on_failure_handler(cleanup)
        '''})
    done = cli("run", str(root / "flows.py"), "wb", "--x", "-1")
    assert done.exit_code == 6, done.output
    assert log.read_text().splitlines() == ["note -1",
                                            "cleanup -1 fn0: task flows.breaks failed: ValueError: negative: -1"]
    out = tmp_path / "out"
    assert cli("package", str(root / "flows.py"), "--output-dir", str(out)).exit_code == 0
    template = json.loads((out / "workflows" / "flows.guarded.json").read_text())["template"]
    assert template["metadata"] == {"on_failure": "FAIL_AFTER_EXECUTABLE_NODES_COMPLETE"}
    assert template["failure_node"]["id"] == "fn0"
