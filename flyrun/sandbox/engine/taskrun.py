"""Run a task node the way propeller runs its pod: fill in the container's argument templates, start the
process, honour retries and timeouts, then read ``outputs.pb`` or ``error.pb`` from the output prefix.

``flyrun-execute`` (flyrun's task entrypoint) runs as ``sys.executable -m flyrun.idl.entrypoint`` so the task
uses the same Python and flyrun as the server; container tasks go to docker or podman (``containers.py``).
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import flyrun
from flyrun.sandbox.engine import containers
from flyrun.sandbox.engine.literals import literal_text, read_literal_map
from flyrun.sandbox.engine.records import USER, NodeRecord
from flyrun.sandbox.engine.runtime import Aborted, NodeFailed, RunContext, Scope
from flyrun.sandbox.engine.secrets import secret_environment

_TEMPLATE = re.compile(r"\{\{\s*\.([A-Za-z]+)(?:\.([A-Za-z0-9_]+))?\s*\}\}")
_FLYRUN_ROOT = str(Path(flyrun.__file__).resolve().parent.parent)  # the folder holding the flyrun package
_PR_SET_PDEATHSIG = 1
_RECOVERABLE = 1  # flyteidl.core.ContainerError.Kind.RECOVERABLE
_LOG_TAIL = 2000


class Attempt:
    """One try of a task: where its files go and the values its argument templates take."""

    def __init__(self, ctx: RunContext, unique_id: str, node_dir: Path, number: int) -> None:
        self.unique_id = unique_id
        self.number = number
        self.input_path = node_dir / "inputs.pb"
        self.output_prefix = node_dir / str(number)
        self.raw_prefix = ctx.raw_prefix(unique_id, number)
        self.checkpoint = f"{self.raw_prefix}/_flytecheckpoints"
        self.previous_checkpoint = f"{ctx.raw_prefix(unique_id, number - 1)}/_flytecheckpoints" if number else ""
        self.work_dir = ctx.work_dir(unique_id, number)
        self.log_path = self.output_prefix / "task.log"

    def values(self) -> dict[str, str]:
        return {"input": str(self.input_path), "inputprefix": str(self.input_path.parent),
                "outputprefix": str(self.output_prefix), "rawoutputdataprefix": self.raw_prefix,
                "checkpointoutputprefix": self.checkpoint, "prevcheckpointprefix": self.previous_checkpoint}


def substitute(words: list[str], values: dict[str, str], inputs: Any) -> list[str]:
    """Replace ``{{.input}}``, ``{{.outputPrefix}}``, ... and ``{{.Inputs.name}}`` as propeller does."""

    def replace(match: re.Match[str]) -> str:
        name, member = match.group(1).lower(), match.group(2)
        if name == "inputs" and member is not None and member in inputs.literals:
            return literal_text(inputs.literals[member])
        return values.get(name, match.group(0)) if member is None else match.group(0)

    return [_TEMPLATE.sub(replace, word) for word in words]


def command_of(task: Any) -> list[str]:
    """The task's command line: its container's, or the primary container's of its pod spec."""
    if task.HasField("container"):
        return [*task.container.command, *task.container.args]
    if task.HasField("k8s_pod"):
        container = containers.primary_container(task)
        return [*container.get("command", []), *container.get("args", [])]
    raise NodeFailed.of("UnsupportedTask", f"task {task.id.name} of type {task.type!r} has no container to run")


def local_argv(words: list[str]) -> list[str]:
    if words and words[0] == "flyrun-execute":
        return [sys.executable, "-m", "flyrun.idl.entrypoint", *words[1:]]
    return words


