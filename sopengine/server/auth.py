"""Who is signed in: passwords, the sign-in throttle, sessions and API tokens.

* **Sign-in** checks a password against the register's argon2id hash. Each attempt is
  logged before its password is looked at, so that attempts made at the same moment count
  each other. After 5 attempts that did not succeed, for one account (since its last
  sign-in) or from one address, within 15 minutes, every further attempt waits: 1 s after
  the fifth, doubling with each further one, up to 15 minutes; an attempt during the wait
  is refused (HTTP 429, ``Retry-After``) without its password being looked at. The
  throttle counts the access log in the database, so every server process over it agrees.
  At most :data:`VERIFYING` sign-ins are checked at once in a process, the throttle's
  judgement included (argon2id takes tens of MiB each, and each outcome is logged before a
  waiting attempt is judged).
* **Sessions** are a signed cookie (Starlette's ``SessionMiddleware``): the person's register
  id, a fingerprint of their password hash, and the session's own random id and start. Every
  request reads the person again: a disabled person, a changed password or a removed account
  ends the session there; so does its sign-out, which the access log keeps with the session's
  id, so that a copy of the cookie is refused afterwards too; so does disabling the person
  (for good: enabling them again does not revive it); and a session ends at the latest
  ``session_hours`` after its sign-in, however busy.
* **API tokens** (``POST /api/token``) are random, kept only as their SHA-256, valid for
  :data:`TOKEN_DAYS` days, revoked when the person's password changes.

Every sign-in, sign-out, refused or throttled attempt and token issued is a row of the
append-only ``access_log``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sopengine import channel, passwords
from sopengine.errors import SopError
from sopengine.i18n import _
from sopengine.identity import clean_name, name_key
from sopengine.store import Store
from sopengine.store import people as register
from sopengine.store import server as sql

WINDOW = timedelta(minutes=15)
FREE_FAILURES = 5
MAX_WAIT = 15 * 60
TOKEN_DAYS = 30
VERIFYING = 4
SESSION_SECRET = "session_secret"
CSRF_SECRET = "csrf_secret"


class SignInRefused(SopError):
    """Wrong name or password (the message never says which)."""


class Throttled(SopError):
    """Too many refused sign-ins: ``retry_after`` seconds to wait."""

    retry_after: int


@dataclass(frozen=True)
class Who:
    """The signed-in person of a request: their register entry, the channel and how they signed in."""

    person: dict[str, Any]
    via: str  # channel.WEB or channel.API
    auth: str  # "password-session" or "token"

    @property
    def id(self) -> int:
        return int(self.person["id"])

    @property
    def name(self) -> str:
        return str(self.person["name"])

    @property
    def access(self) -> str:
        return str(self.person["access"])

    def acting(self) -> Any:
        """The block in which the library records writes as this person (:func:`sopengine.channel.signed_in`)."""
        return channel.signed_in(self.id, self.via, self.auth)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")  # as sql.now() writes it


def fingerprint(password_hash: str | None) -> str:
    """What a session remembers of the password it was opened with: a changed password ends it."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def secret(db: Path | str, key: str) -> str:
    """A signing secret kept in the database (made by the first process that asks)."""
    with Store(db) as store, store.transaction() as conn:
        return sql.setting_or_create(conn, key, secrets.token_urlsafe(48))


def _find(conn: Any, username: str) -> dict[str, Any] | None:
    name = clean_name(username)
    if not name:
        return None
    return register.by_key(conn, name_key(name)) or register.by_login(conn, name)


def wait_left(conn: Any, username: str, address: str, now: datetime) -> int:
    """Seconds the next sign-in for *username* from *address* must still wait (0: none).

    An account counts its attempts since its last sign-in within the window, those still
    being checked included (guesses sent at once count each other). An address counts its
    refused attempts within the window: a whole office signing in at once from behind one
    router is not held up, and another person's sign-in from it clears nothing.
    """
    window = _iso(now - WINDOW)
    left = 0.0
    for column, value in (("username", username), ("address", address)):
        since = window
        if column == "username":
            success = sql.last_success(conn, column, value)
            if success and success > since:
                since = success
            attempts, last = sql.attempts_since(conn, column, value, since)
        else:
            attempts, last = sql.refusals_since(conn, column, value, since)
        if attempts >= FREE_FAILURES and last:
            wait = min(2 ** (attempts - FREE_FAILURES), MAX_WAIT)
            until = datetime.fromisoformat(last) + timedelta(seconds=wait)
            left = max(left, (until - now).total_seconds())
    return int(left) + (1 if left % 1 else 0)


_verifying = threading.BoundedSemaphore(VERIFYING)


