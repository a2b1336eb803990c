"""Run a task node the way propeller runs its pod: fill in the container's argument templates, start the
process, honour retries and timeouts, then read ``outputs.pb`` or ``error.pb`` from the output prefix.

``flyrun-execute`` (flyrun's task entrypoint) runs as ``sys.executable -m flyrun.idl.entrypoint`` so the task
uses the same Python and flyrun as the server; container tasks run where ``--container-runtime`` says
(``containers.py``). Any other command (flytekit's ``pyflyte-fast-execute ... pyflyte-execute ...`` as pyflyte
registers it, ``pyflyte-map-execute``) runs on this machine as the host runtime runs a container: the folder of
the task Python (``flyrun sandbox start --task-python``, default the server's own) first on PATH, so its
flytekit's programs are the ones found, and container folders on the command line (``--dest-dir /root``) mapped
to the attempt's own work folder.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import flyrun
from flyrun.protocol.templates import TemplateError, render
from flyrun.sandbox import limits
from flyrun.sandbox.engine import containers
from flyrun.sandbox.engine.literals import literal_map, read_literal_map, write_message
from flyrun.sandbox.engine.records import USER, NodeRecord
from flyrun.sandbox.engine.runtime import Aborted, ArrayItem, NodeFailed, RunContext, Scope, stop_process
from flyrun.sandbox.engine.secrets import secret_environment

_FLYRUN_ROOT = str(Path(flyrun.__file__).resolve().parent.parent)  # the folder holding the flyrun package


_RECOVERABLE = 1  # flyteidl.core.ContainerError.Kind.RECOVERABLE
_LOG_TAIL = 2000


class Attempt:
    """One try of a task: where its files go and the values its argument templates take."""

    def __init__(self, ctx: RunContext, unique_id: str, node_dir: Path, number: int,
                 item: ArrayItem | None = None) -> None:
        self.unique_id = unique_id
        self.number = number
        self.item = item
        self.input_path = node_dir / "inputs.pb"
        self.output_prefix = node_dir / str(number)
        self.raw_prefix = ctx.raw_prefix(unique_id, number)
        self.checkpoint = f"{self.raw_prefix}/_flytecheckpoints"
        self.previous_checkpoint = f"{ctx.raw_prefix(unique_id, number - 1)}/_flytecheckpoints" if number else ""
        self.work_dir = ctx.work_dir(unique_id, number)
        self.log_path = self.output_prefix / "task.log"

    def indexes_itself(self, task: Any) -> bool:
        """Whether this array item's task picks its values from the array's inputs by index, as map tasks of
        task_type_version 1 (flytekit's ArrayNodeMapTask, flyrun's map) do; a raw container or a task of
        version 0 is given its item's own inputs."""
        return self.item is not None and task.task_type_version >= 1 and not containers.is_container_task(task)

    def values(self, task: Any = None) -> dict[str, str]:
        input_path = self.input_path
        if self.item is not None and task is not None and self.indexes_itself(task):
            input_path = self.item.inputs_path  # the array's inputs, as propeller gives them (ArrayItem)
        return {"input": str(input_path), "inputprefix": str(input_path.parent),
                "outputprefix": str(self.output_prefix), "rawoutputdataprefix": self.raw_prefix,
                "checkpointoutputprefix": self.checkpoint, "prevcheckpointprefix": self.previous_checkpoint}


def substitute(words: list[str], values: dict[str, str], inputs: Any) -> list[str]:
    """Replace ``{{.input}}``, ``{{.outputPrefix}}``, ... and ``{{.Inputs.name}}`` as propeller does."""
    try:
        return render(words, inputs, values)
    except TemplateError as error:
        raise NodeFailed.of("BadTaskSpec", f"the command of the task: {error}", USER) from None


def command_of(task: Any) -> list[str]:
    """The task's command line: its container's, or the primary container's of its pod spec."""
    if task.HasField("container"):
        return [*task.container.command, *task.container.args]
    if task.HasField("k8s_pod"):
        container = containers.primary_container(task)
        return [*container.get("command", []), *container.get("args", [])]
    raise NodeFailed.of("UnsupportedTask", f"task {task.id.name} of type {task.type!r} has no container to run")


