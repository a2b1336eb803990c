"""Registration bodies as binary protobuf, for servers that say they take it (``flyrun sandbox`` does).

A 10,000-node workflow is a 2.7 MiB protojson body; parsing that with protobuf's pure-Python ``json_format`` is
most of what registering it costs a server, while the binary form parses in C in milliseconds. A server lists the
body types it takes in an ``Accept-Post`` header on its API answers; FlyteAdmin's gateway does not, so it keeps
getting JSON.
"""

from __future__ import annotations

from typing import Any

BINARY_TYPE = "application/x-protobuf"
_MESSAGES = {"TASK": ("flyteidl.admin.task_pb2", "TaskCreateRequest"),
             "WORKFLOW": ("flyteidl.admin.workflow_pb2", "WorkflowCreateRequest"),
             "LAUNCH_PLAN": ("flyteidl.admin.launch_plan_pb2", "LaunchPlanCreateRequest")}


def takes_protobuf(accept_post: str | None) -> bool:
    kinds = {part.split(";", 1)[0].strip().lower() for part in (accept_post or "").split(",")}
    return BINARY_TYPE in kinds


def create_request(resource_type: str, body: dict[str, Any]) -> bytes | None:
    """The binary ``<Entity>CreateRequest`` for ``body`` (protojson as a dict), or None when it cannot be made
    here (flyteidl missing, or a body flyteidl refuses: then the JSON body goes, and the server names the fault)."""
    import importlib

    target = _MESSAGES.get(resource_type)
    if target is None:
        return None
    try:
        from google.protobuf import json_format

        message = getattr(importlib.import_module(target[0]), target[1])()
    except ImportError:
        return None
    try:
        json_format.ParseDict(body, message, ignore_unknown_fields=False)
    except (json_format.Error, ValueError, TypeError, RecursionError):
        return None
    return message.SerializeToString()
