"""The same tasks through the local runner and through the sandbox give the same outputs and the same errors.

The raw container task reads every input the ways Flyte's copilot offers (one file each, inputs.json, inputs.pb,
``{{.inputs.x}}`` in its arguments) and writes outputs of every kind copilot reads, a boolean as Go's ``t``
included; the sandbox runs it with ``--container-runtime host``, exactly as ``flyrun run --container-runtime host``
does. Both runners call ``flyrun.protocol``, so any difference here is a runner bug.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, free_port, sandbox_cli

pytestmark = pytest.mark.slow

CONTAINER = '''
import sys
from typing import List

from flyrun import ContainerTask, FlyteDirectory, FlyteFile, kwtypes

CODE = """
import json, pathlib, sys
src, out = pathlib.Path("/var/inputs"), pathlib.Path("/var/outputs")
files = {str(p.relative_to(src)): p.read_text() for p in sorted(src.rglob("*"))
         if p.is_file() and p.name not in ("inputs.pb", "inputs.json") and not p.parent.name in ("ff", "fd")}
files["ff"] = (src / "ff").read_text()
files["fd"] = sorted(p.name + "=" + p.read_text() for p in (src / "fd").iterdir())
shape = json.loads((src / "inputs.json").read_text())
shape["ff"], shape["fd"] = pathlib.Path(shape["ff"]).name, pathlib.Path(shape["fd"]).name
from flyteidl.core import literals_pb2
pb = literals_pb2.LiteralMap.FromString((src / "inputs.pb").read_bytes())
pb = {"names": sorted(pb.literals), "i": pb.literals["i"].scalar.primitive.integer,
      "xs": [x.scalar.primitive.integer for x in pb.literals["xs"].collection.literals]}
out.joinpath("layout").write_text(json.dumps({"files": files, "inputs.json": shape, "pb": pb}, sort_keys=True))
out.joinpath("args").write_text(json.dumps(sys.argv[1:]))
i = int((src / "i").read_text())
out.joinpath("n").write_text(str(i * 2) + "\\\\n")
out.joinpath("x").write_text(str(float((src / "f").read_text()) / 4))
out.joinpath("text").write_text((src / "s").read_text().upper())
out.joinpath("flag").write_text("t" if (src / "b").read_text() == "true" else "F")
out.joinpath("never").write_text("0")
out.joinpath("report").write_text("sum=" + str(sum(json.loads((src / "inputs.json").read_text())["xs"])))
folder = out / "folder"
folder.mkdir()
for k in range(3):
    folder.joinpath(f"part{k}").write_text(str(k * i))
"""

ct = ContainerTask(
    name="parity", image="python:3.12", input_data_dir="/var/inputs", output_data_dir="/var/outputs",
    inputs=kwtypes(i=int, f=float, s=str, b=bool, xs=List[int], ff=FlyteFile, fd=FlyteDirectory),
    outputs=kwtypes(n=int, x=float, text=str, flag=bool, never=bool, report=FlyteFile, folder=FlyteDirectory,
                    layout=str, args=str),
    command=[sys.executable, "-c", CODE],
    arguments=["{{.inputs.i}}", "{{.inputs.f}}", "{{ .Inputs.b }}", "{{.inputs.xs}}", "{{$inputs.s}}"],
)

broken = ContainerTask(
    name="broken", image="python:3.12", output_data_dir="/var/outputs", inputs=kwtypes(i=int),
    outputs=kwtypes(ok=bool), command=[sys.executable, "-c", "open('/var/outputs/ok', 'w').write('yes')"],
)
'''

PYTHON = '''
from typing import Dict, List

from flyrun import task, workflow


@task
def stats(xs: List[float], label: str) -> Dict[str, float]:
    return {label + "_sum": sum(xs), label + "_max": max(xs)}


@task
def describe(values: Dict[str, float], flag: bool) -> str:
    return ",".join(f"{k}={v:g}" for k, v in sorted(values.items())) + (" !" if flag else "")


@workflow
def summary(xs: List[float], label: str = "v", flag: bool = True) -> str:
    return describe(values=stats(xs=xs, label=label), flag=flag)


@task
def picky(n: int) -> int:
    if n > 3:
        raise ValueError(f"n is too big: {n}")
    return n


@workflow
def guarded(n: int) -> int:
    return picky(n=picky(n=n))
'''


@pytest.fixture(scope="module")
def sandbox_on_host(tmp_path_factory):
    """A sandbox of its own, started as a user would with `--container-runtime host`."""
    data_dir = tmp_path_factory.mktemp("sandbox-host")
    started = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(data_dir), "--detach",
                          "--container-runtime", "host", "-o", "json")
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    yield info
    stopped = sandbox_cli("stop", "--data-dir", str(data_dir))
    assert stopped.exit_code == 0, stopped.output


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    (root / "containers.py").write_text(CONTAINER)
    (root / "tasks.py").write_text(PYTHON)
    (root / "in.txt").write_text("file input\n")
    (root / "in_dir").mkdir()
    for name, text in (("a.txt", "A"), ("b.txt", "B")):
        (root / "in_dir" / name).write_text(text)
    return root


def flyrun(root: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(root / "home"))
    words = ["-c", str(config)] if config else []
    return subprocess.run([sys.executable, "-m", "flyrun.cli.main", *words, *args], cwd=root, capture_output=True,
                          text=True, env=env, timeout=180)


def both(root: Path, sandbox: dict, *args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """``flyrun run ARGS`` locally (containers on the host) and with ``--remote --wait`` on the sandbox."""
    config = root / "sandbox.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox['endpoint']}\n  insecure: true\n  authType: None\n")
    local = flyrun(root, "-o", "json", "run", "--container-runtime", "host", *args)
    remote = flyrun(root, "-o", "json", "run", "--remote", "--wait", *args, config=config)
    return local, remote


def contents(value: str) -> object:
    """A file output as its text, a folder output as its files' texts (the runners keep them in different places)."""
    path = Path(value.removeprefix("file://"))
    if path.is_dir():
        return {child.name: child.read_text() for child in sorted(path.iterdir())}
    return path.read_text()


