"""The one module that talks to SQLite.

Schema and migrations go through sqlite-utils (only when a database is created or
upgraded); the hot path — one step's write, a status read — uses plain ``sqlite3`` with
fixed SQL: importing sqlite-utils alone costs more than a whole step may take.

Every change to a run is one ``BEGIN IMMEDIATE`` transaction that checks and bumps the
run's ``version``, writes its task rows and appends its hash-chained events. Events are
append-only: SQLite triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from sopengine.chain import GENESIS, canonical
from sopengine.errors import DatabaseMissing, DatabaseTooNew, DuplicateRun, InputError, NotADatabase, RunNotFound
from sopengine.i18n import _
from sopengine.store.dialect import is_url
from sopengine.store.errors import primary_code, refuse_if_damaged, translate

SCHEMA_VERSION = 11
"""``PRAGMA user_version`` of a database this engine writes; older ones are migrated."""

BUSY_TIMEOUT_MS = 10_000
"""How long a command waits for another's write lock before it gives up (exit 4, try again)."""

ENV_BUSY_TIMEOUT = "SOPENGINE_BUSY_TIMEOUT_MS"


def busy_timeout_ms() -> int:
    """The busy timeout in force: ``SOPENGINE_BUSY_TIMEOUT_MS``, else :data:`BUSY_TIMEOUT_MS`."""
    import os

    text = os.environ.get(ENV_BUSY_TIMEOUT)
    if not text:
        return BUSY_TIMEOUT_MS
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 3_600_000:
        raise InputError(
            _("{name} must be a whole number of milliseconds from 0 to 3600000 (got {value!r}); fix or unset it").format(
                name=ENV_BUSY_TIMEOUT, value=text)
        )
    return value

# Calendar snapshots never change under their hash; building one costs about 0.3 ms.
_CALENDARS: dict[str, Any] = {}


# The records a change is made of. Plain classes rather than dataclasses: every command that
# writes imports them, and building a dataclass costs a third of a millisecond at start-up.

