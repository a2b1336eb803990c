"""A storage fault while an execution runs fails that execution with the reason; the scheduler keeps going.

The fault is real: a file stands where the execution's metadata folder needs a directory (what a full or broken
disk does to a write), so writing the start node's or end node's outputs raises OSError in the scheduler thread.
Before, that exception ended the thread silently and the execution stayed RUNNING forever.
"""

from __future__ import annotations

import secrets

import pytest
from sandbox_entities import DOMAIN, PROJECT, SQUARE, Client, integer, square_twice, square_twice_plan


@pytest.fixture(scope="module")
def client(sandbox_server) -> Client:
    client = Client(sandbox_server["url"])
    client.register(SQUARE, square_twice(), square_twice_plan())
    return client


def fresh_name() -> str:
    return "fault" + "".join(secrets.choice("abcdefghjk") for _ in range(12))


def block(sandbox_server, name: str, node: str):
    """Put a file where the execution's ``<node>`` folder must be created."""
    folder = sandbox_server["data_dir"] / "blobs" / "metadata" / PROJECT / DOMAIN / name
    folder.mkdir(parents=True)
    blocker = folder / node
    blocker.write_text("not a folder")
    return blocker


PLAN = dict(square_twice_plan()["id"])


@pytest.mark.parametrize("node", ["start-node", "end-node"])
def test_a_write_that_fails_fails_the_execution_and_the_server_goes_on(sandbox_server, client, node):
    name = fresh_name()
    blocker = block(sandbox_server, name, node)
    client.launch(PLAN, {"x": integer(3)}, name=name)
    done = client.wait(name, timeout=30)
    closure = done["closure"]
    assert closure["phase"] == "FAILED", closure
    assert closure["error"]["code"] == "StorageFailed"
    assert "Not a directory" in closure["error"]["message"] and node in closure["error"]["message"]
    # The space comes back: the next execution runs as usual.
    blocker.unlink()
    again = client.launch(PLAN, {"x": integer(3)})
    assert client.wait(again, timeout=60)["closure"]["phase"] == "SUCCEEDED"
    assert client.outputs(again)["o0"]["scalar"]["primitive"]["integer"] == "81"


def test_the_end_of_a_run_is_recorded_once_the_store_can_be_written_again(tmp_path):
    """The store refuses writes (SQLite's query_only: what a full disk does to it) when the scheduler records how an
    execution ended: the thread keeps retrying instead of dying, and the record lands when writes work again."""
    import time

    from flyteidl.admin import execution_pb2

    from flyrun.sandbox.admin.wire import load
    from flyrun.sandbox.engine.scheduler import Scheduler
    from flyrun.sandbox.state.layout import DataDir
    from flyrun.sandbox.state.store import Key, Store

    data = DataDir(tmp_path)
    data.prepare()
    store = Store.open(tmp_path)
    key = Key("p", "d", "stuck")
    execution = execution_pb2.Execution()
    execution.id.project, execution.id.domain, execution.id.name = "p", "d", "stuck"
    execution.closure.phase = 2
    store.insert_execution(key, execution.SerializeToString(), b"", b"\xff\xff not a plan", 2)
    with store._lock:
        store._db.execute("PRAGMA query_only = ON")
    scheduler = Scheduler(store, data)
    try:
        scheduler.resume_unfinished()
        time.sleep(1.0)
        assert store.execution(key)["phase"] == 2  # not written yet...
        assert key in scheduler._threads and scheduler._threads[key].is_alive()  # ...and still trying
        with store._lock:
            store._db.execute("PRAGMA query_only = OFF")
        deadline = time.monotonic() + 15
        while store.execution(key)["phase"] == 2:
            assert time.monotonic() < deadline, "the failure was never recorded"
            time.sleep(0.05)
        failed = load(execution_pb2.Execution(), store.execution(key)["body"])
        assert failed.closure.phase == 6 and "could not run this execution" in failed.closure.error.message
    finally:
        scheduler.shutdown()
        store.close()
