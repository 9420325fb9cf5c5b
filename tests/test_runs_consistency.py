"""A database-wide consistency check, used by the crash, race and path tests, and proved here.

:func:`assert_consistent` reads a sopengine database with plain ``sqlite3`` (or ``psycopg``) and
checks what invariants 1-3 promise, independently of the engine's own reading code:

* ``PRAGMA integrity_check`` and ``foreign_key_check`` pass (on SQLite; PostgreSQL enforces
  its foreign keys as it writes);
* each run's events form an intact hash chain (recomputed with ``chain.event_hash``);
* ``runs.version`` equals the number of change transactions the events record;
* every done task has its event and every completion event its done task;
* the run's tasks are exactly those its history produces: the history is replayed into a
  fresh database from the pinned definition text and the task rows compared.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pg_support import connect
from sopengine import api
from sopengine.chain import GENESIS, event_hash
from sopengine.store.dialect import is_url

ROOT = Path(__file__).resolve().parent.parent
PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"

# Event kinds that open a change transaction of their own (one per command); automatic
# decisions, joins and run_completed ride along in the transaction of the command that caused them.
COMMAND_KINDS = {"run_started", "step_completed", "reopened", "assigned", "unassigned", "run_cancelled"}


def _rows(con: Any, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, args)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def is_command(event: dict[str, Any]) -> bool:
    payload = json.loads(event["payload"]) if isinstance(event["payload"], str) else event["payload"]
    return event["kind"] in COMMAND_KINDS or (event["kind"] == "decided" and not payload.get("automatic"))


def chain_problems(events: list[dict[str, Any]]) -> list[str]:
    """Where a run's chain breaks: a wrong link or a hash that does not match its fields."""
    problems = []
    prev = GENESIS
    for e in events:
        if e["prev_hash"] != prev:
            problems.append(f"event {e['seq']}: prev_hash does not link to the previous event")
        if event_hash(e) != e["hash"]:
            problems.append(f"event {e['seq']}: hash does not match its fields")
        prev = e["hash"]
    return problems


