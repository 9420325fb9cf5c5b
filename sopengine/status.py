"""Reading runs: one run's status and timeline, and the list of runs.

Every statement is the store's (:mod:`sopengine.store.runs`, :class:`~sopengine.store.Store`),
read in one snapshot; nothing here imports pydantic or sqlite-utils. Read functions never
create a database.

What these functions return is JSON: its sentences (the ``next`` hints, an automatic gate's
note) are English in every language. :func:`next_for_people` and :func:`note_for_people`
give the same sentences in the language people read.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

from sopengine import authority, clock
from sopengine.i18n import N_, _
from sopengine.runs import ENGINE, not_found, run_facts
from sopengine.store import Store
from sopengine.store import use as use_store
from sopengine.store import documents as store_documents
from sopengine.store import runs as run_sql

_WAITS = N_("{step} waits for its other branches")
_DECIDES = N_("{actor} decides {step}: {outcomes}")
_STOPPED = N_("{actor} decides {step}: {outcomes} (automatic, but the run lacks {facts})")
_A_PERSON = N_("a person")
_COMPLETES = N_("{actor} completes {step}")
_AUTOMATIC = N_("automatic: {facts}")


def _late_by(cal: Any, step: dict[str, Any] | None, due_at: str | None, now: datetime) -> int:
    from sopengine.calendar import lateness

    due = clock.from_iso(due_at)
    if due is None:
        return 0
    return lateness(cal, due, now, calendar_days=bool(step and step.get("duration") and step["duration"].get("calendar")))


def _task_view(
    compiled: dict[str, Any], cal: Any, t: dict[str, Any], now: datetime, docs: list[dict[str, Any]],
    facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    step = compiled["steps"].get(t["step_id"], {})
    actor = compiled["actors"].get(t["actor"] or "", {})
    view = {
        "step": t["step_id"],
        "no": step.get("no"),
        "table": step.get("table"),
        "row": step.get("row"),
        "shape": step.get("shape"),
        "kegiatan": step.get("kegiatan"),
        "kind": step.get("kind"),
        "actor": t["actor"],
        "actor_name": actor.get("name"),
        "part": t["part"] + 1,
        "parts": len(step.get("lanes") or [None]),
        "iteration": t["iteration"],
        "state": t["state"],
        "opened_at": t["opened_at"],
        "due_at": t["due_at"],
        "waktu": step.get("waktu"),
        "handover": step.get("handover"),
        "closed_at": t["closed_at"],
        "closed_by": t["closed_by"],
        "on_behalf_of": t["on_behalf_of"],
        "outcome": t["outcome"],
        "note": t["note"],
        "documents": [
            {"name": d["name"], "path": d["path"], "sha256": d["sha256"], "size": d["size"], "kept": d.get("kept", True)}
            for d in docs if d["task_id"] == t["id"]
        ],
    }
    end = (clock.from_iso(t["closed_at"]) or now) if t["closed_at"] else now
    view["late_by"] = _late_by(cal, step, t["due_at"], end) if t["state"] in ("open", "done") else 0
    # Overdue as `sopengine overdue` has it: open and past its due time, even when no office
    # time has passed since (due at 16:00, looked at in the evening: late by 0, yet overdue).
    due = clock.from_iso(t["due_at"])
    view["overdue"] = t["state"] == "open" and due is not None and due < now
    # Past the years the run's calendar covers, its holidays were not counted.
    view["beyond_calendar"] = due is not None and cal is not None and cal.beyond(due)
    if step.get("kind") == "decision" and not step.get("automatic"):
        view["outcomes"] = [o["name"] for o in step["outcomes"]]
    elif step.get("kind") == "decision" and t["state"] == "open":
        # An automatic decision open for a person: a fact it reads was missing when the run
        # reached it (facts are known when the run's own are given; else as they are now).
        from sopengine.engine import missing_facts

        view["outcomes"] = [o["name"] for o in step["outcomes"]]
        view["automatic"] = True
        view["missing_facts"] = missing_facts(step["outcomes"], facts) if facts is not None else []
    return view


def fact_source(fact: str) -> str:
    """Where a run's fact comes from, in the language in force: what to give when it is missing."""
    if fact.startswith("period."):
        return _("the run has no period (--period when a run starts)")
    if fact.startswith("case."):
        return _("the run has no case value {name} (--set {name}=VALUE when a run starts)").format(name=fact[len("case."):])
    return _("the run has no value for it")


