"""Overdue work: open steps past their due time, and runs past their process deadline.

A step is *overdue* once its due time has passed (``due_at < now``); how late it is, is
counted in office time by the run's own calendar snapshot, or in plain elapsed time for
a step measured in *hari kalender*. A step due at 16:00 (closing) looked at in the
evening is overdue and late by 0 s of office time: none has passed since.

How the list stays flat in the size of the database (its SQL is in
:mod:`sopengine.store.queries`):

* The step query walks the partial index ``tasks_open_due`` (open tasks by due time),
  so the oldest due times come first and closed tasks are never read. Lateness is
  computed in Python for the rows read. Within one calendar an earlier due time is never
  less late, so the walk stops as soon as the next row's best possible lateness (the
  most any stored calendar gives for its due time) cannot beat the ``limit``-th row
  kept: with one calendar and no calendar-day steps, right after ``limit`` rows.
* ``actor`` and ``person`` filter that same walk: a person's steps are the open steps
  whose role the person is assigned to in the run, checked through the assignments'
  primary key, so the person's finished runs are never read. Names compare case-folded.
* Runs past their deadline are looked for only among the active runs (the partial index
  ``runs_active_due``) of the SOPs that have a deadline.

Nothing here imports pydantic, sqlite-utils or rich.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.errors import InputError
from sopengine.i18n import _
from sopengine.calendar import late_days, lateness
from sopengine.store import Store
from sopengine.store import queries
from sopengine.store import use as use_store

__all__ = ["count_overdue", "overdue", "roles_named"]


@dataclass(frozen=True)
class _Definition:
    """What overdue lists need of a compiled definition."""

    id: str
    title: str
    actors: dict[str, str]  # actor id -> name as the SOP writes it
    steps: dict[str, dict[str, Any]]  # step id -> no, kegiatan, waktu, calendar_days
    deadline_text: str | None
    deadline_calendar_days: bool
    timezone: str | None  # the definition's own zone, for a run stored without a calendar
    has_calendar_days: bool  # some step (or the deadline) counts calendar days


# Keyed by the hash of the definition text: what a hash names never changes.
_DEFINITIONS: dict[str, _Definition] = {}


def _definition(store: Store, text_hash: str) -> _Definition:
    found = _DEFINITIONS.get(text_hash)
    if found is None:
        compiled = store.compiled(text_hash)
        steps = {
            sid: {
                "no": s.get("no"),
                "kegiatan": s.get("kegiatan"),
                "waktu": s.get("waktu"),
                "table": s.get("table"),  # format 2: the table the run follows
                "calendar_days": bool(s.get("duration") and s["duration"].get("calendar")),
            }
            for sid, s in compiled["steps"].items()
        }
        deadline = compiled.get("deadline") or {}
        found = _DEFINITIONS[text_hash] = _Definition(
            id=compiled["id"],
            title=compiled["title"],
            actors={aid: a["name"] for aid, a in compiled["actors"].items()},
            steps=steps,
            deadline_text=compiled.get("deadline_text"),
            deadline_calendar_days=bool(deadline.get("calendar")),
            timezone=compiled.get("timezone"),
            has_calendar_days=any(s["calendar_days"] for s in steps.values()) or bool(deadline.get("calendar")),
        )
    return found


def _all_definitions(store: Store) -> list[_Definition]:
    return [_definition(store, h) for h in queries.definition_hashes(store)]


def roles_named(store: Store, actor: str) -> list[str]:
    """The actor ids ``actor`` names (an id, or a name as the SOP writes it) in any stored SOP."""
    wanted = actor.strip()
    ids: set[str] = set()
    known: dict[str, str] = {}
    for d in _all_definitions(store):
        for aid, name in d.actors.items():
            known[aid] = name
            if aid == wanted or name.casefold() == wanted.casefold():
                ids.add(aid)
    if not ids:
        listing = ", ".join(f"{aid} ({name})" for aid, name in sorted(known.items())) or _("none (no runs yet)")
        raise InputError(
            _("no SOP in {db} has a role {actor!r}; roles are: {roles}").format(db=store.path, actor=actor, roles=listing)
        )
    return sorted(ids)


# -- public -------------------------------------------------------------------------------------


def count_overdue(db: str | Path | Store, now: datetime | str | None = None) -> int:
    """How many open steps are past their due time at ``now`` (one count on an index).

    ``db`` is a path or an open :class:`~sopengine.store.Store`, as for :func:`overdue`.
    """
    store, owned = use_store(db, readonly=True)
    try:
        return queries.count_overdue(store, clock.iso(clock.coerce(now)) or "")
    finally:
        if owned:
            store.close()


def overdue(
    db: str | Path | Store,
    *,
    now: datetime | str | None = None,
    actor: str | None = None,
    person: str | None = None,
    limit: int | None = None,
    deadlines: bool = True,
) -> list[dict[str, Any]]:
    """Open steps past due and (with ``deadlines``) active runs past their process deadline.

    Most late first: by ``late_by`` (whole seconds of office time, or of elapsed time when
    ``counted_in`` is ``"calendar"``), then by the earlier due time. ``actor`` (a role id
    or its name) keeps that role's steps; ``person`` keeps the steps of the roles the
    person is assigned to in each run. A run past its deadline is kept when one of its
    open steps passes those filters. ``limit`` keeps the first rows only.

    A step row has ``kind`` ``"step"``; a deadline row has ``kind`` ``"deadline"``,
    ``step`` None, the deadline text in ``waktu`` and, in ``waiting_on``, the open steps
    of the run and who must act on them. ``assigned`` lists the persons assigned to the
    role in that run. ``timezone`` is the run's zone, in which its times are shown. A ``now``
    without an offset is read in WIB: the list spans SOPs of any zone. ``db`` is a path, or an
    open :class:`~sopengine.store.Store` that a long-lived caller keeps (and closes).
    """
    if limit is not None and limit < 1:
        raise InputError(_("limit must be 1 or more, got {limit}; give --limit N with N >= 1").format(limit=limit))
    store, owned = use_store(db, readonly=True)
    try:
        at = clock.coerce(now)
        at_text = clock.iso(at) or ""
        roles = roles_named(store, actor) if actor else None
        kept = _Latest(limit)
        who = person.strip() if person and person.strip() else None
        _walk_steps(store, at, at_text, roles, who, kept)
        offered = _scan_deadlines(store, at, at_text, roles, who, kept) if deadlines else {}
        rows = kept.rows()
        for row in rows:
            if row["kind"] == "deadline":
                row["waiting_on"] = _waiting_on(store, offered[row["run_id"]], row["run_id"])
        _add_assigned(store, rows)
        return rows
    finally:
        if owned:
            store.close()


# -- ranking ------------------------------------------------------------------------------------


class _Latest:
    """The ``limit`` latest rows offered so far (every row when ``limit`` is None).

    Ranked by lateness, then the earlier due time, then the row offered first; a
    min-heap keeps the weakest kept row on top, so an offer costs O(log limit).
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.heap: list[tuple[int, int, int, dict[str, Any]]] = []
        self.offered = 0

    def full(self) -> bool:
        return self.limit is not None and len(self.heap) >= self.limit

    def weakest(self) -> int:
        """Lateness of the weakest row kept."""
        return self.heap[0][0]

    def offer(self, row: dict[str, Any], due: datetime) -> None:
        self.offered += 1
        key = (row["late_by"], -int(due.timestamp()), -self.offered, row)
        if not self.full():
            heapq.heappush(self.heap, key)
        elif key[:3] > self.heap[0][:3]:
            heapq.heapreplace(self.heap, key)

    def rows(self) -> list[dict[str, Any]]:
        return [key[3] for key in sorted(self.heap, key=lambda k: k[:3], reverse=True)]


