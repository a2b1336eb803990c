"""The sandbox's WSGI application: FlyteAdmin's REST API, the signed blob URLs, the console and /healthcheck.

Requests are parsed into flyteidl request messages exactly as FlyteAdmin's grpc-gateway does (strict JSON body,
then path and query parameters) and answered in protojson with every field; errors are ``{code, message,
details}`` with grpc-gateway's HTTP status for the code.

Every request passes ``flyrun.sandbox.gate`` first (Host, Origin, preflight, body type, security headers), the
authorization server's paths, the console and the signed blob URLs included.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from collections.abc import Mapping
from typing import Any

from flyrun.sandbox.admin import blobroutes, wire
from flyrun.sandbox.admin.routes import ROUTES, Route
from flyrun.sandbox.admin.wire import ApiError, Code
from flyrun.sandbox.console import pages as console
from flyrun.sandbox.services import Services

_FIELD = re.compile(r"\{([^}]+)\}")


def _rule(route: Route) -> tuple[str, list[str]]:
    """A werkzeug rule for a route path, and the message field each of its variables sets."""
    fields: list[str] = []

    def variable(match: re.Match[str]) -> str:
        fields.append(match.group(1))
        return f"<f{len(fields) - 1}>"

    return _FIELD.sub(variable, route.path), fields


class SandboxApp:
    def __init__(self, services: Services) -> None:
        from werkzeug.routing import Map, Rule

        self.services = services
        rules, self._fields = [], {}
        for index, route in enumerate(ROUTES):
            path, fields = _rule(route)
            rules.append(Rule(path, endpoint=index, methods=[route.method]))
            self._fields[index] = fields
        for path, endpoint, methods in _OTHER_RULES:
            rules.append(Rule(path, endpoint=endpoint, methods=methods))
        # merge_slashes would answer "//x" with a redirect (werkzeug's RequestRedirect); a 404 says more.
        self._map = Map(rules, strict_slashes=False, merge_slashes=False)
        self._gated: Any = None

    def guard(self, gate: Any) -> None:
        """Put the request gate (``flyrun.sandbox.gate.RequestGate``) in front of everything this app serves."""
        self._gated = gate.wrap(self._dispatch)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._gated is None:  # fail closed: no gate, no service
            response = _error(ApiError(Code.UNAVAILABLE, "the sandbox is starting; try again"))
            return response(environ, start_response)
        return self._gated(environ, start_response)

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        from werkzeug.wrappers import Request

        auth = self.services.auth
        if auth is not None and auth.owns(environ.get("PATH_INFO", "")):
            return auth.wsgi_app(environ, start_response)  # discovery, device flow, /activate, /me
        request = Request(environ)
        response = self.respond(request)
        return response(environ, start_response)

    def authorized(self, request: Any) -> bool:
        """No auth, or a valid bearer token in ``Authorization`` or ``flyte-authorization``."""
        auth = self.services.auth
        return auth is None or auth.subject_from_environ(request.environ) is not None

    def respond(self, request: Any) -> Any:
        from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

        self.services.serving(request.host_url)
        if "\x00" in request.path or any("\x00" in item for _, items in request.args.lists() for item in items):
            return _error(ApiError(Code.INVALID_ARGUMENT, "a NUL byte (%00) is not allowed in a URL"))
        adapter = self._map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except NotFound:
            return _error(ApiError(Code.NOT_FOUND, "Not Found"))
        except MethodNotAllowed:
            return _error(ApiError(Code.UNIMPLEMENTED, "Method Not Allowed"))
        except HTTPException as other:  # anything else routing may raise is the client's mistake, not ours
            return _error(ApiError(Code.INVALID_ARGUMENT, f"cannot route {request.path}: {other.name}"))
        if not isinstance(endpoint, int):
            return self._other(endpoint, request, values)
        if not self.authorized(request):  # with --auth, the auth server answers the public paths itself
            return _error(ApiError(Code.UNAUTHENTICATED, "a valid bearer token is required"))
        try:
            message = self._request_message(ROUTES[endpoint], self._fields[endpoint], request, values)
            result = ROUTES[endpoint].handler(self.services, message)
        except ApiError as error:
            return _error(error)
        except Exception as error:  # a bug in the sandbox: answer 500 and keep serving
            traceback.print_exc(file=sys.stderr)
            return _error(ApiError(Code.INTERNAL, f"internal error: {type(error).__name__}: {error}"))
        answer_type = request.accept_mimetypes.best_match(["application/json", *wire.BINARY_TYPES],
                                                          default="application/json")
        if answer_type in wire.BINARY_TYPES:  # asked for protobuf: the binary message, as FlyteAdmin's gateway
            from werkzeug.wrappers import Response

            response = Response(result.SerializeToString(), status=200, content_type=answer_type)
        else:
            response = json_response(wire.emit(result))
        response.headers["Accept-Post"] = wire.ACCEPT_POST
        return response

    @staticmethod
    def _request_message(route: Route, fields: list[str], request: Any, values: Mapping[str, Any]) -> Any:
        message = route.request()
        if route.body and wire.body_type(request.content_type) in wire.BINARY_TYPES:
            wire.parse_binary(request.get_data(), message)
        elif route.body:
            wire.parse(request.get_data(), message)
        else:
            for name, items in request.args.lists():
                for item in items:
                    wire.set_field(message, name, item)
        for index, field in enumerate(fields):
            wire.set_field(message, field, values[f"f{index}"])
        return message

    def _other(self, endpoint: str, request: Any, values: Mapping[str, Any]) -> Any:
        if endpoint == "healthcheck":
            from werkzeug.wrappers import Response

            return Response(b"", status=200)
        if endpoint.startswith("blob_"):  # the URL's signature is the credential
            return blobroutes.handle(self.services, endpoint, request, values)
        return console.handle(self.services, endpoint, request, values, self.authorized(request))


_OTHER_RULES = [
    ("/healthcheck", "healthcheck", ["GET", "HEAD"]),
    ("/sandbox/blobs/upload/<path:key>", "blob_upload", ["PUT"]),
    ("/sandbox/blobs/download/<path:key>", "blob_download", ["GET", "HEAD"]),
    ("/", "console_home", ["GET"]),
    ("/console", "console_home", ["GET"]),
    ("/console/static/<name>", "console_static", ["GET"]),
    ("/console/entities", "console_entities", ["GET"]),
    ("/console/projects/<project>/domains/<domain>/<any(tasks,workflows,launch_plans):kind>/<name>",
     "console_entity", ["GET"]),
    ("/console/projects/<project>/domains/<domain>/executions", "console_list", ["GET"]),
    ("/console/projects/<project>/domains/<domain>/executions/<name>", "console_execution", ["GET"]),
    ("/console/projects/<project>/domains/<domain>/executions/<name>/nodes/<path:node>/log", "console_log",
     ["GET"]),
    ("/console/projects/<project>/domains/<domain>/executions/<name>/nodes/<path:node>/deck", "console_deck",
     ["GET"]),
]


def json_response(document: Any, status: int = 200) -> Any:
    from werkzeug.wrappers import Response

    return Response(json.dumps(document), status=status, content_type="application/json")


def _error(error: ApiError) -> Any:
    response = json_response(error.body(), error.code.http_status)
    response.headers["Accept-Post"] = wire.ACCEPT_POST
    return response
