"""Gate nodes: sleep for real, or wait for a signal (``approve`` takes a boolean; ``wait_for_input`` a typed
value), as propeller does through FlyteAdmin's SignalService. The signal id is the gate's name.
"""

from __future__ import annotations

import time
from typing import Any

from flyrun.sandbox.admin.wire import dump, load
from flyrun.sandbox.engine.literals import literal_map
from flyrun.sandbox.engine.records import USER, NodeRecord
from flyrun.sandbox.engine.runtime import Aborted, NodeFailed, RunContext, Scope

_POLL = 1.0


def run_gate(ctx: RunContext, record: NodeRecord, node: Any, inputs: Any, scope: Scope) -> Any:
    gate = node.gate_node
    kind = gate.WhichOneof("condition")
    started = record.message.closure.started_at.ToNanoseconds() / 1e9
    if kind == "sleep":
        _sleep_until(ctx, scope, started + gate.sleep.duration.ToTimedelta().total_seconds())
        return literal_map()
    deadline = None
    if node.metadata.HasField("timeout") and node.metadata.timeout.ToNanoseconds() > 0:
        deadline = started + node.metadata.timeout.ToTimedelta().total_seconds()
    if kind == "approve":
        value = _wait_for_signal(ctx, record, scope, gate.approve.signal_id, _boolean_type(), "approve", deadline)
        if not value.scalar.primitive.boolean:
            raise NodeFailed.of("ApprovalRejected", f"gate {gate.approve.signal_id!r} was rejected", USER)
        return inputs
    if kind == "signal":
        signal = gate.signal
        value = _wait_for_signal(ctx, record, scope, signal.signal_id, signal.type, "signal", deadline)
        return literal_map({signal.output_variable_name or "o0": value})
    raise NodeFailed.of("UnsupportedNode", f"gate node {node.id} has no condition")


def create_signal(ctx: RunContext, node: Any) -> None:
    """propeller's GetOrCreateSignal for a gate that waits on one."""
    gate = node.gate_node
    if gate.HasField("approve"):
        ctx.store.ensure_signal(ctx.key, gate.approve.signal_id, dump(_boolean_type()))
    elif gate.HasField("signal"):
        ctx.store.ensure_signal(ctx.key, gate.signal.signal_id, dump(gate.signal.type))


def _boolean_type() -> Any:
    from flyteidl.core import types_pb2

    return types_pb2.LiteralType(simple=types_pb2.BOOLEAN)


def _sleep_until(ctx: RunContext, scope: Scope, wake_at: float) -> None:
    while True:
        remaining = wake_at - time.time()
        if remaining <= 0:
            return
        if scope.stopped:
            raise Aborted()
        with ctx.wake:
            ctx.wake.wait(timeout=min(remaining, _POLL))


def _wait_for_signal(ctx: RunContext, record: NodeRecord, scope: Scope, signal_id: str, literal_type: Any,
                     kind: str, deadline: float | None) -> Any:
    """Create the signal (GetOrCreateSignal) and wait until someone sets it, the gate times out, or we stop."""
    from flyteidl.core import literals_pb2
    from google.protobuf import json_format

    ctx.store.ensure_signal(ctx.key, signal_id, dump(literal_type))
    record.note(gate={"kind": kind, "signal_id": signal_id,
                      "type": json_format.MessageToDict(literal_type, preserving_proto_field_name=True)})
    while True:
        row = ctx.store.signal(ctx.key, signal_id)
        if row is not None and row["value"] is not None:
            return load(literals_pb2.Literal(), row["value"])
        if scope.stopped:
            raise Aborted()
        if deadline is not None and time.time() >= deadline:
            raise NodeFailed.of("GateTimedOut", f"gate {signal_id!r} timed out waiting for its signal", USER,
                                timed_out=True)
        with ctx.wake:
            ctx.wake.wait(timeout=_POLL)
