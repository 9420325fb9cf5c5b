"""The SQL of the people register and of the office's event chain.

The register is three tables (``people``, ``person_logins``, ``person_roles``) holding what
is true now, and ``office_events``, the history of every change to them: an append-only
hash chain with the columns of ``events`` but ``run_id``, hashed exactly as a run's events
are (:mod:`sopengine.chain`) with ``run_id`` = ``"@office"``. The library
(:mod:`sopengine.people`) writes a change and its event in one transaction.

Plain ``sqlite3``: the step path asks :func:`by_login` on every write once a register exists.
A database older than the register (opened read-only, not migrated) reads as an empty one.

On PostgreSQL (:mod:`sopengine.store.pg`) the same statements run but where the engines
differ: the logins and roles are gathered with ``json_agg`` (SQLite's ``json_group_array``),
a new row's number comes back with ``RETURNING`` (psycopg has no ``lastrowid``), and the rows
SQLite's file-wide write lock would hold are locked by name (the office chain's counter row
before its head is read, :func:`append_office_event`; the runs a change writes to,
:func:`lock_runs`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from sopengine.chain import GENESIS, canonical, event_hash
from sopengine.store.dialect import is_pg

OFFICE_CHAIN = "@office"
"""The ``run_id`` the office's events are hashed with: no run id has an ``@``."""

EVENT_COLUMNS = ("seq", "at", "recorded_at", "person", "os_user", "kind", "step_id", "payload", "prev_hash", "hash")
PERSON_COLUMNS = ("id", "name", "name_key", "access", "disabled", "created_at", "changed_at")


def _missing_table(exc: Exception) -> bool:
    """Whether *exc* says a table of the register is missing: SQLite's "no such table", or
    PostgreSQL's ``UndefinedTable`` (a PostgreSQL database has every table from its start)."""
    return (isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc)) or type(exc).__name__ == "UndefinedTable"


def has_people(conn: sqlite3.Connection) -> bool:
    """Whether the register exists: it holds at least one person (disabled ones count)."""
    try:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM people)").fetchone()[0] == 1
    except Exception as exc:
        if _missing_table(exc):
            return False
        raise


