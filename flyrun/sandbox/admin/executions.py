"""Executions: create (from a launch plan or a task), get, list, terminate, and their inputs and outputs."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyrun.protocol.literals import fits
from flyrun.sandbox import limits
from flyrun.sandbox.admin import compiler, listing, registry
from flyrun.sandbox.admin.listing import Column
from flyrun.sandbox.admin.wire import ApiError, Code, dump, id_text, invalid, load, missing, stamp
from flyrun.sandbox.engine.literals import read_literal_map, write_message
from flyrun.sandbox.engine.notifications import for_execution
from flyrun.sandbox.engine.records import WF_FINAL, WF_QUEUED
from flyrun.sandbox.state.store import Filter, Key, parent_text

if TYPE_CHECKING:  # handlers are given the Services; the scheduler (which Services holds) creates child executions here
    from flyrun.sandbox.services import Services

_NAME = re.compile(r"^[a-z][a-z\-0-9]*$")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of k8s' rand.String, which FlyteAdmin uses
MAX_NAME = 20


def _phase_number(text: str) -> int:
    from flyteidl.core import execution_pb2

    return execution_pb2.WorkflowExecution.Phase.Value(text.upper())


EXECUTION_COLUMNS = {"name": Column("name"), "created_at": Column("created_at"),
                     "updated_at": Column("updated_at"), "phase": Column("phase", _phase_number),
                     "execution_created_at": Column("created_at"),
                     # flyrun's own: eq(parent_execution,NAME) lists the children of NAME (same project, domain)
                     "parent_execution": Column("parent")}
CHILD_WORKFLOW = 4  # admin.ExecutionMetadata.ExecutionMode


def generate_name() -> str:
    """FlyteAdmin's ``GetExecutionName``: "a" followed by 19 random characters."""
    return "a" + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(MAX_NAME - 1))


def _check_request(sb: Services, request: Any) -> None:
    if not request.project:
        raise missing("project")
    if not request.domain:
        raise missing("domain")
    if request.name:
        if len(request.name) > MAX_NAME:
            shown = request.name.lower() if len(request.name) <= 100 else f"{request.name[:100].lower()}..."
            raise invalid(f"size of name exceeded length {MAX_NAME} : {shown}")
        if not _NAME.match(request.name.lower()):
            raise invalid(f"invalid name format: {request.name.lower()}")
    registry.check_project_domain(sb.store, request.project, request.domain)
    if not request.HasField("spec"):
        raise missing("spec")
    if not request.spec.HasField("launch_plan"):
        raise missing("id")
    limits.check_execution_spec(request.spec)
    reference = request.spec.launch_plan
    for field in ("project", "domain", "name", "version"):
        if not getattr(reference, field):
            raise missing(field)
    limits.check_identifier(reference)
    if reference.resource_type not in (registry.TASK, registry.LAUNCH_PLAN):
        raise invalid(f"Invalid reference entity resource type [{reference.resource_type}], only "
                      "[LAUNCH_PLAN TASK] allowed")
    for name, literal in request.inputs.literals.items():
        if not name:
            raise invalid("missing key in inputs")
        if literal.WhichOneof("value") is None:
            raise invalid(f"missing valid literal in inputs {name}")


def _resolve(sb: Services, reference: Any) -> tuple[Any, Any, Any, Any, Any]:
    """(plan closure, expected inputs, fixed inputs, workflow id, launch plan spec or None) for a reference."""
    from flyteidl.core import interface_pb2, literals_pb2

    if reference.resource_type == registry.TASK:
        template = registry.task_template(sb.store, reference)
        closure = compiler.single_task_closure(template)
        expected = interface_pb2.ParameterMap()
        for name, variable in template.interface.inputs.variables.items():
            expected.parameters[name].var.CopyFrom(variable)
            expected.parameters[name].required = True
        workflow_id = closure.primary.template.id
        return closure, expected, literals_pb2.LiteralMap(), workflow_id, None
    plan = registry.get_launch_plan_by_id(sb.store, reference)
    workflow = registry.get_workflow_by_id(sb.store, plan.spec.workflow_id)
    return (workflow.closure.compiled_workflow, plan.closure.expected_inputs, plan.spec.fixed_inputs,
            plan.spec.workflow_id, plan.spec)


