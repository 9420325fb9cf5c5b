"""The audit trail: verify the hash chains, query the history, evidence packs, backups.

* :func:`verify` walks every run's events in ``seq`` order, recomputes each event's hash
  from its canonical form (:mod:`sopengine.chain`), checks the ``prev_hash`` links and that
  each payload is stored as its canonical text, rebuilds the ``runs``, ``tasks`` and
  ``assignments`` tables from the events and compares, checks the pinned definitions and
  calendars against their hashes, and names the first bad event. It returns the *database
  head* (one hash over every run's last hash) as ``HASH@SEQ``: noted by an auditor, it
  later reveals a cut-off tail or a rebuilt history.
* :func:`history` / :func:`iter_history` read the events with filters, for people and
  spreadsheets; :func:`export_history` writes them as CSV (:func:`write_history_csv`,
  which a spreadsheet opens safely) or JSON.
* :func:`pack` writes a run's evidence into one zip, its documents taken from the chained
  events; :func:`verify_pack` checks such a zip without the database, the members the
  chain does not cover included.
* :func:`backup` copies the live database with SQLite's online backup API.

Read-only queries for auditors run here on the store's connection; every write goes
through :mod:`sopengine.store` (a backup writes only its new file).

What the checks find (problems, history's action words and notes) is data: JSON, CSV and
the files of a pack hold it in English whatever the language. Each such text is a
:class:`Text`, which a command shows to a person in the language in force with :func:`shown`.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import json
import os
import sqlite3
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from json.encoder import encode_basestring as _json_str  # the C encoder json.dumps uses
from pathlib import Path
from typing import IO, Any

from sopengine import clock
from sopengine.chain import CHAIN_FIELDS, GENESIS, canonical, database_head, event_hash
from sopengine.errors import InputError, RunNotFound, SopError
from sopengine.i18n import N_, Message, _, joined, message, shown
from sopengine.store import Store

BACKDATED_AFTER = 300
"""Seconds by which ``at`` may precede ``recorded_at`` before an entry counts as backdated."""

POSTDATED_AFTER = 300
"""Seconds by which ``at`` may follow ``recorded_at`` before an entry counts as postdated."""



Text = Message
"""A message that is data in English and shown to a person in their language (:class:`sopengine.i18n.Message`)."""


def _text(template: str, **values: Any) -> Message:
    """The English *template* filled with *values*, remembering both (mark it with ``N_``)."""
    return message(template, **values)


def _joined(parts: list[Any], sep: str = "; ") -> Message:
    """*parts* joined by *sep*, each shown in the language in force when the whole is."""
    return joined(list(parts), sep)


KINDS: dict[str, str] = {
    "run_started": _text(N_("run started")),
    "step_completed": _text(N_("step completed")),
    "decided": _text(N_("decided")),
    "joined": _text(N_("branches joined")),
    "reopened": _text(N_("reopened")),
    "assigned": _text(N_("assigned")),
    "unassigned": _text(N_("unassigned")),
    "run_completed": _text(N_("run completed")),
    "run_cancelled": _text(N_("run cancelled")),
}
"""Event kinds the engine writes, with the words history shows for them (each a :class:`Text`)."""

PACK_FORMAT = "sopengine-evidence-pack/1"

_EVENT_COLUMNS = "seq, " + ", ".join(CHAIN_FIELDS) + ", hash"


class AuditError(SopError):
    """An audit input (head, pack, backup target) cannot be used."""


# -- the chain ---------------------------------------------------------------------------------

def _fast_hash(run_id: str, at: str, recorded_at: str, person: str, os_user: str, kind: str,
               step_id: str | None, payload: str, prev_hash: str) -> str:
    """The event hash built from the stored payload text, without parsing it.

    Byte-identical to :func:`sopengine.chain.event_hash` whenever the stored payload is in
    canonical form, which is how the store writes it; callers fall back to ``event_hash``
    when the two could differ (a mismatch, or a value that is not text).
    """
    text = '{"at":%s,"kind":%s,"os_user":%s,"payload":%s,"person":%s,"prev_hash":%s,"recorded_at":%s,"run_id":%s,"step_id":%s}' % (
        _json_str(at), _json_str(kind), _json_str(os_user), payload, _json_str(person), _json_str(prev_hash),
        _json_str(recorded_at), _json_str(run_id), "null" if step_id is None else _json_str(step_id),
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    """Read a noted head: ``HASH`` or ``HASH@SEQ`` (as :func:`verify` and :func:`backup` print it)."""
    raw = text.strip().lower()
    digest, _at, seq = raw.partition("@")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError(_("cannot read head {text!r}; give the 64-hex head as printed, e.g. 3f2a…c9@1234").format(text=text))
    if not seq:
        return digest, None
    if not seq.isdigit():
        raise InputError(_("cannot read head {text!r}: after '@' comes the event number it was noted at").format(text=text))
    return digest, int(seq)


def _head_token(digest: str, seq: int) -> str:
    return f"{digest}@{seq}"


def _problem(kind: str, message: Text, *, seq: int | None = None, run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "seq": seq, "run_id": run_id, "message": message, **extra}


def _noncanonical(seq: int, run_id: str, reason: str) -> dict[str, Any]:
    return _problem(
        "noncanonical", _text(N_("event {seq} of run {run} has a payload that is not the canonical text the engine writes"
                                 " ({reason}): it was written behind sopengine's back"), seq=seq, run=run_id, reason=reason),
        seq=seq, run_id=run_id,
    )


def _describe_run_problem(conn: sqlite3.Connection, run_id: str, rows: list[tuple[Any, ...]] | None = None) -> dict[str, Any] | None:
    """The first bad event of one run, with what does not match, or None when its chain holds."""
    if rows is None:
        rows = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
    position = {row[10]: i for i, row in enumerate(rows)}
    expected = GENESIS
    for i, row in enumerate(rows):
        seq, prev, stored = row[0], row[9], row[10]
        content_ok = _row_hash(row) == stored
        if content_ok and prev == expected:
            odd = payload_problem(row[8])
            if odd:
                return _noncanonical(seq, run_id, odd)
            expected = stored
            continue
        before = rows[i - 1][0] if i else None
        if prev == expected:
            if i + 1 == len(rows):
                return _problem(
                    "edited", _text(N_("event {seq} of run {run} does not match its hash: its payload, times, people or"
                                       " kind were edited, or its stored hash (it is the run's last event: which of the"
                                       " two cannot be told)"), seq=seq, run=run_id),
                    seq=seq, run_id=run_id,
                )
            after = rows[i + 1][9]
            if after != stored and after == _exact_hash(row):
                return _problem(
                    "edited", _text(N_("event {seq} of run {run}: its stored hash does not match its row, whose fields"
                                       " still hash to what event {next} links to: the hash column was edited"),
                                    seq=seq, run=run_id, next=rows[i + 1][0]),
                    seq=seq, run_id=run_id,
                )
            if after == stored:
                message = _text(N_("event {seq} of run {run} does not match its hash: its payload, times, people or kind"
                                   " were edited"), seq=seq, run=run_id)
            else:
                message = _text(N_("event {seq} of run {run} does not match its hash: its payload, times, people or kind"
                                   " were edited; its stored hash was changed too"), seq=seq, run=run_id)
            return _problem("edited", message, seq=seq, run_id=run_id)
        j = position.get(prev)
        if j is not None and j > i:
            return _problem(
                "reordered", _text(N_("event {seq} of run {run} links to event {target}, which comes after it:"
                                      " rows were reordered or swapped"), seq=seq, run=run_id, target=rows[j][0]),
                seq=seq, run_id=run_id,
            )
        if j == i:
            return _problem(
                "forged", _text(N_("event {seq} of run {run} links to itself: a forged row"), seq=seq, run=run_id),
                seq=seq, run_id=run_id,
            )
        if j is not None:
            message = _text(N_("event {seq} of run {run} links to event {target}, which event {taken} already follows:"
                               " a forged row was inserted"), seq=seq, run=run_id, target=rows[j][0], taken=rows[j + 1][0])
            return _problem("forged", message, seq=seq, run_id=run_id)
        if prev == GENESIS and i > 0:
            message = _text(N_("event {seq} of run {run} links to the start of the chain, which event {taken} already"
                               " follows: a forged row was inserted"), seq=seq, run=run_id, taken=rows[0][0])
            return _problem("forged", message, seq=seq, run_id=run_id)
        if before is None:
            return _problem(
                "deleted", _text(N_("event {seq} is the first of run {run} but links to an earlier event that is not"
                                    " there: the run's first events were deleted"), seq=seq, run=run_id),
                seq=seq, run_id=run_id, between=(0, seq),
            )
        # numbers between the two that no run holds any more: a deletion rather than an edit
        present = conn.execute("SELECT COUNT(*) FROM events WHERE seq > ? AND seq < ?", (before, seq)).fetchone()[0]
        missing = seq - before - 1 - present
        if missing > 0:
            return _problem(
                "deleted", _text(N_("event {seq} of run {run} links to an event that is not there ({missing} event"
                                    " number(s) between {before} and {seq} are missing): a row was deleted"),
                                 seq=seq, run=run_id, missing=missing, before=before),
                seq=seq, run_id=run_id, between=(before, seq),
            )
        if content_ok:
            return _problem(
                "relinked", _text(N_("event {seq} of run {run} does not link to event {before} before it: event {before}"
                                     " was edited and re-hashed, or event {seq} is forged"), seq=seq, run=run_id, before=before),
                seq=seq, run_id=run_id,
            )
        return _problem(
            "forged", _text(N_("event {seq} of run {run} matches neither its own hash nor the chain: a forged or"
                               " rewritten row"), seq=seq, run=run_id),
            seq=seq, run_id=run_id,
        )
    return None


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
    cursor = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY seq")
    cursor.arraysize = 4096
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


def _no_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


def _canonical_encoder() -> Callable[[Any], str]:
    """:func:`sopengine.chain.canonical` without json.dumps' setup on every call: the C encoder
    it uses, made once with the same settings (tests/test_audit.py checks they agree)."""
    from json import encoder

    make_encoder = getattr(encoder, "c_make_encoder", None)  # not in the typeshed stubs
    if make_encoder is None:  # a Python built without the json accelerator
        return canonical
    make = make_encoder(None, _no_default, encoder.encode_basestring, None, ":", ",", True, False, True)
    return lambda value: "".join(make(value, 0))


_ENCODE = _canonical_encoder()


def payload_problem(text: Any) -> str | None:
    """Why a stored payload is not exactly ``chain.canonical`` of itself, or None when it is.

    The engine writes every payload as its canonical text. Any other spelling of the same
    JSON was written behind its back, and may not mean the same to every reader: with a
    duplicate key, Python's json keeps the last value and SQLite's json_extract the first.
    """
    duplicate: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen = set()
        for key, _ in items:
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


# -- the tables that hold the state, against the events ----------------------------------------

_ENGINE = "sopengine"
"""The person of what the engine records by itself (``sopengine.runs.ENGINE``; not imported:
that module brings the state machine library with it)."""

_SCAN_JSON: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The C scanner behind ``json.loads``, without its whitespace skipping: the payloads the
engine writes have none, and the pass reads a million of them."""
_CLOSING_KINDS = frozenset(("step_completed", "decided"))
_STATE_KINDS = frozenset(("run_started", "assigned", "unassigned", "reopened", "joined", "run_cancelled"))
_CLOSING_FIELDS = ("step", "closed_at", "closed_by", "outcome", "iteration", "actor", "lane", "note", "on_behalf_of")
"""What a done task row and the event that closed it both record, in the order of a closing key."""


