"""Benchmark: writers at once: 8 and 32 processes stepping their own runs, on SQLite and on PostgreSQL, side by side.

Each writer is a process of its own with its own :class:`~sopengine.store.Store` (as the
commands of an office's staff, or the workers of ``sopengine serve``). Before the clock starts
each starts ``--runs`` runs of SOP Pengumpulan Data Kinerja (one period each); then, all at
once and for ``--seconds``, each carries its runs one step after another
(``runs.complete(store, run_id, ...)``), in turn, starting a new run where one ends, with no
pause. Counted: the steps (and starts) done in the time, so steps per second in all; each
step's latency (p50, p95); and every write refused (a busy database, a concurrent change):
there should be none. Afterwards every database is checked: each run's events are numbered
without a gap and its chain holds.

The engines, in turn for each number of writers (their order turning): an SQLite file (WAL,
``synchronous=NORMAL``: writers queue at ``BEGIN IMMEDIATE``); a PostgreSQL database (a step
locks its run's row, so steps of different runs go side by side until each numbers its event
from the ``counters`` row, which it holds until it commits); and, unless ``--no-sequence``, a
PostgreSQL database whose events are numbered by a plain sequence instead (the trigger
dropped, an identity column: not gap-free, not in commit order; what the counter row's lock
costs writers at once).

Run from the repository root::

    python bench/bench_writers.py --pg postgresql://postgres@127.0.0.1:54329/postgres
    python bench/bench_writers.py --writers 4 --seconds 5     # a quicker look (server from $SOPENGINE_BENCH_PG)

Without a server it says it is skipped and why. The last line is ``RESULT {json}`` for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import pgbench  # noqa: E402

SQLITE, PG, PG_SEQ = "SQLite", "PostgreSQL", "PostgreSQL, sequence instead of counter"
SOP = "pengumpulan-data"
DEFINITIONS = ROOT / "definitions"
PERIODS = [f"2026-{m:02d}" for m in range(1, 13)]
START = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
BY = "Agus Supriyadi"


def writer(db: str, number: int, runs_each: int, seconds: float, barrier: Any, out: Any) -> None:
    """One writer process: start its runs, wait for the others, then step them for *seconds*."""
    try:
        from sopengine import runs
        from sopengine.errors import SopError
        from sopengine.store import Store

        store = Store(db)
        made = [0]

        def start() -> str:
            made[0] += 1
            period = PERIODS[(number * 7 + made[0]) % 12]
            return runs.start_run(SOP, db=store, definitions=DEFINITIONS, period=period, by=BY, now=START,
                                  allow_duplicate=True)["run_id"]

        mine = [start() for _ in range(runs_each)]
        clock = [0]
        barrier.wait(timeout=300)
        deadline = time.monotonic() + seconds
        latencies: list[float] = []
        starts = 0
        refused: dict[str, int] = {}
        i = 0
        while time.monotonic() < deadline:
            k = i % len(mine)
            i += 1
            clock[0] += 1
            t0 = time.perf_counter()
            try:
                result = runs.complete(store, mine[k], by=BY, now=START + timedelta(seconds=clock[0]))
            except SopError as exc:
                refused[type(exc).__name__] = refused.get(type(exc).__name__, 0) + 1
                continue
            latencies.append(time.perf_counter() - t0)
            if result["status"] == "completed":
                try:
                    mine[k] = start()
                    starts += 1
                except SopError as exc:
                    refused[type(exc).__name__] = refused.get(type(exc).__name__, 0) + 1
        store.close()
        out.put({"writer": number, "latencies": latencies, "starts": starts, "refused": refused})
    except BaseException:
        out.put({"writer": number, "error": traceback.format_exc()[-1500:]})
        try:
            barrier.abort()
        except Exception:
            pass


def one(db: str, writers: int, runs_each: int, seconds: float) -> list[dict[str, Any]]:
    """*writers* processes at once on *db* for *seconds*; what each did."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(writers + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=writer, args=(db, n, runs_each, seconds, barrier, out)) for n in range(writers)]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=600)
    except Exception:
        pass  # a writer failed before the start: its error comes through the queue
    got = [out.get(timeout=seconds + 600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [g["error"] for g in got if "error" in g]
    if errors:
        raise SystemExit(f"bench_writers: a writer failed on {db}:\n{errors[0]}")
    return got


def summary(windows: list[list[dict[str, Any]]], seconds: float) -> dict[str, Any]:
    """What the writers did in each window of *seconds*: steps/s the median over the windows, latencies pooled."""
    latencies = sorted(x for got in windows for g in got for x in g["latencies"])
    refused: dict[str, int] = {}
    for got in windows:
        for g in got:
            for k, v in g["refused"].items():
                refused[k] = refused.get(k, 0) + v
    steps = len(latencies)
    rates = [sum(len(g["latencies"]) for g in got) / seconds for got in windows]
    per_writer = [len(g["latencies"]) for got in windows for g in got]
    return {
        "steps": steps, "starts": sum(g["starts"] for got in windows for g in got), "windows": len(windows),
        "steps_per_second": round(statistics.median(rates), 1), "steps_per_second_each_window": [round(r, 1) for r in rates],
        "p50_ms": round(statistics.median(latencies) * 1000, 3) if latencies else None,
        "p95_ms": round(latencies[min(steps - 1, int(0.95 * steps))] * 1000, 3) if latencies else None,
        "max_ms": round(latencies[-1] * 1000, 3) if latencies else None,
        "fewest_steps_of_a_writer": min(per_writer), "most_steps_of_a_writer": max(per_writer),
        "refused": refused,
    }


def check(db: str) -> tuple[int, str | None]:
    """Every run's events: each chain holds (``audit verify``'s chain pass); events counted. (count, first problem)"""
    from sopengine.audit.verify import verify

    r = verify(db)
    problem = r.get("first_problem")
    return int(r["events"]), (None if r["ok"] else str((problem or {}).get("message") or problem))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help=f"a PostgreSQL server where databases may be created (default: ${pgbench.ENV})")
    parser.add_argument("--writers", default="8,32", help="writer processes at once, comma-separated (default 8,32)")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the writers work in each window (default 15)")
    parser.add_argument("--repeat", type=int, default=3, help="windows of --seconds per engine and number of writers, in turn (median)")
    parser.add_argument("--runs", type=int, default=4, help="runs each writer carries in turn (default 4)")
    parser.add_argument("--no-sequence", action="store_true", help="leave out PostgreSQL with a sequence instead of the counter")
    args = parser.parse_args()
    server = pgbench.server(args.pg)
    if not server:
        return pgbench.skipped("bench_writers")
    counts = [int(x) for x in args.writers.split(",") if x.strip()]
    if not counts or min(counts) < 1:
        print("Error: --writers needs one or more numbers of 1 or more (e.g. 8,32)", file=sys.stderr)
        return 2
    settings = pgbench.settings(server)
    if max(counts) + 5 > int(settings["max_connections"]):
        print(f"Error: {max(counts)} writers need as many connections; the server allows {settings['max_connections']}"
              " (max_connections); pass fewer --writers", file=sys.stderr)
        return 2
    from sopengine.store import Store

    folder = Path(tempfile.mkdtemp(prefix="sopengine-bench-writers-"))
    made: list[str] = []
    try:
        print(f"bench_writers: {', '.join(map(str, counts))} writer processes, {args.repeat} windows of {args.seconds:g} s on each"
              f" engine, {args.runs} runs in turn per writer; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
        print(f"  {pgbench.describe(settings)}")
        engines = [SQLITE, PG] + ([] if args.no_sequence else [PG_SEQ])
        results: dict[str, dict[str, Any]] = {str(n): {} for n in counts}
        for i, n in enumerate(counts):
            dbs: dict[str, str] = {SQLITE: str(folder / f"writers-{n}.db")}
            Store(dbs[SQLITE], create=True).close()
            for engine in engines[1:]:
                url = pgbench.create(server, "writers")
                made.append(url)
                dbs[engine] = url
                Store(url, create=True).close()
                if engine == PG_SEQ:
                    import psycopg

                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute("DROP TRIGGER events_seq ON events")
                        conn.execute("ALTER TABLE events ALTER COLUMN seq ADD GENERATED BY DEFAULT AS IDENTITY")
                from sopengine.store import pg

                pg.close_pools()
            windows: dict[str, list[list[dict[str, Any]]]] = {e: [] for e in engines}
            for k in range(args.repeat):
                turn = (i * args.repeat + k) % len(engines)
                for engine in engines[turn:] + engines[:turn]:
                    windows[engine].append(one(dbs[engine], n, args.runs, args.seconds))
            for engine in engines:
                r = results[str(n)][engine] = summary(windows[engine], args.seconds)
                events, problem = check(dbs[engine])
                if problem:
                    raise SystemExit(f"bench_writers: audit verify found a problem on {engine} after {n} writers: {problem}")
                r["events"] = events
            from sopengine.store import pg

            pg.close_pools()
        print(f"  {'writers':8s} {'engine':42s} {'steps/s':>9s} {'p50':>10s} {'p95':>10s} {'max':>10s} {'refused':>8s}  audit verify")
        for n in counts:
            for engine in engines:
                r = results[str(n)][engine]
                print(f"  {n:<8d} {engine:42s} {r['steps_per_second']:9,.1f} {r['p50_ms']:>7.2f} ms {r['p95_ms']:>7.2f} ms"
                      f" {r['max_ms']:>7.1f} ms {sum(r['refused'].values()):>8d}  clean, {r['events']:,} events")
        for n in counts:
            for engine in engines[1:]:
                print(f"  {n} writers: {engine} / SQLite, steps/s: "
                      f"{results[str(n)][engine]['steps_per_second'] / results[str(n)][SQLITE]['steps_per_second']:.2f}x")
        refused = sum(sum(r["refused"].values()) for per in results.values() for r in per.values())
        print(f"  writes refused in all: {refused} (busy or concurrent change; there should be none)")
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
        print("RESULT " + json.dumps({"writers": counts, "window_seconds": args.seconds, "repeat": args.repeat, "runs_per_writer": args.runs, "engines": engines,
                                      "postgresql": settings, "cpus": os.cpu_count(), "results": results, "refused": refused}),
              flush=True)
        return 0
    finally:
        for url in made:
            pgbench.drop(server, url)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
