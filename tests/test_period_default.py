"""Nothing silently skipped: a periodic SOP's run always has a period, and an automatic
decision whose fact is missing stops for a person instead of falling to an outcome.

``pengumpulan-data`` is periodic: its gates read ``period.ends_semester`` and
``period.ends_year``. Started without ``--period`` (the README's first command) it runs for
the current month of the office calendar, in the SOP's time zone, and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pg_support import connect, holds_no_runs
from sopengine import api, runs
from sopengine.cli import cli
from sopengine.errors import InputError
from sopengine.runs import current_period, period_facts_read

ENGINE_DEFS = Path(__file__).resolve().parent / "data" / "engine"
DECEMBER = "2026-12-07T09:00"


def sop(cwd: Path, *args: str, now: str | None = DECEMBER) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOPENGINE_LANG": "en"}
    if now:
        env["SOPENGINE_NOW"] = now
    return subprocess.run([sys.executable, "-m", "sopengine", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def finish(db: Path, run_id: str, now: str = DECEMBER) -> list[str]:
    """Complete every open process step until the run ends (or stops at a decision); the rows done."""
    rows = []
    for _ in range(30):
        status = api.run_status(db, run_id, now=now)
        if status["status"] != "active" or status["open_steps"][0]["kind"] == "decision":
            break
        step = status["open_steps"][0]
        api.complete(db, run_id, step=step["step"], now=now, by="Petugas")
        rows.append(step["no"])
    return rows


# -- the README's first command --------------------------------------------------------------------

def test_the_readmes_first_command_runs_the_current_month_and_skips_nothing(tmp_path: Path) -> None:
    started = sop(tmp_path, "run", "pengumpulan-data")
    assert started.returncode == 0, started.stderr
    lines = started.stdout.splitlines()
    assert lines[0].startswith("Started run ") and lines[0].endswith(" of pengumpulan-data (Pengumpulan Data Kinerja) for 2026-12")
    assert lines[1] == "Period:   2026-12 (the current month; give --period for another period)"
    run_id = lines[0].split()[2]
    db = tmp_path / "sopengine.db"
    # December ends a semester and the year: rows 6-8 and 9 are done, not skipped
    assert finish(db, run_id) == [str(n) for n in range(1, 10)]
    status = api.run_status(db, run_id, now=DECEMBER)
    assert status["status"] == "completed" and status["period"] == "2026-12"
    gates = [(t["step"], t["outcome"]) for t in status["timeline"] if t.get("automatic")]
    assert gates == [("akhir-semester", "Ya"), ("akhir-tahun", "Ya")]


def test_the_period_taken_is_in_the_json_too(tmp_path: Path) -> None:
    started = sop(tmp_path, "run", "pengumpulan-data", "--json")
    assert started.returncode == 0, started.stderr
    data = json.loads(started.stdout)
    assert (data["period"], data["period_default"]) == ("2026-12", True)
    given = json.loads(sop(tmp_path, "run", "pengumpulan-data", "--period", "2026-10", "--json").stdout)
    assert (given["period"], given["period_default"]) == ("2026-10", False)


def test_the_current_month_is_the_sops_own_zone(tmp_path: Path) -> None:
    # 20:00 UTC on 30 November is 03:00 on 1 December in Jakarta
    started = json.loads(sop(tmp_path, "run", "pengumpulan-data", "--json", now="2026-11-30T20:00:00+00:00").stdout)
    assert started["period"] == "2026-12"


def test_an_sop_that_reads_no_period_gets_none(tmp_path: Path) -> None:
    started = sop(tmp_path, "run", "surat-keluar", "--json")
    assert json.loads(started.stdout)["period"] is None and json.loads(started.stdout)["period_default"] is False
    human = sop(tmp_path, "run", "surat-keluar")
    assert "Period:" not in human.stdout
    assert period_facts_read(api_compiled("surat-keluar")) == []
    assert period_facts_read(api_compiled("pengumpulan-data")) == ["period.ends_semester", "period.ends_year"]


def api_compiled(definition_id: str) -> dict:
    from sopengine.definition.loader import compile_definition

    definition, text, _ = api.load(definition_id)
    return compile_definition(definition, text)


def test_if_missing_takes_the_current_period_of_a_periodic_sop(tmp_path: Path) -> None:
    first = json.loads(sop(tmp_path, "run", "pengumpulan-data", "--if-missing", "--json").stdout)
    again = json.loads(sop(tmp_path, "run", "pengumpulan-data", "--if-missing", "--json").stdout)
    assert (first["period"], again["run_id"], again["existing"]) == ("2026-12", first["run_id"], True)


def test_an_sop_telling_kinds_of_period_apart_is_refused_with_the_choices(db_location: str | Path, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    text = (ENGINE_DEFS / "gate-without-otherwise.yaml").read_text(encoding="utf-8")
    text = text.replace("id: gate-without-otherwise", "id: triwulan").replace(
        '{name: "Ya", next: simpan-rahasia, when: {case.jenis: rahasia}}', '{name: "Ya", next: simpan-rahasia, when: {period.type: quarter}}'
    ).replace('{name: "Tidak", next: simpan, when: {case.jenis: biasa}}', '{name: "Tidak", next: simpan, when: otherwise}')
    (defs / "triwulan.yaml").write_text(text, encoding="utf-8")
    db = db_location
    refused = invoke("--db", str(db), "--definitions", str(defs), "--now", DECEMBER, "run", "triwulan")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: triwulan takes a different way for each kind of period (it reads period.type), so no period is taken by itself;"
        " give --period, e.g. 2026-12 (month), 2026-Q4 (quarter), 2026-S2 (semester), 2026 (year)\n"
    )
    assert holds_no_runs(db)
    ok = invoke("--db", str(db), "--definitions", str(defs), "--now", DECEMBER, "run", "triwulan", "--period", "2026-Q4", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["period"] == "2026-Q4"
    with pytest.raises(InputError):
        current_period(api_compiled_from(defs, "triwulan"), api_datetime(DECEMBER))


def api_compiled_from(defs: Path, definition_id: str) -> dict:
    from sopengine.definition.loader import compile_definition

    definition, text, _ = api.load(definition_id, defs)
    return compile_definition(definition, text)


def api_datetime(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


# -- a missing fact stops the decision -----------------------------------------------------------------

def test_a_run_without_a_period_stops_at_the_gate_for_a_person(db_location: str | Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run an earlier version started without a period: its gate no longer reads 'Tidak'."""
    db = db_location
    with monkeypatch.context() as m:  # start it as release 0.1 did: no period taken by itself
        m.setattr(runs, "period_facts_read", lambda compiled: [])
        run_id = api.start_run("pengumpulan-data", db=db, now=DECEMBER)["run_id"]
    assert api.run_status(db, run_id, now=DECEMBER)["period"] is None
    for n in range(1, 5):
        api.complete(db, run_id, step=str(n), now=DECEMBER)
    result = invoke("--db", str(db), "--now", DECEMBER, "complete", run_id, "--step", "5")
    assert result.exit_code == 0, result.output
    assert ("Stopped:  automatic, but period.ends_semester is missing: the run has no period (--period when a run starts)."
            f" A person decides: sopengine decide {run_id} Ya|Tidak --step akhir-semester") in result.stdout
    status = api.run_status(db, run_id, now=DECEMBER)
    assert status["status"] == "active"
    (gate,) = status["open_steps"]
    assert (gate["step"], gate["state"], gate["actor"], gate["missing_facts"]) == (
        "akhir-semester", "open", "kepala-bidang", ["period.ends_semester"])
    assert status["next"] == ["Kepala Bidang decides akhir-semester: Ya / Tidak (automatic, but the run lacks period.ends_semester)"]
    shown = invoke("--db", str(db), "--now", DECEMBER, "status", run_id)
    assert "Stopped at akhir-semester: automatic, but period.ends_semester is missing" in shown.stdout.replace("\n", " ")
    # no automatic decision was recorded; the event that reached the gate says what was missing
    con = connect(db)
    kinds = [(k, json.loads(p)) for k, p in con.execute("SELECT kind, payload FROM events WHERE run_id = ? ORDER BY seq", (run_id,))]
    con.close()
    assert [k for k, _ in kinds].count("decided") == 0
    assert kinds[-1][1]["missing_facts"] == {"akhir-semester": ["period.ends_semester"]}
    # a person takes it; the run goes on to the semester rows
    decided = invoke("--db", str(db), "--now", DECEMBER, "decide", run_id, "Ya", "--step", "akhir-semester", "--by", "Kabid")
    assert decided.exit_code == 0, decided.output
    assert [s["step"] for s in api.run_status(db, run_id, now=DECEMBER)["open_steps"]] == ["rekap-dua-laporan"]
    assert api.verify(db)["ok"]


