"""Binary protobuf bodies on the sandbox's API: registrations in, answers out when asked, as strict as JSON."""

from __future__ import annotations

import pytest
import requests
from google.protobuf import json_format
from sandbox_entities import Client, task

from flyrun.remote import protobody

BINARY = ("application/x-protobuf", "application/octet-stream")


@pytest.fixture(scope="module")
def api(sandbox_server) -> Client:
    return Client(sandbox_server["url"])


def _binary_task(name: str, version: str) -> bytes:
    from flyteidl.admin import task_pb2

    return json_format.ParseDict(task(name, "write({})", {}, {}, version=version),
                                 task_pb2.TaskCreateRequest()).SerializeToString()


@pytest.mark.parametrize("kind", BINARY)
def test_a_binary_registration_is_stored_and_read_back_as_json_or_binary(api, kind):
    from flyteidl.admin import task_pb2

    body = _binary_task("tests.proto_task", f"pb-{kind.split('/')[1]}")
    created = api.http.post(api.url + "/api/v1/tasks", data=body, headers={"Content-Type": kind}, timeout=30)
    assert created.status_code == 200, created.text
    assert protobody.takes_protobuf(created.headers["Accept-Post"])
    again = api.http.post(api.url + "/api/v1/tasks", data=body, headers={"Content-Type": kind}, timeout=30)
    assert again.status_code == 409  # the same entity, whichever way it came
    path = f"/api/v1/tasks/flytesnacks/development/tests.proto_task/pb-{kind.split('/')[1]}"
    as_json = api.get(path)
    assert as_json.headers["Content-Type"] == "application/json"
    assert as_json.json()["id"]["name"] == "tests.proto_task"
    as_binary = api.get(path, headers={"Accept": kind})
    assert as_binary.status_code == 200 and as_binary.headers["Content-Type"] == kind
    read = task_pb2.Task.FromString(as_binary.content)
    assert read.id.name == "tests.proto_task" and read.closure.compiled_task.template.container.image == "python:3.11"


def test_binary_bodies_are_parsed_as_strictly_as_json(api):
    good = _binary_task("tests.proto_strict", "s1")
    # Field 1 of TaskCreateRequest is the id; an unknown field number 127 inside it, then the rest of the body.
    from flyteidl.admin import task_pb2
    from flyteidl.core import identifier_pb2

    request = task_pb2.TaskCreateRequest.FromString(good)
    inner = request.id.SerializeToString() + b"\xf8\x07\x01"
    rest = task_pb2.TaskCreateRequest(spec=request.spec).SerializeToString()
    unknown = b"\x0a" + bytes([len(inner)]) + inner + rest
    assert identifier_pb2.Identifier.FromString(inner).name == "tests.proto_strict"  # protobuf alone accepts it
    refused = api.http.post(api.url + "/api/v1/tasks", data=unknown, timeout=30,
                            headers={"Content-Type": "application/x-protobuf"})
    assert refused.status_code == 400
    assert refused.json()["message"] == ("invalid request body: TaskCreateRequest.id (field number 127) has a field "
                                         "this server does not know")
    garbage = api.http.post(api.url + "/api/v1/tasks", data=b"\xff\xff\xff", timeout=30,
                            headers={"Content-Type": "application/x-protobuf"})
    assert garbage.status_code == 400
    assert garbage.json()["message"].startswith("invalid request body: not a binary flyteidl.admin.TaskCreateRequest")
    assert "\n" not in garbage.json()["message"]
    # JSON is as before, and a type that is neither is still refused before it reaches the API.
    assert api.post("/api/v1/tasks", task("tests.proto_strict", "write({})", {}, {}, version="j1")).status_code == 200
    plain = requests.post(api.url + "/api/v1/tasks", data=b"{}", headers={"Content-Type": "text/plain"}, timeout=30)
    assert plain.status_code == 415


def test_the_client_sends_registrations_as_protobuf_only_where_advertised():
    assert protobody.takes_protobuf("application/json, application/x-protobuf; q=0.9")
    assert not protobody.takes_protobuf(None) and not protobody.takes_protobuf("application/json")
    body = task("tests.client_task", "write({})", {}, {})
    from flyteidl.admin import task_pb2

    encoded = protobody.create_request("TASK", body)
    assert task_pb2.TaskCreateRequest.FromString(encoded).id.name == "tests.client_task"
    body["spec"]["bogus"] = 1  # what flyteidl refuses goes as JSON, so the server names the fault
    assert protobody.create_request("TASK", body) is None


def test_a_server_that_advertises_protobuf_but_refuses_it_gets_json_from_then_on(tmp_path):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from flyrun.config import load_config
    from flyrun.remote.client import AdminClient, EntityId
    from flyrun.remote.session import AdminSession

    seen: list[tuple[str, str, str]] = []

    class Picky(BaseHTTPRequestHandler):  # says it takes protobuf (a proxy in front of it does not)
        def _answer(self, status: int, body: bytes = b"{}") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Accept-Post", "application/json, application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            seen.append(("GET", self.path, ""))
            self._answer(200)

        def do_POST(self) -> None:
            kind = self.headers.get("Content-Type", "")
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(("POST", self.path, kind))
            self._answer(415 if kind != "application/json" else 200,
                         json.dumps({"code": 3, "message": "no"}).encode() if kind != "application/json" else b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Picky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = tmp_path / "config.yaml"
        config.write_text(f"admin:\n  endpoint: dns:///127.0.0.1:{server.server_port}\n  insecure: true\n")
        with AdminSession(load_config(str(config), {}), environ={}) as session:
            client = AdminClient(session)
            for name in ("a", "b"):
                body = task(f"tests.{name}", "write({})", {}, {})
                assert client.create_entity(EntityId("TASK", "flytesnacks", "development", f"tests.{name}", "v1"),
                                            body["spec"])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert seen == [("GET", "/api/v1/version", ""),
                    ("POST", "/api/v1/tasks", "application/x-protobuf"),
                    ("POST", "/api/v1/tasks", "application/json"),
                    ("POST", "/api/v1/tasks", "application/json")]


EXAMPLES = ("container", "custom_type", "files", "gates", "hello", "imperative", "launch_plans", "map_partial",
            "partial_task")


def test_the_fast_encoder_gives_json_formats_message_for_every_example_entity(cli, tmp_path):
    """The client's own dict -> message walk (not json_format) must make exactly json_format's message."""
    import importlib
    import json

    from conftest import REPO
    from idl_project import spec_files

    from flyrun.remote.client import EntityId

    checked = 0
    for name in EXAMPLES:
        out = tmp_path / name
        result = cli("package", str(REPO / "examples" / f"{name}.py"), "--output-dir", str(out), "-p", "p", "-d", "d")
        assert result.exit_code == 0, result.stderr
        manifest = {entry["file"]: entry["id"] for entry in
                    json.loads((out / "manifest.json").read_text())["entities"]}
        for file, spec in spec_files(out).items():
            ident = manifest[file]
            body = {"id": EntityId(**ident).as_dict(), "spec": spec}
            module, message_name = protobody._MESSAGES[ident["resource_type"]]
            message_class = getattr(importlib.import_module(module), message_name)
            fast = message_class()
            protobody.fill(fast, body)
            slow = json_format.ParseDict(body, message_class(), ignore_unknown_fields=False)
            assert fast == slow, file
            assert protobody.create_request(ident["resource_type"], body) == slow.SerializeToString()
            checked += 1
    assert checked > 30
