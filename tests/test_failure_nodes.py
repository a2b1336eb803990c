"""failure_policy and on_failure: a local run, the serialized template, and a run on the sandbox."""

from __future__ import annotations

import json
import time

import pytest

FLOW = '''
from typing import Optional

from flyrun import FlyteError, WorkflowFailurePolicy, task, workflow


@task
def breaks(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x


@task
def note(path: str, text: str) -> str:
    with open(path, "a") as f:
        f.write(text + "\\n")
    return text


@task
def cleanup(x: int, path: str, err: Optional[FlyteError] = None) -> None:
    with open(path, "a") as f:
        f.write(f"cleanup {x} {err.failed_node_id}: {err.message}\\n")


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE, on_failure=cleanup)
def guarded(x: int, path: str) -> int:
    y = breaks(x=x)
    note(path=path, text="independent")
    return breaks(x=y)


@workflow(on_failure=cleanup)
def immediate(x: int, path: str) -> int:
    y = breaks(x=x)
    note(path=path, text="after")
    return y
'''


@pytest.fixture
def flow(project):
    return project({"failing.py": FLOW}) / "failing.py"


def test_local_failure_runs_independent_nodes_then_the_handler_with_the_error(cli, flow, tmp_path):
    log = tmp_path / "log.txt"
    failed = cli("run", str(flow), "guarded", "--x", "-1", "--path", str(log))
    assert failed.exit_code == 6
    assert failed.stderr.startswith("Error: task failing.breaks failed: ValueError: negative: -1")
    assert log.read_text().splitlines() == [
        "independent", "cleanup -1 fn0: task failing.breaks failed: ValueError: negative: -1"]
    done = cli("run", str(flow), "guarded", "--x", "2", "--path", str(log))
    assert done.exit_code == 0 and done.stdout.strip() == "o0: 2"
    assert len(log.read_text().splitlines()) == 3  # only "independent" again: no cleanup on success


def test_fail_immediately_runs_nothing_after_the_failure(cli, flow, tmp_path):
    log = tmp_path / "log.txt"
    failed = cli("run", str(flow), "immediate", "--x", "-3", "--path", str(log))
    assert failed.exit_code == 6
    assert log.read_text().splitlines() == ["cleanup -3 fn0: task failing.breaks failed: ValueError: negative: -3"]


@pytest.mark.parametrize("handler, fragment", [
    ("def h(x: int) -> None: ...", "on_failure handler 'flows.h' must take every workflow input, but not 'path'"),
    ("def h(x: int, path: str, err: str) -> None: ...", "input 'err' must be Optional[FlyteError], not str"),
    ("def h(x: int, path: str, extra: int) -> None: ...", "input 'extra' is not a workflow input and has no default"),
    ("def h(x: str, path: str) -> None: ...", "input 'x' expects str but workflow input 'x' is int"),
])
def test_bad_handlers_fail_at_definition(cli, project, handler, fragment):
    root = project({"flows.py": f'''
        from typing import Optional
        from flyrun import FlyteError, task, workflow

        @task
        {handler}

        @workflow(on_failure=h)
        def wf(x: int, path: str) -> None:
            h(x=x, path=path) if False else None
        '''})
    result = cli("run", str(root / "flows.py"), "wf", "--x", "1", "--path", "p")
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert "flows.py:8: workflow 'flows.wf'" in first and fragment in first, first


def test_serialized_failure_node_and_policy(cli, flow, tmp_path):
    from flyteidl.admin import workflow_pb2
    from google.protobuf import json_format

    out = tmp_path / "out"
    assert cli("package", str(flow), "--output-dir", str(out)).exit_code == 0
    spec = json.loads((out / "workflows" / "failing.guarded.json").read_text())
    json_format.ParseDict(spec, workflow_pb2.WorkflowSpec(), ignore_unknown_fields=False)
    template = spec["template"]
    assert template["metadata"] == {"on_failure": "FAIL_AFTER_EXECUTABLE_NODES_COMPLETE"}
    node = template["failure_node"]
    assert (node["id"], node["metadata"]["name"]) == ("fn0", "cleanup")
    assert node["task_node"]["reference_id"]["name"] == "failing.cleanup"
    bindings = {b["var"]: b["binding"] for b in node["inputs"]}
    assert bindings["x"] == {"promise": {"node_id": "start-node", "var": "x"}}
    assert bindings["err"] == {"scalar": {"union": {"value": {"scalar": {"none_type": {}}},
                                                    "type": {"simple": "NONE", "structure": {"tag": "none"}}}}}
    immediate = json.loads((out / "workflows" / "failing.immediate.json").read_text())["template"]
    assert immediate["metadata"] == {} and immediate["failure_node"]["id"] == "fn0"
    cleanup = json.loads((out / "tasks" / "failing.cleanup.json").read_text())["template"]
    assert cleanup["interface"]["inputs"]["variables"]["err"]["type"] == {"union_type": {"variants": [
        {"simple": "ERROR", "structure": {"tag": "FlyteError"}}, {"simple": "NONE", "structure": {"tag": "none"}}]}}


@pytest.mark.slow
def test_failure_node_on_the_sandbox(remote, flow, tmp_path):
    log = tmp_path / "log.txt"
    failed = remote("run", "--remote", "--wait", "-o", "json", str(flow), "guarded", "--x", "-1", "--path", str(log))
    assert failed.exit_code == 6, failed.output
    assert "negative: -1" in json.loads(failed.stdout)["error"]
    deadline = time.monotonic() + 10
    while len(log.read_text().splitlines() if log.exists() else []) < 2:
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.1)
    lines = log.read_text().splitlines()
    assert lines[0] == "independent"  # FAIL_AFTER_EXECUTABLE_NODES_COMPLETE: the independent node ran
    assert lines[1].startswith("cleanup -1 fn0: ") and "negative: -1" in lines[1]
