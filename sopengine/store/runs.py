"""The SQL of runs: the step path's read and write, and what the run operations and status ask.

A change to a run (a step completed, a decision taken, an assignment, a cancel) is one
``BEGIN IMMEDIATE`` transaction holding, for a plain step, five statements between ``BEGIN``
and ``COMMIT``:

1. :func:`load_for_change` — the run row, its open and waiting tasks and its assignments, in
   one ``SELECT``;
2. :func:`write_changes` — ``UPDATE runs`` (version check and bump, status, the run's chain
   head), then one ``UPDATE tasks`` per task closed, one ``INSERT INTO tasks`` per task opened
   (its visit number computed by the insert itself) and one ``INSERT INTO events`` for all
   the events of the change.

Each run keeps the hash of its last event on its row (``runs.head``), so appending an event
needs no search of the events; ``audit verify`` still computes every head from the events.
Every function takes the connection and runs inside the caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sopengine.chain import GENESIS, canonical, event_digest
from sopengine.errors import ConcurrentChange
from sopengine.i18n import _
from sopengine.store.dialect import is_pg

if TYPE_CHECKING:
    from sopengine.store.core import Changes

ASSIGNMENT_COLUMNS = ("role", "person", "acting", "assigned_at", "assigned_by")
"""The columns of an assignment as the run operations read it."""

_SPLIT = "_tasks_follow"


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction: every row read comes from the same moment, never half a change."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


# -- the step path ------------------------------------------------------------------------------------

def load_for_change(conn: sqlite3.Connection, run_id: str, *, register: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The run, its open and waiting tasks (by id) and its assignments (by role, person), in one statement.

    None when there is no such run. The run's ``head`` is the hash of its last event; its
    ``_register`` says whether the database's people register has anyone in it (which
    decides how the acting person is known, :mod:`sopengine.authority`); *register* False
    leaves it out (a reader of a database not yet migrated, which has no register).
    """
    pairs = ", ".join(f"'{c}', a.{c}" for c in ASSIGNMENT_COLUMNS)
    array = f"json_agg(json_build_object({pairs}))::text" if is_pg(conn) else f"json_group_array(json_object({pairs}))"
    cur = conn.execute(
        f"SELECT r.*, (SELECT {array} FROM assignments AS a WHERE a.run_id = r.id) AS _assignments,"
        + (" EXISTS (SELECT 1 FROM people)" if register else " 0") + f" AS _register, NULL AS {_SPLIT}, t.*"
        " FROM runs AS r LEFT JOIN tasks AS t ON t.run_id = r.id AND t.state IN ('open', 'waiting')"
        " WHERE r.id = ?",
        (run_id,),
    )
    rows = cur.fetchall()
    if not rows:
        return None
    cols = [c[0] for c in cur.description]
    split = cols.index(_SPLIT)
    run = dict(zip(cols[:split], rows[0][:split]))
    run["case_data"] = json.loads(run["case_data"])
    run["_register"] = bool(run["_register"])
    assignments = sorted(json.loads(run.pop("_assignments") or "[]"), key=lambda a: (a["role"], a["person"]))
    task_cols = cols[split + 1:]
    tasks = [dict(zip(task_cols, row[split + 1:])) for row in rows if row[split + 1] is not None]
    if len(tasks) > 1:  # in the order they were opened: sorted here, which costs less than SQLite's sort
        tasks.sort(key=lambda t: t["id"])
    return run, tasks, assignments


