"""Which engine a connection or a ``--db`` value is: the only question the store's SQL asks of it.

Kept free of imports, since the step path asks it and every command's start-up pays for what
it imports.
"""

from __future__ import annotations

SCHEMES = ("postgresql://", "postgres://")


def is_url(db: object) -> bool:
    """Whether *db* names a PostgreSQL database (``postgresql://…``, the scheme in any case) rather
    than an SQLite file."""
    return isinstance(db, str) and db[:13].lower().startswith(SCHEMES)


def canonical(url: str) -> str:
    """*url* with its scheme in lower case, as libpq takes it (``POSTGRESQL://`` is the same address)."""
    scheme, sep, rest = url.partition("://")
    return scheme.lower() + sep + rest


def is_pg(conn: object) -> bool:
    """Whether *conn* is a PostgreSQL connection (:class:`sopengine.store.pg.PgConnection`)."""
    return getattr(conn, "engine", None) == "postgresql"
