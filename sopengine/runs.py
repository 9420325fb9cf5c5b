"""Runs: start one, carry it forward, correct it, read it.

Each operation is one write transaction: it takes the database's write lock
(``BEGIN IMMEDIATE``), reads the run with its open tasks and assignments, asks the
definition's :class:`Workflow` where its tokens go, collects every resulting change (tasks
closed and opened, documents, assignments, hash-chained events) into one
:class:`~sopengine.store.Changes`, writes it and commits. Every SQL statement is the
store's (:mod:`sopengine.store.runs`). Nothing on the step path imports pydantic,
sqlite-utils or rich: a run keeps its compiled definition and its calendar snapshot in the
database.

Every operation takes ``db`` as a path (opened and closed by the call) or as an open
:class:`~sopengine.store.Store`, which a long-lived caller keeps for many operations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.engine import END, Workflow, decide_trigger, missing_facts, split_state, state_name, workflow
from sopengine.errors import (
    ConcurrentChange,
    DuplicateRun,
    InputError,
    RunClosed,
    RunError,
    RunNotFound,
    StepNotOpen,
    UnknownOutcome,
)
from sopengine.i18n import _
from sopengine import authority, channel, documents, identity
from sopengine.store import Changes, CloseTask, Event, NewTask, Store
from sopengine.store import runs as run_sql
from sopengine.store import use as use_store

from sopengine.authority import ENGINE  # noqa: F401  (the engine's own name in events; kept importable here)

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: ids are read aloud and typed


def new_run_id() -> str:
    """A short id people can read aloud: ``k7m-x3q``."""
    import secrets  # here, not at the top: a step needs no new id

    pick = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    return f"{pick[:3]}-{pick[3:]}"


# -- the advancing of tokens ----------------------------------------------------------------------

class _Live:
    """A task as the operation sees it: open, or waiting at a join."""

    __slots__ = ("step_id", "part", "state", "task_id", "arrivals")

    def __init__(self, step_id: str, part: int, state: str, task_id: int | None = None) -> None:
        self.step_id = step_id
        self.part = part
        self.state = state
        self.task_id = task_id
        self.arrivals = 1  # branches that have reached a waiting join


class _Advance:
    """Collects what happens when tokens move, for one operation on one run.

    ``at`` is the operation's time and ``at_text`` the same as stored; ``facts`` (what the
    run's automatic decisions read) are worked out when a token first reaches one.
    """

    __slots__ = ("run", "compiled", "wf", "cal", "_facts", "at", "at_text", "person", "os_user", "changes", "live",
                 "opened", "row_due", "ended_by", "stopped")

    def __init__(self, run: dict[str, Any], compiled: dict[str, Any], wf: Workflow, cal: Any, at: datetime, person: str,
                 os_user: str, changes: Changes, live: list[_Live], *, at_text: str | None = None) -> None:
        self.run = run
        self.compiled = compiled
        self.wf = wf
        self.cal = cal
        self._facts: dict[str, Any] | None = None
        self.at = at
        self.at_text = at_text if at_text is not None else clock.iso(at) or ""
        self.person = person
        self.os_user = os_user
        self.changes = changes
        self.live = live
        self.opened: list[str] = []
        # Format 2: a row's symbols share one due time. A row entered from another row starts its
        # clock; a move inside the row (a chain of approvals, a return to the diamond before)
        # keeps the due time already given.
        self.row_due: dict[str, str | None] = {}
        self.ended_by: dict[str, Any] | None = None  # an exit the paper does not draw that ended a branch
        # Automatic decisions that stopped for a person: the facts each reads that the run lacks.
        self.stopped: dict[str, list[str]] = {}

    @property
    def facts(self) -> dict[str, Any]:
        if self._facts is None:
            self._facts = run_facts(self.run)
        return self._facts

    def enter(self, state: str) -> None:
        """A token arrives at *state*."""
        if state == END:
            return
        step_id, part = split_state(state)
        step = self.compiled["steps"][step_id]
        if part == 0 and step["kind"] == "decision" and step["automatic"]:
            missing = missing_facts(step["outcomes"], self.facts)
            if missing:
                # A missing fact never falls to an outcome: a person decides, and the event
                # that brought the run here says which facts were missing.
                self.stopped[step_id] = missing
                if self.changes.events:
                    self.changes.events[-1].payload.setdefault("missing_facts", {})[step_id] = missing
                self._open(step_id, part, "open")
                return
            try:
                token = self.wf.fire(state, "auto", self.facts)
            except ValueError:
                used = {k: self.facts.get(k) for o in step["outcomes"] if isinstance(o["when"], dict) for k in o["when"]}
                raise RunError(
                    _("no outcome of the automatic decision {step} holds for run {run} ({facts}); nothing was recorded —"
                      " the definition needs an 'otherwise' outcome there").format(
                        step=step_id, run=self.run["id"],
                        facts=", ".join(f"{k} = {v}" for k, v in used.items()) or _("no facts")),
                    run_id=self.run["id"], step=step_id,
                ) from None
            dest = token.moves[-1][2]
            outcome = next(o for o in step["outcomes"] if o["next"] == dest and _holds(o, self.facts))
            used = {k: self.facts.get(k) for o in step["outcomes"] if isinstance(o["when"], dict) for k in o["when"]}
            payload = {"outcome": outcome["name"], "automatic": True, "facts": used, "triggered_by": self.person, "next": dest}
            if token.spawned:
                payload["forks"] = list(token.spawned)
            if outcome.get("drawn") is False:
                payload["undrawn"] = True
            self.changes.events.append(Event(
                kind="decided", at=self.at_text, person=ENGINE, os_user=self.os_user, step_id=step_id,
                payload=payload,
            ))
            for target in [dest, *token.spawned]:
                self.enter(target)
            return
        if part == 0 and step["join"]:
            # Every arrival waits; finish() opens the join once no branch can still reach it.
            waiting = next((t for t in self.live if t.state == "waiting" and t.step_id == step_id), None)
            if waiting is None:
                self._open(step_id, part, "waiting")
            else:
                waiting.arrivals += 1
            return
        self._open(step_id, part, "open")

    def _release(self, join: _Live) -> None:
        """Open a join whose branches have all arrived (or can no longer arrive)."""
        if join.task_id is not None:
            self.changes.close.append(CloseTask(join.task_id, "joined", self.at_text, ENGINE))
        else:  # its waiting row was made in this same operation: open the task instead
            self.changes.open = [n for n in self.changes.open if not (n.step_id == join.step_id and n.state == "waiting")]
        self.live.remove(join)
        if join.task_id is not None or join.arrivals > 1:
            self.changes.events.append(Event(
                kind="joined", at=self.at_text, person=ENGINE, os_user=self.os_user, step_id=join.step_id,
                payload={"triggered_by": self.person},
            ))
        self._open(join.step_id, 0, "open")

    def _open(self, step_id: str, part: int, state: str) -> None:
        step = self.compiled["steps"][step_id]
        due = None
        row = step.get("row") if step.get("row_timed") else None
        if state == "open" and row is not None and row in self.row_due:
            due = self.row_due[row]
        elif state == "open" and step["duration"] and self.cal is not None:
            moment = self.cal.due(self.at, step["duration"])
            due = clock.iso(moment)
            if self.cal.beyond(moment) and self.changes.events:
                # Past the calendar's years holidays are not counted: the event that opened the
                # step says so, as status does beside the due time.
                self.changes.events[-1].payload["beyond_calendar"] = True
        if state == "open" and row is not None:
            self.row_due[row] = due
        lanes = step["lanes"] or [None]
        # The visit number is the store's to give (one more than the step's last visit), so
        # the run's earlier visits need not be read.
        self.changes.open.append(NewTask(step_id, part, None, lanes[part], state, self.at_text, due))
        self.live.append(_Live(step_id, part, state))
        if state == "open":
            self.opened.append(state_name(step_id, part))

    def finish(self) -> None:
        """Open the joins no branch can reach any more; mark the run completed when no branch is left."""
        reach = self.compiled["reach"]

        def blocked(join: _Live, states: tuple[str, ...]) -> bool:
            return any(
                t is not join and t.state in states and (t.step_id == join.step_id or join.step_id in reach.get(t.step_id, []))
                for t in self.live
            )

        while True:
            waiting = [w for w in self.live if w.state == "waiting"]
            # A join waits for open branches and for joins upstream of it; should joins only wait
            # for each other (a loop through two joins), the one no open branch can reach goes first.
            ready = next((w for w in waiting if not blocked(w, ("open", "waiting"))), None) or next(
                (w for w in waiting if not blocked(w, ("open",))), None
            )
            if ready is None:
                break
            self._release(ready)
        if not any(t.state in ("open", "waiting") for t in self.live):
            self.changes.status = "completed"
            self.changes.finished_at = self.at_text
            self.changes.events.append(Event(
                kind="run_completed", at=self.at_text, person=self.person, os_user=self.os_user,
                payload={"ended_by": self.ended_by} if self.ended_by else {},
            ))


def _holds(outcome: dict[str, Any], facts: dict[str, Any]) -> bool:
    from sopengine.engine import matches

    return matches(outcome["when"], facts)


def run_facts(run: dict[str, Any]) -> dict[str, Any]:
    """The facts a run's automatic decisions read: its period's (``period.*``) and its case data's (``case.*``)."""
    from sopengine.period import facts as period_facts

    facts = period_facts(run.get("period"))
    for key, value in (run.get("case_data") or {}).items():
        facts[f"case.{key}"] = value
    return facts


