"""Killing a transfer part-way leaves nothing at the destination: a process writing through FlyteFile.open, and
`flyrun run` uploading a task's output, are each killed with SIGKILL mid-transfer."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO

WRITER = textwrap.dedent('''
    import sys, time
    from flyrun import FlyteFile
    from flyrun.sdk.context import ExecutionContext, use_context

    target, s3_endpoint, gcs_endpoint = sys.argv[1:4]
    storage = {"s3": {"endpoint_url": s3_endpoint}, "gs": {"endpoint_url": gcs_endpoint, "token": "anon"}}
    with use_context(ExecutionContext(storage_options=storage)):
        out = FlyteFile(target).open("wb", block_size=5 * 2**20)
        for _ in range(12):
            out.write(b"x" * 2**20)
        out.flush()
        print("half-written", flush=True)  # 12 MiB sent or buffered, the rest never comes
        time.sleep(120)
''')


def _environment(*peers) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for peer in peers:
        env.update(peer.env)
    return env


@pytest.mark.parametrize("backend", ("local", "s3", "gs"))
def test_killed_writer_leaves_no_object(tmp_path: Path, s3_peer, gcs_peer, backend):
    run = secrets.token_hex(4)
    target = {"local": str(tmp_path / "out" / "big.bin"),
              "s3": s3_peer.uri(s3_peer.bucket("flyrun-atomic"), run, "big.bin"),
              "gs": gcs_peer.uri(gcs_peer.bucket("flyrun-atomic"), run, "big.bin")}[backend]
    process = subprocess.Popen([sys.executable, "-c", WRITER, target, s3_peer.endpoint, gcs_peer.endpoint],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_environment(s3_peer))
    try:
        line = process.stdout.readline()
        assert line.strip() == "half-written", process.stderr.read()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    if backend == "local":
        assert not Path(target).exists()
        assert [p.name for p in Path(target).parent.iterdir() if not p.name.endswith(".part")] == []
    else:
        peer = s3_peer if backend == "s3" else gcs_peer
        assert not peer.filesystem().exists(target)


TASK = '''
    import os
    from flyrun import FlyteFile, task

    @task
    def big(path: str, mib: int) -> FlyteFile:
        block = os.urandom(2**20)
        with open(path, "wb") as f:
            for _ in range(mib):
                f.write(block)
        return FlyteFile(path)
'''


@pytest.mark.slow
def test_killed_output_upload_leaves_no_object(tmp_path: Path, project, s3_peer, isolated_home):
    import boto3

    root = project({"big.py": TASK})
    bucket = s3_peer.bucket("flyrun-upload-kill")
    prefix = f"s3://{bucket}/{secrets.token_hex(4)}"
    client = boto3.client("s3", endpoint_url=s3_peer.endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    command = [sys.executable, "-m", "flyrun.cli.main", "run", str(root / "big.py"), "big", "--path",
               str(tmp_path / "big.bin"), "--mib", "160", "--raw-output-data-prefix", prefix]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=_environment(s3_peer))
    key_prefix = prefix.split("/", 3)[3]
    try:
        deadline = time.monotonic() + 60
        while not client.list_multipart_uploads(Bucket=bucket, Prefix=key_prefix).get("Uploads"):
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert client.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("KeyCount") == 0
    # Same run, not killed: the output arrives whole.
    done = subprocess.run(command + ["-o", "json"], capture_output=True, text=True, env=_environment(s3_peer),
                          timeout=120)
    assert done.returncode == 0, done.stderr
    uri = json.loads(done.stdout)["outputs"]["o0"]
    assert s3_peer.filesystem().size(uri) == 160 * 2**20


def _parts(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


def _kill_when(process: subprocess.Popen, ready, what: str) -> None:
    try:
        deadline = time.monotonic() + 60
        while not ready():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, f"{what} never started"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def test_the_next_run_removes_what_a_killed_local_writer_left(tmp_path: Path, isolated_home, flyrun_process):
    target = tmp_path / "out" / "big.bin"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target), "-", "-"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_environment())
    _kill_when(process, lambda: process.stdout.readline().strip() == "half-written", "the write")
    assert len(_parts(target.parent)) == 1  # the hidden temporary SIGKILL leaves behind (12 MiB here)
    done = flyrun_process("run", str(REPO / "examples" / "hello.py"), "wf", "--x", "1")
    assert done.exit_code == 0, done.stderr
    assert list(target.parent.iterdir()) == []


@pytest.mark.slow
def test_a_killed_run_copying_its_output_locally_leaves_nothing_after_the_next(tmp_path: Path, project,
                                                                              isolated_home, flyrun_process):
    root = project({"big.py": TASK})
    raw = tmp_path / "raw"
    command = [sys.executable, "-m", "flyrun.cli.main", "run", str(root / "big.py"), "big", "--path",
               str(tmp_path / "big.bin"), "--mib", "160", "--raw-output-data-prefix", str(raw)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment())
    _kill_when(process, lambda: raw.exists() and _parts(raw), "the output copy")
    assert _parts(raw)
    # A second run that writes into other folders: the first one's temporary is swept all the same.
    done = flyrun_process("-o", "json", "run", str(root / "big.py"), "big", "--path", str(tmp_path / "small.bin"),
                          "--mib", "1", "--raw-output-data-prefix", str(raw))
    assert done.exit_code == 0, done.stderr
    assert _parts(raw) == []
    assert os.path.getsize(json.loads(done.stdout)["outputs"]["o0"]) == 2**20


def test_a_destination_name_near_the_file_name_limit_is_written(tmp_path: Path):
    from fsspec.implementations.local import LocalFileSystem

    from flyrun.data.atomic import open_atomic

    target = tmp_path / ("n" * 250 + ".bin")
    with open_atomic(LocalFileSystem(), str(target)) as out:
        out.write(b"whole")
    assert target.read_bytes() == b"whole" and _parts(tmp_path) == []
