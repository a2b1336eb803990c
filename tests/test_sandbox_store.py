"""The sandbox database: numbered migrations, no-ops recorded, older databases upgraded, newer ones refused."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import sandbox_cli

from flyrun.errors import StorageError
from flyrun.sandbox.state.migrations import MIGRATIONS, Migration
from flyrun.sandbox.state.store import Key, SchemaTooNew, Store, schema_versions

NEWEST = MIGRATIONS[-1].version


def test_a_fresh_database_gets_every_migration_in_wal_mode(tmp_path):
    store = Store.open(tmp_path)
    assert store.applied == [m.version for m in MIGRATIONS]
    store.close()
    assert [v for v, _, _ in schema_versions(tmp_path / "sandbox.db")] == [m.version for m in MIGRATIONS]
    db = sqlite3.connect(tmp_path / "sandbox.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_reopening_applies_nothing(tmp_path):
    Store.open(tmp_path).close()
    store = Store.open(tmp_path)
    assert store.applied == []
    store.close()


def test_a_no_op_migration_is_recorded(tmp_path):
    with_noop = (*MIGRATIONS, Migration(NEWEST + 1, "nothing to change"))
    Store.open(tmp_path, with_noop).close()
    assert schema_versions(tmp_path / "sandbox.db")[-1] == (NEWEST + 1, "nothing to change", True)


def test_an_older_database_is_upgraded_and_keeps_its_rows(tmp_path):
    old = Store.open(tmp_path, MIGRATIONS[:1])
    assert old.insert_entity(1, Key("p", "d", "t", "v"), b"digest", b"body")
    old.close()
    upgraded = Store.open(tmp_path)
    assert upgraded.applied == [m.version for m in MIGRATIONS[1:]]
    assert upgraded.entity(1, Key("p", "d", "t", "v"))["body"] == b"body"
    upgraded.record_blob("uploads/x", "00", 1)  # a table migration 2 added
    upgraded.close()


def test_a_newer_database_is_refused(tmp_path):
    Store.open(tmp_path, (*MIGRATIONS, Migration(NEWEST + 5, "from the future", ("CREATE TABLE later (a)",)))).close()
    with pytest.raises(SchemaTooNew) as raised:
        Store.open(tmp_path)
    assert f"schema version {NEWEST + 5}, newer than this flyrun knows ({NEWEST})" in raised.value.message
    assert raised.value.hint


def test_a_failing_migration_changes_nothing(tmp_path):
    broken = (*MIGRATIONS, Migration(NEWEST + 1, "broken", ("CREATE TABLE half (a)", "NOT SQL AT ALL")))
    with pytest.raises(StorageError):
        Store.open(tmp_path, broken)
    store = Store.open(tmp_path)
    assert NEWEST + 1 not in [v for v, _, _ in schema_versions(tmp_path / "sandbox.db")]
    assert store._rows("SELECT name FROM sqlite_master WHERE name='half'") == []
    store.close()


def test_starting_on_a_newer_database_is_a_one_line_error(tmp_path):
    Store.open(tmp_path, (*MIGRATIONS, Migration(NEWEST + 1, "future"))).close()
    result = sandbox_cli("start", "--port", "0", "--data-dir", str(tmp_path))
    assert result.exit_code == 5
    assert result.stderr.startswith("Error: the sandbox database is at schema version")
    assert "Traceback" not in result.stderr and "Hint:" in result.stderr


def test_an_unresumable_execution_is_failed_with_the_reason(tmp_path):
    """A run left RUNNING whose plan cannot be read is marked FAILED on start, never left running forever."""
    import time

    from flyteidl.admin import execution_pb2

    from flyrun.sandbox.admin.wire import load
    from flyrun.sandbox.engine.scheduler import Scheduler
    from flyrun.sandbox.state.layout import DataDir

    data = DataDir(tmp_path)
    data.prepare()
    store = Store.open(tmp_path)
    execution = execution_pb2.Execution()
    execution.id.project, execution.id.domain, execution.id.name = "p", "d", "broken"
    execution.closure.phase = 2
    store.insert_execution(Key("p", "d", "broken"), execution.SerializeToString(), b"", b"\xff\xff not a plan", 2)
    scheduler = Scheduler(store, data)
    assert scheduler.resume_unfinished() == [Key("p", "d", "broken")]
    deadline = time.monotonic() + 10
    while store.execution(Key("p", "d", "broken"))["phase"] == 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    failed = load(execution_pb2.Execution(), store.execution(Key("p", "d", "broken"))["body"])
    assert failed.closure.phase == 6 and "could not run this execution" in failed.closure.error.message
    scheduler.shutdown()
    store.close()
