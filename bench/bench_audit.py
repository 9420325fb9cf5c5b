"""Benchmark: ``audit verify`` and filtered history over 1,000,000 events.

Builds a database in a temporary folder: one real run started through the engine gives
the schema, the pinned definition and the calendar; then plain SQL inserts 100,000 runs
of 10 events each (run_started, eight completed steps by people from a pool of 200,
run_completed), their hashes computed with :func:`sopengine.chain.event_hash` and chained
per run, the way the store writes them. Runs are written in interleaved waves of 1,000,
as runs in flight are in a real office, so one run's events are spread over the table.

Then it times, in this process with warm caches:

* ``audit.verify(db)`` — every chain recomputed (events per second);
* ``audit.history(db, run=R, limit=100)`` — the first 100 entries of a run;
* ``audit.history(db, person=P, limit=100)`` — the first 100 entries of a person;

and prints the medians and the query plans.

Run from the repository root::

    python bench/bench_audit.py                     # 100,000 runs x 10 events
    python bench/bench_audit.py --runs 10000        # a quicker look
    python bench/bench_audit.py --keep /tmp/audit-1m.db
"""

from __future__ import annotations

import argparse
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

from sopengine import audit, clock  # noqa: E402
from sopengine.chain import GENESIS, canonical, event_hash  # noqa: E402
from sopengine.runs import start_run  # noqa: E402

STEPS = (
    ("kumpulkan-data", "sekretaris-dinas"), ("rekap-laporan", "kasubag-pep"), ("olah-data", "staf-evaluasi"),
    ("susun-laporan", "staf-evaluasi"), ("sosialisasi-laporan", "kasubag-pep"), ("rekap-dua-laporan", "kepala-seksi"),
    ("susun-laporan-semester", "kepala-bidang"), ("sosialisasi-semester", "kepala-bidang"),
)
PEOPLE = [f"pegawai-{i:03d}" for i in range(200)]
WAVE = 1000


