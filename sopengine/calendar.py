"""The working calendar: office hours, closed days and due-time arithmetic.

A :class:`WorkCalendar` knows, for every date, whether the office is open and during
which hours, and counts time in those hours: when a step opened at a given instant with
a given duration is due (:meth:`WorkCalendar.due`), how much office time lies between
two instants (:meth:`WorkCalendar.working_seconds`) and how late a step is
(:meth:`WorkCalendar.late_by`).

There are two ways to build one:

* :func:`load_calendar` reads the calendar file an administrator edits (YAML; the
  packaged default is ``sopengine/data/calendar.yaml``) and takes the Indonesian public
  holidays and cuti bersama from the ``holidays`` package for the years asked for.
* :meth:`WorkCalendar.from_snapshot` rebuilds a calendar from the plain dict that
  :meth:`WorkCalendar.snapshot` returned. A run stores that snapshot when it starts, so
  its due times do not change when the file or the package changes later, and the step
  path never imports ``holidays`` or ``yaml`` (importing ``holidays`` alone costs tens of
  milliseconds).

How the counting stays fast: every day has a weight (its office time in microseconds,
or 1/0 for counting working days). The weight of all days before a date is a weekly
pattern, worked out with whole-week arithmetic, plus a correction for the few dates that
differ from the pattern (holidays, extra working days), found with :mod:`bisect` in a
sorted list. Turning a position back into a date uses the same two steps, so a due time
120 working days away costs the same as one an hour away.

Outside the years a calendar covers it knows no holidays: there it counts weekends and
office hours only; :meth:`WorkCalendar.beyond` tells when a time lies past them. See
``docs/time.md`` for the rules and the file format.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone as _dt_timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sopengine.errors import InputError
from sopengine.i18n import _

__all__ = [
    "CALENDAR_ENV_VAR",
    "DEFAULT_CALENDAR_FILE",
    "WorkCalendar",
    "load_calendar",
    "resolve_calendar_path",
]

#: The environment variable naming a calendar file when ``--calendar`` is not given.
CALENDAR_ENV_VAR = "SOPENGINE_CALENDAR"

#: The calendar file shipped with the package, used when no other file is named.
DEFAULT_CALENDAR_FILE = Path(__file__).resolve().parent / "data" / "calendar.yaml"

#: The file name looked for in the definitions folders.
CALENDAR_FILE_NAME = "calendar.yaml"

SNAPSHOT_VERSION = 1

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_NAMES_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
# Admins write Indonesian as often as English; both spellings name the same day.
_WEEKDAY_KEYS = {name: i for i, name in enumerate(WEEKDAYS)} | {
    name.lower(): i for i, name in enumerate(DAY_NAMES_ID)
}

DEFAULT_ZONE = "Asia/Jakarta"
_DEFAULT_SPAN = (time(8, 0), time(16, 0))
DEFAULT_HOURS: tuple[tuple[time, time] | None, ...] = (_DEFAULT_SPAN,) * 5 + (None, None)

_FILE_KEYS = ("timezone", "hours", "holidays", "closed", "open")
_HOLIDAY_KEYS = ("country", "cuti_bersama")
_CLOSED_KEYS = ("date", "name")
_OPEN_KEYS = ("date", "name", "hours")
_DURATION_KEYS = ("minutes", "days", "calendar")
_DEFAULT_OPEN_NAME = "Hari kerja tambahan"

# Indonesian documents write 08.00–16.00; accept that as well as 08:00-16:00.
_SPAN_RE = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-–]\s*(\d{1,2})[:.](\d{2})\s*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_US_PER_SECOND = 1_000_000
_US_PER_MINUTE = 60 * _US_PER_SECOND
_UTC = _dt_timezone.utc

Span = tuple[time, time]
_SpanUs = tuple[int, int]


# --------------------------------------------------------------------------- counting


class _Counter:
    """The total weight of the days before a date, and the inverse.

    Day weights follow a weekly pattern except on a few exception dates. Dates are
    handled as proleptic ordinals: ordinal 1 (0001-01-01) is a Monday, so
    ``(ordinal - 1) % 7`` is the weekday and whole weeks start at ``1 + 7k``.
    """

    __slots__ = ("_pre", "_week", "_xs", "_xw", "_cum", "_wx")

    def __init__(self, weekly: Sequence[int], exceptions: Mapping[int, int]) -> None:
        pre = [0]
        for weight in weekly:
            pre.append(pre[-1] + weight)
        self._pre = pre
        self._week = pre[7]
        self._xs = sorted(exceptions)
        self._xw = [exceptions[x] for x in self._xs]
        # _cum[i]: correction from exceptions before index i; _wx[i]: weight before _xs[i].
        cum = [0]
        wx = []
        for x, weight in zip(self._xs, self._xw):
            wx.append(self._base(x) + cum[-1])
            cum.append(cum[-1] + weight - weekly[(x - 1) % 7])
        self._cum = cum
        self._wx = wx

    def _base(self, ordinal: int) -> int:
        weeks, day = divmod(ordinal - 1, 7)
        return weeks * self._week + self._pre[day]

    def before(self, ordinal: int) -> int:
        """Total weight of all days before ``ordinal``."""
        return self._base(ordinal) + self._cum[bisect_left(self._xs, ordinal)]

    def find(self, unit: int) -> tuple[int, int]:
        """The day holding the ``unit``-th unit of weight (1-based), and the weight before it.

        Returns ``(ordinal, before(ordinal))`` with ``before < unit <= before + weight``,
        so the day found always has a weight.
        """
        i = bisect_left(self._wx, unit) - 1
        if i >= 0:
            start = self._wx[i]
            if unit <= start + self._xw[i]:
                return self._xs[i], start
            # Between this exception and the next the weekly pattern holds, shifted.
            shift = self._cum[i + 1]
        else:
            shift = 0
        weeks, rest = divmod(unit - shift - 1, self._week)
        day = bisect_left(self._pre, rest + 1) - 1
        return 1 + 7 * weeks + day, weeks * self._week + self._pre[day] + shift


# --------------------------------------------------------------------------- calendar


class WorkCalendar:
    """Office hours and closed days in one time zone, with due-time arithmetic.

    Build it with :func:`load_calendar` or :meth:`from_snapshot`; the constructor takes
    already-checked values: ``hours`` has seven entries (Monday first), each an
    ``(opening, closing)`` pair of :class:`datetime.time` or ``None`` for a closed day;
    ``closed`` maps dates to names; ``open`` maps extra working dates to ``(name, span)``
    and cancels a closed entry on the same date. ``years`` are the years whose holidays
    the calendar holds.

    Every method takes timezone-aware datetimes and returns UTC datetimes.
    """

    def __init__(
        self,
        *,
        zone: str,
        hours: Sequence[Span | None],
        closed: Mapping[date, str] | None = None,
        open: Mapping[date, tuple[str, Span]] | None = None,
        years: Iterable[int] = (),
    ) -> None:
        self.tz = _zone(zone, None)
        self.zone = self.tz.key  # WITA and the like are kept as the IANA name they stand for
        if len(hours) != 7:
            raise InputError(
                _("calendar hours: expected 7 weekdays, got {count}; give Monday to Sunday").format(count=len(hours))
            )
        self._hours: tuple[Span | None, ...] = tuple(hours)
        if all(span is None for span in self._hours):
            raise InputError(_("calendar hours: every weekday is closed; give office hours for at least one day"))
        self._open: dict[date, tuple[str, Span]] = dict(open or {})
        self._closed: dict[date, str] = {d: n for d, n in (closed or {}).items() if d not in self._open}
        self.years: tuple[int, ...] = tuple(sorted(set(years)))

        self._week_us: tuple[_SpanUs | None, ...] = tuple(_span_us(s) for s in self._hours)
        special: dict[int, _SpanUs | None] = {d.toordinal(): None for d in self._closed}
        for d, (_name, span) in self._open.items():
            special[d.toordinal()] = _span_us(span)
        self._special = special
        self._minutes = _Counter(
            [0 if s is None else s[1] - s[0] for s in self._week_us],
            {o: 0 if s is None else s[1] - s[0] for o, s in special.items()},
        )
        self._days = _Counter(
            [0 if s is None else 1 for s in self._week_us],
            {o: 0 if s is None else 1 for o, s in special.items()},
        )

    # -- construction from a stored snapshot --------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable dict from which :meth:`from_snapshot` rebuilds this calendar."""
        return {
            "version": SNAPSHOT_VERSION,
            "zone": self.zone,
            "years": list(self.years),
            "hours": {WEEKDAYS[i]: _format_span(s, "-") for i, s in enumerate(self._hours)},
            "closed": [{"date": d.isoformat(), "name": n} for d, n in sorted(self._closed.items())],
            "open": [
                {"date": d.isoformat(), "name": n, "hours": _format_span(s, "-")}
                for d, (n, s) in sorted(self._open.items())
            ],
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> WorkCalendar:
        """Rebuild a calendar from :meth:`snapshot` output, without ``holidays`` or ``yaml``."""
        where = None  # the snapshot: named only in a message, so a good one reads no catalogue
        try:
            version = data.get("version")
            if version != SNAPSHOT_VERSION:
                raise InputError(
                    _("{where}: version {version!r} is not supported (expected {expected}); upgrade sopengine").format(
                        where=_place(where), version=version, expected=SNAPSHOT_VERSION,
                    )
                )
            hours = tuple(
                _parse_span(data["hours"].get(name), where, f"hours.{name}", allow_none=True)
                for name in WEEKDAYS
            )
            closed = {
                _parse_date(e["date"], where, "closed.date"): str(e["name"]) for e in data.get("closed", [])
            }
            opened: dict[date, tuple[str, Span]] = {}
            for e in data.get("open", []):
                span = _parse_span(e["hours"], where, "open.hours", allow_none=False)
                assert span is not None
                opened[_parse_date(e["date"], where, "open.date")] = (str(e["name"]), span)
            return cls(zone=data["zone"], hours=hours, closed=closed, open=opened, years=data.get("years", ()))
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                _("{where}: malformed ({exc!r}); store the output of WorkCalendar.snapshot()").format(where=_place(where), exc=exc)
            ) from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkCalendar):
            return NotImplemented
        return self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value object: no hashing

    def __repr__(self) -> str:
        return f"WorkCalendar(zone={self.zone!r}, years={list(self.years)!r}, closed={len(self._closed)})"

    # -- days ---------------------------------------------------------------------

    def hours_on(self, d: date) -> Span | None:
        """Opening and closing time on ``d``, or None when the office is closed that day."""
        ordinal = d.toordinal()
        if ordinal in self._special:
            spec = self._special[ordinal]
            return None if spec is None else self._open[d][1]
        return self._hours[d.weekday()]

    def is_working_day(self, d: date) -> bool:
        """True when the office is open on ``d``."""
        return self.hours_on(d) is not None

    def closed_days(self, year: int) -> list[tuple[date, str]]:
        """Holidays and extra closed days in ``year``, by date, with their names.

        Regular weekly closed days (weekends) are not listed; holidays that fall on
        them are. Years the calendar does not cover give an empty list.
        """
        return sorted((d, n) for d, n in self._closed.items() if d.year == year)

    def extra_working_days(self, year: int) -> list[tuple[date, str]]:
        """Extra working days in ``year`` (from the file's ``open`` list), by date, with names."""
        return sorted((d, n) for d, (n, _span) in self._open.items() if d.year == year)

    def beyond(self, moment: datetime) -> bool:
        """True when ``moment`` falls after the last year the calendar covers (or it covers none).

        There it knows no holidays: a due time counted that far treats them as working days.
        """
        _check_aware(moment, "moment")
        return not self.years or moment.astimezone(self.tz).year > self.years[-1]

    def describe_hours(self) -> list[tuple[str, str]]:
        """Office hours per weekday in Indonesian, e.g. ``("Senin", "08:00–16:00")`` or ``("Sabtu", "tutup")``."""
        return [(DAY_NAMES_ID[i], _format_span(s, "–") or "tutup") for i, s in enumerate(self._hours)]

    # -- time arithmetic ----------------------------------------------------------

    def due(self, opened_at: datetime, duration: Mapping[str, Any]) -> datetime:
        """When a step opened at ``opened_at`` with ``duration`` is due (UTC).

        ``duration`` is ``{"minutes": int, "days": int, "calendar": bool}``, any key
        optional. Minutes are office time; days are working days, due at the same clock
        time (or the target day's closing, if earlier); days are added before minutes.
        Counting starts at the next opening when ``opened_at`` is outside office hours. A
        days-only due time that falls on an opening is given as the previous working day's
        closing, the same instant in office time.
        With ``calendar`` true the duration is plain elapsed time from ``opened_at``.
        """
        days, minutes, plain = _read_duration(duration)
        _check_aware(opened_at, "opened_at")
        if plain:
            # Calendar days keep the local clock time, even across a DST change.
            local = opened_at.astimezone(self.tz) + timedelta(days=days)
            return local.astimezone(_UTC) + timedelta(minutes=minutes)
        ordinal, clock = self._locate_start(self._position(opened_at))
        if days:
            ordinal, _before = self._days.find(self._days.before(ordinal) + days + 1)
            opening, closing = self._span_us(ordinal)  # type: ignore[misc]
            clock = min(max(clock, opening), closing)
            if not minutes and clock == opening:
                # An opening is the same office instant as the previous working day's closing;
                # the earlier form keeps a step opened at 16:00 due with one opened at 15:59.
                ordinal, clock = self._locate_end(self._minutes.before(ordinal))
        if minutes:
            opening = self._span_us(ordinal)[0]  # type: ignore[index]
            position = self._minutes.before(ordinal) + clock - opening + minutes * _US_PER_MINUTE
            ordinal, clock = self._locate_end(position)
        return self._instant(ordinal, clock)

    def working_days(self, start: datetime, end: datetime) -> int:
        """Whole working days of office time from ``start`` to ``end``: the largest ``n`` for
        which a step of ``n`` days opened at ``start`` is due by ``end`` (0 if ``end <= start``).

        A step due Wednesday 09:00 and done 17 working days later at 09:00 is 17 days late;
        at 08:59 it is 16. Used to say a long office time in days: ``136 h (17 hari kerja)``.
        """
        _check_aware(start, "start")
        _check_aware(end, "end")
        if end <= start:
            return 0
        last = self._position(end)
        first_day, _clock = self._locate_start(self._position(start))
        end_day, _clock = self._locate_start(last)
        # The day count is right to within one; the due times settle it.
        n = max(0, self._days.before(end_day) - self._days.before(first_day))
        while n and self._position(self.due(start, {"days": n})) > last:
            n -= 1
        while self._position(self.due(start, {"days": n + 1})) <= last:
            n += 1
        return n

    def working_seconds(self, start: datetime, end: datetime) -> int:
        """Whole seconds of office time between two instants (0 if ``end <= start``)."""
        _check_aware(start, "start")
        _check_aware(end, "end")
        if end <= start:
            return 0
        return (self._position(end) - self._position(start)) // _US_PER_SECOND

    def late_by(self, due_at: datetime, now: datetime, *, calendar_days: bool = False) -> int:
        """Whole seconds a step due at ``due_at`` is late at ``now``; 0 if not late.

        Lateness is counted in office time, or in plain seconds when ``calendar_days``.
        """
        _check_aware(due_at, "due_at")
        _check_aware(now, "now")
        if now <= due_at:
            return 0
        if calendar_days:
            return (now - due_at) // timedelta(seconds=1)
        return self.working_seconds(due_at, now)

    # -- internals ----------------------------------------------------------------

    def _span_us(self, ordinal: int) -> _SpanUs | None:
        if ordinal in self._special:
            return self._special[ordinal]
        return self._week_us[(ordinal - 1) % 7]

    def _position(self, moment: datetime) -> int:
        """Office microseconds from 0001-01-01 up to ``moment``."""
        local = moment.astimezone(self.tz)
        ordinal = local.toordinal()
        position = self._minutes.before(ordinal)
        span = self._span_us(ordinal)
        if span is None:
            return position
        clock = ((local.hour * 60 + local.minute) * 60 + local.second) * _US_PER_SECOND + local.microsecond
        opening, closing = span
        return position + min(max(clock, opening), closing) - opening

    def _locate_start(self, position: int) -> tuple[int, int]:
        """The first instant at ``position``: a closing time becomes the next opening."""
        ordinal, before = self._minutes.find(position + 1)
        return ordinal, self._span_us(ordinal)[0] + position - before  # type: ignore[index]

    def _locate_end(self, position: int) -> tuple[int, int]:
        """The last instant at ``position``: a deadline may fall on a closing time."""
        ordinal, before = self._minutes.find(position)
        return ordinal, self._span_us(ordinal)[0] + position - before  # type: ignore[index]

    def _instant(self, ordinal: int, clock: int) -> datetime:
        midnight = datetime.combine(date.fromordinal(ordinal), time(0), tzinfo=self.tz)
        return (midnight + timedelta(microseconds=clock)).astimezone(_UTC)


