"""TLS and proxies, applied the same way to admin calls and uploads."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from auth_support import CI_CLIENT_ID, CI_SECRET, free_port, write_config

from flyrun.errors import ServerError
from flyrun.remote.transport import Transport


# -- a TLS server with a self-signed certificate -------------------------------------------------------------
def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flyrun test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    from auth_support import echo_app
    from werkzeug.serving import make_server

    from flyrun.sandbox.auth.server import AuthServer, Client

    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    server = AuthServer(clients=[Client("flytectl"), Client(CI_CLIENT_ID, client_secret=CI_SECRET,
                                                            grant_types=("client_credentials",))])
    http = make_server("127.0.0.1", 0, server.protect(echo_app), threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"127.0.0.1:{http.server_port}", cert
    http.shutdown()
    http.server_close()


def tls_config(tmp_path: Path, endpoint: str, **admin) -> str:
    return str(write_config(tmp_path / "tls.yaml", f"dns:///{endpoint}", authType="ClientSecret",
                            clientId=CI_CLIENT_ID, clientSecretEnvVar="CI_FLYTE_SECRET", **admin))


def test_tls_is_verified_by_default(cli, isolated_home, tls_server, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("CI_FLYTE_SECRET", CI_SECRET)
    endpoint, _cert = tls_server
    result = cli("-c", tls_config(tmp_path, endpoint), "auth", "status")
    assert result.exit_code == 5
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: TLS handshake with https://{endpoint} failed: certificate verify failed"
    assert "admin.caCertFilePath" in lines[1]


def test_tls_with_a_ca_file(cli, isolated_home, tls_server, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("CI_FLYTE_SECRET", CI_SECRET)
    endpoint, cert = tls_server
    result = cli("-c", tls_config(tmp_path, endpoint, caCertFilePath=str(cert)), "auth", "status")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr


def test_tls_skip_verify_warns_once(cli, isolated_home, tls_server, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("CI_FLYTE_SECRET", CI_SECRET)
    endpoint, _cert = tls_server
    result = cli("-c", tls_config(tmp_path, endpoint, insecureSkipVerify=True), "auth", "status")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["Warning: TLS certificate verification is off (admin.insecureSkipVerify)"]


def test_a_missing_ca_file_is_a_config_error(cli, isolated_home, tls_server, tmp_path: Path):
    endpoint, _cert = tls_server
    result = cli("-c", tls_config(tmp_path, endpoint, caCertFilePath="/nonexistent/ca.pem"), "auth", "status")
    assert result.exit_code == 3
    assert "key 'admin.caCertFilePath' (from" in result.stderr and "which does not exist" in result.stderr


def test_requests_ca_bundle_from_the_environment(tls_server):
    endpoint, cert = tls_server
    from flyrun.config.loader import load_config

    transport = Transport.from_config(load_config(None, {}, Path("/nonexistent")), {"REQUESTS_CA_BUNDLE": str(cert)})
    assert transport.request("GET", f"https://{endpoint}/config/v1/flyte_client").status_code == 200


# -- proxies -------------------------------------------------------------------------------------------------
class RecordingProxy:
    """An HTTP proxy that answers every request itself and records it (absolute URL and auth header presence)."""

    def __init__(self) -> None:
        self.seen: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                owner.seen.append({"method": self.command, "url": self.path,
                                   "authorization": "Authorization" in self.headers})
                body = json.dumps({"via": "proxy"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = _answer  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_port}"

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def proxy():
    running = RecordingProxy()
    yield running
    running.stop()


def test_http_proxy_from_the_environment_and_no_proxy(auth_server, proxy):
    target = auth_server.url + "/public/health"
    via_env = Transport(environ={"HTTP_PROXY": proxy.url})
    assert via_env.request("GET", target).json() == {"via": "proxy"}
    assert proxy.seen[-1]["url"] == target
    direct = Transport(environ={"http_proxy": proxy.url, "NO_PROXY": "example.com,127.0.0.1"})
    assert direct.request("GET", target).json()["path"] == "/public/health"
    assert len(proxy.seen) == 1


def test_admin_calls_and_uploads_take_the_same_proxy(auth_server, proxy, tmp_path: Path, monkeypatch):
    from flyrun.config.loader import load_config
    from flyrun.remote.session import AdminSession

    monkeypatch.setenv("CI_FLYTE_SECRET", CI_SECRET)
    config = write_config(tmp_path / "c.yaml", "http://flyte.internal:8088", httpProxyURL=proxy.url,
                          authType="None")
    with AdminSession(load_config(str(config), os.environ), environ={"NO_PROXY": "10.0.0.0/8"}) as session:
        assert session.json("GET", "/api/v1/projects") == {"via": "proxy"}
        upload = session.transport.request("PUT", "http://bucket.storage.internal/key?X-Amz-Signature=abc",
                                           data=b"payload")
        assert upload.status_code == 200
    assert [(s["method"], s["url"]) for s in proxy.seen] == [
        ("GET", "http://flyte.internal:8088/api/v1/projects"),
        ("PUT", "http://bucket.storage.internal/key?X-Amz-Signature=abc")]
    assert not any(s["authorization"] for s in proxy.seen)


@pytest.mark.parametrize("no_proxy, url, bypass", [
    ("*", "http://anything.example/x", True),
    ("example.com", "https://api.example.com/x", True),
    (".example.com", "https://example.com/x", True),
    ("example.com", "https://notexample.com/x", False),
    ("10.0.0.0/8", "http://10.2.3.4:30080/x", True),
    ("10.0.0.0/8", "http://11.2.3.4/x", False),
    ("localhost:30080", "http://localhost:30080/x", True),
    ("localhost:30080", "http://localhost:9000/x", False),
    ("", "http://localhost/x", False),
])
def test_no_proxy_rules(no_proxy: str, url: str, bypass: bool):
    transport = Transport(environ={"HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://proxy:3128",
                                   "NO_PROXY": no_proxy})
    assert (transport.proxies_for(url) == {}) is bypass


def test_network_errors_name_the_host_but_never_a_signed_query(isolated_home):
    port = free_port()
    with pytest.raises(ServerError) as caught:
        Transport().request("PUT", f"http://127.0.0.1:{port}/bucket/key?X-Amz-Signature=SEKRITSIG", data=b"x")
    assert str(caught.value) == f"cannot reach http://127.0.0.1:{port}: connection refused"
    assert caught.value.__cause__ is None  # -v prints the cause, and requests' text quotes the whole URL
    proxy_port = free_port()
    transport = Transport(environ={"HTTP_PROXY": f"http://user:SEKRITPW@127.0.0.1:{proxy_port}"})
    with pytest.raises(ServerError) as through_proxy:
        transport.request("GET", "http://flyte.internal/api")
    message = str(through_proxy.value)
    assert message.startswith(f"proxy http://127.0.0.1:{proxy_port} failed to reach http://flyte.internal")
    assert "SEKRIT" not in message + (through_proxy.value.hint or "") + str(through_proxy.value.__cause__)
