"""The Flyte language (issue 14, part A): conditionals, named and tuple outputs, promise attributes.

Each program in tests/language_project.py runs locally through the CLI, is packaged and parsed strictly into
flyteidl messages, and runs on a real sandbox with the same outputs as the local run.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import REPO
from idl_project import spec_files
from language_project import FAIL_MESSAGE, LANG, RUNS

EXAMPLE = str(REPO / "examples" / "conditional.py")
EXAMPLE_OUTPUT = "circle: 19.63 (radius up to 2.75) [no label]"


def _ids(runs):
    return [f"{wf}{'-' + '-'.join(args[1::2]) if args else ''}" for _, wf, args, _ in runs]


@pytest.fixture
def lang(project):
    return project(LANG)


# -- local --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("module", "wf", "args", "outputs"), RUNS, ids=_ids(RUNS))
def test_local_run(cli, lang, module, wf, args, outputs):
    done = cli("run", "-o", "json", str(lang / "lang" / f"{module}.py"), wf, *args)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == outputs


def test_a_failing_branch_fails_the_local_run_with_its_message(cli, lang):
    done = cli("run", str(lang / "lang" / "branches.py"), "shape", "--x", "30")
    assert done.exit_code == 6, done.output
    assert done.stderr.strip() == f"Error: conditional 'size' failed: {FAIL_MESSAGE}"
    assert "Traceback" not in done.output


def test_the_bundled_example_runs(cli):
    done = cli("run", "-o", "json", EXAMPLE, "shape", "--radius", "2.5")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": EXAMPLE_OUTPUT}
    labelled = cli("run", EXAMPLE, "shape", "--radius", "0.5", "--label", "small")
    assert labelled.stdout.strip() == "o0: circle: 3.14 (radius up to 0.55) [small]"


def test_a_void_conditional_runs_only_the_chosen_case(cli, lang):
    done = cli("run", str(lang / "lang" / "branches.py"), "quiet", "--seed", "3")
    assert done.exit_code == 0, done.output
    assert "odd" in done.output and "even" not in done.output


def test_outputs_called_outside_a_workflow_keep_their_shapes(lang, monkeypatch):
    monkeypatch.syspath_prepend(str(lang))
    import importlib

    outputs = importlib.import_module("lang.outputs")
    try:
        assert outputs.bare(x=1.0) == outputs.Slope(slope=2.0)  # a bare return of a one-field NamedTuple
        assert outputs.pair(x=1.0) == (1.0, 2.0) and outputs.typed(x=2) == (2, "2")
        assert outputs.sub(x=1.0) == (2.0, 1.0) and outputs.sub(x=1.0).o1 == 1.0
        assert type(outputs.pair(x=1.0)).__name__ == "DefaultNamedTupleOutput"
        assert outputs.named(x=5).b == "5"
    finally:
        for name in ("lang.outputs", "lang"):  # later tests import their own copy of the project
            sys.modules.pop(name, None)


# -- serialized ---------------------------------------------------------------------------------------
@pytest.fixture
def files(cli, lang, tmp_path):
    out = tmp_path / "out"
    result = cli("package", str(lang), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    return spec_files(out)


def _nodes(files, name):
    return {n["id"]: n for n in files[f"workflows/lang.{name}.json"]["template"]["nodes"]}


def test_every_workflow_parses_strictly_as_a_workflow_spec(files):
    from flyteidl.admin import workflow_pb2
    from google.protobuf import json_format

    specs = [doc for path, doc in files.items() if path.startswith("workflows/")]
    assert len(specs) == 10
    for spec in specs:
        json_format.Parse(json.dumps(spec), workflow_pb2.WorkflowSpec(), ignore_unknown_fields=False)


def test_a_conditional_is_a_branch_node_with_typed_constants_and_an_error(files):
    node = _nodes(files, "branches.shape")["n0"]
    assert node["metadata"] == {"name": "size"}
    assert node["inputs"] == [{"var": ".big", "binding": {"promise": {"node_id": "start-node", "var": "big"}}},
                              {"var": ".x", "binding": {"promise": {"node_id": "start-node", "var": "x"}}}]
    if_else = node["branch_node"]["if_else"]
    first = if_else["case"]["condition"]["conjunction"]
    # pyflyte would emit {"integer": "1"} for `x >= 1` with a float x, which propeller refuses to compare.
    assert first["left_expression"]["comparison"] == {
        "operator": "GTE", "left_value": {"var": ".x"}, "right_value": {"primitive": {"float_value": 0.1}}}
    other = if_else["other"][0]["condition"]["conjunction"]
    assert other["left_expression"]["comparison"]["right_value"] == {"primitive": {"float_value": 1.0}}
    assert other["right_expression"]["comparison"] == {"operator": "LTE", "left_value": {"var": ".x"},
                                                       "right_value": {"var": ".big"}}
    assert if_else["case"]["then_node"]["id"] == "n0" and if_else["other"][0]["then_node"]["id"] == "n0"
    assert if_else["case"]["then_node"]["task_node"]["reference_id"]["name"] == "lang.branches.square"
    assert if_else["error"] == {"failed_node_id": "size", "message": FAIL_MESSAGE}
    assert "else_node" not in if_else
    consumer = _nodes(files, "branches.shape")["n1"]
    assert consumer["inputs"][0]["binding"] == {"promise": {"node_id": "n0", "var": "o0"}}
    outputs = files["workflows/lang.branches.shape.json"]["template"]["interface"]["outputs"]["variables"]
    assert outputs["o0"]["type"] == {"simple": "FLOAT"}


def test_is_none_compares_with_a_none_input_and_conditionals_nest(files):
    node = _nodes(files, "branches.nested")["n2"]
    assert {"var": "none", "binding": {"scalar": {"none_type": {}}}} in node["inputs"]
    assert node["upstream_node_ids"] == ["n0", "n1"]
    condition = node["branch_node"]["if_else"]["case"]["condition"]["conjunction"]
    assert condition["operator"] == "OR"
    assert condition["left_expression"]["comparison"] == {
        "operator": "EQ", "left_value": {"var": "n0.o0"}, "right_value": {"primitive": {"boolean": True}}}
    # propeller's evaluator reads primitive and variable operands only, never a scalar one.
    assert condition["right_expression"]["comparison"]["right_value"] == {"var": "none"}
    inner = node["branch_node"]["if_else"]["case"]["then_node"]
    assert inner["id"] == "n0" and inner["metadata"] == {"name": "inner"}
    assert inner["branch_node"]["if_else"]["else_node"]["inputs"][0]["binding"] == {
        "scalar": {"primitive": {"string_value": "small heads"}}}


def test_a_void_conditional_has_no_outputs_and_its_cases_are_registered(files):
    node = _nodes(files, "branches.quiet")["n1"]
    assert node["branch_node"]["if_else"]["case"]["condition"]["comparison"]["right_value"] == {
        "primitive": {"boolean": False}}
    assert "tasks/lang.branches.note.json" in files and "tasks/lang.branches.square.json" in files


def test_outputs_are_named_by_tuples_and_named_tuples(files):
    def outputs(kind, name):
        return files[f"{kind}/lang.outputs.{name}.json"]["template"]["interface"]["outputs"]["variables"]

    assert set(outputs("tasks", "pair")) == {"o0", "o1"} and set(outputs("tasks", "typed")) == {"o0", "o1"}
    assert set(outputs("tasks", "bare")) == {"slope"} and set(outputs("tasks", "named")) == {"a", "b"}
    assert outputs("tasks", "typed")["o1"]["type"] == {"simple": "STRING"}
    assert set(outputs("workflows", "sub")) == {"o0", "o1"}
    nodes = _nodes(files, "outputs.outs")
    assert nodes["n4"]["inputs"][1]["binding"] == {"promise": {"node_id": "n1", "var": "slope"}}
    template = files["workflows/lang.outputs.outs.json"]
    assert [s["id"]["name"] for s in template["sub_workflows"]] == ["lang.outputs.sub"]
    # A subworkflow run by a case of a conditional is embedded too.
    via_sub = files["workflows/lang.branches.via_sub.json"]
    assert [s["id"]["name"] for s in via_sub["sub_workflows"]] == ["lang.branches.twice"]
    then = _nodes(files, "branches.via_sub")["n0"]["branch_node"]["if_else"]["case"]["then_node"]
    assert then["workflow_node"]["sub_workflow_ref"]["name"] == "lang.branches.twice"


def test_promise_attributes_are_attr_paths(files):
    show = _nodes(files, "outputs.attrs")["n3"]
    bindings = {b["var"]: b["binding"]["promise"] for b in show["inputs"]}
    assert bindings["a"] == {"node_id": "n1", "var": "o0", "attr_path": [{"int_value": 1}]}
    assert bindings["b"] == {"node_id": "n2", "var": "o0", "attr_path": [{"string_value": "k"}]}
    assert bindings["c"] == {"node_id": "n0", "var": "o0", "attr_path": [{"string_value": "name"}]}
    assert bindings["d"]["attr_path"] == [{"string_value": "inner"}, {"string_value": "v"}, {"int_value": 1}]
    inc = _nodes(files, "outputs.first")["n0"]
    assert inc["inputs"][0]["binding"] == {
        "promise": {"node_id": "start-node", "var": "xs", "attr_path": [{"int_value": 0}]}}
    outputs = files["workflows/lang.outputs.first.json"]["template"]["outputs"]
    assert outputs[1]["binding"]["promise"]["attr_path"] == [{"string_value": "a"}]


# -- definition-time errors ---------------------------------------------------------------------------
BAD = [
    ("cond = conditional('c').if_(n).then(t(n=n)).else_().then(t(n=n))",
     "conditional 'c': the condition is workflow input 'n' (int), not a bool condition"),
    ("cond = conditional('c').if_(n > 1).then(t(n=n)).else_().then(s(n=n))",
     "conditional 'c': the branches return different types for output 'o0' (int, str)"),
    ("cond = conditional('c').if_(n > 1).then(t(n=n))",
     "conditional 'c' has no else_(): every conditional needs one"),
    ("cond = conditional('c').if_(n > 'a').then(t(n=n)).else_().then(t(n=n))",
     "cannot compare workflow input 'n' (int) with 'a'"),
    ("cond = conditional('c').if_(n.is_true()).then(t(n=n)).else_().then(t(n=n))",
     "is_true() needs a bool promise, and workflow input 'n' (int) is not one"),
    ("cond = conditional('c').if_((n > 1) and (n < 3)).then(t(n=n)).else_().then(t(n=n))",
     "a condition cannot be used with Python's and/or/not"),
    ("cond = conditional('c').if_(n == x).then(t(n=n)).else_().then(t(n=n))",
     "cannot compare workflow input 'n' (int) with workflow input 'x' (float)"),
    ("cond = t(n=n)['k']", "int cannot be indexed with 'k'"),
]


@pytest.mark.parametrize(("line", "message"), BAD, ids=[m.split(":")[-1][:30] for _, m in BAD])
def test_bad_conditionals_fail_at_definition_time_with_file_line_and_node(cli, project, line, message):
    source = f'''
        from flyrun import conditional, task, workflow


        @task
        def t(n: int) -> int:
            return n


        @task
        def s(n: int) -> str:
            return str(n)


        @workflow
        def wf(n: int, x: float) -> None:
            {line}
        '''
    root = project({"bad.py": source})
    done = cli("run", str(root / "bad.py"), "wf", "--n", "1", "--x", "1.0")
    assert done.exit_code == 2, done.output
    assert message in done.stderr and "bad.py:17: in workflow 'bad.wf'" in done.stderr, done.stderr
    assert "Traceback" not in done.output and len(done.stderr.strip().splitlines()) <= 2


def test_a_one_element_tuple_annotation_is_refused(cli, project):
    root = project({"one.py": '''
        from typing import Tuple

        from flyrun import task


        @task
        def t(n: int) -> Tuple[int]:
            return (n,)
        '''})
    done = cli("run", str(root / "one.py"), "t", "--n", "1")
    assert done.exit_code == 2, done.output
    assert "one.py:7: task 'one.t': a return annotation of 1 type in a tuple" in done.stderr


# -- the shared condition evaluator -------------------------------------------------------------------
def test_conditions_compare_as_propeller_does():
    from flyrun.types.conditions import ConditionError, evaluate

    def cmp(op, left, right):
        return {"comparison": {"operator": op, "left_value": left, "right_value": right}}

    inputs = {".x": {"scalar": {"primitive": {"float_value": 0.5}}},
              ".n": {"scalar": {"primitive": {"integer": "7"}}},
              ".o": {"scalar": {"union": {"value": {"scalar": {"none_type": {}}}}}},
              "none": {"scalar": {"none_type": {}}}}
    assert evaluate(cmp("GT", {"var": ".n"}, {"primitive": {"integer": "3"}}), inputs)
    assert evaluate(cmp("EQ", {"var": ".o"}, {"var": "none"}), inputs)
    assert not evaluate(cmp("EQ", {"var": ".n"}, {"var": "none"}), inputs)
    with pytest.raises(ConditionError, match="different primitives types"):
        evaluate(cmp("GT", {"var": ".x"}, {"primitive": {"integer": "1"}}), inputs)
    with pytest.raises(ConditionError, match="not defined on booleans"):
        evaluate(cmp("LT", {"primitive": {"boolean": True}}, {"primitive": {"boolean": False}}), inputs)
    with pytest.raises(ConditionError, match=r"Failed to find Value for Variable \[.y\]"):
        evaluate(cmp("EQ", {"var": ".y"}, {"primitive": {"integer": "1"}}), inputs)


def test_an_int_input_takes_the_whole_double_a_struct_attribute_path_gives():
    from flyrun.types import engine

    # propeller (and the sandbox) walk a dataclass's Struct and hand its numbers on as doubles.
    assert engine.to_python({"scalar": {"primitive": {"float_value": 4.0}}}, int) == 4
    with pytest.raises(engine.TypeMismatch):
        engine.to_python({"scalar": {"primitive": {"float_value": 4.5}}}, int)


# -- on the sandbox -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_sandbox_gives_the_local_outputs(remote, lang):
    for module, wf, args, outputs in RUNS:
        done = remote("run", "--remote", "--wait", "-o", "json", f"lang/{module}.py", wf, *args, cwd=lang)
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["outputs"] == outputs, (wf, args)
    example = remote("run", "--remote", "--wait", "-o", "json", EXAMPLE, "shape", "--radius", "2.5", cwd=lang)
    assert example.exit_code == 0, example.output
    assert json.loads(example.stdout)["outputs"] == {"o0": EXAMPLE_OUTPUT}
    failed = remote("run", "--remote", "--wait", "lang/branches.py", "shape", "--x", "30", cwd=lang)
    assert failed.exit_code == 6, failed.output
    assert f"at node n0: {FAIL_MESSAGE}" in failed.stderr
