"""``audit verify``: every run's hash chain, and the tables, definitions and calendars against it.

:func:`verify` walks every event in ``seq`` order, recomputes each event's hash from its
canonical form (:mod:`sopengine.chain`), checks the ``prev_hash`` links and that each payload
is stored as its canonical text, rebuilds the ``runs``, ``tasks`` and ``assignments`` tables
from the events and compares (:mod:`~sopengine.audit.tables`), checks the pinned definitions
and calendars against their hashes (:mod:`~sopengine.audit.pins`), and names the first bad
event (:mod:`~sopengine.audit.diagnose`). It returns the *database head* (one hash over
every run's last hash) as ``HASH@SEQ``: noted by an auditor, it later reveals a cut-off tail
or a rebuilt history.
"""

from __future__ import annotations

import gc
import sqlite3
import time
from pathlib import Path
from typing import Any

from sopengine.audit.canonical import _ENCODE, _SCAN_JSON, _exact_hash, _fast_hash, _head_token, parse_head, payload_problem
from sopengine.audit.diagnose import _describe_run_problem, _noncanonical
from sopengine.audit.documents import _document_check
from sopengine.audit.findings import _problem, _text
from sopengine.audit.pins import _pin_problems
from sopengine.audit.tables import (
    _CLOSING_KINDS,
    _ENGINE,
    _STATE_KINDS,
    _key_hash,
    _note_state_event,
    _started_fields,
    _state_problems,
    _table_problems,
)
from sopengine.chain import GENESIS, database_head
from sopengine.i18n import N_
from sopengine.store import Store
from sopengine.store import audit as store_audit


def _scan(conn: sqlite3.Connection, head_seq: int | None) -> dict[str, Any]:
    """One pass over every event in ``seq`` order; each run's chain is followed by a dict of tails."""
    tails: dict[str, tuple[str, int, str, str, int]] = {}  # run -> (hash, seq, kind, at, count)
    firsts: dict[str, tuple[int, str, str, str, dict[str, Any] | None]] = {}  # run -> (seq, kind, at, person, run fields)
    broken: dict[str, int] = {}  # run -> seq of the first event found wrong in the pass
    gaps: list[tuple[int, int]] = []
    snapshot: dict[str, str] | None = None
    # the heads as of event head_seq are taken when the pass first goes beyond it
    snap_after = head_seq if head_seq is not None else float("inf")
    last_seq = 0
    count = 0
    fast = _fast_hash
    scan_json = _SCAN_JSON
    encode = _ENCODE
    odd: list[tuple[int, str]] = []  # (seq, run) of payloads not stored as their canonical text
    closes: dict[str, list[int]] = {}  # run -> [sum of closing hashes, count]: the done tasks its events imply
    closings: dict[str, list[tuple[Any, ...]]] = {}  # run -> its reopened, joined and run_cancelled events
    assigned: dict[str, dict[tuple[str, str], tuple[int, str, str]]] = {}  # run -> assignments its events leave
    cursor = store_audit.event_rows(conn)
    while True:
        batch = cursor.fetchmany()
        if not batch:
            break
        count += len(batch)
        for row in batch:
            seq, run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev, stored = row
            if seq > snap_after:
                snapshot = {r: t[0] for r, t in tails.items()}
                snap_after = float("inf")
            if seq != last_seq + 1:
                gaps.append((last_seq + 1, seq - 1))
            last_seq = seq
            tail = tails.get(run_id)
            if tail is None:
                firsts[run_id] = (seq, kind, at, person, None)  # the run's fields are added below, once parsed
                expected = GENESIS
                n = 1
            else:
                expected = tail[0]
                n = tail[4] + 1
            tails[run_id] = (stored, seq, kind, at, n)
            try:
                obj, end = scan_json(payload, 0)
            except (StopIteration, TypeError, ValueError, RecursionError):  # not JSON text at all
                obj, end = None, -1
            if type(obj) is not dict or end != len(payload) or encode(obj) != payload:
                odd.append((seq, run_id))
            if type(obj) is dict:
                if kind in _CLOSING_KINDS:
                    if person != _ENGINE:  # the engine's own decisions close no task
                        get = obj.get  # _event_closing, written out: this runs once per event
                        key = (step_id, at, person, get("outcome"), get("iteration"), get("actor"), get("part"),
                               get("note") or None, get("on_behalf_of") or None)
                        try:
                            h = hash(key)
                        except TypeError:
                            h = _key_hash(key)
                        c = closes.get(run_id)
                        if c is None:
                            closes[run_id] = [h, 1]
                        else:
                            c[0] += h
                            c[1] += 1
                elif kind in _STATE_KINDS:
                    _note_state_event(closings, assigned, seq, run_id, kind, at, person, step_id, obj)
                    if tail is None and kind == "run_started":
                        firsts[run_id] = (seq, kind, at, person, _started_fields(obj))
            if prev != expected:
                broken.setdefault(run_id, seq)
                continue
            try:
                ok = fast(run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev) == stored
            except TypeError:
                ok = False
            if not ok and run_id not in broken and _exact_hash(row) != stored:
                broken[run_id] = seq
    if head_seq is not None and snapshot is None:
        snapshot = {r: t[0] for r, t in tails.items()}
    return {"tails": tails, "firsts": firsts, "broken": broken, "gaps": gaps, "last_seq": last_seq,
            "count": count, "snapshot": snapshot, "closes": closes, "closings": closings, "assigned": assigned,
            "noncanonical": odd}