class _Bound:
    """The most a row not yet read, due at a given time, can be late.

    A row's lateness under its own calendar is at most the largest lateness any stored
    calendar gives for its due time, or the elapsed time when a stored SOP counts some
    step or deadline in calendar days.
    """

    def __init__(self, store: Store, at: datetime) -> None:
        self.at = at
        hashes = queries.calendar_hashes(store)
        self.calendars = [c for c in (store.work_calendar(h) for h in hashes) if c is not None]
        self.elapsed = any(d.has_calendar_days for d in _all_definitions(store))

    def at_most(self, due: datetime) -> int:
        if self.elapsed or not self.calendars:
            return lateness(None, due, self.at)
        return max(c.late_by(due, self.at) for c in self.calendars)


# -- steps --------------------------------------------------------------------------------------


def _step_row(store: Store, at: datetime, row: tuple[Any, ...]) -> tuple[dict[str, Any], datetime]:
    run_id, step_id, part, iteration, actor_id, opened_at, due_at, def_hash, cal_hash, period = row
    due = clock.from_iso(due_at)
    assert due is not None
    d = _definition(store, def_hash)
    step = d.steps.get(step_id, {})
    calendar_days = bool(step.get("calendar_days"))
    cal = store.work_calendar(cal_hash)
    return {
        "kind": "step",
        "run_id": run_id,
        "definition": d.id,
        "title": d.title,
        "period": period,
        "step": step_id,
        "no": step.get("no"),
        "table": step.get("table"),
        "kegiatan": step.get("kegiatan"),
        "waktu": step.get("waktu"),
        "iteration": iteration,
        "part": part + 1,
        "actor": actor_id,
        "actor_name": d.actors.get(actor_id or ""),
        "assigned": [],
        "opened_at": opened_at,
        "due_at": due_at,
        "late_by": lateness(cal, due, at, calendar_days=calendar_days),
        "late_by_days": late_days(cal, due, at, calendar_days=calendar_days),
        "counted_in": "calendar" if calendar_days else "working",
        "timezone": clock.run_zone(cal, d.timezone),
    }, due


