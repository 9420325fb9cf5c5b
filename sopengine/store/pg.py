"""PostgreSQL: the store's second engine (psycopg 3 and its connection pool).

The rest of the store writes its SQL once, in the portable subset both engines read, with
SQLite's ``?`` placeholders; :class:`PgConnection` offers the part of :class:`sqlite3.Connection`
the store uses (``execute``, ``executemany``, ``in_transaction``) and rewrites each statement
once per process: ``?`` becomes ``%s``, ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO NOTHING``.
The few statements that differ in meaning ask :func:`is_pg` and say both.

What SQLite's file gives for free, PostgreSQL gets from the schema
(:mod:`sopengine.store.pg_schema`): every text column sorts byte by byte (``COLLATE "C"``, as
SQLite compares), ``events.seq`` and ``office_events.seq`` come from a counter row that a
trigger locks inside the inserting transaction (gap-free and in commit order, which a
sequence is not), and triggers refuse UPDATE, DELETE and TRUNCATE of the append-only tables.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Iterable, Sequence

from sopengine.errors import ConcurrentChange, DatabaseBusy, InputError, NotADatabase, StorageUnavailable, StoreError
from sopengine.i18n import _
from sopengine.store.dialect import is_pg, is_url  # noqa: F401  (the store's modules ask either here or there)

WRITER_LOCK = 0x50_50_45_4E  # the advisory lock a write transaction that is not a run's step takes


_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def _split(url: str) -> tuple[str, str, str, str]:
    """*url* as (scheme and ``://``, user, password, the rest from the ``@`` on): the user
    information ends at the last ``@`` before the query, so a password holding ``@``, ``/`` or
    ``:`` unescaped is still all password."""
    scheme, sep, rest = url.partition("://")
    head, q, query = rest.partition("?")
    at = head.rfind("@")
    if not sep or at < 0:
        return scheme + sep, "", "", rest
    user, colon, password = head[:at].partition(":")
    return scheme + sep, user, password if colon else "", head[at:] + q + query


def redact(url: str) -> str:
    """*url* without its password (in the user information or as ``password=``), for messages and JSON."""
    scheme, user, password, rest = _split(url)
    shown = scheme + (f"{user}:***" if password else user) + rest if rest.startswith("@") else url
    return _QUERY_PASSWORD.sub(r"\1***", shown)


def _passwords(url: str) -> list[str]:
    """The passwords *url* holds, as written and as libpq reads them (percent-decoded)."""
    from urllib.parse import unquote

    found = [_split(url)[2]] + [m.group(0).partition("=")[2] for m in _QUERY_PASSWORD.finditer(url)]
    return sorted({p for word in found if word for p in (word, unquote(word))}, key=len, reverse=True)


def reason_of(exc: BaseException, url: str) -> str:
    """The first line of the driver's *exc*, with any password of *url* masked (libpq may quote
    the connection string it could not read)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    for password in _passwords(url):
        reason = reason.replace(password, "***")
    return reason


# -- statements ----------------------------------------------------------------------------------------

_TRANSLATED: dict[str, str] = {}
_OR_IGNORE = re.compile(r"^\s*INSERT OR IGNORE INTO", re.IGNORECASE)


def translate_sql(sql: str) -> str:
    """*sql* as psycopg takes it: ``?`` outside quotes becomes ``%s``, ``%`` becomes ``%%``."""
    found = _TRANSLATED.get(sql)
    if found is not None:
        return found
    out: list[str] = []
    quote = ""
    for ch in sql:
        if ch == "%":
            out.append("%%")
        elif quote:
            out.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        else:
            out.append(ch)
    text = "".join(out)
    if _OR_IGNORE.match(text):
        text = _OR_IGNORE.sub("INSERT INTO", text, count=1) + " ON CONFLICT DO NOTHING"
    if sql.strip().upper() == "BEGIN":
        # a reader's snapshot: every statement of it reads the same moment, as in SQLite
        text = "BEGIN ISOLATION LEVEL REPEATABLE READ"
    elif sql.strip().upper() == "BEGIN IMMEDIATE":
        text = "BEGIN"
    _TRANSLATED[sql] = text
    return text


class PgConnection:
    """One pooled psycopg connection in autocommit mode; the store issues BEGIN and COMMIT itself."""

    engine = "postgresql"

    def __init__(self, pool: Any, raw: Any, timeout: float) -> None:
        self._pool = pool
        self.raw = raw
        self._timeout = timeout
        self._used = False

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        args = tuple(params) if not isinstance(params, dict) else params
        if self._used:
            return self.raw.execute(translate_sql(sql), args)
        try:
            found = self.raw.execute(translate_sql(sql), args)
        except Exception:
            if not (self.raw.closed or self.raw.broken):
                raise
            # The server ended this connection while it waited in the pool (a restart, an
            # administrator): nothing was done on it yet, so the statement goes to a new one.
            self._reconnect()
            found = self.raw.execute(translate_sql(sql), args)
        self._used = True
        return found

    def _reconnect(self) -> None:
        """Give the dead connection back (the pool drops it), have the pool drop every other one
        the server ended, and take a live one."""
        self._pool.putconn(self.raw)
        self._pool.check()
        self.raw = self._pool.getconn(timeout=self._timeout)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        cur = self.raw.cursor()
        cur.executemany(translate_sql(sql), [tuple(r) for r in rows])
        return cur

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    def close(self) -> None:
        raw, self.raw = self.raw, None
        if raw is None:
            return
        try:
            if not raw.closed and self.in_transaction_of(raw):
                raw.execute("ROLLBACK")
        except Exception:
            pass
        self._pool.putconn(raw)

    @staticmethod
    def in_transaction_of(raw: Any) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(raw.info.transaction_status != TransactionStatus.IDLE)


