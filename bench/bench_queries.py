"""Benchmark: the read queries at two (or more) database sizes, side by side in one run.

Each size gets its own database from ``bench/make_db.py`` (runs in every state, a steady
work in flight, the history growing with the size). Then every query is called through the
library (``sopengine.api``, opening the database per call as a command does), the sizes and
the queries taken in turn, round after round, so that a busy machine slows all alike. The
figure is the median over the rounds; the ratio of each query's median at the largest size
to its median at the smallest is what "flat" is judged by (target: within 1.5x from 10,000
to 100,000 runs). Each call's peak Python memory (``tracemalloc``, one call apart) and
``EXPLAIN QUERY PLAN`` of the SQL that answers overdue, the inbox and the report are printed
too.

A person ``P`` is one of the five with the most open steps in that database (a busy
person's inbox at each size); the rows each query answered are printed for each size.

The queries: ``inbox --person P`` and ``inbox --actor A``; ``report --definition D --period
P`` (the last month's Pengumpulan Data Kinerja); ``overdue --limit 50``, ``overdue --person
P --limit 50`` and ``count_overdue``; ``history --run R --limit 100`` and ``history --person
P --limit 100`` (the first page); ``status RUN`` and ``status`` (the list of active runs).

Run from the repository root::

    python bench/bench_queries.py                          # 10,000 and 100,000 runs
    python bench/bench_queries.py --sizes 10000,100000,1000000 --db-dir /tmp/bench-dbs --reuse
    python bench/bench_queries.py --sizes 1000,10000 --rounds 5   # a quick look

The last line is ``RESULT {json}``: the figures ``bench/run.py`` judges and the docs page shows.
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
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import make_db  # noqa: E402

from sopengine import api  # noqa: E402
from sopengine.overdue import count_overdue  # noqa: E402

NOW = make_db.NOW
ACTOR = "kasubag-umpar"  # Kasubag Umpar: every letter passes them twice
PERIODIC = make_db.PERIODIC


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


class Size:
    """One database and the arguments its queries take in turn."""

    def __init__(self, runs: int, db: Path, built: dict[str, Any] | None, persons: list[str], rng: random.Random) -> None:
        self.runs = runs
        self.db = db
        self.built = built
        conn = sqlite3.connect(str(db))
        self.active = [r for (r,) in conn.execute("SELECT id FROM runs WHERE status = 'active' ORDER BY id")]
        every = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        self.any_runs = [r for (r,) in conn.execute(
            "SELECT id FROM runs WHERE rowid IN (" + ",".join(str(rng.randrange(1, every + 1)) for _ in range(50)) + ")")]
        self.period = conn.execute(
            "SELECT max(period) FROM runs WHERE definition_id = ? AND status = 'completed'", (PERIODIC,)).fetchone()[0]
        self.events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        self.open_tasks = conn.execute("SELECT count(*) FROM tasks WHERE state = 'open'").fetchone()[0]
        conn.close()
        self.persons = persons
        self.size = db.stat().st_size


def busiest(db: Path, n: int) -> list[str]:
    """The ``n`` people with the most open steps waiting for them."""
    conn = sqlite3.connect(str(db))
    rows = conn.execute(
        "SELECT a.person, count(*) FROM tasks t JOIN assignments a ON a.run_id = t.run_id AND a.role = t.actor"
        " WHERE t.state = 'open' GROUP BY a.person ORDER BY 2 DESC, 1 LIMIT ?", (n,)).fetchall()
    conn.close()
    return [p for p, _ in rows]


def queries(s: Size) -> dict[str, Callable[[int], Any]]:
    """Query name -> a call taking the round number (to turn through the arguments)."""
    db = s.db
    return {
        "inbox --person P": lambda i: api.inbox(db, person=s.persons[i % len(s.persons)], now=NOW),
        f"inbox --actor {ACTOR}": lambda i: api.inbox(db, actor=ACTOR, now=NOW),
        f"report --definition {PERIODIC} --period P": lambda i: api.report(db, definition=PERIODIC, period=s.period, now=NOW),
        "overdue --limit 50": lambda i: api.overdue(db, limit=50, now=NOW),
        "overdue --person P --limit 50": lambda i: api.overdue(db, person=s.persons[i % len(s.persons)], limit=50, now=NOW),
        "count_overdue": lambda i: count_overdue(db, NOW),
        "history --run R --limit 100": lambda i: api.history(db, run=s.any_runs[i % len(s.any_runs)], limit=100),
        "history --person P --limit 100": lambda i: api.history(db, person=s.persons[i % len(s.persons)], limit=100),
        "status RUN": lambda i: api.run_status(db, s.active[i % len(s.active)], now=NOW),
        "status (active runs)": lambda i: api.list_runs(db, now=NOW),
    }


def plans(s: Size) -> dict[str, str]:
    """EXPLAIN QUERY PLAN of the SQL behind overdue, the inbox and the report."""
    from sopengine.clock import coerce, iso
    from sopengine.store import queries as q

    at = iso(coerce(NOW)) or ""
    person = s.persons[0]
    sql = {
        "overdue steps": q.overdue_steps_sql(at),
        "overdue steps, person": q.overdue_steps_sql(at, None, person),
        "overdue deadlines": q.overdue_deadlines_sql(at, ["permohonan-informasi-publik"]),
        "inbox, person": q.inbox_sql(person=person),
        "inbox, actor": q.inbox_sql(roles=[ACTOR]),
    }
    conn = sqlite3.connect(str(s.db))
    conn.create_function("sop_fold", 1, str.casefold, deterministic=True)
    out = {name: " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + text, args)) for name, (text, args) in sql.items()}
    out["report runs"] = " | ".join(r[3] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM runs WHERE definition_id = ? AND period = ?", (PERIODIC, s.period)))
    conn.close()
    return out


def peak_mib(call: Callable[[int], Any]) -> float:
    tracemalloc.start()
    try:
        call(0)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="runs in each database, comma-separated (default 10000,100000)")
    parser.add_argument("--rounds", type=int, default=15, help="calls of each query at each size (median)")
    parser.add_argument("--db-dir", type=Path, help="keep the databases in this folder (default: a temporary one, removed)")
    parser.add_argument("--reuse", action="store_true", help="use a database already in --db-dir instead of building it")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--paths", type=int, default=make_db.PATHS_PER_VARIANT, help="make_db's --paths (1 is quicker)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if len(sizes) < 2 or sorted(sizes) != sizes:
        print("Error: --sizes needs two or more sizes, smallest first (e.g. 10000,100000)", file=sys.stderr)
        return 2
    folder = args.db_dir or Path(tempfile.mkdtemp(prefix="sopengine-bench-queries-"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    try:
        print(f"bench_queries: sizes {', '.join(f'{n:,}' for n in sizes)} runs, {args.rounds} rounds;"
              f" load average {os.getloadavg()[0]:.2f}", flush=True)
        built: dict[int, dict[str, Any] | None] = {}
        for n in sizes:
            db = folder / f"bench-{n}.db"
            if args.reuse and db.exists():
                built[n] = None
                print(f"  {n:,} runs: reusing {db}", flush=True)
            else:
                built[n] = make_db.build(db, n, seed=args.seed, paths=args.paths, quiet=True)
                b = built[n]
                assert b is not None
                print(f"  {n:,} runs: built in {b['seconds']:.1f} s, {b['events']:,} events, {b['open_tasks']:,} open steps,"
                      f" {b['bytes'] / 1e6:,.0f} MB", flush=True)
        # a busy person's work at each size: the five with the most open steps in that database
        dbs = [Size(n, folder / f"bench-{n}.db", built[n], busiest(folder / f"bench-{n}.db", 5), rng) for n in sizes]
        calls = {s.runs: queries(s) for s in dbs}
        names = list(calls[sizes[0]])
        for s in dbs:  # warm up: the OS file cache, the compiled definitions, the calendars
            for name in names:
                calls[s.runs][name](0)
        samples: dict[str, dict[int, list[float]]] = {name: {n: [] for n in sizes} for name in names}
        for i in range(args.rounds):
            order = dbs if i % 2 == 0 else dbs[::-1]
            shift = i % len(names)
            for s in order:
                for name in names[shift:] + names[:shift]:
                    t0 = time.perf_counter()
                    calls[s.runs][name](i)
                    samples[name][s.runs].append(time.perf_counter() - t0)
        memory = {name: {s.runs: round(peak_mib(calls[s.runs][name]), 2) for s in dbs} for name in names}
        def answered(value: Any) -> int:
            if isinstance(value, int):
                return value
            if isinstance(value, dict):
                return len(value.get("runs") or value.get("timeline") or [])
            return len(value)

        rows = {str(s.runs): {name: answered(calls[s.runs][name](0)) for name in names} for s in dbs}
        small, large = sizes[0], sizes[-1]
        header = "".join(f"{f'{n:,} runs':>16s}" for n in sizes)
        print(f"  {'query (median of ' + str(args.rounds) + ')':50s}{header}{'ratio':>8s}  peak MiB (smallest / largest)")
        medians: dict[str, dict[int, float]] = {}
        for name in names:
            medians[name] = {n: median_ms(samples[name][n]) for n in sizes}
            cells = "".join(f"{medians[name][n]:13.2f} ms" for n in sizes)
            ratio = medians[name][large] / medians[name][small]
            print(f"  {name:50s}{cells}{ratio:7.2f}x  {memory[name][small]:.1f} / {memory[name][large]:.1f}")
        print("  db: " + "; ".join(f"{s.runs:,} runs = {s.events:,} events, {len(s.active):,} active runs, {s.open_tasks:,} open"
                                    f" steps, {s.size / 1e6:,.0f} MB" for s in dbs))
        for s in dbs:
            print(f"  rows answered at {s.runs:,} runs: " + ", ".join(f"{k} {v}" for k, v in rows[str(s.runs)].items()))
        print(f"  query plans at {large:,} runs:")
        for name, plan in plans(dbs[-1]).items():
            print(f"    {name}: {plan}")
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
        result = {
            "sizes": sizes,
            "rounds": args.rounds,
            "medians_ms": {name: {str(n): round(v, 3) for n, v in m.items()} for name, m in medians.items()},
            "peak_mib": {name: {str(n): v for n, v in m.items()} for name, m in memory.items()},
            "ratio": {name: round(medians[name][large] / medians[name][small], 3) for name in names},
            "databases": {str(s.runs): {"events": s.events, "active_runs": len(s.active), "open_steps": s.open_tasks,
                                        "bytes": s.size, "build_seconds": (s.built or {}).get("seconds")} for s in dbs},
            "rows": rows,
        }
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    finally:
        if not args.db_dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
