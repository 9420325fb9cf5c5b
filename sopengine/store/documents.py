"""The document store's SQL: recorded documents' bytes by sha256, the folders documents may
come from, and the size a document may be.

The bytes live in the database itself (table ``document_blobs``, one row per distinct
content, keyed by its sha256), so that ``sopengine backup`` — SQLite's online backup — and
any later copy of the database carry them, and a server database holds them the same way.
Blobs are written and read in chunks through SQLite's incremental blob I/O, so a large file
never sits whole in memory.

A database made before the store (schema 4 and older, opened read-only without migrating)
has none of these tables: every reader here answers "nothing kept" for it.

On PostgreSQL the bytes are a ``BYTEA`` column: a blob is inserted in one piece (see
:func:`put`) and read back in chunks with ``substring``; the size limit stays below
PostgreSQL's 1 GB for one value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import IO, Any

from sopengine.store.dialect import is_pg

CHUNK = 1 << 20

MAX_SIZE_KEY = "documents.max_size"
DEFAULT_MAX_SIZE = 100 * 1024 * 1024
"""The largest document a step may record unless an admin sets another limit: 100 MiB."""
LARGEST_MAX_SIZE = 900 * 1024 * 1024
"""The largest limit an admin may set: one SQLite value holds at most 1,000,000,000 bytes
(``SQLITE_MAX_LENGTH``, which counts the whole row); one PostgreSQL value at most 1 GB."""


def has_store(conn: sqlite3.Connection) -> bool:
    """Whether the database has the document store (a database of schema 4 or older opened read-only has not)."""
    if getattr(conn, "engine", None) == "postgresql":  # its schema starts at 11, with the store
        return True
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'document_blobs'").fetchone()
    return row is not None


# -- the blobs --------------------------------------------------------------------------------------

def put(conn: sqlite3.Connection, sha256: str, size: int, data: IO[bytes], stored_at: str) -> bool:
    """Keep the bytes read from *data* under *sha256*, unless they are kept already.

    The caller has hashed *data* (positioned at its start) and holds a write transaction.
    Returns whether a new blob was written. Content-addressed and idempotent: recording the
    same bytes again, in this run or another, adds nothing.

    SQLite writes the blob in chunks of :data:`CHUNK` through its incremental blob I/O, so
    the document never sits whole in memory. PostgreSQL has no such writing: there the
    document is read whole and sent as one ``BYTEA`` value, so a document takes about twice
    its size in this process's memory while it is stored (the bytes read and psycopg's copy
    of them), up to twice the size limit (:data:`DEFAULT_MAX_SIZE` unless an admin set another).
    Bytes kept already are not read at all.
    """
    if is_pg(conn):
        if conn.execute("SELECT 1 FROM document_blobs WHERE sha256 = ?", (sha256,)).fetchone() is not None:
            return False
        value = data.read() if size else b""
        cur = conn.execute(
            "INSERT INTO document_blobs (sha256, size, data, stored_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            (sha256, size, value, stored_at),
        )
        return bool(cur.rowcount == 1)
    cur = conn.execute(
        "INSERT INTO document_blobs (sha256, size, data, stored_at) VALUES (?, ?, zeroblob(?), ?) ON CONFLICT (sha256) DO NOTHING",
        (sha256, size, size, stored_at),
    )
    if cur.rowcount != 1:
        return False
    if size:
        with conn.blobopen("document_blobs", "data", int(cur.lastrowid or 0)) as blob:
            for chunk in iter(lambda: data.read(CHUNK), b""):
                blob.write(chunk)
    return True


def kept(conn: sqlite3.Connection, hashes: Iterable[str]) -> set[str]:
    """Which of *hashes* the store holds bytes for."""
    wanted = sorted(set(hashes))
    if not wanted or not has_store(conn):
        return set()
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        found.update(r[0] for r in conn.execute(
            f"SELECT sha256 FROM document_blobs WHERE sha256 IN ({','.join('?' * len(part))})", part))
    return found


def blob_size(conn: sqlite3.Connection, sha256: str) -> int | None:
    """The stored length of the bytes kept under *sha256*, or None when none are kept."""
    if not has_store(conn):
        return None
    row = conn.execute("SELECT length(data) FROM document_blobs WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else int(row[0])


def read(conn: sqlite3.Connection, sha256: str) -> Iterator[bytes]:
    """The bytes kept under *sha256*, in chunks; nothing when none are kept."""
    if not has_store(conn):
        return
    if is_pg(conn):
        yield from _read_pg(conn, sha256)
        return
    row = conn.execute("SELECT rowid, length(data) FROM document_blobs WHERE sha256 = ?", (sha256,)).fetchone()
    if row is None or not row[1]:
        return
    # A read-only connection opens the blob read-only too.
    with conn.blobopen("document_blobs", "data", row[0], readonly=True) as blob:
        for chunk in iter(lambda: blob.read(CHUNK), b""):
            yield chunk


def _read_pg(conn: Any, sha256: str) -> Iterator[bytes]:
    """PostgreSQL's blob in chunks of :data:`CHUNK` (``substring`` of the ``BYTEA``; only the
    chunk asked for leaves the server). Statement by statement is safe: a blob is never changed
    once written (a trigger refuses it)."""
    row = conn.execute("SELECT length(data) FROM document_blobs WHERE sha256 = ?", (sha256,)).fetchone()
    if row is None or not row[0]:
        return
    length = int(row[0])
    for start in range(0, length, CHUNK):
        part = conn.execute(
            "SELECT substring(data from ? for ?) FROM document_blobs WHERE sha256 = ?", (start + 1, CHUNK, sha256),
        ).fetchone()
        if part is None or not part[0]:
            return
        yield bytes(part[0])


def blobs(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every kept blob's key, recorded size and stored length (no bytes), in key order."""
    if not has_store(conn):
        return []
    cur = conn.execute("SELECT sha256, size, length(data), stored_at FROM document_blobs ORDER BY sha256")
    return [{"sha256": r[0], "size": r[1], "length": r[2], "stored_at": r[3]} for r in cur.fetchall()]


