"""The audit trail on PostgreSQL: ``audit verify``, ``history``, packs, checkpoints and the auditor
views give on a PostgreSQL database what they give on an SQLite file for the same work.

Each test writes the same history through the engine into a fresh SQLite file and a fresh
PostgreSQL database, with the real clock and the run ids fixed so that every hash is the same,
then compares what the commands print. Tampering goes through the server's own SQL, as someone
with the database's owner role could: the append-only triggers refuse it until a superuser
disables them.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pg_support
from sopengine import clock
from sopengine import runs as engine_runs
from sopengine.cli import cli
from sopengine.runs import assign, cancel, complete, reopen, start_run

pytestmark = pytest.mark.postgresql

RECORDED = datetime(2026, 11, 2, 3, 4, 5, tzinfo=timezone.utc)
IDS = ("aaa-222", "bbb-333", "ccc-444", "ddd-555")
TIMED = ("seconds", "chain_seconds", "tables_seconds")


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real clock and the run ids fixed: the same work hashes the same on both engines."""
    monkeypatch.setattr(clock, "real_now", lambda: RECORDED)


OUTPUTS = {"kumpulkan-data": "Disposisi", "rekap-laporan": "Lembar Disposisi", "olah-data": "Draft Laporan Kinerja",
           "susun-laporan": "Draft Laporan Kinerja"}


def done(db: Any, run_id: str, by: str, now: str, files: Path, *, note: str | None = None) -> None:
    """Complete the run's open step with a real output file (at the same path for both engines)."""
    from sopengine.store import Store

    with Store(db, readonly=True) as store:
        step_id = store.tasks(run_id, ("open",))[0]["step_id"]
    file = files / f"{run_id}-{step_id}.txt"
    file.write_text(f"{OUTPUTS[step_id]} untuk {run_id}: data kinerja triwulan — sudah diperiksa\n", encoding="utf-8")
    complete(db, run_id, by=by, now=now, outputs=[(OUTPUTS[step_id], str(file))], note=note)


def build(db: Any, monkeypatch: pytest.MonkeyPatch, files: Path) -> dict[str, Any]:
    """Three runs: one carried far and reopened, one half done with an assignment, one cancelled;
    the steps of the first record documents."""
    ids = iter(IDS)
    monkeypatch.setattr(engine_runs, "new_run_id", lambda: next(ids))
    files.mkdir(exist_ok=True)
    a = start_run("pengumpulan-data", db=db, period="2026-S1", now="2026-07-01T08:30", by="ani")["run_id"]
    b = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani")["run_id"]
    done(db, a, "Agus Supriyadi", "2026-07-01T09:00", files, note="Sudah diperiksa — lengkap")
    complete(db, b, by="Agus Supriyadi", now="2026-10-01T09:10")
    done(db, a, "budi", "2026-07-01T11:00", files)
    assign(db, b, "kasubag-pep", "Budi", by="ani", now="2026-10-01T09:20")
    done(db, a, "citra", "2026-07-02T09:00", files)
    complete(db, b, by="budi", now="2026-10-01T09:30")
    reopen(db, a, "olah-data", reason="angka triwulan salah", by="budi", now="2026-07-02T10:00")
    done(db, a, "citra", "2026-07-02T11:00", files)
    c = start_run("pengumpulan-data", db=db, period="2026-11", now="2026-11-01T08:00", by="ani")["run_id"]
    cancel(db, c, reason="dimulai dua kali", by="ani", now="2026-11-01T08:05")
    return {"db": db, "a": a, "b": b, "c": c, "files": files}


