"""Execution and node-execution records as the scheduler moves them through their phases.

Each change is written to the store at once, so the API, the console and a restarted server see it.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from flyrun.sandbox.admin.wire import dump, load, stamp
from flyrun.sandbox.state.store import Key, Store

# flyteidl.core.WorkflowExecution.Phase
WF_QUEUED, WF_RUNNING, WF_SUCCEEDED, WF_FAILED, WF_ABORTED, WF_TIMED_OUT = 1, 2, 4, 6, 7, 8
WF_FINAL = (WF_SUCCEEDED, WF_FAILED, WF_ABORTED, WF_TIMED_OUT)
# flyteidl.core.NodeExecution.Phase
QUEUED, RUNNING, SUCCEEDED, FAILED, ABORTED, SKIPPED, TIMED_OUT = 1, 2, 3, 5, 6, 7, 8
NODE_FINAL = (SUCCEEDED, FAILED, ABORTED, SKIPPED, TIMED_OUT)
# flyteidl.core.ExecutionError.ErrorKind
USER, SYSTEM = 1, 2


def execution_error(code: str, message: str, kind: int = USER, error_uri: str = "") -> Any:
    from flyteidl.core import execution_pb2

    error = execution_pb2.ExecutionError(code=code, message=message, kind=kind, error_uri=error_uri)
    stamp(error.timestamp, time.time())
    return error


class ExecutionRecord:
    """The ``admin.Execution`` of one run."""

    def __init__(self, store: Store, key: Key) -> None:
        from flyteidl.admin import execution_pb2

        self.store = store
        self.key = key
        self._lock = threading.Lock()
        row = store.execution(key)
        if row is None:
            raise KeyError(key)
        self.message = load(execution_pb2.Execution(), row["body"])

    @property
    def phase(self) -> int:
        return self.message.closure.phase

    def _save(self, phase: int) -> None:
        closure = self.message.closure
        now = time.time()
        closure.phase = phase
        stamp(closure.updated_at, now)
        if closure.HasField("started_at") and phase in WF_FINAL:
            closure.duration.FromNanoseconds(int(now * 1e9) - closure.started_at.ToNanoseconds())
        self.store.update_execution(self.key, dump(self.message), phase)

    def running(self) -> None:
        with self._lock:
            if not self.message.closure.HasField("started_at"):
                stamp(self.message.closure.started_at, time.time())
            self._save(WF_RUNNING)

    def succeeded(self, outputs_uri: str) -> None:
        with self._lock:
            self.message.closure.outputs.uri = outputs_uri
            self._save(WF_SUCCEEDED)

    def failed(self, error: Any, phase: int = WF_FAILED) -> None:
        with self._lock:
            self.message.closure.error.CopyFrom(error)
            self._save(phase)

    def aborted(self, cause: str, principal: str = "sandbox") -> None:
        with self._lock:
            self.message.closure.abort_metadata.cause = cause
            self.message.closure.abort_metadata.principal = principal
            self._save(WF_ABORTED)


class NodeRecord:
    """The ``admin.NodeExecution`` of one node (unique id within its execution), plus console extras."""

    def __init__(self, store: Store, key: Key, node_id: str, parent_id: str | None, spec_node_id: str) -> None:
        from flyteidl.admin import node_execution_pb2

        self.store = store
        self.key = key
        self.parent_id = parent_id
        self._lock = threading.RLock()
        self.extra: dict[str, Any] = {}
        row = store.node(key, node_id)
        message = node_execution_pb2.NodeExecution()
        if row is not None:
            load(message, row["body"])
            self.extra = json.loads(row["extra"])
        else:
            message.id.node_id = node_id
            message.id.execution_id.project, message.id.execution_id.domain = key.project, key.domain
            message.id.execution_id.name = key.name
            message.metadata.spec_node_id = spec_node_id
            message.metadata.retry_group = "0"
            stamp(message.closure.created_at, time.time())
        self.message = message

    @property
    def node_id(self) -> str:
        return self.message.id.node_id

    @property
    def phase(self) -> int:
        return self.message.closure.phase

    def save(self, phase: int | None = None) -> None:
        with self._lock:
            self._save(phase)

    def _save(self, phase: int | None) -> None:
        closure = self.message.closure
        now = time.time()
        if phase is not None:
            closure.phase = phase
        if closure.phase == RUNNING and not closure.HasField("started_at"):
            stamp(closure.started_at, now)
        stamp(closure.updated_at, now)
        if closure.phase in NODE_FINAL and closure.HasField("started_at"):
            closure.duration.FromNanoseconds(int(now * 1e9) - closure.started_at.ToNanoseconds())
        self.store.put_node(self.key, self.node_id, self.parent_id, dump(self.message), closure.phase,
                            json.dumps(self.extra))

    def running(self, input_uri: str = "", **extra: Any) -> None:
        self.message.input_uri = input_uri
        self.extra.update(extra)
        self.message.closure.ClearField("error")
        self.save(RUNNING)

    def succeeded(self, output_uri: str) -> None:
        self.message.closure.output_uri = output_uri
        self.save(SUCCEEDED)

    def failed(self, error: Any, phase: int = FAILED) -> None:
        self.message.closure.error.CopyFrom(error)
        self.save(phase)

    def note(self, **extra: Any) -> None:
        """Record console extras (attempt, gate state, item counts) without changing the phase."""
        with self._lock:
            self.extra.update(extra)
            self._save(None)