# -- loading a run for an operation -----------------------------------------------------------------

class _Loaded:
    """A run read for a change, under the write lock: its row, open tasks and assignments, its
    compiled definition and workflow, who acts, and the operation's time (``at``, and
    ``at_text`` as stored) and real time (``recorded_at``)."""

    __slots__ = ("store", "run", "compiled", "wf", "tasks", "person", "os_user", "at", "at_text", "recorded_at",
                 "_assignments")

    def __init__(self, store: Store, run: dict[str, Any], compiled: dict[str, Any], wf: Workflow, tasks: list[dict[str, Any]],
                 person: str, os_user: str, at: datetime, recorded_at: str,
                 assignments: list[dict[str, Any]] | None = None) -> None:
        self.store = store
        self.run = run
        self.compiled = compiled
        self.wf = wf
        self.tasks = tasks
        self.person = person
        self.os_user = os_user
        self.at = at
        self.at_text = clock.iso(at) or ""
        self.recorded_at = recorded_at
        self._assignments = assignments

    def assignments(self) -> list[dict[str, Any]]:
        """The run's assignments (role, person, acting, ...), as read with the run."""
        if self._assignments is None:
            self._assignments = self.store.assignments(self.run["id"])
        return self._assignments

    def local(self, when: str | datetime | None) -> str:
        """A time as people read it, in the run's own zone."""
        return _local(self.store, self.run, self.compiled, when)

    def advance(self) -> _Advance:
        live = [_Live(t["step_id"], t["part"], t["state"], t["id"]) for t in self.tasks]
        changes = Changes(self.run["id"], self.run["version"], self.recorded_at, head=self.run.get("head"))
        return _Advance(self.run, self.compiled, self.wf, self.store.work_calendar(self.run["calendar_hash"]),
                        self.at, self.person, self.os_user, changes, live, at_text=self.at_text)


@contextmanager
def _operation(
    db: str | Path | Store, run_id: str, by: str | None, now: datetime | str | None, *, allow_closed: bool = False,
    on_behalf: bool = True,
) -> Iterator[_Loaded]:
    """One change to a run, in one write transaction from its first read to its last write.

    ``BEGIN IMMEDIATE`` takes the database's write lock before the run is read, so the run,
    its open tasks and its assignments cannot change under the operation: a command that
    loses a race waits for the winner and then finds the step closed, and says who closed it
    and when. Everything the operation writes commits with it, or nothing does.
    """
    authority.checked_person(by)
    store, owned = use_store(db)
    try:
        with store.transaction(run=run_id):
            yield _read(store, run_id, by, now, allow_closed, on_behalf)
    finally:
        if owned:
            store.close()


def not_found(store: Store, run_id: str) -> RunNotFound:
    """The refusal of an operation on a run the database does not hold."""
    return RunNotFound(
        _("no run {run!r} in {path}; 'sopengine status' lists the runs").format(run=run_id, path=store.path), run_id=run_id
    )


def _closed(store: Store, run: dict[str, Any]) -> RunClosed:
    when = clock.local(run["finished_at"], clock.run_zone(store.work_calendar(run["calendar_hash"])))
    if run["status"] == "completed":
        message = _("run {run} is completed (since {when}); nothing can be changed — start a new run,"
                    " or 'sopengine reopen' a completed one")
    elif run["status"] == "cancelled":
        message = _("run {run} is cancelled (since {when}); nothing can be changed — start a new run,"
                    " or 'sopengine reopen' a completed one")
    else:
        message = _("run {run} is {status} (since {when}); nothing can be changed — start a new run,"
                    " or 'sopengine reopen' a completed one")
    return RunClosed(message.format(run=run["id"], status=run["status"], when=when), run_id=run["id"])


