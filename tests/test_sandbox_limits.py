"""Numbers and sizes a client sends are bounded at registration and launch (a 400 that says why), retries back
off, and compiling a big workflow is linear."""

from __future__ import annotations

import copy
import json
import time

import pytest
from sandbox_entities import (
    DOMAIN,
    INT,
    PROJECT,
    SQUARE,
    Client,
    promise,
    task,
    task_node,
    workflow,
)

from flyrun.sandbox import limits


@pytest.fixture(scope="module")
def api(sandbox_server) -> Client:
    client = Client(sandbox_server["url"])
    client.register(SQUARE)
    return client


def refused(response, *fragments: str) -> str:
    """A one-line 400 naming the problem, that never echoes a huge value back."""
    assert response.status_code == 400, response.text[:300]
    assert len(response.content) < 2000, "the error echoed the oversized value"
    message = response.json()["message"]
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def named(body: dict, name: str) -> dict:
    body = copy.deepcopy(body)
    body["id"]["name"] = body["spec"]["template"]["id"]["name"] = name
    return body


@pytest.mark.parametrize("retries", [4294967295, limits.MAX_RETRIES + 1])
def test_retries_beyond_the_cap_are_refused(api, retries):
    body = task(f"tests.retries{retries}", "write({})", {}, {}, retries=retries)
    refused(api.post("/api/v1/tasks", body), f"{retries} retries", f"most allowed is {limits.MAX_RETRIES}")


def test_retries_at_the_cap_are_accepted(api):
    body = task("tests.retries_at_cap", "write({})", {}, {}, retries=limits.MAX_RETRIES)
    assert api.post("/api/v1/tasks", body).status_code == 200


def test_negative_timeouts_are_refused(api):
    body = task("tests.negative_timeout", "write({})", {}, {}, timeout="-5s")
    refused(api.post("/api/v1/tasks", body), "negative timeout", "-5s")
    node = task_node("n0", SQUARE, {"x": promise("start-node", "x")}, metadata={"name": "sq", "timeout": "-1s"})
    wf = workflow("tests.negative_node_timeout", {"x": INT}, {}, [node], {})
    refused(api.post("/api/v1/workflows", wf), "node 'n0'", "negative timeout")


def test_node_retries_beyond_the_cap_are_refused(api):
    node = task_node("n0", SQUARE, {"x": promise("start-node", "x")},
                     metadata={"name": "sq", "retries": {"retries": 4294967295}})
    wf = workflow("tests.node_retries", {"x": INT}, {}, [node], {})
    refused(api.post("/api/v1/workflows", wf), "4294967295 retries")


def test_empty_container_args_are_refused_at_registration(api):
    body = task("tests.no_args", "write({})", {}, {})
    body["spec"]["template"]["container"]["args"] = []
    refused(api.post("/api/v1/tasks", body), "no command and no args")


def test_huge_names_are_refused_without_echoing_them(api):
    refused(api.post("/api/v1/tasks", named(SQUARE, "n" * 100_000)), "name is 100,000 characters")
    project = "p" * (5 << 20)
    refused(api.post("/api/v1/projects", {"project": {"id": "bigname", "name": project}}), "project name")
    refused(api.post("/api/v1/projects", {"project": {"id": project, "name": "x"}}), "project id")
    launch = {"project": project, "domain": DOMAIN, "spec": {"launch_plan": SQUARE["id"]}}
    refused(api.post("/api/v1/executions", launch), "project is 5,242,880 characters")
    long_name = {"project": PROJECT, "domain": DOMAIN, "name": "a" * 100_000,
                 "spec": {"launch_plan": SQUARE["id"]}}
    refused(api.post("/api/v1/executions", long_name), "exceeded length 20")


@pytest.mark.parametrize("value", [-1, limits.MAX_PARALLELISM + 1])
def test_max_parallelism_out_of_range_is_refused(api, value):
    body = {"project": PROJECT, "domain": DOMAIN, "spec": {"launch_plan": SQUARE["id"], "max_parallelism": value},
            "inputs": {"literals": {"x": {"scalar": {"primitive": {"integer": "2"}}}}}}
    refused(api.post("/api/v1/executions", body), f"max_parallelism {value}", "out of range")


