"""``@eager`` (flytekit 1.16 call semantics), run locally in-process, and its serialized task."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time

import pytest
from conftest import REPO

EXAMPLE = str(REPO / "examples" / "eager.py")

AWAITED_SYNC = '''
    from flyrun import eager, task

    @task
    def add_one(x: int) -> int:
        return x + 1

    @eager
    async def old_style(x: int) -> int:
        return await add_one(x=x)
'''

UNCAUGHT = '''
    from flyrun import eager, task

    @task
    def fails(x: int) -> int:
        raise ValueError(f"bad x {x}")

    @eager
    async def wf(x: int) -> int:
        return fails(x=x) + 1
'''


@pytest.mark.parametrize(("target", "args", "expected"), [
    ("simple_eager", ("--x", "3"), "o0: 8\n"),            # sync task: no await, real int, Python if on it
    ("simple_eager", ("--x", "4"), "o0: 6\n"),
    ("gathered", ("--x", "3"), "o0: [4, 5, 6, 7, 8]\n"),  # asyncio.gather over async tasks
    ("with_subworkflow", ("--x", "3"), "o0: 8\n"),        # a workflow called without await
    ("nested", ("--x", "3"), "o0: 17\n"),                 # nested @eager and async tasks awaited
    ("caught", ("--x", "0"), "o0: -1\n"),                 # a task's failure caught by try/except
    ("caught", ("--x", "4"), "o0: 4\n"),
])
def test_example_eager_workflows_run_locally(cli, target, args, expected):
    result = cli("run", EXAMPLE, target, *args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == expected


def test_a_sync_call_returns_its_value_and_an_eager_call_is_a_coroutine():
    from flyrun import eager, task

    seen: list[object] = []

    @task
    def square(x: int) -> int:
        return x * x

    @eager
    async def body(x: int) -> int:
        value = square(x=x)
        seen.append(value)
        return value + 1

    call = body(x=3)
    assert asyncio.iscoroutine(call)  # flytekit: an eager call outside a workflow returns a coroutine
    assert asyncio.run(call) == 10
    assert seen == [9] and type(seen[0]) is int


def test_gathered_async_tasks_run_concurrently():
    from flyrun import eager, task

    @task
    async def slow(i: int) -> int:
        await asyncio.sleep(0.5)
        return i

    @eager
    async def fan_out(n: int) -> list[int]:
        return list(await asyncio.gather(*[slow(i=i) for i in range(n)]))

    start = time.monotonic()
    assert asyncio.run(fan_out(n=8)) == list(range(8))
    elapsed = time.monotonic() - start
    assert elapsed < 2.0, f"8 gathered 0.5 s tasks took {elapsed:.2f} s: they did not overlap"


def test_a_launch_plan_and_a_workflow_are_called_without_await():
    from flyrun import LaunchPlan, eager, task, workflow

    @task
    def plus(x: int, y: int) -> int:
        return x + y

    @workflow
    def add(x: int, y: int = 10) -> int:
        return plus(x=x, y=y)

    lp = LaunchPlan.get_or_create(add, name="add_lp_eager_test", default_inputs={"y": 100})

    @eager
    async def body(x: int) -> int:
        return add(x=x) + lp(x=x)

    assert asyncio.run(body(x=1)) == 11 + 101


def test_a_task_failure_raises_in_the_body_as_eager_exception():
    from flyrun import eager, task
    from flyrun.exceptions.eager import EagerException

    @task
    def boom(x: int) -> int:
        raise RuntimeError(f"boom {x}")

    @task
    async def async_boom(x: int) -> int:
        raise KeyError(x)

    @eager
    async def body(x: int) -> str:
        caught = []
        try:
            boom(x=x)
        except EagerException as exc:
            caught.append(type(exc.error).__name__)
        results = await asyncio.gather(async_boom(x=x), return_exceptions=True)
        caught.append(type(results[0].error).__name__)
        return ",".join(caught)

    assert asyncio.run(body(x=1)) == "RuntimeError,KeyError"


def test_an_uncaught_task_failure_fails_the_run_naming_the_task(cli, project):
    root = project({"uncaught.py": UNCAUGHT})
    result = cli("run", str(root / "uncaught.py"), "wf", "--x", "2")
    assert result.exit_code == 6, result.output
    assert "task uncaught.fails" in result.stderr and "bad x 2" in result.stderr
    assert "flyrun/sdk" not in result.stderr  # only the user's frames, as for any failed task


def test_await_on_a_sync_task_says_to_drop_the_await(cli, project):
    root = project({"old.py": AWAITED_SYNC})
    result = cli("run", str(root / "old.py"), "old_style", "--x", "1")
    assert result.exit_code == 2, result.output  # a definition mistake in the user's code (errors.UserCodeError)
    assert "old.py:10" in result.stderr, result.stderr
    assert "await add_one(x=x)" in result.stderr
    assert "drop the `await`" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def test_eager_needs_an_async_def():
    from flyrun import eager
    from flyrun.errors import WorkflowDefinitionError

    with pytest.raises(WorkflowDefinitionError, match="must be an `async def`"):
        @eager
        def not_async(x: int) -> int:
            return x


def test_an_eager_workflow_and_an_async_task_inside_a_workflow_run_as_nodes():
    from flyrun import eager, task, workflow

    @task
    async def inc(x: int) -> int:
        return x + 1

    @eager
    async def twice(x: int) -> int:
        return await inc(x=await inc(x=x))

    @workflow
    def wf(x: int) -> int:
        return inc(x=twice(x=x))

    assert wf(x=1) == 4


def test_with_options_and_serialized_as_an_eager_python_task():
    from flyrun import eager
    from flyrun.idl.settings import SerializationSettings
    from flyrun.idl.tasks import task_spec

    @eager(retries=2)
    async def body(x: int) -> int:
        return x

    template = task_spec(body, SerializationSettings(project="p", domain="d", version="v1"))["template"]
    assert template["type"] == "python-task"
    assert template["metadata"]["is_eager"] is True
    assert template["metadata"]["generates_deck"] is True
    assert template["metadata"]["retries"] == {"retries": 2}


SERIALIZED = '''
    from flyrun import eager, task

    @task
    def add_one(x: int) -> int:
        return x + 1

    @eager
    async def outer(x: int, y: int = 2) -> int:
        return add_one(x=x) + y
'''


def test_serialized_as_flytekit_does_eager_task_cleanup_task_and_workflow(project, monkeypatch):
    from flyrun.idl.package import serialize
    from flyrun.idl.project import load_project
    from flyrun.idl.resolver import load
    from flyrun.idl.settings import SerializationSettings

    root = project({"eagerprobe.py": SERIALIZED})
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    entities = serialize(load_project([str(root / "eagerprobe.py")]),  # checked against flyteidl's messages
                         SerializationSettings(project="p", domain="d", version="v1"))
    by_kind = {(e.kind, e.id["name"]): e.spec for e in entities}
    assert set(by_kind) == {("task", "eagerprobe.add_one"), ("task", "eagerprobe.outer"),
                            ("task", "eagerprobe.outer-cleanup"), ("workflow", "eagerprobe.outer"),
                            ("launch_plan", "eagerprobe.outer")}
    eager_task = by_kind["task", "eagerprobe.outer"]["template"]
    assert eager_task["metadata"]["is_eager"] and eager_task["metadata"]["generates_deck"]
    # As flytekit's _F_SS_C: the images at registration, for the tasks the body registers before launching them.
    assert [e["key"] for e in eager_task["container"].get("env", [])] == ["FLYRUN_DYNAMIC_IMAGES"]
    cleanup = by_kind["task", "eagerprobe.outer-cleanup"]["template"]
    assert cleanup["type"] == "eager_failure_handler_task"
    assert set(cleanup["interface"]["inputs"]["variables"]) == {"x", "y"}
    assert cleanup["interface"]["outputs"]["variables"] == {}
    workflow = by_kind["workflow", "eagerprobe.outer"]["template"]
    assert [n["id"] for n in workflow["nodes"]] == ["n0"]
    assert workflow["nodes"][0]["task_node"]["reference_id"]["name"] == "eagerprobe.outer"
    assert workflow["failure_node"]["id"] == "efn"
    assert workflow["failure_node"]["task_node"]["reference_id"]["name"] == "eagerprobe.outer-cleanup"
    assert workflow["outputs"] == [{"var": "o0", "binding": {"promise": {"node_id": "n0", "var": "o0"}}}]
    # A task container finds the cleanup task again through flyrun's default resolver.
    loaded = load("flyrun.default", cleanup["container"]["args"][-4:])
    assert loaded.task.name == "eagerprobe.outer-cleanup"
    assert loaded.task.run_function({"x": 1, "y": 2}) == {}


@pytest.fixture
def example(tmp_path):
    import shutil

    folder = tmp_path / "ex"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "eager.py")
    (folder / "uncaught.py").write_text(textwrap.dedent(UNCAUGHT))
    return folder / "eager.py"


def test_a_failed_child_execution_raises_its_own_error_type_in_the_body():
    from flyrun.idl.entrypoint import _user_traceback
    from flyrun.remote.client import ExecutionId
    from flyrun.remote.eager import ChildExecutionError, _child_error

    child = ExecutionId("p", "d", "e123")

    def failed(code: str, message: str) -> dict:
        return {"closure": {"phase": "FAILED", "error": {"code": code, "message": message}}}

    builtin = _child_error(child, failed("USER:ValueError", "ValueError: bad x 2\n\nTraceback (most recent ..."))
    assert type(builtin) is ValueError and str(builtin) == "bad x 2"  # `except ValueError` works in the body
    custom = _child_error(child, failed("USER:SuperheroError", "SuperheroError: no cape"))
    assert isinstance(custom, ChildExecutionError) and custom.type_name == "SuperheroError"
    assert _user_traceback(custom).startswith("SuperheroError: no cape\n")  # the eager task reports it as such
    aborted = _child_error(child, {"closure": {"phase": "ABORTED", "abort_metadata": {"cause": "stop"}}})
    assert str(aborted) == "child execution e123 was aborted: stop"


def _seconds(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text[:26].rstrip("Z")).timestamp()


def _get(remote, name: str) -> dict:
    shown = remote("executions", "get", name, "-o", "json")
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.stdout)


@pytest.mark.slow
def test_eager_workflows_on_the_sandbox_give_the_local_outputs_through_child_executions(remote, example,
                                                                                       sandbox_server):
    # Run as flytekit runs them (the eager workflow: n0, failure node efn); each call in the body is a child
    # execution launched through the API with the parent's identity. Expected values: the local run's, which are
    # pyflyte 1.16's for the same file with flytekit imports.
    registered = remote("register", str(example.parent))
    assert registered.exit_code == 0, registered.output
    names = {}
    for target, args, expected in (("simple_eager", ("--x", "3"), 8), ("gathered", ("--x", "3"), [4, 5, 6, 7, 8]),
                                   ("with_subworkflow", ("--x", "3"), 8), ("nested", ("--x", "3"), 17),
                                   ("caught", ("--x", "0"), -1)):
        done = remote("run", "--remote", "--wait", "-o", "json", str(example), target, *args)
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["outputs"] == {"o0": expected}, done.output
        names[target] = json.loads(done.stdout)["execution"]["name"]
    nested = _get(remote, names["nested"])
    assert [c["entity"] for c in nested["children"]] == ["eager.simple_eager", "eager.async_add_one"]
    inner = _get(remote, nested["children"][0]["name"])  # a nested eager workflow: a child with children of its own
    assert inner["parent"] == names["nested"]
    assert [c["entity"] for c in inner["children"]] == ["eager.add_one", "eager.double"]
    import requests  # the console shows them both ways too

    pages = f"{sandbox_server['url']}/console/projects/flytesnacks/domains/development/executions"
    parent_page = requests.get(f"{pages}/{names['nested']}", timeout=30).text
    assert "Child executions" in parent_page and f'/executions/{inner["name"]}"' in parent_page
    child_page = requests.get(f"{pages}/{inner['name']}", timeout=30).text
    assert f'Launched by <a href="/console/projects/flytesnacks/domains/development/executions/{names["nested"]}">' \
        in child_page
    assert [c["entity"] for c in _get(remote, names["with_subworkflow"])["children"]] == ["eager.subworkflow"]
    caught = _get(remote, names["caught"])["children"]
    assert [(c["entity"], c["phase"]) for c in caught] == [("eager.raises_exc", "FAILED")]
    gathered = _get(remote, names["gathered"])["children"]
    assert len(gathered) == 5 and {c["phase"] for c in gathered} == {"SUCCEEDED"}
    spans = sorted((_seconds(c["started_at"]), _seconds(c["started_at"]) + float(c["duration"].rstrip("s")))
                   for c in gathered)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), spans  # some ran at once
    failed = remote("run", "--remote", "--wait", "-o", "json", str(example.parent / "uncaught.py"), "wf", "--x", "2")
    assert failed.exit_code == 6, failed.output
    result = json.loads(failed.stdout)
    assert result["error"].endswith("FAILED at node n0: ValueError: bad x 2"), failed.output
    assert "(launch_plan flytesnacks/development/uncaught.wf@" in failed.stderr  # the eager workflow was run
    assert "efn: SUCCEEDED" in failed.stderr  # the cleanup task ran as the failure node


SLEEPY = '''
import asyncio
import os

from flyrun import eager, task


@task
async def nap(pidfile: str) -> int:
    with open(pidfile, "w") as out:
        out.write(str(os.getpid()))
    await asyncio.sleep(120)
    return 1


@eager
async def naps(folder: str) -> int:
    with open(f"{folder}/eager.pid", "w") as out:
        out.write(str(os.getpid()))
    return sum(await asyncio.gather(*[nap(pidfile=f"{folder}/{i}.pid") for i in range(2)]))
'''


@pytest.mark.slow
def test_terminating_during_an_eager_body_terminates_its_children(remote, sandbox_server, tmp_path):
    from termination import launched, terminate_and_check, wait_for_pids

    folder = tmp_path / "sleepy"
    folder.mkdir()
    (folder / "sleepy_eager.py").write_text(SLEEPY)
    pids = tmp_path / "pids"
    pids.mkdir()
    name = launched(remote("run", "--remote", "-o", "json", str(folder / "sleepy_eager.py"), "naps", "--folder",
                           str(pids)))
    running = wait_for_pids(pids, 3)  # the eager task and both gathered calls, each a child execution
    found = terminate_and_check(remote, sandbox_server["data_dir"], name, running)
    assert "n0" in found[name], found
    assert len(found) == 3, found  # the parent and its two children, all ended


STEPS = '''
import os
import time

from flyrun import eager, task


@task
def step(marker: str, label: str, seconds: int) -> str:
    with open(marker, "a") as out:
        out.write(f"{label} {os.getpid()}\\n")
    time.sleep(seconds)
    return label


@eager
async def steps(marker: str) -> str:
    with open(marker, "a") as out:
        out.write(f"body {os.getpid()}\\n")
    first = step(marker=marker, label="first", seconds=0)
    return first + "+" + step(marker=marker, label="second", seconds=3)
'''


@pytest.mark.slow
def test_a_restart_in_the_middle_of_an_eager_body_finds_its_children_again(cli, tmp_path):
    import collections

    from termination import killed_mid_step

    # The server dies while the body waits for its second child.
    with killed_mid_step(cli, tmp_path, STEPS, "eager_steps.py", timeout=90) as (remote, name, marker):
        waited = remote("executions", "wait", name, "--timeout", "90")
        assert waited.exit_code == 0, waited.output
        outputs = remote("executions", "outputs", name, "-o", "json")
        assert json.loads(outputs.stdout)["outputs"] == {"o0": "first+second"}, outputs.output
        labels = collections.Counter(line.split()[0] for line in marker.read_text().splitlines())
        # The body runs again and finds its children by name: the finished one is not run again, the interrupted
        # one resumes as its own execution (its task runs once more); no third child appears.
        assert labels == {"body": 2, "first": 1, "second": 2}, labels
        shown = remote("executions", "get", name, "-o", "json")
        assert [c["phase"] for c in json.loads(shown.stdout)["children"]] == ["SUCCEEDED", "SUCCEEDED"]
