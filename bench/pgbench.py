"""PostgreSQL for the benchmarks: which server, a fresh database on it, and what the server is set to.

The benchmarks that compare the engines take ``--pg URL`` (else ``SOPENGINE_BENCH_PG``): a server
where they may create databases. Each makes its own (``bench_<what>_<pid>_<n>``) and drops it at
the end. Without an address they print that they are skipped, and why, and end with
``RESULT {"skipped": ...}``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from typing import Any

ENV = "SOPENGINE_BENCH_PG"
SKIP = (f"no PostgreSQL server given: pass --pg postgresql://USER@HOST:PORT/DB (a server where databases may be created)"
        f" or set {ENV}")
_n = itertools.count(1)


def server(given: str | None) -> str | None:
    """The server's address: ``--pg``, else the environment, else None."""
    return given or os.environ.get(ENV) or None


def skipped(name: str, reason: str = SKIP) -> int:
    """Say the benchmark is skipped and why, with the RESULT line run.py reads; exit status 0."""
    print(f"{name}: skipped: {reason}")
    print("RESULT " + json.dumps({"skipped": reason}), flush=True)
    return 0


def _with_db(url: str, name: str) -> str:
    """*url* naming database *name* instead (its query string kept)."""
    base, sep, query = url.partition("?")
    m = re.match(r"^(postgres(?:ql)?://[^/]*)(/[^?]*)?$", base)
    if not m:
        raise SystemExit(f"Error: {url!r} is not a PostgreSQL address (postgresql://USER@HOST:PORT/DB)")
    return f"{m.group(1)}/{name}{sep}{query}"


def _admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def create(url: str, what: str) -> str:
    """A new, empty database for *what* on the server of *url*; its address."""
    name = f"bench_{what}_{os.getpid()}_{next(_n)}"
    with _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
    return _with_db(url, name)


def drop(url: str, db_url: str) -> None:
    """Drop the database *db_url* made by :func:`create` (this process's pools to it closed first)."""
    from sopengine.store import pg

    pg.close_pools()
    name = db_url.partition("?")[0].rsplit("/", 1)[1]
    if not name.startswith("bench_"):
        raise SystemExit(f"refusing to drop {name!r}: the benchmarks drop only the databases they made (bench_...)")
    with _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings(url: str) -> dict[str, Any]:
    """What the figures depend on: the server's version and its durability settings."""
    with _admin(url) as conn:
        row = conn.execute("SELECT current_setting('server_version'), current_setting('fsync'),"
                           " current_setting('synchronous_commit'), current_setting('full_page_writes'),"
                           " current_setting('shared_buffers'), current_setting('max_connections')").fetchone()
    assert row is not None
    keys = ("version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_connections")
    return dict(zip(keys, row))


def describe(s: dict[str, Any]) -> str:
    line = (f"PostgreSQL {s['version']}: fsync={s['fsync']}, synchronous_commit={s['synchronous_commit']},"
            f" full_page_writes={s['full_page_writes']}, shared_buffers={s['shared_buffers']}")
    if s["fsync"] == "off":
        line += ("\n  NOTE: fsync is off on this server: a commit does not wait for the disk. A production server"
                 " (fsync on) is slower at every commit; read the PostgreSQL figures as a lower bound of a write's cost.")
    return line


def size(db_url: str) -> int:
    """``pg_database_size`` of the database, bytes."""
    with _admin(db_url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])
