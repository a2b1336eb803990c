"""Projects, tasks, workflows and launch plans: FlyteAdmin's registration API over the store.

Each function takes the request message FlyteAdmin's service method takes and returns its response message,
raising ``ApiError`` with the code FlyteAdmin would use.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flyrun.sandbox import limits
from flyrun.sandbox.admin import compiler, listing
from flyrun.sandbox.admin.listing import Column
from flyrun.sandbox.admin.references import embed_referenced_workflows
from flyrun.sandbox.admin.wire import ApiError, Code, dump, id_text, invalid, load, missing, stamp
from flyrun.sandbox.state.store import Key, Store

TASK, WORKFLOW, LAUNCH_PLAN = 1, 2, 3
KIND_NAMES = {TASK: "task", WORKFLOW: "workflow", LAUNCH_PLAN: "launch plan"}
DOMAINS = ("development", "staging", "production")
DEFAULT_PROJECT = "flytesnacks"
ENTITY_COLUMNS = {"name": Column("name"), "version": Column("version"), "project": Column("project"),
                  "domain": Column("domain"), "created_at": Column("created_at"),
                  "updated_at": Column("updated_at"), "state": Column("state", int)}


# -- projects ----------------------------------------------------------------------------------------
def _project_message(project_id: str, name: str, description: str = "") -> Any:
    from flyteidl.admin import project_pb2

    project = project_pb2.Project(id=project_id, name=name, description=description)
    for domain in DOMAINS:
        project.domains.add(id=domain, name=domain)
    return project


def ensure_default_project(store: Store) -> None:
    store.insert_project(DEFAULT_PROJECT, dump(_project_message(DEFAULT_PROJECT, DEFAULT_PROJECT)))


def list_projects(store: Store, request: Any) -> Any:
    from flyteidl.admin import project_pb2

    if request.limit == 0:
        request.limit = 100  # the console and flytectl list projects without a limit
    page = listing.page(request, {"created_at": Column("created_at"), "name": Column("id"),
                                  "id": Column("id")}, default_sort="id")
    rows = store.list_projects(page._replace(descending=page.descending and request.HasField("sort_by")))
    result = project_pb2.Projects(token=listing.next_token(page, len(rows)))
    for row in rows:
        result.projects.add().CopyFrom(load(project_pb2.Project(), row["body"]))
    return result


def register_project(store: Store, request: Any) -> Any:
    from flyteidl.admin import project_pb2

    if not request.HasField("project"):
        raise missing("project")
    project = request.project
    if not project.name:
        raise missing("project_name")
    if not project.id:
        raise missing("project_id")
    limits.check_text("project id", project.id)
    limits.check_text("project name", project.name)
    limits.check_text("project description", project.description, limits.MAX_DESCRIPTION)
    if project.domains:
        raise invalid("Domains are currently only set system wide. Please retry without domains included in "
                      "your request.")
    stored = _project_message(project.id, project.name, project.description)
    stored.labels.CopyFrom(project.labels)
    if not store.insert_project(project.id, dump(stored)):
        raise ApiError(Code.ALREADY_EXISTS, f"project with id {project.id} already exists")
    return project_pb2.ProjectRegisterResponse()


def get_project(store: Store, request: Any) -> Any:
    from flyteidl.admin import project_pb2

    row = store.project(request.id)
    if row is None:
        raise ApiError(Code.NOT_FOUND, f"project [{request.id}] not found")
    return load(project_pb2.Project(), row["body"])


def check_project_domain(store: Store, project: str, domain: str) -> None:
    limits.check_text("project", project)
    limits.check_text("domain", domain)
    if store.project(project) is None:
        raise invalid(f"failed to validate that project [{project}] and domain [{domain}] are registered, "
                      f"err: [project {project} not found]")
    if domain not in DOMAINS:
        raise invalid(f"domain [{domain}] is unrecognized by system")


# -- shared entity plumbing ---------------------------------------------------------------------------------
def check_identifier(identifier: Any, kind: int, present: bool = True) -> None:
    """FlyteAdmin's ``ValidateIdentifier``."""
    if not present:
        raise missing("id")
    if identifier.resource_type != kind:
        from flyteidl.core import identifier_pb2

        names = identifier_pb2.ResourceType
        raise invalid(f"unexpected resource type {names.Name(identifier.resource_type).lower()} for identifier "
                      f"[{id_text(identifier)}], expected {names.Name(kind).lower()} instead")
    for field in ("project", "domain", "name", "version"):
        if not getattr(identifier, field):
            raise missing(field)
    limits.check_identifier(identifier)


