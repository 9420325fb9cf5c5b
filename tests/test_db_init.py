"""``sopengine db init``: a new or empty database prepared, an older one upgraded, anything else refused."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pg_support
from click.testing import CliRunner

from sopengine import api
from sopengine.cli import cli
from sopengine.store import SCHEMA_VERSION


def _init(db: str | Path, *more: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["db", "init", "--db", str(db), *more])
    return result.exit_code, result.output


def test_a_new_sqlite_file_is_prepared_once_and_then_left_as_it_is(tmp_path: Path) -> None:
    db = tmp_path / "kantor.db"
    code, out = _init(db, "--json")
    assert code == 0, out
    assert json.loads(out) == {"db": str(db), "engine": "sqlite", "schema": SCHEMA_VERSION}
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    run_id = api.start_run("pengumpulan-data", db=db, now="2026-12-01T08:00", period="2026-12", by="ani")["run_id"]
    code, out = _init(db)
    assert code == 0 and "is ready: schema" in out
    assert api.run_status(db, run_id)["status"] == "active"


def test_an_sqlite_file_of_another_program_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE invoices (id INTEGER)")
    code, out = _init(db)
    assert code != 0 and "not a sopengine database" in out and "Traceback" not in out
    with sqlite3.connect(db) as con:
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["invoices"]


def test_an_empty_postgresql_database_is_prepared_and_runs_start_there(pg_server: pg_support.PgServer) -> None:
    name = f"{pg_server.tag}_init"
    with pg_support.admin(pg_server.server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_support.database_url(pg_server.server, name)
    try:
        code, out = _init(url, "--json")
        assert code == 0, out
        assert json.loads(out) == {"db": url, "engine": "postgresql", "schema": SCHEMA_VERSION}
        assert pg_support.value(url, "SELECT MAX(version) FROM schema_migrations") == SCHEMA_VERSION
        run_id = api.start_run("pengumpulan-data", db=url, now="2026-12-01T08:00", period="2026-12", by="ani")["run_id"]
        assert _init(url)[0] == 0
        assert api.run_status(url, run_id)["status"] == "active"
    finally:
        pg_server.drop(name)


def test_a_postgresql_database_of_another_program_is_refused(pg_db: str) -> None:
    # pg_db holds sopengine's tables; a database with someone else's tables is another matter
    name = pg_db.rsplit("/", 1)[1] + "_other"
    server = pg_db.rsplit("/", 1)[0] + "/postgres"
    with pg_support.admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_support.database_url(server, name)
    try:
        with pg_support.admin(url) as conn:
            conn.execute("CREATE TABLE invoices (id integer)")
        code, out = _init(url)
        assert code != 0 and "not a sopengine database" in out and "invoices" in out and "Traceback" not in out
        assert pg_support.rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == [("invoices",)]
    finally:
        from sopengine.store import pg

        pg.close_pools()
        with pg_support.admin(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
