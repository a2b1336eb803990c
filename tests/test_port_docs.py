"""flytekit's ``Documentation``/``Description``/``SourceCode`` under flyrun: `flyrun package` writes the task and
workflow descriptions `pyflyte package` writes for the same file (docs, docstrings, both, neither), bad docs are
one line, and the sandbox takes them (a task's short description is in what it returns)."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import requests
from flytekit_support import clean_env, pyflyte_program

FLYTEKIT_DOCS = '''
from flytekit import Description, Documentation, LaunchPlan, SourceCode, task, workflow


@task
def plain(x: int) -> int:
    return x


@task
def one_line(x: int) -> int:
    """Only a short line."""
    return x


@task
def documented(x: int, y: int) -> int:
    """Add two numbers.

    The long part, with *markup*,
    over two lines.

    :param x: the first
    :param y: the second
    """
    return x + y


@task(docs=Documentation(short_description="given", long_description=Description(
    value="# Title\\ntext", format=Description.DescriptionFormat.MARKDOWN, icon_link="https://example.com/i.png")))
def given(x: int) -> int:
    return x


@task(docs=Documentation(short_description="overridden by the docstring"))
def both(x: int) -> int:
    """Docstring short.

    Args:
        x: the input
    """
    return x


@workflow(docs=Documentation(short_description="wf short", long_description=Description(
    uri="https://example.com/doc.md", format=Description.DescriptionFormat.MARKDOWN),
    source_code=SourceCode(link="https://github.com/example/repo")))
def wf(x: int) -> int:
    return both(x=given(x=documented(x=one_line(x=plain(x=x)), y=1)))


@workflow
def described(x: int) -> int:
    """Workflow short.

    Workflow long
    on two lines.
    """
    return plain(x=x)


@workflow
def google(x: int, y: int = 2) -> int:
    """Google style.

    Args:
        x: the x
        y (int): the y,
            over two lines
    Returns:
        the total
    """
    return documented(x=x, y=y)


plan = LaunchPlan.get_or_create(google, name="google_plan", default_inputs={"x": 5})
'''


def _flows(root: Path) -> Path:
    (root / "pk").mkdir(parents=True, exist_ok=True)
    (root / "pk" / "__init__.py").write_text("")
    path = root / "pk" / "docs.py"
    path.write_text(FLYTEKIT_DOCS)
    return path


@pytest.mark.slow
def test_descriptions_serialize_as_pyflyte_package_writes_them(cli, tmp_path):
    pytest.importorskip("flytekit", reason="flytekit is in the test extra")
    from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
    from google.protobuf import json_format

    root = tmp_path / "proj"
    flows = _flows(root)
    archive = tmp_path / "pyflyte.tgz"
    done = subprocess.run([pyflyte_program("pyflyte"), "--pkgs", "pk", "package", "--image", "img:1", "-o",
                           str(archive)], cwd=root, capture_output=True, text=True, timeout=180,
                          env=clean_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    theirs, their_variables, their_parameters = {}, {}, {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            kind = member.name[:-3].rsplit("_", 1)[-1]
            if kind in ("1", "2"):
                message = (task_pb2.TaskSpec if kind == "1" else workflow_pb2.WorkflowSpec).FromString(
                    tar.extractfile(member).read())
                theirs[message.template.id.name] = json_format.MessageToDict(message.description,
                                                                             preserving_proto_field_name=True)
                their_variables[message.template.id.name] = _variable_texts(message.template.interface)
            if kind == "3":
                plan = launch_plan_pb2.LaunchPlan.FromString(tar.extractfile(member).read())
                their_parameters[plan.id.name] = {k: p.var.description
                                                  for k, p in plan.spec.default_inputs.parameters.items()}
    out = tmp_path / "flyrun-out"
    packaged = cli("package", "--flytekit-compat", str(flows), "--output-dir", str(out), "--image", "img:1")
    assert packaged.exit_code == 0, packaged.output
    ours, our_variables = {}, {}
    for folder in ("tasks", "workflows"):
        for path in (out / folder).glob("*.json"):
            spec = json.loads(path.read_text())
            # what flyrun writes parses strictly as the admin message pyflyte wrote
            message = (task_pb2.TaskSpec if folder == "tasks" else workflow_pb2.WorkflowSpec)()
            json_format.ParseDict(spec, message, ignore_unknown_fields=False)
            ours[spec["template"]["id"]["name"]] = json_format.MessageToDict(message.description,
                                                                             preserving_proto_field_name=True)
            our_variables[message.template.id.name] = _variable_texts(message.template.interface)
    assert set(ours) == set(theirs) == {f"pk.docs.{n}" for n in (
        "plain", "one_line", "documented", "given", "both", "wf", "described", "google")}
    # Interface variables and launch plan parameters are described by the docstring, as pyflyte describes them.
    assert our_variables == their_variables
    assert our_variables["pk.docs.google"] == {"inputs": {"x": "the x", "y": "the y,\nover two lines"},
                                               "outputs": {"o0": "the total"}}
    for name, texts in their_parameters.items():
        plan = json.loads((out / "launch_plans" / f"{name}.json").read_text())
        assert {k: p["var"]["description"] for k, p in plan["default_inputs"]["parameters"].items()} == \
            texts, name
    assert their_parameters["google_plan"] == {"x": "x", "y": "the y,\nover two lines"}
    for name in theirs:
        assert ours[name] == theirs[name], name
    assert ours["pk.docs.documented"]["long_description"]["value"] == "The long part, with *markup*,\nover two lines."


def _variable_texts(interface) -> dict:
    return {"inputs": {k: v.description for k, v in interface.inputs.variables.items()},
            "outputs": {k: v.description for k, v in interface.outputs.variables.items()}}


DOCSTRINGS = [
    "Short.",
    "Short.\nLong directly.",
    "A two\nline short.\n\nLong.\n\n:param x: the x\n:return: y",
    "Short.\n\nLong para 1.\n\nLong para 2.\nArgs:\n    x: y",
    "Google style.\n\n    More text.\n\n    Args:\n        x: the x\n    Returns:\n        y\n    ",
    "Numpy style.\n\nText.\n\nParameters\n----------\nx : int\n    the x\n",
    "\n    Indented.\n\n    Body line one.\n      indented more.\n    ",
    ":param x: the first\n:param y: the second\n    continued here\n:return: the sum",
    "Short.\n\n:param int x: typed\n:returns: out",
    "Short.\n\nArgs:\n    x: the input x\n    y (int): the y\n        more y\nReturns:\n    the result",
    "Short.\n\nArgs:\n    x: the x\nReturns:\n    int: the result",
    "Short.\n\nParameters\n----------\nx : int\n    the x\ny\n    the y\n\nReturns\n-------\ntotal : int\n"
    "    the total\n",
]


@pytest.mark.parametrize("doc", DOCSTRINGS)
def test_docstrings_split_as_flytekits_parser_splits_them(doc):
    parser = pytest.importorskip("docstring_parser", reason="flytekit's dependency, in the test extra")
    from flyrun.sdk.docs import docstring_parts, docstring_variables

    parsed = parser.parse(doc)
    assert docstring_parts(doc) == (parsed.short_description, parsed.long_description)
    assert docstring_variables(doc) == ({p.arg_name: p.description for p in parsed.params},
                                        {r.return_name: r.description for r in parsed.many_returns})


def test_the_names_are_flytekits():
    import flyrun
    from flyrun.sdk.docs import Description, Documentation, SourceCode

    assert (flyrun.Documentation, flyrun.Description, flyrun.SourceCode) == (Documentation, Description, SourceCode)
    docs = Documentation(short_description="s", long_description=Description(uri="https://x"),
                         source_code=SourceCode(link="https://y"))
    assert docs.to_wire() == {"short_description": "s",
                              "long_description": {"uri": "https://x", "format": "DESCRIPTION_FORMAT_RST"},
                              "source_code": {"link": "https://y"}}


@pytest.mark.parametrize(("setting", "message"), [
    ("docs='text'", "task 'flows.t': docs must be a Documentation(...), not str"),
    ("docs=Documentation(long_description='text')", "Documentation: long_description must be a Description(...)"),
    ("docs=Documentation(long_description=Description(value='a', uri='b'))",
     "Description: give value or uri, not both"),
    ("docs=Documentation(long_description=Description(value='a', format='md'))",
     "Description: format must be a Description.DescriptionFormat (MARKDOWN, HTML, RST), not 'md'"),
    ("docs=Documentation(short_description=3)", "Documentation: short_description must be a string, not 3"),
    ("docs=Documentation(source_code='https://x')", "Documentation: source_code must be a SourceCode(link=...)"),
])
def test_bad_docs_are_one_line(cli, project, setting, message):
    root = project({"flows.py": f'''
        from flyrun import Description, Documentation, task

        @task({setting})
        def t(x: int) -> int:
            return x
        '''})
    done = cli("run", str(root / "flows.py"), "t", "--x", "1")
    assert done.exit_code == 2, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.lower().startswith("hint:")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_a_workflow_with_bad_docs_is_one_line(cli, project):
    root = project({"flows.py": '''
        from flyrun import task, workflow

        @task
        def t(x: int) -> int:
            return x

        @workflow(docs={"short_description": "x"})
        def wf(x: int) -> int:
            return t(x=x)
        '''})
    done = cli("run", str(root / "flows.py"), "wf", "--x", "1")
    assert done.exit_code == 2, done.output
    assert "workflow 'flows.wf': docs must be a Documentation(...), not dict" in done.stderr


@pytest.mark.slow
def test_documented_entities_register_and_run_on_the_sandbox(remote, sandbox_server, tmp_path):
    flows = _flows(tmp_path / "proj")
    done = remote("run", "--flytekit-compat", "--remote", "--wait", "-o", "json", str(flows), "wf", "--x", "1")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": 2}
    url = sandbox_server["url"]
    for kind, name, short in (("tasks", "pk.docs.documented", "Add two numbers."),
                              ("workflows", "pk.docs.wf", "wf short")):
        listed = requests.get(f"{url}/api/v1/{kind}/flytesnacks/development/{name}?limit=100",
                              timeout=30)
        assert listed.status_code == 200, listed.text
        assert {entity["short_description"] for entity in listed.json()[kind]} == {short}
        # FlyteAdmin's description entity of what was registered, under the entity's own id
        version = listed.json()[kind][0]["id"]["version"]
        resource = "TASK" if kind == "tasks" else "WORKFLOW"
        got = requests.get(f"{url}/api/v1/description_entities/{resource}/flytesnacks/development/{name}/{version}",
                           timeout=30)
        assert got.status_code == 200, got.text
        assert got.json()["short_description"] == short and got.json()["id"]["name"] == name
    entity = got.json()  # the workflow's: all three parts, as given
    assert entity["long_description"] == {"uri": "https://example.com/doc.md",
                                          "format": "DESCRIPTION_FORMAT_MARKDOWN", "icon_link": ""}
    assert entity["source_code"] == {"link": "https://github.com/example/repo"}
    missing = requests.get(f"{url}/api/v1/description_entities/TASK/flytesnacks/development/nothing/v1", timeout=30)
    assert missing.status_code == 404 and "no description entity for task" in missing.json()["message"]
    plan = requests.get(f"{url}/api/v1/description_entities/LAUNCH_PLAN/flytesnacks/development/x/v1", timeout=30)
    assert plan.status_code == 400, plan.text