# --------------------------------------------------------------------------- loading


def load_calendar(
    path: Path | None,
    *,
    years: Iterable[int],
    timezone: str | None = None,
    hours: Mapping[str, Any] | None = None,
) -> WorkCalendar:
    """Read a calendar file and build the calendar for ``years``.

    ``path`` None reads the packaged default file. Public holidays (and, unless the
    file says ``cuti_bersama: false``, cuti bersama) come from the ``holidays`` package;
    the file's ``closed`` and ``open`` lists add and cancel days. ``timezone`` and
    ``hours`` (weekday name to ``"HH:MM-HH:MM"`` or None), typically from a definition,
    win over the file; weekdays ``hours`` does not name keep the file's hours.
    """
    source = Path(path) if path is not None else DEFAULT_CALENDAR_FILE
    where = str(source)
    data = _read_yaml(source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            _("{where}: expected a mapping of keys ({keys}), got {kind}").format(
                where=where, keys=", ".join(_FILE_KEYS), kind=_kind(data),
            )
        )
    for key in data:
        if key not in _FILE_KEYS:
            raise InputError(
                _("{where}: unknown key {key!r}; allowed keys are {keys}").format(
                    where=where, key=key, keys=", ".join(_FILE_KEYS),
                )
            )

    zone = data.get("timezone") or DEFAULT_ZONE
    if not isinstance(zone, str):
        raise InputError(
            _("{where}: timezone: expected a zone name such as Asia/Jakarta, got {zone!r}").format(where=where, zone=zone)
        )
    _zone(zone, f"{where}: timezone")
    if timezone is not None:
        _zone(timezone, _("definition timezone"))
        zone = timezone

    week = list(DEFAULT_HOURS)
    _apply_hours(week, data.get("hours"), where)
    if hours is not None:
        _apply_hours(week, hours, _("definition"))
    if all(span is None for span in week):
        raise InputError(
            _("{where}: hours: every weekday is closed; give office hours for at least one day").format(where=where)
        )

    country, cuti_bersama = _read_holiday_options(data.get("holidays"), where)
    closed_extra = _read_day_list(data.get("closed"), where, "closed", _CLOSED_KEYS)
    open_extra = _read_day_list(data.get("open"), where, "open", _OPEN_KEYS)
    for d in closed_extra:
        if d in open_extra:
            raise InputError(
                _("{where}: {date} is listed under both closed and open; keep only one").format(
                    where=where, date=d.isoformat(),
                )
            )

    covered = _read_years(years)
    wanted = set(covered)
    closed: dict[date, str] = {}
    if country is not None and covered:
        closed.update(_package_holidays(country, cuti_bersama, covered, where))
    # Only the covered years: outside them the calendar promises weekends and hours only.
    for d, entry in closed_extra.items():
        if d.year in wanted:
            closed[d] = entry["name"]
    opened: dict[date, tuple[str, Span]] = {}
    for d, entry in open_extra.items():
        if d.year in wanted:
            span = entry.get("hours") or week[d.weekday()] or next(s for s in week if s is not None)
            opened[d] = (entry.get("name") or _DEFAULT_OPEN_NAME, span)
    return WorkCalendar(zone=zone, hours=week, closed=closed, open=opened, years=covered)


