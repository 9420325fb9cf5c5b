"""The language people read sopengine in: Bahasa Indonesia by default, English on request.

Messages are written in English in the code and marked with :func:`_`
(``_("row {no} has no open step").format(no=...)``); the catalogue of the language in force
translates each (``sopengine/locale/id/LC_MESSAGES/sopengine.po``, compiled when the wheel is
built). The standard library's ``gettext`` reads the one compiled catalogue; a message
without a translation shows as written. JSON, exit codes, file formats and the SOP's own
words never pass through it.

The language is, in order: ``--lang id|en``, ``SOPENGINE_LANG``, the locale (``LANGUAGE``,
``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``en_*`` is English, ``id_*`` Indonesian), and
otherwise Indonesian. click's own words (``Usage:``, ``Options:``, ``Error:`` ...) come from
the same catalogue.
"""

from __future__ import annotations

import gettext as _gettext
import os
import sys
from pathlib import Path

DOMAIN = "sopengine"
LANGUAGES = ("id", "en")
DEFAULT = "id"
ENV_LANG = "SOPENGINE_LANG"
ENV_LOCALE_DIR = "SOPENGINE_LOCALE_DIR"
"""A folder of catalogues to read instead of the packaged ones: for translators trying a catalogue."""

_LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_chosen: str | None = None  # set by the command line for this process; else read from the environment
_loaded: dict[tuple[str, str], _gettext.NullTranslations] = {}


def locale_dir() -> Path:
    return Path(os.environ.get(ENV_LOCALE_DIR) or Path(__file__).resolve().parent / "locale")


def resolve(explicit: str | None = None) -> str:
    """The language in force: *explicit*, then ``SOPENGINE_LANG``, then the locale, then Indonesian."""
    for value in (explicit, os.environ.get(ENV_LANG)):
        if value and value.strip().lower() in LANGUAGES:
            return value.strip().lower()
    for var in _LOCALE_VARS:
        value = os.environ.get(var)
        if not value:
            continue
        code = value.split(":")[0].split(".")[0].split("_")[0].lower()
        if code == "en":
            return "en"
        if code in ("id", "in"):
            return "id"
    return DEFAULT


def language() -> str:
    """The language messages are shown in now."""
    return _chosen or resolve()


def set_language(lang: str | None) -> str:
    """Show messages in *lang* (None: as the environment says) for the rest of this process."""
    global _chosen
    _chosen = resolve(lang) if lang else None
    _patch_click()
    return language()


def translation(lang: str | None = None) -> _gettext.NullTranslations:
    """The catalogue of *lang* (the language in force by default), read once per process."""
    lang = lang or language()
    folder = str(locale_dir())
    key = (lang, folder)
    found = _loaded.get(key)
    if found is None:
        if lang == "en":  # the messages are written in English
            found = _gettext.NullTranslations()
        else:
            found = _gettext.translation(DOMAIN, folder, languages=[lang], fallback=True)
        found = _loaded[key] = found
    return found


def _(message: str) -> str:
    """*message* in the language in force."""
    return translation().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """*singular* or *plural* for *n*, in the language in force."""
    return translation().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark *message* for the catalogue where it is defined; translate it with :func:`_` where shown."""
    return message


_CLICK_MODULES = ("click.core", "click.exceptions", "click.formatting", "click.decorators", "click.types",
                  "click.parser", "click.termui", "click.utils", "click._termui_impl")


def _click_gettext(message: str) -> str:
    return translation().gettext(message)


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    return translation().ngettext(singular, plural, n)


def _patch_click() -> None:
    """click marks its own words with the standard ``gettext``: route them to this catalogue.

    Each click module looks its ``_`` and ``ngettext`` up when it speaks, so replacing them
    there changes nothing else in the process (no environment variable, no global domain).
    """
    for name in _CLICK_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        if hasattr(module, "_"):
            module._ = _click_gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = _click_ngettext  # type: ignore[attr-defined]
