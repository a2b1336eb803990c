"""TensorFlow types with the real tensorflow-cpu: a Keras model trained in one task and used by the next, tensors,
TFRecord files and folders with their read options, the literal types flytekit writes, locally and on
`flyrun sandbox`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

EXAMPLE = REPO / "examples" / "tensorflow_keras.py"
# flytekit 1.16's literal types (flytekit.extras.tensorflow; tf.Tensor has no transformer there and is pickled).
FLYTEKIT_MODEL = {"blob": {"format": "TensorFlowModel", "dimensionality": "SINGLE"}}
FLYTEKIT_RECORD_FILE = {"blob": {"format": "TensorFlowRecord", "dimensionality": "SINGLE"}}
FLYTEKIT_RECORD_DIR = {"blob": {"format": "TensorFlowRecord", "dimensionality": "MULTIPART"}}
TENSOR_CLASS = "<class 'tensorflow.python.framework.tensor.Tensor'>"


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return pytest.importorskip("tensorflow")


def test_record_types_have_flytekits_literal_types_without_importing_tensorflow():
    probe = """
import json, sys, typing
from flyrun.types import engine
from flyrun.types.file import TFRecordFile
from flyrun.types.directory import TFRecordsDirectory
from flyrun.extras.tensorflow.record import TFRecordDatasetConfig
gzip = typing.Annotated[TFRecordFile, TFRecordDatasetConfig(compression_type="GZIP")]
print(json.dumps([engine.literal_type(t) for t in (TFRecordFile, TFRecordsDirectory, gzip)]))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    types, imported = [json.loads(line) for line in done.stdout.splitlines()]
    assert types == [FLYTEKIT_RECORD_FILE, FLYTEKIT_RECORD_DIR, FLYTEKIT_RECORD_FILE]
    assert imported == []


def test_literal_types_equal_flytekits():
    tf = _tf()
    from google.protobuf import json_format

    from flyrun.types import engine
    from flyrun.types.directory import TFRecordsDirectory
    from flyrun.types.file import TFRecordFile

    cases = [(tf.keras.Model, FLYTEKIT_MODEL), (tf.keras.Sequential, FLYTEKIT_MODEL),
             (TFRecordFile, FLYTEKIT_RECORD_FILE), (TFRecordsDirectory, FLYTEKIT_RECORD_DIR),
             (tf.Tensor, {"blob": {"format": "PythonPickle"}, "metadata": {"python_class_name": TENSOR_CLASS}})]
    for python_type, expected in cases:
        assert engine.literal_type(python_type) == expected, python_type
    try:  # the same messages as flytekit's own, where flytekit is installed (it is not a test dependency)
        import flytekit.extras.tensorflow  # noqa: F401
        from flyteidl.core import types_pb2
        from flytekit.core.type_engine import TypeEngine
        from flytekit.types.directory import TFRecordsDirectory as FlytekitDirectory
        from flytekit.types.file import TFRecordFile as FlytekitFile
    except ImportError:
        return
    theirs = {tf.keras.Model: tf.keras.Model, tf.keras.Sequential: tf.keras.Sequential, TFRecordFile: FlytekitFile,
              TFRecordsDirectory: FlytekitDirectory, tf.Tensor: tf.Tensor}
    for python_type, expected in cases:
        mine = json_format.ParseDict(expected, types_pb2.LiteralType())
        assert mine == TypeEngine.to_literal_type(theirs[python_type]).to_flyte_idl(), python_type


@pytest.fixture
def example(project):
    return project({"tensorflow_keras.py": EXAMPLE.read_text()}) / "tensorflow_keras.py"


@pytest.mark.slow
def test_a_keras_model_trained_in_one_task_predicts_in_the_next(cli, example):
    _tf()
    done = cli("run", "-o", "json", str(example), "train_wf", "--n", "256", "--epochs", "20")
    assert done.exit_code == 0, done.output
    # y = 3x - 1, learned from noisy points
    assert json.loads(done.stdout)["outputs"] == {"o0": [-1.0, 2.0, 5.0]}


