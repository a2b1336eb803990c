"""Node executions (list, get, data) and signals (set, list): the parts of an execution a client watches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flyrun.protocol.literals import fits
from flyrun.sandbox.admin import listing
from flyrun.sandbox.admin.executions import execution_key, url_blob
from flyrun.sandbox.admin.listing import Column
from flyrun.sandbox.admin.wire import ApiError, Code, dump, invalid, load, missing
from flyrun.sandbox.engine.literals import read_literal_map
from flyrun.sandbox.engine.records import WF_FINAL
from flyrun.sandbox.services import Services


def _node_phase(text: str) -> int:
    from flyteidl.core import execution_pb2

    return execution_pb2.NodeExecution.Phase.Value(text.upper())


NODE_COLUMNS = {"node_id": Column("node_id"), "phase": Column("phase", _node_phase),
                "created_at": Column("created_at"), "updated_at": Column("updated_at")}
SIGNAL_COLUMNS = {"created_at": Column("created_at"), "updated_at": Column("updated_at"),
                  "signal_id": Column("signal_id")}


def list_node_executions(sb: Services, request: Any) -> Any:
    from flyteidl.admin import node_execution_pb2

    key = execution_key(request.workflow_execution_id, request.HasField("workflow_execution_id"), "execution_id")
    page = listing.page(request, NODE_COLUMNS)
    if not request.HasField("sort_by"):
        page = page._replace(descending=False)
    filters = listing.filters(request.filters, NODE_COLUMNS)
    rows = sb.store.list_nodes(key, request.unique_parent_id or None, page, filters)
    result = node_execution_pb2.NodeExecutionList(token=listing.next_token(page, len(rows)))
    for row in rows:
        result.node_executions.add().CopyFrom(load(node_execution_pb2.NodeExecution(), row["body"]))
    return result


def _node_row(sb: Services, request: Any) -> Any:
    if not request.HasField("id"):
        raise missing("id")
    key = execution_key(request.id.execution_id, request.id.HasField("execution_id"), "execution_id")
    if not request.id.node_id:
        raise missing("node_id")
    row = sb.store.node(key, request.id.node_id)
    if row is None:
        raise ApiError(Code.NOT_FOUND, f"missing entity of type node execution with identifier "
                                       f"{key.project}:{key.domain}:{key.name}:{request.id.node_id}")
    return row


def get_node_execution(sb: Services, request: Any) -> Any:
    from flyteidl.admin import node_execution_pb2

    return load(node_execution_pb2.NodeExecution(), _node_row(sb, request)["body"])


def get_node_execution_data(sb: Services, request: Any) -> Any:
    from flyteidl.admin import node_execution_pb2

    node = load(node_execution_pb2.NodeExecution(), _node_row(sb, request)["body"])
    result = node_execution_pb2.NodeExecutionGetDataResponse()
    if node.input_uri and Path(node.input_uri).exists():
        result.full_inputs.CopyFrom(read_literal_map(node.input_uri))
        url_blob(sb, result.inputs, node.input_uri)
    output_uri = node.closure.output_uri
    if output_uri and Path(output_uri).exists():
        result.full_outputs.CopyFrom(read_literal_map(output_uri))
        url_blob(sb, result.outputs, output_uri)
    return result


# -- signals -------------------------------------------------------------------------------------------
def set_signal(sb: Services, request: Any) -> Any:
    """FlyteAdmin's ``SetSignal``: the signal must exist (its gate is waiting) and the value must fit its type."""
    from flyteidl.admin import signal_pb2
    from flyteidl.core import types_pb2

    if not request.HasField("id"):
        raise missing("id")
    key = execution_key(request.id.execution_id, request.id.HasField("execution_id"), "execution_id")
    if not request.id.signal_id:
        raise missing("signal_id")
    if not request.HasField("value"):
        raise missing("value")
    _refuse_if_ended(sb, key, request.id.signal_id)
    row = sb.store.signal(key, request.id.signal_id)
    if row is None:
        raise invalid(f"failed to validate that signal [{key.project}:{key.domain}:{key.name}:"
                      f"{request.id.signal_id}] exists, err: [signal not found]")
    expected = load(types_pb2.LiteralType(), row["type"])
    if not fits(request.value, expected):
        raise invalid(f"requested signal value is not castable to existing signal type "
                      f"[{types_pb2.SimpleType.Name(expected.simple) if expected.HasField('simple') else expected}]")
    sb.store.set_signal(key, request.id.signal_id, dump(request.value))
    sb.scheduler.notify()
    return signal_pb2.SignalSetResponse()


def _refuse_if_ended(sb: Services, key: Any, signal_id: str) -> None:
    """A gate of an execution that has ended (or is being aborted) waits for nothing any more: setting its
    signal would report an approval that nobody acts on. FAILED_PRECONDITION, as for any request the resource's
    state forbids."""
    from flyteidl.core import execution_pb2

    row = sb.store.execution(key)
    if row is None:
        raise ApiError(Code.NOT_FOUND, f"missing entity of type execution with identifier "
                                       f"{key.project}:{key.domain}:{key.name}")
    phase = execution_pb2.WorkflowExecution.Phase
    if row["phase"] in (*WF_FINAL, phase.ABORTING):
        ended = phase.Name(row["phase"])
        raise ApiError(Code.FAILED_PRECONDITION, f"execution {key.project}:{key.domain}:{key.name} is {ended}; "
                                                 f"its gate '{signal_id}' can no longer be answered")


def list_signals(sb: Services, request: Any) -> Any:
    from flyteidl.admin import signal_pb2
    from flyteidl.core import literals_pb2, types_pb2

    if not request.HasField("workflow_execution_id"):
        raise missing("execution_id")
    key = execution_key(request.workflow_execution_id, True, "execution_id")
    page = listing.page(request, SIGNAL_COLUMNS)
    rows = sb.store.list_signals(key, page)
    result = signal_pb2.SignalList(token=listing.next_token(page, len(rows)))
    for row in rows:
        signal = result.signals.add()
        signal.id.signal_id = row["signal_id"]
        signal.id.execution_id.CopyFrom(request.workflow_execution_id)
        signal.type.CopyFrom(load(types_pb2.LiteralType(), row["type"]))
        if row["value"] is not None:
            signal.value.CopyFrom(load(literals_pb2.Literal(), row["value"]))
    return result
