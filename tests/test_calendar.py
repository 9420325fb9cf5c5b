"""Tests of the working calendar: office hours, Indonesian holidays and due-time arithmetic.

Expected times are worked out by hand from the 2025/2026 calendars (WIB is UTC+7, so
10:00 WIB is 03:00Z). The slow references below walk day by day and use the
``holidays`` package directly, independently of the calendar's own bookkeeping.
"""

from __future__ import annotations

import json
import subprocess
import sys
import timeit
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopengine.calendar import (
    CALENDAR_ENV_VAR,
    DEFAULT_CALENDAR_FILE,
    WorkCalendar,
    load_calendar,
    resolve_calendar_path,
)
from sopengine.errors import InputError

WIB = ZoneInfo("Asia/Jakarta")
UTC = timezone.utc
YEARS = (2025, 2026, 2027)


def wib(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=WIB)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return load_calendar(None, years=YEARS)


def write(tmp_path: Path, text: str, name: str = "calendar.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- defaults


def test_default_file_hours_and_zone(cal: WorkCalendar) -> None:
    assert DEFAULT_CALENDAR_FILE.is_file()
    assert cal.zone == "Asia/Jakarta"
    assert cal.tz == WIB
    assert cal.describe_hours() == [
        ("Senin", "08:00–16:00"),
        ("Selasa", "08:00–16:00"),
        ("Rabu", "08:00–16:00"),
        ("Kamis", "08:00–16:00"),
        ("Jumat", "08:00–16:00"),
        ("Sabtu", "tutup"),
        ("Minggu", "tutup"),
    ]
    assert cal.hours_on(date(2026, 3, 10)) == (time(8), time(16))
    assert cal.hours_on(date(2026, 3, 7)) is None  # Saturday


def test_results_are_utc(cal: WorkCalendar) -> None:
    result = cal.due(wib(2026, 3, 10, 10), {"minutes": 60})
    assert result.tzinfo is UTC
    assert result == utc(2026, 3, 10, 4)


# --------------------------------------------------------------------------- office minutes


def test_two_hours_at_1530_is_due_next_morning_0930(cal: WorkCalendar) -> None:
    # Tuesday 10 March 2026: 30 minutes left today, 90 minutes from Wednesday 08:00.
    assert cal.due(wib(2026, 3, 10, 15, 30), {"minutes": 120}) == utc(2026, 3, 11, 2, 30)


def test_step_across_a_weekend(cal: WorkCalendar) -> None:
    # Friday 6 March 2026 15:00 + 2 jam: 1 hour on Friday, 1 hour on Monday 9 March.
    assert cal.due(wib(2026, 3, 6, 15), {"minutes": 120}) == utc(2026, 3, 9, 2)


def test_deadline_may_fall_on_closing_time(cal: WorkCalendar) -> None:
    assert cal.due(wib(2026, 3, 10, 15), {"minutes": 60}) == utc(2026, 3, 10, 9)  # 16:00 WIB


def test_independence_day_2026_monday(cal: WorkCalendar) -> None:
    assert not cal.is_working_day(date(2026, 8, 17))
    assert (date(2026, 8, 17), "Hari Kemerdekaan Republik Indonesia") in cal.closed_days(2026)
    # Friday 14 August 15:00 + 2 jam: Monday 17 is closed, due Tuesday 18 at 09:00.
    assert cal.due(wib(2026, 8, 14, 15), {"minutes": 120}) == utc(2026, 8, 18, 2)
    # Friday 14 August 10:00 + 1 hari: Tuesday 18 at 10:00.
    assert cal.due(wib(2026, 8, 14, 10), {"days": 1}) == utc(2026, 8, 18, 3)


def test_idul_fitri_2026_with_cuti_bersama(cal: WorkCalendar) -> None:
    # 18 Mar cuti Nyepi, 19 Nyepi, 20 cuti Idul Fitri, 21-22 Idul Fitri (weekend), 23-24 cuti.
    for day in (18, 19, 20, 23, 24):
        assert not cal.is_working_day(date(2026, 3, day)), day
    assert cal.is_working_day(date(2026, 3, 25))
    names = dict(cal.closed_days(2026))
    assert names[date(2026, 3, 20)] == "Cuti Bersama Hari Raya Idul Fitri"
    assert names[date(2026, 3, 21)] == "Hari Raya Idul Fitri"
    # Tuesday 17 March 10:00 + 1 hari: the next working day is Wednesday 25 March.
    assert cal.due(wib(2026, 3, 17, 10), {"days": 1}) == utc(2026, 3, 25, 3)
    # Tuesday 17 March 15:00 + 2 jam: 1 hour on the 17th, 1 hour on the 25th.
    assert cal.due(wib(2026, 3, 17, 15), {"minutes": 120}) == utc(2026, 3, 25, 2)


def test_idul_fitri_2025(cal: WorkCalendar) -> None:
    # Thursday 27 March 2025 15:00 + 2 jam: closed 28 Mar (cuti Nyepi) to 7 Apr (cuti
    # Idul Fitri), due Tuesday 8 April 09:00.
    assert cal.due(wib(2025, 3, 27, 15), {"minutes": 120}) == utc(2025, 4, 8, 2)


def test_without_cuti_bersama(tmp_path: Path) -> None:
    path = write(tmp_path, "holidays:\n  country: ID\n  cuti_bersama: false\n")
    cal = load_calendar(path, years=[2026])
    assert cal.is_working_day(date(2026, 3, 18))  # cuti bersama Nyepi
    assert not cal.is_working_day(date(2026, 3, 19))  # Nyepi itself
    assert cal.is_working_day(date(2026, 3, 20))
    assert cal.due(wib(2026, 3, 18, 10), {"days": 1}) == utc(2026, 3, 20, 3)
    assert cal.due(wib(2026, 3, 20, 10), {"days": 1}) == utc(2026, 3, 23, 3)


# --------------------------------------------------------------------------- opened outside office hours


def test_opened_at_1559(cal: WorkCalendar) -> None:
    # One minute on Tuesday, 59 on Wednesday.
    assert cal.due(wib(2026, 3, 10, 15, 59), {"minutes": 60}) == utc(2026, 3, 11, 1, 59)


def test_opened_at_1600_counts_from_next_opening(cal: WorkCalendar) -> None:
    assert cal.due(wib(2026, 3, 10, 16), {"minutes": 60}) == utc(2026, 3, 11, 2)
    # Counted from Wednesday 08:00; one working day later is Thursday 08:00, the same office
    # instant as Wednesday 16:00, which is the form given (as for a step opened at 15:59).
    assert cal.due(wib(2026, 3, 10, 16), {"days": 1}) == utc(2026, 3, 11, 9)  # Wednesday 16:00
    assert cal.due(wib(2026, 3, 10, 15, 59), {"days": 1}) == utc(2026, 3, 11, 8, 59)
    assert cal.due(wib(2026, 3, 10, 16), {"days": 2}) == utc(2026, 3, 12, 9)  # Thursday 16:00
    assert cal.due(wib(2026, 3, 10, 8), {"days": 1}) == utc(2026, 3, 10, 9)  # one full day: Tuesday 16:00
    # The two forms are the same moment in office time: no lateness between them.
    assert cal.late_by(utc(2026, 3, 11, 9), wib(2026, 3, 12, 8)) == 0


def test_opened_before_opening(cal: WorkCalendar) -> None:
    assert cal.due(wib(2026, 3, 10, 6, 30), {"minutes": 60}) == utc(2026, 3, 10, 2)


def test_opened_on_a_holiday(cal: WorkCalendar) -> None:
    assert cal.due(wib(2026, 8, 17, 10), {"minutes": 60}) == utc(2026, 8, 18, 2)


def test_opened_on_a_saturday(cal: WorkCalendar) -> None:
    assert cal.due(wib(2026, 3, 7, 10), {"minutes": 60}) == utc(2026, 3, 9, 2)
    assert cal.due(wib(2026, 3, 7, 10), {"days": 1}) == utc(2026, 3, 9, 9)  # Monday 16:00 (= Tuesday 08:00)


def test_zero_duration_gives_normalised_open_time(cal: WorkCalendar) -> None:
    assert cal.due(wib(2026, 3, 10, 10, 15), {}) == utc(2026, 3, 10, 3, 15)
    assert cal.due(wib(2026, 3, 10, 16), {"minutes": 0, "days": 0}) == utc(2026, 3, 11, 1)
    assert cal.due(wib(2026, 3, 7, 10), {"minutes": 0}) == utc(2026, 3, 9, 1)


# --------------------------------------------------------------------------- working days and calendar days


def test_two_days_tuesday_to_thursday(cal: WorkCalendar) -> None:
    assert cal.due(wib(2026, 3, 10, 10), {"days": 2}) == utc(2026, 3, 12, 3)


def test_days_then_minutes(cal: WorkCalendar) -> None:
    # Tuesday 10 March 15:00 + 1 hari -> Wednesday 15:00, + 2 jam -> Thursday 09:00.
    assert cal.due(wib(2026, 3, 10, 15), {"days": 1, "minutes": 120}) == utc(2026, 3, 12, 2)


def test_calendar_days(cal: WorkCalendar) -> None:
    # 14 hari kalender from Tuesday 10 March 10:00 ends on 24 March even though it is cuti bersama.
    assert cal.due(wib(2026, 3, 10, 10), {"days": 14, "calendar": True}) == utc(2026, 3, 24, 3)
    # No normalisation: opened Saturday evening, 3 calendar days later at the same time.
    assert cal.due(wib(2026, 3, 7, 20), {"days": 3, "calendar": True}) == utc(2026, 3, 10, 13)
    assert cal.due(wib(2026, 3, 7, 20), {"minutes": 90, "calendar": True}) == utc(2026, 3, 7, 14, 30)


def test_short_friday_from_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'hours:\n  friday: "08:00-11:30"\n')
    cal = load_calendar(path, years=[2026])
    assert cal.hours_on(date(2026, 3, 6)) == (time(8), time(11, 30))
    assert cal.describe_hours()[4] == ("Jumat", "08:00–11:30")
    assert cal.hours_on(date(2026, 3, 5)) == (time(8), time(16))  # other days keep the default
    # Friday 6 March 11:00 + 2 jam: 30 minutes on Friday, 90 on Monday.
    assert cal.due(wib(2026, 3, 6, 11), {"minutes": 120}) == utc(2026, 3, 9, 2, 30)
    # Thursday 14:00 + 1 hari: Friday closes at 11:30, so due at its closing.
    assert cal.due(wib(2026, 3, 5, 14), {"days": 1}) == utc(2026, 3, 6, 4, 30)
    assert cal.due(wib(2026, 3, 5, 10), {"days": 1}) == utc(2026, 3, 6, 3)
    # Opened Friday 11:30 (closed): counting starts Monday 08:00.
    assert cal.due(wib(2026, 3, 6, 11, 30), {"minutes": 30}) == utc(2026, 3, 9, 1, 30)


