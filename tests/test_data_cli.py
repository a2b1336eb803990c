"""The issue's two seed tasks through `flyrun run`, with inputs and outputs on local disk, S3 (moto) and GCS
(gcp-storage-emulator), and the storage errors a user can meet on the way."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from conftest import REPO

FILES = str(REPO / "examples" / "files.py")
TREE = {
    "a.txt": b"first file\n",
    "sub/empty.txt": b"",
    "sub/deeper/\u00fcn\u00efc\u00f6d\u00e9 name.txt": "gr\u00fc\u00dfe, \u4e16\u754c\n".encode(),
    "sub/deeper/data.bin": bytes(range(256)) * 64,
}
TEXT = "line one\nzwei: \u00fc\u00f6\u00e4\n\u4e09\n"
BACKENDS = ("local", "s3", "gs")


@pytest.fixture
def stores(tmp_path: Path, s3_env, gcs_env):
    """Where to put inputs and outputs on each backend, for one test: fresh prefixes in shared buckets."""
    run = secrets.token_hex(4)
    s3_env.bucket("flyrun-data")
    gcs_env.bucket("flyrun-data")
    peers = {"s3": s3_env, "gs": gcs_env}

    class Stores:
        def prefix(self, backend: str, name: str) -> str:
            if backend == "local":
                return str(tmp_path / name)
            return peers[backend].uri("flyrun-data", run, name)

        def write(self, uri: str, data: bytes) -> None:
            if uri.startswith(("s3://", "gs://")):
                with peers[uri[:2]].filesystem().open(uri, "wb") as f:
                    f.write(data)
            else:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
                Path(uri).write_bytes(data)

        def read(self, uri: str) -> bytes:
            if uri.startswith(("s3://", "gs://")):
                return peers[uri[:2]].filesystem().cat_file(uri)
            return Path(uri).read_bytes()

        def tree(self, uri: str) -> dict[str, bytes]:
            if uri.startswith(("s3://", "gs://")):
                fs = peers[uri[:2]].filesystem()
                base = fs._strip_protocol(uri)
                return {name[len(base) + 1:]: fs.cat_file(name) for name in fs.find(base)}
            root = Path(uri)
            return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

        def exists(self, uri: str) -> bool:
            if uri.startswith(("s3://", "gs://")):
                return peers[uri[:2]].filesystem().exists(uri)
            return Path(uri).exists()

    return Stores()


def run_json(cli, *args: str):
    result = cli("run", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["outputs"]


@pytest.mark.parametrize("source", BACKENDS)
@pytest.mark.parametrize("destination", BACKENDS)
def test_copy_file_between_backends(cli, stores, source, destination):
    uri = stores.prefix(source, "in/notes.txt")
    stores.write(uri, TEXT.encode())
    out_prefix = stores.prefix(destination, "out")
    output = run_json(cli, FILES, "copy_file", "--ff", uri, "--raw-output-data-prefix", out_prefix)["o0"]
    assert output.startswith(out_prefix + "/")
    if source != "local":
        assert output.endswith("/notes.txt")  # named after the input's remote path
    assert stores.read(output).decode() == TEXT


@pytest.mark.parametrize("source", BACKENDS)
@pytest.mark.parametrize("destination", BACKENDS)
def test_process_folder_between_backends(cli, stores, source, destination):
    folder = stores.prefix(source, "tree")
    for relative, data in TREE.items():
        stores.write(f"{folder}/{relative}", data)
    out_prefix = stores.prefix(destination, "out")
    output = run_json(cli, FILES, "process_folder", "--fd", folder + "/", "--raw-output-data-prefix",
                      out_prefix)["o0"]
    assert output.startswith(out_prefix + "/")
    assert stores.tree(output) == TREE


@pytest.mark.parametrize("destination", ("s3", "gs"))
def test_a_returned_local_file_is_uploaded_under_the_prefix(cli, stores, project, destination):
    root = project({"made.py": '''
        import os
        from flyrun import FlyteDirectory, FlyteFile, task

        @task
        def make_file(folder: str) -> FlyteFile:
            path = os.path.join(folder, "report.csv")
            with open(path, "w") as f:
                f.write("a,b\\n1,2\\n")
            return FlyteFile(path)

        @task
        def make_dir(folder: str) -> FlyteDirectory:
            os.makedirs(os.path.join(folder, "d", "x"))
            open(os.path.join(folder, "d", "x", "empty"), "w").close()
            with open(os.path.join(folder, "d", "top.txt"), "w") as f:
                f.write("top")
            return FlyteDirectory(os.path.join(folder, "d"))
    '''})
    prefix = stores.prefix(destination, "uploaded")
    work = root / "work"
    work.mkdir()
    made = run_json(cli, str(root / "made.py"), "make_file", "--folder", str(work),
                    "--raw-output-data-prefix", prefix)["o0"]
    assert made.startswith(prefix + "/") and made.endswith("/report.csv")
    assert stores.read(made) == b"a,b\n1,2\n"
    tree = run_json(cli, str(root / "made.py"), "make_dir", "--folder", str(work),
                    "--raw-output-data-prefix", prefix)["o0"]
    assert stores.tree(tree) == {"x/empty": b"", "top.txt": b"top"}


def test_the_example_workflow_across_stores(cli, stores):
    uri = stores.prefix("gs", "lines.txt")
    stores.write(uri, TEXT.encode())
    assert run_json(cli, FILES, "copy_and_count", "--ff", uri, "--raw-output-data-prefix",
                    stores.prefix("s3", "wf"))["o0"] == 3


def test_local_inputs_are_not_copied(cli, tmp_path, project):
    root = project({"same.py": '''
        from flyrun import FlyteFile, task

        @task
        def where(ff: FlyteFile) -> str:
            return ff.path
    '''})
    source = tmp_path / "input.txt"
    source.write_text("x")
    assert run_json(cli, str(root / "same.py"), "where", "--ff", str(source))["o0"] == str(source)


def test_config_storage_section_sets_prefix_and_endpoint(cli, s3_peer, isolated_home, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "FLYRUN_STORAGE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3_peer.bucket("flyrun-config")
    config = isolated_home / ".flyte" / "config.yaml"
    config.parent.mkdir()
    config.write_text(f"""
