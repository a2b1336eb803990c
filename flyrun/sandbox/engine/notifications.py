"""Launch plan notifications: the sandbox sends no mail, it records what it would have sent.

At creation an execution's ``closure.notifications`` is its own list, else (unless ``disable_all``) its launch
plan's, as FlyteAdmin merges them. When it ends, each notification for that phase becomes an event of the
execution (``execution_events``, kind ``notification``) and a line in the server's log.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from flyrun.sandbox.state.store import Key, Store

_CHANNELS = ("email", "slack", "pager_duty")


def for_execution(spec: Any, plan_spec: Any) -> list[Any]:
    if spec.HasField("notifications"):
        return list(spec.notifications.notifications)
    if spec.disable_all or plan_spec is None:
        return []
    return list(plan_spec.entity_metadata.notifications)


def announce(store: Store, key: Key, execution: Any) -> list[dict[str, Any]]:
    """Record the notifications due for the execution's (final) phase; returns them."""
    from flyteidl.core import execution_pb2

    closure = execution.closure
    phase = execution_pb2.WorkflowExecution.Phase.Name(closure.phase)
    sent = []
    for notification in closure.notifications:
        if closure.phase not in notification.phases:
            continue
        channel = notification.WhichOneof("type") or "email"
        recipients = list(getattr(notification, channel).recipients_email)
        subject = f"Flyte execution {key.project}/{key.domain}/{key.name} {phase.lower()}"
        body = {"channel": channel, "recipients": recipients, "phase": phase, "subject": subject,
                "launch_plan": execution.spec.launch_plan.name,
                "error": closure.error.message if closure.HasField("error") else None}
        store.add_event(key, "notification", json.dumps(body))
        print(f"flyrun sandbox: notification not sent (sandbox): {channel} to {', '.join(recipients)}: {subject}",
              file=sys.stderr, flush=True)
        sent.append(body)
    return sent