def test_definition_overrides_zone_and_hours() -> None:
    cal = load_calendar(None, years=[2026], timezone="Asia/Makassar", hours={"jumat": "07:30-11:00"})
    assert cal.zone == "Asia/Makassar"
    wita = ZoneInfo("Asia/Makassar")
    # 10:00 WITA is 02:00Z; + 1 jam -> 11:00 WITA = 03:00Z.
    assert cal.due(datetime(2026, 3, 10, 10, tzinfo=wita), {"minutes": 60}) == utc(2026, 3, 10, 3)
    assert cal.hours_on(date(2026, 3, 6)) == (time(7, 30), time(11))


# --------------------------------------------------------------------------- long steps against a slow reference


def reference_working_days() -> set[date]:
    closed = holidays.country_holidays("ID", years=YEARS, language="id", categories=("public", "government"))
    day = date(2025, 1, 1)
    days = set()
    while day.year <= 2027:
        if day.weekday() < 5 and day not in closed:
            days.add(day)
        day += timedelta(days=1)
    return days


def reference_due_days(opened: datetime, n: int, working: set[date]) -> datetime:
    day = opened.date()
    while day not in working:
        day += timedelta(days=1)
    for _ in range(n):
        day += timedelta(days=1)
        while day not in working:
            day += timedelta(days=1)
    return datetime.combine(day, opened.timetz()).astimezone(UTC)