def check_inputs(given: Any, fixed: Any, expected: Any) -> Any:
    """FlyteAdmin's ``CheckAndFetchInputsForExecution``: defaults filled in, types checked, fixed inputs added."""
    from flyteidl.core import literals_pb2

    result = literals_pb2.LiteralMap()
    for name, literal in given.literals.items():
        if name not in expected.parameters:
            raise invalid(f"invalid input {name}")
        result.literals[name].CopyFrom(literal)
    for name, parameter in expected.parameters.items():
        if name not in result.literals:
            if parameter.required:
                raise invalid(f"expected_inputs {name} missing")
            result.literals[name].CopyFrom(parameter.default)
        elif not fits(result.literals[name], parameter.var.type):
            raise invalid(f"invalid {name} input wrong type")
    for name, literal in fixed.literals.items():
        if name in given.literals:
            raise invalid(f"fixed_inputs {name} cannot be overridden")
        result.literals[name].CopyFrom(literal)
    return result


def _merge_launch_plan_spec(spec: Any, plan_spec: Any) -> None:
    """Execution settings left unset take the launch plan's (FlyteAdmin's ``MergeIntoExecConfig``)."""
    if plan_spec is None:
        return
    if not spec.raw_output_data_config.output_location_prefix:
        spec.raw_output_data_config.CopyFrom(plan_spec.raw_output_data_config)
    for field in ("labels", "annotations", "envs"):
        if not getattr(spec, field).values and getattr(plan_spec, field).values:
            getattr(spec, field).CopyFrom(getattr(plan_spec, field))
    if not spec.max_parallelism:
        spec.max_parallelism = plan_spec.max_parallelism
    if not spec.HasField("interruptible") and plan_spec.HasField("interruptible"):
        spec.interruptible.CopyFrom(plan_spec.interruptible)
    spec.overwrite_cache = spec.overwrite_cache or plan_spec.overwrite_cache


def create_execution(sb: Services, request: Any) -> Any:
    from flyteidl.admin import execution_pb2

    _check_request(sb, request)
    if not request.inputs.literals and request.spec.inputs.literals:
        request.inputs.CopyFrom(request.spec.inputs)  # older clients put them in the spec; FlyteAdmin reads both
    closure, expected, fixed, workflow_id, plan_spec = _resolve(sb, request.spec.launch_plan)
    inputs = check_inputs(request.inputs, fixed, expected)
    parent = _parent_of(sb, request)
    key = Key(request.project, request.domain, request.name or generate_name())
    execution = execution_pb2.Execution()
    execution.id.project, execution.id.domain, execution.id.name = key.project, key.domain, key.name
    execution.id.org = request.org
    execution.spec.CopyFrom(request.spec)
    _merge_launch_plan_spec(execution.spec, plan_spec)

    execution.closure.notifications.extend(for_execution(request.spec, plan_spec))
    execution.closure.phase = WF_QUEUED
    execution.closure.workflow_id.CopyFrom(workflow_id)
    now = time.time()
    stamp(execution.closure.created_at, now)
    stamp(execution.closure.updated_at, now)
    if parent is not None:
        execution.spec.metadata.mode = CHILD_WORKFLOW
        execution.spec.metadata.nesting = parent[1] + 1
    if not sb.store.insert_execution(key, dump(execution), dump(inputs), dump(closure), WF_QUEUED,
                                     parent=parent_text(parent[0]) if parent else None):
        raise ApiError(Code.ALREADY_EXISTS, f"execution with id {id_text(execution.id)} already exists")
    write_message(sb.data.execution_metadata(*key[:3]) / "inputs.pb", inputs)
    sb.scheduler.launch(key)
    if parent is not None and sb.store.existing_execution(parent[0])["phase"] in WF_FINAL:
        # The parent ended while this child was being created, after it terminated its children: no orphan.
        sb.scheduler.terminate(key, f"parent execution {parent[0].name} has ended")
    return execution_pb2.ExecutionCreateResponse(id=execution.id)


def _parent_of(sb: Services, request: Any) -> tuple[Key, int] | None:
    """(key, nesting) of the execution a child execution is launched from, if the request names one
    (``spec.metadata.parent_node_execution``); a parent that has ended launches nothing."""
    from flyteidl.admin import execution_pb2

    metadata = request.spec.metadata
    if not metadata.HasField("parent_node_execution"):
        return None
    ident = metadata.parent_node_execution.execution_id
    key = execution_key(ident, metadata.parent_node_execution.HasField("execution_id"),
                        "spec.metadata.parent_node_execution.execution_id")
    row = sb.store.execution(key)
    if row is None:
        raise invalid(f"parent execution {key.name} does not exist in {key.project}/{key.domain}")
    if row["phase"] in WF_FINAL:
        raise ApiError(Code.FAILED_PRECONDITION, f"parent execution {key.name} has already ended; it cannot "
                                                 "launch child executions")
    return key, load(execution_pb2.Execution(), row["body"]).spec.metadata.nesting