class Event:
    """An event to append; the store fills in ``prev_hash`` and ``hash``."""

    __slots__ = ("kind", "at", "person", "os_user", "step_id", "payload")

    def __init__(self, kind: str, at: str, person: str, os_user: str, step_id: str | None = None,
                 payload: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.at = at
        self.person = person
        self.os_user = os_user
        self.step_id = step_id
        self.payload: dict[str, Any] = {} if payload is None else payload

    def __repr__(self) -> str:
        return f"Event({self.kind!r}, {self.at!r}, {self.person!r}, step_id={self.step_id!r}, payload={self.payload!r})"


class NewTask(NamedTuple):
    step_id: str
    part: int
    iteration: int | None  # None: the store gives the next visit number of the step
    actor: str | None
    state: str  # "open" or "waiting"
    opened_at: str
    due_at: str | None


class CloseTask(NamedTuple):
    task_id: int
    state: str  # "done", "cancelled" or "joined"
    closed_at: str
    closed_by: str | None = None
    outcome: str | None = None
    note: str | None = None
    on_behalf_of: str | None = None


class Changes:
    """Everything one command changes in one run, written in one transaction.

    ``close``, ``open``, ``documents``, ``assign`` (role, person, acting, by, at), ``unassign``
    (role, person) and ``events`` are lists the command appends to; ``status`` and
    ``finished_at`` are set when the run ends (``reactivate``: a reopened completed run, whose
    ``finished_at`` is cleared); ``head`` is the run's chain head as read in this transaction
    (None: the store reads it).
    """

    __slots__ = ("run_id", "expected_version", "recorded_at", "close", "open", "documents", "assign", "unassign",
                 "status", "finished_at", "reactivate", "events", "head")

    def __init__(self, run_id: str, expected_version: int, recorded_at: str, *, head: str | None = None) -> None:
        self.run_id = run_id
        self.expected_version = expected_version
        self.recorded_at = recorded_at
        self.close: list[CloseTask] = []
        self.open: list[NewTask] = []
        self.documents: list[dict[str, Any]] = []
        self.assign: list[tuple[str, str, bool, str, str]] = []
        self.unassign: list[tuple[str, str]] = []
        self.status: str | None = None
        self.finished_at: str | None = None
        self.reactivate = False
        self.events: list[Event] = []
        self.head = head


def translated(exc: BaseException, db: str | Path) -> Exception | None:
    """The error a person can act on for a driver's *exc* on the database *db* (an SQLite file or a
    PostgreSQL address), by its cause; None when it is not about the database (a bug). For an error
    that escaped a store, as :meth:`Store._translated` is for one inside it."""
    if is_url(db):
        from sopengine.store import pg

        return pg.translate(exc, str(db), timeout_ms=busy_timeout_ms())
    return translate(exc, db, timeout_ms=busy_timeout_ms())


class Store:
    """An open sopengine database."""

    def __init__(self, path: str | Path, *, create: bool = False, readonly: bool = False, existing: bool = False) -> None:
        """Open the database at *path*.

        ``create`` makes a new one where none exists. ``readonly`` is for commands that only
        read: the file is opened read-only, never created, and an older schema is read as it
        is rather than migrated (the next change migrates it). ``existing`` is for a command that
        changes a run it names: the database must already be sopengine's, so an empty file or
        an empty PostgreSQL database is refused untouched, as a reader refuses it, rather than
        prepared (an older schema is still migrated).
        """
        self.readonly = readonly
        # A definition text never changes under its hash, so its compiled form is parsed once
        # per open store (the JSON costs more to parse than a step costs to write).
        self._compiled: dict[str, dict[str, Any]] = {}
        self._writer: Any = None  # this process's lock for writers of the file (found at the first write)
        self.url: str | None = None
        if is_url(path):
            self._open_pg(str(path), existing=existing)
            return
        self.engine = "sqlite"
        self.errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise DatabaseMissing(
                    _("no database at {path}; start a run with 'sopengine run ID' or pass --db PATH").format(path=self.path),
                    path=str(self.path),
                )
            if self.path.parent and not self.path.parent.exists():
                raise DatabaseMissing(
                    _("folder {folder} does not exist; create it or pass another --db").format(folder=self.path.parent),
                    path=str(self.path),
                )
        if (readonly or existing) and self.path.is_file() and self.path.stat().st_size == 0:
            raise NotADatabase(
                _("{path} is an empty file, not a sopengine database; pass the right --db").format(path=self.path), path=str(self.path)
            )
        self.timeout_ms = busy_timeout_ms()
        try:
            # A reader opens the file as writers do (SQLite falls back to read-only where the file
            # cannot be written) but issues no write: a read-only URI would leave -wal and -shm
            # files behind in the folder.
            self.conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=self.timeout_ms / 1000)
            self.conn.execute(f"PRAGMA busy_timeout = {self.timeout_ms}")
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            if hasattr(self, "conn"):
                self.conn.close()
            raise self._failed(exc) from None
        if version > SCHEMA_VERSION:
            self.conn.close()
            raise DatabaseTooNew(
                _("{path} was written by a newer sopengine (schema {version}, this one knows {known}); upgrade sopengine").format(
                    path=self.path, version=version, known=SCHEMA_VERSION),
                path=str(self.path),
            )
        if not readonly:
            # a file SQLite's check found damaged takes no change until it checks sound again
            try:
                refuse_if_damaged(self.conn, self.path)
            except BaseException as exc:
                self.conn.close()
                if isinstance(exc, sqlite3.Error):
                    raise self._failed(exc) from None
                raise
        if version < SCHEMA_VERSION:
            if readonly or (existing and version == 0):
                self._check_readable(version)  # refuses a file that holds no sopengine data
            if not readonly:
                self._upgrade(version)
        if not readonly:
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")

    def _open_pg(self, url: str, *, existing: bool = False) -> None:
        """Open the PostgreSQL database at *url* (:mod:`sopengine.store.pg`), preparing its schema if it has none."""
        import psycopg

        from sopengine.store import pg, pg_schema
        from sopengine.store.dialect import canonical

        url = canonical(url)
        self.engine = "postgresql"
        self.errors = (psycopg.Error,)
        self.url = url
        self.path = pg.redact(url)  # type: ignore[assignment]  # what messages name; never the password
        self.timeout_ms = busy_timeout_ms()
        self.conn = pg.connect(url, self.timeout_ms)  # type: ignore[assignment]
        try:
            version = pg_schema.version(self.conn)
            if version > SCHEMA_VERSION:
                raise DatabaseTooNew(
                    _("{path} was written by a newer sopengine (schema {version}, this one knows {known}); upgrade sopengine").format(
                        path=self.path, version=version, known=SCHEMA_VERSION),
                    path=str(self.path),
                )
            if version == 0 and (self.readonly or existing):
                found = pg_schema.tables(self.conn)
                if found:
                    raise pg.not_sopengine(url, found)
                raise NotADatabase(_("{path} holds no sopengine data; pass the right --db").format(path=self.path),
                                   path=str(self.path))
            if version < pg_schema.LATEST:
                from sopengine import clock

                # READ COMMITTED: after waiting for the schema lock, see what a process that held it made
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    found = pg_schema.migrate(self.conn, clock.iso(clock.real_now()) or "")
                    if found:
                        raise pg.not_sopengine(url, found)
                except BaseException:
                    self._rollback()
                    raise
                self.conn.execute("COMMIT")
        except psycopg.Error as exc:
            self._rollback()
            error = pg.translate(exc, url, timeout_ms=self.timeout_ms)
            self.conn.close()
            if error is None:
                raise
            raise error from None
        except BaseException:
            self.conn.close()
            raise

    # -- errors --------------------------------------------------------------------------------

    def _failed(self, exc: sqlite3.Error, conn: sqlite3.Connection | None = None) -> Exception:
        """The error to raise for SQLite's *exc* here: by its cause (:mod:`sopengine.store.errors`),
        else a file that cannot be used as a sopengine database."""
        return translate(exc, self.path, conn, timeout_ms=self.timeout_ms) or NotADatabase(
            _("{path} cannot be used as a sopengine database ({reason}); pass the right --db").format(path=self.path, reason=exc),
            path=str(self.path),
        )

    def _rollback(self) -> None:
        """End a failed transaction; SQLite may already have ended it (a full disk, a busy lock)."""
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except self.errors:
                pass  # the transaction is gone either way: nothing of it is written

    # -- schema --------------------------------------------------------------------------------

    def _foreign(self, tables: set[str]) -> NotADatabase:
        self.conn.close()
        names = ", ".join(sorted(tables)[:5])
        return NotADatabase(
            _("{path} is an SQLite file but not a sopengine database (it has tables {tables}); pass another --db").format(
                path=self.path, tables=names),
            path=str(self.path),
        )

    def _check_readable(self, version: int) -> None:
        try:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as exc:
            error = self._failed(exc)
            self.conn.close()
            raise error from None
        if not {"runs", "tasks", "events"} <= tables:
            if tables - {"_sqlite_migrations", "sqlite_sequence"}:
                raise self._foreign(tables)
            self.conn.close()
            raise NotADatabase(_("{path} holds no sopengine data; pass the right --db").format(path=self.path), path=str(self.path))

    def _upgrade(self, version: int) -> None:
        from sopengine.store.schema import migrate

        try:
            # One process prepares the file while others wait for the lock and then find it
            # done; the schema and its user_version commit together, so a crash leaves all or nothing.
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                version = self.conn.execute("PRAGMA user_version").fetchone()[0]
                if version < SCHEMA_VERSION:
                    tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                    # an empty file becomes a database; another program's file (whatever its
                    # user_version says) is left alone
                    foreign = tables - {"_sqlite_migrations", "sqlite_sequence"} if version == 0 else {"runs", "events"} - tables
                    if foreign:
                        raise NotADatabase(
                            _("{path} is an SQLite file but not a sopengine database (it has tables {tables}); pass another --db").format(
                                path=self.path, tables=", ".join(sorted(tables)[:5])),
                            path=str(self.path),
                        )
                    migrate(self.conn)
            except BaseException:
                self._rollback()
                raise
            self.conn.execute("COMMIT")
            self._use_wal()
        except NotADatabase:
            self.conn.close()
            raise
        except sqlite3.Error as exc:
            self._rollback()
            error = translate(exc, self.path, None, timeout_ms=self.timeout_ms) or NotADatabase(
                _("{path} cannot be prepared ({reason}); check the file and its folder's permissions").format(path=self.path, reason=exc),
                path=str(self.path),
            )
            self.conn.close()
            raise error from None

    def _use_wal(self) -> None:
        """Put the file in WAL mode, waiting for other processes as a write would.

        Switching the journal mode needs the file to itself and SQLite does not always wait for
        it: processes that create one database at once would see "database is locked". A file
        another process already switched is left as it is.
        """
        import time

        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            try:
                if self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                    return
                self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if primary_code(exc) not in (5, 6) or time.monotonic() > deadline:  # SQLITE_BUSY, SQLITE_LOCKED
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        try:
            self.conn.close()
        except self.errors:
            # Every change is committed by now; a checkpoint the close could not make (a full
            # disk) stays in the WAL file, where the next connection finds it.
            pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _translated(self, exc: BaseException) -> Exception | None:
        if self.url is not None:
            from sopengine.store import pg

            return pg.translate(exc, self.url, timeout_ms=self.timeout_ms)
        return translate(exc, self.path, self.conn, timeout_ms=self.timeout_ms)

    def _ended_by(self, exc: BaseException) -> BaseException:
        """End the transaction *exc* broke; the error to raise for it by its cause (*exc* itself when
        it is not about the database but a bug, which keeps its traceback)."""
        self._rollback()
        return self._translated(exc) or exc

    @contextmanager
    def transaction(self, run: str | None = None) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: all of it is written, or none of it.

        SQLite's errors come out by their cause (:mod:`sopengine.store.errors`): a lock held
        too long is :class:`~sopengine.errors.DatabaseBusy`, a full disk or a read-only file
        :class:`~sopengine.errors.StorageUnavailable`, confirmed damage
        :class:`~sopengine.errors.DatabaseDamaged`; any other is a bug and stays as it is.
        """
        if self.url is not None:
            yield from self._pg_transaction(run)
            return
        writer = self._writer
        if writer is None:
            writer = self._writer = _writer_lock(self.path)
        # Threads of one process (the office server's) queue here, in turn, rather than in
        # SQLite's busy handler, whose growing sleeps left some writers waiting seconds while
        # others went ahead; other processes still meet at BEGIN IMMEDIATE.
        queued = writer.acquire(timeout=self.timeout_ms / 1000)
        try:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._failed(exc) from None
            yield from self._in_transaction()
        finally:
            if queued:
                writer.release()

    def _pg_transaction(self, run: str | None) -> Iterator[sqlite3.Connection]:
        """PostgreSQL's write transaction (READ COMMITTED). A change to one *run* locks that run's row,
        so steps of different runs proceed side by side until each numbers its events (the counter
        row, :mod:`sopengine.store.pg_schema`); any other change takes the database's writer lock,
        as SQLite's ``BEGIN IMMEDIATE`` does, for the checks that span rows (one active run per
        period, the people register, the office's chain)."""
        from sopengine.store import pg

        try:
            self.conn.execute("BEGIN IMMEDIATE")
            if run is None:
                self.conn.execute(f"SELECT pg_advisory_xact_lock({pg.WRITER_LOCK})")
            else:
                self.conn.execute("SELECT 1 FROM runs WHERE id = ? FOR UPDATE", (run,))
        except self.errors as exc:
            raise self._ended_by(exc) from None
        yield from self._in_transaction()

    def _in_transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self.conn
        except UnicodeEncodeError as exc:
            # A name or note that is not text (bytes from a terminal in another encoding).
            self._rollback()
            raise InputError(
                _("a name or text given is not valid UTF-8 ({text!r}); set the terminal to UTF-8 and type it again").format(
                    text=exc.object[exc.start:exc.end])
            ) from None
        except self.errors as exc:
            raise self._ended_by(exc) from None
        except BaseException:
            self._rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except self.errors as exc:
                raise self._ended_by(exc) from None

    # -- definitions and calendars -------------------------------------------------------------

    def compiled(self, text_hash: str) -> dict[str, Any]:
        """The compiled definition a run is pinned to; shared between calls, so read it only."""
        cached = self._compiled.get(text_hash)
        if cached is not None:
            return cached
        row = self.conn.execute("SELECT compiled FROM definitions WHERE hash = ?", (text_hash,)).fetchone()
        if row is None:
            raise NotADatabase(
                _("definition {hash} of a run is missing from {path}; restore the database from a backup").format(
                    hash=text_hash[:12], path=self.path)
            )
        compiled = self._compiled[text_hash] = json.loads(row[0])
        return compiled

    def definition_source(self, text_hash: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT hash, id, title, source, path, first_seen FROM definitions WHERE hash = ?", (text_hash,)
        ).fetchone()
        if row is None:
            return None
        return dict(zip(("hash", "id", "title", "source", "path", "first_seen"), row))

    def work_calendar(self, cal_hash: str | None) -> Any:
        """The run's pinned :class:`~sopengine.calendar.WorkCalendar` (built once per process)."""
        if not cal_hash:
            return None
        cal = _CALENDARS.get(cal_hash)
        if cal is None:
            data = self.calendar(cal_hash)
            if data is None:
                return None
            from sopengine.calendar import WorkCalendar

            cal = _CALENDARS[cal_hash] = WorkCalendar.from_snapshot(data)
        return cal

    def calendar(self, cal_hash: str | None) -> dict[str, Any] | None:
        if not cal_hash:
            return None
        row = self.conn.execute("SELECT data FROM calendars WHERE hash = ?", (cal_hash,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- runs ----------------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any]:
        cur = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
        row = cur.fetchone()
        if row is None:
            raise RunNotFound(
                _("no run {run!r} in {path}; 'sopengine status' lists the runs").format(run=run_id, path=self.path), run_id=run_id
            )
        data = dict(zip([c[0] for c in cur.description], row))
        data["case_data"] = json.loads(data["case_data"])
        return data

    def tasks(self, run_id: str, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM tasks WHERE run_id = ?"
        args: list[Any] = [run_id]
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args.extend(states)
        cur = self.conn.execute(sql + " ORDER BY id", args)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def open_tasks_by_run(self, include_closed: bool = False) -> dict[str, list[dict[str, Any]]]:
        """The open and waiting tasks of every active run (of every run with *include_closed*), by run,
        each run's in id order: one statement, however many runs (a round trip per run costs a
        server database more than the rows)."""
        # the active runs first (their partial index), then each one's tasks by tasks_run: never a
        # pass over every task of a large database
        sql = ("SELECT * FROM tasks WHERE state IN ('open', 'waiting')"
               + ("" if include_closed else " AND run_id IN (SELECT id FROM runs WHERE status = 'active')")
               + " ORDER BY id")
        cur = self.conn.execute(sql)
        cols = [c[0] for c in cur.description]
        found: dict[str, list[dict[str, Any]]] = {}
        for row in cur.fetchall():
            task = dict(zip(cols, row))
            found.setdefault(task["run_id"], []).append(task)
        return found

    def assignments(self, run_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT role, person, acting, assigned_at, assigned_by FROM assignments WHERE run_id = ? ORDER BY role, person",
            (run_id,),
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def documents(self, run_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM documents WHERE run_id = ? ORDER BY id", (run_id,))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def events(self, run_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def runs(self, include_closed: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM runs" + ("" if include_closed else " WHERE status = 'active'") + " ORDER BY started_at, id"
        cur = self.conn.execute(sql)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def active_run_for(self, definition_id: str, period: str) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM runs WHERE definition_id = ? AND period = ? AND status = 'active' ORDER BY started_at LIMIT 1",
            (definition_id, period),
        ).fetchone()
        return row[0] if row else None

    def any_run_for(self, definition_id: str, period: str) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM runs WHERE definition_id = ? AND period = ? AND status != 'cancelled' ORDER BY started_at LIMIT 1",
            (definition_id, period),
        ).fetchone()
        return row[0] if row else None

    # -- writes --------------------------------------------------------------------------------

    def create_run(
        self, run: dict[str, Any], definition: dict[str, Any], calendar: dict[str, Any] | None, changes: Changes,
        *, unique: str | None = None,
    ) -> None:
        """Insert a new run (its pinned definition and calendar too) and its first changes, atomically.

        ``unique`` refuses the run with :class:`DuplicateRun` when its definition and period
        already have an ``"active"`` run (or ``"any"`` run not cancelled). It is checked under
        the write lock, so that starts racing for one period make one run.
        """
        with self.transaction() as db:
            if unique and run.get("period"):
                status = "status = 'active'" if unique == "active" else "status != 'cancelled'"
                row = db.execute(
                    f"SELECT id FROM runs WHERE definition_id = ? AND period = ? AND {status} ORDER BY started_at LIMIT 1",
                    (run["definition_id"], run["period"]),
                ).fetchone()
                if row:
                    raise DuplicateRun(
                        _("run {run} of {sop} for {period} is still active; continue it, or pass --allow-duplicate").format(
                            run=row[0], sop=run["definition_id"], period=run["period"]),
                        run_id=row[0],
                    )
            db.execute(
                "INSERT OR IGNORE INTO definitions (hash, id, title, source, path, compiled, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (definition["hash"], definition["id"], definition["title"], definition["source"], definition["path"],
                 canonical(definition["compiled"]), changes.recorded_at),
            )
            if calendar is not None:
                db.execute(
                    "INSERT OR IGNORE INTO calendars (hash, data, first_seen) VALUES (?, ?, ?)",
                    (calendar["hash"], canonical(calendar["data"]), changes.recorded_at),
                )
            db.execute(
                "INSERT INTO runs (id, definition_id, definition_hash, calendar_hash, period, case_data, status, started_at, started_by, due_at, finished_at, version)"
                " VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, NULL, 0)",
                (run["id"], run["definition_id"], run["definition_hash"], run.get("calendar_hash"), run.get("period"),
                 canonical(run.get("case_data") or {}), run["started_at"], run["started_by"], run.get("due_at")),
            )
            changes.head = GENESIS  # a new run's first event
            self._apply(db, changes)

    def apply(self, changes: Changes) -> None:
        """Write one command's changes to a run in one transaction, or refuse them all."""
        with self.transaction() as db:
            self._apply(db, changes)

    def _apply(self, db: sqlite3.Connection, ch: Changes) -> None:
        from sopengine.store.runs import write_changes

        write_changes(db, ch)


_writer_locks: dict[str, Any] = {}


def _writer_lock(path: Path) -> Any:
    """The lock this process's writers of the database at *path* take in turn (re-entrant: a
    thread that already writes may open the same database again, as SQLite lets it)."""
    import _thread

    key = str(path.absolute())
    found = _writer_locks.get(key)
    if found is None:
        found = _writer_locks.setdefault(key, _thread.RLock())
    return found


def use(db: str | Path | Store, *, create: bool = False, readonly: bool = False) -> tuple[Store, bool]:
    """The store to work in, and whether this call opened it (and so must close it).

    A caller doing many operations passes one open :class:`Store` instead of a path:
    opening a database (connect, pragmas, schema check) and closing it (a WAL checkpoint
    when it is the last connection) cost several times more than the step itself.
    """
    if isinstance(db, Store):
        return db, False
    return Store(db, create=create, readonly=readonly), True
