"""Uploads through CreateUploadLocation's signed URL, digest checks, existence probes and signed downloads."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sandbox_entities import Client

BODY = b"fast-registered code bundle\n" * 100
MD5 = hashlib.md5(BODY).digest()
MD5_B64 = base64.b64encode(MD5).decode()


@pytest.fixture(scope="module")
def proxy(sandbox_server) -> Client:
    return Client(sandbox_server["url"])


def location(proxy: Client, **fields) -> dict:
    response = proxy.post("/api/v1/dataproxy/artifact_urn", {"project": "flytesnacks", "domain": "development",
                                                             **fields})
    assert response.status_code == 200, response.text
    return response.json()


def test_upload_with_content_md5_as_flytekit_does(proxy):
    answer = location(proxy, filename="fastabc.tar.gz", content_md5=MD5_B64, add_content_md5_metadata=True)
    assert set(answer) == {"signed_url", "native_url", "expires_at", "headers"}
    assert answer["signed_url"].startswith(proxy.url + "/") and answer["headers"] == {"Content-MD5": MD5_B64}
    native = Path(urlparse(answer["native_url"]).path)
    assert native.name == "fastabc.tar.gz" and native.parent.name == base64.b32encode(MD5).decode()
    put = proxy.http.put(answer["signed_url"], data=BODY, headers={"Content-MD5": MD5_B64, **answer["headers"]},
                         timeout=10)
    assert put.status_code == 200 and put.headers["ETag"] == f'"{MD5.hex()}"'
    assert native.read_bytes() == BODY


def test_upload_with_wrong_bytes_or_digest_is_refused(proxy):
    answer = location(proxy, filename="bad.tar.gz", content_md5=MD5_B64)
    wrong_bytes = proxy.http.put(answer["signed_url"], data=b"other", headers={"Content-MD5": MD5_B64}, timeout=10)
    assert wrong_bytes.status_code == 400 and "BadDigest" in wrong_bytes.text
    other_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    wrong_header = proxy.http.put(answer["signed_url"], data=b"other", headers={"Content-MD5": other_md5}, timeout=10)
    assert wrong_header.status_code == 403
    assert not Path(urlparse(answer["native_url"]).path).exists()


def test_tampered_or_expired_urls_are_refused(proxy):
    answer = location(proxy, filename="t.tar.gz", content_md5=MD5_B64)
    tampered = answer["signed_url"].replace("t.tar.gz", "u.tar.gz")
    assert proxy.http.put(tampered, data=BODY, headers={"Content-MD5": MD5_B64}, timeout=10).status_code == 403
    short = location(proxy, filename="e.tar.gz", content_md5=MD5_B64, expires_in="0s")
    response = proxy.http.put(short["signed_url"].replace("expires=", "expires=1"), data=BODY,
                              headers={"Content-MD5": MD5_B64}, timeout=10)
    assert response.status_code == 403


def test_existence_probe_by_filename_root(proxy):
    """FlyteAdmin's rule: a known filename_root/filename that exists is 409 unless the same digest is given."""
    first = location(proxy, filename="data.bin", filename_root="root1", content_md5=MD5_B64)
    proxy.http.put(first["signed_url"], data=BODY, headers={"Content-MD5": MD5_B64}, timeout=10).raise_for_status()
    probe = proxy.post("/api/v1/dataproxy/artifact_urn", {"project": "flytesnacks", "domain": "development",
                                                          "filename": "data.bin", "filename_root": "root1"})
    assert probe.status_code == 409 and probe.json()["code"] == 6
    other = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    assert proxy.post("/api/v1/dataproxy/artifact_urn", {"project": "flytesnacks", "domain": "development",
                                                         "filename": "data.bin", "filename_root": "root1",
                                                         "content_md5": other}).status_code == 409
    same = location(proxy, filename="data.bin", filename_root="root1", content_md5=MD5_B64)
    assert same["native_url"] == first["native_url"]
    fresh = location(proxy, filename="data.bin", filename_root="root2")
    assert fresh["headers"] == {}


def test_signed_download_and_head(proxy):
    up = location(proxy, filename="read.me", filename_root="dl", content_md5=MD5_B64)
    proxy.http.put(up["signed_url"], data=BODY, headers={"Content-MD5": MD5_B64}, timeout=10).raise_for_status()
    down = proxy.get("/api/v1/dataproxy/artifact_urn", params={"native_url": up["native_url"]}).json()
    head = proxy.http.head(down["signed_url"], timeout=10)
    assert head.status_code == 200 and head.headers["Content-MD5"] == MD5_B64
    assert head.headers["Content-Length"] == str(len(BODY))
    assert proxy.http.get(down["signed_url"], timeout=10).content == BODY
    missing = up["native_url"].replace("read.me", "absent")
    gone = proxy.get("/api/v1/dataproxy/artifact_urn", params={"native_url": missing}).json()
    assert proxy.http.head(gone["signed_url"], timeout=10).status_code == 404
    outside = proxy.get("/api/v1/dataproxy/artifact_urn", params={"native_url": "s3://bucket/key"})
    assert outside.status_code == 400


@pytest.mark.parametrize("body, fragment", [
    ({"project": "flytesnacks", "filename": "x", "content_md5": MD5_B64}, "project and domain are required"),
    ({"project": "flytesnacks", "domain": "development", "filename": "x"}, "content_md5 or filename_root"),
    ({"project": "flytesnacks", "domain": "development", "filename_root": "r", "expires_in": "7200s"},
     "cannot exceed"),
    ({"project": "flytesnacks", "domain": "development", "filename_root": "../up"}, "invalid object location"),
    ({"project": "flytesnacks", "domain": "development", "content_md5": "not base64!"}, "invalid request body"),
])
def test_bad_upload_location_requests(proxy, body, fragment):
    response = proxy.post("/api/v1/dataproxy/artifact_urn", body)
    assert response.status_code == 400 and fragment in response.json()["message"]


def test_an_upload_the_server_cannot_store_is_one_json_line_and_the_next_one_works(proxy):
    body = b"bytes the server cannot store at first\n"
    digest = base64.b64encode(hashlib.md5(body).digest()).decode()
    answer = location(proxy, filename="blocked.txt", content_md5=digest)
    folder = Path(urlparse(answer["native_url"]).path).parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the upload's folder must go")  # root ignores permissions; this it cannot
    try:
        put = proxy.http.put(answer["signed_url"], data=body, headers={"Content-MD5": digest}, timeout=10)
        assert put.status_code == 500 and put.headers["Content-Type"] == "application/json"
        assert "<html" not in put.text.lower() and "\n" not in put.json()["message"]
        assert put.json()["message"].startswith("the sandbox cannot store the object")
    finally:
        folder.unlink()
    again = proxy.http.put(answer["signed_url"], data=body, headers={"Content-MD5": digest}, timeout=10)
    assert again.status_code == 200
