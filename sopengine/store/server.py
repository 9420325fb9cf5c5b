"""The SQL of the office server: its settings, the access log, API tokens and passwords.

Kept in the database (migration ``0011_office_server``) so that several ``sopengine serve``
processes over one database agree on the session-signing secret, on who is throttled and on
which tokens are valid. Plain ``sqlite3`` on the connection the caller holds; every statement
reads the same on PostgreSQL (:mod:`sopengine.store.pg`) but for :func:`forget_secrets`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sopengine.store.dialect import is_pg

ACCESS_COLUMNS = ("id", "at", "kind", "username", "person", "person_id", "address", "via", "detail")


def setting(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM server_settings WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def setting_or_create(conn: sqlite3.Connection, key: str, value: str) -> str:
    """The setting *key*; set to *value* first when it has none (the first process to ask wins)."""
    conn.execute("INSERT OR IGNORE INTO server_settings (key, value) VALUES (?, ?)", (key, value))
    found = setting(conn, key)
    assert found is not None
    return found


def log_access(
    conn: sqlite3.Connection, *, at: str, kind: str, username: str, person: str | None, address: str, via: str,
    detail: str | None = None, person_id: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO access_log (at, kind, username, person, person_id, address, via, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (at, kind, username, person, person_id, address, via, detail),
    )


def attempts_since(conn: sqlite3.Connection, column: str, value: str, since: str) -> tuple[int, str | None]:
    """How many sign-in attempts *column* (``username`` or ``address``) = *value* made after
    *since* — those still being checked included — and when the last one began (ISO, or None)."""
    assert column in ("username", "address")
    row = conn.execute(
        f"SELECT count(*), max(at) FROM access_log WHERE {column} = ? AND at > ? AND kind = 'sign_in_attempt'",
        (value, since),
    ).fetchone()
    return int(row[0]), row[1]


def refusals_since(conn: sqlite3.Connection, column: str, value: str, since: str) -> tuple[int, str | None]:
    """How many sign-ins *column* = *value* were refused after *since*, and when the last was."""
    assert column in ("username", "address")
    row = conn.execute(
        f"SELECT count(*), max(at) FROM access_log WHERE {column} = ? AND at > ? AND kind = 'sign_in_refused'",
        (value, since),
    ).fetchone()
    return int(row[0]), row[1]


def last_success(conn: sqlite3.Connection, column: str, value: str) -> str | None:
    assert column in ("username", "address")
    row = conn.execute(f"SELECT max(at) FROM access_log WHERE {column} = ? AND kind = 'sign_in'", (value,)).fetchone()
    return row[0]


def signed_out(conn: sqlite3.Connection, session_id: str) -> bool:
    """Whether the session *session_id* (random, one per sign-in) was signed out."""
    return conn.execute(
        "SELECT 1 FROM access_log WHERE kind = 'sign_out' AND detail = ? LIMIT 1", (session_id,),
    ).fetchone() is not None


def sessions_ended_after(conn: sqlite3.Connection, person_id: int, since: str) -> bool:
    """Whether every session of *person_id* opened before some time after *since* was ended
    (the person was disabled then): a session opened at *since* no longer holds."""
    return conn.execute(
        "SELECT 1 FROM access_log WHERE person_id = ? AND kind = 'sessions_ended' AND at >= ? LIMIT 1", (person_id, since),
    ).fetchone() is not None


def now() -> str:
    """The real time now as the access log and the sessions write it (UTC, microseconds)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def end_sessions(conn: sqlite3.Connection, person: dict[str, Any], via: str, why: str) -> None:
    """End every session and API token of *person* now (disabled): none works again, even once re-enabled."""
    at = now()
    revoke_tokens(conn, person["id"], at)
    log_access(conn, at=at, kind="sessions_ended", username=person["name_key"], person=person["name"],
               person_id=person["id"], address="-", via=via, detail=why)


def access_log(conn: sqlite3.Connection, *, limit: int = 200, username: str | None = None) -> list[dict[str, Any]]:
    """The newest entries of the access log first."""
    where, args = ("WHERE username = ?", [username]) if username else ("", [])
    rows = conn.execute(
        f"SELECT {', '.join(ACCESS_COLUMNS)} FROM access_log {where} ORDER BY id DESC LIMIT ?", (*args, limit),
    ).fetchall()
    return [dict(zip(ACCESS_COLUMNS, r)) for r in rows]


def password_hash(conn: sqlite3.Connection, person_id: int) -> str | None:
    row = conn.execute("SELECT password_hash FROM people WHERE id = ?", (person_id,)).fetchone()
    return None if row is None else row[0]


def set_password_hash(conn: sqlite3.Connection, person_id: int, value: str | None, at: str) -> None:
    conn.execute("UPDATE people SET password_hash = ?, changed_at = ? WHERE id = ?", (value, at, person_id))


def has_password(conn: sqlite3.Connection) -> list[int]:
    """The ids of the people who have a password."""
    return [r[0] for r in conn.execute("SELECT id FROM people WHERE password_hash IS NOT NULL")]


def add_token(conn: sqlite3.Connection, token_hash: str, person_id: int, created_at: str, expires_at: str) -> None:
    conn.execute(
        "INSERT INTO api_tokens (token_hash, person_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (token_hash, person_id, created_at, expires_at),
    )


def token(conn: sqlite3.Connection, token_hash: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT person_id, created_at, expires_at, revoked_at FROM api_tokens WHERE token_hash = ?", (token_hash,),
    ).fetchone()
    return None if row is None else dict(zip(("person_id", "created_at", "expires_at", "revoked_at"), row))


def revoke_tokens(conn: sqlite3.Connection, person_id: int, at: str) -> int:
    return conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE person_id = ? AND revoked_at IS NULL", (at, person_id),
    ).rowcount


def person_by_id(conn: sqlite3.Connection, person_id: int) -> dict[str, Any] | None:
    from sopengine.store import people

    row = conn.execute(people.select(conn) + " WHERE p.id = ?", (person_id,)).fetchone()
    return people._person(row)


def forget_secrets(conn: sqlite3.Connection) -> None:
    """Remove the office server's signing secrets from *conn* (a copy being made): whoever holds
    a backup cannot sign a session cookie the live server accepts. A server started on a
    restored copy makes new ones (everyone signs in again).

    On PostgreSQL the rows are deleted in *conn*'s own transaction, which the caller commits;
    what the server keeps of deleted rows is the server's (VACUUM) to clear."""
    if is_pg(conn):
        conn.execute("DELETE FROM server_settings")
        return
    try:
        conn.execute("PRAGMA secure_delete = ON")  # the deleted secrets' bytes are overwritten, not left in free pages
        conn.execute("DELETE FROM server_settings")
        conn.commit()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
