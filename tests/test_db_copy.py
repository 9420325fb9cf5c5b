"""``sopengine db copy``: a whole database copied between SQLite and PostgreSQL, every row and byte kept.

Each test builds a real database through the engine (runs in every state, documents kept
with their bytes, a people register with its office events, the office server's tables),
copies it, and reads both sides back with the engines' own drivers. The PostgreSQL tests
use the session's server (``SOPENGINE_TEST_PG``) and skip without one.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pg_support
import pytest
from click.testing import CliRunner

from sopengine import api, audit, documents, people
from sopengine.cli import cli
from sopengine.dbcopy import CopyRefused
from sopengine.runs import assign, cancel, complete, reopen, start_run
from sopengine.store import Store
from sopengine.store import server as server_sql
from sopengine.store.copy import TABLES
from sopengine.store.dialect import is_url
from sopengine.store.documents import store_began

ME = pwd.getpwuid(os.getuid()).pw_name
RELEASE = Path(__file__).resolve().parent / "data" / "release-0.1"
OUTPUTS = {
    "kumpulkan-data": "Disposisi", "rekap-laporan": "Lembar Disposisi", "olah-data": "Draft Laporan Kinerja",
    "susun-laporan": "Draft Laporan Kinerja", "sosialisasi-laporan": "Draft Laporan Kinerja",
    "rekap-dua-laporan": "Disposisi", "susun-laporan-semester": "Lembar Disposisi",
    "sosialisasi-semester": "Draft Laporan Kinerja",
}


# -- building and reading databases ------------------------------------------------------------------

def step(db: Any, run_id: str, by: str, now: str, *, note: str | None = None, binary: bool = False) -> None:
    """Complete the run's open step with a real output file (its bytes kept in the database)."""
    open_step = api.open_steps(db, run_id)[0]["step"]
    folder = Path.cwd() / "arsip"
    folder.mkdir(exist_ok=True)
    file = folder / f"{run_id}-{open_step}-{now[:10]}.bin"
    body = bytes(range(256)) * 3 + b"\x00akhir" if binary else f"{OUTPUTS[open_step]} untuk {run_id} — {now}\n".encode()
    file.write_bytes(body)
    complete(db, run_id, by=by, now=now, outputs=[(OUTPUTS[open_step], str(file))], note=note)


def build(db: Any) -> dict[str, str]:
    """Runs completed, in flight (with a reopen and assignments) and cancelled; documents with their
    bytes; a register of people with passwords, folders and settings; the office server's tables."""
    a = start_run("pengumpulan-data", db=db, period="2026-S1", now="2026-07-01T08:30", by="ani")["run_id"]
    b = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani")["run_id"]
    c = start_run("pengumpulan-data", db=db, period="2026-11", now="2026-11-02T09:00", by="ani")["run_id"]
    step(db, a, "Agus Supriyadi", "2026-07-01T09:00", note="Sudah diperiksa — lengkap")
    step(db, b, "Agus Supriyadi", "2026-10-01T09:10", binary=True)
    step(db, a, "budi", "2026-07-01T11:00")
    assign(db, b, "kasubag-pep", "Budi", by="ani", now="2026-10-01T09:20")
    for when in ("2026-07-02T09:00", "2026-07-02T10:00", "2026-07-02T13:00", "2026-07-03T09:00", "2026-07-06T09:00",
                 "2026-07-06T14:00"):
        step(db, a, "citra", when)
    step(db, b, "budi", "2026-10-01T09:30")
    reopen(db, b, "kumpulkan-data", reason="Data bulan lalu tertukar", by="ani", now="2026-10-01T10:00")
    step(db, b, "Agus Supriyadi", "2026-10-01T10:30", note="Diperbaiki")
    step(db, c, "Agus Supriyadi", "2026-11-02T09:10")
    cancel(db, c, reason="Dobel", by="ani", now="2026-11-02T10:00")
    people.add_person(db, "Kepala Kantor", logins=[ME], access="admin", now="2026-11-03T08:00")
    people.add_person(db, "Siti Rahma", logins=["siti"], roles=["kepala-bidang"], now="2026-11-03T08:05")
    people.add_person(db, "Budi", logins=["budi"], roles=["kasubag-pep"], now="2026-11-03T08:05")
    people.add_person(db, "Rudi Auditor", logins=["rudi"], access="auditor", now="2026-11-03T08:06")
    people.set_password(db, "Siti Rahma", "kata-sandi-yang-panjang-1", now="2026-11-03T08:10")
    documents.allow_folder(db, Path.cwd() / "arsip", now="2026-11-03T08:20")
    documents.set_max_size(db, "250MiB", now="2026-11-03T08:21")
    with Store(db) as store, store.transaction() as conn:
        siti = conn.execute("SELECT id FROM people WHERE name = ?", ("Siti Rahma",)).fetchone()[0]
        server_sql.setting_or_create(conn, "session_secret", "0f" * 32)
        for i, kind in enumerate(("sign_in", "sign_in_refused", "sign_out")):
            server_sql.log_access(conn, at=f"2026-11-03T09:0{i}:00Z", kind=kind, username="siti", person="Siti Rahma",
                                  person_id=siti, address="10.0.0.7", via="browser", detail=None if i < 2 else "sesi-1")
        server_sql.add_token(conn, "ab" * 32, siti, "2026-11-03T09:00:00Z", "2026-12-03T09:00:00Z")
    return {"a": a, "b": b, "c": c}


