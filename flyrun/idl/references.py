"""Nodes that run reference entities: they point at the registered id, which is never registered again.

As flytekit's translator does: a reference task is a ``task_node.reference_id``, a reference workflow a
``workflow_node.sub_workflow_ref`` (not embedded in ``sub_workflows``: the server has it), a reference launch plan a
``workflow_node.launchplan_ref``. The id keeps the reference's own project, domain and version.
"""

from __future__ import annotations

from typing import Any


def reference_node(entity: Any) -> tuple[str, dict]:
    """(the Node field to set, its value) for a node running ``entity``."""
    identifier = dict(entity.id)
    if entity.resource_type == "TASK":
        return "task_node", {"reference_id": identifier}
    if entity.resource_type == "WORKFLOW":
        return "workflow_node", {"sub_workflow_ref": identifier}
    return "workflow_node", {"launchplan_ref": identifier}
