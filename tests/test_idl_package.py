"""`flyrun package`: every file it writes is a valid flyteidl message, with the contract the cluster relies on."""

from __future__ import annotations

import json
import tarfile

import pytest
from idl_project import FLOWS, spec_files

SPEC_CLASSES = {"tasks": "TaskSpec", "workflows": "WorkflowSpec", "launch_plans": "LaunchPlanSpec"}


def _message_class(folder: str):
    from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

    modules = {"tasks": task_pb2, "workflows": workflow_pb2, "launch_plans": launch_plan_pb2}
    return getattr(modules[folder], SPEC_CLASSES[folder])


@pytest.fixture
def packaged(cli, project, tmp_path):
    root = project(FLOWS)
    out = tmp_path / "out"
    result = cli("package", str(root), "--output-dir", str(out), "-p", "proj", "-d", "staging")
    assert result.exit_code == 0, result.output
    return root, out, result


def test_every_written_file_parses_strictly_into_its_message(packaged):
    from flyteidl.core import identifier_pb2
    from google.protobuf import json_format

    _, out, _ = packaged
    manifest = json.loads((out / "manifest.json").read_text())
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.json") if p.name != "manifest.json")
    assert written == sorted(e["file"] for e in manifest["entities"])
    for entry in manifest["entities"]:
        text = (out / entry["file"]).read_text()
        json_format.Parse(text, _message_class(entry["file"].split("/")[0])(), ignore_unknown_fields=False)
        json_format.ParseDict(entry["id"], identifier_pb2.Identifier(), ignore_unknown_fields=False)
    kinds = [e["kind"] for e in manifest["entities"]]
    assert kinds == ["task"] * 9 + ["workflow", "launch_plan"] * 3
    assert [e["id"]["name"] for e in manifest["entities"] if e["kind"] == "workflow"] == [
        "flows.constructs.gated", "flows.pipeline.span", "flows.pipeline.main"]  # sub-workflows come first
    assert {e["id"]["project"] for e in manifest["entities"]} == {"proj"}
    assert {e["id"]["version"] for e in manifest["entities"]} == {manifest["version"]}


def test_python_task_template(packaged):
    _, out, _ = packaged
    manifest = json.loads((out / "manifest.json").read_text())
    template = spec_files(out)["tasks/flows.tasks.make_shape.json"]["template"]
    assert template["type"] == "python-task"
    assert template["metadata"] == {
        "discoverable": True, "runtime": {"type": "FLYTE_SDK", "version": template["metadata"]["runtime"]["version"],
                                          "flavor": "python"},
        "retries": {"retries": 2}, "discovery_version": "1.2", "timeout": "300s", "interruptible": True}
    container = template["container"]
    assert container["command"] == []
    assert container["args"] == [
        "flyrun-execute", "--inputs", "{{.input}}", "--output-prefix", "{{.outputPrefix}}",
        "--raw-output-data-prefix", "{{.rawOutputDataPrefix}}", "--checkpoint-path", "{{.checkpointOutputPrefix}}",
        "--prev-checkpoint", "{{.prevCheckpointPrefix}}", "--bundle", "{{ .remote_package_path }}",
        "--dest-dir", ".", "--resolver", "flyrun.default", "--", "task-module", "flows.tasks",
        "task-name", "make_shape"]
    assert container["resources"] == {
        "requests": [{"name": "CPU", "value": "500m"}, {"name": "MEMORY", "value": "1Gi"}],
        "limits": [{"name": "CPU", "value": "1"}, {"name": "MEMORY", "value": "2Gi"}, {"name": "GPU", "value": "1"}]}
    assert container["env"] == [{"key": "LOG_LEVEL", "value": "debug"}]
    assert container["image"].startswith("ghcr.io/flyrun/flyrun:py3.")
    assert manifest["bundle"]["placeholder"] == "{{ .remote_package_path }}"
    inputs = template["interface"]["inputs"]["variables"]
    assert inputs["n"]["type"] == {"simple": "INTEGER"}
    assert template["interface"]["outputs"]["variables"]["o0"]["type"]["simple"] == "STRUCT"
    special = spec_files(out)["tasks/flows.tasks.bounds.json"]["template"]
    assert special["container"]["image"] == "ghcr.io/example/special:1"
    assert list(special["interface"]["outputs"]["variables"]) == ["low", "high"]


def test_workflow_nodes_bindings_and_subworkflows(packaged):
    _, out, _ = packaged
    spec = spec_files(out)["workflows/flows.pipeline.main.json"]
    nodes = {n["id"]: n for n in spec["template"]["nodes"]}
    assert nodes["n0"]["workflow_node"]["sub_workflow_ref"]["name"] == "flows.pipeline.span"
    assert nodes["n0"]["inputs"][0] == {"var": "name", "binding": {"promise": {"node_id": "start-node",
                                                                               "var": "name"}}}
    # n1 leaves `n` out: its default is bound, because Flyte's compiler needs every input.
    assert {"var": "n", "binding": {"scalar": {"primitive": {"integer": "3"}}}} in nodes["n1"]["inputs"]
    assert nodes["n2"]["upstream_node_ids"] == ["n1"]
    values = next(b for b in nodes["n3"]["inputs"] if b["var"] == "values")["binding"]
    assert values == {"collection": {"bindings": [{"promise": {"node_id": "n0", "var": "o0"}},
                                                  {"promise": {"node_id": "n2", "var": "high"}}]}}
    assert sorted(nodes["n3"]["upstream_node_ids"]) == ["n0", "n2"]
    assert nodes["n3"]["task_node"]["reference_id"]["resource_type"] == "TASK"
    assert nodes["n1"]["metadata"]["name"] == "make_shape"
    assert spec["template"]["outputs"] == [{"var": "o0", "binding": {"promise": {"node_id": "n3", "var": "o0"}}}]
    assert [s["id"]["name"] for s in spec["sub_workflows"]] == ["flows.pipeline.span"]
    span = spec["sub_workflows"][0]
    weights = next(b for b in span["nodes"][2]["inputs"] if b["var"] == "weights")["binding"]
    assert weights["map"]["bindings"]["a"] == {"promise": {"node_id": "n1", "var": "high"}}


