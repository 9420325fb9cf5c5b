"""The time commands on the command line: calendar, overdue, report.

Through click's CliRunner and, for exit codes a cron job sees, through a real
``python -m sopengine`` process. Runs are started with the library on temporary databases
with a fixed clock (WIB).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine.cli import cli
from sopengine.runs import complete, decide, start_run

ROOT = Path(__file__).resolve().parent.parent
STABLE_KEYS = {"run_id", "step", "actor", "due_at", "late_by", "actor_name", "definition", "period", "assigned", "kegiatan"}


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def sopengine(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m sopengine ARGS`` in a fresh process, this checkout first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_")}
    env["SOPENGINE_LANG"] = "en"  # the words these tests read are the English ones
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "sopengine", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def kinerja(db_location: str | Path) -> tuple[Path, str]:
    """Pengumpulan Data Kinerja started Thursday 1 October 2026 09:00; step 3 open since 10:30."""
    db = db_location
    run = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani",
                    assign=[("staf-evaluasi", "Dedi")])["run_id"]
    complete(db, run, by="ani", now="2026-10-01T09:10")
    complete(db, run, by="ani", now="2026-10-01T10:30")
    return db, run


# --------------------------------------------------------------------------- calendar


def test_calendar_lists_holidays_with_indonesian_day_names() -> None:
    result = invoke("calendar", "--year", "2026", "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert (view["year"], view["source"], view["file"], view["timezone"]) == (2026, "packaged default", None, "Asia/Jakarta")
    assert view["hours"][4] == {"weekday": "friday", "day": "Jumat", "hours": "08:00–16:00"}
    assert view["hours"][5] == {"weekday": "saturday", "day": "Sabtu", "hours": None}
    closed = {c["date"]: (c["day"], c["name"]) for c in view["closed"]}
    assert closed["2026-08-17"] == ("Senin", "Hari Kemerdekaan Republik Indonesia")
    assert closed["2026-03-23"] == ("Senin", "Cuti Bersama Hari Raya Idul Fitri")
    assert closed["2026-03-21"] == ("Sabtu", "Hari Raya Idul Fitri")  # on a weekend, still listed
    assert all(date.startswith("2026-") for date in closed)
    assert view["open"] == []


def test_calendar_table_and_year_from_now() -> None:
    result = invoke("calendar", "--now", "2025-06-01T10:00")
    assert result.exit_code == 0, result.output
    assert "Working calendar 2025 — packaged default (Asia/Jakarta)" in result.stdout
    assert "2025-03-31" in result.stdout and "Hari Raya Idul Fitri" in result.stdout
    assert "Jumat" in result.stdout and "tutup" in result.stdout
    assert "closed day(s) in 2025" in result.stderr


def test_calendar_from_a_file_given_by_option_folder_or_environment(tmp_path: Path) -> None:
    text = (
        'hours:\n  friday: "08:00-11:30"\n'
        "closed:\n  - {date: 2026-10-20, name: Hari Jadi Kabupaten}\n"
        'open:\n  - {date: 2026-11-07, name: Sabtu kerja, hours: "08:00-12:00"}\n'
    )
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "calendar.yaml").write_text(text, encoding="utf-8")
    elsewhere = tmp_path / "kantor.yaml"
    elsewhere.write_text(text, encoding="utf-8")
    for args, env, source in (
        (["--definitions", defs], None, defs / "calendar.yaml"),
        (["--calendar", elsewhere], None, elsewhere),
        ([], {"SOPENGINE_CALENDAR": str(elsewhere)}, elsewhere),
    ):
        result = invoke("calendar", "--year", "2026", "--json", *args, env=env)
        assert result.exit_code == 0, result.output
        view = json.loads(result.stdout)
        assert view["source"] == str(source)
        assert view["hours"][4]["hours"] == "08:00–11:30"
        assert {"date": "2026-10-20", "day": "Selasa", "name": "Hari Jadi Kabupaten"} in view["closed"]
        assert view["open"] == [{"date": "2026-11-07", "day": "Sabtu", "name": "Sabtu kerja", "hours": "08:00–12:00"}]


def test_calendar_errors_are_one_line(tmp_path: Path) -> None:
    result = invoke("calendar", "--calendar", tmp_path / "missing.yaml")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: calendar file") and "not found" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text('hours:\n  friday: "8-11"\n', encoding="utf-8")
    result = invoke("calendar", "--calendar", bad)
    assert result.exit_code == 1
    assert "hours.friday: '8-11' is not a time range" in result.stderr
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- overdue


def test_overdue_json_keys_and_values(kinerja: tuple[Path, str]) -> None:
    db, run = kinerja
    result = invoke("overdue", "--db", db, "--now", "2026-10-02T08:30", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    [row] = json.loads(result.stdout)
    assert STABLE_KEYS <= set(row)
    assert {k: row[k] for k in STABLE_KEYS} == {
        "run_id": run, "step": "olah-data", "actor": "staf-evaluasi", "due_at": "2026-10-01T03:32:00Z",
        # Thursday 10:32-16:00 and Friday 08:00-08:30.
        "late_by": 5 * 3600 + 58 * 60, "actor_name": "Staf Penyusun Evaluasi Kinerja", "definition": "pengumpulan-data",
        "period": "2026-10", "assigned": ["Dedi"], "kegiatan": "Mengolah data laporan bulanan dan triwulan",
    }
    assert row["kind"] == "step"


def test_overdue_fail_if_any_exits_3(kinerja: tuple[Path, str]) -> None:
    db, run = kinerja
    # A wide terminal, so that no cell wraps.
    result = invoke("overdue", "--db", db, "--now", "2026-10-02T08:30", "--fail-if-any", env={"COLUMNS": "250"})
    assert result.exit_code == 3
    assert run in result.stdout and "Mengolah data laporan bulanan dan triwulan" in result.stdout
    assert "5 h 58 min" in result.stdout and "Staf Penyusun Evaluasi Kinerja (Dedi)" in result.stdout
    assert "1 overdue step(s), 0 run(s) past their deadline." in result.stderr
    # Global options before the command name work the same.
    result = invoke("--db", db, "--now", "2026-10-02T08:30", "overdue", "--fail-if-any", "--json")
    assert result.exit_code == 3
    assert [r["run_id"] for r in json.loads(result.stdout)] == [run]
    # Nothing overdue: exit 0, a note on stderr.
    result = invoke("overdue", "--db", db, "--now", "2026-10-01T10:31", "--fail-if-any")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.startswith("Nothing is overdue at 2026-10-01 10:31 WIB")


def test_overdue_fail_if_any_in_a_real_process(kinerja: tuple[Path, str], tmp_path: Path) -> None:
    db, run = kinerja
    proc = sopengine("overdue", "--db", db, "--now", "2026-10-02T08:30", "--fail-if-any", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert run in proc.stdout and "Traceback" not in proc.stderr
    proc = sopengine("overdue", "--db", db, "--now", "2026-10-02T08:30", "--fail-if-any", "--json", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)[0]["late_by"] == 5 * 3600 + 58 * 60
    proc = sopengine("overdue", "--db", db, "--now", "2026-10-01T10:31", "--fail-if-any", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # A cron line without --now, far in the future: the same step, and exit 3.
    env_now = sopengine("--now", "2030-01-02T09:00", "overdue", "--db", db, "--fail-if-any", "--json", cwd=tmp_path)
    assert env_now.returncode == 3 and json.loads(env_now.stdout)[0]["step"] == "olah-data"


def test_overdue_filters_and_limit(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    one = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani",
                    assign=[("sekretaris-dinas", "Agus")])["run_id"]
    two = start_run("surat-keluar", db=db, now="2026-10-01T09:30", by="ani")["run_id"]
    now = ["--db", db, "--now", "2026-10-01T11:00"]
    rows = json.loads(invoke("overdue", *now, "--json").stdout)
    # pengumpulan-data step 1 due 09:15 (1 h 45 min late); surat-keluar step 1 due 10:00 (1 h).
    assert [(r["run_id"], r["late_by"]) for r in rows] == [(one, 6300), (two, 3600)]
    assert [r["run_id"] for r in json.loads(invoke("overdue", *now, "--json", "--limit", "1").stdout)] == [one]
    assert [r["run_id"] for r in json.loads(invoke("overdue", *now, "--json", "--actor", "kasubag-umpar").stdout)] == [two]
    assert [r["run_id"] for r in json.loads(invoke("overdue", *now, "--json", "--person", "agus").stdout)] == [one]
    result = invoke("overdue", *now, "--limit", "0")
    assert result.exit_code == 2 and "--limit" in result.stderr
    result = invoke("overdue", *now, "--actor", "lurah")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no SOP in") and "roles are:" in result.stderr


def test_overdue_shows_runs_past_their_deadline(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    defs.mkdir()
    (defs / "surat-tenggat.yaml").write_text(
        """format: 1