def _insert(store: Store, kind: int, identifier: Any, digest: bytes, body: Any, state: int = 0) -> None:
    key = Key(*compiler.entity_key(identifier))
    if store.insert_entity(kind, key, digest, dump(body), state):
        return
    existing = store.entity(kind, key)
    if existing is not None and existing["digest"] == digest:
        raise ApiError(Code.ALREADY_EXISTS, f"{KIND_NAMES[kind]} with identical structure already exists")
    name = KIND_NAMES[kind]
    raise invalid(f"{identifier.name} {name} with different structure already exists. "
                  f"(Please register a new version of the {name})")


def _get(store: Store, kind: int, identifier: Any, message: Any) -> Any:
    row = store.entity(kind, Key(*compiler.entity_key(identifier)))
    if row is None:
        raise compiler.missing_entity(KIND_NAMES[kind], identifier)
    return load(message, row["body"])


def _list(store: Store, kind: int, request: Any, message_type: Any, result: Any, field: str) -> Any:
    if not request.HasField("id"):
        raise missing("id")
    if not request.id.project:
        raise missing("project")
    if not request.id.domain:
        raise missing("domain")
    page = listing.page(request, ENTITY_COLUMNS)
    filters = listing.filters(request.filters, ENTITY_COLUMNS)
    if request.id.name:
        filters.append(listing.Filter("name", "=", request.id.name))
    rows = store.list_entities(kind, request.id.project, request.id.domain, page, filters)
    for row in rows:
        getattr(result, field).add().CopyFrom(load(message_type(), row["body"]))
    result.token = listing.next_token(page, len(rows))
    return result


def _digest(*messages: Any) -> bytes:
    digest = hashlib.sha256()
    for message in messages:
        digest.update(dump(message))
    return digest.digest()


# -- description entities ----------------------------------------------------------------------------
def _keep_description(store: Store, identifier: Any, spec: Any) -> None:
    """FlyteAdmin keeps a spec's ``description`` as the entity's ``DescriptionEntity``, under the same id."""
    if not spec.HasField("description"):
        return
    entity = type(spec.description)()
    entity.CopyFrom(spec.description)
    entity.id.CopyFrom(identifier)
    store.insert_description(identifier.resource_type, Key(*compiler.entity_key(identifier)), dump(entity))


def get_description_entity(store: Store, request: Any) -> Any:
    """``GetDescriptionEntity``: a task's or workflow's description, as registered."""
    from flyteidl.admin import description_entity_pb2

    if not request.HasField("id"):
        raise missing("id")
    if request.id.resource_type not in (TASK, WORKFLOW):
        raise invalid("description entities are kept for tasks and workflows (resource_type TASK or WORKFLOW)")
    row = store.description(request.id.resource_type, Key(*compiler.entity_key(request.id)))
    if row is None:
        raise ApiError(Code.NOT_FOUND, f"no description entity for {KIND_NAMES[request.id.resource_type]} "
                                       f"{id_text(request.id)}")
    return load(description_entity_pb2.DescriptionEntity(), row["body"])


# -- tasks -------------------------------------------------------------------------------------------
def create_task(store: Store, request: Any) -> Any:
    from flyteidl.admin import task_pb2

    check_identifier(request.id, TASK, request.HasField("id"))
    check_project_domain(store, request.id.project, request.id.domain)
    if not request.HasField("spec") or not request.spec.HasField("template"):
        raise missing("spec")
    template = request.spec.template
    if not template.type:
        raise missing("type")
    if not template.HasField("metadata"):
        raise missing("metadata")
    if template.metadata.HasField("runtime") and not template.metadata.runtime.version:
        raise missing("runtime version")
    if not template.HasField("interface"):
        raise missing("typed interface")
    if template.HasField("container") and not template.container.image:
        raise missing("image")
    template.id.CopyFrom(request.id)
    limits.check_task_template(template)
    task = task_pb2.Task(id=request.id, short_description=request.spec.description.short_description)
    task.closure.compiled_task.template.CopyFrom(template)
    stamp(task.closure.created_at, time.time())
    _insert(store, TASK, request.id, _digest(task.closure.compiled_task), task)
    _keep_description(store, request.id, request.spec)
    return task_pb2.TaskCreateResponse()


