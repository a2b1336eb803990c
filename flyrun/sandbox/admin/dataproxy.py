"""FlyteAdmin's DataProxyService over the sandbox's own blob folder.

``POST /api/v1/dataproxy/artifact_urn`` (CreateUploadLocation) answers with a ``signed_url`` on this server and a
``native_url`` (``file://`` under ``<data-dir>/blobs/uploads``) that tasks read. The signed URL takes one
successful PUT (the server remembers used upload signatures until they expire; a restart forgets them, so a URL
signed before a restart could be used once more within its hour);
when the location was asked for with a ``content_md5``, the PUT must carry that ``Content-MD5`` and bytes that
match it. ``GET /api/v1/dataproxy/artifact_urn?native_url=...`` (CreateDownloadLocation) signs a GET (and HEAD)
URL for any object the sandbox stores.

Does an object already exist? Exactly as with FlyteAdmin: ask for an upload location with ``filename_root`` and
``filename`` and no ``content_md5``; 409 ALREADY_EXISTS means it does. With a ``content_md5`` that differs from the
stored object's, the answer is also 409; with the same one, the upload is allowed (and may be skipped). A HEAD on a
signed download URL answers 200 (with ``Content-MD5`` and ``Content-Length``) or 404.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import string
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flyrun.sandbox.admin import nodes
from flyrun.sandbox.admin.wire import ApiError, Code, invalid, stamp
from flyrun.sandbox.services import Services

MAX_EXPIRES = 3600.0
_CHUNK = 1024 * 1024
_NAME_MAX = 255  # bytes in one file name on Linux file systems


def _object_key(*parts: str) -> str:
    key = "/".join(part.strip("/") for part in parts)
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise invalid(f"invalid object location {key!r}")
    if any(len(segment.encode()) > _NAME_MAX for segment in segments):
        raise invalid(f"a name in the object location is longer than {_NAME_MAX} bytes; use a shorter filename")
    return key


def object_path(sb: Services, key: str) -> Path:
    return sb.data.blobs / key


def native_url(sb: Services, key: str) -> str:
    # Not Path.as_uri(): fsspec does not unquote file:// URLs, and base32 digests end in "=".
    return f"file://{object_path(sb, key).as_posix()}"


def _expires_in(request: Any) -> float:
    if not request.HasField("expires_in"):
        return MAX_EXPIRES
    seconds = request.expires_in.ToNanoseconds() / 1e9
    if seconds < 0:
        raise invalid(f"expiresIn [{request.expires_in.ToJsonString()}] is invalid")
    if seconds > MAX_EXPIRES:
        raise invalid(f"expiresIn [{request.expires_in.ToJsonString()}] cannot exceed max allowed expiration [1h0m0s]")
    return seconds


def create_upload_location(sb: Services, request: Any) -> Any:
    from flyteidl.service import dataproxy_pb2

    if not request.project or not request.domain:
        raise invalid("project and domain are required parameters")
    if not request.filename_root and not request.content_md5:
        raise invalid("content_md5 or filename_root is a required parameter")
    md5_b64 = base64.b64encode(request.content_md5).decode() if request.content_md5 else ""
    if request.filename and request.filename_root:
        _check_existing(sb, _object_key("uploads", request.project, request.domain, request.filename_root,
                                        request.filename), request.content_md5)
    expires_in = _expires_in(request)
    filename = request.filename or "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(20))
    prefix = request.filename_root or base64.b32encode(request.content_md5).decode()
    key = _object_key("uploads", request.project, request.domain, prefix, filename)
    response = dataproxy_pb2.CreateUploadLocationResponse(
        signed_url=sb.signer.sign(sb.public_url(), "PUT", key, expires_in, md5_b64), native_url=native_url(sb, key))
    stamp(response.expires_at, time.time() + expires_in)
    if md5_b64:
        response.headers["Content-MD5"] = md5_b64
    return response


def _check_existing(sb: Services, key: str, content_md5: bytes) -> None:
    path = object_path(sb, key)
    if not path.exists():
        return
    if not content_md5 or stored_md5(sb, key) != content_md5.hex():
        raise ApiError(Code.ALREADY_EXISTS, f"file already exists at location [{native_url(sb, key)}], specify a "
                                            "matching hash if you wish to rewrite")


def stored_md5(sb: Services, key: str) -> str:
    row = sb.store.blob(key)
    if row is not None:
        return row["md5"]
    return file_md5(object_path(sb, key))


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def create_download_location(sb: Services, request: Any) -> Any:
    from flyteidl.service import dataproxy_pb2

    expires_in = _expires_in(request)
    key = key_of_native_url(sb, request.native_url)
    response = dataproxy_pb2.CreateDownloadLocationResponse(
        signed_url=sb.signer.sign(sb.public_url(), "GET", key, expires_in))
    stamp(response.expires_at, time.time() + expires_in)
    return response


def key_of_native_url(sb: Services, url: str) -> str:
    """The object key of a ``file://`` URL under this sandbox's blob folder."""
    parsed = urlparse(url)
    root = sb.data.blobs.resolve()
    if parsed.scheme != "file":
        raise invalid(f"failed to parse native_url [{url}]: this sandbox signs only its own file:// objects")
    path = Path(parsed.path).resolve()
    if root not in path.parents:
        raise invalid(f"native_url [{url}] is not an object of this sandbox")
    return path.relative_to(root).as_posix()


