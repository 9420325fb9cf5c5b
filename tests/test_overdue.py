"""Overdue steps and deadlines, through real runs on temporary databases with a fixed clock.

Every expected lateness is worked out by hand with a wall calendar: office hours 08:00-16:00
WIB Monday to Friday unless a test says otherwise, the 2025/2026 holidays and cuti bersama
as the government decreed them. WIB is UTC+7, so 09:00 WIB is 02:00Z.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sopengine.errors import DatabaseMissing, InputError
from sopengine.overdue import count_overdue, overdue
from sopengine.runs import complete, decide, start_run
from sopengine.status import run_status

HOUR = 3600
MINUTE = 60


def one_step(folder: Path, waktu: str, definition_id: str = "satu-langkah") -> str:
    """Write a definition with one timed step ('kerjakan', by 'staf') and return its id."""
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
""",
        encoding="utf-8",
    )
    return definition_id


DEADLINE_SOP = """format: 1
id: surat-tenggat
title: Surat dengan tenggat
deadline: {deadline}
actors:
  - {{id: kasubag, name: Kasubag Umum}}
  - {{id: sekretaris, name: Sekretaris}}
steps:
  - id: konsep
    no: 1
    kegiatan: Mengonsep surat
    actor: kasubag
    waktu: 30 Menit
  - id: tandatangani
    no: 2
    kegiatan: Menandatangani surat
    actor: sekretaris
    waktu: 5 Hari
  - id: kirim
    no: 3
    kegiatan: Mengirim surat
    actor: kasubag
    waktu: 2 hari kalender
"""


def deadline_sop(folder: Path, deadline: str = "Paling lambat 3 hari kerja") -> str:
    folder.mkdir(exist_ok=True)
    (folder / "surat-tenggat.yaml").write_text(DEADLINE_SOP.format(deadline=deadline), encoding="utf-8")
    return "surat-tenggat"


def start(definition_id: str, db: Path, now: str, defs: Path | None = None, **kw) -> str:
    return start_run(definition_id, db=db, definitions=defs, now=now, by="ani", **kw)["run_id"]


def steps_of(rows: list[dict]) -> list[tuple[str, str | None, int]]:
    return [(r["run_id"], r["step"], r["late_by"]) for r in rows]


# --------------------------------------------------------------------------- the clerk's view


