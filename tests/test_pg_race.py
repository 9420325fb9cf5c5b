"""Many processes changing one PostgreSQL database at once, and a kill -9 inside a transaction.

The PostgreSQL counterpart of ``test_race.py`` and ``test_crash.py``: each racer is a real
Python process that imports the command line, then waits for a barrier file, so that they all
act together. On PostgreSQL a step locks its run's row (not the whole database), so steps of
different runs proceed side by side; their events are numbered from one counter row each
transaction keeps locked until it ends, so ``seq`` is gap-free and in commit order.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import pg_support
from pg_support import connect, rows, value
from sopengine import api
from test_race import race as sqlite_race
from test_runs_consistency import assert_consistent

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

NOW = "2026-10-01T09:00"
RACERS = 8

def race(tmp_path: Path, commands: list[list[str]]) -> list[tuple[int, str, str]]:
    """The racers of tests/test_race.py, with the driver loaded before the start and a longer busy timeout."""
    env = {**os.environ, "SOPENGINE_LANG": "en", "SOPENGINE_BUSY_TIMEOUT_MS": "60000"}
    return sqlite_race(tmp_path, commands, env=env, preload="import psycopg, psycopg_pool", timeout=120)


def assert_seq_gap_free(db: str) -> int:
    """Every event numbered 1..N with no gap, the counter at N; returns N."""
    seqs = [s for (s,) in rows(db, "SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    assert value(db, "SELECT value FROM counters WHERE name = 'events'") == len(seqs)
    return len(seqs)


def assert_audit_clean(db: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sopengine", "--db", db, "audit", "verify"], cwd=tmp_path,
                          env={**os.environ, "SOPENGINE_LANG": "en"}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK: "), proc.stdout


def test_racing_to_complete_the_same_step_one_wins(pg_db: str, tmp_path: Path) -> None:
    db = pg_db
    for _round in range(2):
        run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12", allow_duplicate=True)["run_id"]
        results = race(tmp_path, [
            ["complete", run_id, "--step", "1", "--by", f"P{i}", "--db", db, "--now", NOW] for i in range(RACERS)
        ])
        winners = [i for i, (rc, _, _) in enumerate(results) if rc == 0]
        assert len(winners) == 1, results
        winner = f"P{winners[0]}"
        assert f"Completed kumpulkan-data of run {run_id} ({winner})" in results[winners[0]][1]
        for i, (rc, _stdout, stderr) in enumerate(results):
            if i in winners:
                continue
            assert rc == 1, (rc, stderr)
            assert stderr.startswith("Error: ") and "Traceback" not in stderr
            assert len(stderr.strip().splitlines()) == 1, stderr
            # who completed it, and when (shown in WIB)
            assert re.search(rf"(already completed|last completed) by {winner} at 2026-10-01 09:00 WIB", stderr), stderr
        assert value(db, "SELECT COUNT(*) FROM events WHERE run_id = ? AND kind = 'step_completed'", run_id) == 1
        assert value(db, "SELECT COUNT(*) FROM tasks WHERE run_id = ? AND step_id = 'kumpulkan-data'", run_id) == 1
        status = api.run_status(db, run_id, now=NOW)
        assert [s["step"] for s in status["open_steps"]] == ["rekap-laporan"]
        assert status["version"] == 2
    assert assert_seq_gap_free(db) == 4  # two starts, two completions
    assert_consistent(db, tmp_path)
    assert_audit_clean(db, tmp_path)


def test_racers_each_on_their_own_run_all_succeed_numbered_in_commit_order(pg_db: str, tmp_path: Path) -> None:
    db = pg_db
    run_ids = [api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12", allow_duplicate=True)["run_id"]
               for _ in range(RACERS)]
    # A reader watching meanwhile sees the numbers 1..k each time, never a later number before
    # an earlier one has committed: numbered in commit order.
    seen: list[list[int]] = []
    stop = threading.Event()

    def watch() -> None:
        con = connect(db)
        try:
            while not stop.is_set():
                seen.append([s for (s,) in con.execute("SELECT seq FROM events ORDER BY seq").fetchall()])
        finally:
            con.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for step in ("1", "2", "3"):
            results = race(tmp_path, [
                ["complete", run_id, "--step", step, "--by", f"P{i}", "--db", db, "--now", NOW] for i, run_id in enumerate(run_ids)
            ])
            assert [rc for rc, _, _ in results] == [0] * RACERS, [err for _, _, err in results]
    finally:
        stop.set()
        watcher.join()
    assert len({len(s) for s in seen}) > 2  # it saw the numbers grow
    assert [s for s in seen if s != list(range(1, len(s) + 1))] == []
    assert assert_seq_gap_free(db) == RACERS * 4
    # In commit order: each run's chain links event to event in seq order, so no event was
    # numbered before another of its run that committed earlier; every run has every step.
    for run_id in run_ids:
        kinds = [k for (k,) in rows(db, "SELECT kind FROM events WHERE run_id = ? ORDER BY seq", run_id)]
        assert kinds == ["run_started", "step_completed", "step_completed", "step_completed"], run_id
        assert api.run_status(db, run_id, now=NOW)["version"] == 4
    assert_consistent(db, tmp_path)
    assert_audit_clean(db, tmp_path)


def test_racing_starts_of_one_period_start_one_run(pg_db: str, tmp_path: Path) -> None:
    db = pg_db
    results = race(tmp_path, [
        ["run", "pengumpulan-data", "--period", "2026-11", "--db", db, "--by", f"P{i}"] for i in range(RACERS)
    ])
    assert sorted(rc for rc, _, _ in results) == [0] + [1] * (RACERS - 1), results
    assert value(db, "SELECT COUNT(*) FROM runs WHERE period = '2026-11'") == 1
    for rc, _, err in results:
        if rc:
            assert re.fullmatch(r"Error: run \S+ of pengumpulan-data for 2026-11 is still active; continue it, or pass --allow-duplicate\n", err)
    assert assert_seq_gap_free(db) == 1
    assert_consistent(db, tmp_path)


def test_racing_first_commands_on_an_empty_database_prepare_it_once(pg_server: pg_support.PgServer, tmp_path: Path) -> None:
    name, db = pg_server.create(template="template0")  # no schema yet: whichever racer is first prepares it
    try:
        results = race(tmp_path, [
            ["run", "pengumpulan-data", "--period", f"2027-{i + 1:02d}", "--db", db, "--by", f"P{i}"] for i in range(RACERS)
        ])
        assert [rc for rc, _, _ in results] == [0] * RACERS, results
        assert value(db, "SELECT COUNT(*) FROM schema_migrations") == 1
        assert value(db, "SELECT COUNT(*) FROM runs") == RACERS
        assert assert_seq_gap_free(db) == RACERS
        assert_consistent(db, tmp_path)
    finally:
        pg_server.drop(name)


def test_a_preparer_that_waited_for_the_schema_lock_sees_the_schema_the_first_one_made(
        pg_server: pg_support.PgServer) -> None:
    # The interleaving behind a rare failure of the race above, made deterministic: the second
    # process asked the schema's version while the first had made the schema but not committed it,
    # then waited for the schema lock. PostgreSQL keeps that "no such table" in the connection's
    # catalogue cache until something makes it read the catalogue's changes (a table lock; or, by
    # chance, the many changes a whole schema sends), so after the wait the version must come
    # from a query that reads the catalogue afresh. The first preparer here makes only the
    # migrations table: too few changes to refresh the cache by chance.
    import psycopg

    from sopengine.store import pg_schema
    from sopengine.store.pg import PgConnection

    name, db = pg_server.create(template="template0")
    first = psycopg.connect(db, autocommit=True)
    second = psycopg.connect(db, autocommit=True)
    try:
        one, two = PgConnection(None, first, 10), PgConnection(None, second, 10)
        one.execute("BEGIN IMMEDIATE")  # READ COMMITTED, as the store prepares a schema
        one.execute(f"SELECT pg_advisory_xact_lock({pg_schema._LOCK})")
        one.execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        one.execute("INSERT INTO schema_migrations VALUES (?, 'made by the first', '')", (pg_schema.LATEST,))
        assert pg_schema.version(two) == 0  # what the second saw before the first committed
        two.execute("BEGIN IMMEDIATE")
        found: list[set[str]] = []
        waiter = threading.Thread(target=lambda: found.append(pg_schema.migrate(two, "2026-12-03T00:00:01+07:00")))
        waiter.start()
        waiting_backend(db, "SELECT pg_advisory_xact_lock", time.monotonic() + 60)  # the second waits for the schema lock
        one.execute("COMMIT")
        waiter.join(60)
        assert not waiter.is_alive()
        two.execute("COMMIT")
        assert found == [set()]  # not "not a sopengine database (it has tables schema_migrations)"
        assert first.execute("SELECT version, name FROM schema_migrations").fetchall() == [(pg_schema.LATEST, "made by the first")]
    finally:
        first.close()
        second.close()
        pg_server.drop(name)


def test_an_empty_database_holding_other_tables_is_refused_untouched(pg_server: pg_support.PgServer, tmp_path: Path) -> None:
    name, db = pg_server.create(template="template0")
    try:
        conn = connect(db)
        conn.execute("CREATE TABLE payroll (id INT)")
        conn.close()
        results = race(tmp_path, [["run", "pengumpulan-data", "--period", "2027-01", "--db", db]] * 3)
        for rc, _, err in results:
            assert rc != 0 and err.startswith("Error: ") and err.count("\n") == 1 and "payroll" in err, results
        assert value(db, "SELECT to_regclass('schema_migrations') IS NULL") is True
    finally:
        pg_server.drop(name)


# -- kill -9 inside a transaction ---------------------------------------------------------------------


def table_rows(db: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a step writes, in a fixed order."""
    return {
        "runs": rows(db, "SELECT * FROM runs ORDER BY id"),
        "tasks": rows(db, "SELECT * FROM tasks ORDER BY id"),
        "events": rows(db, "SELECT * FROM events ORDER BY seq"),
        "assignments": rows(db, "SELECT * FROM assignments ORDER BY run_id, role, person"),
        "documents": rows(db, "SELECT * FROM documents ORDER BY id"),
        "counters": rows(db, "SELECT * FROM counters ORDER BY name"),
    }


