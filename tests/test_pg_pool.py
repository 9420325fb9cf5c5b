"""A process's connections to a PostgreSQL database: a pool, and a clear word when it runs dry."""

from __future__ import annotations

import pytest

from sopengine.store import Store


def test_a_process_whose_connections_are_all_in_use_is_told_busy(pg_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sopengine.errors import DatabaseBusy
    from sopengine.store import pg

    pg.close_pools()
    monkeypatch.setattr(pg, "POOL_MAX", 2)
    monkeypatch.setenv("SOPENGINE_BUSY_TIMEOUT_MS", "300")
    held = [Store(pg_db), Store(pg_db)]
    try:
        with pytest.raises(DatabaseBusy, match="all 2 connections of this process stayed in use for 0.3 s"):
            Store(pg_db)
    finally:
        for store in held:
            store.close()
    with Store(pg_db) as store:  # a connection given back serves the next
        assert store.engine == "postgresql"
    pg.close_pools()


def test_connections_the_server_ended_while_they_waited_in_the_pool_are_replaced(pg_db: str) -> None:
    """A PostgreSQL restart (here: every session of the database ended by its administrator) leaves the
    pool's idle connections dead; the next commands of the same process (an office server) still work."""
    from pg_support import connect

    from sopengine import api
    from sopengine.store import pg

    pg.close_pools()
    stores = [Store(pg_db) for _ in range(3)]  # three connections, all given back to the pool
    for store in stores:
        store.close()
    admin = connect(pg_db)
    try:
        ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                              " AND pid <> pg_backend_pid()").fetchall()
    finally:
        admin.close()
    assert len(ended) >= 1
    try:
        for _ in range(4):
            run_id = api.start_run("pengumpulan-data", db=pg_db, now="2026-10-01T09:00", period="2026-10",
                                   allow_duplicate=True)["run_id"]
            assert api.run_status(pg_db, run_id)["status"] == "active"
    finally:
        pg.close_pools()