@pytest.mark.slow
def test_tfrecord_file_and_folder_written_and_read_with_their_options(cli, example):
    _tf()
    done = cli("run", "-o", "json", str(example), "records_wf", "--n", "3")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": ["one"], "o1": ["item0", "item1", "item2"]}


def test_keras_model_saved_as_a_keras_file_and_loaded_back(project, monkeypatch, tmp_path):
    tf = _tf()
    import zipfile

    from flyrun.sdk.context import ExecutionContext, use_context
    from flyrun.types import engine

    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1, name="out")])
    weights = [w.numpy() for w in model.weights]
    with use_context(ExecutionContext(raw_output_prefix=str(tmp_path / "raw"))):
        literal = engine.to_literal(model, tf.keras.Model)
        uri = literal["scalar"]["blob"]["uri"]
        assert literal["scalar"]["blob"]["metadata"]["type"] == FLYTEKIT_MODEL["blob"]
        assert uri.startswith(str(tmp_path / "raw")) and uri.endswith(".keras")
        assert "config.json" in zipfile.ZipFile(uri).namelist()  # Keras's own format: a zip with its config
        loaded = engine.to_python(literal, tf.keras.Model)
    assert [w.numpy().tolist() for w in loaded.weights] == [w.tolist() for w in weights]
    assert loaded.get_layer("out").units == 1


def test_tensors_round_trip_between_tasks_and_on_the_command_line(cli, project):
    _tf()
    root = project({"tensors.py": """
        import tensorflow as tf
        from flyrun import task, workflow

        @task
        def double(t: tf.Tensor) -> tf.Tensor:
            return t * 2

        @task
        def total(t: tf.Tensor) -> float:
            return float(tf.reduce_sum(t))

        @workflow
        def wf(t: tf.Tensor) -> float:
            return total(t=double(t=t))
    """})
    done = cli("run", "-o", "json", str(root / "tensors.py"), "wf", "--t", "[[1, 2], [3, 4.5]]")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": 21.0}
    assert "pickled" not in done.stderr  # a known family: no warning about an unknown type
    done = cli("run", "-o", "json", str(root / "tensors.py"), "double", "--t", "[1.5, 2]")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": [3.0, 4.0]}
    done = cli("run", str(root / "tensors.py"), "double", "--t", "[1, [2]]")
    assert done.exit_code == 2 and "is not a tensor" in done.stderr, done.output


def _write_records(path: Path, labels: list[str], compression: str | None = None) -> None:
    tf = _tf()
    options = tf.io.TFRecordOptions(compression_type=compression) if compression else None
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for label in labels:
            example = tf.train.Example(features=tf.train.Features(feature={
                "label": tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()]))}))
            writer.write(example.SerializeToString())


RECORDS = """
    from typing import Annotated, List

    import tensorflow as tf
    from flyrun import task
    from flyrun.extras.tensorflow.record import TFRecordDatasetConfig
    from flyrun.types.directory import TFRecordsDirectory
    from flyrun.types.file import TFRecordFile

    SPEC = {"label": tf.io.FixedLenFeature([], tf.string)}

    def labels(dataset):
        return [tf.io.parse_single_example(raw, SPEC)["label"].numpy().decode() for raw in dataset]

    @task
    def gzipped(f: Annotated[TFRecordFile, TFRecordDatasetConfig(compression_type="GZIP")]) -> List[str]:
        return labels(f)

    @task
    def plain(f: TFRecordFile) -> List[str]:
        return labels(f)

    @task
    def folder(d: TFRecordsDirectory) -> List[str]:
        return labels(d)

    @task
    def passed_on(f: TFRecordFile) -> TFRecordFile:
        return f
"""


