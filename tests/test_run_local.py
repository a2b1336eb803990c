"""`flyrun run` locally: targets, inputs, outputs and the exit codes of bad input."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

HELLO = str(REPO / "examples" / "hello.py")
REPORT = REPO / "examples" / "project" / "flows" / "pipelines" / "report.py"

TYPED = '''
    import datetime as dt
    from dataclasses import dataclass
    from enum import Enum
    from typing import Dict, List, Optional
    from flyrun import task, workflow

    class Color(Enum):
        RED = "red"
        BLUE = "blue"

    @dataclass
    class Inner:
        n: int

    @dataclass
    class Outer:
        name: str
        inner: Inner
        tags: List[str]

    @task
    def describe(i: int, f: float, s: str, b: bool, when: dt.datetime, wait: dt.timedelta, color: Color,
                 xs: List[int], m: Dict[str, float], o: Outer, maybe: Optional[int] = None) -> str:
        return (f"{i}|{f}|{s}|{b}|{when.isoformat()}|{wait.total_seconds()}|{color.value}|{sum(xs)}|"
                f"{sorted(m.items())}|{o.name}/{o.inner.n}/{','.join(o.tags)}|{maybe}")

    @task
    def boom(x: int) -> int:
        raise ValueError(f"bad x {x}")

    @workflow
    def fails(x: int = 1) -> int:
        return boom(x=x)
'''


def test_hello_runs_and_prints_output(cli):
    result = cli("run", HELLO, "wf", "--x", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "o0: Hello world, the answer is 9\n"


def test_json_output_is_one_document(cli):
    for args in (("-o", "json", "run", HELLO, "wf", "--x", "4"), ("run", HELLO, "wf", "--x", "4", "-o", "json"),
                 ("run", "-o", "json", HELLO, "wf", "--x", "4")):
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == {"outputs": {"o0": "Hello world, the answer is 16"}}


def test_file_colon_entity_and_defaults(cli):
    result = cli("run", f"{HELLO}:wf", "--name", "flyrun")
    assert result.stdout == "o0: Hello flyrun, the answer is 4\n"


def test_a_task_runs_directly(cli):
    result = cli("run", HELLO, "square", "--x", "7")
    assert (result.exit_code, result.stdout) == (0, "o0: 49\n")


def test_listing_a_file(cli):
    result = cli("run", HELLO)
    assert result.exit_code == 0
    assert "wf(x: int = 2, name: str = 'world') -> o0: str" in result.stdout
    assert "square(x: int) -> o0: int" in result.stdout


def test_entity_help_lists_inputs(cli):
    result = cli("run", HELLO, "wf", "--help")
    assert result.exit_code == 0
    assert "--x INT" in result.stdout and "default: 2" in result.stdout


def test_multi_module_project_from_another_directory(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rects = '[{"width": 2, "height": 3}, {"width": 1, "height": 1}]'
    result = cli("-o", "json", "run", str(REPORT), "report", "--rects", rects, "--factor", "2")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outputs"] == {"total_area": 31.0, "largest": 24.0}


def test_multi_module_project_with_relative_path_and_verbose_root(cli, monkeypatch):
    monkeypatch.chdir(REPO / "examples")
    result = cli("run", "-v", "project/flows/pipelines/report.py", "one", "--rect", "width: 1\nheight: 2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "o0: 8.0\n"
    assert f"project root: {REPO / 'examples' / 'project'}; module: flows.pipelines.report" in result.stderr


def test_dotted_module_target(cli, monkeypatch):
    monkeypatch.chdir(REPO / "examples" / "project")
    result = cli("run", "flows.pipelines.report", "one", "--rect", '{"width": 1, "height": 1}')
    assert (result.exit_code, result.stdout) == (0, "o0: 4.0\n"), result.stderr


def test_flat_scripts_import_each_other(cli, project, monkeypatch):
    root = project({
        "helpers.py": "from flyrun import task\n@task\ndef double(x: int) -> int:\n    return 2 * x\n",
        "main.py": "from helpers import double\nfrom flyrun import workflow\n"
                   "@workflow\ndef wf(x: int) -> int:\n    return double(x=double(x=x))\n",
    })
    monkeypatch.chdir(root.parent)
    result = cli("run", "proj/main.py", "wf", "--x", "5")
    assert (result.exit_code, result.stdout) == (0, "o0: 20\n"), result.stderr


def test_src_layout_with_root_dir(cli, project, monkeypatch):
    root = project({
        "src/app/__init__.py": "",
        "src/app/flows/__init__.py": "",
        "src/app/flows/wf.py": "from app.tasks import inc\nfrom flyrun import workflow\n"
                               "@workflow\ndef wf(x: int) -> int:\n    return inc(x=x)\n",
        "src/app/tasks.py": "from flyrun import task\n@task\ndef inc(x: int) -> int:\n    return x + 1\n",
    })
    monkeypatch.chdir(root)
    result = cli("run", "-v", "--root-dir", "src", "src/app/flows/wf.py", "wf", "--x", "1")
    assert (result.exit_code, result.stdout) == (0, "o0: 2\n"), result.stderr
    assert "module: app.flows.wf" in result.stderr


def test_entity_name_alone_is_found_by_scanning(cli, project, monkeypatch):
    root = project({"a/flow.py": "from flyrun import task\n@task\ndef solo(x: int) -> int:\n    return x\n",
                    "b/other.py": "raise SystemExit('never imported')\n"})
    monkeypatch.chdir(root)
    result = cli("run", "solo", "--x", "9")
    assert (result.exit_code, result.stdout) == (0, "o0: 9\n"), result.stderr


def test_ambiguous_entity_name_lists_candidates(cli, project, monkeypatch):
    code = "from flyrun import task\n@task\ndef twin(x: int) -> int:\n    return x\n"
    root = project({"a.py": code, "b.py": code})
    monkeypatch.chdir(root)
    result = cli("run", "twin", "--x", "1")
    assert result.exit_code == 2
    assert "'twin' is ambiguous" in result.stderr and "a.py" in result.stderr and "b.py" in result.stderr


def test_every_type_from_the_command_line(cli, project):
    root = project({"typed.py": TYPED})
    result = cli("run", str(root / "typed.py"), "describe", "--i", "1", "--f", "2.5", "--s", "hi", "--b",
                 "--when", "2024-05-01T12:00:00", "--wait", "1h30m", "--color", "blue", "--xs", "[1, 2, 3]",
                 "--m", '{"a": 1.5}', "--o", '{"name": "n", "inner": {"n": 4}, "tags": ["x", "y"]}')
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ("o0: 1|2.5|hi|True|2024-05-01T12:00:00+00:00|5400.0|blue|6|[('a', 1.5)]|"
                             "n/4/x,y|None\n")


def test_inputs_file_yaml_and_stdin(cli, project, tmp_path):
    root = project({"typed.py": TYPED})
    values = {"i": 1, "f": 2, "s": "hi", "b": False, "when": "2024-05-01T00:00:00Z", "wait": 90,
              "color": "red", "xs": [1], "m": {}, "o": {"name": "n", "inner": {"n": 1}, "tags": []}, "maybe": 3}
    file = tmp_path / "inputs.yaml"
    file.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in values.items()))
    result = cli("run", str(root / "typed.py"), "describe", "--inputs-file", str(file), "--s", "flag-wins")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("o0: 1|2.0|flag-wins|False|2024-05-01T00:00:00+00:00|90.0|red|1|[]|n/1/|3")
    result = cli("run", "--inputs-file", "-", str(root / "typed.py"), "describe", stdin=json.dumps(values))
    assert result.exit_code == 0, result.stderr
    assert "|hi|" in result.stdout


def test_task_that_raises_exits_6_with_user_frames(cli, project):
    root = project({"typed.py": TYPED})
    result = cli("run", str(root / "typed.py"), "fails", "--x", "5")
    assert result.exit_code == 6
    assert "Error: task typed.boom failed: ValueError: bad x 5" in result.stderr
    assert "typed.py" in result.stderr and 'raise ValueError(f"bad x {x}")' in result.stderr
    assert "flyrun/sdk" not in result.stderr
    assert result.stdout == ""


BAD_INPUT = [
    (("run", "missing.py", "wf"), "file not found: missing.py"),
    (("run", str(REPO / "pyproject.toml"), "wf"), "is not a Python file"),
    (("run", HELLO, "nope"), "has no task or workflow named 'nope'; available: square, greet, wf"),
    (("run", HELLO, "square"), "missing required input --x (int)"),
    (("run", HELLO, "wf", "--x", "abc"), "'abc' is not a valid integer"),
    # click words this one (8.1: "No such option: --bogus", 8.4: "No such option '--bogus'"); its gist is stable.
    (("run", HELLO, "wf", "--bogus", "1"), "No such option"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_exits_2_with_one_line(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: ") and result.stdout == ""


def test_malformed_json_for_a_list(cli, project):
    root = project({"typed.py": TYPED})
    result = cli("run", str(root / "typed.py"), "describe", "--xs", "[1, 2", "--i", "1")
    assert result.exit_code == 2
    assert "--xs" in result.stderr and "not valid JSON or YAML for List[int]" in result.stderr


def test_syntax_error_names_file_and_line(cli, project):
    root = project({"broken.py": "from flyrun import task\n\ndef f(:\n    pass\n"})
    result = cli("run", str(root / "broken.py"), "wf")
    assert result.exit_code == 2
    assert "broken.py:3: syntax error" in result.stderr and "Traceback" not in result.stderr


def test_import_error_names_user_file_and_line(cli, project):
    root = project({"imports.py": "import os\nimport not_a_real_module_xyz\n"})
    result = cli("run", str(root / "imports.py"), "wf")
    assert result.exit_code == 2
    assert "imports.py:2: ModuleNotFoundError" in result.stderr
    assert "not_a_real_module_xyz" in result.stderr


def test_nothing_half_written_on_bad_input(cli, project, tmp_path):
    root = project({"typed.py": TYPED})
    prefix = tmp_path / "raw"
    cli("run", "--raw-output-data-prefix", str(prefix), str(root / "typed.py"), "describe", "--i", "x")
    assert not prefix.exists()


def test_global_options_also_follow_the_inputs(cli, tmp_path):
    missing = tmp_path / "missing.yaml"
    result = cli("run", HELLO, "wf", "--x", "3", "-c", str(missing), "-o", "json")
    assert result.exit_code == 0, result.stderr  # a local run without files never reads configuration
    assert json.loads(result.stdout) == {"outputs": {"o0": "Hello world, the answer is 9"}}
    result = cli("run", "--remote", "--dry-run", HELLO, "wf", "--x", "3", "-c", str(missing))
    assert result.exit_code == 3 and f"config file {missing} (from --config) does not exist" in result.stderr


def test_a_plain_dict_input_and_output_run_locally(cli, project):
    """The README promises dicts: an untyped ``dict`` annotation is a JSON object (a Struct on the wire)."""
    root = project({"loose.py": '''
        from flyrun import task, workflow

        @task
        def keys(d: dict) -> dict:
            return {"keys": sorted(d), "nested": d.get("n")}

        @workflow
        def wf(d: dict = {"x": 1}) -> dict:
            return keys(d=d)
    '''})
    result = cli("run", str(root / "loose.py"), "wf", "--d", '{"b": 1, "a": {"c": [1, 2]}, "n": null}')
    assert result.exit_code == 0, result.stderr
    assert result.stdout == 'o0: {"keys": ["a", "b", "n"], "nested": null}\n'
    assert cli("run", str(root / "loose.py"), "wf", "-o", "json").stdout.startswith('{\n  "outputs": {\n    "o0": {')
    bad = cli("run", str(root / "loose.py"), "wf", "--d", "[1, 2]")
    assert bad.exit_code == 2 and "expected a dict (a JSON object), got list [1, 2]" in bad.stderr


def test_module_dot_entity_as_one_word(cli, monkeypatch):
    monkeypatch.chdir(REPO / "examples" / "project")
    result = cli("run", "flows.pipelines.report.report", "--rects", '[{"width": 2, "height": 3}]')
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "total_area: 12.0\nlargest: 6.0\n"
    missing = cli("run", "flows.pipelines.report.nothing")
    assert missing.exit_code == 2 and "nothing" in missing.stderr and "Traceback" not in missing.stderr
