"""``with_overrides(...)`` on a node: ``NodeMetadata`` settings and ``TaskNodeOverrides`` (wire section 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyrun.idl import pods
from flyrun.idl.tasks import resources, task_spec
from flyrun.types.scalars import format_duration

if TYPE_CHECKING:
    from flyrun.idl.settings import SerializationSettings


def apply_overrides(node: dict, overrides: dict[str, Any], settings: SerializationSettings | None = None,
                    entity: Any = None) -> None:
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
    extended = extended_resources(overrides.get("accelerator"), overrides.get("shared_memory"))
    if extended:
        task_overrides["extended_resources"] = extended
    if overrides.get("pod_template") is not None and entity is not None and settings is not None:
        task_overrides["pod_template"] = _pod_template(overrides["pod_template"], entity, settings)
    if overrides.get("container_image"):
        image = overrides["container_image"]
        if settings is not None and not isinstance(image, str):  # an ImageSpec, which the images table may name
            task_overrides["container_image"] = settings.image_for(image)
        else:
            task_overrides["container_image"] = image if isinstance(image, str) else image.image_name()


# flytekit 1.16's shared memory volume: an emptyDir in memory mounted here.
SHARED_MEMORY_MOUNT_NAME = "flyte-shared-memory"
SHARED_MEMORY_MOUNT_PATH = "/dev/shm"


def extended_resources(accelerator: Any, shared_memory: Any) -> dict[str, Any]:
    """``ExtendedResources``: the accelerator's ``GPUAccelerator`` and the shared memory volume (``True``: as
    large as the pod's memory, so no size limit is written)."""
    extended: dict[str, Any] = {}
    if accelerator is not None:
        extended["gpu_accelerator"] = accelerator.to_wire()
    if shared_memory is True or isinstance(shared_memory, str):
        memory = {"mount_path": SHARED_MEMORY_MOUNT_PATH, "mount_name": SHARED_MEMORY_MOUNT_NAME}
        if isinstance(shared_memory, str):
            memory["size_limit"] = shared_memory
        extended["shared_memory"] = memory
    return extended


def _pod_template(pod_template: Any, entity: Any, settings: SerializationSettings) -> dict[str, Any]:
    """The node's ``K8sPod``, as flytekit writes it: the template with the task's own container (image, command,
    arguments, resources, environment) merged into its primary container."""
    import copy

    plain = copy.copy(entity)
    plain.pod_template = None  # the task's own container, not its own pod
    container = task_spec(plain, settings)["template"]["container"]
    pod = pods.k8s_pod(pod_template, container, settings)
    pod["primary_container_name"] = pods.primary_container_name(pod_template)
    return pod
