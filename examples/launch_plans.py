"""Launch plans, schedules, notifications and a failure handler: `flyrun run examples/launch_plans.py nightly`.

`flyrun register examples/launch_plans.py` registers every launch plan here; `flyrun launchplan activate nightly`
then makes the sandbox run it on its schedule.
"""

from datetime import datetime, timedelta
from typing import Optional

from flyrun import (
    CronSchedule,
    Email,
    FixedRate,
    LaunchPlan,
    Slack,
    WorkflowExecutionPhase,
    task,
    workflow,
)


@task
def report(team: str, size: int, when: datetime) -> str:
    return f"{team}: {size} items at {when:%Y-%m-%d %H:%M}"


@workflow
def summary(team: str, size: int = 3, when: datetime = datetime(2024, 1, 1)) -> str:
    return report(team=team, size=size, when=when)


# `flyrun run examples/launch_plans.py nightly` runs summary(team="ops", size=10); --team cannot be given (exit 2).
nightly = LaunchPlan.get_or_create(
    summary, "nightly", fixed_inputs={"team": "ops"}, default_inputs={"size": 10},
    schedule=CronSchedule(schedule="0 2 * * *", kickoff_time_input_arg="when"),
    notifications=[Email(phases=[WorkflowExecutionPhase.FAILED], recipients_email=["oncall@example.com"]),
                   Slack(phases=[WorkflowExecutionPhase.SUCCEEDED], recipients_email=["ops@example.slack.com"])],
    labels={"team": "ops"}, max_parallelism=4)

every_ten_minutes = LaunchPlan.get_or_create(summary, "every_ten_minutes", fixed_inputs={"team": "dev"},
                                             schedule=FixedRate(duration=timedelta(minutes=10)))


@workflow
def both(size: int = 1) -> str:
    """A workflow that calls a launch plan as a node: the fixed team is not bound here."""
    return nightly(size=size)


@task
def cleanup(team: str, size: int, when: datetime, err: Optional[str] = None) -> None:
    print(f"cleaning up after {team}: {err}")