def reference_due_minutes(opened: datetime, minutes: int, working: set[date]) -> datetime:
    day, clock = opened.date(), max(opened.hour * 60 + opened.minute, 8 * 60)
    left = minutes
    while True:
        if day in working and clock < 16 * 60:
            available = 16 * 60 - clock
            if left <= available:
                return datetime.combine(day, time(0), tzinfo=WIB).astimezone(UTC) + timedelta(minutes=clock + left)
            left -= available
        day, clock = day + timedelta(days=1), 8 * 60


def test_120_day_step_matches_reference(cal: WorkCalendar) -> None:
    working = reference_working_days()
    for opened in (wib(2026, 1, 5, 10), wib(2025, 11, 20, 14, 45), wib(2026, 3, 17, 9)):
        expected = reference_due_days(opened, 120, working)
        assert cal.due(opened, {"days": 120}) == expected, opened
    # Hand check of the first one: 120 working days after Monday 5 January 2026.
    assert cal.due(wib(2026, 1, 5, 10), {"days": 120}) == utc(2026, 7, 14, 3)


def test_120_days_of_office_minutes_matches_reference(cal: WorkCalendar) -> None:
    working = reference_working_days()
    for opened in (wib(2026, 1, 5, 10), wib(2025, 12, 31, 15, 30), wib(2026, 8, 14, 15)):
        for minutes in (1, 479, 480, 481, 120 * 480, 120 * 480 + 7):
            expected = reference_due_minutes(opened, minutes, working)
            assert cal.due(opened, {"minutes": minutes}) == expected, (opened, minutes)