def resolve_calendar_path(option: str | None, definitions_dirs: list[Path]) -> Path | None:
    """Which calendar file to use; None means the packaged default.

    In order: the ``--calendar`` option, the ``SOPENGINE_CALENDAR`` environment
    variable, the first ``calendar.yaml`` in the definitions folders. A file named by
    the option or the variable must exist.
    """
    for value, origin in ((option, "--calendar"), (os.environ.get(CALENDAR_ENV_VAR), CALENDAR_ENV_VAR)):
        if value:
            candidate = Path(value).expanduser()
            if not candidate.is_file():
                raise InputError(
                    _("calendar file {path} (from {origin}) not found; give the path of an existing calendar.yaml").format(
                        path=candidate, origin=origin,
                    )
                )
            return candidate
    for folder in definitions_dirs:
        candidate = Path(folder) / CALENDAR_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------- helpers


def _read_yaml(source: Path) -> Any:
    # Imported here: the step path rebuilds calendars from snapshots and never needs yaml.
    import yaml

    class _Loader(yaml.SafeLoader):
        """Safe loader that leaves dates as text, so a bad date gets a clear message."""

    _Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            _("calendar file {path} not found; check the path or remove the setting").format(path=source)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            _("calendar file {path} cannot be read ({problem}); check the file").format(path=source, problem=exc)
        ) from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(
            _("{where}: not valid YAML ({problem}); fix the syntax").format(where=f"{source}{line}", problem=problem)
        ) from None


