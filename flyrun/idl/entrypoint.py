"""``flyrun-execute``: run one task inside a task container, as Flyte's propeller runs ``pyflyte-execute``.

The contract (the container arguments ``flyrun.idl.tasks`` writes; the container's command is empty)::

    flyrun-execute --inputs {{.input}} --output-prefix {{.outputPrefix}}
        --raw-output-data-prefix {{.rawOutputDataPrefix}}
        --checkpoint-path {{.checkpointOutputPrefix}} --prev-checkpoint {{.prevCheckpointPrefix}}
        [--bundle <code bundle URI> --dest-dir <dir>] [--compat flytekit]
        --resolver flyrun.default -- task-module <module> task-name <attribute>

1. With ``--bundle`` (a local path, ``file://``, ``s3://``, ``gs://``...), the ``.tar.gz`` is downloaded and unpacked
   into ``--dest-dir`` (default ``.``), which then goes first on ``sys.path``: modules are imported by their
   dotted name from the project root, exactly as ``flyrun run`` imported them.
2. With ``--compat flytekit`` the user's ``flytekit`` imports resolve to flyrun's names (``flyrun.compat``), as
   they did when the task was packaged. The resolver imports the task: ``flyrun.default`` takes
   ``task-module M task-name A``; ``flyrun.map`` takes
   ``vars "<bound,...>" resolver flyrun.default task-module M task-name A`` and runs ONE item of a map task.
3. ``--inputs`` names a binary ``flyteidl.core.LiteralMap`` (``inputs.pb``). For a map item it holds that item's
   values: scalars for the mapped inputs, bound inputs as they are. Flyte's array convention works too: when
   ``BATCH_JOB_ARRAY_INDEX_VAR_NAME`` names a variable holding the index (plus ``BATCH_JOB_ARRAY_INDEX_OFFSET``),
   mapped inputs given as whole collections are indexed.
4. The task runs; files and directories it returns are written under ``--raw-output-data-prefix``.
5. Success: ``<output-prefix>/outputs.pb`` (a ``LiteralMap``), exit 0. Failure: ``<output-prefix>/error.pb``
   (a ``flyteidl.core.ErrorDocument``: origin USER with the task's exception and traceback, NON_RECOVERABLE;
   origin SYSTEM, RECOVERABLE, when the bundle, inputs or storage failed), the message also goes to stderr
   and to the Kubernetes termination log when there is one, and the exit status is 1. Bad arguments exit 2.

The checkpoint paths are ``current_context().checkpoint`` (this attempt's and the previous one's); a task
with ``enable_deck=True`` also writes ``<output-prefix>/deck.html``. Only what the task needs is imported:
protobuf for the literal maps, fsspec only when a URI is remote, the user's module and what it imports.
"""

from __future__ import annotations

import argparse
import functools
import os
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flyrun import compat
from flyrun.data.fs import storage_options_from_environment
from flyrun.errors import ConfigError, TaskExecutionError, UsageError
from flyrun.exceptions.user import FlyteRecoverableException
from flyrun.idl import literals, resolver, storage
from flyrun.sdk.context import ExecutionContext, use_context
from flyrun.sdk.params import task_scope
from flyrun.sdk.workflow import deferred_tracing
from flyrun.types import engine

TERMINATION_LOG = "/dev/termination-log"
EAGER_ADMIN_VARIABLE = "FLYTE_PLATFORM_URL"  # where an eager body launches its calls (propeller and the sandbox set it)


class Failure(Exception):
    """A failure to report in error.pb: who caused it (USER or SYSTEM) and the message."""

    def __init__(self, origin: str, code: str, message: str, recoverable: bool | None = None) -> None:
        super().__init__(message)
        self.origin, self.code, self.message = origin, code, message
        # SYSTEM failures are retried; USER ones only when the task raised FlyteRecoverableException.
        self.recoverable = origin != "USER" if recoverable is None else recoverable


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.loader_args[:1] == ["--"]:
        args.loader_args = args.loader_args[1:]
    if not args.loader_args:
        parser.error("the resolver's arguments are missing (after --)")
    return args


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """The command line's parser, built once per process: a warm zygote builds it, so a forked task only parses
    (building one in a fresh fork costs ~2 ms of copy-on-write page faults, parsing with it ~0.5 ms)."""
    parser = argparse.ArgumentParser(prog="flyrun-execute", description="Run one flyrun task (Flyte container).")
    parser.add_argument("--inputs", required=True, help="inputs.pb: a path or URI")
    parser.add_argument("--output-prefix", required=True, help="where outputs.pb or error.pb go")
    parser.add_argument("--raw-output-data-prefix", default="", help="where files the task returns go")
    parser.add_argument("--checkpoint-path", default="")
    parser.add_argument("--prev-checkpoint", default="")
    parser.add_argument("--bundle", default="", help="the code bundle (.tar.gz): a path or URI")
    parser.add_argument("--dest-dir", default=".", help="where the bundle is unpacked")
    parser.add_argument("--resolver", default="flyrun.default")
    parser.add_argument("--compat", default="", choices=["", "flytekit"],
                        help="import flytekit's names as flyrun's (the task was packaged with --flytekit-compat)")
    parser.add_argument("loader_args", nargs=argparse.REMAINDER, help="-- followed by the resolver's arguments")
    return parser