def _read(
    store: Store, run_id: str, by: str | None, now: datetime | str | None, allow_closed: bool, on_behalf: bool = True,
) -> _Loaded:
    found = run_sql.load_for_change(store.conn, run_id)
    if found is None:
        raise not_found(store, run_id)
    run, tasks, assignments = found
    if run["status"] != "active" and not allow_closed:
        raise _closed(store, run)
    compiled = store.compiled(run["definition_hash"])
    tz = clock.run_zone(store.work_calendar(run["calendar_hash"]), compiled.get("timezone"))
    if run.pop("_register") or channel.current() is not None:
        # an admin's --by records the change on behalf of that person only where the event
        # has room for it (completing and deciding a step)
        person, login = authority.identify(store, by, on_behalf=on_behalf)
    else:
        # No people register (the run's read says so, in the same statement): the person is
        # the name given, beside the process's OS login — what authority.identify says then,
        # without asking the database again.
        person, login = identity.person(by), identity.os_user()
    return _Loaded(
        store, run, compiled, workflow(compiled), tasks,
        person, login, clock.coerce(now, tz), clock.iso(clock.real_now()) or "", assignments,
    )


def _describe_step(compiled: dict[str, Any], step_id: str) -> str:
    step = compiled["steps"][step_id]
    return _("{step} (no. {no})").format(step=step_id, no=step["no"]) if step.get("no") else step_id


def _local(store: Store, run: dict[str, Any], compiled: dict[str, Any], when: str | datetime | None) -> str:
    """A time as people read it, in the run's own zone."""
    return clock.local(when, clock.run_zone(store.work_calendar(run["calendar_hash"]), compiled.get("timezone")))


def run_table(store: Store, run: dict[str, Any], compiled: dict[str, Any]) -> str | None:
    """The table a run follows (format 2): recorded when it started; None for format 1."""
    tables = compiled.get("table_order")
    if not tables:
        return None
    if len(tables) == 1:
        return tables[0]
    return run_sql.started_table(store.conn, run["id"])


def _row_symbols(compiled: dict[str, Any], key: str, table: str | None) -> list[str]:
    """Format 2: the steps of the row printed *key* in *table*, in the order drawn."""
    key = str(key).strip()
    return [sid for sid in compiled["order"]
            if compiled["steps"][sid].get("no") == key and (table is None or compiled["steps"][sid].get("table") == table)]


def _find_step(compiled: dict[str, Any], key: str, table: str | None = None) -> str:
    if key in compiled["steps"]:
        return key
    steps = compiled["steps"]
    if compiled.get("format") == 2:
        row = _row_symbols(compiled, key, table)
        if row:
            return row[0]  # a row is entered at its first symbol
        # a row number of another table is no step of this run: list the run's own
        mine = [sid for sid in compiled["order"] if table is None or steps[sid].get("table") == table]
        known = ", ".join(f"{steps[sid]['no']}={sid}" if steps[sid].get("no") else sid for sid in mine)
        if table is not None and len(compiled["table_order"]) > 1:
            raise StepNotOpen(_("table {table} of the SOP has no step {key!r}; its steps are: {known}").format(
                table=table, key=key, known=known), step=key)
        raise StepNotOpen(_("the SOP has no step {key!r}; steps are: {known}").format(key=key, known=known), step=key)
    for sid, step in steps.items():
        if step.get("no") is not None and str(step["no"]) == str(key).strip():
            return sid
    # in the SOP's row order: the stored compiled form keeps its dicts with sorted keys
    known = ", ".join(f"{steps[sid]['no']}={sid}" if steps[sid].get("no") else sid for sid in compiled["order"])
    raise StepNotOpen(_("the SOP has no step {key!r}; steps are: {known}").format(key=key, known=known), step=key)


def _pick_task(loaded: _Loaded, step: str | None, verb: str) -> dict[str, Any]:
    return _task_named(loaded.store, loaded.run, loaded.compiled, loaded.tasks, step)


def _task_named(store: Store, run: dict[str, Any], compiled: dict[str, Any], tasks: list[dict[str, Any]],
                step: str | None) -> dict[str, Any]:
    """The open task *step* names among the run's *tasks* (the only open one when None), or
    :class:`StepNotOpen` saying what is open and who last completed the step."""
    open_tasks = [t for t in tasks if t["state"] == "open"]
    run_id = run["id"]

    def open_list() -> str:  # only when a message needs it: the step path names nothing
        return ", ".join(_describe_step(compiled, t["step_id"]) for t in open_tasks) or _("none")

    if step is not None and compiled.get("format") == 2 and step not in compiled["steps"]:
        row = [t for t in open_tasks if compiled["steps"][t["step_id"]].get("no") == str(step).strip()]
        if len(row) == 1:
            return row[0]
        if len(row) > 1:
            names = ", ".join(_describe_step(compiled, t["step_id"]) for t in row)
            raise StepNotOpen(
                _("row {row} of run {run} has {n} open steps ({names}); say which with --step SYMBOL").format(
                    row=step, run=run_id, n=len(row), names=names),
                run_id=run_id, step=str(step),
            )
    if step is not None:
        step_id = _find_step(compiled, step, run_table(store, run, compiled))
        matching = [t for t in open_tasks if t["step_id"] == step_id]
        if not matching:
            last = run_sql.last_done(store.conn, run_id, step_id)
            waiting = [t for t in tasks if t["state"] == "waiting" and t["step_id"] == step_id]
            if waiting:
                message = _("step {step} of run {run} is not open (it waits for the other branches to arrive); open: {open}")
            elif last:
                message = _("step {step} of run {run} is not open (last completed by {person} at {when}); open: {open}")
            else:
                message = _("step {step} of run {run} is not open; open: {open}")
            raise StepNotOpen(
                message.format(step=_describe_step(compiled, step_id), run=run_id, open=open_list(),
                               person=last[0] if last else None, when=_local(store, run, compiled, last[1]) if last else None),
                run_id=run_id, step=step_id,
            )
        return matching[0]
    if len(open_tasks) == 1:
        return open_tasks[0]
    if not open_tasks:
        raise StepNotOpen(_("run {run} has no open step").format(run=run_id), run_id=run_id)
    raise StepNotOpen(
        _("run {run} has several open steps ({open}); say which with --step").format(run=run_id, open=open_list()), run_id=run_id
    )


def step_key(compiled: dict[str, Any], open_tasks: list[dict[str, Any]], task: dict[str, Any]) -> str:
    """What ``--step`` takes to name *task* among the run's open tasks: its printed row number
    when that names this task alone, else its step id."""
    no = compiled["steps"][task["step_id"]].get("no")
    if no is None or str(no).strip() == "":
        return str(task["step_id"])
    key = str(no).strip()
    same_row = {t["step_id"] for t in open_tasks if str(compiled["steps"][t["step_id"]].get("no") or "").strip() == key}
    if same_row != {task["step_id"]}:
        return str(task["step_id"])
    if compiled.get("format") != 2 and _find_step(compiled, key) != task["step_id"]:
        return str(task["step_id"])
    return key


