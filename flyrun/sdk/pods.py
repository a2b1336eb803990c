"""``PodTemplate``: the Kubernetes pod spec, labels and annotations of the pod a task runs in.

Its own module because tasks and container tasks both take one (``pod_template=``).
"""

from __future__ import annotations

from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk.callsite import user_call_site


class PodTemplate:
    """A Kubernetes pod spec plus labels and annotations for the pod a task runs in."""

    def __init__(self, pod_spec: Any = None, labels: dict[str, str] | None = None,
                 annotations: dict[str, str] | None = None, primary_container_name: str = "primary") -> None:
        where = f"{user_call_site()}: PodTemplate"
        if pod_spec is not None and not isinstance(pod_spec, dict) and not _is_v1_pod_spec(pod_spec):
            raise WorkflowDefinitionError(f"{where}: pod_spec must be a kubernetes V1PodSpec or a dict, not "
                                          f"{type(pod_spec).__name__}",
                                          hint="pip install 'flyrun[kubernetes]' for V1PodSpec")
        if isinstance(pod_spec, dict) and not all(isinstance(k, str) for k in pod_spec):
            raise WorkflowDefinitionError(f"{where}: pod_spec keys must be strings (Kubernetes JSON field names)")
        for what, mapping in (("labels", labels), ("annotations", annotations)):
            if mapping is not None and (not isinstance(mapping, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())):
                raise WorkflowDefinitionError(f"{where}: {what} must be a dict of strings to strings, not "
                                              f"{mapping!r}")
        if not isinstance(primary_container_name, str) or not primary_container_name:
            raise WorkflowDefinitionError(f"{where}: primary_container_name must be a non-empty string")
        self.pod_spec = pod_spec
        self.labels = dict(labels or {})
        self.annotations = dict(annotations or {})
        self.primary_container_name = primary_container_name

    @property
    def pod_spec_dict(self) -> dict[str, Any]:
        """The pod spec as Kubernetes JSON (camelCase keys), whichever form it was given in."""
        if self.pod_spec is None:
            return {"containers": []}
        if isinstance(self.pod_spec, dict):
            import copy

            return copy.deepcopy(self.pod_spec)
        from kubernetes.client import ApiClient

        return ApiClient().sanitize_for_serialization(self.pod_spec)

    def version_hash(self) -> str:
        """sha256 of the canonical JSON of the template, as flytekit folds it into a task's version."""
        document = {"pod_spec": self.pod_spec_dict, "labels": self.labels, "annotations": self.annotations,
                    "primary_container_name": self.primary_container_name}
        # Imported here: every task module imports this one (for PodTemplate), few tasks are hashed.
        import hashlib
        import json

        return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def __repr__(self) -> str:
        return (f"PodTemplate(primary_container_name={self.primary_container_name!r}, labels={self.labels!r}, "
                f"annotations={self.annotations!r})")


def _is_v1_pod_spec(value: Any) -> bool:
    # Checked by name so that flyrun never imports kubernetes itself just to compare.
    cls = type(value)
    return cls.__name__ == "V1PodSpec" and cls.__module__.startswith("kubernetes.")
