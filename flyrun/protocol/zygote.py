"""A warm zygote: a process that has imported flyrun (and, when known, the user's modules) and forks a fresh child
per request, so each child starts from the same clean copy in about a millisecond instead of an interpreter start.

Two users, one implementation:

- a local map's worker processes (``flyrun.local.mapping``): the zygote is a *fork* of the flyrun process, made
  while that process is still single-threaded (so no lock another thread held is copied locked); it already holds
  flyrun, the heavy dependencies and the user's module;
- the sandbox's Python tasks (``flyrun.sandbox.engine.taskpool``): the server is multi-threaded, so its zygote is
  *spawned* as a fresh interpreter (``Zygote.spawn``) that imports flyrun's task side once; for each code version
  it forks a child zygote that unpacks and imports that version's bundle, and that one forks one child per task
  attempt, which runs ``flyrun-execute`` (``flyrun.idl.entrypoint.forked``).

Why a zygote of our own rather than multiprocessing's forkserver: the forkserver is a *fresh* interpreter that
imports its preload list by name, cannot be forked again per code version, and answers nothing but "start this
function"; a map's first worker would pay an interpreter start and imports. A zygote never runs a task itself,
so what one child does to module state never reaches another, and a child that crashes takes only itself.

Protocol (a SOCK_SEQPACKET socket, one pickled message per packet): ``("fork", target, args)`` with file
descriptors attached forks a child that calls ``target(fds, *args)`` (``target`` is ``"module:function"``; the
child never returns into the zygote's loop) and answers its pid; ``("call", target, args)`` calls ``target(*args)``
in the zygote itself and answers ``("ok", value)`` or ``("error", text)``; ``("wait", pid, timeout)`` answers the
child's wait status or None. Closing the socket ends the zygote; every child asks the kernel to SIGKILL it when
its zygote ends (PR_SET_PDEATHSIG), so ending a zygote ends what it forked.
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

POOL_VARIABLE = "FLYRUN_WARM_POOL"  # "0" or "off": map workers are fresh interpreters, as before the zygote
_PACKET = 65536  # the largest request or answer: a fork's arguments (a task's command line and environment)


def unavailable() -> str | None:
    """Why a zygote cannot be forked here (None when it can): told to the user with -v."""
    if os.environ.get(POOL_VARIABLE, "").lower() in ("0", "off", "no", "false"):
        return f"the warm pool is off ({POOL_VARIABLE}={os.environ[POOL_VARIABLE]})"
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        return f"fork is not used on {sys.platform}"
    if threading.active_count() > 1:
        # A fork copies only the calling thread; a lock held by another one (stdout's, logging's) stays held.
        return f"{threading.active_count()} threads are running, so forking is not safe"
    return None


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` (the thread that forked it) ends."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent ended before the line above
        os._exit(1)



class Zygote:
    """The client side of one zygote process. Safe to share between threads (one request at a time)."""

    def __init__(self, _connected: tuple[socket.socket, int, Any] | None = None) -> None:
        """Fork this process into a zygote (the local map's way); see ``spawn`` for a fresh interpreter."""
        self.lock = threading.Lock()
        self._pending: list[_Pending] = []  # requests sent without waiting, whose answers come first
        self.process: Any = None  # the Popen of a spawned zygote
        if _connected is not None:
            self.socket, self.pid, self.process = _connected
            return
        _reap()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent = os.getpid()
        for stream in (sys.stdout, sys.stderr):  # or the children would print what is buffered here again
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        # No collection in the zygote before it has frozen what it inherits: one set off by its first allocations
        # could walk (and so copy) every page of flyrun's objects. Frozen, they stay shared with its children too.
        collecting = gc.isenabled()
        gc.disable()
        try:
            pid = os.fork()
        finally:
            if collecting and os.getpid() == parent:
                gc.enable()
        if pid == 0:  # the zygote: never returns into flyrun's call stack
            code = 1
            try:
                gc.freeze()
                if collecting:
                    gc.enable()
                ours.close()
                die_with_parent(parent)
                os.setsid()  # Ctrl-C on the terminal reaches flyrun, which stops its workers itself
                gc.freeze()  # and what that imported
                _serve(theirs)
                code = 0
            finally:
                os._exit(code)
        theirs.close()
        self.pid, self.socket = pid, ours

    @classmethod
    def spawn(cls, preload: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Zygote:
        """A zygote that is a fresh interpreter importing ``preload``: for a multi-threaded parent, which must not
        fork. It ends when this process closes its socket or dies (the kernel closes the socket then)."""
        import subprocess

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", "from flyrun.protocol.zygote import main; main()", str(theirs.fileno()),
                 *preload], pass_fds=(theirs.fileno(),), env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        zygote = cls((ours, process.pid, process))
        zygote.call("flyrun.protocol.zygote:_ready", [])  # up and its imports done, or why not
        return zygote

    def child_zygote(self) -> Zygote:
        """A zygote forked from this one: it starts with everything this one imported, adds its own imports
        (``call``) and serves its own children; it ends with this one."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            handle = self.start("flyrun.protocol.zygote:serve_forked", (), [theirs.fileno()])
        finally:
            theirs.close()
        return Zygote((ours, handle.pid, handle))

    def _ask(self, request: tuple, fds: Sequence[int] = ()) -> Any:
        with self.lock:
            self._drain(None)
            self._send(request, fds)
            return self._receive()

    def _send(self, request: tuple, fds: Sequence[int]) -> None:
        if fds:
            socket.send_fds(self.socket, [pickle.dumps(request)], list(fds))
        else:
            self.socket.send(pickle.dumps(request))

    def _receive(self) -> Any:
        answer = self.socket.recv(_PACKET)
        if not answer:
            raise EOFError("the zygote process has exited")
        return pickle.loads(answer)

    def _drain(self, until: _Pending | None) -> None:
        """With the lock held: read the answers to requests sent without waiting, in order (all, or up to
        ``until``'s)."""
        while self._pending and (until is None or not until.done):
            pending = self._pending.pop(0)
            try:
                pending.value = self._receive()
            except (EOFError, OSError) as error:
                pending.error = error
            pending.done = True

    def start(self, target: str, args: Sequence[Any] = (), fds: Sequence[int] = (),
              wait: bool = True) -> ForkedProcess:
        """Fork a child that runs ``target(fds, *args)`` (``"module:function"``) and exits. Without ``wait`` the
        request is only sent: the caller goes on while the zygote forks, and the pid is read when first used."""
        request = ("fork", target, list(args))
        if wait:
            return ForkedProcess(self, _checked_pid(self._ask(request, fds)))
        with self.lock:
            self._send(request, fds)
            pending = _Pending()
            self._pending.append(pending)
        return ForkedProcess(self, pending)

    def _answer(self, pending: _Pending) -> Any:
        with self.lock:
            self._drain(pending)
        if pending.error is not None:
            raise pending.error
        return pending.value

    def fork(self, fd: int, wait: bool = True) -> ForkedProcess:
        """A new worker, forked from the zygote, serving ``flyrun.local.map_worker`` on the connection ``fd``."""
        return self.start("flyrun.local.map_worker:forked", (), [fd], wait)

    def call(self, target: str, args: Sequence[Any] = (), timeout: float | None = None) -> Any:
        """``target(*args)`` run in the zygote itself (to import what its children will need); raises
        RuntimeError with the zygote's reason if it failed, TimeoutError if it took longer than ``timeout``
        seconds (the zygote is then of no further use: close it)."""
        self.socket.settimeout(timeout)
        try:
            kind, value = self._ask(("call", target, list(args)))
        finally:
            if timeout is not None and self.socket.fileno() != -1:
                self.socket.settimeout(None)
        if kind != "ok":
            raise RuntimeError(value)
        return value

    def wait(self, pid: int, timeout: float | None) -> int | None:
        return self._ask(("wait", pid, timeout))

    def close(self, wait: bool = False) -> None:
        """End the zygote (and so every child it forked). Unless ``wait``, it is reaped later (at the latest when
        flyrun exits), not waited for here: a map of small items that never used it would otherwise pay a
        scheduler round on a busy machine (about 10 ms)."""
        self.socket.close()
        if self.process is not None:  # spawned (a Popen reaps it) or forked by another zygote (which does)
            import subprocess

            try:
                self.process.wait(timeout=5 if wait else 0.05)
            except subprocess.TimeoutExpired:
                if wait:
                    self.process.kill()
                    self.process.wait()
            return
        if not _unreaped:
            import atexit

            atexit.register(_reap, 2.0)
        _unreaped.append(self.pid)
        _reap(2.0 if wait else 0)


_unreaped: list[int] = []  # ended zygotes not yet reaped: zombies until then


def _reap(timeout: float = 0) -> None:
    """Reap ended zygotes, waiting up to ``timeout`` for them to end (they do within milliseconds of EOF)."""
    deadline = time.monotonic() + timeout
    for pid in list(_unreaped):
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                _unreaped.remove(pid)
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(0.002)


class _Pending:
    """The answer to a request sent without waiting for it."""

    def __init__(self) -> None:
        self.done, self.value, self.error = False, None, None  # type: tuple[bool, Any, BaseException | None]


def _checked_pid(answer: Any) -> int:
    if isinstance(answer, str):  # the zygote could not fork
        raise OSError(answer)
    return int(answer)


class ForkedProcess:
    """The parts of ``subprocess.Popen`` the map and the sandbox use, for a child whose parent is a zygote.

    Its end is seen through a pidfd (the kernel says when any process ends, child or not), then its status is
    asked of the zygote without waiting, so one slow child never holds the zygote up for the others."""

    def __init__(self, zygote: Zygote, pid: int | _Pending) -> None:
        self.zygote = zygote
        self._pid = pid
        self.returncode: int | None = None
        self._lock = threading.Lock()  # the zygote tells a status once: one asker at a time
        self.pidfd: int | None = None
        if isinstance(pid, int):
            self._open_pidfd()

    @property
    def pid(self) -> int:
        """The child's pid (read from the zygote's answer the first time, when the fork was not waited for);
        OSError or EOFError when it could not be forked."""
        if isinstance(self._pid, _Pending):
            self._pid = _checked_pid(self.zygote._answer(self._pid))
            self._open_pidfd()
        return self._pid

    def _open_pidfd(self) -> None:
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:  # until the zygote reaps it, the pid cannot name another process
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def poll(self) -> int | None:
        return self._status(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._status(timeout)
        if code is None:
            import subprocess

            raise subprocess.TimeoutExpired([f"process {self.pid}"], timeout or 0)
        return code

    def ended(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to end, without asking the zygote."""
        if self.returncode is not None or self.pidfd is None:
            return self.returncode is not None
        import select

        return bool(select.select([self.pidfd], [], [], timeout)[0])

    def _status(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        try:
            self.pid  # noqa: B018 - the answer to a fork not waited for
        except (OSError, EOFError):  # it was never forked (or its zygote died first): nothing to wait for
            self.returncode = 1
            return self.returncode
        if self.pidfd is not None:
            if not self.ended(365 * 86400.0 if timeout is None else timeout):
                return None
            timeout = 0
        with self._lock:
            return self._ask_status(timeout)

    def _ask_status(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        try:
            status = self.zygote.wait(self.pid, timeout)
        except (EOFError, OSError):  # the zygote is gone, and with it (PR_SET_PDEATHSIG) its children
            status = None if self._alive() else signal.SIGKILL  # a wait status: killed by SIGKILL
        if status is not None:
            self.returncode = os.waitstatus_to_exitcode(status)  # -N for signal N, as Popen says
            self.close()
        return self.returncode

    def _alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return not self.ended(0)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class Channel:
    """Pickled messages over a stream socket, as ``multiprocessing.connection.Connection`` sends them, without
    importing multiprocessing: that import alone costs a local map tens of milliseconds before its first forked
    worker can start."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, value: Any) -> None:
        self.send_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def send_bytes(self, data: bytes) -> None:
        """A message pickled by the caller (so it can see its size before sending)."""
        self.sock.sendall(len(data).to_bytes(8, "big") + data)

    def recv(self) -> Any:
        return pickle.loads(self._exactly(int.from_bytes(self._exactly(8), "big")))

    def _exactly(self, size: int) -> bytes:
        buffer = bytearray(size)
        view, got = memoryview(buffer), 0
        while got < size:
            count = self.sock.recv_into(view[got:])
            if not count:
                raise EOFError("the other end closed the channel")
            got += count
        return bytes(buffer)

    def close(self) -> None:
        self.sock.close()


# -- the zygote process -----------------------------------------------------------------------------
def main() -> None:
    """A spawned zygote: ``python -c '...main()' FD [MODULE...]``."""
    fd, preload = int(sys.argv[1]), sys.argv[2:]
    sock = socket.socket(fileno=fd)
    problem = ""
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as exc:
            problem = f"cannot import {name}: {type(exc).__name__}: {exc}"
    _PRELOAD_PROBLEM.append(problem)
    gc.freeze()
    _serve(sock)
    os._exit(0)


_PRELOAD_PROBLEM: list[str] = []


def _ready() -> int:
    if _PRELOAD_PROBLEM and _PRELOAD_PROBLEM[0]:
        raise RuntimeError(_PRELOAD_PROBLEM[0])
    return os.getpid()


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _serve(sock: socket.socket) -> None:
    statuses: dict[int, int] = {}
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, _PACKET, 8)
        except OSError:
            return
        if not message:  # the client closed its end, or died
            return
        request = pickle.loads(message)
        if request[0] == "fork":
            answer: Any = _fork(sock, request[1], request[2], fds)
            for fd in fds:
                os.close(fd)
        elif request[0] == "call":
            try:
                answer = ("ok", _resolve(request[1])(*request[2]))
            except BaseException as exc:  # the zygote stays up: its client decides what a failed call means
                answer = ("error", f"{type(exc).__name__}: {exc}")
            gc.freeze()  # what the call imported is shared by every later child too
        else:
            answer = _wait(statuses, request[1], request[2])
        sock.send(pickle.dumps(answer))


def _fork(sock: socket.socket, target: str, args: list[Any], fds: list[int]) -> int | str:
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        return f"fork failed: {exc}"
    if pid == 0:  # the child: never returns into the loop above
        code = 1
        try:
            os.setpgid(0, 0)
            sock.close()
            die_with_parent(parent)
            _resolve(target)(fds, *args)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(code)
    try:  # its own process group from the start (the child asks too): stopping the group never misses it
        os.setpgid(pid, pid)
    except OSError:  # the child got there first, or has already exited
        pass
    return pid


def serve_forked(fds: list[int]) -> None:
    """A child that is a zygote itself, on the socket ``fds[0]`` (the sandbox's zygote per code version)."""
    gc.freeze()
    _serve(socket.socket(fileno=fds[0]))


def _wait(statuses: dict[int, int], pid: int, timeout: float | None) -> int | None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while pid not in statuses:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            statuses[pid] = status
            break
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.002)
    return statuses.pop(pid)  # once told, forgotten: the pid may name a later child
