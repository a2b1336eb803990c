"""Executions on the sandbox's scheduler: arrays, retries, timeouts, subworkflows, branches, gates, termination.

Every task here is a hand-built TaskTemplate whose container reads inputs.pb and writes outputs.pb or error.pb,
which is the contract propeller has with any task container.
"""

from __future__ import annotations

import os
import time

import pytest
from sandbox_entities import (
    ADD,
    INT,
    SQUARE,
    Client,
    approve_workflow,
    ident,
    integer,
    launch_plan,
    promise,
    square_twice,
    square_twice_plan,
    task,
    task_node,
    workflow,
    workflow_template,
)

LIST_INT = {"collection_type": INT}
COUNTING = """
with open(inputs['marker'], 'a') as f:
    f.write('attempt\\n')
"""


@pytest.fixture(scope="module")
def runs(sandbox_server) -> Client:
    client = Client(sandbox_server["url"])
    client.register(SQUARE, ADD)
    return client


def value(literal):
    return literal["scalar"]["primitive"].get("integer")


def collection(items):
    return {"collection": {"literals": [integer(i) for i in items]}}


def map_workflow(name, ratio=1.0):
    body = "if inputs['x'] < 0: fail('negative item')\nwrite({'o0': inputs['x'] * inputs['k']})"
    scale = task("tests.map_scale", body, {"x": LIST_INT, "k": INT}, {"o0": LIST_INT})
    bindings = [{"var": "x", "binding": promise("start-node", "xs")}, {"var": "k", "binding": integer(10)}]
    array = {"id": "n0", "metadata": {"name": "map_scale"}, "inputs": bindings, "array_node": {
        "node": {"id": "n0", "metadata": {"name": "map_scale"}, "inputs": bindings,
                 "task_node": {"reference_id": scale["id"]}},
        "min_success_ratio": ratio, "bound_inputs": ["k"], "parallelism": 4}}
    return scale, workflow(name, {"xs": LIST_INT}, {"o0": LIST_INT}, [array], {"o0": promise("n0", "o0")})


def test_array_node_maps_with_a_bound_input(runs):
    scale, wf = map_workflow("tests.mapped")
    runs.register(scale, wf, launch_plan(wf))
    name = runs.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"xs": collection([1, 2, 3, 4, 5])})
    assert runs.wait(name)["closure"]["phase"] == "SUCCEEDED"
    items = runs.outputs(name)["o0"]["collection"]["literals"]
    assert [value(i) for i in items] == ["10", "20", "30", "40", "50"]
    node = runs.nodes(name)["n0"]
    # propeller reports an ArrayNode as is_array only; flytekit's FlyteRemote cannot sync it as a parent node
    assert node["metadata"]["is_array"] and not node["metadata"]["is_parent_node"]
    children = runs.nodes(name, parent="n0")
    assert sorted(children) == [f"n0-0-{i}" for i in range(5)]
    data = runs.get(f"/api/v1/data/node_executions/flytesnacks/development/{name}/n0-0-3").json()
    assert value(data["full_inputs"]["literals"]["x"]) == "4" and value(data["full_inputs"]["literals"]["k"]) == "10"


def test_array_node_min_success_ratio(runs):
    scale, tolerant = map_workflow("tests.mapped_tolerant", ratio=0.5)
    _, strict = map_workflow("tests.mapped_strict")
    runs.register(scale, tolerant, strict)
    runs.register(launch_plan(tolerant), launch_plan(strict))
    name = runs.launch(dict(tolerant["id"], resource_type="LAUNCH_PLAN"), {"xs": collection([1, -1, 3])})
    assert runs.wait(name)["closure"]["phase"] == "SUCCEEDED"
    items = runs.outputs(name)["o0"]["collection"]["literals"]
    assert value(items[0]) == "10" and "none_type" in items[1]["scalar"] and value(items[2]) == "30"
    failed = runs.launch(dict(strict["id"], resource_type="LAUNCH_PLAN"), {"xs": collection([1, -1, 3])})
    done = runs.wait(failed)
    assert done["closure"]["phase"] == "FAILED"
    assert "1 of 3 items failed" in done["closure"]["error"]["message"]
    assert "negative item" in done["closure"]["error"]["message"]


def test_recoverable_errors_are_retried(runs, tmp_path):
    flaky = task("tests.flaky", COUNTING + """
if os.environ['FLYTE_ATTEMPT_NUMBER'] == '0':
    fail('try again', recoverable=True)
write({'o0': int(os.environ['FLYTE_ATTEMPT_NUMBER'])})""", {"marker": {"simple": "STRING"}}, {"o0": INT}, retries=2)
    runs.register(flaky)
    marker = str(tmp_path / "flaky")
    name = runs.launch(flaky["id"], {"marker": {"scalar": {"primitive": {"string_value": marker}}}})
    assert runs.wait(name)["closure"]["phase"] == "SUCCEEDED"
    assert value(runs.outputs(name)["o0"]) == "1"
    assert open(marker).read().count("attempt") == 2


