"""Map worker processes: they find a task by module and name and run batches of its items.

A worker is a fork of the map's warm zygote (``flyrun.protocol.zygote``: the flyrun process as it was when the map
began, single-threaded, the task's module imported), or, where forking is not used (``-v`` says why), a fresh
interpreter: ``python -m flyrun.local.map_worker READ_FD WRITE_FD``. Either talks to the parent with pickled
messages (``multiprocessing.connection``). A fresh one puts the project root first on ``sys.path``, then
``importlib.import_module(task.module)`` and gets the attribute, as a task container does; a fork finds the module
already imported. Values cross the boundary as literals, as they cross a cluster's.

Messages: the parent sends a spec (``worker_spec``), the worker answers ``("ready", pid)`` or ``("error", text)``;
then each batch ``[(index, input literals), ...]`` gets ``[(index, output literals | ItemFailure, notices), ...]``;
``None`` ends the worker. Standard output and error are the parent's, so a task's prints show as in-process: on
stderr during a `flyrun run`, whose descriptor 1 points there while the run lasts (``flyrun.local.streams``).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
import sys
import threading
import time
from pathlib import Path
from typing import Any

from flyrun.compat import active, install
from flyrun.local.cache import LocalCache
from flyrun.protocol.zygote import Channel
from flyrun.sdk.context import ExecutionContext, use_context
from flyrun.sdk.map import ItemFailure
from flyrun.types import engine


def find_task(module: str, attribute: str) -> Any:
    """``module.attribute`` (the attribute may be dotted), imported as a task container would."""
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def project_root(module_name: str) -> str | None:
    """The folder that ``module_name`` is imported from: its file, up one level per dot (and for a package)."""
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    levels = module_name.count(".") + (1 if path.name == "__init__.py" else 0)
    return str(path.parents[levels])


TRACE_VARIABLE = "FLYRUN_MAP_TRACE"  # "1": every map process writes a timeline of its steps to stderr at its end
_TRACE: list[tuple[float, str]] | None = [] if os.environ.get(TRACE_VARIABLE, "") not in ("", "0") else None


def trace(what: str) -> None:
    """Note a step of the map (free when tracing is off)."""
    if _TRACE is not None:
        _TRACE.append((time.perf_counter(), what))


def write_trace(who: str) -> None:
    """Write this process's steps to stderr (perf_counter is the machine's monotonic clock, shared by every
    process, so the lines of the parent and its workers sort into one timeline)."""
    if _TRACE:
        lines = "".join(f"map-trace {at:.6f} {who} {os.getpid()} {what}\n" for at, what in _TRACE)
        _TRACE.clear()
        os.write(2, lines.encode())


_INHERITED: dict[str, Any] = {}  # what a forked worker finds in memory (set before the zygote is forked)


def inherit(context: ExecutionContext) -> None:
    """Leave the run's storage loader where forked workers find it, so the parent need not load the storage
    settings (reading config: tens of milliseconds) before its first worker can start; each worker loads them
    the first time one of its items touches a file, as this process would."""
    _INHERITED["load_storage"] = context.load_storage


def worker_spec(context: ExecutionContext, task: Any, cache_dir: str | None, forked: bool = False) -> dict[str, Any]:
    """What a worker needs to find the task and rebuild the run's context: plain, picklable data only."""
    inherit_storage = forked and context.load_storage is not None and \
        _INHERITED.get("load_storage") is context.load_storage
    ensure_storage = getattr(context, "ensure_storage", None)  # storage settings may be loaded lazily
    if ensure_storage is not None and not inherit_storage:
        ensure_storage()

    root = project_root(task.module)
    path = [root] + [p for p in sys.path if p != root] if root else list(sys.path)
    return {"sys_path": path, "module": task.module, "attribute": task.attribute,
            "raw_output_prefix": context.raw_output_prefix, "storage_options": context.storage_options,
            "inherit_storage": inherit_storage,
            "cache_dir": cache_dir, "overwrite_cache": context.overwrite_cache, "execution_id": context.execution_id,
            "compat": active()}


