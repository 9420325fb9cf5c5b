"""``audit verify``: every run's hash chain, and the tables, definitions and calendars against it.

:func:`verify` first asks SQLite whether the file itself is sound (``PRAGMA quick_check``, or
``integrity_check`` with ``full_check``), then makes one pass over every event
(:mod:`~sopengine.audit.chainpass`): it recomputes each event's hash from its canonical form
(:mod:`sopengine.chain`), checks the ``prev_hash`` links and that each payload is stored as its
canonical text, and compares the ``runs``, ``tasks`` and ``assignments`` tables with what the
events record (:mod:`~sopengine.audit.tables`), one run at a time. The office's own chain
(``office_events``) gets the same checks, and the people register's tables are compared with
what it records (:mod:`~sopengine.audit.register`). It then checks the pinned definitions and calendars
(:mod:`~sopengine.audit.pins`) and names the first bad event
(:mod:`~sopengine.audit.diagnose`). It returns the *database head* (one hash over every
chain's last hash) as ``HASH@SEQ``: noted by an auditor, it later reveals a cut-off tail or a
rebuilt history.

:func:`floor_rate` times the least any such pass must do (read each event, hash its canonical
text): the benchmark compares the two.
"""

from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sopengine.audit.canonical import _head_token, parse_head_token, payload_problem
from sopengine.audit.chainpass import Mark, PassResult, Progress, chain_pass, floor_pass
from sopengine.audit.checkpoints import CheckpointFile
from sopengine.audit.diagnose import _describe_run_problem, _noncanonical
from sopengine.audit.documents import _document_check
from sopengine.audit.findings import _problem, _text
from sopengine.audit.pins import _pin_problems
from sopengine.audit.register import register_problems
from sopengine.chain import database_head
from sopengine.i18n import N_
from sopengine.store import Store
from sopengine.store import audit as store_audit
from sopengine.store import errors as store_errors
from sopengine.store.dialect import is_pg

OFFICE = store_audit.OFFICE_CHAIN

_CHAIN_KINDS = frozenset(("edited", "reordered", "forged", "deleted", "relinked", "noncanonical"))
"""Problems with the events themselves; those with the tables derived from them come after."""


def _order(problem: dict[str, Any]) -> tuple[int, int, int]:
    # The record comes first: an edited event also makes its task row differ from it, and the
    # event is what is named first. Within each group, by event number; those without one last.
    tier = 0 if problem["kind"] in _CHAIN_KINDS else 1
    return (tier, 0, problem["seq"]) if problem["seq"] is not None else (tier, 1, 0)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    # The pass makes a tuple per event; the cyclic collector would walk the young ones again
    # and again (it more than doubled the time over a million events). Nothing here forms cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def verify(db: str | Path, *, documents: bool = False, expect_head: str | None = None, full_check: bool = False,
           progress: Progress | None = None, checkpoints: str | Path | CheckpointFile | None = None,
           public_key: str | None = None) -> dict[str, Any]:
    """Check the file, every chain and the tables against it; the first problem comes first.

    Returns ``ok``, ``events``, ``runs``, ``office_events``, ``head`` (``HASH@SEQ``, with
    ``+N`` when the office's chain has N events), ``problems`` (each with ``kind``, ``seq``,
    ``run_id``, ``message``), ``integrity`` (SQLite's own check, timed apart) and with
    ``documents`` a ``documents`` summary. ``expect_head`` (``HASH``, ``HASH@SEQ`` or
    ``HASH@SEQ+N``) is compared with the head now or, with ``@SEQ``, with the head recomputed
    over the events up to that number. *checkpoints* (an auditor's checkpoint file, see
    :mod:`sopengine.audit.checkpoints`) proves the history up to each signed checkpoint
    unchanged and names events added after one but dated before it; *public_key* (64 hex
    digits or a ``KEYFILE.pub``) is the key every checkpoint must be signed with. *progress*
    is told ``(events done, events in all)`` as the pass goes.

    A file SQLite finds damaged raises :class:`~sopengine.errors.DatabaseDamaged`.
    """
    expected = parse_head_token(expect_head) if expect_head else None
    if checkpoints is not None and not isinstance(checkpoints, CheckpointFile):
        checkpoints = CheckpointFile.read(checkpoints, public_key)
    started = time.perf_counter()
    with _no_cyclic_gc():
        return _verify(db, documents, expect_head, expected, full_check, progress, checkpoints, started)