@pytest.mark.parametrize("body, attempts, message", [
    ("fail('not recoverable')", 1, "not recoverable"),
    ("sys.exit(3)", 3, "exited with code 3"),
])
def test_failures_and_retry_budget(runs, tmp_path, body, attempts, message):
    failing = task(f"tests.failing{attempts}", COUNTING + body, {"marker": {"simple": "STRING"}}, {}, retries=2)
    runs.register(failing)
    marker = str(tmp_path / "failing")
    name = runs.launch(failing["id"], {"marker": {"scalar": {"primitive": {"string_value": marker}}}})
    done = runs.wait(name)
    assert done["closure"]["phase"] == "FAILED" and message in done["closure"]["error"]["message"]
    assert open(marker).read().count("attempt") == attempts


def test_task_timeout(runs):
    slow = task("tests.slow", "time.sleep(30)", {}, {}, timeout="1s")
    runs.register(slow)
    started = time.monotonic()
    name = runs.launch(slow["id"])
    done = runs.wait(name, timeout=20)
    assert time.monotonic() - started < 10
    assert done["closure"]["phase"] == "FAILED" and "timeout" in done["closure"]["error"]["message"]
    node = [n for n in runs.nodes(name).values() if n["metadata"]["spec_node_id"] not in ("start-node",)][0]
    assert node["closure"]["phase"] == "TIMED_OUT"


def test_subworkflow_and_launch_plan_nodes(runs):
    sub_id = ident("WORKFLOW", "tests.sub")
    sub = workflow_template(sub_id, {"x": INT}, {"o0": INT},
                            [task_node("n0", SQUARE, {"x": promise("start-node", "x")})], {"o0": promise("n0", "o0")})
    twice = square_twice()
    runs.register(twice, square_twice_plan())
    nodes = [{"id": "n0", "metadata": {"name": "sub"}, "inputs": [{"var": "x", "binding": promise("start-node", "x")}],
              "workflow_node": {"sub_workflow_ref": sub_id}},
             {"id": "n1", "metadata": {"name": "lp"}, "inputs": [{"var": "x", "binding": promise("n0", "o0")}],
              "workflow_node": {"launchplan_ref": dict(twice["id"], resource_type="LAUNCH_PLAN")}}]
    parent = workflow("tests.parent", {"x": INT}, {"o0": INT}, nodes, {"o0": promise("n1", "o0")}, sub_workflows=[sub])
    runs.register(parent, launch_plan(parent))
    name = runs.launch(dict(parent["id"], resource_type="LAUNCH_PLAN"), {"x": integer(2)})
    done = runs.wait(name)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"]
    assert value(runs.outputs(name)["o0"]) == "256"  # ((2²)²)² = 256
    assert list(runs.nodes(name, parent="n0")) == ["n0-0-n0"]  # a subworkflow runs inline
    # A launch plan node runs as a child execution, as propeller runs it: the node names it, it names the node.
    lp_node = runs.nodes(name)["n1"]
    assert not lp_node["metadata"].get("is_parent_node") and not runs.nodes(name, parent="n1")
    child_name = lp_node["closure"]["workflow_node_metadata"]["executionId"]["name"]
    child = runs.execution(child_name)
    assert child["closure"]["phase"] == "SUCCEEDED"
    assert child["spec"]["metadata"]["mode"] == "CHILD_WORKFLOW" and child["spec"]["metadata"]["nesting"] == 1
    assert child["spec"]["metadata"]["parent_node_execution"] == {
        "node_id": "n1", "execution_id": {"project": "flytesnacks", "domain": "development", "name": name, "org": ""}}
    assert {"n0", "n1"} <= set(runs.nodes(child_name))
    listed = runs.get("/api/v1/executions/flytesnacks/development", params={
        "limit": 10, "filters": f"eq(parent_execution,{name})"}).json()["executions"]
    assert [e["id"]["name"] for e in listed] == [child_name]


