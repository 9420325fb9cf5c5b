"""A PostgreSQL address as people write it: the scheme in any case, a password in the user
information (with ``@``, ``/`` or ``%`` in it) or as ``password=``, and never a password in what
sopengine prints.

The refusals run as real processes against a port where no server listens (no PostgreSQL
needed); the upper-case scheme runs against the session's server and skips without one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sopengine.store.dialect import canonical, is_url
from sopengine.store.pg import redact

pytest.importorskip("psycopg")

SECRET = "rahasia-sekali"


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://sop:rahasia@db.banten.go.id/sopengine", "postgresql://sop:***@db.banten.go.id/sopengine"),
    ("postgresql://sop:ra@ha/sia@db:5433/sopengine", "postgresql://sop:***@db:5433/sopengine"),
    ("postgres://db/sopengine?sslmode=require&password=rahasia", "postgres://db/sopengine?sslmode=require&password=***"),
    ("postgresql://sop:satu@db/x?PASSWORD=dua&application_name=a", "postgresql://sop:***@db/x?PASSWORD=***&application_name=a"),
    ("postgresql://sop@db/sopengine", "postgresql://sop@db/sopengine"),
    ("postgresql:///sopengine", "postgresql:///sopengine"),
])
def test_an_address_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_the_scheme_is_read_in_any_case_and_passed_on_in_lower_case() -> None:
    for url, lower in (("POSTGRESQL://Sop@DB/X", "postgresql://Sop@DB/X"), ("Postgres://db/x", "postgres://db/x"),
                       ("postgresql://db/x", "postgresql://db/x")):
        assert is_url(url)
        assert canonical(url) == lower  # only the scheme: names and passwords keep their case
    for path in ("postgresql.db", "./postgresql:/x", "/srv/postgres/sopengine.db", Path("postgresql://x")):
        assert not is_url(path)


def sop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sopengine", "--lang", "en", *args], capture_output=True, text=True,
                          env={**os.environ, "SOPENGINE_BUSY_TIMEOUT_MS": "2000", "PGCONNECT_TIMEOUT": "2"}, timeout=60)


@pytest.mark.parametrize("url", [
    f"postgresql://sop:{SECRET}@127.0.0.1:1/sopengine",
    f"postgresql://sop:{SECRET}/x@127.0.0.1:1/sopengine",
    f"postgresql://127.0.0.1:1/sopengine?password={SECRET}",
    f"postgresql://sop:{SECRET}%zz@127.0.0.1:1/sopengine",  # libpq quotes the token it cannot decode
])
def test_a_refused_address_is_one_line_exit_5_and_no_password(url: str, tmp_path: Path) -> None:
    for args in (("status",), ("status", "--json"), ("audit", "verify", "--json")):
        done = sop("--db", url, *args)
        assert done.returncode == 5, done.stderr
        assert done.stdout == ""
        assert done.stderr.startswith("Error: cannot reach the PostgreSQL database ") and done.stderr.count("\n") == 1
        assert SECRET not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.postgresql
def test_an_upper_case_scheme_names_the_same_database(pg_db: str) -> None:
    upper = "POSTGRESQL" + pg_db[len("postgresql"):]
    started = sop("--db", upper, "run", "pengumpulan-data", "--period", "2026-11", "--json")
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    listed = sop("--db", pg_db, "status", "--json")
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]
