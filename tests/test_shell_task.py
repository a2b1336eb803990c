"""ShellTask with OutputLocation and FlyteFile/FlyteDirectory inputs: flytesnacks' shell_task example, locally,
serialized and on `flyrun sandbox`, with the same result."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

PROGRAM = '''
from typing import Tuple

from flyrun import FlyteDirectory, FlyteFile, kwtypes, task, workflow
from flyrun.extras.tasks.shell import OutputLocation, ShellTask



t1 = ShellTask(
    name="task_1",
    debug=True,
    script="""
    set -ex
    echo "Hey there! Let's run some bash scripts using Flyte's ShellTask."
    echo "Showcasing Flyte's Shell Task." >> {inputs.x}
    if grep "Flyte" {inputs.x}
    then
        echo "Found it!" >> {inputs.x}
    else
        echo "Not found!"
    fi
    """,
    inputs=kwtypes(x=FlyteFile),
    output_locs=[OutputLocation(var="i", var_type=FlyteFile, location="{inputs.x}")],
)

t2 = ShellTask(
    name="task_2",
    debug=True,
    script="""
    set -ex
    cp {inputs.x} {inputs.y}
    tar -zcvf {outputs.j} {inputs.y}
    """,
    inputs=kwtypes(x=FlyteFile, y=FlyteDirectory),
    output_locs=[OutputLocation(var="j", var_type=FlyteFile, location="{inputs.y}.tar.gz")],
)

t3 = ShellTask(
    name="task_3",
    debug=True,
    script="""
    set -ex
    tar -zxvf {inputs.z}
    cat {inputs.y}/$(basename {inputs.x}) | wc -m > {outputs.k}
    """,
    inputs=kwtypes(x=FlyteFile, y=FlyteDirectory, z=FlyteFile),
    output_locs=[OutputLocation(var="k", var_type=FlyteFile, location="output.txt")],
)


@task
def create_entities() -> Tuple[FlyteFile, FlyteDirectory]:
    import os, tempfile
    working_dir = tempfile.mkdtemp()
    flytefile = os.path.join(working_dir, "test.txt")
    os.open(flytefile, os.O_CREAT)
    flytedir = os.path.join(working_dir, "testdata")
    os.makedirs(flytedir, exist_ok=True)
    return FlyteFile(path=flytefile), FlyteDirectory(path=flytedir)


@task
def count(k: FlyteFile) -> int:
    with open(k.download()) as f:
        return int(f.read().strip())


@workflow
def shell_task_wf() -> int:
    x, y = create_entities()
    t1_out = t1(x=x)
    t2_out = t2(x=t1_out, y=y)
    t3_out = t3(x=x, y=y, z=t2_out)
    return count(k=t3_out)
'''


@pytest.fixture
def program(project):
    return project({"shell_flow.py": PROGRAM}) / "shell_flow.py"


def test_shell_tasks_run_locally_as_flytekit_runs_them(cli, program):
    done = cli("run", "-o", "json", str(program), "shell_task_wf")
    assert done.exit_code == 0, done.output
    # "Showcasing Flyte's Shell Task.\nFound it!\n" is 41 characters, as under pyflyte
    assert json.loads(done.stdout)["outputs"] == {"o0": 41}


def test_a_failing_script_is_a_retryable_task_failure_with_its_output(cli, project):
    root = project({"f.py": """
        from flyrun.extras.tasks.shell import ShellTask

        broken = ShellTask(name="broken", script="echo about to fail; echo oops >&2; exit 3", retries=1)
    """})
    done = cli("run", str(root / "f.py"), "broken")
    assert done.exit_code == 6, done.output
    assert "exited with code 3" in done.stderr and "oops" in done.stderr and done.stderr.count("retrying") == 1


def test_an_undeclared_name_in_the_script_is_named(cli, project):
    root = project({"f.py": """
        from flyrun import kwtypes
        from flyrun.extras.tasks.shell import ShellTask

        t = ShellTask(name="t", script="echo {inputs.y}", inputs=kwtypes(x=int))
    """})
    done = cli("run", str(root / "f.py"), "t", "--x", "1")
    assert done.exit_code == 6 and "inputs.y, which is not declared (declared: x)" in done.stderr, done.output


def test_a_shell_task_serializes_as_a_python_task_loading_its_variable(project, monkeypatch):
    from flyteidl.admin import task_pb2
    from google.protobuf import json_format

    from flyrun.idl.settings import SerializationSettings
    from flyrun.idl.tasks import task_spec

    root = project({"shell_flow.py": PROGRAM})
    monkeypatch.syspath_prepend(str(root))
    import shell_flow

    template = task_spec(shell_flow.t1, SerializationSettings(project="p", domain="d", version="v"))["template"]
    assert template["id"]["name"] == "task_1" and template["type"] == "python-task"
    assert template["container"]["args"][-4:] == ["task-module", "shell_flow", "task-name", "t1"]
    assert "blob" in template["interface"]["inputs"]["variables"]["x"]["type"]
    json_format.ParseDict({"template": template}, task_pb2.TaskSpec(), ignore_unknown_fields=False)


@pytest.mark.slow
def test_shell_tasks_on_the_sandbox(sandbox_server, tmp_path, program):
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox_server['endpoint']}\n  insecure: true\n  authType: None\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "flyrun.cli.main", "-c", str(config), "run", "--remote", "--wait",
                           "-o", "json", str(program), "shell_task_wf"], cwd=program.parent, capture_output=True,
                          text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"] == {"o0": 41}
