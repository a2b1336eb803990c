"""flyrun.protocol: the raw-container data protocol, templates and literal text that every runner shares, the
one storage-options builder, and `sandbox start --container-runtime`."""

from __future__ import annotations

import datetime as dt
import json
import stat
import sys

import pytest
from conftest import free_port, sandbox_cli

from flyrun.protocol import copilot
from flyrun.protocol.templates import TemplateError, map_data_dirs, render


def literal_map(document: dict):
    from flyteidl.core import literals_pb2

    from flyrun.idl.literals import parse

    return parse({"literals": document}, literals_pb2.LiteralMap)


def literal_type(document: dict):
    from flyteidl.core import types_pb2

    from flyrun.idl.literals import parse

    return parse(document, types_pb2.LiteralType)


def prim(**value) -> dict:
    return {"scalar": {"primitive": value}}


INPUTS = {
    "i": prim(integer="7"), "f": prim(float_value=1e6), "b": prim(boolean=True), "s": prim(string_value="a b"),
    "d": prim(duration="5400s"), "when": prim(datetime="2024-05-01T12:00:00Z"),
    "xs": {"collection": {"literals": [prim(integer="1"), prim(integer="2")]}},
    "m": {"map": {"literals": {"k": prim(float_value=0.5), "j": prim(string_value="x")}}},
    "p": {"scalar": {"generic": {"x": 1, "y": 2.5}}},
}


def test_command_templates_render_go_text_and_lists():
    words = ["{{.inputs.i}}", "{{ .Inputs.f }}", "{{$inputs.b}}", "{{.inputs.xs}}", "{{.inputs.d}}",
             "{{.inputs.when}}", "--out={{.outputPrefix}}/x", "{{.unknown}}"]
    assert render(words, literal_map(INPUTS), {"outputprefix": "/o"}) == [
        "7", "1e+06", "true", "[1,2]", "1h30m0s", "2024-05-01T12:00:00Z", "--out=/o/x", "{{.unknown}}"]


@pytest.mark.parametrize("word, message", [
    ("{{.inputs.nope}}", "there is no input 'nope'"),
    ("{{.inputs.m}}", "only simple values, files and lists of them"),
])
def test_a_template_that_cannot_be_rendered_names_itself(word, message):
    with pytest.raises(TemplateError) as error:
        render([word], literal_map(INPUTS))
    assert str(error.value).startswith(word + ": ") and message in str(error.value)


def test_host_mapping_replaces_only_whole_container_paths():
    words = ["/var/inputs/x", "cat /var/inputs", "/var/inputsx", "/var/outputs"]
    assert map_data_dirs(words, {"/var/inputs": "/h/in", "/var/outputs": "/h/out"}) == [
        "/h/in/x", "cat /h/in", "/var/inputsx", "/h/out"]


def test_inputs_are_written_once_in_copilots_layout(tmp_path):
    copilot.write_inputs(tmp_path, literal_map(INPUTS), "JSON")
    files = {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*")
             if p.is_file() and p.name not in ("inputs.pb", "inputs.json")}
    assert files == {"i": "7", "f": "1000000", "b": "true", "s": "a b", "d": "1h30m0s",
                     "when": "2024-05-01T12:00:00Z", "xs/0": "1", "xs/1": "2", "m/k": "0.5", "m/j": "x",
                     "p": '{"x":1,"y":2.5}'}
    assert json.loads((tmp_path / "inputs.json").read_text()) == {
        "i": 7, "f": 1e6, "b": True, "s": "a b", "d": 5_400_000_000_000, "when": "2024-05-01T12:00:00Z",
        "xs": [1, 2], "m": {"j": "x", "k": 0.5}, "p": {"x": 1, "y": 2.5}}
    from flyteidl.core import literals_pb2

    assert literals_pb2.LiteralMap.FromString((tmp_path / "inputs.pb").read_bytes()) == literal_map(INPUTS)


@pytest.mark.parametrize("text, value", [(t, True) for t in ("1", "t", "T", "TRUE", "true", "True")] +
                         [(f, False) for f in ("0", "f", "F", "FALSE", "false", "False")])
def test_boolean_outputs_are_read_as_gos_parsebool(tmp_path, text, value):
    (tmp_path / "ok").write_text(text + "\n")
    outputs = copilot.read_outputs(tmp_path, {"ok": literal_type({"simple": "BOOLEAN"})}, "/var/outputs")
    assert outputs.literals["ok"].scalar.primitive.boolean is value


@pytest.mark.parametrize("text", ["yes", "on", "tRUE", ""])
def test_other_boolean_text_is_an_error_naming_the_output(tmp_path, text):
    (tmp_path / "ok").write_text(text)
    with pytest.raises(copilot.ContainerOutputError) as error:
        copilot.read_outputs(tmp_path, {"ok": literal_type({"simple": "BOOLEAN"})}, "/var/outputs")
    assert str(error.value).startswith(f"output 'ok': {text!r} is not a valid bool")


