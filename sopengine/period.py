"""Periods of recurring work: ``2026-10`` (month), ``2026-Q3``, ``2026-S2``, ``2026``.

A period gives automatic decisions their ``period.*`` facts, e.g. whether it ends a
semester. Its year lies in the years a time given to sopengine may lie in
(:data:`sopengine.clock.FIRST_YEAR` to :data:`sopengine.clock.LAST_YEAR`), so that the
current period of any time ``--now`` accepts is a period too. Standard library only.
"""

from __future__ import annotations

import re
from typing import Any

from sopengine.clock import FIRST_YEAR, LAST_YEAR
from sopengine.errors import InputError
from sopengine.i18n import _

_FORMS = [
    (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), "month"),
    (re.compile(r"^(\d{4})-Q([1-4])$", re.I), "quarter"),
    (re.compile(r"^(\d{4})-S([12])$", re.I), "semester"),
    (re.compile(r"^(\d{4})$"), "year"),
]


def normalise(text: str) -> str:
    """The canonical spelling of a period, or :class:`InputError` (its form, or its year
    outside :data:`~sopengine.clock.FIRST_YEAR`..:data:`~sopengine.clock.LAST_YEAR`)."""
    canonical = _spelled(text)
    year = int(canonical[:4])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InputError(
            _("period {text!r} is outside the years sopengine counts in; give a period from {first} to {last}").format(
                text=text, first=FIRST_YEAR, last=LAST_YEAR)
        )
    return canonical


def _spelled(text: str) -> str:
    """The canonical spelling of a period of any four-digit year, or :class:`InputError`."""
    raw = text.strip()
    for pattern, kind in _FORMS:
        m = pattern.match(raw)
        if m:
            year = int(m.group(1))
            if kind == "month":
                return f"{year}-{m.group(2)}"
            if kind == "quarter":
                return f"{year}-Q{m.group(2)}"
            if kind == "semester":
                return f"{year}-S{m.group(2)}"
            return str(year)
    raise InputError(
        _("cannot read period {text!r}; write a month 2026-10, a quarter 2026-Q3, a semester 2026-S2 or a year 2026").format(text=text)
    )


def facts(period: str | None) -> dict[str, Any]:
    """The ``period.*`` facts; all None when the run has no period."""
    keys = ("type", "year", "month", "quarter", "semester", "ends_quarter", "ends_semester", "ends_year")
    if not period:
        return {f"period.{k}": None for k in keys}
    p = _spelled(period)  # a run's stored period is read as it was accepted, whatever range was in force then
    year = int(p[:4])
    if len(p) == 4:
        kind, month = "year", 12
    elif p[5] == "Q":
        kind, month = "quarter", int(p[6]) * 3
    elif p[5] == "S":
        kind, month = "semester", int(p[6]) * 6
    else:
        kind, month = "month", int(p[5:7])
    values = {
        "type": kind,
        "year": year,
        "month": month,
        "quarter": (month - 1) // 3 + 1,
        "semester": 1 if month <= 6 else 2,
        "ends_quarter": month % 3 == 0,
        "ends_semester": month % 6 == 0,
        "ends_year": month == 12,
    }
    return {f"period.{k}": v for k, v in values.items()}