def waiting_backend(db: str, statement: str, deadline: float) -> int:
    """The server process of the session whose current *statement* waits for a lock."""
    while time.monotonic() < deadline:
        found = rows(
            db,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND wait_event_type = 'Lock' AND query LIKE ?", statement + "%",
        )
        if found:
            return int(found[0][0])
        time.sleep(0.02)
    raise AssertionError(f"no session came to wait at {statement!r}")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_inside_a_step_leaves_the_run_as_it_was(pg_db: str, tmp_path: Path) -> None:
    """A ``complete`` killed once it has changed the run and its tasks but before its events are
    numbered (the test holds the counter row): nothing of it is kept, and the next command works."""
    db = pg_db
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    api.complete(db, run_id, step="1", now=NOW, by="Ani")
    before = table_rows(db)

    holder = connect(db)
    try:
        holder.execute("BEGIN")
        holder.execute("SELECT value FROM counters WHERE name = 'events' FOR UPDATE")
        env = {**os.environ, "SOPENGINE_LANG": "en", "SOPENGINE_BUSY_TIMEOUT_MS": "120000"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "sopengine", "--db", db, "--now", NOW, "complete", run_id, "--step", "2", "--by", "Budi"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            # the step has updated its run and tasks and now waits to number its event
            backend = waiting_backend(db, "INSERT INTO events", time.monotonic() + 60)
            assert value(db, "SELECT state FROM pg_stat_activity WHERE pid = ?", backend) == "active"
            # it has written already: UPDATE runs and UPDATE tasks hold their tables' row-exclusive locks
            written = {t for (t,) in rows(
                db, "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " WHERE l.pid = ? AND l.mode = 'RowExclusiveLock' AND l.granted", backend)}
            assert {"runs", "tasks"} <= written, written
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert table_rows(db) == before  # nothing it wrote is seen while it hangs in the server
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    # The server notices its client is gone when the statement ends; the transaction is rolled back.
    deadline = time.monotonic() + 60
    while value(db, "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = ?", backend) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert value(db, "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = ?", backend) == 0
    assert table_rows(db) == before

    proc2 = subprocess.run(
        [sys.executable, "-m", "sopengine", "--db", db, "--now", NOW, "complete", run_id, "--step", "2", "--by", "Budi"],
        cwd=tmp_path, env={**os.environ, "SOPENGINE_LANG": "en"}, capture_output=True, text=True, timeout=60,
    )
    assert proc2.returncode == 0, proc2.stderr
    assert f"Completed rekap-laporan of run {run_id} (Budi)" in proc2.stdout
    assert assert_seq_gap_free(db) == 3  # the number the killed step took was given back
    assert [s["step"] for s in api.run_status(db, run_id, now=NOW)["open_steps"]] == ["olah-data"]
    assert_consistent(db, tmp_path)
    assert_audit_clean(db, tmp_path)


# -- a lock held too long ------------------------------------------------------------------------------


@pytest.mark.parametrize("held", ["run", "writer", "table"])
def test_a_lock_held_longer_than_the_busy_timeout_is_exit_4_try_again(pg_db: str, tmp_path: Path, held: str) -> None:
    """Another session holds the run's row (a step of the same run), the database's writer lock (a start) or
    the whole runs table (a maintenance job; a reader waits too): the command waits SOPENGINE_BUSY_TIMEOUT_MS,
    then says so in one line, exit 4, nothing changed."""
    from sopengine.store.pg import WRITER_LOCK

    db = pg_db
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    before = table_rows(db)
    if held == "run":
        command = ["complete", run_id, "--step", "1", "--by", "Ani"]
    elif held == "writer":
        command = ["run", "pengumpulan-data", "--period", "2027-01"]
    else:
        command = ["status"]
    holder = connect(db)
    try:
        holder.execute("BEGIN")
        if held == "run":
            holder.execute("SELECT id FROM runs WHERE id = ? FOR UPDATE", (run_id,))
        elif held == "writer":
            holder.execute(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")
        else:
            holder.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
        done = subprocess.run(
            [sys.executable, "-m", "sopengine", "--db", db, "--now", NOW, *command], cwd=tmp_path,
            env={**os.environ, "SOPENGINE_LANG": "en", "SOPENGINE_BUSY_TIMEOUT_MS": "300"},
            capture_output=True, text=True, timeout=60,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 4, done.stderr
    assert done.stdout == ""
    assert done.stderr == (f"Error: {db} is busy: another command has been writing to it for more than 0.3 s;"
                           " try again in a moment (nothing was changed)\n")
    assert table_rows(db) == before
    again = subprocess.run([sys.executable, "-m", "sopengine", "--db", db, "--now", NOW, *command], cwd=tmp_path,
                           env={**os.environ, "SOPENGINE_LANG": "en"}, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert_seq_gap_free(db)


# -- kill -9 in a stream of changes ------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_during_a_stream_of_completions_leaves_a_consistent_database(pg_db: str, tmp_path: Path) -> None:
    """As ``test_crash.py`` on SQLite: a child carries runs forward as fast as it can and is killed at a random
    moment, again and again; every change is whole or absent, the numbers stay gap-free, and the runs finish."""
    from test_crash import PARALLEL, start_worker

    db = pg_db
    for _ in range(4):
        api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12", allow_duplicate=True)
        api.start_run("split-join-loop", db=db, definitions=PARALLEL, now=NOW)
    rng = random.Random(os.getpid())
    progress = [value(db, "SELECT COALESCE(SUM(version), 0) FROM runs")]
    for _ in range(5):
        worker = start_worker(tmp_path, db)  # type: ignore[arg-type]  # an address, as --db takes it
        time.sleep(rng.uniform(0.01, 0.1))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert worker.returncode == -signal.SIGKILL
        worker.communicate()
        assert_consistent(db)
        assert_seq_gap_free(db)
        progress.append(value(db, "SELECT COALESCE(SUM(version), 0) FROM runs"))
    assert all(b > a for a, b in pairwise(progress)), progress

    last = subprocess.run([sys.executable, str(tmp_path / "worker.py"), db, str(PARALLEL), "finish"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert last.returncode == 0, last.stderr
    assert {r["status"] for r in api.list_runs(db, include_closed=True)} == {"completed"}
    assert_seq_gap_free(db)
    assert_consistent(db, tmp_path, replays=4)
    assert_audit_clean(db, tmp_path)


CREATOR = """
import sys
from sopengine import api

print("ready", flush=True)
for n in range(1, 13):
    api.start_run("pengumpulan-data", db=sys.argv[1], period=f"2026-{n:02d}")
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_while_an_empty_database_is_prepared_leaves_one_the_next_command_can_use(
    pg_server: pg_support.PgServer, tmp_path: Path,
) -> None:
    script = tmp_path / "creator.py"
    script.write_text(CREATOR, encoding="utf-8")
    rng = random.Random(os.getpid())
    for _attempt in range(3):
        name, db = pg_server.create(template="template0")  # no schema yet: the first command prepares it
        try:
            proc = subprocess.Popen([sys.executable, str(script), db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
            # whatever moment the kill hit, the schema is all there or not at all, and the next start works
            run_id = api.start_run("pengumpulan-data", db=db, period="2027-01")["run_id"]
            assert api.run_status(db, run_id)["status"] == "active"
            assert value(db, "SELECT COUNT(*) FROM schema_migrations") == 1
            assert_seq_gap_free(db)
            assert_consistent(db)
        finally:
            pg_server.drop(name)


def test_a_step_of_one_run_does_not_wait_for_another_runs_step(pg_db: str, tmp_path: Path) -> None:
    """A step locks its own run's row only: while another session holds run A's row, run B's step goes through."""
    db = pg_db
    first = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-11")["run_id"]
    second = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    holder = connect(db)
    try:
        holder.execute("BEGIN")
        holder.execute("SELECT id FROM runs WHERE id = ? FOR UPDATE", (first,))
        done = subprocess.run(
            [sys.executable, "-m", "sopengine", "--db", db, "--now", NOW, "complete", second, "--step", "1", "--by", "Ani"],
            cwd=tmp_path, env={**os.environ, "SOPENGINE_LANG": "en", "SOPENGINE_BUSY_TIMEOUT_MS": "300"},
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        # the held run's step waits, and gives up after the busy timeout
        held = subprocess.run(
            [sys.executable, "-m", "sopengine", "--db", db, "--now", NOW, "complete", first, "--step", "1", "--by", "Ani"],
            cwd=tmp_path, env={**os.environ, "SOPENGINE_LANG": "en", "SOPENGINE_BUSY_TIMEOUT_MS": "300"},
            capture_output=True, text=True, timeout=60,
        )
        assert held.returncode == 4, held.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [s["step"] for s in api.run_status(db, second, now=NOW)["open_steps"]] == ["rekap-laporan"]
    assert [s["step"] for s in api.run_status(db, first, now=NOW)["open_steps"]] == ["kumpulkan-data"]
    assert assert_seq_gap_free(db) == 3


def test_a_rename_waiting_for_a_run_that_ends_meanwhile_leaves_that_run_alone(pg_db: str, tmp_path: Path) -> None:
    """A rename reads the active runs' assignments, then waits for the row of a run whose cancel is
    committing: once it holds the row it reads again, and writes nothing to the cancelled run."""
    from sopengine import people
    from sopengine.identity import os_user

    db = pg_db
    people.add_person(db, "Kepala Kantor", logins=[os_user()], access="admin", now=NOW)
    people.add_person(db, "Agus", roles=["sekretaris-dinas"], now=NOW)
    ended = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12", assign=[("sekretaris-dinas", "Agus")])["run_id"]
    kept = api.start_run("pengumpulan-data", db=db, now=NOW, period="2027-01", assign=[("sekretaris-dinas", "Agus")])["run_id"]
    holder = connect(db)  # holds the events' counter: the cancel locks its run, then waits to number its event
    holder.execute("BEGIN")
    holder.execute("SELECT value FROM counters WHERE name = 'events' FOR UPDATE")
    outcomes: dict[str, Any] = {}

    def act(name: str, call: Any) -> None:
        try:
            outcomes[name] = call()
        except Exception as exc:  # the assertion below names it
            outcomes[name] = exc

    deadline = time.monotonic() + 30
    cancel = threading.Thread(target=act, args=("cancel", lambda: api.cancel(db, ended, reason="contoh", now=NOW)))
    rename = threading.Thread(target=act, args=("rename", lambda: people.edit_person(db, "Agus", rename="Agus Baru", now=NOW)))
    try:
        cancel.start()
        waiting_backend(db, "INSERT INTO events", deadline)
        rename.start()
        waiting_backend(db, "SELECT id FROM runs WHERE id = ANY", deadline)
    finally:
        holder.execute("COMMIT")
        holder.close()
        cancel.join(30)
        rename.join(30)
    assert outcomes["cancel"]["status"] == "cancelled", outcomes
    assert outcomes["rename"]["changed"] is True, outcomes
    kinds = [k for (k,) in rows(db, "SELECT kind FROM events WHERE run_id = ? ORDER BY seq", ended)]
    assert kinds[-1] == "run_cancelled" and "unassigned" not in kinds, kinds
    assert rows(db, "SELECT person FROM assignments WHERE run_id = ?", ended) == [("Agus",)]
    assert rows(db, "SELECT person FROM assignments WHERE run_id = ?", kept) == [("Agus Baru",)]
    assert_seq_gap_free(db)
    assert_audit_clean(db, tmp_path)
