"""The REST routes, as FlyteAdmin's gateway maps them (paths from ``flyteidl/*.swagger.json``).

Each route names the request message, the handler and whether the request body fills the message; path
parameters (``{id.project}``) and query parameters (``limit``, ``sort_by.key``) are set on it after that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class Route(NamedTuple):
    method: str
    path: str
    request: Callable[[], Any]
    handler: Callable[[Any, Any], Any]
    body: bool = False


def _message(module: str, name: str) -> Callable[[], Any]:
    def make() -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)()

    return make


def _handler(module: str, name: str, wants: str = "services") -> Callable[[Any, Any], Any]:
    def handle(services: Any, request: Any) -> Any:
        import importlib

        function = getattr(importlib.import_module(f"flyrun.sandbox.{module}"), name)
        return function(services.store if wants == "store" else services, request)

    return handle


ADMIN = "flyteidl.admin."
P3 = "{id.project}/{id.domain}/{id.name}"
P4 = P3 + "/{id.version}"
WE = "{workflow_execution_id.project}/{workflow_execution_id.domain}/{workflow_execution_id.name}"
NE = "{id.execution_id.project}/{id.execution_id.domain}/{id.execution_id.name}/{id.node_id}"


def _entity_routes(plural: str, module_name: str, singular: str, create: str) -> list[Route]:
    common = _message(ADMIN + "common_pb2", "ResourceListRequest")
    return [
        Route("POST", f"/api/v1/{plural}", _message(ADMIN + module_name, create),
              _handler("registry", f"create_{singular}", "store"), body=True),
        Route("GET", f"/api/v1/{plural}/{P4}", _message(ADMIN + "common_pb2", "ObjectGetRequest"),
              _handler("registry", f"get_{singular}", "store")),
        Route("GET", f"/api/v1/{plural}/{P3}", common, _handler("registry", f"list_{plural}", "store")),
        Route("GET", f"/api/v1/{plural}/{{id.project}}/{{id.domain}}", common,
              _handler("registry", f"list_{plural}", "store")),
    ]


ROUTES: list[Route] = [
    Route("GET", "/api/v1/version", _message(ADMIN + "version_pb2", "GetVersionRequest"),
          _handler("routes", "get_version")),
    Route("GET", "/api/v1/domains", _message(ADMIN + "project_pb2", "GetDomainRequest"),
          _handler("routes", "get_domains")),
    Route("GET", "/api/v1/projects", _message(ADMIN + "project_pb2", "ProjectListRequest"),
          _handler("registry", "list_projects", "store")),
    Route("POST", "/api/v1/projects", _message(ADMIN + "project_pb2", "ProjectRegisterRequest"),
          _handler("registry", "register_project", "store"), body=True),
    Route("GET", "/api/v1/projects/{id}", _message(ADMIN + "project_pb2", "ProjectGetRequest"),
          _handler("registry", "get_project", "store")),
    *_entity_routes("tasks", "task_pb2", "task", "TaskCreateRequest"),
    *_entity_routes("workflows", "workflow_pb2", "workflow", "WorkflowCreateRequest"),
    *_entity_routes("launch_plans", "launch_plan_pb2", "launch_plan", "LaunchPlanCreateRequest"),
    Route("PUT", f"/api/v1/launch_plans/{P4}", _message(ADMIN + "launch_plan_pb2", "LaunchPlanUpdateRequest"),
          _handler("registry", "update_launch_plan", "store"), body=True),
    Route("GET", f"/api/v1/active_launch_plans/{P3}", _message(ADMIN + "launch_plan_pb2", "ActiveLaunchPlanRequest"),
          _handler("registry", "get_active_launch_plan", "store")),
    Route("GET", "/api/v1/active_launch_plans/{project}/{domain}",
          _message(ADMIN + "launch_plan_pb2", "ActiveLaunchPlanListRequest"),
          _handler("registry", "list_active_launch_plans", "store")),
    Route("POST", "/api/v1/executions", _message(ADMIN + "execution_pb2", "ExecutionCreateRequest"),
          _handler("executions", "create_execution"), body=True),
    Route("GET", f"/api/v1/executions/{P3}", _message(ADMIN + "execution_pb2", "WorkflowExecutionGetRequest"),
          _handler("executions", "get_execution")),
    Route("DELETE", f"/api/v1/executions/{P3}", _message(ADMIN + "execution_pb2", "ExecutionTerminateRequest"),
          _handler("executions", "terminate_execution"), body=True),
    Route("GET", "/api/v1/executions/{id.project}/{id.domain}", _message(ADMIN + "common_pb2", "ResourceListRequest"),
          _handler("executions", "list_executions")),
    Route("GET", f"/api/v1/data/executions/{P3}",
          _message(ADMIN + "execution_pb2", "WorkflowExecutionGetDataRequest"),
          _handler("executions", "get_execution_data")),
    Route("GET", f"/api/v1/node_executions/{WE}", _message(ADMIN + "node_execution_pb2", "NodeExecutionListRequest"),
          _handler("nodes", "list_node_executions")),
    Route("GET", f"/api/v1/node_executions/{NE}", _message(ADMIN + "node_execution_pb2", "NodeExecutionGetRequest"),
          _handler("nodes", "get_node_execution")),
    Route("GET", f"/api/v1/data/node_executions/{NE}",
          _message(ADMIN + "node_execution_pb2", "NodeExecutionGetDataRequest"),
          _handler("nodes", "get_node_execution_data")),
    Route("POST", "/api/v1/signals", _message(ADMIN + "signal_pb2", "SignalSetRequest"),
          _handler("nodes", "set_signal"), body=True),
    Route("GET", f"/api/v1/signals/{WE}", _message(ADMIN + "signal_pb2", "SignalListRequest"),
          _handler("nodes", "list_signals")),
    Route("POST", "/api/v1/dataproxy/artifact_urn",
          _message("flyteidl.service.dataproxy_pb2", "CreateUploadLocationRequest"),
          _handler("dataproxy", "create_upload_location"), body=True),
    Route("GET", "/api/v1/dataproxy/artifact_urn",
          _message("flyteidl.service.dataproxy_pb2", "CreateDownloadLocationRequest"),
          _handler("dataproxy", "create_download_location")),
    Route("GET", "/config/v1/flyte_client", _message("flyteidl.service.auth_pb2", "PublicClientAuthConfigRequest"),
          _handler("routes", "public_client_config")),
    Route("GET", "/.well-known/oauth-authorization-server",
          _message("flyteidl.service.auth_pb2", "OAuth2MetadataRequest"), _handler("routes", "oauth2_metadata")),
    Route("GET", "/me", _message("flyteidl.service.identity_pb2", "UserInfoRequest"), _handler("routes", "user_info")),
]

def get_version(services: Any, request: Any) -> Any:
    from flyteidl.admin import version_pb2

    from flyrun.__about__ import __version__

    return version_pb2.GetVersionResponse(control_plane_version=version_pb2.Version(
        Build="flyrun-sandbox", Version=__version__, BuildTime=""))


def get_domains(services: Any, request: Any) -> Any:
    from flyteidl.admin import project_pb2

    from flyrun.sandbox.registry import DOMAINS

    response = project_pb2.GetDomainsResponse()
    for domain in DOMAINS:
        response.domains.add(id=domain, name=domain)
    return response


def _auth_off(service: str) -> Exception:
    # FlyteAdmin without auth serves these paths but has no such gRPC service behind them.
    from flyrun.sandbox.wire import ApiError, Code

    return ApiError(Code.UNIMPLEMENTED, f"unknown service flyteidl.service.{service}")


def public_client_config(services: Any, request: Any) -> Any:
    if services.auth is None:
        raise _auth_off("AuthMetadataService")
    return services.auth.public_client_config()


def oauth2_metadata(services: Any, request: Any) -> Any:
    if services.auth is None:
        raise _auth_off("AuthMetadataService")
    return services.auth.oauth2_metadata()


def user_info(services: Any, request: Any) -> Any:
    if services.auth is None:
        raise _auth_off("IdentityService")
    return services.auth.user_info(request)
