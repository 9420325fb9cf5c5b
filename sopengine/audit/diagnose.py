"""One run's chain followed event by event, to name its first bad event and what is wrong with it.

The streaming pass of :mod:`sopengine.audit.verify` only notes that a run's chain breaks and
where; this module reads that run again and tells an edit from a deletion, a reordering, a
forged row or a payload written in another spelling.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sopengine.audit.canonical import _exact_hash, _row_hash, payload_problem
from sopengine.audit.findings import _problem, _text
from sopengine.chain import GENESIS
from sopengine.i18n import N_
from sopengine.store import audit as store_audit


def _noncanonical(seq: int, run_id: str, reason: str) -> dict[str, Any]:
    return _problem(
        "noncanonical", _text(N_("event {seq} of run {run} has a payload that is not the canonical text the engine writes"
                                 " ({reason}): it was written behind sopengine's back"), seq=seq, run=run_id, reason=reason),
        seq=seq, run_id=run_id,
    )


def _describe_run_problem(conn: sqlite3.Connection, run_id: str, rows: list[tuple[Any, ...]] | None = None) -> dict[str, Any] | None:
    """The first bad event of one run, with what does not match, or None when its chain holds.

    *run_id* ``"@office"`` reads the office's chain (``office_events``, numbered apart).
    """
    office = run_id == store_audit.OFFICE_CHAIN
    if rows is None:
        rows = list(store_audit.office_event_rows(conn)) if office else store_audit.run_event_rows(conn, run_id)
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
        present = store_audit.events_between(conn, before, seq, office=office)
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

