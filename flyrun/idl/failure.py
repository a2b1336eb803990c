"""A workflow's failure policy and failure node in its ``WorkflowTemplate`` (flyte-language-wire.md section 7)."""

from __future__ import annotations

from typing import Any

from flyrun.idl.settings import SerializationSettings


def add_failure_handling(template: dict, workflow: Any, settings: SerializationSettings, owner: str) -> None:
    """``metadata.on_failure`` for FAIL_AFTER_EXECUTABLE_NODES_COMPLETE, and the ``failure_node`` (``fn0``)."""
    from flyrun.idl.workflows import node_dict

    failure = getattr(workflow, "failure", None)
    if failure is None:
        return
    if failure.policy:
        template["metadata"]["on_failure"] = failure.policy.name
    if failure.node is not None:
        node = node_dict(failure.node, settings, owner)
        node.pop("upstream_node_ids", None)  # it runs after the workflow failed, not after other nodes
        template["failure_node"] = node


def failure_handlers(workflow: Any) -> list[Any]:
    """The failure node of ``workflow`` as a one-item list (for walks over every node it runs), else empty."""
    failure = getattr(workflow, "failure", None)
    return [failure.node] if failure is not None and failure.node is not None else []
