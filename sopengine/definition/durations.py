"""Reading the SOP's *waktu* column.

The SOP writes durations as people speak them: "15 Menit", "2 Hari", "1 jam 30 menit",
"3 hari kerja", "2 hari kalender", "15 minutes", "3 working days", or ISO 8601 "PT15M"; "± 30 menit" counts 30 minutes,
"1 x 24 jam" one working day.
A duration becomes a plain dict ``{"days": int, "minutes": int, "calendar": bool}``:
*hari* are working days unless written *hari kalender*; *menit*/*jam* are office time.
Text that states a window rather than a duration ("Setiap Saat", "Pada hari dan jam
kerja") or a range ("15-30 menit") is not guessed at: :func:`parse_duration` raises
:class:`DurationError` (a ``ValueError``) and the definition must say ``untimed: true``
or give a ``duration`` beside the SOP's text.

This module is imported on the step path, so it imports no library beyond the standard one.
"""

from __future__ import annotations

import re

from sopengine.definition.messages import N_, Message
from sopengine.i18n import _, ngettext

# unit word -> (field, factor). Days are counted in working days unless "kalender";
# a week is five working days, or seven calendar days.
_UNITS: dict[str, tuple[str, int]] = {
    "menit": ("minutes", 1),
    "mnt": ("minutes", 1),
    "minute": ("minutes", 1),
    "minutes": ("minutes", 1),
    "min": ("minutes", 1),
    "mins": ("minutes", 1),
    "jam": ("minutes", 60),
    "hour": ("minutes", 60),
    "hours": ("minutes", 60),
    "hr": ("minutes", 60),
    "hrs": ("minutes", 60),
    "hari": ("days", 1),
    "day": ("days", 1),
    "days": ("days", 1),
    "minggu": ("weeks", 1),
    "pekan": ("weeks", 1),
    "week": ("weeks", 1),
    "weeks": ("weeks", 1),
}