def _walk_steps(store: Store, at: datetime, at_text: str, roles: list[str] | None, person: str | None,
                kept: _Latest) -> None:
    rows = queries.overdue_steps(store, at_text, roles, person)
    bound: _Bound | None = None
    try:
        for raw in rows:
            if kept.full():
                bound = bound or _Bound(store, at)
                due = clock.from_iso(raw[6])
                assert due is not None
                if bound.at_most(due) <= kept.weakest():
                    # Every row still unread is due later, so it can at best tie: stop.
                    return
            kept.offer(*_step_row(store, at, raw))
    finally:
        rows.close()


# -- process deadlines --------------------------------------------------------------------------


def _scan_deadlines(
    store: Store, at: datetime, at_text: str, roles: list[str] | None, person: str | None, kept: _Latest,
) -> dict[str, _Definition]:
    """Offer the active runs past their deadline to ``kept``; returns each offered run's definition."""
    offered: dict[str, _Definition] = {}
    with_deadline = sorted({d.id for d in _all_definitions(store) if d.deadline_text})
    candidates = queries.overdue_deadline_runs(store, at_text, with_deadline, roles, person)
    bound = _Bound(store, at) if kept.limit is not None else None
    try:
        for run_id, def_hash, cal_hash, period, started_at, due_at in candidates:
            due = clock.from_iso(due_at)
            assert due is not None
            if bound is not None and kept.full() and bound.at_most(due) <= kept.weakest():
                break
            d = _definition(store, def_hash)
            offered[run_id] = d
            cal = store.work_calendar(cal_hash)
            kept.offer({
                "kind": "deadline",
                "run_id": run_id,
                "definition": d.id,
                "title": d.title,
                "period": period,
                "step": None,
                "no": None,
                "table": None,
                "kegiatan": None,
                "waktu": d.deadline_text,
                "iteration": None,
                "part": None,
                "actor": None,
                "actor_name": None,
                "assigned": [],
                "opened_at": started_at,
                "due_at": due_at,
                "late_by": lateness(cal, due, at, calendar_days=d.deadline_calendar_days),
                "late_by_days": late_days(cal, due, at, calendar_days=d.deadline_calendar_days),
                "counted_in": "calendar" if d.deadline_calendar_days else "working",
                "timezone": clock.run_zone(cal, d.timezone),
                "waiting_on": [],
            }, due)
    finally:
        candidates.close()
    return offered


def _waiting_on(store: Store, d: _Definition, run_id: str) -> list[dict[str, Any]]:
    """The open steps of a run and who must act on them."""
    return [
        {"step": step_id, "no": d.steps.get(step_id, {}).get("no"), "actor": actor_id,
         "actor_name": d.actors.get(actor_id or ""), "assigned": []}
        for step_id, actor_id in queries.open_steps(store, run_id)
    ]


def _add_assigned(store: Store, rows: list[dict[str, Any]]) -> None:
    """Fill ``assigned`` (the persons assigned to the role in that run)."""
    people = queries.assigned(store, [r["run_id"] for r in rows])
    for r in rows:
        if r["actor"]:
            r["assigned"] = list(people.get((r["run_id"], r["actor"]), []))
        for w in r.get("waiting_on", []):
            w["assigned"] = list(people.get((r["run_id"], w["actor"]), []))