def test_a_missing_case_fact_never_falls_to_otherwise(db_location: str | Path, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    text = (ENGINE_DEFS / "gate-without-otherwise.yaml").read_text(encoding="utf-8")
    text = text.replace('{name: "Tidak", next: simpan, when: {case.jenis: biasa}}', '{name: "Tidak", next: simpan, when: otherwise}')
    (defs / "gate-without-otherwise.yaml").write_text(text, encoding="utf-8")
    db = db_location
    run_id = api.start_run("gate-without-otherwise", db=db, definitions=defs, now=DECEMBER)["run_id"]
    result = api.complete(db, run_id, step="1", now=DECEMBER)
    assert result["missing_facts"] == {"cek-jenis": ["case.jenis"]} and result["opened"] == ["cek-jenis"]
    (gate,) = api.run_status(db, run_id, now=DECEMBER, definitions=defs)["open_steps"]
    assert (gate["step"], gate["missing_facts"], gate["outcomes"]) == ("cek-jenis", ["case.jenis"], ["Ya", "Tidak"])
    refused = invoke("--db", str(db), "--definitions", str(defs), "complete", run_id, "--step", "cek-jenis")
    assert refused.exit_code == 1 and "is a decision (Ya / Tidak)" in refused.stderr
    api.decide(db, run_id, "Tidak", step="cek-jenis", now=DECEMBER)
    assert [s["step"] for s in api.run_status(db, run_id, now=DECEMBER)["open_steps"]] == ["simpan"]
    # given, the fact decides by itself as before
    other = api.start_run("gate-without-otherwise", db=db, definitions=defs, now=DECEMBER, case={"jenis": "biasa"})["run_id"]
    assert api.complete(db, other, step="1", now=DECEMBER)["opened"] == ["simpan"]


# -- the years a period may lie in are the years a time may lie in -----------------------------------

@pytest.mark.parametrize(("now", "period"), [
    ("3000-01-01T08:00", "3000-01"),
    ("9000-12-31T23:59", "9000-12"),
    ("1970-01-01T00:00", "1970-01"),
])
def test_every_time_now_accepts_has_a_current_month(db_location: str | Path, tmp_path: Path, now: str, period: str) -> None:
    proc = sop(tmp_path, "--db", str(db_location), "run", "pengumpulan-data", "--json", now=now)
    assert proc.returncode == 0, proc.stderr
    started = json.loads(proc.stdout)
    assert (started["period"], started["period_default"]) == (period, True)
    assert api.run_status(db_location, started["run_id"], now=now)["period"] == period


@pytest.mark.parametrize("period", ["1970", "1970-01", "9000-S2", "9000-Q4", "9000-12"])
def test_a_period_at_the_edge_of_the_years_is_accepted(db_location: str | Path, period: str) -> None:
    result = api.start_run("pengumpulan-data", db=db_location, period=period, now="2026-10-01T09:00")
    assert result["period"] == period


@pytest.mark.parametrize("period", ["1969-12", "1969", "9001-01", "9001-S1", "1900-01", "2999-Q5"])
def test_a_period_outside_the_years_is_one_line_naming_them(tmp_path: Path, period: str) -> None:
    proc = sop(tmp_path, "--db", str(tmp_path / "k.db"), "run", "pengumpulan-data", "--period", period)
    assert (proc.returncode, proc.stdout) == (1, "")
    if period == "2999-Q5":  # not a period at all
        assert proc.stderr.startswith("Error: cannot read period '2999-Q5'; write a month 2026-10"), proc.stderr
    else:
        assert proc.stderr == (f"Error: period '{period}' is outside the years sopengine counts in;"
                               " give a period from 1970 to 9000\n"), proc.stderr
    assert not (tmp_path / "k.db").exists()


@pytest.mark.parametrize(("now", "year"), [("9000-12-31T23:00-05:00", 9001), ("1970-01-01T00:30+09:00", 1969)])
def test_a_time_whose_offset_takes_it_past_the_years_in_the_sops_zone_is_refused(tmp_path: Path, now: str, year: int) -> None:
    """In its own offset the time lies in the years; in WIB it does not, and its month would be no period."""
    proc = sop(tmp_path, "--db", str(tmp_path / "k.db"), "run", "pengumpulan-data", now=now)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"Error: time '{now}' falls in the year {year} in the SOP's time zone (Asia/Jakarta), outside the years"
                           " sopengine counts in; give a time from 1970-01-01 to 9000-12-31\n"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_stored_period_of_an_earlier_range_is_still_read() -> None:
    """A run started when periods from 1900 were accepted keeps its facts."""
    from sopengine.period import facts

    assert facts("1950-S2")["period.ends_year"] is True
