"""Test peers for the remote commands: a recording HTTP proxy in front of `flyrun sandbox`, and the strict check
of every body the client sends.

The proxy forwards each request as it came (the ``Host`` header too, so the sandbox signs upload URLs for the
proxy and the PUTs pass through it as well; the sandbox is started with ``--allowed-host`` for the proxy's address,
as an operator would for a reverse proxy in front of it) and records method, path, body and status.
``strict_errors`` parses each recorded JSON body with ``json_format.Parse(..., ignore_unknown_fields=False)``
into the flyteidl request message of its route, and each binary protobuf body (registrations to a server that takes
them) with ``ParseFromString``, where any unknown field, at any depth, is an error as well; a body on an API route
that no message is known for is an error too.
"""

from __future__ import annotations

import http.client
import importlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

# (method, path pattern, module, message): the request message of each route the client sends a body to.
BODY_MESSAGES = (
    ("POST", r"/api/v1/tasks", "flyteidl.admin.task_pb2", "TaskCreateRequest"),
    ("POST", r"/api/v1/workflows", "flyteidl.admin.workflow_pb2", "WorkflowCreateRequest"),
    ("POST", r"/api/v1/launch_plans", "flyteidl.admin.launch_plan_pb2", "LaunchPlanCreateRequest"),
    ("PUT", r"/api/v1/launch_plans/[^/]+/[^/]+/[^/]+/[^/]+", "flyteidl.admin.launch_plan_pb2",
     "LaunchPlanUpdateRequest"),
    ("POST", r"/api/v1/executions", "flyteidl.admin.execution_pb2", "ExecutionCreateRequest"),
    ("DELETE", r"/api/v1/executions/[^/]+/[^/]+/[^/]+", "flyteidl.admin.execution_pb2", "ExecutionTerminateRequest"),
    ("POST", r"/api/v1/dataproxy/artifact_urn", "flyteidl.service.dataproxy_pb2", "CreateUploadLocationRequest"),
    ("POST", r"/api/v1/signals", "flyteidl.admin.signal_pb2", "SignalSetRequest"),
)
BINARY_TYPES = ("application/x-protobuf", "application/protobuf", "application/octet-stream")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes
    status: int
    content_type: str = ""

    @property
    def binary(self) -> bool:
        return self.content_type in BINARY_TYPES

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def route(self) -> str:
        """``METHOD /api/v1/<collection>``: what a call does, without the ids in its path."""
        parts = self.path.split("/")
        return f"{self.method} {'/'.join(parts[:4])}" if self.path.startswith("/api/") else \
            f"{self.method} {'/'.join(parts[:3])}"


class RecordingProxy:
    """``http://127.0.0.1:<port>`` forwarding to ``upstream`` (host:port) and recording every call."""

    def __init__(self, upstream: str, port: int = 0) -> None:
        self.upstream = upstream
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="recording-proxy")
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._server.server_port}"

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Forward(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                host, port = proxy.upstream.rsplit(":", 1)
                upstream = http.client.HTTPConnection(host, int(port), timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    kind = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
                    proxy._record(Call(self.command, urlsplit(self.path).path, body, answer.status, kind))
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

            def log_message(self, *args: object) -> None:
                pass

        return Forward


def message_for(method: str, path: str):
    """The flyteidl request message class for a route with a body, or None."""
    for route_method, pattern, module, name in BODY_MESSAGES:
        if method == route_method and re.fullmatch(pattern, path):
            return getattr(importlib.import_module(module), name)
    return None


def strict_errors(calls: list[Call]) -> list[str]:
    """Why each API body failed to parse strictly into its flyteidl message (empty: all parsed)."""
    from google.protobuf import json_format

    problems = []
    for call in calls:
        if not call.body or not call.path.startswith("/api/"):
            continue  # uploads to signed URLs carry file bytes, not JSON
        message = message_for(call.method, call.path)
        if message is None:
            problems.append(f"{call.method} {call.path}: no flyteidl message known for a body on this route")
            continue
        if call.binary:
            problem = _binary_problem(call.body, message)
            if problem:
                problems.append(f"{call.method} {call.path} as binary {message.__name__}: {problem}")
            continue
        try:
            json_format.Parse(call.body.decode(), message(), ignore_unknown_fields=False)
        except (json_format.ParseError, UnicodeDecodeError) as error:
            problems.append(f"{call.method} {call.path} as {message.__name__}: {error}")
    return problems


def _binary_problem(body: bytes, message_class) -> str | None:
    from google.protobuf import unknown_fields
    from google.protobuf.message import DecodeError

    try:
        message = message_class.FromString(body)
    except DecodeError as error:
        return str(error)

    def walk(item, path: str) -> str | None:
        found = unknown_fields.UnknownFieldSet(item)
        if len(found):
            return f"unknown field number {found[0].field_number} in {path}"
        for field, value in item.ListFields():
            if field.message_type is None:
                continue
            if field.message_type.GetOptions().map_entry:
                values = value.values() if field.message_type.fields_by_name["value"].message_type else []
            else:
                repeated = getattr(field, "is_repeated", None)  # protobuf 7; older ones have label
                if repeated is None:
                    repeated = field.label == field.LABEL_REPEATED
                values = value if repeated else [value]
            for inner in values:
                hit = walk(inner, f"{path}.{field.name}")
                if hit:
                    return hit
        return None

    return walk(message, message_class.__name__)


# -- fixtures (imported by conftest.py) ------------------------------------------------------------------
@pytest.fixture(scope="session")
def recording_proxy(sandbox_server):
    """The recording proxy in front of the session's sandbox, on the port the sandbox allows as a Host."""
    proxy = RecordingProxy(f"127.0.0.1:{urlsplit(sandbox_server['url']).port}", sandbox_server["proxy_port"])
    yield proxy
    proxy.stop()


@dataclass
class Remote:
    """``remote("run", "--remote", ...)``: flyrun in-process with a config that points at the recording proxy."""

    cli: Callable[..., Any]
    config: Path
    proxy: RecordingProxy
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *args: str, cwd: Path | None = None) -> Any:
        if cwd is not None:
            self.monkeypatch.chdir(cwd)
        return self.cli("-c", str(self.config), *args)


@pytest.fixture
def remote(cli, recording_proxy, sandbox_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """flyrun against the sandbox through the proxy; afterwards every body it sent must parse strictly."""
    config = tmp_path / "remote.yaml"
    config.write_text(f"admin:\n  endpoint: {recording_proxy.endpoint}\n  insecure: true\n  authType: None\n"
                      f"console:\n  endpoint: {sandbox_server['url']}\n")
    recording_proxy.clear()
    yield Remote(cli, config, recording_proxy, monkeypatch)
    problems = strict_errors(recording_proxy.calls())
    assert not problems, "\n".join(problems)