def sign_in(db: Path | str, username: str, password: str, address: str, via: str) -> dict[str, Any]:
    """The person *username* (name or OS login) names, if *password* is theirs and they may sign in.

    Refused: :class:`Throttled` while the throttle holds, :class:`SignInRefused` otherwise
    (unknown name, wrong password, no password set, disabled — one message for all). The
    person comes back with ``fingerprint`` and ``signed_at``, the time the sign-in was logged:
    a session or a token begins then.

    A process checks at most :data:`VERIFYING` sign-ins at once, the throttle's check
    included: each one's outcome is logged before a waiting one is judged, so that guesses
    sent together, at one account or at many from one address, are held up after the fifth.
    """
    with _verifying, Store(db) as store:
        now = _now()
        person = _find(store.conn, username or "")
        # the throttle counts per account, whichever of its names or logins is typed
        key = person["name_key"] if person is not None else name_key(clean_name(username or ""))[:200]
        named = None if person is None else person["name"]
        with store.transaction() as conn:
            left = wait_left(conn, key, address, now)
            # logged in the same transaction as the check: another process's attempt meanwhile counts this one
            sql.log_access(conn, at=_iso(now), kind="sign_in_throttled" if left > 0 else "sign_in_attempt", username=key,
                           person=named, address=address, via=via)
        if left > 0:
            raise Throttled(
                _("too many refused sign-ins; wait {seconds} seconds before trying again").format(seconds=left),
                retry_after=left,
            )
        stored = sql.password_hash(store.conn, person["id"]) if person else None
        if stored:
            ok = passwords.verify(stored, password)
        else:
            passwords.dummy_verify(password)  # the same time as a wrong password: names cannot be probed
            ok = False
        with store.transaction() as conn:
            # read again where the outcome is written: someone disabled while their password was checked is refused
            current_state = sql.person_by_id(conn, person["id"]) if person is not None else None
            disabled = current_state is None or bool(current_state["disabled"])
            refused = not ok or disabled
            signed_at = _iso(_now())
            sql.log_access(conn, at=signed_at, kind="sign_in_refused" if refused else "sign_in", username=key,
                           person=named, person_id=None if person is None else person["id"], address=address, via=via,
                           detail=("disabled" if person is not None and disabled and ok else None))
        if refused:
            raise SignInRefused(_("wrong name or password"))
        assert current_state is not None
        return {**current_state, "fingerprint": fingerprint(stored), "signed_at": signed_at}


def log(db: Path | str, kind: str, person: dict[str, Any], address: str, via: str, detail: str | None = None) -> None:
    with Store(db) as store, store.transaction() as conn:
        sql.log_access(conn, at=_iso(_now()), kind=kind, username=person["name_key"], person=person["name"],
                       address=address, via=via, detail=detail)


def new_session(person: dict[str, Any]) -> dict[str, Any]:
    """What the session cookie of a sign-in keeps (see the module's description of sessions):
    it begins when the sign-in was logged, so that a disable committed since ends it."""
    return {"pid": person["id"], "pw": person["fingerprint"], "sid": secrets.token_urlsafe(12),
            "at": person.get("signed_at") or _iso(_now())}


def session_person(store: Store, session: dict[str, Any], hours: float) -> dict[str, Any] | None:
    """The person of a session cookie, if it still holds: as :func:`current`, opened less than
    *hours* ago, not signed out, and not ended by disabling the person since."""
    pid, print_, sid, at = (session.get(key) for key in ("pid", "pw", "sid", "at"))
    if not (isinstance(pid, int) and isinstance(print_, str) and isinstance(sid, str) and isinstance(at, str)):
        return None
    try:
        opened = datetime.fromisoformat(at)
    except ValueError:
        return None
    if opened.tzinfo is None or _now() - opened > timedelta(hours=hours):
        return None
    person = current(store, pid, print_)
    if person is None or sql.signed_out(store.conn, sid) or sql.sessions_ended_after(store.conn, pid, at):
        return None
    return person


def current(store: Store, person_id: int, print_: str | None) -> dict[str, Any] | None:
    """The person of a session, if it still holds: registered, enabled, same password."""
    person = sql.person_by_id(store.conn, person_id)
    if person is None or person["disabled"]:
        return None
    if print_ is not None and fingerprint(sql.password_hash(store.conn, person_id)) != print_:
        return None
    return person


def issue_token(db: Path | str, person: dict[str, Any], address: str) -> dict[str, Any]:
    token = secrets.token_urlsafe(32)
    now = _now()
    expires = now + timedelta(days=TOKEN_DAYS)
    with Store(db) as store, store.transaction() as conn:
        # not for someone disabled since they signed in (their sessions ended then; so does this)
        state = sql.person_by_id(conn, person["id"])
        if state is None or state["disabled"] or sql.sessions_ended_after(conn, person["id"], person.get("signed_at") or _iso(now)):
            raise SignInRefused(_("wrong name or password"))
        sql.add_token(conn, hashlib.sha256(token.encode()).hexdigest(), person["id"], _iso(now), _iso(expires))
        sql.log_access(conn, at=_iso(now), kind="token_issued", username=person["name_key"], person=person["name"],
                       address=address, via=channel.API)
    return {"token": token, "expires_at": _iso(expires)}


def token_person(store: Store, token: str) -> dict[str, Any] | None:
    """The person a bearer *token* stands for, if it is valid (issued, not expired or revoked) and they may sign in."""
    found = sql.token(store.conn, hashlib.sha256(token.encode()).hexdigest())
    if found is None or found["revoked_at"] or found["expires_at"] <= _iso(_now()):
        return None
    return current(store, found["person_id"], None)
