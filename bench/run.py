"""Run every benchmark under ``bench/`` and judge every target from the figures of this run.

Each ``bench/bench_*.py`` runs in its own process with this interpreter, one after another
(never side by side: they would slow each other), its output shown as it comes and saved
to ``bench/results/NAME.txt`` under a header naming the machine; the figures it ends with
(its ``RESULT {json}`` line) go to ``bench/results/NAME.json``. The query and audit
benchmarks share their databases (built once, by ``bench/make_db.py``). At the end every
target is printed with its measured ratio and its verdict, each computed here from the
numbers of this run, and all of it is saved to ``bench/results/summary.json``, from which
``bench/make_page.py`` writes the tables of ``docs/performance.md``.

    python bench/run.py                # all of them (about 15 minutes on 2 cores)
    python bench/run.py step cli       # bench_step.py and bench_cli.py only
    python bench/run.py --quick        # smaller sizes, for a look in a few minutes
    python bench/run.py --page         # and then write docs/performance.md's tables
    python bench/run.py server --page  # the office server only, then its table alone
    python bench/run.py --growth 10000,100000,1000000   # also the growth table (bench/results/growth.*)
    python bench/run.py --pg postgresql://postgres@127.0.0.1:54329/postgres   # and PostgreSQL beside SQLite

The benchmarks comparing the engines (``engines``, ``writers``, ``pgqueries``) need a PostgreSQL
server where they may create databases: ``--pg URL``, else ``SOPENGINE_BENCH_PG``; without one
they say they are skipped, and why.

Exit status: 1 when a benchmark fails to run, else 0 (a missed target is a figure, not a failure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
ORDER = ["step", "engines", "cli", "queries", "pgqueries", "audit", "writers", "server"]  # the rest follow alphabetically

# Smaller sizes for --quick, given only to a benchmark that has the option.
QUICK = {
    "step": ["--runs", "60", "--profile-runs", "30"],
    "cli": ["--rounds", "15"],
    "queries": ["--sizes", "2000,20000", "--rounds", "7"],
    "audit": ["--sizes", "2000,20000", "--repeat", "1"],
    "server": ["--users", "20", "--actions", "10"],
    "engines": ["--runs", "60", "--inserts", "500"],
    "writers": ["--seconds", "5", "--repeat", "1"],
    "pgqueries": ["--runs", "20000", "--rounds", "7", "--repeat", "1"],
}
# The least that runs each benchmark through (tests/test_bench_smoke.py): a figure of no worth.
SMOKE = {
    "step": ["--runs", "4", "--profile-runs", "2"],
    "cli": ["--rounds", "1"],
    "queries": ["--sizes", "120,240", "--rounds", "1", "--paths", "1"],
    "audit": ["--sizes", "120,240", "--repeat", "1"],
    "server": ["--users", "3", "--actions", "3"],
    "engines": ["--runs", "4", "--inserts", "20", "--opens", "3"],
    "writers": ["--writers", "2", "--seconds", "0.5", "--repeat", "1"],
    "pgqueries": ["--runs", "240", "--rounds", "1", "--repeat", "1", "--paths", "1"],
}
SHARED_DBS = ("queries", "pgqueries", "audit")  # benchmarks that take --db-dir and share the databases built


def _at(*keys: str) -> Callable[[dict[str, Any]], Any]:
    def get(result: dict[str, Any]) -> Any:
        value: Any = result
        for k in keys:
            value = value[k]
        return value
    return get


# (benchmark, target as people read it, the measured figure from its RESULT, "<=" or ">=", limit)
TARGETS: list[tuple[str, str, Callable[[dict[str, Any]], Any], str, float]] = [
    ("step", "sopengine step (open Store) / floor (transitions + sqlite3)", _at("ratios", "sopengine / floor"), "<=", 1.5),
    ("step", "SpiffWorkflow durable step (load + advance + save) / sopengine step",
     _at("ratios", "SpiffWorkflow, load + advance + save / sopengine"), ">=", 7.0),
    ("cli", "sopengine list / python -c pass", _at("ratios", "sopengine list"), "<=", 8.0),
    ("cli", "sopengine --help / python -c pass", _at("ratios", "sopengine --help"), "<=", 5.0),
    ("cli", "sopengine complete RUN / python -c pass", _at("ratios", "sopengine complete RUN"), "<=", 7.0),
    ("audit", "audit verify peak memory, largest / smallest database", _at("memory_ratio"), "<=", 1.3),
    ("audit", "audit verify chain pass / floor rate (largest database)", _at("floor_share"), ">=", 0.5),
    ("server", "office server: a step's p95 latency, every person working at once", _at("steps", "p95_ms"), "<=", 100.0),
    ("writers", "writers at once: writes refused (busy, concurrent change), every engine", _at("refused"), "<=", 0),
]
UNITS = {"server": "ms", "writers": "count"}  # a target of these benchmarks is a time or a count, not a ratio ("x")
QUERY_LIMIT = 1.5  # each query at the largest size within this many times its time at the smallest


def targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target with the figure measured in this run and its verdict (never typed in)."""
    out = []
    for bench, label, get, op, limit in TARGETS:
        if bench not in results:
            continue
        if results[bench].get("skipped"):
            out.append({"bench": bench, "target": label, "op": op, "limit": limit, "value": None, "verdict": "skipped",
                        "reason": results[bench]["skipped"]})
            continue
        try:
            value = float(get(results[bench]))
        except (KeyError, TypeError, ValueError):
            out.append({"bench": bench, "target": label, "op": op, "limit": limit, "value": None, "verdict": "not measured"})
            continue
        met = value <= limit if op == "<=" else value >= limit
        out.append({"bench": bench, "target": label, "op": op, "limit": limit, "value": round(value, 3),
                    "verdict": "met" if met else "missed", **({"unit": UNITS[bench]} if bench in UNITS else {})})
    q = results.get("queries")
    if q:
        small, large = q["sizes"][0], q["sizes"][-1]
        for name, ratio in q["ratio"].items():
            out.append({"bench": "queries", "target": f"{name}: {large:,} / {small:,} runs", "op": "<=", "limit": QUERY_LIMIT,
                        "value": ratio, "verdict": "met" if ratio <= QUERY_LIMIT else "missed"})
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def commit() -> str:
    """The commit measured: ``git describe`` of this checkout, else ``BENCH_COMMIT`` (for an exported tree)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return os.environ.get("BENCH_COMMIT") or "unknown"


def postgresql(url: str | None) -> dict[str, Any] | None:
    """The PostgreSQL server's version and durability settings (``SHOW fsync`` ...), or None without one."""
    if not url:
        return None
    sys.path.insert(0, str(BENCH))
    import pgbench

    return pgbench.settings(url)


