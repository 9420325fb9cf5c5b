"""The SQL of the audit trail: what ``audit verify``, history, packs and backups read.

Every statement :mod:`sopengine.audit` runs is here, as a function taking the connection, so
that the audit package holds no SQL and a second database engine changes the store alone.
Nothing here writes to the database: the audit trail only reads (a backup writes its new
file through SQLite's online backup API).

Each statement reads the same on SQLite and PostgreSQL (:mod:`sopengine.store.pg`); the few
that cannot ask :func:`~sopengine.store.dialect.is_pg`: the events counter (SQLite's
``sqlite_sequence`` row, PostgreSQL's ``counters`` row), a payload's JSON (``json_extract``,
``->>``), a text search (``instr``, ``strpos``) and the table's columns (``PRAGMA table_info``;
a PostgreSQL database starts at schema 11, whose ``runs`` has its ``head``).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sopengine.chain import CHAIN_FIELDS
from sopengine.store.dialect import is_pg

EVENT_COLUMNS = ("seq", *CHAIN_FIELDS, "hash")
"""The columns of an event row as the audit reads it: ``seq``, the chained fields, ``hash``."""

_EVENT_SELECT = "SELECT " + ", ".join(EVENT_COLUMNS)

FETCH_SIZE = 4096
"""Rows fetched at a time by a streaming pass over the events."""


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction: a command writing meanwhile cannot split what is read.

    On PostgreSQL the ``BEGIN`` is ``REPEATABLE READ`` (:func:`sopengine.store.pg.translate_sql`):
    every statement of it reads the one snapshot its first statement took, as SQLite's does.
    """
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        _close_streams(conn)
        conn.execute("COMMIT")


