"""Map tasks, gates, raw containers and pod templates as flyteidl entities (flyte-protocol.md sections 4 and 6)."""

from __future__ import annotations

import json

import pytest
from idl_project import FLOWS, spec_files

MAP_M = "flows.constructs.map_shift_48493bd51a3f97d3fab9df536ea3d4e6-arraynode"


@pytest.fixture
def files(cli, project, tmp_path):
    out = tmp_path / "out"
    result = cli("package", str(project(FLOWS)), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    return spec_files(out)


def _nodes(files):
    return {n["id"]: n for n in files["workflows/flows.constructs.gated.json"]["template"]["nodes"]}


def test_map_over_a_partial_is_an_array_node_with_bound_inputs(files):
    node = _nodes(files)["n0"]
    bindings = {b["var"]: b["binding"] for b in node["inputs"]}
    assert bindings == {"dx": {"promise": {"node_id": "start-node", "var": "dx"}},
                        "label": {"scalar": {"primitive": {"string_value": "m"}}},
                        "p": {"promise": {"node_id": "start-node", "var": "points"}}}
    array = node["array_node"]
    assert array["node"]["id"] == MAP_M
    assert array["node"]["task_node"]["reference_id"]["name"] == MAP_M
    assert array["node"]["inputs"] == node["inputs"]
    assert (array["parallelism"], array["min_success_ratio"], array["execution_mode"],
            array["is_original_sub_node_interface"], array["bound_inputs"]) == (
        4, 0.5, "MINIMAL_STATE", False, ["dx", "label"])
    plain = _nodes(files)["n6"]["array_node"]
    assert "parallelism" not in plain and plain["bound_inputs"] == ["label"] and plain["min_success_ratio"] == 1.0
    assert _nodes(files)["n6"]["upstream_node_ids"] == ["n0"]


def test_map_task_template_runs_one_item_through_the_map_resolver(files):
    template = files[f"tasks/{MAP_M}.json"]["template"]
    assert (template["type"], template["task_type_version"]) == ("python-task", 1)
    args = template["container"]["args"]
    assert args[args.index("--resolver"):] == [
        "--resolver", "flyrun.map", "--", "vars", "dx,label", "resolver", "flyrun.default",
        "task-module", "flows.constructs", "task-name", "shift"]
    inputs = template["interface"]["inputs"]["variables"]
    assert inputs["dx"]["type"] == {"simple": "FLOAT"}
    assert inputs["p"]["type"]["collection_type"]["simple"] == "STRUCT"
    # min_success_ratio < 1: failed items give None, so the outputs are lists of optionals.
    assert "union_type" in template["interface"]["outputs"]["variables"]["o0"]["type"]["collection_type"]


def test_gates_are_named_by_their_gate_names(files):
    nodes = _nodes(files)
    assert nodes["n2"]["metadata"] == {"name": "check-count", "timeout": "1800s"}
    assert nodes["n2"]["gate_node"] == {"approve": {"signal_id": "check-count"}}
    assert nodes["n2"]["inputs"] == [{"var": "o0", "binding": {"promise": {"node_id": "n1", "var": "o0"}}}]
    assert nodes["n3"]["metadata"] == {"name": "who", "timeout": "600s"}
    assert nodes["n3"]["gate_node"] == {"signal": {"signal_id": "who", "type": {"simple": "STRING"},
                                                   "output_variable_name": "o0"}}
    assert nodes["n4"]["metadata"]["name"] == "sleep-gate"
    assert nodes["n4"]["gate_node"] == {"sleep": {"duration": "5s"}}
    assert nodes["n5"]["upstream_node_ids"] == ["n2", "n4"]
    assert nodes["n5"]["inputs"] == [{"var": "n", "binding": {"promise": {"node_id": "n2", "var": "o0"}}}]
    outputs = files["workflows/flows.constructs.gated.json"]["template"]["outputs"]
    assert outputs == [{"var": "o0", "binding": {"promise": {"node_id": "n3", "var": "o0"}}}]


def test_python_task_with_a_pod_template_is_a_k8s_pod(files):
    template = files["tasks/flows.constructs.count.json"]["template"]
    assert "container" not in template
    assert template["config"] == {"primary_container_name": "primary"}
    assert template["metadata"]["pod_template_name"] == "base"
    pod = template["k8s_pod"]
    assert pod["metadata"] == {"labels": {"team": "geo"}, "annotations": {"note": "x"}}
    assert pod["pod_spec"]["nodeSelector"] == {"disk": "ssd"}
    primary, sidecar = pod["pod_spec"]["containers"]
    assert primary["name"] == "primary" and primary["image"].startswith("ghcr.io/flyrun/flyrun:")
    assert primary["args"][-4:] == ["task-module", "flows.constructs", "task-name", "count"]
    assert primary["env"] == [{"name": "MODE", "value": "pod"}, {"name": "A", "value": "1"}]
    assert sidecar == {"name": "sidecar", "image": "busybox:1"}


def test_container_task_is_a_raw_container_with_data_config(files):
    template = files["tasks/geo-shell.json"]["template"]
    assert template["type"] == "raw-container"
    assert template["metadata"]["pod_template_name"] == "raw-base"
    assert template["config"] == {"primary_container_name": "main"}
    pod = template["k8s_pod"]
    assert pod["data_config"] == {"enabled": True, "input_path": "/var/inputs", "output_path": "/var/outputs",
                                  "format": "YAML"}
    (main,) = pod["pod_spec"]["containers"]
    assert (main["name"], main["image"], main["command"], main["args"]) == (
        "main", "alpine:3", ["sh", "-c", "echo {{.inputs.n}}"], [])
    assert "flyrun-execute" not in json.dumps(template)


def test_container_task_without_pod_template(cli, project, tmp_path):
    root = project({"raw.py": '''
        from flyrun import ContainerTask, kwtypes

        echo = ContainerTask(name="echo", image="alpine:3", command=["echo", "{{.inputs.x}}"],
                             inputs=kwtypes(x=int), input_data_dir="/in")
        '''})
    out = tmp_path / "o"
    assert cli("package", str(root / "raw.py"), "--output-dir", str(out)).exit_code == 0
    container = spec_files(out)["tasks/echo.json"]["template"]["container"]
    assert container["image"] == "alpine:3" and container["command"] == ["echo", "{{.inputs.x}}"]
    assert container["data_config"] == {"enabled": True, "input_path": "/in", "output_path": "", "format": "JSON"}


def test_a_changed_pod_template_changes_the_version(cli, project):
    # The pod spec comes from a JSON file that --copy auto does not bundle: only the pod template moves.
    root = project({"podded.py": '''
        import json
        import pathlib

        from flyrun import PodTemplate, task

        SPEC = json.loads((pathlib.Path(__file__).parent / "pod.json").read_text())

        @task(pod_template=PodTemplate(pod_spec=SPEC))
        def t(x: int) -> int:
            return x
        ''', "pod.json": '{"containers": [], "nodeSelector": {"pool": "a"}}'})

    def dry_run() -> dict:
        result = cli("package", str(root / "podded.py"), "--dry-run", "-o", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    before = dry_run()
    (root / "pod.json").write_text('{"containers": [], "nodeSelector": {"pool": "b"}}')
    after = dry_run()
    assert [f["path"] for f in after["files"]] == ["podded.py"]
    assert after["digest"] == before["digest"] and after["version"] != before["version"]