# -- connections -----------------------------------------------------------------------------------------

_pools: dict[str, Any] = {}
_pools_lock = threading.Lock()

POOL_MAX = 16


def _driver() -> Any:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool
    except ImportError:
        raise InputError(
            _("--db names a PostgreSQL database but psycopg is not installed; install sopengine[postgresql]")
        ) from None
    return psycopg_pool


def connect(url: str, timeout_ms: int) -> PgConnection:
    """A connection to the database at *url* from this process's pool for it."""
    pool_module = _driver()
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            # One plain connection first: a wrong address, password or database fails here at once
            # with the server's own reason, where the pool would retry quietly until its timeout.
            import logging

            import psycopg

            logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
            logging.getLogger("psycopg.pool").propagate = False
            try:
                psycopg.connect(url, connect_timeout=max(int(timeout_ms / 1000), 2)).close()
            except psycopg.Error as exc:
                raise unreachable(url, exc) from None

            def configure(conn: Any) -> None:
                conn.execute(f"SET lock_timeout = {int(timeout_ms)}")
                conn.execute("SET idle_in_transaction_session_timeout = 0")

            pool = pool_module.ConnectionPool(
                url, min_size=1, max_size=POOL_MAX, kwargs={"autocommit": True}, configure=configure,
                open=False, name="sopengine",
            )
            try:
                pool.open(wait=True, timeout=max(timeout_ms / 1000, 5))
            except Exception as exc:
                pool.close()
                raise unreachable(url, exc) from None
            _pools[url] = pool
    wait = max(timeout_ms / 1000, 0.1)  # as long as a write waits for a lock
    try:
        raw = pool.getconn(timeout=wait)
    except pool_module.PoolTimeout:
        # every connection of this process's pool stayed in use (a busy office server)
        raise DatabaseBusy(
            _("{path} is busy: all {n} connections of this process stayed in use for {seconds:g} s; try again in a moment"
              " (nothing was changed)").format(path=redact(url), n=POOL_MAX, seconds=wait),
            path=redact(url),
        ) from None
    except Exception as exc:
        raise unreachable(url, exc) from None
    return PgConnection(pool, raw, wait)


def close_pools() -> None:
    """Close every pool of this process (at exit, and in tests that drop a database)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        try:
            pool.close(timeout=1)
        except Exception:
            pass


def unreachable(url: str, exc: BaseException) -> StorageUnavailable:
    reason = re.sub(r"^connection failed: ", "", reason_of(exc, url))
    return StorageUnavailable(
        _("cannot reach the PostgreSQL database {db} ({reason}); check the address, that the server runs and that"
          " the user may sign in").format(db=redact(url), reason=reason),
        path=redact(url), cause="io",
    )


# -- errors ------------------------------------------------------------------------------------------------

def translate(exc: BaseException, url: str, *, timeout_ms: int) -> StoreError | ConcurrentChange | None:
    """The error a person can act on for psycopg's *exc*, or None (a bug, which keeps its traceback)."""
    import psycopg
    from psycopg import errors as e

    where = redact(url)
    if isinstance(exc, (e.LockNotAvailable, e.QueryCanceled)):
        return DatabaseBusy(
            _("{path} is busy: another command has been writing to it for more than {seconds:g} s; try again in a moment"
              " (nothing was changed)").format(path=where, seconds=timeout_ms / 1000),
            path=where,
        )
    if isinstance(exc, (e.SerializationFailure, e.DeadlockDetected)):
        return ConcurrentChange(_("{path}: another command changed the same rows meanwhile; try again (nothing was changed)").format(
            path=where))
    if isinstance(exc, (e.DiskFull, e.InsufficientResources)):
        return StorageUnavailable(
            _("the PostgreSQL server of {db} has no room left ({reason}); ask its administrator (nothing was changed)").format(
                db=where, reason=reason_of(exc, url)), path=where, cause="full")
    if isinstance(exc, (e.ReadOnlySqlTransaction, e.InsufficientPrivilege)):
        return StorageUnavailable(
            _("{db} refuses this change ({reason}); use a database user that may write (nothing was changed)").format(
                db=where, reason=reason_of(exc, url)), path=where, cause="readonly")
    if isinstance(exc, psycopg.OperationalError):
        return unreachable(url, exc)
    return None


def not_sopengine(url: str, tables: set[str]) -> NotADatabase:
    return NotADatabase(
        _("{db} is a PostgreSQL database but not a sopengine database (it has tables {tables}); pass another --db").format(
            db=redact(url), tables=", ".join(sorted(tables)[:5])),
        path=redact(url),
    )
