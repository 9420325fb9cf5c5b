"""What status, the run list and the inbox say about time: overdue as `overdue` has it, and
due times beyond the years the run's calendar covers."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sopengine.cli import cli
from sopengine.overdue import overdue
from sopengine.runs import complete, start_run
from sopengine.inbox import inbox
from sopengine.status import list_runs, run_status


def one_step(folder: Path, waktu: str, definition_id: str = "satu") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"{definition_id}.yaml").write_text(
        f"""format: 1
id: {definition_id}
title: Uji waktu {waktu}
actors:
  - {{id: staf, name: Staf Pelaksana}}
steps:
  - id: kerjakan
    no: 1
    kegiatan: Mengerjakan tugas
    actor: staf
    waktu: {waktu}
  - id: periksa
    no: 2
    kegiatan: Memeriksa hasil
    actor: staf
    waktu: {waktu}
""",
        encoding="utf-8",
    )
    return folder


# -- one meaning of overdue -----------------------------------------------------------------------


def test_a_step_due_at_closing_is_overdue_that_evening_everywhere(tmp_path: Path) -> None:
    defs, db = one_step(tmp_path / "defs", "1 Jam"), tmp_path / "a.db"
    run = start_run("satu", db=db, definitions=defs, now="2026-10-06T15:00", by="ani")["run_id"]  # due 16:00
    evening = "2026-10-06T17:00"
    [listed] = overdue(db, now=evening)
    assert listed["run_id"] == run and listed["late_by"] == 0
    [row] = list_runs(db, now=evening)
    assert row["overdue"] is True
    assert row["open_steps"][0]["overdue"] is True and row["open_steps"][0]["late_by"] == 0
    [waiting] = inbox(db, actor="staf", now=evening)
    assert waiting["overdue"] is True and waiting["late_by"] == 0
    # Before the due time nothing is overdue, in any of them.
    assert overdue(db, now="2026-10-06T15:59") == []
    assert list_runs(db, now="2026-10-06T15:59")[0]["overdue"] is False
    assert inbox(db, actor="staf", now="2026-10-06T15:59")[0]["overdue"] is False


def test_the_run_list_and_the_inbox_mark_that_step_overdue(tmp_path: Path) -> None:
    defs, db = one_step(tmp_path / "defs", "1 Jam"), tmp_path / "a.db"
    start_run("satu", db=db, definitions=defs, now="2026-10-06T15:00", by="ani")
    runner = CliRunner()
    for args in (["status"], ["inbox", "--actor", "staf"]):
        evening = runner.invoke(cli, [*args, "--db", str(db), "--now", "2026-10-06T17:00"], catch_exceptions=False)
        assert evening.exit_code == 0 and "OVERDUE" in evening.output, evening.output
        before = runner.invoke(cli, [*args, "--db", str(db), "--now", "2026-10-06T15:30"], catch_exceptions=False)
        assert before.exit_code == 0 and "OVERDUE" not in before.output, before.output


def test_a_completed_step_is_not_overdue(tmp_path: Path) -> None:
    defs, db = one_step(tmp_path / "defs", "1 Jam"), tmp_path / "a.db"
    run = start_run("satu", db=db, definitions=defs, now="2026-10-06T09:00", by="ani")["run_id"]
    complete(db, run, by="ani", now="2026-10-06T11:00")
    timeline = run_status(db, run, now="2026-10-06T11:30")["timeline"]
    assert [(t["step"], t["overdue"], t["late_by"]) for t in timeline] == [("kerjakan", False, 3600), ("periksa", False, 0)]


# -- a day's step opened at closing ---------------------------------------------------------------


def test_a_one_day_step_opened_at_closing_is_due_at_the_next_closing(tmp_path: Path) -> None:
    defs, db = one_step(tmp_path / "defs", "1 Hari"), tmp_path / "a.db"
    at_closing = start_run("satu", db=db, definitions=defs, now="2026-10-06T16:00", by="ani")["run_id"]
    a_minute_before = start_run("satu", db=db, definitions=defs, now="2026-10-06T15:59", by="ani")["run_id"]
    due = {run: run_status(db, run)["open_steps"][0]["due_at"] for run in (at_closing, a_minute_before)}
    assert due[a_minute_before] == "2026-10-07T08:59:00Z"  # Wednesday 15:59 WIB
    assert due[at_closing] == "2026-10-07T09:00:00Z"  # Wednesday 16:00 WIB, not Thursday 08:00
    # That evening it is overdue, though late by nothing; Thursday 08:30 it is 30 minutes late.
    evening = run_status(db, at_closing, now="2026-10-07T18:00")["open_steps"][0]
    assert (evening["overdue"], evening["late_by"]) == (True, 0)
    assert run_status(db, at_closing, now="2026-10-08T08:30")["open_steps"][0]["late_by"] == 30 * 60


# -- due times beyond the calendar's years --------------------------------------------------------


def event_payloads(db: Path, run_id: str) -> dict[str, dict]:
    import json
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT kind, payload FROM events WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
    return {kind: json.loads(payload) for kind, payload in rows}


def test_a_due_time_in_2027_from_a_run_started_late_2026_counts_2027s_holidays(tmp_path: Path) -> None:
    defs, db = one_step(tmp_path / "defs", "3 Hari"), tmp_path / "a.db"
    run = start_run("satu", db=db, definitions=defs, now="2026-12-30T10:00", by="ani")["run_id"]
    [step] = run_status(db, run)["open_steps"]
    # 31 December, then Monday 4 January (1 January is Tahun Baru), then Wednesday 6 January
    # (5 January 2027 is Isra Mikraj): the snapshot holds 2027's holidays.
    assert step["due_at"] == "2027-01-06T03:00:00Z"
    assert step["beyond_calendar"] is False
    assert "beyond_calendar" not in event_payloads(db, run)["run_started"]


def test_a_due_time_past_the_calendars_years_is_flagged(tmp_path: Path) -> None:
    defs, db = one_step(tmp_path / "defs", "1 Hari"), tmp_path / "a.db"
    run = start_run("satu", db=db, definitions=defs, now="2026-10-05T09:00", by="ani")["run_id"]  # covers 2025-2029
    complete(db, run, by="ani", now="2029-12-31T10:00")
    status = run_status(db, run, now="2029-12-31T11:00")
    first, second = status["timeline"]
    assert first["beyond_calendar"] is False
    # 1 January 2030 is Tahun Baru, but 2030 is past the snapshot's years: counted as a working day.
    assert second["due_at"] == "2030-01-01T03:00:00Z" and second["beyond_calendar"] is True
    assert status["open_steps"][0]["beyond_calendar"] is True
    payloads = event_payloads(db, run)
    assert payloads["step_completed"]["beyond_calendar"] is True
    assert "beyond_calendar" not in payloads["run_started"]


def test_a_process_deadline_past_the_calendars_years_is_flagged(tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", tmp_path / "a.db"
    one_step(defs, "1 Jam")
    text = (defs / "satu.yaml").read_text(encoding="utf-8")
    (defs / "satu.yaml").write_text(text.replace("title:", "deadline: Paling lambat 1000 hari kerja\ntitle:"), encoding="utf-8")
    run = start_run("satu", db=db, definitions=defs, now="2026-10-05T09:00", by="ani")["run_id"]
    status = run_status(db, run)
    assert status["due_at"] > "2030" and status["deadline_beyond_calendar"] is True
    assert status["open_steps"][0]["beyond_calendar"] is False
    assert event_payloads(db, run)["run_started"]["beyond_calendar"] is True


# -- editing the calendar file --------------------------------------------------------------------


def test_editing_the_calendar_file_changes_new_runs_only(tmp_path: Path) -> None:
    defs, db = one_step(tmp_path / "defs", "1 Hari"), tmp_path / "a.db"
    old = start_run("satu", db=db, definitions=defs, now="2026-10-06T10:00", by="ani")["run_id"]  # Tuesday
    # The office then closes on Wednesday 7 October (a local holiday added to the file).
    (defs / "calendar.yaml").write_text(
        'closed:\n  - {date: 2026-10-07, name: "Hari Jadi Kabupaten"}\n', encoding="utf-8"
    )
    new = start_run("satu", db=db, definitions=defs, now="2026-10-06T10:00", by="ani")["run_id"]
    assert run_status(db, old)["open_steps"][0]["due_at"] == "2026-10-07T03:00:00Z"  # Wednesday 10:00
    assert run_status(db, new)["open_steps"][0]["due_at"] == "2026-10-08T03:00:00Z"  # Thursday 10:00
    # A step the old run opens after the edit is still counted with the old run's snapshot.
    complete(db, old, by="ani", now="2026-10-06T11:00")
    complete(db, new, by="ani", now="2026-10-06T11:00")
    assert run_status(db, old)["open_steps"][0]["due_at"] == "2026-10-07T04:00:00Z"
    assert run_status(db, new)["open_steps"][0]["due_at"] == "2026-10-08T04:00:00Z"