FLYRUN_ENTRYPOINT = "flyrun-execute"
# flytekit's fast-register entrypoint and the option naming the folder its code bundle is unpacked into: a
# container path (pyflyte's default is /root), which on this machine becomes the attempt's own work folder.
_DEST_DIR_OPTIONS = {"pyflyte-fast-execute": "--dest-dir"}


def local_argv(words: list[str], work_dir: Path | None = None) -> list[str]:
    """The command as this machine runs it: flyrun-execute in the server's Python; any other command as written,
    with a container folder its entrypoint unpacks code into mapped to ``work_dir``."""
    if words and words[0] == FLYRUN_ENTRYPOINT:
        return [sys.executable, "-m", "flyrun.idl.entrypoint", *words[1:]]
    option = _DEST_DIR_OPTIONS.get(os.path.basename(words[0])) if words else None
    if option is None or work_dir is None:
        return words
    mapped = list(words)
    end = mapped.index("--") if "--" in mapped else len(mapped)  # only the entrypoint's own options
    for index in range(1, end):
        if mapped[index] == option and index + 1 < end:
            mapped[index + 1] = str(work_dir)
        elif mapped[index].startswith(option + "="):
            mapped[index] = f"{option}={work_dir}"
    return mapped


def task_python_path(task_python: str, path: str) -> str:
    """PATH with the task Python's folder first (not resolved: a virtual environment's ``bin`` holds links)."""
    folder = os.path.dirname(os.path.abspath(task_python))
    return os.pathsep.join([folder, *(p for p in path.split(os.pathsep) if p and p != folder)])


# What every task process gets from the server's environment: enough to find programs, a home, a locale and a
# scratch folder. Nothing else of the operator's shell reaches a task (its secrets would be in every task.log).
BASE_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
# Settings for remote storage, passed only to a task whose command line or raw output prefix names a remote URI.
STORAGE_VARIABLES = ("FLYRUN_STORAGE_ENDPOINT", "FLYRUN_STORAGE_ACCESS_KEY", "FLYRUN_STORAGE_SECRET_KEY",
                     "FLYTE_AWS_ENDPOINT", "FLYTE_AWS_ACCESS_KEY_ID", "FLYTE_AWS_SECRET_ACCESS_KEY",
                     "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                     "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE",
                     "AWS_SHARED_CREDENTIALS_FILE", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT",
                     "STORAGE_EMULATOR_HOST", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
                     "https_proxy", "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
# What docker or podman itself needs to reach its daemon, for container tasks only.
ENGINE_VARIABLES = ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY",
                    "CONTAINER_HOST", "XDG_RUNTIME_DIR")
TASK_ENV_VARIABLE = "FLYRUN_SANDBOX_TASK_ENV"


def operator_task_env(environ: Mapping[str, str]) -> dict[str, str]:
    """What the operator passed with ``flyrun sandbox start --task-env`` (JSON in FLYRUN_SANDBOX_TASK_ENV)."""
    text = environ.get(TASK_ENV_VARIABLE, "")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{TASK_ENV_VARIABLE} must be a JSON object of strings, as `flyrun sandbox start "
                         "--task-env NAME[=VALUE]` writes it")
    return {str(k): v for k, v in value.items()}


_REMOTE_URI = re.compile(r"\b(?!file://)[a-z][a-z0-9+.-]*://")


def _names_remote_storage(words: Sequence[str], raw_prefix: str, inputs: Any) -> bool:
    """Whether the task will read or write remote storage: its command line, its raw output prefix or a file,
    directory or dataset among its inputs names a URI other than ``file://``."""
    texts = [*words, raw_prefix]
    if inputs is not None:
        texts.append(inputs.SerializeToString().decode("utf-8", errors="replace"))
    return any(_REMOTE_URI.search(text) for text in texts)


def python_path(include_flyrun: bool = True) -> str:
    """A task process's PYTHONPATH: this flyrun first, then the server's own. flyrun's folder is on the path of its
    own entrypoint and of any command run by the server's Python; not of another Python's, which may be another
    version (with flyrun installed, the folder is site-packages)."""
    return os.pathsep.join(filter(None, [_FLYRUN_ROOT if include_flyrun else None, os.environ.get("PYTHONPATH")]))


