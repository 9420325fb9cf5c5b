"""Passwords of the office server: argon2id hashes (``argon2-cffi``), never the password itself.

Only a hash is stored (``people.password_hash``). Verifying costs tens of milliseconds on
purpose; the sign-in throttle (:mod:`sopengine.server.auth`) limits how often anyone may try.
"""

from __future__ import annotations

import functools
from typing import Any

from sopengine.errors import InputError
from sopengine.i18n import _

MIN_LENGTH = 10
MAX_LENGTH = 1024


@functools.cache
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's recommended parameters


def check_new(password: str) -> str:
    """*password* if it may be set: at least 10 characters, at most 1024, not only spaces."""
    if not password.strip():
        raise InputError(_("the password is empty; give a password of at least {n} characters").format(n=MIN_LENGTH))
    if len(password) < MIN_LENGTH:
        raise InputError(_("the password has {n} characters; give at least {min}").format(n=len(password), min=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise InputError(_("the password is longer than {max} characters; give a shorter one").format(max=MAX_LENGTH))
    return password


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def verify(stored: str | None, password: str) -> bool:
    """Whether *password* matches the *stored* hash (False when there is none or it is unreadable)."""
    if not stored or len(password) > MAX_LENGTH:
        return False
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return bool(_hasher().verify(stored, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def dummy_verify(password: str) -> None:
    """Spend the time of a verification for an unknown account, so timing does not tell which names exist."""
    verify(_dummy_hash(), password)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("sopengine-no-such-account")
