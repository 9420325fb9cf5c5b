"""The floor a durable step is measured against: ``transitions`` and plain ``sqlite3``, nothing else.

What any engine must do to record one step durably, done as plainly as Python allows: one
``BEGIN IMMEDIATE`` transaction that reads the run (its state, version, facts and chain head),
fires the trigger on one ``transitions.Machine`` built once for the SOP (automatic gates
taken by conditions on the facts), closes the open task row and opens the next, appends the
step's event and each gate's with their sha256 chain (:mod:`sopengine.chain`'s canonical
form), and moves the run's state, version and head on: five statements and a commit for a
step, one more per gate. No identity lookup, no working calendar (due times in plain
minutes), no assignments, documents, retries or messages.

``bench_step.py`` carries the same runs of the same SOP through this and through sopengine
and checks that both take the same rows; sopengine's step is then judged against it.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from transitions import Machine

from sopengine.chain import GENESIS, canonical, event_hash
from sopengine.period import facts as period_facts

END = "selesai"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL,
    head TEXT NOT NULL, facts TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, actor TEXT,
    state TEXT NOT NULL, opened_at TEXT NOT NULL, due_at TEXT, closed_at TEXT, closed_by TEXT);
CREATE INDEX IF NOT EXISTS tasks_run ON tasks (run_id, state);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, at TEXT NOT NULL,
    recorded_at TEXT NOT NULL, person TEXT NOT NULL, os_user TEXT NOT NULL, kind TEXT NOT NULL, step_id TEXT,
    payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, seq);
"""


class _Token:
    """The one model of the machine; its state is set for each trigger."""

    facts: dict[str, Any] = {}
    state: str  # set by the machine


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class FloorRuns:
    """Runs of one compiled SOP (a single table, process steps and automatic gates)."""

    def __init__(self, db: Path, compiled: dict[str, Any]) -> None:
        self.steps = compiled["steps"]
        table = compiled["tables"][compiled["table_order"][0]] if compiled.get("table_order") else None
        self.first = table["first"][0] if table else compiled["first"]
        self.conn = sqlite3.connect(str(db), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.executescript(SCHEMA)
        self.token = _Token()
        transitions: list[dict[str, Any]] = []
        for sid, step in self.steps.items():
            if step["kind"] == "decision":
                for o in step["outcomes"]:
                    when = o.get("when")
                    conditions = [] if when in (None, "otherwise") else [self._holds(when)]
                    transitions.append({"trigger": "auto", "source": sid, "dest": o["next"], "conditions": conditions})
            else:
                transitions.append({"trigger": "complete", "source": sid, "dest": step["next"][0]})
        self.machine = Machine(model=self.token, states=[*self.steps, END], transitions=transitions,
                               initial=self.first, auto_transitions=False)

    def _holds(self, when: dict[str, Any]) -> Any:
        def condition() -> bool:
            return all(self.token.facts.get(k) == v for k, v in when.items())
        return condition

    def close(self) -> None:
        self.conn.close()

    def _event(self, db: sqlite3.Connection, run_id: str, prev: str, at: str, person: str, kind: str,
               step_id: str | None, payload: dict[str, Any]) -> str:
        record = {"run_id": run_id, "at": at, "recorded_at": at, "person": person, "os_user": "staf", "kind": kind,
                  "step_id": step_id, "payload": payload, "prev_hash": prev}
        digest = event_hash(record)
        db.execute("INSERT INTO events (run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev_hash, hash)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (run_id, at, at, person, "staf", kind, step_id, canonical(payload), prev, digest))
        return digest

    def _due(self, step_id: str, now: datetime) -> str | None:
        d = self.steps[step_id].get("duration")
        return _iso(now + timedelta(days=d["days"], minutes=d["minutes"])) if d else None

    def start(self, run_id: str, period: str, by: str, now: datetime) -> None:
        facts = period_facts(period)
        at = _iso(now)
        db = self.conn
        db.execute("BEGIN IMMEDIATE")
        head = self._event(db, run_id, GENESIS, at, by, "run_started", None, {"period": period, "facts": facts})
        db.execute("INSERT INTO runs (id, state, version, head, facts) VALUES (?, ?, 0, ?, ?)",
                   (run_id, self.first, head, canonical(facts)))
        db.execute("INSERT INTO tasks (run_id, step_id, actor, state, opened_at, due_at) VALUES (?, ?, ?, 'open', ?, ?)",
                   (run_id, self.first, self.steps[self.first]["lanes"][0], at, self._due(self.first, now)))
        db.execute("COMMIT")

    def complete(self, run_id: str, by: str, now: datetime) -> tuple[str, bool]:
        """One step, durably: (the step completed, whether the run ended)."""
        at = _iso(now)
        db = self.conn
        db.execute("BEGIN IMMEDIATE")
        try:
            state, version, head, facts = db.execute(
                "SELECT state, version, head, facts FROM runs WHERE id = ?", (run_id,)).fetchone()
            done = state
            self.machine.set_state(state, model=self.token)
            self.token.facts = json.loads(facts)
            self.token.complete()  # type: ignore[attr-defined]
            db.execute("UPDATE tasks SET state = 'done', closed_at = ?, closed_by = ? WHERE run_id = ? AND state = 'open'",
                       (at, by, run_id))
            head = self._event(db, run_id, head, at, by, "step_completed", done,
                               {"actor": self.steps[done]["lanes"][0], "iteration": 1, "part": 1})
            while self.token.state != END and self.steps[self.token.state]["kind"] == "decision":
                gate = self.token.state
                self.token.auto()  # type: ignore[attr-defined]
                head = self._event(db, run_id, head, at, "sopengine", "decided", gate, {"automatic": True, "to": self.token.state})
            new = self.token.state
            if new != END:
                db.execute("INSERT INTO tasks (run_id, step_id, actor, state, opened_at, due_at) VALUES (?, ?, ?, 'open', ?, ?)",
                           (run_id, new, self.steps[new]["lanes"][0], at, self._due(new, now)))
            db.execute("UPDATE runs SET state = ?, version = ?, head = ? WHERE id = ? AND version = ?",
                       (new, version + 1, head, run_id, version))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self.token.facts = {}
        return done, new == END
