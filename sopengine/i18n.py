"""The translation function every user-facing message goes through.

Messages are written in English in the code and marked with :func:`_` (``_("row {no} has
no open step").format(no=...)``), so that a catalogue can translate each of them; the
standard library's ``gettext`` reads the catalogue of the language in force, and a message
without a translation shows as written. JSON, exit codes and the SOP's own words are never
passed through it.
"""

from __future__ import annotations

import gettext as _gettext
import os
from pathlib import Path

DOMAIN = "sopengine"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
ENV_LANG = "SOPENGINE_LANG"

_active: _gettext.NullTranslations | None = None


def translation() -> _gettext.NullTranslations:
    """The catalogue in force (read once per process)."""
    global _active
    if _active is None:
        lang = os.environ.get(ENV_LANG)
        _active = _gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang] if lang else None, fallback=True)
    return _active


def _(message: str) -> str:
    """*message* in the language in force."""
    return translation().gettext(message)
