"""The sandbox's request gate, with raw HTTP shaped exactly as a browser sends it (http.client, no library
defaults): a web page must not be able to register and run a task, read through DNS rebinding, or pass a CORS
preflight. Also the HTTP faults of issue 11 that must be 4xx with a message, never a 500."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sandbox_entities import DOMAIN, PROJECT, Client, ident, variables

EVIL = "http://evil.example"


def port_of(server: dict) -> int:
    return int(server["url"].rsplit(":", 1)[1])


def raw(server: dict, method: str, path: str, body: bytes | str | None = None,
        headers: dict[str, str] | None = None, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (http.client adds only Host and Content-Length)."""
    connection = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", f"localhost:{port_of(server)}" if host is None else host)
        data = body.encode() if isinstance(body, str) else body
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if data is not None:
            connection.putheader("Content-Length", str(len(data)))
        connection.endheaders(data)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def shell_task(name: str, marker: Path) -> dict:
    """The probe's payload: a task whose command writes a file on the sandbox's host."""
    tid = ident("TASK", name)
    return {"id": tid, "spec": {"template": {
        "id": tid, "type": "python-task",
        "metadata": {"runtime": {"type": "FLYTE_SDK", "version": "1.0", "flavor": "python"}},
        "interface": {"inputs": variables({}), "outputs": variables({})},
        "container": {"image": "python:3.11", "args": ["sh", "-c", f"touch {marker}"]}}}}


def launch_body(name: str) -> dict:
    return {"project": PROJECT, "domain": DOMAIN,
            "spec": {"launch_plan": ident("TASK", name)}, "inputs": {"literals": {}}}