def _event_closing(step_id: Any, at: Any, person: Any, p: dict[str, Any]) -> tuple[Any, ...]:
    """The closing key of a step_completed or decided event (lanes count from 1, as recorded)."""
    return (step_id, at, person, p.get("outcome"), p.get("iteration"), p.get("actor"), p.get("part"),
            p.get("note") or None, p.get("on_behalf_of") or None)


def _task_closing(step_id: Any, closed_at: Any, closed_by: Any, outcome: Any, iteration: Any, actor: Any, part: Any,
                  note: Any, on_behalf_of: Any) -> tuple[Any, ...]:
    """The closing key of a done task row: the event records its lane as part + 1, and none for the first."""
    lane = part + 1 if type(part) is int and part else (None if part in (0, None) else part)
    return (step_id, closed_at, closed_by, outcome, iteration, actor, lane, note or None, on_behalf_of or None)


def _key_hash(key: tuple[Any, ...]) -> int:
    # Each run's closings are compared as a sum of hashes: one number per run instead of every
    # key of a million events in memory. Python's string hash is keyed per process, so rows
    # cannot be made up in advance to sum to the same number; a mismatch is then looked at row by row.
    try:
        return hash(key)
    except TypeError:  # a list or an object where an edited payload has no business holding one
        return hash(repr(key))


def _note_state_event(closings: dict[str, list[tuple[Any, ...]]], assigned: dict[str, dict[tuple[str, str], tuple[int, str, str]]],
                      seq: Any, run_id: str, kind: Any, at: Any, person: Any, step_id: Any, p: dict[str, Any]) -> None:
    """Keep what a rarer event says about task rows and assignments (the pass is in seq order)."""
    if kind in ("reopened", "joined", "run_cancelled"):
        closed = p.get("closed") if kind == "reopened" else None
        closings.setdefault(run_id, []).append((seq, kind, at, person, step_id, list(closed) if isinstance(closed, list) else []))
        return
    if kind == "run_started":
        # the people a run starts with: assigned by its starter, at its start
        for a in p.get("assignments") or []:
            if isinstance(a, dict) and isinstance(a.get("role"), str) and isinstance(a.get("person"), str):
                assigned.setdefault(run_id, {})[(a["role"], a["person"])] = (0, at, person)
        return
    role, who = p.get("role"), p.get("person")
    if not (isinstance(role, str) and isinstance(who, str)):
        return
    current = assigned.setdefault(run_id, {})
    if kind == "unassigned":
        current.pop((role, who), None)
    elif (role, who) in current:  # assigned again: only whether they act (Plt./Plh.) changes
        _, since, by = current[(role, who)]
        current[(role, who)] = (int(bool(p.get("acting"))), since, by)
    else:
        current[(role, who)] = (int(bool(p.get("acting"))), at, person)


