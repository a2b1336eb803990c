"""Launch plan notifications: ``Email``, ``Slack`` and ``PagerDuty`` on chosen execution phases."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk.graph import user_call_site


class WorkflowExecutionPhase(enum.IntEnum):
    """flyteidl's ``WorkflowExecution.Phase``; notifications take the terminal ones."""

    UNDEFINED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDING = 3
    SUCCEEDED = 4
    FAILING = 5
    FAILED = 6
    ABORTED = 7
    TIMED_OUT = 8
    ABORTING = 9


_TERMINAL = ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")


class Notification:
    kind = ""  # the Notification oneof field: email, slack or pager_duty

    def __init__(self, phases: Iterable[Any], recipients_email: Iterable[str]) -> None:
        where = f"{user_call_site()}: {type(self).__name__}"
        self.phases = [_phase_name(phase, where) for phase in phases]
        if not self.phases:
            raise WorkflowDefinitionError(f"{where} needs at least one phase",
                                          hint="e.g. phases=[WorkflowExecutionPhase.FAILED]")
        recipients = [recipients_email] if isinstance(recipients_email, str) else list(recipients_email)
        if not recipients or not all(isinstance(r, str) and r for r in recipients):
            raise WorkflowDefinitionError(f"{where} needs a list of recipient addresses, not {recipients_email!r}")
        self.recipients_email = recipients

    def to_dict(self) -> dict:
        return {"phases": list(self.phases), self.kind: {"recipients_email": list(self.recipients_email)}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(phases={self.phases}, recipients_email={self.recipients_email})"


class Email(Notification):
    kind = "email"


class Slack(Notification):
    kind = "slack"


class PagerDuty(Notification):
    kind = "pager_duty"


def _phase_name(phase: Any, where: str) -> str:
    try:
        name = WorkflowExecutionPhase[phase.upper()].name if isinstance(phase, str) else \
            WorkflowExecutionPhase(phase).name
    except (KeyError, ValueError):
        name = ""
    if name not in _TERMINAL:
        raise WorkflowDefinitionError(f"{where}: phase {phase!r} is not a terminal execution phase",
                                      hint="use SUCCEEDED, FAILED, ABORTED or TIMED_OUT (WorkflowExecutionPhase)")
    return name