def _apply_hours(week: list[Span | None], value: Any, where: str) -> None:
    """Overwrite ``week`` with the weekdays ``value`` names; others keep their hours."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise InputError(
            _("{where}: hours: expected weekday: \"HH:MM-HH:MM\" lines, got {kind}").format(where=where, kind=_kind(value))
        )
    seen: dict[int, str] = {}
    for key, span in value.items():
        index = _WEEKDAY_KEYS.get(str(key).strip().lower())
        if index is None:
            raise InputError(
                _("{where}: hours: unknown weekday {key!r}; use monday … sunday (or senin … minggu)").format(
                    where=where, key=key,
                )
            )
        if index in seen:
            raise InputError(
                _("{where}: hours: {first!r} and {key!r} name the same day; keep one").format(
                    where=where, first=seen[index], key=key,
                )
            )
        seen[index] = str(key)
        week[index] = _parse_span(span, where, f"hours.{key}", allow_none=True)


def _parse_span(value: Any, where: str | None, field: str, *, allow_none: bool) -> Span | None:
    if value is None:
        if allow_none:
            return None
        raise InputError(
            _("{where}: {field}: missing; write the hours as \"HH:MM-HH:MM\", e.g. \"08:00-16:00\"").format(
                where=_place(where), field=field,
            )
        )
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(t, time) for t in value):
        opening, closing = value
    else:
        match = _SPAN_RE.match(value) if isinstance(value, str) else None
        if match is None:
            if allow_none:
                message = _(
                    "{where}: {field}: {value!r} is not a time range; write \"HH:MM-HH:MM\" in quotes, "
                    "e.g. \"08:00-16:00\" (null for a closed day)"
                )
            else:
                message = _(
                    "{where}: {field}: {value!r} is not a time range; write \"HH:MM-HH:MM\" in quotes, "
                    "e.g. \"08:00-16:00\""
                )
            raise InputError(message.format(where=_place(where), field=field, value=value))
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise InputError(
                _("{where}: {field}: {value!r} has an impossible time; use 00:00 to 23:59").format(
                    where=_place(where), field=field, value=value,
                )
            )
        opening, closing = time(h1, m1), time(h2, m2)
    if opening.tzinfo is not None or closing.tzinfo is not None:
        raise InputError(
            _("{where}: {field}: times carry no zone of their own; set the calendar's timezone").format(
                where=_place(where), field=field,
            )
        )
    if closing <= opening:
        raise InputError(
            _("{where}: {field}: closing {closing} is not after opening {opening}; swap or fix them").format(
                where=_place(where), field=field, closing=f"{closing:%H:%M}", opening=f"{opening:%H:%M}",
            )
        )
    return opening, closing


def _parse_date(value: Any, where: str | None, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_RE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(
        _("{where}: {field}: {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-12-31").format(
            where=_place(where), field=field, value=value,
        )
    )


def _read_holiday_options(value: Any, where: str) -> tuple[str | None, bool]:
    """(country or None when package holidays are off, whether to include cuti bersama)."""
    if value is None or value is True:
        return "ID", True
    if value is False:
        return None, False
    if not isinstance(value, Mapping):
        raise InputError(
            _("{where}: holidays: expected country and cuti_bersama keys (or false), got {kind}").format(
                where=where, kind=_kind(value),
            )
        )
    for key in value:
        if key not in _HOLIDAY_KEYS:
            raise InputError(
                _("{where}: holidays: unknown key {key!r}; allowed keys are {keys}").format(
                    where=where, key=key, keys=", ".join(_HOLIDAY_KEYS),
                )
            )
    country = value.get("country", "ID")
    if not isinstance(country, str) or not country.strip():
        raise InputError(
            _("{where}: holidays.country: expected a country code such as ID, got {country!r}").format(
                where=where, country=country,
            )
        )
    cuti_bersama = value.get("cuti_bersama", True)
    if not isinstance(cuti_bersama, bool):
        raise InputError(
            _("{where}: holidays.cuti_bersama: expected true or false, got {value!r}").format(where=where, value=cuti_bersama)
        )
    return country.strip().upper(), cuti_bersama


def _read_day_list(value: Any, where: str, field: str, keys: tuple[str, ...]) -> dict[date, dict[str, Any]]:
    """The ``closed`` or ``open`` list as {date: {"name": ..., "hours": ...}}."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InputError(
            _("{where}: {field}: expected a list of {{date: YYYY-MM-DD, name: ...}} entries, got {kind}").format(
                where=where, field=field, kind=_kind(value),
            )
        )
    days: dict[date, dict[str, Any]] = {}
    for number, entry in enumerate(value, start=1):
        item = f"{field}[{number}]"
        if not isinstance(entry, Mapping):
            raise InputError(
                _("{where}: {item}: expected {{date: YYYY-MM-DD, name: ...}}, got {kind}").format(
                    where=where, item=item, kind=_kind(entry),
                )
            )
        for key in entry:
            if key not in keys:
                raise InputError(
                    _("{where}: {item}: unknown key {key!r}; allowed keys are {keys}").format(
                        where=where, item=item, key=key, keys=", ".join(keys),
                    )
                )
        if "date" not in entry:
            raise InputError(_("{where}: {item}: missing date; add date: YYYY-MM-DD").format(where=where, item=item))
        d = _parse_date(entry["date"], where, f"{item}.date")
        name = entry.get("name")
        if field == "closed" and (not isinstance(name, str) or not name.strip()):
            raise InputError(
                _("{where}: {item}.name: missing; say why the office is closed, e.g. name: \"Cuti bersama\"").format(
                    where=where, item=item,
                )
            )
        if name is not None and not isinstance(name, str):
            raise InputError(
                _("{where}: {item}.name: expected text, got {name!r}").format(where=where, item=item, name=name)
            )
        if d in days:
            raise InputError(
                _("{where}: {item}.date: {date} is listed twice under {field}; keep one").format(
                    where=where, item=item, date=d.isoformat(), field=field,
                )
            )
        parsed: dict[str, Any] = {"name": name.strip() if isinstance(name, str) else None}
        if "hours" in entry:
            parsed["hours"] = _parse_span(entry["hours"], where, f"{item}.hours", allow_none=False)
        days[d] = parsed
    return days


