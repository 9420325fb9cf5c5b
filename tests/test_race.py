"""Several processes changing one run at once (invariant 2): one wins, the others are told why.

Each racer is a real Python process that imports the command line, then waits for a barrier
file; the test creates the file once every racer is ready, so that they all act together.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sopengine import api
from test_runs_consistency import assert_consistent

pytestmark = pytest.mark.slow

NOW = "2026-10-01T09:00"
RACERS = 6

CHILD = """
import os, sys, time
from sopengine.cli import cli
import sopengine.cli.runs, sopengine.runs, sopengine.status, sopengine.api  # loaded before the start
{preload}
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.0005)
cli.main(sys.argv[2:], prog_name="sopengine")
"""


def race(tmp_path: Path, commands: list[list[str]], *, env: dict[str, str] | None = None, preload: str = "",
         timeout: float = 60) -> list[tuple[int, str, str]]:
    """Start one process per command, release them together; (exit code, stdout, stderr) each.

    *preload* is more Python each racer runs before it says it is ready (a database driver to import,
    so that the racers start together); *env* their environment.
    """
    child = tmp_path / "racer.py"
    child.write_text(CHILD.format(preload=preload), encoding="utf-8")
    barrier = tmp_path / f"go-{time.monotonic_ns()}"
    procs = [
        subprocess.Popen([sys.executable, str(child), str(barrier), *cmd], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in commands
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
    barrier.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append((p.returncode, stdout, stderr))
    return out


def count(db: Path, sql: str, *args: object) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


def test_racing_to_complete_the_same_step_one_wins(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    for _round in range(2):
        run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12", allow_duplicate=True)["run_id"]
        results = race(tmp_path, [
            ["complete", run_id, "--step", "1", "--by", f"P{i}", "--db", str(db), "--now", NOW] for i in range(RACERS)
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
            assert len(stderr.strip().splitlines()) == 1
            # who completed it, and when (shown in WIB)
            assert re.search(rf"(already completed|last completed) by {winner} at 2026-10-01 09:00 WIB", stderr), stderr
        assert count(db, "SELECT COUNT(*) FROM events WHERE run_id = ? AND kind = 'step_completed'", run_id) == 1
        assert count(db, "SELECT COUNT(*) FROM tasks WHERE run_id = ? AND step_id = 'kumpulkan-data'", run_id) == 1
        status = api.run_status(db, run_id, now=NOW)
        assert [s["step"] for s in status["open_steps"]] == ["rekap-laporan"]
        assert status["version"] == 2
    assert_consistent(db, tmp_path)


def test_racing_starts_of_one_period_start_one_run(tmp_path: Path) -> None:
    db = tmp_path / "start.db"
    api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-09")
    results = race(tmp_path, [
        ["run", "pengumpulan-data", "--period", "2026-10", "--if-missing", "--db", str(db), "--by", f"P{i}"] for i in range(RACERS)
    ])
    assert [rc for rc, _, _ in results] == [0] * RACERS, results
    assert count(db, "SELECT COUNT(*) FROM runs WHERE period = '2026-10'") == 1
    assert sum("already exists for 2026-10" in err for _, _, err in results) == RACERS - 1

    results = race(tmp_path, [
        ["run", "pengumpulan-data", "--period", "2026-11", "--db", str(db), "--by", f"P{i}"] for i in range(RACERS)
    ])
    assert sorted(rc for rc, _, _ in results) == [0] + [1] * (RACERS - 1), results
    assert count(db, "SELECT COUNT(*) FROM runs WHERE period = '2026-11'") == 1
    for rc, _, err in results:
        if rc:
            assert re.fullmatch(r"Error: run \S+ of pengumpulan-data for 2026-11 is still active; continue it, or pass --allow-duplicate\n", err)
    assert_consistent(db, tmp_path)


def test_racing_to_create_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    results = race(tmp_path, [
        ["run", "pengumpulan-data", "--period", f"2026-0{i + 1}", "--db", str(db), "--by", f"P{i}"] for i in range(RACERS)
    ])
    assert [rc for rc, _, _ in results] == [0] * RACERS, [err for _, _, err in results]
    assert count(db, "SELECT COUNT(*) FROM runs") == RACERS
    assert count(db, "PRAGMA user_version") >= 1
    assert count(db, "SELECT COUNT(*) FROM _sqlite_migrations") == count(db, "SELECT COUNT(DISTINCT name) FROM _sqlite_migrations")
    assert_consistent(db, tmp_path)


def test_a_reader_never_sees_half_a_change(tmp_path: Path) -> None:
    """Status reads while a step is written: WAL lets them share the file; each read is whole."""
    db = tmp_path / "rw.db"
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    for n in (1, 2, 3):
        commands = [["complete", run_id, "--step", str(n), "--by", "P", "--db", str(db)]]
        commands += [["status", run_id, "--db", str(db), "--json"] for _ in range(5)]
        results = race(tmp_path, commands)
        assert [rc for rc, _, _ in results] == [0] * len(commands)
        for _, stdout, _ in results[1:]:
            status = json.loads(stdout)
            done = [t["step"] for t in status["timeline"] if t["state"] == "done"]
            opened = [int(s["no"]) for s in status["open_steps"]]  # format 2: the printed number is text
            # before the completion or after it, never between
            assert (status["version"], len(done), opened) in ((n, n - 1, [n]), (n + 1, n, [n + 1])), status


def test_racing_on_two_branches_of_a_split_both_succeed(tmp_path: Path) -> None:
    """Two people finishing different branches at once: neither step was taken from them."""
    parallel = Path(__file__).resolve().parent / "data" / "parallel"
    db = tmp_path / "par.db"
    for _ in range(3):
        run_id = api.start_run("split-join", db=db, definitions=str(parallel), now=NOW)["run_id"]
        api.complete(db, run_id, now=NOW)
        results = race(tmp_path, [
            ["complete", run_id, "--step", step, "--by", who, "--db", str(db), "--now", NOW]
            for step, who in (("olah-data", "Sari"), ("arsipkan", "Dedi"))
        ])
        assert [rc for rc, _, _ in results] == [0, 0], [err for _, _, err in results]
        status = api.run_status(db, run_id, now=NOW, definitions=parallel)
        assert [(s["step"], s["state"]) for s in status["open_steps"]] == [("gabungkan", "open")]
    assert_consistent(db, tmp_path)