_CHAIN_KINDS = frozenset(("edited", "reordered", "forged", "deleted", "relinked", "noncanonical"))
"""Problems with the events themselves; those with the tables derived from them come after."""


def _order(problem: dict[str, Any]) -> tuple[int, int, int]:
    # The record comes first: an edited event also makes its task row differ from it, and the
    # event is what is named first. Within each group, by event number; those without one last.
    tier = 0 if problem["kind"] in _CHAIN_KINDS else 1
    return (tier, 0, problem["seq"]) if problem["seq"] is not None else (tier, 1, 0)


def verify(db: str | Path, *, documents: bool = False, expect_head: str | None = None) -> dict[str, Any]:
    """Check every run's hash chain and the tables against it; the first problem comes first.

    Returns ``ok``, ``events``, ``runs``, ``head`` (``HASH@SEQ``), ``problems`` (each with
    ``kind``, ``seq``, ``run_id``, ``message``), and with ``documents`` a ``documents``
    summary. ``expect_head`` (``HASH`` or ``HASH@SEQ``) is compared with the head now or,
    with ``@SEQ``, with the head recomputed over the events up to that number.
    """
    expected = parse_head(expect_head) if expect_head else None
    started = time.perf_counter()
    # The pass keeps a tuple per run alive; the cyclic collector would walk them all again
    # and again (it more than doubled the time over a million events). Nothing here forms cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _verify(db, documents, expect_head, expected, started)
    finally:
        if collecting:
            gc.enable()


def _verify(db: str | Path, documents: bool, expect_head: str | None, expected: tuple[str, int | None] | None,
            started: float) -> dict[str, Any]:
    # one snapshot: a command writing meanwhile cannot split the view
    with Store(db, readonly=True) as store, store_audit.read_snapshot(store.conn) as conn:
        scan = _scan(conn, expected[1] if expected else None)
        problems = []
        for run_id, seq in scan["broken"].items():
            found = _describe_run_problem(conn, run_id)
            problems.append(found or _problem("edited", _text(N_("event {seq} of run {run} does not match the chain"),
                                                              seq=seq, run=run_id), seq=seq, run_id=run_id))
        named = {p["seq"] for p in problems}
        for seq, run_id in scan["noncanonical"]:
            if seq not in named:
                text = store_audit.event_payload(conn, seq)
                problems.append(_noncanonical(seq, run_id, payload_problem(text) or _text(N_("it differs"))))
        explained = [p["between"] for p in problems if "between" in p]
        for low, high in scan["gaps"]:
            if any(a < low and high < b for a, b in explained):
                continue  # already named by the run whose chain it broke
            if low == high:
                message = _text(N_("event(s) {first} are missing from the events table: rows were deleted"), first=low)
            else:
                message = _text(N_("event(s) {first} to {last} are missing from the events table: rows were deleted"),
                                first=low, last=high)
            problems.append(_problem("deleted", message, seq=low))
        issued = store_audit.events_issued(conn)
        if issued is not None and issued > scan["last_seq"]:
            problems.append(_problem(
                "deleted", _text(N_("events up to {issued} were written but the last one now is {last}: the newest"
                                    " rows were deleted"), issued=issued, last=scan["last_seq"]),
                seq=scan["last_seq"] + 1,
            ))
        problems.extend(_state_problems(conn, scan))
        problems.extend(_table_problems(conn, scan))
        problems.extend(_pin_problems(conn))
        doc_result = None
        if documents:
            doc_result, doc_problems = _document_check(conn)
            problems.extend(doc_problems)
    heads = {run_id: tail[0] for run_id, tail in scan["tails"].items()}
    head = database_head(heads)
    result: dict[str, Any] = {
        "db": str(db),
        "events": scan["count"],
        "runs": len(heads),
        "head": _head_token(head, scan["last_seq"]),
        "head_hash": head,
        "last_seq": scan["last_seq"],
    }
    if expected is not None:
        digest, at_seq = expected
        if at_seq is None:
            matches = digest == head
            template = N_("the noted head {noted}… differs from the head now: events were cut off, added before that"
                          " point, or the history was rebuilt")
        elif at_seq > scan["last_seq"]:
            matches = False
            template = N_("the noted head {noted}… differs from the head after event {seq}, but the last event now is"
                          " {last}: events were cut off, added before that point, or the history was rebuilt")
        else:
            matches = digest == database_head(scan["snapshot"] or {})
            template = N_("the noted head {noted}… differs from the head recomputed over events 1 to {seq}: events were"
                          " cut off, added before that point, or the history was rebuilt")
        result["expected_head"] = expect_head
        result["head_matches"] = matches
        if not matches:
            problems.append(_problem("head", _text(template, noted=digest[:16], seq=at_seq, last=scan["last_seq"])))
    problems.sort(key=_order)
    result["ok"] = not problems
    result["problems"] = problems
    result["first_problem"] = problems[0] if problems else None
    if doc_result is not None:
        result["documents"] = doc_result
    elapsed = time.perf_counter() - started
    result["seconds"] = round(elapsed, 3)
    return result


def head(db: str | Path) -> dict[str, Any]:
    """The database head from the stored hashes (not verified): ``head`` is ``HASH@SEQ``."""
    with Store(db, readonly=True) as store, store_audit.read_snapshot(store.conn) as conn:
        return _stored_head(conn)


def _stored_head(conn: sqlite3.Connection) -> dict[str, Any]:
    heads, n, last = store_audit.stored_heads(conn)
    digest = database_head(heads)
    return {"head": _head_token(digest, last), "head_hash": digest, "last_seq": last, "events": n, "runs": len(heads)}