def _read_years(years: Iterable[int]) -> list[int]:
    try:
        covered = sorted({int(y) for y in years})
    except (TypeError, ValueError):
        raise InputError(
            _("calendar years: {years!r} are not whole years; give years such as [2025, 2026]").format(years=years)
        ) from None
    for y in covered:
        if not 1 <= y <= 9998:
            raise InputError(_("calendar years: {year} is out of range; give years between 1 and 9998").format(year=y))
    return covered


def _package_holidays(country: str, cuti_bersama: bool, years: list[int], where: str) -> dict[date, str]:
    # Imported here: it is slow to import and only calendar loading needs it.
    import holidays

    categories = ("public", "government") if cuti_bersama else ("public",)
    options: dict[str, Any] = {"years": years, "categories": categories}
    if country == "ID":
        options["language"] = "id"
    try:
        found = holidays.country_holidays(country, **options)
    except NotImplementedError:
        raise InputError(
            _("{where}: holidays.country: {country!r} is not known to the holidays package; use ID").format(
                where=where, country=country,
            )
        ) from None
    except ValueError as exc:
        raise InputError(
            _("{where}: holidays: {problem}; set cuti_bersama: false for this country").format(
                where=where, problem=str(exc).rstrip("."),
            )
        ) from None
    return dict(found.items())


