"""Warm, isolated processes for the sandbox's Python tasks: a zygote per code version, a fork per attempt.

A task whose command is ``flyrun-execute`` with the sandbox's own Python and a code bundle (what ``flyrun run
--remote`` and ``pyflyte register`` produce) runs in a child forked from a warm zygote instead of a fresh
interpreter: about a millisecond instead of ~140 ms. The pool (``flyrun.protocol.zygote``, the same zygote the local
map uses) is:

- a *base* zygote, a fresh interpreter spawned on first use that imports flyrun's task side (protobuf, flyteidl,
  the type engine). The server is multi-threaded, so it never forks itself;
- one *version* zygote per code version, forked from the base: it unpacks that version's bundle into its own
  folder and imports the task modules (workflow tracing deferred), under the task's environment. The key is the
  bundle's content digest (its URI for remote storage, whose names are content digests), the image and the
  task's static environment, so a new registration always gets a new zygote and never old modules. At most
  ``MAX_VERSIONS`` live; the least recently used idle one is retired for a new one;
- one child per attempt, forked from the version zygote, which runs ``flyrun-execute`` exactly as a fresh process
  would (``flyrun.idl.entrypoint.forked``): the task's environment only, its working dir, stdout/stderr into its
  task.log, its own process group (a terminate or a timeout stops the group), killed by the kernel if its zygote
  ends. It writes its own copy of the code into its folder from what the zygote unpacked (held in memory), and
  tells its exit code on a pipe as it exits (``told``), so a node ends without waiting for the process teardown.
  The sandbox ending closes the base zygote's socket, which ends every zygote and so every child.

Anything else gets a fresh process, and the server says why when it runs with ``-v``: container tasks, another
Python or command, a task environment that sets interpreter variables (PYTHON*, LD_*), no code bundle (the code on
disk could change between runs), or the pool turned off (``--no-task-pool``, ``sandbox.taskPool: false``,
``FLYRUN_SANDBOX_TASK_POOL=0``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flyrun.protocol.zygote import Zygote

MAX_VERSIONS = 4  # version zygotes kept warm at once
WARM_SECONDS = 120.0  # a code version whose modules take longer to import than this runs in fresh processes
ENTRYPOINT = "flyrun.idl.entrypoint"
# What every flyrun-execute imports, loaded once by the base zygote.
BASE_PRELOAD = (
    "flyrun", "flyrun.errors", "flyrun.idl.entrypoint", "flyrun.idl.resolver", "flyrun.idl.literals",
    "flyrun.idl.storage", "flyrun.idl.bundle", "flyrun.types.engine", "flyrun.sdk.task", "flyrun.sdk.workflow",
    "flyrun.sdk.context", "flyrun.data.fs", "flyrun.exceptions.user", "flyteidl.core.literals_pb2",
    "flyteidl.core.errors_pb2", "flyteidl.core.execution_pb2", "google.protobuf.json_format",
    "google.protobuf.descriptor_pb2",
)


def _per_run(name: str) -> bool:
    """The platform's ids of this execution, node, task and attempt: they differ from task to task, and code
    reads them while it runs (current_context()), not when its module is imported."""
    return name.startswith("FLYTE_INTERNAL_") or name == "FLYTE_ATTEMPT_NUMBER"


class _Version:
    """One version zygote and what it has imported."""

    def __init__(self, key: str, folder: Path) -> None:
        self.key, self.folder = key, folder
        self.zygote: Any = None
        self.modules: set[str] = set()
        self.running = 0
        self.used = time.monotonic()
        self.problem = ""  # set when the zygote cannot be used (it started threads, it died)
        self.lock = threading.Lock()  # held while it is made or imports more


class TaskPool:
    """The sandbox's zygotes. ``start`` returns a running child, or None with the reason for a fresh process."""

    def __init__(self, root: Path, enabled: bool = True, log: Callable[[str], None] | None = None,
                 max_versions: int = MAX_VERSIONS) -> None:
        self.root, self.enabled, self.max_versions = root, enabled, max_versions
        self._log = log
        self._base: Any = None
        self._base_problem = ""
        self._versions: dict[str, _Version] = {}
        self._lock = threading.Lock()
        self._base_lock = threading.Lock()
        self._closed = False
        self._digests: dict[tuple[str, int, int], str] = {}
        shutil.rmtree(self.root, ignore_errors=True)  # what a previous server left

    def debug(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    # -- deciding ----------------------------------------------------------------------------------------
    def unsuitable(self, argv: Sequence[str], env: dict[str, str], container: bool) -> str | None:
        """Why this command must run as a fresh process (None: a fork of a zygote runs it the same)."""
        if not self.enabled:
            return "the task pool is off (--no-task-pool)"
        if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"):
            return f"forked task processes are not used on {sys.platform}"
        if container:
            return "a container task runs in its image"
        if list(argv[:3]) != [sys.executable, "-m", ENTRYPOINT]:
            return "its command is not flyrun-execute on the sandbox's own Python"
        interpreter = sorted(name for name in env if (name.startswith(("PYTHON", "LD_")) and
                                                     env[name] != _base_environment().get(name)))
        if interpreter:
            return f"its environment sets {', '.join(interpreter)}, which a started interpreter cannot take"
        if _option(argv, "--bundle") in ("", None):
            return "it has no code bundle (code on disk may change between runs)"
        if self._base_problem:
            return self._base_problem
        return None

    # -- running -----------------------------------------------------------------------------------------
    def start(self, argv: Sequence[str], env: dict[str, str], cwd: Path, log_fd: int, image: str = "") -> Any:
        """Fork the task's process from its code version's zygote; None when that cannot be done (the reason
        goes to the debug log), and the caller starts a fresh process instead."""
        args = list(argv[3:])
        bundle = _option(args, "--bundle") or ""
        module = _loader_value(args, "task-module")
        compat_mode = _option(args, "--compat") or ""  # modules imported in compatibility mode are other modules
        try:
            key = self._key(bundle, image, env, compat_mode)
        except OSError as error:
            self.debug(f"task pool: a fresh process: cannot read the code bundle {bundle}: {error}")
            return None
        version = self._version(key, bundle, env, module, compat_mode)  # counted as running from here
        if version is None:
            return None
        try:
            process = version.zygote.start(f"{ENTRYPOINT}:forked", (args, env, str(cwd)), [log_fd], told=True)
        except (OSError, EOFError, AttributeError) as error:  # AttributeError: retired meanwhile
            self._release(version)
            self._retire(version, f"its zygote failed ({error})")
            self.debug(f"task pool: a fresh process: the zygote of this code version failed ({error})")
            return None
        return _Running(process, lambda: self._release(version))

    def _release(self, version: _Version) -> None:
        with self._lock:
            version.running -= 1

    def _key(self, bundle: str, image: str, env: dict[str, str], compat_mode: str = "") -> str:
        static = sorted((name, value) for name, value in env.items() if not _per_run(name))
        digest = hashlib.sha256()
        for part in (self._bundle_digest(bundle), image, repr(static), compat_mode):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()[:16]

    def _bundle_digest(self, bundle: str) -> str:
        """The bundle's content digest when it is a file here; a remote bundle's URI (named by its digest)."""
        path = bundle[len("file://"):] if bundle.startswith("file://") else bundle
        if "://" in path:
            return bundle
        stat = os.stat(path)
        cached = (path, stat.st_size, stat.st_mtime_ns)
        if cached not in self._digests:
            digest = hashlib.sha256()
            with open(path, "rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    digest.update(chunk)
            self._digests[cached] = digest.hexdigest()
        return self._digests[cached]

    def _version(self, key: str, bundle: str, env: dict[str, str], module: str | None,
                 compat_mode: str = "") -> _Version | None:
        with self._lock:
            if self._closed:
                return None
            version = self._versions.get(key)
            if version is None:
                if not self._make_room():
                    self.debug(f"task pool: a fresh process: all {self.max_versions} warm zygotes are running "
                               "tasks of other code versions")
                    return None
                version = self._versions[key] = _Version(key, self.root / key)
        with version.lock:
            if version.problem:
                self.debug(f"task pool: a fresh process: {version.problem}")
                return None
            try:
                if version.zygote is None:
                    version.zygote = self._base_zygote().child_zygote()
                    self._warm(version, bundle, env, [module] if module else [], compat_mode)
                    self.debug(f"task pool: a zygote for code version {key} (bundle {bundle})")
                elif module and module not in version.modules:
                    self._warm(version, "", env, [module], compat_mode)
            except (OSError, EOFError, RuntimeError) as error:  # TimeoutError is an OSError
                self._check_base()
                # Remembered (until retired as idle), so the next task of this version does not wait again.
                version.problem = f"the zygote for code version {key} could not start ({error or 'timed out'})"
                self.debug(f"task pool: a fresh process: {version.problem}")
                self._end(version)
                return None
            if version.problem:  # its modules started a thread: forking it is not safe
                self.debug(f"task pool: a fresh process: {version.problem}")
                self._end(version)
                return None
            with self._lock:  # counted before the lock is let go: an idle version may be retired at any time
                version.running += 1
                version.used = time.monotonic()
            return version

    def _check_base(self) -> None:
        """Drop a base zygote that has died (the next version spawns a new one)."""
        with self._base_lock:
            if self._base is not None and self._base.process.poll() is not None:
                self.debug(f"task pool: the base zygote {self._base.pid} died; a new one will start")
                self._base.close()
                self._base = None

    def _warm(self, version: _Version, bundle: str, env: dict[str, str], modules: list[str],
              compat_mode: str = "") -> None:
        static = {name: value for name, value in env.items() if not _per_run(name)}
        answer = version.zygote.call(f"{ENTRYPOINT}:warm", (bundle, str(version.folder), modules, static, compat_mode),
                                     timeout=WARM_SECONDS)
        version.modules.update(modules)
        for failure in answer["failed"]:
            self.debug(f"task pool: the zygote could not import {failure} (each task imports it itself)")
        if answer["threads"] > 1:  # forking a process with other threads running is not safe
            version.problem = (f"importing {', '.join(modules)} started {answer['threads'] - 1} thread(s), so "
                               "its tasks are not forked")

    def _base_zygote(self) -> Any:
        with self._base_lock:
            if self._base is None:
                began = time.perf_counter()
                try:
                    self._base = Zygote.spawn(BASE_PRELOAD, _base_environment())
                except (OSError, EOFError, RuntimeError) as error:
                    self._base_problem = f"the task pool's zygote could not start ({error})"
                    raise
                self.debug(f"task pool: base zygote {self._base.pid} ready in "
                           f"{(time.perf_counter() - began) * 1e3:.0f} ms")
            return self._base

    def _make_room(self) -> bool:
        """With the pool's lock held: retire the least recently used idle version if the pool is full."""
        if len(self._versions) < self.max_versions:
            return True
        idle = [v for v in self._versions.values() if v.running == 0 and not v.lock.locked()]
        if not idle:
            return False
        oldest = min(idle, key=lambda v: v.used)
        self._versions.pop(oldest.key, None)
        threading.Thread(target=self._end, args=(oldest,), name="flyrun-pool-retire", daemon=True).start()
        return True

    def _retire(self, version: _Version, why: str) -> None:
        with self._lock:
            if self._versions.get(version.key) is version:
                self._versions.pop(version.key)
        version.problem = version.problem or why
        self._end(version)

    def _end(self, version: _Version) -> None:
        """End a version's zygote (its children, if any, with it) and remove its folder."""
        zygote, version.zygote = version.zygote, None
        if zygote is not None:
            try:
                zygote.close(wait=True)
            except Exception:
                pass
        shutil.rmtree(version.folder, ignore_errors=True)

    def pids(self) -> list[int]:
        """The zygotes' pids (tests check that none outlives the server)."""
        with self._lock:
            found = [v.zygote.pid for v in self._versions.values() if v.zygote is not None]
        return ([self._base.pid] if self._base is not None else []) + found

    def close(self) -> None:
        """End every zygote and so every child still running."""
        with self._lock:
            self._closed = True
            versions = list(self._versions.values())
            self._versions.clear()
        for version in versions:
            self._end(version)
        with self._base_lock:
            base, self._base = self._base, None
        if base is not None:
            base.close(wait=True)
        shutil.rmtree(self.root, ignore_errors=True)


class _Running:
    """A forked task process as ``subprocess.Popen`` looks to taskrun; tells the pool when it has ended."""

    def __init__(self, process: Any, done: Callable[[], None]) -> None:
        self._process, self._done = process, done
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    def poll(self) -> int | None:
        return self._finished(self._process.poll())

    def wait(self, timeout: float | None = None) -> int:
        return self._finished(self._process.wait(timeout))  # type: ignore[return-value]

    def _finished(self, code: int | None) -> int | None:
        if code is not None and self._done is not None:
            done, self._done = self._done, None  # type: ignore[assignment]
            done()
        return code

    def ended(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the task to end (or tell its exit code as it ends)."""
        return bool(self._process.ended(timeout))

    def kill(self) -> None:
        self._process.kill()

    def send_signal(self, signum: int) -> None:
        self._process.send_signal(signum)


def _base_environment() -> dict[str, str]:
    """What the base zygote starts with: the part of a task's environment that is the same for every task."""
    from flyrun.sandbox.engine.taskrun import BASE_VARIABLES, python_path

    env = {name: os.environ[name] for name in BASE_VARIABLES if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env["PYTHONPATH"] = python_path()
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _option(argv: Sequence[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` before ``--``."""
    for index, word in enumerate(argv):
        if word == "--":
            break
        if word == name and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(name + "="):
            return word[len(name) + 1:]
    return None


def _loader_value(argv: Sequence[str], key: str) -> str | None:
    """A resolver argument's value (``task-module M`` after ``--``)."""
    if "--" not in argv:
        return None
    words = list(argv[list(argv).index("--") + 1:])
    for index in range(0, len(words) - 1):
        if words[index] == key:
            return words[index + 1]
    return None
