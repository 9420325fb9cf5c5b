"""Times: reading ``--now`` and dates, storing UTC, showing local time.

Times are stored as UTC ISO 8601 text with ``Z`` (``2026-10-01T03:00:00Z``), which sorts
as it reads. A time given without an offset is read in the SOP's zone (default WIB).
Standard library only: this module is on the step path.

A time given to sopengine lies in the years :data:`FIRST_YEAR` to :data:`LAST_YEAR`: Python's
dates end at 9999, and a due time ten years ahead (the longest duration counted), shown in
any zone, must still be a date. Nothing recorded predates 1970. A time outside is refused
with the range, rather than failing halfway through a computation. The same years bound a
run's period (:mod:`sopengine.period`): a time read for a run lies in them in the run's own
zone too, so that its current month is a period sopengine accepts.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sopengine.errors import InputError
from sopengine.i18n import N_, _

DEFAULT_ZONE = "Asia/Jakarta"
ENV_NOW = "SOPENGINE_NOW"
UTC = timezone.utc

#: The names Indonesian offices use for their zones, and the IANA zone each stands for.
ZONE_ALIASES = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}

FIRST_YEAR = 1970
LAST_YEAR = 9000
"""The years a time given to sopengine (``--now``, ``--since``, a library call) may lie in."""


def _in_range(moment: datetime, text: object) -> datetime:
    """*moment*, or an :class:`InputError` naming the accepted range when it lies outside it.

    Checked in the time's own zone, before it is converted: year 1 in WIB is year 0 in UTC.
    """
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise InputError(
            _("time {text!r} is outside the years sopengine counts in; give a time from {first}-01-01 to {last}-12-31").format(
                text=str(text), first=FIRST_YEAR, last=LAST_YEAR)
        )
    return moment


def zone_name(name: str) -> str:
    """The IANA name for ``name``: WIB, WITA and WIT (any case) become their zones; others stay."""
    return ZONE_ALIASES.get(name.strip().upper(), name) if isinstance(name, str) else name


def zone(name: str | None = None) -> ZoneInfo:
    """The zone ``name`` (an IANA name, or WIB, WITA, WIT); WIB when None."""
    try:
        return ZoneInfo(zone_name(name) if name else DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InputError(
            _("unknown time zone {name!r}; use an IANA name such as Asia/Jakarta, or WIB, WITA, WIT").format(name=name)
        ) from None


def run_zone(cal: object | None, definition_zone: str | None = None) -> str:
    """The zone a run's times are read and shown in: its calendar snapshot's (``cal``, which
    already holds the definition's ``timezone``), else ``definition_zone``, else WIB."""
    found = getattr(cal, "zone", None)
    return found if isinstance(found, str) else definition_zone or DEFAULT_ZONE


def parse_time(text: str, tz: str | None = None, *, end_of_day: bool = False) -> datetime:
    """Read an ISO 8601 time or date; without an offset it is in *tz* (default WIB).

    A date alone means the start of that day, or with ``end_of_day`` the start of the next
    day (so that ``--until 2026-10-31`` covers the whole of the 31st).
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            d = date.fromisoformat(raw)
            local = datetime.combine(d + timedelta(days=1) if end_of_day else d, time(0))
        else:
            local = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            _("cannot read time {text!r}; write ISO 8601, e.g. 2026-10-01T09:00 (WIB) or 2026-10-01T02:00:00Z").format(text=text)
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone(tz))
    return _in_range(local, text).astimezone(UTC)


def now(override: str | None = None, tz: str | None = None) -> datetime:
    """The clock: ``override`` (``--now``), else ``SOPENGINE_NOW``, else the real time."""
    text = override or os.environ.get(ENV_NOW)
    if text:
        return parse_time(text, tz)
    return real_now()


def coerce(value: datetime | str | None, tz: str | None = None) -> datetime:
    """The time an operation works at: a ``datetime`` (naive = the SOP's local time), ISO text,
    or None for ``SOPENGINE_NOW`` / the clock; in UTC, whole seconds.

    With *tz* (the SOP's zone) the time must lie in the accepted years there too: a time
    given with another offset can fall in another year in the SOP's zone.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:  # a naive time is the SOP's local time, as on the command line
            value = value.replace(tzinfo=zone(tz))
        moment = _in_range(value, value.isoformat()).astimezone(UTC).replace(microsecond=0)
    else:
        moment = now(value, tz)
    if tz is not None:
        there = moment.astimezone(zone(tz))
        if not FIRST_YEAR <= there.year <= LAST_YEAR:
            given = value.isoformat() if isinstance(value, datetime) else value or os.environ.get(ENV_NOW, "")
            raise InputError(
                _("time {text!r} falls in the year {year} in the SOP's time zone ({zone}), outside the years sopengine"
                  " counts in; give a time from {first}-01-01 to {last}-12-31").format(
                    text=str(given), year=there.year, zone=zone_name(tz), first=FIRST_YEAR, last=LAST_YEAR)
            )
    return moment


def real_now() -> datetime:
    """The real clock, which no option changes (for ``recorded_at``)."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime | None) -> str | None:
    """UTC text for storage and JSON: ``2026-10-01T03:00:00Z`` (whole seconds; the years allowed
    have four digits)."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="seconds")[:-6] + "Z"


def from_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def local(text_or_dt: str | datetime | None, tz: str | None = None) -> str:
    """A stored time as people read it in the SOP's zone: ``2026-10-01 10:00 WIB``."""
    if text_or_dt is None:
        return "-"
    dt = from_iso(text_or_dt) if isinstance(text_or_dt, str) else text_or_dt
    assert dt is not None
    shown = dt.astimezone(zone(tz))
    return shown.strftime("%Y-%m-%d %H:%M ") + (shown.tzname() or "")


_SECONDS = N_("{s} s")
_HOURS_MINUTES = N_("{h} h {m} min")
_HOURS = N_("{h} h")
_MINUTES = N_("{m} min")


def format_seconds(seconds: int, *, for_people: bool = False) -> str:
    """``5400`` -> ``1 h 30 min``; whole days of 24 h are not assumed.

    In English, as JSON and reports keep it; ``for_people`` says it in the language in force
    (``1 jam 30 menit``), for a screen.
    """
    say = _ if for_people else str
    seconds = int(seconds)
    if seconds < 60:
        return say(_SECONDS).format(s=seconds)
    minutes = seconds // 60
    h, m = divmod(minutes, 60)
    if h:
        return say(_HOURS_MINUTES).format(h=h, m=m) if m else say(_HOURS).format(h=h)
    return say(_MINUTES).format(m=m)
