"""Benchmark: the read queries and ``audit verify`` on a database of about a million events, on SQLite and on PostgreSQL.

The database: ``bench/make_db.py``'s, of ``--runs`` runs (100,000 by default: about 1.1 million
events), built as an SQLite file (or reused from ``--db-dir``, where ``bench_queries.py`` left
it) and copied into a PostgreSQL database of its own by ``sopengine db copy``
(:func:`sopengine.dbcopy.copy`: every row, id and event number kept, both sides verified),
then ``VACUUM ANALYZE`` (a database loaded at once has no statistics yet; a working one gets
them from autovacuum). The time of each part, and the size on disk (the SQLite file; on
PostgreSQL ``pg_database_size``), are printed.

Then every query of ``bench_queries.py`` is called through the library (``sopengine.api``,
opening the database per call as a command does) on both, the engines and the queries taken
in turn, round after round; the figure is the median over the rounds, and both engines must
answer the same number of rows. A query that fails on PostgreSQL is named with its error and
left out. Last, ``audit verify`` in a fresh process on each, ``--repeat`` times in turn: its
time, chain pass and peak memory.

Run from the repository root::

    python bench/bench_pgqueries.py --pg postgresql://postgres@127.0.0.1:54329/postgres
    python bench/bench_pgqueries.py --runs 10000 --rounds 5     # a quicker look (server from $SOPENGINE_BENCH_PG)

Without a server it says it is skipped and why. The last line is ``RESULT {json}`` for
``bench/run.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import bench_audit  # noqa: E402
import bench_queries  # noqa: E402
import make_db  # noqa: E402
import pgbench  # noqa: E402

SQLITE, PG = "SQLite", "PostgreSQL"


def answered(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return len(value.get("runs") or value.get("timeline") or [])
    return len(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help=f"a PostgreSQL server where databases may be created (default: ${pgbench.ENV})")
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the database (default 100000: about 1.1 million events)")
    parser.add_argument("--rounds", type=int, default=15, help="calls of each query on each engine (median)")
    parser.add_argument("--repeat", type=int, default=3, help="audit verify runs on each engine (median)")
    parser.add_argument("--db-dir", type=Path, help="keep the SQLite database in this folder (default: a temporary one, removed)")
    parser.add_argument("--reuse", action="store_true", help="use the SQLite database already in --db-dir instead of building it")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--paths", type=int, default=make_db.PATHS_PER_VARIANT, help="make_db's --paths (1 is quicker)")
    args = parser.parse_args()
    server = pgbench.server(args.pg)
    if not server:
        return pgbench.skipped("bench_pgqueries")
    settings = pgbench.settings(server)
    folder = args.db_dir or Path(tempfile.mkdtemp(prefix="sopengine-bench-pgqueries-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = None
    try:
        print(f"bench_pgqueries: {args.runs:,} runs, {args.rounds} rounds, {args.repeat} verifications each;"
              f" load average {os.getloadavg()[0]:.2f}", flush=True)
        print(f"  {pgbench.describe(settings)}", flush=True)
        db = folder / f"bench-{args.runs}.db"
        if args.reuse and db.exists():
            built = None
            print(f"  SQLite: reusing {db}", flush=True)
        else:
            built = make_db.build(db, args.runs, seed=args.seed, paths=args.paths, quiet=True)
            print(f"  SQLite: built in {built['seconds']:.1f} s, {built['events']:,} events, {built['bytes'] / 1e6:,.0f} MB", flush=True)
        url = pgbench.create(server, "queries")
        copied = make_db.to_postgresql(db, url)
        print(f"  PostgreSQL: copied by sopengine db copy in {copied['copy_seconds']:.1f} s (both sides verified), VACUUM ANALYZE"
              f" {copied['analyze_seconds']:.1f} s; pg_database_size {copied['bytes'] / 1e6:,.0f} MB", flush=True)

        rng = random.Random(args.seed)
        lite = bench_queries.Size(args.runs, db, built, bench_queries.busiest(db, 5), rng)
        pg = copy.copy(lite)
        pg.db = url  # type: ignore[assignment]  # the library takes the address where it takes a path
        calls = {SQLITE: bench_queries.queries(lite), PG: bench_queries.queries(pg)}
        names = list(calls[SQLITE])
        failed: dict[str, str] = {}
        rows: dict[str, dict[str, int]] = {SQLITE: {}, PG: {}}
        for name in names:  # warm up, and the rows each answers
            rows[SQLITE][name] = answered(calls[SQLITE][name](0))
            try:
                rows[PG][name] = answered(calls[PG][name](0))
            except Exception as exc:  # a query not yet working on PostgreSQL: named, and left out
                failed[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        samples: dict[str, dict[str, list[float]]] = {name: {SQLITE: [], PG: []} for name in names}
        for i in range(args.rounds):
            shift = i % len(names)
            for engine in ([SQLITE, PG] if i % 2 == 0 else [PG, SQLITE]):
                for name in names[shift:] + names[:shift]:
                    if engine == PG and name in failed:
                        continue
                    t0 = time.perf_counter()
                    calls[engine][name](i)
                    samples[name][engine].append(time.perf_counter() - t0)
        medians = {name: {e: round(statistics.median(v) * 1000, 3) for e, v in by.items() if v} for name, by in samples.items()}
        print(f"  {'query (median of ' + str(args.rounds) + ')':50s}{'SQLite':>13s}{'PostgreSQL':>13s}{'PG / SQLite':>12s}  rows")
        for name in names:
            m = medians[name]
            if name in failed:
                print(f"  {name:50s}{m[SQLITE]:10.2f} ms{'fails':>13s}{'-':>12s}  {rows[SQLITE][name]}")
                continue
            same = "" if rows[SQLITE][name] == rows[PG][name] else f" DIFFERS: PostgreSQL answers {rows[PG][name]}"
            print(f"  {name:50s}{m[SQLITE]:10.2f} ms{m[PG]:10.2f} ms{m[PG] / m[SQLITE]:11.2f}x  {rows[SQLITE][name]}{same}")
        for name, why in failed.items():
            print(f"  fails on PostgreSQL: {name}: {why}")

        verify: dict[str, list[dict[str, Any]]] = {SQLITE: [], PG: []}
        for i in range(args.repeat):
            for engine, where in ([(SQLITE, str(db)), (PG, url)] if i % 2 == 0 else [(PG, url), (SQLITE, str(db))]):
                v = bench_audit.child("verify", where)  # type: ignore[arg-type]
                if not v["ok"]:
                    raise SystemExit(f"bench_pgqueries: audit verify found a problem on {engine}: {v['first_problem']}")
                verify[engine].append(v)
        figures = {}
        for engine, vs in verify.items():
            secs = statistics.median(v["seconds"] for v in vs)
            chain = statistics.median(v["chain_seconds"] for v in vs)
            figures[engine] = {"events": vs[0]["events"], "seconds": round(secs, 3), "chain_seconds": round(chain, 3),
                               "events_per_second": round(vs[0]["events"] / secs), "peak_mib": round(statistics.median(v["peak_mib"] for v in vs), 1)}
            f = figures[engine]
            print(f"  audit verify, {engine:10s}: {f['seconds']:.2f} s ({f['events']:,} events, chain pass {f['chain_seconds']:.2f} s,"
                  f" {f['events_per_second']:,} events/s in all), peak {f['peak_mib']:.0f} MiB", flush=True)
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
        result = {
            "runs": args.runs, "rounds": args.rounds, "repeat": args.repeat, "postgresql": settings,
            "events": lite.events,
            "databases": {SQLITE: {"bytes": lite.size, "build_seconds": (built or {}).get("seconds")},
                          PG: {"bytes": copied["bytes"], "copy_seconds": copied["copy_seconds"],
                               "analyze_seconds": copied["analyze_seconds"]}},
            "medians_ms": medians, "rows": rows, "failed": failed, "verify": figures,
        }
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    finally:
        if url:
            pgbench.drop(server, url)
        if not args.db_dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