def write_changes(conn: sqlite3.Connection, ch: Changes) -> None:
    """Write one command's changes to a run, inside the caller's write transaction.

    The run's ``version`` must still be ``ch.expected_version`` (a writer that read the run
    outside this transaction finds it moved: :class:`ConcurrentChange`); each task closed must
    still be open or waiting. Events are chained from ``ch.head``, the run's head as read in
    this transaction (read here when not given), and the new head is kept on the run row.
    """
    prev = ch.head
    if prev is None:
        row = conn.execute("SELECT head FROM runs WHERE id = ?", (ch.run_id,)).fetchone()
        prev = (row[0] if row else None) or GENESIS
    events = []
    for e in ch.events:
        payload = canonical(e.payload)  # written once: stored as it is, and hashed as it is
        digest = event_digest(ch.run_id, e.at, ch.recorded_at, e.person, e.os_user, e.kind, e.step_id, payload, prev)
        events.append((ch.run_id, e.at, ch.recorded_at, e.person, e.os_user, e.kind, e.step_id, payload, prev, digest))
        prev = digest
    # The version check makes a writer that read the run before taking the lock safe. The status
    # is set only when it changes: an index that holds it (the active runs', by period) is then
    # rewritten, which would double the cost of this statement on every step.
    if ch.status is None and ch.finished_at is None and not ch.reactivate:
        cur = conn.execute("UPDATE runs SET version = version + 1, head = ? WHERE id = ? AND version = ?",
                           (prev, ch.run_id, ch.expected_version))
    else:
        cur = conn.execute(
            "UPDATE runs SET version = version + 1, head = ?, status = COALESCE(?, status),"
            " finished_at = CASE WHEN ? = 1 THEN NULL ELSE COALESCE(?, finished_at) END"
            " WHERE id = ? AND version = ?",
            (prev, ch.status, int(ch.reactivate), ch.finished_at, ch.run_id, ch.expected_version),
        )
    if cur.rowcount != 1:
        raise ConcurrentChange(
            _("run {run} was changed by another command meanwhile; look at 'sopengine status {run}' and try again").format(
                run=ch.run_id),
            run_id=ch.run_id,
        )
    for c in ch.close:
        cur = conn.execute(
            "UPDATE tasks SET state = ?, closed_at = ?, closed_by = ?, outcome = ?, note = ?, on_behalf_of = ?"
            " WHERE id = ? AND state IN ('open', 'waiting')",
            (c.state, c.closed_at, c.closed_by, c.outcome, c.note, c.on_behalf_of, c.task_id),
        )
        if cur.rowcount != 1:
            raise ConcurrentChange(
                _("task {task} of run {run} was closed meanwhile; try again").format(task=c.task_id, run=ch.run_id), run_id=ch.run_id
            )
    for t in ch.open:
        if t.iteration is not None:
            conn.execute(
                "INSERT INTO tasks (run_id, step_id, part, iteration, actor, state, opened_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ch.run_id, t.step_id, t.part, t.iteration, t.actor, t.state, t.opened_at, t.due_at),
            )
            continue
        # The visit number: one more than the step's last visit. A waiting row at a join is the
        # same visit as the task the join opens later (its 'joined' row is not counted).
        conn.execute(
            "INSERT INTO tasks (run_id, step_id, part, iteration, actor, state, opened_at, due_at)"
            " SELECT ?, ?, ?, COALESCE(MAX(iteration), 0) + 1, ?, ?, ?, ? FROM tasks"
            " WHERE run_id = ? AND step_id = ? AND part = ? AND state NOT IN ('waiting', 'joined')",
            (ch.run_id, t.step_id, t.part, t.actor, t.state, t.opened_at, t.due_at, ch.run_id, t.step_id, t.part),
        )
    for d in ch.documents:
        conn.execute(
            "INSERT INTO documents (run_id, task_id, step_id, name, kind, path, sha256, size, recorded_at, recorded_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ch.run_id, d.get("task_id"), d["step_id"], d["name"], d.get("kind", "output"), d["path"], d["sha256"],
             d["size"], ch.recorded_at, d["recorded_by"]),
        )
    for role, person, acting, by, at in ch.assign:
        conn.execute(
            "INSERT INTO assignments (run_id, role, person, acting, assigned_at, assigned_by) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (run_id, role, person) DO UPDATE SET acting = excluded.acting",
            (ch.run_id, role, person, int(acting), at, by),
        )
    for role, person in ch.unassign:
        conn.execute("DELETE FROM assignments WHERE run_id = ? AND role = ? AND person = ?", (ch.run_id, role, person))
    if events:
        conn.execute(
            "INSERT INTO events (run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev_hash, hash) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(events)),
            [value for event in events for value in event],
        )


# -- what the run operations ask when a message or a rare step needs it --------------------------------

def run_exists(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None


def started_table(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The table a format-2 run follows, as its ``run_started`` event records it."""
    row = conn.execute("SELECT payload FROM events WHERE run_id = ? AND kind = 'run_started' ORDER BY seq LIMIT 1", (run_id,)).fetchone()
    return json.loads(row[0]).get("table") if row else None


def last_done(conn: sqlite3.Connection, run_id: str, step_id: str) -> tuple[str, str] | None:
    """Who last completed *step_id* in the run, and when: ``(closed_by, closed_at)``."""
    row = conn.execute(
        "SELECT closed_by, closed_at FROM tasks WHERE run_id = ? AND step_id = ? AND state = 'done' ORDER BY id DESC LIMIT 1",
        (run_id, step_id),
    ).fetchone()
    return (row[0], row[1]) if row else None


def task_closure(conn: sqlite3.Connection, task_id: int) -> tuple[str | None, str | None, str] | None:
    """``(closed_by, closed_at, state)`` of one task."""
    row = conn.execute("SELECT closed_by, closed_at, state FROM tasks WHERE id = ?", (task_id,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def visited(conn: sqlite3.Connection, run_id: str, step_id: str) -> bool:
    """Has the run reached *step_id* (a task of it, or an automatic decision taken there)?"""
    row = conn.execute(
        "SELECT 1 FROM tasks WHERE run_id = ? AND step_id = ? AND state != 'waiting'"
        " UNION ALL SELECT 1 FROM events WHERE run_id = ? AND step_id = ? AND kind = 'decided' LIMIT 1",
        (run_id, step_id, run_id, step_id),
    ).fetchone()
    return row is not None


# -- what status reads ------------------------------------------------------------------------------

def timeline_events(conn: sqlite3.Connection, run_id: str) -> list[tuple[str, str | None, str, str, str]]:
    """``(at, step_id, person, kind, payload)`` of every event of a run, in order."""
    return conn.execute(
        "SELECT at, step_id, person, kind, payload FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
    ).fetchall()


def recorded_events(conn: sqlite3.Connection, run_id: str) -> list[tuple[str, str]]:
    """``(kind, payload)`` of a run's events that say what its tasks do not: its start, the case
    state its rows set, how it ended."""
    return conn.execute(
        "SELECT kind, payload FROM events WHERE run_id = ? AND (kind = 'run_started' OR payload LIKE '%\"state\"%'"
        " OR payload LIKE '%\"ended_by\"%') ORDER BY seq", (run_id,),
    ).fetchall()
