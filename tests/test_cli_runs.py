"""The run commands on the command line: options, environment, JSON contract, people.

Through click's CliRunner (``catch_exceptions=False``, so that a traceback fails the test)
and, where the process boundary matters (environment, files created), real processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import pg_support
from pg_support import connect
from sopengine.cli import cli

PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def ok(*args: str, env: dict[str, str] | None = None) -> Result:
    result = invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    return result


def start(db: Path, *args: str) -> str:
    return json.loads(ok("--db", str(db), "--now", NOW, "run", *args, "--json").stdout)["run_id"]


def sop(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sopengine", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def events(db: Path, kind: str | None = None) -> list[dict[str, Any]]:
    con = connect(db)
    try:
        cur = con.execute("SELECT * FROM events" + (" WHERE kind = ?" if kind else "") + " ORDER BY seq", (kind,) if kind else ())
        cols = [c[0] for c in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
    for r in rows:
        r["payload"] = json.loads(r["payload"])
    return rows


# -- options in either place, and from the environment ---------------------------------------------------

def test_global_options_before_and_after_the_command_name(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    before = ok("--db", str(db), "--now", NOW, "--by", "Agus", "run", "pengumpulan-data", "--period", "2026-10", "--json")
    run_id = json.loads(before.stdout)["run_id"]
    after = ok("run", "pengumpulan-data", "--period", "2026-11", "--json", "--db", str(db), "--now", NOW, "--by", "Agus")
    assert json.loads(after.stdout)["db"] == str(db)
    assert json.loads(ok("--db", str(db), "status", "--json").stdout) == json.loads(ok("status", "--db", str(db), "--json").stdout)
    ok("complete", run_id, "--step", "1", "--db", str(db), "--by", "Sari", "--now", "2026-10-01T10:00")
    ok("--db", str(db), "--by", "Dedi", "--now", "2026-10-01T11:00", "complete", run_id, "--step", "2")
    # given in both places, the value after the command name wins
    ok("--db", str(tmp_path / "lain.db"), "--by", "Salah", "complete", run_id, "--step", "3", "--db", str(db), "--by", "Benar", "--now", "2026-10-01T12:00")
    assert not (tmp_path / "lain.db").exists()
    done = [(e["step_id"], e["person"], e["at"]) for e in events(db, "step_completed")]
    assert done == [("kumpulkan-data", "Sari", "2026-10-01T03:00:00Z"), ("rekap-laporan", "Dedi", "2026-10-01T04:00:00Z"),
                    ("olah-data", "Benar", "2026-10-01T05:00:00Z")]
    assert [e["person"] for e in events(db, "run_started")] == ["Agus", "Agus"]


def test_environment_variables(db_location: str | Path) -> None:
    env = {"SOPENGINE_DB": str(db_location), "SOPENGINE_USER": "Rina Petugas", "SOPENGINE_NOW": "2026-10-05T13:30"}
    run_id = json.loads(ok("run", "surat-keluar", "--json", env=env).stdout)["run_id"]
    assert not pg_support.holds_no_runs(db_location)  # the run went where the variable says
    ok("complete", run_id, "--step", "1", env=env)
    # an option still beats its variable
    ok("complete", run_id, "--step", "2", "--by", "Hendra", "--now", "2026-10-05T14:00", env=env)
    started, first, second = events(db_location)
    assert (started["person"], started["at"]) == ("Rina Petugas", "2026-10-05T06:30:00Z")
    assert (first["person"], first["at"]) == ("Rina Petugas", "2026-10-05T06:30:00Z")
    assert (second["person"], second["at"]) == ("Hendra", "2026-10-05T07:00:00Z")


def test_environment_variables_in_a_real_process(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "SOPENGINE_DB": "kantor.db", "SOPENGINE_USER": "Wati", "SOPENGINE_NOW": "2026-10-05T08:00"}
    started = sop("run", "pengumpulan-data", "--period", "2026-10", "--json", cwd=tmp_path, env=env)
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    assert json.loads(started.stdout)["started_at"] == "2026-10-05T01:00:00Z"
    done = sop("complete", run_id, "--step", "1", "--json", cwd=tmp_path, env=env)
    assert json.loads(done.stdout) | {} == {"run_id": run_id, "status": "active", "opened": ["rekap-laporan"],
                                             "step": "kumpulkan-data", "completed_by": "Wati", "at": "2026-10-05T01:00:00Z"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kantor.db"]


# -- starting runs -----------------------------------------------------------------------------------------

def test_run_if_missing_exits_0_twice_and_starts_one_run(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    first = ok("--db", str(db), "run", "pengumpulan-data", "--period", "2026-10", "--if-missing", "--json")
    run_id = json.loads(first.stdout)["run_id"]
    second = ok("--db", str(db), "run", "pengumpulan-data", "--period", "2026-10", "--if-missing", "--json")
    assert json.loads(second.stdout)["run_id"] == run_id and json.loads(second.stdout)["existing"] is True
    assert f"Run {run_id} already exists for 2026-10; nothing started." in second.stderr
    third = ok("--db", str(db), "run", "pengumpulan-data", "--period", "2026-10", "--if-missing")
    assert third.stdout == ""
    # a completed run counts too: the period's work is done
    for n in range(1, 6):
        ok("--db", str(db), "complete", run_id, "--step", str(n))
    ok("--db", str(db), "run", "pengumpulan-data", "--period", "2026-10", "--if-missing")
    assert len(events(db, "run_started")) == 1
    # a cancelled one does not
    ok("--db", str(db), "run", "pengumpulan-data", "--period", "2026-11", "--if-missing")
    other = json.loads(ok("--db", str(db), "status", "--json").stdout)[0]["run_id"]
    ok("--db", str(db), "cancel", other, "--reason", "salah periode")
    again = ok("--db", str(db), "run", "pengumpulan-data", "--period", "2026-11", "--if-missing", "--json")
    assert json.loads(again.stdout)["existing"] is False


def test_allow_duplicate_starts_a_second_active_run(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    first = start(db, "pengumpulan-data", "--period", "2026-10")
    refused = invoke("--db", str(db), "run", "pengumpulan-data", "--period", "2026-10")
    assert refused.exit_code == 1 and f"run {first} of pengumpulan-data for 2026-10 is still active" in refused.stderr
    second = start(db, "pengumpulan-data", "--period", "2026-10", "--allow-duplicate")
    assert second != first
    listed = json.loads(ok("--db", str(db), "status", "--json").stdout)
    assert sorted(r["run_id"] for r in listed) == sorted([first, second])
    assert {r["period"] for r in listed} == {"2026-10"}


# -- the JSON contract -------------------------------------------------------------------------------------

def test_status_json_contract(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    started = json.loads(ok("--db", str(db), "--now", NOW, "run", "surat-keluar", "--json").stdout)
    assert {"run_id", "definition", "period", "status", "open_steps"} <= set(started)
    run_id = started["run_id"]
    for n in (1, 2):
        ok("--db", str(db), "--now", NOW, "complete", run_id, "--step", str(n))
    status = json.loads(ok("--db", str(db), "--now", NOW, "status", run_id, "--json").stdout)
    assert {"run_id", "definition", "period", "status", "open_steps"} <= set(status)
    assert (status["run_id"], status["definition"], status["period"], status["status"]) == (run_id, "surat-keluar", None, "active")
    (step,) = status["open_steps"]
    assert {"step", "kind", "actor", "actor_name", "due_at", "outcomes"} <= set(step)
    assert (step["step"], step["kind"], step["actor"], step["actor_name"]) == ("periksa-kasubag", "decision", "kasubag-umpar", "Kasubag Umpar")
    assert step["outcomes"] == ["Ya", "Tidak"]
    assert step["due_at"] == "2026-10-01T02:30:00Z"  # UTC with Z: 09:00 WIB plus 30 minutes
    ok("--db", str(db), "--now", NOW, "decide", run_id, "Ya", "--step", "3")
    process = json.loads(ok("--db", str(db), "status", run_id, "--json").stdout)["open_steps"][0]
    assert process["kind"] == "decision" and process["step"] == "periksa-sekretaris"

    ok("--db", str(db), "cancel", run_id, "--reason", "tidak jadi")
    assert json.loads(ok("--db", str(db), "status", run_id, "--json").stdout)["status"] == "cancelled"
    other = start(db, "pengumpulan-data", "--period", "2026-10")
    for n in range(1, 6):
        ok("--db", str(db), "complete", other, "--step", str(n))
    final = json.loads(ok("--db", str(db), "status", other, "--json").stdout)
    assert (final["status"], final["open_steps"]) == ("completed", [])
    listed = json.loads(ok("--db", str(db), "status", "--all", "--json").stdout)
    assert {r["run_id"]: r["status"] for r in listed} == {run_id: "cancelled", other: "completed"}
    assert all({"run_id", "definition", "period", "status", "open_steps"} <= set(r) for r in listed)


def test_json_goes_to_stdout_alone(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    result = ok("--db", str(db), "run", "pengumpulan-data", "--period", "2026-10", "--json")
    json.loads(result.stdout)
    assert result.stderr == ""
    again = ok("--db", str(db), "run", "pengumpulan-data", "--period", "2026-10", "--if-missing", "--json")
    json.loads(again.stdout)
    assert "already exists" in again.stderr


# -- read commands never create a database -------------------------------------------------------------------

@pytest.mark.sqlite_only  # a file that is not there; a PostgreSQL database is made by its server, never by sopengine
@pytest.mark.parametrize("command", [["status"], ["status", "abc-def"], ["status", "--all", "--json"], ["inbox", "--person", "Agus"]])
def test_read_commands_never_create_a_database(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "tidak-ada.db"
    result = invoke("--db", str(db), *command)
    assert result.exit_code == 1
    assert result.stderr == f"Error: no database at {db}; start a run with 'sopengine run ID' or pass --db PATH\n"
    proc = sop(*command, cwd=tmp_path)  # the default database in the current folder
    assert proc.returncode == 1
    assert proc.stderr == "Error: no database at sopengine.db; start a run with 'sopengine run ID' or pass --db PATH\n"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def empty_pg(pg_server: pg_support.PgServer) -> Iterator[str]:
    """A PostgreSQL database with nothing in it (copied from the server's template0)."""
    name, url = pg_server.create(template="template0")
    try:
        yield url
    finally:
        pg_server.drop(name)


@pytest.mark.postgresql
@pytest.mark.parametrize("command", [["status"], ["status", "abc-def"], ["status", "--all", "--json"], ["inbox", "--person", "Agus"],
                                     ["overdue"], ["report", "--json"]])
def test_read_commands_never_prepare_an_empty_postgresql_database(empty_pg: str, command: list[str]) -> None:
    result = invoke("--db", empty_pg, *command)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {empty_pg} holds no sopengine data; pass the right --db\n"
    assert pg_support.rows(empty_pg, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()") == []


@pytest.mark.postgresql
@pytest.mark.parametrize("command", [["complete", "abc-def", "--step", "1"], ["decide", "abc-def", "Ya", "--step", "1"],
                                     ["reopen", "abc-def", "1", "--reason", "salah"], ["assign", "abc-def", "pelaksana", "Agus"],
                                     ["cancel", "abc-def", "--reason", "ganda"]])
def test_a_step_naming_an_empty_postgresql_database_does_not_prepare_it(empty_pg: str, command: list[str]) -> None:
    result = invoke("--db", empty_pg, "--by", "Agus", *command)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {empty_pg} holds no sopengine data; pass the right --db\n"
    assert pg_support.rows(empty_pg, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()") == []


@pytest.mark.postgresql
def test_another_programs_postgresql_database_is_refused_untouched(empty_pg: str) -> None:
    con = pg_support.connect(empty_pg)
    con.execute("CREATE TABLE pelanggan (id BIGINT PRIMARY KEY, nama TEXT)")
    con.execute("INSERT INTO pelanggan VALUES (1, 'Budi')")
    con.close()
    for command in (["run", "pengumpulan-data", "--period", "2026-10"], ["status"]):
        result = invoke("--db", empty_pg, *command)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
        assert "not a sopengine database" in result.stderr or "holds no sopengine data" in result.stderr, result.stderr
    assert pg_support.rows(empty_pg, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()") == [("pelanggan",)]
    assert pg_support.rows(empty_pg, "SELECT * FROM pelanggan") == [(1, "Budi")]


# -- people: assignments, acting officials, external actors, inboxes ------------------------------------------

def test_assign_acting_and_remove(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = start(db, "pengumpulan-data", "--period", "2026-10")
    said = ok("--db", str(db), "assign", run_id, "sekretaris-dinas", "Budi Hartono", "--acting")
    assert said.stdout == f"Assigned Budi Hartono to sekretaris-dinas in run {run_id} (acting, Plt.).\n"
    ok("--db", str(db), "assign", run_id, "Sekretaris Dinas", "Agus Supriyadi")  # by the role's name too
    status = json.loads(ok("--db", str(db), "status", run_id, "--json").stdout)
    assert sorted((a["role"], a["person"], a["acting"]) for a in status["assignments"]) == [
        ("sekretaris-dinas", "Agus Supriyadi", False), ("sekretaris-dinas", "Budi Hartono", True)]
    shown = ok("--db", str(db), "status", run_id)
    assert "sekretaris-dinas: Budi Hartono (Plt.)" in shown.stdout

    refused = invoke("--db", str(db), "complete", run_id, "--step", "1", "--by", "Sari")
    assert refused.exit_code == 1 and "assigned: Agus Supriyadi, Budi Hartono" in refused.stderr
    removed = ok("--db", str(db), "assign", run_id, "sekretaris-dinas", "budi hartono", "--remove")
    assert removed.stdout == f"Removed Budi Hartono from sekretaris-dinas in run {run_id}.\n"
    refused = invoke("--db", str(db), "complete", run_id, "--step", "1", "--by", "Budi Hartono")
    assert refused.exit_code == 1 and "Budi Hartono is not assigned to Sekretaris Dinas" in refused.stderr
    ok("--db", str(db), "complete", run_id, "--step", "1", "--by", "AGUS SUPRIYADI")  # names compare without case
    ok("--db", str(db), "assign", run_id, "sekretaris-dinas", "Agus Supriyadi", "--remove")
    assert json.loads(ok("--db", str(db), "status", run_id, "--json").stdout)["assignments"] == []
    kinds = [(e["kind"], e["payload"]) for e in events(db) if e["kind"] in ("assigned", "unassigned")]
    assert kinds == [
        ("assigned", {"role": "sekretaris-dinas", "person": "Budi Hartono", "acting": True, "via": "cli", "auth": "as-typed"}),
        ("assigned", {"role": "sekretaris-dinas", "person": "Agus Supriyadi", "acting": False, "via": "cli", "auth": "as-typed"}),
        ("unassigned", {"role": "sekretaris-dinas", "person": "Budi Hartono", "via": "cli", "auth": "as-typed"}),
        ("unassigned", {"role": "sekretaris-dinas", "person": "Agus Supriyadi", "via": "cli", "auth": "as-typed"}),
    ]


def test_an_external_actors_step_recorded_by_staff_names_both(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = start(db, "permohonan-informasi-publik")
    shown = ok("--db", str(db), "status", run_id)
    assert "Pengguna Layanan" in shown.stdout
    ok("--db", str(db), "--now", NOW, "complete", run_id, "--step", "1", "--by", "Rina Petugas", "--on-behalf", "Budi Santoso")
    ok("--db", str(db), "--now", NOW, "decide", run_id, "TIDAK", "--step", "2", "--by", "Rina Petugas", "--note", "KTP tidak terbaca")
    ok("--db", str(db), "--now", NOW, "complete", run_id, "--step", "1", "--by", "Rina Petugas")  # the citizen's name not given
    first, second = [e for e in events(db, "step_completed") if e["step_id"] == "ajukan-permohonan"]
    assert (first["person"], first["payload"]["on_behalf_of"]) == ("Rina Petugas", "Budi Santoso")
    assert (second["person"], second["payload"]["on_behalf_of"]) == ("Rina Petugas", "Pengguna Layanan")
    shown = ok("--db", str(db), "status", run_id, env={"COLUMNS": "400"})  # wide enough that no cell wraps
    assert "Rina Petugas for Budi Santoso" in shown.stdout
    timeline = json.loads(ok("--db", str(db), "status", run_id, "--json").stdout)["timeline"]
    assert [(t["closed_by"], t["on_behalf_of"]) for t in timeline if t["step"] == "ajukan-permohonan"] == [
        ("Rina Petugas", "Budi Santoso"), ("Rina Petugas", "Pengguna Layanan")]
    # an internal actor's step carries no on_behalf_of unless one is given
    ok("--db", str(db), "--now", NOW, "decide", run_id, "YA", "--step", "2", "--by", "Rina Petugas")
    decided = events(db, "decided")[-1]
    assert "on_behalf_of" not in decided["payload"]


def test_inbox_lists_steps_through_assignments_oldest_first(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    late = json.loads(ok("--db", str(db), "--now", "2026-10-01T09:00", "run", "pengumpulan-data", "--period", "2026-10",
                         "--assign", "sekretaris-dinas=Agus Supriyadi", "--json").stdout)["run_id"]
    early = json.loads(ok("--db", str(db), "--now", "2026-09-29T09:00", "run", "surat-keluar",
                          "--assign", "kasubag-umpar=Agus Supriyadi", "--json").stdout)["run_id"]
    middle = json.loads(ok("--db", str(db), "--now", "2026-09-30T09:00", "run", "pengumpulan-data", "--period", "2026-11",
                           "--json").stdout)["run_id"]
    ok("--db", str(db), "assign", middle, "sekretaris-dinas", "Agus Supriyadi", "--acting")
    # someone else's run: same role, not assigned to Agus
    ok("--db", str(db), "--now", "2026-09-28T09:00", "run", "pengumpulan-data", "--period", "2026-12",
       "--assign", "sekretaris-dinas=Siti Rahma")

    rows = json.loads(ok("--db", str(db), "--now", "2026-10-01T10:00", "inbox", "--person", "agus supriyadi", "--json").stdout)
    assert [(r["run_id"], r["step"]) for r in rows] == [(early, "konsep-surat"), (middle, "kumpulkan-data"), (late, "kumpulkan-data")]
    assert [r["opened_at"] for r in rows] == sorted(r["opened_at"] for r in rows)
    assert all(r["late_by"] > 0 for r in rows)  # 15 and 30 minute steps, the last opened an hour ago
    # the person defaults to --by
    assert json.loads(ok("--db", str(db), "--by", "Agus Supriyadi", "inbox", "--json").stdout) == json.loads(
        ok("--db", str(db), "inbox", "--person", "Agus Supriyadi", "--json").stdout)
    by_role = json.loads(ok("--db", str(db), "inbox", "--actor", "sekretaris-dinas", "--json").stdout)
    assert len(by_role) == 3
    shown = ok("--db", str(db), "--now", "2026-10-01T10:00", "inbox", "--person", "Agus Supriyadi")
    assert "OVERDUE" in shown.stdout and "Mengonsep surat" in shown.stdout
    # a completed step leaves the inbox
    ok("--db", str(db), "complete", early, "--step", "1", "--by", "Agus Supriyadi")
    rows = json.loads(ok("--db", str(db), "inbox", "--person", "Agus Supriyadi", "--json").stdout)
    assert [r["run_id"] for r in rows] == [middle, late]
    nothing = ok("--db", str(db), "inbox", "--person", "Orang Lain")
    assert nothing.stderr == "Nothing waiting for Orang Lain.\n"


def test_automatic_decisions_are_decided_events(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = start(db, "pengumpulan-data", "--period", "2026-06")
    for n in range(1, 9):
        ok("--db", str(db), "--now", NOW, "complete", run_id, "--step", str(n), "--by", "Sari")
    decided = events(db, "decided")
    assert [(e["step_id"], e["person"], e["payload"]["automatic"], e["payload"]["outcome"], e["payload"]["triggered_by"])
            for e in decided] == [("akhir-semester", "sopengine", True, "Ya", "Sari"), ("akhir-tahun", "sopengine", True, "Tidak", "Sari")]
    status = json.loads(ok("--db", str(db), "status", run_id, "--json").stdout)
    assert status["status"] == "completed"
    refused = invoke("--db", str(db), "decide", run_id, "Ya")
    assert refused.exit_code == 1 and f"run {run_id} is completed" in refused.stderr


def test_decide_takes_outcome_names_in_any_case_and_the_step_by_number(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = start(db, "surat-keluar")
    ok("--db", str(db), "complete", run_id, "--step", "1")
    ok("--db", str(db), "complete", run_id, "--step", "ketik-konsep")
    said = ok("--db", str(db), "decide", run_id, "tidak", "--step", "3", "--note", "Nomor surat salah", "--by", "Hendra")
    assert said.stdout.startswith(f"Decided Tidak at periksa-kasubag of run {run_id} (Hendra).\n")
    assert "Open:     2. Mengetik konsep surat" in said.stdout
    (decided,) = events(db, "decided")
    assert decided["payload"] == {"outcome": "Tidak", "iteration": 1, "actor": "kasubag-umpar", "next": "ketik-konsep",
                                  "note": "Nomor surat salah", "via": "cli", "auth": "as-typed"}


def test_assigning_a_name_again_in_another_case_is_the_same_assignee(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = start(db, "pengumpulan-data", "--period", "2026-10", "--assign", "sekretaris-dinas=Agus Supriyadi")
    said = ok("--db", str(db), "assign", run_id, "sekretaris-dinas", "AGUS SUPRIYADI", "--acting")
    assert said.stdout == f"Assigned Agus Supriyadi to sekretaris-dinas in run {run_id} (acting, Plt.).\n"
    status = json.loads(ok("--db", str(db), "status", run_id, "--json").stdout)
    assert [(a["person"], a["acting"]) for a in status["assignments"]] == [("Agus Supriyadi", True)]
    # removed once, gone: nobody is left assigned, so anyone may act again
    ok("--db", str(db), "assign", run_id, "sekretaris-dinas", "agus supriyadi", "--remove")
    assert json.loads(ok("--db", str(db), "status", run_id, "--json").stdout)["assignments"] == []
    ok("--db", str(db), "complete", run_id, "--step", "1", "--by", "Sari")
