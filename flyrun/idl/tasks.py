"""Tasks as ``TaskTemplate`` dicts: metadata, interface, and a container (or a pod) that runs flyrun's entrypoint.

The container arguments are the contract with ``flyrun-execute`` (see ``flyrun.idl.entrypoint``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flyrun.__about__ import __version__
from flyrun.idl import pods
from flyrun.idl.interface import typed_interface
from flyrun.idl.resolver import map_loader_args
from flyrun.idl.settings import DEFAULT_RESOLVER, MAP_RESOLVER, SerializationSettings
from flyrun.sdk.docs import description
from flyrun.types.scalars import format_duration

_RESOURCE_NAMES = {"cpu": "CPU", "memory": "MEMORY", "gpu": "GPU", "ephemeral_storage": "EPHEMERAL_STORAGE"}


def task_spec(task: Any, settings: SerializationSettings) -> dict:
    """An admin ``TaskSpec``: ``{"template": TaskTemplate}`` for a python task, a map task or a raw container."""
    if is_map_task(task):
        return {"template": map_task_template(task, settings)}
    if is_container_task(task):
        return {"template": container_task_template(task, settings)}
    spec = {"template": task_template(task, settings)}
    if callable(getattr(task, "fn", None)):  # a function's task: its docs and docstring, as flytekit registers them
        spec["description"] = description(getattr(task, "docs", None), task.fn)
    return spec


def is_map_task(task: Any) -> bool:
    return hasattr(task, "mapped_inputs") and hasattr(task, "bound_inputs")


def is_container_task(task: Any) -> bool:
    return getattr(task, "task_type", "") == "raw-container"


def runnable_task(task: Any) -> Any:
    """The task whose image, resources and pod run: a map task's own task, else the task itself."""
    return task.task if is_map_task(task) else task


def task_image(task: Any, settings: SerializationSettings) -> str:
    target = runnable_task(task)
    return settings.image_for(target.image if is_container_task(target) else target.container_image)


def map_task_template(map_task: Any, settings: SerializationSettings) -> dict:
    """flytekit's ArrayNode map task: the mapped task's container under the map task's name and list interface,
    run one item at a time by the ``flyrun.map`` resolver."""
    inner = map_task.task
    interface = map_task.interface
    template = task_template(inner, settings, resolver=MAP_RESOLVER,
                             loader_args=map_loader_args(map_task.bound_inputs, default_loader_args(inner)),
                             interface=typed_interface(interface.inputs, interface.outputs,
                                                       f"map task {map_task.name}"))
    template["id"] = settings.identifier("TASK", map_task.name)
    template["task_type_version"] = 1
    return template


def container_task_template(task: Any, settings: SerializationSettings) -> dict:
    """A raw container: the user's image and command; inputs and outputs travel as files (``data_config``)."""
    template = {
        "id": settings.identifier("TASK", task.name),
        "type": task.task_type,
        "metadata": task_metadata(task),
        "interface": typed_interface(task.interface.inputs, task.interface.outputs, f"task {task.name}"),
    }
    data_config = {"enabled": True, "input_path": task.input_data_dir or "",
                   "output_path": task.output_data_dir or "", "format": task.metadata_format}
    container = {
        "image": task_image(task, settings),
        "command": list(task.command),
        "args": list(task.arguments),
        "resources": resources(task.requests, task.limits),
        "env": key_values({**settings.env, **task.environment}),
        "data_config": data_config,
    }
    place_container(template, task.pod_template, container, settings)
    return template


def task_template(task: Any, settings: SerializationSettings, *, resolver: str = DEFAULT_RESOLVER,
                  loader_args: list[str] | None = None, interface: dict | None = None) -> dict:
    """A python task's template; map tasks pass their own resolver, loader arguments and list interface."""
    owner = f"task {task.name}"
    template = {
        "id": settings.identifier("TASK", task.name),
        "type": task.task_type,
        "metadata": task_metadata(task),
        "interface": interface or typed_interface(task.interface.inputs, task.interface.outputs, owner,
                                                  getattr(task, "fn", None)),
    }
    args = entrypoint_args(settings, resolver, loader_args or default_loader_args(task))
    env = {**settings.env, **task.environment}
    if getattr(task, "is_dynamic", False) or getattr(task, "is_eager", False):
        # What flytekit carries in _F_SS_C: the images at registration, for the tasks the body generates (a
        # dynamic) or registers before launching them (an eager body's calls).
        env.update(images_variable(settings.image_for(None), settings.images))
    container = {
        "image": task_image(task, settings),
        "command": [],
        "args": args,
        "resources": resources(task.requests, task.limits),
        "env": key_values(env),
    }
    place_container(template, task.pod_template, container, settings)
    custom = getattr(task, "custom", None)
    if callable(custom):  # a plugin's task type (ray): the spec its backend plugin reads
        template["custom"] = custom(settings)
    secrets = getattr(task, "secret_requests", None)
    if secrets:
        template["security_context"] = {"secrets": [secret.to_wire() for secret in secrets]}
    return template


