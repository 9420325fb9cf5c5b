"""``kill -9`` in the middle of a stream of changes (invariant 1): all of a change, or none of it.

A child Python process carries many runs forward as fast as it can; the test SIGKILLs it at a
random moment, checks the database (:func:`test_runs_consistency.assert_consistent`: integrity,
hash chains, versions, done tasks against events, tasks against the replayed history), and
starts another child that goes on from where the last one died.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest

from sopengine import api
from test_runs_consistency import assert_consistent

PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")]

WORKER = """
import sys
from sopengine import api

db, definitions, mode = sys.argv[1], sys.argv[2], sys.argv[3]
done = 0
while True:
    runs = api.list_runs(db)
    if not runs:
        if mode == "finish":
            break
        # keep the stream going until the kill: a start is a change too
        api.start_run("split-join-loop", db=db, definitions=definitions, by="kerja")
        continue
    for run in runs:
        step = next(s for s in run["open_steps"] if s["state"] == "open")
        if step["kind"] == "decision":
            outcome = "Tidak" if step["iteration"] == 1 else "Ya"  # every loop taken once
            api.decide(db, run["run_id"], outcome, step=step["step"], by=f"kerja-{done}")
        else:
            api.complete(db, run["run_id"], step=step["step"], by=f"kerja-{done}", note=f"langkah {done}")
        done += 1
        if done == 1:
            print("ready", flush=True)  # in the stream now: the kill lands between or inside changes
print("finished", flush=True)
"""


def start_worker(tmp_path: Path, db: Path) -> subprocess.Popen[str]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(PARALLEL), "endless"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def changes_so_far(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COALESCE(SUM(version), 0) FROM runs").fetchone()[0]
    finally:
        con.close()


def test_kill_9_during_a_stream_of_completions_leaves_a_consistent_database(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    for _ in range(8):
        api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12", allow_duplicate=True)
        api.start_run("split-join-loop", db=db, definitions=PARALLEL, now=NOW)
    rng = random.Random(os.getpid())
    progress = [changes_so_far(db)]
    # a child spends about a third of its time inside a write transaction: eight kills land
    # inside one with a probability of about 97 %, and between changes otherwise
    for _ in range(8):
        worker = start_worker(tmp_path, db)
        time.sleep(rng.uniform(0.01, 0.1))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert worker.returncode == -signal.SIGKILL, worker.stderr.read() if worker.stderr else ""
        worker.communicate()
        assert_consistent(db)
        progress.append(changes_so_far(db))
    # every child got some work done before it died, and none of it was lost
    assert all(b > a for a, b in pairwise(progress)), progress

    # the runs go on from where the last child died, to their ends
    last = subprocess.run([sys.executable, str(tmp_path / "worker.py"), str(db), str(PARALLEL), "finish"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert last.returncode == 0, last.stderr
    assert last.stdout.endswith("finished\n")
    runs = api.list_runs(db, include_closed=True)
    assert {r["status"] for r in runs} == {"completed"}
    con = sqlite3.connect(db)
    steps = dict(con.execute("SELECT run_id, COUNT(*) FROM tasks WHERE state = 'done' GROUP BY run_id").fetchall())
    con.close()
    for run in runs:
        if run["definition"] == "pengumpulan-data":
            assert steps[run["run_id"]] == 9  # 2026-12 passes both gates: rows 1-9
        else:
            # split-join-loop, a decision's first visit says Tidak: split, data, archive, check (Tidak), data,
            # check (Ya), join, approve (Tidak); again split, data, archive, check (Ya, third visit), join, approve
            assert steps[run["run_id"]] == 8 + 6
    assert_consistent(db, tmp_path, replays=8)


CREATOR = """
import sys
from sopengine import api

print("ready", flush=True)
for n in range(1, 13):
    api.start_run("pengumpulan-data", db=sys.argv[1], period=f"2026-{n:02d}")
"""


def test_kill_9_while_a_new_database_is_made_leaves_a_file_the_next_command_can_use(tmp_path: Path) -> None:
    script = tmp_path / "creator.py"
    script.write_text(CREATOR, encoding="utf-8")
    rng = random.Random(os.getpid())
    for attempt in range(4):
        db = tmp_path / f"new-{attempt}.db"
        proc = subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        # whatever moment the kill hit, the next start works on the same file
        run_id = api.start_run("pengumpulan-data", db=db, period="2027-01")["run_id"]
        assert api.run_status(db, run_id)["status"] == "active"
        assert_consistent(db)
