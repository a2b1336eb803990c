"""flytekit's ``StructuredDatasetEncoder``/``Decoder``/``TransformerEngine`` under flyrun: a custom frame type with
its own format (tests/data/flytekit_compat/grid_dataset.py, a flytekit program) gives pyflyte's results locally,
serializes with pyflyte's literal types, runs on the sandbox, and bad registrations are one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import REPO
from flytekit_support import clean_env, pyflyte_program

GRID = REPO / "tests" / "data" / "flytekit_compat" / "grid_dataset.py"
# workflow -> its output for --n 4: rows [i, i*i] for i < 4 sum to 20; wrapped writes [[4, 4]].
EXPECTED = {"wf": 20, "wf_dataset": 20, "wf_wrapped": 8}


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "gridpkg" / "grid_dataset.py"
    target.parent.mkdir(parents=True)
    (target.parent / "__init__.py").write_text("")
    shutil.copy(GRID, target)
    return target


@pytest.mark.parametrize("workflow", sorted(EXPECTED))
def test_a_custom_encoder_and_decoder_run_locally(flyrun_process, tmp_path, workflow):
    flow = _copy(tmp_path)
    done = flyrun_process("run", "--flytekit-compat", "-o", "json", str(flow), workflow, "--n", "4", cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["outputs"] == {"o0": EXPECTED[workflow]}


@pytest.mark.slow
def test_the_same_program_under_pyflyte_gives_the_same_results_and_types(cli, tmp_path):
    pytest.importorskip("flytekit", reason="flytekit is in the test extra")
    from flyteidl.admin import task_pb2
    from google.protobuf import json_format

    flow = _copy(tmp_path)
    for workflow, expected in EXPECTED.items():
        theirs = subprocess.run([pyflyte_program("pyflyte"), "run", str(flow), workflow, "--n", "4"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=300, env=clean_env(tmp_path))
        assert theirs.returncode == 0, theirs.stdout + theirs.stderr
        assert theirs.stdout.strip().splitlines()[-1] == str(expected)
    archive = tmp_path / "pyflyte.tgz"
    packaged = subprocess.run([pyflyte_program("pyflyte"), "--pkgs", "gridpkg", "package", "--image", "img:1", "-o",
                               str(archive)], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                              env=clean_env(tmp_path))
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    their_interfaces = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.endswith("_1.pb"):
                spec = task_pb2.TaskSpec.FromString(tar.extractfile(member).read())
                their_interfaces[spec.template.id.name] = json_format.MessageToDict(
                    spec.template.interface, preserving_proto_field_name=True)
    out = tmp_path / "flyrun-out"
    assert cli("package", "--flytekit-compat", str(flow), "--output-dir", str(out), "--image", "img:1").exit_code == 0
    for name in ("make", "total", "via_dataset", "wrapped"):
        full = f"gridpkg.grid_dataset.{name}"
        ours = json.loads((out / "tasks" / f"{full}.json").read_text())["template"]["interface"]

        def types(interface: dict) -> dict:
            return {side: {var: value["type"] for var, value in interface[side]["variables"].items()}
                    for side in ("inputs", "outputs")}

        assert types(ours) == types(their_interfaces[full]), name


def test_the_names_are_flytekits():
    import flyrun
    from flyrun.types.structured import (
        StructuredDatasetDecoder,
        StructuredDatasetEncoder,
        StructuredDatasetTransformerEngine,
    )

    assert flyrun.StructuredDatasetTransformerEngine is StructuredDatasetTransformerEngine

    class Frame:
        pass

    encoder = StructuredDatasetEncoder(Frame, "s3://", "fmt")
    assert (encoder.python_type, encoder.protocol, encoder.supported_format) == (Frame, "s3", "fmt")
    decoder = StructuredDatasetDecoder(Frame)
    assert (decoder.protocol, decoder.supported_format) == (None, "")


@pytest.mark.parametrize(("registration", "message"), [
    ("StructuredDatasetTransformerEngine.register(object())",
     "StructuredDatasetTransformerEngine.register takes a StructuredDatasetEncoder or StructuredDatasetDecoder"),
    ("StructuredDatasetTransformerEngine.register(Enc(Frame, None, 'x'), default_for_type=True)",
     "a handler for every protocol cannot be the default for its type"),
    ("StructuredDatasetTransformerEngine.register(Enc(Frame, 'file', 'x'))\n"
     "StructuredDatasetTransformerEngine.register(Enc(Frame, 'file', 'x'))",
     "an encoder for (Frame, file, x) is already registered"),
])
def test_bad_registrations_are_one_line(flyrun_process, project, registration, message):
    root = project({"flows.py": "from flyrun import task\n"
                                "from flyrun.types.structured import StructuredDatasetEncoder as Enc\n"
                                "from flyrun.types.structured import StructuredDatasetTransformerEngine\n"
                                "class Frame:\n    pass\n" + registration + "\n"
                                "@task\ndef t(x: int) -> int:\n    return x\n"})
    done = flyrun_process("run", str(root / "flows.py"), "t", "--x", "1")
    assert done.exit_code == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.lower().startswith("hint:")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_an_encoder_that_fails_is_a_one_line_task_error(flyrun_process, project):
    root = project({"flows.py": '''
        from flyrun import task
        from flyrun.types.structured import StructuredDatasetEncoder, StructuredDatasetTransformerEngine

        class Frame:
            pass

        class Broken(StructuredDatasetEncoder):
            def encode(self, ctx, structured_dataset, structured_dataset_type):
                raise OSError("disk full")

        StructuredDatasetTransformerEngine.register(Broken(Frame, "file", "f"), default_for_type=True)

        @task
        def t(x: int) -> Frame:
            return Frame()
        '''})
    done = flyrun_process("run", str(root / "flows.py"), "t", "--x", "1")
    assert done.exit_code != 0 and "Traceback" not in done.stderr, done.stderr
    assert "Broken.encode failed: OSError: disk full" in done.stderr


@pytest.mark.slow
def test_a_custom_encoder_and_decoder_run_on_the_sandbox(remote, tmp_path):
    flow = _copy(tmp_path)
    for workflow, expected in EXPECTED.items():
        done = remote("run", "--flytekit-compat", "--remote", "--wait", "-o", "json", str(flow), workflow, "--n", "4",
                      cwd=tmp_path)
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["outputs"] == {"o0": expected}, workflow
