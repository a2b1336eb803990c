"""Storage settings from configuration, credential sources in messages, and progress bars only on a terminal."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from conftest import REPO

from flyrun.config import load_config
from flyrun.data import fs as storage
from flyrun.errors import ConfigError, StorageError

FILES = str(REPO / "examples" / "files.py")


def options_for(tmp_path: Path, yaml_text: str, environ: dict[str, str] | None = None) -> dict:
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    environ = {"HOME": str(tmp_path), **(environ or {})}
    return storage.storage_options_from_config(load_config(str(path), environ), environ)


def test_flyte_storage_connection_items(tmp_path):
    options = options_for(tmp_path, """
storage:
  type: minio
  connection:
    endpoint: localhost:9000
    access-key: minio
    secret-key: miniostorage
    region: eu-west-1
    disable-ssl: true
""")
    assert options["s3"] == {"endpoint_url": "http://localhost:9000", "use_ssl": False, "key": "minio",
                             "secret": "miniostorage", "client_kwargs": {"region_name": "eu-west-1"}}
    assert options["credential_sources"]["s3"] == (
        f"storage.connection.access-key from {tmp_path / 'config.yaml'}")
    assert options["gs"] == {}


def test_aws_chain_when_no_keys(tmp_path):
    options = options_for(tmp_path, "storage:\n  connection:\n    auth-type: iam\n    access-key: ignored\n"
                                    "    secret-key: ignored\n", {"AWS_PROFILE": "dev"})
    assert "key" not in options["s3"]
    assert options["credential_sources"]["s3"] == "AWS profile dev (AWS_PROFILE) (storage.connection.auth-type is iam)"
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text("[default]\n")
    assert options_for(tmp_path, "{}")["credential_sources"]["s3"].startswith("AWS shared credentials file")
    assert options_for(tmp_path, "{}", {"AWS_ACCESS_KEY_ID": "x"})["credential_sources"]["s3"] == (
        "AWS environment variables (AWS_ACCESS_KEY_ID)")


def test_half_a_key_pair_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="access-key is set .* but storage.connection.secret-key is not"):
        options_for(tmp_path, "storage:\n  connection:\n    access-key: only-this\n")


def test_gcs_anonymous_and_emulator(tmp_path):
    assert options_for(tmp_path, "storage:\n  gcs:\n    anonymous: true\n")["gs"] == {"token": "anon"}
    emulated = options_for(tmp_path, "{}", {"STORAGE_EMULATOR_HOST": "127.0.0.1:9023"})
    assert emulated["gs"] == {"endpoint_url": "http://127.0.0.1:9023", "token": "anon"}
    signed = options_for(tmp_path, "storage:\n  gcs:\n    anonymous: false\n",
                         {"FLYRUN_GCS_ENDPOINT": "http://h:1", "GOOGLE_APPLICATION_CREDENTIALS": "/k.json"})
    assert signed["gs"] == {"endpoint_url": "http://h:1"}
    assert signed["credential_sources"]["gs"] == "Google credentials file /k.json (GOOGLE_APPLICATION_CREDENTIALS)"


def test_uri_helpers():
    assert storage.protocol_of("s3a://b/k") == "s3" and storage.protocol_of("gcs://b") == "gs"
    assert storage.protocol_of("/tmp/x") == "file" and storage.protocol_of("file:///tmp/x") == "file"
    assert storage.normalize("file:///tmp/x") == "/tmp/x"
    assert storage.join("s3://b/p/", "a", "b.txt") == "s3://b/p/a/b.txt"
    assert storage.join("/tmp/p", "a/b.txt") == "/tmp/p/a/b.txt"
    assert storage.basename("gs://b/dir/") == "dir"


def test_error_messages_never_carry_the_secret():
    options = {"s3": {"endpoint_url": "http://minio:9000", "key": "AKIAEXAMPLE", "secret": "s3cr3t-value"},
               "credential_sources": {"s3": "storage.connection.access-key from /etc/flyte.yaml"}}
    error = storage.storage_error("read", "s3://b/k", options,
                                  PermissionError("signature for s3cr3t-value does not match"))
    assert isinstance(error, StorageError) and error.exit_status == 5
    assert "s3cr3t-value" not in error.message and "***" in error.message
    assert error.message == ("cannot read s3://b/k: access denied: signature for *** does not match (endpoint "
                             "http://minio:9000; credentials: storage.connection.access-key from /etc/flyte.yaml)")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_on(stderr: io.StringIO, *args: str, no_color: bool = False) -> tuple[int, str, str]:
    from flyrun.cli.app import Environment
    from flyrun.cli.main import run_cli

    out = io.StringIO()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color:
        environ["NO_COLOR"] = "1"
    modules_before, path_before = set(sys.modules), list(sys.path)
    code = run_cli(list(args), Environment(stdout=out, stderr=stderr, stdin=io.StringIO(), environ=environ))
    for name in set(sys.modules) - modules_before:  # the user's module, as a new process would import it
        if not name.startswith("flyrun"):
            del sys.modules[name]
    sys.path[:] = path_before
    return code, out.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("size_mib, terminal, no_color, shown", [
    (40, True, False, True), (40, False, False, False), (1, True, False, False), (40, True, True, False)])
def test_progress_only_for_large_transfers_on_a_terminal(isolated_home, project, tmp_path, size_mib, terminal,
                                                         no_color, shown):
    root = project({"give.py": """
        from flyrun import FlyteFile, task

        @task
        def give(path: str) -> FlyteFile:
            return FlyteFile(path)
    """})
    source = tmp_path / "big.bin"
    source.write_bytes(b"\0" * (size_mib * 2**20))
    stderr = Terminal() if terminal else io.StringIO()
    code, out, err = run_on(stderr, "run", str(root / "give.py"), "give", "--path", str(source),
                            "--raw-output-data-prefix", str(tmp_path / "raw"), no_color=no_color)
    assert code == 0, err
    assert out.startswith(f"o0: {tmp_path / 'raw'}/") and out.strip().endswith("/big.bin")
    assert ("Uploading big.bin" in err) is shown
    if not shown:
        assert err == ""
