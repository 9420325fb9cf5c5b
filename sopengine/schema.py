"""The database schema and its forward migrations (sqlite-utils ``Migrations``).

``PRAGMA user_version`` holds the number of the last migration applied, so that opening a
database checks its version with one cheap pragma; sqlite-utils is imported only here,
when a database is created or upgraded. Append new migrations; never edit applied ones.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("sopengine")


@migrations(name="0001_initial")
def m0001_initial(db: Database) -> None:
    db["definitions"].create(
        {"hash": str, "id": str, "title": str, "source": str, "path": str, "compiled": str, "first_seen": str},
        pk="hash", not_null={"id", "source", "compiled", "first_seen"},
    )
    db["calendars"].create({"hash": str, "data": str, "first_seen": str}, pk="hash", not_null={"data", "first_seen"})
    db["runs"].create(
        {
            "id": str, "definition_id": str, "definition_hash": str, "calendar_hash": str, "period": str,
            "case_data": str, "status": str, "started_at": str, "started_by": str, "due_at": str,
            "finished_at": str, "version": int,
        },
        pk="id",
        not_null={"definition_id", "definition_hash", "case_data", "status", "started_at", "started_by", "version"},
        foreign_keys=[("definition_hash", "definitions", "hash"), ("calendar_hash", "calendars", "hash")],
    )
    db["tasks"].create(
        {
            "id": int, "run_id": str, "step_id": str, "part": int, "iteration": int, "actor": str, "state": str,
            "opened_at": str, "due_at": str, "closed_at": str, "closed_by": str, "on_behalf_of": str,
            "outcome": str, "note": str,
        },
        pk="id", not_null={"run_id", "step_id", "part", "iteration", "state", "opened_at"},
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["assignments"].create(
        {"run_id": str, "role": str, "person": str, "acting": int, "assigned_at": str, "assigned_by": str},
        pk=("run_id", "role", "person"), foreign_keys=[("run_id", "runs", "id")],
    )
    db["documents"].create(
        {
            "id": int, "run_id": str, "task_id": int, "step_id": str, "name": str, "kind": str, "path": str,
            "sha256": str, "size": int, "recorded_at": str, "recorded_by": str,
        },
        pk="id", not_null={"run_id", "step_id", "name", "path", "sha256", "size", "recorded_at"},
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.execute(
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            person TEXT NOT NULL,
            os_user TEXT NOT NULL,
            kind TEXT NOT NULL,
            step_id TEXT,
            payload TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX events_run ON events (run_id, seq)")
    db.execute("CREATE INDEX events_person ON events (person, seq)")
    db.execute("CREATE INDEX events_at ON events (at)")
    db.execute("CREATE INDEX tasks_run ON tasks (run_id, state)")
    # Overdue queries read open tasks by due time; a partial index keeps them fast at 100k runs.
    db.execute("CREATE INDEX tasks_open_due ON tasks (due_at) WHERE state = 'open'")
    db.execute("CREATE INDEX runs_definition_period ON runs (definition_id, period, status)")
    db.execute(
        "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only: record a correcting event instead'); END"
    )
    db.execute(
        "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only: record a correcting event instead'); END"
    )


LATEST = len(migrations._migrations)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply pending migrations and record the schema version in ``PRAGMA user_version``."""
    db = Database(conn)
    migrations.apply(db)
    conn.execute(f"PRAGMA user_version = {LATEST}")
