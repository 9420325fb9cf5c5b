"""Commands that change a run read --now in the run's own zone (its calendar's), as status shows it."""

from __future__ import annotations

from pathlib import Path

from sopengine import api

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"


def test_complete_reads_now_in_the_runs_calendar_zone(db_location: str | Path, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "pengumpulan-data.yaml").write_text((DEFINITIONS / "pengumpulan-data.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (defs / "calendar.yaml").write_text("timezone: WITA\n", encoding="utf-8")
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, definitions=defs, now="2026-10-01T09:00")["run_id"]
    assert api.run_status(db, run_id)["started_at"] == "2026-10-01T01:00:00Z"  # 09:00 WITA
    api.complete(db, run_id, now="2026-10-01T09:10")
    first = api.run_status(db, run_id)["timeline"][0]
    assert first["closed_at"] == "2026-10-01T01:10:00Z"
