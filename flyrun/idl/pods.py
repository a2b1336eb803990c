"""Pod templates: the ``k8s_pod`` target of a task, and the hash that puts a pod template into the version.

A ``PodTemplate`` has ``pod_spec`` (a dict in Kubernetes' JSON shape or a ``kubernetes.client.V1PodSpec``),
``primary_container_name`` (default ``primary``), ``labels`` and ``annotations``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from flyrun.errors import UsageError

# Flyte's resource names -> Kubernetes' resource names.
_K8S_RESOURCES = {"CPU": "cpu", "MEMORY": "memory", "GPU": "nvidia.com/gpu", "EPHEMERAL_STORAGE": "ephemeral-storage"}


def primary_container_name(pod_template: Any) -> str:
    return getattr(pod_template, "primary_container_name", None) or "primary"


def pod_spec_json(pod_template: Any) -> dict:
    """The pod spec as a JSON-ready dict in Kubernetes' own field names (``restartPolicy``, ``nodeSelector``)."""
    if hasattr(pod_template, "pod_spec_dict"):
        return copy.deepcopy(pod_template.pod_spec_dict)
    spec = getattr(pod_template, "pod_spec", None)
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return copy.deepcopy(spec)
    if hasattr(spec, "openapi_types"):  # a kubernetes.client model
        from kubernetes.client import ApiClient

        return ApiClient().sanitize_for_serialization(spec)
    raise UsageError(f"pod_spec must be a dict or a kubernetes V1PodSpec, not {type(spec).__name__}")


def version_hash(pod_template: Any) -> str:
    """A digest of everything in a pod template, from its canonical JSON."""
    if callable(getattr(pod_template, "version_hash", None)):
        return pod_template.version_hash()
    document = {"pod_spec": pod_spec_json(pod_template), "primary": primary_container_name(pod_template),
                "labels": dict(getattr(pod_template, "labels", None) or {}),
                "annotations": dict(getattr(pod_template, "annotations", None) or {})}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def k8s_pod(pod_template: Any, container: dict, settings: Any) -> dict:
    """``K8sPod``: the template's pod spec with the task's container merged into the primary container."""
    spec = pod_spec_json(pod_template)
    primary = primary_container_name(pod_template)
    containers = spec.setdefault("containers", [])
    target = next((c for c in containers if c.get("name") == primary), None)
    if target is None:
        target = {"name": primary}
        containers.append(target)
    _merge_primary(target, container)
    for other in containers:
        if other is not target and other.get("image"):
            other["image"] = settings.image_for(other["image"])
    pod: dict[str, Any] = {"metadata": {"labels": dict(getattr(pod_template, "labels", None) or {}),
                                        "annotations": dict(getattr(pod_template, "annotations", None) or {})},
                           "pod_spec": spec}
    if "data_config" in container:  # a raw container's file I/O moves to the pod
        pod["data_config"] = container["data_config"]
    return pod


def _merge_primary(target: dict, container: dict) -> None:
    target.setdefault("image", container["image"])
    target["command"] = list(container.get("command", []))
    target["args"] = list(container.get("args", []))
    resources = target.setdefault("resources", {})
    for kind in ("requests", "limits"):
        entries = container.get("resources", {}).get(kind, [])
        if entries:
            resources.setdefault(kind, {}).update({_K8S_RESOURCES[e["name"]]: e["value"] for e in entries})
    task_env = [{"name": kv["key"], "value": kv["value"]} for kv in container.get("env", [])]
    names = {e["name"] for e in task_env}
    target["env"] = task_env + [e for e in target.get("env", []) if e.get("name") not in names]