def key_of(table: str) -> str:
    return dict(TABLES)[table]


def rows(db: Any, table: str) -> list[tuple[Any, ...]]:
    """Every row of *table*, by its key, read with the engine's own driver (columns by name)."""
    if is_url(db):
        import psycopg

        with psycopg.connect(str(db)) as conn:
            cur = conn.execute(f"SELECT * FROM {table} ORDER BY {key_of(table)}")
            names = [c.name for c in cur.description]
            found = cur.fetchall()
    else:
        conn = sqlite3.connect(db)
        try:
            cur = conn.execute(f"SELECT * FROM {table} ORDER BY {key_of(table)}")
            names = [c[0] for c in cur.description]
            found = cur.fetchall()
        finally:
            conn.close()
    order = sorted(range(len(names)), key=lambda i: names[i])
    return [tuple(bytes(r[i]) if isinstance(r[i], memoryview) else r[i] for i in order) for r in found]


def top(db: Any, table: str) -> int:
    """The highest id of *table*."""
    if is_url(db):
        import psycopg

        with psycopg.connect(str(db)) as conn:
            return int(conn.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0])
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def everything(db: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {table: rows(db, table) for table, _key in TABLES}


def counters(db: Any) -> dict[str, int]:
    """What numbers the next event of each chain: SQLite's AUTOINCREMENT rows, PostgreSQL's counter rows."""
    if is_url(db):
        import psycopg

        with psycopg.connect(str(db)) as conn:
            return dict(conn.execute("SELECT name, value FROM counters").fetchall())
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT name, seq FROM sqlite_sequence WHERE name IN ('events', 'office_events')"))
    finally:
        conn.close()


def secrets(db: Any) -> list[str]:
    """The keys of the office server's signing secrets kept in *db*."""
    with Store(db, readonly=True) as store:
        return [k for (k,) in store.conn.execute("SELECT key FROM server_settings ORDER BY key")]


def began(db: Any) -> str | None:
    with Store(db, readonly=True) as store:
        return store_began(store.conn)


def assert_same(a: Any, b: Any) -> None:
    left, right = everything(a), everything(b)
    for table, _key in TABLES:
        assert left[table] == right[table], table
    assert secrets(b) == []  # the server's signing secrets stay behind, as in a backup
    assert began(a) is not None and began(b) == began(a)  # documents recorded since then must be kept, there too
    assert audit.verify(a)["head"] == audit.verify(b)["head"]
    blobs = {r[0]: r for r in rows(b, "document_blobs")}
    for data, sha256, _size, _at in (blobs[k] for k in blobs):
        assert hashlib.sha256(data).hexdigest() == sha256


def keeps_working(db: Any, run_id: str) -> None:
    """A step on the copy numbers its event, task and document after the copied ones, and the history verifies."""
    last = audit.verify(db)["last_seq"]
    tasks, docs = top(db, "tasks"), top(db, "documents")
    step(db, run_id, "Budi", "2026-10-02T09:00")
    result = audit.verify(db)
    assert result["ok"], result["problems"]
    assert result["last_seq"] == last + 1
    assert top(db, "tasks") > tasks
    assert top(db, "documents") == docs + 1


@pytest.fixture
def source(tmp_path: Path) -> dict[str, Any]:
    db = tmp_path / "kantor.db"
    return {"db": db, **build(db)}


def pg_database(pg_server: Any, *, schema: bool = True) -> tuple[str, str]:
    """A fresh database on the test server: copied from the template with the schema, or bare."""
    if schema:
        return pg_server.create()
    name = f"{pg_server.tag}_bare"
    with pg_support.admin(pg_server.server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, pg_support.database_url(pg_server.server, name)


# -- SQLite to SQLite (always) -------------------------------------------------------------------------

def test_sqlite_to_sqlite_keeps_every_row_id_event_number_and_byte(source: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "salinan.db"
    result = api.db_copy(source["db"], target)
    assert_same(source["db"], target)
    assert result["tables"] == {t: len(r) for t, r in everything(source["db"]).items()}
    assert result["tables"]["document_blobs"] >= 10 and result["tables"]["office_events"] >= 6
    assert result["head"] == audit.verify(source["db"])["head"]
    assert result["verified"]["target"]["ok"] and result["verified"]["source"]["ok"]
    assert counters(target) == counters(source["db"])
    assert secrets(source["db"]) == ["session_secret"]
    keeps_working(target, source["b"])


def test_a_kept_document_removed_from_the_copy_is_a_problem_there_as_in_its_source(source: dict[str, Any], tmp_path: Path) -> None:
    """The copy's document store began when its source's did: a document recorded since then whose bytes
    are gone is reported, however recently the copy was made."""
    target = tmp_path / "salinan.db"
    api.db_copy(source["db"], target)
    assert audit.verify(target, documents=True)["ok"]
    conn = sqlite3.connect(target)
    conn.execute("DROP TRIGGER document_blobs_append_only_delete")
    conn.execute("DELETE FROM document_blobs WHERE sha256 = (SELECT sha256 FROM documents ORDER BY id LIMIT 1)")
    conn.commit()
    conn.close()
    for path in (Path.cwd() / "arsip").iterdir():
        path.unlink()  # the files the documents were read from are gone too: only the store kept them
    kinds = {p["kind"] for p in audit.verify(target, documents=True)["problems"]}
    assert "document_not_kept" in kinds, kinds


def test_a_target_holding_data_is_refused_and_left_as_it_was(source: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "lain.db"
    start_run("pengumpulan-data", db=target, period="2026-12", now="2026-12-01T09:00", by="ani")
    before = hashlib.sha256(target.read_bytes()).hexdigest(), everything(target)
    with pytest.raises(CopyRefused, match="is not empty .*runs \\(1\\)"):
        api.db_copy(source["db"], target)
    assert (hashlib.sha256(target.read_bytes()).hexdigest(), everything(target)) == before
    result = CliRunner().invoke(cli, ["db", "copy", str(source["db"]), str(target)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "is not empty" in result.output and "Traceback" not in result.output


def test_another_programs_file_and_the_source_itself_are_refused(source: dict[str, Any], tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE anggaran (tahun INTEGER)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(CopyRefused, match="tables of another program \\(anggaran\\)"):
        api.db_copy(source["db"], other)
    assert other.read_bytes() == before
    with pytest.raises(CopyRefused, match="the same database"):
        api.db_copy(source["db"], source["db"])
    with pytest.raises(CopyRefused, match="no database at"):
        api.db_copy(tmp_path / "missing.db", tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()
    with pytest.raises(CopyRefused, match="folder .*nowhere does not exist"):
        api.db_copy(source["db"], tmp_path / "nowhere" / "new.db")
    assert not (tmp_path / "nowhere").exists()


def test_an_empty_target_file_made_by_the_store_takes_the_copy(source: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "kosong.db"
    Store(target, create=True).close()
    api.db_copy(source["db"], target)
    assert_same(source["db"], target)


def test_the_release_0_1_database_is_upgraded_and_copied(tmp_path: Path) -> None:
    old = tmp_path / "lama.db"
    shutil.copy(RELEASE / "sopengine.db", old)
    events = sqlite3.connect(old).execute("SELECT seq, hash FROM events ORDER BY seq").fetchall()
    result = api.db_copy(old, tmp_path / "baru.db")
    assert result["upgraded_from"] is not None and result["upgraded_from"] < 11
    assert sqlite3.connect(old).execute("SELECT seq, hash FROM events ORDER BY seq").fetchall() == events
    assert_same(old, tmp_path / "baru.db")


def test_cli_json_says_what_was_copied(source: dict[str, Any], tmp_path: Path) -> None:
    import json

    target = tmp_path / "salinan.db"
    result = CliRunner().invoke(cli, ["db", "copy", str(source["db"]), str(target), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tables"]["events"] == len(rows(source["db"], "events"))
    assert data["head"] == audit.verify(target)["head"] == data["verified"]["source"]["head"]
    assert data["counters"] == counters(source["db"])


def test_a_real_process_copies_and_prints_the_head(source: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "salinan.db"
    done = subprocess.run([sys.executable, "-m", "sopengine", "db", "copy", str(source["db"]), str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    head = audit.verify(source["db"])["head"]
    assert f"Head on both sides: {head}" in done.stdout
    assert done.stderr == ""
    again = subprocess.run([sys.executable, "-m", "sopengine", "db", "copy", str(source["db"]), str(target)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and again.stderr.startswith("Error: ") and again.stderr.count("\n") == 1


# -- PostgreSQL ------------------------------------------------------------------------------------------

@pytest.mark.postgresql
def test_sqlite_to_postgresql_and_back_is_the_same_database(source: dict[str, Any], tmp_path: Path, pg_db: str) -> None:
    result = api.db_copy(source["db"], pg_db)
    assert result["verified"]["target"]["head"] == result["head"]
    assert_same(source["db"], pg_db)
    assert counters(pg_db) == counters(source["db"])
    back = tmp_path / "kembali.db"
    api.db_copy(pg_db, back)
    assert_same(source["db"], back)
    assert counters(back) == counters(source["db"])
    keeps_working(pg_db, source["b"])  # the counter row and the identity columns go on after the copy
    keeps_working(back, source["b"])


@pytest.mark.postgresql
def test_a_postgresql_target_holding_data_is_refused_untouched(source: dict[str, Any], pg_db: str) -> None:
    api.db_copy(source["db"], pg_db)
    before = everything(pg_db), counters(pg_db)
    with pytest.raises(CopyRefused, match="is not empty"):
        api.db_copy(source["db"], pg_db)
    assert (everything(pg_db), counters(pg_db)) == before


@pytest.mark.postgresql
def test_postgresql_to_postgresql_and_a_bare_database(source: dict[str, Any], pg_db: str, pg_server: Any) -> None:
    api.db_copy(source["db"], pg_db)
    name, bare = pg_database(pg_server, schema=False)
    try:
        result = CliRunner().invoke(cli, ["db", "copy", pg_db, bare])
        assert result.exit_code == 0, result.output
        assert_same(pg_db, bare)
        assert counters(bare) == counters(pg_db)
    finally:
        pg_server.drop(name)


@pytest.mark.postgresql
def test_the_release_0_1_database_round_trips_through_postgresql(tmp_path: Path, pg_db: str) -> None:
    old = tmp_path / "lama.db"
    shutil.copy(RELEASE / "sopengine.db", old)
    api.db_copy(old, pg_db)
    api.db_copy(pg_db, tmp_path / "kembali.db")
    assert_same(old, pg_db)
    assert_same(old, tmp_path / "kembali.db")


def orphan_task(db: Path, part: object = 0) -> None:
    """A task row of a run that does not exist (or a part that is not a number), written behind the engine's back."""
    conn = sqlite3.connect(db)  # foreign keys are not checked by a plain connection
    conn.execute("INSERT INTO tasks (run_id, step_id, part, iteration, state, opened_at) VALUES (?, ?, ?, 1, 'open', ?)",
                 ("tidak-ada" if part == 0 else next(iter(conn.execute("SELECT id FROM runs")))[0], "x", part,
                  "2026-11-04T00:00:00Z"))
    conn.commit()
    conn.close()


def test_a_row_the_target_refuses_leaves_no_file(source: dict[str, Any], tmp_path: Path) -> None:
    orphan_task(source["db"])
    target = tmp_path / "salinan.db"
    with pytest.raises(CopyRefused, match="a row of table tasks could not be written .*FOREIGN KEY.*nothing was written"):
        api.db_copy(source["db"], target)
    assert not target.exists() and not Path(f"{target}-wal").exists()


@pytest.mark.postgresql
def test_a_row_postgresql_refuses_writes_nothing_and_numbering_stays_on(source: dict[str, Any], tmp_path: Path,
                                                                       pg_db: str) -> None:
    bad = tmp_path / "rusak.db"
    shutil.copy(source["db"], bad)
    orphan_task(bad, part="dua")
    result = CliRunner().invoke(cli, ["db", "copy", str(bad), pg_db])
    assert result.exit_code == 1 and "a row of table tasks could not be written" in result.output
    assert all(not r for r in everything(pg_db).values())
    assert counters(pg_db) == {"events": 0, "office_events": 0}
    api.db_copy(source["db"], pg_db)
    assert_same(source["db"], pg_db)
    keeps_working(pg_db, source["b"])  # the numbering triggers are on: the new event is numbered after the copy