id: surat-tenggat
title: Surat dengan tenggat
deadline: Paling lambat 3 hari kerja
actors:
  - {id: kasubag, name: Kasubag Umum}
  - {id: sekretaris, name: Sekretaris}
steps:
  - {id: konsep, no: 1, kegiatan: Mengonsep surat, actor: kasubag, waktu: 30 Menit}
  - {id: tandatangani, no: 2, kegiatan: Menandatangani surat, actor: sekretaris, waktu: 5 Hari}
""",
        encoding="utf-8",
    )
    run = start_run("surat-tenggat", db=db, definitions=defs, now="2026-10-05T09:00", by="ani",
                    assign=[("sekretaris", "Sari")])["run_id"]
    complete(db, run, by="ani", now="2026-10-05T09:20")
    result = invoke("overdue", "--db", db, "--now", "2026-10-09T11:00", "--fail-if-any", env={"COLUMNS": "250"})
    assert result.exit_code == 3
    assert "Runs past their deadline" in result.stdout
    assert "Paling lambat 3 hari kerja" in result.stdout and "10 h" in result.stdout
    assert "2: Sekretaris (Sari)" in result.stdout
    assert "0 overdue step(s), 1 run(s) past their deadline." in result.stderr
    [row] = json.loads(invoke("overdue", "--db", db, "--now", "2026-10-09T11:00", "--json").stdout)
    assert (row["kind"], row["step"], row["late_by"]) == ("deadline", None, 36000)


def test_read_commands_never_create_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "sub" / "nothing.db"
    for args in (["overdue"], ["report"], ["report", "--monitoring"]):
        result = invoke(*args, "--db", missing)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: no database at") and "nothing.db" in result.stderr
    proc = sopengine("overdue", "--fail-if-any", cwd=tmp_path)  # the default sopengine.db here
    assert proc.returncode == 1 and proc.stderr.startswith("Error: no database at sopengine.db")
    assert not missing.exists() and not (tmp_path / "sopengine.db").exists()


# --------------------------------------------------------------------------- report


@pytest.fixture
def surat(db_location: str | Path) -> tuple[Path, str]:
    db = db_location
    run = start_run("surat-keluar", db=db, now="2026-10-05T09:00", by="ani")["run_id"]
    complete(db, run, by="ani", now="2026-10-05T09:20")
    complete(db, run, by="budi", now="2026-10-05T09:30")
    decide(db, run, "Tidak", by="ani", now="2026-10-05T09:50")
    complete(db, run, by="budi", now="2026-10-05T10:45")
    decide(db, run, "Ya", by="ani", now="2026-10-05T11:00")
    return db, run


def test_report_formats(surat: tuple[Path, str]) -> None:
    db, run = surat
    base = ["report", "--db", db, "--now", "2026-10-05T15:00"]
    as_json = json.loads(invoke(*base, "--json").stdout)
    assert as_json == json.loads(invoke(*base, "--format", "json").stdout)
    ketik = next(s for s in as_json["steps"] if s["step"] == "ketik-konsep")
    assert (ketik["visits"], ketik["late"], ketik["median_seconds"], ketik["corrections"]) == (2, 1, 1950, 1)

    result = invoke(*base, "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["level"] for r in rows] == ["run"] * 4 + ["all"] * 4
    line = next(r for r in rows if r["level"] == "run" and r["step"] == "ketik-konsep")
    assert (line["run_id"], line["visits"], line["late"], line["median_seconds"], line["max_seconds"]) == (run, "2", "1", "1950", "3300")
    assert line["standard_seconds"] == "900" and line["waktu"] == "15 menit"

    table = invoke(*base)
    assert table.exit_code == 0
    assert "surat-keluar: standard against actual time across 1 run(s)" in table.stdout
    assert "Mengetik konsep surat" in table.stdout and "Per run" in table.stdout
    one = invoke(*base, "--run", run)
    assert f"Run {run} — Pengurusan Surat Keluar (surat-keluar)" in one.stdout
    assert "6 h of office time" in one.stdout


def test_report_monitoring_formats(surat: tuple[Path, str]) -> None:
    db, _ = surat
    base = ["report", "--db", db, "--now", "2026-10-05T15:00", "--monitoring"]
    [form] = json.loads(invoke(*base, "--json").stdout)
    assert [r["penilaian"] for r in form["rows"][:4]] == [
        "Berjalan dengan baik", "Tidak berjalan dengan baik", "Berjalan dengan baik", "Tidak berjalan dengan baik",
    ]
    result = invoke(*base, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["definition", "nomor", "no", "prosedur", "penilaian", "catatan", "tindakan"]
    assert rows[1]["prosedur"].startswith("Mengetik konsep surat")
    assert rows[1]["catatan"] == "1 of 2 visits late; median 32 min against 15 menit; 1 correction round"
    assert rows[4]["penilaian"] == ""  # not carried out: no judgement
    table = invoke(*base, env={"COLUMNS": "250"})
    assert table.exit_code == 0
    for text in ("MONITORING PELAKSANAAN SOP AP", "Nama SOP  : Pengurusan Surat Keluar", "Penilaian terhadap",
                 "Tidak berjalan dengan baik", "more than a fifth"):
        assert text in table.stdout, text


def test_report_errors_are_one_line(surat: tuple[Path, str]) -> None:
    db, run = surat
    result = invoke("report", "--db", db, "--period", "2026-10")
    assert result.exit_code == 1 and result.stderr.startswith("Error: --period needs --definition")
    result = invoke("report", "--db", db, "--run", "zzz-zzz")
    assert result.exit_code == 1 and result.stderr.startswith("Error: no run 'zzz-zzz'")
    result = invoke("report", "--db", db, "--format", "xml")
    assert result.exit_code == 2
    result = invoke("report", "--db", db, "--definition", "surat-keluar", "--period", "2026-11")
    assert result.exit_code == 0 and "No runs in that scope." in result.stderr


def test_calendar_with_a_definition_applies_its_timezone_and_hours(tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "kantor-wita.yaml").write_text(
        """format: 1
