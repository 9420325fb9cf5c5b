"""The step path: one write transaction per step, few statements, each run's chain head on its row.

A step takes the database's write lock first (``BEGIN IMMEDIATE``), reads the run, its open
tasks and its assignments in one statement, fires the trigger and writes: the run's row
(version, chain head), the task closed, the task opened, the event — then ``COMMIT``.
Statements are counted with ``sqlite3.Connection.set_trace_callback`` on the open store's
own connection: every statement SQLite runs for the step, ``BEGIN`` and ``COMMIT`` included.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sopengine import api, runs
from sopengine.chain import GENESIS
from sopengine.store import Store

RELEASE = Path(__file__).resolve().parent / "data" / "release-0.1"
PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-12-01T09:00"


def traced(store: Store, call) -> list[str]:
    """The statements SQLite runs on *store*'s connection during *call*."""
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        store.conn.set_trace_callback(None)
    return statements


def heads(db: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Each run's head as its row keeps it, and each run's last event hash."""
    con = sqlite3.connect(db)
    try:
        kept = dict(con.execute("SELECT id, head FROM runs"))
        last = dict(con.execute("SELECT run_id, hash FROM events WHERE seq IN (SELECT MAX(seq) FROM events GROUP BY run_id)"))
    finally:
        con.close()
    return kept, last


def test_a_plain_step_is_seven_statements_in_one_transaction(tmp_path: Path) -> None:
    with Store(tmp_path / "x.db", create=True) as store:
        run_id = runs.start_run("pengumpulan-data", db=store, period="2026-12", now=NOW, by="Agus")["run_id"]
        runs.complete(store, run_id, step="1", now=NOW, by="Agus")  # the definition and calendar are now cached

        statements = traced(store, lambda: runs.complete(store, run_id, step="2", now=NOW, by="Sari"))

    verbs = [s.split()[0].upper() for s in statements]
    assert verbs == ["BEGIN", "SELECT", "UPDATE", "UPDATE", "INSERT", "INSERT", "COMMIT"], statements
    assert statements[0] == "BEGIN IMMEDIATE"  # the write lock before the run is read
    assert verbs.count("COMMIT") == 1 and len(statements) <= 7
    # no search of the events for the chain, no read of earlier visits, no second read
    assert not any("FROM events" in s and s.startswith("SELECT") for s in statements)
    assert not any("GROUP BY" in s for s in statements)


def test_assignments_and_a_decision_cost_no_extra_statement(tmp_path: Path) -> None:
    """The assignee check reads the assignments the run's read brought; the gate rides along."""
    with Store(tmp_path / "x.db", create=True) as store:
        run_id = runs.start_run("pengumpulan-data", db=store, period="2026-12", now=NOW, by="Agus",
                                assign=[("kasubag-pep", "Sari"), ("staf-evaluasi", "Dedi")])["run_id"]
        runs.complete(store, run_id, step="1", now=NOW, by="Agus")
        statements = traced(store, lambda: runs.complete(store, run_id, step="2", now=NOW, by="Sari"))
        assert len(statements) == 7, statements
        for n, who in ((3, "Dedi"), (4, "Dedi")):
            runs.complete(store, run_id, step=str(n), now=NOW, by=who)
        # row 5 leads through the automatic semester gate: its event is in the same single INSERT
        statements = traced(store, lambda: runs.complete(store, run_id, step="5", now=NOW, by="Sari"))
        assert len(statements) == 7, statements
        assert sum(s.startswith("INSERT INTO events") for s in statements) == 1
    kinds = [r[0] for r in sqlite3.connect(tmp_path / "x.db").execute(
        "SELECT kind FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 2", (run_id,))]
    assert kinds == ["decided", "step_completed"]


def test_each_run_keeps_its_chain_head_on_its_row(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    first = api.start_run("pengumpulan-data", db=db, period="2026-06", now=NOW)["run_id"]
    second = api.start_run("surat-keluar", db=db, now=NOW)["run_id"]
    for n in range(1, 4):
        api.complete(db, first, step=str(n), now=NOW)
    api.complete(db, second, step="1", now=NOW)
    api.assign(db, second, "kasubag-umpar", "Hendra", now=NOW)
    api.cancel(db, second, reason="dobel", now=NOW)
    kept, last = heads(db)
    assert kept == last and set(kept) == {first, second}
    con = sqlite3.connect(db)
    (prev,) = con.execute("SELECT prev_hash FROM events WHERE run_id = ? ORDER BY seq LIMIT 1", (first,)).fetchone()
    con.close()
    assert prev == GENESIS
    assert api.verify(db)["ok"]


def test_a_refused_step_leaves_the_head_and_the_version(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-12", now=NOW)["run_id"]
    before = heads(db)
    try:
        api.complete(db, run_id, step="3", now=NOW)
    except Exception as exc:  # noqa: BLE001 - the refusal itself is tested elsewhere
        assert "is not open" in str(exc)
    assert heads(db) == before
    assert api.run_status(db, run_id, now=NOW)["version"] == 1


def test_the_migration_fills_the_heads_of_a_release_0_1_database(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    shutil.copy(RELEASE / "sopengine.db", db)
    for extra in RELEASE.iterdir():  # documents recorded beside the database
        if extra.is_dir():
            shutil.copytree(extra, tmp_path / extra.name)
    con = sqlite3.connect(db)
    assert "head" not in [r[1] for r in con.execute("PRAGMA table_info(runs)")]
    con.close()
    Store(db).close()  # a write-capable open migrates
    kept, last = heads(db)
    assert kept == last and len(kept) > 5
    # and the next step chains from the head kept, as verify confirms
    run = next(r for r in api.list_runs(db) if r["open_steps"] and r["open_steps"][0]["kind"] == "process")
    step = run["open_steps"][0]
    status = api.run_status(db, run["run_id"])
    assigned = [a["person"] for a in status["assignments"] if a["role"] == step["actor"]]
    api.complete(db, run["run_id"], step=step["step"], now="2026-11-23T09:00", by=assigned[0] if assigned else "Petugas",
                 on_behalf="Warga" if step["actor"] == "pengguna-layanan" else None)
    kept, last = heads(db)
    assert kept == last
    assert api.verify(db)["ok"]


def test_visit_numbers_come_from_the_store_through_loops_and_joins(tmp_path: Path) -> None:
    """A correction loop and a join visited twice number their visits as before."""
    db = tmp_path / "x.db"
    run_id = api.start_run("surat-keluar", db=db, now=NOW)["run_id"]
    api.complete(db, run_id, step="1", now=NOW)
    for outcome in ("Tidak", "Tidak", "Ya"):
        api.complete(db, run_id, step="2", now=NOW)
        api.decide(db, run_id, outcome, step="3", now=NOW)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT step_id, iteration, state FROM tasks WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
    con.close()
    assert [i for s, i, _ in rows if s == "ketik-konsep"] == [1, 2, 3]
    assert [i for s, i, _ in rows if s == "periksa-kasubag"] == [1, 2, 3]
    assert [i for s, i, _ in rows if s == "konsep-surat"] == [1]