# -- the signed URLs themselves ------------------------------------------------------------------------------
class BlobError(Exception):
    """An S3-like refusal of a signed-URL request: an HTTP status and a reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def receive_upload(sb: Services, key: str, query: dict[str, str], headers: Any, stream: Any) -> str:
    """Store a PUT body at ``key``; returns the hex MD5. The URL must be valid and the digest must match."""
    promised = query.get("content_md5", "")
    problem = sb.signer.verify("PUT", key, query.get("expires", ""), query.get("signature", ""), promised)
    if problem:
        raise BlobError(403, problem)
    given = headers.get("Content-MD5", "")
    if promised and given != promised:
        raise BlobError(403, "the Content-MD5 header does not match the one the URL was signed for")
    try:
        target = object_path(sb, _object_key(key))
    except ApiError as error:
        raise BlobError(400, error.message) from None
    signature = query.get("signature", "")
    if not sb.signer.claim(signature, int(query.get("expires", "0"))):
        raise BlobError(403, "this signed upload URL has already been used; ask for a new upload location")
    done = False
    try:
        md5_hex = _write_object(sb, key, target, given, stream)
        done = True
    finally:
        if not done:  # a failed upload may be tried again with the same URL
            sb.signer.release(signature)
    return md5_hex


def _write_object(sb: Services, key: str, target: Path, given: str, stream: Any) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    # A short scratch name: the object's own name may already be near the file-name limit.
    scratch = target.with_name(f".{secrets.token_hex(6)}.part")
    digest, size = hashlib.md5(), 0
    try:
        with open(scratch, "wb") as handle:
            for block in iter(lambda: stream.read(_CHUNK), b""):
                digest.update(block)
                size += len(block)
                handle.write(block)
        if given and base64.b64encode(digest.digest()).decode() != given:
            raise BlobError(400, "BadDigest: the Content-MD5 you specified did not match what was received")
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    sb.store.record_blob(key, digest.hexdigest(), size)
    return digest.hexdigest()


def open_download(sb: Services, key: str, query: dict[str, str]) -> Path:
    """The file a signed GET/HEAD URL names; BlobError 403 for a bad URL, 404 when there is no such object."""
    problem = sb.signer.verify("GET", key, query.get("expires", ""), query.get("signature", ""))
    if problem:
        raise BlobError(403, problem)
    path = object_path(sb, _object_key(key))
    if not path.is_file():
        raise BlobError(404, "NoSuchKey: the object does not exist")
    return path


# -- links to what executions produced (pyflyte's FlyteRemote asks these by gRPC) --------------------------------
def create_download_link(sb: Services, request: Any) -> Any:
    """``CreateDownloadLink``: a signed URL for a node execution's deck (the one artifact type FlyteAdmin has)."""
    from flyteidl.admin import node_execution_pb2
    from flyteidl.service import dataproxy_pb2


    if not request.HasField("node_execution_id"):
        raise invalid("source is required: give a node_execution_id")
    if request.artifact_type != dataproxy_pb2.ARTIFACT_TYPE_DECK:
        raise invalid("unsupported artifact type: only ARTIFACT_TYPE_DECK can be linked")
    expires_in = _expires_in(request)
    lookup = node_execution_pb2.NodeExecutionGetRequest(id=request.node_execution_id)
    node = nodes.get_node_execution(sb, lookup)
    deck = node.closure.deck_uri
    if not deck:
        raise ApiError(Code.NOT_FOUND, f"node execution {request.node_execution_id.node_id} has no deck")
    key = key_of_native_url(sb, deck if "://" in deck else f"file://{deck}")
    url = sb.signer.sign(sb.public_url(), "GET", key, expires_in)
    response = dataproxy_pb2.CreateDownloadLinkResponse(signed_url=[url])
    stamp(response.expires_at, time.time() + expires_in)
    response.pre_signed_urls.signed_url.append(url)
    response.pre_signed_urls.expires_at.CopyFrom(response.expires_at)
    return response


def get_data(sb: Services, request: Any) -> Any:
    """``GetData`` for ``flyte://v1/<project>/<domain>/<execution>/<node>/<attempt>/<i|o>[/<name>]``: a node
    execution's inputs or outputs (a literal map, or one literal when a name is given)."""
    from flyteidl.admin import node_execution_pb2
    from flyteidl.service import dataproxy_pb2


    parts = request.flyte_url.removeprefix("flyte://").split("/") if request.flyte_url.startswith("flyte://") else []
    if len(parts) > 5 and parts[5].isdigit():  # the attempt is optional; the sandbox keeps a node's latest
        del parts[5]
    if len(parts) not in (6, 7) or parts[0] != "v1" or parts[5] not in ("i", "o") or not all(parts[1:]):
        raise invalid(f"invalid flyte url [{request.flyte_url}]: expected "
                      "flyte://v1/<project>/<domain>/<execution>/<node>[/<attempt>]/<i|o>[/<name>]")
    _, project, domain, name, node_id, which, *variable = parts
    lookup = node_execution_pb2.NodeExecutionGetDataRequest()
    lookup.id.execution_id.project, lookup.id.execution_id.domain, lookup.id.execution_id.name = project, domain, name
    lookup.id.node_id = node_id
    data = nodes.get_node_execution_data(sb, lookup)
    literals = data.full_inputs if which == "i" else data.full_outputs
    response = dataproxy_pb2.GetDataResponse()
    if not variable:
        response.literal_map.CopyFrom(literals)
    elif variable[0] in literals.literals:
        response.literal.CopyFrom(literals.literals[variable[0]])
    else:
        raise ApiError(Code.NOT_FOUND, f"node {node_id} of execution {name} has no "
                                       f"{'input' if which == 'i' else 'output'} named {variable[0]!r}")
    return response
