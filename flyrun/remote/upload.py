"""Uploads through FlyteAdmin's data proxy: the code bundle and local file inputs.

The sequence (flyte-protocol.md 2.2): ask ``CreateUploadLocation`` for a signed URL, then PUT the bytes to it
with ``Content-MD5``. To skip what the server already has, the first request names ``filename_root`` and
``filename`` without a hash: FlyteAdmin (and the sandbox) answer 409 ALREADY_EXISTS when that object exists.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flyrun.data.files import FlyteDirectory, FlyteFile
from flyrun.errors import AlreadyExistsError, ServerError, UsageError
from flyrun.remote.transport import origin

# The ExecutionContext.transfer_progress hook: (description, total_bytes) -> a context manager yielding advance(n).
ProgressWrapper = Callable[[str, int], contextlib.AbstractContextManager[Callable[[int], None]]]


class _CountingReader:
    """A file that reports each chunk read; requests streams the body through ``read``."""

    def __init__(self, stream: IO[bytes], advance: Callable[[int], None]) -> None:
        self._stream = stream
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._advance(len(chunk))
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@dataclass(frozen=True)
class Uploaded:
    native_url: str
    transferred: bool  # False when the server already had the object


def md5_of(path: Path) -> bytes:
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def filename_root_for(md5: bytes) -> str:
    """A folder name derived from the content (FlyteAdmin uses base32 of the md5 when none is given)."""
    return base64.b32encode(md5).decode().rstrip("=").lower()


def upload_file(client: Any, transport: Any, path: Path, project: str, domain: str, *,
                filename: str | None = None, progress: ProgressWrapper | None = None) -> Uploaded:
    """Upload ``path`` once: nothing moves when the server already holds the same name under the same digest."""
    md5 = md5_of(path)
    filename = filename or path.name
    root = filename_root_for(md5)
    content_md5 = base64.b64encode(md5).decode()
    if _exists(client, project, domain, filename, root):
        # Ask again with its hash to learn where it lives (allowed when the hashes match).
        location = client.create_upload_location(project, domain, filename, content_md5, filename_root=root)
        return Uploaded(location["native_url"], transferred=False)
    location = client.create_upload_location(project, domain, filename, content_md5, filename_root=root)
    _put(client, transport, location, path, content_md5, progress)
    return Uploaded(location["native_url"], transferred=True)


def _exists(client: Any, project: str, domain: str, filename: str, root: str) -> bool:
    """Asked without a hash, FlyteAdmin answers 409 ALREADY_EXISTS when ``root/filename`` is there."""
    try:
        client.create_upload_location(project, domain, filename, None, filename_root=root)
    except AlreadyExistsError:
        return True
    return False


def _put(client: Any, transport: Any, location: dict[str, Any], path: Path, content_md5: str,
         progress: ProgressWrapper | None) -> None:
    size = path.stat().st_size
    headers = {"Content-MD5": content_md5, "Content-Length": str(size), **(location.get("headers") or {})}
    if location.get("native_url", "").startswith("abfs://"):
        headers["x-ms-blob-type"] = "BlockBlob"
    shown = progress(f"Uploading {path.name}", size) if progress else contextlib.nullcontext(lambda n: None)
    started = time.perf_counter()
    with open(path, "rb") as stream, shown as advance:
        body = _CountingReader(stream, advance) if progress else stream
        response = transport.request("PUT", location["signed_url"], data=body, headers=headers)
    # The signed URL is a credential: name the file, the host and the status, never the URL.
    client.debug(f"PUT {path.name} ({size} bytes) to {origin(location['signed_url'])} -> {response.status_code} "
                 f"({time.perf_counter() - started:.2f} s)")
    if response.status_code not in (200, 201):
        raise ServerError(f"upload of {path.name} failed: HTTP {response.status_code} "
                          f"{(response.text or '').strip()[:200]}")


def upload_directory(client: Any, transport: Any, folder: Path, project: str, domain: str, *,
                     progress: ProgressWrapper | None = None) -> Uploaded:
    """Upload every file under ``folder`` beneath one content-derived root; the root is the directory's URL.

    Files go up in sorted order, so the last one arrives last: when the server already has it, an earlier upload
    of the same content finished and nothing moves."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not files:
        raise UsageError(f"{folder} is empty; an empty directory cannot be uploaded as an input")
    combined = hashlib.md5(b"".join(md5_of(p) + str(p.relative_to(folder)).encode() for p in files)).digest()
    root = filename_root_for(combined)
    names = [path.relative_to(folder).as_posix() for path in files]
    hashes = [base64.b64encode(md5_of(path)).decode() for path in files]
    if _exists(client, project, domain, names[-1], root):
        location = client.create_upload_location(project, domain, names[-1], hashes[-1], filename_root=root)
        return Uploaded(_folder_of(location["native_url"], names[-1]), transferred=False)
    for path, name, content_md5 in zip(files, names, hashes):
        location = client.create_upload_location(project, domain, name, content_md5, filename_root=root)
        _put(client, transport, location, path, content_md5, progress)
    return Uploaded(_folder_of(location["native_url"], names[-1]), transferred=True)


def _folder_of(native_url: str, relative: str) -> str:
    return native_url[: -len(relative) - 1]


def upload_local_inputs(client: Any, transport: Any, values: dict[str, Any], project: str, domain: str,
                        progress: ProgressWrapper | None = None) -> dict[str, Any]:
    """Inputs with every local ``FlyteFile``/``FlyteDirectory`` (also inside lists and dicts) replaced by its
    uploaded copy, so the cluster can read it."""
    def remote(value: Any) -> Any:
        if isinstance(value, (FlyteFile, FlyteDirectory)) and not value.is_remote:
            local = Path(value.path)
            if isinstance(value, FlyteDirectory):
                uploaded = upload_directory(client, transport, local, project, domain, progress=progress)
            else:
                uploaded = upload_file(client, transport, local, project, domain, progress=progress)
            return type(value)(uploaded.native_url)
        if isinstance(value, list):
            return [remote(item) for item in value]
        if isinstance(value, dict):
            return {key: remote(item) for key, item in value.items()}
        return value

    return {name: remote(value) for name, value in values.items()}
