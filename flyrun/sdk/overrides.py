"""``with_overrides``: per-node settings that win over the task's (flyte-language-wire.md section 6).

``NodeHandle.with_overrides`` (``sdk/graph.py``) imports this module when it is first used; it imports nothing of
the graph's, so the direction is one-way. ``create_node`` lives with the graph.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk.cache import Cache
from flyrun.sdk.image_spec import ImageSpec
from flyrun.sdk.pods import PodTemplate
from flyrun.sdk.resources import Resources

if TYPE_CHECKING:
    from flyrun.sdk import graph

_KNOWN = ("node_name", "name", "timeout", "retries", "interruptible", "cache", "cache_version", "cache_serialize",
          "requests", "limits", "resources", "container_image", "task_config", "accelerator", "shared_memory",
          "pod_template")


def apply(node: graph.Node, overrides: dict[str, Any], call_site: str) -> None:
    """Check and record ``with_overrides(...)`` on ``node`` (the last call wins for each setting)."""
    where = f"{call_site}: with_overrides on {node.label}"
    unknown = [key for key in overrides if key not in _KNOWN]
    if unknown:
        raise WorkflowDefinitionError(f"{where}: unknown setting '{unknown[0]}'; settings are: {', '.join(_KNOWN)}")
    overrides = _cache_object(overrides, where)
    checked = node.metadata.setdefault("overrides", {})
    for key, value in overrides.items():
        checked[key] = _checked(key, value, where)
    if "resources" in overrides:
        resources = checked.pop("resources")
        checked["requests"], checked["limits"] = _split_resources(resources, where)
    if "node_name" in overrides:
        node.id = checked.pop("node_name")


def _cache_object(overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """``cache=Cache(version=..., serialize=...)`` as flytekit takes it on a node: the version must be given."""
    cache = overrides.get("cache")
    if cache is None or isinstance(cache, (bool, int)):
        return overrides
    if not isinstance(cache, Cache):
        raise WorkflowDefinitionError(f"{where}: cache must be True, False or a Cache(...), not {cache!r}")
    if "cache_version" in overrides or "cache_serialize" in overrides:
        raise WorkflowDefinitionError(f"{where}: cache=Cache(...) replaces cache_version and cache_serialize; set "
                                      "them in the Cache instead")
    if cache.version is None:
        raise WorkflowDefinitionError(f"{where}: cache=Cache(...) on a node needs a version, as in flytekit",
                                      hint='with_overrides(cache=Cache(version="2"))')
    return {**overrides, "cache": True, "cache_version": cache.version, "cache_serialize": cache.serialize}


def _checked(key: str, value: Any, where: str) -> Any:
    if key == "node_name":
        if not isinstance(value, str) or not value:
            raise WorkflowDefinitionError(f"{where}: node_name must be a non-empty string, not {value!r}")
        return re.sub(r"[^a-z0-9-]", "-", value.lower())  # flytekit dnsifies it
    if key == "timeout":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = dt.timedelta(seconds=value)
        if not isinstance(value, dt.timedelta):
            raise WorkflowDefinitionError(f"{where}: timeout must be a timedelta or seconds, not {value!r}")
    if key == "retries" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise WorkflowDefinitionError(f"{where}: retries must be a whole number >= 0, not {value!r}")
    if key in ("requests", "limits") and value is not None and not isinstance(value, Resources):
        raise WorkflowDefinitionError(f"{where}: {key} must be Resources(...), not {value!r}")
    if key == "container_image" and _is_image_spec(value):
        return value
    if key == "accelerator" and value is not None and not callable(getattr(value, "to_wire", None)):
        raise WorkflowDefinitionError(f"{where}: accelerator must be one of flyrun.extras.accelerators (T4, "
                                      f"A100.partition_1g_5gb, GPUAccelerator(\"device\")...), not {value!r}")
    if key == "shared_memory" and value is not None and value is not True and (
            not isinstance(value, str) or not value):
        raise WorkflowDefinitionError(f"{where}: shared_memory must be True (as much as the memory) or a size "
                                      f"such as \"2Gi\", not {value!r}")
    if key == "pod_template" and value is not None:
        if not isinstance(value, PodTemplate):
            raise WorkflowDefinitionError(f"{where}: pod_template must be a flyrun PodTemplate, not "
                                          f"{type(value).__name__}")
    if key in ("name", "container_image", "cache_version") and not isinstance(value, str):
        raise WorkflowDefinitionError(f"{where}: {key} must be a string, not {value!r}")
    return value


def _split_resources(resources: Any, where: str) -> tuple[Any, Any]:
    """``resources=Resources(cpu=("1", "2"))``: the first of each pair is the request, the second the limit."""
    if not isinstance(resources, Resources):
        raise WorkflowDefinitionError(f"{where}: resources must be Resources(...), not {resources!r}")
    requests, limits = {}, {}
    for field in ("cpu", "mem", "gpu", "ephemeral_storage"):
        value = getattr(resources, field)
        if isinstance(value, (tuple, list)):
            requests[field], limits[field] = value
        elif value is not None:
            requests[field] = limits[field] = value
    return Resources(**requests), Resources(**limits)


def _is_image_spec(value: Any) -> bool:
    return isinstance(value, ImageSpec)