def test_working_seconds_over_a_whole_year(cal: WorkCalendar) -> None:
    working = reference_working_days()
    days_2026 = sum(1 for d in working if d.year == 2026)
    assert cal.working_seconds(wib(2026, 1, 1), wib(2027, 1, 1)) == days_2026 * 8 * 3600
    assert cal.working_seconds(wib(2026, 3, 6, 15), wib(2026, 3, 9, 9)) == 7200
    assert cal.working_seconds(wib(2026, 3, 9, 9), wib(2026, 3, 6, 15)) == 0
    assert cal.working_seconds(wib(2026, 3, 7, 9), wib(2026, 3, 8, 15)) == 0


def test_due_for_120_days_is_fast(cal: WorkCalendar) -> None:
    opened = wib(2026, 1, 5, 10)
    runs = timeit.repeat(lambda: cal.due(opened, {"days": 120}), number=200, repeat=9)
    median = sorted(runs)[len(runs) // 2] / 200
    assert median < 0.0001, f"{median * 1e6:.1f} µs per call"


# --------------------------------------------------------------------------- lateness


def test_late_by(cal: WorkCalendar) -> None:
    due_at = wib(2026, 3, 10, 15)
    assert cal.late_by(due_at, wib(2026, 3, 11, 9)) == 7200  # 1 h Tuesday + 1 h Wednesday
    assert cal.late_by(due_at, wib(2026, 3, 11, 9), calendar_days=True) == 18 * 3600
    assert cal.late_by(due_at, wib(2026, 3, 10, 14)) == 0
    assert cal.late_by(due_at, due_at) == 0


# --------------------------------------------------------------------------- properties


def _working_days_2025_2026(cal: WorkCalendar) -> list[date]:
    return [d for d in (date(2025, 1, 1) + timedelta(days=i) for i in range(730)) if cal.is_working_day(d)]


_CAL = load_calendar(None, years=YEARS)
_WORKING = _working_days_2025_2026(_CAL)
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(WIB))
durations = st.fixed_dictionaries({"minutes": st.integers(0, 40_000), "days": st.integers(0, 150)})


