"""The REST routes, as FlyteAdmin's gateway maps them (paths from ``flyteidl/*.swagger.json``).

Each route names the request message, the handler and whether the request body fills the message; path
parameters (``{id.project}``) and query parameters (``limit``, ``sort_by.key``) are set on it after that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from flyteidl.admin import (
    common_pb2,
    execution_pb2,
    launch_plan_pb2,
    node_execution_pb2,
    project_pb2,
    signal_pb2,
    task_execution_pb2,
    task_pb2,
    version_pb2,
    workflow_pb2,
)
from flyteidl.service import auth_pb2, dataproxy_pb2, identity_pb2

from flyrun.__about__ import __version__
from flyrun.sandbox.admin import dataproxy, executions, nodes, registry, tasks
from flyrun.sandbox.admin.wire import ApiError, Code
from flyrun.sandbox.services import Services
from flyrun.sandbox.state.store import Store

Handler = Callable[[Services, Any], Any]


class Route(NamedTuple):
    method: str
    path: str
    request: type  # the flyteidl request message the body, path and query fill
    handler: Handler
    body: bool = False
    rpc: str = ""  # the gRPC method serving the same handler: "AdminService/CreateTask" (flyrun/sandbox/grpc)


def _on_store(function: Callable[[Store, Any], Any]) -> Handler:
    """Registry handlers need only the store; the others take the services."""
    def handle(services: Services, request: Any) -> Any:
        return function(services.store, request)

    handle.__wrapped__ = function  # type: ignore[attr-defined]
    return handle


P3 = "{id.project}/{id.domain}/{id.name}"
P4 = P3 + "/{id.version}"
WE = "{workflow_execution_id.project}/{workflow_execution_id.domain}/{workflow_execution_id.name}"
NX = ("{node_execution_id.execution_id.project}/{node_execution_id.execution_id.domain}/"
      "{node_execution_id.execution_id.name}/{node_execution_id.node_id}")
TX = ("{id.node_execution_id.execution_id.project}/{id.node_execution_id.execution_id.domain}/"
      "{id.node_execution_id.execution_id.name}/{id.node_execution_id.node_id}/{id.task_id.project}/"
      "{id.task_id.domain}/{id.task_id.name}/{id.task_id.version}/{id.retry_attempt}")
NE = "{id.execution_id.project}/{id.execution_id.domain}/{id.execution_id.name}/{id.node_id}"


def _entity_routes(plural: str, create_request: type, create: Callable[[Store, Any], Any],
                   get: Callable[[Store, Any], Any], list_: Callable[[Store, Any], Any], kind: str) -> list[Route]:
    listing = common_pb2.ResourceListRequest
    return [
        Route("POST", f"/api/v1/{plural}", create_request, _on_store(create), body=True,
              rpc=f"AdminService/Create{kind}"),
        Route("GET", f"/api/v1/{plural}/{P4}", common_pb2.ObjectGetRequest, _on_store(get),
              rpc=f"AdminService/Get{kind}"),
        Route("GET", f"/api/v1/{plural}/{P3}", listing, _on_store(list_), rpc=f"AdminService/List{kind}s"),
        Route("GET", f"/api/v1/{plural}/{{id.project}}/{{id.domain}}", listing, _on_store(list_)),
    ]


def get_version(services: Services, request: Any) -> Any:
    return version_pb2.GetVersionResponse(control_plane_version=version_pb2.Version(
        Build="flyrun-sandbox", Version=__version__, BuildTime=""))


def get_domains(services: Services, request: Any) -> Any:
    response = project_pb2.GetDomainsResponse()
    for domain in registry.DOMAINS:
        response.domains.add(id=domain, name=domain)
    return response


def _auth_off(service: str) -> Exception:
    # FlyteAdmin without auth serves these paths but has no such gRPC service behind them.
    return ApiError(Code.UNIMPLEMENTED, f"unknown service flyteidl.service.{service}")


def public_client_config(services: Services, request: Any) -> Any:
    if services.auth is None:
        raise _auth_off("AuthMetadataService")
    return services.auth.public_client_config()


def oauth2_metadata(services: Services, request: Any) -> Any:
    if services.auth is None:
        raise _auth_off("AuthMetadataService")
    return services.auth.oauth2_metadata(services.public_url())


def user_info(services: Services, request: Any) -> Any:
    if services.auth is None:
        raise _auth_off("IdentityService")
    subject = services.caller()
    if subject is None:  # REST's /me is answered by the auth server itself; this is the gRPC path

        raise ApiError(Code.UNAUTHENTICATED, "a valid bearer token is required")
    return services.auth.user_info(subject)


A = "AdminService/"

ROUTES: list[Route] = [
    Route("GET", "/api/v1/version", version_pb2.GetVersionRequest, get_version, rpc=A + "GetVersion"),
    Route("GET", "/api/v1/domains", project_pb2.GetDomainRequest, get_domains, rpc=A + "GetDomains"),
    Route("GET", "/api/v1/projects", project_pb2.ProjectListRequest, _on_store(registry.list_projects),
          rpc=A + "ListProjects"),
    Route("POST", "/api/v1/projects", project_pb2.ProjectRegisterRequest, _on_store(registry.register_project),
          body=True, rpc=A + "RegisterProject"),
    Route("GET", "/api/v1/projects/{id}", project_pb2.ProjectGetRequest, _on_store(registry.get_project),
          rpc=A + "GetProject"),
    *_entity_routes("tasks", task_pb2.TaskCreateRequest, registry.create_task, registry.get_task,
                    registry.list_tasks, "Task"),
    *_entity_routes("workflows", workflow_pb2.WorkflowCreateRequest, registry.create_workflow,
                    registry.get_workflow, registry.list_workflows, "Workflow"),
    *_entity_routes("launch_plans", launch_plan_pb2.LaunchPlanCreateRequest, registry.create_launch_plan,
                    registry.get_launch_plan, registry.list_launch_plans, "LaunchPlan"),
    Route("GET", f"/api/v1/description_entities/{{id.resource_type}}/{P4}", common_pb2.ObjectGetRequest,
          _on_store(registry.get_description_entity), rpc=A + "GetDescriptionEntity"),
    Route("PUT", f"/api/v1/launch_plans/{P4}", launch_plan_pb2.LaunchPlanUpdateRequest,
          _on_store(registry.update_launch_plan), body=True, rpc=A + "UpdateLaunchPlan"),
    Route("GET", f"/api/v1/active_launch_plans/{P3}", launch_plan_pb2.ActiveLaunchPlanRequest,
          _on_store(registry.get_active_launch_plan), rpc=A + "GetActiveLaunchPlan"),
    Route("GET", "/api/v1/active_launch_plans/{project}/{domain}", launch_plan_pb2.ActiveLaunchPlanListRequest,
          _on_store(registry.list_active_launch_plans), rpc=A + "ListActiveLaunchPlans"),
    Route("POST", "/api/v1/executions", execution_pb2.ExecutionCreateRequest, executions.create_execution,
          body=True, rpc=A + "CreateExecution"),
    Route("GET", f"/api/v1/executions/{P3}", execution_pb2.WorkflowExecutionGetRequest, executions.get_execution,
          rpc=A + "GetExecution"),
    Route("DELETE", f"/api/v1/executions/{P3}", execution_pb2.ExecutionTerminateRequest,
          executions.terminate_execution, body=True, rpc=A + "TerminateExecution"),
    Route("GET", "/api/v1/executions/{id.project}/{id.domain}", common_pb2.ResourceListRequest,
          executions.list_executions, rpc=A + "ListExecutions"),
    Route("GET", f"/api/v1/data/executions/{P3}", execution_pb2.WorkflowExecutionGetDataRequest,
          executions.get_execution_data, rpc=A + "GetExecutionData"),
    Route("GET", f"/api/v1/node_executions/{WE}", node_execution_pb2.NodeExecutionListRequest,
          nodes.list_node_executions, rpc=A + "ListNodeExecutions"),
    Route("GET", f"/api/v1/node_executions/{NE}", node_execution_pb2.NodeExecutionGetRequest,
          nodes.get_node_execution, rpc=A + "GetNodeExecution"),
    Route("GET", f"/api/v1/data/node_executions/{NE}", node_execution_pb2.NodeExecutionGetDataRequest,
          nodes.get_node_execution_data, rpc=A + "GetNodeExecutionData"),
    Route("GET", f"/api/v1/task_executions/{NX}", task_execution_pb2.TaskExecutionListRequest,
          tasks.list_task_executions, rpc=A + "ListTaskExecutions"),
    Route("GET", f"/api/v1/task_executions/{TX}", task_execution_pb2.TaskExecutionGetRequest,
          tasks.get_task_execution, rpc=A + "GetTaskExecution"),
    Route("GET", f"/api/v1/data/task_executions/{TX}", task_execution_pb2.TaskExecutionGetDataRequest,
          tasks.get_task_execution_data, rpc=A + "GetTaskExecutionData"),
    Route("POST", "/api/v1/signals", signal_pb2.SignalSetRequest, nodes.set_signal, body=True,
          rpc="SignalService/SetSignal"),
    Route("GET", f"/api/v1/signals/{WE}", signal_pb2.SignalListRequest, nodes.list_signals,
          rpc="SignalService/ListSignals"),
    Route("POST", "/api/v1/dataproxy/artifact_urn", dataproxy_pb2.CreateUploadLocationRequest,
          dataproxy.create_upload_location, body=True, rpc="DataProxyService/CreateUploadLocation"),
    Route("GET", "/api/v1/dataproxy/artifact_urn", dataproxy_pb2.CreateDownloadLocationRequest,
          dataproxy.create_download_location, rpc="DataProxyService/CreateDownloadLocation"),
    Route("POST", "/api/v1/dataproxy/artifact_link", dataproxy_pb2.CreateDownloadLinkRequest,
          dataproxy.create_download_link, body=True, rpc="DataProxyService/CreateDownloadLink"),
    Route("GET", "/api/v1/data", dataproxy_pb2.GetDataRequest, dataproxy.get_data, rpc="DataProxyService/GetData"),
    Route("GET", "/config/v1/flyte_client", auth_pb2.PublicClientAuthConfigRequest, public_client_config,
          rpc="AuthMetadataService/GetPublicClientConfig"),
    Route("GET", "/.well-known/oauth-authorization-server", auth_pb2.OAuth2MetadataRequest, oauth2_metadata,
          rpc="AuthMetadataService/GetOAuth2Metadata"),
    Route("GET", "/me", identity_pb2.UserInfoRequest, user_info, rpc="IdentityService/UserInfo"),
]
