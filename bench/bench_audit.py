"""Benchmark: ``audit verify`` at two database sizes: its peak memory and its chain pass against the floor.

Each size gets its own database from ``bench/make_db.py`` (about ten events per run: 10,000
runs hold about 100,000 events, 100,000 runs about a million). For each, in turn and
``--repeat`` times, a fresh process runs ``sopengine.audit.verify(db)`` and reports its peak
resident memory (``ru_maxrss``; a process that imports the same modules and verifies nothing
gives the interpreter's own share), the events checked, and the seconds of its chain pass
(SQLite's own ``quick_check`` is timed apart); another fresh process times the floor,
``sopengine.audit.verify.floor_rate(db)``: a bare loop that reads the same events and hashes
their canonical text, nothing kept.

Targets: peak memory at the largest size within 1.3x of that at the smallest (the pass keeps
per-run state only), and the chain pass at least half the floor's rate (events per second),
both at the largest size.

Run from the repository root::

    python bench/bench_audit.py                                   # 10,000 and 100,000 runs
    python bench/bench_audit.py --sizes 1000,10000 --repeat 1     # a quick look
    python bench/bench_audit.py --db-dir /tmp/bench-dbs --reuse   # the databases bench_queries built

The last line is ``RESULT {json}`` for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))


TARGET_MEMORY = 1.3
TARGET_FLOOR_SHARE = 0.5

CHILD = r"""
import importlib, json, resource, sys
verify_module = importlib.import_module("sopengine.audit.verify")
what, db = sys.argv[1], sys.argv[2]
out = {}
if what == "verify":
    r = verify_module.verify(db)
    out = {"ok": r["ok"], "events": r["events"], "runs": r["runs"], "seconds": r["seconds"],
           "chain_seconds": r.get("chain_seconds"), "integrity_seconds": (r.get("integrity") or {}).get("seconds"),
           "first_problem": str((r.get("first_problem") or {}).get("message") or "")}
elif what == "floor":
    out = verify_module.floor_rate(db)
out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(what: str, db: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD, what, str(db)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"bench_audit: {what} on {db} failed: {proc.stderr[-600:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def build(db: Path, runs: int, seed: int) -> dict[str, Any]:
    """``make_db.py`` in a process of its own. On Linux a child's peak memory (``ru_maxrss``) starts
    from its parent's when it is started: building a large database in this process would raise
    the peak of every verification measured after it."""
    proc = subprocess.run([sys.executable, str(BENCH / "make_db.py"), "--runs", str(runs), "-o", str(db), "--seed", str(seed),
                           "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench_audit: make_db.py --runs {runs} failed: {proc.stderr[-600:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="runs in each database, comma-separated (default 10000,100000)")
    parser.add_argument("--repeat", type=int, default=3, help="verifications (and floors) per size (median)")
    parser.add_argument("--db-dir", type=Path, help="keep the databases in this folder (default: a temporary one, removed)")
    parser.add_argument("--reuse", action="store_true", help="use a database already in --db-dir instead of building it")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if len(sizes) < 2 or sorted(sizes) != sizes:
        print("Error: --sizes needs two or more sizes, smallest first (e.g. 10000,100000)", file=sys.stderr)
        return 2
    folder = args.db_dir or Path(tempfile.mkdtemp(prefix="sopengine-bench-audit-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        print(f"bench_audit: sizes {', '.join(f'{n:,}' for n in sizes)} runs, {args.repeat} verifications each;"
              f" load average {os.getloadavg()[0]:.2f}", flush=True)
        dbs = {}
        for n in sizes:
            db = dbs[n] = folder / f"bench-{n}.db"
            if args.reuse and db.exists():
                print(f"  {n:,} runs: reusing {db}", flush=True)
            else:
                b = build(db, n, args.seed)
                print(f"  {n:,} runs: built in {b['seconds']:.1f} s, {b['events']:,} events, {b['bytes'] / 1e6:,.0f} MB", flush=True)
        baseline = child("none", dbs[sizes[0]])["peak_mib"]
        runs: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
        floors: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
        for i in range(args.repeat):
            for n in (sizes if i % 2 == 0 else sizes[::-1]):
                v = child("verify", dbs[n])
                if not v["ok"]:
                    raise SystemExit(f"bench_audit: verify found a problem in the {n:,}-run database: {v['first_problem']}")
                runs[n].append(v)
                floors[n].append(child("floor", dbs[n]))
        figures: dict[str, dict[str, Any]] = {}
        print(f"  {'':12s}{'events':>12s}{'peak MiB':>10s}{'verify s':>10s}{'chain s':>9s}{'chain ev/s':>12s}{'floor ev/s':>12s}"
              f"{'share':>7s}{'check s':>9s}")
        for n in sizes:
            events = runs[n][0]["events"]
            peak = statistics.median(v["peak_mib"] for v in runs[n])
            total = statistics.median(v["seconds"] for v in runs[n])
            chain = statistics.median(v["chain_seconds"] for v in runs[n])
            check = statistics.median(v["integrity_seconds"] or 0 for v in runs[n])
            floor = statistics.median(f["rate"] for f in floors[n])
            rate = events / chain if chain else 0.0
            figures[str(n)] = {"events": events, "peak_mib": round(peak, 1), "seconds": round(total, 3), "chain_seconds": round(chain, 3),
                               "chain_rate": round(rate), "floor_rate": round(floor), "share": round(rate / floor, 3) if floor else None,
                               "integrity_seconds": round(check, 3)}
            f = figures[str(n)]
            print(f"  {f'{n:,} runs':12s}{events:12,}{peak:10.1f}{total:10.2f}{chain:9.2f}{rate:12,.0f}{floor:12,.0f}"
                  f"{f['share']:7.2f}{check:9.2f}")
        small, large = figures[str(sizes[0])], figures[str(sizes[-1])]
        memory_ratio = large["peak_mib"] / small["peak_mib"]
        print(f"  peak memory {sizes[-1]:,} / {sizes[0]:,} runs: {memory_ratio:.2f}x (the interpreter and its imports alone:"
              f" {baseline:.1f} MiB); chain pass at {sizes[-1]:,} runs: {large['share']:.2f} of the floor's rate")
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
        print("RESULT " + json.dumps({"sizes": sizes, "repeat": args.repeat, "baseline_mib": round(baseline, 1),
                                      "figures": figures, "memory_ratio": round(memory_ratio, 3),
                                      "floor_share": large["share"]}), flush=True)
        return 0
    finally:
        if not args.db_dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
