"""``with_overrides(...)`` on a node: ``NodeMetadata`` settings and ``TaskNodeOverrides`` (wire section 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyrun.idl.tasks import resources
from flyrun.types.scalars import format_duration

if TYPE_CHECKING:
    from flyrun.idl.settings import SerializationSettings


def apply_overrides(node: dict, overrides: dict[str, Any], settings: SerializationSettings | None = None) -> None:
    metadata = node["metadata"]
    if "name" in overrides:
        metadata["name"] = overrides["name"]
    if overrides.get("timeout") is not None:
        metadata["timeout"] = format_duration(overrides["timeout"])
    if "retries" in overrides:
        metadata["retries"] = {"retries": overrides["retries"]}
    if overrides.get("interruptible") is not None:
        metadata["interruptible"] = bool(overrides["interruptible"])
    if "cache" in overrides:
        metadata["cacheable"] = bool(overrides["cache"])
        if overrides["cache"]:
            metadata["cache_version"] = overrides.get("cache_version") or "0"
    if overrides.get("cache_serialize"):
        metadata["cache_serializable"] = True
    if "task_node" not in node:
        return
    task_overrides = node["task_node"].setdefault("overrides", {})
    if overrides.get("requests") is not None or overrides.get("limits") is not None:
        task_overrides["resources"] = resources(overrides.get("requests"), overrides.get("limits"))
    if overrides.get("container_image"):
        image = overrides["container_image"]
        if settings is not None and not isinstance(image, str):  # an ImageSpec, which the images table may name
            task_overrides["container_image"] = settings.image_for(image)
        else:
            task_overrides["container_image"] = image if isinstance(image, str) else image.image_name()
