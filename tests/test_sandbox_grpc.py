"""The sandbox's gRPC API as flytectl and pyflyte call it: flyteidl's own stubs over grpcio, against the shared
sandbox (started with `flyrun sandbox start --detach`), and against one started with `--auth`.

REST and gRPC call the same handlers; these tests check that the answers agree, that errors carry the gRPC status
FlyteAdmin uses, and that a bearer token is required with --auth.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from conftest import free_port, sandbox_cli
from flyteidl.admin import (
    common_pb2,
    execution_pb2,
    launch_plan_pb2,
    node_execution_pb2,
    project_pb2,
    signal_pb2,
    task_pb2,
    version_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import (
    admin_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    dataproxy_pb2,
    dataproxy_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    signal_pb2_grpc,
)
from google.protobuf import json_format
from sandbox_entities import (
    DOMAIN,
    INT,
    PROJECT,
    SQUARE,
    approve_workflow,
    integer,
    launch_plan,
    promise,
    task,
    task_node,
    workflow,
)

from flyrun.sandbox.admin.wire import emit

CI_SECRET = "sandbox-ci-grpc-SEKRIT"


class Stubs:
    """flyteidl's generated stubs on one channel, as flytekit's RawSynchronousFlyteClient holds them."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.dataproxy = dataproxy_pb2_grpc.DataProxyServiceStub(self.channel)
        self.signals = signal_pb2_grpc.SignalServiceStub(self.channel)
        self.identity = identity_pb2_grpc.IdentityServiceStub(self.channel)
        self.auth = auth_pb2_grpc.AuthMetadataServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def call(self, stub: Any, method: str, request: Any) -> Any:
        return getattr(stub, method)(request, metadata=self.metadata, timeout=30)

    def close(self) -> None:
        self.channel.close()


def message(cls: type, document: dict[str, Any]) -> Any:
    return json_format.ParseDict(document, cls())


def plan_id(workflow_request: dict[str, Any]) -> Any:
    return message(identifier_pb2.Identifier, dict(workflow_request["id"], resource_type="LAUNCH_PLAN"))


def status_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code(), caught.value.details()


@pytest.fixture(scope="module")
def stubs(sandbox_server):
    client = Stubs(int(sandbox_server["grpc_port"]))
    yield client
    client.close()


@pytest.fixture(scope="module")
def rest(sandbox_server) -> str:
    return sandbox_server["url"]


def execution_id(name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)


