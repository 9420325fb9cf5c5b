"""A PostgreSQL server for the tests: a fresh, empty sopengine database per test.

``SOPENGINE_TEST_PG`` names a server where the tests may create and drop databases
(``postgresql://postgres@127.0.0.1:5432/postgres``; CI starts a throwaway one and sets it).
Without it the PostgreSQL tests skip, saying why; with ``SOPENGINE_REQUIRE_PG=1`` they fail
instead, as ``SOPENGINE_REQUIRE_BROWSER=1`` does for the browser tests.

Each test's database is a copy of a template made once per session that already holds the
schema (``CREATE DATABASE ... TEMPLATE``), so a test pays a few milliseconds for it rather than
the schema's hundred statements; the databases are dropped after their test, the template
when the session ends.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

# Read at import: the tests' own fixture clears SOPENGINE_* variables before each test.
SERVER = os.environ.get("SOPENGINE_TEST_PG", "").strip()
REQUIRE_PG = os.environ.get("SOPENGINE_REQUIRE_PG") == "1"
PREFIX = "sopengine_t"
SKIP_REASON = "PostgreSQL tests skipped: set SOPENGINE_TEST_PG=postgresql://... (CI sets it)"


def unavailable(reason: str) -> None:
    """Skip the test saying *reason*, or fail it where ``SOPENGINE_REQUIRE_PG=1``."""
    if REQUIRE_PG:
        pytest.fail(f"{reason}; SOPENGINE_REQUIRE_PG=1 requires the PostgreSQL tests to run", pytrace=False)
    pytest.skip(reason)


def database_url(server: str, name: str) -> str:
    """*server*'s address with its database replaced by *name* (the query string kept)."""
    match = re.match(r"^(postgres(?:ql)?://[^/?]*)(/[^?]*)?(\?.*)?$", server)
    if match is None:
        raise ValueError(f"SOPENGINE_TEST_PG is not a postgresql:// address: {server!r}")
    return f"{match.group(1)}/{name}{match.group(3) or ''}"


@contextmanager
def admin(server: str) -> Iterator[Any]:
    """An autocommit connection to *server*'s own database, for CREATE and DROP DATABASE."""
    import psycopg

    conn = psycopg.connect(server, autocommit=True, connect_timeout=10)
    try:
        yield conn
    finally:
        conn.close()


class PgServer:
    """The session's server: hands out fresh databases copied from a template holding the schema."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.tag = f"{PREFIX}_{os.getpid()}_{secrets.token_hex(3)}"
        self.template = f"{self.tag}_template"
        self._numbers = itertools.count(1)
        self._made = False

    def start(self) -> None:
        from sopengine.store import Store
        from sopengine.store import pg

        with admin(self.server) as conn:
            self._drop_orphans(conn)
            conn.execute(f'CREATE DATABASE "{self.template}"')
        self._made = True
        Store(database_url(self.server, self.template), create=True).close()
        pg.close_pools()  # a template is copied only while nobody is connected to it

    def _drop_orphans(self, conn: Any) -> None:
        """Drop the databases a test process on this machine left behind when it was killed (its
        process is gone, nobody is connected): only on a server at this machine's own address."""
        if not re.match(r"^postgres(?:ql)?://(?:[^@/]*@)?(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?(?:/|$)", self.server):
            return
        names = [n for (n,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{PREFIX}\\_%",))]
        for name in names:
            found = re.match(rf"^{PREFIX}_(\d+)_", name)
            if found is None or _alive(int(found.group(1))):
                continue
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # not FORCE: one in use is left alone
            except Exception:
                pass

    def create(self, template: str | None = None) -> tuple[str, str]:
        """A new database copied from the template (or from the database named *template*, which
        nobody may be connected to): (its name, its address)."""
        name = f"{self.tag}_{next(self._numbers)}"
        with admin(self.server) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template or self.template}"')
        return name, database_url(self.server, name)

    def drop(self, name: str) -> None:
        from sopengine.store import pg

        pg.close_pools()  # this process's connections first; FORCE ends any a child left behind
        with admin(self.server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._made:
            self.drop(self.template)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_server() -> PgServer | str:
    """The session's server, or why there is none."""
    if not SERVER:
        return SKIP_REASON
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "PostgreSQL tests skipped: psycopg is not installed (pip install sopengine[postgresql])"
    server = PgServer(SERVER)
    try:
        server.start()
    except Exception as exc:  # the reason goes into the skip (or the failure) the tests report
        try:
            server.stop()
        except Exception:
            pass
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL tests skipped: cannot use SOPENGINE_TEST_PG ({first})"
    return server


class _PgReader:
    """A psycopg connection that takes the store's SQLite-style statements (``?`` placeholders)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.raw = psycopg.connect(url, autocommit=True, connect_timeout=10)

    def execute(self, sql: str, params: Any = ()) -> Any:
        from sopengine.store.pg import translate_sql

        return self.raw.execute(translate_sql(sql), tuple(params))

    def close(self) -> None:
        self.raw.close()


def connect(db: Any) -> Any:
    """A plain connection to the database at *db* (an SQLite path or a PostgreSQL address) that tests read
    directly: ``execute(sql, params)`` with ``?`` placeholders, ``fetchone``/``fetchall``, ``close``."""
    from sopengine.store.dialect import is_url

    if is_url(db):
        return _PgReader(db)
    import sqlite3

    return sqlite3.connect(db, isolation_level=None)


def rows(db: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Every row *sql* reads from the database at *db*."""
    con = connect(db)
    try:
        return [tuple(r) for r in con.execute(sql, args).fetchall()]
    finally:
        con.close()


def value(db: Any, sql: str, *args: Any) -> Any:
    """The first column of the first row *sql* reads from the database at *db*."""
    found = rows(db, sql, *args)
    return found[0][0] if found else None


def holds_no_runs(db: Any) -> bool:
    """Whether nothing was written at *db*: no SQLite file made, or a PostgreSQL database without runs or events."""
    from sopengine.store.dialect import is_url

    if is_url(db):
        return value(db, "SELECT (SELECT COUNT(*) FROM runs) + (SELECT COUNT(*) FROM events)") == 0
    from pathlib import Path

    return not Path(db).exists()


def dump(url: str) -> dict[str, list[str]]:
    """Every row of every table of the PostgreSQL database at *url*, as text, sorted: what a
    refused command must leave as it was."""
    con = connect(url)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename").fetchall()]
        return {t: [r for (r,) in con.execute(f'SELECT x::text FROM "{t}" AS x ORDER BY 1').fetchall()] for t in tables}
    finally:
        con.close()
