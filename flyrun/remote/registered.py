"""Entities known only from the server: find one by name, and describe its inputs from its launch plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyrun.errors import NotFoundError, UsageError
from flyrun.idl.interface import python_type_for
from flyrun.remote.client import AdminClient, EntityId
from flyrun.remote.follow import natural_order
from flyrun.sdk.interface import Interface
from flyrun.types import engine


@dataclass
class RegisteredEntity:
    """Quacks like a local task or workflow for ``flyrun run``'s input options: name, kind, interface."""

    launch_id: EntityId
    kind: str
    name: str
    interface: Interface

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def signature(self) -> str:
        parts = []
        for name, python_type in self.interface.inputs.items():
            text = f"{name}: {engine.describe(python_type)}"
            if name in self.interface.defaults:
                # The JSON form: the default's Python class (a dataclass, an enum) lives in code flyrun lacks.
                text += f" = {engine.to_json(self.interface.defaults[name], python_type)!r}"
            parts.append(text)
        outputs = ", ".join(f"{n}: {engine.describe(t)}" for n, t in self.interface.outputs.items())
        return f"{self.short_name}({', '.join(parts)})" + (f" -> {outputs}" if outputs else "")


def find_registered(client: AdminClient, name: str, project: str, domain: str,
                    version: str | None = None) -> RegisteredEntity:
    """A launch plan (a workflow) or else a task called ``name`` (full ``module.function`` or just ``function``),
    at ``version`` or the latest one."""
    for resource_type in ("LAUNCH_PLAN", "TASK"):
        full_name = _full_name(client, resource_type, name, project, domain)
        if full_name is None:
            continue
        chosen = version or client.latest_version(resource_type, project, domain, full_name)
        if chosen is None:
            continue
        ident = EntityId(resource_type, project, domain, full_name, chosen)
        try:
            entity = client.get_entity(ident)
        except NotFoundError:
            continue  # not at this version; a task of that name may be
        if resource_type == "LAUNCH_PLAN":
            return RegisteredEntity(ident, "workflow", full_name, _launch_plan_interface(client, entity))
        return RegisteredEntity(ident, "task", full_name, _task_interface(entity))
    at = f" at version {version}" if version else ""
    raise NotFoundError(f"no workflow or task named '{name}'{at} in the Python files here or on the server "
                        f"({project}/{domain})", hint="give the file: flyrun run --remote FILE ENTITY")


def _full_name(client: AdminClient, resource_type: str, name: str, project: str, domain: str) -> str | None:
    if "." in name:
        return name
    names = {entity["id"]["name"] for entity in client.list_entities(resource_type, project, domain)}
    matches = sorted(n for n in names if n.rsplit(".", 1)[-1] == name)
    if len(matches) > 1:
        raise UsageError(f"'{name}' is ambiguous on the server: {', '.join(matches)}",
                         hint="give the full name, e.g. flyrun run --remote " + matches[0])
    return matches[0] if matches else None


def _launch_plan_interface(client: AdminClient, launch_plan: dict[str, Any]) -> Interface:
    interface = Interface()
    parameters = launch_plan.get("spec", {}).get("default_inputs", {}).get("parameters", {})
    for input_name, parameter in parameters.items():
        python_type = python_type_for(parameter["var"]["type"])
        interface.inputs[input_name] = python_type
        if "default" in parameter and not parameter.get("required"):
            interface.defaults[input_name] = engine.to_python(parameter["default"], python_type)
    outputs = launch_plan.get("closure", {}).get("expected_outputs", {}).get("variables", {})
    interface.outputs = _in_order({n: python_type_for(v["type"]) for n, v in outputs.items()})
    return interface


def _in_order(types: dict[str, Any]) -> dict[str, Any]:
    """A variable map has no order on the wire (a protobuf map): ``o0, o1, ..., o10`` as people expect."""
    return {name: types[name] for name in sorted(types, key=natural_order)}


def _task_interface(task: dict[str, Any]) -> Interface:
    typed = task.get("closure", {}).get("compiled_task", {}).get("template", {}).get("interface", {})
    inputs = typed.get("inputs", {}).get("variables", {})
    outputs = typed.get("outputs", {}).get("variables", {})
    return Interface(inputs={n: python_type_for(v["type"]) for n, v in inputs.items()},
                     outputs=_in_order({n: python_type_for(v["type"]) for n, v in outputs.items()}))


def find_launch_plan(client: AdminClient, name: str, project: str, domain: str,
                     version: str | None = None) -> tuple[str, str]:
    """(full name, version) of the launch plan ``name`` (full or short), at ``version`` or the latest one."""
    full_name = _full_name(client, "LAUNCH_PLAN", name, project, domain)
    chosen = version or (client.latest_version("LAUNCH_PLAN", project, domain, full_name) if full_name else None)
    if full_name is None or chosen is None:
        raise NotFoundError(f"no launch plan named '{name}' in {project}/{domain}",
                            hint="register it first: flyrun register FILE; see flyrun launchplan list")
    return full_name, chosen
