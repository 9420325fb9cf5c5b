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
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


_PACKAGED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")


def locale_dir() -> Path:
    from pathlib import Path  # only here: the command line's start-up need not load pathlib

    return Path(os.environ.get(ENV_LOCALE_DIR) or _PACKAGED)


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
    """The language messages are shown in now: the request's (:func:`using`), else the process's."""
    return _request_lang.get() or _chosen or resolve()


_request_lang: ContextVar[str | None] = ContextVar("sopengine_language", default=None)


@contextmanager
def using(lang: str) -> Iterator[str]:
    """Show messages in *lang* within the block, in this thread or task only (the office server
    answers each request in its reader's language while others are answered in theirs)."""
    chosen = resolve(lang)
    token = _request_lang.set(chosen)
    try:
        yield chosen
    finally:
        _request_lang.reset(token)


def set_language(lang: str | None) -> str:
    """Show messages in *lang* (None: as the environment says) for the rest of this process."""
    global _chosen
    _chosen = resolve(lang) if lang else None
    _patch_click()
    return language()


def translation(lang: str | None = None) -> _gettext.NullTranslations:
    """The catalogue of *lang* (the language in force by default), read once per process."""
    lang = lang or language()
    folder = os.environ.get(ENV_LOCALE_DIR) or _PACKAGED  # read per call: cheap, and tests change it
    key = (lang, folder)
    found = _loaded.get(key)
    if found is None:
        if lang == "en":  # the messages are written in English
            found = _gettext.NullTranslations()
        else:
            # The one file gettext.translation() would find for *lang*, opened directly: its
            # search of every spelling of the locale cost each command about 2 ms.
            try:
                found = _read_catalogue(os.path.join(folder, lang, "LC_MESSAGES", DOMAIN + ".mo"))
            except FileNotFoundError:
                found = _gettext.NullTranslations()  # no catalogue (a checkout before compiling): English
        found = _loaded[key] = found
    return found


ENV_CACHE = "SOPENGINE_CACHE"


def _cache_path(lang_file: str) -> str | None:
    """Where what gettext read from *lang_file* is kept: the user's cache folder, as ``list``
    keeps its checks (``SOPENGINE_CACHE=off``: nowhere)."""
    if os.environ.get(ENV_CACHE, "").lower() in ("off", "0", "no"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if base.startswith("~"):
        return None  # no home folder to keep it in
    lang = os.path.basename(os.path.dirname(os.path.dirname(lang_file)))
    return os.path.join(base, "sopengine", f"catalogue-{lang}.marshal")


def _read_catalogue(path: str) -> _gettext.NullTranslations:
    """The compiled catalogue at *path*, as gettext reads it.

    gettext reads a catalogue message by message: about 1.4 ms for sopengine's, a tenth of what
    a step command does beside its imports. So what it found is kept in the user's cache, under
    the file's path, size and time and the interpreter's version, written with :mod:`marshal`
    (as Python keeps its own compiled modules; it costs no import and reads in a tenth of the
    time) while the file stays as it is. A cache that is missing, damaged, another file's or
    cannot be written is passed over: the catalogue is then read as gettext reads it.
    """
    import marshal

    with open(path, "rb") as fh:
        stat = os.fstat(fh.fileno())
        key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, sys.version)
        cache = _cache_path(path)
        if cache is not None:
            try:
                with open(cache, "rb") as kept:
                    data = marshal.loads(kept.read())  # marshal.load reads a file a few bytes at a time: 4x slower
                if type(data) is dict and data.get("key") == key:
                    return _rebuilt(data)
            except (OSError, ValueError, EOFError, TypeError, KeyError, IndexError, AttributeError):
                pass  # read the catalogue itself
        found = _gettext.GNUTranslations(fh)
    if cache is not None:
        data = {"key": key, "info": found._info, "charset": found._charset,  # type: ignore[attr-defined]
                "catalog": found._catalog}  # type: ignore[attr-defined]
        import _thread

        partial = f"{cache}.{os.getpid()}.{_thread.get_ident()}.tmp"  # the office server's threads each their own
        try:
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            with open(partial, "wb") as out:
                marshal.dump(data, out)
            os.replace(partial, cache)  # whole or not at all, whoever reads it meanwhile
        except (OSError, ValueError):
            try:
                os.unlink(partial)  # nothing left behind where the cache cannot be written
            except OSError:
                pass
    return found


def _rebuilt(data: dict[str, Any]) -> _gettext.GNUTranslations:
    """A catalogue as gettext would have read it, from what :func:`_read_catalogue` kept."""
    found = _gettext.GNUTranslations()  # no file: nothing read
    found._catalog = dict(data["catalog"])  # type: ignore[attr-defined]
    found._info = dict(data["info"])  # type: ignore[attr-defined]
    found._charset = data["charset"]  # type: ignore[attr-defined]
    forms = found._info.get("plural-forms")  # type: ignore[attr-defined]
    # as gettext reads the header ("nplurals=N; plural=EXPRESSION;"), English's rule without one
    found.plural = (_gettext.c2py(forms.split(";")[1].split("plural=")[1]) if forms  # type: ignore[attr-defined]
                    else lambda n: int(n != 1))
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


# -- messages made in English, shown in the language in force ------------------------------------
# A message read twice — as data (JSON, CSV, an evidence pack's files, always English) and by a
# person (in their language) — is made as a Message: a ``str`` holding the English text that
# remembers its template and values, translated only where it is shown (:func:`shown`).

class Message(str):
    """English text that can be shown in the language in force.

    ``values`` is None for a template used as it is (its braces are then plain text).
    """

    template: str
    values: dict[str, Any] | None

    def __new__(cls, template: str, values: dict[str, Any] | None = None) -> Message:
        self = super().__new__(cls, template if values is None else template.format(**values))
        self.template = str(template)
        self.values = values
        return self

    def format(self, /, **values: Any) -> Message:  # type: ignore[override]
        """The template filled in with *values*; the result is English and remembers them."""
        if self.values is not None:
            raise TypeError("a message is filled in once")
        return Message(self.template, values)

    def text(self) -> str:
        """The message in the language in force."""
        return translate(self.template, self.values)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.template, self.values))


def translate(template: str, values: dict[str, Any] | None) -> str:
    """*template* in the language in force, filled in with *values* (Messages translated too)."""
    text = _(template)
    if values is None:
        return text
    return text.format(**{k: v.text() if isinstance(v, Message) else v for k, v in values.items()})



def message(template: str, **values: Any) -> Message:
    """The English *template* filled with *values*, remembering both (mark the template with ``N_``)."""
    return Message(template, values)


def shown(text: Any) -> Any:
    """*text* as a person reads it: a :class:`Message` in the language in force, anything else as it is."""
    return text.text() if isinstance(text, Message) else text


def concat(*parts: str) -> Message:
    """Parts shown one after the other (a message and its hint), each in the language in force.

    The template is structure, not words: it is not in the catalogue.
    """
    return joined(list(parts), "")


def joined(items: list[str], separator: str = ", ") -> Message:
    """*items* one after the other with *separator* between them, each in the language in force."""
    template = separator.replace("{", "{{").replace("}", "}}").join(f"{{p{i}}}" for i in range(len(items)))
    return Message(template, {f"p{i}": item for i, item in enumerate(items)})


def either(items: list[str]) -> str:
    """``'a', 'b' or 'c'``, with the language's word for 'or'."""
    if len(items) < 2:
        return items[0] if items else ""
    return Message(N_("{first} or {last}")).format(first=joined(items[:-1]), last=items[-1])
