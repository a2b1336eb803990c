"""FlyteAdmin's native scheduler: launch the active launch plans that have a schedule when it comes due.

Each scheduled launch plan name has one row in ``schedule_fires``: the scheduled time it last fired for. A plan
seen for the first time is armed at that moment (it fires at its next scheduled time, not for the past). A fire
creates the execution first and records the time after, and the execution's name is a hash of the plan and the
scheduled time: a server that dies in between makes the same name again, which already exists, so nothing runs
twice. After downtime only the latest missed time fires (once), not every missed one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

from flyrun.sandbox.admin.executions import create_execution
from flyrun.sandbox.admin.wire import ApiError, Code, load
from flyrun.sandbox.services import Services
from flyrun.sdk.schedule import next_fire

SCHEDULED = 1  # flyteidl.admin.ExecutionMetadata.ExecutionMode
_MAX_CATCH_UP = 100_000  # fire times skipped over after a long downtime, at most


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(tzinfo=None)


def _seconds(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.timezone.utc).timestamp()


def schedule_name(project: str, domain: str, name: str, version: str, fire_at: float) -> str:
    """The native scheduler's execution name: "f" and 19 characters of a hash of the plan and the time."""
    digest = hashlib.sha256(f"{project}/{domain}/{name}/{version}/{fire_at:.0f}".encode()).hexdigest()
    return "f" + digest[:19]


class ScheduleRunner:
    """Checks the active schedules every ``interval`` seconds on a thread of its own."""

    def __init__(self, services: Services, interval: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.services = services
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="flyrun-schedules", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception as error:  # a bad plan must not stop the other schedules
                _log(f"{type(error).__name__}: {error}")

    def tick(self, now: float | None = None) -> list[str]:
        """Fire every active schedule that is due at ``now``; returns the names of the executions created."""
        from flyteidl.admin import launch_plan_pb2

        now = self.clock() if now is None else now
        store = self.services.store
        created = []
        for row in store.active_launch_plans():
            plan = load(launch_plan_pb2.LaunchPlan(), row["body"])
            if not plan.spec.entity_metadata.HasField("schedule"):
                continue
            last = store.last_fire(row["project"], row["domain"], row["name"])
            if last is None:
                store.record_fire(row["project"], row["domain"], row["name"], now)
                continue
            due = _latest_due(_schedule_dict(plan.spec.entity_metadata.schedule), last, now)
            if due is None:
                continue
            try:
                created.append(self._fire(plan, due))
            except ApiError as error:  # e.g. an input with no value: say so once, and wait for the next time
                _log(f"launch plan {row['name']} could not start at its scheduled time: {error.message}")
            store.record_fire(row["project"], row["domain"], row["name"], due)
        return created

    def _fire(self, plan: Any, fire_at: float) -> str:
        from flyteidl.admin import execution_pb2

        ident = plan.id
        name = schedule_name(ident.project, ident.domain, ident.name, ident.version, fire_at)
        request = execution_pb2.ExecutionCreateRequest(project=ident.project, domain=ident.domain, name=name)
        request.spec.launch_plan.CopyFrom(ident)
        request.spec.metadata.mode = SCHEDULED
        request.spec.metadata.principal = "flyrun-scheduler"
        request.spec.metadata.scheduled_at.FromSeconds(int(fire_at))
        kickoff = plan.spec.entity_metadata.schedule.kickoff_time_input_arg
        if kickoff:
            request.inputs.literals[kickoff].scalar.primitive.datetime.FromSeconds(int(fire_at))
        try:
            create_execution(self.services, request)
        except ApiError as error:
            if error.code != Code.ALREADY_EXISTS:  # already there: this time fired before a restart
                raise
        return name


def _log(text: str) -> None:
    import sys

    print(f"flyrun sandbox: schedules: {text}", file=sys.stderr, flush=True)


def _schedule_dict(schedule: Any) -> dict:
    from google.protobuf import json_format

    return json_format.MessageToDict(schedule, preserving_proto_field_name=True)


def _latest_due(schedule: dict, last: float, now: float) -> float | None:
    """The latest scheduled time in (last, now], or None."""
    due = None
    moment = _utc(last)
    for _ in range(_MAX_CATCH_UP):
        following = next_fire(schedule, moment)
        if following is None or _seconds(following) > now:
            break
        due, moment = _seconds(following), following
    return due
