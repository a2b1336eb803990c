"""@dynamic in the three places: a local run, flyrun-execute writing futures.pb, and a run on the sandbox."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from conftest import REPO

EXAMPLE = REPO / "examples" / "dynamic.py"
NUMBERS = "[5, 3, 9, 1, 7, 2, 8, 0]"

FAILING = '''
from functools import partial

from flyrun import LaunchPlan, dynamic, map_task, task, workflow


@task
def check(x: int) -> int:
    if x == 2:
        raise ValueError(f"bad item {x}")
    return x


@task
def add(values: list[int]) -> int:
    return sum(values)


@dynamic
def fan(n: int) -> int:
    return add(values=[check(x=i) for i in range(n)])


@workflow
def inner(x: int) -> int:
    return check(x=x)


@dynamic
def via_subworkflow(x: int) -> int:
    return inner(x=x + 10)


@dynamic
def nothing_to_run(x: int) -> int:
    return x * 3


@task
def times(x: int, factor: int) -> int:
    return x * factor


@task
def add_to(values: list[int], extra: int) -> int:
    return sum(values) + extra


@workflow
def scaled(x: int, factor: int = 2) -> int:
    return times(x=x, factor=factor)


triple = LaunchPlan.get_or_create(scaled, "triple", fixed_inputs={"factor": 3})


@dynamic
def mixed(n: int) -> int:
    doubled = map_task(partial(times, factor=2))(x=list(range(n)))
    return add_to(values=doubled, extra=triple(x=n))


@dynamic
def count_up(n: int) -> int:
    return add(values=[check(x=i + 3) for i in range(n)])


@workflow
def mapped_dynamic(ns: list[int]) -> list[int]:
    return map_task(count_up)(n=ns)
'''


@pytest.fixture
def example(tmp_path):
    folder = tmp_path / "ex"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "dynamic.py")
    (folder / "failing.py").write_text(FAILING)
    return folder / "dynamic.py"


def test_recursive_merge_sort_and_a_loop_run_locally(cli, example):
    done = cli("run", str(example), "merge_sort", "--numbers", NUMBERS)
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "o0: [0, 1, 2, 3, 5, 7, 8, 9]"
    wf = cli("run", str(example), "sort_wf")
    assert wf.stdout.strip() == "o0: [1, 2, 3, 5, 7, 8, 9]", wf.output
    loop = cli("run", str(example), "squares_wf", "--n", "10")
    assert loop.exit_code == 0 and loop.stdout.strip() == "o0: 285", loop.output


def test_a_dynamic_returns_a_subworkflows_outputs_and_plain_values(cli, example):
    failing = example.parent / "failing.py"
    assert cli("run", str(failing), "via_subworkflow", "--x", "1").stdout.strip() == "o0: 11"
    assert cli("run", str(failing), "nothing_to_run", "--x", "4").stdout.strip() == "o0: 12"


def test_a_dynamic_runs_map_and_launch_plan_nodes_and_runs_inside_a_map(cli, example):
    failing = example.parent / "failing.py"
    mixed = cli("run", str(failing), "mixed", "--n", "3")
    assert mixed.exit_code == 0, mixed.output
    assert mixed.stdout.strip() == "o0: 15"  # (0 + 2 + 4) + 3 * 3
    mapped = cli("run", str(failing), "mapped_dynamic", "--ns", "[1, 2, 3]")
    assert mapped.exit_code == 0, mapped.output
    assert mapped.stdout.strip() == "o0: [3, 7, 12]"


def test_a_failed_node_inside_a_dynamic_fails_the_run_naming_it(cli, example):
    failed = cli("run", str(example.parent / "failing.py"), "fan", "--n", "4")
    assert failed.exit_code == 6  # ExitStatus.RUN_FAILED
    assert "task failing.check failed: ValueError: bad item 2" in failed.stderr


def test_a_dynamic_making_more_nodes_than_the_limit_fails_clearly(cli, example, monkeypatch):
    monkeypatch.setenv("FLYRUN_DYNAMIC_MAX_NODES", "3")
    over = cli("run", str(example.parent / "failing.py"), "fan", "--n", "5")
    assert over.exit_code == 2, over.output
    first = over.stderr.splitlines()[0]
    assert "dynamic task 'failing.fan' generates more than 3 nodes (the limit)" in first
    assert "FLYRUN_DYNAMIC_MAX_NODES" in over.stderr and "Traceback" not in over.output
    monkeypatch.setenv("FLYRUN_DYNAMIC_MAX_NODES", "lots")
    bad = cli("run", str(example.parent / "failing.py"), "fan", "--n", "1")
    assert bad.exit_code == 2 and "FLYRUN_DYNAMIC_MAX_NODES='lots' is not a positive whole number" in bad.stderr


def test_the_node_ids_are_dn_and_the_default_limit_is_5000(monkeypatch):
    from flyrun.sdk import dynamic

    monkeypatch.delenv("FLYRUN_DYNAMIC_MAX_NODES", raising=False)
    assert dynamic.max_nodes() == 5000
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import importlib

        module = importlib.import_module("dynamic")
        built = module.merge_sort.build({"numbers": [3, 1, 2], "run_local_at_count": 1})
    finally:
        sys.path.remove(str(REPO / "examples"))
        sys.modules.pop("dynamic", None)
    assert [n.id for n in built.nodes] == ["dn0", "dn1", "dn2", "dn3"]
    assert [n.entity.name for n in built.nodes] == ["dynamic.split", "dynamic.merge_sort", "dynamic.merge_sort",
                                                    "dynamic.merge"]


def test_independent_nodes_of_a_local_dynamic_run_at_once():
    import threading
    import time

    from flyrun import dynamic, task

    spans: dict[int, tuple[float, float]] = {}
    lock = threading.Lock()

    @task
    def nap(i: int) -> int:
        began = time.monotonic()
        time.sleep(0.5)
        with lock:
            spans[i] = (began, time.monotonic())
        return i

    @task
    def add(values: list[int]) -> int:
        return sum(values)

    @dynamic
    def naps(n: int) -> int:
        return add(values=[nap(i=i) for i in range(n)])

    assert naps(n=4) == 6
    assert sorted(spans) == [0, 1, 2, 3]
    # All four were asleep at one moment: the latest start comes before the earliest end.
    assert max(start for start, _ in spans.values()) < min(end for _, end in spans.values()), spans


def test_a_local_dynamic_fails_with_the_first_failure_in_node_order_and_starts_nothing_after_it():
    import threading
    import time

    from flyrun import dynamic, task
    from flyrun.errors import TaskExecutionError

    started: list[int] = []
    lock = threading.Lock()

    @task
    def step(i: int) -> int:
        with lock:
            started.append(i)
        if i == 0:
            time.sleep(0.5)  # done after dn2 has failed, so dn3 (waiting on it) becomes ready too late to start
        if i == 1:
            time.sleep(1.0)  # fails last in time, first in node order: its error is the one raised
            raise ValueError("one")
        if i == 2:
            raise ValueError("two")
        return i

    @task
    def after(x: int) -> int:
        with lock:
            started.append(100 + x)
        return x

    @dynamic
    def steps(n: int) -> int:
        values = [step(i=i) for i in range(3)]
        return after(x=values[0])

    with pytest.raises(TaskExecutionError, match="one"):
        steps(n=3)
    assert sorted(started) == [0, 1, 2], started  # dn3 (after) comes after the failure in order: never started


def _execute(tmp_path, module_dir, task_name: str, inputs: dict, env: dict | None = None):
    import os
    import subprocess

    from flyteidl.core import literals_pb2 as L

    literals = {}
    for name, value in inputs.items():
        if isinstance(value, list):
            literals[name] = L.Literal(collection=L.LiteralCollection(literals=[
                L.Literal(scalar=L.Scalar(primitive=L.Primitive(integer=v))) for v in value]))
        else:
            literals[name] = L.Literal(scalar=L.Scalar(primitive=L.Primitive(integer=value)))
    (tmp_path / "inputs.pb").write_bytes(L.LiteralMap(literals=literals).SerializeToString())
    out = tmp_path / "out"
    module, _, attribute = task_name.rpartition(".")
    args = [sys.executable, "-m", "flyrun.idl.entrypoint", "--inputs", str(tmp_path / "inputs.pb"),
            "--output-prefix", str(out), "--raw-output-data-prefix", str(tmp_path / "raw"),
            "--resolver", "flyrun.default", "--", "task-module", module, "task-name", attribute]
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(module_dir)]),
                   FLYTE_INTERNAL_TASK_PROJECT="flytesnacks", FLYTE_INTERNAL_TASK_DOMAIN="development",
                   FLYTE_INTERNAL_TASK_VERSION="v2", **(env or {}))
    done = subprocess.run(args, cwd=module_dir, env=environ, capture_output=True, text=True, timeout=60)
    return done, out


def test_flyrun_execute_writes_the_dynamic_job_spec(tmp_path, example):
    from flyteidl.core import dynamic_job_pb2
    from google.protobuf import json_format

    images = json.dumps({"default": "registry.example/flows:1"})
    done, out = _execute(tmp_path, example.parent, "dynamic.merge_sort", {"numbers": [4, 1, 3, 2],
                                                                          "run_local_at_count": 2},
                         env={"FLYRUN_DYNAMIC_IMAGES": images})
    assert done.returncode == 0, done.stderr
    assert not (out / "outputs.pb").exists()
    spec = dynamic_job_pb2.DynamicJobSpec()
    spec.ParseFromString((out / "futures.pb").read_bytes())
    as_dict = json_format.MessageToDict(spec, preserving_proto_field_name=True)
    assert [n["id"] for n in as_dict["nodes"]] == ["dn0", "dn1", "dn2", "dn3"]
    assert as_dict["min_successes"] == "4"
    first = as_dict["nodes"][0]
    assert first["metadata"]["name"] == "split"
    assert first["task_node"]["reference_id"] == {"resource_type": "TASK", "project": "flytesnacks",
                                                  "domain": "development", "name": "dynamic.split",
                                                  "version": "v2"}
    # The dynamic task's own input is a literal, not a promise of a workflow input.
    assert first["inputs"] == [{"var": "numbers", "binding": {"collection": {"bindings": [
        {"scalar": {"primitive": {"integer": str(v)}}} for v in (4, 1, 3, 2)]}}}]
    recursive = as_dict["nodes"][1]
    assert recursive["task_node"]["reference_id"]["name"] == "dynamic.merge_sort"
    assert {"var": "numbers", "binding": {"promise": {"node_id": "dn0", "var": "o0"}}} in recursive["inputs"]
    assert as_dict["outputs"] == [{"var": "o0", "binding": {"promise": {"node_id": "dn3", "var": "o0"}}}]
    names = sorted(t["id"]["name"] for t in as_dict["tasks"])
    assert names == ["dynamic.merge", "dynamic.merge_sort", "dynamic.split"]  # what these nodes run
    merge_sort = next(t for t in as_dict["tasks"] if t["id"]["name"] == "dynamic.merge_sort")
    assert merge_sort["type"] == "python-task"  # flytekit registers @dynamic as an ordinary python task
    # Generated tasks run in the images of the registration, which the dynamic task's env carries.
    assert {t["container"]["image"] for t in as_dict["tasks"]} == {"registry.example/flows:1"}


def test_a_dynamic_task_is_registered_with_the_images_its_graph_needs(cli, example, tmp_path):
    out = tmp_path / "pkg"
    done = cli("package", str(example), "--output-dir", str(out), "--image", "registry.example/flows:2",
               "--image", "gpu=registry.example/gpu:2")
    assert done.exit_code == 0, done.output
    template = json.loads((out / "tasks" / "dynamic.merge_sort.json").read_text())["template"]
    assert template["type"] == "python-task"
    env = {pair["key"]: pair["value"] for pair in template["container"]["env"]}
    assert json.loads(env["FLYRUN_DYNAMIC_IMAGES"]) == {"default": "registry.example/flows:2",
                                                       "gpu": "registry.example/gpu:2"}
    plain = json.loads((out / "tasks" / "dynamic.split.json").read_text())["template"]
    assert "FLYRUN_DYNAMIC_IMAGES" not in {pair["key"] for pair in plain["container"].get("env", [])}


def test_flyrun_execute_a_dynamic_with_a_subworkflow_and_one_with_no_nodes(tmp_path, example):
    from flyteidl.core import dynamic_job_pb2, literals_pb2

    done, out = _execute(tmp_path, example.parent, "failing.via_subworkflow", {"x": 1})
    assert done.returncode == 0, done.stderr
    spec = dynamic_job_pb2.DynamicJobSpec()
    spec.ParseFromString((out / "futures.pb").read_bytes())
    assert spec.nodes[0].workflow_node.sub_workflow_ref.name == "failing.inner"
    assert [w.id.name for w in spec.subworkflows] == ["failing.inner"]
    assert [t.id.name for t in spec.tasks] == ["failing.check"]  # referenced only from the subworkflow
    plain, out2 = _execute(tmp_path / "p" if (tmp_path / "p").mkdir() is None else tmp_path, example.parent,
                           "failing.nothing_to_run", {"x": 4})
    assert plain.returncode == 0, plain.stderr
    outputs = literals_pb2.LiteralMap()
    outputs.ParseFromString((out2 / "outputs.pb").read_bytes())
    assert outputs.literals["o0"].scalar.primitive.integer == 12
    assert not (out2 / "futures.pb").exists()


def test_flyrun_execute_reports_the_node_limit_in_error_pb(tmp_path, example):
    from flyteidl.core import errors_pb2

    done, out = _execute(tmp_path, example.parent, "failing.fan", {"n": 5}, env={"FLYRUN_DYNAMIC_MAX_NODES": "2"})
    assert done.returncode == 1
    document = errors_pb2.ErrorDocument()
    document.ParseFromString((out / "error.pb").read_bytes())
    assert "generates more than 2 nodes (the limit)" in document.error.message


@pytest.mark.slow
def test_dynamics_on_the_sandbox_give_the_local_outputs(remote, example):
    registered = remote("register", str(example.parent))
    assert registered.exit_code == 0, registered.output
    done = remote("run", "--remote", "--wait", "-o", "json", str(example), "merge_sort", "--numbers", NUMBERS,
                  "--run_local_at_count", "2")  # a task run alone on a cluster takes no defaults
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["outputs"] == {"o0": [0, 1, 2, 3, 5, 7, 8, 9]}
    loop = remote("run", "--remote", "--wait", "-o", "json", str(example), "squares_wf", "--n", "10")
    assert json.loads(loop.stdout)["outputs"] == {"o0": 285}, loop.output
    sub = remote("run", "--remote", "--wait", "-o", "json", str(example.parent / "failing.py"), "via_subworkflow",
                 "--x", "1")
    assert json.loads(sub.stdout)["outputs"] == {"o0": 11}, sub.output
    mixed = remote("run", "--remote", "--wait", "-o", "json", str(example.parent / "failing.py"), "mixed",
                   "--n", "3")  # a map node and a launch plan node inside the dynamic
    assert json.loads(mixed.stdout)["outputs"] == {"o0": 15}, mixed.output
    mapped = remote("run", "--remote", "--wait", "-o", "json", str(example.parent / "failing.py"),
                    "mapped_dynamic", "--ns", "[1, 2, 3]")
    assert json.loads(mapped.stdout)["outputs"] == {"o0": [3, 7, 12]}, mapped.output
    shown = remote("executions", "get", result["execution"]["name"], "-o", "json")
    assert shown.exit_code == 0, shown.output
    listed = [(n["node_id"], n["phase"]) for n in json.loads(shown.stdout)["nodes"]]
    # Sub-nodes are recorded under the dynamic node as propeller scopes them (<node>-<attempt>-dn<i>), each
    # level of the recursion under the one that generated it.
    assert listed[:4] == [("merge-sort", "SUCCEEDED"), ("merge-sort-0-dn0", "SUCCEEDED"),
                          ("merge-sort-0-dn1", "SUCCEEDED"), ("merge-sort-0-dn1-0-dn0", "SUCCEEDED")], listed
    ids = [node_id for node_id, _ in listed]
    assert ids.index("merge-sort-0-dn3") == len(ids) - 1 and "merge-sort-0-dn2-0-dn3" in ids
    import requests

    page = requests.get(result["execution"]["url"], timeout=30)  # the console's tree shows them too
    assert page.status_code == 200 and "merge-sort-0-dn1-0-dn0" in page.text


@pytest.mark.slow
def test_a_failed_node_inside_a_dynamic_fails_the_sandbox_execution_naming_it(remote, example):
    assert remote("register", str(example.parent)).exit_code == 0
    failed = remote("run", "--remote", "--wait", "-o", "json", str(example.parent / "failing.py"), "fan",
                    "--n", "4")
    assert failed.exit_code == 6, failed.output  # ExitStatus.RUN_FAILED
    assert "FAILED at node fan: node fan-0-dn2 failed: ValueError: bad item 2" in failed.stderr, failed.output


SLEEPY = '''
import os
import time

from flyrun import dynamic, task


@task
def nap(pidfile: str) -> int:
    with open(pidfile, "w") as out:
        out.write(str(os.getpid()))
    time.sleep(120)
    return 1


@task
def add(values: list[int]) -> int:
    return sum(values)


@dynamic
def naps(folder: str) -> int:
    return add(values=[nap(pidfile=f"{folder}/{i}.pid") for i in range(2)])
'''


@pytest.mark.slow
def test_terminating_during_a_dynamic_stops_its_nodes(remote, sandbox_server, tmp_path):
    from termination import launched, terminate_and_check, wait_for_pids

    folder = tmp_path / "sleepy"
    folder.mkdir()
    (folder / "sleepy.py").write_text(SLEEPY)
    pids = tmp_path / "pids"
    pids.mkdir()
    name = launched(remote("run", "--remote", "-o", "json", str(folder / "sleepy.py"), "naps", "--folder",
                           str(pids)))
    running = wait_for_pids(pids, 2)
    phases = terminate_and_check(remote, sandbox_server["data_dir"], name, running)
    assert {"naps-0-dn0", "naps-0-dn1"} <= set(phases[name]), phases


STEPS = '''
import os
import time

from flyrun import dynamic, task


@task
def step(marker: str, label: str, seconds: int) -> str:
    with open(marker, "a") as out:
        out.write(f"{label} {os.getpid()}\\n")
    time.sleep(seconds)
    return label


@dynamic
def steps(marker: str) -> str:
    with open(marker, "a") as out:
        out.write(f"body {os.getpid()}\\n")
    first = step(marker=marker, label="first", seconds=0)
    second = step(marker=marker, label="second", seconds=3)
    first >> second
    return second
'''


@pytest.mark.slow
def test_a_restart_in_the_middle_of_a_dynamic_resumes_its_graph(cli, tmp_path):
    from termination import killed_mid_step

    # The server dies while the dynamic's second node runs.
    with killed_mid_step(cli, tmp_path, STEPS, "steps.py", timeout=60) as (remote, name, marker):
        waited = remote("executions", "wait", name, "--timeout", "60")
        assert waited.exit_code == 0, waited.output
        labels = [line.split()[0] for line in marker.read_text().splitlines()]
        # The body and the finished node are not run again; the interrupted node is.
        assert labels == ["body", "first", "second", "second"], labels
