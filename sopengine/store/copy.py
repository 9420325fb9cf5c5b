"""The SQL of ``sopengine db copy``: a whole database read from one engine and written to another.

Every table is read in its key's order inside one read snapshot of the source and written
with its ids and event numbers as they are, in batches, inside one write transaction of the
target (:mod:`sopengine.dbcopy` drives it). On PostgreSQL the event numbers are normally
given by the ``events_seq`` and ``office_events_seq`` triggers (:mod:`sopengine.store.pg_schema`);
the copy switches those two triggers off with ``ALTER TABLE ... DISABLE TRIGGER`` inside its
own transaction, which the table's owner may do (no superuser needed, unlike
``session_replication_role``), and which rolls back with the transaction if the copy fails.
Both are switched on again, and the counter rows set to the source's, before it commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sopengine.store.dialect import is_pg

TABLES: tuple[tuple[str, str], ...] = (
    ("definitions", "hash"),
    ("calendars", "hash"),
    ("runs", "id"),
    ("tasks", "id"),
    ("assignments", "run_id, role, person"),
    ("documents", "id"),
    ("document_blobs", "sha256"),
    ("events", "seq"),
    ("people", "id"),
    ("person_logins", "login"),
    ("person_roles", "person_id, role"),
    ("office_events", "seq"),
    ("document_folders", "path"),
    ("settings", "key"),
    ("access_log", "id"),
    ("api_tokens", "token_hash"),
)
"""Every table a copy carries, in an order that writes each row after the rows it refers to,
with the columns it is read in order of."""

LEFT_OUT = frozenset({"server_settings"})
"""Tables a copy leaves behind: the office server's signing secrets (as ``backup`` does). A
server on the copy makes its own, and everyone signs in again there."""

CHAINS = ("events", "office_events")
"""The tables whose ``seq`` a counter hands out (SQLite's AUTOINCREMENT, PostgreSQL's counter row)."""

IDENTITIES = ("tasks", "documents", "people", "access_log")
"""The tables whose ``id`` PostgreSQL numbers from a sequence of its own."""

HOUSEKEEPING = frozenset({"_sqlite_migrations", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4",
                          "schema_migrations", "counters"})
"""Tables of the engines and of the schema's bookkeeping, which a copy does not carry."""

BATCH_ROWS = 2000
"""Rows read and written at a time."""

BLOB_ROWS = 1
"""Document bytes read and written at a time: one document may be hundreds of MiB."""


# -- what a database holds ---------------------------------------------------------------------------

def schema_version(conn: Any) -> int:
    """The schema version of the open database (SQLite's ``user_version``, PostgreSQL's migrations)."""
    if is_pg(conn):
        from sopengine.store import pg_schema

        return pg_schema.version(conn)
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def table_names(conn: Any) -> set[str]:
    """Every table of the database (PostgreSQL: of its current schema)."""
    if is_pg(conn):
        from sopengine.store import pg_schema

        return pg_schema.tables(conn)
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def columns(conn: Any, table: str) -> list[str]:
    """The columns of *table*, in the order the table has them."""
    if is_pg(conn):
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?"
            " ORDER BY ordinal_position", (table,)).fetchall()
    else:
        rows = [(r[1],) for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]
    return [r[0] for r in rows]


def row_counts(conn: Any, tables: Sequence[str]) -> dict[str, int]:
    """How many rows each of *tables* holds."""
    return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}


def probe_sqlite(path: Path) -> tuple[set[str], dict[str, int]]:
    """The tables of the SQLite file at *path* and the rows of those a copy carries, read without
    changing it (no migration, no journal mode): whether a copy may write into it."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        found = table_names(conn)
        return found, row_counts(conn, [t for t, _key in TABLES if t in found])
    finally:
        conn.close()


# -- reading the source --------------------------------------------------------------------------------

def begin_snapshot(conn: Any) -> None:
    """One read transaction over the whole copy: writers meanwhile do not split what is read."""
    conn.execute("BEGIN")


def end_snapshot(conn: Any) -> None:
    if conn.in_transaction:
        conn.execute("COMMIT")


def chain_counter(conn: Any, table: str) -> int:
    """The highest number the counter of *table* (``events`` or ``office_events``) has handed out."""
    if is_pg(conn):
        row = conn.execute("SELECT value FROM counters WHERE name = ?", (table,)).fetchone()
    else:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    top = conn.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {table}").fetchone()[0]
    return max(int(row[0]) if row else 0, int(top))


def read_rows(conn: Any, table: str, cols: Sequence[str], key: str) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of *table* (columns *cols*) in the order of *key*, a batch at a time.

    PostgreSQL reads through a server-side cursor (inside the snapshot's transaction), SQLite
    steps its statement: neither holds more than a batch in memory.
    """
    size = BLOB_ROWS if table == "document_blobs" else BATCH_ROWS
    sql = f"SELECT {', '.join(cols)} FROM {table} ORDER BY {key}"
    if is_pg(conn):
        cursor = conn.raw.cursor(name=f"sopengine_copy_{table}")
        cursor.itersize = size
        cursor.execute(sql)
    else:
        cursor = conn.execute(sql)
    try:
        while True:
            batch = cursor.fetchmany(size)
            if not batch:
                return
            yield [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in batch]
    finally:
        cursor.close()


# -- writing the target ---------------------------------------------------------------------------------

def hold_numbering(conn: Any) -> None:
    """Let the copy write the event numbers it read (PostgreSQL: the numbering triggers off, for
    this transaction only; SQLite takes a number given as it is)."""
    if is_pg(conn):
        for table in CHAINS:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_seq")


def insert_rows(conn: Any, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    marks = ", ".join("?" * len(cols))
    conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)


def resume_numbering(conn: Any, counters: dict[str, int]) -> None:
    """Numbering goes on after what was copied: each chain's counter is *counters*' value (the
    source's), PostgreSQL's identity columns continue after their highest id, and its
    numbering triggers are on again."""
    if is_pg(conn):
        for table, value in counters.items():
            conn.execute("UPDATE counters SET value = ? WHERE name = ?", (value, table))
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_seq")
        for table in IDENTITIES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST(COALESCE(MAX(id), 0), 1),"
                f" MAX(id) IS NOT NULL) FROM {table}")
        return
    for table, value in counters.items():
        if not value:
            continue
        updated = conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (value, table)).rowcount
        if not updated:
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, value))


def set_store_began(conn: Any, began: str) -> None:
    """Record that the copy's document store began when its source's did (*began* as
    :func:`sopengine.store.documents.store_began` gives it), not when the copy was made: documents
    recorded after then must be kept, and ``audit verify --documents`` says so when one is not."""
    if is_pg(conn):
        conn.execute("UPDATE schema_migrations SET applied_at = ? WHERE name = '0011_postgresql'", (began,))
    else:
        conn.execute("UPDATE _sqlite_migrations SET applied_at = ? WHERE name = '0005_document_store'", (began,))
