"""Reading the SOP's waktu column: every accepted form, and the texts refused."""

from __future__ import annotations

import time

import pytest

from sopengine.definition.durations import DurationError, format_duration, parse_duration, suggest_duration


def d(days: int = 0, minutes: int = 0, calendar: bool = False) -> dict[str, int | bool]:
    return {"days": days, "minutes": minutes, "calendar": calendar}


ACCEPTED = [
    # Indonesian, as SOPs print it
    ("15 Menit", d(minutes=15)),
    ("30 menit", d(minutes=30)),
    ("5 mnt", d(minutes=5)),
    ("2 jam", d(minutes=120)),
    ("1 jam 30 menit", d(minutes=90)),
    ("1 jam dan 30 menit", d(minutes=90)),
    ("1,5 jam", d(minutes=90)),
    ("setengah jam", d(minutes=30)),
    ("2 Hari", d(days=2)),
    ("120 Hari", d(days=120)),
    ("3 hari kerja", d(days=3)),
    ("2 hari kalender", d(days=2, calendar=True)),
    ("2 (dua) hari", d(days=2)),
    ("dua hari", d(days=2)),
    ("1 minggu", d(days=5)),
    ("2 pekan", d(days=10)),
    ("2 minggu kalender", d(days=14, calendar=True)),
    ("2 jam kerja", d(minutes=120)),
    ("Paling lambat 17 hari kerja", d(days=17)),
    ("selambat-lambatnya 3 hari", d(days=3)),
    ("Maksimal 2 jam", d(minutes=120)),
    ("  15   Menit. ", d(minutes=15)),
    # English
    ("15 minutes", d(minutes=15)),
    ("1 minute", d(minutes=1)),
    ("45 min", d(minutes=45)),
    ("1 hour", d(minutes=60)),
    ("2 hours and 15 minutes", d(minutes=135)),
    ("1.5 hours", d(minutes=90)),
    ("3 days", d(days=3)),
    ("3 working days", d(days=3)),
    ("3 business days", d(days=3)),
    ("2 calendar days", d(days=2, calendar=True)),
    ("4 days calendar", d(days=4, calendar=True)),
    ("1 week", d(days=5)),
    ("two days", d(days=2)),
    ("at most 10 working days", d(days=10)),
    ("within 2 days", d(days=2)),
    # ISO 8601
    ("PT15M", d(minutes=15)),
    ("pt2h", d(minutes=120)),
    ("PT1H30M", d(minutes=90)),
    ("P2D", d(days=2)),
    ("P1W", d(days=5)),
    ("P1DT2H", d(days=1, minutes=120)),
    # "N x 24 jam" is N days (working days, as "N hari"), not 24 hours of office time
    ("1 x 24 jam", d(days=1)),
    ("3x24 jam", d(days=3)),
    ("2 × 24 Jam", d(days=2)),
    ("1 x 24 jam kerja", d(days=1)),
    ("Paling lambat 3 x 24 jam", d(days=3)),
    # approximate times count the number written
    ("± 30 menit", d(minutes=30)),
    ("±2 jam", d(minutes=120)),
    ("+/- 15 menit", d(minutes=15)),
    ("kurang lebih 2 jam", d(minutes=120)),
    ("sekitar 1 jam", d(minutes=60)),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted(text: str, expected: dict[str, int | bool]) -> None:
    assert parse_duration(text) == expected


REFUSED = [
    # windows: when, not how long
    ("Setiap Saat", "says when the step may be done", True),
    ("setiap saat", "says when the step may be done", True),
    ("Pada hari dan jam kerja", "says when the step may be done", True),
    ("Pada hari kerja", "says when the step may be done", True),
    ("jam kerja", "says when the step may be done", True),
    ("Sewaktu-waktu", "says when the step may be done", True),
    ("any time", "says when the step may be done", True),
    # ranges
    ("15-30 menit", "is a range", False),
    ("15 – 30 menit", "is a range", False),
    ("1 s.d. 2 hari", "is a range", False),
    ("2 sampai 3 hari", "is a range", False),
    # unknown units
    ("15 detik", "unknown unit of time 'detik'", False),
    ("2 bulan", "unknown unit of time 'bulan'", False),
    ("3 tahun", "unknown unit of time 'tahun'", False),
    ("10 seconds", "unknown unit of time 'seconds'", False),
    ("30 mnit", "unknown unit of time 'mnit' in '30 mnit' (did you mean 'menit'?)", False),
    ("2 jem", "(did you mean 'jam'?)", False),
    # not a duration at all
    ("", "waktu is empty", False),
    ("menit", "cannot read 'menit' as a duration", False),
    ("segera sekali", "cannot read", False),
    ("beberapa hari", "no number before 'hari'", False),
    ("15 menit lalu 2 jam", "unexpected 'lalu'", False),
    ("0 menit", "is no time at all", False),
    ("1.5 hari", "days must be whole numbers", False),
    ("1,25 menit", "give minutes as a whole number", False),
    ("2 hari kalender 3 jam", "mixes calendar days with office time", False),
    ("1 hari kerja dan 2 hari kalender", "mixes working and calendar days", False),
    ("99999 hari", "longer than the engine counts", False),
    ("9999999999 menit", "too long a time", False),
    # ISO forms with units the engine does not count
    ("P1Y", "not an ISO 8601 duration this engine reads", False),
    ("P1M", "not an ISO 8601 duration this engine reads", False),
    ("PT30S", "not an ISO 8601 duration this engine reads", False),
    ("PT", "not an ISO 8601 duration this engine reads", False),
    ("P1DT", "not an ISO 8601 duration this engine reads", False),
    # forms people write that are not one duration
    ("10 Menit/berkas", "unexpected '/berkas'", False),
    ("2 x 30 menit", "unknown unit of time 'x'", False),
    ("1 x 24 jam kalender", "unknown unit of time 'x'", False),
    ("± Setiap Saat", "cannot read", False),
    # refused before the expressions run, whose time grows with the square of the length
    ("15 menit " + "x" * 200, "too long for a duration (at most 200)", False),
]


@pytest.mark.parametrize(("text", "fragment", "window"), REFUSED)
def test_refused(text: str, fragment: str, window: bool) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert fragment in str(info.value)
    assert info.value.window is window
    assert "\n" not in str(info.value)


def test_a_long_text_is_refused_at_once() -> None:
    started = time.perf_counter()
    for text in ("a" * 100_000, "1 " * 50_000, "menit" * 20_000):
        with pytest.raises(DurationError, match="too long for a duration"):
            parse_duration(text)
    assert time.perf_counter() - started < 1.0  # a fraction of a millisecond; a backtracking pattern would take minutes


def test_the_reason_comes_apart_from_the_fix() -> None:
    # The SOP's waktu is never rewritten: validate words its own fix after the reason.
    with pytest.raises(DurationError) as info:
        parse_duration("15 detik")
    assert info.value.reason == "unknown unit of time 'detik' in '15 detik'"
    assert str(info.value) == info.value.reason + "; " + info.value.fix


@pytest.mark.parametrize(
    ("text", "example"),
    [("10 Menit/berkas", "10 menit"), ("15-30 menit", "30 menit"), ("30 mnit", "30 menit"), ("15 detik", "15 menit"), ("2 hari kalender lalu", "2 hari kalender")],
)
def test_suggest_duration(text: str, example: str) -> None:
    assert suggest_duration(text) == example
    parse_duration(example)


@pytest.mark.parametrize("text", ["2 bulan", "2 month", "15 detik", "1 tahun"])
def test_a_unit_the_engine_does_not_count_is_no_slip(text: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert "did you mean" not in str(info.value)


def test_a_duration_error_is_a_value_error() -> None:
    # Callers that only know ValueError (pydantic validators) still catch it.
    with pytest.raises(ValueError, match="unknown unit"):
        parse_duration("3 detik")


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (d(minutes=15), "15 min"),
        (d(minutes=90), "1 h 30 min"),
        (d(minutes=120), "2 h"),
        (d(days=1), "1 working day"),
        (d(days=2, calendar=True), "2 calendar days"),
        (d(days=1, minutes=30), "1 working day 30 min"),
        (None, "-"),
    ],
)
def test_format_duration(duration: dict | None, text: str) -> None:
    assert format_duration(duration) == text
