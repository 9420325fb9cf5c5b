"""Format 2 in the engine: symbols as steps, returns to the symbol drawn, one due time per row,
undrawn exits, forks and joins, tables chosen by case data, and case state set by a row.

Runs a small SOP written for these tests (tests/data/format2/rantai-persetujuan.yaml) with
the CLI, through click's CliRunner and, for the key flow, as a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from pg_support import connect
from sopengine.cli import cli

DEFS = Path(__file__).resolve().parent / "data" / "format2"
SOP = "rantai-persetujuan"
MON = "2026-12-07T09:00"  # a Monday


def sop(db: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--db", str(db), "--definitions", str(DEFS), "--by", "Tester", *args],
                                catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def as_json(db: Path, *args: str) -> Any:
    return json.loads(sop(db, *args, "--json").stdout)


def start(db: Path, jenis: str = "biasa", now: str = MON, *extra: str) -> str:
    return as_json(db, "run", SOP, "--set", f"jenis={jenis}", "--now", now, *extra)["run_id"]


def status(db: Path, run: str, now: str | None = None) -> dict[str, Any]:
    return as_json(db, "status", run, *(["--now", now] if now else []))


def events(db: Path, run: str) -> list[dict[str, Any]]:
    conn = connect(db)
    try:
        rows = conn.execute("SELECT kind, step_id, payload FROM events WHERE run_id = ? ORDER BY seq", (run,)).fetchall()
    finally:
        conn.close()
    return [{"kind": k, "step": s, "payload": json.loads(p)} for k, s, p in rows]


def open_steps(db: Path, run: str) -> list[tuple[str, str | None, str | None]]:
    return [(s["step"], s["no"], s["state"]) for s in status(db, run)["open_steps"]]


def test_show_json_lists_a_row_of_three_diamonds_in_three_lanes(tmp_path: Path) -> None:
    data = as_json(tmp_path / "x.db", "show", SOP)
    assert data["id"] == SOP and data["format"] == 2
    first = data["tables"][0]
    assert first["id"] == "biasa" and first["title"] == "Surat Biasa"
    assert [lane["id"] for lane in first["lanes"]] == ["staf", "kabid", "sekretaris", "kasat"]
    row = next(r for r in first["rows"] if r["no"] == "2")
    diamonds = [(s["id"], s["kind"], s["lane"]) for s in row["symbols"] if s["kind"] == "decision"]
    assert diamonds == [("periksa-kabid", "decision", "kabid"), ("periksa-sekretaris", "decision", "sekretaris"),
                        ("periksa-kasat", "decision", "kasat")]
    assert row["symbols"][2]["text"] == "Setuju?"
    assert [lane["id"] for lane in data["tables"][1]["lanes"]] == ["staf", "kasat"]


def test_the_kasats_rejection_goes_back_to_the_sekretaris_diamond_within_the_rows_due_time(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start(db)
    st = status(db, run)
    assert st["table"] == "biasa" and st["table_title"] == "Surat Biasa"
    # the start terminator only marks the flow: the row's work is the staff's box
    assert open_steps(db, run) == [("susun", "1", "open")]
    sop(db, "complete", run, "--step", "1", "--now", "2026-12-07T09:30")
    assert open_steps(db, run) == [("periksa-kabid", "2", "open")]
    row_due = status(db, run)["open_steps"][0]["due_at"]
    assert row_due == "2026-12-08T02:30:00Z"  # 1 hari (working day) from 09:30 WIB
    sop(db, "decide", run, "Ya", "--step", "2", "--now", "2026-12-07T10:00")
    sop(db, "decide", run, "Ya", "--step", "periksa-sekretaris", "--now", "2026-12-07T11:00")
    assert open_steps(db, run) == [("periksa-kasat", "2", "open")]
    sop(db, "decide", run, "Tidak", "--step", "periksa-kasat", "--now", "2026-12-07T13:00")
    st = status(db, run)
    assert [(s["step"], s["actor"]) for s in st["open_steps"]] == [("periksa-sekretaris", "sekretaris")]
    # every symbol of the row keeps the row's one due time
    assert {t["due_at"] for t in st["timeline"] if t["no"] == "2"} == {row_due}
    visits = [t["iteration"] for t in st["timeline"] if t["step"] == "periksa-sekretaris"]
    assert visits == [1, 2]


def test_a_row_number_whose_symbol_waits_at_a_join_says_so(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start(db, "paket")
    sop(db, "complete", run, "--step", "1", "--now", "2026-12-07T09:10")
    sop(db, "decide", run, "Ya", "--step", "2", "--now", "2026-12-07T09:20")
    # the forking Ya opens the hand-over and leaves the payment waiting for it
    assert open_steps(db, run) == [("p-serahkan", "3", "open"), ("p-bayar", "4", "waiting")]
    result = sop(db, "complete", run, "--step", "4", "--now", "2026-12-07T09:30", code=1)
    assert "Error: step p-bayar (no. 4)" in result.output and "waits for the other branches" in result.output


def test_forking_outcome_takes_both_branches_and_their_join(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start(db, "paket")
    assert status(db, run)["table"] == "paket"
    sop(db, "complete", run, "--step", "p-siapkan", "--now", "2026-12-07T09:10")
    sop(db, "decide", run, "Tidak", "--step", "2", "--now", "2026-12-07T09:20")  # back to the preparation
    sop(db, "complete", run, "--step", "1", "--now", "2026-12-07T09:40")
    sop(db, "decide", run, "Ya", "--step", "2", "--now", "2026-12-07T09:50")
    decided = [e for e in events(db, run) if e["kind"] == "decided"][-1]
    assert decided["payload"]["next"] == "p-serahkan" and decided["payload"]["forks"] == ["p-bayar"]
    sop(db, "complete", run, "--step", "p-serahkan", "--now", "2026-12-07T10:00")
    assert open_steps(db, run) == [("p-bayar", "4", "open")]
    assert [e["kind"] for e in events(db, run)][-1] == "joined"
    sop(db, "complete", run, "--step", "4", "--now", "2026-12-07T11:00")
    st = status(db, run)
    assert st["status"] == "completed" and st["open_steps"] == []
    assert sop(db, "audit", "verify").exit_code == 0


def test_an_undrawn_exit_ends_the_run_and_says_so(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start(db)
    sop(db, "complete", run, "--now", "2026-12-07T09:30", "--step", "susun")
    result = sop(db, "decide", run, "Tidak", "--step", "periksa-kabid", "--now", "2026-12-07T10:00")
    assert "completed" in result.output or "Run" in result.output
    kinds = events(db, run)
    decided = next(e for e in kinds if e["kind"] == "decided")
    assert decided["payload"]["outcome"] == "Tidak" and decided["payload"]["undrawn"] is True
    done = kinds[-1]
    assert done["kind"] == "run_completed"
    assert done["payload"]["ended_by"] == {"step": "periksa-kabid", "outcome": "Tidak", "undrawn": True}
    st = status(db, run)
    assert st["status"] == "completed" and st["ended_by"]["outcome"] == "Tidak"
    history = json.loads(sop(db, "history", "--run", run, "--json").stdout)
    assert any(e.get("payload", e).get("undrawn") or "undrawn" in json.dumps(e) for e in history)


def test_a_row_sets_case_state_when_it_is_done(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start(db)
    assert status(db, run)["state"] == {"status_surat": "belum efektif"}
    sop(db, "complete", run, "--step", "susun", "--now", "2026-12-07T09:30")
    for step in ("periksa-kabid", "periksa-sekretaris", "periksa-kasat"):
        sop(db, "decide", run, "Ya", "--step", step, "--now", "2026-12-07T10:00")
    # through the off-page connector pair into row 3's terminator, which carries the row's work
    assert open_steps(db, run) == [("kirim", "3", "open")]
    assert status(db, run)["state"] == {"status_surat": "belum efektif"}
    sop(db, "complete", run, "--step", "3", "--now", "2026-12-07T10:10")
    st = status(db, run)
    assert st["status"] == "completed" and st["state"] == {"status_surat": "berlaku efektif"}
    completed = [e for e in events(db, run) if e["kind"] == "step_completed" and e["step"] == "kirim"]
    assert completed[0]["payload"]["state"] == {"status_surat": "berlaku efektif"}


def test_the_table_follows_the_case_data_or_the_persons_choice(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    result = sop(db, "run", SOP, "--set", "jenis=paket", "--table", "biasa", "--now", MON, code=1)
    assert "Error: table biasa is not for this case" in result.output
    result = sop(db, "run", SOP, "--set", "jenis=paket", "--table", "lain", "--now", MON, code=1)
    assert "has no table 'lain'" in result.output and "biasa (Surat Biasa)" in result.output
    run = start(db, "paket", MON, "--table", "Surat Paket")
    assert status(db, run)["table"] == "paket"
    listed = as_json(db, "status")
    assert [r["table"] for r in listed if r["run_id"] == run] == ["paket"]


def test_overdue_and_the_monitoring_form_judge_a_row_of_three_lanes_against_its_printed_waktu(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start(db)
    sop(db, "complete", run, "--step", "susun", "--now", "2026-12-07T09:30")
    # each lane takes a while; none alone is late, the row as a whole is (1 hari from 09:30 Monday)
    sop(db, "decide", run, "Ya", "--step", "periksa-kabid", "--now", "2026-12-07T14:00")
    sop(db, "decide", run, "Ya", "--step", "periksa-sekretaris", "--now", "2026-12-08T09:00")
    late = as_json(db, "overdue", "--now", "2026-12-08T11:00")
    steps = late["steps"] if isinstance(late, dict) else late
    mine = [s for s in steps if s.get("run_id") == run]
    assert [(s["step"], s["no"], s["waktu"]) for s in mine] == [("periksa-kasat", "2", "1 hari")]
    sop(db, "decide", run, "Ya", "--step", "periksa-kasat", "--now", "2026-12-08T13:00")
    sop(db, "complete", run, "--step", "kirim", "--now", "2026-12-08T13:10")
    forms = as_json(db, "report", "--monitoring", "--definition", SOP, "--now", "2026-12-09T09:00")
    rows = forms[0]["rows"] if isinstance(forms, list) else forms["forms"][0]["rows"]
    row2 = [r for r in rows if r["no"] == "2"]
    assert len(row2) == 1, "one row of the monitoring form for the printed row, not one per lane"
    ev = row2[0]["evidence"]
    assert ev["waktu"] == "1 hari" and ev["visits"] == 1 and ev["late"] == 1
    assert ev["standard_seconds"] == 8 * 3600 or ev["standard_seconds"] > 0


def test_the_key_flow_as_a_real_process(db_location: str | Path, tmp_path: Path) -> None:
    env = {**os.environ, "SOPENGINE_DB": str(db_location), "SOPENGINE_DEFINITIONS": str(DEFS), "SOPENGINE_USER": "Tester"}

    def run_(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sopengine", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    started = run_("run", SOP, "--set", "jenis=biasa", "--now", MON, "--json")
    assert started.returncode == 0, started.stderr
    run = json.loads(started.stdout)["run_id"]
    assert run_("complete", run, "--step", "1", "--now", "2026-12-07T09:30").returncode == 0
    wrong = run_("decide", run, "Mungkin", "--step", "2", "--now", "2026-12-07T09:40")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert wrong.stderr.startswith("Error: ") and "Ya, Tidak" in wrong.stderr
    assert run_("decide", run, "Tidak", "--step", "2", "--now", "2026-12-07T09:40").returncode == 0
    st = json.loads(run_("status", run, "--json").stdout)
    assert st["status"] == "completed" and st["ended_by"]["undrawn"] is True


def test_overdue_and_report_name_the_table_a_run_follows(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start(db, "paket")
    late = as_json(db, "overdue", "--now", "2026-12-08T09:00")
    steps = late["steps"] if isinstance(late, dict) else late
    assert [(s["step"], s["table"]) for s in steps if s.get("run_id") == run and s["kind"] == "step"] == [("p-siapkan", "paket")]
    data = as_json(db, "report", "--run", run, "--now", "2026-12-08T09:00")
    assert data["runs"][0]["table"] == "paket"
    assert {s["table"] for s in data["runs"][0]["steps"]} == {"paket"}


def test_status_in_words_names_the_table_the_state_and_an_undrawn_end(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start(db)
    sop(db, "complete", run, "--step", "susun", "--now", "2026-12-07T09:30")
    sop(db, "decide", run, "Tidak", "--step", "periksa-kabid", "--now", "2026-12-07T10:00")
    out = CliRunner().invoke(cli, ["--db", str(db), "--definitions", str(DEFS), "status", run], env={"COLUMNS": "200"}).output
    assert "Table: Surat Biasa (biasa)" in out
    assert "State: status_surat: belum efektif" in out
    assert "Ended at periksa-kabid by the exit Tidak, which the SOP does not draw" in out


def test_a_handover_is_checked_against_known_definitions_and_shown_when_reached(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    checked = as_json(db, "validate", str(DEFS / f"{SOP}.yaml"))
    assert checked[0]["valid"] and checked[0]["problems"] == []  # surat-keluar is shipped
    other = tmp_path / f"{SOP}.yaml"
    other.write_text((DEFS / f"{SOP}.yaml").read_text(encoding="utf-8").replace("sop: surat-keluar", "sop: surat-kluar"), encoding="utf-8")
    [found] = as_json(db, "validate", str(other))
    assert found["valid"] is True
    assert [(p["severity"], p["field"]) for p in found["problems"]] == [("warning", "tables[1].rows[3].handover.sop")]
    assert "no definition 'surat-kluar' is known" in found["problems"][0]["message"]
    run = start(db)
    sop(db, "complete", run, "--step", "susun", "--now", "2026-12-07T09:30")
    for step in ("periksa-kabid", "periksa-sekretaris"):
        sop(db, "decide", run, "Ya", "--step", step, "--now", "2026-12-07T10:00")
    out = sop(db, "decide", run, "Ya", "--step", "periksa-kasat", "--now", "2026-12-07T10:00").output
    assert "Hand-over: surat-keluar — surat dicatat sebagai surat keluar" in out
    assert status(db, run)["open_steps"][0]["handover"] == {"sop": "surat-keluar", "note": "surat dicatat sebagai surat keluar"}


def test_case_state_is_not_set_on_a_return_or_an_undrawn_exit(db_location: str | Path, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    text = (DEFS / f"{SOP}.yaml").read_text(encoding="utf-8")
    # the diamonds' row changes the state: only the Kasat's Ya takes the work on past the row
    text = text.replace("        waktu: 1 hari\n        output: [Surat]\n", "        waktu: 1 hari\n        output: [Surat]\n        sets: {status_surat: berlaku efektif}\n")
    (defs / f"{SOP}.yaml").write_text(text, encoding="utf-8")
    db = db_location

    def cli_(*args: str) -> Result:
        result = CliRunner().invoke(cli, ["--db", str(db), "--definitions", str(defs), "--by", "T", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    def state(run: str) -> dict[str, Any]:
        return json.loads(cli_("status", run, "--json").stdout)["state"]

    run = json.loads(cli_("run", SOP, "--set", "jenis=biasa", "--now", MON, "--json").stdout)["run_id"]
    cli_("complete", run, "--step", "susun", "--now", MON)
    cli_("decide", run, "Ya", "--step", "periksa-kabid", "--now", MON)
    cli_("decide", run, "Ya", "--step", "periksa-sekretaris", "--now", MON)
    cli_("decide", run, "Tidak", "--step", "periksa-kasat", "--now", MON)  # a return inside the row
    assert state(run) == {"status_surat": "belum efektif"}
    cli_("decide", run, "Ya", "--step", "periksa-sekretaris", "--now", MON)
    cli_("decide", run, "Ya", "--step", "periksa-kasat", "--now", MON)
    assert state(run) == {"status_surat": "berlaku efektif"}
    other = json.loads(cli_("run", SOP, "--set", "jenis=biasa", "--now", MON, "--json", "--allow-duplicate").stdout)["run_id"]
    cli_("complete", other, "--step", "susun", "--now", MON)
    cli_("decide", other, "Tidak", "--step", "periksa-kabid", "--now", MON)  # the exit the paper does not draw
    assert state(other) == {"status_surat": "belum efektif"}


def test_a_row_number_is_read_in_the_runs_own_table(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start(db, "paket")
    # row 3 of the other table is no step of this run; its own row 3 is not open yet
    result = sop(db, "complete", run, "--step", "3", "--now", MON, code=1)
    assert "p-serahkan (no. 3)" in result.output and "kirim" not in result.output
