"""Reading and writing the entrypoint's files: local paths with plain I/O, anything else through fsspec.

Small so that the task entrypoint imports fsspec only when a URI is remote. The file systems, their options and
``join`` are ``flyrun.data.fs``'s: remote endpoints and keys come from the task container's environment
(``storage_options_from_environment``: ``FLYRUN_STORAGE_ENDPOINT`` / ``FLYTE_AWS_ENDPOINT``,
``FLYRUN_STORAGE_ACCESS_KEY`` / ``FLYTE_AWS_ACCESS_KEY_ID``, ``FLYRUN_STORAGE_SECRET_KEY`` /
``FLYTE_AWS_SECRET_ACCESS_KEY``, ``STORAGE_EMULATOR_HOST``); otherwise s3fs/gcsfs find their usual credentials.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flyrun.data.fs import filesystem_for, join, storage_options_from_environment

__all__ = ["download", "join", "local_path", "read_bytes", "write_bytes"]


def local_path(uri: str) -> str | None:
    """The local path ``uri`` names (a plain path or ``file://``), else None."""
    if uri.startswith("file://"):
        return uri[len("file://"):]
    return None if "://" in uri else uri


def read_bytes(uri: str, environ: Mapping[str, str] | None = None) -> bytes:
    path = local_path(uri)
    if path is not None:
        return Path(path).read_bytes()
    fs, remote = _filesystem(uri, environ)
    return fs.cat_file(remote)


def write_bytes(uri: str, data: bytes, environ: Mapping[str, str] | None = None) -> None:
    path = local_path(uri)
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        Path(path).write_bytes(data)
        return
    fs, remote = _filesystem(uri, environ)
    fs.pipe_file(remote, data)


def download(uri: str, destination: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Copy ``uri`` to ``destination`` (a local source is used where it is, not copied) and return the path."""
    path = local_path(uri)
    if path is not None:
        return Path(path)
    fs, remote = _filesystem(uri, environ)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with fs.open(remote, "rb") as source, open(destination, "wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    return destination


def _filesystem(uri: str, environ: Mapping[str, str] | None) -> tuple[Any, str]:
    return filesystem_for(uri, storage_options_from_environment(os.environ if environ is None else environ))
