"""``run --remote`` and ``register``: package, upload, register, launch (flyte-protocol.md section 2).

1. Package the project (flyrun.idl.package: loader + bundle + version).
2. Upload the bundle unless the server already has it (flyrun.remote.upload).
3. Serialize again with the bundle's ``native_url`` in every task's arguments.
4. Register the tasks concurrently, then each workflow and its default launch plan; an identical entity that
   exists counts as success, a different one under the same version is an error.
5. Create the execution with the inputs as a ``LiteralMap``.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyrun.errors import AlreadyExistsError
from flyrun.idl import bundle as bundles
from flyrun.idl import package as packaging
from flyrun.remote.client import AdminClient, EntityId, ExecutionId
from flyrun.remote.session import admin_base_url
from flyrun.remote.upload import ProgressWrapper, upload_file

Notify = Callable[[str], None]


@dataclass
class LaunchOptions:
    """The per-execution settings of ``flyrun run --remote``, with pyflyte's option names."""

    execution_name: str | None = None
    service_account: str | None = None
    raw_output_data_prefix: str | None = None
    envvars: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    overwrite_cache: bool = False
    max_parallelism: int | None = None


@dataclass
class Registration:
    version: str
    bundle_url: str | None
    bundle_uploaded: bool
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    entities: list[Any] = field(default_factory=list)  # flyrun.idl.package.SerializedEntity
    activated: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "bundle": self.bundle_url, "bundle_uploaded": self.bundle_uploaded,
                "created": self.created, "existing": self.existing, "activated": self.activated}


def entity_id(identifier: dict[str, str]) -> EntityId:
    return EntityId(identifier["resource_type"], identifier["project"], identifier["domain"], identifier["name"],
                    identifier["version"])


def register_package(client: AdminClient, transport: Any, package: Any, notify: Notify,
                     progress: ProgressWrapper | None = None, activate: bool = False) -> Registration:
    """Upload the bundle of a built ``flyrun.idl.package.Package`` and register its entities; named launch plans
    with ``auto_activate=True`` (all of them with ``activate``) are then activated."""
    settings = package.settings
    bundle_url, uploaded = None, False
    if package.bundle.copy != "none":
        with tempfile.TemporaryDirectory(prefix="flyrun-bundle-") as folder:
            archive = Path(folder) / package.bundle.filename
            bundles.write_archive(package.bundle, archive)
            result = upload_file(client, transport, archive, settings.project, settings.domain, progress=progress)
        bundle_url, uploaded = result.native_url, result.transferred
        notify(f"Code bundle {package.bundle.filename}: {'uploaded' if uploaded else 'already on the server'}")
    final = dataclasses.replace(settings, bundle_url=bundle_url)
    entities = packaging.serialize(package.project, final)
    registration = Registration(final.version, bundle_url, uploaded, entities=entities)
    _register_all(client, entities, registration)
    for plan in getattr(package.project, "launch_plans", ()):
        if plan.auto_activate or activate:
            ident = EntityId("LAUNCH_PLAN", final.project, final.domain, plan.name, final.version)
            client.update_launch_plan_state(ident, "ACTIVE")
            registration.activated.append(str(ident))
    return registration


def _register_all(client: AdminClient, entities: list[Any], registration: Registration) -> None:
    def register(entity: Any) -> None:
        ident = entity_id(entity.id)
        created = client.create_entity(ident, entity.spec)
        (registration.created if created else registration.existing).append(str(ident))

    tasks = [e for e in entities if e.kind == "task"]
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="flyrun-register") as pool:
        list(pool.map(register, tasks))  # list() re-raises the first failure
    for entity in entities:
        if entity.kind != "task":
            register(entity)


def launch_id_for(entity: Any, project: str, domain: str, version: str) -> EntityId:
    """Workflows run through their default launch plan, launch plans as themselves, tasks directly (as pyflyte
    does)."""
    if entity.kind == "reference":  # the registered entity itself, by its own id
        ref = entity.id
        kind = "TASK" if ref["resource_type"] == "TASK" else "LAUNCH_PLAN"  # a workflow by its default plan
        return EntityId(kind, ref["project"], ref["domain"], ref["name"], ref["version"])
    kind = "LAUNCH_PLAN" if entity.kind in ("workflow", "launch_plan") else "TASK"
    if getattr(entity, "is_eager", False):  # flytekit runs an eager task as its workflow (cleanup on failure)
        kind = "LAUNCH_PLAN"
    return EntityId(kind, project, domain, entity.name, version)


def execution_spec(launch: EntityId, options: LaunchOptions) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "launch_plan": launch.as_dict(),
        "metadata": {"mode": "MANUAL", "principal": "flyrun", "nesting": 0},
        "labels": {"values": dict(options.labels)},
        "annotations": {"values": dict(options.annotations)},
        "overwrite_cache": options.overwrite_cache,
        "envs": {"values": [{"key": k, "value": v} for k, v in options.envvars.items()]},
    }
    if options.tags:
        spec["tags"] = list(options.tags)
    if options.service_account:
        spec["security_context"] = {"run_as": {"k8s_service_account": options.service_account}}
    if options.raw_output_data_prefix:
        spec["raw_output_data_config"] = {"output_location_prefix": options.raw_output_data_prefix}
    if options.max_parallelism is not None:
        spec["max_parallelism"] = options.max_parallelism
    return spec


def launch(client: AdminClient, launch: EntityId, inputs: dict[str, Any], options: LaunchOptions,
           notify: Notify = lambda _text: None) -> ExecutionId:
    """Create the execution; a name that already exists is taken to be the same execution (as pyflyte does),
    with a notice through ``notify``."""
    try:
        return client.create_execution(launch.project, launch.domain, options.execution_name,
                                       execution_spec(launch, options), inputs)
    except AlreadyExistsError:
        if not options.execution_name:
            raise
        notify(f"Warning: execution {options.execution_name} already exists; assuming it is the same execution "
               "(its inputs are not compared)")
        return ExecutionId(launch.project, launch.domain, options.execution_name)


def console_url(config: Any, execution: ExecutionId) -> str:
    """``console.endpoint``, else the admin endpoint, then FlyteConsole's execution path."""
    base = (config.get("console.endpoint") or admin_base_url(config)).rstrip("/")
    if "://" not in base:
        base = ("http" if config.get("admin.insecure") else "https") + "://" + base
    return f"{base}/console/projects/{execution.project}/domains/{execution.domain}/executions/{execution.name}"