@pytest.fixture
def both(tmp_path: Path, pg_db: str, fixed: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """The same history in an SQLite file and in a PostgreSQL database."""
    files = tmp_path / "arsip"
    return {"sqlite": build(tmp_path / "sopengine.db", monkeypatch, files), "postgresql": build(pg_db, monkeypatch, files)}


def sop(*args: str) -> Any:
    return CliRunner().invoke(cli, ["--lang", "en", *args], catch_exceptions=False)


def verified(db: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = sop("--db", str(db), "audit", "verify", "--json", *args)
    return result.exit_code, json.loads(result.output)


def timeless(result: dict[str, Any]) -> dict[str, Any]:
    """A verify result without what depends on the engine's file, its address or the time taken."""
    return {k: v for k, v in result.items() if k not in (*TIMED, "db", "integrity")}


def tamper(url: str, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Change events behind the engine's back as a superuser: the append-only trigger disabled, then enabled again."""
    con = pg_support.connect(url)
    try:
        con.execute("BEGIN")
        con.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        for sql, args in statements:
            con.execute(sql, args)
        con.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
        con.execute("COMMIT")
    finally:
        con.close()


def tamper_sqlite(db: Path, *statements: tuple[str, tuple[Any, ...]]) -> None:
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER events_append_only_update")
    con.execute("DROP TRIGGER events_append_only_delete")
    for sql, args in statements:
        con.execute(sql, args)
    con.commit()
    con.close()


# -- audit verify ----------------------------------------------------------------------------------------


def test_verify_gives_the_same_result_and_head_on_both_engines(both: dict[str, dict[str, Any]]) -> None:
    code_s, lite = verified(both["sqlite"]["db"])
    code_p, pg = verified(both["postgresql"]["db"])
    assert (code_s, code_p) == (0, 0)
    assert pg["ok"] and pg["problems"] == [] and pg["events"] == 12 and pg["runs"] == 3
    assert timeless(pg) == timeless(lite)
    assert pg["head"] == lite["head"] and pg["head"].endswith("@12")
    assert set(pg) == set(lite)
    assert set(pg["integrity"]) == set(lite["integrity"]) == {"check", "ok", "seconds"}
    assert lite["integrity"]["check"] == "quick_check"
    assert pg["integrity"]["check"] == "postgresql" and pg["integrity"]["ok"] is True
    assert pg["db"] == both["postgresql"]["db"]  # no password in it to hide
    # the documents kept in the database hash as recorded, on both
    code_s, lite = verified(both["sqlite"]["db"], "--documents")
    code_p, pg = verified(both["postgresql"]["db"], "--documents")
    assert (code_s, code_p) == (0, 0)
    assert pg["documents"]["checked"] == 4 and pg["documents"]["ok"] == 4
    assert timeless(pg) == timeless(lite)
    # --full-check has nothing more to run on the server
    code, full = verified(both["postgresql"]["db"], "--full-check")
    assert code == 0 and full["integrity"]["check"] == "postgresql"


def test_a_noted_head_is_held_to_on_postgresql(both: dict[str, dict[str, Any]]) -> None:
    url = both["postgresql"]["db"]
    head = verified(url)[1]["head"]
    code, result = verified(url, "--expect-head", head)
    assert code == 0 and result["head_matches"] is True
    # the head over events 1 to 10 is recomputed alike: the last head noted against it does not match
    wrong = head.split("@")[0] + "@10"
    code, result = verified(url, "--expect-head", wrong)
    assert code == 1 and result["head_matches"] is False
    assert timeless(result) == timeless(verified(both["sqlite"]["db"], "--expect-head", wrong)[1])


def test_the_text_output_is_the_same_but_for_the_time_taken(both: dict[str, dict[str, Any]]) -> None:
    def text(db: Any) -> list[str]:
        result = sop("--db", str(db), "audit", "verify")
        assert result.exit_code == 0
        return [line for line in result.output.splitlines() if not line.startswith("OK:")]

    assert text(both["postgresql"]["db"]) == text(both["sqlite"]["db"])


def test_events_are_append_only_on_postgresql_and_verify_still_holds(both: dict[str, dict[str, Any]]) -> None:
    import psycopg

    url = both["postgresql"]["db"]
    for sql in ("UPDATE events SET person = 'mallory' WHERE seq = 3", "DELETE FROM events WHERE seq = 12",
                "TRUNCATE events CASCADE"):
        con = pg_support.connect(url)
        try:
            with pytest.raises(psycopg.Error, match="append-only"):
                con.execute(sql)
        finally:
            con.close()
    code, result = verified(url)
    assert code == 0 and result["ok"] and result["events"] == 12


def test_a_tampered_payload_is_found_on_postgresql_as_on_sqlite(both: dict[str, dict[str, Any]]) -> None:
    edit = ("UPDATE events SET payload = replace(payload, 'Sudah diperiksa', 'Belum diperiksa') WHERE seq = 3", ())
    tamper_sqlite(both["sqlite"]["db"], edit)
    tamper(both["postgresql"]["db"], edit)
    code_s, lite = verified(both["sqlite"]["db"])
    code_p, pg = verified(both["postgresql"]["db"])
    assert (code_s, code_p) == (1, 1)
    assert pg["first_problem"]["kind"] == "edited" and pg["first_problem"]["seq"] == 3
    assert pg["first_problem"]["run_id"] == both["postgresql"]["a"]
    assert timeless(pg) == timeless(lite)
    shown = sop("--db", both["postgresql"]["db"], "audit", "verify")
    assert shown.exit_code == 1 and "event 3" in shown.output


def test_a_kept_document_changed_is_found_on_postgresql_as_on_sqlite(both: dict[str, dict[str, Any]]) -> None:
    import sqlite3

    lite = sqlite3.connect(both["sqlite"]["db"])
    lite.execute("DROP TRIGGER IF EXISTS document_blobs_append_only_update")
    sha, = lite.execute("SELECT sha256 FROM document_blobs ORDER BY sha256 LIMIT 1").fetchone()
    lite.execute("UPDATE document_blobs SET data = ? WHERE sha256 = ?", (b"dipalsukan", sha))
    lite.commit()
    lite.close()
    con = pg_support.connect(both["postgresql"]["db"])
    try:
        con.execute("BEGIN")
        con.execute("ALTER TABLE document_blobs DISABLE TRIGGER document_blobs_append_only")
        con.execute("UPDATE document_blobs SET data = ? WHERE sha256 = ?", (b"dipalsukan", sha))
        con.execute("ALTER TABLE document_blobs ENABLE TRIGGER document_blobs_append_only")
        con.execute("COMMIT")
    finally:
        con.close()
    code_s, lite_result = verified(both["sqlite"]["db"], "--documents")
    code_p, pg = verified(both["postgresql"]["db"], "--documents")
    assert (code_s, code_p) == (1, 1)
    assert {d["event"] for d in pg["documents"]["changed"]} == {7, 10}  # one file, recorded at both visits
    assert timeless(pg) == timeless(lite_result)


def test_edited_tables_are_named_alike_row_by_row(both: dict[str, dict[str, Any]]) -> None:
    for hist in both.values():
        con = pg_support.connect(hist["db"])
        try:
            con.execute("UPDATE tasks SET closed_by = 'mallory' WHERE run_id = ? AND state = 'done'", (hist["a"],))
            con.execute("UPDATE tasks SET closed_by = 'mallory', closed_at = '2026-01-01T00:00:00Z'"
                        " WHERE state IN ('cancelled', 'open')")
            con.execute("UPDATE assignments SET assigned_by = 'mallory'")
            con.execute("UPDATE runs SET status = 'completed' WHERE id = ?", (hist["b"],))
        finally:
            con.close()
    code_s, lite = verified(both["sqlite"]["db"])
    code_p, pg = verified(both["postgresql"]["db"])
    assert (code_s, code_p) == (1, 1)
    assert len(pg["problems"]) >= 6
    assert timeless(pg) == timeless(lite)


def test_the_newest_events_deleted_are_named_from_the_counter_row(both: dict[str, dict[str, Any]]) -> None:
    cut = ("DELETE FROM events WHERE seq >= 11", ())
    tamper_sqlite(both["sqlite"]["db"], cut)
    tamper(both["postgresql"]["db"], cut)
    assert pg_support.value(both["postgresql"]["db"], "SELECT value FROM counters WHERE name = 'events'") == 12
    code_s, lite = verified(both["sqlite"]["db"])
    code_p, pg = verified(both["postgresql"]["db"])
    assert (code_s, code_p) == (1, 1)
    kinds = {(p["kind"], p["seq"]) for p in pg["problems"]}
    assert ("deleted", 11) in kinds
    assert timeless(pg) == timeless(lite)


def test_verify_runs_as_a_real_process_on_postgresql(both: dict[str, dict[str, Any]]) -> None:
    url = both["postgresql"]["db"]
    done = subprocess.run([sys.executable, "-m", "sopengine", "--db", url, "audit", "verify", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["integrity"]["check"] == "postgresql"
    assert result["head"] == verified(both["sqlite"]["db"])[1]["head"]


def office(db: Any) -> None:
    """The people register kept in the office's chain: an admin, a staff member later disabled, and a run."""
    import getpass

    for args in (("people", "add", "Ani Admin", "--login", getpass.getuser(), "--access", "admin", "--now", "2026-07-01T08:00"),
                 ("people", "add", "Budi", "--login", "budi", "--role", "kasubag-pep", "--now", "2026-07-01T08:05"),
                 ("people", "disable", "Budi", "--now", "2026-07-01T08:10")):
        result = sop("--db", str(db), *args)
        assert result.exit_code == 0, result.output
    start_run("pengumpulan-data", db=db, period="2026-S1", now="2026-07-01T08:30")


def test_the_office_chain_and_the_register_are_checked_alike(tmp_path: Path, pg_db: str, fixed: None,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    dbs = {"sqlite": tmp_path / "sopengine.db", "postgresql": pg_db}
    monkeypatch.setattr(engine_runs, "new_run_id", lambda: IDS[0])
    for db in dbs.values():
        office(db)
    code, pg = verified(pg_db)
    assert code == 0 and pg["office_events"] == 3 and pg["head"].endswith("@1+3")
    assert timeless(pg) == timeless(verified(dbs["sqlite"])[1])
    # the register's table changed behind the office's chain: named alike
    for db in dbs.values():
        con = pg_support.connect(db)
        con.execute("UPDATE people SET disabled = 0 WHERE name = 'Budi'")
        con.close()
    code, pg = verified(pg_db)
    assert code == 1 and pg["problems"]
    assert timeless(pg) == timeless(verified(dbs["sqlite"])[1])


def test_the_newest_office_events_deleted_are_named_from_the_counter_row(tmp_path: Path, pg_db: str, fixed: None,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_runs, "new_run_id", lambda: IDS[0])
    office(pg_db)
    con = pg_support.connect(pg_db)
    try:
        con.execute("BEGIN")
        con.execute("ALTER TABLE office_events DISABLE TRIGGER office_events_append_only")
        con.execute("DELETE FROM office_events WHERE seq = 3")
        con.execute("ALTER TABLE office_events ENABLE TRIGGER office_events_append_only")
        con.execute("COMMIT")
    finally:
        con.close()
    code, pg = verified(pg_db)
    assert code == 1
    assert any(p["kind"] == "deleted" and p["run_id"] == "@office" and "up to 3" in p["message"]
               for p in pg["problems"]), pg["problems"]


# -- history ---------------------------------------------------------------------------------------------


FILTERS = (
    (), ("--run", IDS[0]), ("--person", "BUDI"), ("--actor", "kasubag-pep"), ("--actor", "Kepala Bidang"),
    ("--step", "2"), ("--kind", "step_completed"), ("--since", "2026-07-01", "--until", "2026-07-01"),
    ("--recorded-since", "2026-11-02", "--recorded-until", "2026-11-02"), ("--limit", "3"), ("--kind", "reopened"),
)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: " ".join(f) or "all")
def test_history_json_is_the_same_on_both_engines(both: dict[str, dict[str, Any]], filters: tuple[str, ...]) -> None:
    out = {}
    for engine, hist in both.items():
        result = sop("--db", str(hist["db"]), "history", "--json", *filters)
        assert result.exit_code == 0, result.output
        out[engine] = json.loads(result.output)
    assert out["postgresql"] == out["sqlite"]
    if not filters:
        assert [e["seq"] for e in out["postgresql"]] == list(range(1, 13))


def test_history_csv_and_the_table_with_paging_are_the_same_on_both_engines(both: dict[str, dict[str, Any]],
                                                                            tmp_path: Path) -> None:
    for engine, hist in both.items():
        result = sop("--db", str(hist["db"]), "history", "--format", "csv", "-o", str(tmp_path / f"{engine}.csv"))
        assert result.exit_code == 0, result.output
    assert (tmp_path / "postgresql.csv").read_bytes() == (tmp_path / "sqlite.csv").read_bytes()
    shown = {engine: sop("--db", str(hist["db"]), "history", "--limit", "5").output for engine, hist in both.items()}
    assert shown["postgresql"] == shown["sqlite"]
    assert "--limit 0" in shown["postgresql"]
    actor = {engine: sop("--db", str(hist["db"]), "history", "--actor", "pengelola-data", "--format", "csv").output
             for engine, hist in both.items()}
    assert actor["postgresql"] == actor["sqlite"]


def test_a_history_stream_on_postgresql_reads_one_snapshot_and_ends_its_transaction(both: dict[str, dict[str, Any]]) -> None:
    from sopengine.audit.history import iter_history

    url = both["postgresql"]["db"]
    stream = iter_history(url)
    assert next(stream)["seq"] == 1
    complete(url, both["postgresql"]["b"], by="citra", now="2026-10-02T09:00")  # written meanwhile: not in the stream
    assert [e["seq"] for e in stream] == list(range(2, 13))
    stream = iter_history(url, kind="step_completed")
    next(stream)
    stream.close()  # left early
    open_ones = pg_support.value(
        url, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'")
    assert open_ones == 0
    assert [e["seq"] for e in iter_history(url)][-1] == 13


# -- packs and checkpoints -------------------------------------------------------------------------------


def test_a_pack_from_postgresql_holds_the_same_evidence(both: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    made = {}
    for engine, hist in both.items():
        (tmp_path / engine).mkdir()
        target = tmp_path / engine / "evidence.zip"  # the same name: README.txt names the file
        result = sop("--db", str(hist["db"]), "audit", "pack", hist["a"], "-o", str(target), "--json")
        assert result.exit_code == 0, result.output
        made[engine] = json.loads(result.output)
        with zipfile.ZipFile(target) as zf:
            made[engine]["members"] = {info.filename: zf.read(info) for info in zf.infolist()}
    pg, lite = made["postgresql"], made["sqlite"]
    assert pg["run_head"] == lite["run_head"] and pg["events"] == lite["events"] == 6
    assert pg["documents"]["included"] == lite["documents"]["included"] == 4
    differ = {name for name in lite["members"].keys() | pg["members"].keys()
              if pg["members"].get(name) != lite["members"].get(name)}
    assert differ == set()
    assert pg["manifest_sha256"] == lite["manifest_sha256"]
    checked = sop("audit", "verify-pack", str(tmp_path / "postgresql" / "evidence.zip"), "--expect-head", pg["run_head"],
                  "--expect-manifest", pg["manifest_sha256"], "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["ok"]


def test_checkpoints_hold_on_postgresql_as_on_sqlite(both: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    key = tmp_path / "auditor.key"
    assert sop("audit", "keygen", str(key)).exit_code == 0
    books = {engine: tmp_path / f"{engine}.checkpoints" for engine in both}
    for engine, hist in both.items():
        made = sop("--db", str(hist["db"]), "audit", "checkpoint", "--key", str(key), "--file", str(books[engine]), "--json")
        assert made.exit_code == 0, made.output
        assert json.loads(made.output)["head"].endswith("@12")
    assert books["postgresql"].read_bytes() == books["sqlite"].read_bytes()  # the same head signed at the same time

    def held(engine: str) -> tuple[int, dict[str, Any]]:
        code, result = verified(both[engine]["db"], "--checkpoints", str(books[engine]), "--public-key", f"{key}.pub")
        result["checkpoints"].pop("file")
        return code, timeless(result)

    code, result = held("postgresql")
    assert code == 0 and result["checkpoints"]["held"] == 1
    assert (code, result) == held("sqlite")
    # an event edited after the checkpoint was signed: both engines name it alike
    edit = ("UPDATE events SET person = 'mallory' WHERE seq = 12", ())
    tamper(both["postgresql"]["db"], edit)
    tamper_sqlite(both["sqlite"]["db"], edit)
    code, result = held("postgresql")
    assert code == 1
    assert (code, result) == held("sqlite")


# -- the auditor views -----------------------------------------------------------------------------------

VIEW_QUERIES = {
    "audit_events": "SELECT * FROM audit_events ORDER BY seq",
    "audit_step_visits": "SELECT * FROM audit_step_visits ORDER BY task_id",
    "audit_open_steps": "SELECT * FROM audit_open_steps ORDER BY task_id",
    "audit_definition_steps": "SELECT * FROM audit_definition_steps ORDER BY definition_hash, step",
}


def plain(value: Any) -> Any:
    """A value as Python compares it: PostgreSQL's numeric as an int or a float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@pytest.mark.parametrize("view", sorted(VIEW_QUERIES))
def test_the_auditor_views_give_the_same_rows_on_both_engines(both: dict[str, dict[str, Any]], view: str) -> None:
    found = {}
    for engine, hist in both.items():
        con = pg_support.connect(hist["db"])
        try:
            cur = con.execute(VIEW_QUERIES[view])
            columns = [c[0] for c in cur.description]
            found[engine] = [dict(zip(columns, (plain(v) for v in row))) for row in cur.fetchall()]
        finally:
            con.close()
    assert found["postgresql"], view
    assert found["postgresql"] == found["sqlite"]


# -- the report ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [(), ("--definition", "pengumpulan-data", "--monitoring"), ("--run", IDS[0])],
                         ids=["all", "monitoring", "run"])
def test_the_report_reads_the_same_from_both_engines(both: dict[str, dict[str, Any]], args: tuple[str, ...]) -> None:
    out = {}
    for engine, hist in both.items():
        result = sop("--db", str(hist["db"]), "--now", "2026-11-02T10:00", "report", "--json", *args)
        assert result.exit_code == 0, result.output
        found = json.loads(result.output)
        out[engine] = {k: v for k, v in found.items() if k != "db"} if isinstance(found, dict) else found
    assert out["postgresql"] == out["sqlite"]


def test_the_people_assigned_to_an_open_step_are_listed_in_the_same_order(both: dict[str, dict[str, Any]]) -> None:
    from sopengine.store import Store

    found = {}
    for engine, hist in both.items():
        with Store(hist["db"], readonly=True) as store:
            actor = store.tasks(hist["b"], ("open",))[0]["actor"]
        for person in ("Zainal", "Ani", "budi", "Ása"):  # not in the order of their names
            assign(hist["db"], hist["b"], actor, person, by="ani", now="2026-10-01T10:00")
        found[engine] = pg_support.rows(hist["db"], "SELECT task_id, assigned FROM audit_open_steps ORDER BY task_id")
    assert found["postgresql"] == found["sqlite"]
    assert "Ani, Zainal, budi, Ása" in {row[1] for row in found["postgresql"]}


# -- backup ----------------------------------------------------------------------------------------------


def test_backup_refuses_a_postgresql_database_and_names_what_to_use(pg_db: str, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    result = CliRunner().invoke(cli, ["--lang", "en", "--db", pg_db, "backup", str(target)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:")
    assert "pg_dump" in lines[0] and "sopengine db copy" in lines[0]
    assert "Traceback" not in result.output and not target.exists()


def test_no_password_of_the_address_is_shown(pg_db: str, tmp_path: Path) -> None:
    secret = pg_db.replace("postgresql://postgres@", "postgresql://postgres:rahasia-sekali@", 1)
    assert "rahasia-sekali" in secret
    try:
        code, result = verified(secret)
    except json.JSONDecodeError:
        pytest.skip("the server asks for a password that this address does not have")
    assert code == 0 and "rahasia-sekali" not in json.dumps(result)
    assert result["db"].startswith("postgresql://postgres:***@")
    refused = sop("--db", secret, "backup", str(tmp_path / "copy.db"))
    assert refused.exit_code == 1 and "rahasia-sekali" not in refused.output


def test_the_head_of_a_postgresql_database_is_the_same_computed_from_stored_hashes(both: dict[str, dict[str, Any]]) -> None:
    from sopengine.audit.verify import head

    stored = {engine: head(hist["db"]) for engine, hist in both.items()}
    assert stored["postgresql"] == stored["sqlite"]
    assert stored["postgresql"]["head"] == verified(both["postgresql"]["db"])[1]["head"]


def test_a_large_history_loads_into_postgresql(pg_db: str) -> None:
    """The benchmarks' loader writes prepared rows on PostgreSQL too; verify reads them back."""
    from sopengine.chain import GENESIS, canonical, event_hash
    from sopengine.store import Store
    from sopengine.store import audit as store_audit

    with Store(pg_db) as store:
        start_run("pengumpulan-data", db=store, period="2026-01", now="2026-01-05T08:00", by="ani")
        definition, = store.conn.execute("SELECT definition_hash FROM runs").fetchone()
        rows, events = [], []
        for n in itertools.count(1):
            if n > 3:
                break
            run_id = f"zz{n}-xyz"
            rows.append((run_id, "active", 1, None, "pengumpulan-data", definition, None, f"2025-0{n}", "{}", None,
                         "2025-01-01T00:00:00Z", "ani"))
            fields = {"run_id": run_id, "at": "2025-01-01T00:00:00Z", "recorded_at": "2025-01-01T00:00:00Z",
                      "person": "ani", "os_user": "ani", "kind": "note", "step_id": None,
                      "payload": canonical({"note": "x"}), "prev_hash": GENESIS}
            events.append((*fields.values(), event_hash(fields)))
        store_audit.load_history(store.conn, runs=rows, events=events)
        heads = dict(store.conn.execute("SELECT id, head FROM runs WHERE id LIKE 'zz%'").fetchall())
    assert heads == {r[0]: e[-1] for r, e in zip(rows, events)}