def _zone(name: str, where: str | None) -> ZoneInfo:
    from sopengine.clock import zone_name

    try:
        return ZoneInfo(zone_name(name))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InputError(
            _("{where}: unknown time zone {name!r}; use an IANA name such as Asia/Jakarta, or WIB, WITA, WIT").format(
                where=_("time zone") if where is None else where, name=name,
            )
        ) from None


def _span_us(span: Span | None) -> _SpanUs | None:
    if span is None:
        return None
    return _clock_us(span[0]), _clock_us(span[1])


def _clock_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_SECOND + t.microsecond


def _format_span(span: Span | None, dash: str) -> str | None:
    if span is None:
        return None
    return f"{span[0]:%H:%M}{dash}{span[1]:%H:%M}"


def _read_duration(duration: Mapping[str, Any]) -> tuple[int, int, bool]:
    if not isinstance(duration, Mapping):
        raise InputError(
            _("duration: expected {{'minutes': int, 'days': int, 'calendar': bool}}, got {kind}").format(kind=_kind(duration))
        )
    for key in duration:
        if key not in _DURATION_KEYS:
            raise InputError(_("duration: unknown key {key!r}; allowed keys are minutes, days, calendar").format(key=key))
    values = []
    for key in ("days", "minutes"):
        value = duration.get(key) or 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(
                _("duration: {key} must be a whole number of 0 or more, got {value!r}").format(
                    key=key, value=duration.get(key),
                )
            )
        values.append(value)
    plain = duration.get("calendar") or False
    if not isinstance(plain, bool):
        raise InputError(_("duration: calendar must be true or false, got {value!r}").format(value=plain))
    return values[0], values[1], plain