def _person(row: tuple[Any, ...] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    person = dict(zip(PERSON_COLUMNS, row))
    person["disabled"] = bool(person["disabled"])
    person["logins"] = json.loads(row[len(PERSON_COLUMNS)])
    person["roles"] = json.loads(row[len(PERSON_COLUMNS) + 1])
    return person


# One statement per person, logins and roles included: the step path asks it on every write.
_SELECT = (
    "SELECT " + ", ".join(f"p.{c}" for c in PERSON_COLUMNS) + ","
    " (SELECT json_group_array(login) FROM (SELECT login FROM person_logins WHERE person_id = p.id ORDER BY login)),"
    " (SELECT json_group_array(role) FROM (SELECT role FROM person_roles WHERE person_id = p.id ORDER BY role))"
    " FROM people AS p"
)
# PostgreSQL's: json_agg of nothing is NULL, where SQLite's json_group_array gives "[]"
_SELECT_PG = (
    "SELECT " + ", ".join(f"p.{c}" for c in PERSON_COLUMNS) + ","
    " (SELECT COALESCE(json_agg(login ORDER BY login)::text, '[]') FROM person_logins WHERE person_id = p.id),"
    " (SELECT COALESCE(json_agg(role ORDER BY role)::text, '[]') FROM person_roles WHERE person_id = p.id)"
    " FROM people AS p"
)


def select(conn: sqlite3.Connection) -> str:
    """The statement reading people with their logins and roles, in *conn*'s dialect (add a WHERE)."""
    return _SELECT_PG if is_pg(conn) else _SELECT


def by_login(conn: sqlite3.Connection, login: str) -> dict[str, Any] | None:
    """The person whose registered OS login is *login* (with their logins and roles), or None."""
    try:
        row = conn.execute(select(conn) + " JOIN person_logins AS l ON l.person_id = p.id WHERE l.login = ?", (login,)).fetchone()
    except Exception as exc:
        if _missing_table(exc):
            return None
        raise
    return _person(row)


def by_key(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    """The person whose name compares equal to *key* (:func:`sopengine.identity.name_key`), or None."""
    try:
        row = conn.execute(select(conn) + " WHERE p.name_key = ?", (key,)).fetchone()
    except Exception as exc:
        if _missing_table(exc):
            return None
        raise
    return _person(row)


def all_people(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Everyone in the register, by name; each with logins and roles (never the password hash)."""
    try:
        rows = conn.execute(select(conn) + " ORDER BY p.name_key").fetchall()
    except Exception as exc:
        if _missing_table(exc):
            return []
        raise
    return [p for p in (_person(r) for r in rows) if p is not None]


def admins_with_login(conn: sqlite3.Connection) -> list[str]:
    """Names of the enabled admins who have at least one login: who can still manage the register."""
    return [r[0] for r in conn.execute(
        "SELECT p.name FROM people AS p WHERE p.access = 'admin' AND p.disabled = 0"
        " AND EXISTS (SELECT 1 FROM person_logins AS l WHERE l.person_id = p.id) ORDER BY p.name_key"
    )]


def register_started(conn: sqlite3.Connection) -> str | None:
    """The real time (``recorded_at``) the register's first person was recorded, or None."""
    try:
        row = conn.execute("SELECT recorded_at FROM office_events WHERE kind = 'person_added' ORDER BY seq LIMIT 1").fetchone()
    except Exception as exc:
        if _missing_table(exc):
            return None
        raise
    return row[0] if row else None


def active_assignments(conn: sqlite3.Connection) -> list[tuple[str, str, str, bool]]:
    """``(run_id, role, person, acting)`` of every assignment in an active run, by run."""
    return [(r[0], r[1], r[2], bool(r[3])) for r in conn.execute(
        "SELECT a.run_id, a.role, a.person, a.acting FROM assignments AS a JOIN runs AS r ON r.id = a.run_id"
        " WHERE r.status = 'active' ORDER BY a.run_id, a.role, a.person"
    )]


# -- writes (inside the caller's transaction) -------------------------------------------------------

def lock_runs(conn: sqlite3.Connection, run_ids: list[str]) -> None:
    """Hold the rows of the runs *run_ids* until the caller's transaction ends, before it reads or
    changes them (PostgreSQL; SQLite's write lock is the whole file's already).

    A run's step holds its run's row from the start and numbers its events afterwards; a change
    that writes to several runs takes all their rows first, in one order, so that the two never
    wait for each other.
    """
    if run_ids and is_pg(conn):
        conn.execute("SELECT id FROM runs WHERE id = ANY(?) ORDER BY id FOR UPDATE", (sorted(run_ids),))


def insert_person(conn: sqlite3.Connection, name: str, key: str, access: str, at: str) -> int:
    sql = "INSERT INTO people (name, name_key, access, disabled, created_at, changed_at) VALUES (?, ?, ?, 0, ?, ?)"
    if is_pg(conn):
        return int(conn.execute(sql + " RETURNING id", (name, key, access, at, at)).fetchone()[0])
    cur = conn.execute(sql, (name, key, access, at, at))
    return int(cur.lastrowid or 0)


def add_login(conn: sqlite3.Connection, person_id: int, login: str) -> None:
    conn.execute("INSERT INTO person_logins (login, person_id) VALUES (?, ?)", (login, person_id))


def remove_login(conn: sqlite3.Connection, person_id: int, login: str) -> None:
    conn.execute("DELETE FROM person_logins WHERE login = ? AND person_id = ?", (login, person_id))


def add_role(conn: sqlite3.Connection, person_id: int, role: str) -> None:
    conn.execute("INSERT OR IGNORE INTO person_roles (person_id, role) VALUES (?, ?)", (person_id, role))


def remove_role(conn: sqlite3.Connection, person_id: int, role: str) -> None:
    conn.execute("DELETE FROM person_roles WHERE person_id = ? AND role = ?", (person_id, role))


def update_person(conn: sqlite3.Connection, person_id: int, at: str, **values: Any) -> None:
    """Set ``name``/``name_key``/``access``/``disabled`` of a person and its ``changed_at``."""
    allowed = {"name", "name_key", "access", "disabled"}
    sets = [f"{column} = ?" for column in values if column in allowed]
    args = [int(v) if isinstance(v, bool) else v for column, v in values.items() if column in allowed]
    conn.execute(f"UPDATE people SET {', '.join([*sets, 'changed_at = ?'])} WHERE id = ?", (*args, at, person_id))


def append_office_event(
    conn: sqlite3.Connection, *, kind: str, at: str, recorded_at: str, person: str, os_user: str,
    payload: dict[str, Any], step_id: str | None = None,
) -> dict[str, Any]:
    """Append one event to the office's chain (inside the caller's ``BEGIN IMMEDIATE``).

    The head read here stays the head until the caller commits: on SQLite the write lock is
    the file's; on PostgreSQL every caller appends inside :meth:`Store.transaction` without a
    run, which holds the database's writer lock, and the counter row ``office_events`` is
    locked as well before the head is read, so that no other transaction can append between
    the read and this event's commit whatever lock it took.
    """
    pg = is_pg(conn)
    if pg:
        conn.execute("SELECT value FROM counters WHERE name = 'office_events' FOR UPDATE")
    row = conn.execute("SELECT hash FROM office_events ORDER BY seq DESC LIMIT 1").fetchone()
    record = {
        "run_id": OFFICE_CHAIN, "at": at, "recorded_at": recorded_at, "person": person, "os_user": os_user,
        "kind": kind, "step_id": step_id, "payload": payload, "prev_hash": row[0] if row else GENESIS,
    }
    record["hash"] = event_hash(record)
    sql = ("INSERT INTO office_events (at, recorded_at, person, os_user, kind, step_id, payload, prev_hash, hash)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    args = (at, recorded_at, person, os_user, kind, step_id, canonical(payload), record["prev_hash"], record["hash"])
    if pg:
        record["seq"] = int(conn.execute(sql + " RETURNING seq", args).fetchone()[0])
    else:
        record["seq"] = conn.execute(sql, args).lastrowid
    return record


# -- the chain, for auditors --------------------------------------------------------------------------

def office_events(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    """The office's events in ``seq`` order, as dicts with the keys of a run event's row.

    ``run_id`` is ``"@office"``, the name the chain is hashed with, so that
    :func:`sopengine.chain.event_hash` checks each as it checks a run's events. ``payload`` is
    the stored JSON text. A database without the register yields nothing.
    """
    try:
        cur = conn.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM office_events ORDER BY seq")
    except Exception as exc:
        if _missing_table(exc):
            return
        raise
    for row in cur:
        event = dict(zip(EVENT_COLUMNS, row))
        event["run_id"] = OFFICE_CHAIN
        yield event