id: kantor-wita
title: Uji kalender
timezone: WITA
hours:
  jumat: "07:30-11:00"
actors:
  - {id: staf, name: Staf Pelaksana}
steps:
  - {id: kerjakan, no: 1, kegiatan: Mengerjakan tugas, actor: staf, waktu: 1 Jam}
""",
        encoding="utf-8",
    )
    base = ["calendar", "--year", "2026", "--definitions", defs, "--json"]
    plain = json.loads(invoke(*base).output)
    own = json.loads(invoke(*base, "--definition", "kantor-wita").output)
    assert (plain["timezone"], plain["definition"]) == ("Asia/Jakarta", None)
    assert (own["timezone"], own["definition"]) == ("Asia/Makassar", "kantor-wita")
    hours = {h["weekday"]: h["hours"] for h in own["hours"]}
    assert hours["friday"] == "07:30–11:00" and hours["monday"] == "08:00–16:00"  # the rest from the file
    assert own["closed"] == plain["closed"]
    shown = invoke("calendar", "--year", "2026", "--definitions", defs, "--definition", "kantor-wita")
    assert "with the timezone and hours of kantor-wita (Asia/Makassar)" in shown.output
    missing = CliRunner().invoke(cli, ["calendar", "--definitions", str(defs), "--definition", "tidak-ada"])
    assert missing.exit_code == 1 and missing.output.startswith("Error: ") and "tidak-ada" in missing.output
