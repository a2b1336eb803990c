"""`flyrun run --flytekit-compat`: a flytekit program runs unchanged, with flytekit's names resolved to flyrun's.

flytekit is installed here (the test extra), so these also show that compatibility mode wins over it. Every run is
a real process: the mode installs an import finder, which must not leak into the test process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO
from flytekit_support import pyflyte_program

COMPAT_FLOW = REPO / "tests" / "data" / "flytekit_compat" / "compat_flow.py"


def _copy_flow(tmp_path: Path) -> Path:
    target = tmp_path / "flows" / "compat_flow.py"
    target.parent.mkdir()
    shutil.copy(COMPAT_FLOW, target)
    return target


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_flytekit_program_gives_the_same_outputs_as_pyflyte_run(flyrun_process, tmp_path):
    pytest.importorskip("flytekit", reason="flytekit is in the test extra")
    flow = _copy_flow(tmp_path)
    ours = flyrun_process("run", "--flytekit-compat", "-o", "json", str(flow), "wf", "--n", "4", "--label", "total",
                          cwd=tmp_path)
    assert ours.exit_code == 0, ours.stderr
    theirs = subprocess.run([pyflyte_program("pyflyte"), "run", str(flow), "wf", "--n", "4", "--label", "total"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HOME": str(tmp_path), "FLYTECTL_CONFIG": ""})
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    assert json.loads(ours.stdout)["outputs"]["o0"] == "TOTAL: 77"
    assert theirs.stdout.strip().splitlines()[-1] == "TOTAL: 77"


def test_compat_mode_from_config(flyrun_process, tmp_path):
    flow = _copy_flow(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text("compat: flytekit\n")
    done = flyrun_process("run", "-c", str(config), "-o", "json", str(flow), "wf", "--n", "1", cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["outputs"]["o0"] == "SUM: 14"


def test_a_flytekit_name_flyrun_lacks_is_a_one_line_error(flyrun_process, tmp_path):
    (tmp_path / "missing.py").write_text("from flytekit import task, Foo\n")
    (tmp_path / "deep.py").write_text("from flytekit.core.base_task import PythonTask\n")
    for name, shown in (("missing.py", "flytekit.Foo"), ("deep.py", "flytekit.core.base_task")):
        done = flyrun_process("run", "--flytekit-compat", str(tmp_path / name), "t", cwd=tmp_path)
        assert done.exit_code == 2, done.stderr
        assert done.stderr.startswith(f"Error: {shown} is not available in flyrun's flytekit compatibility mode;")
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_without_compat_mode_a_flytekit_entity_says_how_to_run_it(flyrun_process, tmp_path):
    pytest.importorskip("flytekit", reason="flytekit is in the test extra")
    flow = _copy_flow(tmp_path)
    done = flyrun_process("run", str(flow), "wf", cwd=tmp_path)
    assert done.exit_code == 2
    assert "it is a flytekit entity" in done.stderr and "--flytekit-compat" in done.stderr


def test_flytekit_modules_are_flyruns_even_with_flytekit_installed(tmp_path):
    script = textwrap.dedent("""
        import sys
        import flytekit as real  # the installed flytekit, if any: compat mode must replace it
        from flyrun import compat
        compat.install()
        import flyrun, flytekit
        from flytekit import task, map_task
        from flytekit.types.file import FlyteFile
        from flytekit.extras.tasks.shell import ShellTask
        from flytekit.testing import task_mock
        from flytekitplugins.duckdb import DuckDBQuery
        import flyrun.types.file, flyrun.extras.tasks.shell, flyrun.testing, flyrun.plugins.duckdb
        assert task is flyrun.task and map_task is flyrun.map_task
        assert FlyteFile is flyrun.types.file.FlyteFile and ShellTask is flyrun.extras.tasks.shell.ShellTask
        assert task_mock is flyrun.testing.task_mock and DuckDBQuery is flyrun.plugins.duckdb.DuckDBQuery
        assert flytekit is not real and "task" in dir(flytekit)
        try:
            from flytekit import NotAName
        except ImportError as error:  # user code that falls back on ImportError keeps working
            assert "flytekit.NotAName is not available" in str(error)
        else:
            raise AssertionError("NotAName imported")
        assert not hasattr(flytekit, "__wrapped__")  # dunder probes are plain AttributeErrors
        compat.uninstall()
        assert "flytekit" not in sys.modules or sys.modules["flytekit"] is not flytekit
        print("ok")
    """)
    if not _has_flytekit():
        script = script.replace("import flytekit as real", "real = None")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def _has_flytekit() -> bool:
    import importlib.util

    return importlib.util.find_spec("flytekit") is not None


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_remote_runs_apply_the_same_mapping_in_the_task(flyrun_process, sandbox_server, tmp_path):
    flow = _copy_flow(tmp_path)
    config = tmp_path / "remote.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox_server['url']}\n  insecure: true\n  authType: None\n")
    done = flyrun_process("run", "-c", str(config), "--remote", "--wait", "--flytekit-compat", "-o", "json",
                          str(flow), "wf", "--n", "2", cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["outputs"]["o0"] == "SUM: 29"
    packaged = flyrun_process("package", "--flytekit-compat", "--output-dir", str(tmp_path / "dist"), str(flow),
                              cwd=tmp_path)
    assert packaged.exit_code == 0, packaged.stderr
    for path in (tmp_path / "dist" / "tasks").glob("*.json"):
        args = json.loads(path.read_text())["template"]["container"]["args"]
        assert args[args.index("--compat") + 1] == "flytekit", path.name


def test_map_worker_processes_import_the_module_in_compat_mode_too(flyrun_process, tmp_path):
    flow = tmp_path / "heavy_map.py"
    shutil.copy(COMPAT_FLOW.parent / "heavy_map.py", flow)
    # Fresh interpreters (no warm zygote): each worker imports the module itself, as a task container does.
    done = flyrun_process("run", "--flytekit-compat", "-o", "json", str(flow), "wf", "--n", "60", cwd=tmp_path,
                          env={"FLYRUN_WARM_POOL": "0"})
    assert done.exit_code == 0, done.stderr
    assert "could not start" not in done.stderr  # a worker without the mode fails to import flytekit's names
    assert len(json.loads(done.stdout)["outputs"]["o0"]) == 60
