"""flytekitplugins-ray's configuration classes, with its field names, order and defaults, checked when made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk.graph import user_call_site
from flyrun.sdk.pods import PodTemplate
from flyrun.sdk.resources import Resources

# flyteidl.plugins.ray_pb2.AutoscalerOptions.UpscalingMode, by the names flytekit's class gives them.
_UPSCALING_MODES = {0: "UPSCALING_MODE_UNSPECIFIED", 1: "UPSCALING_MODE_DEFAULT", 2: "UPSCALING_MODE_AGGRESSIVE",
                    3: "UPSCALING_MODE_CONSERVATIVE"}


class UpscalingMode:
    UNSPECIFIED = 0
    DEFAULT = 1
    AGGRESSIVE = 2
    CONSERVATIVE = 3


def _fail(what: str, message: str) -> WorkflowDefinitionError:
    return WorkflowDefinitionError(f"{user_call_site()}: {what}: {message}")


def _check_node(what: str, node: Any) -> None:
    params = node.ray_start_params
    if params is not None and (not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items())):
        raise _fail(what, f"ray_start_params must be a dict of strings to strings (as `ray start` flags), "
                          f"not {params!r}")
    for field in ("requests", "limits"):
        value = getattr(node, field)
        if value is not None and not isinstance(value, Resources):
            raise _fail(what, f"{field} must be Resources(...), not {value!r}")
    if node.pod_template is not None:
        if not isinstance(node.pod_template, PodTemplate):
            raise _fail(what, f"pod_template must be a flyrun PodTemplate, not {type(node.pod_template).__name__}")
        if node.requests and node.limits:  # flytekit's rule: the resources would replace the template's pod
            raise _fail(what, "give either pod_template or requests/limits, not both")


@dataclass
class HeadNodeConfig:
    """The head node: ``ray start`` flags (``{"num-cpus": "1"}``) and its pod's resources or pod template."""

    ray_start_params: dict[str, str] | None = None
    pod_template: PodTemplate | None = None
    requests: Resources | None = None
    limits: Resources | None = None

    def __post_init__(self) -> None:
        _check_node("HeadNodeConfig", self)


@dataclass
class WorkerNodeConfig:
    """A worker group: ``replicas`` pods (between ``min_replicas`` and ``max_replicas`` when autoscaling)."""

    group_name: str
    replicas: int
    min_replicas: int | None = None
    max_replicas: int | None = None
    ray_start_params: dict[str, str] | None = None
    pod_template: PodTemplate | None = None
    requests: Resources | None = None
    limits: Resources | None = None

    def __post_init__(self) -> None:
        what = f"WorkerNodeConfig {self.group_name!r}"
        if not isinstance(self.group_name, str) or not self.group_name:
            raise _fail("WorkerNodeConfig", f"group_name must be a non-empty string, not {self.group_name!r}")
        for field in ("replicas", "min_replicas", "max_replicas"):
            value = getattr(self, field)
            if value is None and field != "replicas":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _fail(what, f"{field} must be a whole number >= 0, not {value!r}")
        _check_node(what, self)


@dataclass
class AutoscalerOptionsConfig:
    """The Ray autoscaler's options when ``enable_autoscaling=True`` (KubeRay's ``autoscalerOptions``)."""

    UpscalingMode = UpscalingMode
    upscaling_mode: int | None = None
    idle_timeout_seconds: int | None = None
    env: dict[str, str] | None = None
    image: str | None = None
    requests: Resources | None = None
    limits: Resources | None = None

    def __post_init__(self) -> None:
        if self.upscaling_mode is not None and self.upscaling_mode not in _UPSCALING_MODES:
            raise _fail("AutoscalerOptionsConfig", "upscaling_mode must be one of AutoscalerOptionsConfig."
                                                   f"UpscalingMode's values, not {self.upscaling_mode!r}")


@dataclass
class RayJobConfig:
    """flytekit's ``RayJobConfig``. ``address`` (``"ray://host:10001"``, ``"host:6379"`` or ``"auto"``) runs the
    task's Ray work on that existing cluster instead of a new one; it is not part of the cluster spec.

    ``shutdown_after_job_finishes``: on a cluster, whether KubeRay deletes the Ray cluster after the job. A local
    Ray that a task started is shut down when the task ends unless this is given as False, which keeps it for the
    next Ray task in the same process (a local workflow's later Ray tasks then start no Ray of their own)."""

    worker_node_config: list[WorkerNodeConfig]
    head_node_config: HeadNodeConfig | None = None
    enable_autoscaling: bool = False
    autoscaler_options: AutoscalerOptionsConfig | None = None
    runtime_env: dict | None = None
    address: str | None = None
    # None (not given) serializes as flytekit's default, False.
    shutdown_after_job_finishes: bool | None = None
    ttl_seconds_after_finished: int | None = None

    def __post_init__(self) -> None:
        workers = self.worker_node_config
        if not isinstance(workers, (list, tuple)) or not all(isinstance(w, WorkerNodeConfig) for w in workers):
            raise _fail("RayJobConfig", "worker_node_config must be a list of WorkerNodeConfig(group_name=, "
                                        f"replicas=), not {workers!r}")
        self.worker_node_config = list(workers)
        checks: list[tuple[str, Any, type | tuple[type, ...]]] = [
            ("head_node_config", self.head_node_config, HeadNodeConfig),
            ("autoscaler_options", self.autoscaler_options, AutoscalerOptionsConfig),
            ("runtime_env", self.runtime_env, dict), ("address", self.address, str),
            ("shutdown_after_job_finishes", self.shutdown_after_job_finishes, bool),
            ("ttl_seconds_after_finished", self.ttl_seconds_after_finished, int)]
        for name, value, expected in checks:
            if value is not None and not isinstance(value, expected):
                kind = getattr(expected, "__name__", str(expected))
                raise _fail("RayJobConfig", f"{name} must be a {kind}, not {value!r}")
        if self.address is not None and not self.address.strip():
            raise _fail("RayJobConfig", "address must name a Ray cluster (ray://host:10001, host:6379 or auto)")

    # The task class ``@task(task_config=RayJobConfig(...))`` makes (flytekit's TaskPlugins registration), by name:
    # the task module imports this one.
    __flyrun_task_class__ = "flyrun.plugins.ray.task:RayFunctionTask"


def upscaling_mode_name(mode: int) -> str:
    return _UPSCALING_MODES[mode]
