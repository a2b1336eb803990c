"""FlyteAdmin's gRPC services on a second port, built from flyteidl's generated servicer classes.

Each method is the handler of the REST route that names it (``Route.rpc`` in ``admin/routes.py``), so a request
answered over REST and over gRPC goes through the same function and the two cannot disagree. ``ApiError`` codes
are gRPC status codes already; they become the call's status with the same message.

With ``--auth`` every call but AuthMetadataService's (which a client asks before it has a token, as FlyteAdmin
allows) needs ``authorization: Bearer <token>`` (or ``flyte-authorization``) metadata, checked by the same token
store as REST. A browser cannot speak gRPC (HTTP/2 with trailers), so the request gate's Host and Origin checks have
nothing to guard here; the port is still bound on loopback only and messages are capped in size.

``grpc`` is imported only when the sandbox starts.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

from flyrun.errors import ServerError
from flyrun.sandbox.admin.wire import ApiError, Code
from flyrun.sandbox.services import Services

HOST = "127.0.0.1"  # never anything else: the REST side's --host/--auth rules are not repeated here
MAX_MESSAGE = 32 * 1024 * 1024  # bytes in one request or answer; literal maps travel by URL beyond that
WORKERS = 16
PUBLIC_SERVICES = ("AuthMetadataService",)  # answered without a token: clients ask them to find out how to sign in
METADATA_KEYS = ("authorization", "flyte-authorization")

# The generated module and the function that adds each service's servicer to a server.
_SERVICES = {
    "AdminService": ("flyteidl.service.admin_pb2_grpc", "AdminServiceServicer"),
    "DataProxyService": ("flyteidl.service.dataproxy_pb2_grpc", "DataProxyServiceServicer"),
    "SignalService": ("flyteidl.service.signal_pb2_grpc", "SignalServiceServicer"),
    "IdentityService": ("flyteidl.service.identity_pb2_grpc", "IdentityServiceServicer"),
    "AuthMetadataService": ("flyteidl.service.auth_pb2_grpc", "AuthMetadataServiceServicer"),
}


def rpc_handlers() -> dict[str, Callable[[Services, Any], Any]]:
    """``"Service/Method"`` -> the handler its REST route calls."""
    from flyrun.sandbox.admin.routes import ROUTES

    handlers: dict[str, Callable[[Services, Any], Any]] = {}
    for route in ROUTES:
        if route.rpc:
            if route.rpc in handlers and handlers[route.rpc] is not route.handler:
                raise RuntimeError(f"two REST routes name the gRPC method {route.rpc}")  # a bug in routes.py
            handlers[route.rpc] = route.handler
    return handlers


def bearer_subject(services: Services, metadata: Any) -> str | None:
    """The subject of a valid bearer token in the call's metadata, or None."""
    if services.auth is None:
        return None
    for key, value in metadata or ():
        if key.lower() in METADATA_KEYS and isinstance(value, str):
            subject = services.auth.validate_bearer(value)
            if subject:
                return subject
    return None


def _method(services: Services, service: str, name: str, handler: Callable[[Services, Any], Any] | None) -> Any:
    import grpc

    public = service in PUBLIC_SERVICES

    def call(self: Any, request: Any, context: Any) -> Any:
        subject = bearer_subject(services, context.invocation_metadata())
        if services.auth is not None and subject is None and not public:
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "a valid bearer token is required (send `authorization: Bearer <token>` metadata)")
        if handler is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"flyrun sandbox does not serve {service}/{name}")
            return None  # abort raised already
        services.serving(None, subject)  # signed URLs name the REST endpoint (base_url), not a request host
        try:
            return handler(services, request)
        except ApiError as error:
            code, message = error.code, error.message
        except Exception as error:  # a bug in the sandbox: answer INTERNAL and keep serving
            traceback.print_exc(file=sys.stderr)
            code, message = Code.INTERNAL, f"internal error: {type(error).__name__}: {error}"
        context.abort(grpc.StatusCode[code.name], message)

    call.__name__ = name
    return call


def servicer(services: Services, service: str, handlers: dict[str, Callable[[Services, Any], Any]]) -> Any:
    """An instance of flyteidl's ``<service>Servicer`` whose every method is served (or refused) here."""
    import importlib

    module_name, class_name = _SERVICES[service]
    base = getattr(importlib.import_module(module_name), class_name)
    methods = {name: _method(services, service, name, handlers.get(f"{service}/{name}"))
               for name in vars(base) if not name.startswith("_") and callable(getattr(base, name))}
    return type(f"Sandbox{class_name}", (base,), methods)()


class GrpcServer:
    """The running gRPC server and the port it bound."""

    def __init__(self, server: Any, port: int) -> None:
        self.server = server
        self.port = port

    def stop(self, grace: float = 1.0) -> None:
        self.server.stop(grace).wait(grace + 1.0)


def start(services: Services, port: int, fallback_to_any: bool = False) -> GrpcServer:
    """Serve every service on ``127.0.0.1:port`` (0: any free port). With ``fallback_to_any``, a taken port
    means any free one instead (the default port is only a preference)."""
    import importlib
    from concurrent import futures

    import grpc

    handlers = rpc_handlers()
    options = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE),
               ("grpc.so_reuseport", 0)]  # else a second server could bind a port that is already taken
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="sandbox-grpc"),
                         options=options, maximum_concurrent_rpcs=WORKERS * 4)
    for service, (module_name, class_name) in _SERVICES.items():
        add = getattr(importlib.import_module(module_name), f"add_{class_name}_to_server")
        add(servicer(services, service, handlers), server)
    bound = _bind(server, port)
    if not bound and fallback_to_any and port:
        bound = _bind(server, 0)
    if not bound:
        raise ServerError(f"port {port} on {HOST} is already in use (for gRPC)",
                          hint="pick another one with --grpc-port (0: any free port)")
    server.start()
    return GrpcServer(server, bound)


def _bind(server: Any, port: int) -> int:
    try:
        return int(server.add_insecure_port(f"{HOST}:{port}"))
    except RuntimeError:  # grpcio raises for a taken port in newer versions, returns 0 in older ones
        return 0
