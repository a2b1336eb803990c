"""An eager body's calls as child executions, launched through the admin API from inside the eager task.

``flyrun-execute`` installs ``ChildExecutions`` as the run's child launcher when it runs an ``@eager`` task and the
platform told it where admin is (``FLYTE_PLATFORM_URL``, as propeller and the sandbox do). Each call then becomes
an execution with the parent's identity, as flytekit 1.16 launches them: a task as a single-task execution (nested
eager workflows too), a workflow through its default launch plan, a launch plan as itself, all at the eager task's
own version, registered first when the server does not have them. The call waits (polling with backoff), returns
the child's outputs as Python values, or raises the child's error in the body, where ``try/except`` sees it.

Child names are deterministic (the parent, the callee, its inputs and how often the body made that same call), so a
retried or resumed eager task finds the children it already launched instead of launching them again.
"""

from __future__ import annotations

import builtins
import hashlib
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flyrun.config.loader import load_config
from flyrun.errors import AlreadyExistsError, TaskExecutionError
from flyrun.idl import literals
from flyrun.idl import package as packaging
from flyrun.idl.dynamic import settings_from_environment
from flyrun.idl.literals import literal_map_to_bytes
from flyrun.idl.project import Project, collect
from flyrun.remote.client import AdminClient, EntityId, ExecutionId
from flyrun.remote.session import AdminSession
from flyrun.remote.submit import entity_id

ROOT_VARIABLE = "_F_EE_ROOT"  # flytekit's: the outermost eager execution, passed down to every child
SUCCEEDED, FAILED_PHASES = "SUCCEEDED", ("FAILED", "ABORTED", "TIMED_OUT")
FIRST_POLL, MAX_POLL = 0.1, 2.0  # seconds between status checks: quick for short children, then every 2 s


