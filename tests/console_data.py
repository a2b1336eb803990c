"""A big execution written straight to a sandbox's store, for the console's render-time test and benchmark."""

from __future__ import annotations

import time
from pathlib import Path

NODES, WIDE = 1000, 10  # 100 levels of 10: each node depends on the one above it
PROJECT, DOMAIN, NAME = "flytesnacks", "development", "big1000"


def populate(data_dir: Path, count: int = NODES) -> None:
    """A finished execution of ``count`` task nodes, written to the store the way the engine leaves one."""
    from flyteidl.admin import execution_pb2, node_execution_pb2
    from flyteidl.core import compiler_pb2
    from flyteidl.core import execution_pb2 as core

    from flyrun.sandbox.admin.wire import dump
    from flyrun.sandbox.state.store import Key, Store

    plan = compiler_pb2.CompiledWorkflowClosure()
    template = plan.primary.template
    template.id.name = "tests.big"
    for index in range(count):
        node = template.nodes.add(id=f"n{index}")
        node.metadata.name = f"tests.step{index % 7}"
        node.task_node.reference_id.name = "tests.step"
        if index >= WIDE:
            node.upstream_node_ids.append(f"n{index - WIDE}")
    key = Key(PROJECT, DOMAIN, NAME)
    execution = execution_pb2.Execution()
    execution.id.project, execution.id.domain, execution.id.name = key.project, key.domain, key.name
    execution.spec.launch_plan.name = "tests.big"
    execution.closure.phase = core.WorkflowExecution.SUCCEEDED
    now = time.time() - 3600
    execution.closure.created_at.FromNanoseconds(int(now * 1e9))
    execution.closure.started_at.FromNanoseconds(int(now * 1e9))
    execution.closure.duration.FromSeconds(count)
    store = Store.open(data_dir)
    store.insert_execution(key, dump(execution), b"", dump(plan), core.WorkflowExecution.SUCCEEDED)
    with store.transaction():
        for index in range(count):
            node = node_execution_pb2.NodeExecution()
            node.id.node_id = f"n{index}"
            node.id.execution_id.CopyFrom(execution.id)
            node.closure.phase = core.NodeExecution.SUCCEEDED
            node.closure.started_at.FromNanoseconds(int((now + index // WIDE) * 1e9))
            node.closure.duration.FromMilliseconds(900 + index % 100)
            store.put_node(key, f"n{index}", None, dump(node), core.NodeExecution.SUCCEEDED,
                           '{"kind": "task_node"}')
    store.close()


def many_executions(data_dir: Path, count: int) -> None:
    """``count`` small finished executions, one a second apart (the newest is small-0)."""
    from flyteidl.admin import execution_pb2
    from flyteidl.core import execution_pb2 as core

    from flyrun.sandbox.admin.wire import dump
    from flyrun.sandbox.state.store import Key, Store

    store = Store.open(data_dir)
    with store.transaction():
        for index in range(count):
            execution = execution_pb2.Execution()
            execution.id.project, execution.id.domain, execution.id.name = PROJECT, DOMAIN, f"small-{index}"
            execution.spec.launch_plan.name = "tests.small"
            execution.closure.phase = core.WorkflowExecution.SUCCEEDED
            store.insert_execution(Key(PROJECT, DOMAIN, f"small-{index}"), dump(execution), b"", b"",
                                   core.WorkflowExecution.SUCCEEDED)
    store.close()


DYNAMIC_NAME = "dynamic1000"


def populate_dynamic(data_dir: Path, count: int = NODES) -> None:
    """A finished execution whose one node n0 is a dynamic task that generated ``count`` nodes (``futures.pb`` on
    disk, rows ``n0-0-dn<i>`` under it), as the engine leaves one; for the expanded graph's render time."""
    from flyteidl.admin import execution_pb2, node_execution_pb2
    from flyteidl.core import compiler_pb2, dynamic_job_pb2
    from flyteidl.core import execution_pb2 as core

    from flyrun.sandbox.admin.wire import dump
    from flyrun.sandbox.state.store import Key, Store

    plan = compiler_pb2.CompiledWorkflowClosure()
    node = plan.primary.template.nodes.add(id="n0")
    node.metadata.name = "tests.generate"
    node.task_node.reference_id.name = "tests.generate"
    spec = dynamic_job_pb2.DynamicJobSpec()
    for index in range(count):
        inner = spec.nodes.add(id=f"dn{index}")
        inner.metadata.name = f"tests.step{index % 7}"
        inner.task_node.reference_id.name = "tests.step"
        if index >= WIDE:
            inner.upstream_node_ids.append(f"dn{index - WIDE}")
    futures = data_dir / "futures.pb"
    futures.write_bytes(spec.SerializeToString())
    key = Key(PROJECT, DOMAIN, DYNAMIC_NAME)
    execution = execution_pb2.Execution()
    execution.id.project, execution.id.domain, execution.id.name = key.project, key.domain, key.name
    execution.spec.launch_plan.name = "tests.dynamic"
    execution.closure.phase = core.WorkflowExecution.SUCCEEDED
    store = Store.open(data_dir)
    store.insert_execution(key, dump(execution), b"", dump(plan), core.WorkflowExecution.SUCCEEDED)
    now = time.time() - 3600
    with store.transaction():
        for node_id, parent, extra in [("n0", None, f'{{"kind": "task_node", "futures": "{futures}"}}')] + [
                (f"n0-0-dn{i}", "n0", '{"kind": "task_node"}') for i in range(count)]:
            message = node_execution_pb2.NodeExecution()
            message.id.node_id = node_id
            message.id.execution_id.CopyFrom(execution.id)
            message.closure.phase = core.NodeExecution.SUCCEEDED
            message.closure.started_at.FromNanoseconds(int(now * 1e9))
            message.closure.duration.FromMilliseconds(900)
            store.put_node(key, node_id, parent, dump(message), core.NodeExecution.SUCCEEDED, extra)
    store.close()
