"""Runs executions in background threads, at most one task process per CPU across all of them.

On start the server resumes executions a previous server left QUEUED or RUNNING: nodes that had SUCCEEDED keep
their outputs, the rest run again. When the server stops, running task processes are stopped and their
executions stay RUNNING, to be resumed the same way.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

from flyrun.sandbox.admin.compiler import END_NODE, START_NODE
from flyrun.sandbox.admin.wire import load
from flyrun.sandbox.engine.literals import write_message
from flyrun.sandbox.engine.records import (
    SUCCEEDED,
    SYSTEM,
    WF_FINAL,
    WF_QUEUED,
    WF_RUNNING,
    ExecutionRecord,
    NodeRecord,
    execution_error,
)
from flyrun.sandbox.engine.runtime import Aborted, NodeFailed, RunContext
from flyrun.sandbox.state.layout import DataDir
from flyrun.sandbox.state.store import Key, Store


class Scheduler:
    def __init__(self, store: Store, data: DataDir, slots: int | None = None, secrets_dir: Path | None = None) -> None:
        self.store = store
        self.secrets_dir = secrets_dir
        self.data = data
        self.slots = threading.Semaphore(slots or os.cpu_count() or 1)
        self.wake = threading.Condition()
        self._runs: dict[Key, RunContext] = {}
        self._threads: dict[Key, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closed = False

    def launch(self, key: Key) -> None:
        """Start (or resume) running an execution recorded in the store."""
        key = Key(*key[:3])
        with self._lock:
            if self._closed or key in self._threads:
                return
            thread = threading.Thread(target=self._run, args=(key,), name=f"flyrun-exec-{key.name}", daemon=True)
            self._threads[key] = thread
        thread.start()

    def resume_unfinished(self) -> list[Key]:
        keys = [Key(r["project"], r["domain"], r["name"]) for r in
                self.store.executions_in_phases([WF_QUEUED, WF_RUNNING])]
        for key in keys:
            self.launch(key)
        return keys

    def terminate(self, key: Key, cause: str) -> None:
        """Abort an execution: stop its processes if it runs here, else just record it ABORTED."""
        key = Key(*key[:3])
        with self._lock:  # atomic with _run's registration: either we see its context or it sees ABORTED
            ctx = self._runs.get(key)
            if ctx is None:
                ExecutionRecord(self.store, key).aborted(cause)
                return
        ctx.abort(cause)

    def notify(self) -> None:
        """Wake waiting gates (a signal was set)."""
        with self.wake:
            self.wake.notify_all()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every run's processes, leaving the executions RUNNING so the next server resumes them."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
            threads = list(self._threads.values())
        for ctx in runs:
            ctx.abort("the sandbox stopped", shutting_down=True)
        for thread in threads:
            thread.join(timeout)

    # -- one execution -----------------------------------------------------------------------------------
    def _run(self, key: Key) -> None:
        try:
            record = ExecutionRecord(self.store, key)
            ctx, template, inputs = self._context(key, record)
        except KeyError:
            self._forget(key)
            return
        except Exception as error:  # an unreadable plan: say so rather than leave it RUNNING forever
            record.failed(execution_error("ResumeFailed", f"the sandbox could not run this execution: {error}",
                                          SYSTEM))
            self._forget(key)
            return
        with self._lock:
            if self.store.existing_execution(key)["phase"] in WF_FINAL:  # terminated before it started
                self._threads.pop(key, None)
                return
            self._runs[key] = ctx
        try:
            self._walk(ctx, record, template, inputs)
        finally:
            self._forget(key)
            shutil.rmtree(ctx.work_root, ignore_errors=True)

    def _context(self, key: Key, record: ExecutionRecord) -> tuple[RunContext, Any, Any]:
        from flyteidl.core import compiler_pb2, literals_pb2

        row = self.store.existing_execution(key)
        plan = load(compiler_pb2.CompiledWorkflowClosure(), row["plan"])
        inputs = load(literals_pb2.LiteralMap(), row["inputs"])
        ctx = RunContext(self.store, self.data, key, plan, record.message.spec, self.slots, self.wake)
        ctx.secrets_dir = self.secrets_dir
        return ctx, plan.primary.template, inputs

    def _walk(self, ctx: RunContext, record: ExecutionRecord, template: Any, inputs: Any) -> None:
        from flyrun.sandbox.engine.walker import run_workflow

        record.running()
        _boundary_node(ctx, START_NODE, None, inputs)
        try:
            outputs = run_workflow(ctx, template, inputs, "", None, ctx.root)
        except NodeFailed as failure:
            record.failed(failure.error)
        except Aborted:
            if not ctx.shutting_down:
                record.aborted(ctx.abort_cause or "aborted")
        except Exception as error:  # a bug in flyrun: fail the execution with it rather than hang
            record.failed(execution_error("InternalError", f"flyrun sandbox: {type(error).__name__}: {error}",
                                          SYSTEM))
        else:
            record.succeeded(_boundary_node(ctx, END_NODE, outputs, outputs))

    def _forget(self, key: Key) -> None:
        with self._lock:
            self._runs.pop(key, None)
            self._threads.pop(key, None)


def _boundary_node(ctx: RunContext, node_id: str, inputs: Any | None, outputs: Any) -> str:
    """propeller's start-node (outputs: the workflow's inputs) and end-node (the workflow's outputs)."""
    node_dir = ctx.metadata_root / node_id / "data"
    output_path = node_dir / "0" / "outputs.pb"
    write_message(output_path, outputs)
    record = NodeRecord(ctx.store, ctx.key, node_id, None, node_id)
    if inputs is not None:
        record.message.input_uri = str(output_path)
    record.message.closure.output_uri = str(output_path)
    record.save(SUCCEEDED)
    return str(output_path)