def integrity(conn: sqlite3.Connection, db: str | Path, *, full: bool = False) -> dict[str, Any]:
    """SQLite's own check of the file (outside any transaction): ``{"check", "ok", "seconds"}``.

    Damage raises :class:`~sopengine.errors.DatabaseDamaged` (exit code 6, the only error that
    advises restoring a backup) and marks the file so that it takes no more changes.

    On PostgreSQL there is no file to check and no client-side check of every page: the server
    keeps its storage sound (its write-ahead log, and data checksums where the cluster has them,
    verified as each page is read). ``check`` is then ``"postgresql"`` and ``ok`` says only that
    the server counts no checksum failure in this database (``pg_stat_database``; a cluster
    without checksums counts none); a count raises :class:`~sopengine.errors.DatabaseDamaged`.
    *full* changes nothing there. The chains and tables are checked the same on both engines.
    """
    started = time.perf_counter()
    if is_pg(conn):
        problems = store_audit.server_check(conn)
        if problems:
            raise store_errors.server_damaged(str(db), problems[0])
        return {"check": "postgresql", "ok": True, "seconds": round(time.perf_counter() - started, 3)}
    damage = store_errors.confirm_damage(conn, db, full=full)
    if damage is not None:
        raise damage
    return {"check": "integrity_check" if full else "quick_check", "ok": True,
            "seconds": round(time.perf_counter() - started, 3)}


def _verify(db: str | Path, documents: bool, expect_head: str | None, expected: tuple[str, int | None, int | None] | None,
            full_check: bool, progress: Progress | None, checkpoints: CheckpointFile | None,
            started: float) -> dict[str, Any]:
    with Store(db, readonly=True) as store:
        named = store.path if store.url is not None else db  # a PostgreSQL address without its password
        checked = integrity(store.conn, named, full=full_check)
        result = _checked(named, store.conn, documents, expected, progress, checkpoints)
    result["integrity"] = checked
    if expected is not None:
        result["expected_head"] = expect_head
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _checked(db: str | Path, conn: sqlite3.Connection, documents: bool, expected: tuple[str, int | None, int | None] | None,
             progress: Progress | None, checkpoints: CheckpointFile | None) -> dict[str, Any]:
    """The chains, the tables, the pins (and documents) in one snapshot of a file SQLite found sound."""
    marks: list[Mark] = []
    if expected is not None and expected[1] is not None:
        marks.append(Mark(expected[1], expected[2]))
    with store_audit.read_snapshot(conn):
        low, high = store_audit.seq_range(conn)
        office_top = store_audit.office_head(conn)
        total = (high - low + 1 if high else 0) + (office_top[2] if office_top else 0)
        chain_started = time.perf_counter()
        scan = chain_pass(conn, marks=marks, progress=progress, total=total)
        chain_seconds = time.perf_counter() - chain_started
        problems = _chain_problems(conn, scan, low, high)
        problems.extend(scan.problems)
        problems.extend(_pin_problems(conn))
        problems.extend(register_problems(conn))
        doc_result = None
        if documents:
            doc_result, doc_problems = _document_check(conn)
            problems.extend(doc_problems)
        office_seq = office_top[1] if office_top else None
        held = checkpoints.check(conn, scan, high, office_seq, problems) if checkpoints is not None else None
    result: dict[str, Any] = {
        "db": str(db),
        "events": scan.events,
        "runs": scan.runs,
        "office_events": scan.office_events,
        "head": _head_token(scan.head, high, office_seq),
        "head_hash": scan.head,
        "last_seq": high,
        "last_office_seq": office_seq,
    }
    if expected is not None:
        result["head_matches"] = _compare_head(expected, scan, high, office_seq, problems)
    if held is not None:
        result["checkpoints"] = held
    problems.sort(key=_order)
    result["ok"] = not problems
    result["problems"] = problems
    result["first_problem"] = problems[0] if problems else None
    if doc_result is not None:
        result["documents"] = doc_result
    # the pass's time without the table comparison made along the way
    result["chain_seconds"] = round(chain_seconds - scan.table_seconds, 3)
    result["tables_seconds"] = round(scan.table_seconds, 3)
    return result


