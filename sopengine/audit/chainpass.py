"""The one pass of ``audit verify`` over every event, in memory that does not grow with them.

The events are read run by run (along the ``events_run`` index), each run's in ``seq``
order, a fetch at a time. Of each run the pass keeps what its tables are compared with (its
first and last events, the sum of the closing keys its events imply, its rarer state events
and the assignments they leave) and at most a few thousand of its rows, to go through again
should its chain break (a longer run is read again from the database then): a run as long as
the whole history, as a database edited to give every event one run id would have, takes no
more memory than a short one.
Once the runs a fetch ended are read, their rows in the runs, tasks and assignments tables
(read by three more cursors in the same order of run ids, merged as they go) are compared
with what their events said, and the runs are forgotten.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
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
    reader = _RunReader(result.broken, result.noncanonical, keep_hashes=bool(marks))

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

    # The runs of one fetch are all read before their tables are compared: reading the events and
    # comparing the tables each go over other pages of the database and other objects in memory,
    # and each goes faster when the other does not come in between (the chains by some 6%).
    # A fetch ends within a run as often as not: what the pass has found in that run so far is
    # carried into the next fetch (never its rows: a run may be as long as the history).
    count = 0
    current: _RunState | None = None
    cursor = store_audit.events_by_run(conn)
    while True:
        batch = cursor.fetchmany()
        if not batch:
            break
        done = []
        for run_id, rows in groupby(batch, _RUN_ID):
            part = list(rows)
            if current is None or run_id != current.run_id:
                if current is not None:
                    done.append((current.run_id, *reader.end(current, conn)))
                current = reader.begin(part[0])
            reader.feed(current, part)
        for run_id, events, hashes in done:
            finish(run_id, events, hashes)
        count += len(batch)
        if progress is not None:
            progress(count + result.office_events, total)
    if current is not None:
        finish(current.run_id, *reader.end(current, conn))
    began = clock()
    others_before(_END)
    result.table_seconds += clock() - began
    result.events = count
    result.head = head.hexdigest()
    result.marks = {m: h.hexdigest() for m, h in mark_heads.items()}
    return result


_RUN_ID = itemgetter(1)


_KEEP_ROWS = 4096
"""A run's rows the pass keeps, to go through again should its chain break; a longer run is read
again from the database instead (its memory must not grow with the history)."""


class _RunState:
    """What the pass has found so far in one run's events (its rows come a fetch at a time)."""

    __slots__ = ("run_id", "run_text", "first", "closes_sum", "closes_n", "closings", "assigned", "sound", "expected",
                 "n", "last", "hashes", "rows")

    def __init__(self, row: tuple[Any, ...], keep_hashes: bool) -> None:
        self.run_id = row[1]
        self.first: tuple[Any, ...] = (row[0], row[6], row[2], row[4], None)  # its run fields are added once parsed
        self.closes_sum = self.closes_n = self.n = 0
        self.closings: dict[Any, list[tuple[Any, ...]]] = {}
        self.assigned: dict[Any, dict[tuple[str, str], tuple[int, str, str]]] = {}
        try:
            self.run_text = _json_str(row[1])
            self.sound = True
        except TypeError:  # a run id that is not text: its hashes are made exactly, in _find_break
            self.run_text = ""
            self.sound = False
        self.expected = GENESIS
        self.last: tuple[Any, ...] = row
        self.hashes: list[tuple[int, Any]] | None = [] if keep_hashes else None
        self.rows: list[tuple[Any, ...]] | None = []