def recorded_hashes(conn: sqlite3.Connection) -> set[str]:
    """The sha256 of every document the documents table records."""
    return {r[0] for r in conn.execute("SELECT DISTINCT sha256 FROM documents")}


# -- the rules: allowed folders and the size limit --------------------------------------------------

def folders(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The folders documents may come from (none: any folder), in path order."""
    if not has_store(conn):
        return []
    cur = conn.execute("SELECT path, added_at, added_by, os_user FROM document_folders ORDER BY path")
    return [{"path": r[0], "added_at": r[1], "added_by": r[2], "os_user": r[3]} for r in cur.fetchall()]


def folder_paths(conn: sqlite3.Connection) -> list[str]:
    """The allowed folders' paths alone: what a step reads when it records a document."""
    return [r[0] for r in conn.execute("SELECT path FROM document_folders ORDER BY path")]


def add_folder(conn: sqlite3.Connection, path: str, at: str, by: str, os_user: str) -> bool:
    """Allow *path*; False when it was allowed already."""
    cur = conn.execute(
        "INSERT INTO document_folders (path, added_at, added_by, os_user) VALUES (?, ?, ?, ?) ON CONFLICT (path) DO NOTHING",
        (path, at, by, os_user),
    )
    return cur.rowcount == 1


def remove_folder(conn: sqlite3.Connection, path: str) -> bool:
    """Stop allowing *path*; False when it was not allowed."""
    return conn.execute("DELETE FROM document_folders WHERE path = ?", (path,)).rowcount == 1


def setting(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    if not has_store(conn):
        return None
    row = conn.execute("SELECT value, changed_at, changed_by, os_user FROM settings WHERE key = ?", (key,)).fetchone()
    return None if row is None else {"value": row[0], "changed_at": row[1], "changed_by": row[2], "os_user": row[3]}


def set_setting(conn: sqlite3.Connection, key: str, value: str | None, at: str, by: str, os_user: str) -> None:
    """Set *key* to *value*; None goes back to the default."""
    if value is None:
        conn.execute("DELETE FROM settings WHERE key = ?", (key,))
        return
    conn.execute(
        "INSERT INTO settings (key, value, changed_at, changed_by, os_user) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at,"
        " changed_by = excluded.changed_by, os_user = excluded.os_user",
        (key, value, at, by, os_user),
    )


def rules(conn: sqlite3.Connection) -> tuple[list[str], int]:
    """What a step checks a document against: the allowed folders and the size limit, in one read."""
    folders_: list[str] = []
    limit = DEFAULT_MAX_SIZE
    for kind, value in conn.execute(
        "SELECT 'folder', path FROM document_folders UNION ALL SELECT 'limit', value FROM settings WHERE key = ?", (MAX_SIZE_KEY,)
    ):
        if kind == "folder":
            folders_.append(value)
        else:
            limit = int(value)
    return sorted(folders_), limit


def store_began(conn: sqlite3.Connection) -> str | None:
    """When this database got its document store (``YYYY-MM-DDTHH:MM:SSZ``, from the migration
    record), or None when it has none: documents recorded before then were kept by path only."""
    if not has_store(conn):
        return None
    if getattr(conn, "engine", None) == "postgresql":  # a PostgreSQL database has had it from its first schema
        row = conn.execute("SELECT applied_at FROM schema_migrations WHERE name = '0011_postgresql'").fetchone()
        return str(row[0]) if row and row[0] else None
    try:
        row = conn.execute("SELECT applied_at FROM _sqlite_migrations WHERE name = '0005_document_store'").fetchone()
    except sqlite3.OperationalError:
        return None
    if row is None or not row[0]:
        return None
    # sqlite-utils writes "2026-12-02 15:43:28.378749+00:00"; events keep whole seconds
    text = str(row[0]).replace("T", " ")
    return text[:10] + "T" + text[11:19] + "Z"


def blob_sha256(conn: sqlite3.Connection, sha256: str) -> tuple[str, int] | None:
    """The sha256 and length of the bytes kept under *sha256*, computed again; None when none are kept."""
    import hashlib

    size = blob_size(conn, sha256)
    if size is None:
        return None
    digest = hashlib.sha256()
    for chunk in read(conn, sha256):
        digest.update(chunk)
    return digest.hexdigest(), size
