"""`flyrun-execute` against object storage on loopback: the bundle, inputs.pb and outputs.pb all in S3 or GCS."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from conftest import REPO
from idl_project import FLOWS
from test_idl_entrypoint import _lit, _write_inputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gcs_endpoint():
    command = shutil.which("gcp-storage-emulator")
    if command is None:
        pytest.skip("gcp-storage-emulator is not installed")
    port = _free_port()
    proc = subprocess.Popen([command, "start", "-H", "127.0.0.1", "--port", str(port), "--in-memory"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def _package(cli, project, tmp_path):
    out = tmp_path / "pkg"
    assert cli("package", str(project(FLOWS)), "--output-dir", str(out)).exit_code == 0
    return out / json.loads((out / "manifest.json").read_text())["bundle"]["file"]


def _run(tmp_path, scheme, bucket, env, loader):
    workdir = tmp_path / "container"
    workdir.mkdir(exist_ok=True)
    args = [sys.executable, "-m", "flyrun.idl.entrypoint", "--inputs", f"{scheme}://{bucket}/run/inputs.pb",
            "--output-prefix", f"{scheme}://{bucket}/run/out", "--raw-output-data-prefix",
            f"{scheme}://{bucket}/raw", "--checkpoint-path", "", "--prev-checkpoint", "",
            "--bundle", f"{scheme}://{bucket}/bundles/code.tar.gz", "--dest-dir", ".", "--resolver",
            "flyrun.default", "--", *loader]
    return subprocess.run(args, cwd=workdir, env=dict(os.environ, PYTHONPATH=str(REPO), **env),
                          capture_output=True, text=True, timeout=120)


def _round_trip(fs, scheme, bucket, env, tmp_path, bundle):
    from flyteidl.core import errors_pb2
    from flyteidl.core import literals_pb2 as L

    fs.mkdir(bucket)
    fs.pipe_file(f"{bucket}/bundles/code.tar.gz", bundle.read_bytes())
    inputs = _write_inputs(tmp_path / "inputs.pb", name=_lit(string_value="remote"), n=_lit(integer=2))
    fs.pipe_file(f"{bucket}/run/inputs.pb", inputs.read_bytes())
    proc = _run(tmp_path, scheme, bucket, env, ["task-module", "flows.tasks", "task-name", "make_shape"])
    assert proc.returncode == 0, proc.stderr
    outputs = L.LiteralMap()
    outputs.ParseFromString(fs.cat_file(f"{bucket}/run/out/outputs.pb"))
    import msgpack

    assert msgpack.unpackb(outputs.literals["o0"].scalar.binary.value)["name"] == "remote"

    fs.pipe_file(f"{bucket}/run/inputs.pb", _write_inputs(tmp_path / "i2.pb", message=_lit(string_value="no"))
                 .read_bytes())
    proc = _run(tmp_path, scheme, bucket, env, ["task-module", "flows.tasks", "task-name", "fail"])
    assert proc.returncode == 1
    document = errors_pb2.ErrorDocument()
    document.ParseFromString(fs.cat_file(f"{bucket}/run/out/error.pb"))
    assert document.error.code == "USER:ValueError"


def test_s3(cli, project, tmp_path, moto_endpoint, monkeypatch):
    import s3fs

    env = {"FLYTE_AWS_ENDPOINT": moto_endpoint, "FLYTE_AWS_ACCESS_KEY_ID": "testing",
           "FLYTE_AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    fs = s3fs.S3FileSystem(key="testing", secret="testing", client_kwargs={"endpoint_url": moto_endpoint},
                           skip_instance_cache=True)
    _round_trip(fs, "s3", "flyrun-test", env, tmp_path, _package(cli, project, tmp_path))


def test_gcs(cli, project, tmp_path, gcs_endpoint, monkeypatch):
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    import gcsfs

    env = {"STORAGE_EMULATOR_HOST": gcs_endpoint, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
    fs = gcsfs.GCSFileSystem(token="anon", endpoint_url=gcs_endpoint, skip_instance_cache=True)
    _round_trip(fs, "gs", "flyrun-test", env, tmp_path, _package(cli, project, tmp_path))
