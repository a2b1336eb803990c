"""The execution page of a 1,000-node run renders fast: graph, timeline and node table from a real sandbox."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
import requests
from conftest import free_port, sandbox_cli

pytestmark = pytest.mark.slow
NODES, WIDE = 1000, 10  # 100 levels of 10: each node depends on the one above it
TARGET_SECONDS = 0.2
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


def test_a_1000_node_execution_page_renders_fast(tmp_path):
    populate(tmp_path)
    port = free_port()
    started = sandbox_cli("start", "--port", str(port), "--data-dir", str(tmp_path), "--detach", "-o", "json")
    assert started.exit_code == 0, started.output
    try:
        url = f"http://127.0.0.1:{port}/console/projects/{PROJECT}/domains/{DOMAIN}/executions/{NAME}"
        page = requests.get(url, timeout=30)
        assert page.status_code == 200
        assert page.text.count('class="gnode"') == NODES
        assert page.text.count('class="edge"') == NODES - WIDE
        assert page.text.count('id="node-n') == NODES
        assert 'class="bar"' in page.text
        times = []
        for _ in range(7):
            begun = time.perf_counter()
            assert requests.get(url, timeout=30).status_code == 200
            times.append(time.perf_counter() - begun)
        median = statistics.median(times)
        print(f"\n1,000-node execution page: median {median * 1000:.0f} ms, best {min(times) * 1000:.0f} ms, "
              f"{len(page.content) // 1024} KiB")
        # The target is 200 ms; the bound leaves room for a machine shared with other test runs.
        assert min(times) < TARGET_SECONDS * 3
    finally:
        assert sandbox_cli("stop", "--data-dir", str(tmp_path)).exit_code == 0


def test_the_1000_node_fragment_costs_under_200_ms_of_cpu(tmp_path):
    """The server's own work for the page, timed as CPU time so other processes on a busy machine do not count."""
    from types import SimpleNamespace

    from flyrun.sandbox.console.pages import execution_fragment
    from flyrun.sandbox.state.store import Key, Store

    populate(tmp_path)
    store = Store.open(tmp_path)
    try:
        key = Key(PROJECT, DOMAIN, NAME)
        row = store.execution(key)
        services = SimpleNamespace(store=store)  # execution_fragment reads the store only
        costs = []
        for _ in range(5):
            begun = time.process_time()
            fragment = execution_fragment(services, key, row)
            costs.append(time.process_time() - begun)
        assert fragment.count('class="gnode"') == NODES
        print(f"\n1,000-node execution fragment: {min(costs) * 1000:.0f} ms CPU (best of 5), "
              f"median {statistics.median(costs) * 1000:.0f} ms")
        assert min(costs) < TARGET_SECONDS
    finally:
        store.close()