class _RunReader:
    """What the pass checks in one run's events, and what they say about its tables.

    Most runs are sound, so a run's chain is first checked as if it held: each event by one
    expression (its link, then its hash), nothing kept to say where it broke. Only a run where
    that fails (a broken link, a hash that differs, a NULL or a number where text belongs) is
    checked again from its start, event by event (:meth:`_find_break`), to find the first event
    that is wrong and leave it in ``broken``, as a pass one event at a time does.

    The canonical text is written as an f-string, not with ``%``: ``%`` reads its template again
    for every event, which cost about a third of the time spent hashing.
    """

    __slots__ = ("broken", "keep_hashes", "odd", "seen")

    def __init__(self, broken: dict[Any, int], odd: list[tuple[int, Any]], *, keep_hashes: bool) -> None:
        self.broken = broken
        self.odd = odd
        self.keep_hashes = keep_hashes
        self.seen: dict[Any, tuple[bool, bool, tuple[Any, ...]]] = {}

    def begin(self, row: tuple[Any, ...]) -> _RunState:
        """A run whose first event is *row*."""
        return _RunState(row, self.keep_hashes)

    def feed(self, run: _RunState, rows: list[tuple[Any, ...]]) -> None:
        """The next of *run*'s rows (in ``seq`` order, its run id), checked into what *run* has found."""
        sha256 = hashlib.sha256
        text = _json_str
        scan_json = _SCAN_JSON
        seen = self.seen
        odd = self.odd
        closing_kinds, state_kinds, engine = _CLOSING_KINDS, _STATE_KINDS, _ENGINE
        closes_sum, closes_n, closings, assigned = run.closes_sum, run.closes_n, run.closings, run.assigned
        sound, expected, run_text, n = run.sound, run.expected, run.run_text, run.n
        for row in rows:
            seq, run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev, stored = row
            n += 1
            # the payload: stored as its canonical text, and what it says about the tables (the same
            # text read before gives the same answers: most payloads repeat, and are looked at once)
            read = seen.get(payload)
            if read is None:
                obj, read = _read_payload(payload)
                if kind != "run_started":  # a run's start names the run: its text never comes again
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
                        key = (step_id, at, person) + closing  # _event_closing, the payload's part read once
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
                        run.first = (seq, kind, at, person, _started_fields(obj))
            # the chain: the link, then the hash over the stored fields (canonical.fast_hash, written
            # out). The previous hash goes in as it is, without JSON's quotes and escapes made for it:
            # it is the one this run's previous event was just found to have (or GENESIS), hex digits
            # that JSON writes as they are. Checked until the first doubt, then again by _find_break.
            if sound:
                try:
                    sound = prev == expected and sha256((
                        f'{{"at":{text(at)},"kind":{text(kind)},"os_user":{text(os_user)},"payload":{payload},'
                        f'"person":{text(person)},"prev_hash":"{prev}","recorded_at":{text(recorded_at)},'
                        f'"run_id":{run_text},"step_id":{"null" if step_id is None else text(step_id)}}}'
                    ).encode()).hexdigest() == stored
                except TypeError:  # a NULL or a number where text belongs
                    sound = False
                expected = stored
        run.closes_sum, run.closes_n, run.sound, run.expected, run.n = closes_sum, closes_n, sound, expected, n
        run.last = rows[-1]
        if run.hashes is not None:
            run.hashes.extend((row[0], row[10]) for row in rows)
        if run.rows is not None:
            if len(run.rows) + len(rows) <= _KEEP_ROWS:
                run.rows.extend(rows)
            else:
                run.rows = None  # a long run: read again from the database, should it need to be

    def end(self, run: _RunState, conn: sqlite3.Connection) -> tuple[RunEvents, list[tuple[int, Any]]]:
        """What *run*'s events say, and ``(seq, hash)`` of each when the pass keeps them for marks."""
        if not run.sound:
            self._find_break(run.rows if run.rows is not None else store_audit.run_events_streamed(conn, run.run_id))
        last = run.last
        events = RunEvents(run.first, (last[10], last[0], last[6], last[2]), run.n, (run.closes_sum, run.closes_n),
                           run.closings.get(run.run_id, []), run.assigned.get(run.run_id, {}))
        return events, run.hashes if run.hashes is not None else []

    def _find_break(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """The first event of a run whose link or hash is wrong, into ``broken``: event by event,
        each hash written out exactly (:func:`_exact_hash`) when the fast one differs."""
        broken = self.broken
        text = _json_str
        expected = GENESIS
        for row in rows:
            seq, run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev, stored = row
            if prev != expected:
                broken.setdefault(run_id, seq)
            elif run_id not in broken:
                try:
                    ok = hashlib.sha256((
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


def floor_pass(conn: sqlite3.Connection) -> int:
    """The floor the chain pass is measured against: read every event (run and office) in
    ``seq`` order, write its canonical text from the stored fields and hash it; nothing more
    (the text written as the pass writes it, an f-string: the cheapest way Python has)."""
    sha256 = hashlib.sha256
    n = 0
    for rows in (store_audit.event_rows(conn), store_audit.office_event_rows(conn)):
        for _seq, run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev, _stored in rows:
            text = (f'{{"at":{_json_str(at)},"kind":{_json_str(kind)},"os_user":{_json_str(os_user)},"payload":{payload},'
                    f'"person":{_json_str(person)},"prev_hash":{_json_str(prev)},"recorded_at":{_json_str(recorded_at)},'
                    f'"run_id":{_json_str(run_id)},"step_id":{"null" if step_id is None else _json_str(step_id)}}}')
            sha256(text.encode("utf-8")).hexdigest()
            n += 1
    return n
