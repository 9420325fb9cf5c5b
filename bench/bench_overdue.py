"""Benchmark: overdue queries on a database of 100,000 runs, and due-time arithmetic.

Builds a database in a temporary folder: two real runs started through the engine (one of
``pengumpulan-data``, one of a copy of it with a process deadline of 17 hari kerja) pin the
definitions and the calendar; then plain SQL inserts the other runs the way the engine
writes them: four completed steps each, one open step in every active run (30 minutes, 2 or
120 working days), due times spread over the past year and a half, one run in ten with a
deadline, a Kepala Bidang assigned to each run (30 people). Then it times, in this process
with warm caches, and prints the medians and the query plans (``EXPLAIN QUERY PLAN``):

* ``overdue(db, limit=50)``: the 50 most overdue steps (steps only, with deadlines, with
  ``actor`` or ``person``), opening the database per call and on an open ``Store``;
* ``count_overdue(db)``: the count of overdue steps;
* ``WorkCalendar.due`` for a 120-hari step.

Run from the repository root::

    python bench/bench_overdue.py                     # 100,000 runs, 30 % still active
    python bench/bench_overdue.py --active 1.0        # every run active
    python bench/bench_overdue.py --proposed-indexes  # with the indexes proposed for the schema
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sopengine import clock  # noqa: E402
from sopengine.calendar import WorkCalendar  # noqa: E402
from sopengine.overdue import COUNT_SQL, _deadlines_query, _steps_query, count_overdue, overdue  # noqa: E402
from sopengine.runs import _CALENDARS, start_run  # noqa: E402
from sopengine.store import Store  # noqa: E402

NOW = "2026-11-02T10:00"  # a Monday, in WIB
PEOPLE = tuple(f"pegawai-{i:02d}" for i in range(30))
PROPOSED_INDEXES = (
    "CREATE INDEX runs_active_due ON runs (due_at) WHERE status = 'active'",
    "CREATE INDEX assignments_person ON assignments (person COLLATE NOCASE)",
)
DONE_STEPS = ("kumpulkan-data", "rekap-laporan", "olah-data", "susun-laporan")
OPEN_STEPS = (
    ("sosialisasi-laporan", "kasubag-pep", {"minutes": 30}),
    ("rekap-dua-laporan", "kepala-seksi", {"days": 2}),
    ("susun-laporan-semester", "kepala-bidang", {"days": 120}),
)


def timed_us(fn, repeat: int) -> tuple[float, float]:
    """Median and minimum wall-clock time of ``fn()`` in microseconds.

    The minimum shows the cost on an otherwise idle machine; the median what a caller sees.
    """
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6, min(samples) * 1e6


def build(folder: Path, runs: int, active: float, seed: int = 7) -> Path:
    db = folder / "bench.db"
    defs = folder / "defs"
    defs.mkdir()
    text = (ROOT / "definitions" / "pengumpulan-data.yaml").read_text(encoding="utf-8")
    deadline_text = text.replace("id: pengumpulan-data", "id: pengumpulan-data-17").replace(
        "title: Pengumpulan Data Kinerja", "title: Pengumpulan Data Kinerja\ndeadline: Paling lambat 17 hari kerja"
    )
    (defs / "pengumpulan-data.yaml").write_text(text, encoding="utf-8")
    (defs / "pengumpulan-data-17.yaml").write_text(deadline_text, encoding="utf-8")
    seeds = [
        start_run("pengumpulan-data", db=db, definitions=defs, period="2024-01", now="2025-01-06T09:00", by="bench"),
        start_run("pengumpulan-data-17", db=db, definitions=defs, period="2024-01", now="2025-01-06T09:00", by="bench"),
    ]
    conn = sqlite3.connect(db)
    meta = {
        s["run_id"]: conn.execute("SELECT definition_id, definition_hash, calendar_hash FROM runs WHERE id = ?", (s["run_id"],)).fetchone()
        for s in seeds
    }
    cal = _CALENDARS[next(iter(meta.values()))[2]]
    kinds = list(meta.values())
    rng = random.Random(seed)
    end = clock.parse_time(NOW)
    first = end - timedelta(days=540)
    run_rows, task_rows = [], []
    for i in range(runs):
        def_id, def_hash, cal_hash = kinds[0] if i % 10 else kinds[1]  # one run in ten has a deadline
        started = first + timedelta(seconds=rng.randrange(int((end - first).total_seconds())))
        started = cal.due(started, {})  # work starts in office hours
        is_active = rng.random() < active
        at = started
        for step in DONE_STEPS:
            due = cal.due(at, {"minutes": 30})
            closed = at + timedelta(minutes=rng.randrange(5, 90))
            task_rows.append((f"r{i:06d}", step, 0, 1, "staf-evaluasi", "done", clock.iso(at), clock.iso(due), clock.iso(closed), "bench"))
            at = closed
        run_due = clock.iso(cal.due(started, {"days": 17})) if def_id.endswith("-17") else None
        if is_active:
            step, actor, duration = OPEN_STEPS[i % len(OPEN_STEPS)]
            due = clock.iso(cal.due(at, duration))
            task_rows.append((f"r{i:06d}", step, 0, 1, actor, "open", clock.iso(at), due, None, None))
            status, finished = "active", None
        else:
            status, finished = "completed", clock.iso(at)
        run_rows.append((f"r{i:06d}", def_id, def_hash, cal_hash, f"{started.year}-{started.month:02d}", "{}", status,
                         clock.iso(started), "bench", run_due, finished, 5))
    with conn:
        conn.executemany(
            "INSERT INTO runs (id, definition_id, definition_hash, calendar_hash, period, case_data, status, started_at,"
            " started_by, due_at, finished_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_rows,
        )
        conn.executemany(
            "INSERT INTO tasks (run_id, step_id, part, iteration, actor, state, opened_at, due_at, closed_at, closed_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            task_rows,
        )
        conn.executemany(
            "INSERT INTO assignments (run_id, role, person, acting, assigned_at, assigned_by) VALUES (?, ?, ?, 0, ?, 'bench')",
            [(r[0], "kepala-bidang", rng.choice(PEOPLE), r[7]) for r in run_rows],
        )
    conn.execute("ANALYZE")
    conn.close()
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--active", type=float, default=0.3, help="share of runs still active (one open step each)")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument(
        "--proposed-indexes", action="store_true",
        help="add the indexes proposed for the schema (active runs by due time, assignments by person)",
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sopengine-bench-"))
    try:
        t0 = time.perf_counter()
        db = build(folder, args.runs, args.active)
        conn = sqlite3.connect(db)
        if args.proposed_indexes:
            for statement in PROPOSED_INDEXES:
                conn.execute(statement)
            conn.execute("ANALYZE")
            conn.commit()
            print("with the proposed indexes:", *PROPOSED_INDEXES, sep="\n  ")
        n_runs, n_tasks = conn.execute("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM tasks)").fetchone()
        print(f"database: {n_runs:,} runs, {n_tasks:,} task rows, built in {time.perf_counter() - t0:.1f} s ({db})")
        at = clock.iso(clock.parse_time(NOW))

        cold = time.perf_counter()
        top = overdue(db, now=NOW, limit=50)
        cold = (time.perf_counter() - cold) * 1e3
        total = count_overdue(db, NOW)
        print(f"now = {NOW} WIB: {total:,} overdue steps; most overdue: {top[0]['step']} late by "
              f"{clock.format_seconds(top[0]['late_by'])} (first call, cold caches: {cold:.1f} ms)")

        print(f"\n{args.repeat} calls each, in-process, warm caches (load average {os.getloadavg()[0]:.1f}):")
        store = Store(db)  # kept open, as a long-lived caller would
        results = {
            "overdue(limit=50), steps only": timed_us(lambda: overdue(db, now=NOW, limit=50, deadlines=False), args.repeat),
            "overdue(limit=50), steps only, open Store": timed_us(
                lambda: overdue(store, now=NOW, limit=50, deadlines=False), args.repeat),
            "overdue(limit=50), steps and deadlines": timed_us(lambda: overdue(db, now=NOW, limit=50), args.repeat),
            "overdue(limit=50, actor='kepala-bidang')": timed_us(
                lambda: overdue(db, now=NOW, limit=50, actor="kepala-bidang"), args.repeat),
            "overdue(limit=50, person=<one of 30>)": timed_us(
                lambda: overdue(db, now=NOW, limit=50, person=PEOPLE[7]), args.repeat),
            "overdue(limit=50, person=<nobody>)": timed_us(
                lambda: overdue(db, now=NOW, limit=50, person="nobody"), args.repeat),
            "count_overdue()": timed_us(lambda: count_overdue(db, NOW), args.repeat),
            "count_overdue(), open Store": timed_us(lambda: count_overdue(store, NOW), args.repeat),
        }
        store.close()
        data = conn.execute("SELECT data FROM calendars LIMIT 1").fetchone()[0]
        cal = WorkCalendar.from_snapshot(json.loads(data))
        opened = datetime(2026, 3, 10, 3, 0, tzinfo=timezone.utc)
        results["WorkCalendar.due(120 hari)"] = timed_us(lambda: cal.due(opened, {"days": 120}), 20_000)
        print(f"  {'':45s} {'median':>8s}    {'min':>8s}")
        for name, (median, least) in results.items():
            print(f"  {name:45s} {median / 1000:8.3f} ms {least / 1000:8.3f} ms")
        print("  (calls given a path open and close the database each time: connect, pragmas, schema parse;")
        print("   'open Store' calls reuse one connection, as a long-lived caller does)")

        print("\nquery plans:")
        sql, params = _steps_query(at, None)
        deadline_sql, deadline_args = _deadlines_query(at, ["pengumpulan-data-17"], None)
        for label, query, qargs in (
            ("overdue steps (overdue)", sql, params),
            ("count (count_overdue)", COUNT_SQL, [at]),
            ("runs past their deadline", deadline_sql, deadline_args),
        ):
            print(f"  {label}:")
            for row in conn.execute("EXPLAIN QUERY PLAN " + query, qargs):
                print(f"    {row[3]}")
        conn.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