@contextmanager
def _active_run(db: str | Path | Store, run_id: str) -> Iterator[tuple[Store, dict[str, Any], list[dict[str, Any]], dict[str, Any]]]:
    """An active run read in one snapshot, without the write lock: its store, row, open tasks
    and compiled definition. Refused as a write would be (not found, not active)."""
    store, owned = use_store(db, readonly=True)
    try:
        with run_sql.snapshot(store.conn):
            found = run_sql.load_for_change(store.conn, run_id, register=False)
            if found is None:
                raise not_found(store, run_id)
            run, tasks, _assigned = found
            if run["status"] != "active":
                raise _closed(store, run)
            yield store, run, tasks, store.compiled(run["definition_hash"])
    finally:
        if owned:
            store.close()


def open_steps(db: str | Path | Store, run_id: str, *, kind: str | None = None) -> list[dict[str, Any]]:
    """The open steps of a run that a write may name, each with the ``--step`` key that names it.

    *kind* ``"process"`` gives the steps ``complete`` takes, ``"decision"`` those ``decide``
    takes (an automatic decision stopped for a person among them), None every open step.
    Each entry: ``step``, ``key``, ``no``, ``kegiatan``, ``kind``, ``actor``, ``actor_name``,
    ``part``, ``parts``, ``task`` (the open task's id, which :func:`complete` and :func:`decide`
    take as ``task=``), ``iteration`` (the visit) and, for a decision, ``outcomes``. Refused like a write would be:
    a run that is not active (:class:`RunClosed`); none of that kind open (:class:`StepNotOpen`,
    naming the command for what is open). Reads only.
    """
    with _active_run(db, run_id) as (_store, _run, tasks, compiled):
        open_tasks = [t for t in tasks if t["state"] == "open"]
    out = []
    for t in open_tasks:
        spec = compiled["steps"][t["step_id"]]
        entry = {
            "step": t["step_id"], "key": step_key(compiled, open_tasks, t), "no": spec.get("no"), "kegiatan": spec.get("kegiatan"),
            "kind": spec["kind"], "actor": t["actor"], "actor_name": compiled["actors"].get(t["actor"] or "", {}).get("name"),
            "part": t["part"] + 1, "parts": len(spec.get("lanes") or [None]), "task": t["id"], "iteration": t["iteration"],
        }
        if spec["kind"] == "decision":
            entry["outcomes"] = [o["name"] for o in spec["outcomes"]]
        out.append(entry)
    wanted = [e for e in out if kind is None or e["kind"] == kind]
    if wanted:
        return wanted
    if not out:
        raise StepNotOpen(_("run {run} has no open step").format(run=run_id), run_id=run_id)
    other = out[0]
    if kind == "process":
        raise StepNotOpen(
            _("run {run} has no open step to complete; its open decision is {step}: 'sopengine decide {run} {outcomes} --step {key}'").format(
                run=run_id, step=_describe_step(compiled, other["step"]), outcomes="|".join(other.get("outcomes") or []), key=other["key"]),
            run_id=run_id,
        )
    raise StepNotOpen(
        _("run {run} has no open decision; its open step is {step}: 'sopengine complete {run} --step {key}'").format(
            run=run_id, step=_describe_step(compiled, other["step"]), key=other["key"]),
        run_id=run_id,
    )


def open_task(db: str | Path | Store, run_id: str, step: str) -> dict[str, Any]:
    """The open task *step* names in the run now: ``task`` (its id), ``step``, ``part``,
    ``parts`` and ``iteration``.

    *step* is read as :func:`complete` reads it (a step id, or a row number when that row has
    one open step). Pass the ``task`` on as ``complete(..., task=...)`` or ``decide(...,
    task=...)``: the write then acts on that very task or is refused, never on a part or a visit
    opened meanwhile. Refused like a write would be (:class:`RunNotFound`, :class:`RunClosed`,
    :class:`StepNotOpen`). Reads only, without the write lock.
    """
    with _active_run(db, run_id) as (store, run, tasks, compiled):
        task = _task_named(store, run, compiled, tasks, step)
    spec = compiled["steps"][task["step_id"]]
    return {"task": task["id"], "step": task["step_id"], "part": task.get("part", 0) + 1,
            "parts": len(spec.get("lanes") or [None]), "iteration": task["iteration"]}


def _pinned_task(loaded: _Loaded, task_id: int, step: str | None) -> dict[str, Any]:
    """The open task *task_id* of the run; refused, saying who closed it and when, once it is not
    open. A pinned write never moves on to the next part of a row or a later visit of its step."""
    run_id = loaded.run["id"]
    compiled = loaded.compiled
    found = next((t for t in loaded.tasks if t["id"] == task_id), None)
    if found is None:  # closed, or not this run's: the run's own rows say which
        found = next((t for t in loaded.store.tasks(run_id) if t["id"] == task_id), None)
    if found is None:
        raise InputError(_("run {run} has no task {task}; 'sopengine status {run}' lists its steps").format(
            run=run_id, task=task_id), run_id=run_id)
    spec = compiled["steps"][found["step_id"]]
    if step is not None and str(step).strip() not in (found["step_id"], str(spec.get("no") or "").strip()):
        raise InputError(_("task {task} of run {run} is step {step}, not {given}").format(
            task=task_id, run=run_id, step=_describe_step(compiled, found["step_id"]), given=step), run_id=run_id)
    if found["state"] == "open":
        return found
    raise _already(loaded, found)


def _already(loaded: _Loaded, task: dict[str, Any]) -> StepNotOpen | ConcurrentChange:
    """The refusal of a write whose task another change closed: who closed it and when."""
    run_id = loaded.run["id"]
    compiled = loaded.compiled
    spec = compiled["steps"][task["step_id"]]
    parts = len(spec.get("lanes") or [None])
    name = _describe_step(compiled, task["step_id"])
    if parts > 1:
        name += " " + _("(part {part} of {parts})").format(part=(task.get("part") or 0) + 1, parts=parts)
    if task["state"] == "waiting":
        open_now = ", ".join(_describe_step(compiled, t["step_id"]) for t in loaded.tasks if t["state"] == "open") or _("none")
        return StepNotOpen(
            _("step {step} of run {run} is not open (it waits for the other branches to arrive); open: {open}").format(
                step=name, run=run_id, open=open_now), run_id=run_id, step=task["step_id"])
    person, when, state = task["closed_by"], task["closed_at"], task["state"]
    if state == "done":
        message = _("step {step} of run {run} was already completed by {person} at {when}; see 'sopengine status {run}'")
    elif state == "cancelled":
        message = _("step {step} of run {run} was already cancelled by {person} at {when}; see 'sopengine status {run}'")
    else:
        message = _("step {step} of run {run} was already {state} by {person} at {when}; see 'sopengine status {run}'")
    return ConcurrentChange(
        message.format(step=name, run=run_id, state=state, person=person, when=loaded.local(when)),
        run_id=run_id, step=task["step_id"], closed_by=person, closed_at=when,
    )