def _stream(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
    """A cursor over *sql*'s rows that reads them as they are asked for, :data:`FETCH_SIZE` at a time.

    SQLite's cursor steps through the result. psycopg's ordinary cursor would take the whole
    result into memory at once (a million events, over a gigabyte), so on PostgreSQL, within a
    read snapshot, the rows come from a server-side cursor; :func:`read_snapshot` closes it.
    """
    if is_pg(conn) and conn.in_transaction:
        from sopengine.store.pg import translate_sql

        cursor = conn.raw.cursor(name=f"sopengine_audit_{next(_STREAM_NUMBERS)}")  # type: ignore[attr-defined]
        cursor.itersize = cursor.arraysize = FETCH_SIZE
        conn.__dict__.setdefault("audit_streams", []).append(cursor)
        cursor.execute(translate_sql(sql), tuple(params))
        return cursor
    cursor = conn.execute(sql, params)
    cursor.arraysize = FETCH_SIZE
    return cursor


_STREAM_NUMBERS = itertools.count(1)


def _close_streams(conn: sqlite3.Connection) -> None:
    """Close the server-side cursors :func:`_stream` opened on *conn* (none on SQLite)."""
    streams = conn.__dict__.pop("audit_streams", None) if hasattr(conn, "__dict__") else None
    for cursor in streams or ():
        cursor.close()


# -- events ------------------------------------------------------------------------------------

def event_rows(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """Every event in ``seq`` order (columns :data:`EVENT_COLUMNS`), read as it is asked for."""
    return _stream(conn, f"{_EVENT_SELECT} FROM events ORDER BY seq")


def events_by_run(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """Every event grouped by run, each run's in ``seq`` order (columns :data:`EVENT_COLUMNS`).

    Read along the ``events_run`` index, so that a pass holds one run at a time; runs come in
    SQLite's order of their ids (``BINARY``: by code point, as Python compares text).
    """
    return _stream(conn, f"{_EVENT_SELECT} FROM events ORDER BY run_id, seq")


def seq_range(conn: sqlite3.Connection) -> tuple[int, int]:
    """The lowest and highest event numbers (0, 0 when there are none)."""
    low, high = conn.execute("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM events").fetchone()
    return int(low), int(high)


def event_numbers(conn: sqlite3.Connection) -> Iterator[int]:
    """Every event number, in order."""
    for (seq,) in _stream(conn, "SELECT seq FROM events ORDER BY seq"):
        yield seq


def run_events_streamed(conn: sqlite3.Connection, run_id: Any) -> sqlite3.Cursor:
    """One run's events in ``seq`` order (columns :data:`EVENT_COLUMNS`), read as they are asked for."""
    return _stream(conn, f"{_EVENT_SELECT} FROM events WHERE run_id = ? ORDER BY seq", (run_id,))


def run_event_rows(conn: sqlite3.Connection, run_id: str) -> list[tuple[Any, ...]]:
    """One run's events in ``seq`` order (columns :data:`EVENT_COLUMNS`)."""
    return conn.execute(f"{_EVENT_SELECT} FROM events WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()


def events_between(conn: sqlite3.Connection, low: int, high: int, *, office: bool = False) -> int:
    """How many events (with *office*, office events) are numbered strictly between *low* and *high*."""
    table = "office_events" if office else "events"
    return int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE seq > ? AND seq < ?", (low, high)).fetchone()[0])


def event_payload(conn: sqlite3.Connection, seq: int, *, office: bool = False) -> Any:
    """The stored payload text of event *seq* (with *office*, of office event *seq*)."""
    table = "office_events" if office else "events"
    row = conn.execute(f"SELECT payload FROM {table} WHERE seq = ?", (seq,)).fetchone()
    return row[0] if row else None


def events_issued(conn: sqlite3.Connection) -> int | None:
    """The highest event number ever handed out (SQLite's AUTOINCREMENT counter, PostgreSQL's
    ``counters`` row), or None."""
    return _issued(conn, "events")


def _issued(conn: sqlite3.Connection, table: str) -> int | None:
    if is_pg(conn):
        row = conn.execute("SELECT value FROM counters WHERE name = ?", (table,)).fetchone()
    else:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def stored_heads(conn: sqlite3.Connection) -> tuple[dict[str, str], int, int]:
    """Each run's last stored hash, the number of events and the last event number (not verified)."""
    heads = dict(conn.execute("SELECT run_id, hash FROM events WHERE seq IN (SELECT MAX(seq) FROM events GROUP BY run_id)"))
    n, last = conn.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events").fetchone()
    return heads, n, last


def office_head(conn: sqlite3.Connection) -> tuple[str, int, int] | None:
    """The office chain's last stored hash, its number of events and last number; None when it has none."""
    try:
        row = conn.execute("SELECT hash, seq, (SELECT COUNT(*) FROM office_events) FROM office_events"
                           " ORDER BY seq DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return (row[0], row[1], row[2]) if row else None


def closing_event_rows(conn: sqlite3.Connection, run_id: str, engine: str) -> list[tuple[Any, ...]]:
    """``(seq, kind, step_id, at, person, payload)`` of one run's step_completed and decided
    events not written by *engine*, in ``seq`` order."""
    return conn.execute(
        "SELECT seq, kind, step_id, at, person, payload FROM events WHERE run_id = ? AND kind IN ('step_completed', 'decided')"
        " AND person != ? ORDER BY seq", (run_id, engine),
    ).fetchall()


def document_event_rows(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """``(seq, run_id, step_id, recorded_at, person, payload)`` of the events that record documents."""
    found = "strpos" if is_pg(conn) else "instr"
    return _stream(
        conn, "SELECT seq, run_id, step_id, recorded_at, person, payload FROM events"
        f" WHERE kind IN ('step_completed', 'decided') AND {found}(payload, '\"documents\"') > 0 ORDER BY seq"
    )


def recorded_persons(conn: sqlite3.Connection) -> list[str]:
    """Every distinct name recorded as an event's person, in byte order: one statement that steps
    along the ``events_person`` index one name at a time (a skip scan, written as a recursive
    query both engines read), never a pass over every event."""
    rows = conn.execute(
        "WITH RECURSIVE p(person) AS ("
        " SELECT (SELECT MIN(person) FROM events)"
        " UNION ALL SELECT (SELECT MIN(e.person) FROM events AS e WHERE e.person > p.person) FROM p WHERE p.person IS NOT NULL"
        ") SELECT person FROM p WHERE person IS NOT NULL"
    ).fetchall()
    return [r[0] for r in rows]


HISTORY_COLUMNS = ("seq", "run_id", "definition_id", "period", "definition_hash", "at", "recorded_at", "person",
                   "os_user", "kind", "step_id", "payload", "hash")
"""The columns of a history row, in order."""

_TIME_COLUMNS = {"at": "e.at", "recorded_at": "e.recorded_at"}
_BOUND_OPS = frozenset((">=", "<", "<="))


def history_rows(conn: sqlite3.Connection, *, run: str | None = None, persons: Sequence[str] = (), kind: str | None = None,
                 steps: Sequence[str] = (), roles: Sequence[str] = (), bounds: Sequence[tuple[str, str, str]] = (),
                 limit: int | None = None) -> sqlite3.Cursor:
    """The events matching every filter given, in ``seq`` order (columns :data:`HISTORY_COLUMNS`).

    *persons*, *steps* and *roles* (the payload's ``actor``) each match any of their values;
    *bounds* are ``(column, op, value)`` with column ``at`` or ``recorded_at`` and op one of
    ``>=``, ``<``, ``<=``.
    """
    where: list[str] = []
    args: list[Any] = []
    if run:
        where.append("e.run_id = ?")
        args.append(run)
    if persons:
        where.append(f"e.person IN ({','.join('?' * len(persons))})")
        args.extend(persons)
    if kind:
        where.append("e.kind = ?")
        args.append(kind)
    if steps:
        where.append(f"e.step_id IN ({','.join('?' * len(steps))})")
        args.extend(steps)
    if roles:
        actor = "CAST(e.payload AS json) ->> 'actor'" if is_pg(conn) else "json_extract(e.payload, '$.actor')"
        where.append(f"{actor} IN ({','.join('?' * len(roles))})")
        args.extend(roles)
    for column, op, value in bounds:
        if column not in _TIME_COLUMNS or op not in _BOUND_OPS:
            raise ValueError(f"no time bound {column} {op}")
        where.append(f"{_TIME_COLUMNS[column]} {op} ?")
        args.append(value)
    sql = (
        "SELECT e.seq, e.run_id, r.definition_id, r.period, r.definition_hash, e.at, e.recorded_at, e.person,"
        " e.os_user, e.kind, e.step_id, e.payload, e.hash FROM events e LEFT JOIN runs r ON r.id = e.run_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY e.seq"
    if limit:
        sql += " LIMIT ?"
        args.append(int(limit))
    return _stream(conn, sql, args)


# -- runs, tasks, assignments ----------------------------------------------------------------------

RUN_COLUMNS = ("id", "status", "version", "finished_at", "definition_id", "definition_hash", "calendar_hash", "period",
               "case_data", "due_at", "started_at", "started_by")
"""The columns of a runs row that ``audit verify`` compares with the events."""


def run_exists(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None


def runs_by_id(conn: sqlite3.Connection) -> tuple[sqlite3.Cursor, bool]:
    """Every run in the order of their ids: columns :data:`RUN_COLUMNS` and last the chain head
    the row keeps (``runs.head``, schema 9 on; NULL before it), and whether the table has it."""
    keeps_head = _keeps_head(conn)
    head = "head" if keeps_head else "NULL"
    return _stream(conn, f"SELECT {', '.join(RUN_COLUMNS)}, {head} FROM runs ORDER BY id"), keeps_head


def _keeps_head(conn: sqlite3.Connection) -> bool:
    """Whether ``runs`` has its ``head`` column: SQLite's from schema 9, PostgreSQL's always."""
    return is_pg(conn) or "head" in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}


def run_pins(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """``(id, definition_hash, calendar_hash)`` of every run, by id."""
    return conn.execute("SELECT id, definition_hash, calendar_hash FROM runs ORDER BY id")


TASK_COLUMNS = ("run_id", "id", "step_id", "part", "iteration", "actor", "state", "closed_at", "closed_by", "outcome",
                "note", "on_behalf_of")
"""The columns of a task row as ``audit verify`` reads it."""


def tasks_by_run(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """Every task row (columns :data:`TASK_COLUMNS`) grouped by run, in the order of run ids.

    Within a run, by state and id: the order SQLite reads them along the ``tasks_run`` index,
    asked of PostgreSQL outright, so that problems found in several rows come in one order.
    """
    order = "run_id, state, id" if is_pg(conn) else "run_id"
    return _stream(conn, f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks ORDER BY {order}")


def done_task_rows(conn: sqlite3.Connection, run_id: str) -> list[tuple[Any, ...]]:
    """``(id, step_id, closed_at, closed_by, outcome, iteration, actor, part, note, on_behalf_of)``
    of one run's done task rows, by id."""
    return conn.execute(
        "SELECT id, step_id, closed_at, closed_by, outcome, iteration, actor, part, note, on_behalf_of FROM tasks"
        " WHERE run_id = ? AND state = 'done' ORDER BY id", (run_id,),
    ).fetchall()


def assignments_by_run(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """``(run_id, role, person, acting, assigned_at, assigned_by)`` of every assignment, by run, role, person."""
    return conn.execute(
        "SELECT run_id, role, person, acting, assigned_at, assigned_by FROM assignments ORDER BY run_id, role, person"
    )


DOCUMENT_COLUMNS = ("run_id", "step_id", "name", "path", "sha256", "size", "recorded_at", "recorded_by")
"""What a documents row records (after its id)."""


def document_rows(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """``(id, *DOCUMENT_COLUMNS)`` of every documents row, by id."""
    return conn.execute(f"SELECT id, {', '.join(DOCUMENT_COLUMNS)} FROM documents ORDER BY id")


# -- definitions and calendars -----------------------------------------------------------------------

def definition_rows(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """``(hash, id, title, source, compiled)`` of every stored definition."""
    return conn.execute("SELECT hash, id, title, source, compiled FROM definitions ORDER BY first_seen, hash")


def definition_row(conn: sqlite3.Connection, text_hash: str) -> tuple[Any, ...] | None:
    """``(hash, id, title, source, compiled)`` of one stored definition, or None."""
    row = conn.execute("SELECT hash, id, title, source, compiled FROM definitions WHERE hash = ?", (text_hash,)).fetchone()
    return tuple(row) if row else None


def definition_hashes(conn: sqlite3.Connection) -> list[str]:
    return [h for (h,) in conn.execute("SELECT hash FROM definitions")]


def compiled_text(conn: sqlite3.Connection, text_hash: str) -> str | None:
    """The compiled form (JSON text) of one stored definition, or None."""
    row = conn.execute("SELECT compiled FROM definitions WHERE hash = ?", (text_hash,)).fetchone()
    return row[0] if row else None


def calendar_rows(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """``(hash, data)`` of every stored calendar snapshot."""
    return conn.execute("SELECT hash, data FROM calendars ORDER BY first_seen, hash")


# -- the file itself ---------------------------------------------------------------------------------

def quick_check(conn: sqlite3.Connection, *, full: bool = False) -> str:
    """SQLite's ``PRAGMA quick_check`` (with *full*, ``integrity_check``): ``"ok"``, or what it found.

    A file so damaged that SQLite cannot even run the check raises :class:`sqlite3.DatabaseError`.
    """
    pragma = "integrity_check" if full else "quick_check"
    return "\n".join(str(r[0]) for r in conn.execute(f"PRAGMA {pragma}"))


def server_check(conn: sqlite3.Connection) -> list[str]:
    """What a PostgreSQL server itself says is wrong with the database's storage (empty: nothing).

    PostgreSQL has no check a client runs over every page as SQLite's ``quick_check`` does;
    the server verifies each page as it reads it when the cluster has data checksums, and
    counts the failures it met in ``pg_stat_database`` (none counted when checksums are off).
    """
    row = conn.execute(
        "SELECT checksum_failures, checksum_last_failure FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    if row is None or not row[0]:
        return []
    return [f"{row[0]} page checksum failure(s), the last at {row[1]}"]


COPY_STEP_PAGES = 4096
"""Pages copied per step of a backup that reports its progress."""


def copy_into(conn: sqlite3.Connection, target: Path,
              progress: Callable[[int, int], None] | None = None) -> sqlite3.Connection:
    """Copy the database to a new file at *target* with SQLite's online backup; the copy, open.

    Without *progress*, ``pages=-1`` copies in one step under one read snapshot. With it, the
    copy goes in steps (*progress* told ``(pages copied, pages in all)`` after each) while this
    connection holds one read transaction, so every step reads the same snapshot: writers in
    WAL mode are not blocked, and what they write meanwhile is not in the copy.
    """
    copy = sqlite3.connect(str(target))
    try:
        if progress is None:
            conn.backup(copy, pages=-1)
        else:
            with read_snapshot(conn):
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the snapshot begins with a read
                conn.backup(copy, pages=COPY_STEP_PAGES,
                            progress=lambda _status, remaining, total: progress(total - remaining, total))
    except BaseException:
        copy.close()
        raise
    return copy


# -- the office's chain ------------------------------------------------------------------------------

OFFICE_CHAIN = "@office"
"""The run id the office's events (``office_events``) are hashed with; no run id holds an ``@``."""


def office_event_rows(conn: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    """The office's events in ``seq`` order as rows of :data:`EVENT_COLUMNS`, ``run_id`` being
    :data:`OFFICE_CHAIN`; none in a database older than the people register."""
    try:
        cursor = _stream(
            conn, f"SELECT seq, '{OFFICE_CHAIN}', at, recorded_at, person, os_user, kind, step_id, payload, prev_hash, hash"
            " FROM office_events ORDER BY seq"
        )
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return
        raise
    cursor.arraysize = FETCH_SIZE
    yield from cursor


def event_links(conn: sqlite3.Connection, *, office: bool = False) -> sqlite3.Cursor:
    """``(seq, run_id, recorded_at, hash)`` of every event (with *office*, office event, run id
    :data:`OFFICE_CHAIN`) in ``seq`` order: what a checkpoint's digest is computed over."""
    if office:
        try:
            cursor = _stream(conn, f"SELECT seq, '{OFFICE_CHAIN}', recorded_at, hash FROM office_events ORDER BY seq")
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            cursor = conn.execute("SELECT 1 WHERE 0")
    else:
        cursor = _stream(conn, "SELECT seq, run_id, recorded_at, hash FROM events ORDER BY seq")
    cursor.arraysize = FETCH_SIZE
    return cursor


def register_rows(conn: sqlite3.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The people register's tables as stored: ``(id, name, access, disabled)`` of ``people``,
    ``(login, person_id)`` of ``person_logins`` and ``(person_id, role)`` of ``person_roles``;
    all empty in a database older than the register."""
    try:
        people = conn.execute("SELECT id, name, access, disabled FROM people ORDER BY id").fetchall()
        logins = conn.execute("SELECT login, person_id FROM person_logins ORDER BY login").fetchall()
        roles = conn.execute("SELECT person_id, role FROM person_roles ORDER BY person_id, role").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return [], [], []
        raise
    return people, logins, roles


def office_events_issued(conn: sqlite3.Connection) -> int | None:
    """The highest office event number ever handed out, or None."""
    return _issued(conn, "office_events")


# -- a large history, fast ---------------------------------------------------------------------------

def load_history(conn: sqlite3.Connection, *, runs: Sequence[tuple[Any, ...]] = (),
                 events: Sequence[tuple[Any, ...]] = (), tasks: Sequence[tuple[Any, ...]] = ()) -> None:
    """Write prepared rows as they are, in one transaction: for tests and benchmarks that need
    a large history fast. Nothing is checked or chained here; the caller computes the hashes.

    *runs* are rows of :data:`RUN_COLUMNS` (the chain head a run row keeps is filled in from
    the events); *events* rows of :data:`EVENT_COLUMNS` without ``seq`` (numbered in order); *tasks* rows of ``(run_id, step_id, part, iteration, actor,
    state, opened_at, due_at, closed_at, closed_by, outcome, note, on_behalf_of)``.
    """
    event_columns = EVENT_COLUMNS[1:]
    with _written(conn):
        conn.executemany(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})", runs)
        conn.executemany(
            f"INSERT INTO events ({', '.join(event_columns)}) VALUES ({', '.join('?' * len(event_columns))})",
            events,
        )
        conn.executemany(
            "INSERT INTO tasks (run_id, step_id, part, iteration, actor, state, opened_at, due_at, closed_at, closed_by,"
            " outcome, note, on_behalf_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tasks,
        )
        if _keeps_head(conn):  # the chain head a run row keeps
            conn.executemany(
                "UPDATE runs SET head = (SELECT hash FROM events WHERE run_id = runs.id ORDER BY seq DESC LIMIT 1)"
                " WHERE id = ?", [(row[0],) for row in runs],
            )


@contextmanager
def _written(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on either engine (SQLite's connection is its own context manager)."""
    if not is_pg(conn):
        with conn:
            yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