def main(argv: list[str] | None = None) -> None:
    _die_with_parent()
    _end(execute(sys.argv[1:] if argv is None else argv))


def forked(fds: list[int], argv: list[str], env: dict[str, str], cwd: str) -> None:
    """``flyrun-execute ARGV`` in a child forked from a warm zygote (``flyrun.protocol.zygote``), set up as the
    sandbox sets up a fresh process: its own process group (a terminate stops the group), ``cwd``, exactly ``env``,
    stdin from /dev/null, stdout and stderr into the log file ``fds[0]``. The zygote already asked the kernel to
    kill this process when it ends."""
    import io

    os.setpgid(0, 0)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(fds[0], 1)
    os.dup2(fds[0], 2)
    os.close(fds[0])
    # New streams on the new descriptors, unbuffered as PYTHONUNBUFFERED makes a fresh process's: the log shows
    # output as it happens.
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True, line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True, line_buffering=True,
                                  errors="backslashreplace")
    sys.argv = ["flyrun-execute", *argv]
    _end(execute(argv))


def warm(bundle: str, dest_dir: str, modules: list[str], env: dict[str, str], compat_mode: str = "") -> dict[str, Any]:
    """In a zygote for one code version: unpack its bundle into ``dest_dir`` and import ``modules`` from it (with
    workflow tracing deferred, as a task run does) under the task's environment, so that every task forked from
    it finds them loaded. Returns what could not be imported (each task run then reports it itself) and how many
    threads run now (a module that starts one makes forking unsafe)."""
    import importlib
    import threading

    os.environ.clear()
    os.environ.update(env)  # a module that reads a variable at import sees the task's value
    compat.install(compat_mode)  # as the task's own `--compat`: its modules import flytekit's names as flyrun's
    _parser()  # built here once, shared by every forked task
    # A literal map through protobuf and the type engine once, so the lazy set-up that does (descriptors,
    # dispatch caches) is done here and not again in every task (~0.5 ms each).
    read = literals.literal_map_from_bytes(literals.literal_map_to_bytes(literals.to_literal_map({"x": 1}, {"x": int})))
    engine.to_python(read["literals"]["x"], int)
    if bundle:
        _unpack_code(bundle, Path(dest_dir), os.environ)
        unpacked = _Unpacked.read(bundle, Path(dest_dir))  # before an import writes __pycache__ there
        _UNPACKED[:] = [unpacked] if unpacked is not None else []
        os.chdir(dest_dir)  # as a task's working folder holds its unpacked bundle, for code that looks at import
    failed = []
    with deferred_tracing():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
    return {"failed": failed, "threads": _thread_count(threading.active_count())}


def _thread_count(python_threads: int) -> int:
    """The process's threads as the kernel sees them: a library may start native ones at import (OpenBLAS,
    pyarrow's pools), which Python does not count and which make a fork unsafe just the same."""
    try:
        return max(python_threads, len(os.listdir("/proc/self/task")))
    except OSError:
        return python_threads


def _end(code: int) -> None:
    """Exit once the task's files are written, without running native libraries' exit-time destructors.

    A thread pool that pyarrow or duckdb leaves running can make the C++ runtime abort (SIGABRT, "terminate called
    without an active exception") while the process exits, after outputs.pb was written: the platform would then
    see a failed task. Python's own exit handlers still run, and the streams are flushed.
    """
    import atexit

    atexit._run_exitfuncs()
    logging = sys.modules.get("logging")  # only if the task used it: importing it costs a forked task ~4 ms
    if logging is not None:
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    zygote = sys.modules.get("flyrun.protocol.zygote")
    if zygote is not None:  # forked from a zygote: tell the sandbox the code now, not once the process is gone
        zygote.end(code)
    os._exit(code)