def _check_not_before_start(loaded: _Loaded) -> None:
    if loaded.at_text < loaded.run["started_at"]:  # same fixed-width UTC text: compares as time
        raise InputError(
            _("the time given ({given}) is before run {run} started ({started}); check --now").format(
                given=loaded.local(loaded.at), run=loaded.run["id"], started=loaded.local(loaded.run["started_at"])),
        )


def _check_time(loaded: _Loaded, task: dict[str, Any]) -> None:
    """A step cannot be finished before it opened: a --now earlier than that is a typing slip."""
    opened = task["opened_at"]
    if loaded.at_text < opened:  # same fixed-width UTC text: compares as time
        raise InputError(
            _("the time given ({given}) is before step {step} opened ({opened}); check --now").format(
                given=loaded.local(loaded.at), step=task["step_id"], opened=loaded.local(opened)),
        )


def _write(loaded: _Loaded, changes: Changes, task: dict[str, Any] | None) -> None:
    """Write the operation's changes in its transaction.

    The run was read under the write lock, so its version cannot have moved; the check in
    the store still refuses a writer that read the run before taking the lock.
    """
    channel.stamp(changes.events, isinstance(loaded.person, authority.Acting), ENGINE)
    try:
        run_sql.write_changes(loaded.store.conn, changes)
    except ConcurrentChange:
        closed = run_sql.task_closure(loaded.store.conn, task["id"]) if task is not None else None
        if task is None or closed is None or closed[2] in ("open", "waiting"):
            raise
        person, when, state = closed
        raise _already(loaded, {**task, "closed_by": person, "closed_at": when, "state": state}) from None


def _summary(loaded: _Loaded, adv: _Advance, **extra: Any) -> dict[str, Any]:
    out = {
        "run_id": loaded.run["id"],
        "status": adv.changes.status or loaded.run["status"],
        "opened": [split_state(s)[0] for s in adv.opened],
    }
    if adv.stopped:
        out["missing_facts"] = adv.stopped  # automatic decisions that stopped for a person
    out.update(extra)
    return out


# -- operations ------------------------------------------------------------------------------------

def _close_task(
    loaded: _Loaded, task: dict[str, Any], trigger: str, kind: str, outputs: Any, note: str | None,
    on_behalf: str | None, *, outcome: str | None = None, extra: dict[str, Any] | None = None,
) -> tuple[_Advance, str, str | None]:
    """Finish one open task by firing *trigger*; collect and write every resulting change.

    Returns the advance, the time recorded and whom the step was recorded for (``on_behalf_of``).
    """
    authority.check_may_act(loaded, task)
    _check_time(loaded, task)
    docs = documents.record_outputs(loaded, task, outputs)
    behalf = authority.on_behalf_for(loaded, task, on_behalf)
    adv = loaded.advance()
    spec = loaded.compiled["steps"][task["step_id"]]
    if spec.get("row_timed") and spec.get("row"):
        adv.row_due[spec["row"]] = task["due_at"]
    token = loaded.wf.fire(state_name(task["step_id"], task["part"]), trigger)
    at = adv.at_text
    chosen = next((o for o in spec["outcomes"] if trigger == decide_trigger(o["key"])), None)
    # Case state the row changes is recorded when the row is done: the flow leaves it.
    sets = spec.get("sets") or {}
    if chosen is not None and not chosen.get("leaves", True):
        sets = {}
    if chosen is not None and chosen.get("drawn") is False:
        extra = {**(extra or {}), "undrawn": True}
        if chosen["next"] == END and not chosen.get("spawn"):
            adv.ended_by = {"step": task["step_id"], "outcome": chosen["name"], "undrawn": True}
    elif chosen is None and spec.get("drawn") is False:
        # a box whose arrow the paper does not draw: the office's declaration, recorded as such
        extra = {**(extra or {}), "undrawn": True}
        if spec["next"] == [END]:
            adv.ended_by = {"step": task["step_id"], "outcome": None, "undrawn": True}
    adv.changes.close.append(CloseTask(task["id"], "done", at, loaded.person, outcome, note, behalf))
    adv.live = [t for t in adv.live if t.task_id != task["id"]]
    adv.changes.documents.extend(docs)
    payload: dict[str, Any] = {**(extra or {}), "iteration": task["iteration"], "actor": task["actor"]}
    if task["part"]:
        payload["part"] = task["part"] + 1
    if note:
        payload["note"] = note
    if behalf:
        payload["on_behalf_of"] = behalf
    if docs:
        payload["documents"] = [{"name": d["name"], "path": d["path"], "sha256": d["sha256"], "size": d["size"]} for d in docs]
    if chosen is not None and token.spawned:
        payload["forks"] = list(token.spawned)
    if sets:
        payload["state"] = dict(sets)
    adv.changes.events.append(Event(kind, at, loaded.person, loaded.os_user, task["step_id"], payload))
    for dest in [token.moves[-1][2], *token.spawned]:
        adv.enter(dest)
    adv.finish()
    _write(loaded, adv.changes, task)
    return adv, at, behalf


def _take(loaded: _Loaded, step: str | None, task: int | None, verb: str) -> dict[str, Any]:
    """The task a write acts on: the pinned *task*, else the open task *step* names."""
    if task is None:
        return _pick_task(loaded, step, verb)
    pinned = _pinned_task(loaded, task, step)
    if loaded.run["status"] != "active":  # read with allow_closed, so that a closed task is named first
        raise _closed(loaded.store, loaded.run)
    return pinned


def complete(
    db: str | Path | Store, run_id: str, *, step: str | None = None, outputs: list[tuple[str, Any]] | dict[str, Any] | None = None,
    note: str | None = None, by: str | None = None, now: datetime | str | None = None, on_behalf: str | None = None,
    task: int | None = None,
) -> dict[str, Any]:
    """Complete an open process step of a run (or the current lane of a multi-actor row).

    Name the step with *step* (its id, or its row number when that row has one open step).
    Without it the run's only open step is taken, whichever it is by the time the write
    lock is held: a caller repeating the call, or racing another, would complete the next
    step too. *step* alone is read under the write lock too: of a row done by several lanes
    in turn, it takes whichever part is open by then, and of a step reopened meanwhile, its
    new visit.

    *task* pins the exact open task (its id, from :func:`open_task` or :func:`open_steps`):
    the call completes that task or is refused (:class:`ConcurrentChange`, saying who
    completed it and when), never the next part or visit. The command line resolves
    ``--step`` to the task before it writes, and passes both.
    """
    with _operation(db, run_id, by, now, allow_closed=task is not None) as loaded:
        picked = _take(loaded, step, task, "complete")
        spec = loaded.compiled["steps"][picked["step_id"]]
        if spec["kind"] == "decision":
            names = " / ".join(o["name"] for o in spec["outcomes"])
            key = step_key(loaded.compiled, [t for t in loaded.tasks if t["state"] == "open"], picked)
            raise StepNotOpen(
                _("step {step} is a decision ({outcomes}); use 'sopengine decide {run} OUTCOME --step {key}'").format(
                    step=_describe_step(loaded.compiled, picked["step_id"]), outcomes=names, run=run_id, key=key),
                run_id=run_id,
            )
        adv, at, behalf = _close_task(loaded, picked, "complete", "step_completed", outputs, note, on_behalf)
        return _summary(loaded, adv, step=picked["step_id"], completed_by=str(loaded.person), at=at,
                        **({"on_behalf_of": behalf} if behalf else {}))