def test_default_launch_plan(packaged):
    _, out, _ = packaged
    files = spec_files(out)
    plan = files["launch_plans/flows.pipeline.span.json"]
    assert plan["workflow_id"]["name"] == "flows.pipeline.span"
    assert plan["default_inputs"]["parameters"]["name"] == {
        "var": {"type": {"simple": "STRING"}, "description": "name"}, "required": True}
    assert plan["default_inputs"]["parameters"]["n"]["default"] == {"scalar": {"primitive": {"integer": "4"}}}
    manifest = json.loads((out / "manifest.json").read_text())
    ids = {(e["kind"], e["id"]["name"]): e["id"] for e in manifest["entities"]}
    workflow_id = ids[("workflow", "flows.pipeline.span")]
    plan_id = ids[("launch_plan", "flows.pipeline.span")]
    assert plan_id == {**workflow_id, "resource_type": "LAUNCH_PLAN"}


def test_bundle_holds_the_loaded_modules_only(packaged):
    root, out, result = packaged
    manifest = json.loads((out / "manifest.json").read_text())
    with tarfile.open(out / manifest["bundle"]["file"]) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["flows/__init__.py", "flows/constructs.py", "flows/pipeline.py",
                                         "flows/tasks.py", "flows/types.py"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.pax_headers == {}) for m in members} == {
        (315532800, 0, 0, "", "", True)}
    assert f"version: {manifest['version']}" in result.stdout


def test_json_output_is_one_document(cli, project, tmp_path):
    root = project(FLOWS)
    result = cli("package", str(root), "--output-dir", str(tmp_path / "o"), "-o", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["version"] and document["bundle"]["files"] == 5 and len(document["entities"]) == 15


def test_copy_none_has_no_bundle_and_no_bundle_argument(cli, project, tmp_path):
    root = project(FLOWS)
    out = tmp_path / "o"
    result = cli("package", str(root / "flows" / "tasks.py"), "--output-dir", str(out), "--copy", "none")
    assert result.exit_code == 0, result.output
    assert not list(out.glob("*.tar.gz"))
    args = spec_files(out)["tasks/flows.tasks.fail.json"]["template"]["container"]["args"]
    assert "--bundle" not in args and args[-4:] == ["task-module", "flows.tasks", "task-name", "fail"]
    assert json.loads((out / "manifest.json").read_text())["bundle"] is None


def test_repackaging_into_the_same_folder_replaces_the_old_package(cli, project, tmp_path):
    root = project(FLOWS)
    out = tmp_path / "o"
    assert cli("package", str(root), "--output-dir", str(out)).exit_code == 0
    (root / "flows" / "tasks.py").write_text((root / "flows" / "tasks.py").read_text() + "\n# changed\n")
    assert cli("package", str(root / "flows" / "tasks.py"), "--output-dir", str(out)).exit_code == 0
    assert len(list(out.glob("fast*.tar.gz"))) == 1
    assert not (out / "workflows").exists()


def test_images_from_config_and_command_line(cli, project, tmp_path):
    root = project({"imgs.py": '''
        from flyrun import task

        @task(container_image="gpu")
        def named(x: int) -> int:
            return x

        @task
        def plain(x: int) -> int:
            return x
        '''})
    config = tmp_path / "config.yaml"
    config.write_text("images:\n  default: registry.example/base:1\n  gpu: registry.example/gpu:1\n")
    out = tmp_path / "o"
    result = cli("-c", str(config), "package", str(root / "imgs.py"), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    images = {name: spec["template"]["container"]["image"] for name, spec in spec_files(out).items()}
    assert images == {"tasks/imgs.named.json": "registry.example/gpu:1",
                      "tasks/imgs.plain.json": "registry.example/base:1"}
    result = cli("-c", str(config), "package", str(root / "imgs.py"), "--output-dir", str(out),
                 "--image", "gpu=registry.example/gpu:2", "--image", "registry.example/base:2")
    assert result.exit_code == 0, result.output
    images = {name: spec["template"]["container"]["image"] for name, spec in spec_files(out).items()}
    assert images == {"tasks/imgs.named.json": "registry.example/gpu:2",
                      "tasks/imgs.plain.json": "registry.example/base:2"}
    bad = cli("package", str(root / "imgs.py"), "--dry-run", "--image", "=x")
    assert bad.exit_code == 2 and "--image '=x' is not URI or NAME=URI" in bad.stderr


def test_serializer_names_entity_variable_and_type_of_an_unsupported_type():
    from flyrun.errors import UsageError
    from flyrun.idl.interface import typed_interface

    with pytest.raises(UsageError) as caught:
        typed_interface({"x": int}, {"o0": frozenset}, "task mod.t")
    assert caught.value.message.startswith("task mod.t: output 'o0' of type frozenset cannot be serialized: ")
    assert caught.value.exit_status == 2
