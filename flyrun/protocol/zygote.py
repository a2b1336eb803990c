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

Protocol (a SOCK_SEQPACKET socket, one pickled message per packet): ``("fork", target, args[, told])`` with file
descriptors attached forks a child that calls ``target(fds, *args)`` (``target`` is ``"module:function"``; the
child never returns into the zygote's loop) and answers its pid; with ``told`` the last descriptor is the write
end of a pipe on which the child tells its exit code as it exits (``end``), so its client learns it without
waiting for the kernel to tear the process down and without asking the zygote; ``("call", target, args)`` calls
``target(*args)`` in the zygote itself and answers ``("ok", value)`` or ``("error", text)``; ``("wait", pid,
timeout)`` answers the child's wait status or None; ``("reap", pid)`` (no answer) reaps a child whose end its
client learnt otherwise, as soon as it has ended. Closing the socket ends the zygote; every child asks the kernel
to SIGKILL it when its zygote ends (PR_SET_PDEATHSIG), so ending a zygote ends what it forked.
"""

from __future__ import annotations

import functools
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
    prctl = _prctl()
    if prctl is not None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent ended before the line above
        os._exit(1)


@functools.cache
def _prctl() -> Any:
    """libc's prctl, looked up once per zygote and inherited by its children (a lookup in each fork costs one)."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def end(code: int) -> None:
    """End this forked child with ``code``, first telling it on the exit pipe its client gave (if any), so the
    client need not wait for the process to be torn down and reaped."""
    if _TOLD and _TOLD[1] == os.getpid():  # not a process the task forked, which has a copy of the pipe
        try:
            os.write(_TOLD[0], str(code).encode())
        except OSError:
            pass
    os._exit(code)


_TOLD: list[int] = []  # in a forked child: the write end of its exit pipe, and its own pid



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
              wait: bool = True, told: bool = False) -> ForkedProcess:
        """Fork a child that runs ``target(fds, *args)`` (``"module:function"``) and exits. Without ``wait`` the
        request is only sent: the caller goes on while the zygote forks, and the pid is read when first used.
        With ``told`` the child tells its exit code on a pipe as it exits (the target ends with ``end(code)``)."""
        request: tuple = ("fork", target, list(args))
        exit_pipe = None
        if told:
            exit_pipe = os.pipe2(os.O_CLOEXEC)
            request, fds = (*request, True), [*fds, exit_pipe[1]]
        try:
            if wait:
                return ForkedProcess(self, _checked_pid(self._ask(request, fds)), exit_pipe and exit_pipe[0])
            with self.lock:
                self._send(request, fds)
                pending = _Pending()
                self._pending.append(pending)
            return ForkedProcess(self, pending, exit_pipe and exit_pipe[0])
        except BaseException:
            if exit_pipe is not None:
                os.close(exit_pipe[0])
            raise
        finally:
            if exit_pipe is not None:  # the child holds the only write end: the pipe ends with it
                os.close(exit_pipe[1])

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

    def reap(self, pid: int) -> None:
        """Have the zygote reap ``pid`` once it has ended, telling nothing back (its exit code came by its pipe).
        Sent without the lock: it has no answer to pair with, so it never waits behind another thread's request
        (a version zygote importing a module can take seconds)."""
        self._send(("reap", pid), ())

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

    def __init__(self, zygote: Zygote, pid: int | _Pending, exit_pipe: int | None = None) -> None:
        self.zygote = zygote
        self._pid = pid
        self.returncode: int | None = None
        self._lock = threading.Lock()  # the zygote tells a status once: one asker at a time
        self._fds = threading.Lock()  # held while the descriptors below are copied or closed
        self.pidfd: int | None = None
        self.exit_pipe = exit_pipe  # the read end of the pipe the child tells its exit code on (start(told=True))
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
        """Wait up to ``timeout`` seconds for the process to end (or to tell its exit code as it ends), without
        asking the zygote."""
        with self._fds:  # copies: another thread that learns the status closes the originals meanwhile
            watched = [os.dup(fd) for fd in (self.pidfd, self.exit_pipe) if fd is not None]
        try:
            if self.returncode is not None or not watched:
                return self.returncode is not None
            import select

            return bool(select.select(watched, [], [], timeout)[0])
        finally:
            for fd in watched:
                os.close(fd)

    def _status(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        try:
            self.pid  # noqa: B018 - the answer to a fork not waited for
        except (OSError, EOFError):  # it was never forked (or its zygote died first): nothing to wait for
            self.returncode = 1
            return self.returncode
        if self.pidfd is None:
            with self._lock:
                return self._ask_status(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 365 * 86400.0 if deadline is None else max(deadline - time.monotonic(), 0)
            if not self.ended(left):
                return None
            piped = self.exit_pipe is not None
            with self._lock:
                code = self._ask_status(0)
            # Woken by its exit pipe closing untold while it still runs: wait on for its pidfd alone.
            closed_untold = piped and self.exit_pipe is None and code is None
            if not closed_untold or (deadline is not None and time.monotonic() >= deadline):
                return code

    def _told(self) -> int | None:
        """The exit code the child told on its pipe, if it has (then the zygote reaps it without being asked)."""
        if self.exit_pipe is None:
            return None
        import select

        if not select.select([self.exit_pipe], [], [], 0)[0]:
            return None  # not yet
        told = os.read(self.exit_pipe, 16)
        with self._fds:
            exit_pipe, self.exit_pipe = self.exit_pipe, None
        os.close(exit_pipe)
        if not told:  # closed untold (killed, or the task closed it): its pidfd and the zygote say how it ended
            return None
        try:
            self.zygote.reap(self.pid)
        except OSError:  # the zygote is gone, and its children with it
            pass
        return int(told)

    def _ask_status(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        told = self._told()
        if told is not None:
            self.returncode = told
            self.close()
            return told
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
        # Each descriptor is let go of before it is closed: an interrupt (Ctrl-C in a map) between the two must
        # not leave it to be closed twice (by then the number may name another file).
        with self._fds:
            pidfd, self.pidfd = self.pidfd, None
            exit_pipe, self.exit_pipe = self.exit_pipe, None
        for fd in (pidfd, exit_pipe):
            if fd is not None:
                os.close(fd)

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
    unwanted: dict[int, int] = {}  # children to reap without telling (pid: its pidfd, readable once it has ended)
    while True:
        if unwanted:
            import select

            ready = select.select([sock.fileno(), *unwanted.values()], [], [])[0]
            for pid, pidfd in list(unwanted.items()):
                if pidfd in ready:
                    _reap_child(pid, unwanted)
            if sock.fileno() not in ready:
                continue
        try:
            message, fds, _, _ = socket.recv_fds(sock, _PACKET, 8)
        except OSError:
            return
        if not message:  # the client closed its end, or died
            return
        request = pickle.loads(message)
        if request[0] == "reap":
            statuses.pop(request[1], None)  # a wait already reaped it
            _reap_child(request[1], unwanted)
            continue
        if request[0] == "fork":
            answer: Any = _fork(sock, request[1], request[2], fds, len(request) > 3 and request[3])
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


def _reap_child(pid: int, unwanted: dict[int, int]) -> None:
    """Reap ``pid`` if it has ended, else watch its pidfd (``unwanted``) and reap it when that says it has."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # already reaped
        done = pid
    if done:
        pidfd = unwanted.pop(pid, None)
        if pidfd is not None:
            os.close(pidfd)
    elif pid not in unwanted:
        try:
            unwanted[pid] = os.pidfd_open(pid)
        except (OSError, AttributeError):  # no pidfd here: a later request reaps it
            pass


def _fork(sock: socket.socket, target: str, args: list[Any], fds: list[int], told: bool = False) -> int | str:
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
            if told and fds:
                _TOLD[:] = [fds.pop(), os.getpid()]
                os.set_inheritable(_TOLD[0], False)  # the task's own programs do not hold it open
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
            end(code)
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
    pidfd = None
    try:
        while pid not in statuses:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if done:
                statuses[pid] = status
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            if pidfd is None:
                try:
                    pidfd = os.pidfd_open(pid)
                except (OSError, AttributeError):  # no pidfd here: look again shortly
                    time.sleep(0.002 if left is None else min(0.002, left))
                    continue
            import select

            select.select([pidfd], [], [], left)  # wakes the moment it ends
    finally:
        if pidfd is not None:
            os.close(pidfd)
    return statuses.pop(pid)  # once told, forgotten: the pid may name a later child