def pickled(value: Any) -> bytes:
    """A message as both kinds of connection send it (``Channel``, ``multiprocessing.connection``)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class Worker:
    """The parent's handle on one worker process."""

    def __init__(self, spec: dict[str, Any], zygote: Any = None, wait: bool = True) -> None:
        """Start a worker and send it ``spec``. A fork of ``zygote`` is asked for without waiting unless
        ``wait``: this process goes on while the zygote forks (``ready`` waits for it)."""
        # The lane that lost the worker and the map closing it may both ask for its status; one at a time, or the
        # first to get it closes the pidfd the other is waiting on.
        self._waiting = threading.Lock()
        self.forked = zygote is not None
        if zygote is not None:  # a fork of the warm zygote (flyrun.protocol.zygote): one duplex socket
            import socket


            ours, theirs = socket.socketpair()
            self.outbox: Any = Channel(ours)
            self.inbox: Any = self.outbox
            # The spec goes first, so the worker finds it waiting: asked for first, the fork could run (and wait
            # for it) while this process, preempted by the zygote it just woke, has not sent it yet.
            self.outbox.send(spec)
            trace("worker spec sent")
            try:
                self.process: Any = zygote.fork(theirs.fileno(), wait)
            finally:
                theirs.close()
            trace("worker fork asked for")
            return
        import subprocess
        from multiprocessing.connection import Connection
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        flyrun_home = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [flyrun_home, os.environ.get("PYTHONPATH")])))
        try:
            # Its own session: Ctrl-C on the terminal reaches only flyrun, which stops its workers itself (a
            # worker hit while still starting up would print a fatal error).
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flyrun.local.map_worker", str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.outbox, self.inbox = Connection(to_child_w), Connection(from_child_r)
        self.outbox.send(spec)

    def ready(self) -> None:
        """Wait until the worker has found the task; raise with its reason if it could not."""
        kind, detail = self.inbox.recv()
        if kind != "ready":
            raise RuntimeError(detail)

    def run(self, batch: list[tuple[int, dict[str, dict]]]) -> list[tuple[int, Any, list[str]]]:
        self.send(pickled(batch))
        return self.receive()

    def send(self, batch: bytes) -> None:
        """Send a pickled batch without waiting for its answers (``receive`` reads them, in the order sent)."""
        self.outbox.send_bytes(batch)

    def receive(self) -> list[tuple[int, Any, list[str]]]:
        return self.inbox.recv()

    def discard(self) -> None:
        """Let go of a worker that was never used: it ends on EOF, or with its zygote."""
        self.outbox.close()
        if self.inbox is not self.outbox:
            self.inbox.close()

    def close(self, kill: bool = False) -> None:
        try:
            if not kill:
                self.outbox.send(None)
        except OSError:
            pass
        if kill:
            try:
                self.process.kill()
            except (OSError, EOFError):  # never forked: its zygote ended first (Ctrl-C as it started)
                pass
        self.outbox.close()
        self.inbox.close()
        if self.forked and not kill:  # it exits on the None; its zygote reaps it, so the map need not wait
            return
        import subprocess

        try:
            self.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.wait()

    def wait(self, timeout: float | None = None) -> int:
        with self._waiting:
            return self.process.wait(timeout)

    def exit_code(self) -> int | None:
        with self._waiting:
            return self.process.poll()


# -- the worker process ---------------------------------------------------------------------------------
def serve(inbox: Any, outbox: Any) -> None:
    spec = inbox.recv()
    trace("spec")
    sys.path[:] = spec["sys_path"]
    importlib.invalidate_caches()
    try:
        if spec.get("compat"):  # the module imports flytekit's names, as it did in the parent

            install(spec["compat"])
        task = find_task(spec["module"], spec["attribute"])
    except Exception as exc:  # told to the parent, which runs the items itself
        outbox.send(("error", f"cannot import {spec['module']}.{spec['attribute']}: {type(exc).__name__}: {exc}"))
        return
    context = _context(spec)
    trace("ready")
    write_trace("worker")  # as it goes: once the map is over, its zygote may end (and this process) at any time
    outbox.send(("ready", os.getpid()))
    while (batch := inbox.recv()) is not None:
        trace(f"got {[index for index, _ in batch]}")
        answers = [run_item(task, context, index, literals) for index, literals in batch]
        trace("ran")
        write_trace("worker")
        _flush()  # what the items printed is out before their results are: the parent does not wait for the exit
        outbox.send(answers)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _context(spec: dict[str, Any]) -> ExecutionContext:
    cache = None
    if spec["cache_dir"]:
        cache = LocalCache(spec["cache_dir"])
    load_storage = _INHERITED.get("load_storage") if spec.get("inherit_storage") else None
    return ExecutionContext(raw_output_prefix=spec["raw_output_prefix"], storage_options=spec["storage_options"],
                            load_storage=load_storage, cache=cache, overwrite_cache=spec["overwrite_cache"],
                            execution_id=spec["execution_id"])


def run_item(task: Any, context: ExecutionContext, index: int, literals: dict[str, dict]) -> tuple[int, Any, list]:
    notices: list[str] = []
    with use_context(dataclasses.replace(context, notify=notices.append)):
        try:
            inputs = {name: engine.to_python(lit, task.interface.inputs[name]) for name, lit in literals.items()}
            outputs = task.local_execute(inputs)
            result: Any = {name: engine.to_literal(value, task.interface.outputs[name])
                           for name, value in outputs.items()}
        except Exception as exc:  # reported to the parent as data; it decides what a failure means
            result = ItemFailure.from_exception(index, exc)
    return index, result, notices


def forked(fds: list[int]) -> None:
    """A worker forked from the map's zygote (``flyrun.protocol.zygote``), talking on the socket ``fds[0]``."""
    import socket


    sys.argv = [__file__]  # what a fresh worker's argv[0] says, so the process reads the same
    if _TRACE is not None:
        _TRACE.clear()  # the parent's steps, copied by the fork
    trace("forked")
    connection = Channel(socket.socket(fileno=fds[0]))
    try:
        serve(connection, connection)
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        sys.exit(1)


def main(argv: list[str]) -> int:
    from multiprocessing.connection import Connection

    inbox, outbox = Connection(int(argv[0])), Connection(int(argv[1]))
    try:
        serve(inbox, outbox)
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