def task_environment(ctx: RunContext, task: Any, unique_id: str, attempt: int) -> dict[str, str]:
    """What propeller puts in a task pod's environment, on top of the server's own."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_FLYRUN_ROOT, env.get("PYTHONPATH")]))
    source = task.container.env if task.HasField("container") else []
    env.update({pair.key: pair.value for pair in source})
    env.update({pair.key: pair.value for pair in ctx.spec.envs.values})
    key = ctx.key
    env.update({
        "FLYTE_INTERNAL_EXECUTION_ID": key.name, "FLYTE_INTERNAL_EXECUTION_PROJECT": key.project,
        "FLYTE_INTERNAL_EXECUTION_DOMAIN": key.domain, "FLYTE_INTERNAL_EXECUTION_WORKFLOW": ctx.spec.launch_plan.name,
        "FLYTE_INTERNAL_NODE_ID": unique_id, "FLYTE_ATTEMPT_NUMBER": str(attempt),
        "FLYTE_INTERNAL_TASK_PROJECT": task.id.project, "FLYTE_INTERNAL_TASK_DOMAIN": task.id.domain,
        "FLYTE_INTERNAL_TASK_NAME": task.id.name, "FLYTE_INTERNAL_TASK_VERSION": task.id.version,
    })
    env.update(secret_environment(task, ctx.secrets_dir))
    return env


def run_task(ctx: RunContext, record: NodeRecord, node: Any, task: Any, inputs: Any, node_dir: Path,
             scope: Scope) -> tuple[Any, str]:
    """Run the task's attempts; returns (outputs LiteralMap, outputs.pb path) or raises NodeFailed/Aborted."""
    retries = node.metadata.retries.retries if node.metadata.HasField("retries") else 0
    retries = retries or task.metadata.retries.retries
    first = record.extra.get("attempt", -1) + 1
    deadline = time.monotonic() + node.metadata.timeout.ToTimedelta().total_seconds() \
        if node.metadata.HasField("timeout") and node.metadata.timeout.ToNanoseconds() > 0 else None
    failure: NodeFailed | None = None
    for number in range(first, first + max(1, retries + 1 - first)):
        attempt = Attempt(ctx, record.node_id, node_dir, number)
        record.note(attempt=number, log=str(attempt.log_path))
        try:
            return _run_attempt(ctx, task, inputs, attempt, scope, deadline)
        except _Retryable as retryable:
            failure = retryable.failure
            if deadline is not None and time.monotonic() >= deadline:
                break
        finally:
            _note_deck(record, attempt)
    assert failure is not None
    raise failure


def _note_deck(record: NodeRecord, attempt: Attempt) -> None:
    """propeller's deck_uri: the attempt's ``deck.html``, when the task wrote one (also when it failed)."""
    deck = attempt.output_prefix / "deck.html"
    if deck.is_file():
        record.message.closure.deck_uri = str(deck)


class _Retryable(Exception):
    def __init__(self, failure: NodeFailed) -> None:
        super().__init__(failure.error.message)
        self.failure = failure


def _run_attempt(ctx: RunContext, task: Any, inputs: Any, attempt: Attempt, scope: Scope,
                 deadline: float | None) -> tuple[Any, str]:
    attempt.output_prefix.mkdir(parents=True, exist_ok=True)
    attempt.work_dir.mkdir(parents=True, exist_ok=True)
    words = substitute(command_of(task), attempt.values(), inputs)
    env = task_environment(ctx, task, attempt.unique_id, attempt.number)
    if containers.is_container_task(task):
        argv = containers.container_argv(task, words, attempt, inputs, env)
    else:
        argv = local_argv(words)
    limit = task.metadata.timeout.ToTimedelta().total_seconds() if task.metadata.HasField("timeout") else 0
    code, timed_out = _run_process(ctx, argv, env, attempt, scope, limit or None, deadline)
    try:
        if timed_out:
            seconds = limit if limit else "its node"
            raise _Retryable(NodeFailed.of("Timeout", f"task {task.id.name} exceeded its timeout ({seconds}s)",
                                           USER, timed_out=True))
        if containers.is_container_task(task):
            containers.collect_outputs(task, attempt)
        return _outputs(task, attempt, code)
    finally:
        shutil.rmtree(attempt.work_dir, ignore_errors=True)