class ChildExecutionError(Exception):
    """A child execution failed with an error whose type is not a Python built-in; ``type_name`` is that type."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


class ChildExecutions:
    """The child launcher of one eager task attempt (``flyrun.sdk.context.ChildLauncher``)."""

    def __init__(self, client: AdminClient, environ: Mapping[str, str], settings: Any) -> None:
        self.client = client
        self.settings = settings  # the eager task's own SerializationSettings: project, domain, version, bundle
        self.parent = ExecutionId(environ.get("FLYTE_INTERNAL_EXECUTION_PROJECT", ""),
                                  environ.get("FLYTE_INTERNAL_EXECUTION_DOMAIN", ""),
                                  environ.get("FLYTE_INTERNAL_EXECUTION_ID", ""))
        self.node_id = environ.get("FLYTE_INTERNAL_NODE_ID", "")
        self.root = environ.get(ROOT_VARIABLE) or self.parent.name
        self._lock = threading.Lock()
        self._registered: set[str] = set()
        self._calls: dict[str, int] = {}

    def __call__(self, entity: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        literal_inputs = literals.to_literal_map(inputs, entity.interface.inputs)
        self._register(entity)
        target = self._target(entity)
        child = self._launch(entity, target, literal_inputs)
        execution = self._wait(child)
        phase = execution.get("closure", {}).get("phase", "")
        if phase != SUCCEEDED:
            raise TaskExecutionError(entity.name, _child_error(child, execution))
        data = self.client.execution_data(child)
        return literals.from_literal_map(data.get("full_outputs") or {}, entity.interface.outputs)

    # -- launching -------------------------------------------------------------------------------
    def _target(self, entity: Any) -> EntityId:
        s = self.settings
        if entity.kind == "reference":
            ref = entity.id
            kind = "TASK" if ref["resource_type"] == "TASK" else "LAUNCH_PLAN"
            return EntityId(kind, ref["project"], ref["domain"], ref["name"], ref["version"])
        # flytekit launches tasks (nested @eager included) as single-task executions, workflows by their
        # default launch plan.
        kind = "LAUNCH_PLAN" if entity.kind in ("workflow", "launch_plan") else "TASK"
        return EntityId(kind, s.project, s.domain, entity.name, s.version)

    def _register(self, entity: Any) -> None:
        """Register what the call needs at the eager task's version (flytekit creates a task it cannot get)."""
        if entity.kind == "reference":
            return
        with self._lock:
            if entity.name in self._registered:
                return

        plans = [entity] if entity.kind == "launch_plan" else []
        tasks, workflows = collect([entity])
        project = Project(Path("."), tasks=tasks, workflows=workflows, launch_plans=plans)
        # In registration order (tasks, then each workflow and its launch plans); one that exists is fine.
        for serialized in packaging.serialize(project, self.settings):
            self.client.create_entity(entity_id(serialized.id), serialized.spec)
        with self._lock:
            self._registered.add(entity.name)

    def _launch(self, entity: Any, target: EntityId, inputs: dict[str, Any]) -> ExecutionId:
        digest = hashlib.sha256(literal_map_to_bytes(inputs)).hexdigest()
        call = f"{self.parent.name}/{self.node_id}/{target.name}/{digest}"
        with self._lock:
            occurrence = self._calls.get(call, 0)
            self._calls[call] = occurrence + 1
        # FlyteAdmin takes names of up to 20 characters: a letter and 19 of the call's hash.
        name = "e" + hashlib.sha256(f"{call}/{occurrence}".encode()).hexdigest()[:19]
        spec: dict[str, Any] = {
            "launch_plan": target.as_dict(),
            "metadata": {"principal": "flyrun-eager"},
            "labels": {"values": {"eager-root-exec": self.root, "eager-exec": self.parent.name}},
            "envs": {"values": [{"key": ROOT_VARIABLE, "value": self.root}]},
        }
        if self.node_id:  # the sandbox names the node; propeller does not, and flytekit links children by labels
            spec["metadata"].update(mode="CHILD_WORKFLOW", parent_node_execution={
                "node_id": self.node_id, "execution_id": self.parent.as_dict()})
        try:
            child = self.client.create_execution(self.parent.project, self.parent.domain, name, spec, inputs)
        except AlreadyExistsError:  # launched by an earlier attempt of this task: wait for that one
            child = ExecutionId(self.parent.project, self.parent.domain, name)
        return child

    def _wait(self, child: ExecutionId) -> dict[str, Any]:
        delay = FIRST_POLL
        while True:
            execution = self.client.get_execution(child)
            phase = execution.get("closure", {}).get("phase", "")
            if phase == SUCCEEDED or phase in FAILED_PHASES:
                return execution
            time.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL)


def _child_error(child: ExecutionId, execution: dict[str, Any]) -> BaseException:
    """The child's failure as an exception of the type it had there (a built-in one, so ``except ValueError``
    works in the body), or ChildExecutionError carrying that type's name."""
    closure = execution.get("closure", {})
    phase = closure.get("phase", "")
    if phase == "ABORTED":
        cause = closure.get("abort_metadata", {}).get("cause") or "aborted"
        return ChildExecutionError("Aborted", f"child execution {child.name} was aborted: {cause}")
    error = closure.get("error") or {}
    message = (error.get("message") or f"child execution {child.name} {phase}").strip()
    code = error.get("code") or ""
    type_name = code.split(":", 1)[1] if ":" in code else (code or "Error")
    first = message.split("\n", 1)[0]
    text = first[len(type_name) + 2:] if first.startswith(f"{type_name}: ") else first
    found = getattr(builtins, type_name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        try:
            exc = found(text)
        except Exception:  # a built-in that takes other arguments
            exc = ChildExecutionError(type_name, text)
    else:
        exc = ChildExecutionError(type_name, text)
    exc.child_execution = child.name  # type: ignore[attr-defined]
    return exc


def from_environment(environ: Mapping[str, str], bundle_url: str | None, dest_dir: str) -> ChildExecutions:
    """The launcher for the admin the platform named (``FLYTE_PLATFORM_URL``, ``FLYTE_PLATFORM_INSECURE`` and the
    ``FLYRUN_ADMIN_*`` sign-in settings it passed), for the running eager task."""

    config = load_config(environ=environ)
    client = AdminClient(AdminSession(config, environ=environ))
    return ChildExecutions(client, environ, settings_from_environment(environ, bundle_url, dest_dir))