def test_a_launch_plan_with_max_parallelism_out_of_range_is_refused(api):
    from sandbox_entities import launch_plan, square_twice

    api.register(square_twice())
    plan = launch_plan(square_twice())
    plan["id"]["version"] = "parallelism"
    plan["spec"]["max_parallelism"] = -5
    refused(api.post("/api/v1/launch_plans", plan), "max_parallelism -5")


STAMP = """
with open(inputs['marker'], 'a') as f:
    f.write(repr(time.time()) + '\\n')
fail('again', recoverable=True)
"""


def test_retries_back_off_exponentially(api, tmp_path):
    flaky = task("tests.flaky_backoff", STAMP, {"marker": {"simple": "STRING"}}, {}, retries=3)
    api.register(flaky)
    marker = {"scalar": {"primitive": {"string_value": str(tmp_path / "marker")}}}
    name = api.launch(flaky["id"], {"marker": marker})
    done = api.wait(name, timeout=60)
    assert done["closure"]["phase"] == "FAILED"
    stamps = [float(line) for line in (tmp_path / "marker").read_text().split()]
    assert len(stamps) == 4
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    for gap, wait in zip(gaps, (limits.backoff(1), limits.backoff(2), limits.backoff(3))):
        assert gap >= wait, gaps
    assert gaps[2] > gaps[0] + 0.4, gaps  # 0.2 s, 0.4 s, 0.8 s: the waits grow


def chain(name: str, size: int) -> dict:
    nodes = [task_node(f"n{i}", SQUARE, {"x": promise("start-node" if i == 0 else f"n{i - 1}",
                                                      "x" if i == 0 else "o0")}) for i in range(size)]
    return workflow(name, {"x": INT}, {"o0": INT}, nodes, {"o0": promise(f"n{size - 1}", "o0")})


def test_a_5000_node_chain_registers_in_seconds(api):
    body = chain("tests.chain5000", 5000)
    started = time.monotonic()
    response = api.http.post(api.url + "/api/v1/workflows", data=json.dumps(body), timeout=120,
                             headers={"Content-Type": "application/json"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text[:300]
    assert elapsed < 15, f"registering 5,000 nodes took {elapsed:.1f} s"  # cubic: many minutes
    stored = api.get("/api/v1/workflows/{project}/{domain}/{name}/{version}".format(**body["id"])).json()
    compiled = stored["closure"]["compiled_workflow"]["primary"]
    assert compiled["connections"]["upstream"]["n4999"]["ids"] == ["n4998"]
    assert compiled["connections"]["downstream"]["start-node"]["ids"] == ["n0"]


def test_a_cycle_names_its_nodes_and_what_waits_on_it(api):
    nodes = [task_node("a", SQUARE, {"x": promise("c", "o0")}), task_node("b", SQUARE, {"x": promise("a", "o0")}),
             task_node("c", SQUARE, {"x": promise("b", "o0")}), task_node("d", SQUARE, {"x": promise("c", "o0")}),
             task_node("e", SQUARE, {"x": promise("start-node", "x")})]
    wf = workflow("tests.cycle_and_waiter", {"x": INT}, {}, nodes, {})
    refused(api.post("/api/v1/workflows", wf), "the nodes a, b, c, d form a cycle")


def test_workflow_size_is_capped(monkeypatch):
    from flyteidl.admin import task_pb2, workflow_pb2
    from google.protobuf import json_format

    from flyrun.sandbox.admin import compiler
    from flyrun.sandbox.admin.wire import ApiError

    monkeypatch.setenv(compiler.MAX_NODES_VARIABLE, "100")
    request = json_format.ParseDict(chain("tests.too_big", 101), workflow_pb2.WorkflowCreateRequest())
    square = json_format.ParseDict(SQUARE, task_pb2.TaskCreateRequest())
    with pytest.raises(ApiError) as caught:
        compiler.compile_workflow(request.spec.template, [], lambda i: square.spec.template, lambda i: None)
    assert caught.value.code == 3 and "more than 100 nodes" in caught.value.message
    assert compiler.MAX_NODES_VARIABLE in caught.value.message
    monkeypatch.delenv(compiler.MAX_NODES_VARIABLE)
    assert compiler.max_workflow_nodes() == 50_000
    monkeypatch.setenv(compiler.MAX_NODES_VARIABLE, "100")
    request = json_format.ParseDict(chain("tests.fits", 100), workflow_pb2.WorkflowCreateRequest())
    compiler.compile_workflow(request.spec.template, [], lambda i: square.spec.template, lambda i: None)
