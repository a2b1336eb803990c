"""Schedules: the cron parser, FixedRate, and the sandbox's schedule runner over a real store (fires once per
scheduled time, with the kickoff time, and never twice across a restart)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from google.protobuf import json_format
from sandbox_entities import INT, launch_plan, promise, task, task_node, workflow

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk.schedule import CronError, CronSchedule, FixedRate, next_fire, parse_cron

T0 = dt.datetime(2024, 2, 28, 23, 58, 30)


@pytest.mark.parametrize("expression, expected", [
    ("* * * * *", dt.datetime(2024, 2, 28, 23, 59)),
    ("*/15 * * * *", dt.datetime(2024, 2, 29, 0, 0)),
    ("0 2 * * *", dt.datetime(2024, 2, 29, 2, 0)),
    ("30 9 * * MON-FRI", dt.datetime(2024, 2, 29, 9, 30)),  # the 29th is a Thursday
    ("0 0 1 * *", dt.datetime(2024, 3, 1, 0, 0)),
    ("0 0 29 2 *", dt.datetime(2024, 2, 29, 0, 0)),
    ("0 12 * JUN ?", dt.datetime(2024, 6, 1, 12, 0)),
    ("0 0 13 * 5", dt.datetime(2024, 3, 1, 0, 0)),  # both day fields restricted: the 13th OR a Friday
    ("5,10-12/2 1 * * 7", dt.datetime(2024, 3, 3, 1, 5)),  # 7 is Sunday too
    ("@hourly", dt.datetime(2024, 2, 29, 0, 0)),
    ("@daily", dt.datetime(2024, 2, 29, 0, 0)),
    ("@weekly", dt.datetime(2024, 3, 3, 0, 0)),
    ("monthly", dt.datetime(2024, 3, 1, 0, 0)),
    ("@yearly", dt.datetime(2025, 1, 1, 0, 0)),
])
def test_cron_next_fire(expression, expected):
    assert parse_cron(expression).next_after(T0) == expected


@pytest.mark.parametrize("expression, fragment", [
    ("* * * *", "expected 5 fields"),
    ("61 * * * *", "minute: 61 is out of range 0-59"),
    ("* 24 * * *", "hour: 24 is out of range 0-23"),
    ("* * 0 * *", "day of month: 0 is out of range 1-31"),
    ("* * * FOO *", "month: 'FOO' is not a number or a name (JAN..DEC)"),
    ("*/0 * * * *", "step '0' is not a positive number"),
    ("5-1 * * * *", "range '5-1' runs backwards"),
    ("0 0 30 2 *", "matches no date"),
    ("@every", "expected 5 fields"),
    ("", "empty"),
])
def test_bad_cron_is_refused_with_the_reason(expression, fragment):
    with pytest.raises(CronError, match=None) as raised:
        parse_cron(expression)
    assert fragment in str(raised.value)


def test_cron_schedule_names_the_users_line():
    with pytest.raises(WorkflowDefinitionError) as raised:
        CronSchedule(schedule="0 25 * * *")
    assert raised.value.message.startswith("tests/test_schedules.py:") or "test_schedules.py:" in raised.value.message
    assert "hour: 25 is out of range 0-23" in raised.value.message
    with pytest.raises(WorkflowDefinitionError, match="deprecated AWS form"):
        CronSchedule(cron_expression="0 10 * * ? *")


def test_fixed_rate_units_and_limits():
    assert FixedRate(dt.timedelta(days=2)).to_dict() == {"rate": {"value": 2, "unit": "DAY"}}
    assert FixedRate(dt.timedelta(hours=3)).to_dict() == {"rate": {"value": 3, "unit": "HOUR"}}
    assert FixedRate(dt.timedelta(minutes=90), kickoff_time_input_arg="t").to_dict() == {
        "rate": {"value": 90}, "kickoff_time_input_arg": "t"}
    for bad in (dt.timedelta(seconds=30), dt.timedelta(seconds=90)):
        with pytest.raises(WorkflowDefinitionError, match="whole number of minutes"):
            FixedRate(bad)
    assert next_fire({"rate": {"value": 2, "unit": "HOUR"}}, T0) == T0 + dt.timedelta(hours=2)


# -- the sandbox's schedule runner, in this process, over a real store and scheduler ---------------------------
STAMP = task("tests.stamp", "write({'o0': inputs['n'] * 1000 + inputs['when'].seconds % 1000})",
             {"n": INT, "when": {"simple": "DATETIME"}}, {"o0": INT})


def _services(data_root):
    from flyrun.sandbox.admin import registry
    from flyrun.sandbox.admin.signing import Signer
    from flyrun.sandbox.engine.scheduler import Scheduler
    from flyrun.sandbox.services import Services
    from flyrun.sandbox.state.layout import DataDir
    from flyrun.sandbox.state.store import Store

    data = DataDir(data_root)
    data.prepare()
    store = Store.open(data.root)
    registry.ensure_default_project(store)
    return Services(store=store, data=data, scheduler=Scheduler(store, data), signer=Signer(data.key()))


def _register(services, schedule):
    from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

    from flyrun.sandbox.admin import registry

    wf = workflow("tests.stamped", {"n": INT, "when": {"simple": "DATETIME"}}, {"o0": INT},
                  [task_node("n0", STAMP, {"n": promise("start-node", "n"), "when": promise("start-node", "when")})],
                  {"o0": promise("n0", "o0")})
    plan = launch_plan(wf, {"n": (INT, {"scalar": {"primitive": {"integer": "7"}}})})
    plan["id"]["name"] = "stamped_every_minute"
    plan["spec"]["entity_metadata"] = {"schedule": schedule}
    store = services.store
    registry.create_task(store, json_format.ParseDict(STAMP, task_pb2.TaskCreateRequest()))
    registry.create_workflow(store, json_format.ParseDict(wf, workflow_pb2.WorkflowCreateRequest()))
    registry.create_launch_plan(store, json_format.ParseDict(plan, launch_plan_pb2.LaunchPlanCreateRequest()))
    registry.update_launch_plan(store, launch_plan_pb2.LaunchPlanUpdateRequest(
        id=json_format.ParseDict(plan["id"], launch_plan_pb2.LaunchPlan().id), state=launch_plan_pb2.ACTIVE))


def _wait(store, name, timeout=60.0):
    from flyrun.sandbox.engine.records import WF_FINAL
    from flyrun.sandbox.state.store import Key

    deadline = time.monotonic() + timeout
    while True:
        row = store.execution(Key("flytesnacks", "development", name))
        if row is not None and row["phase"] in WF_FINAL:
            return row
        assert time.monotonic() < deadline, f"execution {name} did not finish"
        time.sleep(0.05)


@pytest.mark.slow
def test_schedule_fires_once_per_time_with_the_kickoff_time_and_not_again_after_a_restart(tmp_path):
    from flyteidl.admin import execution_pb2

    from flyrun.sandbox.admin.schedules import ScheduleRunner
    from flyrun.sandbox.engine.literals import read_literal_map

    armed = dt.datetime(2024, 5, 1, 10, 0, 20, tzinfo=dt.timezone.utc).timestamp()
    services = _services(tmp_path / "data")
    _register(services, {"cron_schedule": {"schedule": "* * * * *"}, "kickoff_time_input_arg": "when"})
    runner = ScheduleRunner(services)
    try:
        assert runner.tick(armed) == []  # first sight: armed, nothing fires for the past
        assert runner.tick(armed + 30) == []  # 10:00:50, before 10:01
        fired = runner.tick(armed + 45)  # 10:01:05: fires for 10:01:00
        assert len(fired) == 1 and fired[0].startswith("f") and len(fired[0]) == 20
        assert runner.tick(armed + 50) == []  # the same minute never fires twice
        row = _wait(services.store, fired[0])
        execution = execution_pb2.Execution.FromString(row["body"])
        assert execution.closure.phase == 4, execution.closure.error  # SUCCEEDED
        assert execution.spec.metadata.mode == 1  # SCHEDULED
        scheduled = dt.datetime(2024, 5, 1, 10, 1, tzinfo=dt.timezone.utc).timestamp()
        assert execution.spec.metadata.scheduled_at.seconds == scheduled
        outputs = read_literal_map(execution.closure.outputs.uri)
        assert outputs.literals["o0"].scalar.primitive.integer == 7000 + int(scheduled) % 1000
    finally:
        services.scheduler.shutdown()
        services.store.close()
    restarted = _services(tmp_path / "data")  # a new server on the same data dir
    runner = ScheduleRunner(restarted)
    try:
        assert runner.tick(armed + 50) == []  # 10:01 already fired
        missed = runner.tick(armed + 45 + 180)  # down until 10:04:05: only the latest missed time fires, once
        assert len(missed) == 1 and missed != fired
        assert runner.tick(armed + 45 + 180) == []
        _wait(restarted.store, missed[0])
    finally:
        restarted.scheduler.shutdown()
        restarted.store.close()


@pytest.mark.slow
def test_a_deactivated_schedule_stops_and_starts_afresh(tmp_path):
    from flyteidl.admin import launch_plan_pb2

    from flyrun.sandbox.admin import registry
    from flyrun.sandbox.admin.schedules import ScheduleRunner

    services = _services(tmp_path / "data")
    _register(services, {"rate": {"value": 5}, "kickoff_time_input_arg": "when"})
    plan_id = launch_plan_pb2.LaunchPlan().id
    json_format.ParseDict({"resource_type": "LAUNCH_PLAN", "project": "flytesnacks", "domain": "development",
                           "name": "stamped_every_minute", "version": "v1"}, plan_id)
    runner = ScheduleRunner(services)
    try:
        assert runner.tick(1000.0) == []
        registry.update_launch_plan(services.store, launch_plan_pb2.LaunchPlanUpdateRequest(
            id=plan_id, state=launch_plan_pb2.INACTIVE))
        assert runner.tick(2000.0) == []  # inactive: nothing
        registry.update_launch_plan(services.store, launch_plan_pb2.LaunchPlanUpdateRequest(
            id=plan_id, state=launch_plan_pb2.ACTIVE))
        assert runner.tick(2000.0) == []  # armed again now, not caught up from 1000
        fired = runner.tick(2000.0 + 300)
        assert len(fired) == 1
        assert _wait(services.store, fired[0])["phase"] == 4  # SUCCEEDED
    finally:
        services.scheduler.shutdown()
        services.store.close()