@settings(max_examples=300, deadline=None)
@given(a=instants, b=instants, duration=durations)
def test_due_is_monotonic_in_open_time(a: datetime, b: datetime, duration: dict) -> None:
    early, late = sorted((a, b))
    assert _CAL.due(early, duration) <= _CAL.due(late, duration)


@settings(max_examples=300, deadline=None)
@given(opened=instants, m1=st.integers(0, 40_000), m2=st.integers(0, 40_000), d1=st.integers(0, 150), d2=st.integers(0, 150))
def test_due_is_monotonic_in_duration(opened: datetime, m1: int, m2: int, d1: int, d2: int) -> None:
    m1, m2 = sorted((m1, m2))
    d1, d2 = sorted((d1, d2))
    assert _CAL.due(opened, {"minutes": m1}) <= _CAL.due(opened, {"minutes": m2})
    assert _CAL.due(opened, {"days": d1}) <= _CAL.due(opened, {"days": d2})
    assert _CAL.due(opened, {"days": d1, "minutes": m1}) <= _CAL.due(opened, {"days": d2, "minutes": m2})


@settings(max_examples=300, deadline=None)
@given(
    day=st.sampled_from(_WORKING),
    clock=st.integers(8 * 3600, 16 * 3600 - 1),
    micro=st.integers(0, 999_999),
    minutes=st.integers(0, 60_000),
)
def test_working_seconds_inverts_due(day: date, clock: int, micro: int, minutes: int) -> None:
    opened = datetime.combine(day, time(0), tzinfo=WIB) + timedelta(seconds=clock, microseconds=micro)
    assert _CAL.working_seconds(opened, _CAL.due(opened, {"minutes": minutes})) == minutes * 60


# --------------------------------------------------------------------------- snapshots


def test_snapshot_round_trip(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'hours:\n  friday: "08:00-11:30"\n'
        'closed:\n  - {date: 2026-03-10, name: "Hari Jadi Kota"}\n'
        'open:\n  - {date: 2026-03-07, name: "Sabtu kerja", hours: "08:00-12:00"}\n',
    )
    original = load_calendar(path, years=[2026])
    snapshot = json.loads(json.dumps(original.snapshot()))
    copy = WorkCalendar.from_snapshot(snapshot)
    assert copy == original
    assert copy.snapshot() == snapshot
    assert snapshot["zone"] == "Asia/Jakarta"
    assert snapshot["years"] == [2026]
    assert snapshot["hours"]["friday"] == "08:00-11:30"
    assert snapshot["hours"]["saturday"] is None
    assert {"date": "2026-03-10", "name": "Hari Jadi Kota"} in snapshot["closed"]
    assert snapshot["open"] == [{"date": "2026-03-07", "name": "Sabtu kerja", "hours": "08:00-12:00"}]
    assert copy.closed_days(2026) == original.closed_days(2026)
    start = wib(2026, 1, 2, 9)
    for hours in range(0, 24 * 40, 7):
        opened = start + timedelta(hours=hours)
        for duration in ({"minutes": 95}, {"days": 3}, {"days": 2, "minutes": 600}, {"days": 30}):
            assert copy.due(opened, duration) == original.due(opened, duration)
        assert copy.working_seconds(start, opened) == original.working_seconds(start, opened)


def test_from_snapshot_imports_neither_holidays_nor_yaml(cal: WorkCalendar) -> None:
    code = (
        "import json, sys\n"
        "from datetime import datetime, timezone\n"
        "from sopengine.calendar import WorkCalendar\n"
        "cal = WorkCalendar.from_snapshot(json.loads(sys.stdin.read()))\n"
        "print(cal.due(datetime(2026, 8, 14, 8, tzinfo=timezone.utc), {'minutes': 120}).isoformat())\n"
        "print(sorted(m for m in ('holidays', 'yaml') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(cal.snapshot()),
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={"PYTHONPATH": str(root)},
    ).stdout.splitlines()
    # Friday 14 August 15:00 WIB + 2 jam -> Tuesday 18 August 09:00 WIB.
    assert out == ["2026-08-18T02:00:00+00:00", "[]"]