def decide(
    db: str | Path | Store, run_id: str, outcome: str, *, step: str | None = None,
    outputs: list[tuple[str, Any]] | dict[str, Any] | None = None, note: str | None = None,
    by: str | None = None, now: datetime | str | None = None, on_behalf: str | None = None, task: int | None = None,
) -> dict[str, Any]:
    """Take a decision step's outcome (names as the definition writes them, any case).

    Name the decision with *step*, as for :func:`complete`; without it the run's only open
    decision is taken. *task* pins the exact open task, as for :func:`complete`. An automatic
    decision that stopped for a person (a fact it reads is missing) is decided here too.
    """
    with _operation(db, run_id, by, now, allow_closed=task is not None) as loaded:
        if step is None and task is None:
            decisions = [t for t in loaded.tasks if t["state"] == "open" and loaded.compiled["steps"][t["step_id"]]["kind"] == "decision"]
            if len(decisions) == 1:
                step = decisions[0]["step_id"]
        picked = _take(loaded, step, task, "decide")
        spec = loaded.compiled["steps"][picked["step_id"]]
        if spec["kind"] != "decision":
            key = step_key(loaded.compiled, [t for t in loaded.tasks if t["state"] == "open"], picked)
            raise StepNotOpen(
                _("step {step} is not a decision; use 'sopengine complete {run} --step {key}'").format(
                    step=_describe_step(loaded.compiled, picked["step_id"]), run=run_id, key=key),
                run_id=run_id,
            )
        wanted = outcome.strip().casefold()
        chosen = next((o for o in spec["outcomes"] if o["name"].casefold() == wanted or o["key"] == wanted), None)
        if chosen is None:
            valid = ", ".join(o["name"] for o in spec["outcomes"])
            raise UnknownOutcome(
                _("step {step} has no outcome {outcome!r}; choose one of: {valid}").format(
                    step=picked["step_id"], outcome=outcome, valid=valid),
                run_id=run_id, outcome=outcome,
            )
        adv, at, behalf = _close_task(loaded, picked, decide_trigger(chosen["key"]), "decided", outputs, note, on_behalf,
                              outcome=chosen["name"], extra={"outcome": chosen["name"], "next": chosen["next"]})
        return _summary(loaded, adv, step=picked["step_id"], outcome=chosen["name"], decided_by=str(loaded.person), at=at,
                        **({"on_behalf_of": behalf} if behalf else {}))


def reopen(
    db: str | Path | Store, run_id: str, step: str, *, reason: str, by: str | None = None, now: datetime | str | None = None,
) -> dict[str, Any]:
    """Send a run back to *step* to correct a mistake; recorded as a new event, history kept."""
    if not reason or not reason.strip():
        raise InputError(_("give the reason for reopening with --reason TEXT"))
    with _operation(db, run_id, by, now, allow_closed=True, on_behalf=False) as loaded:
        authority.check_may_change_run(loaded, "reopen")
        if loaded.run["status"] == "cancelled":
            raise RunClosed(_("run {run} is cancelled; start a new run instead").format(run=run_id), run_id=run_id)
        step_id = _find_step(loaded.compiled, step, run_table(loaded.store, loaded.run, loaded.compiled))
        if not run_sql.visited(loaded.store.conn, run_id, step_id):
            raise InputError(
                _("run {run} has not reached step {step} yet; reopen goes back to a"
                  " step already done — 'sopengine status RUN' lists them").format(
                    run=run_id, step=_describe_step(loaded.compiled, step_id)),
                run_id=run_id, step=step_id,
            )
        _check_not_before_start(loaded)
        adv = loaded.advance()
        at = adv.at_text
        # The steps that will be done again: the one reopened and those after it. Other
        # branches of a parallel section go on as they are.
        redo = {step_id, *loaded.compiled["reach"].get(step_id, [])}
        closed = []
        for t in loaded.tasks:
            if t["step_id"] in redo:
                adv.changes.close.append(CloseTask(t["id"], "cancelled", at, loaded.person, None, f"reopened at {step_id}: {reason}"))
                closed.append(t["step_id"])
        adv.live = [t for t in adv.live if t.step_id not in redo]
        if loaded.run["status"] == "completed":
            adv.changes.status = "active"
            adv.changes.reactivate = True  # the earlier finish stays in the history
        adv.changes.events.append(Event(
            "reopened", at, loaded.person, loaded.os_user, step_id,
            {"reason": reason, "closed": closed, "was": loaded.run["status"]},
        ))
        adv.enter(state_name(step_id))
        adv.finish()
        _write(loaded, adv.changes, None)
        return _summary(loaded, adv, step=step_id, reason=reason)


def assign(
    db: str | Path | Store, run_id: str, role: str, person: str, *, acting: bool = False, remove: bool = False,
    by: str | None = None, now: datetime | str | None = None,
) -> dict[str, Any]:
    """Assign a person to a role of a run (``acting`` for Plt./Plh.), or remove them."""
    with _operation(db, run_id, by, now, on_behalf=False) as loaded:
        _check_not_before_start(loaded)
        role_id = _find_role(loaded.compiled, role)
        person = person.strip()
        if not person:
            raise InputError(_("give the person's name"))
        authority.check_may_assign(loaded, role_id, person, acting=acting, remove=remove)
        current = [a for a in loaded.assignments() if a["role"] == role_id]
        adv = loaded.advance()
        at = adv.at_text
        if remove:
            match = [a for a in current if a["person"].casefold() == person.casefold()]
            if not match:
                names = ", ".join(a["person"] for a in current) or _("nobody")
                raise InputError(_("{person} is not assigned to {role} in run {run} (assigned: {assigned})").format(
                    person=person, role=role_id, run=run_id, assigned=names))
            person = match[0]["person"]  # the name as it was assigned, not as typed now
            adv.changes.unassign.append((role_id, person))
            adv.changes.events.append(Event("unassigned", at, loaded.person, loaded.os_user, None, {"role": role_id, "person": person}))
        else:
            # the same person in another case is the same assignee (names compare without case)
            person = next((a["person"] for a in current if a["person"].casefold() == person.casefold()), person)
            adv.changes.assign.append((role_id, person, acting, loaded.person, at))
            payload: dict[str, Any] = {"role": role_id, "person": person, "acting": acting}
            if acting and isinstance(loaded.person, authority.Acting):
                # a Plt./Plh. stands in on someone's authority: with a register, the record names
                # the registered admin whose OS login made it
                payload["authorised_by"] = str(loaded.person)
            adv.changes.events.append(Event("assigned", at, loaded.person, loaded.os_user, None, payload))
        _write(loaded, adv.changes, None)
        return {"run_id": run_id, "role": role_id, "person": person, "acting": acting, "removed": remove}