def test_the_same_raw_container_task_gives_the_same_outputs(project, sandbox_on_host):
    local, remote = both(project, sandbox_on_host, "containers.py", "ct", "--i", "21", "--f", "2.5", "--s",
                         "mixed Case", "--b", "--xs", "[1, 2, 3]", "--ff", "in.txt", "--fd", "in_dir")
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    outputs = [json.loads(run.stdout)["outputs"] for run in (local, remote)]
    for got in outputs:
        for name in ("report", "folder"):
            got[name] = contents(got[name])
    assert outputs[0] == outputs[1]
    got = outputs[0]
    assert {k: got[k] for k in ("n", "x", "text", "flag", "never", "report", "folder")} == {
        "n": 42, "x": 0.625, "text": "MIXED CASE", "flag": True, "never": False, "report": "sum=6",
        "folder": {"part0": "0", "part1": "21", "part2": "42"}}
    assert json.loads(got["args"]) == ["21", "2.5", "true", "[1,2,3]", "mixed Case"]
    layout = json.loads(got["layout"])
    assert layout["files"] == {"i": "21", "f": "2.5", "s": "mixed Case", "b": "true", "xs/0": "1", "xs/1": "2",
                               "xs/2": "3", "ff": "file input\n", "fd": ["a.txt=A", "b.txt=B"]}
    assert layout["inputs.json"] == {"i": 21, "f": 2.5, "s": "mixed Case", "b": True, "xs": [1, 2, 3], "ff": "ff",
                                     "fd": "fd"}
    assert layout["pb"] == {"names": ["b", "f", "fd", "ff", "i", "s", "xs"], "i": 21, "xs": [1, 2, 3]}


def test_a_bad_container_output_fails_the_same_way(project, sandbox_on_host):
    local, remote = both(project, sandbox_on_host, "containers.py", "broken", "--i", "1")
    assert local.returncode != 0 and remote.returncode != 0
    reason = "output 'ok': 'yes' is not a valid bool"
    assert reason in local.stderr, local.stderr
    assert reason in json.loads(remote.stdout)["error"], remote.stdout


def test_the_same_python_tasks_give_the_same_outputs_and_errors(project, sandbox_on_host):
    local, remote = both(project, sandbox_on_host, "tasks.py", "summary", "--xs", "[1.5, 4, 2]", "--label", "w")
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    expected = {"o0": "w_max=4,w_sum=7.5 !"}
    assert json.loads(local.stdout)["outputs"] == json.loads(remote.stdout)["outputs"] == expected

    local, remote = both(project, sandbox_on_host, "tasks.py", "guarded", "--n", "5")
    assert (local.returncode, remote.returncode) == (6, 6), (local.stderr, remote.stderr)
    local_error = next(line for line in local.stderr.splitlines() if line.startswith("Error: "))
    remote_error = json.loads(remote.stdout)["error"].splitlines()[0]
    # The same user error, each after the runner's own words for where it happened.
    assert local_error == "Error: task tasks.picky failed: ValueError: n is too big: 5"
    assert remote_error.endswith(" FAILED at node n0: ValueError: n is too big: 5")