def execution_key(identifier: Any, present: bool = True, field_name: str = "id") -> Key:
    """The store key of a WorkflowExecutionIdentifier, or FlyteAdmin's error for the first field it lacks."""
    if not present:
        raise missing(field_name)
    for field in ("project", "domain", "name"):
        if not getattr(identifier, field):
            raise missing(field)
    return Key(identifier.project, identifier.domain, identifier.name)


def _row(sb: Services, key: Key) -> Any:
    row = sb.store.execution(key)
    if row is None:
        raise ApiError(Code.NOT_FOUND, f"missing entity of type execution with identifier "
                                       f"project:{key.project} domain:{key.domain} name:{key.name}")
    return row


def get_execution(sb: Services, request: Any) -> Any:
    from flyteidl.admin import execution_pb2

    key = execution_key(request.id, request.HasField("id"))
    return load(execution_pb2.Execution(), _row(sb, key)["body"])


def list_executions(sb: Services, request: Any) -> Any:
    from flyteidl.admin import execution_pb2

    if not request.HasField("id"):
        raise missing("id")
    for field in ("project", "domain"):
        if not getattr(request.id, field):
            raise missing(field)
    page = listing.page(request, EXECUTION_COLUMNS)
    filters = [_scoped(f, request.id) for f in listing.filters(request.filters, EXECUTION_COLUMNS)]
    if request.id.name:
        filters.append(listing.Filter("name", "=", request.id.name))
    rows = sb.store.list_executions(request.id.project, request.id.domain, page, filters)
    result = execution_pb2.ExecutionList(token=listing.next_token(page, len(rows)))
    for row in rows:
        result.executions.add().CopyFrom(load(execution_pb2.Execution(), row["body"]))
    return result


def _scoped(item: Filter, ident: Any) -> Filter:
    """A parent named in a filter is in the listed project and domain (the column holds project/domain/name)."""
    if item.column != "parent" or item.op == "LIKE":  # contains(parent_execution,x) matches the whole text
        return item
    scope = f"{ident.project}/{ident.domain}/"
    if isinstance(item.value, list):
        return item._replace(value=[scope + value for value in item.value])
    return item._replace(value=scope + item.value)


def terminate_execution(sb: Services, request: Any) -> Any:
    from flyteidl.admin import execution_pb2

    key = execution_key(request.id, request.HasField("id"))
    row = _row(sb, key)
    if row["phase"] in WF_FINAL:
        raise ApiError(Code.FAILED_PRECONDITION, "Cannot abort an already terminated workflow execution")
    sb.scheduler.terminate(key, request.cause or "terminated")
    return execution_pb2.ExecutionTerminateResponse()


def url_blob(sb: Services, blob: Any, path: str) -> None:
    """Fill a ``UrlBlob`` for a stored file: a signed download URL (valid 1h) and its size, as FlyteAdmin does."""
    file = Path(path)
    if not path or not file.exists():
        return
    try:
        key = file.resolve().relative_to(sb.data.blobs.resolve()).as_posix()
    except ValueError:
        return
    blob.url = sb.signer.sign(sb.public_url(), "GET", key, 3600)
    blob.bytes = file.stat().st_size


def get_execution_data(sb: Services, request: Any) -> Any:
    from flyteidl.admin import execution_pb2
    from flyteidl.core import literals_pb2

    key = execution_key(request.id, request.HasField("id"))
    row = _row(sb, key)
    execution = load(execution_pb2.Execution(), row["body"])
    result = execution_pb2.WorkflowExecutionGetDataResponse()
    result.full_inputs.CopyFrom(load(literals_pb2.LiteralMap(), row["inputs"]))
    url_blob(sb, result.inputs, str(sb.data.execution_metadata(*key[:3]) / "inputs.pb"))
    outputs_uri = execution.closure.outputs.uri
    if outputs_uri and Path(outputs_uri).exists():
        result.full_outputs.CopyFrom(read_literal_map(outputs_uri))
        url_blob(sb, result.outputs, outputs_uri)
    return result
