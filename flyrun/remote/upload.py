"""Uploads through FlyteAdmin's data proxy: the code bundle and local file inputs.

The sequence (flyte-protocol.md 2.2): ask ``CreateUploadLocation`` for a signed URL, then PUT the bytes to it
with ``Content-MD5``. To skip what the server already has, the first request names ``filename_root`` and
``filename`` without a hash: FlyteAdmin (and the sandbox) answer 409 ALREADY_EXISTS when that object exists.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flyrun.errors import AlreadyExistsError, ServerError

# (stream, total_bytes, label) -> a stream that reports progress as it is read; the identity by default.
ProgressWrapper = Callable[[IO[bytes], int, str], IO[bytes]]


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
    try:
        client.create_upload_location(project, domain, filename, None, filename_root=root)
    except AlreadyExistsError:
        # The object exists; ask again with its hash to learn where it lives (allowed when the hashes match).
        location = client.create_upload_location(project, domain, filename, content_md5, filename_root=root)
        return Uploaded(location["native_url"], transferred=False)
    location = client.create_upload_location(project, domain, filename, content_md5, filename_root=root)
    _put(transport, location, path, content_md5, progress)
    return Uploaded(location["native_url"], transferred=True)


def _put(transport: Any, location: dict[str, Any], path: Path, content_md5: str,
         progress: ProgressWrapper | None) -> None:
    size = path.stat().st_size
    headers = {"Content-MD5": content_md5, "Content-Length": str(size), **(location.get("headers") or {})}
    if location.get("native_url", "").startswith("abfs://"):
        headers["x-ms-blob-type"] = "BlockBlob"
    with open(path, "rb") as stream:
        body = progress(stream, size, path.name) if progress else stream
        response = transport.request("PUT", location["signed_url"], data=body, headers=headers)
    if response.status_code not in (200, 201):
        # The signed URL is a credential: name the file and the status, never the URL.
        raise ServerError(f"upload of {path.name} failed: HTTP {response.status_code} "
                          f"{(response.text or '').strip()[:200]}")