def wait_for(stubs: Stubs, name: str, timeout: float = 60.0,
             until: tuple[str, ...] = ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")) -> Any:
    request = execution_pb2.WorkflowExecutionGetRequest(id=execution_id(name))
    deadline = time.monotonic() + timeout
    while True:
        execution = stubs.call(stubs.admin, "GetExecution", request)
        phase = core_execution_pb2.WorkflowExecution.Phase.Name(execution.closure.phase)
        if phase in until:
            return execution
        assert time.monotonic() < deadline, f"execution {name} still {phase}"
        time.sleep(0.05)


# -- what flytectl asks first ------------------------------------------------------------------------------------
def test_sandbox_start_prints_the_grpc_endpoint_for_pyflyte(sandbox_server):
    port = int(sandbox_server["grpc_port"])
    assert sandbox_server["grpc_endpoint"] == f"dns:///127.0.0.1:{port}"
    assert f"endpoint: dns:///127.0.0.1:{port}\n  insecure: true" in sandbox_server["grpc_config"]
    assert port != int(sandbox_server["url"].rsplit(":", 1)[1])
    pid_file = json.loads((Path(sandbox_server["data_dir"]) / "sandbox.pid").read_text())
    assert pid_file["grpc_port"] == port


def test_get_projects_domains_and_version(stubs, rest):
    projects = stubs.call(stubs.admin, "ListProjects", project_pb2.ProjectListRequest())
    assert PROJECT in [p.id for p in projects.projects]
    assert emit(projects) == requests.get(f"{rest}/api/v1/projects", timeout=30).json()  # REST agrees
    domains = stubs.call(stubs.admin, "GetDomains", project_pb2.GetDomainRequest())
    assert [d.id for d in domains.domains] == ["development", "staging", "production"]
    version = stubs.call(stubs.admin, "GetVersion", version_pb2.GetVersionRequest())
    assert version.control_plane_version.Build == "flyrun-sandbox"


def test_register_task_workflow_and_launch_plan_round_trip(stubs, rest):
    cube = task("tests.grpc.cube", "write({'o0': inputs['x'] ** 3})", {"x": INT}, {"o0": INT})
    wf = workflow("tests.grpc.cube_wf", {"x": INT}, {"o0": INT},
                  [task_node("n0", cube, {"x": promise("start-node", "x")})], {"o0": promise("n0", "o0")})
    plan = launch_plan(wf, {"x": (INT, integer(3))})
    stubs.call(stubs.admin, "CreateTask", message(task_pb2.TaskCreateRequest, cube))
    stubs.call(stubs.admin, "CreateWorkflow", message(workflow_pb2.WorkflowCreateRequest, wf))
    stubs.call(stubs.admin, "CreateLaunchPlan", message(launch_plan_pb2.LaunchPlanCreateRequest, plan))

    for method, document, path in (("GetTask", cube, "tasks"), ("GetWorkflow", wf, "workflows"),
                                   ("GetLaunchPlan", plan, "launch_plans")):
        ident = message(identifier_pb2.Identifier, document["id"])
        got = stubs.call(stubs.admin, method, common_pb2.ObjectGetRequest(id=ident))
        assert got.id == ident
        by_rest = requests.get(f"{rest}/api/v1/{path}/{PROJECT}/{DOMAIN}/{ident.name}/{ident.version}", timeout=30)
        assert emit(got) == by_rest.json()
    listed = stubs.call(stubs.admin, "ListTasks", common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="tests.grpc.cube"), limit=10))
    assert [t.id.version for t in listed.tasks] == ["v1"]

    # the same entity again is ALREADY_EXISTS; a different one under the same version is INVALID_ARGUMENT
    code, _ = status_of(lambda: stubs.call(stubs.admin, "CreateTask", message(task_pb2.TaskCreateRequest, cube)))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    changed = task("tests.grpc.cube", "write({'o0': inputs['x']})", {"x": INT}, {"o0": INT})
    code, details = status_of(lambda: stubs.call(stubs.admin, "CreateTask",
                                                  message(task_pb2.TaskCreateRequest, changed)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details


def test_execution_create_get_list_data_and_nodes(stubs, rest):
    wf = workflow("tests.grpc.square", {"x": INT}, {"o0": INT},
                  [task_node("n0", SQUARE, {"x": promise("start-node", "x")})], {"o0": promise("n0", "o0")})
    for cls, document in ((task_pb2.TaskCreateRequest, SQUARE), (workflow_pb2.WorkflowCreateRequest, wf),
                          (launch_plan_pb2.LaunchPlanCreateRequest, launch_plan(wf))):
        try:
            stubs.call(stubs.admin, f"Create{cls.__name__[:-len('CreateRequest')]}", message(cls, document))
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    request = execution_pb2.ExecutionCreateRequest(project=PROJECT, domain=DOMAIN)
    request.spec.launch_plan.CopyFrom(plan_id(wf))
    request.inputs.literals["x"].scalar.primitive.integer = 7
    created = stubs.call(stubs.admin, "CreateExecution", request)
    name = created.id.name
    done = wait_for(stubs, name)
    assert done.closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED
    assert emit(done) == requests.get(f"{rest}/api/v1/executions/{PROJECT}/{DOMAIN}/{name}", timeout=30).json()

    data = stubs.call(stubs.admin, "GetExecutionData",
                      execution_pb2.WorkflowExecutionGetDataRequest(id=execution_id(name)))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 49
    listed = stubs.call(stubs.admin, "ListExecutions", common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=100))
    assert name in [e.id.name for e in listed.executions]
    nodes = stubs.call(stubs.admin, "ListNodeExecutions",
                       node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=execution_id(name), limit=50))
    assert "n0" in [n.id.node_id for n in nodes.node_executions]
    # DataProxyService.GetData: a node's outputs by flyte:// URL
    got = stubs.call(stubs.dataproxy, "GetData",
                     dataproxy_pb2.GetDataRequest(flyte_url=f"flyte://v1/{PROJECT}/{DOMAIN}/{name}/n0/0/o"))
    assert got.literal_map.literals["o0"].scalar.primitive.integer == 49
    one = stubs.call(stubs.dataproxy, "GetData",
                     dataproxy_pb2.GetDataRequest(flyte_url=f"flyte://v1/{PROJECT}/{DOMAIN}/{name}/n0/i/x"))
    assert one.literal.scalar.primitive.integer == 7


