"""Moving bytes: streaming opens, uploads and downloads of files and directories, in fixed-size chunks.

Every function takes the run's ``ExecutionContext`` (storage settings, progress hook); memory stays bounded by the
chunk size whatever the size of a file, and every write goes through ``flyrun.data.atomic``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

from flyrun.data import partials
from flyrun.data.atomic import open_atomic, s3_block_size
from flyrun.data.fs import basename, filesystem_for, is_local, join, protocol_of, storage_error, storage_errors

CHUNK_BYTES = 8 * 2**20
# Transfers at least this large show a progress bar, when the run has a terminal to show it on.
PROGRESS_MIN_BYTES = 32 * 2**20
# fsspec's whole-file caches: the file is copied to local disk once, then read from there.
WHOLE_FILE_CACHES = ("simplecache", "filecache")


def open_for_read(uri: str, context: Any, mode: str = "rb", cache_type: str | None = None,
                  cache_options: dict[str, Any] | None = None, **options: Any) -> Any:
    """A streaming reader: bytes are fetched as they are read (or cached per ``cache_type``)."""
    storage = context.storage_options
    fs, path = filesystem_for(uri, storage)
    with storage_errors("read", uri, storage):
        if cache_type in WHOLE_FILE_CACHES:
            if is_local(uri):
                return fs.open(path, mode, **options)
            return _whole_file_cache(fs, cache_type, cache_options or {}).open(path, mode, **options)
        if cache_type is not None:
            options["cache_type"] = cache_type
        if cache_options is not None:
            options["cache_options"] = cache_options
        return fs.open(path, mode, **options)


def check_cache_type(cache_type: str | None) -> None:
    """Reject an unknown cache type before anything is opened (fsspec would fail later, or, for a local file,
    silently ignore it)."""
    if cache_type is None or cache_type in WHOLE_FILE_CACHES:
        return
    from fsspec.caching import caches

    if cache_type not in caches:
        known = ", ".join(sorted(str(name) for name in caches if name) + list(WHOLE_FILE_CACHES))
        raise ValueError(f"unknown cache_type {cache_type!r}; known: {known}")


def _whole_file_cache(fs: Any, cache_type: str, cache_options: dict[str, Any]) -> Any:
    from fsspec.implementations.cached import CachingFileSystem, SimpleCacheFileSystem

    kind = SimpleCacheFileSystem if cache_type == "simplecache" else CachingFileSystem
    return kind(fs=fs, **cache_options)


def open_for_write(uri: str, context: Any, text: bool = False, **options: Any) -> Any:
    """An atomic writer (see ``flyrun.data.atomic``); storage failures surface as ``StorageError``."""
    storage = context.storage_options
    fs, path = filesystem_for(uri, storage)
    with storage_errors("write", uri, storage):
        return open_atomic(fs, path, text, on_error=lambda exc: storage_error("write", uri, storage, exc),
                           **options)


def copy_stream(reader: Any, writer: Any, advance: Callable[[int], None] | None = None,
                chunk_bytes: int = CHUNK_BYTES) -> int:
    """Copy a binary stream in fixed-size chunks; returns the number of bytes copied."""
    total = 0
    while True:
        chunk = reader.read(chunk_bytes)
        if not chunk:
            return total
        writer.write(chunk)
        total += len(chunk)
        if advance is not None:
            advance(len(chunk))


@contextlib.contextmanager
def progress(context: Any, description: str, total_bytes: int) -> Iterator[Callable[[int], None] | None]:
    """``advance(n)`` for a transfer large enough to show, on a run that can show it; else None."""
    show = getattr(context, "transfer_progress", None)
    if show is None or total_bytes < PROGRESS_MIN_BYTES:
        yield None
        return
    with show(description, total_bytes) as advance:
        yield advance


def upload_file(local_path: str, uri: str, context: Any) -> None:
    """Copy a local file to ``uri`` (a local path or a URI), atomically."""
    size = os.path.getsize(local_path)
    with progress(context, f"Uploading {basename(local_path)}", size) as advance, \
            open(local_path, "rb") as reader, open_for_write(uri, context, **_sized(uri, size)) as writer:
        copy_stream(reader, writer, advance)


def _sized(uri: str, size: int) -> dict[str, Any]:
    return {"block_size": s3_block_size(size)} if protocol_of(uri) == "s3" else {}


def upload_directory(local_dir: str, uri: str, context: Any) -> None:
    """Copy a local directory tree to ``uri``. A local destination appears whole (built beside it, then renamed);
    on object storage each file is atomic, and a failure removes the files already sent."""
    files = _local_files(local_dir)
    total = sum(size for _, _, size in files)
    with progress(context, f"Uploading {basename(local_dir)}/", total) as advance:
        if is_local(uri):
            _copy_local_tree(local_dir, uri, advance)
            return
        sent: list[str] = []
        try:
            for relative, source, size in files:
                target = join(uri, relative)
                with open(source, "rb") as reader, open_for_write(target, context, **_sized(target, size)) as writer:
                    copy_stream(reader, writer, advance)
                sent.append(target)
        except BaseException:
            _remove_quietly(sent, context)
            raise


def _local_files(local_dir: str) -> list[tuple[str, str, int]]:
    """(relative path with "/", absolute path, size) of every file under ``local_dir``, in a stable order."""
    found = []
    for root, dirs, names in os.walk(local_dir):
        dirs.sort()
        for name in sorted(names):
            source = os.path.join(root, name)
            relative = os.path.relpath(source, local_dir).replace(os.sep, "/")
            found.append((relative, source, os.path.getsize(source)))
    return found


def _copy_local_tree(source: str, destination: str, advance: Callable[[int], None] | None) -> None:
    """Build the copy beside ``destination`` and rename it into place; the first failure stops and cleans up."""
    temp = partials.temp_path(destination)
    try:
        for root, dirs, names in os.walk(source):
            dirs.sort()
            target = os.path.join(temp, os.path.relpath(root, source))
            os.makedirs(target, exist_ok=True)  # empty directories too
            for name in sorted(names):
                shutil.copyfile(os.path.join(root, name), os.path.join(target, name))
                if advance is not None:
                    advance(os.path.getsize(os.path.join(target, name)))
        os.replace(temp, destination)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    finally:
        partials.finished(temp)


def _remove_quietly(uris: list[str], context: Any) -> None:
    for uri in uris:
        with contextlib.suppress(Exception):
            fs, path = filesystem_for(uri, context.storage_options)
            fs.rm(path)


def download_file(uri: str, local_path: str, context: Any) -> None:
    """Copy ``uri`` to a local path, atomically, streaming."""
    storage = context.storage_options
    fs, path = filesystem_for(uri, storage)
    with storage_errors("download", uri, storage):
        size = fs.size(path) or 0
        with progress(context, f"Downloading {basename(uri)}", size) as advance:
            _fetch(fs, path, local_path, advance)


def download_directory(uri: str, local_dir: str, context: Any) -> None:
    """Copy every file under ``uri`` into ``local_dir``, which appears whole or not at all."""
    storage = context.storage_options
    fs, base = filesystem_for(uri, storage)
    with storage_errors("download", uri, storage):
        listing = fs.find(base, withdirs=False, detail=True)
        if not listing and not fs.isdir(base):
            raise FileNotFoundError(uri)
        total = sum(int(entry.get("size") or 0) for entry in listing.values())
        temp = partials.temp_path(local_dir)
        try:
            with progress(context, f"Downloading {basename(uri)}/", total) as advance:
                os.makedirs(temp)
                for name in sorted(listing):
                    relative = name[len(base):].lstrip("/")
                    _fetch(fs, name, os.path.join(temp, *relative.split("/")), advance)
            os.replace(temp, local_dir)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        finally:
            partials.finished(temp)


def _fetch(fs: Any, path: str, local_path: str, advance: Callable[[int], None] | None) -> None:
    from fsspec.implementations.local import LocalFileSystem

    with fs.open(path, "rb", block_size=CHUNK_BYTES, cache_type="none") as reader, \
            open_atomic(LocalFileSystem(), local_path) as writer:
        copy_stream(reader, writer, advance)
