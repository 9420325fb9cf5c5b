"""The tables that hold the state (runs, tasks, assignments), rebuilt from the events and compared.

The events are the record; the tables are what the engine reads to move a run on. A done
task row is one step_completed or decided event by a person; cancelled and joined rows are
closed by reopened, run_cancelled and joined events; assignments are replayed from
run_started, assigned and unassigned; a runs row repeats what its run_started event records.
These checks are shared with the packs, which make the same rebuild from a pack's events.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sopengine.audit.canonical import _ENCODE
from sopengine.audit.findings import _joined, _problem, _text
from sopengine.i18n import N_
from sopengine.store import audit as store_audit

_ENGINE = "sopengine"
"""The person of what the engine records by itself (``sopengine.runs.ENGINE``; not imported:
that module brings the state machine library with it)."""

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
        given = p.get("assignments")
        if given:
            current = assigned.setdefault(run_id, {})
            for a in given if isinstance(given, list) else []:
                if type(a) is dict and type(role := a.get("role")) is str and type(who := a.get("person")) is str:
                    current[(role, who)] = (0, at, person)
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


class RunEvents:
    """What one run's events say about its tables, gathered by the pass and then compared.

    ``first`` is ``(seq, kind, at, person, run fields)`` of its first event, ``last``
    ``(hash, seq, kind, at)`` of its last, ``n`` how many it has, ``closes`` the sum and count
    of the closing keys of the done tasks its events imply, ``closings`` its reopened, joined
    and run_cancelled events, ``assigned`` the assignments its events leave.
    """

    __slots__ = ("assigned", "closes", "closings", "first", "last", "n")

    def __init__(self, first: tuple[Any, ...], last: tuple[Any, ...], n: int, closes: tuple[int, int],
                 closings: list[tuple[Any, ...]], assigned: dict[tuple[str, str], tuple[int, str, str]]) -> None:
        self.first, self.last, self.n, self.closes, self.closings, self.assigned = first, last, n, closes, closings, assigned


def run_table_problems(conn: sqlite3.Connection, run_id: Any, events: RunEvents | None, run: tuple[Any, ...] | None,
                       tasks: list[tuple[Any, ...]], assignments: list[tuple[Any, ...]],
                       keeps_head: bool = False) -> list[dict[str, Any]]:
    """One run's rows (runs, tasks, assignments) against what its events record.

    *run* is its runs row (columns ``store_audit.RUN_COLUMNS``, then the chain head it keeps,
    compared when *keeps_head*) or None, *tasks* its task rows
    (``store_audit.TASK_COLUMNS``), *assignments* its assignment rows (each run id first);
    *events* is None for a run id that has rows but no events.

    A done task row is one step_completed or decided event by a person: same run, step,
    time, person, outcome, visit, role, lane, note and principal. A cancelled row is closed
    by a reopened event (which lists the steps it closed) or by run_cancelled; a joined row
    by a joined event. Assignments are replayed from run_started, assigned and unassigned.
    """
    problems = _run_row_problems(run_id, events, run)
    if keeps_head and run is not None and events is not None and run[-1] != events.last[0]:
        problems.append(_problem(
            "state", _text(N_("run {run} keeps {head} as its chain's head in the runs table, but its last event {seq}"
                              " hashes to {last}: the run's row was edited, or its events were"),
                           run=run_id, head=str(run[-1])[:16], seq=events.last[1], last=str(events.last[0])[:16]),
            seq=events.last[1], run_id=run_id,
        ))
    status = run[1] if run is not None else None
    total, count = 0, 0
    others = []
    for _run, task_id, step_id, part, iteration, actor, state, closed_at, closed_by, outcome, note, behalf in tasks:
        if state == "done":
            # _task_closing, written out for the common row: this runs once per task
            if part == 0 and type(part) is int:
                key = (step_id, closed_at, closed_by, outcome, iteration, actor, None, note or None, behalf or None)
            else:
                key = _task_closing(step_id, closed_at, closed_by, outcome, iteration, actor, part, note, behalf)
            try:
                total += hash(key)
            except TypeError:
                total += _key_hash(key)
            count += 1
        elif state in ("cancelled", "joined"):
            others.append((task_id, step_id, state, closed_at, closed_by))
        elif state in ("open", "waiting"):
            if run is not None and status != "active":
                problems.append(_problem(
                    "state", _text(N_("step {step} (task {task}) of run {run} is still open although the run is {status}"),
                                   step=step_id, task=task_id, run=run_id, status=status),
                    seq=events.last[1] if events is not None else None, run_id=run_id,
                ))
        else:
            problems.append(_problem(
                "tasks", _text(N_("task {task} (step {step}) of run {run} has an unknown state {state!r}: the tasks table"
                                  " was edited"), task=task_id, step=step_id, run=run_id, state=state),
                run_id=run_id,
            ))
    closes = events.closes if events is not None else (0, 0)
    if closes != (total, count):
        problems.extend(_done_task_problems(conn, run_id))
    closings = events.closings if events is not None else []
    if closings or others:
        problems.extend(_closed_task_problems(run_id, closings, others))
    replayed = events.assigned if events is not None else {}
    if replayed or assignments:
        held = {(role, person): (acting, assigned_at, assigned_by)
                for _run, role, person, acting, assigned_at, assigned_by in assignments}
        problems.extend(_compare_assignments({run_id: held} if held else {}, {run_id: replayed}))
    return problems


def _done_task_problems(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    """One run's done task rows against its closing events, row by row, naming what differs."""
    expected = []
    for seq, kind, step_id, at, person, payload in store_audit.closing_event_rows(conn, run_id, _ENGINE):
        try:
            p = json.loads(payload)
        except (TypeError, ValueError):
            p = None
        if isinstance(p, dict):
            expected.append((seq, kind, _event_closing(step_id, at, person, p)))
    rows = [(r[0], _task_closing(*r[1:])) for r in store_audit.done_task_rows(conn, run_id)]
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
        "case_data": "{}" if case is None or case == {} else _ENCODE(case), "due_at": payload.get("due_at"),
    }


def _run_differences(row: dict[str, Any], at: Any, person: Any,
                     fields: dict[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
    """The columns of a runs row that differ from its run_started event, and what the event records."""
    if fields is None:  # the payload cannot be read: every column is unconfirmed
        return list(_RUN_FIELDS), {}
    recorded = dict(fields, started_at=at, started_by=person)
    return [name for name in _RUN_FIELDS if row[name] != recorded[name]], recorded


def _run_row_problems(run_id: Any, events: RunEvents | None, run: tuple[Any, ...] | None) -> list[dict[str, Any]]:
    """One runs row against its first and last events; a run without events, or events without a run."""
    if run is None:
        if events is None:
            return []
        first_seq = events.first[0]
        return [_problem(
            "forged", _text(N_("event {seq} belongs to run {run}, which is not in the runs table: forged rows or a"
                               " deleted run"), seq=first_seq, run=run_id),
            seq=first_seq, run_id=run_id,
        )]
    if events is None:
        return [_problem("deleted", _text(N_("run {run} has no events: its history was deleted"), run=run_id), run_id=run_id)]
    problems = []
    row = dict(zip(store_audit.RUN_COLUMNS, run))
    status, version, finished_at = row["status"], row["version"], row["finished_at"]
    _last_hash, last_seq, last_kind, last_at = events.last
    n = events.n
    first_seq, first_kind, first_at, first_person, first_fields = events.first
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
    return problems