def _die_with_parent() -> None:
    """When the sandbox started this process (FLYRUN_DIE_WITH_PARENT holds its pid), have the kernel SIGKILL it
    if the sandbox dies, so no task outlives its server. Done here, in the task's own code path, because a
    ``preexec_fn`` in the multi-threaded server can deadlock."""
    parent = os.environ.pop("FLYRUN_DIE_WITH_PARENT", "")  # popped: the task's own children are not ours
    if not parent.isdigit() or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != int(parent):  # the server died before the request was made
        os._exit(137)


def execute(argv: list[str], environ: Mapping[str, str] | None = None) -> int:
    args = parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        name, data = _run(args, environ)
        _write(args.output_prefix, name, data, environ, f"writing {name}")
        return 0
    except Failure as failure:
        _report(args.output_prefix, failure, environ)
    except Exception as exc:  # flyrun's own failure (storage, a bug): still an error.pb, never a bare crash
        _report(args.output_prefix, Failure("SYSTEM", f"SYSTEM:{type(exc).__name__}", _user_traceback(exc)), environ)
    return 1


def _run(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, bytes]:
    """The file to write in the output prefix: ``outputs.pb``, or ``futures.pb`` for a dynamic task's graph."""
    _unpack_code(args.bundle, Path(args.dest_dir), environ)
    if args.compat:
        compat.install(args.compat)
    loaded = _load(args.resolver, args.loader_args)
    inputs = _read_inputs(args.inputs, loaded, environ)
    return _call(loaded, inputs, args, environ)


def _unpack_code(bundle: str, dest_dir: Path, environ: Mapping[str, str]) -> None:
    if bundle:
        if "{{" in bundle:
            raise Failure("SYSTEM", "SYSTEM:BundleNotUploaded", f"--bundle {bundle} was never filled in with the "
                          "uploaded bundle's location")
        from flyrun.idl.bundle import extract_archive

        try:
            if _UNPACKED and _UNPACKED[0].bundle == bundle:  # forked from the zygote of this code version
                _UNPACKED[0].write(dest_dir)
                return _on_path(dest_dir)
            with tempfile.TemporaryDirectory(prefix="flyrun-bundle-") as scratch:
                archive = storage.download(bundle, Path(scratch) / "bundle.tar.gz", environ)
                extract_archive(archive, dest_dir)
        except Exception as exc:
            raise Failure("SYSTEM", "SYSTEM:BundleDownloadFailed",
                          f"cannot fetch or unpack the code bundle {bundle}: {type(exc).__name__}: {exc}") from exc
    _on_path(dest_dir)


def _on_path(dest_dir: Path) -> None:
    root = os.path.realpath(dest_dir)
    if root not in sys.path:
        sys.path.insert(0, root)


HELD_BUNDLE_BYTES = 64 << 20  # a bigger bundle is unpacked from its archive by each task, as a fresh process does


