"""Container tasks (Flyte raw containers) and pod templates, run locally on the host or through a docker CLI."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

CONTAINER = str(REPO / "examples" / "container.py")

FLOWS = '''
import datetime as dt
from dataclasses import dataclass
from typing import Dict, List, Optional
from flyrun import ContainerTask, PodTemplate, Resources, kwtypes, task, workflow

@dataclass
class Point:
    x: int
    y: int

def py(code):
    """A command that runs Python code on the host (or in an image with python)."""
    return ["python", "-c", code]

'''

# A stand-in for the docker CLI: `info` answers like a running engine (or not, with FAKE_DOCKER_DOWN); `run` logs
# its arguments and runs the command on the host with the volumes mapped, as a container would see them.
FAKE_DOCKER = '''#!{python}
import json, os, subprocess, sys
args = sys.argv[1:]
if args[:1] == ["info"]:
    if os.environ.get("FAKE_DOCKER_DOWN"):
        print("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
assert args[:2] == ["run", "--rm"], args
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
rest, volumes, env = args[2:], [], dict(os.environ)
while rest[0] in ("-v", "-e"):
    flag, value, rest = rest[0], rest[1], rest[2:]
    if flag == "-v":
        volumes.append(value.split(":"))
    else:
        key, _, val = value.partition("=")
        env[key] = val
image, command = rest[0], rest[1:]
for host, inside in volumes:
    command = [word.replace(inside, host) for word in command]
sys.exit(subprocess.run(command, env=env).returncode)
'''


@pytest.fixture(autouse=True)
def python_on_path(tmp_path, monkeypatch):
    """Commands say `python`, as they would in an image; on the host that is the interpreter running the tests."""
    bin_dir = tmp_path / "python-bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    """A bin folder with only a fake `docker` on PATH (no podman); returns the log of `docker run` calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    (bin_dir / "python").symlink_to(sys.executable)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    return log


@pytest.mark.slow
def test_seed_example_runs_on_the_host(cli):
    result = cli("-o", "json", "run", CONTAINER, "ct", "--a", "2", "--b", "3", "--container-runtime", "host")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outputs"] == {"area": 18.84955592153876,
                                                    "metadata": "ellipse with semi-axes 2.0 and 3.0"}
    workflow = cli("run", CONTAINER, "ellipse", "--a", "1", "--b", "1", "--container-runtime", "host")
    assert (workflow.exit_code, workflow.stdout) == (0, "o0: 3.141592653589793\n"), workflow.stderr


# Runs flyrun as a fresh Python without the kubernetes package: its import fails as on a machine after `make install`.
WITHOUT_KUBERNETES = """
import runpy, sys

class NoKubernetes:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "kubernetes":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoKubernetes())
sys.argv[0] = "flyrun"
runpy.run_module("flyrun.cli.main", run_name="__main__")
"""