def test_simple_outputs_and_files_become_literals(tmp_path):
    for name, text in {"i": " 42\n", "d": "1h2m3.5s", "when": "2024-05-01T14:00:00+02:00", "p": '{"x": 3}'}.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "folder").mkdir()
    types = {"i": {"simple": "INTEGER"}, "d": {"simple": "DURATION"}, "when": {"simple": "DATETIME"},
             "p": {"simple": "STRUCT"}, "folder": {"blob": {"dimensionality": "MULTIPART"}}}
    outputs = copilot.read_outputs(tmp_path, {k: literal_type(v) for k, v in types.items()}, "/out",
                                   store=lambda path, name: f"s3://b/{name}")
    literals = outputs.literals
    assert literals["i"].scalar.primitive.integer == 42
    assert literals["d"].scalar.primitive.duration.ToTimedelta() == dt.timedelta(hours=1, minutes=2, seconds=3.5)
    assert literals["when"].scalar.primitive.datetime.ToJsonString() == "2024-05-01T12:00:00Z"
    assert dict(literals["p"].scalar.generic) == {"x": 3.0}
    assert literals["folder"].scalar.blob.uri == "s3://b/folder"
    (tmp_path / "file").mkdir()
    with pytest.raises(copilot.ContainerOutputError, match="output 'file': /out/file is a folder; a file output"):
        copilot.read_outputs(tmp_path, {"file": literal_type({"blob": {}})}, "/out")


def test_display_text_and_type_checks_are_the_protocols():
    from flyrun.protocol.literals import display_text, fits

    literals = literal_map(INPUTS).literals
    assert display_text(literals["xs"]) == "[1, 2]"
    assert display_text(literals["m"]) == "{'j': 'x', 'k': 0.5}"
    assert fits(literals["xs"], literal_type({"collection_type": {"simple": "INTEGER"}}))
    assert not fits(literals["i"], literal_type({"simple": "STRING"}))


def test_one_storage_options_builder_for_config_and_a_pods_environment(tmp_path):
    from flyrun.config import load_config
    from flyrun.data.fs import join, storage_options_from_config, storage_options_from_environment

    environ = {"FLYTE_AWS_ENDPOINT": "http://127.0.0.1:9000", "FLYTE_AWS_ACCESS_KEY_ID": "minio",
               "FLYTE_AWS_SECRET_ACCESS_KEY": "miniostorage", "STORAGE_EMULATOR_HOST": "127.0.0.1:4443",
               "HOME": str(tmp_path)}
    from_env = storage_options_from_environment(environ)
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  connection:\n    endpoint: http://127.0.0.1:9000\n    access-key: minio\n"
                      "    secret-key: miniostorage\n  gcs:\n    anonymous: true\n")
    from_config = storage_options_from_config(load_config(str(config), {"HOME": str(tmp_path)}), environ)
    assert from_env["s3"] == from_config["s3"] == {"endpoint_url": "http://127.0.0.1:9000", "key": "minio",
                                                   "secret": "miniostorage"}
    assert from_env["gs"] == from_config["gs"] == {"token": "anon"}
    assert from_env["credential_sources"]["s3"] == "storage.connection.access-key from $FLYTE_AWS_ACCESS_KEY_ID"
    assert "miniostorage" not in json.dumps(from_env["credential_sources"])
    assert join("s3://b/prefix/", "outputs.pb") == "s3://b/prefix/outputs.pb"
    assert join("/tmp/prefix", "outputs.pb") == "/tmp/prefix/outputs.pb"


def test_only_one_of_a_key_pair_in_a_pods_environment_is_a_clear_error():
    from flyrun.data.fs import storage_options_from_environment
    from flyrun.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        storage_options_from_environment({"FLYRUN_STORAGE_ACCESS_KEY": "k"})
    assert "storage.connection.access-key is set (from $FLYRUN_STORAGE_ACCESS_KEY)" in str(error.value)


def test_sandbox_start_refuses_a_container_runtime_that_does_not_work(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\nimport sys\n"
                      "print('Cannot connect to the Docker daemon.', file=sys.stderr)\nsys.exit(1)\n")
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    result = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(tmp_path / "data"),
                         "--container-runtime", "docker", env={"PATH": str(bin_dir)})
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == ("Error: --container-runtime docker: `docker info` failed: Cannot connect "
                                             "to the Docker daemon.")
    assert "Traceback" not in result.output
    unknown = sandbox_cli("start", "--container-runtime", "lxc", "--data-dir", str(tmp_path / "data"))
    assert unknown.exit_code == 2 and "'lxc' is not one of 'host', 'docker', 'podman'" in unknown.stderr