def test_outside_covered_years_only_weekends_and_hours() -> None:
    cal = load_calendar(None, years=[2026])
    assert cal.is_working_day(date(2027, 8, 17))  # a Tuesday holiday, but 2027 is not covered
    assert not cal.is_working_day(date(2027, 8, 14))  # Saturday
    assert cal.closed_days(2027) == []
    assert cal.due(wib(2027, 8, 16, 15), {"minutes": 120}) == utc(2027, 8, 17, 2)


# --------------------------------------------------------------------------- extra closed and open days


def test_extra_closed_and_open_days(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "closed:\n"
        '  - {date: 2026-03-10, name: "Hari Jadi Kota"}\n'
        "open:\n"
        '  - {date: 2026-03-07, name: "Sabtu kerja", hours: "08:00-12:00"}\n'
        '  - {date: 2026-08-17, name: "Upacara dipindah"}\n'
        '  - {date: 2026-03-14, name: "Sabtu pengganti"}\n',
    )
    cal = load_calendar(path, years=[2026])
    assert not cal.is_working_day(date(2026, 3, 10))
    assert (date(2026, 3, 10), "Hari Jadi Kota") in cal.closed_days(2026)
    assert cal.hours_on(date(2026, 3, 7)) == (time(8), time(12))
    assert cal.hours_on(date(2026, 3, 14)) == (time(8), time(16))  # Monday's hours
    # An open entry cancels the package's holiday on that date.
    assert cal.is_working_day(date(2026, 8, 17))
    assert date(2026, 8, 17) not in dict(cal.closed_days(2026))
    assert cal.extra_working_days(2026)[0] == (date(2026, 3, 7), "Sabtu kerja")
    # Friday 6 March 15:00 + 2 jam: 1 hour Friday, 1 hour on the working Saturday.
    assert cal.due(wib(2026, 3, 6, 15), {"minutes": 120}) == utc(2026, 3, 7, 2)
    # Friday 14:00 + 1 hari: Saturday closes at 12:00.
    assert cal.due(wib(2026, 3, 6, 14), {"days": 1}) == utc(2026, 3, 7, 5)
    # Monday 9 March 10:00 + 1 hari skips the closed Tuesday.
    assert cal.due(wib(2026, 3, 9, 10), {"days": 1}) == utc(2026, 3, 11, 3)
    assert cal.due(wib(2026, 8, 14, 15), {"minutes": 120}) == utc(2026, 8, 17, 2)
    # Entries outside the covered years are left out, like the package's holidays.
    other = load_calendar(path, years=[2025])
    assert other.is_working_day(date(2026, 3, 10))
    assert not other.is_working_day(date(2026, 3, 7))


