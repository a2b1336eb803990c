"""Launch plans in the three places: a local run, the serialized entities, and a run on the sandbox."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import REPO

EXAMPLE = REPO / "examples" / "launch_plans.py"


@pytest.fixture
def example(tmp_path):
    folder = tmp_path / "ex"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "launch_plans.py")
    return folder / "launch_plans.py"


def test_local_run_of_a_launch_plan_uses_its_defaults_and_fixed_inputs(cli, example):
    done = cli("run", str(example), "nightly")
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "o0: ops: 10 items at 2024-01-01 00:00"
    assert cli("run", str(example), "nightly", "--size", "2").stdout.strip() == "o0: ops: 2 items at 2024-01-01 00:00"


def test_a_fixed_input_cannot_be_overridden(cli, example, tmp_path):
    given = cli("run", str(example), "nightly", "--team", "dev")
    assert given.exit_code == 2
    assert given.stderr.splitlines()[0] == ("Error: input 'team' is fixed to 'ops' by launch plan nightly and "
                                            "cannot be overridden")
    assert "Traceback" not in given.output
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"team": "dev"}))
    from_file = cli("run", str(example), "nightly", "--inputs-file", str(inputs))
    assert from_file.exit_code == 2 and "input 'team' is fixed" in from_file.stderr


def test_a_launch_plan_node_runs_locally_without_its_fixed_input(cli, example):
    done = cli("run", str(example), "both", "--size", "5")
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "o0: ops: 5 items at 2024-01-01 00:00"


def test_listing_shows_launch_plans_with_their_interface(cli, example):
    listed = cli("run", str(example))
    assert "Launch plans in" in listed.stdout
    assert "  nightly(size: int = 10, when: datetime = " in listed.stdout


@pytest.mark.parametrize("body, fragment", [
    ('LaunchPlan.get_or_create(wf, "lp", fixed_inputs={"y": 1})',
     "launch plan 'lp': fixed input 'y' is not an input of workflow 'flows.wf'; inputs are: x, when"),
    ('LaunchPlan.get_or_create(wf, "lp", default_inputs={"x": "a"})', "launch plan 'lp': default input 'x' (int)"),
    ('LaunchPlan.get_or_create(wf, "lp", schedule=CronSchedule(schedule="0 0 * * MOON"))',
     "CronSchedule('0 0 * * MOON') is not a valid cron schedule: day of week: 'MOON' is not a number"),
    ('LaunchPlan.get_or_create(wf, "lp", schedule=FixedRate(timedelta(minutes=5)))',
     "launch plan 'lp': a scheduled launch plan must give every input a value, but 'x' has none"),
    ('LaunchPlan.get_or_create(wf, "lp", fixed_inputs={"x": 1}, schedule=CronSchedule(schedule="@daily", '
     'kickoff_time_input_arg="x"))', "kickoff_time_input_arg 'x' must name a datetime input"),
    ('LaunchPlan.get_or_create(wf, labels={"a": "b"})', "the default launch plan of 'flows.wf' takes no settings"),
    ('Email(phases=["RUNNING"], recipients_email=["a@b"])', "phase 'RUNNING' is not a terminal execution phase"),
])
def test_definition_errors_name_file_line_and_launch_plan(cli, project, body, fragment):
    root = project({"flows.py": f'''
        from datetime import datetime, timedelta
        from flyrun import CronSchedule, Email, FixedRate, LaunchPlan, task, workflow

        @task
        def t(x: int, when: datetime) -> int:
            return x

        @workflow
        def wf(x: int, when: datetime = datetime(2024, 1, 1)) -> int:
            return t(x=x, when=when)

        lp = {body}
        '''})
    result = cli("run", str(root / "flows.py"), "wf", "--x", "1")
    assert result.exit_code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: ") and "flows.py:13" in first, first
    assert fragment in first, first
    assert "Traceback" not in result.output


def test_serialized_launch_plans_parse_strictly_and_follow_their_workflow(cli, example, tmp_path):
    from flyteidl.admin import launch_plan_pb2, workflow_pb2
    from google.protobuf import json_format

    out = tmp_path / "out"
    done = cli("package", str(example), "--output-dir", str(out))
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "manifest.json").read_text())
    order = [(e["kind"], e["id"]["name"]) for e in manifest["entities"]]
    assert order.index(("launch_plan", "nightly")) == order.index(("workflow", "launch_plans.summary")) + 2
    assert order.index(("launch_plan", "nightly")) < order.index(("workflow", "launch_plans.both"))
    nightly = json.loads((out / "launch_plans" / "nightly.json").read_text())
    json_format.ParseDict(nightly, launch_plan_pb2.LaunchPlanSpec(), ignore_unknown_fields=False)
    assert nightly["workflow_id"]["name"] == "launch_plans.summary"
    assert nightly["entity_metadata"] == {
        "schedule": {"cron_schedule": {"schedule": "0 2 * * *"}, "kickoff_time_input_arg": "when"},
        "notifications": [{"phases": ["FAILED"], "email": {"recipients_email": ["oncall@example.com"]}},
                          {"phases": ["SUCCEEDED"], "slack": {"recipients_email": ["ops@example.slack.com"]}}]}
    assert sorted(nightly["default_inputs"]["parameters"]) == ["size", "when"]
    assert nightly["default_inputs"]["parameters"]["size"]["default"] == {"scalar": {"primitive": {"integer": "10"}}}
    assert nightly["fixed_inputs"] == {"literals": {"team": {"scalar": {"primitive": {"string_value": "ops"}}}}}
    assert (nightly["labels"], nightly["max_parallelism"]) == ({"values": {"team": "ops"}}, 4)
    rate = json.loads((out / "launch_plans" / "every_ten_minutes.json").read_text())
    assert rate["entity_metadata"] == {"schedule": {"rate": {"value": 10}}}
    both = json.loads((out / "workflows" / "launch_plans.both.json").read_text())
    json_format.ParseDict(both, workflow_pb2.WorkflowSpec(), ignore_unknown_fields=False)
    node = both["template"]["nodes"][0]
    assert node["workflow_node"]["launchplan_ref"]["name"] == "nightly"
    assert node["workflow_node"]["launchplan_ref"]["resource_type"] == "LAUNCH_PLAN"
    assert node["metadata"] == {"name": "summary", "retries": {}, "interruptible": False}
    bound = {b["var"] for b in node["inputs"]}
    assert bound == {"size", "when"}  # the fixed input 'team' is never bound; 'when' takes the plan's default


@pytest.mark.slow
def test_launch_plans_on_the_sandbox(remote, example, sandbox_server):
    registered = remote("register", "-o", "json", str(example))
    assert registered.exit_code == 0, registered.output
    assert any("launch_plan flytesnacks/development/nightly@" in line
               for line in json.loads(registered.stdout)["created"] + json.loads(registered.stdout)["existing"])
    done = remote("run", "--remote", "--wait", "-o", "json", str(example), "nightly", "--size", "4")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["outputs"] == {"o0": "ops: 4 items at 2024-01-01 00:00"}  # as the local run gives
    node = remote("run", "--remote", "--wait", "-o", "json", str(example), "both", "--size", "5")
    assert json.loads(node.stdout)["outputs"] == {"o0": "ops: 5 items at 2024-01-01 00:00"}, node.output
    # The launch plan node ran as a child execution of its own, which names its parent.
    parent_name = json.loads(node.stdout)["execution"]["name"]
    shown = json.loads(remote("executions", "get", parent_name, "-o", "json").stdout)
    assert [(c["entity"], c["phase"]) for c in shown["children"]] == [("nightly", "SUCCEEDED")], shown
    child = json.loads(remote("executions", "get", shown["children"][0]["name"], "-o", "json").stdout)
    assert child["parent"] == parent_name
    fixed = remote("run", "--remote", str(example), "nightly", "--team", "x")
    assert fixed.exit_code == 2 and "input 'team' is fixed" in fixed.stderr

    from flyrun.sandbox.state.store import Key, Store

    store = Store.open(sandbox_server["data_dir"])
    try:
        events = [json.loads(row["body"]) for row in
                  store.events(Key("flytesnacks", "development", result["execution"]["name"]))]
    finally:
        store.close()
    assert events == [{"channel": "slack", "recipients": ["ops@example.slack.com"], "phase": "SUCCEEDED",
                       "subject": f"Flyte execution flytesnacks/development/{result['execution']['name']} "
                                  "succeeded", "launch_plan": "nightly", "error": None}]


SLEEPY_PLAN = '''
import os
import time

from flyrun import LaunchPlan, task, workflow


@task
def nap(pidfile: str) -> int:
    with open(pidfile, "w") as out:
        out.write(str(os.getpid()))
    time.sleep(120)
    return 1


@workflow
def inner(pidfile: str) -> int:
    return nap(pidfile=pidfile)


napping = LaunchPlan.get_or_create(inner, "napping")


@workflow
def outer(pidfile: str) -> int:
    return napping(pidfile=pidfile)
'''


@pytest.mark.slow
def test_terminating_a_workflow_terminates_its_launch_plan_nodes_child_execution(remote, sandbox_server, tmp_path):
    from termination import launched, terminate_and_check, wait_for_pids

    folder = tmp_path / "sleepy"
    folder.mkdir()
    (folder / "sleepy_plan.py").write_text(SLEEPY_PLAN)
    pids = tmp_path / "pids"
    pids.mkdir()
    name = launched(remote("run", "--remote", "-o", "json", str(folder / "sleepy_plan.py"), "outer", "--pidfile",
                           str(pids / "0.pid")))
    running = wait_for_pids(pids, 1)  # the task of the child execution
    found = terminate_and_check(remote, sandbox_server["data_dir"], name, running)
    assert len(found) == 2, found  # the workflow and the launch plan's execution, both ended
    child = next(execution for execution in found if execution != name)
    assert json.loads(remote("executions", "get", child, "-o", "json").stdout)["phase"] == "ABORTED"


@pytest.mark.slow
def test_launchplan_activate_list_deactivate(remote, example):
    assert remote("register", str(example)).exit_code == 0
    activated = remote("launchplan", "activate", "every_ten_minutes", "-o", "json")
    assert activated.exit_code == 0, activated.output
    assert json.loads(activated.stdout)["state"] == "ACTIVE"
    listed = json.loads(remote("launchplan", "list", "--active", "-o", "json").stdout)["launch_plans"]
    assert {"name": "every_ten_minutes", "state": "ACTIVE", "schedule": "every 10 minute(s)",
            "workflow": "launch_plans.summary"}.items() <= next(
        r for r in listed if r["name"] == "every_ten_minutes").items()
    assert remote("launchplan", "deactivate", "every_ten_minutes").exit_code == 0
    listed = json.loads(remote("launchplan", "list", "--active", "-o", "json").stdout)["launch_plans"]
    assert "every_ten_minutes" not in [r["name"] for r in listed]
    missing = remote("launchplan", "activate", "no_such_plan")
    assert missing.exit_code == 2 and "no launch plan named 'no_such_plan'" in missing.stderr