def machine(pg: str | None = None) -> dict[str, Any]:
    """The facts a figure needs beside it to mean anything."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "packages": {name: package_version(name) for name in ("transitions", "click", "SpiffWorkflow")},
        "commit": commit(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "postgresql": postgresql(pg),
    }


def header(m: dict[str, Any]) -> str:
    return "\n".join([
        f"date: {m['date']}",
        f"machine: {m['cpus']} CPUs (nproc), {m['cpu']}, {m['os']}",
        f"python: {m['python']} ({sys.executable}); SQLite {m['sqlite']}",
        "packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"sopengine: {m['commit']}",
        f"load average: {' '.join(f'{x:.2f}' for x in m['load_average'])}",
        pg_line(m.get("postgresql")),
    ])


def pg_line(s: dict[str, Any] | None) -> str:
    if not s:
        return "postgresql: none given (the benchmarks comparing the engines are skipped)"
    line = (f"postgresql: {s['version']}; fsync={s['fsync']}, synchronous_commit={s['synchronous_commit']},"
            f" shared_buffers={s['shared_buffers']}")
    if s["fsync"] == "off":
        line += " (fsync off: commits do not wait for the disk; a production server with fsync on is slower)"
    return line


def found() -> dict[str, Path]:
    scripts = {p.stem.removeprefix("bench_"): p for p in BENCH.glob("bench_*.py")}
    ordered = [n for n in ORDER if n in scripts] + sorted(n for n in scripts if n not in ORDER)
    return {n: scripts[n] for n in ordered}


def run_one(name: str, script: Path, extra: list[str], head: str, results: Path = RESULTS) -> tuple[int, float, dict[str, Any] | None]:
    """Run one benchmark, echoing and saving its output; (exit status, seconds, its RESULT)."""
    results.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    t0 = time.perf_counter()
    with subprocess.Popen([sys.executable, str(script), *extra], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("RESULT "):
                print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
    elapsed = time.perf_counter() - t0
    command = " ".join(["python", str(script.relative_to(ROOT)), *extra])
    (results / f"{name}.txt").write_text(f"{head}\ncommand: {command}\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    result = None
    for line in reversed(lines):
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["command"] = command
            result["seconds"] = round(elapsed, 1)
            (results / f"{name}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
            break
    return proc.returncode, elapsed, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (bench_NAME.py); default all")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, where a benchmark offers them")
    parser.add_argument("--smoke", action="store_true", help="the smallest sizes: proves every benchmark runs, measures nothing")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the outputs (default bench/results)")
    parser.add_argument("--page", action="store_true", help="then write docs/performance.md's tables (bench/make_page.py)")
    parser.add_argument("--pg", metavar="URL", default=os.environ.get("SOPENGINE_BENCH_PG") or None,
                        help="a PostgreSQL server where databases may be created, for the benchmarks comparing the engines"
                             " (default: $SOPENGINE_BENCH_PG; without one they are skipped)")
    parser.add_argument("--growth", metavar="SIZES", help="also time the queries at these sizes (runs, comma-separated),"
                        " for the growth table; the databases of the other benchmarks are reused")
    args = parser.parse_args()

    scripts = found()
    unknown = [n for n in args.names if n not in scripts]
    if unknown:
        print(f"Error: no benchmark {', '.join(unknown)}; there are: {', '.join(scripts)}", file=sys.stderr)
        return 1
    chosen = {n: p for n, p in scripts.items() if not args.names or n in args.names}
    m = machine(args.pg)
    head = header(m)
    print(head, flush=True)
    dbs = Path(tempfile.mkdtemp(prefix="sopengine-bench-dbs-"))
    ran: list[tuple[str, int, float]] = []
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    try:
        built = False
        for name, script in chosen.items():
            source = script.read_text(encoding="utf-8")
            extra: list[str] = []
            if args.quick or args.smoke:
                options = (SMOKE if args.smoke else QUICK).get(name, [])
                for flag, value in zip(options[::2], options[1::2]):
                    if f'"{flag}"' in source:
                        extra += [flag, value]
            if args.pg and '"--pg"' in source:
                extra += ["--pg", args.pg]
            if name in SHARED_DBS and '"--db-dir"' in source:
                extra += ["--db-dir", str(dbs)] + (["--reuse"] if built else [])
                built = True
            print(f"\n== {name}: python {script.relative_to(ROOT)} {' '.join(extra)}".rstrip(), flush=True)
            status, seconds, result = run_one(name, script, extra, head, args.results)
            ran.append((name, status, seconds))
            if result is not None:
                results[name] = result
                if result.get("skipped"):
                    skipped[name] = result["skipped"]
        if args.growth:
            extra = ["--sizes", args.growth, "--rounds", "7", "--db-dir", str(dbs), "--reuse"]
            print(f"\n== growth: python bench/bench_queries.py {' '.join(extra)}", flush=True)
            status, seconds, _result = run_one("growth", scripts["queries"], extra, head, args.results)
            ran.append(("growth", status, seconds))
    finally:
        shutil.rmtree(dbs, ignore_errors=True)
    judged = targets(results)
    summary = {"machine": m, "quick": args.quick, "smoke": args.smoke, "load_average_after": [round(x, 2) for x in os.getloadavg()],
               "ran": {n: {"exit": s, "seconds": round(t, 1), **({"skipped": skipped[n]} if n in skipped else {})} for n, s, t in ran},
               "targets": judged}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(f"\n== summary (outputs in {args.results})")
    for name, status, seconds in ran:
        state = "skipped" if name in skipped else "ok" if status == 0 else f"FAILED (exit {status})"
        print(f"{name:10s} {state:16s} {seconds:7.1f} s" + (f"  ({skipped[name]})" if name in skipped else ""))
    print(f"\n{'target':78s} {'measured':>9s} {'limit':>8s}  verdict")
    for t in judged:
        unit = t.get("unit", "x")
        value = "-" if t["value"] is None else f"{t['value']:g}" if unit == "count" else f"{t['value']:.2f}{unit}"
        limit = f"{t['limit']:g}" + ("" if unit in ("x", "count") else unit)
        print(f"{t['target']:78s} {value:>9s} {t['op']} {limit:<5s}  {t['verdict']}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in m['load_average'])} at the start, "
          f"{' '.join(f'{x:.2f}' for x in summary['load_average_after'])} at the end")
    failed = [n for n, s, _ in ran if s != 0]
    if args.page and not failed:
        # some benchmarks only: their own blocks, leaving the machine and targets of the last full run
        only = [x for name in args.names for x in ("--only", name)]
        subprocess.run([sys.executable, str(BENCH / "make_page.py"), "--results", str(args.results), *only], cwd=ROOT, check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
