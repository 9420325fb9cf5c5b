"""Reading the SOP's *waktu* column.

The SOP writes durations as people speak them: "15 Menit", "2 Hari", "1 jam 30 menit",
"3 hari kerja", "2 hari kalender", "15 minutes", or ISO 8601 "PT15M". A duration becomes
a plain dict ``{"days": int, "minutes": int, "calendar": bool}``: *hari* are working days
unless written *hari kalender*; *menit*/*jam* are office time. Text that states a window
rather than a duration ("Setiap Saat") is not guessed at: :func:`parse_duration` raises
``ValueError`` and the definition must say ``untimed: true``.

This module is imported on the step path, so it uses only the standard library.
"""

from __future__ import annotations

import re

# unit word -> (field, factor). Days are counted in working days unless "kalender".
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
    "minggu": ("days", 5),
    "pekan": ("days", 5),
    "week": ("days", 5),
    "weeks": ("days", 5),
}

_NUMBER_WORDS = {
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9, "sepuluh": 10, "one": 1, "two": 2, "three": 3,
    "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}

_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?)?$"
)
_PART = re.compile(
    r"(?P<num>\d+(?:[.,]\d+)?|[a-z]+(?=\s))\s*(?:\(\s*[a-z0-9]+\s*\)\s*)?(?P<unit>[a-z]+)\b"
    r"(?:\s+(?P<qual>kerja|kalender|working|calendar|business))?"
)
_DEADLINE_PREFIX = re.compile(r"^(paling\s+lambat|selambat-lambatnya|maksimal|maks\.?|at\s+most|within)\s+")


def parse_duration(text: str) -> dict[str, int | bool]:
    """Parse a *waktu* text into ``{"days", "minutes", "calendar"}``.

    Raises ``ValueError`` with a message for people when the text is not a duration.

    >>> parse_duration("1 jam 30 menit")
    {'days': 0, 'minutes': 90, 'calendar': False}
    """
    raw = text
    text = " ".join(str(text).strip().lower().split())
    if not text:
        raise ValueError("waktu is empty")
    iso = _ISO.match(text.upper())
    if iso and any(iso.groupdict().values()):
        g = {k: int(v or 0) for k, v in iso.groupdict().items()}
        return {"days": g["w"] * 5 + g["d"], "minutes": g["h"] * 60 + g["m"], "calendar": False}
    text = _DEADLINE_PREFIX.sub("", text)
    days = minutes = 0
    calendar: bool | None = None
    pos = 0
    seen = False
    for m in _PART.finditer(text):
        between = text[pos:m.start()].strip(" ,")
        if between not in ("", "dan", "and", "+"):
            raise ValueError(f"cannot read {raw!r} as a duration (unexpected {between!r})")
        pos = m.end()
        num_text, unit, qual = m.group("num"), m.group("unit"), m.group("qual")
        if num_text.isalpha():
            if num_text not in _NUMBER_WORDS:
                raise ValueError(f"cannot read {raw!r} as a duration (no number before {unit!r})")
            number = float(_NUMBER_WORDS[num_text])
        else:
            number = float(num_text.replace(",", "."))
        if unit not in _UNITS:
            raise ValueError(
                f"unknown unit of time {unit!r} in {raw!r}; use menit, jam or hari "
                "(or minutes, hours, days)"
            )
        field, factor = _UNITS[unit]
        if field == "days":
            if qual in ("kalender", "calendar"):
                if calendar is False:
                    raise ValueError(f"{raw!r} mixes working and calendar days")
                calendar = True
            elif calendar is True:
                raise ValueError(f"{raw!r} mixes working and calendar days")
            else:
                calendar = False
            if number != int(number):
                raise ValueError(f"{raw!r}: days must be whole numbers")
            days += int(number) * factor
        else:
            value = number * factor
            if value != int(value):
                raise ValueError(f"{raw!r}: give minutes as a whole number")
            minutes += int(value)
        seen = True
    if not seen or text[pos:].strip(" .,"):
        raise ValueError(
            f"cannot read {raw!r} as a duration; write e.g. '15 menit', '2 jam', '3 hari kerja', "
            "'2 hari kalender' or 'PT15M'"
        )
    if calendar and minutes:
        raise ValueError(f"{raw!r} mixes calendar days with office time")
    return {"days": days, "minutes": minutes, "calendar": bool(calendar)}


def format_duration(duration: dict | None) -> str:
    """A short English rendering of a parsed duration, e.g. ``2 working days``."""
    if not duration:
        return "-"
    parts = []
    days = int(duration.get("days") or 0)
    minutes = int(duration.get("minutes") or 0)
    if days:
        kind = "calendar" if duration.get("calendar") else "working"
        parts.append(f"{days} {kind} day{'s' if days != 1 else ''}")
    if minutes >= 60:
        h, m = divmod(minutes, 60)
        parts.append(f"{h} h" + (f" {m} min" if m else ""))
    elif minutes:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "0 min"