def replay(db: Path, run_id: str, workdir: Path) -> list[tuple[Any, ...]]:
    """The task rows the run's history produces, replayed into a fresh SQLite database."""
    con = connect(db)
    try:
        run = _rows(con, "SELECT * FROM runs WHERE id = ?", (run_id,))[0]
        source = con.execute("SELECT id, source FROM definitions WHERE hash = ?", (run["definition_hash"],)).fetchone()
        events = _rows(con, "SELECT * FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
    finally:
        con.close()
    defs = workdir / "pinned"
    defs.mkdir(parents=True, exist_ok=True)
    (defs / f"{source[0]}.yaml").write_text(source[1], encoding="utf-8")
    target = workdir / "replay.db"
    new_id = None
    for e in events:
        if not is_command(e):
            continue
        p = json.loads(e["payload"])
        who, at = e["person"], e["at"]
        if e["kind"] == "run_started":
            new_id = api.start_run(
                source[0], db=target, definitions=defs, period=p["period"], case=p["case"],
                assign=[(a["role"], a["person"]) for a in p["assignments"]], by=who, now=at, allow_duplicate=True,
                table=p.get("table"),  # the table a format-2 run followed, as recorded when it started
            )["run_id"]
        elif e["kind"] == "step_completed":
            api.complete(target, new_id, step=e["step_id"], by=who, now=at, on_behalf=p.get("on_behalf_of"), note=p.get("note"),
                         outputs=[(d["name"], d["path"]) for d in p.get("documents", [])])
        elif e["kind"] == "decided":
            api.decide(target, new_id, p["outcome"], step=e["step_id"], by=who, now=at, on_behalf=p.get("on_behalf_of"),
                       note=p.get("note"), outputs=[(d["name"], d["path"]) for d in p.get("documents", [])])
        elif e["kind"] == "reopened":
            api.reopen(target, new_id, e["step_id"], reason=p["reason"], by=who, now=at)
        elif e["kind"] == "assigned":
            api.assign(target, new_id, p["role"], p["person"], acting=p["acting"], by=who, now=at)
        elif e["kind"] == "unassigned":
            api.assign(target, new_id, p["role"], p["person"], remove=True, by=who, now=at)
        elif e["kind"] == "run_cancelled":
            api.cancel(target, new_id, reason=p["reason"], by=who, now=at)
    return _task_shape(target, new_id)


def _task_shape(db: Path, run_id: str | None) -> list[tuple[Any, ...]]:
    con = connect(db)
    try:
        return [
            tuple(r) for r in con.execute(
                "SELECT step_id, part, iteration, actor, state, closed_by, outcome, on_behalf_of, opened_at, closed_at"
                " FROM tasks WHERE run_id = ? ORDER BY id", (run_id,),
            )
        ]
    finally:
        con.close()


def assert_consistent(db: Path, workdir: Path | None = None, replays: int | None = None) -> dict[str, dict[str, Any]]:
    """Check the whole database; returns each run's row.

    ``workdir`` enables the replay check, of every run or of ``replays`` runs spread over them.
    """
    con = connect(db)
    try:
        if not is_url(db):
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        runs = {r["id"]: r for r in _rows(con, "SELECT * FROM runs")}
        for run_id, run in runs.items():
            events = _rows(con, "SELECT * FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
            tasks = _rows(con, "SELECT * FROM tasks WHERE run_id = ? ORDER BY id", (run_id,))
            assert events and events[0]["kind"] == "run_started", run_id
            assert chain_problems(events) == [], run_id
            assert run["version"] == sum(1 for e in events if is_command(e)), run_id
            done = Counter(
                (t["step_id"], t["part"], t["iteration"], t["closed_by"], t["closed_at"], t["outcome"])
                for t in tasks if t["state"] == "done"
            )
            recorded = Counter()
            for e in events:
                if e["kind"] in ("step_completed", "decided") and is_command(e):
                    p = json.loads(e["payload"])
                    part = p.get("part", 1) - 1
                    recorded[(e["step_id"], part, p["iteration"], e["person"], e["at"], p.get("outcome"))] += 1
            assert done == recorded, run_id
            live = [t for t in tasks if t["state"] in ("open", "waiting")]
            kinds = [e["kind"] for e in events]
            if run["status"] == "active":
                assert any(t["state"] == "open" for t in live), run_id
                assert run["finished_at"] is None
            else:
                assert live == [], run_id
                assert run["finished_at"] is not None
                assert kinds[-1] == ("run_completed" if run["status"] == "completed" else "run_cancelled"), run_id
    finally:
        con.close()
    if workdir is not None:
        chosen = sorted(runs)
        if replays is not None and len(chosen) > replays:
            chosen = chosen[:: -(-len(chosen) // replays)]
        for n, run_id in enumerate(chosen):
            assert replay(db, run_id, workdir / f"replay-{n}") == _task_shape(db, run_id), run_id
    return runs


# -- the check itself must be able to fail ---------------------------------------------------------

def _run_with_a_loop(db: Path) -> str:
    run_id = api.start_run("split-join-loop", db=db, definitions=PARALLEL, now=NOW, by="Rina")["run_id"]
    api.complete(db, run_id, step="bagi-tugas", now=NOW, by="Rina")
    api.complete(db, run_id, step="arsipkan", now=NOW, by="Dedi")
    api.complete(db, run_id, step="olah-data", now=NOW, by="Sari")
    api.decide(db, run_id, "Tidak", now=NOW, by="Rina")
    api.complete(db, run_id, step="olah-data", now=NOW, by="Sari")
    api.decide(db, run_id, "Ya", now=NOW, by="Rina")
    return run_id


def _unguarded_copy(db: Path, tmp_path: Path) -> sqlite3.Connection:
    """A copy of the database with the append-only triggers dropped, to forge changes."""
    copy = tmp_path / "forged.db"
    shutil.copy(db, copy)
    con = sqlite3.connect(copy, isolation_level=None)
    con.execute("DROP TRIGGER events_append_only_update")
    con.execute("DROP TRIGGER events_append_only_delete")
    return con


def test_a_consistent_database_passes_with_its_replay(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = _run_with_a_loop(db)
    runs = assert_consistent(db, tmp_path)
    assert runs[run_id]["version"] == 7


@pytest.mark.sqlite_only
@pytest.mark.parametrize("forge", [
    "UPDATE events SET person = 'Orang Lain' WHERE kind = 'step_completed' AND step_id = 'arsipkan'",
    "DELETE FROM events WHERE seq = (SELECT seq FROM events WHERE kind = 'decided' LIMIT 1)",
    "UPDATE runs SET version = version + 1",
    "UPDATE tasks SET state = 'open', closed_at = NULL, closed_by = NULL WHERE step_id = 'arsipkan'",
    ("INSERT INTO tasks (run_id, step_id, part, iteration, actor, state, opened_at)"
     " SELECT run_id, 'setujui', 0, 9, 'kepala-bidang', 'done', opened_at FROM tasks LIMIT 1"),
])
def test_the_check_finds_forged_changes(tmp_path: Path, forge: str) -> None:
    db = tmp_path / "x.db"
    _run_with_a_loop(db)
    con = _unguarded_copy(db, tmp_path)
    con.execute(forge)
    con.close()
    with pytest.raises(AssertionError):
        assert_consistent(tmp_path / "forged.db")


@pytest.mark.sqlite_only
def test_the_replay_finds_a_task_the_history_does_not_explain(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = _run_with_a_loop(db)
    con = _unguarded_copy(db, tmp_path)
    # An extra open task: chain, version and done tasks still agree; only the replay differs.
    con.execute(
        "INSERT INTO tasks (run_id, step_id, part, iteration, actor, state, opened_at) VALUES (?, 'setujui', 0, 2, 'kepala-bidang', 'open', ?)",
        (run_id, "2026-10-01T02:00:00Z"),
    )
    con.close()
    assert_consistent(tmp_path / "forged.db")
    with pytest.raises(AssertionError):
        assert_consistent(tmp_path / "forged.db", tmp_path)