def get_task(store: Store, request: Any) -> Any:
    from flyteidl.admin import task_pb2

    return _get(store, TASK, request.id, task_pb2.Task())


def list_tasks(store: Store, request: Any) -> Any:
    from flyteidl.admin import task_pb2

    return _list(store, TASK, request, task_pb2.Task, task_pb2.TaskList(), "tasks")


def task_template(store: Store, identifier: Any) -> Any:
    from flyteidl.admin import task_pb2

    return _get(store, TASK, identifier, task_pb2.Task()).closure.compiled_task.template


# -- workflows ---------------------------------------------------------------------------------------
def create_workflow(store: Store, request: Any) -> Any:
    from flyteidl.admin import workflow_pb2

    check_identifier(request.id, WORKFLOW, request.HasField("id"))
    check_project_domain(store, request.id.project, request.id.domain)
    if not request.HasField("spec") or not request.spec.HasField("template"):
        raise missing("spec")
    spec = request.spec
    spec.template.id.CopyFrom(request.id)

    embed_referenced_workflows(spec, lambda i: get_workflow_by_id(store, i))  # reference_workflow nodes
    closure = compiler.compile_workflow(spec.template, spec.sub_workflows, lambda i: task_template(store, i),
                                        lambda i: get_launch_plan_by_id(store, i))
    workflow = workflow_pb2.Workflow(id=request.id, short_description=spec.description.short_description)
    workflow.closure.compiled_workflow.CopyFrom(closure)
    stamp(workflow.closure.created_at, time.time())
    _insert(store, WORKFLOW, request.id, _digest(spec.template, *spec.sub_workflows), workflow)
    _keep_description(store, request.id, spec)
    return workflow_pb2.WorkflowCreateResponse()


def get_workflow(store: Store, request: Any) -> Any:
    from flyteidl.admin import workflow_pb2

    return _get(store, WORKFLOW, request.id, workflow_pb2.Workflow())


def get_workflow_by_id(store: Store, identifier: Any) -> Any:
    from flyteidl.admin import workflow_pb2

    return _get(store, WORKFLOW, identifier, workflow_pb2.Workflow())


def list_workflows(store: Store, request: Any) -> Any:
    from flyteidl.admin import workflow_pb2

    return _list(store, WORKFLOW, request, workflow_pb2.Workflow, workflow_pb2.WorkflowList(), "workflows")


# -- launch plans ------------------------------------------------------------------------------------
def create_launch_plan(store: Store, request: Any) -> Any:
    from flyteidl.admin import launch_plan_pb2

    check_identifier(request.id, LAUNCH_PLAN, request.HasField("id"))
    check_project_domain(store, request.id.project, request.id.domain)
    if not request.HasField("spec"):
        raise missing("spec")
    spec = request.spec
    check_identifier(spec.workflow_id, WORKFLOW, spec.HasField("workflow_id"))
    for name, literal in spec.fixed_inputs.literals.items():
        if not name:
            raise invalid("missing key in fixed_inputs")
        if literal.WhichOneof("value") is None:
            raise invalid(f"missing valid literal in fixed_inputs {name}")
    compiler.check_parameters(spec.default_inputs, "default_inputs")
    limits.check_execution_spec(spec)  # a launch plan's max_parallelism becomes its executions'
    workflow = get_workflow_by_id(store, spec.workflow_id)
    interface = workflow.closure.compiled_workflow.primary.template.interface
    expected = compiler.expected_inputs(interface.inputs, spec.fixed_inputs, spec.default_inputs)
    spec.default_inputs.CopyFrom(expected)
    plan = launch_plan_pb2.LaunchPlan(id=request.id, spec=spec)
    plan.closure.expected_inputs.CopyFrom(expected)
    plan.closure.expected_outputs.CopyFrom(interface.outputs)
    now = time.time()
    stamp(plan.closure.created_at, now)
    stamp(plan.closure.updated_at, now)
    _insert(store, LAUNCH_PLAN, request.id, _digest(spec), plan)
    return launch_plan_pb2.LaunchPlanCreateResponse()