@pytest.mark.parametrize("method, request_, code, fragment", [
    ("GetExecution", execution_pb2.WorkflowExecutionGetRequest(id=execution_id("nosuchexecution")),
     grpc.StatusCode.NOT_FOUND, "nosuchexecution"),
    ("GetTask", common_pb2.ObjectGetRequest(id=identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project=PROJECT, domain=DOMAIN, name="no.such", version="v1")),
     grpc.StatusCode.NOT_FOUND, "no.such"),
    ("CreateExecution", execution_pb2.ExecutionCreateRequest(domain=DOMAIN), grpc.StatusCode.INVALID_ARGUMENT,
     "missing project"),
    ("RecoverExecution", execution_pb2.ExecutionRecoverRequest(), grpc.StatusCode.UNIMPLEMENTED,
     "AdminService/RecoverExecution"),
])
def test_errors_carry_flyteadmins_status_codes(stubs, method, request_, code, fragment):
    got, details = status_of(lambda: stubs.call(stubs.admin, method, request_))
    assert got == code
    assert fragment in details


def test_dataproxy_upload_location_takes_a_put_as_flytekit_sends_it(stubs):
    body = b"print('hello from a fast-register bundle')\n"
    md5 = hashlib.md5(body).digest()
    location = stubs.call(stubs.dataproxy, "CreateUploadLocation", dataproxy_pb2.CreateUploadLocationRequest(
        project=PROJECT, domain=DOMAIN, content_md5=md5, filename="fast-bundle.tar.gz"))
    assert location.signed_url.startswith("http://") and location.native_url.startswith("file://")
    # flytekit's PUT: Content-MD5 from the answer's headers, and a Content-Length
    put = requests.put(location.signed_url, data=body, timeout=30,
                       headers={"Content-MD5": location.headers["Content-MD5"],
                                "Content-Length": str(len(body))})
    assert put.status_code == 200, put.text
    assert Path(location.native_url.removeprefix("file://")).read_bytes() == body
    download = stubs.call(stubs.dataproxy, "CreateDownloadLocation",
                          dataproxy_pb2.CreateDownloadLocationRequest(native_url=location.native_url))
    assert requests.get(download.signed_url, timeout=30).content == body
    assert location.headers["Content-MD5"] == base64.b64encode(md5).decode()


def test_download_link_needs_a_node_with_a_deck(stubs):
    code, details = status_of(lambda: stubs.call(stubs.dataproxy, "CreateDownloadLink",
                                                  dataproxy_pb2.CreateDownloadLinkRequest(
                                                      artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "node_execution_id" in details


def test_gate_answered_through_the_signal_service_and_terminate(stubs):
    wf = approve_workflow("tests.grpc.approved")
    from sandbox_entities import ADD

    for cls, document in ((task_pb2.TaskCreateRequest, SQUARE), (task_pb2.TaskCreateRequest, ADD),
                          (workflow_pb2.WorkflowCreateRequest, wf),
                          (launch_plan_pb2.LaunchPlanCreateRequest, launch_plan(wf))):
        try:
            stubs.call(stubs.admin, f"Create{cls.__name__[:-len('CreateRequest')]}", message(cls, document))
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.ALREADY_EXISTS

    def launch() -> str:
        request = execution_pb2.ExecutionCreateRequest(project=PROJECT, domain=DOMAIN)
        request.spec.launch_plan.CopyFrom(plan_id(wf))
        request.inputs.literals["x"].scalar.primitive.integer = 3
        return stubs.call(stubs.admin, "CreateExecution", request).id.name

    name = launch()
    listing = signal_pb2.SignalListRequest(workflow_execution_id=execution_id(name), limit=10)
    deadline = time.monotonic() + 60
    while not stubs.call(stubs.signals, "ListSignals", listing).signals:
        assert time.monotonic() < deadline, "the gate never asked for its signal"
        time.sleep(0.05)
    answer = signal_pb2.SignalSetRequest(value=literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=True))))
    answer.id.execution_id.CopyFrom(execution_id(name))
    answer.id.signal_id = "review"
    stubs.call(stubs.signals, "SetSignal", answer)
    done = wait_for(stubs, name)
    data = stubs.call(stubs.admin, "GetExecutionData", execution_pb2.WorkflowExecutionGetDataRequest(
        id=execution_id(name)))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 10, done

    other = launch()
    stubs.call(stubs.admin, "TerminateExecution", execution_pb2.ExecutionTerminateRequest(
        id=execution_id(other), cause="stopped by a test"))
    ended = wait_for(stubs, other, until=("ABORTED",))
    assert ended.closure.abort_metadata.cause == "stopped by a test"