def _check_aware(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime):
        raise InputError(_("{name}: expected a datetime, got {kind}").format(name=name, kind=_kind(moment)))
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(
            _("{name}: {moment} has no time zone; give an aware datetime (e.g. +07:00)").format(
                name=name, moment=moment.isoformat(),
            )
        )


def _place(where: str | None) -> str:
    """The place a message names: ``None`` stands for a stored calendar snapshot."""
    return _("calendar snapshot") if where is None else where


def _kind(value: Any) -> str:
    return _("nothing") if value is None else f"{type(value).__name__} {value!r}"[:80]


def late_days(cal: WorkCalendar | None, due: datetime, at: datetime, *, calendar_days: bool = False) -> int | None:
    """Whole working days *at* is past *due* by *cal*; None when lateness is not office time
    (a duration in calendar days, a run without a calendar)."""
    if cal is None or calendar_days:
        return None
    return cal.working_days(due, at)


def lateness(cal: WorkCalendar | None, due: datetime, at: datetime, *, calendar_days: bool = False) -> int:
    """Whole seconds *at* is past *due*: office time by *cal*, or plain time for a duration in
    calendar days (and for a run that has no calendar)."""
    if at <= due:
        return 0
    if cal is None:
        return int((at - due).total_seconds())
    return cal.late_by(due, at, calendar_days=calendar_days)
