"""SpiffWorkflow 3 running an SOP written as BPMN, each workflow saved as JSON in SQLite.

This is how SpiffWorkflow's own documentation and its users keep a workflow between
requests: ``BpmnWorkflowSerializer.serialize_json`` after every task, the JSON stored in a
database row (here SQLite in WAL mode with ``synchronous=NORMAL``, one ``BEGIN IMMEDIATE``
transaction per task, as sopengine writes a step). Three ways of carrying a step are offered,
named for what they do:

* :meth:`SpiffRuns.complete_bare` — bare, in memory: the workflow object kept between steps
  and never written (not durable: a restart loses it);
* :meth:`SpiffRuns.complete` — in memory, saved each step: the object kept between steps and
  its JSON written after each (a long-running service that never restarts);
* :meth:`SpiffRuns.complete_loaded` — load + advance + save: the workflow read back from its
  JSON, advanced and written (a service with several workers or processes, which is how
  sopengine itself works: every step reads the run from the database). The fair comparison
  with a durable sopengine step.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.util.task import TaskState

PROCESS_ID = "pengumpulan_data"


class SpiffRuns:
    """Workflows of one BPMN process, stored one JSON row per workflow in an SQLite file."""

    def __init__(self, db: Path, bpmn: Path, process_id: str = PROCESS_ID) -> None:
        parser = BpmnParser()
        parser.add_bpmn_file(str(bpmn))
        self.spec = parser.get_spec(process_id)
        self.serializer = BpmnWorkflowSerializer()
        self.conn = sqlite3.connect(str(db), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS workflows (id TEXT PRIMARY KEY, serialization TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )
        self.live: dict[str, BpmnWorkflow] = {}
        self.last_size = 0

    def close(self) -> None:
        self.conn.close()

    def start(self, run_id: str, facts: dict[str, Any], at: str) -> None:
        """Start a workflow; *facts* become the data its gateways' conditions read."""
        wf = BpmnWorkflow(self.spec)
        wf.do_engine_steps()
        self._ready(wf).set_data(**facts)
        self.live[run_id] = wf
        self._save(run_id, wf, at, insert=True)

    def complete_bare(self, run_id: str, by: str, at: str) -> str:
        """Complete the ready user task of a workflow kept in memory, and save nothing."""
        return self._step(run_id, self.live[run_id], by, at, save=False)

    def complete(self, run_id: str, by: str, at: str) -> str:
        """Complete the ready user task of a workflow kept in memory; save it. Returns the task id."""
        return self._step(run_id, self.live[run_id], by, at)

    def complete_loaded(self, run_id: str, by: str, at: str) -> str:
        """Read the workflow from its JSON, complete its ready user task, save it."""
        row = self.conn.execute("SELECT serialization FROM workflows WHERE id = ?", (run_id,)).fetchone()
        wf = self.serializer.deserialize_json(row[0])
        return self._step(run_id, wf, by, at)

    def done(self, run_id: str) -> bool:
        return self.live[run_id].is_completed()

    def _step(self, run_id: str, wf: BpmnWorkflow, by: str, at: str, save: bool = True) -> str:
        task = self._ready(wf)
        task.set_data(completed_by=by, completed_at=at)  # what a user task's form hands back
        task.run()
        wf.do_engine_steps()  # the exclusive gateways decide here, from the task data
        if save:
            self._save(run_id, wf, at)
        self.live[run_id] = wf
        return task.task_spec.name

    @staticmethod
    def _ready(wf: BpmnWorkflow) -> Any:
        ready = wf.get_tasks(state=TaskState.READY)
        if len(ready) != 1:
            raise RuntimeError(f"expected one ready task, found {[t.task_spec.name for t in ready]}")
        return ready[0]

    def _save(self, run_id: str, wf: BpmnWorkflow, at: str, insert: bool = False) -> None:
        data = self.serializer.serialize_json(wf)
        self.last_size = len(data)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if insert:
                self.conn.execute("INSERT INTO workflows (id, serialization, updated_at) VALUES (?, ?, ?)", (run_id, data, at))
            else:
                self.conn.execute("UPDATE workflows SET serialization = ?, updated_at = ? WHERE id = ?", (data, at, run_id))
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
