"""flytekit's ``FlyteContext``/``FlyteContextManager`` under flyrun: a custom transformer that moves its data through
``ctx.file_access`` (random paths, put_data/get_data) and task code that reads ``current_context()`` give the same
results as under pyflyte, locally and on the sandbox."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from flytekit_support import clean_env, pyflyte_program

# A flytekit program, as written for pyflyte.
FLYTEKIT_CONTEXT = '''
import os

from flytekit import FlyteContext, FlyteContextManager, task, workflow
from flytekit.extend import TypeEngine, TypeTransformer

try:  # flytekit's models; flyrun has none (an ImportError in compatibility mode) and takes flyteidl's messages
    from flytekit.models.core.types import BlobType
    from flytekit.models.literals import Blob, BlobMetadata, Literal, Scalar
    from flytekit.models.types import LiteralType
except ImportError:
    from flyteidl.core.literals_pb2 import Blob, BlobMetadata, Literal, Scalar
    from flyteidl.core.types_pb2 import BlobType, LiteralType


class Note:
    def __init__(self, text: str) -> None:
        self.text = text


class NoteTransformer(TypeTransformer[Note]):
    """Stores a note as a text file under the run's raw output prefix, as flytekit's file types do."""

    def __init__(self) -> None:
        super().__init__("note", Note)

    def get_literal_type(self, t):
        return LiteralType(blob=BlobType(format="note", dimensionality=0))

    def to_literal(self, ctx: FlyteContext, python_val, python_type, expected):
        local = ctx.file_access.get_random_local_path("note.txt")
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, "w") as file:
            file.write(python_val.text)
        remote = ctx.file_access.get_random_remote_path("note.txt")
        assert remote.endswith("/note.txt") and remote.startswith(ctx.file_access.raw_output_prefix.rstrip("/"))
        uri = ctx.file_access.put_data(local, remote)
        blob = Blob(metadata=BlobMetadata(type=expected.blob), uri=uri)
        return Literal(scalar=Scalar(blob=blob))

    def to_python_value(self, ctx: FlyteContext, lv, expected_python_type):
        local = ctx.file_access.get_random_local_path()
        ctx.file_access.get_data(lv.scalar.blob.uri, local)
        with open(local) as file:
            return Note(file.read())


TypeEngine.register(NoteTransformer())


@task
def write(text: str) -> Note:
    return Note(text.upper())


@task
def read(note: Note) -> str:
    ctx = FlyteContextManager.current_context()
    params = ctx.user_space_params
    assert os.path.isdir(params.working_directory)
    assert ctx.execution_state.user_space_params.execution_id.name == params.execution_id.name
    assert FlyteContext.current_context().file_access.raw_output_prefix
    return f"{note.text}!"


@workflow
def wf(text: str) -> str:
    return read(note=write(text=text))
'''


def _flow(root: Path) -> Path:
    path = root / "notes.py"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(FLYTEKIT_CONTEXT)
    return path


@pytest.mark.slow
def test_a_file_access_transformer_gives_pyflytes_result_locally(flyrun_process, tmp_path):
    pytest.importorskip("flytekit", reason="flytekit is in the test extra")
    flow = _flow(tmp_path / "proj")
    ours = flyrun_process("run", "--flytekit-compat", "-o", "json", str(flow), "wf", "--text", "hi",
                          cwd=flow.parent)
    assert ours.exit_code == 0, ours.stderr
    theirs = subprocess.run([pyflyte_program("pyflyte"), "run", str(flow), "wf", "--text", "hi"], cwd=flow.parent,
                            capture_output=True, text=True, timeout=300, env=clean_env(tmp_path))
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    assert json.loads(ours.stdout)["outputs"]["o0"] == "HI!" == theirs.stdout.strip().splitlines()[-1]


def test_flytekit_context_names_and_shape(tmp_path):
    import flyrun
    from flyrun.core.context_manager import ExecutionState, FlyteContext, FlyteContextManager
    from flyrun.sdk.context import ExecutionContext, use_context

    assert (flyrun.FlyteContext, flyrun.FlyteContextManager) == (FlyteContext, FlyteContextManager)
    with use_context(ExecutionContext(raw_output_prefix=str(tmp_path / "raw"))):
        ctx = FlyteContextManager.current_context()
        access = ctx.file_access
        local = access.get_random_local_path("a/b.txt")
        assert local.endswith("/b.txt") and not access.is_remote(local) and access.is_remote("s3://bucket/x")
        Path(local).parent.mkdir(parents=True)
        Path(local).write_text("data")
        remote = access.get_random_remote_path("b.txt")
        assert remote.startswith(str(tmp_path / "raw")) and remote.endswith("b.txt")
        assert access.put_data(local, remote) == remote and access.exists(remote)
        folder = access.get_random_local_directory()
        access.get_data(remote, str(Path(folder) / "copy.txt"))
        assert (Path(folder) / "copy.txt").read_text() == "data"
        assert ctx.raw_output_prefix == str(tmp_path / "raw")
        assert ctx.execution_state.mode is ExecutionState.Mode.LOCAL_WORKFLOW_EXECUTION
        assert ctx.execution_state.is_local_execution()
        assert ctx.user_space_params.execution_id.name == "local"
        assert ctx.compilation_state is None and ctx.serialization_settings is None


def test_a_missing_remote_file_is_a_one_line_storage_error(cli, project, tmp_path):
    root = project({"flows.py": f'''
        from flyrun import FlyteContextManager, task

        @task
        def t(x: int) -> str:
            ctx = FlyteContextManager.current_context()
            ctx.file_access.get_data("{tmp_path}/missing.txt", ctx.file_access.get_random_local_path())
            return "unreachable"
        '''})
    done = cli("run", str(root / "flows.py"), "t", "--x", "1")
    assert done.exit_code != 0 and "Traceback" not in done.stderr, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.lower().startswith("hint:")]
    assert len(lines) == 1 and "missing.txt" in lines[0], done.stderr


@pytest.mark.slow
def test_a_file_access_transformer_runs_on_the_sandbox(remote, tmp_path):
    flow = _flow(tmp_path / "proj")
    done = remote("run", "--flytekit-compat", "--remote", "--wait", "-o", "json", str(flow), "wf", "--text", "hi",
                  cwd=flow.parent)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": "HI!"}
