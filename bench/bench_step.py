"""Benchmark: one durable step in process: sopengine beside the floor and SpiffWorkflow 3, same SOP.

Every engine carries runs of SOP Pengumpulan Data Kinerja (``definitions/pengumpulan-data.yaml``;
for SpiffWorkflow the same process as BPMN, ``bench/spiff_sop.bpmn``) from the first row to
the end. Many runs are started first, one period each, cycling through the twelve months of
2026, so both period gates take both ways (October: rows 1-5; June: 1-8; December: all 9).
Then the runs are carried round by round, as an office carries the runs it has in flight:
in each round every unfinished run takes its next step, and every step is timed. The ways
of carrying them take turns within each round, their order turning every round, so that a
busy machine slows all alike:

* ``sopengine, open Store`` — ``runs.complete(store, run_id, by=..., now=...)`` on a
  :class:`~sopengine.store.Store` kept open: the whole transaction (run read, state machine,
  task rows, hash-chained event, run update), WAL, ``synchronous=NORMAL``;
* ``sopengine, path per call`` — ``runs.complete(db_path, ...)``: also opens the database
  (connect, pragmas, schema check) and closes it (a WAL checkpoint, being the last connection);
* ``floor: transitions + sqlite3`` — ``bench/floor.py``: the least a durable step can do, the
  same machine library and the same rows, event and chain written with plain SQL;
* ``SpiffWorkflow, bare in memory`` — the workflow object kept between steps, nothing saved
  (not durable);
* ``SpiffWorkflow, in memory, saved each step`` — the same, its JSON written after each step;
* ``SpiffWorkflow, load + advance + save`` — read back from its JSON, advanced, written: the
  durable step, and the fair comparison (sopengine reads the run at every step too).

Every run's rows are checked to be the same in every way. The targets: sopengine's step within
1.5x the floor's, and SpiffWorkflow's durable step (load + advance + save) at least 7x
sopengine's. Then a profile of open-Store steps shows where a step's time goes, and the count
of SQL statements and commits of one step.

Run from the repository root::

    python bench/bench_step.py              # 240 runs per way (about 1,300 steps each)
    python bench/bench_step.py --runs 60    # a quicker look

The last line is ``RESULT {json}`` for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from floor import FloorRuns  # noqa: E402

from sopengine import runs  # noqa: E402
from sopengine.period import facts as period_facts  # noqa: E402
from sopengine.store import Store  # noqa: E402

DEFINITIONS = ROOT / "definitions"
BPMN = BENCH / "spiff_sop.bpmn"
SOP = "pengumpulan-data"
PERIODS = [f"2026-{m:02d}" for m in range(1, 13)]
START = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)  # 08:00 WIB
BY = "Agus Supriyadi"
TARGET_FLOOR = 1.5  # sopengine's step within this many times the floor's
TARGET_RATIO = 7.0  # SpiffWorkflow's durable step at least this many times sopengine's
MAX_ROUNDS = 20

STORE, PATH, FLOOR, SPIFF_BARE, SPIFF, SPIFF_LOADED = (
    "sopengine, open Store", "sopengine, path per call", "floor: transitions + sqlite3",
    "SpiffWorkflow, bare in memory", "SpiffWorkflow, in memory, saved each step", "SpiffWorkflow, load + advance + save",
)

Step = Callable[[Any, datetime], tuple[str, bool]]  # (handle, now) -> (row taken, run finished)


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def spiff_facts(period: str) -> dict[str, bool]:
    """The period facts the gates read, under names a BPMN condition can use."""
    f = period_facts(period)
    return {"period_ends_semester": f["period.ends_semester"], "period_ends_year": f["period.ends_year"]}


def sopengine_way(db: Store | Path) -> tuple[Callable[[int, str], Any], Step]:
    def start(i: int, period: str) -> str:
        return runs.start_run(SOP, db=db, definitions=DEFINITIONS, period=period, by=BY, now=START, allow_duplicate=True)["run_id"]

    def step(run_id: str, now: datetime) -> tuple[str, bool]:
        result = runs.complete(db, run_id, by=BY, now=now)
        return result["step"], result["status"] == "completed"

    return start, step


def floor_way(floor: FloorRuns) -> tuple[Callable[[int, str], Any], Step]:
    def start(i: int, period: str) -> str:
        run_id = f"run-{i}"
        floor.start(run_id, period, BY, START)
        return run_id

    def step(run_id: str, now: datetime) -> tuple[str, bool]:
        return floor.complete(run_id, BY, now)

    return start, step


def spiff_way(spiff: Any, how: str) -> tuple[Callable[[int, str], Any], Step]:
    def start(i: int, period: str) -> str:
        run_id = f"run-{i}"
        spiff.start(run_id, spiff_facts(period), START.isoformat())
        return run_id

    complete = {"bare": spiff.complete_bare, "saved": spiff.complete, "loaded": spiff.complete_loaded}[how]

    def step(run_id: str, now: datetime) -> tuple[str, bool]:
        return complete(run_id, BY, now.isoformat()), spiff.done(run_id)

    return start, step


def carry(ways: dict[str, tuple[Callable[[int, str], Any], Step]], periods: list[str], first: int = 0,
          samples: dict[str, list[float]] | None = None) -> list[list[str]]:
    """Start one run per period in every way, then carry them all to their end, round by round.

    Times every step into *samples* (when given); returns each run's rows, after checking
    that every way took the same rows.
    """
    names = list(ways)
    handles = {name: [ways[name][0](first + i, p) for i, p in enumerate(periods)] for name in names}
    taken = {name: [[] for _ in periods] for name in names}
    active = list(range(len(periods)))
    for k in range(MAX_ROUNDS):
        now = START + timedelta(minutes=10 * (k + 1))
        shift = k % len(names)
        done: dict[str, set[int]] = {}
        for name in names[shift:] + names[:shift]:
            step = ways[name][1]
            out = samples.setdefault(name, []) if samples is not None else None
            done[name] = set()
            for i in active:
                t0 = time.perf_counter()
                row, finished = step(handles[name][i], now)
                elapsed = time.perf_counter() - t0
                if out is not None:
                    out.append(elapsed)
                taken[name][i].append(row)
                if finished:
                    done[name].add(i)
        if len({frozenset(d) for d in done.values()}) != 1:
            raise SystemExit(f"the ways disagree on which runs end in round {k + 1}: {done}")
        active = [i for i in active if i not in done[names[0]]]
        if not active:
            break
    else:
        raise SystemExit(f"runs still open after {MAX_ROUNDS} rounds")
    for name in names[1:]:
        if taken[name] != taken[names[0]]:
            bad = next(i for i in range(len(periods)) if taken[name][i] != taken[names[0]][i])
            raise SystemExit(f"{name} took other rows than {names[0]} for {periods[bad]}: {taken[name][bad]} vs {taken[names[0]][bad]}")
    return taken[names[0]]


CATEGORIES = (
    ("SQLite: statements and commits", lambda file, func: "sqlite3" in func),
    ("transitions: state machine", lambda file, func: "/transitions/" in file),
    ("JSON and sha256: events, hash chain", lambda file, func: "/json/" in file or "_json" in func or "hashlib" in func or "sha256" in func),
    ("dates: calendar, clock, period", lambda file, func: file.endswith(("calendar.py", "clock.py", "period.py")) or "/zoneinfo/" in file or "datetime" in func or "strftime" in func),
    ("sopengine: runs, store, engine", lambda file, func: "/sopengine/" in file),
    ("getpass: OS user of the event", lambda file, func: file.endswith("getpass.py") or "pwd" in func),
)


def profile(store: Store, n: int) -> list[tuple[str, float]]:
    """Profile open-Store steps of *n* runs carried round by round; tottime per category, per step."""
    start, step = sopengine_way(store)
    handles = [start(i, PERIODS[i % 12]) for i in range(n)]
    prof = cProfile.Profile()
    steps = 0
    active = list(range(n))
    for k in range(MAX_ROUNDS):
        now = START + timedelta(minutes=10 * (k + 1))
        still = []
        for i in active:
            prof.enable()
            _, finished = step(handles[i], now)
            prof.disable()
            steps += 1
            if not finished:
                still.append(i)
        active = still
        if not active:
            break
    totals: dict[str, float] = {}
    for (file, _line, func), (_cc, _nc, tottime, _ct, _callers) in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        name = next((label for label, test in CATEGORIES if test(file, func)), "other: interpreter, standard library")
        totals[name] = totals.get(name, 0.0) + tottime
    return sorted(((k, v / steps) for k, v in totals.items()), key=lambda kv: -kv[1])


def statements(store: Store, n: int) -> tuple[float, float]:
    """Median SQL statements (BEGIN, COMMIT and ROLLBACK apart) and commits of one open-Store step, over *n* runs."""
    start, step = sopengine_way(store)
    handles = [start(10**7 + i, PERIODS[i % 12]) for i in range(n)]
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    counts, commits = [], []
    try:
        for k, run_id in enumerate(handles):
            seen.clear()
            step(run_id, START + timedelta(minutes=10 * (k + 1)))
            words = [sql.split(None, 1)[0].upper() for sql in seen if sql.strip()]
            counts.append(sum(1 for w in words if w not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")))
            commits.append(sum(1 for w in words if w in ("COMMIT", "RELEASE")))
    finally:
        store.conn.set_trace_callback(None)
    return statistics.median(counts), statistics.median(commits)


def wal_pages(folder: Path, compiled: dict[str, Any], runs_n: int = 60) -> dict[str, float]:
    """Pages one step writes, in each way: the WAL frames that *runs_n* first steps add to a fresh
    database (no checkpoint meanwhile), per step. The floor's tables carry fewer indexes than
    sopengine's, whose queries read through them; each index a step changes is one more page."""
    pages: dict[str, float] = {}
    store = Store(folder / "wal-store.db", create=True)
    floor = FloorRuns(folder / "wal-floor.db", compiled)
    try:
        ids = [runs.start_run(SOP, db=store, definitions=DEFINITIONS, period=PERIODS[i % 12], by=BY, now=START,
                              allow_duplicate=True)["run_id"] for i in range(runs_n)]
        for i in range(runs_n):
            floor.start(f"wal-{i}", PERIODS[i % 12], BY, START)
        for name, conn, path, step in (
            (STORE, store.conn, folder / "wal-store.db", lambda i: runs.complete(store, ids[i], by=BY, now=START + timedelta(minutes=10))),
            (FLOOR, floor.conn, folder / "wal-floor.db", lambda i: floor.complete(f"wal-{i}", BY, START + timedelta(minutes=10))),
        ):
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            for i in range(runs_n):
                step(i)
            wal = Path(str(path) + "-wal").stat().st_size
            pages[name] = round((wal - 32) / (page + 24) / runs_n, 2)  # a 32-byte header, then frames of a 24-byte header and a page
    finally:
        store.close()
        floor.close()
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=240, help="runs started and carried to their end in each way")
    parser.add_argument("--profile-runs", type=int, default=120, help="runs profiled afterwards (0: no profile)")
    parser.add_argument("--no-spiff", action="store_true", help="time sopengine and the floor alone")
    parser.add_argument("--keep", type=Path, help="keep the databases in this folder")
    args = parser.parse_args()

    spiff_version = None
    if not args.no_spiff:
        try:
            from importlib.metadata import version

            from spiff.runner import SpiffRuns

            spiff_version = version("SpiffWorkflow")
        except ImportError:
            print("SpiffWorkflow is not installed (pip install 'SpiffWorkflow>=3,<4', or the 'bench' extra); timing sopengine alone")

    folder = Path(tempfile.mkdtemp(prefix="sopengine-bench-step-"))
    store = Store(folder / "store.db", create=True)
    from sopengine import api
    from sopengine.definition.loader import compile_definition

    definition, text, _path = api.load(SOP, DEFINITIONS)
    floor = FloorRuns(folder / "floor.db", compile_definition(definition, text))
    ways = {STORE: sopengine_way(store), PATH: sopengine_way(folder / "path.db"), FLOOR: floor_way(floor)}
    spiffs = []
    if spiff_version:
        spiffs = [SpiffRuns(folder / f"spiff-{how}.db", BPMN) for how in ("bare", "saved", "loaded")]
        ways[SPIFF_BARE] = spiff_way(spiffs[0], "bare")
        ways[SPIFF] = spiff_way(spiffs[1], "saved")
        ways[SPIFF_LOADED] = spiff_way(spiffs[2], "loaded")
    try:
        print(f"bench_step: {SOP}, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}"
              + (f", SpiffWorkflow {spiff_version}" if spiff_version else "") + f"; load average {os.getloadavg()[0]:.2f}")
        # Untimed first: proves the ways agree on each kind of period, and warms every cache.
        checks = ["2026-10", "2026-06", "2026-12"]
        for period, rows in zip(checks, carry(ways, checks, first=10**6)):
            print(f"  {period}: every way takes the same {len(rows)} rows ({rows[0]} ... {rows[-1]})")

        samples: dict[str, list[float]] = {}
        t0 = time.perf_counter()
        periods = [PERIODS[i % len(PERIODS)] for i in range(args.runs)]
        carry(ways, periods, samples=samples)
        steps = len(samples[STORE])
        print(f"{args.runs} runs started in each way, then carried to their end round by round: "
              f"{steps} steps each, in {time.perf_counter() - t0:.1f} s")
        print(f"  {'per step':44s} {'median':>10s} {'p10':>10s} {'p90':>10s}")
        med = {}
        for name, values in samples.items():
            med[name] = statistics.median(values)
            print(f"  {name:44s} {ms(med[name]):>10s} {ms(quantile(values, 0.1)):>10s} {ms(quantile(values, 0.9)):>10s}")
        opens = []
        for _ in range(200):
            t = time.perf_counter()
            Store(folder / "path.db").close()
            opens.append(time.perf_counter() - t)
        print(f"  opening and closing the database, nothing written (part of what a path adds): median {ms(statistics.median(opens))}")
        n_sql, n_commit = statements(store, 40)
        print(f"  SQL statements of one open-Store step (median of 40 first steps): {n_sql:g}, in {n_commit:g} commit(s)")

        pages = wal_pages(folder, compile_definition(definition, text))
        print(f"  pages written per step (WAL frames of 60 first steps): sopengine {pages[STORE]:g}, floor {pages[FLOOR]:g}")

        result: dict[str, Any] = {"steps": steps, "runs": args.runs, "medians_ms": {k: round(v * 1000, 4) for k, v in med.items()},
                                  "statements": n_sql, "commits": n_commit, "pages": pages, "ratios": {}}
        floor_ratio = med[STORE] / med[FLOOR]
        result["ratios"]["sopengine / floor"] = round(floor_ratio, 3)
        print(f"  sopengine (open Store) / floor: {floor_ratio:.2f}x (target <= {TARGET_FLOOR}x)")
        if spiff_version:
            for name in (SPIFF_LOADED, SPIFF, SPIFF_BARE):
                ratio = med[name] / med[STORE]
                result["ratios"][f"{name} / sopengine"] = round(ratio, 3)
                print(f"  {name} / sopengine (open Store): {ratio:.2f}x" + (f" (target >= {TARGET_RATIO:.0f}x)" if name == SPIFF_LOADED else ""))
            print(f"  SpiffWorkflow (load + advance + save) / sopengine (path per call): {med[SPIFF_LOADED] / med[PATH]:.2f}x")
            print(f"  SpiffWorkflow JSON of a finished run: {spiffs[1].last_size:,} bytes, rewritten whole at every step")

        if args.profile_runs:
            rows = profile(store, args.profile_runs)
            total = sum(v for _, v in rows)
            print(f"where a step's time goes (cProfile, {args.profile_runs} runs, open Store; the profiler inflates "
                  f"Python time, read the shares): {total * 1e6:.0f} us per step under the profiler")
            for label, per_step in rows:
                print(f"  {label:40s} {per_step * 1e6:7.1f} us  {per_step / total:5.1%}")
            result["profile"] = {label: round(per_step / total, 4) for label, per_step in rows}
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
        print("RESULT " + json.dumps(result), flush=True)
    finally:
        store.close()
        floor.close()
        for s in spiffs:
            s.close()
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for f in folder.iterdir():
                shutil.copy2(f, args.keep / f.name)
            print(f"kept the databases in {args.keep}")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