def test_lists_exactly_the_late_steps_of_a_run_started_at_a_known_time(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    # Thursday 1 October 2026, 09:00: the monthly Pengumpulan Data Kinerja starts.
    run = start("pengumpulan-data", db, "2026-10-01T09:00", period="2026-10")
    complete(db, run, by="ani", now="2026-10-01T09:10")  # step 1 (15 Menit) on time
    complete(db, run, by="ani", now="2026-10-01T10:30")  # step 2 (30 Menit), due 09:40: done late
    # Step 3 (2 Menit) opened 10:30, due 10:32 and still open.
    assert overdue(db, now="2026-10-01T10:32") == []
    rows = overdue(db, now="2026-10-02T08:30")
    # Thursday 10:32-16:00 is 5 h 28 min, Friday 08:00-08:30 another 30 min.
    assert steps_of(rows) == [(run, "olah-data", 5 * HOUR + 28 * MINUTE + 30 * MINUTE)]
    row = rows[0]
    assert row["kind"] == "step"
    assert row["due_at"] == "2026-10-01T03:32:00Z"
    assert row["opened_at"] == "2026-10-01T03:30:00Z"
    assert row["no"] == "3" and row["waktu"] == "2 Menit"  # format 2: the row number as printed, text
    assert row["kegiatan"] == "Mengolah data laporan bulanan dan triwulan"
    assert row["actor"] == "staf-evaluasi"
    assert row["actor_name"] == "Staf Penyusun Evaluasi Kinerja"
    assert row["definition"] == "pengumpulan-data" and row["period"] == "2026-10"
    assert row["counted_in"] == "working"
    # Completed late steps are history, not overdue work.
    assert all(r["step"] != "rekap-laporan" for r in rows)
    assert count_overdue(db, "2026-10-02T08:30") == 1


def test_a_step_across_a_weekend(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "2 jam")
    # Friday 9 October 2026 15:00 + 2 jam: 1 hour on Friday, 1 hour on Monday, due 09:00.
    run = start(sop, db, "2026-10-09T15:00", defs)
    assert overdue(db, now="2026-10-10T10:00") == []  # Saturday: not due yet
    assert overdue(db, now="2026-10-12T09:00") == []  # due at this very minute
    assert steps_of(overdue(db, now="2026-10-12T10:30")) == [(run, "kerjakan", 90 * MINUTE)]
    assert overdue(db, now="2026-10-12T10:30")[0]["due_at"] == "2026-10-12T02:00:00Z"


def test_17_agustus_2026_is_not_a_working_day(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "1 Hari")
    # Friday 14 August 2026 10:00 + 1 hari: Monday the 17th is closed, due Tuesday 10:00.
    run = start(sop, db, "2026-08-14T10:00", defs)
    assert overdue(db, now="2026-08-17T12:00") == []
    assert overdue(db, now="2026-08-18T09:59") == []
    # Tuesday 10:00-16:00 and Wednesday 08:00-09:00.
    assert steps_of(overdue(db, now="2026-08-19T09:00")) == [(run, "kerjakan", 7 * HOUR)]


def test_17_agustus_2025_on_a_sunday_with_cuti_bersama_on_monday(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "1 Hari")
    # Friday 15 August 2025 14:00: Monday the 18th is cuti bersama, due Tuesday 19th 14:00.
    run = start(sop, db, "2025-08-15T14:00", defs)
    assert overdue(db, now="2025-08-19T13:59") == []
    assert steps_of(overdue(db, now="2025-08-19T15:00")) == [(run, "kerjakan", HOUR)]


def test_idul_fitri_2025_with_its_cuti_bersama(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "3 Hari")
    # Thursday 27 March 2025 09:00. Closed: 28 Mar (cuti Nyepi), 31 Mar-1 Apr (Idul Fitri),
    # 2-4 and 7 Apr (cuti bersama). Working days 1-3: 8, 9, 10 April; due Thursday 10th 09:00.
    run = start(sop, db, "2025-03-27T09:00", defs)
    assert overdue(db, now="2025-04-07T15:00") == []
    assert overdue(db, now="2025-04-10T08:59") == []
    assert steps_of(overdue(db, now="2025-04-10T10:00")) == [(run, "kerjakan", HOUR)]
    # A week later: 10 Apr 09-16 (7 h), 11, 14, 15, 16 Apr (4 x 8 h), 17 Apr 08-10 (2 h).
    assert steps_of(overdue(db, now="2025-04-17T10:00")) == [(run, "kerjakan", (7 + 32 + 2) * HOUR)]


def test_idul_fitri_2026_a_step_opened_the_day_before_the_closure(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "1 jam")
    # Tuesday 17 March 2026 15:30: 30 minutes that day; 18-24 March closed (Nyepi, Idul
    # Fitri, cuti bersama); the other 30 minutes on Wednesday 25th, due 08:30.
    run = start(sop, db, "2026-03-17T15:30", defs)
    assert overdue(db, now="2026-03-24T12:00") == []
    assert steps_of(overdue(db, now="2026-03-25T09:00")) == [(run, "kerjakan", 30 * MINUTE)]


@pytest.mark.parametrize(
    "opened, due_utc, now, late",
    [
        # Before opening: counting starts at 08:00, due 08:30.
        ("2026-10-06T06:30", "2026-10-06T01:30:00Z", "2026-10-06T08:45", 15 * MINUTE),
        # At 15:59: one minute on Tuesday, 29 on Wednesday, due 08:29.
        ("2026-10-06T15:59", "2026-10-07T01:29:00Z", "2026-10-07T09:00", 31 * MINUTE),
        # At 16:00 the office is closed: counting starts Wednesday 08:00, due 08:30.
        ("2026-10-06T16:00", "2026-10-07T01:30:00Z", "2026-10-07T09:00", 30 * MINUTE),
        # On a holiday (Monday 17 August 2026): counting starts Tuesday 08:00.
        ("2026-08-17T10:00", "2026-08-18T01:30:00Z", "2026-08-18T09:00", 30 * MINUTE),
        # On a Saturday: counting starts Monday 08:00.
        ("2026-10-10T10:00", "2026-10-12T01:30:00Z", "2026-10-12T09:00", 30 * MINUTE),
    ],
    ids=["before-opening", "at-1559", "at-1600", "on-17-agustus", "on-saturday"],
)
def test_steps_opened_outside_office_hours(db_location: str | Path, tmp_path: Path, opened: str, due_utc: str, now: str, late: int) -> None:
    defs, db = tmp_path / "defs", db_location
    run = start(one_step(defs, "30 Menit"), db, opened, defs)
    rows = overdue(db, now=now)
    assert steps_of(rows) == [(run, "kerjakan", late)]
    assert rows[0]["due_at"] == due_utc


def test_a_step_due_at_closing_is_overdue_in_the_evening_but_late_by_no_office_time(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    run = start(one_step(defs, "1 jam"), db, "2026-10-06T15:00", defs)  # due 16:00
    assert steps_of(overdue(db, now="2026-10-06T18:00")) == [(run, "kerjakan", 0)]
    assert count_overdue(db, "2026-10-06T18:00") == 1
    assert steps_of(overdue(db, now="2026-10-07T08:20")) == [(run, "kerjakan", 20 * MINUTE)]


def test_short_friday_from_a_calendar_file_in_the_definitions_folder(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "1 jam")
    (defs / "calendar.yaml").write_text('hours:\n  friday: "08:00-11:30"\n', encoding="utf-8")
    # Thursday 8 October 2026 15:30: 30 minutes on Thursday, 30 on Friday, due Friday 08:30.
    run = start(sop, db, "2026-10-08T15:30", defs)
    # Late on Monday 09:00: Friday 08:30-11:30 (3 h) and Monday 08:00-09:00 (1 h).
    assert steps_of(overdue(db, now="2026-10-12T09:00")) == [(run, "kerjakan", 4 * HOUR)]
    # The same step under the default calendar would be 8 h 30 min late.
    other = tmp_path / "default.db"
    plain = start(one_step(tmp_path / "plain", "1 jam"), other, "2026-10-08T15:30", tmp_path / "plain")
    assert steps_of(overdue(other, now="2026-10-12T09:00")) == [(plain, "kerjakan", 8 * HOUR + 30 * MINUTE)]


def test_short_friday_from_a_calendar_given_to_the_run(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "2 jam")
    calendar = tmp_path / "kantor.yaml"
    calendar.write_text('hours:\n  jumat: "07:30-11:00"\n', encoding="utf-8")
    # Friday 9 October 2026 10:30: 30 minutes on Friday, 90 on Monday, due Monday 09:30.
    run = start(sop, db, "2026-10-09T10:30", defs, calendar=str(calendar))
    assert overdue(db, now="2026-10-12T09:30") == []
    assert steps_of(overdue(db, now="2026-10-12T10:00")) == [(run, "kerjakan", 30 * MINUTE)]
    # The run keeps the calendar it started with: editing the file changes nothing.
    calendar.write_text('hours:\n  jumat: "08:00-16:00"\n', encoding="utf-8")
    assert steps_of(overdue(db, now="2026-10-12T10:00")) == [(run, "kerjakan", 30 * MINUTE)]


def test_a_correction_loop_whose_second_round_is_late(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    # Surat keluar, Monday 5 October 2026: konsep (30 menit), ketik (15 menit), periksa (30 menit).
    run = start("surat-keluar", db, "2026-10-05T09:00")
    complete(db, run, by="ani", now="2026-10-05T09:20")  # konsep on time
    complete(db, run, by="budi", now="2026-10-05T09:30")  # ketik round 1: due 09:35, done 09:30
    assert overdue(db, now="2026-10-05T09:45") == []
    decide(db, run, "Tidak", by="ani", now="2026-10-05T09:50")  # back to ketik
    # Round 2 opened 09:50, due 10:05.
    assert overdue(db, now="2026-10-05T10:05") == []
    rows = overdue(db, now="2026-10-05T11:00")
    assert steps_of(rows) == [(run, "ketik-konsep", 55 * MINUTE)]
    assert rows[0]["iteration"] == 2
    assert rows[0]["due_at"] == "2026-10-05T03:05:00Z"


# --------------------------------------------------------------------------- calendar days and deadlines


def test_process_deadline_and_a_calendar_day_step(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = deadline_sop(defs)
    # Monday 5 October 2026 09:00; "Paling lambat 3 hari kerja": due Thursday 8th 09:00.
    run = start(sop, db, "2026-10-05T09:00", defs)
    complete(db, run, by="ani", now="2026-10-05T09:20")
    # tandatangani (5 Hari) opened Monday 09:20, due Monday 12th 09:20: not late on Friday.
    rows = overdue(db, now="2026-10-09T11:00")
    assert [(r["kind"], r["run_id"], r["step"]) for r in rows] == [("deadline", run, None)]
    deadline = rows[0]
    # Thursday 09:00-16:00 and Friday 08:00-11:00.
    assert deadline["late_by"] == 10 * HOUR
    assert deadline["due_at"] == "2026-10-08T02:00:00Z"
    assert deadline["waktu"] == "Paling lambat 3 hari kerja"
    assert deadline["actor"] is None and deadline["counted_in"] == "working"
    assert [(w["step"], w["actor"], w["actor_name"]) for w in deadline["waiting_on"]] == [
        ("tandatangani", "sekretaris", "Sekretaris")
    ]
    assert count_overdue(db, "2026-10-09T11:00") == 0  # steps only
    assert overdue(db, now="2026-10-09T11:00", deadlines=False) == []
    # status shows the same deadline and lateness.
    status = run_status(db, run, now="2026-10-09T11:00")
    assert status["due_at"] == "2026-10-08T02:00:00Z"
    assert status["deadline"] == "Paling lambat 3 hari kerja"
    assert status["deadline_late_by"] == 10 * HOUR

    # kirim (2 hari kalender) opened Friday 9th 14:00 is due Sunday 11th 14:00 —
    # weekends count; on Monday 09:00 it is 19 hours late in plain time.
    complete(db, run, by="ani", now="2026-10-09T14:00")
    rows = overdue(db, now="2026-10-12T09:00")
    kirim = next(r for r in rows if r["step"] == "kirim")
    assert kirim["due_at"] == "2026-10-11T07:00:00Z"
    assert kirim["late_by"] == 19 * HOUR
    assert kirim["counted_in"] == "calendar"
    # Deadline: Thursday 09-16, Friday 08-16, Monday 08-09 = 16 h of office time; it comes
    # after the 19-hour calendar-day step.
    assert [(r["kind"], r["late_by"]) for r in rows] == [("step", 19 * HOUR), ("deadline", 16 * HOUR)]


def test_a_finished_run_is_no_longer_past_its_deadline(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    run = start(deadline_sop(defs), db, "2026-10-05T09:00", defs)
    for when in ("2026-10-05T09:20", "2026-10-07T09:00", "2026-10-08T10:00"):
        complete(db, run, by="ani", now=when)
    assert run_status(db, run, now="2026-10-09T11:00")["status"] == "completed"
    assert overdue(db, now="2026-10-20T11:00") == []
    # status still tells how late the run finished: Thursday 09:00-10:00.
    assert run_status(db, run, now="2026-10-20T11:00")["deadline_late_by"] == HOUR


def test_a_calendar_day_deadline_is_late_in_plain_time(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    run = start(deadline_sop(defs, "Paling lambat 3 hari kalender"), db, "2026-10-05T09:00", defs)
    # Due Thursday 8th 09:00; on Friday 9th 09:00 it is 24 hours late in plain time.
    rows = [r for r in overdue(db, now="2026-10-09T09:00") if r["kind"] == "deadline"]
    assert [(r["run_id"], r["due_at"], r["late_by"], r["counted_in"]) for r in rows] == [
        (run, "2026-10-08T02:00:00Z", 24 * HOUR, "calendar")
    ]


def test_status_counts_a_calendar_day_deadline_in_plain_time(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    run = start(deadline_sop(defs, "Paling lambat 3 hari kalender"), db, "2026-10-05T09:00", defs)
    assert run_status(db, run, now="2026-10-09T09:00")["deadline_late_by"] == 24 * HOUR


# --------------------------------------------------------------------------- order, limit, filters


def _several_runs(tmp_path: Path, db: str | Path) -> tuple[str | Path, dict[str, str]]:
    """Runs under two calendars, with working-time and calendar-day steps."""
    defs, short = tmp_path / "defs", tmp_path / "short"
    one_step(defs, "1 jam", "satu-jam")
    one_step(defs, "2 hari kalender", "dua-hari-kalender")
    one_step(short, "1 jam", "jumat-pendek")
    (short / "calendar.yaml").write_text('hours:\n  friday: "08:00-09:00"\n', encoding="utf-8")
    runs = {
        "early": start("satu-jam", db, "2026-10-01T09:00", defs),  # due Thu 1 Oct 10:00
        "calendar": start("dua-hari-kalender", db, "2026-10-05T09:00", defs),  # due Wed 7 Oct 09:00
        "short": start("jumat-pendek", db, "2026-09-30T15:30", short),  # due Thu 1 Oct 08:30
        "late": start("satu-jam", db, "2026-10-08T09:00", defs),  # due Thu 8 Oct 10:00
        "fresh": start("satu-jam", db, "2026-10-09T09:00", defs),  # due Fri 9 Oct 10:00
    }
    return db, runs


def test_most_overdue_first_across_calendars_and_calendar_days(db_location: str | Path, tmp_path: Path) -> None:
    db, runs = _several_runs(tmp_path, db_location)
    rows = overdue(db, now="2026-10-09T11:00")
    expected = [
        # Calendar days: Wed 7th 09:00 to Fri 9th 11:00 is 50 hours.
        (runs["calendar"], 50 * HOUR),
        # Office time from Thu 1 Oct 10:00 to Fri 9 Oct 11:00: 6 (Thu 1) + 8 (Fri 2)
        # + 32 (5-8 Oct) + 3 (Fri 9) = 49 h.
        (runs["early"], 49 * HOUR),
        # Short Fridays (08:00-09:00): Thu 1 Oct 08:30-16:00 (7.5 h), Fri 2 (1 h),
        # 5-8 Oct (32 h), Fri 9 (1 h: the office closed at 09:00).
        (runs["short"], 41 * HOUR + 30 * MINUTE),
        # Thu 8 Oct 10:00-16:00 and Fri 9 Oct 08:00-11:00.
        (runs["late"], 9 * HOUR),
        (runs["fresh"], HOUR),
    ]
    assert [(r["run_id"], r["late_by"]) for r in rows] == expected
    # The shorter calendar's step was due earlier by the clock but is less late in office time.
    assert rows[2]["due_at"] < rows[1]["due_at"]
    assert count_overdue(db, "2026-10-09T11:00") == 5


def test_limit_keeps_the_most_overdue(db_location: str | Path, tmp_path: Path) -> None:
    db, _ = _several_runs(tmp_path, db_location)
    everything = overdue(db, now="2026-10-09T11:00")
    for n in range(1, len(everything) + 2):
        assert overdue(db, now="2026-10-09T11:00", limit=n) == everything[:n], n
    with pytest.raises(InputError, match="limit must be 1 or more"):
        overdue(db, now="2026-10-09T11:00", limit=0)


def test_ties_go_to_the_earlier_due_time(db_location: str | Path, tmp_path: Path) -> None:
    defs, sore, db = tmp_path / "defs", tmp_path / "sore", db_location
    one_step(defs, "1 jam", "satu-jam")
    one_step(sore, "1 jam", "jumat-sore")
    (sore / "calendar.yaml").write_text('hours:\n  friday: "08:00-17:00"\n', encoding="utf-8")
    # Opened Friday 9 October at 16:00 in an office open until 17:00 on Fridays: due 17:00.
    later = start("jumat-sore", db, "2026-10-09T16:00", sore)
    # Opened Friday 15:00, 1 jam: due Friday 16:00. Neither office works between its due time
    # and Monday, so on Monday at 09:30 both are 90 minutes late; the earlier due time comes first.
    earlier = start("satu-jam", db, "2026-10-09T15:00", defs)
    rows = overdue(db, now="2026-10-12T09:30")
    assert [(r["run_id"], r["late_by"]) for r in rows] == [(earlier, 90 * MINUTE), (later, 90 * MINUTE)]
    assert rows[0]["due_at"] == "2026-10-09T09:00:00Z" and rows[1]["due_at"] == "2026-10-09T10:00:00Z"
    assert overdue(db, now="2026-10-12T09:30", limit=1) == rows[:1]


def test_limit_across_two_calendars_reads_past_the_earliest_due_time(db_location: str | Path, tmp_path: Path) -> None:
    defs, short, db = tmp_path / "defs", tmp_path / "short", db_location
    one_step(defs, "1 jam", "satu-jam")
    one_step(short, "1 jam", "jumat-pendek")
    (short / "calendar.yaml").write_text('hours:\n  friday: "08:00-09:00"\n', encoding="utf-8")
    short_run = start("jumat-pendek", db, "2026-09-30T15:30", short)  # due Thu 1 Oct 08:30
    long_run = start("satu-jam", db, "2026-10-01T09:00", defs)  # due Thu 1 Oct 10:00
    # The short-Friday run was due first but is less late in its own office time.
    assert [(r["run_id"], r["late_by"]) for r in overdue(db, now="2026-10-09T11:00", limit=1)] == [
        (long_run, 49 * HOUR)
    ]
    assert [r["run_id"] for r in overdue(db, now="2026-10-09T11:00")] == [long_run, short_run]


def test_filter_by_actor_and_person(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    one = start("pengumpulan-data", db, "2026-10-01T09:00", period="2026-10",
                assign=[("sekretaris-dinas", "Agus"), ("staf-evaluasi", "Dedi")])
    two = start("surat-keluar", db, "2026-10-01T09:00", assign=[("kasubag-umpar", "Rina")])
    now = "2026-10-01T11:00"
    assert {r["run_id"] for r in overdue(db, now=now)} == {one, two}
    by_role = overdue(db, now=now, actor="sekretaris-dinas")
    assert [(r["run_id"], r["actor"], r["assigned"]) for r in by_role] == [(one, "sekretaris-dinas", ["Agus"])]
    assert overdue(db, now=now, actor="Kasubag Umpar") == overdue(db, now=now, actor="kasubag-umpar")
    assert [r["run_id"] for r in overdue(db, now=now, actor="Kasubag Umpar")] == [two]
    assert [r["run_id"] for r in overdue(db, now=now, person="agus")] == [one]
    assert [r["run_id"] for r in overdue(db, now=now, person="Rina")] == [two]
    assert overdue(db, now=now, person="Dedi") == []  # assigned, but not to an open step's role
    assert overdue(db, now=now, person="Rina", actor="sekretaris-dinas") == []
    with pytest.raises(InputError, match="has a role 'lurah'; roles are: .*kasubag-umpar"):
        overdue(db, now=now, actor="lurah")


def test_filters_apply_to_runs_past_their_deadline(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    run = start(deadline_sop(defs), db, "2026-10-05T09:00", defs, assign=[("sekretaris", "Sari")])
    complete(db, run, by="ani", now="2026-10-05T09:20")
    now = "2026-10-09T11:00"
    assert [r["kind"] for r in overdue(db, now=now, actor="sekretaris")] == ["deadline"]
    assert overdue(db, now=now, actor="kasubag") == []
    only = overdue(db, now=now, person="sari")
    assert [r["kind"] for r in only] == ["deadline"]
    assert only[0]["waiting_on"][0]["assigned"] == ["Sari"]
    assert overdue(db, now=now, person="ani") == []


def test_an_open_store_can_be_passed_and_stays_open(db_location: str | Path, tmp_path: Path) -> None:
    from sopengine.store import Store

    db = db_location
    run = start("pengumpulan-data", db, "2026-10-01T09:00", period="2026-10")
    with Store(db) as store:
        for _ in range(2):
            assert steps_of(overdue(store, now="2026-10-01T10:15")) == [(run, "kumpulkan-data", HOUR)]
            assert count_overdue(store, "2026-10-01T10:15") == 1
        assert store.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_reading_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    with pytest.raises(DatabaseMissing, match=r"no database at .*nowhere\.db"):
        overdue(missing, now="2026-10-09T11:00")
    with pytest.raises(DatabaseMissing):
        count_overdue(missing, "2026-10-09T11:00")
    assert not missing.exists()


@pytest.mark.sqlite_only
def test_the_step_query_walks_the_partial_index(tmp_path: Path) -> None:
    from sopengine.store.queries import COUNT_OVERDUE_SQL, overdue_steps_sql

    db = tmp_path / "p.db"
    start("pengumpulan-data", db, "2026-10-01T09:00", period="2026-10")
    conn = sqlite3.connect(db)
    conn.create_function("sop_fold", 1, str.casefold, deterministic=True)
    for roles, person in ((None, None), (["kepala-bidang"], None), (None, "Agus"), (["kepala-bidang"], "Agus")):
        sql, args = overdue_steps_sql("2026-10-09T04:00:00Z", roles, person)
        plan = " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
        # by due time, in due order: the walk stops after the rows it needs, closed tasks never read
        assert "USING INDEX tasks_open_due (due_at<?)" in plan and "TEMP B-TREE" not in plan, plan
    plan = " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + COUNT_OVERDUE_SQL, ["2026-10-09T04:00:00Z"]))
    assert "tasks_open_due" in plan, plan


def test_a_lateness_of_a_working_day_or_more_is_also_given_in_days(db_location: str | Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sopengine.cli import cli

    defs, db = tmp_path / "defs", db_location
    one_step(defs, "1 jam")
    run = start("satu-langkah", db, "2026-10-05T09:00", defs)  # due Monday 10:00
    [row] = overdue(db, now="2026-10-07T10:00")
    assert (row["run_id"], row["late_by"], row["late_by_days"]) == (run, 16 * HOUR, 2)
    [row] = overdue(db, now="2026-10-05T15:00")
    assert (row["late_by"], row["late_by_days"]) == (5 * HOUR, 0)
    shown = CliRunner().invoke(cli, ["overdue", "--db", str(db), "--now", "2026-10-07T10:00"], catch_exceptions=False)
    assert "16 h (2 hari kerja)" in shown.output
    shown = CliRunner().invoke(cli, ["overdue", "--db", str(db), "--now", "2026-10-05T15:00"], catch_exceptions=False)
    assert "5 h" in shown.output and "hari kerja" not in shown.output


def test_a_person_is_found_whatever_the_case_beyond_ascii(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start("pengumpulan-data", db, "2026-10-01T09:00", period="2026-10", assign=[("sekretaris-dinas", "ÖZGÜR")])
    now = "2026-10-01T11:00"
    assert [r["run_id"] for r in overdue(db, now=now, person="özgür")] == [run]
    assert [r["run_id"] for r in overdue(db, now=now, person="  Özgür ")] == [run]
    assert overdue(db, now=now, person="ozgur") == []


def test_a_persons_finished_runs_are_not_read(db_location: str | Path, tmp_path: Path) -> None:
    # An assignment in a run that has ended leaves nothing waiting: only open steps count.
    db = db_location
    done = start("surat-keluar", db, "2026-10-01T09:00", assign=[("kasubag-umpar", "Rina")])
    from sopengine.runs import cancel

    cancel(db, done, reason="salah input", by="Rina", now="2026-10-01T09:10")
    live = start("surat-keluar", db, "2026-10-01T09:20", assign=[("kasubag-umpar", "Rina")])
    assert [r["run_id"] for r in overdue(db, now="2026-10-01T11:00", person="rina")] == [live]


def plan_of(db: Path, sql: str, args: list[object]) -> str:
    conn = sqlite3.connect(db)
    conn.create_function("sop_fold", 1, str.casefold, deterministic=True)
    try:
        return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
    finally:
        conn.close()


@pytest.mark.sqlite_only  # SQLite's query plans
def test_the_deadline_and_inbox_queries_read_work_in_flight_only(tmp_path: Path) -> None:
    """Each query starts from a partial index of open tasks or active runs; a person's or a
    role's filter is an index lookup per row, never a scan of the assignments or of the runs."""
    from sopengine.store.queries import inbox_sql, overdue_deadlines_sql

    defs, db = tmp_path / "defs", tmp_path / "p.db"
    start(deadline_sop(defs), db, "2026-10-05T09:00", defs, assign=[("sekretaris", "Sari")])
    at = "2026-10-09T04:00:00Z"
    for roles, person in ((None, None), (["sekretaris"], None), (None, "Sari"), (["sekretaris"], "Sari")):
        plan = plan_of(db, *overdue_deadlines_sql(at, ["surat-tenggat"], roles, person))
        assert plan.startswith("SEARCH runs USING INDEX runs_active_due (due_at<?)") and "TEMP B-TREE" not in plan, plan
        assert "SCAN" not in plan, plan
    # the inbox reads the open tasks only (never tasks_run, which holds every task ever opened)
    # and sorts the few it keeps
    plan = plan_of(db, *inbox_sql(person="Sari"))
    assert plan.startswith("SCAN t USING INDEX tasks_open_due"), plan
    assert "SEARCH a USING COVERING INDEX sqlite_autoindex_assignments_1 (run_id=? AND role=?)" in plan, plan
    for args in ({"roles": ["sekretaris"]}, {}):
        plan = plan_of(db, *inbox_sql(**args))
        assert plan.startswith("SCAN t USING INDEX tasks_open_due") and "tasks_run" not in plan, plan
