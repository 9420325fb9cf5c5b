"""What the audit checks find, as data: English text shown to people in their language.

What the checks find (problems, history's action words and notes) is data: JSON, CSV and
the files of a pack hold it in English whatever the language. Each such text is a
:class:`Text`, which a command shows to a person in the language in force with :func:`shown`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sopengine.errors import SopError
from sopengine.i18n import Message, _, joined, message, shown

__all__ = ["AuditError", "Text", "shown"]

Text = Message
"""A message that is data in English and shown to a person in their language (:class:`sopengine.i18n.Message`)."""


def _text(template: str, **values: Any) -> Message:
    """The English *template* filled with *values*, remembering both (mark it with ``N_``)."""
    return message(template, **values)


def _joined(parts: list[Any], sep: str = "; ") -> Message:
    """*parts* joined by *sep*, each shown in the language in force when the whole is."""
    return joined(list(parts), sep)


class AuditError(SopError):
    """An audit input (head, pack, backup target) cannot be used."""


def _problem(kind: str, message: Text, *, seq: int | None = None, run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A problem ``verify`` reports: its kind, the event and run it names, and what it says."""
    return {"kind": kind, "seq": seq, "run_id": run_id, "message": message, **extra}


def _cannot_write(target: Path, exc: BaseException) -> AuditError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return AuditError(_("cannot write {file} ({reason}); choose a folder you may write to — nothing was written").format(
        file=target, reason=reason), path=str(target))