def task_environment(ctx: RunContext, task: Any, unique_id: str, attempt: int, words: Sequence[str] = (),
                     raw_prefix: str = "", inputs: Any = None, item: ArrayItem | None = None) -> dict[str, str]:
    """The environment a task process starts with, as propeller builds a pod's: a minimal base, then the
    operator's ``--task-env``, the task's own env, the execution's envs, the FLYTE_INTERNAL_* ids flytekit reads
    its execution and task ids from, and an array item's index.

    Never the server's whole environment: the operator's secrets (FLYRUN_SANDBOX_CLIENT_SECRET, cloud keys
    not meant for tasks) would reach every task, its task.log and the console's log route.
    """
    server = os.environ
    names = list(BASE_VARIABLES)
    if _names_remote_storage(words, raw_prefix, inputs):
        names += STORAGE_VARIABLES
    if containers.is_container_task(task):
        names += ENGINE_VARIABLES
    env = {name: server[name] for name in names if name in server}
    env.setdefault("PATH", os.defpath)
    task_python = ctx.task_python or sys.executable
    own_python = os.path.realpath(task_python) == os.path.realpath(sys.executable)
    runs_flyrun = bool(words) and words[0] == FLYRUN_ENTRYPOINT
    if not runs_flyrun and not containers.is_container_task(task):
        env["PATH"] = task_python_path(task_python, env["PATH"])
    env["PYTHONPATH"] = python_path(include_flyrun=runs_flyrun or own_python)
    env["PYTHONUNBUFFERED"] = "1"  # task.log shows output as it happens, as a pod's log does
    env.update(ctx.task_env)
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
    if item is not None:
        env.update(item.environment())
    if task.metadata.is_eager:  # its calls become child executions, launched through this server's API
        env.update(ctx.admin_env)
    return env


def run_task(ctx: RunContext, record: NodeRecord, node: Any, task: Any, inputs: Any, node_dir: Path,
             scope: Scope, item: ArrayItem | None = None) -> tuple[Any, str]:
    """Run the task's attempts; returns (outputs LiteralMap, outputs.pb path) or raises NodeFailed/Aborted."""
    retries = node.metadata.retries.retries if node.metadata.HasField("retries") else 0
    # Capped here too: entities registered before the cap (or by an older server) may ask for more.
    retries = min(retries or task.metadata.retries.retries, limits.MAX_RETRIES)
    first = record.extra.get("attempt", -1) + 1
    deadline = time.monotonic() + node.metadata.timeout.ToTimedelta().total_seconds() \
        if node.metadata.HasField("timeout") and node.metadata.timeout.ToNanoseconds() > 0 else None
    failure: NodeFailed | None = None
    for number in range(first, first + max(1, retries + 1 - first)):
        if number > 0:
            _back_off(limits.backoff(number), scope, deadline)
        attempt = Attempt(ctx, record.node_id, node_dir, number, item)
        record.note(attempt=number, log=str(attempt.log_path))
        began = time.time()
        try:
            return _run_attempt(ctx, task, inputs, attempt, scope, deadline)
        except _Retryable as retryable:
            failure = retryable.failure
            if deadline is not None and time.monotonic() >= deadline:
                break
        finally:
            _note_deck(record, attempt)
            # Each attempt's span, so the console's timeline draws a retry as a bar of its own.
            record.note(attempts=[*record.extra.get("attempts", []), [round(began, 3), round(time.time(), 3)]])
    assert failure is not None
    raise failure


def _back_off(seconds: float, scope: Scope, deadline: float | None) -> None:
    """Wait before a retry (a failing task must not respawn in a tight loop); a terminate ends the wait."""
    end = time.monotonic() + seconds
    if deadline is not None:
        end = min(end, deadline)
    while time.monotonic() < end:
        if scope.stopped:
            raise Aborted()
        time.sleep(min(0.05, max(end - time.monotonic(), 0)))


