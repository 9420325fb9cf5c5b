"""Who acts: ``--by`` / ``SOPENGINE_USER`` / the OS login, and the OS user itself.

The OS login is that of the process's real user id, read from the password database
(``pwd``), never from ``LOGNAME`` or ``USER``, which anyone can set. A name typed with
``--by`` is cleaned before it is used or compared: Unicode NFKC, invisible characters
(zero-width spaces and joiners, the BOM, soft hyphens, other format and control
characters) removed, runs of white space made one space. So a name that only looks like
another one (``sopengine`` followed by a zero-width space) is that other name.

Without a people register a local command line cannot authenticate people: the name is
what the person says it is. Every event records it beside the OS login. With a register
(:mod:`sopengine.people`), the OS login decides who acts (:mod:`sopengine.authority`).
"""

from __future__ import annotations

import functools
import os
import unicodedata

from sopengine.errors import InputError
from sopengine.i18n import _

ENV_USER = "SOPENGINE_USER"

# Default-ignorable characters outside the format (Cf) and control (Cc) categories: they
# show nothing, so a name holding them looks like one without.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0100, 0xE01EF),  # variation selectors supplement
)


def _invisible(ch: str) -> bool:
    if unicodedata.category(ch) in ("Cf", "Cc"):
        return True
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _INVISIBLE_RANGES)


@functools.lru_cache(maxsize=512)
def clean_name(text: str) -> str:
    """*text* as a name is recorded: NFKC, invisible characters removed, white space made single spaces.

    Tabs and line breaks count as white space (they separate words); every other control or
    format character is dropped. Remembered for the last few hundred names: every step cleans
    its person's name, and a long-lived process (the office server) sees the same few names.
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if ch in "\t\n\r\x0b\x0c\x85\u2028\u2029" else ch for ch in text)
    text = "".join(ch for ch in text if not _invisible(ch))
    return " ".join(text.split())


@functools.lru_cache(maxsize=512)
def name_key(text: str) -> str:
    """The form two names are compared in: :func:`clean_name`, then case-folded (and NFKC again)."""
    return unicodedata.normalize("NFKC", clean_name(text).casefold())


@functools.cache
def os_user() -> str:
    """The OS login of the process's real user id (``uid-N`` when it has no passwd entry).

    Read once per process: it cannot change while the process runs.
    """
    if not hasattr(os, "getuid"):  # Windows: no user ids; the login name is all there is
        import getpass

        try:
            return getpass.getuser()
        except Exception:
            return "unknown"
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container user without a passwd entry
        return f"uid-{uid}"


def pwd_available() -> bool:
    """Whether this system has a password database (``pwd``) to read the OS login from.

    Not on Windows: there the login name comes from the environment (``USERNAME``), which
    anyone can set, so it proves nothing.
    """
    if not hasattr(os, "getuid"):
        return False
    try:
        import pwd  # noqa: F401
    except ImportError:
        return False
    return True


def register_login() -> str:
    """The OS login a people register may trust: :func:`os_user`, where the system has ``pwd``.

    Refused (:class:`~sopengine.errors.InputError`) where it has not (Windows): the login would
    come from the environment, and anyone could pose as anyone.
    """
    if not pwd_available():
        raise InputError(
            _("a people register needs the OS's user database (pwd) to know who runs a command, and this system has"
              " none (on Windows the login name comes from the environment, which anyone can set); use the register on"
              " a Linux or other Unix machine, or the database without a register")
        )
    return os_user()


def person(by: str | None = None) -> str:
    """The name a command acts under: *by*, else ``SOPENGINE_USER``, else the OS login.

    *by* given but empty (or white space, or only invisible characters) is refused rather
    than replaced: someone meant to give a name and did not.
    """
    if by is not None:
        name = clean_name(by)
        if not name:
            if by.strip():
                raise InputError(
                    _("the name given with --by ({name!r}) holds only invisible characters; type the name itself").format(name=by)
                )
            raise InputError(_("--by is empty; give your name with --by NAME, or leave --by out to act as {login}").format(
                login=os.environ.get(ENV_USER) or os_user()))
        return name
    env = clean_name(os.environ.get(ENV_USER) or "")
    return env or os_user()