def test_the_seed_example_without_the_kubernetes_extra_says_how_to_install_it(tmp_path):
    import subprocess

    run = subprocess.run([sys.executable, "-c", WITHOUT_KUBERNETES, "run", str(REPO / "examples" / "container.py"),
                          "ellipse", "--a", "2", "--b", "3", "--container-runtime", "host"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [f"Error: {REPO / 'examples' / 'container.py'}:10: No module named "
                                       "'kubernetes': pip install 'flyrun[kubernetes]'"]


def test_listing_names_container_tasks_by_their_variable(cli, project):
    root = project({"flows.py": FLOWS + 'ct = ContainerTask(name="ellipse-area", image="i", command=["true"], '
                                        'inputs=kwtypes(a=float))\n'})
    result = cli("run", str(root / "flows.py"))
    assert "  ct(a: float)" in result.stdout


def test_inputs_are_laid_out_as_flytes_copilot_does(cli, project):
    code = textwrap.dedent('''
        import base64, json, os, pathlib
        src, out = pathlib.Path("/var/inputs"), pathlib.Path("/var/outputs")
        files = {}
        for path in sorted(src.rglob("*")):
            if path.is_file() and path.name != "inputs.pb":
                files[str(path.relative_to(src))] = path.read_text()
        out.joinpath("files").write_text(json.dumps(files))
        out.joinpath("pb").write_text(base64.b64encode(src.joinpath("inputs.pb").read_bytes()).decode())
    ''')
    root = project({"flows.py": FLOWS + f'''
ct = ContainerTask(name="layout", image="python:3.11", input_data_dir="/var/inputs", output_data_dir="/var/outputs",
                   inputs=kwtypes(i=int, f=float, s=str, b=bool, d=dt.timedelta, xs=List[int], m=Dict[str, float],
                                  p=Point),
                   outputs=kwtypes(files=str, pb=str), command=py({code!r}))
'''})
    result = cli("-o", "json", "run", "--container-runtime", "host", str(root / "flows.py"), "ct", "--i", "5",
                 "--f", "2.0", "--s", "hi there", "--b", "--d", "1h30m", "--xs", "[1, 2]", "--m", '{"k": 0.5}',
                 "--p", '{"x": 1, "y": 2}')
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    files = json.loads(outputs["files"])
    assert {k: v for k, v in files.items() if k != "inputs.json"} == {
        "i": "5", "f": "2", "s": "hi there", "b": "true", "d": "1h30m0s", "xs/0": "1", "xs/1": "2", "m/k": "0.5",
        "p": '{"x":1,"y":2}'}
    assert json.loads(files["inputs.json"]) == {"i": 5, "f": 2.0, "s": "hi there", "b": True,
                                                "d": 5400000000000, "xs": [1, 2], "m": {"k": 0.5},
                                                "p": {"x": 1, "y": 2}}
    from flyteidl.core import literals_pb2

    literal_map = literals_pb2.LiteralMap.FromString(base64.b64decode(outputs["pb"]))
    assert literal_map.literals["i"].scalar.primitive.integer == 5
    assert list(literal_map.literals["xs"].collection.literals)[1].scalar.primitive.integer == 2


def test_yaml_metadata_format_writes_inputs_yaml(cli, project):
    root = project({"flows.py": FLOWS + '''
ct = ContainerTask(name="yaml", image="i", input_data_dir="/in", output_data_dir="/out", metadata_format="YAML",
                   inputs=kwtypes(n=int), outputs=kwtypes(text=str),
                   command=py("import shutil; shutil.copy('/in/inputs.yaml', '/out/text')"))
'''})
    result = cli("run", "--container-runtime", "host", str(root / "flows.py"), "ct", "--n", "3")
    assert (result.exit_code, result.stdout) == (0, "text: n: 3\n"), result.stderr


def test_command_templates_are_filled_in_as_propeller_does(cli, project):
    root = project({"flows.py": FLOWS + '''
ct = ContainerTask(name="args", image="i", output_data_dir="/var/outputs",
                   inputs=kwtypes(f=float, big=float, i=int, b=bool, xs=List[int], d=dt.timedelta, when=dt.datetime),
                   outputs=kwtypes(args=str),
                   command=py("import json, sys; open('/var/outputs/args', 'w').write(json.dumps(sys.argv[1:]))"),
                   arguments=["{{.inputs.f}}", "{{ .Inputs.big }}", "i={{.inputs.i}}", "{{$inputs.b}}",
                              "{{.inputs.xs}}", "{{.inputs.d}}", "{{.inputs.when}}"])
'''})
    result = cli("-o", "json", "run", "--container-runtime", "host", str(root / "flows.py"), "ct", "--f", "3.0",
                 "--big", "1e6", "--i", "7", "--no-b", "--xs", "[1, 2]", "--d", "90", "--when", "2024-05-01T12:00:00Z")
    assert result.exit_code == 0, result.stderr
    args = json.loads(json.loads(result.stdout)["outputs"]["args"])
    assert args == ["3", "1e+06", "i=7", "false", "[1,2]", "1m30s", "2024-05-01T12:00:00Z"]


def test_outputs_of_every_simple_type_are_read_from_files(cli, project):
    code = textwrap.dedent('''
        import pathlib
        out = pathlib.Path("/var/outputs")
        values = {"i": " 42\\n", "f": "2.5", "b": "True", "s": "text", "when": "2024-05-01T12:00:00Z",
                  "d": "1h2m3.5s", "p": '{"x": 3, "y": 4}'}
        for name, text in values.items():
            out.joinpath(name).write_text(text)
        print("done writing")
    ''')
    root = project({"flows.py": FLOWS + f'''
ct = ContainerTask(name="typed", image="i", output_data_dir="/var/outputs", command=py({code!r}),
                   outputs=kwtypes(i=int, f=float, b=bool, s=str, when=dt.datetime, d=dt.timedelta, p=Point))
'''})
    result = cli("-o", "json", "run", "--container-runtime", "host", str(root / "flows.py"), "ct")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outputs"] == {
        "i": 42, "f": 2.5, "b": True, "s": "text", "when": "2024-05-01T12:00:00+00:00", "d": "3723.5s",
        "p": {"x": 3, "y": 4}}
    assert "[typed] done writing" in result.stderr


RUN_FAILURES = {
    "exit_status": ('import sys; print("bad things", file=sys.stderr); sys.exit(3)',
                    "task boom failed: ContainerFailed: the command exited with status 3: bad things"),
    "missing_output": ("pass", "task boom failed: ContainerOutputError: output 'n': the container did not write "
                               "/var/outputs/n"),
    "error_file": ("open('/var/outputs/_ERROR', 'w').write('out of llamas')",
                   "task boom failed: ContainerOutputError: the container reported an error: out of llamas"),
    "wrong_type": ("open('/var/outputs/n', 'w').write('many')",
                   "output 'n': 'many' is not a valid int"),
    "too_large": ("open('/var/outputs/n', 'w').write('1' * 2000)",
                  "output 'n': /var/outputs/n holds 2000 bytes; a simple value may have at most 1024"),
    "timeout": ("import time; time.sleep(5)", "task boom failed: ContainerFailed: timed out after 0.5 s"),
}


def test_a_command_that_does_not_exist_fails_the_run(cli, project):
    root = project({"flows.py": FLOWS + 'ct = ContainerTask(name="nope", image="i", command=["no-such-command-x"])\n'})
    result = cli("run", "--container-runtime", "host", str(root / "flows.py"), "ct")
    assert result.exit_code == 6
    assert "Error: task nope failed: ContainerFailed: command not found: no-such-command-x" in result.stderr


@pytest.mark.parametrize("case", sorted(RUN_FAILURES))
def test_container_failures_exit_6(cli, project, case):
    code, message = RUN_FAILURES[case]
    # Only the timeout case may be cut short: on a busy machine Python alone can take longer than 0.5 s to start.
    timeout = 0.5 if case == "timeout" else 120
    root = project({"flows.py": FLOWS + f'''
ct = ContainerTask(name="boom", image="i", output_data_dir="/var/outputs", outputs=kwtypes(n=int),
                   command=py({code!r}), timeout={timeout})
'''})
    result = cli("run", "--container-runtime", "host", str(root / "flows.py"), "ct")
    assert result.exit_code == 6, result.output
    assert message in result.stderr and result.stdout == ""


ELLIPSE = """
ct = ContainerTask(name="ellipse-area", image="i", command=["true"], inputs=kwtypes(a=float, b=float))

@workflow
def ellipse(a: float, b: float) -> None:
    ct(a=a, b=b)
"""


def test_without_a_working_runtime_the_error_names_both_ways_out(cli, fake_docker, monkeypatch, project):
    monkeypatch.setenv("FAKE_DOCKER_DOWN", "1")
    root = project({"flows.py": FLOWS + ELLIPSE})
    result = cli("run", str(root / "flows.py"), "ellipse", "--a", "2", "--b", "3")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: container task ellipse-area needs a container runtime, and none works "
                                    "here: `docker info` failed: Cannot connect to the Docker daemon")
    assert "podman is not installed (not on PATH)" in result.stderr
    assert "Hint: start Docker or Podman, or run the command on this machine with --container-runtime host" \
        in result.stderr
    asked = cli("run", str(root / "flows.py"), "ellipse", "--a", "2", "--b", "3", "--container-runtime", "podman")
    assert asked.exit_code == 2
    assert "--container-runtime podman: podman is not installed (not on PATH)" in asked.stderr
    assert not fake_docker.exists()