def cancel(db: str | Path | Store, run_id: str, *, reason: str, by: str | None = None, now: datetime | str | None = None) -> dict[str, Any]:
    """Cancel a run: its open steps close, nothing more can be done in it."""
    if not reason or not reason.strip():
        raise InputError(_("give the reason for cancelling with --reason TEXT"))
    with _operation(db, run_id, by, now, on_behalf=False) as loaded:
        authority.check_may_change_run(loaded, "cancel")
        _check_not_before_start(loaded)
        adv = loaded.advance()
        at = adv.at_text
        for t in loaded.tasks:
            adv.changes.close.append(CloseTask(t["id"], "cancelled", at, loaded.person, None, f"run cancelled: {reason}"))
        adv.changes.status = "cancelled"
        adv.changes.finished_at = at
        adv.changes.events.append(Event("run_cancelled", at, loaded.person, loaded.os_user, None, {"reason": reason}))
        _write(loaded, adv.changes, None)
        return {"run_id": run_id, "status": "cancelled", "reason": reason}


def _find_role(compiled: dict[str, Any], role: str) -> str:
    if role in compiled["actors"]:
        return role
    for aid, actor in compiled["actors"].items():
        if actor["name"].casefold() == role.strip().casefold():
            return aid
    roles = ", ".join(compiled["actors"])
    raise InputError(_("the SOP has no role {role!r}; roles are: {roles}").format(role=role, roles=roles))


# -- starting a run ----------------------------------------------------------------------------------

def _case_value(name: str, spec: dict[str, Any], raw: Any) -> Any:
    kind = spec["type"]
    text = str(raw).strip()
    try:
        if kind == "integer":
            value: Any = int(text)
        elif kind == "number":
            value = float(text)
        elif kind == "boolean":
            lowered = text.lower()
            if lowered not in ("true", "false", "ya", "tidak", "yes", "no", "1", "0"):
                raise ValueError
            value = lowered in ("true", "ya", "yes", "1")
        elif kind == "date":
            from datetime import date

            value = date.fromisoformat(text).isoformat()
        else:
            value = text
    except ValueError:
        raise InputError(_("case value {name}={value!r} is not a {kind}; give e.g. --set {name}=...").format(
            name=name, value=raw, kind=kind)) from None
    allowed = spec.get("values")
    if allowed is not None and value not in allowed and str(value) not in [str(a) for a in allowed]:
        raise InputError(_("{name}={value!r} is not allowed; allowed values: {allowed}").format(
            name=name, value=raw, allowed=", ".join(map(str, allowed))))
    return value


