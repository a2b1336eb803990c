"""A dynamic task's graph as a ``flyteidl.core.DynamicJobSpec`` (``futures.pb``), as flytekit writes it.

Nodes are ``dn0, dn1...``; bindings to the dynamic task's own inputs are literals (the body saw real values);
``tasks`` holds every task the nodes run, also those only run inside the subworkflows; every id carries the
running task's project, domain and version, so the engine finds them all without asking admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flyrun.compat import active
from flyrun.idl.project import collect
from flyrun.idl.settings import SerializationSettings
from flyrun.idl.tasks import IMAGES_VARIABLE, task_spec
from flyrun.idl.workflows import _binding_data, node_dict, workflow_template

_BY_ID = ("launch_plan", "reference")  # run by id from admin: nothing of theirs goes into the spec


def settings_from_environment(environ: Mapping[str, str], bundle_url: str | None, dest_dir: str) -> \
        SerializationSettings:
    """The running task's own project, domain and version (propeller's FLYTE_INTERNAL_TASK_*), images and bundle."""
    import json

    images: dict[str, str] = {}
    if environ.get(IMAGES_VARIABLE):
        images = {str(k): str(v) for k, v in json.loads(environ[IMAGES_VARIABLE]).items()}

    return SerializationSettings(project=environ.get("FLYTE_INTERNAL_TASK_PROJECT", ""),
                                 domain=environ.get("FLYTE_INTERNAL_TASK_DOMAIN", ""),
                                 version=environ.get("FLYTE_INTERNAL_TASK_VERSION", ""),
                                 images=images, bundle_url=bundle_url or None, dest_dir=dest_dir,
                                 compat=active())


def dynamic_job_spec(task: Any, built: Any, settings: SerializationSettings) -> dict:
    """The DynamicJobSpec of ``built`` (what ``task.build(inputs)`` made) as a dict."""
    owner = f"dynamic task {task.name}"
    nodes = [node_dict(node, settings, owner) for node in built.ordered_nodes]
    outputs = [{"var": name, "binding": _binding_data(binding, task.interface.outputs[name], owner,
                                                      f"output '{name}'")}
               for name, binding in built.output_bindings.items()]
    run_here = [node.entity for node in built.nodes if getattr(node.entity, "kind", "") not in _BY_ID]
    tasks, workflows = collect(run_here)
    return {
        "nodes": nodes,
        "min_successes": len(nodes),
        "outputs": outputs,
        "tasks": [task_spec(t, settings)["template"] for t in tasks],
        "subworkflows": [workflow_template(w, settings) for w in workflows],
    }


def dynamic_job_spec_bytes(task: Any, built: Any, settings: SerializationSettings) -> bytes:
    from flyteidl.core import dynamic_job_pb2
    from google.protobuf import json_format

    message = json_format.ParseDict(dynamic_job_spec(task, built, settings), dynamic_job_pb2.DynamicJobSpec())
    return message.SerializeToString()
