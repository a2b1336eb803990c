"""Files and directories through the IDL: blob literal types, blob literals, and a task container that writes a
file under --raw-output-data-prefix and another that reads it back. Runs once flyrun.data (FlyteFile) is merged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from test_idl_entrypoint import _lit, _write_inputs, read_outputs

files = pytest.importorskip("flyrun.data.files", reason="FlyteFile arrives with the data branch")

FILE_TASKS = {"filetasks.py": '''
    import os
    import tempfile

    from flyrun import FlyteDirectory, FlyteFile, task, workflow


    @task
    def write(text: str) -> FlyteFile:
        path = os.path.join(tempfile.mkdtemp(), "note.txt")
        with open(path, "w") as handle:
            handle.write(text)
        return FlyteFile(path)


    @task
    def read(f: FlyteFile) -> str:
        with open(f) as handle:
            return handle.read()


    @task
    def folder(n: int) -> FlyteDirectory:
        path = tempfile.mkdtemp()
        for i in range(n):
            with open(os.path.join(path, f"{i}.txt"), "w") as handle:
                handle.write(str(i))
        return FlyteDirectory(path)


    @workflow
    def round_trip(text: str) -> str:
        return read(f=write(text=text))
    '''}


def test_blob_types_and_literals_parse_into_flyteidl(tmp_path):
    from flyteidl.core import literals_pb2, types_pb2

    from flyrun.idl import literals
    from flyrun.types import engine

    note = tmp_path / "note.txt"
    note.write_text("x")
    for python_type, value, dimensionality in ((files.FlyteFile, files.FlyteFile(str(note)), "SINGLE"),
                                               (files.FlyteDirectory, files.FlyteDirectory(str(tmp_path)),
                                                "MULTIPART")):
        literal_type = literals.parse(engine.literal_type(python_type), types_pb2.LiteralType)
        assert types_pb2.BlobType.BlobDimensionality.Name(literal_type.blob.dimensionality) == dimensionality
        literal = literals.parse(engine.to_literal(value, python_type), literals_pb2.Literal)
        assert literal.scalar.blob.uri


def test_file_output_is_uploaded_and_read_back(cli, project, tmp_path):
    root = project(FILE_TASKS)
    out = tmp_path / "pkg"
    result = cli("package", str(root / "filetasks.py"), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    bundle = out / json.loads((out / "manifest.json").read_text())["bundle"]["file"]

    def run(task: str, inputs: Path, prefix: str) -> dict:
        workdir = tmp_path / f"pod-{prefix}"
        workdir.mkdir()
        args = [sys.executable, "-m", "flyrun.idl.entrypoint", "--inputs", str(inputs), "--output-prefix",
                str(tmp_path / prefix), "--raw-output-data-prefix", str(tmp_path / "raw"), "--checkpoint-path", "",
                "--prev-checkpoint", "", "--bundle", str(bundle), "--resolver", "flyrun.default", "--",
                "task-module", "filetasks", "task-name", task]
        proc = subprocess.run(args, cwd=workdir, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return read_outputs(tmp_path / prefix / "outputs.pb")

    written = run("write", _write_inputs(tmp_path / "w.pb", text=_lit(string_value="hello file")), "w")["o0"]
    uri = written.scalar.blob.uri
    assert uri.startswith(str(tmp_path / "raw")) and Path(uri.removeprefix("file://")).read_text() == "hello file"
    from flyteidl.core import literals_pb2 as L

    (tmp_path / "r.pb").write_bytes(L.LiteralMap(literals={"f": written}).SerializeToString())
    assert run("read", tmp_path / "r.pb", "r")["o0"].scalar.primitive.string_value == "hello file"
    folder = run("folder", _write_inputs(tmp_path / "d.pb", n=_lit(integer=2)), "d")["o0"].scalar.blob
    assert sorted(os.listdir(folder.uri.removeprefix("file://"))) == ["0.txt", "1.txt"]
