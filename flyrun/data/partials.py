"""Temporaries of unfinished local writes, and sweeping up after writers that were killed.

An atomic local write builds its file (or folder) under a hidden ``.part`` name beside the destination, which a
SIGKILL leaves behind. So every process notes the temporaries it creates in a journal of its own,
``$XDG_CACHE_HOME/flyrun/writes/<host>-<pid>.txt`` (one path a line), removed when the process exits. A journal
whose process is gone names what a killed writer left: the next process that writes (or starts a local run) on
this host removes those temporaries, wherever they are, and the journal.

``<host>`` is a hash of the host name and the PID namespace, so a journal is only judged where its pid means the
same process. A pid counts as gone when no process has it, or when the process that has it started after the
journal was last written (the pid was reused).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from pathlib import Path

_lock = threading.Lock()
_journal: tuple[int, int] | None = None  # (pid, file descriptor): a forked child opens its own
_swept_by: int | None = None  # the pid that swept: once per process
_open = 0  # temporaries noted and not yet finished, by this process
_TRIM_BYTES = 1 << 20  # a journal this long is emptied when nothing is in progress
_NAME_BYTES = 100  # of the destination's name kept in a temporary's: NAME_MAX is 255 bytes
_START_SLACK = 2.0  # seconds: /proc gives boot time in whole seconds


def temp_path(destination: str) -> str:
    """A hidden temporary beside ``destination`` (same folder, so a rename publishes it), noted in the journal."""
    folder, name = os.path.split(destination.rstrip(os.sep))
    short = os.fsencode(name)[:_NAME_BYTES].decode(errors="ignore")
    temp = os.path.join(folder, f".{short}.{os.getpid()}-{os.urandom(4).hex()}.part")
    record(temp)
    return temp


def record(temp: str) -> None:
    """Note ``temp`` before it is created, so that a later process removes it if this one dies first."""
    global _open
    if "\n" in temp:
        return
    with _lock:
        _sweep_locked()
        fd = _own_journal()
        if fd is not None:
            with contextlib.suppress(OSError):
                os.write(fd, os.fsencode(os.path.abspath(temp)) + b"\n")
                _open += 1


def finished(temp: str) -> None:
    """``temp`` was renamed into place or removed. A long-lived process (the sandbox) empties its journal now and
    then, when no write of its own is in progress, so the journal does not grow without end."""
    global _open
    if "\n" in temp:
        return
    with _lock:
        if _journal is None or _journal[0] != os.getpid():
            return
        _open = max(0, _open - 1)
        if _open == 0:
            with contextlib.suppress(OSError):
                if os.fstat(_journal[1]).st_size > _TRIM_BYTES:
                    os.ftruncate(_journal[1], 0)


def sweep_abandoned() -> None:
    """Remove what killed writers on this host left behind (once per process; cheap when there is nothing)."""
    with _lock:
        _sweep_locked()


def _sweep_locked() -> None:
    global _swept_by
    if _swept_by == os.getpid():
        return
    _swept_by = os.getpid()
    folder = _journal_dir()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = re.fullmatch(r"([0-9a-f]{12})-(\d+)\.txt", entry.name)
        if not match or int(match.group(2)) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            # Liveness first: most journals are those of runs going on now, and for them the host tag (sha256 of
            # the host name, hashlib and socket: ~8 ms of a local run's start) need not be worked out at all.
            if not _alive(int(match.group(2)), entry.stat().st_mtime) and match.group(1) == _host_tag():
                _remove_listed(Path(entry.path))


def _remove_listed(journal: Path) -> None:
    import shutil

    for line in journal.read_bytes().splitlines():
        temp = os.fsdecode(line)
        name = os.path.basename(temp)
        if not (name.startswith(".") and name.endswith(".part")):  # only ever a temporary of ours
            continue
        if os.path.isdir(temp) and not os.path.islink(temp):
            shutil.rmtree(temp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(temp)
    journal.unlink(missing_ok=True)


def _own_journal() -> int | None:
    global _journal, _open
    pid = os.getpid()
    if _journal is not None and _journal[0] == pid:
        return _journal[1]
    folder = _journal_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{_host_tag()}-{pid}.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    _journal = (pid, fd)
    _open = 0
    import atexit

    atexit.register(_forget, pid, fd, str(path))
    return fd


def _forget(pid: int, fd: int, path: str) -> None:
    """At a clean exit every write was committed or discarded: the journal has nothing left to say."""
    if os.getpid() != pid:  # a forked child inherits the handler, not the journal
        return
    with contextlib.suppress(OSError):
        os.close(fd)
    with contextlib.suppress(OSError):
        os.remove(path)


def _journal_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "flyrun" / "writes"


_host: str | None = None


def _host_tag() -> str:
    global _host
    if _host is None:
        import hashlib
        import socket

        try:
            namespace = os.readlink("/proc/self/ns/pid")
        except OSError:
            namespace = ""
        _host = hashlib.sha256(f"{socket.gethostname()}\0{namespace}".encode()).hexdigest()[:12]
    return _host


def _alive(pid: int, last_written: float) -> bool:
    """Whether the process that wrote a journal last written at ``last_written`` may still be running."""
    if pid <= 0:
        return True  # not a pid a journal of ours has: leave it alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: it exists
        pass
    started = _start_time(pid)
    return started is None or started <= last_written + _START_SLACK


def _start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc; None where that is not known."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as system:
            boot = next(int(line.split()[1]) for line in system if line.startswith(b"btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