def test_a_working_docker_gets_the_data_dirs_mounted(cli, fake_docker, project):
    root = project({"flows.py": FLOWS + '''
ct = ContainerTask(name="env", image="registry/img:1", input_data_dir="/var/inputs", output_data_dir="/var/outputs",
                   inputs=kwtypes(n=int), outputs=kwtypes(text=str), environment={"GREETING": "hi"},
                   command=py("import os; n = open('/var/inputs/n').read(); "
                              "open('/var/outputs/text', 'w').write(os.environ['GREETING'] + ' ' + n)"))
'''})
    result = cli("run", str(root / "flows.py"), "ct", "--n", "4")
    assert (result.exit_code, result.stdout) == (0, "text: hi 4\n"), result.stderr
    (args,) = [json.loads(line) for line in fake_docker.read_text().splitlines()]
    assert args[:2] == ["run", "--rm"]
    volumes = [args[i + 1] for i, word in enumerate(args) if word == "-v"]
    assert [v.split(":")[1] for v in volumes] == ["/var/inputs", "/var/outputs"]
    assert all(Path(v.split(":")[0]).is_dir() for v in volumes)
    assert args[args.index("-e") + 1] == "GREETING=hi"
    assert args[args.index("registry/img:1") + 1:][:2] == ["python", "-c"]