storage:
  type: minio
  connection:
    endpoint: {s3_peer.endpoint}
    access-key: testing
    secret-key: testing
  raw-output-data-prefix: s3://flyrun-config/runs
""")
    source = tmp_path / "in.txt"
    source.write_text("via config\n")
    output = run_json(cli, FILES, "copy_file", "--ff", str(source))["o0"]
    assert output.startswith("s3://flyrun-config/runs/")
    assert s3_peer.filesystem().cat_file(output) == b"via config\n"


# -- what goes wrong --------------------------------------------------------------------------------------------

def test_missing_local_input_fails_before_running(cli, tmp_path):
    missing = tmp_path / "nope.csv"
    result = cli("run", FILES, "copy_file", "--ff", str(missing))
    assert result.exit_code == 2
    assert f"local file {missing} does not exist" in result.stderr and "Traceback" not in result.stderr
    result = cli("run", FILES, "process_folder", "--fd", str(tmp_path / "no-dir"))
    assert result.exit_code == 2 and "local directory" in result.stderr and "no-dir" in result.stderr


def test_a_file_is_not_a_directory_and_back(cli, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    result = cli("run", FILES, "process_folder", "--fd", str(tmp_path / "f.txt"))
    assert result.exit_code == 2 and "is not a directory" in result.stderr
    result = cli("run", FILES, "copy_file", "--ff", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.stderr


def test_unknown_scheme_is_bad_input(cli):
    result = cli("run", FILES, "copy_file", "--ff", "nosuchscheme://bucket/x")
    assert result.exit_code == 2 and "unknown storage scheme nosuchscheme://" in result.stderr


def test_missing_local_input_in_an_inputs_file(cli, tmp_path):
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(f"ff: {tmp_path / 'absent.txt'}\n")
    result = cli("run", FILES, "copy_file", "--inputs-file", str(inputs))
    assert result.exit_code == 2 and "absent.txt does not exist" in result.stderr


@pytest.mark.parametrize("backend", ("s3", "gs"))
def test_missing_bucket_as_input(cli, s3_env, gcs_env, backend):
    bucket = f"no-such-bucket-{secrets.token_hex(3)}"
    uri = f"{backend}://{bucket}/in.txt"
    result = cli("run", FILES, "copy_file", "--ff", uri)
    assert result.exit_code == 5, result.output
    line = result.stderr.splitlines()[0]
    assert line.startswith(f"Error: cannot read {uri}: bucket {bucket} does not exist (")
    endpoint = (s3_env if backend == "s3" else gcs_env).endpoint
    assert f"endpoint {endpoint}" in line and "credentials: " in line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ("s3", "gs"))
def test_missing_bucket_as_output(cli, s3_env, gcs_env, tmp_path, backend):
    source = tmp_path / "in.txt"
    source.write_text("x")
    bucket = f"no-such-bucket-{secrets.token_hex(3)}"
    prefix = f"{backend}://{bucket}/out"
    result = cli("run", FILES, "copy_file", "--ff", str(source), "--raw-output-data-prefix", prefix)
    assert result.exit_code == 5, result.output
    assert f"Error: cannot write {prefix}/" in result.stderr
    assert f"bucket {bucket} does not exist" in result.stderr


def test_bad_credentials_name_their_source_never_the_secret(cli, s3_auth_peer, isolated_home, monkeypatch):
    secret = "Wr0ng-S3cret-" + secrets.token_hex(8)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = isolated_home / ".flyte" / "config.yaml"
    config.parent.mkdir()
    config.write_text(f"""
