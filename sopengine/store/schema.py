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
    db.table("definitions").create(
        {"hash": str, "id": str, "title": str, "source": str, "path": str, "compiled": str, "first_seen": str},
        pk="hash", not_null={"id", "source", "compiled", "first_seen"},
    )
    db.table("calendars").create({"hash": str, "data": str, "first_seen": str}, pk="hash", not_null={"data", "first_seen"})
    db.table("runs").create(
        {
            "id": str, "definition_id": str, "definition_hash": str, "calendar_hash": str, "period": str,
            "case_data": str, "status": str, "started_at": str, "started_by": str, "due_at": str,
            "finished_at": str, "version": int,
        },
        pk="id",
        not_null={"definition_id", "definition_hash", "case_data", "status", "started_at", "started_by", "version"},
        foreign_keys=[("definition_hash", "definitions", "hash"), ("calendar_hash", "calendars", "hash")],
    )
    db.table("tasks").create(
        {
            "id": int, "run_id": str, "step_id": str, "part": int, "iteration": int, "actor": str, "state": str,
            "opened_at": str, "due_at": str, "closed_at": str, "closed_by": str, "on_behalf_of": str,
            "outcome": str, "note": str,
        },
        pk="id", not_null={"run_id", "step_id", "part", "iteration", "state", "opened_at"},
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.table("assignments").create(
        {"run_id": str, "role": str, "person": str, "acting": int, "assigned_at": str, "assigned_by": str},
        pk=("run_id", "role", "person"), foreign_keys=[("run_id", "runs", "id")],
    )
    db.table("documents").create(
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


@migrations(name="0002_audit_views")
def m0002_audit_views(db: Database) -> None:
    """Views for auditors: readable events, step visits against the standard, open steps.

    Plain SQL (json_extract, strftime) so that the sqlite3 shell, Datasette or a spreadsheet
    tool reads the history without the engine; docs/auditing.md lists their columns.
    """
    # The steps of every pinned definition, from its compiled JSON: the SOP's standard times.
    db.execute(
        """CREATE VIEW audit_definition_steps AS
        SELECT
            d.hash AS definition_hash,
            d.id AS definition,
            s.key AS step,
            json_extract(s.value, '$.no') AS no,
            json_extract(s.value, '$.kegiatan') AS kegiatan,
            json_extract(s.value, '$.kind') AS kind,
            json_extract(s.value, '$.lanes[0]') AS actor,
            json_extract(s.value, '$.waktu') AS waktu,
            json_extract(s.value, '$.duration.minutes') AS standard_minutes,
            json_extract(s.value, '$.duration.days') AS standard_days,
            json_extract(s.value, '$.duration.calendar') AS calendar_days
        FROM definitions AS d, json_each(d.compiled, '$.steps') AS s"""
    )
    db.execute(
        """CREATE VIEW audit_events AS
        SELECT
            e.seq,
            e.run_id AS run,
            r.definition_id AS definition,
            r.period,
            e.at AS at_utc,
            e.recorded_at AS recorded_at_utc,
            e.person,
            e.os_user,
            e.kind,
            e.step_id AS step,
            json_extract(e.payload, '$.actor') AS actor,
            json_extract(e.payload, '$.outcome') AS outcome,
            COALESCE(json_extract(e.payload, '$.note'), json_extract(e.payload, '$.reason')) AS note,
            (SELECT group_concat(json_extract(d.value, '$.name'), '; ')
               FROM json_each(e.payload, '$.documents') AS d) AS documents,
            CAST(strftime('%s', e.recorded_at) AS INTEGER) - CAST(strftime('%s', e.at) AS INTEGER) AS recorded_later_seconds,
            -- recorded more than 5 minutes after the time it claims: work entered later with --now
            CAST(strftime('%s', e.recorded_at) AS INTEGER) - CAST(strftime('%s', e.at) AS INTEGER) > 300 AS backdated,
            e.prev_hash,
            e.hash
        FROM events AS e LEFT JOIN runs AS r ON r.id = e.run_id"""
    )
    # One row per visit of a step (correction loops keep every round); join placeholders left out.
    db.execute(
        """CREATE VIEW audit_step_visits AS
        SELECT
            t.id AS task_id,
            t.run_id AS run,
            r.definition_id AS definition,
            r.period,
            t.step_id AS step,
            s.no,
            s.kegiatan,
            t.actor,
            t.part + 1 AS lane,
            t.iteration,
            t.state,
            t.opened_at,
            t.due_at,
            t.closed_at,
            t.closed_by,
            t.on_behalf_of,
            t.outcome,
            s.waktu,
            s.standard_minutes,
            s.standard_days,
            s.calendar_days,
            -- calendar time; 'sopengine report' counts working time
            CASE WHEN t.closed_at IS NOT NULL
                 THEN CAST(strftime('%s', t.closed_at) AS INTEGER) - CAST(strftime('%s', t.opened_at) AS INTEGER)
            END AS actual_seconds,
            CASE WHEN t.due_at IS NULL OR t.closed_at IS NULL THEN NULL
                 WHEN t.closed_at > t.due_at THEN 1 ELSE 0
            END AS late
        FROM tasks AS t
        JOIN runs AS r ON r.id = t.run_id
        LEFT JOIN audit_definition_steps AS s ON s.definition_hash = r.definition_hash AND s.step = t.step_id
        WHERE t.state IN ('open', 'done', 'cancelled')"""
    )
    # Open steps of active runs with their due time; the caller compares due_at with now.
    db.execute(
        """CREATE VIEW audit_open_steps AS
        SELECT
            t.id AS task_id,
            t.run_id AS run,
            r.definition_id AS definition,
            r.period,
            t.step_id AS step,
            s.no,
            s.kegiatan,
            t.actor,
            (SELECT group_concat(a.person, ', ') FROM assignments AS a
              WHERE a.run_id = t.run_id AND a.role = t.actor) AS assigned,
            t.iteration,
            t.opened_at,
            t.due_at,
            s.waktu
        FROM tasks AS t
        JOIN runs AS r ON r.id = t.run_id
        LEFT JOIN audit_definition_steps AS s ON s.definition_hash = r.definition_hash AND s.step = t.step_id
        WHERE t.state = 'open' AND r.status = 'active'"""
    )


@migrations(name="0003_audit_events_postdated")
def m0003_audit_events_postdated(db: Database) -> None:
    """``audit_events`` marks entries dated more than 5 minutes after they were recorded
    (``postdated``: a --now in the future) beside those dated before (``backdated``)."""
    db.execute("DROP VIEW IF EXISTS audit_events")
    db.execute(
        """CREATE VIEW audit_events AS
        SELECT
            e.seq,
            e.run_id AS run,
            r.definition_id AS definition,
            r.period,
            e.at AS at_utc,
            e.recorded_at AS recorded_at_utc,
            e.person,
            e.os_user,
            e.kind,
            e.step_id AS step,
            json_extract(e.payload, '$.actor') AS actor,
            json_extract(e.payload, '$.outcome') AS outcome,
            COALESCE(json_extract(e.payload, '$.note'), json_extract(e.payload, '$.reason')) AS note,
            (SELECT group_concat(json_extract(d.value, '$.name'), '; ')
               FROM json_each(e.payload, '$.documents') AS d) AS documents,
            CAST(strftime('%s', e.recorded_at) AS INTEGER) - CAST(strftime('%s', e.at) AS INTEGER) AS recorded_later_seconds,
            -- recorded more than 5 minutes after the time it claims: work entered later with --now
            CAST(strftime('%s', e.recorded_at) AS INTEGER) - CAST(strftime('%s', e.at) AS INTEGER) > 300 AS backdated,
            -- dated more than 5 minutes after it was recorded: a --now in the future
            CAST(strftime('%s', e.at) AS INTEGER) - CAST(strftime('%s', e.recorded_at) AS INTEGER) > 300 AS postdated,
            e.prev_hash,
            e.hash
        FROM events AS e LEFT JOIN runs AS r ON r.id = e.run_id"""
    )


@migrations(name="0004_definition_steps_lanes")
def m0004_definition_steps_lanes(db: Database) -> None:
    """``audit_definition_steps`` lists every lane of a row (a JSON array), not only the first:
    a row the SOP gives to two officials is done by both."""
    db.execute("DROP VIEW IF EXISTS audit_definition_steps")
    db.execute(
        """CREATE VIEW audit_definition_steps AS
        SELECT
            d.hash AS definition_hash,
            d.id AS definition,
            s.key AS step,
            json_extract(s.value, '$.no') AS no,
            json_extract(s.value, '$.kegiatan') AS kegiatan,
            json_extract(s.value, '$.kind') AS kind,
            json_extract(s.value, '$.lanes[0]') AS actor,
            json_extract(s.value, '$.lanes') AS lanes,
            json_extract(s.value, '$.waktu') AS waktu,
            json_extract(s.value, '$.duration.minutes') AS standard_minutes,
            json_extract(s.value, '$.duration.days') AS standard_days,
            json_extract(s.value, '$.duration.calendar') AS calendar_days
        FROM definitions AS d, json_each(d.compiled, '$.steps') AS s"""
    )



@migrations(name="0006_people")
def m0006_people(db: Database) -> None:
    """The people register: the office's people, their OS logins and the actor roles they may
    hold, their access level (``admin``, ``staff``, ``auditor``), and a password hash the
    office server fills in (NULL until then). Every change to it is an event in the office's
    own hash chain, ``office_events``: the columns of ``events`` without ``run_id`` (the
    chain is hashed with ``run_id`` = ``"@office"``), append-only as they are.

    Written to be safe to apply twice (``IF NOT EXISTS``): a database whose migration
    records were rolled back by hand keeps its register."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS people (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            access TEXT NOT NULL CHECK (access IN ('admin', 'staff', 'auditor')),
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            created_at TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            password_hash TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS person_logins (
            login TEXT PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id)
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS person_logins_person ON person_logins (person_id)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS person_roles (
            person_id INTEGER NOT NULL REFERENCES people(id),
            role TEXT NOT NULL,
            PRIMARY KEY (person_id, role)
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS office_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS office_events_append_only_update BEFORE UPDATE ON office_events "
        "BEGIN SELECT RAISE(ABORT, 'office_events are append-only: record a correcting change instead'); END"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS office_events_append_only_delete BEFORE DELETE ON office_events "
        "BEGIN SELECT RAISE(ABORT, 'office_events are append-only: record a correcting change instead'); END"
    )


# Numbered when 0005 was free and applied after 0006: migrations apply in the order written here.
@migrations(name="0005_document_store")
def m0005_document_store(db: Database) -> None:
    """The document store: the bytes of every recorded document, by sha256, in the database
    itself (so that ``backup`` and any copy carry them); the folders documents may come from,
    and settings an admin changes (``documents.max_size``). ``IF NOT EXISTS`` throughout: a
    database whose migration records were rolled back by hand is migrated again cleanly."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS document_blobs (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            data BLOB NOT NULL,
            stored_at TEXT NOT NULL
        )"""
    )
    # Kept evidence is never changed or removed by the engine: a correction records a new document.
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS document_blobs_append_only_update BEFORE UPDATE ON document_blobs "
        "BEGIN SELECT RAISE(ABORT, 'document_blobs are append-only: record the document again instead'); END"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS document_blobs_append_only_delete BEFORE DELETE ON document_blobs "
        "BEGIN SELECT RAISE(ABORT, 'document_blobs are append-only: record the document again instead'); END"
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS document_folders (
            path TEXT PRIMARY KEY,
            added_at TEXT NOT NULL,
            added_by TEXT NOT NULL,
            os_user TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            changed_by TEXT NOT NULL,
            os_user TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS documents_sha256 ON documents (sha256)")


@migrations(name="0007_query_indexes")
def m0007_query_indexes(db: Database) -> None:
    """Indexes that keep the queries of work in flight flat in the size of the database:
    partial indexes of the open tasks (by opening time: the inbox; per role by due time: a
    role's inbox and overdue steps), of the active runs by due time (runs past their deadline)
    and by start time (the run list), and of an SOP's runs by start time (a report)."""
    db.execute("CREATE INDEX IF NOT EXISTS tasks_open ON tasks (opened_at) WHERE state = 'open'")
    db.execute("CREATE INDEX IF NOT EXISTS tasks_open_actor ON tasks (actor, due_at) WHERE state = 'open'")
    db.execute("CREATE INDEX IF NOT EXISTS runs_active_due ON runs (due_at, id) WHERE status = 'active'")
    db.execute("CREATE INDEX IF NOT EXISTS runs_active_started ON runs (started_at, id) WHERE status = 'active'")
    db.execute("CREATE INDEX IF NOT EXISTS runs_definition_started ON runs (definition_id, started_at, id)")


@migrations(name="0008_run_chain_head")
def m0008_run_chain_head(db: Database) -> None:
    """``runs.head``: the hash of each run's last event, kept by every change to the run, so
    that appending an event needs no search of the events. Filled here from the events of
    the runs already in the database. ``audit verify`` still computes each head from the
    events themselves."""
    if "head" not in {row[1] for row in db.execute("PRAGMA table_info(runs)").fetchall()}:
        db.execute("ALTER TABLE runs ADD COLUMN head TEXT")
    db.execute(
        "UPDATE runs SET head = (SELECT e.hash FROM events AS e WHERE e.run_id = runs.id ORDER BY e.seq DESC LIMIT 1)"
    )


@migrations(name="0009_documents_run")
def m0009_documents_run(db: Database) -> None:
    """An index of the documents by run: a run's status lists its documents, which read every
    document of the database without it (seconds at a million events)."""
    db.execute("CREATE INDEX IF NOT EXISTS documents_run ON documents (run_id, id)")


@migrations(name="0010_one_open_task_index")
def m0010_one_open_task_index(db: Database) -> None:
    """One partial index of the open tasks (``tasks_open_due``) serves every query of work in
    flight: the open tasks are few whatever the size of the history, so sorting them by opening
    time or picking a role's costs little, while each index of the open tasks costs every step
    two more pages to write (a step closes one task and opens the next)."""
    db.execute("DROP INDEX IF EXISTS tasks_open")
    db.execute("DROP INDEX IF EXISTS tasks_open_actor")



@migrations(name="0011_office_server")
def m0011_office_server(db: Database) -> None:
    """What the office server keeps in the database, so that several server processes over one
    database agree: its settings (the session-signing secrets, made on first start; a backup
    leaves them out), the API tokens it issued (their SHA-256 only: a copied database gives no
    one a working token), and the access log — every sign-in attempt and its outcome, sign-out,
    throttled attempt, token issued and sessions ended — which the sign-in throttle counts and
    which is append-only as the events are."""
    db.execute("CREATE TABLE IF NOT EXISTS server_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS access_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            username TEXT NOT NULL,
            person TEXT,
            person_id INTEGER,
            address TEXT NOT NULL,
            via TEXT NOT NULL,
            detail TEXT
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS access_log_username ON access_log (username, at)")
    db.execute("CREATE INDEX IF NOT EXISTS access_log_address ON access_log (address, at)")
    db.execute("CREATE INDEX IF NOT EXISTS access_log_person ON access_log (person_id, kind, at)")
    db.execute("CREATE INDEX IF NOT EXISTS access_log_sign_out ON access_log (detail) WHERE kind = 'sign_out'")
    for action in ("UPDATE", "DELETE"):
        db.execute(
            f"""CREATE TRIGGER IF NOT EXISTS access_log_no_{action.lower()} BEFORE {action} ON access_log
            BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END"""
        )
    db.execute(
        """CREATE TABLE IF NOT EXISTS api_tokens (
            token_hash TEXT PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people (id),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT
        )"""
    )

LATEST = len(migrations._migrations)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply pending migrations and record the schema version in ``PRAGMA user_version``."""
    db = Database(conn)
    migrations.apply(db)
    # Never stamp a version the store refuses to open: a migration added before the store's
    # SCHEMA_VERSION is raised then applies without locking every database out.
    from sopengine.store import SCHEMA_VERSION

    conn.execute(f"PRAGMA user_version = {min(LATEST, SCHEMA_VERSION)}")
