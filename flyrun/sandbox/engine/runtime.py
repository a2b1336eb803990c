"""The state one running execution shares between its threads: its plan, paths, stop switches and processes."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from flyrun.sandbox.admin import registry
from flyrun.sandbox.admin.compiler import entity_key
from flyrun.sandbox.engine.records import FAILED, SYSTEM, TIMED_OUT, execution_error
from flyrun.sandbox.state.layout import DataDir
from flyrun.sandbox.state.store import Key, Store


class NodeFailed(Exception):
    """A node ended in failure; ``error`` is the ``core.ExecutionError`` to record."""

    def __init__(self, error: Any, phase: int = FAILED) -> None:
        super().__init__(error.message)
        self.error = error
        self.phase = phase
        self.node_id = ""  # the unique id of the node that failed first, set where the walker sees it

    @classmethod
    def of(cls, code: str, message: str, kind: int = SYSTEM, timed_out: bool = False) -> NodeFailed:
        return cls(execution_error(code, message, kind), TIMED_OUT if timed_out else FAILED)


class ArrayItem:
    """One item of an array node, as propeller hands it to the item's task: the array node's whole ``inputs.pb``
    as ``{{.input}}`` and the item's index in ``FLYTE_K8S_ARRAY_INDEX`` (named by BATCH_JOB_ARRAY_INDEX_VAR_NAME),
    so flytekit's ``pyflyte-map-execute`` (and flyrun-execute) pick the item's values themselves."""

    def __init__(self, index: int, inputs_path: Path) -> None:
        self.index, self.inputs_path = index, inputs_path

    def environment(self) -> dict[str, str]:
        return {"BATCH_JOB_ARRAY_INDEX_VAR_NAME": "FLYTE_K8S_ARRAY_INDEX", "FLYTE_K8S_ARRAY_INDEX": str(self.index)}


class Aborted(Exception):
    """The execution was terminated (or the server is stopping) while this node ran."""


class Scope:
    """A stop switch for a workflow level; stopping a scope stops everything nested in it."""

    def __init__(self, parent: Scope | None = None) -> None:
        self.parent = parent
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if scope._stopped.is_set():
                return True
            scope = scope.parent
        return False

    def child(self) -> Scope:
        return Scope(self)


class RunContext:
    """One execution while it runs."""

    def __init__(self, store: Store, data: DataDir, key: Key, plan: Any, spec: Any, slots: threading.Semaphore,
                 wake: threading.Condition, task_env: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.task_env = dict(task_env or {})  # the operator's --task-env, given to every task
        self.data = data
        self.key = key
        self.spec = spec
        self.slots = slots
        self.wake = wake
        # spec.max_parallelism: at most this many of the execution's task processes at once (0: no limit).
        limit = spec.max_parallelism
        self.parallelism = threading.Semaphore(limit) if limit > 0 else None
        self.root = Scope()
        self.container_runtime: Any = None  # the scheduler's containers.ContainerRuntime
        self.task_pool: Any = None  # the scheduler's taskpool.TaskPool (None: every task a fresh process)
        self.abort_cause = ""
        self.shutting_down = False
        self._tasks: dict[tuple[str, str, str, str], Any] = {}
        self._subworkflows: dict[tuple[str, str, str, str], Any] = {}
        self._processes: set[Any] = set()
        self._lock = threading.Lock()
        self.secrets_dir: Path | None = None  # the operator's secrets folder (sandbox start --secrets-dir)
        self.task_python = ""  # the Python whose programs tasks run (sandbox start --task-python); "": the server's
        self.scheduler: Any = None  # the Scheduler: child executions are created and terminated through it
        self.admin_env: dict[str, str] = {}  # given to eager tasks, to launch their calls as child executions
        self.add_closure(plan)

    # -- the plan --------------------------------------------------------------------------------------
    def add_closure(self, closure: Any) -> None:
        for task in closure.tasks:
            self._tasks[entity_key(task.template.id)] = task.template
        for sub in closure.sub_workflows:
            self._subworkflows[entity_key(sub.template.id)] = sub.template

    def task(self, identifier: Any) -> Any:
        found = self._tasks.get(entity_key(identifier))
        if found is None:
            found = registry.task_template(self.store, identifier)
            self._tasks[entity_key(identifier)] = found
        return found

    def subworkflow(self, identifier: Any) -> Any:
        found = self._subworkflows.get(entity_key(identifier))
        if found is None:
            raise NodeFailed.of("SubworkflowNotFound", f"subworkflow {identifier.name} is not in the plan")
        return found

    # -- paths -----------------------------------------------------------------------------------------
    @property
    def metadata_root(self) -> Path:
        return self.data.execution_metadata(*self.key[:3])

    def node_dir(self, unique_id: str) -> Path:
        """Where a node's ``inputs.pb`` and its attempts' output prefixes go."""
        return self.metadata_root / unique_id / "data"

    def raw_prefix(self, unique_id: str, attempt: int) -> str:
        configured = self.spec.raw_output_data_config.output_location_prefix
        if configured:
            return f"{configured.rstrip('/')}/{self.key.name}/{unique_id}/{attempt}"
        return str(self.data.execution_raw(*self.key[:3]) / unique_id / str(attempt))

    @property
    def work_root(self) -> Path:
        return self.data.work / self.key.project / self.key.domain / self.key.name

    def work_dir(self, unique_id: str, attempt: int) -> Path:
        return self.work_root / unique_id / str(attempt)

    # -- stopping --------------------------------------------------------------------------------------
    def abort(self, cause: str, shutting_down: bool = False) -> None:
        self.abort_cause = cause
        self.shutting_down = shutting_down
        self.root.stop()
        with self._lock:
            processes = list(self._processes)
        for process in processes:
            stop_process(process)
        with self.wake:
            self.wake.notify_all()

    @property
    def aborted(self) -> bool:
        return self.root.stopped and bool(self.abort_cause)

    def track(self, process: Any) -> None:
        with self._lock:
            self._processes.add(process)
        if self.aborted:
            stop_process(process)

    def untrack(self, process: Any) -> None:
        with self._lock:
            self._processes.discard(process)


def stop_process(process: Any, grace: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after ``grace`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return

    def _finish() -> None:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    threading.Thread(target=_finish, name="flyrun-reaper", daemon=True).start()


class ExecuteNode(Protocol):
    """Runs one node with its inputs known and returns its outputs (``walker.execute``); handed to the node kinds
    that run nodes of their own (array items, a failure node), so they need not import the walker."""

    def __call__(self, ctx: RunContext, node: Any, inputs: Any, unique_id: str, parent_id: str | None,
                 scope: Scope, outputs: Mapping[str, Any] | None = None, item: ArrayItem | None = None) -> Any: ...