def place_container(template: dict, pod_template: Any, container: dict, settings: SerializationSettings) -> None:
    """A plain ``container``, or, with a pod template, a ``k8s_pod`` whose primary container is this one."""
    if pod_template is None:
        template["container"] = container
        return
    primary = pods.primary_container_name(pod_template)
    template["k8s_pod"] = pods.k8s_pod(pod_template, container, settings)
    template["config"] = {"primary_container_name": primary}


def task_metadata(task: Any) -> dict:
    meta = task.metadata
    metadata: dict[str, Any] = {
        "discoverable": bool(meta.cache),
        "runtime": {"type": "FLYTE_SDK", "version": __version__, "flavor": "python"},
        "retries": {"retries": meta.retries},
    }
    if meta.cache:
        metadata["discovery_version"] = meta.cache_version
    if meta.timeout is not None:
        metadata["timeout"] = format_duration(meta.timeout)
    if meta.interruptible is not None:
        metadata["interruptible"] = meta.interruptible
    if getattr(task, "pod_template_name", None):
        metadata["pod_template_name"] = task.pod_template_name
    if getattr(meta, "deprecated", ""):
        metadata["deprecated_error_message"] = meta.deprecated
    if getattr(meta, "cache_serialize", False):
        metadata["cache_serializable"] = True
    if meta.cache and getattr(meta, "cache_ignore_input_vars", ()):
        metadata["cache_ignore_input_vars"] = list(meta.cache_ignore_input_vars)
    if getattr(task, "is_eager", False):  # flytekit 1.16: the deck lists the child executions the body launched
        metadata["is_eager"] = True
        metadata["generates_deck"] = True
    if getattr(task, "enable_deck", False):  # propeller then records <output prefix>/deck.html as the deck
        metadata["generates_deck"] = True
    return metadata


def default_loader_args(task: Any) -> list[str]:
    return ["task-module", task.module, "task-name", task.attribute]


def entrypoint_args(settings: SerializationSettings, resolver: str, loader_args: list[str]) -> list[str]:
    """``flyrun-execute`` with propeller's templated paths, the bundle, the resolver and its loader arguments."""
    args = ["flyrun-execute", "--inputs", "{{.input}}", "--output-prefix", "{{.outputPrefix}}",
            "--raw-output-data-prefix", "{{.rawOutputDataPrefix}}",
            "--checkpoint-path", "{{.checkpointOutputPrefix}}", "--prev-checkpoint", "{{.prevCheckpointPrefix}}"]
    if settings.bundle_url:
        args += ["--bundle", settings.bundle_url, "--dest-dir", settings.dest_dir]
    if settings.compat:
        args += ["--compat", settings.compat]
    return args + ["--resolver", resolver, "--", *loader_args]


def resources(requests: Any, limits: Any) -> dict:
    """``Resources`` with Flyte's resource names (CPU, MEMORY, GPU, EPHEMERAL_STORAGE)."""
    def entries(spec: Any) -> list[dict]:
        return [{"name": _RESOURCE_NAMES[name], "value": value} for name, value in (spec.items() if spec else [])]

    return {"requests": entries(requests), "limits": entries(limits)}


def key_values(mapping: dict[str, str]) -> list[dict]:
    return [{"key": key, "value": str(value)} for key, value in mapping.items()]


# The images of a dynamic task's registration, for the tasks its body generates (read back by idl/dynamic.py).
IMAGES_VARIABLE = "FLYRUN_DYNAMIC_IMAGES"


def images_variable(default_image: str, images: Mapping[str, str]) -> dict[str, str]:
    """The container env of a dynamic task: the registration's images, so the tasks its body generates run in
    the images they were registered with."""
    import json

    return {IMAGES_VARIABLE: json.dumps({**images, "default": default_image}, sort_keys=True)}