def _table_problems(conn: sqlite3.Connection, scan: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks and assignments tables rebuilt from the events and compared.

    A done task row is one step_completed or decided event by a person: same run, step,
    time, person, outcome, visit, role, lane, note and principal. A cancelled row is closed
    by a reopened event (which lists the steps it closed) or by run_cancelled; a joined row
    by a joined event. Assignments are replayed from run_started, assigned and unassigned.
    """
    problems: list[dict[str, Any]] = []
    actual: dict[str, list[int]] = {}
    others: dict[str, list[tuple[Any, ...]]] = {}
    for task_id, run_id, step_id, part, iteration, actor, state, closed_at, closed_by, outcome, note, behalf in conn.execute(
        "SELECT id, run_id, step_id, part, iteration, actor, state, closed_at, closed_by, outcome, note, on_behalf_of"
        " FROM tasks WHERE state NOT IN ('open', 'waiting')"
    ):
        if state == "done":
            h = _key_hash(_task_closing(step_id, closed_at, closed_by, outcome, iteration, actor, part, note, behalf))
            c = actual.get(run_id)
            if c is None:
                actual[run_id] = [h, 1]
            else:
                c[0] += h
                c[1] += 1
        elif state in ("cancelled", "joined"):
            others.setdefault(run_id, []).append((task_id, step_id, state, closed_at, closed_by))
        else:
            problems.append(_problem(
                "tasks", _text(N_("task {task} (step {step}) of run {run} has an unknown state {state!r}: the tasks table"
                                  " was edited"), task=task_id, step=step_id, run=run_id, state=state),
                run_id=run_id,
            ))
    closes = scan["closes"]
    for run_id in sorted(set(closes) | set(actual)):
        if closes.get(run_id) != actual.get(run_id):
            problems.extend(_done_task_problems(conn, run_id))
    closings = scan["closings"]
    for run_id in sorted(set(closings) | set(others)):
        problems.extend(_closed_task_problems(run_id, closings.get(run_id, []), others.get(run_id, [])))
    problems.extend(_assignment_problems(conn, scan["assigned"]))
    return problems


def _done_task_problems(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    """One run's done task rows against its closing events, row by row, naming what differs."""
    expected = []
    for seq, kind, step_id, at, person, payload in conn.execute(
        "SELECT seq, kind, step_id, at, person, payload FROM events WHERE run_id = ? AND kind IN ('step_completed', 'decided')"
        " AND person != ? ORDER BY seq", (run_id, _ENGINE),
    ):
        try:
            p = json.loads(payload)
        except (TypeError, ValueError):
            p = None
        if isinstance(p, dict):
            expected.append((seq, kind, _event_closing(step_id, at, person, p)))
    rows = [(r[0], _task_closing(*r[1:])) for r in conn.execute(
        "SELECT id, step_id, closed_at, closed_by, outcome, iteration, actor, part, note, on_behalf_of FROM tasks"
        " WHERE run_id = ? AND state = 'done' ORDER BY id", (run_id,),
    )]
    return _compare_done(run_id, expected, rows)


def _compare_done(run_id: str, expected: list[tuple[Any, Any, tuple[Any, ...]]],
                  rows: list[tuple[Any, tuple[Any, ...]]]) -> list[dict[str, Any]]:
    """Closing keys of events ``(seq, kind, key)`` against those of done rows ``(task_id, key)``."""
    unmatched = list(rows)
    left = []
    for seq, kind, key in expected:
        match = next((r for r in unmatched if r[1] == key), None)
        if match is None:
            left.append((seq, kind, key))
        else:
            unmatched.remove(match)
    problems = []
    for seq, kind, key in left:
        # the same visit (step, visit number, lane) with other values is an edited row; failing
        # that, another row of the same step (its visit number was edited)
        twin = next((r for r in unmatched if (r[1][0], r[1][4], r[1][6]) == (key[0], key[4], key[6])), None) or next(
            (r for r in unmatched if r[1][0] == key[0]), None)
        if twin is not None:
            unmatched.remove(twin)
            differ = _joined([
                _text(N_("{field} ({table!r} in the table, {event!r} in the event)"), field=name, table=twin[1][i], event=key[i])
                for i, name in enumerate(_CLOSING_FIELDS) if twin[1][i] != key[i]
            ])
            problems.append(_problem(
                "tasks", _text(N_("task {task} of run {run} (step {step}) differs from event {seq} in {differences}:"
                                  " the row was edited, or the event"),
                               task=twin[0], run=run_id, step=key[0], seq=seq, differences=differ),
                seq=seq, run_id=run_id, task_id=twin[0],
                fields=[name for i, name in enumerate(_CLOSING_FIELDS) if twin[1][i] != key[i]],
            ))
        else:
            if kind == "step_completed":
                template = N_("event {seq} of run {run} ({step} completed by {person} at {at}) has no done task row:"
                              " the row was deleted from the tasks table, or the event was forged")
            else:
                template = N_("event {seq} of run {run} ({step} decided by {person} at {at}) has no done task row:"
                              " the row was deleted from the tasks table, or the event was forged")
            problems.append(_problem(
                "tasks", _text(template, seq=seq, run=run_id, step=key[0], person=key[2], at=key[1]), seq=seq, run_id=run_id,
            ))
    for task_id, key in unmatched:
        problems.append(_problem(
            "tasks", _text(N_("task {task} of run {run} (step {step} done by {person} at {at}) matches no event: the row"
                              " was added to or edited in the tasks table, or its event was deleted"),
                           task=task_id, run=run_id, step=key[0], person=key[2], at=key[1]),
            run_id=run_id, task_id=task_id,
        ))
    return problems


def _closed_task_problems(run_id: str, events: list[tuple[Any, ...]], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Cancelled and joined task rows against the reopened, run_cancelled and joined events."""
    problems = []
    reopened = [(seq, step, at, person) for seq, kind, at, person, _, closed in events if kind == "reopened" for step in closed]
    joins = [(seq, step, at) for seq, kind, at, _, step, _ in events if kind == "joined"]
    cancel = next(((seq, at, person) for seq, kind, at, person, _, _ in events if kind == "run_cancelled"), None)
    for task_id, step_id, state, closed_at, closed_by in rows:
        if state == "joined":
            match = next((j for j in joins if j[1:] == (step_id, closed_at)), None)
            if match is not None and closed_by == _ENGINE:
                joins.remove(match)  # a joined event releases one waiting row at most
                continue
            problems.append(_problem(
                "tasks", _text(N_("task {task} of run {run} (step {step}) is marked joined at {at} by {person}, but no"
                                  " joined event of the run records it: the tasks table was edited"),
                               task=task_id, run=run_id, step=step_id, at=closed_at, person=closed_by),
                run_id=run_id, task_id=task_id,
            ))
            continue
        closed = next((r for r in reopened if r[1:] == (step_id, closed_at, closed_by)), None)
        if closed is not None:
            reopened.remove(closed)
        elif cancel is None or (closed_at, closed_by) != cancel[1:]:
            problems.append(_problem(
                "tasks", _text(N_("task {task} of run {run} (step {step}) is cancelled at {at} by {person}, but no"
                                  " reopened or run_cancelled event closed it: the tasks table was edited"),
                               task=task_id, run=run_id, step=step_id, at=closed_at, person=closed_by),
                run_id=run_id, task_id=task_id,
            ))
    for seq, step, at, person in reopened:
        problems.append(_problem(
            "tasks", _text(N_("event {seq} of run {run} reopened the run and closed step {step}, but no cancelled task"
                              " row of step {step} at {at} by {person} records it: the tasks table was edited"),
                           seq=seq, run=run_id, step=step, at=at, person=person),
            seq=seq, run_id=run_id,
        ))
    return problems


def _assignment_problems(conn: sqlite3.Connection, replayed: dict[str, dict[tuple[str, str], tuple[int, str, str]]]) -> list[dict[str, Any]]:
    """The assignments table against the assignments the events leave."""
    table: dict[str, dict[tuple[str, str], tuple[Any, Any, Any]]] = {}
    for run_id, role, person, acting, assigned_at, assigned_by in conn.execute(
        "SELECT run_id, role, person, acting, assigned_at, assigned_by FROM assignments ORDER BY run_id, role, person"
    ):
        table.setdefault(run_id, {})[(role, person)] = (acting, assigned_at, assigned_by)
    return _compare_assignments(table, replayed)


def _compare_assignments(table: dict[str, dict[tuple[str, str], tuple[Any, Any, Any]]],
                         replayed: dict[str, dict[tuple[str, str], tuple[int, str, str]]]) -> list[dict[str, Any]]:
    """Assignments as held, per run ``{(role, person): (acting, assigned_at, assigned_by)}``, against the replay."""
    problems = []
    names = ("acting", "assigned_at", "assigned_by")
    for run_id in sorted(set(table) | {r for r, a in replayed.items() if a}):
        rows, events = table.get(run_id, {}), replayed.get(run_id, {})
        for (role, person), values in sorted(rows.items()):
            want = events.get((role, person))
            if want is None:
                problems.append(_problem(
                    "assignments", _text(N_("{person} is assigned to {role} in run {run} in the assignments table, but"
                                            " no event assigned them: the row was added to the table"),
                                         person=person, role=role, run=run_id),
                    run_id=run_id,
                ))
            elif tuple(values) != want:
                differ = _joined([_text(N_("{field} ({table!r} in the table, {event!r} from the events)"),
                                        field=n, table=values[i], event=want[i])
                                  for i, n in enumerate(names) if values[i] != want[i]])
                problems.append(_problem(
                    "assignments", _text(N_("the assignment of {person} to {role} in run {run} differs from its events"
                                            " in {differences}: the assignments table was edited"),
                                         person=person, role=role, run=run_id, differences=differ),
                    run_id=run_id,
                ))
        for role, person in sorted(set(events) - set(rows)):
            problems.append(_problem(
                "assignments", _text(N_("{person} is assigned to {role} in run {run} by its events, but the assignments"
                                        " table has no such row: the row was deleted"), person=person, role=role, run=run_id),
                run_id=run_id,
            ))
    return problems


_RUN_FIELDS = ("definition_id", "definition_hash", "calendar_hash", "period", "case_data", "due_at", "started_at", "started_by")
"""Columns of a ``runs`` row that its ``run_started`` event records."""


def _started_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The columns of a runs row as its run_started payload records them."""
    case = payload.get("case")
    return {
        "definition_id": payload.get("definition"), "definition_hash": payload.get("definition_hash"),
        "calendar_hash": payload.get("calendar_hash"), "period": payload.get("period"),
        # the store writes case data as the canonical text of what the event records
        "case_data": _ENCODE(case if case is not None else {}), "due_at": payload.get("due_at"),
    }


def _run_differences(row: dict[str, Any], at: Any, person: Any,
                     fields: dict[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
    """The columns of a runs row that differ from its run_started event, and what the event records."""
    if fields is None:  # the payload cannot be read: every column is unconfirmed
        return list(_RUN_FIELDS), {}
    recorded = dict(fields, started_at=at, started_by=person)
    return [name for name in _RUN_FIELDS if row[name] != recorded[name]], recorded


def _state_problems(conn: sqlite3.Connection, scan: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs and tasks tables checked against the events, where that is cheap."""
    problems = []
    tails, firsts = scan["tails"], scan["firsts"]
    seen = set()
    columns = ("id", "status", "version", "finished_at", *_RUN_FIELDS)
    for values in conn.execute(f"SELECT {', '.join(columns)} FROM runs"):
        row = dict(zip(columns, values))
        run_id, status, version, finished_at = row["id"], row["status"], row["version"], row["finished_at"]
        seen.add(run_id)
        tail = tails.get(run_id)
        if tail is None:
            problems.append(_problem("deleted", _text(N_("run {run} has no events: its history was deleted"), run=run_id),
                                     run_id=run_id))
            continue
        last_hash, last_seq, last_kind, last_at, n = tail
        first_seq, first_kind, first_at, first_person, first_fields = firsts[run_id]
        if first_kind != "run_started":
            problems.append(_problem(
                "deleted", _text(N_("run {run} starts with a {kind} event (event {seq}), not run_started: its first"
                                    " events were deleted"), run=run_id, kind=first_kind, seq=first_seq),
                seq=first_seq, run_id=run_id,
            ))
        else:
            differ, recorded = _run_differences(row, first_at, first_person, first_fields)
            if differ:
                differences = _joined([_text(N_("{field} ({table!r} in the table, {event!r} in the event)"),
                                             field=c, table=row[c], event=recorded.get(c)) for c in differ])
                problems.append(_problem(
                    "state", _text(N_("run {run} in the runs table differs from its run_started event {seq} in"
                                      " {differences}: the run's row was edited"),
                                   run=run_id, seq=first_seq, differences=differences),
                    seq=first_seq, run_id=run_id, fields=differ,
                ))
        want = {"completed": "run_completed", "cancelled": "run_cancelled"}.get(status)
        if want and (last_kind != want or last_at != finished_at):
            problems.append(_problem(
                "state", _text(N_("run {run} is {status} in the runs table but its last event {seq} is {kind} at {at}:"
                                  " events were deleted or the run was edited"),
                               run=run_id, status=status, seq=last_seq, kind=last_kind, at=last_at),
                seq=last_seq, run_id=run_id,
            ))
        elif status == "active" and last_kind in ("run_completed", "run_cancelled"):
            problems.append(_problem(
                "state", _text(N_("run {run} is active in the runs table but its last event {seq} is {kind}: events were"
                                  " deleted or the run was edited"), run=run_id, seq=last_seq, kind=last_kind),
                seq=last_seq, run_id=run_id,
            ))
        elif status not in ("active", "completed", "cancelled"):
            problems.append(_problem("state", _text(N_("run {run} has an unknown status {status!r}"), run=run_id, status=status),
                                     run_id=run_id))
        if isinstance(version, int) and n < version:
            problems.append(_problem(
                "deleted", _text(N_("run {run} was changed {version} times but has only {n} events: events were deleted"),
                                 run=run_id, version=version, n=n),
                run_id=run_id,
            ))
    for run_id in tails:
        if run_id not in seen:
            first_seq = firsts[run_id][0]
            problems.append(_problem(
                "forged", _text(N_("event {seq} belongs to run {run}, which is not in the runs table: forged rows or a"
                                   " deleted run"), seq=first_seq, run=run_id),
                seq=first_seq, run_id=run_id,
            ))
    for run_id, status, step_id, task_id in conn.execute(
        "SELECT t.run_id, r.status, t.step_id, t.id FROM tasks t JOIN runs r ON r.id = t.run_id"
        " WHERE t.state IN ('open', 'waiting') AND r.status != 'active'"
    ):
        problems.append(_problem(
            "state", _text(N_("step {step} (task {task}) of run {run} is still open although the run is {status}"),
                           step=step_id, task=task_id, run=run_id, status=status),
            seq=tails[run_id][1] if run_id in tails else None, run_id=run_id,
        ))
    return problems


def definition_problem(text_hash: str, def_id: Any, title: Any, source: Any, compiled: Any) -> str | None:
    """What is wrong with a stored definition row, or None when it is the text its hash names.

    The source must hash to the row's key; the compiled form (what runs execute and the views
    read) must be canonical JSON naming the same hash, id and title, and equal what this
    sopengine compiles from the source whenever it compiles that source in the same format.
    """
    if not isinstance(source, str) or hashlib.sha256(source.encode("utf-8")).hexdigest() != text_hash:
        return _text(N_("its source text does not match its hash: the stored definition was edited"))
    try:
        data = json.loads(compiled)
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict) or canonical(data) != compiled:
        return _text(N_("its compiled form is not the canonical JSON the engine writes: it was edited"))
    if data.get("hash") != text_hash or data.get("id") != def_id or data.get("title") != title:
        return _text(N_("its compiled form names another hash, id or title than its row: it was edited"))
    from sopengine.definition.loader import check_text, compile_definition

    checked = check_text(source)
    # A source this sopengine no longer accepts (rules grow stricter), or one compiled by an
    # engine with another compiled format, cannot be compared: its hashes above still hold.
    if checked.ok and checked.definition is not None:
        fresh = compile_definition(checked.definition, source)
        if fresh.get("format") == data.get("format") and canonical(fresh) != compiled:
            return _text(N_("its compiled form differs from what its source compiles to: the compiled form was edited"))
    return None


def calendar_problem(cal_hash: str, data: Any) -> str | None:
    """What is wrong with a stored calendar snapshot, or None when it hashes to its key."""
    try:
        snapshot = json.loads(data)
    except (TypeError, ValueError):
        snapshot = None
    if snapshot is None or canonical(snapshot) != data:
        return _text(N_("its snapshot is not the canonical JSON the engine writes: it was edited"))
    if hashlib.sha256(data.encode("utf-8")).hexdigest() != cal_hash:
        return _text(N_("its snapshot does not match its hash: the stored calendar was edited"))
    return None


def _pin_problems(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The definitions and calendars runs are pinned to: each intact, and each there."""
    problems = []
    definitions = set()
    for text_hash, def_id, title, source, compiled in conn.execute(
        "SELECT hash, id, title, source, compiled FROM definitions ORDER BY first_seen, hash"
    ):
        definitions.add(text_hash)
        reason = definition_problem(text_hash, def_id, title, source, compiled)
        if reason:
            problems.append(_problem("definition", _text(N_("definition {id} {hash}: {reason}"), id=def_id,
                                                         hash=str(text_hash)[:12], reason=reason)))
    calendars = set()
    for cal_hash, data in conn.execute("SELECT hash, data FROM calendars ORDER BY first_seen, hash"):
        calendars.add(cal_hash)
        reason = calendar_problem(cal_hash, data)
        if reason:
            problems.append(_problem("calendar", _text(N_("calendar {hash}: {reason}"), hash=str(cal_hash)[:12], reason=reason)))
    for run_id, definition_hash, calendar_hash in conn.execute("SELECT id, definition_hash, calendar_hash FROM runs ORDER BY id"):
        if definition_hash not in definitions:
            problems.append(_problem(
                "definition", _text(N_("run {run} is pinned to definition {hash}, which is not in the definitions table:"
                                       " the row was deleted"), run=run_id, hash=str(definition_hash)[:12]),
                run_id=run_id,
            ))
        if calendar_hash is not None and calendar_hash not in calendars:
            problems.append(_problem(
                "calendar", _text(N_("run {run} is pinned to calendar {hash}, which is not in the calendars table: the"
                                     " row was deleted"), run=run_id, hash=str(calendar_hash)[:12]),
                run_id=run_id,
            ))
    return problems


_DOCUMENT_FIELDS = ("run_id", "step_id", "name", "path", "sha256", "size", "recorded_at", "recorded_by")
"""What a documents row records, each also in its event (the last two as its recorded_at and person)."""


def _document_check(conn: sqlite3.Connection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Re-hash every output file the (chained) events recorded; compare the documents table too."""
    recorded = []
    for seq, run_id, step_id, recorded_at, person, payload in conn.execute(
        "SELECT seq, run_id, step_id, recorded_at, person, payload FROM events"
        " WHERE kind IN ('step_completed', 'decided') AND instr(payload, '\"documents\"') > 0 ORDER BY seq"
    ):
        try:
            docs = json.loads(payload).get("documents") or []
        except (ValueError, AttributeError):
            continue  # an unreadable payload is the chain check's finding
        for d in docs:
            if isinstance(d, dict):
                recorded.append({"event": seq, "run_id": run_id, "step": step_id, "name": d.get("name"),
                                 "path": d.get("path"), "sha256": d.get("sha256"), "size": d.get("size"),
                                 "recorded_at": recorded_at, "recorded_by": person})
    rows: dict[tuple[Any, ...], list[int]] = {}
    for doc_id, *values in conn.execute(f"SELECT id, {', '.join(_DOCUMENT_FIELDS)} FROM documents ORDER BY id"):
        rows.setdefault(tuple(values), []).append(doc_id)
    result: dict[str, Any] = {"checked": len(recorded), "ok": 0, "changed": [], "missing": [], "unrecorded": []}
    problems = []
    unmatched = []
    for entry in recorded:
        key = (entry["run_id"], entry["step"], entry["name"], entry["path"], entry["sha256"], entry["size"],
               entry["recorded_at"], entry["recorded_by"])
        ids = rows.get(key)
        if ids:
            ids.pop(0)
        else:
            unmatched.append((entry, key))
        where = {"name": entry["name"], "run": entry["run_id"], "seq": entry["event"], "path": entry["path"]}
        current = file_sha256(entry["path"]) if entry["path"] else None
        if current is None:
            result["missing"].append(entry)
            problems.append(_problem("document_missing", _text(N_("document {name!r} of run {run} (event {seq}) is"
                                                                  " missing: {path}"), **where),
                                     seq=entry["event"], run_id=entry["run_id"]))
        elif current != entry["sha256"]:
            result["changed"].append(dict(entry, current_sha256=current))
            problems.append(_problem("document_changed", _text(N_("document {name!r} of run {run} (event {seq}) has"
                                                                  " changed since it was recorded: {path}"), **where),
                                     seq=entry["event"], run_id=entry["run_id"]))
        else:
            result["ok"] += 1
    left = [(key, doc_id) for key, ids in rows.items() for doc_id in ids]
    for entry, key in unmatched:
        where = {"name": entry["name"], "run": entry["run_id"], "seq": entry["event"]}
        # a row of the same document that differs: say in what (recorded_by against the event's person)
        twin = next((row for row, _ in left if row[:3] == key[:3]), None)
        if twin is None:
            message = _text(N_("document {name!r} of run {run} (event {seq}) has no row in the documents table that"
                               " matches it: the table was edited"), **where)
        else:
            differ = _joined([_text(N_("{field} ({table!r} in the table, {event!r} in the event)"),
                                    field=name, table=twin[i], event=key[i])
                              for i, name in enumerate(_DOCUMENT_FIELDS) if twin[i] != key[i]])
            message = _text(N_("document {name!r} of run {run} (event {seq}) has no row in the documents table that"
                               " matches it; its row differs in {differences}: the table was edited"),
                            **where, differences=differ)
        problems.append(_problem("document_record", message, seq=entry["event"], run_id=entry["run_id"]))
    for (run_id, _step, name, path, sha256, *_rest), doc_id in sorted(left, key=lambda item: item[1]):
        result["unrecorded"].append({"id": doc_id, "run_id": run_id, "name": name, "path": path, "sha256": sha256})
        problems.append(_problem(
            "document_record", _text(N_("document {name!r} of run {run} ({path}) in the documents table matches no"
                                        " event: the table was edited"), name=name, run=run_id, path=path),
            run_id=run_id,
        ))
    return result, problems


def file_sha256(path: str | Path) -> str | None:
    """The sha256 of a file's bytes, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


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
    with Store(db, readonly=True) as store:
        conn = store.conn
        conn.execute("BEGIN")  # one snapshot: a command writing meanwhile cannot split the view
        try:
            scan = _scan(conn, expected[1] if expected else None)
            problems = []
            for run_id, seq in scan["broken"].items():
                found = _describe_run_problem(conn, run_id)
                problems.append(found or _problem("edited", _text(N_("event {seq} of run {run} does not match the chain"),
                                                                  seq=seq, run=run_id), seq=seq, run_id=run_id))
            named = {p["seq"] for p in problems}
            for seq, run_id in scan["noncanonical"]:
                if seq not in named:
                    text = conn.execute("SELECT payload FROM events WHERE seq = ?", (seq,)).fetchone()[0]
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
            issued = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            if issued and issued[0] > scan["last_seq"]:
                problems.append(_problem(
                    "deleted", _text(N_("events up to {issued} were written but the last one now is {last}: the newest"
                                        " rows were deleted"), issued=issued[0], last=scan["last_seq"]),
                    seq=scan["last_seq"] + 1,
                ))
            problems.extend(_state_problems(conn, scan))
            problems.extend(_table_problems(conn, scan))
            problems.extend(_pin_problems(conn))
            doc_result = None
            if documents:
                doc_result, doc_problems = _document_check(conn)
                problems.extend(doc_problems)
        finally:
            conn.execute("COMMIT")
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
    with Store(db, readonly=True) as store:
        conn = store.conn
        conn.execute("BEGIN")
        try:
            return _stored_head(conn)
        finally:
            conn.execute("COMMIT")


def _stored_head(conn: sqlite3.Connection) -> dict[str, Any]:
    heads = dict(conn.execute("SELECT run_id, hash FROM events WHERE seq IN (SELECT MAX(seq) FROM events GROUP BY run_id)"))
    n, last = conn.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events").fetchone()
    digest = database_head(heads)
    return {"head": _head_token(digest, last), "head_hash": digest, "last_seq": last, "events": n, "runs": len(heads)}


# -- history ----------------------------------------------------------------------------------

class _Definitions:
    """Step numbers, texts and actor names of the definitions runs are pinned to, read once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._cache: dict[str, dict[str, Any]] = {}

    def get(self, definition_hash: str | None) -> dict[str, Any]:
        if not definition_hash:
            return {"steps": {}, "actors": {}, "timezone": None}
        found = self._cache.get(definition_hash)
        if found is None:
            row = self.conn.execute("SELECT compiled FROM definitions WHERE hash = ?", (definition_hash,)).fetchone()
            compiled = json.loads(row[0]) if row else {}
            found = self._cache[definition_hash] = {
                "steps": compiled.get("steps", {}), "actors": compiled.get("actors", {}), "timezone": compiled.get("timezone"),
            }
        return found

    def all(self) -> list[dict[str, Any]]:
        return [self.get(h) for (h,) in self.conn.execute("SELECT hash FROM definitions")]


def _as_date(text: str) -> date | None:
    """The day a bound names when it is a date alone (``2026-10-01``, ``20261001``), else None."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _bound(column: str, text: str, *, upper: bool) -> tuple[str, str]:
    """A WHERE clause and its UTC value: a date covers its whole day in WIB, a time is exact."""
    day = _as_date(text)
    if day is not None:
        value = clock.iso(clock.parse_time(day.isoformat(), end_of_day=upper))
        return (f"{column} < ?" if upper else f"{column} >= ?"), value or ""
    return (f"{column} <= ?" if upper else f"{column} >= ?"), clock.iso(clock.parse_time(text)) or ""


def _resolve_steps(defs: _Definitions, step: str) -> list[str]:
    key = step.strip()
    ids: set[str] = set()
    known: set[str] = set()
    for d in defs.all():
        for sid, spec in d["steps"].items():
            known.add(f"{spec['no']}={sid}" if spec.get("no") is not None else sid)
            if sid == key or (spec.get("no") is not None and str(spec["no"]) == key):
                ids.add(sid)
    if not ids:
        raise InputError(_("no SOP in this database has a step {step!r}; steps are: {steps}").format(
            step=step, steps=", ".join(sorted(known)) or _("none")))
    return sorted(ids)


def _resolve_actor(defs: _Definitions, actor: str) -> list[str]:
    key = actor.strip().casefold()
    ids: set[str] = set()
    known: set[str] = set()
    for d in defs.all():
        for aid, spec in d["actors"].items():
            known.add(aid)
            if aid.casefold() == key or str(spec.get("name", "")).casefold() == key:
                ids.add(aid)
    if not ids:
        raise InputError(_("no SOP in this database has a role {role!r}; roles are: {roles}").format(
            role=actor, roles=", ".join(sorted(known)) or _("none")))
    return sorted(ids)


def _persons(conn: sqlite3.Connection, person: str) -> list[str]:
    """The spellings of a name recorded in the events, any case (one index step per distinct name)."""
    wanted = person.strip().casefold()
    found = []
    row = conn.execute("SELECT MIN(person) FROM events").fetchone()
    name = row[0] if row else None
    while name is not None:
        if name.casefold() == wanted:
            found.append(name)
        name = conn.execute("SELECT MIN(person) FROM events WHERE person > ?", (name,)).fetchone()[0]
    return found or [person.strip()]


def _query(conn: sqlite3.Connection, defs: _Definitions, *, run: str | None, person: str | None, actor: str | None,
           step: str | None, kind: str | None, since: str | None, until: str | None, limit: int | None,
           recorded_since: str | None = None, recorded_until: str | None = None) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if run:
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run,)).fetchone() is None:
            raise RunNotFound(_("no run {run!r} in this database; 'sopengine status --all' lists the runs").format(run=run),
                              run_id=run)
        where.append("e.run_id = ?")
        args.append(run)
    if person:
        names = _persons(conn, person)
        where.append(f"e.person IN ({','.join('?' * len(names))})")
        args.extend(names)
    if kind:
        if kind not in KINDS:
            raise InputError(_("no event kind {kind!r}; kinds are: {kinds}").format(kind=kind, kinds=", ".join(KINDS)))
        where.append("e.kind = ?")
        args.append(kind)
    if step:
        ids = _resolve_steps(defs, step)
        where.append(f"e.step_id IN ({','.join('?' * len(ids))})")
        args.extend(ids)
    if actor:
        roles = _resolve_actor(defs, actor)
        where.append(f"json_extract(e.payload, '$.actor') IN ({','.join('?' * len(roles))})")
        args.extend(roles)
    for column, text, upper in (("e.at", since, False), ("e.at", until, True),
                                ("e.recorded_at", recorded_since, False), ("e.recorded_at", recorded_until, True)):
        if text:
            clause, value = _bound(column, text, upper=upper)
            where.append(clause)
            args.append(value)
    sql = (
        "SELECT e.seq, e.run_id, r.definition_id, r.period, r.definition_hash, e.at, e.recorded_at, e.person,"
        " e.os_user, e.kind, e.step_id, e.payload, e.hash FROM events e LEFT JOIN runs r ON r.id = e.run_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY e.seq"
    if limit:
        sql += " LIMIT ?"
        args.append(int(limit))
    return sql, args


def _note(kind: str, payload: dict[str, Any], actors: dict[str, Any]) -> str | None:
    if payload.get("note"):
        return str(payload["note"])
    if payload.get("reason"):
        return str(payload["reason"])
    if kind in ("assigned", "unassigned"):
        role = payload.get("role")
        name = actors.get(role or "", {}).get("name", role)
        if payload.get("acting"):
            return _text(N_("{role}: {person} (acting)"), role=name, person=payload.get("person"))
        return f"{name}: {payload.get('person')}"
    if kind == "decided" and payload.get("automatic"):
        facts = ", ".join(f"{k}={v}" for k, v in (payload.get("facts") or {}).items())
        return _text(N_("automatic ({facts})"), facts=facts) if facts else _text(N_("automatic"))
    return None


def _entry(row: tuple[Any, ...], defs: _Definitions | _Pinned) -> dict[str, Any]:
    seq, run_id, definition, period, definition_hash, at, recorded_at, person, os_user, kind, step_id, payload_text, digest = row
    d = defs.get(definition_hash)
    try:
        payload = json.loads(payload_text)
    except (TypeError, ValueError):
        payload = {"unreadable": payload_text}
    if not isinstance(payload, dict):
        payload = {"value": payload}
    step = d["steps"].get(step_id or "", {})
    actor = payload.get("actor") or None
    lag = None
    at_dt, rec_dt = clock.from_iso(at), clock.from_iso(recorded_at)
    if at_dt and rec_dt:
        lag = int((rec_dt - at_dt).total_seconds())
    return {
        "seq": seq,
        "run_id": run_id,
        "definition": definition,
        "period": period,
        "at": at,
        "recorded_at": recorded_at,
        "backdated": lag is not None and lag > BACKDATED_AFTER,
        "postdated": lag is not None and -lag > POSTDATED_AFTER,
        "recorded_later_by": lag,
        "person": person,
        "os_user": os_user,
        "kind": kind,
        "action": KINDS.get(kind, kind),
        "step": step_id,
        "step_no": step.get("no"),
        "kegiatan": step.get("kegiatan"),
        "actor": actor,
        "actor_name": d["actors"].get(actor or "", {}).get("name"),
        "outcome": payload.get("outcome"),
        "documents": [
            {k: doc.get(k) for k in ("name", "path", "sha256", "size")} for doc in payload.get("documents") or [] if isinstance(doc, dict)
        ],
        "note": _note(kind, payload, d["actors"]),
        "timezone": d["timezone"] or clock.DEFAULT_ZONE,
        "payload": payload,
        "hash": digest,
    }


def iter_history(
    db: str | Path, *, run: str | None = None, person: str | None = None, actor: str | None = None,
    step: str | None = None, kind: str | None = None, since: str | None = None, until: str | None = None,
    recorded_since: str | None = None, recorded_until: str | None = None, limit: int | None = None,
) -> HistoryStream:
    """The events matching every filter given, in the order they were recorded.

    ``step`` is a step id or its number; ``actor`` a role id or name; ``person`` any case.
    ``since``/``until`` bound when the act happened (``at``), ``recorded_since`` /
    ``recorded_until`` when it was written down (``recorded_at``): each a date
    (``2026-10-01`` or ``20261001``) or a time, in WIB unless an offset is given; a date
    covers its whole day. Filters are checked before the first entry is yielded.
    """
    store = Store(db, readonly=True)
    try:
        defs = _Definitions(store.conn)
        sql, args = _query(store.conn, defs, run=run, person=person, actor=actor, step=step, kind=kind,
                           since=since, until=until, limit=limit, recorded_since=recorded_since,
                           recorded_until=recorded_until)
        cursor = store.conn.execute(sql, args)
    except BaseException:
        store.close()
        raise
    return HistoryStream(store, cursor, defs)


class HistoryStream(Iterator[dict[str, Any]]):
    """History entries read as they are asked for (:func:`iter_history`); the database closes
    at the end, or on :meth:`close` even before the first entry."""

    def __init__(self, store: Store, cursor: sqlite3.Cursor, defs: _Definitions) -> None:
        self.store, self.cursor, self.defs = store, cursor, defs

    def __next__(self) -> dict[str, Any]:
        try:
            row = next(self.cursor)
        except BaseException:
            self.close()
            raise
        return _entry(row, self.defs)

    def close(self) -> None:
        self.store.close()


def open_output(path: str | Path) -> IO[bytes]:
    """A file to write history or a report to, or :class:`AuditError` saying why it cannot be."""
    target = Path(path)
    try:
        return target.open("wb")
    except OSError as exc:
        raise AuditError(_("cannot write {file} ({reason}); check the folder exists and may be written").format(
            file=target, reason=exc.strerror or exc), path=str(target)) from None


def history(db: str | Path, **filters: Any) -> list[dict[str, Any]]:
    """The matching events as a list; see :func:`iter_history` for the filters."""
    return list(iter_history(db, **filters))


CSV_COLUMNS = (
    "seq", "run", "definition", "period", "time", "zone", "time_utc", "recorded_at_utc", "backdated", "postdated", "person",
    "os_user", "action", "kind", "step", "no", "kegiatan", "actor", "outcome", "documents", "note",
)


def local_parts(utc_text: str | None, tz: str | None) -> tuple[str, str]:
    """``("2026-10-01 09:00:00", "WIB")`` for a stored UTC time, in the SOP's zone."""
    dt = clock.from_iso(utc_text)
    if dt is None:
        return "", ""
    shown = dt.astimezone(clock.zone(tz))
    return shown.strftime("%Y-%m-%d %H:%M:%S"), shown.tzname() or ""


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: one that starts like a formula (``= + - @``,
    a tab or a carriage return) gets a leading ``'``, so that a name or note typed as
    ``=HYPERLINK(...)`` is never run when the file is opened. Numbers stay as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_history_csv(entries: Iterator[dict[str, Any]] | list[dict[str, Any]], out: IO[bytes]) -> int:
    """Write entries as CSV a spreadsheet opens cleanly: UTF-8 with BOM, one header row, CRLF,
    and no text cell that a spreadsheet would run as a formula (see :func:`csv_cell`)."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    n = 0
    for e in entries:
        local, zone_name = local_parts(e["at"], e["timezone"])
        writer.writerow([csv_cell(cell) for cell in (
            e["seq"], e["run_id"], e["definition"] or "", e["period"] or "", local, zone_name, e["at"], e["recorded_at"],
            "yes" if e["backdated"] else "", "yes" if e["postdated"] else "", e["person"], e["os_user"], e["action"], e["kind"], e["step"] or "",
            "" if e["step_no"] is None else e["step_no"], e["kegiatan"] or "", e["actor_name"] or e["actor"] or "",
            e["outcome"] or "", "; ".join(d["name"] or "" for d in e["documents"]), e["note"] or "",
        )])
        n += 1
    text.flush()
    text.detach()  # leave the caller's stream open
    return n


def history_json(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as history's JSON shows it (UTC times with ``Z``; no display-only fields)."""
    return {k: v for k, v in entry.items() if k != "timezone"}


def write_history_json(entries: Iterator[dict[str, Any]] | list[dict[str, Any]], out: IO[bytes]) -> int:
    """A JSON array written entry by entry, so that a million events need no million-item list."""
    n = 0
    out.write(b"[")
    for entry in entries:
        out.write((",\n  " if n else "\n  ").encode("utf-8"))
        text = json.dumps(history_json(entry), ensure_ascii=False, indent=2, default=str).replace("\n", "\n  ")
        out.write(text.encode("utf-8"))
        n += 1
    out.write(b"\n]\n" if n else b"]\n")
    return n


def export_history(db: str | Path, out: str | Path | IO[bytes], *, fmt: str = "csv", **filters: Any) -> int:
    """Write the matching events as ``csv`` or ``json`` to a file or an open binary stream; the count.

    A file is made only once the filters are known to be good (a mistyped filter leaves an
    existing file as it was); one that cannot be written is an :class:`AuditError`.
    """
    write = {"csv": write_history_csv, "json": write_history_json}[fmt]
    entries = iter_history(db, **filters)
    try:
        if not isinstance(out, (str, Path)):
            return write(entries, out)
        target = Path(out)
        fh = open_output(target)
        try:
            with fh:  # closing flushes: a full disk may only show here
                return write(entries, fh)
        except OSError as exc:
            raise AuditError(_("could not finish writing {file} ({reason}); the file is incomplete").format(
                file=target, reason=exc.strerror or exc), path=str(target)) from None
    finally:
        entries.close()


# -- evidence packs ---------------------------------------------------------------------------

_PACK_README = """Evidence pack of sopengine run {run_id} ({definition}, period {period}).

manifest.json     sha256 and size of every other member
definition.yaml   the definition text the run is pinned to (its sha256 is the run's definition hash)
events.json       the run's events with every field of the hash chain
events.csv        the same events for a spreadsheet (UTF-8 with BOM; times in {zone} and UTC)
verification.json the chain check when the pack was made: run head, database head, problems
run.json          the run, its step visits and assignments as the database held them
documents.json    every recorded output file: included, changed since recorded, or missing
documents/        the output files that still match the hash their event recorded

Check it without the database: sopengine audit verify-pack {name}
(with --expect-manifest and the manifest sha256 noted when the pack was made).

Checking the chain by hand
--------------------------
Each event's "hash" is the sha256 (64 lowercase hex digits) of the UTF-8 bytes of its
canonical form: the JSON object of its nine fields at, kind, os_user, payload, person,
prev_hash, recorded_at, run_id, step_id (not seq, not hash), written
 - with keys sorted by Unicode code point at every level, no key twice;
 - with no whitespace: "," between members, ":" between key and value;
 - with every character as itself (non-ASCII as UTF-8) except '"' as \\", '\\' as \\\\ and
   U+0000..U+001F as \\n \\r \\t \\b \\f or else \\u00xx in lowercase hex;
 - with true, false, null, integers in decimal and other numbers as Python's repr (1000.0);
that is Python's json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
"prev_hash" is the "hash" of the run's event before it; the first event's is 64 zeros.
The run head is the hash of the last event. sopengine's docs (Auditing) show test values
and a short program that checks a whole database the same way.

This run's first event in canonical form, and the sha256 of those bytes (its "hash"):
{first}
{first_hash}
"""


def _safe(name: str) -> str:
    cleaned = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name).strip(" .")
    return cleaned or "file"


def _chain_events(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    out = []
    for row in conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq", (run_id,)):
        event = {"seq": row[0], **dict(zip(CHAIN_FIELDS, row[1:10])), "hash": row[10]}
        try:
            event["payload"] = json.loads(event["payload"])
        except (TypeError, ValueError):
            pass  # kept as text; the pack's check then names the event
        out.append(event)
    return out


def _zip_time(utc_text: str, tz: str | None) -> tuple[int, int, int, int, int, int]:
    """A stored UTC time as a zip member's date: zip keeps local time, here the SOP's zone."""
    when = clock.from_iso(utc_text)
    if when is None:
        return (1980, 1, 1, 0, 0, 0)
    local = when.astimezone(clock.zone(tz))
    return max((local.year, local.month, local.day, local.hour, local.minute, local.second), (1980, 1, 1, 0, 0, 0))


def _zip_entry(name: str, stamp: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # readable once unpacked (a bare ZipInfo says no permissions at all)
    return info


def _copy_into(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> dict[str, Any]:
    """Copy a recorded file into the zip; the sha256 and size of what went in, not of what
    was checked a moment before."""
    digest = hashlib.sha256()
    size = 0
    try:
        src = path.open("rb")
    except OSError as exc:
        raise AuditError(_("cannot read the recorded file {file} ({reason}); no pack was written").format(
            file=path, reason=exc.strerror or exc), path=str(path)) from None
    with src, zf.open(info, "w") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


class _Pinned:
    """One compiled definition, read the way :class:`_Definitions` reads the database's."""

    def __init__(self, compiled: dict[str, Any]) -> None:
        self.found = {"steps": compiled.get("steps") or {}, "actors": compiled.get("actors") or {},
                      "timezone": compiled.get("timezone")}

    def get(self, definition_hash: str | None) -> dict[str, Any]:
        return self.found


def _pack_entries(events: list[dict[str, Any]], compiled: dict[str, Any]) -> list[dict[str, Any]]:
    """History entries of a pack's events, with the definition and period its run_started records."""
    started = events[0].get("payload") if events else None
    started = started if isinstance(started, dict) and events[0].get("kind") == "run_started" else {}
    defs = _Pinned(compiled)
    rows = []
    for e in events:
        payload = e.get("payload")
        text = payload if isinstance(payload, str) else canonical(payload)
        rows.append((e.get("seq"), e.get("run_id"), started.get("definition"), started.get("period"), None, e.get("at"),
                     e.get("recorded_at"), e.get("person"), e.get("os_user"), e.get("kind"), e.get("step_id"), text, e.get("hash")))
    return [_entry(row, defs) for row in rows]


def pack(db: str | Path, run_id: str, output: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Write one run's evidence into a zip at *output*; returns its summary and manifest hash."""
    target = Path(output)
    if target.exists() and not force:
        raise AuditError(_("{file} already exists; choose another name or pass --force").format(file=target), path=str(target))
    if not target.parent.exists():
        raise AuditError(_("folder {folder} does not exist; create it first").format(folder=target.parent), path=str(target))
    with Store(db, readonly=True) as store:
        conn = store.conn
        conn.execute("BEGIN")  # the pack shows one moment of the database
        try:
            run = store.run(run_id)
            definition = store.definition_source(run["definition_hash"])
            pinned = conn.execute(
                "SELECT hash, id, title, source, compiled FROM definitions WHERE hash = ?", (run["definition_hash"],)
            ).fetchone()
            reason = definition_problem(*pinned) if pinned else _text(
                N_("it is not in the definitions table (the row was deleted)"))
            if reason:
                raise AuditError(
                    _("no pack written: the definition run {run} is pinned to ({hash}) fails its check — {reason}; run"
                      " 'sopengine audit verify' and restore the database from a backup").format(
                        run=run_id, hash=str(run["definition_hash"])[:12], reason=shown(reason)),
                    run_id=run_id,
                )
            rows = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
            problem = _describe_run_problem(conn, run_id, rows)
            events = _chain_events(conn, run_id)
            tasks = store.tasks(run_id)
            assignments = store.assignments(run_id)
            db_head = _stored_head(conn)
            compiled = store.compiled(run["definition_hash"])
        finally:
            conn.execute("COMMIT")
    # events.csv is made from events.json and the definition alone, so that verify-pack can
    # make it again and compare: the run head covers events.json, not the spreadsheet
    entries = _pack_entries(events, compiled)
    defs_tz = compiled.get("timezone") or clock.DEFAULT_ZONE
    run_head = events[-1]["hash"] if events else GENESIS
    verification = {
        "run_id": run_id,
        "ok": problem is None,
        "events": len(events),
        "first_hash": events[0]["hash"] if events else None,
        "run_head": run_head,
        "problem": problem,
        "database_head": db_head["head"],
        "checked_at": clock.iso(clock.real_now()),
    }
    members: dict[str, bytes] = {}
    members["definition.yaml"] = (definition or {}).get("source", "").encode("utf-8")
    members["events.json"] = (json.dumps(events, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    buf = io.BytesIO()
    write_history_csv(entries, buf)
    members["events.csv"] = buf.getvalue()
    members["verification.json"] = (json.dumps(verification, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    run_info = dict(run, tasks=tasks, assignments=assignments,
                    definition={k: v for k, v in (definition or {}).items() if k != "source"})
    members["run.json"] = (json.dumps(run_info, ensure_ascii=False, indent=2, default=str) + "\n").encode("utf-8")
    doc_list = []
    files: dict[str, Path] = {}
    stamps: dict[str, tuple[int, int, int, int, int, int]] = {}  # a file's date in the zip: when it was recorded
    # The documents come from the chained events, not from the documents table: what the
    # hashes cover is what the pack vouches for.
    for event in events:
        payload = event["payload"]
        recorded = payload.get("documents") if isinstance(payload, dict) else None
        for k, d in enumerate(recorded if isinstance(recorded, list) else [], start=1):
            if not isinstance(d, dict):
                continue
            entry = {"event": event["seq"], "step_id": event["step_id"], "name": d.get("name"), "path": d.get("path"),
                     "sha256": d.get("sha256"), "size": d.get("size"), "recorded_at": event["recorded_at"],
                     "recorded_by": event["person"]}
            current = file_sha256(d["path"]) if isinstance(d.get("path"), str) else None
            if current is None:
                entry["status"] = "missing"
            elif current != d.get("sha256"):
                entry["status"] = "changed"
                entry["current_sha256"] = current
            else:
                member = f"documents/{event['seq']:04d}-{k}-{_safe(str(event['step_id']))}/{_safe(Path(d['path']).name)}"
                entry["status"] = "included"
                entry["member"] = member
                files[member] = Path(d["path"])
                stamps[member] = _zip_time(event["recorded_at"], defs_tz)
            doc_list.append(entry)
    members["documents.json"] = (json.dumps(doc_list, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    first_text = canonical({k: events[0][k] for k in CHAIN_FIELDS}) if events else "(the run has no events)"
    members["README.txt"] = _PACK_README.format(
        run_id=run_id, definition=run["definition_id"], period=run["period"] or "-", zone=defs_tz, name=target.name,
        first=first_text, first_hash=events[0]["hash"] if events else "-",
    ).encode("utf-8")
    listing: dict[str, dict[str, Any]] = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in members.items()
    }
    created_at = clock.iso(clock.real_now()) or ""
    made = _zip_time(created_at, defs_tz)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        try:
            zf = zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED)
        except OSError as exc:
            raise _cannot_write(target, exc) from None
        with zf:
            for name, data in members.items():
                zf.writestr(_zip_entry(name, made), data)
            for member, path in files.items():
                listing[member] = _copy_into(zf, _zip_entry(member, stamps[member]), path)
            manifest = {
                "format": PACK_FORMAT,
                "run_id": run_id,
                "definition": run["definition_id"],
                "period": run["period"],
                "created_at": created_at,
                "run_head": run_head,
                "database_head": db_head["head"],
                "members": dict(sorted(listing.items())),
            }
            manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
            zf.writestr(_zip_entry("manifest.json", made), manifest_bytes)
        os.replace(tmp, target)
    except OSError as exc:  # the disk filled up, the folder went away
        raise _cannot_write(target, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "path": str(target),
        "run_id": run_id,
        "events": len(events),
        "ok": problem is None,
        "problem": problem,
        "run_head": run_head,
        "database_head": db_head["head"],
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "documents": {s: sum(1 for d in doc_list if d["status"] == s) for s in ("included", "changed", "missing")},
    }


def _json_member(data: bytes) -> Any:
    """A pack member's JSON; a key written twice is refused (readers differ on which one counts)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError(_text(N_("the key {key!r} is written twice"), key=next(k for k in keys if keys.count(k) > 1)))
        return dict(items)

    return json.loads(data.decode("utf-8"), object_pairs_hook=pairs)


def _read_json(zf: zipfile.ZipFile, name: str) -> Any:
    return _json_member(zf.read(name))


def _parse_sha256(text: str, what: str) -> str:
    """*text* as a sha256; *what* (marked with ``N_``) names it in the error."""
    digest = text.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError(_("cannot read {what} {text!r}; give the 64 hexadecimal digits as printed").format(
            what=_(what), text=text))
    return digest


def _reason(exc: BaseException) -> Any:
    """What an exception says: the :class:`Text` it was raised with, or its text."""
    said = exc.args[0] if len(exc.args) == 1 else None
    return said if isinstance(said, Text) else str(exc)


def _csv_problems(stored: bytes, events: list[dict[str, Any]], definition: bytes) -> list[Text]:
    """events.csv made again from events.json and definition.yaml, and compared byte for byte."""
    from sopengine.definition.loader import check_text, compile_definition

    try:
        checked = check_text(definition.decode("utf-8"), "definition.yaml")
    except UnicodeDecodeError:
        return [_text(N_("definition.yaml is not UTF-8 text, so events.csv cannot be made again from it"))]
    if not checked.ok or checked.definition is None:
        return [_text(N_("definition.yaml cannot be compiled by this sopengine, so events.csv cannot be made again and"
                         " compared"))]
    buf = io.BytesIO()
    try:
        write_history_csv(_pack_entries(events, compile_definition(checked.definition, checked.text or "")), buf)
    except (TypeError, ValueError, AttributeError) as exc:  # times or names of a kind the engine never writes
        return [_text(N_("events.csv cannot be made again from events.json ({error}): its events hold values the engine"
                         " never writes"), error=_reason(exc))]
    if buf.getvalue() != stored:
        return [_text(N_("events.csv: it differs from the events of events.json (made again from them and the"
                         " definition): the spreadsheet was altered"))]
    return []


def _run_json_problems(info: Any, events: list[dict[str, Any]], run_id: Any) -> list[Text]:
    """The run as run.json holds it, against what its events record."""
    if not isinstance(info, dict):
        return [_text(N_("it is not a JSON object"))]
    problems = []
    first = events[0] if events else {}
    started = first.get("payload") if first.get("kind") == "run_started" else None
    if not isinstance(started, dict):
        return [_text(N_("the run has no run_started event to compare it with"))]
    case = info.get("case_data")
    row = {name: info.get(name) for name in _RUN_FIELDS}
    row["case_data"] = canonical(case) if isinstance(case, dict) else case
    if info.get("id") != run_id:
        problems.append(_text(N_("its run id {id!r} is not the pack's {run!r}"), id=info.get("id"), run=run_id))
    try:
        fields = _started_fields(started)
    except TypeError:  # case data that is no JSON value
        fields = None
    differ, recorded = _run_differences(row, first.get("at"), first.get("person"), fields)
    for name in differ:
        problems.append(_text(N_("its {field} {value!r} differs from the run_started event's {recorded!r}"),
                              field=name, value=row[name], recorded=recorded.get(name)))
    last = events[-1]
    status = info.get("status")
    want = {"completed": "run_completed", "cancelled": "run_cancelled"}.get(status) if isinstance(status, str) else None
    if want and (last.get("kind") != want or last.get("at") != info.get("finished_at")):
        problems.append(_text(N_("the run is {status} there, but the last event is {kind} at {at}"),
                              status=info.get("status"), kind=last.get("kind"), at=last.get("at")))
    elif info.get("status") == "active" and last.get("kind") in ("run_completed", "run_cancelled"):
        problems.append(_text(N_("the run is active there, but the last event is {kind}"), kind=last.get("kind")))
    elif info.get("status") not in ("active", "completed", "cancelled"):
        problems.append(_text(N_("the run has an unknown status {status!r}"), status=info.get("status")))
    tasks, assignments = info.get("tasks"), info.get("assignments")
    if not (isinstance(tasks, list) and all(isinstance(t, dict) for t in tasks)):
        return problems + [_text(N_("its tasks are not a list of objects"))]
    if not (isinstance(assignments, list) and all(isinstance(a, dict) for a in assignments)):
        return problems + [_text(N_("its assignments are not a list of objects"))]
    # the same rebuild audit verify makes of the tables, from this run's events
    expected = []
    replayed: dict[str, dict[tuple[str, str], tuple[int, str, str]]] = {}
    holder: dict[str, list[tuple[Any, ...]]] = {}
    for e in events:
        p = e.get("payload")
        if not isinstance(p, dict):
            continue
        if e.get("kind") in _CLOSING_KINDS and e.get("person") != _ENGINE:
            expected.append((e.get("seq"), e.get("kind"), _event_closing(e.get("step_id"), e.get("at"), e.get("person"), p)))
        elif e.get("kind") in _STATE_KINDS:
            _note_state_event(holder, replayed, e.get("seq"), str(run_id), e.get("kind"), e.get("at"), e.get("person"),
                              e.get("step_id"), p)
    closings = holder.get(str(run_id), [])
    done = [(t.get("id"), _task_closing(*(t.get(k) for k in (
        "step_id", "closed_at", "closed_by", "outcome", "iteration", "actor", "part", "note", "on_behalf_of"))))
        for t in tasks if t.get("state") == "done"]
    other = [(t.get("id"), t.get("step_id"), t.get("state"), t.get("closed_at"), t.get("closed_by"))
             for t in tasks if t.get("state") in ("cancelled", "joined")]
    odd = [t for t in tasks if t.get("state") not in ("open", "waiting", "done", "cancelled", "joined")]
    found = _compare_done(str(run_id), expected, done) + _closed_task_problems(str(run_id), closings, other)
    named = [a for a in assignments if isinstance(a.get("role"), str) and isinstance(a.get("person"), str)]
    problems += [_text(N_("an assignment names no role or person: {assignment}"), assignment=canonical(a))
                 for a in assignments if a not in named]
    held = {str(run_id): {(a["role"], a["person"]): (a.get("acting"), a.get("assigned_at"), a.get("assigned_by"))
                          for a in named}}
    found += _compare_assignments(held, replayed)
    problems += [_text(N_("task {task} has an unknown state {state!r}"), task=t.get("id"), state=t.get("state")) for t in odd]
    problems += [p["message"] for p in found]
    return problems


def verify_pack(path: str | Path, *, expect_head: str | None = None, expect_manifest: str | None = None) -> dict[str, Any]:
    """Check an evidence pack without the database: manifest, chain, definition, documents,
    and the members the chain does not cover (events.csv, run.json) against the chain.

    Returns ``ok``, ``problems`` (the first is the first found), ``run_id``, ``events``,
    ``run_head`` and the manifest's sha256. ``expect_head`` is a run head noted elsewhere,
    ``expect_manifest`` the manifest's sha256 noted when the pack was made.
    """
    noted_head = parse_head(expect_head)[0] if expect_head is not None else None
    noted_manifest = _parse_sha256(expect_manifest, N_("manifest sha256")) if expect_manifest is not None else None
    file = Path(path)
    if not file.is_file():
        raise AuditError(_("no pack at {file}; give the path of a zip written by 'sopengine audit pack'").format(file=file),
                         path=str(file))
    problems: list[Text] = []
    result: dict[str, Any] = {"path": str(file), "problems": problems}
    try:
        zf = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        raise AuditError(_("{file} is not a zip file; give the pack written by 'sopengine audit pack'").format(file=file),
                         path=str(file)) from None
    with zf:
        listed_names = zf.namelist()
        twice = sorted({n for n in listed_names if listed_names.count(n) > 1})
        if twice:
            # zipfile reads the last of two equal names, other tools the first: what was checked
            # need not be what an auditor opens
            raise AuditError(
                _("{file} holds more than one member named {member}: a zip with repeated names reads differently in"
                  " different tools, and sopengine never writes one; it is not a pack to trust").format(
                    file=file, member=twice[0]),
                path=str(file),
            )
        names = set(listed_names)
        if "manifest.json" not in names:
            raise AuditError(_("{file} has no manifest.json: it is not a sopengine evidence pack").format(file=file),
                             path=str(file))
        manifest_bytes = zf.read("manifest.json")
        result["manifest_sha256"] = hashlib.sha256(manifest_bytes).hexdigest()
        try:
            manifest = _json_member(manifest_bytes)
            listed: dict[str, dict[str, Any]] = manifest["members"]
        except (ValueError, KeyError, TypeError):
            listed = None  # type: ignore[assignment]
        if not (isinstance(listed, dict) and all(isinstance(v, dict) for v in listed.values())):
            raise AuditError(_("{file}: manifest.json cannot be read as a pack's manifest (an object whose members map"
                               " each name to its sha256 and size)").format(file=file), path=str(file))
        if manifest.get("format") != PACK_FORMAT:
            problems.append(_text(N_("manifest.json: format {format!r} is not {expected}"), format=manifest.get("format"),
                                  expected=PACK_FORMAT))
        run_id = manifest.get("run_id")
        result["run_id"] = run_id
        for name in sorted(listed):
            if name not in names:
                problems.append(_text(N_("{member}: listed in the manifest but not in the pack"), member=name))
                continue
            data = zf.read(name)
            if hashlib.sha256(data).hexdigest() != listed[name].get("sha256"):
                problems.append(_text(N_("{member}: its sha256 differs from the manifest (the member was altered)"),
                                      member=name))
        for name in sorted(names - set(listed) - {"manifest.json"}):
            problems.append(_text(N_("{member}: in the pack but not in the manifest (a member was added)"), member=name))
        required = ("events.json", "events.csv", "verification.json", "definition.yaml", "documents.json", "run.json")
        missing = [n for n in required if n not in names]
        if missing:
            problems.append(_text(N_("{members}: missing from the pack"), members=", ".join(missing)))
            result.update(ok=False, first_problem=problems[0])
            return result
        shapes = {
            "events.json": (list, N_("{member} is not a list of events (each an object)")),
            "verification.json": (dict, N_("{member} is not an object")),
            "documents.json": (list, N_("{member} is not a list of documents (each an object)")),
        }
        read: dict[str, Any] = {}
        for name, (kind, wrong) in shapes.items():
            try:
                value = _read_json(zf, name)
            except ValueError as exc:
                problems.append(_text(N_("{member} cannot be read ({error})"), member=name, error=_reason(exc)))
                continue
            items_ok = kind is dict or all(isinstance(item, dict) for item in value) if isinstance(value, kind) else False
            if not items_ok:
                problems.append(_text(wrong, member=name))
                continue
            read[name] = value
        if len(read) < len(shapes):
            result.update(ok=False, first_problem=problems[0])
            return result
        events, verification, documents = read["events.json"], read["verification.json"], read["documents.json"]
        expected = GENESIS
        recorded_docs: list[tuple[Any, Any, Any]] = []
        last_seq = 0
        before_chain = len(problems)
        for k, e in enumerate(events):
            seq = e.get("seq")
            if e.get("run_id") != run_id:
                problems.append(_text(N_("events.json: event {seq} belongs to run {other}, not {run}"), seq=seq,
                                      other=e.get("run_id"), run=run_id))
                break
            if not isinstance(seq, int) or seq <= last_seq:
                problems.append(_text(N_("events.json: event {seq} is out of order"), seq=seq))
                break
            last_seq = seq
            if e.get("prev_hash") != expected:
                problems.append(_text(N_("events.json: event {seq} does not link to the event before it (deleted,"
                                         " reordered or forged)"), seq=seq))
                break
            try:
                recomputed = event_hash(e)
            except (KeyError, TypeError, ValueError):
                recomputed = None
            if recomputed != e.get("hash"):
                following = events[k + 1].get("prev_hash") if k + 1 < len(events) else None
                if recomputed is not None and following == recomputed:
                    problems.append(_text(N_("events.json: event {seq} does not match its stored hash, but its fields"
                                             " hash to what the next event links to (its hash was edited)"), seq=seq))
                else:
                    problems.append(_text(N_("events.json: event {seq} does not match its hash (its fields were edited)"),
                                          seq=seq))
                break
            expected = e["hash"]
            payload = e.get("payload")
            if isinstance(payload, dict):
                for d in payload.get("documents") or []:
                    if isinstance(d, dict):
                        recorded_docs.append((seq, d.get("name"), d.get("sha256")))
        chain_ok = len(problems) == before_chain
        run_head = events[-1].get("hash") if events else GENESIS
        result["events"] = len(events)
        result["run_head"] = run_head
        if verification.get("run_head") != run_head:
            problems.append(_text(N_("verification.json: its run head differs from the last event of events.json")))
        if verification.get("ok") is not True:
            recorded_problem = verification.get("problem")
            said = recorded_problem.get("message") if isinstance(recorded_problem, dict) else None
            problems.append(_text(N_("verification.json: the chain was already broken when the pack was made: {problem}"),
                                  problem=said or _text(N_("see the file"))))
        if manifest.get("run_head") != run_head:
            problems.append(_text(N_("manifest.json: its run head differs from the last event of events.json")))
        started = events[0] if events else {}
        pinned = (started.get("payload") or {}).get("definition_hash") if isinstance(started.get("payload"), dict) else None
        if hashlib.sha256(zf.read("definition.yaml")).hexdigest() != pinned:
            problems.append(_text(N_("definition.yaml: its sha256 is not the definition hash the run_started event recorded")))
        # every file the chain recorded is accounted for: included, or listed as changed or missing
        # keyed by their JSON text: a name or hash of the wrong type must not stop the check
        remaining = Counter(canonical(list(r)) for r in recorded_docs)
        for d in documents:
            key = canonical([d.get("event"), d.get("name"), d.get("sha256")])
            if remaining[key] <= 0:
                problems.append(_text(N_("documents.json: {name!r} of event {seq} is not a file the chain recorded"),
                                      name=d.get("name"), seq=d.get("event")))
                continue
            remaining[key] -= 1
            status = d.get("status")
            if status in ("changed", "missing"):
                continue
            if status != "included":
                problems.append(_text(N_("documents.json: {name!r} of event {seq} has an unknown status {status!r}"),
                                      name=d.get("name"), seq=d.get("event"), status=status))
                continue
            member = d.get("member")
            if not isinstance(member, str) or member not in names:
                problems.append(_text(N_("documents.json: {name!r} is marked included but {member} is not in the pack"),
                                      name=d.get("name"), member=member))
                continue
            if hashlib.sha256(zf.read(member)).hexdigest() != d.get("sha256"):
                problems.append(_text(N_("{member}: its sha256 differs from the one recorded for {name!r}"), member=member,
                                      name=d.get("name")))
        for seq, name, digest in recorded_docs:
            key = canonical([seq, name, digest])
            if remaining[key] > 0:
                remaining[key] -= 1
                problems.append(_text(N_("documents.json: event {seq} recorded {name!r} (sha256 {sha256}…), which the"
                                         " pack neither includes nor lists as changed or missing"),
                                      seq=seq, name=name, sha256=str(digest)[:12]))
        if chain_ok:  # held to a chain that does not hold, they would only repeat its problem
            problems.extend(_csv_problems(zf.read("events.csv"), events, zf.read("definition.yaml")))
            try:
                run_info = _read_json(zf, "run.json")
            except ValueError as exc:
                problems.append(_text(N_("{member} cannot be read ({error})"), member="run.json", error=_reason(exc)))
            else:
                problems.extend(_text("run.json: {problem}", problem=m) for m in _run_json_problems(run_info, events, run_id))
        if noted_head is not None:
            result["expected_head"] = noted_head
            if noted_head != run_head:
                problems.append(_text(N_("the run head {head}… differs from the noted head {noted}…"), head=run_head[:16],
                                      noted=noted_head[:16]))
        if noted_manifest is not None:
            result["expected_manifest"] = noted_manifest
            if noted_manifest != result["manifest_sha256"]:
                problems.append(_text(N_("the manifest's sha256 {sha256}… differs from the noted {noted}…: this is not"
                                         " the pack that was noted"), sha256=result["manifest_sha256"][:16],
                                      noted=noted_manifest[:16]))
    result["ok"] = not problems
    result["first_problem"] = problems[0] if problems else None
    result["documents"] = {s: sum(1 for d in documents if d.get("status") == s) for s in ("included", "changed", "missing")}
    return result


# -- backup -----------------------------------------------------------------------------------

def _cannot_write(target: Path, exc: BaseException) -> AuditError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return AuditError(_("cannot write {file} ({reason}); choose a folder you may write to — nothing was written").format(
        file=target, reason=reason), path=str(target))


def backup(db: str | Path, target: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Copy the live database to *target* with SQLite's online backup API.

    Writers may keep working: the copy is one consistent moment of the database. The copy is
    written beside *target* and moved into place when complete, so a failed backup leaves no
    half-written file. Returns the copy's path, size, event count and head (``HASH@SEQ``).
    """
    source = Path(db)
    dest = Path(target)
    if dest.exists() and not force:
        raise AuditError(_("{file} already exists; choose another name or pass --force to replace it").format(file=dest),
                         path=str(dest))
    if not dest.parent.exists():
        raise AuditError(_("folder {folder} does not exist; create it first").format(folder=dest.parent), path=str(dest))
    if dest.exists() and source.exists() and dest.resolve() == source.resolve():
        raise AuditError(_("{file} is the database itself; back up to another file").format(file=dest), path=str(dest))
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with Store(source, readonly=True) as store:
        try:
            try:
                # made here first, so that a folder that cannot be written is named as the target's
                # fault (SQLite would only say "unable to open database file")
                with open(tmp, "wb"):
                    pass
                copy = sqlite3.connect(str(tmp))
            except (OSError, sqlite3.Error) as exc:
                raise _cannot_write(dest, exc) from None
            try:
                # pages=-1 copies in one step under one read snapshot; writers in WAL mode are not blocked.
                store.conn.backup(copy, pages=-1)
                check = copy.execute("PRAGMA quick_check").fetchone()[0]
                summary = _stored_head(copy)
            except sqlite3.OperationalError as exc:  # the target's disk is full, or it went away
                raise AuditError(_("the backup to {file} could not be written ({reason}); nothing was replaced").format(
                    file=dest, reason=exc), path=str(dest)) from None
            finally:
                copy.close()
            if check != "ok":
                raise AuditError(_("the copy at {file} failed SQLite's quick_check ({result}); the database may be"
                                   " damaged").format(file=dest, result=check))
            try:
                for stale in (Path(f"{dest}-wal"), Path(f"{dest}-shm")):
                    # an old copy's leftover log would be replayed into the new file when it is opened
                    stale.unlink(missing_ok=True)
                os.replace(tmp, dest)
            except OSError as exc:
                raise _cannot_write(dest, exc) from None
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
    return {"path": str(dest), "size": dest.stat().st_size, **summary, "created_at": clock.iso(clock.real_now())}


def local_time(text: str | None, tz: str | None = None) -> str:
    """A stored UTC time as history's table shows it (``2026-10-01 09:00 WIB``)."""
    return clock.local(text, tz) if text else "-"
