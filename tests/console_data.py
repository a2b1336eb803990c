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
