"""The one pass of ``audit verify`` over every event, in memory that does not grow with them.

The events are read run by run (along the ``events_run`` index), each run's in ``seq``
order, so the pass holds one run's state at a time: the hash it expects next, its first and
last events, the sum of the closing keys its events imply, its rarer state events and the
assignments they leave. When a run ends, its rows in the runs, tasks and assignments tables
(read by three more cursors in the same order of run ids, merged as they go) are compared
with what its events said, and the run is forgotten.

Runs come in the order of their ids, which is the order the database head hashes them in
(:func:`sopengine.chain.database_head` sorts by run id): the head is hashed as the pass goes,
and so is the head as of any earlier event number asked for (a *mark*). The office's own
chain (``office_events``, hashed with run id ``"@office"``) is checked first and takes its
place among the runs in the head when it holds any events.
"""

from __future__ import annotations

import bisect
import hashlib
import sqlite3
from time import perf_counter as clock
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_str
from typing import Any

from sopengine.audit.canonical import _ENCODE, _SCAN_JSON, _exact_hash, _fast_hash
from sopengine.audit.tables import (
    _CLOSING_KINDS,
    _ENGINE,
    _STATE_KINDS,
    RunEvents,
    _key_hash,
    _note_state_event,
    _started_fields,
    run_table_problems,
)
from sopengine.chain import GENESIS
from sopengine.store import audit as store_audit

Progress = Callable[[int, int], None]
"""Told ``(events done, events in all)`` as a long pass goes on."""

OFFICE = store_audit.OFFICE_CHAIN


@dataclass(frozen=True)
class Mark:
    """A point in the history: the run events numbered up to ``seq`` and the office events up to
    ``office_seq`` (None: the office chain is left out, as in a head noted before it had events)."""

    seq: int
    office_seq: int | None = None


class HeadHasher:
    """:func:`sopengine.chain.database_head` computed one run at a time, in the order of run ids.

    ``canonical(dict(sorted(heads.items())))`` is ``{"run":"hash",...}``: written out member by
    member into the sha256, so that no dict of every run's head is kept. The office's head,
    when given, is written in its place among the run ids.
    """

    __slots__ = ("_digest", "_first", "_pending")

    def __init__(self, office: str | None = None) -> None:
        self._digest = hashlib.sha256(b"{")
        self._first = True
        self._pending = office

    def add(self, run_id: Any, digest: Any) -> None:
        if self._pending is not None and _key(OFFICE) < _key(run_id):
            self._write(OFFICE, self._pending)
            self._pending = None
        self._write(run_id, digest)

    def _write(self, run_id: Any, digest: Any) -> None:
        member = _member(run_id) + ":" + _member(digest)
        self._digest.update((member if self._first else "," + member).encode("utf-8"))
        self._first = False

    def hexdigest(self) -> str:
        if self._pending is not None:
            self._write(OFFICE, self._pending)
            self._pending = None
        final = self._digest.copy()
        final.update(b"}")
        return final.hexdigest()


def _member(value: Any) -> str:
    return _json_str(value) if type(value) is str else _ENCODE(value)


def _key(value: Any) -> tuple[int, Any]:
    """A run id as SQLite orders it: NULL, numbers, text (by code point, as UTF-8 bytes compare), blobs."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, bytes(value))


class _Grouped:
    """A cursor ordered by run id (its first column), handed out run by run."""

    __slots__ = ("_next", "_rows")

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._next = next(rows, None)

    def peek(self) -> Any:
        """The run id of the next group, or ``_END``."""
        return _END if self._next is None else self._next[0]

    def before(self, run_id: Any) -> bool:
        """Whether the next group's run id comes before *run_id* (``_END``: any run id)."""
        if self._next is None:
            return False
        if run_id is _END:
            return True
        mine = self._next[0]
        if type(mine) is str and type(run_id) is str:
            return mine < run_id
        return _key(mine) < _key(run_id)

    def take(self, run_id: Any) -> list[tuple[Any, ...]]:
        """The rows of *run_id*, run id first; none unless it is the next group."""
        out = []
        rows = self._rows
        row = self._next
        while row is not None and row[0] == run_id and type(row[0]) is type(run_id):
            out.append(row)
            row = next(rows, None)
        self._next = row
        return out


class _End:
    """After every run id."""


_END = _End()