def _note_deck(record: NodeRecord, attempt: Attempt) -> None:
    """propeller's deck_uri: the attempt's ``deck.html``, when the task wrote one (also when it failed)."""
    deck = attempt.output_prefix / "deck.html"
    if deck.is_file():
        record.message.closure.deck_uri = str(deck)


class Futures:
    """What a dynamic task's attempt produced instead of outputs: its ``futures.pb`` (a DynamicJobSpec)."""

    def __init__(self, path: Path, attempt: int) -> None:
        self.path, self.attempt = path, attempt


class _Retryable(Exception):
    def __init__(self, failure: NodeFailed) -> None:
        super().__init__(failure.error.message)
        self.failure = failure


def _run_attempt(ctx: RunContext, task: Any, inputs: Any, attempt: Attempt, scope: Scope,
                 deadline: float | None) -> tuple[Any, str]:
    attempt.output_prefix.mkdir(parents=True, exist_ok=True)
    attempt.work_dir.mkdir(parents=True, exist_ok=True)
    words = substitute(command_of(task), attempt.values(task), inputs)
    env = task_environment(ctx, task, attempt.unique_id, attempt.number, words, attempt.raw_prefix, inputs,
                           attempt.item if attempt.indexes_itself(task) else None)
    if containers.is_container_task(task):
        argv = containers.container_argv(task, words, attempt, inputs, env, ctx.container_runtime)
    else:
        argv = local_argv(words, attempt.work_dir)
    if not argv:  # refused at registration; a task stored by an older server can still have none
        raise NodeFailed.of("NothingToRun", f"task {task.id.name} has no command and no args to run", USER)
    limit = task.metadata.timeout.ToTimedelta().total_seconds() if task.metadata.HasField("timeout") else 0
    pooled = None
    if ctx.task_pool is not None:
        unsuitable = ctx.task_pool.unsuitable(argv, env, containers.is_container_task(task))
        if unsuitable is None:
            pooled = task.container.image if task.HasField("container") else ""
        else:
            ctx.task_pool.debug(f"task pool: {task.id.name}: a fresh process: {unsuitable}")
    code, timed_out = _run_process(ctx, argv, env, attempt, scope, limit or None, deadline, pooled,
                                   take_slots=not task.metadata.is_eager)
    try:
        if timed_out:
            seconds = limit if limit else "its node"
            raise _Retryable(NodeFailed.of("Timeout", f"task {task.id.name} exceeded its timeout ({seconds}s)",
                                           USER, timed_out=True))
        if containers.is_container_task(task):
            containers.collect_outputs(task, attempt, code)
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
    futures_path = attempt.output_prefix / "futures.pb"
    if futures_path.exists():  # a dynamic task's graph: the walker runs it (flyrun.sandbox.engine.dynamic)
        return Futures(futures_path, attempt.number), str(futures_path)
    if outputs_path.exists():
        return read_literal_map(outputs_path), str(outputs_path)
    if task.interface.outputs.variables:
        raise NodeFailed.of("OutputsNotFound", f"task {task.id.name} exited 0 but wrote no outputs.pb to "
                                               f"{attempt.output_prefix}{_log_tail(attempt.log_path)}", USER)

    write_message(outputs_path, literal_map())
    return literal_map(), str(outputs_path)


def _log_tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return f"\n{text[-_LOG_TAIL:]}" if text else ""


DIE_WITH_PARENT_VARIABLE = "FLYRUN_DIE_WITH_PARENT"
# For a command that is not flyrun-execute, on a Linux without setpriv: ask the kernel to SIGKILL this process
# when its parent (the server) dies, check the parent is still the server, then become the task.
_GUARD = ("import ctypes,os,sys\n"
          "ctypes.CDLL(None,use_errno=True).prctl(1,9)\n"
          "if os.getppid()!=int(sys.argv[1]):os._exit(137)\n"
          "os.execvp(sys.argv[2],sys.argv[2:])\n")


@functools.lru_cache(maxsize=1)
def _setpriv() -> str | None:
    return shutil.which("setpriv")


