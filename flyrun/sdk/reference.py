"""Reference entities: tasks, workflows and launch plans already registered on a cluster, called by their id.

``@reference_task(project=, domain=, name=, version=)`` over a function signature gives a task whose interface is
the signature and whose body is never run. In a workflow it is a node pointing at the registered id (the entity
itself is never registered again); a cluster runs the registered entity. Locally it cannot run: it fails with a
message naming it, unless a test replaced it (``flyrun.testing.task_mock(ref)``, or, as flytekit allows, by
assigning ``ref.execute``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from flyrun.errors import UsageError, WorkflowDefinitionError
from flyrun.sdk.entity import ModuleLevelEntity
from flyrun.sdk.graph import user_call_site
from flyrun.sdk.interface import Interface, interface_from_function
from flyrun.types import engine

_LABELS = {"TASK": "task", "WORKFLOW": "workflow", "LAUNCH_PLAN": "launch plan"}


class ReferenceEntity(ModuleLevelEntity):
    """An entity known by ``project/domain/name/version`` and an interface; it has no body here."""

    attribute_fallback = "short_name"

    kind = "reference"
    resource_type = "TASK"

    def __init__(self, project: str, domain: str, name: str, version: str, inputs: dict[str, Any] | None = None,
                 outputs: dict[str, Any] | None = None, *, interface: Interface | None = None,
                 call_site: str | None = None, module: str | None = None) -> None:
        self.call_site = call_site or user_call_site()
        label = f"reference_{_LABELS[self.resource_type].replace(' ', '_')}"
        where = f"{self.call_site}: {label} '{name or ''}'"
        for field, value in (("project", project), ("domain", domain), ("name", name), ("version", version)):
            if not isinstance(value, str) or not value:
                raise WorkflowDefinitionError(
                    f"{where}: {field} is missing", hint=f"give the {field} the {_LABELS[self.resource_type]} was "
                    f"registered with, e.g. {label}(project=..., domain=..., name=..., version=...)")
        self.project, self.domain, self.name, self.version = project, domain, name, version
        if interface is None:
            interface = Interface(inputs=dict(inputs or {}), outputs=dict(outputs or {}))
        for what, types in (("input", interface.inputs), ("output", interface.outputs)):
            for var, python_type in types.items():
                try:
                    engine.literal_type(python_type)
                except engine.TypeMismatch as exc:
                    raise WorkflowDefinitionError(f"{where}: {what} '{var}': {exc}") from None
        self.interface = interface
        self._module = module or sys._getframe(1).f_globals.get("__name__", "__main__")

    @property
    def id(self) -> dict[str, str]:
        """The registered entity's protojson ``Identifier``: what nodes point at."""
        return {"resource_type": self.resource_type, "project": self.project, "domain": self.domain,
                "name": self.name, "version": self.version}

    @property
    def reference(self) -> ReferenceEntity:
        """flytekit's ``entity.reference`` (there, a separate id object; here the entity holds its id)."""
        return self


    def describe(self) -> str:
        return (f"reference {_LABELS[self.resource_type]} '{self.name}' ({self.project}/{self.domain}, version "
                f"{self.version})")

    def execute(self, **inputs: Any) -> Any:
        """What a local call runs: nothing can, the body is on the cluster. Tests replace this (flytekit's way)."""
        raise UsageError(f"{self.describe()} cannot run locally: its code is only on the cluster",
                         hint=f"run with --remote, or mock it in a test: `with flyrun.testing.task_mock("
                              f"{self.attribute}) as m: m.return_value = ...`")

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        result = self.execute(**inputs)
        outputs = self.interface.result_as_outputs(result, f"the stand-in for {self.describe()}")
        try:
            return {name: engine.roundtrip(outputs[name], t) for name, t in self.interface.outputs.items()}
        except engine.TypeMismatch as exc:
            raise UsageError(f"the stand-in for {self.describe()} returned a wrong value: {exc}") from None

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


class ReferenceTask(ReferenceEntity):
    resource_type = "TASK"


class ReferenceWorkflow(ReferenceEntity):
    resource_type = "WORKFLOW"


class ReferenceLaunchPlan(ReferenceEntity):
    resource_type = "LAUNCH_PLAN"


def _decorator(cls: type[ReferenceEntity], project: str, domain: str, name: str,
               version: str) -> Callable[[Callable[..., Any]], ReferenceEntity]:
    call_site = user_call_site()

    def wrap(fn: Callable[..., Any]) -> ReferenceEntity:
        label = f"reference_{_LABELS[cls.resource_type].replace(' ', '_')}"
        interface = interface_from_function(fn, f"{call_site}: {label} '{name}'")
        entity = cls(project, domain, name, version, interface=interface, call_site=call_site,
                     module=fn.__module__)
        entity.__doc__ = fn.__doc__
        return entity

    return wrap


def reference_task(project: str, domain: str, name: str,
                   version: str) -> Callable[[Callable[..., Any]], ReferenceTask]:
    """A registered task, its interface given by the decorated function's signature (the body is ignored)."""
    return _decorator(ReferenceTask, project, domain, name, version)  # type: ignore[return-value]


def reference_workflow(project: str, domain: str, name: str,
                       version: str) -> Callable[[Callable[..., Any]], ReferenceWorkflow]:
    """A registered workflow, run as a sub-workflow; its interface is the decorated function's signature."""
    return _decorator(ReferenceWorkflow, project, domain, name, version)  # type: ignore[return-value]


def reference_launch_plan(project: str, domain: str, name: str,
                          version: str) -> Callable[[Callable[..., Any]], ReferenceLaunchPlan]:
    """A registered launch plan, run as a child execution; its interface is the decorated function's signature."""
    return _decorator(ReferenceLaunchPlan, project, domain, name, version)  # type: ignore[return-value]


_CLASSES: dict[str, type[ReferenceEntity]] = {"TASK": ReferenceTask, "WORKFLOW": ReferenceWorkflow,
                                              "LAUNCH_PLAN": ReferenceLaunchPlan}


def get_reference_entity(resource_type: Any, project: str, domain: str, name: str, version: str,
                         inputs: dict[str, Any], outputs: dict[str, Any]) -> ReferenceEntity:
    """flytekit's ``get_reference_entity``: ``resource_type`` is ``"TASK"``, ``"WORKFLOW"`` or ``"LAUNCH_PLAN"``
    (or flyteidl's ResourceType number 1, 2, 3)."""
    key = {1: "TASK", 2: "WORKFLOW", 3: "LAUNCH_PLAN"}.get(resource_type, resource_type)
    key = getattr(key, "name", key)
    if key not in _CLASSES:
        raise WorkflowDefinitionError(f"{user_call_site()}: get_reference_entity: resource type {resource_type!r} "
                                      "is not TASK, WORKFLOW or LAUNCH_PLAN")
    module = sys._getframe(1).f_globals.get("__name__", "__main__")
    return _CLASSES[key](project, domain, name, version, inputs, outputs, module=module)