def median_ms(fn, args: list, repeat: int) -> float:
    samples = []
    for i in range(repeat):
        a = args[i % len(args)]
        start = time.perf_counter()
        fn(a)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def build(folder: Path, runs: int, per_run: int, seed: int = 11) -> Path:
    """The database: one real run for the schema and pinned definition, then bulk rows."""
    db = folder / "audit-bench.db"
    real = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="admin")
    conn = sqlite3.connect(str(db), isolation_level=None)
    definition_hash, calendar_hash = conn.execute(
        "SELECT definition_hash, calendar_hash FROM runs WHERE id = ?", (real["run_id"],)
    ).fetchone()
    rng = random.Random(seed)
    base = datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    written = 0
    for wave_start in range(0, runs, WAVE):
        ids = [f"b{n:06d}" for n in range(wave_start, min(runs, wave_start + WAVE))]
        started = {rid: base + timedelta(minutes=rng.randrange(0, 60 * 24 * 300)) for rid in ids}
        prev = {rid: GENESIS for rid in ids}
        people = {rid: rng.sample(PEOPLE, per_run) for rid in ids}
        conn.executemany(
            "INSERT INTO runs (id, definition_id, definition_hash, calendar_hash, period, case_data, status,"
            " started_at, started_by, due_at, finished_at, version) VALUES (?, 'pengumpulan-data', ?, ?, '2026-S1', '{}',"
            " 'completed', ?, ?, NULL, ?, ?)",
            [(rid, definition_hash, calendar_hash, clock.iso(started[rid]), people[rid][0],
              clock.iso(started[rid] + timedelta(hours=per_run - 1)), per_run - 1) for rid in ids],
        )
        rows = []
        tasks = []  # the done task row each completion leaves, as the engine writes it
        for k in range(per_run):
            for rid in ids:
                at = started[rid] + timedelta(hours=k)
                # a tenth of the entries are recorded a day later (work entered with --now)
                recorded = at + timedelta(days=1 if rng.random() < 0.1 else 0, seconds=3)
                person = people[rid][k]
                if k == 0:
                    kind, step, payload = "run_started", None, {
                        "definition": "pengumpulan-data", "definition_hash": definition_hash, "title": "Pengumpulan Data Kinerja",
                        "period": "2026-S1", "case": {}, "calendar_hash": calendar_hash, "due_at": None, "assignments": [],
                    }
                elif k == per_run - 1:
                    kind, step, payload = "run_completed", None, {}
                else:
                    step, actor = STEPS[(k - 1) % len(STEPS)]
                    kind, payload = "step_completed", {"iteration": 1, "actor": actor}
                    if k % 3 == 0:
                        payload["note"] = "Data triwulan sudah lengkap, diteruskan ke Kepala Bidang"
                    if k % 4 == 0:
                        payload["documents"] = [{"name": "Draft Laporan Kinerja", "path": f"/arsip/{rid}/draft-{k}.docx",
                                                 "sha256": f"{rng.getrandbits(256):064x}", "size": 48213}]
                record = {
                    "run_id": rid, "at": clock.iso(at), "recorded_at": clock.iso(recorded), "person": person,
                    "os_user": "staf", "kind": kind, "step_id": step, "payload": payload, "prev_hash": prev[rid],
                }
                if kind == "step_completed":
                    tasks.append((rid, step, actor, clock.iso(at - timedelta(hours=1)), record["at"], person,
                                  payload.get("note")))
                digest = event_hash(record)
                rows.append((rid, record["at"], record["recorded_at"], person, "staf", kind, step, canonical(payload),
                             prev[rid], digest))
                prev[rid] = digest
        conn.executemany(
            "INSERT INTO events (run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows,
        )
        conn.executemany(
            "INSERT INTO tasks (run_id, step_id, part, iteration, actor, state, opened_at, due_at, closed_at, closed_by, note)"
            " VALUES (?, ?, 0, 1, ?, 'done', ?, NULL, ?, ?, ?)", tasks,
        )
        written += len(rows)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events-per-run", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="full verifications to time")
    parser.add_argument("--queries", type=int, default=200, help="history queries to time per filter")
    parser.add_argument("--keep", type=Path, help="keep the database at this path")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sopengine-bench-audit-"))
    try:
        start = time.perf_counter()
        db = build(folder, args.runs, args.events_per_run)
        built = time.perf_counter() - start
        conn = sqlite3.connect(str(db))
        total = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        print(f"built {total:,} events in {args.runs + 1:,} runs in {built:.1f} s ({db.stat().st_size / 1e6:.0f} MB)")

        times, cpu = [], []
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            result = audit.verify(db)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            assert result["ok"], result["first_problem"]
        wall, used = statistics.median(times), statistics.median(cpu)
        print(f"audit verify: median {wall:.2f} s wall ({used:.2f} s CPU) over {args.repeat} runs"
              f" = {total / wall:,.0f} events/s ({total / used:,.0f} per CPU second)")

        rng = random.Random(3)
        run_ids = [f"b{rng.randrange(args.runs):06d}" for _ in range(args.queries)]
        people = [rng.choice(PEOPLE) for _ in range(args.queries)]
        by_run = median_ms(lambda r: audit.history(db, run=r, limit=100), run_ids, args.queries)
        by_person = median_ms(lambda p: audit.history(db, person=p, limit=100), people, args.queries)
        got = len(audit.history(db, person=people[0], limit=100))
        print(f"history --run R --limit 100: median {by_run:.2f} ms over {args.queries} runs")
        print(f"history --person P --limit 100: median {by_person:.2f} ms over {args.queries} people ({got} rows each)")
        for label, sql in (
            ("by run", "SELECT * FROM events e LEFT JOIN runs r ON r.id = e.run_id WHERE e.run_id = 'b000001' ORDER BY e.seq LIMIT 100"),
            ("by person", "SELECT * FROM events e LEFT JOIN runs r ON r.id = e.run_id WHERE e.person IN ('pegawai-001') ORDER BY e.seq LIMIT 100"),
        ):
            plan = "; ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            print(f"plan {label}: {plan}")
        conn.close()
        if args.keep:
            audit.backup(db, args.keep, force=True)
            print(f"kept {args.keep}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