def _outputs(task: Any, attempt: Attempt, code: int) -> tuple[Any, str]:
    from flyteidl.core import errors_pb2

    error_path = attempt.output_prefix / "error.pb"
    outputs_path = attempt.output_prefix / "outputs.pb"
    if error_path.exists():
        document = errors_pb2.ErrorDocument()
        document.ParseFromString(error_path.read_bytes())
        error = document.error
        kind = error.origin if error.origin else USER
        failure = NodeFailed.of(error.code or "UserError", error.message, kind)
        failure.error.error_uri = str(error_path)
        if error.kind == _RECOVERABLE:
            raise _Retryable(failure)
        raise failure
    if code != 0:
        raise _Retryable(NodeFailed.of("ContainerFailed", f"task {task.id.name} exited with code {code}"
                                                          f"{_log_tail(attempt.log_path)}", USER))
    if outputs_path.exists():
        return read_literal_map(outputs_path), str(outputs_path)
    if task.interface.outputs.variables:
        raise NodeFailed.of("OutputsNotFound", f"task {task.id.name} exited 0 but wrote no outputs.pb to "
                                               f"{attempt.output_prefix}{_log_tail(attempt.log_path)}", USER)
    from flyrun.sandbox.engine.literals import literal_map, write_message

    write_message(outputs_path, literal_map())
    return literal_map(), str(outputs_path)


def _log_tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return f"\n{text[-_LOG_TAIL:]}" if text else ""


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover
        return None


def _child_setup() -> Any:
    """A pre-exec hook asking the kernel to kill the task when the thread that started it (the server) dies."""
    libc = _libc()
    if libc is None:
        return None
    prctl = libc.prctl

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, 9)

    return die_with_parent


def _run_process(ctx: RunContext, argv: list[str], env: dict[str, str], attempt: Attempt, scope: Scope,
                 limit: float | None, deadline: float | None) -> tuple[int, bool]:
    """Start and wait for the task process; returns (exit code, timed out).

    It holds one of the execution's ``max_parallelism`` slots (if set) and one CPU slot while it runs.
    """
    held: list[Any] = []
    try:
        for slots in (ctx.parallelism, ctx.slots):
            if slots is None:
                continue
            while not slots.acquire(timeout=0.2):
                if scope.stopped:
                    raise Aborted()
            held.append(slots)
        if scope.stopped:
            raise Aborted()
        return _spawn(ctx, argv, env, attempt, scope, limit, deadline)
    finally:
        for slots in reversed(held):
            slots.release()


def _spawn(ctx: RunContext, argv: list[str], env: dict[str, str], attempt: Attempt, scope: Scope,
           limit: float | None, deadline: float | None) -> tuple[int, bool]:
    with open(attempt.log_path, "wb") as log:
        try:
            process = subprocess.Popen(argv, cwd=attempt.work_dir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_child_setup())
        except OSError as error:
            raise NodeFailed.of("CommandNotFound", f"cannot start {argv[0]!r}: {error.strerror}", USER) from None
        ctx.track(process)
        try:
            return _wait(process, scope, limit, deadline)
        finally:
            ctx.untrack(process)


def _wait(process: subprocess.Popen, scope: Scope, limit: float | None, deadline: float | None) -> tuple[int, bool]:
    from flyrun.sandbox.engine.runtime import stop_process

    started = time.monotonic()
    ends = [t for t in (started + limit if limit else None, deadline) if t is not None]
    end = min(ends) if ends else None
    with _ExitWaiter(process) as waiter:
        while True:
            done = waiter.wait(0.1)
            if scope.stopped:
                stop_process(process)
                process.wait()
                raise Aborted()
            if done:
                return process.returncode, False
            if end is not None and time.monotonic() >= end:
                stop_process(process, grace=2.0)
                process.wait()
                return process.returncode, True


class _ExitWaiter:
    """Wakes the moment a process ends: a pidfd on Linux, polling elsewhere.

    (``Popen.wait(timeout)`` sleeps in steps of up to 50 ms, which would add that much to every task.)
    """

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        try:
            self.pidfd: int | None = os.pidfd_open(process.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def __enter__(self) -> _ExitWaiter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)

    def wait(self, timeout: float) -> bool:
        if self.process.poll() is not None:
            return True
        if self.pidfd is None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        import select

        select.select([self.pidfd], [], [], timeout)
        return self.process.poll() is not None