def get_launch_plan(store: Store, request: Any) -> Any:
    return get_launch_plan_by_id(store, request.id)


def get_launch_plan_by_id(store: Store, identifier: Any) -> Any:
    from flyteidl.admin import launch_plan_pb2

    plan = _get(store, LAUNCH_PLAN, identifier, launch_plan_pb2.LaunchPlan())
    plan.closure.state = store.existing_entity(LAUNCH_PLAN, Key(*compiler.entity_key(identifier)))["state"]
    return plan


def list_launch_plans(store: Store, request: Any) -> Any:
    from flyteidl.admin import launch_plan_pb2

    result = _list(store, LAUNCH_PLAN, request, launch_plan_pb2.LaunchPlan, launch_plan_pb2.LaunchPlanList(),
                   "launch_plans")
    for plan in result.launch_plans:
        plan.closure.state = store.existing_entity(LAUNCH_PLAN, Key(*compiler.entity_key(plan.id)))["state"]
    return result


def update_launch_plan(store: Store, request: Any) -> Any:
    """Set a version's state; activating one deactivates the name's other versions, as FlyteAdmin does."""
    from flyteidl.admin import launch_plan_pb2

    if not request.HasField("id"):
        raise missing("id")
    plan = get_launch_plan_by_id(store, request.id)
    with store.transaction():
        if request.state == launch_plan_pb2.ACTIVE:
            for other in _active_versions(store, plan.id.project, plan.id.domain, plan.id.name):
                _set_state(store, other, launch_plan_pb2.INACTIVE)
        _set_state(store, plan, request.state)
        if request.state != launch_plan_pb2.ACTIVE:  # its schedule stops; activated again, it starts afresh
            store.forget_fire(plan.id.project, plan.id.domain, plan.id.name)
    return launch_plan_pb2.LaunchPlanUpdateResponse()


def _set_state(store: Store, plan: Any, state: int) -> None:
    plan.closure.state = state
    stamp(plan.closure.updated_at, time.time())
    store.update_entity(LAUNCH_PLAN, Key(*compiler.entity_key(plan.id)), dump(plan), state)


def _active_versions(store: Store, project: str, domain: str, name: str) -> list[Any]:
    from flyteidl.admin import launch_plan_pb2

    rows = store.list_entities(LAUNCH_PLAN, project, domain, listing.Page(limit=1000),
                               [listing.Filter("name", "=", name), listing.Filter("state", "=", 1)])
    return [load(launch_plan_pb2.LaunchPlan(), row["body"]) for row in rows]


def get_active_launch_plan(store: Store, request: Any) -> Any:
    for field in ("project", "domain", "name"):
        if not getattr(request.id, field):
            raise missing(field)
    active = _active_versions(store, request.id.project, request.id.domain, request.id.name)
    if not active:
        raise ApiError(Code.NOT_FOUND, f"No active launch plan could be found: {request.id.project}:"
                                       f"{request.id.domain}:{request.id.name}")
    return active[0]


def list_active_launch_plans(store: Store, request: Any) -> Any:
    from flyteidl.admin import launch_plan_pb2

    if not request.project:
        raise missing("project")
    if not request.domain:
        raise missing("domain")
    page = listing.page(request, ENTITY_COLUMNS)
    rows = store.list_entities(LAUNCH_PLAN, request.project, request.domain, page,
                               [listing.Filter("state", "=", 1)])
    result = launch_plan_pb2.LaunchPlanList(token=listing.next_token(page, len(rows)))
    for row in rows:
        result.launch_plans.add().CopyFrom(load(launch_plan_pb2.LaunchPlan(), row["body"]))
    return result