def guarded(argv: list[str], env: dict[str, str], cwd: Path) -> list[str]:
    """The command line that makes the kernel kill the task if the server dies, even by SIGKILL.

    Not a ``preexec_fn``: the server is multi-threaded, and CPython documents that a pre-exec hook can deadlock
    there. The request is made in the child's own code path instead: flyrun-execute does it itself when
    FLYRUN_DIE_WITH_PARENT names its parent; any other command starts through ``setpriv --pdeathsig`` (or a
    few lines of Python that do the same, then exec the command).
    """
    program = argv[0]
    found = os.path.join(cwd, program) if os.sep in program else shutil.which(program, path=env.get("PATH"))
    if found is None or not os.path.exists(found):
        raise NodeFailed.of("CommandNotFound", f"cannot start {program!r}: No such file or directory", USER)
    if not sys.platform.startswith("linux"):
        return argv
    if argv[1:3] == ["-m", "flyrun.idl.entrypoint"]:
        env[DIE_WITH_PARENT_VARIABLE] = str(os.getpid())
        return argv
    setpriv = _setpriv()
    if setpriv is not None:
        return [setpriv, "--pdeathsig", "KILL", "--", *argv]
    return [sys.executable, "-I", "-S", "-c", _GUARD, str(os.getpid()), *argv]


def _run_process(ctx: RunContext, argv: list[str], env: dict[str, str], attempt: Attempt, scope: Scope,
                 limit: float | None, deadline: float | None, pooled: str | None = None,
                 take_slots: bool = True) -> tuple[int, bool]:
    """Start and wait for the task process; returns (exit code, timed out). ``pooled`` (the task's image) says
    the process may be forked from the task pool's zygote for its code version.

    It holds one of the execution's ``max_parallelism`` slots (if set) and one CPU slot while it runs.
    """
    held: list[Any] = []
    # An eager task mostly waits for its child executions, whose tasks need the slots: holding one while they
    # wait for it would deadlock nested eager workflows on a small machine.
    try:
        for slots in (ctx.parallelism, ctx.slots) if take_slots else ():
            if slots is None:
                continue
            while not slots.acquire(timeout=0.2):
                if scope.stopped:
                    raise Aborted()
            held.append(slots)
        if scope.stopped:
            raise Aborted()
        return _spawn(ctx, argv, env, attempt, scope, limit, deadline, pooled)
    finally:
        for slots in reversed(held):
            slots.release()


def _spawn(ctx: RunContext, argv: list[str], env: dict[str, str], attempt: Attempt, scope: Scope,
           limit: float | None, deadline: float | None, pooled: str | None = None) -> tuple[int, bool]:
    with open(attempt.log_path, "wb") as log:
        process: Any = None
        if pooled is not None:
            process = ctx.task_pool.start(argv, env, attempt.work_dir, log.fileno(), pooled)
        if process is None:
            process = _popen(argv, env, attempt, log)
        ctx.track(process)
        try:
            return _wait(process, scope, limit, deadline)
        finally:
            ctx.untrack(process)


def _popen(argv: list[str], env: dict[str, str], attempt: Attempt, log: Any) -> subprocess.Popen:
    argv = guarded(argv, env, attempt.work_dir)
    try:
        # Its own session: stopping the task stops its whole process group, and a Ctrl-C at the server's
        # terminal is the server's to handle.
        return subprocess.Popen(argv, cwd=attempt.work_dir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as error:
        raise NodeFailed.of("CommandNotFound", f"cannot start {argv[0]!r}: {error.strerror}", USER) from None


def _wait(process: Any, scope: Scope, limit: float | None, deadline: float | None) -> tuple[int, bool]:
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
    """Wakes the moment a process ends: a pidfd on Linux, polling elsewhere; a task forked from the pool says
    when it ends itself (``ended``: its pidfd, or the exit code it tells as it exits).

    (``Popen.wait(timeout)`` sleeps in steps of up to 50 ms, which would add that much to every task.)
    """

    def __init__(self, process: Any) -> None:
        self.process = process
        self.pidfd: int | None = None
        if hasattr(process, "ended"):
            return
        try:
            self.pidfd = os.pidfd_open(process.pid)
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
        if hasattr(self.process, "ended"):
            self.process.ended(timeout)
            return self.process.poll() is not None
        if self.pidfd is None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        import select

        select.select([self.pidfd], [], [], timeout)
        return self.process.poll() is not None