@dataclass
class PassResult:
    events: int = 0
    runs: int = 0
    head: str = ""
    marks: dict[Mark, str] = field(default_factory=dict)
    broken: dict[Any, int] = field(default_factory=dict)
    """Run -> the number of its first event found wrong; the run is then read again to say why."""
    noncanonical: list[tuple[int, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    """What the tables hold against what the events say."""
    office_events: int = 0
    office_head: str | None = None
    office_broken: int | None = None
    office_noncanonical: list[int] = field(default_factory=list)
    table_seconds: float = 0.0
    """Of the pass's time, what comparing the tables took (the rest is the chains')."""


def _office_pass(conn: sqlite3.Connection, marks: Sequence[Mark], result: PassResult) -> dict[Mark, str | None]:
    """The office's chain: each event's hash and link, its payload's spelling; its head at each mark."""
    expected = GENESIS
    at_mark: dict[Mark, str | None] = {m: None for m in marks}
    n = 0
    for row in store_audit.office_event_rows(conn):
        seq, _run, at, recorded_at, person, os_user, kind, step_id, payload, prev, stored = row
        n += 1
        if result.office_broken is None:
            try:
                ok = prev == expected and _fast_hash(OFFICE, at, recorded_at, person, os_user, kind, step_id, payload,
                                                     prev) == stored
            except TypeError:
                ok = False
            if not ok and (prev != expected or _exact_hash(row) != stored):
                result.office_broken = seq
        if not _canonical_object(payload):
            result.office_noncanonical.append(seq)
        expected = stored
        for m in marks:
            if m.office_seq is not None and seq <= m.office_seq:
                at_mark[m] = stored
    result.office_events = n
    result.office_head = expected if n else None
    return at_mark


def _canonical_object(payload: Any) -> bool:
    try:
        obj, end = _SCAN_JSON(payload, 0)
    except (StopIteration, TypeError, ValueError, RecursionError):
        return False
    return type(obj) is dict and end == len(payload) and _ENCODE(obj) == payload


_SEEN_MAX = 1024
"""Payload texts the pass remembers what it read from (forgotten all at once when full): few
enough that the memory they take does not depend on the size of the history."""


def _read_payload(payload: Any) -> tuple[Any, tuple[bool, bool, tuple[Any, ...]]]:
    """The object a stored payload holds (None when it holds none), and what the pass keeps of
    it: whether it is the canonical text of a JSON object, whether it is an object at all, and
    the payload's part of a closing key (:func:`sopengine.audit.tables._event_closing`)."""
    try:
        obj, end = _SCAN_JSON(payload, 0)
    except (StopIteration, TypeError, ValueError, RecursionError):  # not JSON text at all
        return None, (False, False, ())
    if type(obj) is not dict:
        return None, (False, False, ())
    get = obj.get
    closing = (get("outcome"), get("iteration"), get("actor"), get("part"), get("note") or None,
               get("on_behalf_of") or None)
    return obj, (end == len(payload) and _ENCODE(obj) == payload, True, closing)


def chain_pass(conn: sqlite3.Connection, *, marks: Sequence[Mark] = (), progress: Progress | None = None,
               total: int = 0) -> PassResult:
    """Every event once: chains, payloads, the tables against them, the head and the heads at *marks*.

    *progress* is told how far the pass has come, against *total*.
    """
    result = PassResult()
    office_at_mark = _office_pass(conn, marks, result)
    head = HeadHasher(result.office_head)
    mark_heads = {m: HeadHasher(office_at_mark[m]) for m in marks}
    run_rows, keeps_head = store_audit.runs_by_id(conn)
    runs = _Grouped(run_rows)
    tasks = _Grouped(store_audit.tasks_by_run(conn))
    assignments = _Grouped(store_audit.assignments_by_run(conn))
    problems = result.problems
    broken = result.broken
    odd = result.noncanonical

    def others_before(run_id: Any) -> None:
        """The rows of run ids before *run_id* that have no events, each compared as a run of none."""
        while runs.before(run_id) or tasks.before(run_id) or assignments.before(run_id):
            lowest = min((g.peek() for g in (runs, tasks, assignments) if g.peek() is not _END), key=_key)
            run_rows = runs.take(lowest)
            problems.extend(run_table_problems(conn, lowest, None, run_rows[0] if run_rows else None,
                                               tasks.take(lowest), assignments.take(lowest), keeps_head))

    def finish(run_id: Any, events: RunEvents, hashes: list[tuple[int, Any]]) -> None:
        began = clock()
        result.runs += 1
        head.add(run_id, events.last[0])
        for m, hasher in mark_heads.items():
            i = bisect.bisect_right(hashes, m.seq, key=lambda h: h[0])
            if i:
                hasher.add(run_id, hashes[i - 1][1])
        others_before(run_id)
        run_rows = runs.take(run_id)
        found = run_table_problems(conn, run_id, events, run_rows[0] if run_rows else None, tasks.take(run_id),
                                   assignments.take(run_id), keeps_head)
        if found:
            problems.extend(found)
        result.table_seconds += clock() - began

    sha256 = hashlib.sha256
    text = _json_str
    scan_json = _SCAN_JSON
    seen: dict[Any, tuple[bool, bool, tuple[Any, ...]]] = {}
    closing_kinds, state_kinds, engine = _CLOSING_KINDS, _STATE_KINDS, _ENGINE
    keep_hashes = bool(marks)
    count = 0
    current: Any = _END
    expected = GENESIS
    first: tuple[Any, ...] = ()
    last: tuple[Any, ...] = ()
    n = 0
    closes_sum = closes_n = 0
    closings: dict[Any, list[tuple[Any, ...]]] = {}
    assigned: dict[Any, dict[tuple[str, str], tuple[int, str, str]]] = {}
    hashes: list[tuple[int, Any]] = []
    cursor = store_audit.events_by_run(conn)
    while True:
        batch = cursor.fetchmany()
        if not batch:
            break
        for row in batch:
            seq, run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev, stored = row
            if run_id != current:
                if current is not _END:
                    finish(current, RunEvents(first, (expected, last[0], last[6], last[2]), n, (closes_sum, closes_n),
                                              closings.get(current, []), assigned.get(current, {})), hashes)
                current = run_id
                expected = GENESIS
                first = (seq, kind, at, person, None)  # the run's fields are added below, once parsed
                n = 0
                closes_sum = closes_n = 0
                closings = {}
                assigned = {}
                hashes = []
            n += 1
            if keep_hashes:
                hashes.append((seq, stored))
            # the payload: stored as its canonical text, and what it says about the tables (the same
            # text read before gives the same answers: most payloads repeat, and are looked at once)
            read = seen.get(payload)
            if read is None:
                obj, read = _read_payload(payload)
                if len(seen) >= _SEEN_MAX:
                    seen.clear()
                seen[payload] = read
            else:
                obj = None  # read again below if its kind needs more than the closing key
            canonical_text, is_object, closing = read
            if not canonical_text:
                odd.append((seq, run_id))
            if is_object:
                if kind in closing_kinds:
                    if person != engine:  # the engine's own decisions close no task
                        key = (step_id, at, person, *closing)  # _event_closing, the payload's part read once
                        try:
                            closes_sum += hash(key)
                        except TypeError:
                            closes_sum += _key_hash(key)
                        closes_n += 1
                elif kind in state_kinds:
                    if obj is None:
                        obj = scan_json(payload, 0)[0]
                    _note_state_event(closings, assigned, seq, run_id, kind, at, person, step_id, obj)
                    if n == 1 and kind == "run_started":
                        first = (seq, kind, at, person, _started_fields(obj))
            # the chain: the link, then the hash over the stored fields (canonical.fast_hash, written out)
            if prev != expected:
                broken.setdefault(run_id, seq)
            elif run_id not in broken:
                try:
                    ok = sha256((
                        '{"at":%s,"kind":%s,"os_user":%s,"payload":%s,"person":%s,"prev_hash":%s,"recorded_at":%s,'
                        '"run_id":%s,"step_id":%s}' % (
                            text(at), text(kind), text(os_user), payload, text(person), text(prev), text(recorded_at),
                            text(run_id), "null" if step_id is None else text(step_id))
                    ).encode("utf-8")).hexdigest() == stored
                except TypeError:  # a NULL or a number where text belongs
                    ok = False
                if not ok and _exact_hash(row) != stored:
                    broken[run_id] = seq
            expected = stored
            last = row
        count += len(batch)
        if progress is not None:
            progress(count + result.office_events, total)
    if current is not _END:
        finish(current, RunEvents(first, (expected, last[0], last[6], last[2]), n, (closes_sum, closes_n),
                                  closings.get(current, []), assigned.get(current, {})), hashes)
    began = clock()
    others_before(_END)
    result.table_seconds += clock() - began
    result.events = count
    result.head = head.hexdigest()
    result.marks = {m: h.hexdigest() for m, h in mark_heads.items()}
    return result


def floor_pass(conn: sqlite3.Connection) -> int:
    """The floor the chain pass is measured against: read every event (run and office) in
    ``seq`` order, write its canonical text from the stored fields and hash it; nothing more."""
    sha256 = hashlib.sha256
    n = 0
    for rows in (store_audit.event_rows(conn), store_audit.office_event_rows(conn)):
        for _seq, run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev, _stored in rows:
            text = ('{"at":%s,"kind":%s,"os_user":%s,"payload":%s,"person":%s,"prev_hash":%s,"recorded_at":%s,'
                    '"run_id":%s,"step_id":%s}') % (
                _json_str(at), _json_str(kind), _json_str(os_user), payload, _json_str(person), _json_str(prev),
                _json_str(recorded_at), _json_str(run_id), "null" if step_id is None else _json_str(step_id))
            sha256(text.encode("utf-8")).hexdigest()
            n += 1
    return n
