"""The sandbox's state: one SQLite database (WAL mode) under the data dir, migrated by ``migrations.py``.

Rows hold binary flyteidl messages; this module knows tables and columns, not what the messages mean.
One connection is shared by the server's threads behind a lock: the sandbox's load is small and SQLite
serializes writers anyway.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from flyrun.errors import StorageError
from flyrun.sandbox.state.migrations import BOOKKEEPING, MIGRATIONS, Migration

DB_NAME = "sandbox.db"


class Key(NamedTuple):
    project: str
    domain: str
    name: str
    version: str = ""


def parent_text(key: Key) -> str:
    """How the ``parent`` column names an execution: ``project/domain/name``."""
    return f"{key[0]}/{key[1]}/{key[2]}"


class Filter(NamedTuple):
    """``column op value``; columns and operators come from the API layer's whitelist, never from a client."""

    column: str
    op: str  # one of = != > >= < <= LIKE IN
    value: Any


class Page(NamedTuple):
    limit: int
    offset: int = 0
    order_by: str = "created_at"
    descending: bool = True


class SchemaTooNew(StorageError):
    pass


class Store:
    def __init__(self, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        except sqlite3.Error as error:
            raise StorageError(f"cannot open the sandbox database {path}: {error}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self.applied = migrate(self._db, migrations)
        except sqlite3.Error as error:
            self._db.close()
            raise StorageError(f"cannot use the sandbox database {path}: {error}") from None
        except StorageError:
            self._db.close()
            raise

    @classmethod
    def open(cls, data_dir: Path, migrations: Sequence[Migration] = MIGRATIONS) -> Store:
        return cls(data_dir / DB_NAME, migrations)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- plumbing ----------------------------------------------------------------------------------
    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- projects ------------------------------------------------------------------------------------
    def insert_project(self, project_id: str, body: bytes) -> bool:
        try:
            self._write("INSERT INTO projects VALUES (?,?,?)", (project_id, body, time.time()))
        except sqlite3.IntegrityError:
            return False
        return True

    def project(self, project_id: str) -> sqlite3.Row | None:
        rows = self._rows("SELECT * FROM projects WHERE id=?", (project_id,))
        return rows[0] if rows else None

    def list_projects(self, page: Page) -> list[sqlite3.Row]:
        return self._select("projects", [Filter("1", "=", 1)], page)

    # -- tasks, workflows, launch plans --------------------------------------------------------------
    def insert_entity(self, resource_type: int, key: Key, digest: bytes, body: bytes, state: int = 0) -> bool:
        """Insert a registered entity; False if that id is already taken."""
        now = time.time()
        try:
            self._write("INSERT INTO entities VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (resource_type, *key, digest, body, state, now, now))
        except sqlite3.IntegrityError:
            return False
        return True

    def entity(self, resource_type: int, key: Key) -> sqlite3.Row | None:
        rows = self._rows("SELECT * FROM entities WHERE resource_type=? AND project=? AND domain=? AND name=? "
                          "AND version=?", (resource_type, *key))
        return rows[0] if rows else None

    def insert_description(self, resource_type: int, key: Key, body: bytes) -> None:
        """The description a task or workflow was registered with (the first one stays, as its entity does)."""
        self._write("INSERT OR IGNORE INTO description_entities VALUES (?,?,?,?,?,?,?)",
                    (resource_type, *key, body, time.time()))

    def description(self, resource_type: int, key: Key) -> sqlite3.Row | None:
        rows = self._rows("SELECT * FROM description_entities WHERE resource_type=? AND project=? AND domain=? "
                          "AND name=? AND version=?", (resource_type, *key))
        return rows[0] if rows else None

    def list_entities(self, resource_type: int, project: str, domain: str, page: Page,
                      filters: Sequence[Filter] = ()) -> list[sqlite3.Row]:
        where = [Filter("resource_type", "=", resource_type), Filter("project", "=", project),
                 Filter("domain", "=", domain), *filters]
        return self._select("entities", where, page)

    def entity_names(self) -> list[sqlite3.Row]:
        """Every registered name: its type, project, domain, version count and newest registration."""
        return self._rows("SELECT resource_type, project, domain, name, COUNT(*) AS versions, "
                          "MAX(created_at) AS newest FROM entities GROUP BY resource_type, project, domain, name "
                          "ORDER BY project, domain, resource_type DESC, name")

    def entity_versions(self, resource_type: int, project: str, domain: str, name: str) -> list[sqlite3.Row]:
        """An entity's versions, newest first."""
        return self._rows("SELECT * FROM entities WHERE resource_type=? AND project=? AND domain=? AND name=? "
                          "ORDER BY created_at DESC, version DESC", (resource_type, project, domain, name))

    def update_entity(self, resource_type: int, key: Key, body: bytes, state: int) -> None:
        self._write("UPDATE entities SET body=?, state=?, updated_at=? WHERE resource_type=? AND project=? "
                    "AND domain=? AND name=? AND version=?", (body, state, time.time(), resource_type, *key))

    # -- executions ----------------------------------------------------------------------------------
    def insert_execution(self, key: Key, body: bytes, inputs: bytes, plan: bytes, phase: int,
                         parent: str | None = None) -> bool:
        """Insert an execution; ``parent`` is ``parent_text`` of the execution that launched it."""
        now = time.time()
        try:
            self._write("INSERT INTO executions (project, domain, name, body, inputs, plan, phase, created_at, "
                        "updated_at, parent) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (key.project, key.domain, key.name, body, inputs, plan, phase, now, now, parent))
        except sqlite3.IntegrityError:
            return False
        return True

    def existing_entity(self, resource_type: int, key: Key) -> sqlite3.Row:
        """The entity's row, for callers that have just read or written it."""
        row = self.entity(resource_type, key)
        if row is None:
            raise LookupError(f"entity {resource_type} {'/'.join(key)} is not in the store")
        return row

    def existing_execution(self, key: Key) -> sqlite3.Row:
        """The execution's row, for callers that know it exists (it is never deleted)."""
        row = self.execution(key)
        if row is None:
            raise LookupError(f"execution {'/'.join(key)} is not in the store")
        return row

    def execution(self, key: Key) -> sqlite3.Row | None:
        rows = self._rows("SELECT * FROM executions WHERE project=? AND domain=? AND name=?", key[:3])
        return rows[0] if rows else None

    def update_execution(self, key: Key, body: bytes, phase: int) -> None:
        self._write("UPDATE executions SET body=?, phase=?, updated_at=? WHERE project=? AND domain=? AND name=?",
                    (body, phase, time.time(), *key[:3]))

    def list_executions(self, project: str, domain: str, page: Page,
                        filters: Sequence[Filter] = ()) -> list[sqlite3.Row]:
        where = [Filter("project", "=", project), Filter("domain", "=", domain), *filters]
        return self._select("executions", where, page)

    def child_executions(self, key: Key, phases: Sequence[int] = ()) -> list[sqlite3.Row]:
        """The executions launched from ``key``, oldest first (only those in ``phases``, when given)."""
        where = "parent=?"
        args: list[Any] = [parent_text(key)]
        if phases:
            where += f" AND phase IN ({','.join('?' * len(phases))})"
            args += list(phases)
        return self._rows(f"SELECT * FROM executions WHERE {where} ORDER BY created_at", args)

    def recent_executions(self, limit: int) -> list[sqlite3.Row]:
        return self._rows("SELECT * FROM executions ORDER BY created_at DESC LIMIT ?", (limit,))

    def executions_in_phases(self, phases: Sequence[int]) -> list[sqlite3.Row]:
        marks = ",".join("?" * len(phases))
        return self._rows(f"SELECT * FROM executions WHERE phase IN ({marks}) ORDER BY created_at", list(phases))

    # -- node executions -----------------------------------------------------------------------------
    def put_node(self, execution: Key, node_id: str, parent_id: str | None, body: bytes, phase: int,
                 extra: str = "{}") -> None:
        """Insert or replace a node execution; ``extra`` is JSON the console reads (gate, attempts, items)."""
        now = time.time()
        self._write("INSERT INTO node_executions VALUES (?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (project, domain, execution, node_id) DO UPDATE SET "
                    "body=excluded.body, phase=excluded.phase, extra=excluded.extra, updated_at=excluded.updated_at",
                    (*execution[:3], node_id, parent_id, body, phase, extra, now, now))

    def node(self, execution: Key, node_id: str) -> sqlite3.Row | None:
        rows = self._rows("SELECT * FROM node_executions WHERE project=? AND domain=? AND execution=? "
                          "AND node_id=?", (*execution[:3], node_id))
        return rows[0] if rows else None

    def list_nodes(self, execution: Key, parent_id: str | None, page: Page,
                   filters: Sequence[Filter] = ()) -> list[sqlite3.Row]:
        where = [Filter("project", "=", execution.project), Filter("domain", "=", execution.domain),
                 Filter("execution", "=", execution.name), Filter("parent_id", "IS", parent_id), *filters]
        return self._select("node_executions", where, page)

    def all_nodes(self, execution: Key) -> list[sqlite3.Row]:
        return self._rows("SELECT * FROM node_executions WHERE project=? AND domain=? AND execution=? "
                          "ORDER BY created_at, node_id", execution[:3])

    # -- signals -------------------------------------------------------------------------------------
    def ensure_signal(self, execution: Key, signal_id: str, type_bytes: bytes) -> None:
        now = time.time()
        self._write("INSERT OR IGNORE INTO signals VALUES (?,?,?,?,?,?,?,?)",
                    (*execution[:3], signal_id, type_bytes, None, now, now))

    def set_signal(self, execution: Key, signal_id: str, value: bytes) -> None:
        self._write("UPDATE signals SET value=?, updated_at=? WHERE project=? AND domain=? AND execution=? "
                    "AND signal_id=?", (value, time.time(), *execution[:3], signal_id))

    def signal(self, execution: Key, signal_id: str) -> sqlite3.Row | None:
        rows = self._rows("SELECT * FROM signals WHERE project=? AND domain=? AND execution=? AND signal_id=?",
                          (*execution[:3], signal_id))
        return rows[0] if rows else None

    def list_signals(self, execution: Key, page: Page) -> list[sqlite3.Row]:
        where = [Filter("project", "=", execution.project), Filter("domain", "=", execution.domain),
                 Filter("execution", "=", execution.name)]
        return self._select("signals", where, page)

    # -- uploaded blobs ------------------------------------------------------------------------------
    def record_blob(self, key: str, md5_hex: str, size: int) -> None:
        self._write("INSERT INTO blobs VALUES (?,?,?,?) ON CONFLICT (key) DO UPDATE SET md5=excluded.md5, "
                    "size=excluded.size, created_at=excluded.created_at", (key, md5_hex, size, time.time()))

    def blob(self, key: str) -> sqlite3.Row | None:
        rows = self._rows("SELECT * FROM blobs WHERE key=?", (key,))
        return rows[0] if rows else None

    # -- schedules and execution events --------------------------------------------------------------
    def active_launch_plans(self) -> list[sqlite3.Row]:
        return self._rows("SELECT * FROM entities WHERE resource_type=3 AND state=1 ORDER BY project, domain, name")

    def last_fire(self, project: str, domain: str, name: str) -> float | None:
        rows = self._rows("SELECT last_fire FROM schedule_fires WHERE project=? AND domain=? AND name=?",
                          (project, domain, name))
        return rows[0]["last_fire"] if rows else None

    def record_fire(self, project: str, domain: str, name: str, fired_for: float) -> None:
        self._write("INSERT INTO schedule_fires VALUES (?,?,?,?,?) ON CONFLICT (project, domain, name) DO UPDATE "
                    "SET last_fire=excluded.last_fire, updated_at=excluded.updated_at",
                    (project, domain, name, fired_for, time.time()))

    def forget_fire(self, project: str, domain: str, name: str) -> None:
        self._write("DELETE FROM schedule_fires WHERE project=? AND domain=? AND name=?", (project, domain, name))

    def add_event(self, execution: Key, kind: str, body: str) -> None:
        self._write("INSERT INTO execution_events VALUES (?,?,?,?,?,?)", (*execution[:3], kind, body, time.time()))

    def events(self, execution: Key) -> list[sqlite3.Row]:
        return self._rows("SELECT * FROM execution_events WHERE project=? AND domain=? AND execution=? "
                          "ORDER BY created_at, rowid", execution[:3])

    # -- queries -------------------------------------------------------------------------------------
    def _select(self, table: str, where: Sequence[Filter], page: Page) -> list[sqlite3.Row]:
        clauses, args = [], []
        for item in where:
            if item.op == "IS":
                clauses.append(f"{item.column} IS ?")
                args.append(item.value)
            elif item.op == "IN":
                clauses.append(f"{item.column} IN ({','.join('?' * len(item.value))})")
                args.extend(item.value)
            else:
                clauses.append(f"{item.column} {item.op} ?")
                args.append(item.value)
        direction = "DESC" if page.descending else "ASC"
        sql = (f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} "
               f"ORDER BY {page.order_by} {direction}, rowid {direction} LIMIT ? OFFSET ?")
        return self._rows(sql, [*args, page.limit, page.offset])


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the migrations this database lacks; refuse a database written by a newer flyrun.

    Returns the versions applied now.
    """
    db.execute(BOOKKEEPING)
    known = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
    newest = max((m.version for m in migrations), default=0)
    if known and max(known) > newest:
        raise SchemaTooNew(
            f"the sandbox database is at schema version {max(known)}, newer than this flyrun knows ({newest})",
            hint="upgrade flyrun, or start the sandbox with another --data-dir")
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in known:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in migration.statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?,?,?,?)",
                       (migration.version, migration.name, int(migration.is_noop), time.time()))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        applied.append(migration.version)
    return applied


def schema_versions(path: Path) -> list[tuple[int, str, bool]]:
    """The migrations recorded in a database file: (version, name, was a no-op)."""
    db = sqlite3.connect(str(path))
    try:
        rows = db.execute("SELECT version, name, noop FROM schema_migrations ORDER BY version").fetchall()
    finally:
        db.close()
    return [(version, name, bool(noop)) for version, name, noop in rows]
