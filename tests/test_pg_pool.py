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