DEFINITION_ERRORS = {
    "no_output_dir": ('ct = ContainerTask(name="x", image="i", command=["true"], outputs=kwtypes(n=int))\n',
                      "ContainerTask 'x': it declares outputs (n) but no output_data_dir to read them from"),
    "unknown_template": ('ct = ContainerTask(name="x", image="i", command=["echo", "{{.inputs.c}}"], '
                         'inputs=kwtypes(a=int))\n', "the command refers to {{.inputs.c}} but the inputs are: a"),
    "bad_format": ('ct = ContainerTask(name="x", image="i", command=["true"], metadata_format="XML")\n',
                   "metadata_format must be one of JSON, YAML, PROTO, not 'XML'"),
    "non_string_word": ('ct = ContainerTask(name="x", image="i", command=["sleep", 5])\n',
                        "every word of command must be a string; 5 is int"),
    "empty_command": ('ct = ContainerTask(name="x", image="i", command=[])\n',
                      "command must be a non-empty list of strings"),
    "relative_dir": ('ct = ContainerTask(name="x", image="i", command=["true"], input_data_dir="in")\n',
                     "input_data_dir must be an absolute path inside the container"),
    "list_output": ('ct = ContainerTask(name="x", image="i", command=["true"], output_data_dir="/o", '
                    'outputs=kwtypes(xs=List[int]))\n', "output 'xs' is List[int]; a container's outputs are"),
    "bad_env": ('ct = ContainerTask(name="x", image="i", command=["true"], environment={"A": 1})\n',
                "environment must be a dict of strings to strings"),
    "pod_spec_type": ('pt = PodTemplate(pod_spec="spec")\n', "PodTemplate: pod_spec must be a kubernetes V1PodSpec or"
                                                             " a dict, not str"),
    "pod_labels": ('pt = PodTemplate(pod_spec={}, labels={"a": 1})\n', "labels must be a dict of strings"),
    "task_pod_template": ('@task(pod_template={"containers": []})\ndef t() -> None:\n    pass\n',
                          "pod_template must be a flyrun PodTemplate, not dict"),
    "pod_template_name": ('@task(pod_template_name="")\ndef t() -> None:\n    pass\n',
                          "pod_template_name must be a non-empty string"),
    "dict_template": ('ct = ContainerTask(name="t", image="i", command=["echo", "{{.inputs.m}}"], '
                      'inputs=kwtypes(m=Dict[str, int]))\n',
                      "{{.inputs.m}} is Dict[str, int]; only simple values, files and lists of them can be put"),
    "container_pod_template": ('ct = ContainerTask(name="x", image="i", command=["true"], pod_template=3)\n',
                               "pod_template must be a flyrun PodTemplate, not int"),
}