def test_auth_metadata_without_auth_is_unimplemented_as_in_flyteadmin(stubs):
    code, _ = status_of(lambda: stubs.call(stubs.auth, "GetOAuth2Metadata", auth_pb2.OAuth2MetadataRequest()))
    assert code == grpc.StatusCode.UNIMPLEMENTED


def test_a_workflow_input_promise_with_an_empty_node_id_means_the_start_node(stubs):
    """flytekit writes a workflow input's promise with node_id "" (GLOBAL_INPUT_NODE_ID); FlyteAdmin compiles it
    as start-node. Before the fix the sandbox refused the workflow ("binds to an unknown node ''")."""
    wf = workflow("tests.grpc.empty_start", {"x": INT}, {"o0": INT},
                  [task_node("n0", SQUARE, {"x": promise("", "x")})], {"o0": promise("n0", "o0")})
    try:
        stubs.call(stubs.admin, "CreateTask", message(task_pb2.TaskCreateRequest, SQUARE))
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    stubs.call(stubs.admin, "CreateWorkflow", message(workflow_pb2.WorkflowCreateRequest, wf))
    stubs.call(stubs.admin, "CreateLaunchPlan", message(launch_plan_pb2.LaunchPlanCreateRequest, launch_plan(wf)))
    stored = stubs.call(stubs.admin, "GetWorkflow", common_pb2.ObjectGetRequest(
        id=message(identifier_pb2.Identifier, wf["id"])))
    assert stored.closure.compiled_workflow.primary.template.nodes[1].inputs[0].binding.promise.node_id == \
        "start-node"
    request = execution_pb2.ExecutionCreateRequest(project=PROJECT, domain=DOMAIN)
    request.spec.launch_plan.CopyFrom(plan_id(wf))
    request.inputs.literals["x"].scalar.primitive.integer = 5
    name = stubs.call(stubs.admin, "CreateExecution", request).id.name
    wait_for(stubs, name)
    data = stubs.call(stubs.admin, "GetExecutionData", execution_pb2.WorkflowExecutionGetDataRequest(
        id=execution_id(name)))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 25


def test_messages_over_the_size_cap_are_refused(stubs):
    from flyrun.sandbox.grpc.server import MAX_MESSAGE

    huge = project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="big", name="big",
                                                                         description="x" * (MAX_MESSAGE + 1)))
    code, _ = status_of(lambda: stubs.call(stubs.admin, "RegisterProject", huge))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


# -- starting: ports ---------------------------------------------------------------------------------------------
def test_a_taken_grpc_port_is_one_line_and_exit_code(tmp_path: Path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = sandbox_cli("start", "--port", str(free_port()), "--grpc-port", str(port),
                             "--data-dir", str(tmp_path / "d"), "--detach")
    assert result.exit_code == 5, result.output
    assert f"port {port} on 127.0.0.1 is already in use (for gRPC)" in result.stderr
    assert "--grpc-port" in result.stderr and "Traceback" not in result.output


def test_grpc_port_equal_to_port_is_a_usage_error(tmp_path: Path):
    result = sandbox_cli("start", "--port", "31999", "--grpc-port", "31999", "--data-dir", str(tmp_path / "d"))
    assert result.exit_code == 2, result.output
    assert "--grpc-port 31999 is also --port" in result.stderr and "Traceback" not in result.output


# -- with --auth -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("sandbox-grpc-auth")
    started = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(data_dir), "--auth", "--detach",
                          "-o", "json", env={"FLYRUN_SANDBOX_CLIENT_SECRET": CI_SECRET})
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    yield info
    stopped = sandbox_cli("stop", "--data-dir", str(data_dir))
    assert stopped.exit_code == 0, stopped.output


