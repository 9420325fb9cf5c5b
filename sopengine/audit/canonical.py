"""The canonical form as the audit reads it: an event's hash from its stored row, payload checks, heads.

:mod:`sopengine.chain` defines the canonical form and the hash (the step path writes with it);
this module recomputes them fast over a million stored rows, checks that a stored payload is
the canonical text the engine writes, and reads a head noted by an auditor.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sopengine.audit.findings import _text
from sopengine.chain import CHAIN_FIELDS, canonical, event_digest, event_hash
from sopengine.errors import InputError
from sopengine.i18n import N_, _


_fast_hash = event_digest
"""The event hash built from the stored payload text, without parsing it (:func:`sopengine.chain.event_digest`);
callers fall back to :func:`_exact_hash` when the two could differ (a mismatch, or a value that is not text)."""


def _exact_hash(row: tuple[Any, ...]) -> str | None:
    """``event_hash`` of a stored row ``(seq, *CHAIN_FIELDS, hash)``; None if it cannot be read."""
    fields = dict(zip(CHAIN_FIELDS, row[1:10]))
    try:
        return event_hash(fields)
    except (TypeError, ValueError):  # a payload that is not JSON, a value of the wrong type
        return None


def _row_hash(row: tuple[Any, ...]) -> str | None:
    try:
        digest = _fast_hash(*row[1:10])
    except TypeError:  # a NULL or a number where text belongs
        return _exact_hash(row)
    return digest if digest == row[10] else _exact_hash(row)


def parse_head(text: str) -> tuple[str, int | None]:
    """Read a noted head: ``HASH``, ``HASH@SEQ`` or ``HASH@SEQ+OFFICE`` (as :func:`verify` and
    :func:`backup` print it); the hash and the run event number it was noted at."""
    digest, seq, _office = parse_head_token(text)
    return digest, seq


def parse_head_token(text: str) -> tuple[str, int | None, int | None]:
    """A noted head as ``(hash, run event number, office event number)``, the numbers None when not given."""
    raw = text.strip().lower()
    digest, _at, numbers = raw.partition("@")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError(_("cannot read head {text!r}; give the 64-hex head as printed, e.g. 3f2a…c9@1234").format(text=text))
    if not numbers:
        return digest, None, None
    seq, plus, office = numbers.partition("+")
    if not seq.isdigit() or (plus and not office.isdigit()):
        raise InputError(_("cannot read head {text!r}: after '@' comes the event number it was noted at").format(text=text))
    return digest, int(seq), int(office) if plus else None


def _head_token(digest: str, seq: int, office_seq: int | None = None) -> str:
    """``HASH@SEQ``, with ``+OFFICE`` when the office's chain holds events (its last number)."""
    return f"{digest}@{seq}" if not office_seq else f"{digest}@{seq}+{office_seq}"


_ENCODE = canonical
""":func:`sopengine.chain.canonical`: json's C encoder, made once."""


def payload_problem(text: Any) -> str | None:
    """Why a stored payload is not exactly ``chain.canonical`` of itself, or None when it is.

    The engine writes every payload as its canonical text. Any other spelling of the same
    JSON was written behind its back, and may not mean the same to every reader: with a
    duplicate key, Python's json keeps the last value and SQLite's json_extract the first.
    """
    duplicate: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen = set()
        for key, _value in items:
            if key in seen and not duplicate:
                duplicate.append(key)
            seen.add(key)
        return dict(items)

    try:
        value = json.loads(text, object_pairs_hook=pairs)
    except (TypeError, ValueError, RecursionError):
        return _text(N_("it is not JSON"))
    if not isinstance(value, dict):
        return _text(N_("it is not a JSON object"))
    if duplicate:
        return _text(N_("the key {key!r} appears twice; SQL tools read the first value, the hash covers the last"),
                     key=duplicate[0])
    if canonical(value) != text:
        return _text(N_("its spacing, key order, escapes or numbers differ from the canonical text"))
    return None


_SCAN_JSON: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The C scanner behind ``json.loads``, without its whitespace skipping: the payloads the
engine writes have none, and the pass reads a million of them."""
