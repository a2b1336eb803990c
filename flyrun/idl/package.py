"""``flyrun package``: load a project, choose its bundle, version it, serialize every entity and write them out.

The output folder holds the bundle ``fast<digest>.tar.gz``, one protojson file per entity (``tasks/``,
``workflows/``, ``launch_plans/``, as admin ``TaskSpec`` / ``WorkflowSpec`` / ``LaunchPlanSpec``) and
``manifest.json`` listing the entities' ids in registration order. Until the bundle is uploaded its location in
the task containers' arguments is the placeholder ``{{ .remote_package_path }}``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyrun.__about__ import __version__
from flyrun.errors import UsageError
from flyrun.idl import bundle as bundles
from flyrun.idl import pods
from flyrun.idl.launch_plans import named_launch_plan_spec
from flyrun.idl.project import Project, load_project
from flyrun.idl.settings import BUNDLE_PLACEHOLDER, SerializationSettings
from flyrun.idl.tasks import runnable_task, task_image, task_spec
from flyrun.idl.version import compute_version
from flyrun.idl.workflows import launch_plan_spec, workflow_spec

_SPEC_CLASSES = {"task": ("flyteidl.admin.task_pb2", "TaskSpec"),
                 "workflow": ("flyteidl.admin.workflow_pb2", "WorkflowSpec"),
                 "launch_plan": ("flyteidl.admin.launch_plan_pb2", "LaunchPlanSpec")}
_RESOURCE_TYPES = {"task": "TASK", "workflow": "WORKFLOW", "launch_plan": "LAUNCH_PLAN"}


@dataclass
class SerializedEntity:
    kind: str  # "task" | "workflow" | "launch_plan"
    id: dict  # a protojson Identifier
    spec: dict  # a protojson TaskSpec / WorkflowSpec / LaunchPlanSpec

    @property
    def filename(self) -> str:
        # Entity names are free text for container tasks; the file name keeps only what every file system takes.
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in self.id["name"])
        return f"{self.kind}s/{safe}.json"


@dataclass
class Package:
    project: Project
    bundle: bundles.Bundle
    settings: SerializationSettings
    entities: list[SerializedEntity] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.settings.version


def build(paths: list[str], settings: SerializationSettings, copy: str = "auto", root_dir: str | None = None,
          exclude: list[Path] | None = None) -> Package:
    """Load, select the bundle, compute the version and serialize (nothing is written)."""
    project = load_project(paths, root_dir)
    bundle = bundles.select(project.root, copy, exclude or [])
    if copy == "none":
        settings = dataclasses.replace(settings, bundle_url=None)
    settings = dataclasses.replace(settings, version=settings.version or version_of(project, bundle, settings))
    return Package(project, bundle, settings, serialize(project, settings))


def version_of(project: Project, bundle: bundles.Bundle, settings: SerializationSettings) -> str:
    parts = []
    for task in project.tasks:
        pod_template = getattr(runnable_task(task), "pod_template", None)
        pod_hash = pods.version_hash(pod_template) if pod_template is not None else ""
        parts.append((task.name, task_image(task, settings), pod_hash))
    return compute_version(bundle.digest, bundle.copy, parts, settings.compat)


def serialize(project: Project, settings: SerializationSettings) -> list[SerializedEntity]:
    """Every entity in registration order (tasks, then each workflow followed by its launch plans), checked
    against flyteidl's messages."""
    entities = [_entity("task", task.name, task_spec(task, settings), settings) for task in project.tasks]
    for workflow in project.workflows:
        entities.append(_entity("workflow", workflow.name, workflow_spec(workflow, settings), settings))
        entities.append(_entity("launch_plan", workflow.name, launch_plan_spec(workflow, settings), settings))
        # A named launch plan follows its workflow, so it is registered before any workflow that calls it.
        for plan in (p for p in project.launch_plans if p.workflow is workflow):
            entities.append(_entity("launch_plan", plan.name, named_launch_plan_spec(plan, settings), settings))
    return entities


def _entity(kind: str, name: str, spec: dict, settings: SerializationSettings) -> SerializedEntity:
    validate(kind, spec, name)
    return SerializedEntity(kind, settings.identifier(_RESOURCE_TYPES[kind], name), spec)


def validate(kind: str, spec: dict, name: str) -> None:
    """Parse the spec strictly into its flyteidl message; a failure is a bug in flyrun, so it says so."""
    import importlib

    from google.protobuf import json_format

    module_name, class_name = _SPEC_CLASSES[kind]
    message_class = getattr(importlib.import_module(module_name), class_name)
    try:
        json_format.ParseDict(spec, message_class(), ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise RuntimeError(f"flyrun produced an invalid {class_name} for {name}: {exc}") from exc


def write(package: Package, output_dir: Path) -> dict:
    """Write the bundle, the entity files and the manifest; return the manifest."""
    _prepare_output_dir(output_dir)
    manifest = manifest_of(package)
    if package.bundle.copy != "none":
        archive = output_dir / package.bundle.filename
        md5 = bundles.write_archive(package.bundle, archive)
        # Hex for people, base64 for an upload's Content-MD5 (DataProxy CreateUploadLocation).
        manifest["bundle"].update(md5=md5, md5_base64=base64.b64encode(bytes.fromhex(md5)).decode(),
                                  bytes=archive.stat().st_size)
    for entity in package.entities:
        path = output_dir / entity.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entity.spec, indent=2) + "\n")
    (output_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def manifest_of(package: Package) -> dict[str, Any]:
    bundle = package.bundle
    described = None
    if bundle.copy != "none":
        described = {"file": bundle.filename, "digest": bundle.digest, "copy": bundle.copy,
                     "files": len(bundle.files), "placeholder": BUNDLE_PLACEHOLDER}
    return {
        "flyrun_version": __version__,
        "project": package.settings.project,
        "domain": package.settings.domain,
        "version": package.version,
        "root": str(package.project.root),
        "bundle": described,
        "entities": [{"kind": e.kind, "file": e.filename, "id": e.id} for e in package.entities],
    }


def _prepare_output_dir(output_dir: Path) -> None:
    """Make the folder; a previous package there is replaced, anything else there is left alone."""
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"--output-dir {output_dir} is a file, not a folder")
    output_dir.mkdir(parents=True, exist_ok=True)
    old_manifest = output_dir / "manifest.json"
    if old_manifest.is_file():
        for name in ("tasks", "workflows", "launch_plans"):
            shutil.rmtree(output_dir / name, ignore_errors=True)
        for old in output_dir.glob("fast*.tar.gz"):
            os.remove(old)
    elif any(output_dir.iterdir()):
        raise UsageError(f"--output-dir {output_dir} is not empty and holds no flyrun package",
                         hint="choose an empty or new folder")
