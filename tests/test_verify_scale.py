"""``audit verify`` at scale: one streaming pass, memory that does not grow with the events.

A history is generated fast: one real run started through the engine gives the schema, the
pinned definition and the calendar; then runs of ten events each (run_started, eight
completed steps, run_completed) with their done task rows, hashed and chained as the store
writes them, are loaded through the store's audit module. Runs are written in interleaved
waves, as runs in flight are in an office, so one run's events are spread over the table.
"""

from __future__ import annotations

import gc
import sqlite3
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sopengine import audit, clock
from sopengine.audit.verify import floor_rate
from sopengine.chain import GENESIS, canonical, event_hash
from sopengine.runs import start_run
from sopengine.store import audit as store_audit

STEPS = (
    ("kumpulkan-data", "sekretaris-dinas"), ("rekap-laporan", "kasubag-pep"), ("olah-data", "staf-evaluasi"),
    ("susun-laporan", "staf-evaluasi"), ("sosialisasi-laporan", "kasubag-pep"), ("rekap-dua-laporan", "kepala-seksi"),
    ("susun-laporan-semester", "kepala-bidang"), ("sosialisasi-semester", "kepala-bidang"),
)
PER_RUN = 10
WAVE = 200
N = 20_000


def generate(db: Path, events: int) -> Path:
    """A database of about *events* events (runs of ten), verified clean by construction."""
    real = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="admin")
    conn = sqlite3.connect(db)
    definition_hash, calendar_hash = conn.execute(
        "SELECT definition_hash, calendar_hash FROM runs WHERE id = ?", (real["run_id"],)).fetchone()
    base = datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)
    runs = (events - 1) // PER_RUN
    for wave in range(0, runs, WAVE):
        ids = [f"g{n:06d}" for n in range(wave, min(runs, wave + WAVE))]
        started = {rid: base + timedelta(minutes=7 * n) for n, rid in enumerate(ids, start=wave)}
        prev = dict.fromkeys(ids, GENESIS)
        run_rows, event_rows, task_rows = [], [], []
        for rid in ids:
            run_rows.append((rid, "completed", PER_RUN - 1, clock.iso(started[rid] + timedelta(hours=PER_RUN - 1)),
                             "pengumpulan-data", definition_hash, calendar_hash, "2026-S1", "{}", None,
                             clock.iso(started[rid]), "pegawai-0"))
        for k in range(PER_RUN):
            for rid in ids:
                at = clock.iso(started[rid] + timedelta(hours=k))
                person = f"pegawai-{k}"
                step = actor = None
                if k == 0:
                    kind, payload = "run_started", {
                        "definition": "pengumpulan-data", "definition_hash": definition_hash, "title": "Pengumpulan Data",
                        "period": "2026-S1", "case": {}, "calendar_hash": calendar_hash, "due_at": None, "assignments": []}
                elif k == PER_RUN - 1:
                    kind, payload = "run_completed", {}
                else:
                    step, actor = STEPS[k - 1]
                    kind, payload = "step_completed", {"iteration": 1, "actor": actor, "note": f"langkah {k} selesai"}
                    task_rows.append((rid, step, 0, 1, actor, "done", at, None, at, person, None, payload["note"], None))
                record = {"run_id": rid, "at": at, "recorded_at": at, "person": person, "os_user": "staf", "kind": kind,
                          "step_id": step, "payload": payload, "prev_hash": prev[rid]}
                record["hash"] = prev[rid] = event_hash(record)
                event_rows.append((rid, at, at, person, "staf", kind, step, canonical(payload), record["prev_hash"],
                                   record["hash"]))
        store_audit.load_history(conn, runs=run_rows, events=event_rows, tasks=task_rows)
    conn.close()
    return db


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("n") / "n.db", N)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("n4") / "n4.db", 4 * N)


def peak_of_verify(db: Path) -> tuple[int, dict]:
    gc.collect()
    tracemalloc.start()
    try:
        result = audit.verify(db)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def test_verify_and_the_floor_read_the_same_events(small: Path) -> None:
    result = audit.verify(small)
    assert result["ok"], result["first_problem"]
    floor = floor_rate(small)
    assert floor["events"] == result["events"] + result["office_events"]
    assert N - PER_RUN < result["events"] <= N
    assert floor["rate"] > 0 and result["chain_seconds"] > 0
    assert result["integrity"]["check"] == "quick_check" and result["integrity"]["ok"]


def test_the_head_is_the_one_computed_over_every_run_s_last_hash(small: Path) -> None:
    """The pass hashes the head run by run; it is the documented hash over a dict of every head."""
    conn = sqlite3.connect(small)
    heads = dict(conn.execute("SELECT run_id, hash FROM events WHERE seq IN (SELECT MAX(seq) FROM events GROUP BY run_id)"))
    conn.close()
    from sopengine.chain import database_head

    assert audit.verify(small)["head_hash"] == database_head(heads)


def test_verify_memory_does_not_grow_with_the_events(small: Path, large: Path) -> None:
    """Four times the events (and the runs) in the same peak memory, within 1.3x."""
    audit.verify(small)  # modules imported, caches filled: what is measured is the pass
    peak_small, result_small = peak_of_verify(small)
    peak_large, result_large = peak_of_verify(large)
    assert result_small["ok"] and result_large["ok"]
    assert result_large["events"] >= 4 * result_small["events"] - 4 * PER_RUN
    assert peak_large <= 1.3 * peak_small, f"peak {peak_small / 2**20:.1f} MiB at N, {peak_large / 2**20:.1f} MiB at 4N"


def test_a_break_deep_in_a_large_history_is_still_named(large: Path, tmp_path: Path) -> None:
    """Streaming changes nothing in what is found: an edited event far down the history is named."""
    copy = tmp_path / "copy.db"
    audit.backup(large, copy)
    conn = sqlite3.connect(copy)
    conn.execute("DROP TRIGGER events_append_only_update")
    seq = conn.execute("SELECT seq FROM events WHERE run_id = 'g007000' AND kind = 'step_completed' LIMIT 1").fetchone()[0]
    conn.execute("UPDATE events SET person = 'pegawai-x' WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()
    result = audit.verify(copy)
    assert not result["ok"]
    assert (result["first_problem"]["kind"], result["first_problem"]["seq"]) == ("edited", seq)
