"""Runs executions in background threads, at most one task process per CPU across all of them.

On start the server resumes executions a previous server left QUEUED or RUNNING: nodes that had SUCCEEDED keep
their outputs, the rest run again. When the server stops, running task processes are stopped and their
executions stay RUNNING, to be resumed the same way.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flyrun.sandbox.admin.compiler import END_NODE, START_NODE
from flyrun.sandbox.admin.executions import create_execution
from flyrun.sandbox.admin.wire import load
from flyrun.sandbox.engine.containers import ContainerRuntime
from flyrun.sandbox.engine.literals import write_message
from flyrun.sandbox.engine.notifications import announce
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
from flyrun.sandbox.engine.taskpool import TaskPool
from flyrun.sandbox.engine.taskrun import operator_task_env
from flyrun.sandbox.engine.walker import run_workflow
from flyrun.sandbox.state.layout import DataDir
from flyrun.sandbox.state.store import Key, Store


class Scheduler:
    def __init__(self, store: Store, data: DataDir, slots: int | None = None,
                 container_runtime: str | None = None, task_env: Mapping[str, str] | None = None,
                 secrets_dir: Path | None = None, task_python: str = "", task_pool: bool = True,
                 verbose: bool = False) -> None:
        self.store = store
        self.container_runtime = ContainerRuntime(container_runtime)
        # Python tasks forked from warm zygotes; turned off, each attempt is a fresh process (it says why with -v).
        self.task_pool = TaskPool(data.work / "_pool", enabled=task_pool, log=_log if verbose else None)
        self.secrets_dir = secrets_dir
        self.task_python = task_python
        self.data = data
        # Read once at start: `flyrun sandbox start --task-env` puts it in the server's environment.
        self.task_env = dict(task_env) if task_env is not None else operator_task_env(os.environ)
        self.slots = threading.Semaphore(slots or os.cpu_count() or 1)
        self.wake = threading.Condition()
        self._runs: dict[Key, RunContext] = {}
        self._threads: dict[Key, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closed = False
        # What an eager task needs to launch its calls as child executions here (FLYTE_PLATFORM_URL, sign-in);
        # the server fills it in once it listens.
        self.admin_env: dict[str, str] = {}

    def create_execution(self, request: Any) -> Key:
        """Create an execution as the API does (a launch plan node's child execution); returns its key."""
        admin: Any = SimpleNamespace(store=self.store, data=self.data, scheduler=self)  # what it uses of Services
        created = create_execution(admin, request)
        return Key(created.id.project, created.id.domain, created.id.name)

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
            # Not running here: record it ABORTED, unless it has just ended (a child that finished meanwhile).
            if ctx is None and self.store.existing_execution(key)["phase"] not in WF_FINAL:
                ExecutionRecord(self.store, key).aborted(cause)
        if ctx is not None:
            ctx.abort(cause)
        # Its children now, not only when its walk has ended: a terminated parent leaves nothing running.
        self.terminate_children(key, f"parent execution {key.name} was terminated")

    def terminate_children(self, key: Key, cause: str) -> None:
        """Terminate the child executions of ``key`` that have not ended (theirs follow, the same way)."""
        for row in self.store.child_executions(key, (WF_QUEUED, WF_RUNNING)):
            try:
                self.terminate(Key(row["project"], row["domain"], row["name"]), cause)
            except Exception as error:  # one child that cannot be stopped must not keep the others running
                _log(f"cannot terminate child execution {row['name']}: {_describe(error)}")

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
        self.task_pool.close()  # after the runs: ending the zygotes ends any child still running

    # -- one execution -----------------------------------------------------------------------------------
    def _run(self, key: Key) -> None:
        try:
            record = ExecutionRecord(self.store, key)
            ctx, template, inputs = self._context(key, record)
        except KeyError:
            self._forget(key)
            return
        except Exception as error:  # an unreadable plan: say so rather than leave it RUNNING forever
            failure = execution_error("ResumeFailed", f"the sandbox could not run this execution: {error}", SYSTEM)
            try:
                failed = ExecutionRecord(self.store, key)
                self._record(failed, lambda: failed.failed(failure))
            except Exception as again:  # the store itself is unreadable: a restart will try again
                _log(f"cannot record the failure of execution {key.name}: {_describe(again)}")
            finally:
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
        ctx = RunContext(self.store, self.data, key, plan, record.message.spec, self.slots, self.wake,
                         self.task_env)
        ctx.container_runtime = self.container_runtime
        ctx.task_pool = self.task_pool
        ctx.secrets_dir = self.secrets_dir
        ctx.task_python = self.task_python
        ctx.scheduler = self
        ctx.admin_env = self.admin_env
        return ctx, plan.primary.template, inputs

    def _walk(self, ctx: RunContext, record: ExecutionRecord, template: Any, inputs: Any) -> None:
        """Run the workflow and record how it ended. Nothing escapes: an exception here (a full disk, a folder
        that cannot be written, a bug) would end this thread silently and leave the execution RUNNING forever."""
        try:
            record.running()
            _boundary_node(ctx, START_NODE, None, inputs)
            outputs = run_workflow(ctx, template, inputs, "", None, ctx.root)
            end = _boundary_node(ctx, END_NODE, outputs, outputs)
        except NodeFailed as failure:
            node_error = failure.error
            self._record(record, lambda: record.failed(node_error))
        except Aborted:
            if not ctx.shutting_down:
                self._record(record, lambda: record.aborted(ctx.abort_cause or "aborted"))
        except Exception as error:
            internal = execution_error(_failure_code(error), f"flyrun sandbox: {_describe(error)}", SYSTEM)
            self._record(record, lambda: record.failed(internal))
        else:
            self._record(record, lambda: record.succeeded(end))
        if record.phase in WF_FINAL:
            # A launch plan node's child ends with its node; an eager body may have left calls running.
            self.terminate_children(ctx.key, f"parent execution {ctx.key.name} has ended")
            self._announce(ctx, record)

    def _announce(self, ctx: RunContext, record: ExecutionRecord) -> None:
        """Record the notifications due for how the execution ended; a failure here is logged, never raised."""
        try:
            announce(self.store, ctx.key, record.message)
        except Exception as error:
            _log(f"cannot record the notifications of execution {record.key.name}: {_describe(error)}")

    def _record(self, record: ExecutionRecord, write: Any) -> None:
        """Write how an execution ended, retrying while the store cannot be written (a full disk): the server
        keeps serving meanwhile, and the record lands once space returns or at the next start (the execution is
        still RUNNING in the store, so a restart resumes it)."""
        delay = 0.5
        while True:
            try:
                write()
                return
            except Exception as error:
                _log(f"cannot record the end of execution {record.key.name} ({_describe(error)}); retrying in "
                     f"{delay:.0f}s")
            with self._lock:
                if self._closed:
                    return
            time.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _forget(self, key: Key) -> None:
        with self._lock:
            self._runs.pop(key, None)
            self._threads.pop(key, None)


def _failure_code(error: BaseException) -> str:
    return "StorageFailed" if isinstance(error, OSError) else "InternalError"


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"{type(error).__name__}: {error.strerror}{where}"
    return f"{type(error).__name__}: {error}"


def _log(message: str) -> None:
    print(f"flyrun sandbox: {message}", file=sys.stderr, flush=True)


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