_NUMBER_WORDS = {
    "setengah": 0.5, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6,
    "tujuh": 7, "delapan": 8, "sembilan": 9, "sepuluh": 10, "half": 0.5, "one": 1, "two": 2,
    "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}

# The engine adds durations to datetimes: refuse what no SOP means and no clock can hold.
MAX_DAYS = 3660
MAX_MINUTES = 366 * 24 * 60

_ISO = re.compile(r"^P(?:(?P<w>\d{1,6})W)?(?:(?P<d>\d{1,6})D)?(?:T(?=\d)(?:(?P<h>\d{1,6})H)?(?:(?P<m>\d{1,6})M)?)?$")
_PART = re.compile(
    r"(?P<num>\d+(?:[.,]\d+)?|[a-z]+(?=\s))\s*(?:\(\s*[a-z0-9]+\s*\)\s*)?"
    r"(?:(?P<pre>working|business|calendar)\s+)?(?P<unit>[a-z]+)\b"
    r"(?:\s+(?P<qual>kerja|kalender|working|calendar|business))?"
)
_DEADLINE_PREFIX = re.compile(r"^(paling\s+lambat|selambat-lambatnya|maksimal|maks\.?|at\s+most|within)\s+")
_RANGE = re.compile(r"\d\s*(?:-|–|—|s\.?\s*/?\s*d\.?|sampai|hingga|to)\s*\d")
# Phrases that say when a step may be done, not how long it takes.
_WINDOWS = re.compile(
    r"^(setiap\s+saat|sewaktu-waktu|kapan\s+saja|any\s*time|at\s+any\s+time|"
    r"(pada\s+)?(hari\s+dan\s+)?jam\s+kerja|(pada\s+)?hari\s+kerja|during\s+(office|working)\s+hours|"
    r"segera|langsung|menyesuaikan|tentatif|kondisional|insidental)\.?$"
)


class DurationError(ValueError):
    """A text that is not a duration.

    ``reason`` says what is wrong, ``fix`` how a duration would be written (empty when the
    reason says it all); ``str()`` gives both, in English, and ``message`` is the same as a
    :class:`~sopengine.definition.messages.Message` (shown in the language in force).
    ``window`` is true when the text states a time window. Callers that must not ask for the
    text to be rewritten (an SOP's *waktu*) use ``reason`` with advice of their own.
    """

    def __init__(self, reason: Message, fix: Message | str = "", *, window: bool = False) -> None:
        message = Message("{reason}; {fix}", {"reason": reason, "fix": fix}) if fix else reason
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.fix = fix
        self.window = window


# Longer texts are refused before the expressions run: they would take time that grows
# with the square of the length, and no SOP writes a standard time that long.
MAX_TEXT = 200

_EXAMPLES = N_("write e.g. '15 menit', '2 jam', '3 hari kerja', '2 hari kalender' or 'PT15M'")
# "± 30 menit", "kurang lebih 2 jam": an approximate time; the count uses the number.
_APPROX = re.compile(r"^(±|\+/-|\+-|kurang\s+lebih|kurang-lebih|kira-kira|sekitar|about|approximately)\s*")
# "1 x 24 jam": Indonesian service standards' way of writing one day. 24 hours of office
# time would be three working days, which no one means: it is read as N hari (working days).
_TIMES_24_HOURS = re.compile(r"^(\d{1,4})\s*[x×]\s*24\s*(jam|hours?)(\s+kerja)?$")


def parse_duration(text: str) -> dict[str, int | bool]:
    """Parse a *waktu* text into ``{"days", "minutes", "calendar"}``.

    Raises :class:`DurationError` with a message for people when the text is not a
    duration.

    >>> parse_duration("1 jam 30 menit")
    {'days': 0, 'minutes': 90, 'calendar': False}
    """
    raw = text
    if len(str(text)) > MAX_TEXT:
        raise DurationError(N_("the text is {length} characters long, too long for a duration (at most {most})").format(
            length=len(str(text)), most=MAX_TEXT), _EXAMPLES)
    text = " ".join(str(text).strip().lower().split())
    if not text:
        raise DurationError(N_("waktu is empty"), N_("write e.g. '15 menit'"))
    iso = _ISO.match(text.upper())
    if iso and any(iso.groupdict().values()):
        g = {k: int(v or 0) for k, v in iso.groupdict().items()}
        return _checked(raw, g["w"] * 5 + g["d"], g["h"] * 60 + g["m"], False)
    if re.fullmatch(r"p[0-9.,ymwdths]*", text):
        raise DurationError(
            N_("{text!r} is not an ISO 8601 duration this engine reads").format(text=raw),
            N_("use weeks (W), days (D), hours (H) and minutes (M) only, e.g. 'PT15M' or 'P2D'"),
        )
    if _WINDOWS.match(text):
        raise DurationError(N_("{text!r} says when the step may be done, not how long it takes").format(text=raw), window=True)
    if _RANGE.search(text):
        raise DurationError(N_("{text!r} is a range, not one duration").format(text=raw))
    for prefix in (_APPROX, _DEADLINE_PREFIX, _APPROX):
        text = prefix.sub("", text)
    times = _TIMES_24_HOURS.match(text)
    if times:
        text = f"{times.group(1)} hari"
    days = minutes = 0
    calendar: bool | None = None
    pos = 0
    seen = False
    for m in _PART.finditer(text):
        between = text[pos:m.start()].strip(" ,")
        if between not in ("", "dan", "and", "+"):
            raise DurationError(N_("cannot read {text!r} as a duration (unexpected {rest!r})").format(text=raw, rest=between), _EXAMPLES)
        pos = m.end()
        num_text, unit = m.group("num"), m.group("unit")
        qual = m.group("pre") or m.group("qual")
        if num_text.isalpha():
            if num_text not in _NUMBER_WORDS:
                raise DurationError(N_("cannot read {text!r} as a duration (no number before {unit!r})").format(text=raw, unit=unit), _EXAMPLES)
            number = float(_NUMBER_WORDS[num_text])
        else:
            if len(num_text) > 9:
                raise DurationError(N_("{text!r} is too long a time").format(text=raw), N_("check the number"))
            number = float(num_text.replace(",", "."))
        if unit not in _UNITS:
            close = _close_unit(unit)
            reason = (N_("unknown unit of time {unit!r} in {text!r} (did you mean {close!r}?)").format(unit=unit, text=raw, close=close)
                      if close else N_("unknown unit of time {unit!r} in {text!r}").format(unit=unit, text=raw))
            raise DurationError(reason, N_("use menit, jam, hari or minggu (or minutes, hours, days, weeks)"))
        field, factor = _UNITS[unit]
        if field in ("days", "weeks"):
            if qual in ("kalender", "calendar"):
                if calendar is False:
                    raise DurationError(N_("{text!r} mixes working and calendar days").format(text=raw), N_("use one kind"))
                calendar = True
            elif calendar is True:
                raise DurationError(N_("{text!r} mixes working and calendar days").format(text=raw), N_("use one kind"))
            else:
                calendar = False
            if field == "weeks":
                number *= 7 if calendar else 5
            if number != int(number):
                raise DurationError(N_("{text!r}: days must be whole numbers").format(text=raw), N_("write the rest in jam or menit"))
            days += int(number)
        else:
            # "2 jam kerja" needs no care: hours and minutes are always office time.
            value = number * factor
            if value != int(value):
                raise DurationError(N_("{text!r}: give minutes as a whole number").format(text=raw))
            minutes += int(value)
        seen = True
    rest = text[pos:].strip(" .,")
    if not seen or rest:
        if seen:
            raise DurationError(N_("cannot read {text!r} as a duration (unexpected {rest!r})").format(text=raw, rest=rest), _EXAMPLES)
        raise DurationError(N_("cannot read {text!r} as a duration").format(text=raw), _EXAMPLES)
    if calendar and minutes:
        raise DurationError(N_("{text!r} mixes calendar days with office time").format(text=raw), N_("give whole days or office time"))
    return _checked(raw, days, minutes, bool(calendar))


def _checked(raw: str, days: int, minutes: int, calendar: bool) -> dict[str, int | bool]:
    if days > MAX_DAYS or minutes > MAX_MINUTES:
        raise DurationError(N_("{text!r} is longer than the engine counts (ten years)").format(text=raw), N_("check the number"))
    if days == 0 and minutes == 0:
        raise DurationError(N_("{text!r} is no time at all").format(text=raw), N_("give the standard time, e.g. '15 menit'"))
    return {"days": days, "minutes": minutes, "calendar": calendar}


# Units a slip is compared with (abbreviations would match too much), and units that are
# real words for times the engine does not count, which are no slip.
_FULL_UNITS = ("menit", "jam", "hari", "minggu", "pekan", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks")
_UNCOUNTED = {"detik", "bulan", "tahun", "sec", "secs", "second", "seconds", "month", "months", "year", "years"}


def _close_unit(unit: str) -> str | None:
    """The unit of time *unit* was probably meant to be ('mnit' -> 'menit'), if any."""
    import difflib

    if unit in _UNCOUNTED:
        return None
    close = difflib.get_close_matches(unit, _FULL_UNITS, n=1, cutoff=0.6)
    return close[0] if close else None


def suggest_duration(text: str) -> str:
    """A duration read from a part of *text*, for a message's example; '15 menit' if none.

    "10 Menit/berkas" gives '10 menit'; a range gives its upper bound ("15-30 menit" gives
    '30 menit').
    """
    text = " ".join(str(text)[:MAX_TEXT].lower().split())
    parts = [m for m in _PART.finditer(text) if m.group("unit") in _UNITS or _close_unit(m.group("unit"))]
    if _RANGE.search(text):
        parts.reverse()
    for m in parts:
        unit = m.group("unit") if m.group("unit") in _UNITS else _close_unit(m.group("unit"))
        candidate = " ".join(x for x in (m.group("num"), unit, m.group("qual")) if x)
        try:
            parse_duration(candidate)
        except DurationError:
            continue
        return candidate
    return "15 menit"


def format_duration(duration: dict | None) -> str:
    """A short rendering of a parsed duration in the language in force, e.g. ``2 working days``."""
    if not duration:
        return "-"
    parts = []
    days = int(duration.get("days") or 0)
    minutes = int(duration.get("minutes") or 0)
    if days:
        if duration.get("calendar"):
            parts.append(ngettext("{n} calendar day", "{n} calendar days", days).format(n=days))
        else:
            parts.append(ngettext("{n} working day", "{n} working days", days).format(n=days))
    if minutes >= 60:
        h, m = divmod(minutes, 60)
        parts.append(_("{hours} h {minutes} min").format(hours=h, minutes=m) if m else _("{hours} h").format(hours=h))
    elif minutes:
        parts.append(_("{minutes} min").format(minutes=minutes))
    return " ".join(parts) or _("{minutes} min").format(minutes=0)