storage:
  connection:
    endpoint: {s3_auth_peer.endpoint}
    access-key: AKIAFLYRUNBADKEY0000
    secret-key: {secret}
""")
    uri = "s3://some-bucket/in.txt"
    for verbose in ((), ("-v",)):
        result = cli(*verbose, "run", FILES, "copy_file", "--ff", uri)
        assert result.exit_code == 5, result.output
        line = next(line for line in result.stderr.splitlines() if line.startswith("Error: "))
        assert line.startswith(f"Error: cannot read {uri}: access denied")
        assert f"endpoint {s3_auth_peer.endpoint}" in line
        assert f"credentials: storage.connection.access-key from {config}" in line
        assert secret not in result.output


def test_no_partial_object_when_a_task_raises_mid_write(cli, stores, project):
    root = project({"boom.py": '''
        from flyrun import FlyteFile, task

        @task
        def half_write(uri: str) -> int:
            with FlyteFile(uri).open("wb", block_size=5 * 2**20) as out:
                for _ in range(7):  # 7 MiB: at least one part is already sent when the task fails
                    out.write(b"x" * 2**20)
                raise RuntimeError("disk on fire")
            return 0
    '''})
    for backend in BACKENDS:
        target = stores.prefix(backend, "half/result.bin")
        result = cli("run", str(root / "boom.py"), "half_write", "--uri", target)
        assert result.exit_code == 6 and "disk on fire" in result.stderr
        assert not stores.exists(target), backend
    # The multipart upload was aborted, not left behind.
    assert [key for key in _multipart_uploads("flyrun-data") if key.endswith("half/result.bin")] == []


def _multipart_uploads(bucket: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["FLYRUN_STORAGE_ENDPOINT"])
    return [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


@pytest.mark.parametrize("destination", ("local", "s3"))
def test_failed_directory_upload_leaves_nothing(cli, stores, project, tmp_path, destination):
    """The last file of the tree cannot be read (a socket): the files sent before it are taken back."""
    import socket

    root = project({"sock.py": '''
        from flyrun import FlyteDirectory, task

        @task
        def tree(path: str) -> FlyteDirectory:
            return FlyteDirectory(path)
    '''})
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("b")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tree / "sub" / "z.sock"))
    try:
        prefix = stores.prefix(destination, "failed")
        result = cli("run", str(root / "sock.py"), "tree", "--path", str(tree), "--raw-output-data-prefix", prefix)
    finally:
        listener.close()
    assert result.exit_code == 5, result.output
    assert result.stderr.startswith(f"Error: cannot upload directory {tree}: "), result.stderr
    assert "z.sock" in result.stderr.splitlines()[0]
    if destination == "local":
        assert not Path(prefix).exists() or list(Path(prefix).iterdir()) == []
    else:
        assert not stores.exists(prefix) or stores.tree(prefix) == {}


def test_a_local_file_inside_a_returned_dataclass_is_uploaded_too(cli, tmp_path, project):
    root = project({"report.py": '''
        import os
        from dataclasses import dataclass
        from typing import List
        from flyrun import FlyteFile, task

        @dataclass
        class Report:
            title: str
            files: List[FlyteFile]

        @task
        def make(folder: str) -> Report:
            path = os.path.join(folder, "part.txt")
            with open(path, "w") as f:
                f.write("part")
            return Report(title="t", files=[FlyteFile(path)])
    '''})
    work, prefix = root / "work", tmp_path / "raw"
    work.mkdir()
    report = run_json(cli, str(root / "report.py"), "make", "--folder", str(work),
                      "--raw-output-data-prefix", str(prefix))["o0"]
    (uploaded,) = report["files"]
    assert report["title"] == "t" and uploaded.startswith(str(prefix) + "/") and uploaded.endswith("/part.txt")
    assert open(uploaded).read() == "part"
