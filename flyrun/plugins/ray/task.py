"""``RayFunctionTask``: a python task whose body runs with a Ray driver connected, serialized as the ``ray`` type.

Serialized as flytekitplugins-ray writes it: ``type: "ray"`` and ``custom`` the ``flyteidl.plugins.RayJob``
message as protojson (camelCase, as flytekit's ``MessageToDict``), the runtime env both as base64 of its JSON
(``runtimeEnv``, for KubeRay < 1.1) and as YAML (``runtimeEnvYaml``); the container is the ordinary flyrun-execute
one, which KubeRay runs as the job's submitter.

When it runs (locally, on the sandbox, or in that submitter pod) the body runs between ``ray.init`` and
``ray.shutdown``: with ``address=`` the driver joins that cluster, else Ray starts on this machine with the head
node's resources (``num-cpus``, ``num-gpus``, ``object-store-memory``, ``resources`` from ``ray_start_params``,
else the head's cpu/gpu limits or requests).
"""

from __future__ import annotations

import base64
import json
import math
import os
import sys
from typing import Any

from flyrun.errors import TaskExecutionError, UsageError
from flyrun.idl import pods
from flyrun.idl.tasks import resources
from flyrun.plugins.ray.config import RayJobConfig, upscaling_mode_name
from flyrun.sdk.context import current_context
from flyrun.sdk.resources import Resources
from flyrun.sdk.task import PythonFunctionTask

INSTALL = "pip install 'flyrun[ray]'"
_HEAD_CONTAINER = "ray-head"
_WORKER_CONTAINER = "ray-worker"
_K8S_RESOURCES = {"cpu": "cpu", "mem": "memory", "gpu": "nvidia.com/gpu", "ephemeral_storage": "ephemeral-storage"}
# How long a cluster's address may take to accept a connection before the task fails.
_CONNECT_SECONDS = 10.0
# What flytekit leaves out of the code it ships as the job's working_dir.
_WORKING_DIR_EXCLUDES = ["script_mode.tar.gz", "fast*.tar.gz", ".python_history"]


class RayFunctionTask(PythonFunctionTask):
    task_type = "ray"

    def __init__(self, fn: Any, **options: Any) -> None:
        super().__init__(fn, **options)

        if not isinstance(self.task_config, RayJobConfig):
            raise UsageError(f"task {self.name}: a Ray task needs task_config=RayJobConfig(...)")

    def custom(self, settings: Any = None) -> dict[str, Any]:
        """The ``RayJob`` custom spec, field for field as flytekitplugins-ray 1.16 writes it."""
        return ray_job_custom(self.task_config)

    def call_function(self, inputs: dict[str, Any]) -> dict[str, Any]:
        ray = import_ray(self.name)
        started = _connect(ray, self)
        try:
            return super().call_function(inputs)
        finally:
            # A driver that joined a cluster only disconnects; a Ray this task started stops with it unless the
            # config keeps it for the next Ray task of this process (never inside flyrun-execute, which ends
            # with os._exit, so nothing would stop it).
            config = self.task_config
            keep = config.shutdown_after_job_finishes is False and not config.address and not _in_task_container()
            if started is not None and not keep:
                ray.shutdown()

    def __repr__(self) -> str:
        return f"<ray task {self.name}>"


def import_ray(task_name: str) -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(f"Ray task '{task_name}' needs ray, which is not installed: {INSTALL}") from None
    return ray


def _in_task_container() -> bool:
    return bool(current_context().output_prefix)


def _connect(ray: Any, task: RayFunctionTask) -> Any:
    """``ray.init`` for this task; the init's context if this call connected, None if Ray was already up."""
    if ray.is_initialized():
        return None
    config = task.task_config
    # flyrun does not report usage to Ray's servers unless the user asked for it.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    options: dict[str, Any] = {"runtime_env": _runtime_env(config, task)}
    if config.address:
        _check_reachable(task, config.address)
        options["address"] = config.address
    else:
        options.update(_local_resources(config))
        options["address"] = "local"  # a RAY_ADDRESS in the environment must not turn this into a join
    try:
        return ray.init(**options)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
        where = f"the Ray cluster at {config.address}" if config.address else "a local Ray"
        error = RuntimeError(f"could not start or join {where}: {type(exc).__name__}: {exc}")
        raise TaskExecutionError(task.name, error) from exc


def _check_reachable(task: RayFunctionTask, address: str) -> None:
    """Fail fast when nothing listens at a ``host:port`` address: ``ray.init`` itself retries for minutes."""
    import socket

    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_SECONDS):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TaskExecutionError(task.name, ConnectionError(
            f"no Ray cluster answers at {address} ({reason}); start it, or fix RayJobConfig(address=...)")) from None


def _runtime_env(config: Any, task: RayFunctionTask) -> dict[str, Any]:
    """The config's runtime env, plus what lets Ray's workers import the task's module: its project root on
    PYTHONPATH (the same machine), or, in a task container joining a cluster elsewhere, that root shipped as the
    job's working_dir (as flytekit does)."""
    env = json.loads(json.dumps(config.runtime_env or {}))
    root = _project_root(task)
    if root is None or "working_dir" in env or "py_modules" in env:
        return env
    if config.address and _in_task_container():
        env["working_dir"] = root
        env["excludes"] = list(env.get("excludes", [])) + _WORKING_DIR_EXCLUDES
        return env
    variables = env.setdefault("env_vars", {})
    variables["PYTHONPATH"] = os.pathsep.join(filter(None, [root, variables.get("PYTHONPATH")]))
    return env


