"""The HTTP side of the signed blob URLs: PUT to upload, GET or HEAD to read or probe."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from flyrun.sandbox.admin.dataproxy import BlobError, open_download, receive_upload, stored_md5
from flyrun.sandbox.admin.wire import ApiError, Code
from flyrun.sandbox.services import Services


def handle(sb: Services, endpoint: str, request: Any, values: Mapping[str, Any]) -> Any:
    from werkzeug.wrappers import Response

    key = values["key"]
    query = {name: request.args.get(name, "") for name in ("expires", "signature", "content_md5")}
    try:
        if endpoint == "blob_upload":
            md5_hex = receive_upload(sb, key, query, request.headers, request.stream)
            return Response(b"", status=200, headers={"ETag": f'"{md5_hex}"'})
        path = open_download(sb, key, query)
    except BlobError as error:
        return Response(error.reason + "\n", status=error.status, content_type="text/plain")
    except ApiError as error:  # a malformed object key
        return Response(error.message + "\n", status=400, content_type="text/plain")
    except OSError as error:  # the blob folder cannot be written or read (a full disk, a broken data dir)
        return _storage_failure(error)
    md5_hex = stored_md5(sb, key)
    headers = {"ETag": f'"{md5_hex}"', "Content-MD5": base64.b64encode(bytes.fromhex(md5_hex)).decode(),
               "Content-Length": str(path.stat().st_size)}
    if request.method == "HEAD":
        response = Response(b"", status=200, headers=headers, content_type="application/octet-stream")
        response.headers["Content-Length"] = headers["Content-Length"]
        return response
    from werkzeug.wsgi import wrap_file

    response = Response(wrap_file(request.environ, open(path, "rb")), status=200, headers=headers,
                        content_type="application/octet-stream", direct_passthrough=True)
    return response


def _storage_failure(error: OSError) -> Any:
    """The server's own storage failed: one JSON line for the client, in the API's error shape, never an HTML page."""
    import errno
    import json

    from werkzeug.wrappers import Response

    full = error.errno in (errno.ENOSPC, errno.EDQUOT)
    reason = "the sandbox's disk is full" if full else f"the sandbox cannot store the object: {error.strerror or error}"
    body = {"code": int(Code.UNAVAILABLE if full else Code.INTERNAL), "message": reason, "details": []}
    return Response(json.dumps(body), status=507 if full else 500, content_type="application/json")