def test_branch_node_runs_the_matching_case(runs):
    condition = {"comparison": {"operator": "GT", "left_value": {"var": "x"},
                                "right_value": {"primitive": {"integer": "5"}}}}
    big = task_node("n0-big", SQUARE, {"x": promise("start-node", "x")})
    small = task_node("n0-small", ADD, {"a": promise("start-node", "x"), "b": integer(1000)})
    branch = {"id": "n0", "metadata": {"name": "pick"}, "inputs": [{"var": "x", "binding": promise("start-node", "x")}],
              "branch_node": {"if_else": {"case": {"condition": condition, "then_node": big}, "else_node": small}}}
    wf = workflow("tests.branching", {"x": INT}, {"o0": INT}, [branch], {"o0": promise("n0", "o0")})
    runs.register(wf, launch_plan(wf))
    big = runs.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(7)})
    small = runs.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(3)})
    runs.wait(big), runs.wait(small)
    assert value(runs.outputs(big)["o0"]) == "49" and value(runs.outputs(small)["o0"]) == "1003"
    assert list(runs.nodes(small, parent="n0")) == ["n0-0-n0-small"]


def test_approve_gate_waits_then_passes_its_value_on(runs):
    wf = approve_workflow()
    runs.register(wf, launch_plan(wf))
    name = runs.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(3)})
    runs.wait_for_node(name, "n1", "RUNNING")
    assert runs.execution(name)["closure"]["phase"] == "RUNNING"
    signals = runs.get(f"/api/v1/signals/flytesnacks/development/{name}", params={"limit": 10}).json()["signals"]
    assert signals[0]["id"]["signal_id"] == "review" and signals[0]["type"]["simple"] == "BOOLEAN"
    assert runs.signal(name, "nope", {"scalar": {"primitive": {"boolean": True}}}).status_code == 400
    wrong = runs.signal(name, "review", integer(1))
    assert wrong.status_code == 400 and "castable" in wrong.json()["message"]
    assert runs.signal(name, "review", {"scalar": {"primitive": {"boolean": True}}}).status_code == 200
    assert runs.wait(name)["closure"]["phase"] == "SUCCEEDED"
    assert value(runs.outputs(name)["o0"]) == "10"


def test_rejected_gate_fails_the_run(runs):
    wf = approve_workflow()
    runs.register(wf, launch_plan(wf))
    name = runs.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(3)})
    runs.wait_for_node(name, "n1", "RUNNING")
    runs.signal(name, "review", {"scalar": {"primitive": {"boolean": False}}})
    done = runs.wait(name)
    assert done["closure"]["phase"] == "FAILED" and "rejected" in done["closure"]["error"]["message"]


def test_a_gate_of_an_ended_execution_cannot_be_answered(runs):
    """What the console's Approve button sends (POST /api/v1/signals) to a run aborted while its gate waited:
    FAILED_PRECONDITION (HTTP 400), not an approval nobody acts on."""
    wf = approve_workflow()
    runs.register(wf, launch_plan(wf))
    name = runs.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(3)})
    runs.wait_for_node(name, "n1", "RUNNING")
    stopped = runs.http.delete(f"{runs.url}/api/v1/executions/flytesnacks/development/{name}",
                               json={"cause": "enough"}, timeout=10)
    assert stopped.status_code == 200
    assert runs.wait(name, timeout=20)["closure"]["phase"] == "ABORTED"
    refused = runs.signal(name, "review", {"scalar": {"primitive": {"boolean": True}}})
    assert refused.status_code == 400, refused.text
    message = f"execution flytesnacks:development:{name} is ABORTED; its gate 'review' can no longer be answered"
    assert refused.json() == {"code": 9, "details": [], "message": message}  # 9: FAILED_PRECONDITION


def test_wait_for_input_and_sleep_gates(runs):
    ask = {"id": "n0", "metadata": {"name": "number", "timeout": "600s"},
           "gate_node": {"signal": {"signal_id": "number", "type": INT, "output_variable_name": "o0"}}}
    nap = {"id": "n1", "metadata": {"name": "sleep-gate"}, "gate_node": {"sleep": {"duration": "1s"}}}
    add = task_node("n2", ADD, {"a": promise("n0", "o0"), "b": integer(1)}, upstream_node_ids=["n1"])
    wf = workflow("tests.asking", {}, {"o0": INT}, [ask, nap, add], {"o0": promise("n2", "o0")})
    runs.register(wf, launch_plan(wf))
    started = time.monotonic()
    name = runs.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"))
    runs.wait_for_node(name, "n0", "RUNNING")
    assert runs.signal(name, "number", {"scalar": {"primitive": {"string_value": "x"}}}).status_code == 400
    assert runs.signal(name, "number", integer(41)).status_code == 200
    assert runs.wait(name)["closure"]["phase"] == "SUCCEEDED"
    assert time.monotonic() - started >= 1.0
    assert value(runs.outputs(name)["o0"]) == "42"