def test_holidays_false_uses_only_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "holidays: false\nclosed:\n  - {date: 2026-03-10, name: Libur}\n")
    cal = load_calendar(path, years=[2026])
    assert cal.is_working_day(date(2026, 8, 17))
    assert cal.closed_days(2026) == [(date(2026, 3, 10), "Libur")]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("timezone: Asia/Jakarta\nholiday: {}\n", "unknown key 'holiday'"),
        ('hours:\n  monday: "8-16"\n', "hours.monday"),
        ('hours:\n  monday: "08:00-25:00"\n', "hours.monday"),
        ('hours:\n  monday: "16:00-08:00"\n', "hours.monday"),
        ('hours:\n  funday: "08:00-16:00"\n', "unknown weekday 'funday'"),
        ("hours:\n  monday: tutup\n", "hours.monday"),
        ("timezone: Asia/Jakartaa\n", "timezone"),
        ("closed:\n  - {date: 2026-02-30, name: X}\n", "closed[1].date"),
        ("closed:\n  - {date: 31-12-2026, name: X}\n", "closed[1].date"),
        ("closed:\n  - {date: 2026-12-31}\n", "closed[1].name"),
        ("closed:\n  - {date: 2026-12-31, name: X, reason: Y}\n", "unknown key 'reason'"),
        ("open:\n  - {date: 2026-12-31, hours: '9-5'}\n", "open[1].hours"),
        ("closed:\n  - {date: 2026-12-31, name: X}\nopen:\n  - {date: 2026-12-31}\n", "both closed and open"),
        ("holidays:\n  country: ID\n  cuti_bersama: maybe\n", "holidays.cuti_bersama"),
        ("holidays:\n  country: XX\n", "holidays.country"),
        ("hours: {monday: null, tuesday: null, wednesday: null, thursday: null, friday: null}\n", "every weekday"),
        ("hours: [monday]\n", "hours"),
        ("timezone: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_calendar_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text, name="kantor-calendar.yaml")
    with pytest.raises(InputError) as info:
        load_calendar(path, years=[2026])
    message = str(info.value)
    assert "kantor-calendar.yaml" in message
    assert fragment in message
    assert "\n" not in message


def test_missing_calendar_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.yaml"):
        load_calendar(tmp_path / "nope.yaml", years=[2026])


def test_bad_overrides() -> None:
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        load_calendar(None, years=[2026], timezone="Mars/Olympus")
    with pytest.raises(InputError, match="hours.friday"):
        load_calendar(None, years=[2026], hours={"friday": "08:00"})


@pytest.mark.parametrize(
    "duration",
    [{"hours": 2}, {"minutes": -5}, {"days": 1.5}, {"minutes": "60"}, {"calendar": "yes"}, {"days": True}],
)
def test_bad_duration(cal: WorkCalendar, duration: dict) -> None:
    with pytest.raises(InputError, match="duration"):
        cal.due(wib(2026, 3, 10, 10), duration)


def test_naive_datetime_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(InputError, match="no time zone"):
        cal.due(datetime(2026, 3, 10, 10), {"minutes": 60})


# --------------------------------------------------------------------------- choosing the file


def test_resolve_calendar_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CALENDAR_ENV_VAR, raising=False)
    defs_a, defs_b = tmp_path / "a", tmp_path / "b"
    defs_a.mkdir()
    defs_b.mkdir()
    in_b = write(defs_b, "{}\n")
    option = write(tmp_path, "{}\n", name="option.yaml")
    env = write(tmp_path, "{}\n", name="env.yaml")

    assert resolve_calendar_path(None, [defs_a]) is None
    assert resolve_calendar_path(None, [defs_a, defs_b]) == in_b
    monkeypatch.setenv(CALENDAR_ENV_VAR, str(env))
    assert resolve_calendar_path(None, [defs_a, defs_b]) == env
    assert resolve_calendar_path(str(option), [defs_a, defs_b]) == option

    with pytest.raises(InputError, match="missing.yaml"):
        resolve_calendar_path(str(tmp_path / "missing.yaml"), [])
    monkeypatch.setenv(CALENDAR_ENV_VAR, str(tmp_path / "gone.yaml"))
    with pytest.raises(InputError, match=CALENDAR_ENV_VAR):
        resolve_calendar_path(None, [defs_b])


@pytest.mark.parametrize("opened", [(2026, 3, 10, 10), (2026, 3, 10, 16), (2026, 3, 7, 10), (2026, 3, 13, 8)])
@pytest.mark.parametrize("days", [1, 2, 17, 120])
def test_working_days_counts_back_the_days_of_a_due_time(cal: WorkCalendar, opened: tuple[int, ...], days: int) -> None:
    start = wib(*opened)
    due = cal.due(start, {"days": days})
    assert cal.working_days(start, due) == days
    assert cal.working_days(start, due - timedelta(minutes=1)) == days - 1
    assert cal.working_days(start, due + timedelta(hours=30)) >= days


def test_working_days_of_a_lateness_across_holidays(cal: WorkCalendar) -> None:
    due = wib(2026, 8, 14, 9)  # Friday; Monday 17 August is Hari Kemerdekaan
    assert cal.working_days(due, wib(2026, 8, 18, 9)) == 1
    assert cal.working_days(due, wib(2026, 8, 18, 8, 59)) == 0
    assert cal.working_days(due, due) == 0 and cal.working_days(due, wib(2026, 8, 1)) == 0