class _Unpacked:
    """A code bundle as its zygote unpacked it, held in memory: each task forked from that zygote writes its own
    copy into its working folder from here, the same files with the same modes and times, without reading and
    decompressing the archive again (~3 ms a task). A task that changes its copy changes nothing for the next."""

    def __init__(self, bundle: str, folders: list[tuple[str, int, int]],
                 files: list[tuple[str, int, int, bytes]]) -> None:
        self.bundle, self.folders, self.files = bundle, folders, files

    @classmethod
    def read(cls, bundle: str, root: Path, limit: int = HELD_BUNDLE_BYTES) -> _Unpacked | None:
        """What ``root`` holds right after unpacking; None if it is too big to keep or holds anything but
        folders and regular files (a bundle has nothing else)."""
        folders: list[tuple[str, int, int]] = []
        files: list[tuple[str, int, int, bytes]] = []
        size = 0
        for folder, names, file_names in os.walk(root):
            relative = os.path.relpath(folder, root)
            for name in names:
                info = os.lstat(os.path.join(folder, name))
                if not stat.S_ISDIR(info.st_mode):
                    return None
                folders.append((os.path.normpath(os.path.join(relative, name)), stat.S_IMODE(info.st_mode),
                                info.st_mtime_ns))
            for name in file_names:
                path = os.path.join(folder, name)
                info = os.lstat(path)
                size += info.st_size
                if not stat.S_ISREG(info.st_mode) or size > limit:
                    return None
                with open(path, "rb") as file:
                    files.append((os.path.normpath(os.path.join(relative, name)), stat.S_IMODE(info.st_mode),
                                  info.st_mtime_ns, file.read()))
        return cls(bundle, folders, files)

    def write(self, dest_dir: Path) -> None:
        dest_dir.mkdir(parents=True, exist_ok=True)
        for name, _, _ in self.folders:  # parents first (os.walk lists them first)
            os.makedirs(dest_dir / name, exist_ok=True)
        for name, mode, mtime, data in self.files:
            fd = os.open(dest_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                _write_all(fd, data)
                os.fchmod(fd, mode)
                os.utime(fd, ns=(mtime, mtime))
            finally:
                os.close(fd)
        for name, mode, mtime in reversed(self.folders):  # children first: writing into one changes its mtime
            os.chmod(dest_dir / name, mode)
            os.utime(dest_dir / name, ns=(mtime, mtime))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


_UNPACKED: list[_Unpacked] = []  # in a zygote: the code bundle it unpacked, for the tasks it forks


def _load(resolver_name: str, loader_args: list[str]) -> Any:
    try:
        with deferred_tracing():  # the task is all this process runs: trace no workflow it does not use
            return resolver.load(resolver_name, loader_args)
    except resolver.ResolverError as exc:
        raise Failure("USER", "USER:TaskNotFound", str(exc)) from exc
    except Exception as exc:  # the user's module failed to import
        raise Failure("USER", f"USER:{type(exc).__name__}", _user_traceback(exc)) from exc


def _read_inputs(uri: str, loaded: Any, environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        literal_map = literals.literal_map_from_bytes(storage.read_bytes(uri, environ))
    except Exception as exc:
        raise Failure("SYSTEM", "SYSTEM:InputsUnreadable", f"cannot read inputs {uri}: {type(exc).__name__}: "
                      f"{exc}") from exc
    given = {name: _offloaded(literal, environ) for name, literal in literal_map.get("literals", {}).items()}
    if loaded.is_map_item:
        given = _map_item_literals(given, loaded.bound_inputs, _array_index(environ))
    return _decode(given, loaded.task)


def _offloaded(literal: dict, environ: Mapping[str, str]) -> dict:
    """A literal stored elsewhere (Flyte offloads big ones) is read back in."""
    uri = literal.get("offloaded_metadata", {}).get("uri")
    if not uri:
        return literal

    return literals.literal_from_bytes(storage.read_bytes(uri, environ))


def _array_index(environ: Mapping[str, str]) -> int | None:
    variable = environ.get("BATCH_JOB_ARRAY_INDEX_VAR_NAME")
    if not variable:
        return None
    return int(environ.get(variable, "0")) + int(environ.get("BATCH_JOB_ARRAY_INDEX_OFFSET", "0"))


def _map_item_literals(given: dict[str, dict], bound: frozenset[str], index: int | None) -> dict[str, dict]:
    if index is None:
        return given
    item = {}
    for name, literal in given.items():
        if name not in bound and "collection" in literal:
            literal = literal["collection"].get("literals", [])[index]
        item[name] = literal
    return item


def _decode(given: dict[str, dict], task: Any) -> dict[str, Any]:
    values = dict(task.interface.defaults)
    for name, python_type in task.interface.inputs.items():
        if name in given:
            try:
                values[name] = engine.to_python(given[name], python_type)
            except Exception as exc:
                raise Failure("USER", "USER:InputMismatch", f"input '{name}' of {task.name} does not decode as "
                              f"{engine.describe(python_type)}: {type(exc).__name__}: {exc}") from exc
        elif name not in values:
            raise Failure("USER", "USER:MissingInput", f"inputs.pb has no value for input '{name}' of {task.name}")
    return values


def _call(loaded: Any, inputs: dict[str, Any], args: argparse.Namespace,
          environ: Mapping[str, str]) -> tuple[str, bytes]:
    task = loaded.task
    context = ExecutionContext(raw_output_prefix=args.raw_output_data_prefix.rstrip("/"),
                               storage_options=storage_options_from_environment(environ),
                               execution_id=environ.get("FLYTE_INTERNAL_EXECUTION_ID", "flyrun-execute"),
                               project=environ.get("FLYTE_INTERNAL_EXECUTION_PROJECT", ""),
                               domain=environ.get("FLYTE_INTERNAL_EXECUTION_DOMAIN", ""),
                               output_prefix=args.output_prefix.rstrip("/"),
                               checkpoint_path=_given_path(args.checkpoint_path),
                               prev_checkpoint=_given_path(args.prev_checkpoint),
                               attempt=int(environ.get("FLYTE_ATTEMPT_NUMBER", "0") or 0),
                               notify=lambda message: print(message, file=sys.stderr))
    if getattr(task, "is_eager", False) and environ.get(EAGER_ADMIN_VARIABLE):
        # On a platform an eager body's calls are child executions (flyrun-execute is a program, as the CLI is:
        # it may use the admin client).
        from flyrun.remote.eager import from_environment

        context.child_launcher = from_environment(environ, args.bundle, args.dest_dir)
    with use_context(context):
        try:
            if getattr(task, "is_dynamic", False) and not loaded.is_map_item:
                futures = _futures(task, inputs, args, environ)
                if futures is not None:
                    return "futures.pb", futures
            outputs = task.run_function(inputs)
        except TaskExecutionError as exc:
            raise Failure("USER", f"USER:{type(exc.error).__name__}", _user_traceback(exc.error),
                          recoverable=isinstance(exc.error, FlyteRecoverableException)) from exc
        except (ConfigError, UsageError) as exc:  # e.g. a secret the task reads is missing: one line, no traceback
            raise Failure("USER", f"USER:{type(exc).__name__}", str(exc)) from exc
        try:
            return "outputs.pb", literals.literal_map_to_bytes(literals.to_literal_map(outputs,
                                                                                       task.interface.outputs))
        except Exception as exc:
            raise Failure("SYSTEM", "SYSTEM:OutputsFailed", f"cannot store the outputs of {task.name}: "
                          f"{type(exc).__name__}: {exc}") from exc


def _futures(task: Any, inputs: dict[str, Any], args: argparse.Namespace, environ: Mapping[str, str]) -> \
        bytes | None:
    """A dynamic task's graph as ``futures.pb`` (the engine runs its nodes); None when the body made no nodes,
    whose outputs are then plain values (``outputs.pb``), as flytekit does."""
    from flyrun.idl.dynamic import dynamic_job_spec_bytes, settings_from_environment

    with task_scope(task, inputs, None):
        built = task.build(inputs)
    if not built.nodes:
        return None
    settings = settings_from_environment(environ, args.bundle, args.dest_dir)
    try:
        return dynamic_job_spec_bytes(task, built, settings)
    except Exception as exc:
        raise Failure("SYSTEM", "SYSTEM:FuturesFailed", f"cannot write the graph of dynamic task {task.name}: "
                      f"{type(exc).__name__}: {exc}") from exc


def _given_path(value: str) -> str:
    """Propeller renders a missing checkpoint as the two characters ``""``; an unrendered template means none too."""
    return "" if value in ("", '""') or "{{" in value else value


def _user_traceback(error: BaseException) -> str:
    """``Type: message`` first (what a console shows in one line), then the traceback."""
    summary = "".join(traceback.format_exception_only(type(error), error)).strip()
    if hasattr(error, "type_name"):  # a child execution's error, known by the type it had there
        summary = f"{error.type_name}: {error}"

    frames = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    return f"{summary}\n\nTraceback (most recent call last):\n{frames}"


def _write(prefix: str, name: str, data: bytes, environ: Mapping[str, str], what: str) -> None:
    try:
        storage.write_bytes(storage.join(prefix, name), data, environ)
    except Exception as exc:
        raise Failure("SYSTEM", "SYSTEM:StorageFailed", f"{what} under {prefix}: {type(exc).__name__}: "
                      f"{exc}") from exc


def _report(prefix: str, failure: Failure, environ: Mapping[str, str]) -> None:
    print(f"flyrun-execute: {failure.code}: {failure.message}", file=sys.stderr)
    _write_termination_log(failure)
    try:
        _write(prefix, "error.pb", error_document(failure), environ, "writing error.pb")
    except Failure as unwritable:
        print(f"flyrun-execute: {unwritable.message}", file=sys.stderr)


def error_document(failure: Failure) -> bytes:
    from flyteidl.core import errors_pb2, execution_pb2

    error = errors_pb2.ContainerError(
        code=failure.code, message=failure.message,
        kind=errors_pb2.ContainerError.RECOVERABLE if failure.recoverable else
        errors_pb2.ContainerError.NON_RECOVERABLE,
        origin=execution_pb2.ExecutionError.ErrorKind.Value(failure.origin))
    error.timestamp.FromNanoseconds(time.time_ns())
    return errors_pb2.ErrorDocument(error=error).SerializeToString()


def _write_termination_log(failure: Failure) -> None:
    # Kubernetes shows this file's text as the container's termination message (what propeller reports).
    if os.path.exists(TERMINATION_LOG) and os.access(TERMINATION_LOG, os.W_OK):
        try:
            with open(TERMINATION_LOG, "w") as log:
                log.write(f"{failure.code}: {failure.message}"[-4000:])
        except OSError:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