def test_terminate_stops_the_running_process(runs, tmp_path):
    sleeper = task("tests.sleeper", "open(inputs['pidfile'], 'w').write(str(os.getpid()))\ntime.sleep(120)",
                   {"pidfile": {"simple": "STRING"}}, {})
    runs.register(sleeper)
    pidfile = tmp_path / "pid"
    name = runs.launch(sleeper["id"], {"pidfile": {"scalar": {"primitive": {"string_value": str(pidfile)}}}})
    deadline = time.monotonic() + 20
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    response = runs.http.delete(f"{runs.url}/api/v1/executions/flytesnacks/development/{name}",
                                json={"cause": "enough"}, timeout=10)
    assert response.status_code == 200
    done = runs.wait(name, timeout=20, phases=("QUEUED", "RUNNING"))
    assert done["closure"]["phase"] == "ABORTED" and done["closure"]["abort_metadata"]["cause"] == "enough"
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "the task process outlived its execution"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def test_failure_policy_lets_independent_nodes_finish(runs):
    boom = task("tests.boom_now", "fail('boom')", {}, {})
    runs.register(boom)
    wf = workflow("tests.keep_going", {}, {"o0": INT},
                  [task_node("n0", boom, {}), task_node("n1", ADD, {"a": integer(1), "b": integer(2)})],
                  {"o0": promise("n1", "o0")})
    wf["spec"]["template"]["metadata"] = {"on_failure": "FAIL_AFTER_EXECUTABLE_NODES_COMPLETE"}
    runs.register(wf, launch_plan(wf))
    name = runs.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"))
    assert runs.wait(name)["closure"]["phase"] == "FAILED"
    assert runs.nodes(name)["n1"]["closure"]["phase"] == "SUCCEEDED"


def test_container_task_runs_on_the_host_when_no_engine_works(runs):
    """The default runtime is the first of docker, podman and host that works; on a machine whose engines do not
    answer that is the host, with /var/inputs and /var/outputs mapped to the attempt's folders."""
    from flyrun.protocol.runtimes import first_engine

    raw = task("tests.raw", "", {"x": INT}, {"o0": INT}, task_type="raw-container")
    raw["spec"]["template"]["container"].update(
        args=["sh", "-c", "echo $(( {{.inputs.x}} + $(cat /var/inputs/x) )) > /var/outputs/o0"],
        data_config={"enabled": True, "input_path": "/var/inputs", "output_path": "/var/outputs"})
    runs.register(raw)
    name = runs.launch(raw["id"], {"x": integer(1)})
    done = runs.wait(name, timeout=300)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"].get("error")
    if first_engine()[0] is None:
        assert value(runs.outputs(name)["o0"]) == "2"


def test_container_task_with_a_missing_input_file_fails_naming_it(runs, tmp_path):
    raw = task("tests.raw_file", "", {"f": {"blob": {}}}, {}, task_type="raw-container")
    raw["spec"]["template"]["container"].update(
        args=["cat", "/var/inputs/f"], data_config={"enabled": True, "input_path": "/var/inputs"})
    runs.register(raw)
    missing = tmp_path / "gone.txt"
    name = runs.launch(raw["id"], {"f": {"scalar": {"blob": {"metadata": {"type": {}}, "uri": str(missing)}}}})
    done = runs.wait(name, timeout=60)
    assert done["closure"]["phase"] == "FAILED"
    error = done["closure"]["error"]
    assert error["code"] == "InputsUnavailable" and error["kind"] == "USER"
    assert error["message"].startswith("container task tests.raw_file: cannot lay out its inputs in ")
    assert str(missing) in error["message"]


def test_max_parallelism_bounds_running_tasks(runs, tmp_path):
    """Three independent 0.4 s tasks with max_parallelism 1 run one after another."""
    nap = task("tests.nap", "time.sleep(0.4)\nwrite({'o0': time.time()})", {"i": INT}, {"o0": {"simple": "FLOAT"}})
    runs.register(nap)
    nodes = [task_node(f"n{i}", nap, {"i": integer(i)}) for i in range(3)]
    wf = workflow("tests.naps", {}, {"o0": {"simple": "FLOAT"}}, nodes, {"o0": promise("n0", "o0")})
    runs.register(wf, launch_plan(wf))
    name = runs.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), max_parallelism=1)
    assert runs.wait(name)["closure"]["phase"] == "SUCCEEDED"
    ends = sorted(float(runs.get(f"/api/v1/data/node_executions/flytesnacks/development/{name}/n{i}").json()[
        "full_outputs"]["literals"]["o0"]["scalar"]["primitive"]["float_value"]) for i in range(3))
    assert ends[1] - ends[0] >= 0.35 and ends[2] - ends[1] >= 0.35