def test_tfrecord_inputs_from_paths_with_read_options(cli, project, tmp_path):
    root = project({"records.py": RECORDS})
    _write_records(tmp_path / "a.tfrecord.gz", ["x", "y"], compression="GZIP")
    _write_records(tmp_path / "b.tfrecord", ["z"])
    (tmp_path / "dir").mkdir()
    _write_records(tmp_path / "dir" / "part_0.tfrecord", ["p0"])
    _write_records(tmp_path / "dir" / "part_1.tfrecord", ["p1", "p2"])
    program = str(root / "records.py")
    for entity, path, expected in (("gzipped", "a.tfrecord.gz", ["x", "y"]), ("plain", "b.tfrecord", ["z"]),
                                   ("folder", "dir", ["p0", "p1", "p2"])):
        done = cli("run", "-o", "json", program, entity, "--" + ("d" if entity == "folder" else "f"),
                   str(tmp_path / path))
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["outputs"] == {"o0": expected}
    done = cli("run", "-o", "json", program, "passed_on", "--f", str(tmp_path / "b.tfrecord"))
    assert done.exit_code == 0, done.output
    stored = json.loads(done.stdout)["outputs"]["o0"]  # a local file returned is stored under the run's prefix
    assert stored.endswith("/b.tfrecord") and Path(stored).read_bytes() == (tmp_path / "b.tfrecord").read_bytes()
    # Read without the declared compression, a gzip file is not TFRecords: the task fails and says so.
    done = cli("run", program, "plain", "--f", str(tmp_path / "a.tfrecord.gz"))
    assert done.exit_code == 6 and "task records.plain failed: DataLossError" in done.stderr, done.output
    done = cli("run", program, "folder", "--d", str(tmp_path / "b.tfrecord"))
    assert done.exit_code == 2 and "is not a directory" in done.stderr, done.output


def test_wrong_values_for_tensorflow_types_are_named(cli, project):
    _tf()
    root = project({"bad.py": """
        import tensorflow as tf
        from flyrun import task
        from flyrun.types.file import TFRecordFile

        @task
        def not_a_model() -> tf.keras.Model:
            return 3

        @task
        def not_a_record() -> TFRecordFile:
            return 3
    """})
    done = cli("run", str(root / "bad.py"), "not_a_model")
    assert done.exit_code == 6 and "expected a Keras Model, got int" in done.stderr, done.output
    done = cli("run", str(root / "bad.py"), "not_a_record")
    assert done.exit_code == 6, done.output
    assert "expected a tf.train.Example or the path of a TFRecord file for TFRecordFile, got int" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_tensorflow_is_one_line_naming_the_extra(cli, project, tmp_path, monkeypatch):
    root = project({"records.py": """
        from flyrun import task
        from flyrun.types.file import TFRecordFile

        @task
        def count(f: TFRecordFile) -> int:
            return sum(1 for _ in f)
    """})
    (tmp_path / "r.tfrecord").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # what an import of a missing package raises
    done = cli("run", str(root / "records.py"), "count", "--f", str(tmp_path / "r.tfrecord"))
    assert done.exit_code == 2, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["Error: reading a TFRecordFile needs tensorflow, which is not installed: "
                     "pip install 'flyrun[tensorflow]'"], done.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)  # seven task processes that each import tensorflow (seconds apiece on a busy machine)
def test_tensorflow_types_on_the_sandbox(sandbox_server, tmp_path, example):
    _tf()
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox_server['endpoint']}\n  insecure: true\n  authType: None\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="2")
    expected = {"train_wf": {"o0": [-1.0, 2.0, 5.0]}, "records_wf": {"o0": ["one"], "o1": ["item0", "item1", "item2"]}}
    # Both executions at once: the sandbox runs a task process per CPU.
    running = {workflow: subprocess.Popen([sys.executable, "-m", "flyrun.cli.main", "-c", str(config), "run",
                                           "--remote", "--wait", "-o", "json", str(example), workflow],
                                          cwd=example.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, env=env)
               for workflow in expected}
    try:
        for workflow, process in running.items():
            stdout, stderr = process.communicate(timeout=840)
            assert process.returncode == 0, stderr
            assert json.loads(stdout)["outputs"] == expected[workflow]
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