@pytest.mark.parametrize("case", sorted(DEFINITION_ERRORS))
def test_definition_errors_exit_2(cli, project, case):
    body, message = DEFINITION_ERRORS[case]
    root = project({"flows.py": FLOWS + body})
    result = cli("run", str(root / "flows.py"), "ct")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "flows.py:" in result.stderr and "Traceback" not in result.stderr


def test_pod_templates_serialize_to_kubernetes_json_and_python_tasks_take_them(cli, project):
    root = project({"flows.py": FLOWS + '''
from kubernetes.client import V1Container, V1PodSpec, V1Toleration

spec = V1PodSpec(containers=[V1Container(name="primary")], tolerations=[
    V1Toleration(effect="NoSchedule", key="ng", operator="Exists")])
spec.runtime_class_name = "nvidia"
pt = PodTemplate(pod_spec=spec, labels={"team": "a"}, annotations={"note": "b"}, primary_container_name="primary")

@task(pod_template=pt, pod_template_name="base")
def hello(name: str) -> str:
    return f"hello {name}"
'''})
    result = cli("run", str(root / "flows.py"), "hello", "--name", "pod")
    assert (result.exit_code, result.stdout) == (0, "o0: hello pod\n"), result.stderr

    sys.path.insert(0, str(root))
    try:
        import flows
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("flows", None)
    assert flows.hello.pod_template is flows.pt and flows.hello.pod_template_name == "base"
    assert flows.pt.pod_spec_dict == {"containers": [{"name": "primary"}], "runtimeClassName": "nvidia",
                                      "tolerations": [{"effect": "NoSchedule", "key": "ng", "operator": "Exists"}]}
    from flyrun import PodTemplate

    as_dict = PodTemplate(pod_spec=flows.pt.pod_spec_dict, labels={"team": "a"}, annotations={"note": "b"})
    assert as_dict.version_hash() == flows.pt.version_hash() and len(as_dict.version_hash()) == 64


def test_seed_container_task_is_descriptive_for_serialization():
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import container

        _check_seed_container_task(container)
    finally:
        sys.path.remove(str(REPO / "examples"))
        sys.modules.pop("container", None)


def _check_seed_container_task(container):
    ct = container.ct
    assert (ct.task_type, ct.name, ct.image) == ("raw-container", "ellipse-area", "python:3.11-slim")
    assert (ct.input_data_dir, ct.output_data_dir, ct.metadata_format) == ("/var/inputs", "/var/outputs", "JSON")
    assert ct.command[:2] == ["python", "-c"] and ct.referenced_inputs() == ["b"]
    assert ct.pod_template_name == "my-base-template" and ct.pod_template.labels == {"somelabel": "foobar"}
    assert ct.pod_template.pod_spec_dict["runtimeClassName"] == "nvidia"
    assert (ct.module, ct.attribute) == ("container", "ct")
    assert os.path.basename(container.__file__) == "container.py"
