"""The sandbox's REST API against FlyteAdmin's contract: good bodies, and bad ones answered as FlyteAdmin would."""

from __future__ import annotations

import copy
import re

import pytest
from google.protobuf import json_format
from sandbox_entities import (
    ADD,
    DOMAIN,
    INT,
    PROJECT,
    SQUARE,
    STR,
    Client,
    ident,
    integer,
    launch_plan,
    promise,
    square_twice,
    square_twice_plan,
    task,
    task_node,
    workflow,
)


@pytest.fixture(scope="module")
def api(sandbox_server) -> Client:
    client = Client(sandbox_server["url"])
    wf = square_twice()
    client.register(SQUARE, ADD, wf, square_twice_plan())
    return client


def error_of(response, status: int, code: int) -> str:
    """The error body FlyteAdmin's gateway sends: {code, message, details}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["details"] == []
    return body["message"]


def test_healthcheck_version_domains(api):
    assert api.get("/healthcheck").status_code == 200
    version = api.get("/api/v1/version").json()
    assert set(version["control_plane_version"]) == {"Build", "Version", "BuildTime"}
    assert [d["id"] for d in api.get("/api/v1/domains").json()["domains"]] == ["development", "staging", "production"]


def test_projects_list_register_get(api):
    projects = api.get("/api/v1/projects").json()["projects"]
    default = next(p for p in projects if p["id"] == "flytesnacks")
    assert [d["id"] for d in default["domains"]] == ["development", "staging", "production"]
    assert default["state"] == "ACTIVE" and default["labels"] is None  # unset messages are null, as in protojson
    assert api.post("/api/v1/projects", {"project": {"id": "extra", "name": "Extra"}}).status_code == 200
    assert api.get("/api/v1/projects/extra").json()["name"] == "Extra"
    error_of(api.post("/api/v1/projects", {"project": {"id": "extra", "name": "Extra"}}), 409, 6)
    error_of(api.post("/api/v1/projects", {"project": {"id": "x"}}), 400, 3)
    error_of(api.get("/api/v1/projects/nope"), 404, 5)


def test_identical_task_is_409_and_a_different_one_400(api):
    assert "identical structure" in error_of(api.post("/api/v1/tasks", SQUARE), 409, 6)
    changed = copy.deepcopy(SQUARE)
    changed["spec"]["template"]["container"]["image"] = "python:3.12"
    assert "different structure" in error_of(api.post("/api/v1/tasks", changed), 400, 3)


@pytest.mark.parametrize("mutate, fragment", [
    (lambda b: b.update(extra=1), "has no field named"),
    (lambda b: b["id"].update(resource_type="WORKFLOW"), "unexpected resource type workflow"),
    (lambda b: b["id"].update(version=""), "missing version"),
    (lambda b: b.pop("spec"), "missing spec"),
    (lambda b: b["spec"]["template"].pop("interface"), "missing typed interface"),
    (lambda b: b["spec"]["template"]["container"].update(image=""), "missing image"),
    (lambda b: b["id"].update(project="nope"), "failed to validate that project [nope]"),
    (lambda b: b["id"].update(domain="qa"), "domain [qa] is unrecognized"),
    (lambda b: b["spec"]["template"]["metadata"].update(retries="x"), "Failed to parse"),
])
def test_bad_task_bodies_are_400(api, mutate, fragment):
    body = copy.deepcopy(SQUARE)
    body["id"]["version"] = body["spec"]["template"]["id"]["version"] = "bad-body"
    mutate(body)
    assert fragment in error_of(api.post("/api/v1/tasks", body), 400, 3)


def test_body_that_is_not_json_is_400(api):
    response = api.http.post(api.url + "/api/v1/tasks", data=b"{not json", timeout=10,
                             headers={"Content-Type": "application/json"})
    error_of(response, 400, 3)
    untyped = api.http.post(api.url + "/api/v1/tasks", data=b"{}", timeout=10)  # no Content-Type: the gate's 415
    assert error_of(untyped, 415, 3).startswith("Content-Type '(none)' is not accepted here")


def test_get_task_and_its_closure(api):
    task_id = SQUARE["id"]
    got = api.get("/api/v1/tasks/{project}/{domain}/{name}/{version}".format(**task_id)).json()
    assert got["id"] == dict(task_id, org="")
    assert got["closure"]["compiled_task"]["template"]["container"]["args"][3] == "{{.input}}"
    assert got["closure"]["created_at"].endswith("Z")
    from flyteidl.admin import task_pb2

    json_format.ParseDict(got, task_pb2.Task(), ignore_unknown_fields=False)
    error_of(api.get("/api/v1/tasks/flytesnacks/development/tests.square/nope"), 404, 5)


def test_list_tasks_pages_sorts_and_filters(api):
    for version in ("p1", "p2", "p3"):
        api.register(task("tests.paged", "write({})", {}, {}, version=version))
    path = "/api/v1/tasks/flytesnacks/development/tests.paged"
    first = api.get(path, params={"limit": 2, "sort_by.key": "version", "sort_by.direction": "ASCENDING"}).json()
    assert [t["id"]["version"] for t in first["tasks"]] == ["p1", "p2"] and first["token"] == "2"
    rest = api.get(path, params={"limit": 2, "token": "2", "sort_by.key": "version",
                                 "sort_by.direction": "ASCENDING"}).json()
    assert [t["id"]["version"] for t in rest["tasks"]] == ["p3"] and rest["token"] == ""
    newest = api.get(path, params={"limit": 1}).json()  # default: newest first
    assert newest["tasks"][0]["id"]["version"] == "p3"
    filtered = api.get(path, params={"limit": 10, "filters": "eq(version,p2)"}).json()
    assert [t["id"]["version"] for t in filtered["tasks"]] == ["p2"]
    every = api.get("/api/v1/tasks/flytesnacks/development", params={"limit": 100}).json()["tasks"]
    assert {"tests.paged", "tests.square"} <= {t["id"]["name"] for t in every}
    assert "limit" in error_of(api.get(path), 400, 3)
    error_of(api.get(path, params={"limit": 1, "sort_by.key": "colour"}), 400, 3)
    error_of(api.get(path, params={"limit": 1, "token": "x"}), 400, 3)
    error_of(api.get(path, params={"limit": 1, "filters": "eq(colour,red)"}), 400, 3)
    error_of(api.get(path, params={"limit": "many"}), 400, 3)


def test_workflow_registration_and_compiled_closure(api):
    wf = square_twice()
    assert "identical structure" in error_of(api.post("/api/v1/workflows", wf), 409, 6)
    got = api.get("/api/v1/workflows/{project}/{domain}/{name}/{version}".format(**wf["id"])).json()
    compiled = got["closure"]["compiled_workflow"]
    assert [n["id"] for n in compiled["primary"]["template"]["nodes"]] == ["start-node", "n0", "n1", "end-node"]
    assert compiled["primary"]["connections"]["upstream"]["n1"]["ids"] == ["n0"]
    assert [t["template"]["id"]["name"] for t in compiled["tasks"]] == ["tests.square"]
    changed = copy.deepcopy(wf)
    changed["spec"]["template"]["nodes"][1]["metadata"]["name"] = "renamed"
    error_of(api.post("/api/v1/workflows", changed), 400, 3)


def test_bad_workflows(api):
    missing_task = workflow("tests.bad1", {}, {}, [task_node("n0", task("tests.unregistered", "", {}, {}), {})], {})
    error_of(api.post("/api/v1/workflows", missing_task), 404, 5)
    unknown_node = workflow("tests.bad2", {}, {"o0": INT}, [task_node("n0", SQUARE, {"x": promise("n9", "o0")})],
                            {"o0": promise("n0", "o0")})
    assert "unknown node" in error_of(api.post("/api/v1/workflows", unknown_node), 400, 3)
    cycle = workflow("tests.bad3", {}, {}, [task_node("n0", SQUARE, {"x": promise("n1", "o0")}),
                                           task_node("n1", SQUARE, {"x": promise("n0", "o0")})], {})
    assert "cycle" in error_of(api.post("/api/v1/workflows", cycle), 400, 3)


def test_workflow_inputs_bound_with_an_empty_node_id_name_the_start_node(api):
    # flytekit writes a binding to a workflow input as {"promise": {"var": "x"}}; the compiler names start-node
    wf = workflow("tests.flytekit_style", {"x": INT}, {"o0": INT},
                  [task_node("n0", SQUARE, {"x": {"promise": {"var": "x"}}})], {"o0": promise("n0", "o0")})
    created = api.post("/api/v1/workflows", wf)
    assert created.status_code == 200, created.text
    got = api.get("/api/v1/workflows/{project}/{domain}/{name}/{version}".format(**wf["id"])).json()
    node = got["closure"]["compiled_workflow"]["primary"]["template"]["nodes"][1]
    promised = node["inputs"][0]["binding"]["promise"]
    assert (promised["node_id"], promised["var"]) == ("start-node", "x")


def test_launch_plans_activation(api):
    wf = square_twice()
    lp_id = dict(wf["id"], resource_type="LAUNCH_PLAN")
    path = "/api/v1/launch_plans/{project}/{domain}/{name}/{version}".format(**lp_id)
    got = api.get(path).json()
    assert got["closure"]["state"] == "INACTIVE"
    assert got["closure"]["expected_inputs"]["parameters"]["x"]["default"]["scalar"]["primitive"]["integer"] == "2"
    active = "/api/v1/active_launch_plans/flytesnacks/development/" + lp_id["name"]
    error_of(api.get(active), 404, 5)
    second = launch_plan(wf)
    second["id"]["version"] = "v2"
    api.register(second)
    assert api.http.put(api.url + path, json={"id": lp_id, "state": "ACTIVE"}, timeout=10).status_code == 200
    assert api.get(active).json()["id"]["version"] == "v1"
    v2 = path[: -len("v1")] + "v2"
    assert api.http.put(api.url + v2, json={"state": "ACTIVE"}, timeout=10).status_code == 200
    assert api.get(active).json()["id"]["version"] == "v2"
    assert api.get(path).json()["closure"]["state"] == "INACTIVE"
    listed = api.get("/api/v1/active_launch_plans/flytesnacks/development", params={"limit": 10}).json()
    assert [p["id"]["version"] for p in listed["launch_plans"] if p["id"]["name"] == lp_id["name"]] == ["v2"]
    error_of(api.http.put(api.url + path, json={"state": "ON"}, timeout=10), 400, 3)


def test_bad_launch_plans(api):
    wf = square_twice()
    orphan = launch_plan(dict(wf, id=ident("WORKFLOW", "tests.nowhere")))
    error_of(api.post("/api/v1/launch_plans", orphan), 404, 5)
    extra_default = launch_plan(wf, {"y": (INT, integer(1))})
    extra_default["id"]["version"] = "v9"
    assert "unexpected default_input y" in error_of(api.post("/api/v1/launch_plans", extra_default), 400, 3)
    wrong_type = launch_plan(wf, {"x": (INT, {"scalar": {"primitive": {"string_value": "a"}}})})
    wrong_type["id"]["version"] = "v8"
    error_of(api.post("/api/v1/launch_plans", wrong_type), 400, 3)


def test_execution_of_a_launch_plan(api):
    lp_id = dict(square_twice()["id"], resource_type="LAUNCH_PLAN")
    name = api.launch(lp_id, {"x": integer(3)})
    assert re.fullmatch(r"a[a-z0-9]{19}", name)
    done = api.wait(name)
    assert done["closure"]["phase"] == "SUCCEEDED"
    assert done["closure"]["workflow_id"]["name"] == "tests.square_twice"
    assert done["closure"]["duration"].endswith("s") and "error" not in done["closure"]  # a oneof: left out
    data = api.get(f"/api/v1/data/executions/{PROJECT}/{DOMAIN}/{name}").json()
    assert data["full_inputs"]["literals"]["x"]["scalar"]["primitive"]["integer"] == "3"
    assert data["full_outputs"]["literals"]["o0"]["scalar"]["primitive"]["integer"] == "81"
    defaulted = api.wait(api.launch(lp_id))
    assert api.outputs(defaulted["id"]["name"])["o0"]["scalar"]["primitive"]["integer"] == "16"


def test_execution_of_a_task(api):
    name = api.launch(ADD["id"], {"a": integer(2), "b": integer(5)}, name="direct-add")
    assert name == "direct-add"
    assert api.wait(name)["closure"]["phase"] == "SUCCEEDED"
    assert api.outputs(name)["o0"]["scalar"]["primitive"]["integer"] == "7"


@pytest.mark.parametrize("change, status, code, fragment", [
    (lambda b: b["inputs"]["literals"].update(x={"scalar": {"primitive": {"string_value": "3"}}}), 400, 3,
     "invalid x input wrong type"),
    (lambda b: b["inputs"]["literals"].update(y=integer(1)), 400, 3, "invalid input y"),
    (lambda b: b.update(name="Bad_Name"), 400, 3, "invalid name format"),
    (lambda b: b.update(name="a" * 21), 400, 3, "exceeded length"),
    (lambda b: b["spec"]["launch_plan"].update(version="nope"), 404, 5, "missing entity"),
    (lambda b: b["spec"]["launch_plan"].update(resource_type="WORKFLOW"), 400, 3, "Invalid reference"),
    (lambda b: b.pop("spec"), 400, 3, "missing spec"),
    (lambda b: b.update(project=""), 400, 3, "missing project"),
    (lambda b: b["spec"].update(bogus=True), 400, 3, "has no field named"),
])
def test_bad_execution_requests(api, change, status, code, fragment):
    body = {"project": PROJECT, "domain": DOMAIN,
            "spec": {"launch_plan": dict(square_twice()["id"], resource_type="LAUNCH_PLAN")},
            "inputs": {"literals": {"x": integer(1)}}}
    change(body)
    assert fragment in error_of(api.post("/api/v1/executions", body), status, code)


def test_missing_required_input_and_duplicate_name(api):
    body = {"project": PROJECT, "domain": DOMAIN, "spec": {"launch_plan": ADD["id"]},
            "inputs": {"literals": {"a": integer(1)}}}
    assert "expected_inputs b missing" in error_of(api.post("/api/v1/executions", body), 400, 3)
    body["inputs"]["literals"]["b"] = integer(1)
    body["name"] = "twice"
    assert api.post("/api/v1/executions", body).status_code == 200
    error_of(api.post("/api/v1/executions", body), 409, 6)


def test_list_get_and_missing_executions(api):
    name = api.launch(ADD["id"], {"a": integer(1), "b": integer(1)})
    api.wait(name)
    listed = api.get(f"/api/v1/executions/{PROJECT}/{DOMAIN}", params={"limit": 200}).json()["executions"]
    assert name in {e["id"]["name"] for e in listed}
    succeeded = api.get(f"/api/v1/executions/{PROJECT}/{DOMAIN}",
                        params={"limit": 200, "filters": "eq(phase,SUCCEEDED)"}).json()["executions"]
    assert succeeded and all(e["closure"]["phase"] == "SUCCEEDED" for e in succeeded)
    error_of(api.get(f"/api/v1/executions/{PROJECT}/{DOMAIN}/nope"), 404, 5)
    error_of(api.get(f"/api/v1/data/executions/{PROJECT}/{DOMAIN}/nope"), 404, 5)
    error_of(api.http.delete(f"{api.url}/api/v1/executions/{PROJECT}/{DOMAIN}/nope", json={}, timeout=10), 404, 5)
    finished = api.http.delete(f"{api.url}/api/v1/executions/{PROJECT}/{DOMAIN}/{name}", json={}, timeout=10)
    assert "already terminated" in error_of(finished, 400, 9)


def test_node_executions_list_get_and_data(api):
    name = api.launch(dict(square_twice()["id"], resource_type="LAUNCH_PLAN"), {"x": integer(2)})
    api.wait(name)
    nodes = api.nodes(name)
    assert list(nodes) == ["start-node", "n0", "n1", "end-node"]
    n1 = nodes["n1"]
    assert n1["closure"]["phase"] == "SUCCEEDED" and n1["closure"]["started_at"] and n1["closure"]["duration"]
    assert n1["metadata"]["spec_node_id"] == "n1" and "error" not in n1["closure"]
    got = api.get(f"/api/v1/node_executions/{PROJECT}/{DOMAIN}/{name}/n1").json()
    assert got["id"]["node_id"] == "n1"
    data = api.get(f"/api/v1/data/node_executions/{PROJECT}/{DOMAIN}/{name}/n1").json()
    assert data["full_inputs"]["literals"]["x"]["scalar"]["primitive"]["integer"] == "4"
    assert data["full_outputs"]["literals"]["o0"]["scalar"]["primitive"]["integer"] == "16"
    error_of(api.get(f"/api/v1/node_executions/{PROJECT}/{DOMAIN}/{name}/n7"), 404, 5)
    error_of(api.get(f"/api/v1/node_executions/{PROJECT}/{DOMAIN}/{name}"), 400, 3)  # no limit


def test_failed_node_carries_its_error(api):
    boom = task("tests.boom", "fail('bad input: ' + str(inputs['x']))", {"x": INT}, {"o0": INT})
    api.register(boom)
    name = api.launch(boom["id"], {"x": integer(5)})
    done = api.wait(name)
    assert done["closure"]["phase"] == "FAILED"
    assert done["closure"]["error"]["message"] == "bad input: 5" and done["closure"]["error"]["kind"] == "USER"
    node = [n for n in api.nodes(name).values() if n["id"]["node_id"] not in ("start-node", "end-node")][0]
    assert node["closure"]["phase"] == "FAILED" and node["closure"]["error"]["code"] == "USER:ValueError"


def test_unknown_routes_and_methods(api):
    assert error_of(api.get("/api/v1/nothing"), 404, 5) == "Not Found"
    error_of(api.http.patch(api.url + "/api/v1/tasks", json={}, timeout=10), 501, 12)


def test_auth_discovery_says_auth_is_off(api):
    for path in ("/config/v1/flyte_client", "/.well-known/oauth-authorization-server"):
        assert "AuthMetadataService" in error_of(api.get(path), 501, 12)
    assert "IdentityService" in error_of(api.get("/me"), 501, 12)


def test_request_bodies_parse_with_flyteidl(api):
    """What this suite sends is what FlyteAdmin accepts: every body parses strictly."""
    from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

    json_format.ParseDict(SQUARE, task_pb2.TaskCreateRequest(), ignore_unknown_fields=False)
    json_format.ParseDict(square_twice(), workflow_pb2.WorkflowCreateRequest(), ignore_unknown_fields=False)
    json_format.ParseDict(launch_plan(square_twice()), launch_plan_pb2.LaunchPlanCreateRequest(),
                          ignore_unknown_fields=False)
    assert STR


def test_inputs_in_the_spec_as_older_clients_send_them(api):
    body = {"project": PROJECT, "domain": DOMAIN, "spec": {"launch_plan": ADD["id"], "inputs": {
        "literals": {"a": integer(20), "b": integer(22)}}}}
    response = api.post("/api/v1/executions", body)
    assert response.status_code == 200, response.text
    name = response.json()["id"]["name"]
    api.wait(name)
    assert api.outputs(name)["o0"]["scalar"]["primitive"]["integer"] == "42"


@pytest.mark.parametrize("method, path, body, fragment", [
    ("POST", "/api/v1/signals", {"value": {"scalar": {"primitive": {"boolean": True}}}}, "missing id"),
    ("POST", "/api/v1/signals", {"id": {"execution_id": {"project": "p", "domain": "d", "name": "n"}},
                                 "value": integer(1)}, "missing signal_id"),
    ("POST", "/api/v1/signals", {"id": {"signal_id": "s", "execution_id": {"project": "p", "domain": "d",
                                                                           "name": "n"}}}, "missing value"),
    ("POST", "/api/v1/signals", {"id": {"signal_id": "s"}, "value": integer(1), "extra": 1}, "has no field"),
    ("DELETE", f"/api/v1/executions/{PROJECT}/{DOMAIN}/x", {"reason": "no such field"}, "has no field"),
    ("PUT", "/api/v1/launch_plans/flytesnacks/development/tests.square_twice/v1", {"status": "ACTIVE"},
     "has no field"),
    ("POST", "/api/v1/projects", {"project": {"id": "p2", "name": "P2", "domains": [{"id": "qa"}]}},
     "Domains are currently only set system wide"),
    ("POST", "/api/v1/dataproxy/artifact_urn", [], "invalid request body"),
])
def test_more_bad_bodies_are_400(api, method, path, body, fragment):
    response = api.http.request(method, api.url + path, json=body, timeout=10)
    assert fragment in error_of(response, 400, 3)
