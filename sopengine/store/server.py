"""The SQL of the office server: its settings, the access log, API tokens and passwords.

Kept in the database (migration ``0011_office_server``) so that several ``sopengine serve``
processes over one database agree on the session-signing secret, on who is throttled and on
which tokens are valid. Plain ``sqlite3`` on the connection the caller holds.
"""

from __future__ import annotations

import sqlite3
from typing import Any

ACCESS_COLUMNS = ("id", "at", "kind", "username", "person", "address", "via", "detail")


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
    detail: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO access_log (at, kind, username, person, address, via, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (at, kind, username, person, address, via, detail),
    )


def failures_since(conn: sqlite3.Connection, column: str, value: str, since: str) -> tuple[int, str | None]:
    """How many refused sign-ins *column* (``username`` or ``address``) = *value* had since
    *since*, and when the last one was (ISO, or None)."""
    assert column in ("username", "address")
    row = conn.execute(
        f"SELECT count(*), max(at) FROM access_log WHERE {column} = ? AND at >= ? AND kind = 'sign_in_refused'",
        (value, since),
    ).fetchone()
    return int(row[0]), row[1]


def last_success(conn: sqlite3.Connection, column: str, value: str) -> str | None:
    assert column in ("username", "address")
    row = conn.execute(f"SELECT max(at) FROM access_log WHERE {column} = ? AND kind = 'sign_in'", (value,)).fetchone()
    return row[0]


def signed_out(conn: sqlite3.Connection, username: str, session_id: str, since: str) -> bool:
    """Whether the session *session_id* of *username*, opened at *since*, was signed out."""
    return conn.execute(
        "SELECT 1 FROM access_log WHERE username = ? AND at >= ? AND kind = 'sign_out' AND detail = ? LIMIT 1",
        (username, since, session_id),
    ).fetchone() is not None


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

    row = conn.execute(people._SELECT + " WHERE p.id = ?", (person_id,)).fetchone()
    return people._person(row)
