"""Reading and writing the entrypoint's files: local paths with plain I/O, anything else through fsspec.

Kept small so the task entrypoint imports fsspec only when a URI is remote, and so this can switch to
``flyrun.data.fs`` in one place. Remote endpoints and keys come from the task container's environment:
``FLYRUN_STORAGE_ENDPOINT`` / ``FLYTE_AWS_ENDPOINT``, ``FLYRUN_STORAGE_ACCESS_KEY`` / ``FLYTE_AWS_ACCESS_KEY_ID``,
``FLYRUN_STORAGE_SECRET_KEY`` / ``FLYTE_AWS_SECRET_ACCESS_KEY`` (Flyte sets the FLYTE_AWS_* ones in its sandbox);
otherwise s3fs/gcsfs find their usual credentials. ``STORAGE_EMULATOR_HOST`` means anonymous GCS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def local_path(uri: str) -> str | None:
    """The local path ``uri`` names (a plain path or ``file://``), else None."""
    if uri.startswith("file://"):
        return uri[len("file://"):]
    return None if "://" in uri else uri


def join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name


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
    import fsspec.core

    return fsspec.core.url_to_fs(uri, **storage_options(uri, os.environ if environ is None else environ))


def options_by_protocol(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The same settings in ``ExecutionContext.storage_options`` form, for the files a task reads and writes."""
    return {"s3": storage_options("s3://", environ), "gs": storage_options("gs://", environ)}


def storage_options(uri: str, environ: Mapping[str, str]) -> dict[str, Any]:
    if uri.startswith(("gs://", "gcs://")) and environ.get("STORAGE_EMULATOR_HOST"):
        # gcsfs finds the emulator itself; without this it would first look for cloud credentials.
        return {"token": "anon"}
    if not uri.startswith("s3://"):
        return {}
    options: dict[str, Any] = {}
    endpoint = _first(environ, "FLYRUN_STORAGE_ENDPOINT", "FLYTE_AWS_ENDPOINT", "AWS_ENDPOINT_URL")
    if endpoint:
        options["client_kwargs"] = {"endpoint_url": endpoint}
    key = _first(environ, "FLYRUN_STORAGE_ACCESS_KEY", "FLYTE_AWS_ACCESS_KEY_ID")
    secret = _first(environ, "FLYRUN_STORAGE_SECRET_KEY", "FLYTE_AWS_SECRET_ACCESS_KEY")
    if key and secret:
        options.update(key=key, secret=secret)
    return options


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    return next((environ[name] for name in names if environ.get(name)), None)
