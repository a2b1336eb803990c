"""The task entrypoint (`flyrun-execute`): a trivial task run the way a task container runs it.

Measures whole-process wall time from a fresh process to outputs.pb: with the code bundle unpacked first (what
every task pod does), with the code already in place (no --bundle), and a task that raises (error.pb); and, for
scale, `flyrun package` of the example project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from timing import REPO, median_wall, peak_rss_mib

TASKS = '''
from flyrun import task


@task
def double(x: int) -> int:
    return x * 2


@task
def fail(x: int) -> int:
    raise ValueError(x)
'''


def _inputs(path: Path) -> None:
    from flyteidl.core import literals_pb2 as L

    message = L.LiteralMap(literals={"x": L.Literal(scalar=L.Scalar(primitive=L.Primitive(integer=21)))})
    path.write_bytes(message.SerializeToString())


def _entrypoint_command() -> list[str]:
    script = Path(sys.executable).parent / "flyrun-execute"
    return [str(script)] if script.exists() else [sys.executable, "-m", "flyrun.idl.entrypoint"]


def run() -> list[tuple[str, str]]:
    work = Path(tempfile.mkdtemp(prefix="flyrun-bench-entrypoint-"))
    try:
        project = work / "proj"
        (project / "jobs").mkdir(parents=True)
        (project / "jobs" / "__init__.py").write_text("")
        (project / "jobs" / "simple.py").write_text(textwrap.dedent(TASKS))
        env = dict(os.environ, PYTHONPATH=str(REPO))
        subprocess.run([sys.executable, "-m", "flyrun.cli.main", "package", str(project), "--output-dir",
                        str(work / "pkg")], check=True, capture_output=True, env=env)
        bundle = work / "pkg" / json.loads((work / "pkg" / "manifest.json").read_text())["bundle"]["file"]
        _inputs(work / "inputs.pb")
        container = work / "container"
        container.mkdir()

        def command(task: str, with_bundle: bool) -> list[str]:
            code = ["--bundle", str(bundle), "--dest-dir", "."] if with_bundle else ["--dest-dir", str(project)]
            return _entrypoint_command() + [
                "--inputs", str(work / "inputs.pb"), "--output-prefix", str(work / "out"),
                "--raw-output-data-prefix", str(work / "raw"), "--checkpoint-path", "", "--prev-checkpoint", "",
                *code, "--resolver", "flyrun.default", "--", "task-module", "jobs.simple", "task-name", task]

        failing = command("fail", False)

        def expect_failure() -> None:
            assert subprocess.run(failing, cwd=container, env=env, capture_output=True).returncode == 1

        expect_failure()
        with_bundle, in_place = command("double", True), command("double", False)
        package = [sys.executable, "-m", "flyrun.cli.main", "package", "examples/project", "--output-dir",
                   str(work / "pkg2")]
        return [
            ("python -c pass (floor)", f"{median_wall([sys.executable, '-c', 'pass']):.3f} s"),
            ("flyrun-execute, trivial task, bundle unpacked first",
             f"{median_wall(with_bundle, cwd=container, env=env):.3f} s"),
            ("flyrun-execute, trivial task, code in place", f"{median_wall(in_place, cwd=container, env=env):.3f} s"),
            ("flyrun-execute, task raises (error.pb)", f"{_median_failing(failing, container, env):.3f} s"),
            ("peak memory, trivial task with bundle", f"{peak_rss_mib(with_bundle, container, env):.0f} MiB"),
            ("flyrun package examples/project (serialize + bundle)", f"{median_wall(package, env=env):.3f} s"),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _median_failing(argv: list[str], cwd: Path, env: dict[str, str], runs: int = 7) -> float:
    import statistics
    import time

    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])