def browser_post(server: dict, path: str, document: dict, **extra: str) -> tuple[int, dict[str, str], bytes]:
    """What ``fetch(url, {method: "POST", mode: "no-cors", body: JSON.stringify(...)})`` on a foreign page sends:
    a "simple" request (text/plain, no preflight) with the page's Origin."""
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": EVIL, "Accept": "*/*",
               "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "User-Agent": "Mozilla/5.0"}
    host = extra.pop("host", None)
    headers.update(extra)
    return raw(server, "POST", path, json.dumps(document), headers, host=host)


def wait_for_file(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.1)
    return path.exists()


def test_a_foreign_page_cannot_register_and_run_a_shell_command(sandbox_server, tmp_path):
    marker = tmp_path / "MARKER"
    name = f"tests.csrf_{int(time.time() * 1000)}"
    for host in (None, f"evil.example:{port_of(sandbox_server)}"):  # plain CSRF, then after DNS rebinding
        status, headers, body = browser_post(sandbox_server, "/api/v1/tasks", shell_task(name, marker), host=host)
        assert status == 403, body
        assert json.loads(body)["code"] == 7 and headers["content-type"] == "application/json"
        status, _, body = browser_post(sandbox_server, "/api/v1/executions", launch_body(name), host=host)
        assert status == 403, body
    # Without an Origin (a page that strips it cannot exist, but a text/plain body is refused on its own too).
    status, _, body = raw(sandbox_server, "POST", "/api/v1/tasks", json.dumps(shell_task(name, marker)),
                          {"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in json.loads(body)["message"]
    assert not wait_for_file(marker, 3)
    # The same payload from a real client does run: the refusals above are the gate's, not a bad payload's.
    client = Client(sandbox_server["url"])
    client.register(shell_task(name, marker))
    client.post("/api/v1/executions", launch_body(name)).raise_for_status()
    assert wait_for_file(marker, 30)


def test_a_rebinding_host_cannot_read_anything(sandbox_server):
    port = port_of(sandbox_server)
    for path in ("/api/v1/projects", "/console", "/healthcheck", "/.well-known/oauth-authorization-server"):
        status, headers, body = raw(sandbox_server, "GET", path, host=f"evil.example:{port}")
        assert status == 403 and b"flytesnacks" not in body
        assert "evil.example" in json.loads(body)["message"] and "--allowed-host" in json.loads(body)["message"]
        assert headers["x-content-type-options"] == "nosniff"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert raw(sandbox_server, "GET", "/api/v1/projects", host=host)[0] == 200
    for host in (f"localhost:{port + 1}", "localhost", "", f"localhost:{port}@evil.example"):
        assert raw(sandbox_server, "GET", "/api/v1/projects", host=host)[0] == 403


def test_every_api_route_refuses_a_foreign_page_and_a_rebinding_host(sandbox_server):
    """All of the route table, the routes added for pyflyte (download links, GetData, task executions) included:
    each is refused at the gate, so no handler sees a foreign Origin, a rebinding Host or a form-encoded body."""
    from flyrun.sandbox.admin.routes import ROUTES

    port = port_of(sandbox_server)
    served = {route.rpc for route in ROUTES}
    assert {"DataProxyService/CreateDownloadLink", "DataProxyService/GetData",
            "AdminService/ListTaskExecutions"} <= served  # the routes added for pyflyte are walked too
    for route in ROUTES:
        path = route.path.replace("{", "").replace("}", "")  # any value: the gate answers before the route
        rebinding = raw(sandbox_server, route.method, path, host=f"evil.example:{port}")
        assert rebinding[0] == 403, (route.method, route.path, rebinding)
        if route.method == "GET":
            continue
        foreign = raw(sandbox_server, route.method, path, "{}", {"Origin": EVIL, "Content-Type": "application/json"})
        assert foreign[0] == 403, (route.method, route.path, foreign)
        form = raw(sandbox_server, route.method, path, "a=b", {"Content-Type": "text/plain"})
        assert form[0] == 415, (route.method, route.path, form)


def test_cors_preflight_is_refused(sandbox_server):
    status, headers, body = raw(sandbox_server, "OPTIONS", "/api/v1/tasks", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert status == 403 and json.loads(body)["code"] == 7
    assert not any(name.startswith("access-control-") for name in headers)


def test_the_servers_own_origin_may_post_json(sandbox_server):
    """The console's fetch() calls: same Origin, application/json."""
    port = port_of(sandbox_server)
    status, _, body = raw(sandbox_server, "POST", "/api/v1/signals", "{}", host=f"localhost:{port}",
                          headers={"Origin": f"http://localhost:{port}", "Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["code"] == 3  # past the gate: the API's own answer
    status, _, _ = raw(sandbox_server, "POST", "/api/v1/signals", "{}", host=f"localhost:{port}",
                       headers={"Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json"})
    assert status == 403  # another origin, even on loopback
    status, _, _ = raw(sandbox_server, "POST", "/api/v1/signals", "{}",
                       headers={"Origin": "null", "Content-Type": "application/json"})
    assert status == 403


def test_every_response_carries_the_security_headers(sandbox_server):
    for path in ("/console", "/api/v1/projects", "/console/static/console.js", "/nothing", "/healthcheck"):
        _, headers, _ = raw(sandbox_server, "GET", path)
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "same-origin"
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy


DECK = "/console/projects/flytesnacks/domains/development/executions/x/nodes/n0/deck"


def test_only_the_deck_route_may_be_framed_and_only_by_this_server(sandbox_server):
    for path in ("/console", "/console/projects/flytesnacks/domains/development/executions/x/nodes/n0/log",
                 "/console/projects/flytesnacks/domains/development/executions/x", "/api/v1/projects"):
        _, headers, _ = raw(sandbox_server, "GET", path)
        assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in headers[
            "content-security-policy"], path
    status, headers, _ = raw(sandbox_server, "GET", DECK)  # no such execution: still the deck's policy
    assert status == 404
    assert headers["x-frame-options"] == "SAMEORIGIN"
    policy = headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "frame-ancestors 'self'" in policy and "allow-same-origin" not in policy
    assert "script-src" not in policy and "connect-src" not in policy and "default-src 'none'" in policy


def test_a_handler_cannot_loosen_the_framing_headers():
    """The gate owns framing: a response's own X-Frame-Options or policy stands only for a deck policy on the deck
    route (a handler bug elsewhere cannot make a console page framable)."""
    from werkzeug.test import Client as WsgiClient
    from werkzeug.wrappers import Response

    from flyrun.sandbox.gate import DECK_SCRIPT_POLICY, RequestGate

    loose = {"Content-Security-Policy": "frame-ancestors *", "X-Frame-Options": "ALLOWALL"}

    def app(environ, start_response):
        chosen = {"Content-Security-Policy": DECK_SCRIPT_POLICY} if environ.get("QUERY_STRING") == "scripts" else loose
        return Response("page", headers=chosen)(environ, start_response)

    client = WsgiClient(RequestGate("127.0.0.1", 8080).wrap(app))
    page = client.get("/console", headers={"Host": "localhost:8080"}, query_string="scripts")
    assert page.headers.getlist("X-Frame-Options") == ["DENY"]
    assert page.headers.getlist("Content-Security-Policy")[0].endswith("frame-ancestors 'none'")
    deck = client.get(DECK, headers={"Host": "localhost:8080"})
    assert deck.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert deck.headers.getlist("Content-Security-Policy")[0].startswith("sandbox;")  # the loose one is dropped
    scripted = client.get(DECK, headers={"Host": "localhost:8080"}, query_string="scripts")
    assert scripted.headers.getlist("Content-Security-Policy") == [DECK_SCRIPT_POLICY]
    assert "allow-same-origin" not in DECK_SCRIPT_POLICY


# -- issue 11, Low: 4xx with a message, never a 500 ------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "/api/v1//projects",
    "/api/v1/tasks/flytesnacks/development?limit=99999999999",
    "/api/v1/tasks/flytesnacks/development?limit=5&token=99999999999999999999999",
    "/api/v1/executions/flytesnacks/development?limit=5&sort_by.direction=99",
    "/api/v1/dataproxy/artifact_urn?native_url=file:///a%00b",
    "/api/v1/projects/a%00b",
])
def test_bad_urls_are_4xx_with_a_message(sandbox_server, path):
    status, headers, body = raw(sandbox_server, "GET", path)
    assert 400 <= status < 500, body
    error = json.loads(body)
    assert error["message"] and "internal error" not in error["message"] and "Traceback" not in error["message"]


def test_a_task_without_a_command_is_refused_at_registration(sandbox_server, tmp_path):
    request = shell_task("tests.no_args", tmp_path / "x")
    request["spec"]["template"]["container"]["args"] = []
    response = Client(sandbox_server["url"]).post("/api/v1/tasks", request)
    assert response.status_code == 400 and "no command and no args" in response.json()["message"]


def upload_location(server: dict, filename: str) -> dict:
    response = Client(server["url"]).post("/api/v1/dataproxy/artifact_urn", {
        "project": PROJECT, "domain": DOMAIN, "filename_root": f"root{time.time_ns()}", "filename": filename})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_upload_named_near_the_file_name_limit_is_stored(sandbox_server):
    name = "f" * 250
    url = upload_location(sandbox_server, name)["signed_url"]
    assert requests.put(url, data=b"bytes", timeout=10).status_code == 200
    too_long = Client(sandbox_server["url"]).post("/api/v1/dataproxy/artifact_urn", {
        "project": PROJECT, "domain": DOMAIN, "filename_root": "r", "filename": "f" * 256})
    assert too_long.status_code == 400 and "longer than 255 bytes" in too_long.json()["message"]


def test_a_signed_upload_url_takes_one_upload(sandbox_server):
    location = upload_location(sandbox_server, "once.txt")
    assert requests.put(location["signed_url"], data=b"first", timeout=10).status_code == 200
    again = requests.put(location["signed_url"], data=b"other bytes", timeout=10)
    assert again.status_code == 403 and "already been used" in again.text
    assert Path(urlsplit(location["native_url"]).path).read_bytes() == b"first"


def test_stalled_connections_do_not_hold_threads(sandbox_server):
    """400 connections that never send a byte and 100 that send half a request head and stop (slowloris): the
    server's thread count stays bounded and it keeps answering at once."""
    pid = int(sandbox_server["pid"])
    sockets = []
    try:
        for index in range(500):
            sock = socket.create_connection(("127.0.0.1", port_of(sandbox_server)), timeout=5)
            sockets.append(sock)
            if index % 5 == 0:
                sock.sendall(b"GET /api/v1/projects HTTP/1.1\r\nHost: localhost")
        time.sleep(0.5)
        started = time.monotonic()
        assert requests.get(sandbox_server["url"] + "/healthcheck", timeout=10).status_code == 200
        assert time.monotonic() - started < 5
        threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
        assert threads < 100, threads
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.skipif(sys.platform != "linux", reason="127.0.0.2 is a loopback address on Linux")
def test_start_on_another_loopback_address_becomes_ready(tmp_path):
    from conftest import free_port, sandbox_cli

    started = sandbox_cli("start", "--host", "127.0.0.2", "--port", str(free_port()), "--data-dir",
                          str(tmp_path / "d"), "--detach", "-o", "json", timeout=60)
    try:
        assert started.exit_code == 0, started.output
        info = json.loads(started.stdout)
        assert info["url"].startswith("http://127.0.0.2:")
        assert requests.get(info["url"] + "/api/v1/projects", timeout=10).status_code == 200
    finally:
        sandbox_cli("stop", "--data-dir", str(tmp_path / "d"))
