"""`flyrun-execute` as a real process: inputs built with flyteidl's classes in, outputs decoded with flyteidl out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from idl_project import FLOWS


@pytest.fixture
def bundle(cli, project, tmp_path) -> Path:
    root = project(FLOWS)
    out = tmp_path / "pkg"
    result = cli("package", str(root), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    return out / json.loads((out / "manifest.json").read_text())["bundle"]["file"]


def _lit(**kinds):
    from flyteidl.core import literals_pb2 as L

    if "collection" in kinds:
        return L.Literal(collection=L.LiteralCollection(literals=kinds["collection"]))
    if "generic" in kinds:
        from google.protobuf import struct_pb2

        struct = struct_pb2.Struct()
        struct.update(kinds["generic"])
        return L.Literal(scalar=L.Scalar(generic=struct))
    return L.Literal(scalar=L.Scalar(primitive=L.Primitive(**kinds)))


def _struct(literal):
    """A dataclass output: msgpack bytes (flytekit 1.16's default form)."""
    import msgpack

    assert literal.scalar.binary.tag == "msgpack"
    return msgpack.unpackb(literal.scalar.binary.value)


def _write_inputs(path: Path, **literals) -> Path:
    from flyteidl.core import literals_pb2 as L

    path.write_bytes(L.LiteralMap(literals=literals).SerializeToString())
    return path


def execute(tmp_path: Path, bundle: Path | str, inputs: str, loader_args: list[str], resolver="flyrun.default",
            env: dict[str, str] | None = None, output_prefix: str | None = None) -> subprocess.CompletedProcess:
    workdir = tmp_path / "container"
    workdir.mkdir(exist_ok=True)
    args = [sys.executable, "-m", "flyrun.idl.entrypoint", "--inputs", inputs,
            "--output-prefix", output_prefix or str(tmp_path / "out"), "--raw-output-data-prefix",
            str(tmp_path / "raw"), "--checkpoint-path", str(tmp_path / "ck"), "--prev-checkpoint", "",
            "--bundle", str(bundle), "--dest-dir", ".", "--resolver", resolver, "--", *loader_args]
    environ = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run(args, cwd=workdir, env=environ, capture_output=True, text=True, timeout=60)


def read_outputs(path: Path) -> dict:
    from flyteidl.core import literals_pb2 as L

    message = L.LiteralMap()
    message.ParseFromString(path.read_bytes())
    return dict(message.literals)


def read_error(path: Path):
    from flyteidl.core import errors_pb2

    document = errors_pb2.ErrorDocument()
    document.ParseFromString(path.read_bytes())
    return document.error


def test_python_task_round_trip(tmp_path, bundle):
    inputs = _write_inputs(tmp_path / "inputs.pb", name=_lit(string_value="tri"), n=_lit(integer=3))
    proc = execute(tmp_path, bundle, str(inputs), ["task-module", "flows.tasks", "task-name", "make_shape"])
    assert proc.returncode == 0, proc.stderr
    outputs = read_outputs(tmp_path / "out" / "outputs.pb")
    shape = _struct(outputs["o0"])
    assert shape["name"] == "tri" and [dict(p) for p in shape["points"]] == [
        {"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 1.0}, {"x": 2.0, "y": 4.0}]
    assert (tmp_path / "container" / "flows" / "tasks.py").is_file()  # the bundle was unpacked in --dest-dir
    assert not (tmp_path / "out" / "error.pb").exists()


def test_dataclass_input_defaults_and_named_outputs(tmp_path, bundle):
    shape = {"name": "s", "points": [{"x": 0, "y": 2}, {"x": 1, "y": 5}]}
    inputs = _write_inputs(tmp_path / "inputs.pb", shape=_lit(generic=shape))
    proc = execute(tmp_path, f"file://{bundle}", f"file://{inputs}",
                   ["task-module", "flows.tasks", "task-name", "bounds"], output_prefix=f"file://{tmp_path}/o")
    assert proc.returncode == 0, proc.stderr
    outputs = read_outputs(tmp_path / "o" / "outputs.pb")
    assert (outputs["low"].scalar.primitive.float_value, outputs["high"].scalar.primitive.float_value) == (2.0, 5.0)


def test_a_task_that_raises_writes_error_pb_and_exits_non_zero(tmp_path, bundle):
    from flyteidl.core import errors_pb2, execution_pb2

    inputs = _write_inputs(tmp_path / "inputs.pb", message=_lit(string_value="boom"))
    proc = execute(tmp_path, bundle, str(inputs), ["task-module", "flows.tasks", "task-name", "fail"])
    assert proc.returncode == 1
    error = read_error(tmp_path / "out" / "error.pb")
    assert error.code == "USER:ValueError"
    assert error.origin == execution_pb2.ExecutionError.USER
    assert error.kind == errors_pb2.ContainerError.NON_RECOVERABLE
    assert error.message.startswith("ValueError: boom\n") and 'flows/tasks.py", line' in error.message
    assert error.timestamp.seconds > 0
    assert "USER:ValueError" in proc.stderr
    assert not (tmp_path / "out" / "outputs.pb").exists()


def test_map_item_from_scalar_inputs_with_a_bound_input(tmp_path, bundle):
    inputs = _write_inputs(tmp_path / "inputs.pb", name=_lit(string_value="item"), n=_lit(integer=2))
    loader = ["vars", "n", "resolver", "flyrun.default", "task-module", "flows.tasks", "task-name", "make_shape"]
    proc = execute(tmp_path, bundle, str(inputs), loader, resolver="flyrun.map")
    assert proc.returncode == 0, proc.stderr
    shape = _struct(read_outputs(tmp_path / "out" / "outputs.pb")["o0"])
    assert shape["name"] == "item" and len(shape["points"]) == 2


def test_map_item_by_flytes_array_index_convention(tmp_path, bundle):
    names = _lit(collection=[_lit(string_value=s) for s in ("a", "b", "c")])
    inputs = _write_inputs(tmp_path / "inputs.pb", name=names, n=_lit(integer=1))
    loader = ["vars", "n", "resolver", "flyrun.default", "task-module", "flows.tasks", "task-name", "make_shape"]
    env = {"BATCH_JOB_ARRAY_INDEX_VAR_NAME": "FLYTE_K8S_ARRAY_INDEX", "FLYTE_K8S_ARRAY_INDEX": "1",
           "BATCH_JOB_ARRAY_INDEX_OFFSET": "1"}
    proc = execute(tmp_path, bundle, str(inputs), loader, resolver="flyrun.map", env=env)
    assert proc.returncode == 0, proc.stderr
    assert _struct(read_outputs(tmp_path / "out" / "outputs.pb")["o0"])["name"] == "c"


def test_failures_before_the_task_runs_are_reported_in_error_pb(tmp_path, bundle):
    from flyteidl.core import execution_pb2

    inputs = _write_inputs(tmp_path / "inputs.pb", name=_lit(string_value="x"))
    cases = [
        (bundle, ["task-module", "flows.tasks", "task-name", "nope"], "USER:TaskNotFound",
         "module flows.tasks has no task 'nope'"),
        (bundle, ["task-module", "flows.missing", "task-name", "t"], "USER:ModuleNotFoundError",
         "No module named 'flows.missing'"),
        ("{{ .remote_package_path }}", ["task-module", "flows.tasks", "task-name", "make_shape"],
         "SYSTEM:BundleNotUploaded", "was never filled in"),
        (tmp_path / "absent.tar.gz", ["task-module", "flows.tasks", "task-name", "make_shape"],
         "SYSTEM:BundleDownloadFailed", "absent.tar.gz"),
        (bundle, ["task-module", "flows.tasks", "task-name", "total"], "USER:MissingInput",
         "inputs.pb has no value for input 'values' of flows.tasks.total"),
    ]
    for source, loader, code, message in cases:
        proc = execute(tmp_path, source, str(inputs), loader)
        assert proc.returncode == 1, (code, proc.stderr)
        error = read_error(tmp_path / "out" / "error.pb")
        assert (error.code, message in error.message) == (code, True), (error.code, error.message)
        origin = execution_pb2.ExecutionError.USER if code.startswith("USER") else execution_pb2.ExecutionError.SYSTEM
        assert error.origin == origin
        assert "Traceback" not in proc.stderr.splitlines()[0]


def test_bad_arguments_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "flyrun.idl.entrypoint", "--inputs", "x"], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert proc.returncode == 2 and "--output-prefix" in proc.stderr


PROBE = """
import json, sys
from flyrun.idl.entrypoint import execute
code = execute(sys.argv[1:])
print("MODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def test_imports_only_what_the_task_needs(tmp_path, bundle):
    inputs = _write_inputs(tmp_path / "inputs.pb", name=_lit(string_value="tri"), n=_lit(integer=1))
    workdir = tmp_path / "container"
    workdir.mkdir()
    args = ["--inputs", str(inputs), "--output-prefix", str(tmp_path / "out"), "--raw-output-data-prefix",
            str(tmp_path / "raw"), "--checkpoint-path", "", "--prev-checkpoint", "", "--bundle", str(bundle),
            "--resolver", "flyrun.default", "--", "task-module", "flows.tasks", "task-name", "make_shape"]
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=workdir, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stderr.rsplit("MODULES=", 1)[1]))
    unneeded = ("click", "rich", "fsspec", "s3fs", "gcsfs", "requests", "yaml", "pathspec", "keyring",
                "flyrun.cli", "flyrun.config", "flyrun.idl.package", "flyrun.idl.workflows")
    assert sorted(m for m in modules if m.split(".")[0] in unneeded or m.startswith(unneeded)) == []
    assert "flows.tasks" in modules and "flyteidl.core.literals_pb2" in modules


def _run_template(template: dict, tmp_path: Path, bundle: Path, inputs: Path, name: str):
    """Run a packaged task's container args as propeller would, with its templates filled in."""
    filled = {"{{.input}}": str(inputs), "{{.outputPrefix}}": str(tmp_path / name),
              "{{.rawOutputDataPrefix}}": str(tmp_path / "raw"), "{{.checkpointOutputPrefix}}": "",
              "{{.prevCheckpointPrefix}}": "", "{{ .remote_package_path }}": str(bundle)}
    args = [filled.get(word, word) for word in template["container"]["args"]]
    assert args[0] == "flyrun-execute" and template["container"]["command"] == []
    workdir = tmp_path / f"pod-{name}"
    workdir.mkdir()
    return subprocess.run([sys.executable, "-m", "flyrun.idl.entrypoint", *args[1:]], cwd=workdir,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=60)


def test_packaged_container_args_run_as_they_are(cli, project, tmp_path):
    from idl_project import spec_files

    out = tmp_path / "pkg"
    assert cli("package", str(project(FLOWS)), "--output-dir", str(out)).exit_code == 0
    bundle = out / json.loads((out / "manifest.json").read_text())["bundle"]["file"]
    files = spec_files(out)

    inputs = _write_inputs(tmp_path / "task.pb", name=_lit(string_value="sq"), n=_lit(integer=2))
    proc = _run_template(files["tasks/flows.tasks.make_shape.json"]["template"], tmp_path, bundle, inputs, "task")
    assert proc.returncode == 0, proc.stderr
    assert _struct(read_outputs(tmp_path / "task" / "outputs.pb")["o0"])["name"] == "sq"

    # One item of the map over partial(shift, dx=..., label="m"): the item's point, the bound dx and label.
    map_name = "flows.constructs.map_shift_48493bd51a3f97d3fab9df536ea3d4e6-arraynode"
    inputs = _write_inputs(tmp_path / "item.pb", p=_lit(generic={"x": 1.0, "y": 2.0}), dx=_lit(float_value=0.5),
                           label=_lit(string_value="m"))
    proc = _run_template(files[f"tasks/{map_name}.json"]["template"], tmp_path, bundle, inputs, "item")
    assert proc.returncode == 0, proc.stderr
    assert dict(_struct(read_outputs(tmp_path / "item" / "outputs.pb")["o0"])) == {"x": 1.5, "y": 2.0}


def _tree(root: Path) -> dict:
    """Every folder and file under ``root``: mode, modification time and (for a file) its bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        found[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns,
                                              path.read_bytes() if path.is_file() else None)
    return found


def test_a_zygotes_unpacked_bundle_writes_the_same_files_as_the_archive(tmp_path, bundle):
    """A task forked from a warm zygote gets its copy of the code from what the zygote unpacked, not from the
    archive: the same folders and files with the same modes and times; what a task changes stays in its copy."""
    from flyrun.idl.bundle import extract_archive
    from flyrun.idl.entrypoint import _Unpacked

    extract_archive(bundle, tmp_path / "archive")
    expected = _tree(tmp_path / "archive")
    assert any(name.endswith("tasks.py") for name in expected) and any(v[2] is None for v in expected.values())
    unpacked = _Unpacked.read(str(bundle), tmp_path / "archive")
    assert unpacked is not None
    unpacked.write(tmp_path / "first")
    assert _tree(tmp_path / "first") == expected
    (tmp_path / "first" / "flows" / "tasks.py").write_text("changed")
    (tmp_path / "archive" / "flows" / "tasks.py").write_text("changed")  # the zygote's folder, too
    unpacked.write(tmp_path / "second")
    assert _tree(tmp_path / "second") == expected


def test_a_bundle_too_big_to_hold_is_unpacked_from_its_archive(tmp_path, bundle):
    from flyrun.idl.bundle import extract_archive
    from flyrun.idl.entrypoint import _Unpacked

    extract_archive(bundle, tmp_path / "archive")
    assert _Unpacked.read(str(bundle), tmp_path / "archive", limit=10) is None
