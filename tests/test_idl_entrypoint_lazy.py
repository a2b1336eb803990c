"""flyrun-execute loads only what its task needs: the task's module is imported with workflow tracing deferred,
so a task of a big workflow does not trace (run the body of) every workflow in its module."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO

MODULE = """
import pathlib
from flyrun import task, workflow

MARKER = pathlib.Path({marker!r})


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def chain(x: int = 0) -> int:
    MARKER.write_text("traced")  # runs only when the workflow is traced
    for _ in range(50):
        x = inc(x=x)
    return x
"""


def run_task(tmp_path: Path, module: str, task: str) -> subprocess.CompletedProcess:
    from flyteidl.core import literals_pb2 as L

    inputs = tmp_path / "inputs.pb"
    inputs.write_bytes(L.LiteralMap(literals={"x": L.Literal(scalar=L.Scalar(primitive=L.Primitive(integer=41)))})
                       .SerializeToString())
    argv = [sys.executable, "-m", "flyrun.idl.entrypoint", "--inputs", str(inputs), "--output-prefix",
            str(tmp_path / "out"), "--dest-dir", str(tmp_path / "proj"), "--resolver", "flyrun.default", "--",
            "task-module", module, "task-name", task]
    return subprocess.run(argv, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                          timeout=60)


def test_a_task_runs_without_tracing_the_workflows_of_its_module(tmp_path):
    marker = tmp_path / "traced"
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "flows.py").write_text(textwrap.dedent(MODULE.format(marker=str(marker))))
    done = run_task(tmp_path, "flows", "inc")
    assert done.returncode == 0, done.stderr
    from flyteidl.core import literals_pb2 as L

    outputs = L.LiteralMap()
    outputs.ParseFromString((tmp_path / "out" / "outputs.pb").read_bytes())
    assert outputs.literals["o0"].scalar.primitive.integer == 42
    assert not marker.exists(), "flyrun-execute traced a workflow its task does not need"


def test_a_deferred_workflow_is_traced_on_first_use(tmp_path, monkeypatch):
    marker = tmp_path / "traced"
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "flows_lazy.py").write_text(textwrap.dedent(MODULE.format(marker=str(marker))))
    monkeypatch.syspath_prepend(str(tmp_path / "proj"))
    from flyrun.sdk.workflow import deferred_tracing

    try:
        with deferred_tracing():
            import flows_lazy
        assert not marker.exists()
        assert len(flows_lazy.chain.nodes) == 50 and marker.exists()
        assert flows_lazy.chain(x=1) == 51  # runs locally from the graph traced on first use
    finally:
        sys.modules.pop("flows_lazy", None)


def test_outside_the_entrypoint_workflows_are_traced_when_defined(tmp_path, monkeypatch):
    marker = tmp_path / "traced"
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "flows_eager.py").write_text(textwrap.dedent(MODULE.format(marker=str(marker))))
    monkeypatch.syspath_prepend(str(tmp_path / "proj"))
    try:
        import flows_eager  # noqa: F401

        assert marker.exists()  # wiring mistakes surface at import, as `flyrun run` promises
    finally:
        sys.modules.pop("flows_eager", None)
