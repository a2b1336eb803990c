"""Atomic writes: what a task writes appears at the destination whole, or not at all.

A write reaches its destination only when the writer is closed without an error: a local file is written under a
hidden temporary name in the destination's folder and renamed (one a killed process left is removed by the next
run: ``flyrun.data.partials``); an S3 multipart upload or a GCS resumable upload is only
completed on close. An exception inside ``with``, ``discard()``, a writer dropped without ``close()``, or a killed
process leaves nothing at the destination.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from collections.abc import Callable
from typing import Any

from flyrun.data import partials


class _Target:
    """Where an AtomicWriter's bytes go: ``file`` takes them; ``commit`` publishes, ``discard`` throws away."""

    file: Any

    def write(self, data: Any) -> None:
        self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


class _LocalTarget(_Target):
    """A temporary file next to the destination, renamed over it on commit."""

    def __init__(self, path: str) -> None:
        absolute = os.path.abspath(path)
        os.makedirs(os.path.dirname(absolute), exist_ok=True)
        self.path = path
        # Noted in this process's journal: if SIGKILL leaves it behind, the next run removes it (see partials).
        self.temp = partials.temp_path(absolute)
        try:
            self.file = open(self.temp, "xb")  # noqa: SIM115 - closed by commit() or discard()
        except BaseException:
            partials.finished(self.temp)
            raise

    def commit(self) -> None:
        try:
            self.file.close()
            os.replace(self.temp, self.path)
        finally:
            partials.finished(self.temp)

    def discard(self) -> None:
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.temp)
        partials.finished(self.temp)


# S3 multipart part size for streamed writes when none is given: s3fs buffers about three parts' worth at once, so
# 16 MiB keeps a writer near 100 MiB (s3fs's 50 MiB default needs ~250 MiB); 10,000 parts make 160 GiB at most,
# beyond which pass block_size (uploads of files whose size is known choose it themselves).
S3_BLOCK_BYTES = 16 * 2**20
S3_MAX_PARTS = 10_000


def s3_block_size(size: int | None) -> int:
    """A part size that keeps memory low and still fits ``size`` bytes in S3's 10,000 parts."""
    if not size:
        return S3_BLOCK_BYTES
    return max(S3_BLOCK_BYTES, -(-size // S3_MAX_PARTS))


class _UploadTarget(_Target):
    """An fsspec buffered file opened with autocommit off: its upload completes only in commit()."""

    def __init__(self, fs: Any, path: str, options: dict[str, Any]) -> None:
        self.fs = fs
        if not _is_gcs(fs):
            options.setdefault("block_size", S3_BLOCK_BYTES)
        self.file = fs.open(path, "wb", autocommit=False, **options)

    def commit(self) -> None:
        # With autocommit back on, closing sends the rest and completes the upload (a small file goes in one PUT).
        self.file.autocommit = True
        self.file.close()

    def discard(self) -> None:
        if _is_gcs(self.fs):
            # An unfinished resumable upload never becomes an object, and GCS expires the session; cancelling it
            # is a request some servers retry for half a minute, so it is left alone.
            self.file.location = None
        else:
            self.file.discard()  # S3: aborts the multipart upload
        self.file.closed = True


class _MoveTarget(_Target):
    """Any other file system: write under a temporary name beside the destination, then move it there."""

    def __init__(self, fs: Any, path: str, options: dict[str, Any]) -> None:
        self.fs, self.path = fs, path
        parent, name = path.rsplit("/", 1) if "/" in path else ("", path)
        temp_name = f".{name}.{secrets.token_hex(4)}.part"
        self.temp = f"{parent}/{temp_name}" if parent else temp_name
        self.file = fs.open(self.temp, "wb", **options)

    def commit(self) -> None:
        self.file.close()
        self.fs.mv(self.temp, self.path)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()
        with contextlib.suppress(Exception):
            self.fs.rm(self.temp)


def _is_gcs(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("gs", "gcs")


class AtomicWriter(io.BufferedIOBase):
    """A binary file opened for writing whose bytes appear at the destination only on a clean close."""

    def __init__(self, target: Any, on_error: Callable[[BaseException], BaseException] | None = None) -> None:
        self._target = target
        self._on_error = on_error
        self._written = 0
        self._finished = False  # committed or discarded: nothing more reaches the target

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed file")
        size = memoryview(data).nbytes
        self._guarded(self._target.write, data)
        self._written += size
        return size

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        if not self._finished:
            self._guarded(self._target.flush)

    def close(self) -> None:
        """Complete the write: the destination now holds everything written."""
        if self._finished:
            return
        self._finished = True
        try:
            self._target.commit()
        except BaseException as exc:
            self._abandon()
            raise self._translated(exc) from exc
        finally:
            super().close()

    def discard(self) -> None:
        """Drop everything written; the destination is left as it was."""
        if not self._finished:
            self._finished = True
            self._abandon()
            super().close()

    def _abandon(self) -> None:
        self._finished = True
        with contextlib.suppress(Exception):
            self._target.discard()

    def _guarded(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except Exception as exc:
            raise self._translated(exc) from exc

    def _translated(self, exc: BaseException) -> BaseException:
        return self._on_error(exc) if self._on_error is not None and isinstance(exc, Exception) else exc

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()

    def __del__(self) -> None:
        # Dropped without close(): never complete a write nobody finished.
        if not getattr(self, "_finished", True):
            self.discard()


class AtomicTextWriter(io.TextIOWrapper):
    """Text on top of an ``AtomicWriter``: an exception inside ``with`` discards instead of committing."""

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()

    def discard(self) -> None:
        writer: AtomicWriter = self.buffer  # type: ignore[assignment]  # always built by open_atomic
        if not writer.closed:
            writer.discard()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.discard()


def open_atomic(fs: Any, path: str, text: bool = False, **options: Any) -> Any:
    """Open ``path`` on ``fs`` for an atomic write. ``options``: encoding/errors/newline for text, the rest for
    fsspec (block_size, ...). ``on_error`` (if given) maps backend errors raised while writing or closing."""
    text_options: dict[str, Any] = {k: options.pop(k) for k in ("encoding", "errors", "newline") if k in options}
    on_error = options.pop("on_error", None)
    writer = AtomicWriter(_target_for(fs, path, options), on_error)
    if not text:
        return writer
    return AtomicTextWriter(writer, **{"encoding": "utf-8", **text_options}, write_through=False)  # type: ignore[arg-type]  # a buffered writer


def _target_for(fs: Any, path: str, options: dict[str, Any]) -> Any:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol in ("file", "local"):
        return _LocalTarget(path)
    if protocol in ("s3", "s3a", "gs", "gcs"):
        return _UploadTarget(fs, path, options)
    return _MoveTarget(fs, path, options)
