"""The sandbox database schema, as numbered migrations.

The schema is created and changed only here. Each migration runs once, in order, inside a transaction, and is
recorded in ``schema_migrations``; a migration with no statements is allowed and recorded as a no-op. Append new
migrations at the end; never edit one that has shipped.

Entities, executions and node executions keep their flyteidl message in a ``body`` column (binary protobuf), so
the API answers with exactly what was registered; the other columns exist to find and order rows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...] = ()

    @property
    def is_noop(self) -> bool:
        return not self.statements


BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    noop INTEGER NOT NULL,
    applied_at REAL NOT NULL
)"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "projects, entities, executions, node executions, signals", (
        """CREATE TABLE projects (
            id TEXT PRIMARY KEY,
            body BLOB NOT NULL,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE entities (
            resource_type INTEGER NOT NULL,
            project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
            digest BLOB NOT NULL,
            body BLOB NOT NULL,
            state INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (resource_type, project, domain, name, version)
        )""",
        """CREATE TABLE executions (
            project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL,
            body BLOB NOT NULL,
            inputs BLOB NOT NULL,
            plan BLOB NOT NULL,
            phase INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (project, domain, name)
        )""",
        """CREATE TABLE node_executions (
            project TEXT NOT NULL, domain TEXT NOT NULL, execution TEXT NOT NULL, node_id TEXT NOT NULL,
            parent_id TEXT,
            body BLOB NOT NULL,
            phase INTEGER NOT NULL,
            extra TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (project, domain, execution, node_id)
        )""",
        """CREATE TABLE signals (
            project TEXT NOT NULL, domain TEXT NOT NULL, execution TEXT NOT NULL, signal_id TEXT NOT NULL,
            type BLOB NOT NULL,
            value BLOB,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (project, domain, execution, signal_id)
        )""",
    )),
    Migration(2, "uploaded blobs and listing indexes", (
        """CREATE TABLE blobs (
            key TEXT PRIMARY KEY,
            md5 TEXT NOT NULL,
            size INTEGER NOT NULL,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX executions_by_created ON executions (project, domain, created_at)",
        "CREATE INDEX executions_by_phase ON executions (phase)",
        "CREATE INDEX node_executions_by_parent ON node_executions (project, domain, execution, parent_id)",
    )),
    Migration(3, "launch plan schedule fires and execution events", (
        # One row per scheduled launch plan name (activation moves a schedule between versions): the scheduled
        # time it last fired for, so a restarted server neither fires it twice nor starts from scratch.
        """CREATE TABLE schedule_fires (
            project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL,
            last_fire REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (project, domain, name)
        )""",
        # What happened to an execution besides its phases (notifications it would have sent), as JSON.
        """CREATE TABLE execution_events (
            project TEXT NOT NULL, domain TEXT NOT NULL, execution TEXT NOT NULL,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX execution_events_by_execution ON execution_events (project, domain, execution)",
    )),
    # The execution a child execution was launched from (a launch plan node, an eager body's call), as
    # "project/domain/name", so a parent finds its children to list and to terminate them.
    Migration(4, "child executions know their parent", (
        "ALTER TABLE executions ADD COLUMN parent TEXT",
        "CREATE INDEX executions_by_parent ON executions (parent)",
    )),
    Migration(5, "description entities of tasks and workflows", (
        """CREATE TABLE description_entities (
            resource_type INTEGER NOT NULL,
            project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
            body BLOB NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (resource_type, project, domain, name, version)
        )""",
    )),
)
