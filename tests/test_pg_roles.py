"""The roles of a province's PostgreSQL store, as docs/deployment.md writes them.

The statements between the page's ``pg:roles`` markers are run as written (with names made
unique for the test): the owner prepares the tables, the programs' role works a run to its
end, and that role is refused any change to the events, with the triggers on or off.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pg_support
import pytest

from sopengine import api
from sopengine.store import Store

DOCS = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"


def _blocks() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("<!-- pg:roles -->", 1)[1].split("<!-- /pg:roles -->", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def _psql(url: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url], input=sql,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def province(pg_server: pg_support.PgServer):
    """The page's roles and database, under names of this test's own; dropped afterwards."""
    if shutil.which("psql") is None:
        pg_support.unavailable("psql (PostgreSQL's client) is not installed")
    tag = secrets.token_hex(3)
    names = {"sop_owner": f"sop_owner_{tag}", "sop_app": f"sop_app_{tag}", "sop_audit": f"sop_audit_{tag}"}
    database = f"sopengine_roles_{tag}"

    def rename(sql: str) -> str:
        for old, new in names.items():
            sql = sql.replace(old, new)
        return sql.replace("CREATE DATABASE sopengine ", f"CREATE DATABASE {database} ").replace(
            "\\connect sopengine", f"\\connect {database}")

    create, grant = (rename(b) for b in _blocks())
    done = _psql(pg_server.server, create)
    assert done.returncode == 0, done.stderr
    at = {role: pg_support.database_url(pg_server.server, database).replace("://postgres@", f"://{name}@")
          for role, name in names.items()}
    try:
        yield at, grant
    finally:
        from sopengine.store import pg

        pg.close_pools()
        drop = f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE);' + "".join(
            f'DROP ROLE IF EXISTS "{name}";' for name in names.values())
        _psql(pg_server.server, drop)


def test_the_programs_role_works_runs_and_cannot_change_events(province) -> None:
    at, grant = province
    Store(at["sop_owner"]).close()  # the owner prepares the empty database
    done = _psql(at["sop_owner"], grant)
    assert done.returncode == 0, done.stderr

    app = at["sop_app"]
    run_id = api.start_run("pengumpulan-data", db=app, now="2026-12-01T08:00", period="2026-12", by="ani")["run_id"]
    for minute in range(10, 100, 5):
        if not api.run_status(app, run_id)["open_steps"]:
            break
        api.complete(app, run_id, now=f"2026-12-01T09:{minute % 60:02d}" if minute < 60 else f"2026-12-01T10:{minute - 60:02d}",
                     by="ani")
    assert api.run_status(app, run_id)["status"] == "completed"
    events = pg_support.value(app, "SELECT COUNT(*) FROM events")
    assert pg_support.rows(app, "SELECT seq FROM events ORDER BY seq") == [(n,) for n in range(1, events + 1)]

    for statement in ("UPDATE events SET person = 'x'", "DELETE FROM events", "TRUNCATE events",
                      "ALTER TABLE events DISABLE TRIGGER events_append_only", "UPDATE counters SET value = 0",
                      "DELETE FROM office_events", "UPDATE document_blobs SET size = 0"):
        refused = _psql(app, statement)
        assert refused.returncode != 0, statement
        assert "permission denied" in refused.stderr or "must be owner" in refused.stderr, refused.stderr
    # the auditors' role reads and writes nothing
    assert pg_support.value(at["sop_audit"], "SELECT COUNT(*) FROM audit_events") == events
    refused = _psql(at["sop_audit"], "INSERT INTO settings VALUES ('a', 'b', 'c', 'd', 'e')")
    assert refused.returncode != 0 and "permission denied" in refused.stderr
    assert pg_support.value(app, "SELECT COUNT(*) FROM events") == events



def test_a_role_with_a_schema_of_its_own_finds_the_store_in_public(province) -> None:
    # "$user" comes first in PostgreSQL's search path: once the programs' role has a schema of its
    # own, that is where a new table would go, but the store prepared in public is still the one used
    at, grant = province
    Store(at["sop_owner"]).close()
    done = _psql(at["sop_owner"], grant)
    assert done.returncode == 0, done.stderr
    app = at["sop_app"]
    role = app.split("://", 1)[1].split("@", 1)[0]
    superuser = re.sub(r"://[^@/]+@", "://postgres@", at["sop_owner"], count=1)  # as the fixture made the roles
    made = _psql(superuser, f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}";')
    assert made.returncode == 0, made.stderr
    assert pg_support.value(app, "SELECT current_schema()") == role
    run_id = api.start_run("pengumpulan-data", db=app, now="2026-12-01T08:00", period="2026-12", by="ani")["run_id"]
    assert api.run_status(app, run_id)["status"] == "active"
    assert pg_support.rows(app, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()") == []
    assert pg_support.value(app, "SELECT COUNT(*) FROM public.runs") == 1
