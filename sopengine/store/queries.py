"""The SQL of the read-only queries: overdue, the report and the inbox.

Each function takes an open :class:`~sopengine.store.core.Store` and answers from an index,
so that its cost follows the work in flight (open tasks, active runs) or the runs asked
about, never the history a database has gathered:

* open tasks are read through the one partial index of the ``state = 'open'`` rows,
  ``tasks_open_due`` (by due time): overdue walks it in due order; the inbox reads it whole
  and sorts what it keeps by opening time — the open tasks are the work in flight, few
  whatever the history, and each further index of them would cost every step two pages;
* a person's steps are their roles' open tasks, each checked against the run's
  assignments through its primary key (``run_id, role, person``): a person's finished
  runs are never read;
* runs past their process deadline come from ``runs_active_due`` (active runs by due time);
* a report's runs come from ``runs_definition_period`` and ``runs_definition_started``,
  their task rows from ``tasks_run``.

Names of people are compared case-folded (``str.casefold``, beyond ASCII): on SQLite the
store registers ``sop_fold`` on its connection for that; PostgreSQL has no casefold, so the
names assigned to open tasks that fold to the one asked for are found first and matched exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sopengine.store.dialect import is_pg

if TYPE_CHECKING:
    from sopengine.store.core import Store

__all__ = [
    "COUNT_OVERDUE_SQL",
    "assigned",
    "calendar_hashes",
    "count_overdue",
    "definition_hashes",
    "definitions_with_runs",
    "inbox_tasks",
    "latest_run",
    "open_steps",
    "overdue_deadline_runs",
    "overdue_deadlines_sql",
    "overdue_steps",
    "overdue_steps_sql",
    "report_runs",
    "report_tasks",
    "snapshot",
]

_CHUNK = 500  # run ids per IN (...) list: SQLite limits the number of parameters

# Answered from the partial index tasks_open_due alone (due_at is its key).
COUNT_OVERDUE_SQL = "SELECT count(*) FROM tasks WHERE state = 'open' AND due_at < ?"

OVERDUE_RUN_COLUMNS = ("id", "definition_hash", "calendar_hash", "period", "started_at", "due_at")
OVERDUE_TASK_COLUMNS = ("run_id", "step_id", "part", "iteration", "actor", "opened_at", "due_at",
                        "definition_hash", "calendar_hash", "period")
_TASK_SELECT = (
    "t.run_id, t.step_id, t.part, t.iteration, t.actor, t.opened_at, t.due_at,"
    " r.definition_hash, r.calendar_hash, r.period"
)


@contextmanager
def snapshot(store: Store) -> Iterator[None]:
    """One read transaction: every row read inside comes from the same moment, never half a change."""
    store.conn.execute("BEGIN")
    try:
        yield
    finally:
        if store.conn.in_transaction:
            store.conn.execute("COMMIT")


def _fold(name: Any) -> Any:
    return name.casefold() if isinstance(name, str) else name


def _with_fold(store: Store) -> None:
    """Let SQL compare names as :meth:`str.casefold` does (``sop_fold(person) = ?``)."""
    store.conn.create_function("sop_fold", 1, _fold, deterministic=True)


def _person_names(store: Store, person: str) -> list[str] | None:
    """Ready the connection to compare names with *person*: on SQLite, ``sop_fold`` (None
    returned); on PostgreSQL, the assigned names that fold to the same text."""
    if not is_pg(store.conn):
        _with_fold(store)
        return None
    wanted = _fold(person)
    # every person clause asks about open tasks: the names assigned to them are few, whatever the history
    found = store.conn.execute(
        "SELECT DISTINCT a.person FROM tasks t JOIN assignments a ON a.run_id = t.run_id AND a.role = t.actor"
        " WHERE t.state = 'open'"
    )
    return [n for (n,) in found if _fold(n) == wanted]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _person_clause(alias: str, names: list[str] | None = None) -> str:
    """``EXISTS``: the task aliased ``alias`` waits for a role the person is assigned to in its run
    (``names``: the assigned names that fold to the person's, on PostgreSQL)."""
    # The primary key (run_id, role, person) finds the run's assignees of that role.
    match = "sop_fold(a.person) = ?" if names is None else "a.person = ANY(?)"
    return (f" AND EXISTS (SELECT 1 FROM assignments a WHERE a.run_id = {alias}.run_id AND a.role = {alias}.actor"
            f" AND {match})")


def _person_arg(person: str, names: list[str] | None) -> Any:
    return _fold(person) if names is None else names


# -- definitions and calendars ----------------------------------------------------------------------


def definition_hashes(store: Store) -> list[str]:
    """Every stored definition text's hash (one per version a run used)."""
    return [h for (h,) in store.conn.execute("SELECT hash FROM definitions")]


def calendar_hashes(store: Store) -> list[str]:
    """Every stored calendar snapshot's hash."""
    return [h for (h,) in store.conn.execute("SELECT hash FROM calendars")]


def definitions_with_runs(store: Store) -> list[str]:
    """The ids of the SOPs that have runs (each stored definition was stored by starting a run)."""
    return [d for (d,) in store.conn.execute("SELECT DISTINCT id FROM definitions ORDER BY 1")]


# -- overdue ----------------------------------------------------------------------------------------


def count_overdue(store: Store, at_text: str) -> int:
    """How many open steps are due before ``at_text`` (one count on an index)."""
    return store.conn.execute(COUNT_OVERDUE_SQL, (at_text,)).fetchone()[0]


def overdue_steps_sql(at_text: str, roles: list[str] | None = None, person: str | None = None,
                      names: list[str] | None = None) -> tuple[str, list[Any]]:
    """The SQL (and parameters) reading open steps due before ``at_text``, oldest due first."""
    sql = f"SELECT {_TASK_SELECT} FROM tasks t JOIN runs r ON r.id = t.run_id WHERE t.state = 'open' AND t.due_at < ?"
    args: list[Any] = [at_text]
    if roles:
        sql += f" AND t.actor IN ({_marks(len(roles))})"
        args.extend(roles)
    if person is not None:
        sql += _person_clause("t", names)
        args.append(_person_arg(person, names))
    # ORDER BY due_at walks the partial index tasks_open_due: no sort, closed tasks never read.
    return sql + " ORDER BY t.due_at, t.id", args


def overdue_steps(store: Store, at_text: str, roles: list[str] | None = None,
                  person: str | None = None) -> Generator[tuple[Any, ...], None, None]:
    """Open steps due before ``at_text``, oldest due first, read as the caller goes
    (columns :data:`OVERDUE_TASK_COLUMNS`); stop early by closing the iterator."""
    names = _person_names(store, person) if person is not None else None
    cur = store.conn.execute(*overdue_steps_sql(at_text, roles, person, names))
    try:
        yield from cur
    finally:
        cur.close()


def overdue_deadlines_sql(at_text: str, definition_ids: list[str], roles: list[str] | None = None,
                          person: str | None = None, names: list[str] | None = None, *, pg: bool = False) -> tuple[str, list[Any]]:
    """The SQL (and parameters) reading active runs of these SOPs past their deadline, oldest first."""
    # runs_active_due holds the active runs by due time: finished runs are never read. The
    # unary + keeps SQLite from reading every run of these SOPs through an index on definition_id.
    sql = (
        f"SELECT {', '.join(OVERDUE_RUN_COLUMNS)} FROM runs WHERE status = 'active' AND due_at < ?"
        f" AND {'' if pg else '+'}definition_id IN ({_marks(len(definition_ids))})"
    )
    args: list[Any] = [at_text, *definition_ids]
    if roles or person is not None:
        # kept when one of its open steps passes the filters
        sql += " AND EXISTS (SELECT 1 FROM tasks t WHERE t.run_id = runs.id AND t.state = 'open'"
        if roles:
            sql += f" AND t.actor IN ({_marks(len(roles))})"
            args.extend(roles)
        if person is not None:
            sql += _person_clause("t", names)
            args.append(_person_arg(person, names))
        sql += ")"
    return sql + " ORDER BY due_at, id", args


def overdue_deadline_runs(store: Store, at_text: str, definition_ids: list[str], roles: list[str] | None = None,
                          person: str | None = None) -> Generator[tuple[Any, ...], None, None]:
    """Active runs of these SOPs past their deadline, oldest due first (columns
    :data:`OVERDUE_RUN_COLUMNS`), read as the caller goes."""
    if not definition_ids:
        return
    names = _person_names(store, person) if person is not None else None
    cur = store.conn.execute(*overdue_deadlines_sql(at_text, definition_ids, roles, person, names, pg=is_pg(store.conn)))
    try:
        yield from cur
    finally:
        cur.close()


def open_steps(store: Store, run_id: str) -> list[tuple[str, str | None]]:
    """``(step_id, actor)`` of a run's open steps, in the order they opened."""
    return store.conn.execute(
        "SELECT step_id, actor FROM tasks WHERE run_id = ? AND state = 'open' ORDER BY id", (run_id,)
    ).fetchall()


def assigned(store: Store, run_ids: list[str]) -> dict[tuple[str, str], list[str]]:
    """``(run_id, role)`` -> the persons assigned to it, for these runs (one query per chunk)."""
    ids = sorted(set(run_ids))
    people: dict[tuple[str, str], list[str]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        for run_id, role, name in store.conn.execute(
            f"SELECT run_id, role, person FROM assignments WHERE run_id IN ({_marks(len(chunk))})"
            " ORDER BY run_id, role, person",
            chunk,
        ):
            people.setdefault((run_id, role), []).append(name)
    return people


# -- the report -------------------------------------------------------------------------------------


def _dicts(cur: Any) -> list[dict[str, Any]]:
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def latest_run(store: Store, definition: str) -> dict[str, Any] | None:
    """The run of ``definition`` started last, or None."""
    # runs_definition_started read backwards: one row read.
    found = _dicts(store.conn.execute(
        "SELECT * FROM runs WHERE definition_id = ? ORDER BY started_at DESC, id DESC LIMIT 1", (definition,)
    ))
    return found[0] if found else None


def report_runs(store: Store, definition: str | None = None, period: str | None = None) -> list[dict[str, Any]]:
    """The runs a report covers, by start time: of one SOP (one period of it), or all of them."""
    if definition and period:
        # Both equalities on runs_definition_period; sorting the few rows found here keeps SQLite
        # from walking every run of the SOP in start order instead.
        rows = _dicts(store.conn.execute("SELECT * FROM runs WHERE definition_id = ? AND period = ?", (definition, period)))
        return sorted(rows, key=lambda r: (r["started_at"], r["id"]))
    if definition:
        return _dicts(store.conn.execute("SELECT * FROM runs WHERE definition_id = ? ORDER BY started_at, id", (definition,)))
    return _dicts(store.conn.execute("SELECT * FROM runs ORDER BY started_at, id"))


REPORT_TASK_COLUMNS = ("run_id", "step_id", "part", "actor", "state", "opened_at", "due_at", "closed_at")


def report_tasks(store: Store, run_ids: list[str], since: str | None = None,
                 until: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Run id -> its done and open task rows (columns :data:`REPORT_TASK_COLUMNS`) in the order
    they opened; only those opened in ``[since, until)`` when given."""
    by_run: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    extra, extra_args = "", []
    if since:
        extra += " AND opened_at >= ?"
        extra_args.append(since)
    if until:
        extra += " AND opened_at < ?"
        extra_args.append(until)
    for start in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[start:start + _CHUNK]
        # run_id leads the index tasks_run: only these runs' tasks are read.
        for row in store.conn.execute(
            f"SELECT {', '.join(REPORT_TASK_COLUMNS)} FROM tasks"
            f" WHERE run_id IN ({_marks(len(chunk))}) AND state IN ('done', 'open'){extra} ORDER BY id",
            (*chunk, *extra_args),
        ):
            by_run[row[0]].append(row)
    return by_run


# -- the inbox --------------------------------------------------------------------------------------


def inbox_sql(person: str | None = None, roles: list[str] | None = None, names: list[str] | None = None,
              *, pg: bool = False) -> tuple[str, list[Any]]:
    """The SQL (and parameters) of the inbox: open tasks of active runs, oldest first."""
    sql = (
        "SELECT t.*, r.definition_id, r.definition_hash, r.calendar_hash, r.period"
        f" FROM tasks t{'' if pg else ' INDEXED BY tasks_open_due'} JOIN runs r ON r.id = t.run_id"
        " WHERE t.state = 'open' AND r.status = 'active'"
    )
    args: list[Any] = []
    if roles is not None:
        sql += f" AND t.actor IN ({_marks(len(roles))})"
        args.extend(roles)
    if person is not None:
        sql += _person_clause("t", names)
        args.append(_person_arg(person, names))
    # the open tasks only (INDEXED BY: a small database's statistics could prefer tasks_run,
    # which holds every task ever opened), sorted by opening time
    return sql + " ORDER BY t.opened_at, t.id", args


def unassigned_role_tasks(store: Store, roles: list[str]) -> list[dict[str, Any]]:
    """Open tasks of active runs for one of ``roles`` in runs that assign that role to nobody
    (whoever holds the role in the people register may act on them), oldest first."""
    if not roles:
        return []
    sql = (
        "SELECT t.*, r.definition_id, r.definition_hash, r.calendar_hash, r.period"
        f" FROM tasks t{'' if is_pg(store.conn) else ' INDEXED BY tasks_open_due'} JOIN runs r ON r.id = t.run_id"
        " WHERE t.state = 'open' AND r.status = 'active'"
        f" AND t.actor IN ({_marks(len(roles))})"
        " AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.run_id = t.run_id AND a.role = t.actor)"
        " ORDER BY t.opened_at, t.id"
    )
    return _dicts(store.conn.execute(sql, roles))


def inbox_tasks(store: Store, person: str | None = None, roles: list[str] | None = None) -> list[dict[str, Any]]:
    """Open tasks of active runs waiting for ``person`` (through the roles assigned to them in
    each run) and/or for one of ``roles``, oldest first, each with its run's definition, hash,
    calendar and period."""
    if roles is not None and not roles:
        return []
    names = _person_names(store, person) if person is not None else None
    return _dicts(store.conn.execute(*inbox_sql(person, roles, names, pg=is_pg(store.conn))))