def stopped_for_people(view: dict[str, Any], run_id: str) -> str | None:
    """For an automatic decision open for a person: which facts are missing, why, and the command that decides it."""
    missing = view.get("missing_facts")
    if not missing:
        return None
    sources = "; ".join(dict.fromkeys(fact_source(f) for f in missing))
    key = view["no"] if view.get("no") else view["step"]
    return _("automatic, but {facts} is missing: {why}. A person decides: sopengine decide {run} {outcomes} --step {step}").format(
        facts=", ".join(missing), why=sources, run=run_id, outcomes="|".join(view.get("outcomes") or []), step=key)


def _gates(store: Store, compiled: dict[str, Any], run_id: str, tasks: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """Automatic gates, each ranked just after the task whose completion led the run through it."""
    task_of = {(t["step_id"], t["iteration"], t["part"]): t["id"] for t in tasks if t["state"] == "done"}
    out: list[tuple[float, dict[str, Any]]] = []
    after = 0.0
    for at, step_id, person, kind, payload in run_sql.timeline_events(store.conn, run_id):
        data = json.loads(payload)
        if person != ENGINE and kind in ("step_completed", "decided"):
            part = (data.get("part") or 1) - 1
            after = float(task_of.get((step_id, data.get("iteration"), part), after))
            continue
        if not (kind == "decided" and data.get("automatic")):
            continue
        step = compiled["steps"].get(step_id, {})
        lane = (step.get("lanes") or [None])[0]
        after += 0.001
        out.append((after, {
            "step": step_id, "no": step.get("no"), "kegiatan": step.get("kegiatan"), "kind": "decision",
            "actor": lane, "actor_name": compiled["actors"].get(lane or "", {}).get("name"), "part": 1, "parts": 1,
            "iteration": 1, "state": "decided", "opened_at": at, "due_at": None, "waktu": None, "closed_at": at,
            "closed_by": ENGINE, "on_behalf_of": None, "outcome": data.get("outcome"),
            "note": _AUTOMATIC.format(facts=", ".join(f"{k} = {v}" for k, v in (data.get("facts") or {}).items())),
            "documents": [], "late_by": 0, "overdue": False, "beyond_calendar": False, "automatic": True,
        }))
    return out


def _recorded(store: Store, compiled: dict[str, Any], run_id: str) -> dict[str, Any]:
    """What a run's events say beyond its tasks: the table it follows, the case state its rows
    set (format 2), and how it ended when an exit the paper does not draw ended it."""
    state = {name: spec.get("initial") for name, spec in (compiled.get("state") or {}).items()}
    out: dict[str, Any] = {"table": None, "state": state, "ended_by": None}
    for kind, payload in run_sql.recorded_events(store.conn, run_id):
        data = json.loads(payload)
        if kind == "run_started":
            out["table"] = data.get("table")
        if isinstance(data.get("state"), dict):
            state.update(data["state"])
        if kind == "run_completed":
            out["ended_by"] = data.get("ended_by")
        if kind == "reopened":
            out["ended_by"] = None
    if out["table"] is None and compiled.get("table_order"):
        out["table"] = compiled["table_order"][0]
    return out


def current_definition_hash(definition_id: str, definitions: str | Path | None = None, started_from: str | None = None) -> str | None:
    """The hash of the definition file as it is now, or None when it is gone.

    Without a ``definitions`` folder, the file the run started from (``started_from``) is
    looked at first: a run started with ``--definitions DIR`` is not compared with another copy.
    """
    import hashlib

    from sopengine.definition import catalog
    from sopengine.errors import DefinitionNotFound

    try:
        if started_from and not definitions and Path(started_from).is_file():
            path = Path(started_from)
        else:
            path = catalog.find(definition_id, definitions).path
        return hashlib.sha256(path.read_text(encoding="utf-8").encode("utf-8")).hexdigest()
    except (DefinitionNotFound, OSError, UnicodeDecodeError):
        return None


_CLOSED_FIELDS = ("closed_at", "closed_by", "outcome", "on_behalf_of")
"""Fields of a task's view that an open step has none of."""


def run_status(
    db: str | Path | Store, run_id: str, *, now: datetime | str | None = None, definitions: str | Path | None = None,
) -> dict[str, Any]:
    """One run: its state, open steps (with due times and lateness), timeline and assignments.

    *db* is a path (opened read-only for this call) or an open :class:`Store`."""
    store, owned = use_store(db, readonly=True)
    # One read transaction: every row comes from the same moment, never half a change.
    with (store if owned else nullcontext()), run_sql.snapshot(store.conn):
        run = store.run(run_id)
        compiled = store.compiled(run["definition_hash"])
        cal = store.work_calendar(run["calendar_hash"])
        tz = clock.run_zone(cal, compiled.get("timezone"))
        at = clock.coerce(now, tz)
        docs = store.documents(run_id)
        # a document recorded before the document store has no bytes in the database
        kept = store_documents.kept(store.conn, [d["sha256"] for d in docs])
        docs = [dict(d, kept=d["sha256"] in kept) for d in docs]
        tasks = store.tasks(run_id)
        # Automatic gates are events, not tasks: list each where the run passed it.
        facts = run_facts(run)
        ranked = _gates(store, compiled, run_id, tasks) + [(float(t["id"]), _task_view(compiled, cal, t, at, docs, facts)) for t in tasks]
        timeline = [view for _, view in sorted(ranked, key=lambda pair: pair[0])]
        open_steps = [v for v in timeline if v["state"] in ("open", "waiting")]
        source = store.definition_source(run["definition_hash"]) or {}
        current = current_definition_hash(run["definition_id"], definitions, source.get("path"))
        recorded = _recorded(store, compiled, run_id)
        table = recorded["table"]
        deadline_late = _late_by(cal, {"duration": compiled.get("deadline")}, run["due_at"], clock.from_iso(run["finished_at"]) or at) if run["due_at"] else 0
        return {
            "run_id": run_id,
            "definition": run["definition_id"],
            "title": compiled["title"],
            "definition_hash": run["definition_hash"],
            "definition_changed": None if current is None else current != run["definition_hash"],
            "definition_file_missing": current is None,
            "period": run["period"],
            "case": run["case_data"],
            "status": run["status"],
            "started_at": run["started_at"],
            "started_by": run["started_by"],
            "finished_at": run["finished_at"],
            "due_at": run["due_at"],
            "deadline": compiled.get("deadline_text"),
            "deadline_late_by": deadline_late,
            "deadline_beyond_calendar": bool(run["due_at"] and cal is not None and cal.beyond(clock.from_iso(run["due_at"]))),
            "version": run["version"],
            "timezone": tz,
            "open_steps": [{k: v for k, v in s.items() if k not in _CLOSED_FIELDS} for s in open_steps],
            "timeline": timeline,
            "assignments": [dict(a, acting=bool(a["acting"])) for a in store.assignments(run_id)],
            "format": compiled.get("format", 1),
            "table": table,
            "table_title": (compiled.get("tables") or {}).get(table or "", {}).get("title"),
            "state": recorded["state"],
            "ended_by": recorded["ended_by"],
            "next": _next_hint(compiled, open_steps),
            "identity": authority.mode(store),
        }


def open_summary(db: str | Path | Store, run_id: str, *, now: datetime | str | None = None) -> dict[str, Any]:
    """What is open in a run now, as :func:`run_status` gives it (``run_id``, ``status``,
    ``timezone``, ``open_steps``) and nothing else: the run and its open tasks read in one
    statement. The command line shows it after each change; the timeline, the documents and
    the definition file are not read for it."""
    store, owned = use_store(db, readonly=True)
    with (store if owned else nullcontext()), run_sql.snapshot(store.conn):
        found = run_sql.load_for_change(store.conn, run_id, register=False)
        if found is None:
            raise not_found(store, run_id)
        run, tasks, _assignments = found
        compiled = store.compiled(run["definition_hash"])
        cal = store.work_calendar(run["calendar_hash"])
        tz = clock.run_zone(cal, compiled.get("timezone"))
        at = clock.coerce(now, tz)
        facts = run_facts(run)
        # open tasks hold no documents yet: they are recorded when the step is done
        views = [_task_view(compiled, cal, t, at, [], facts) for t in tasks]
    return {"run_id": run_id, "status": run["status"], "timezone": tz,
            "open_steps": [{k: v for k, v in view.items() if k not in _CLOSED_FIELDS} for view in views]}


def _next_hint(compiled: dict[str, Any], open_steps: list[dict[str, Any]]) -> list[str]:
    """The ``next`` hints of the JSON: in English whatever the language."""
    hints = []
    for s in open_steps:
        if s["state"] == "waiting":
            hints.append(_WAITS.format(step=s["step"]))
            continue
        step = compiled["steps"][s["step"]]
        if s.get("missing_facts"):
            hints.append(_STOPPED.format(actor=s["actor_name"] or _A_PERSON, step=s["step"], outcomes=" / ".join(o["name"] for o in step["outcomes"]),
                                         facts=", ".join(s["missing_facts"])))
        elif step["kind"] == "decision":
            hints.append(_DECIDES.format(actor=s["actor_name"], step=s["step"], outcomes=" / ".join(o["name"] for o in step["outcomes"])))
        else:
            hints.append(_COMPLETES.format(actor=s["actor_name"], step=s["step"]))
    return hints


def next_for_people(status: dict[str, Any]) -> list[str]:
    """The ``next`` hints of a :func:`run_status` result in the language in force, for a screen."""
    hints = []
    for s in status["open_steps"]:
        if s["state"] == "waiting":
            hints.append(_(_WAITS).format(step=s["step"]))
        elif s.get("missing_facts"):
            hints.append(_(_STOPPED).format(actor=s["actor_name"] or _(_A_PERSON), step=s["step"], outcomes=" / ".join(s.get("outcomes") or []),
                                            facts=", ".join(s["missing_facts"])))
        elif s["kind"] == "decision":
            hints.append(_(_DECIDES).format(actor=s["actor_name"], step=s["step"], outcomes=" / ".join(s.get("outcomes") or [])))
        else:
            hints.append(_(_COMPLETES).format(actor=s["actor_name"], step=s["step"]))
    return hints


def note_for_people(view: dict[str, Any]) -> str | None:
    """A timeline entry's note for a screen: an automatic gate's in the language in force;
    a note people wrote, or the engine stored, as it is."""
    note = view.get("note")
    prefix = _AUTOMATIC.partition("{")[0]
    if view.get("automatic") and isinstance(note, str) and note.startswith(prefix):
        return _(_AUTOMATIC).format(facts=note[len(prefix):])
    return note


def list_runs(db: str | Path, *, include_closed: bool = False, now: datetime | str | None = None) -> list[dict[str, Any]]:
    """Every active run (every run with ``include_closed``) with its open steps."""
    store = Store(db, readonly=True)
    with store, run_sql.snapshot(store.conn):  # one snapshot, as in run_status
        out = []
        compiled_cache: dict[str, dict[str, Any]] = {}
        runs = store.runs(include_closed)
        open_tasks = store.open_tasks_by_run(include_closed)
        for run in runs:
            compiled = compiled_cache.get(run["definition_hash"])
            if compiled is None:
                compiled = compiled_cache[run["definition_hash"]] = store.compiled(run["definition_hash"])
            cal = store.work_calendar(run["calendar_hash"])
            tz = clock.run_zone(cal, compiled.get("timezone"))
            at = clock.coerce(now, tz)
            tasks = open_tasks.get(run["id"], [])
            facts = run_facts({"period": run["period"], "case_data": json.loads(run["case_data"] or "{}")})
            steps = [_task_view(compiled, cal, t, at, [], facts) for t in tasks]
            table = steps[0]["table"] if steps else None
            if table is None and len(compiled.get("table_order") or []) == 1:
                table = compiled["table_order"][0]
            elif table is None and compiled.get("table_order"):
                from sopengine.runs import run_table

                table = run_table(store, run, compiled)
            out.append({
                "run_id": run["id"], "definition": run["definition_id"], "title": compiled["title"], "timezone": tz,
                "period": run["period"], "status": run["status"], "started_at": run["started_at"],
                "finished_at": run["finished_at"], "due_at": run["due_at"], "table": table,
                "open_steps": [
                    {k: s[k] for k in ("step", "no", "table", "kind", "actor", "actor_name", "state", "due_at", "late_by", "overdue", "iteration")}
                    for s in steps
                ],
                "overdue": any(s["overdue"] for s in steps),
            })
        return out
