"""A warm zygote for a local map's worker processes: a fork of the flyrun process, made while that process is still
single-threaded (so no lock another thread held is copied locked), that forks one worker per request.

Why a zygote of our own rather than multiprocessing's forkserver: the forkserver is a *fresh* interpreter that
imports its preload list, so its first worker costs what today's fresh worker costs (an interpreter start plus
importing flyrun and the user's module), and a `flyrun run` maps once. A fork of this process already holds flyrun,
the heavy dependencies and the user's module, costs about a millisecond, and needs no module to be re-imported by
name. The zygote itself never runs a task, so every worker starts from the same clean copy: what one worker does to
module state never reaches another, and a worker that crashes takes only its own items with it.

Protocol (a SOCK_SEQPACKET socket pair, one pickled message per packet): ``("fork",)`` with one file descriptor
attached (the worker's end of a ``multiprocessing.connection`` socket) answers the worker's pid; ``("wait", pid,
timeout)`` answers its wait status or None. Closing the socket ends the zygote. The zygote dies with the flyrun
process (PR_SET_PDEATHSIG) and its workers with the zygote, so nothing outlives a killed run.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from flyrun.local import map_worker

POOL_VARIABLE = "FLYRUN_WARM_POOL"  # "0" or "off": map workers are fresh interpreters, as before the zygote


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


def _die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` (the thread that forked it) ends."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent ended before the line above
        os._exit(1)


class Zygote:
    """The flyrun side of one zygote process."""

    def __init__(self) -> None:
        _reap()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent = os.getpid()
        for stream in (sys.stdout, sys.stderr):  # or the children would print what is buffered here again
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        pid = os.fork()
        if pid == 0:  # the zygote: never returns into flyrun's call stack
            code = 1
            try:
                ours.close()
                _die_with_parent(parent)
                os.setsid()  # Ctrl-C on the terminal reaches flyrun, which stops its workers itself
                _serve(theirs)
                code = 0
            finally:
                os._exit(code)
        theirs.close()
        self.pid, self.socket, self.lock = pid, ours, threading.Lock()

    def _ask(self, request: tuple, fds: list[int] | None = None) -> Any:
        with self.lock:
            if fds:
                socket.send_fds(self.socket, [pickle.dumps(request)], fds)
            else:
                self.socket.send(pickle.dumps(request))
            answer = self.socket.recv(4096)
        if not answer:
            raise EOFError("the zygote process has exited")
        return pickle.loads(answer)

    def fork(self, fd: int) -> ForkedProcess:
        """A new worker, forked from the zygote, serving ``flyrun.local.map_worker`` on the connection ``fd``."""
        return ForkedProcess(self, self._ask(("fork",), [fd]))

    def wait(self, pid: int, timeout: float | None) -> int | None:
        return self._ask(("wait", pid, timeout))

    def close(self, wait: bool = False) -> None:
        """End the zygote. Unless ``wait``, it is reaped later (at the latest when flyrun exits), not waited for
        here: a map of small items that never used it would otherwise pay a scheduler round on a busy machine
        (about 10 ms)."""
        self.socket.close()
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


class ForkedProcess:
    """The parts of ``subprocess.Popen`` a map worker handle uses, for a worker whose parent is the zygote."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def poll(self) -> int | None:
        return self._status(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._status(timeout)
        if code is None:
            raise subprocess.TimeoutExpired([f"map worker {self.pid}"], timeout or 0)
        return code

    def _status(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            try:
                status = self.zygote.wait(self.pid, timeout)
            except (EOFError, OSError):
                return None
            if status is not None:
                self.returncode = os.waitstatus_to_exitcode(status)  # -N for signal N, as Popen says
        return self.returncode


# -- the zygote process -----------------------------------------------------------------------------
def _serve(sock: socket.socket) -> None:
    statuses: dict[int, int] = {}
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 4096, 1)
        except OSError:
            return
        if not message:  # flyrun closed its end
            return
        request = pickle.loads(message)
        if request[0] == "fork":
            pid = os.fork()
            if pid == 0:
                sock.close()
                _worker(fds[0])  # never returns
            os.close(fds[0])
            sock.send(pickle.dumps(pid))
        elif request[0] == "wait":
            sock.send(pickle.dumps(_wait(statuses, request[1], request[2])))


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
    return statuses[pid]


def _worker(fd: int) -> None:
    code = 0
    try:
        from multiprocessing.connection import Connection

        _die_with_parent(os.getppid())
        sys.argv = [map_worker.__file__]  # what a fresh worker's argv[0] says, so the process reads the same
        connection = Connection(fd)
        try:
            map_worker.serve(connection, connection)
        except (EOFError, KeyboardInterrupt, BrokenPipeError):
            code = 1
    except BaseException:
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)