def check_case(compiled: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """The case data checked against what the definition declares (names, types, values)."""
    declared = compiled.get("case") or {}
    out: dict[str, Any] = {}
    for name, raw in case.items():
        if name not in declared:
            names = ", ".join(declared) or _("none (this SOP reads no case data)")
            raise InputError(_("the SOP declares no case field {name!r}; declared: {names}").format(name=name, names=names))
        out[name] = _case_value(name, declared[name], raw)
    missing = [n for n, spec in declared.items() if spec.get("required") and n not in out]
    if missing:
        raise InputError(_("this SOP needs case data {names}; give --set {first}=VALUE").format(
            names=", ".join(missing), first=missing[0]))
    return out


def choose_table(compiled: dict[str, Any], table: str | None, case: dict[str, Any], period: str | None) -> str | None:
    """The table a new run follows (format 2), or None for a format-1 definition."""
    tables = compiled.get("tables")
    if not tables:
        if table is not None:
            raise InputError(_("{sop} has one table; leave out --table").format(sop=compiled["id"]))
        return None
    from sopengine.engine import matches

    order = compiled["table_order"]
    facts = run_facts({"period": period, "case_data": case})
    fits = [t for t in order if tables[t]["when"] is None or matches(tables[t]["when"], facts)]
    chosen_by_data = [t for t in order if tables[t]["when"] is not None and matches(tables[t]["when"], facts)]

    def described(ids: list[str]) -> str:
        return "; ".join(f"{t}" + (f" ({tables[t]['title']})" if tables[t]["title"] else "") for t in ids)

    if table is not None:
        key = table.strip()
        found = key if key in tables else next((t for t in order if (tables[t]["title"] or "").casefold() == key.casefold()), None)
        if found is None:
            raise InputError(_("{sop} has no table {table!r}; its tables: {tables}").format(sop=compiled["id"], table=table, tables=described(order)))
        if found not in fits:
            given = ", ".join(f"{k}={v}" for k, v in case.items()) or _("no case data")
            raise InputError(_("table {table} is not for this case ({case}); tables that fit: {tables}").format(
                table=found, case=given, tables=described(fits) or _("none")))
        return found
    if len(order) == 1:
        return order[0]
    candidates = chosen_by_data or fits
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InputError(_("no table of {sop} is for this case; check --set, or choose one with --table: {tables}").format(
            sop=compiled["id"], tables=described(order)))
    raise InputError(_("{n} tables of {sop} fit; choose one with --table: {tables}").format(
        n=len(candidates), sop=compiled["id"], tables=described(candidates)))


def period_facts_read(compiled: dict[str, Any]) -> list[str]:
    """The ``period.*`` facts an SOP reads (its automatic decisions and its tables' ``when``).

    An SOP that reads any is *periodic*: each run is for a period, whose facts decide its way
    (a semester's or a year's end).
    """
    conditions = [o["when"] for step in compiled["steps"].values() if step["kind"] == "decision" and step.get("automatic")
                  for o in step["outcomes"]]
    conditions += [t.get("when") for t in (compiled.get("tables") or {}).values()]
    read = [fact for when in conditions if isinstance(when, dict) for fact in when if fact.startswith("period.")]
    return list(dict.fromkeys(read))


def current_period(compiled: dict[str, Any], today: datetime) -> str:
    """The period a periodic SOP's run is for when none is given: the month of *today* (a local time).

    An SOP whose decisions tell kinds of period apart (it reads ``period.type``) gets no
    default: a month, a quarter, a semester and a year would each take another way, so the
    person starting the run chooses (:class:`InputError` listing the current one of each kind).
    """
    month = f"{today.year}-{today.month:02d}"
    if "period.type" not in period_facts_read(compiled):
        return month
    choices = [
        _("{period} (month)").format(period=month),
        _("{period} (quarter)").format(period=f"{today.year}-Q{(today.month - 1) // 3 + 1}"),
        _("{period} (semester)").format(period=f"{today.year}-S{1 if today.month <= 6 else 2}"),
        _("{period} (year)").format(period=today.year),
    ]
    raise InputError(
        _("{sop} takes a different way for each kind of period (it reads period.type), so no period is taken by itself;"
          " give --period, e.g. {choices}").format(sop=compiled["id"], choices=", ".join(choices)),
    )


def start_run(
    definition_id: str, *, db: str | Path | Store, definitions: str | Path | None = None, calendar: str | None = None,
    period: str | None = None, case: dict[str, Any] | None = None, assign: list[tuple[str, str]] | None = None,
    by: str | None = None, now: datetime | str | None = None, allow_duplicate: bool = False, if_missing: bool = False,
    table: str | None = None,
) -> dict[str, Any]:
    """Start a run of a definition; returns its id, open steps and the database path.

    A format-2 SOP of several tables runs one of them: the one whose ``when`` the case data
    meets, or *table* as the person starting it chooses.

    A periodic SOP (one whose decisions read ``period.*`` facts, :func:`period_facts_read`)
    started without *period* runs for the current month in its own time zone (the result
    says ``period_default: true``), or is refused with the choices when its decisions tell
    kinds of period apart. An automatic decision whose facts the run lacks stops for a
    person (``missing_facts`` in the result); it never falls to an outcome.
    """
    from sopengine import api
    from sopengine.calendar import load_calendar, resolve_calendar_path
    from sopengine.chain import canonical
    from sopengine.definition.catalog import search_dirs
    from sopengine.definition.loader import compile_definition
    from sopengine.period import normalise

    definition, text, path = api.load(definition_id, definitions)
    compiled = compile_definition(definition, text)
    tz = compiled.get("timezone")
    period_n = normalise(period) if period else None
    case_data = check_case(compiled, case or {})
    assignments: list[tuple[str, str]] = []
    for role, name in assign or []:
        role_id, name = _find_role(compiled, role), name.strip()
        if not name:
            raise InputError(_("--assign {role}= needs a person's name after '='").format(role=role))
        if not any(r == role_id and n.casefold() == name.casefold() for r, n in assignments):
            assignments.append((role_id, name))
    authority.checked_person(by)

    cal_path = resolve_calendar_path(calendar, [p for p, _ in search_dirs(definitions)])
    # The run's zone is its calendar's (the definition's timezone wins over the file's), so the
    # calendar is built first; the year read in WIB is close enough to choose the years it covers.
    year = clock.coerce(now).astimezone(clock.zone()).year
    cal = load_calendar(cal_path, years=range(year - 1, year + 4), timezone=tz, hours=compiled.get("hours"))
    at = clock.coerce(now, cal.zone)
    period_default = False
    if period_n is None and period_facts_read(compiled):
        # A periodic SOP without --period runs for the office's current month, and says so.
        period_n, period_default = current_period(compiled, at.astimezone(clock.zone(cal.zone))), True
    if if_missing and not period_n:
        raise InputError(_("--if-missing needs --period (it starts a run only where that period has none)"))
    table_id = choose_table(compiled, table, case_data, period_n)
    snapshot = cal.snapshot()
    cal_hash = hashlib.sha256(canonical(snapshot).encode("utf-8")).hexdigest()

    store, owned = use_store(db, create=True)
    try:
        person, os_login = authority.identify(store, by, on_behalf=False)
        authority.check_start_assignments(store, person, assignments)
        if period_n:
            existing = store.any_run_for(compiled["id"], period_n) if if_missing else None
            active = store.active_run_for(compiled["id"], period_n)
            if if_missing and existing:
                return {"run_id": existing, "existing": True, "definition": compiled["id"], "period": period_n,
                        "period_default": period_default, "db": str(store.path)}
            if active and not allow_duplicate:
                raise DuplicateRun(
                    _("run {run} of {sop} for {period} is still active; continue it, or pass --allow-duplicate").format(
                        run=active, sop=compiled["id"], period=period_n),
                    run_id=active,
                )
        run_id = new_run_id()
        while run_sql.run_exists(store.conn, run_id):
            run_id = new_run_id()
        deadline = cal.due(at, compiled["deadline"]) if compiled.get("deadline") else None
        due = clock.iso(deadline)
        run = {
            "id": run_id, "definition_id": compiled["id"], "definition_hash": compiled["hash"], "calendar_hash": cal_hash,
            "period": period_n, "case_data": case_data, "status": "active", "started_at": clock.iso(at),
            "started_by": person, "due_at": due, "version": 0,
        }
        changes = Changes(run_id, 0, clock.iso(clock.real_now()) or "")
        adv = _Advance(run, compiled, workflow(compiled), cal, at, person, os_login, changes, [])
        changes.assign = [(role, who, False, person, clock.iso(at) or "") for role, who in assignments]
        changes.events.append(Event("run_started", clock.iso(at) or "", person, adv.os_user, None, {
            "definition": compiled["id"], "definition_hash": compiled["hash"], "title": compiled["title"],
            "period": period_n, "case": case_data, "calendar_hash": cal_hash, "due_at": due,
            "assignments": [{"role": r, "person": p} for r, p in assignments],
            **({"beyond_calendar": True} if deadline is not None and cal.beyond(deadline) else {}),
            **({"table": table_id} if table_id is not None else {}),
        }))
        for first in (compiled["tables"][table_id]["first"] if table_id is not None else [compiled["first"]]):
            adv.enter(first)
        adv.finish()
        channel.stamp(changes.events, isinstance(person, authority.Acting), ENGINE)
        try:
            store.create_run(
                run,
                {"hash": compiled["hash"], "id": compiled["id"], "title": compiled["title"], "source": text,
                 "path": str(Path(path).resolve()), "compiled": compiled},
                {"hash": cal_hash, "data": snapshot},
                changes,
                unique="any" if if_missing else (None if allow_duplicate else "active"),
            )
        except DuplicateRun as exc:
            # another start for this period won the race since the check above
            if if_missing:
                return {"run_id": exc.context["run_id"], "existing": True, "definition": compiled["id"], "period": period_n,
                        "period_default": period_default, "db": str(store.path)}
            raise
        return {
            "run_id": run_id, "existing": False, "definition": compiled["id"], "title": compiled["title"],
            "period": period_n, "period_default": period_default, "status": changes.status or "active",
            "started_at": clock.iso(at), "due_at": due, "opened": [split_state(s)[0] for s in adv.opened],
            "db": str(store.path), "table": table_id, **({"missing_facts": adv.stopped} if adv.stopped else {}),
        }
    finally:
        if owned:
            store.close()
