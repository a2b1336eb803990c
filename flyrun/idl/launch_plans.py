"""Named launch plans as admin ``LaunchPlanSpec`` dicts (flyte-language-wire.md section 4), and launch-plan nodes."""

from __future__ import annotations

from typing import Any

from flyrun.idl.interface import literal, parameter_map
from flyrun.idl.settings import SerializationSettings


def named_launch_plan_spec(plan: Any, settings: SerializationSettings) -> dict:
    """``default_inputs`` are the workflow's inputs minus the fixed ones; the schedule and notifications go in
    ``entity_metadata``."""
    owner = f"launch plan {plan.name}"
    workflow_inputs = plan.workflow.interface.inputs
    fixed = {name: literal(value, workflow_inputs[name], f"{owner}: fixed input '{name}'")
             for name, value in plan.fixed_inputs.items()}
    metadata: dict[str, Any] = {}
    if plan.schedule is not None:
        metadata["schedule"] = plan.schedule.to_dict()
    if plan.notifications:
        metadata["notifications"] = [item.to_dict() for item in plan.notifications]
    spec: dict[str, Any] = {
        "workflow_id": settings.identifier("WORKFLOW", plan.workflow.name),
        "entity_metadata": metadata,
        "default_inputs": parameter_map(plan.interface, owner, getattr(plan.workflow, "fn", None),
                                        undescribed=plan.default_inputs),
        "fixed_inputs": {"literals": fixed},
        "labels": {"values": dict(plan.labels)},
        "annotations": {"values": dict(plan.annotations)},
        "raw_output_data_config": {"output_location_prefix": plan.raw_output_data_config},
    }
    if plan.max_parallelism is not None:
        spec["max_parallelism"] = plan.max_parallelism
    if plan.overwrite_cache is not None:
        spec["overwrite_cache"] = bool(plan.overwrite_cache)
    return spec


def launch_plan_node(plan: Any, settings: SerializationSettings) -> tuple[dict, dict]:
    """(metadata, workflow_node) of a node that runs a launch plan: named after its workflow, as flytekit does."""
    metadata = {"name": plan.workflow.short_name, "retries": {}, "interruptible": False}
    return metadata, {"launchplan_ref": settings.identifier("LAUNCH_PLAN", plan.name)}