def client_credentials_token(metadata: Any) -> str:
    answer = requests.post(metadata.token_endpoint, data={"grant_type": "client_credentials", "scope": "all"},
                           auth=("sandbox-ci", CI_SECRET), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def test_with_auth_no_token_is_unauthenticated_and_a_client_credentials_token_works(secured):
    anonymous = Stubs(int(secured["grpc_port"]))
    try:
        code, details = status_of(lambda: anonymous.call(anonymous.admin, "ListProjects",
                                                          project_pb2.ProjectListRequest()))
        assert code == grpc.StatusCode.UNAUTHENTICATED and "bearer token" in details
        wrong = Stubs(int(secured["grpc_port"]), token="not-a-token")
        code, _ = status_of(lambda: wrong.call(wrong.admin, "ListProjects", project_pb2.ProjectListRequest()))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        wrong.close()
        # What pyflyte asks before it has a token: answered without one, naming the REST port's endpoints.
        metadata = anonymous.call(anonymous.auth, "GetOAuth2Metadata", auth_pb2.OAuth2MetadataRequest())
        assert metadata.token_endpoint == f"{secured['url']}/oauth2/token"
        config = anonymous.call(anonymous.auth, "GetPublicClientConfig", auth_pb2.PublicClientAuthConfigRequest())
        assert config.client_id == "flytectl" and config.authorization_metadata_key == "flyte-authorization"
        token = client_credentials_token(metadata)
    finally:
        anonymous.close()
    signed_in = Stubs(int(secured["grpc_port"]), token=token)
    try:
        projects = signed_in.call(signed_in.admin, "ListProjects", project_pb2.ProjectListRequest())
        assert PROJECT in [p.id for p in projects.projects]
        me = signed_in.call(signed_in.identity, "UserInfo", identity_pb2.UserInfoRequest())
        assert me.subject == "sandbox-ci"
        # flytekit may send the token under the key the public client config names
        other_key = grpc.insecure_channel(f"127.0.0.1:{secured['grpc_port']}")
        try:
            listed = admin_pb2_grpc.AdminServiceStub(other_key).ListProjects(
                project_pb2.ProjectListRequest(), metadata=(("flyte-authorization", f"Bearer {token}"),), timeout=30)
            assert listed.projects
        finally:
            other_key.close()
    finally:
        signed_in.close()


def test_task_executions_and_a_deck_link_for_a_finished_node(stubs, rest):
    """FlyteRemote syncs task nodes through ListTaskExecutions/GetTaskExecutionData (one per attempt), and links
    decks with CreateDownloadLink; REST's task_executions routes give the same answers."""
    decked = task("tests.grpc.decked", "open(os.path.join(out_dir, 'deck.html'), 'w').write('<p>deck</p>')\n"
                                       "write({'o0': inputs['x'] + 1})", {"x": INT}, {"o0": INT})
    wf = workflow("tests.grpc.decked_wf", {"x": INT}, {"o0": INT},
                  [task_node("n0", decked, {"x": promise("start-node", "x")})], {"o0": promise("n0", "o0")})
    for cls, document in ((task_pb2.TaskCreateRequest, decked), (workflow_pb2.WorkflowCreateRequest, wf),
                          (launch_plan_pb2.LaunchPlanCreateRequest, launch_plan(wf))):
        stubs.call(stubs.admin, f"Create{cls.__name__[:-len('CreateRequest')]}", message(cls, document))
    request = execution_pb2.ExecutionCreateRequest(project=PROJECT, domain=DOMAIN)
    request.spec.launch_plan.CopyFrom(plan_id(wf))
    request.inputs.literals["x"].scalar.primitive.integer = 1
    name = stubs.call(stubs.admin, "CreateExecution", request).id.name
    wait_for(stubs, name)

    node_id = node_execution_pb2.NodeExecutionGetRequest().id
    node_id.execution_id.CopyFrom(execution_id(name))
    node_id.node_id = "n0"
    from flyteidl.admin import task_execution_pb2

    listed = stubs.call(stubs.admin, "ListTaskExecutions",
                        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id, limit=10))
    assert [t.id.retry_attempt for t in listed.task_executions] == [0]
    attempt = listed.task_executions[0]
    assert attempt.id.task_id.name == "tests.grpc.decked"
    assert attempt.closure.phase == core_execution_pb2.TaskExecution.SUCCEEDED
    by_rest = requests.get(f"{rest}/api/v1/task_executions/{PROJECT}/{DOMAIN}/{name}/n0", timeout=30)
    assert emit(listed) == by_rest.json()
    data = stubs.call(stubs.admin, "GetTaskExecutionData", task_execution_pb2.TaskExecutionGetDataRequest(
        id=attempt.id))
    assert data.full_outputs.literals["o0"].scalar.primitive.integer == 2
    assert data.full_inputs.literals["x"].scalar.primitive.integer == 1

    link = stubs.call(stubs.dataproxy, "CreateDownloadLink", dataproxy_pb2.CreateDownloadLinkRequest(
        artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK, node_execution_id=node_id))
    assert requests.get(link.pre_signed_urls.signed_url[0], timeout=30).text == "<p>deck</p>"
