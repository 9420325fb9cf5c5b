"""Run operations on an open :class:`Store`: the caller's connection is used and left open."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sopengine import runs
from sopengine.errors import RunClosed, RunNotFound
from sopengine.store import Store
from test_runs_consistency import assert_consistent

START = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


def test_one_open_store_carries_a_run_to_its_end_and_stays_open(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    with Store(db, create=True) as store:
        run_id = runs.start_run("pengumpulan-data", db=store, period="2026-12", by="Agus", now=START)["run_id"]
        done = []
        for i in range(20):
            result = runs.complete(store, run_id, by="Agus", now=START + timedelta(minutes=10 * (i + 1)))
            done.append(result["step"])
            if result["status"] != "active":
                break
        # every row of the SOP, both period gates taken (December ends a semester and the year)
        assert done == [
            "kumpulkan-data", "rekap-laporan", "olah-data", "susun-laporan", "sosialisasi-laporan",
            "rekap-dua-laporan", "susun-laporan-semester", "sosialisasi-semester", "susun-laporan-tahunan",
        ]
        assert store.conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone() == ("completed",)
        # an error inside an operation does not close the caller's store either
        with pytest.raises(RunNotFound):
            runs.complete(store, "zzz-zzz", by="Agus", now=START)
        with pytest.raises(RunClosed, match="completed"):
            runs.complete(store, run_id, by="Agus", now=START)
        kinds = [k for (k,) in store.conn.execute("SELECT kind FROM events WHERE run_id = ? ORDER BY seq", (run_id,))]
        assert kinds == ["run_started"] + ["step_completed"] * 5 + ["decided"] + ["step_completed"] * 3 + ["decided", "step_completed", "run_completed"]
    assert_consistent(db, tmp_path / "replay")


@pytest.mark.sqlite_only
def test_a_store_and_a_path_give_the_same_run(tmp_path: Path) -> None:
    by_path, by_store = tmp_path / "path.db", tmp_path / "store.db"
    a = runs.start_run("pengumpulan-data", db=by_path, period="2026-10", by="Agus", now=START)["run_id"]
    store = Store(by_store, create=True)
    b = runs.start_run("pengumpulan-data", db=store, period="2026-10", by="Agus", now=START)["run_id"]
    steps_a, steps_b = [], []
    for i in range(5):
        at = START + timedelta(hours=i + 1)
        steps_a.append(runs.complete(by_path, a, by="Agus", now=at))
        steps_b.append(runs.complete(store, b, by="Agus", now=at))
    with pytest.raises(RunClosed):
        runs.complete(store, b, by="Agus", now=START + timedelta(hours=9))
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):  # closed by us, not before
        store.conn.execute("SELECT 1")

    def strip(result: dict) -> dict:
        return {k: v for k, v in result.items() if k != "run_id"}

    assert [strip(r) for r in steps_a] == [strip(r) for r in steps_b]
    assert steps_b[-1]["status"] == "completed"  # October: no semester, no year report
    assert_consistent(by_path)
    assert_consistent(by_store)
