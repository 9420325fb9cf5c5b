"""How a write came to sopengine: the command line, the office server's pages, or its API.

Every event a person makes records it in its payload — ``via`` (``cli``, ``web`` or ``api``)
and ``auth``, how the person was known:

* ``os-login`` — the command line with a people register: the registered person whose OS
  login runs the process;
* ``as-typed`` — the command line without a register: the name given (``--by``,
  ``SOPENGINE_USER`` or the OS login), which nothing checked;
* ``password-session`` — a page of the office server, signed in with a password;
* ``token`` — the office server's API, with a token issued after a password sign-in.

The office server sets the channel of a request with :func:`signed_in`; the library's writes
read it (:func:`current`), so the person the server signed in is the one events record — a
name typed into a form or a JSON body never is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

CLI = "cli"
WEB = "web"
API = "api"


class SignedIn(NamedTuple):
    """A person the office server authenticated for this request: their register id, and how."""

    person_id: int
    via: str  # WEB or API
    auth: str  # "password-session" or "token"


_current: ContextVar[SignedIn | None] = ContextVar("sopengine_signed_in", default=None)


@contextmanager
def signed_in(person_id: int, via: str, auth: str) -> Iterator[SignedIn]:
    """Within the block, writes are made by the registered person *person_id*, through *via*."""
    who = SignedIn(person_id, via, auth)
    token = _current.set(who)
    try:
        yield who
    finally:
        _current.reset(token)


def current() -> SignedIn | None:
    """The person the office server signed in for this request, or None on the command line."""
    return _current.get()


def fields(register: bool) -> dict[str, str]:
    """The ``via`` and ``auth`` of a write now; *register*: whether a people register decided who acts."""
    who = _current.get()
    if who is not None:
        return {"via": who.via, "auth": who.auth}
    return {"via": CLI, "auth": "os-login" if register else "as-typed"}


def stamp(events: Iterable[Any], register: bool, engine: str = "sopengine") -> None:
    """Add the channel to the payload of each event a person made (not the engine's own)."""
    extra = fields(register)
    for event in events:
        if event.person != engine:
            for key, value in extra.items():
                event.payload.setdefault(key, value)