def _project_root(task: RayFunctionTask) -> str | None:
    """The folder the task's module was imported from (the project root, or the unpacked bundle)."""
    module = sys.modules.get(task.module)
    path = getattr(module, "__file__", None)
    if not path or task.module == "__main__":
        return None
    root = os.path.dirname(os.path.abspath(path))
    for _ in range(task.module.count(".") + (1 if path.endswith("__init__.py") else 0)):
        root = os.path.dirname(root)
    return root


def _local_resources(config: Any) -> dict[str, Any]:
    """``ray.init`` options for a Ray started here, from the head node's ``ray start`` flags and resources."""
    head = config.head_node_config
    params = dict(head.ray_start_params or {}) if head else {}
    options: dict[str, Any] = {"include_dashboard": params.get("include-dashboard", "false").lower() == "true"}
    sized = head.limits or head.requests if head else None
    if "num-cpus" in params:
        options["num_cpus"] = int(params["num-cpus"])
    elif sized is not None and sized.cpu is not None:
        options["num_cpus"] = _whole_cpus(sized.cpu)
    if "num-gpus" in params:
        options["num_gpus"] = int(params["num-gpus"])
    elif sized is not None and sized.gpu is not None:
        options["num_gpus"] = int(sized.gpu)
    if "object-store-memory" in params:
        options["object_store_memory"] = int(params["object-store-memory"])
    if "resources" in params:
        options["resources"] = json.loads(params["resources"])
    return options


def _whole_cpus(cpu: Any) -> int:
    text = str(cpu)
    amount = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    return max(1, math.ceil(amount))


def ray_job_custom(config: Any) -> dict[str, Any]:
    """``flyteidl.plugins.RayJob`` as the protojson dict flytekit's ``MessageToDict`` makes: camelCase names, and
    fields at their zero value left out."""
    cluster: dict[str, Any] = {}
    head = config.head_node_config
    if head is not None:
        spec: dict[str, Any] = {}
        if head.ray_start_params:
            spec["rayStartParams"] = dict(head.ray_start_params)
        pod = _k8s_pod(head, _HEAD_CONTAINER)
        if pod:
            spec["k8sPod"] = pod
        cluster["headGroupSpec"] = spec
    groups = []
    for worker in config.worker_node_config:
        group: dict[str, Any] = {"groupName": worker.group_name}
        # flytekit's WorkerGroupSpec: the bounds never exclude the replicas asked for.
        bounds = {"replicas": worker.replicas,
                  "minReplicas": worker.replicas if worker.min_replicas is None else
                  min(worker.replicas, worker.min_replicas),
                  "maxReplicas": worker.replicas if worker.max_replicas is None else
                  max(worker.replicas, worker.max_replicas)}
        group.update({key: value for key, value in bounds.items() if value})
        if worker.ray_start_params:
            group["rayStartParams"] = dict(worker.ray_start_params)
        pod = _k8s_pod(worker, _WORKER_CONTAINER)
        if pod:
            group["k8sPod"] = pod
        groups.append(group)
    if groups:
        cluster["workerGroupSpec"] = groups
    if config.enable_autoscaling:
        cluster["enableAutoscaling"] = True
    if config.autoscaler_options is not None:
        cluster["autoscalerOptions"] = _autoscaler(config.autoscaler_options)
    job: dict[str, Any] = {"rayCluster": cluster}
    if config.runtime_env:
        import yaml

        job["runtimeEnv"] = base64.b64encode(json.dumps(config.runtime_env).encode()).decode()
        job["runtimeEnvYaml"] = yaml.dump(config.runtime_env)
    if config.shutdown_after_job_finishes:
        job["shutdownAfterJobFinishes"] = True
    if config.ttl_seconds_after_finished:
        job["ttlSecondsAfterFinished"] = config.ttl_seconds_after_finished
    return job


def _k8s_pod(node: Any, container_name: str) -> dict[str, Any] | None:
    """``K8sPod`` as flytekit builds it: a pod of one container with the node's resources, or its pod template."""

    if node.requests or node.limits:
        requests = _k8s_quantities(node.requests) or _k8s_quantities(node.limits)
        limits = _k8s_quantities(node.limits) or requests
        spec = {"containers": [{"name": container_name, "resources": {"requests": requests, "limits": limits}}]}
        return {"primaryContainerName": "primary", "podSpec": spec, "metadata": {}}
    template = node.pod_template
    if template is None:
        return None
    metadata = {key: value for key, value in (("labels", template.labels), ("annotations", template.annotations))
                if value}
    return {"primaryContainerName": pods.primary_container_name(template), "podSpec": pods.pod_spec_json(template),
            "metadata": metadata}


def _k8s_quantities(resources: Resources | None) -> dict[str, Any]:
    if resources is None:
        return {}
    return {_K8S_RESOURCES[name]: getattr(resources, name) for name in _K8S_RESOURCES
            if getattr(resources, name) is not None}


def _autoscaler(options: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if options.upscaling_mode:
        spec["upscalingMode"] = upscaling_mode_name(options.upscaling_mode)
    if options.idle_timeout_seconds:
        spec["idleTimeoutSeconds"] = options.idle_timeout_seconds
    if options.env:
        spec["env"] = [{"key": key, "value": value} for key, value in options.env.items()]
    if options.image:
        spec["image"] = options.image
    if options.requests or options.limits:
        spec["resources"] = {kind: entries for kind, entries in resources(options.requests, options.limits).items()
                             if entries}
    return spec
