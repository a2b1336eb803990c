"""Signed, expiring URLs for the sandbox's own blob store, the way S3 presigned URLs work.

The signature is an HMAC-SHA256 over the method, the object key, the expiry and (for uploads) the Content-MD5
the client promised, so a URL cannot be reused for another object, another verb, or other bytes. An upload URL
is single-use: ``claim`` records its signature (in memory, until it expires).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from urllib.parse import quote, urlencode


class Signer:
    def __init__(self, key: bytes) -> None:
        self._key = key
        self._used: dict[str, int] = {}
        self._used_lock = threading.Lock()

    def _signature(self, method: str, object_key: str, expires: int, content_md5: str) -> str:
        message = "\n".join((method, object_key, str(expires), content_md5)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, base_url: str, method: str, object_key: str, expires_in: float, content_md5: str = "") -> str:
        """A URL for ``method`` on ``object_key`` valid for ``expires_in`` seconds."""
        expires = int(time.time() + expires_in)
        query = {"expires": str(expires), "signature": self._signature(method, object_key, expires, content_md5)}
        if content_md5:
            query["content_md5"] = content_md5
        path = "upload" if method == "PUT" else "download"
        return f"{base_url.rstrip('/')}/sandbox/blobs/{path}/{quote(object_key)}?{urlencode(query)}"

    def query(self, method: str, object_key: str, expires_in: float) -> str:
        """``expires=...&signature=...`` for a link of the server's own (a deck framed by the console)."""
        expires = int(time.time() + expires_in)
        return urlencode({"expires": str(expires), "signature": self._signature(method, object_key, expires, "")})

    def verify(self, method: str, object_key: str, expires: str, signature: str, content_md5: str = "") -> str:
        """Empty string if the URL is good, else why it is not."""
        if not expires.isdigit():
            return "the URL has no valid expiry"
        if int(expires) < time.time():
            return "the signed URL has expired"
        expected = self._signature(method, object_key, int(expires), content_md5)
        if not hmac.compare_digest(expected, signature):
            return "the URL signature does not match"
        return ""

    def claim(self, signature: str, expires: int) -> bool:
        """Mark a verified upload signature used; False if it already was."""
        now = time.time()
        with self._used_lock:
            for old in [s for s, until in self._used.items() if until < now]:
                del self._used[old]
            if signature in self._used:
                return False
            self._used[signature] = expires
            return True

    def release(self, signature: str) -> None:
        """Forget a claim (the upload failed and may be tried again)."""
        with self._used_lock:
            self._used.pop(signature, None)