def _chain_problems(conn: sqlite3.Connection, scan: PassResult, low: int, high: int) -> list[dict[str, Any]]:
    """The chains that break, payloads not stored canonically, and event numbers missing."""
    problems = []
    broken = dict(scan.broken)
    if scan.office_broken is not None:
        broken[OFFICE] = scan.office_broken
    for run_id, seq in broken.items():
        found = _describe_run_problem(conn, run_id)
        problems.append(found or _problem("edited", _text(N_("event {seq} of run {run} does not match the chain"),
                                                          seq=seq, run=run_id), seq=seq, run_id=run_id))
    named = {(p["run_id"] == OFFICE, p["seq"]) for p in problems}
    odd = [(seq, run_id) for seq, run_id in scan.noncanonical] + [(seq, OFFICE) for seq in scan.office_noncanonical]
    for seq, run_id in odd:
        if (run_id == OFFICE, seq) not in named:
            text = store_audit.event_payload(conn, seq, office=run_id == OFFICE)
            problems.append(_noncanonical(seq, run_id, payload_problem(text) or _text(N_("it differs"))))
    explained = [p["between"] for p in problems if "between" in p and p["run_id"] != OFFICE]
    if scan.events and (low != 1 or high - low + 1 != scan.events):
        for first, last in _gaps(store_audit.event_numbers(conn)):
            if any(a < first and last < b for a, b in explained):
                continue  # already named by the run whose chain it broke
            if first == last:
                message = _text(N_("event(s) {first} are missing from the events table: rows were deleted"), first=first)
            else:
                message = _text(N_("event(s) {first} to {last} are missing from the events table: rows were deleted"),
                                first=first, last=last)
            problems.append(_problem("deleted", message, seq=first))
    issued = store_audit.events_issued(conn)
    if issued is not None and issued > high:
        problems.append(_problem(
            "deleted", _text(N_("events up to {issued} were written but the last one now is {last}: the newest"
                                " rows were deleted"), issued=issued, last=high),
            seq=high + 1,
        ))
    office_issued = store_audit.office_events_issued(conn)
    office_top = store_audit.office_head(conn)
    office_last = office_top[1] if office_top else 0
    if office_issued is not None and office_issued > office_last:
        problems.append(_problem(
            "deleted", _text(N_("office events up to {issued} were written but the last one now is {last}: the newest"
                                " rows of the office's chain were deleted"), issued=office_issued, last=office_last),
            run_id=OFFICE,
        ))
    return problems


def _gaps(numbers: Iterator[int]) -> Iterator[tuple[int, int]]:
    last = 0
    for seq in numbers:
        if seq != last + 1:
            yield last + 1, seq - 1
        last = seq


def _compare_head(expected: tuple[str, int | None, int | None], scan: PassResult, high: int, office_seq: int | None,
                  problems: list[dict[str, Any]]) -> bool:
    digest, at_seq, at_office = expected
    if at_seq is None:
        matches = digest == scan.head
        template = N_("the noted head {noted}… differs from the head now: events were cut off, added before that"
                      " point, or the history was rebuilt")
    elif at_seq > high or (at_office or 0) > (office_seq or 0):
        matches = False
        template = N_("the noted head {noted}… differs from the head after event {seq}, but the last event now is"
                      " {last}: events were cut off, added before that point, or the history was rebuilt")
    else:
        matches = digest == scan.marks[Mark(at_seq, at_office)]
        template = N_("the noted head {noted}… differs from the head recomputed over events 1 to {seq}: events were"
                      " cut off, added before that point, or the history was rebuilt")
    if not matches:
        problems.append(_problem("head", _text(template, noted=digest[:16], seq=at_seq, last=high)))
    return matches


def head(db: str | Path) -> dict[str, Any]:
    """The database head from the stored hashes (not verified): ``head`` is ``HASH@SEQ``."""
    with Store(db, readonly=True) as store, store_audit.read_snapshot(store.conn) as conn:
        return _stored_head(conn)


def _stored_head(conn: sqlite3.Connection) -> dict[str, Any]:
    heads, n, last = store_audit.stored_heads(conn)
    runs = len(heads)
    office = store_audit.office_head(conn)
    if office is not None:
        heads[OFFICE] = office[0]
    digest = database_head(heads)
    return {"head": _head_token(digest, last, office[1] if office else None), "head_hash": digest, "last_seq": last,
            "events": n, "runs": runs, "office_events": office[2] if office else 0}


def floor_rate(db: str | Path) -> dict[str, Any]:
    """The floor ``audit verify``'s chain pass is measured against, timed on *db*.

    A bare loop over the same events (each run's and the office's) in the order they are
    stored, writing each one's canonical text from its stored fields and hashing it: no
    checks, no tables, nothing kept. Returns ``events``, ``seconds`` and ``rate`` (events
    per second); compare ``rate`` with ``verify(db)``'s ``events / chain_seconds``.
    """
    with Store(db, readonly=True) as store, store_audit.read_snapshot(store.conn) as conn, _no_cyclic_gc():
        started = time.perf_counter()
        n = floor_pass(conn)
        seconds = time.perf_counter() - started
    return {"events": n, "seconds": round(seconds, 3), "rate": n / seconds if seconds else 0.0}

