"""What the command line shows after a change (``status.open_summary``) is what ``status`` says is open.

The summary reads the run and its open tasks in one statement instead of the whole status (the
timeline, the documents, the definition file). Every shipped SOP is carried to its end here, the
first open step taken each time (a decision's first outcome), and after every change the summary
must equal the same fields of ``run_status``, a day later too (late steps), on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api, runs
from sopengine.cli import cli
from sopengine.errors import RunNotFound
from sopengine.store import Store

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
START = "2026-12-07T09:00"
LATER = "2026-12-09T15:00"
CASES = {"pengajuan-pembayaran": {"akun": "521211"}}  # its account code chooses the table
FIELDS = ("run_id", "status", "timezone", "open_steps")


def _same_as_status(db: object, run_id: str) -> int:
    for now in (START, LATER):
        summary = api.open_summary(db, run_id, now=now)
        status = api.run_status(db, run_id, now=now, definitions=DEFINITIONS)
        assert summary == {k: status[k] for k in FIELDS}
    return len(summary["open_steps"])


@pytest.mark.parametrize("sop", sorted(p.stem for p in DEFINITIONS.glob("*.yaml")))
def test_the_summary_after_each_change_is_what_status_says_is_open(db_location: object, sop: str) -> None:
    with Store(db_location, create=True) as store:  # type: ignore[arg-type]
        run_id = runs.start_run(sop, db=store, definitions=DEFINITIONS, period="2026-12", case=CASES.get(sop), by="Petugas",
                                now=START)["run_id"]
        seen_open = _same_as_status(store, run_id)
        for _ in range(60):
            steps = api.run_status(store, run_id, now=START)["open_steps"]
            ready = [s for s in steps if s["state"] == "open"]
            if not ready:
                break
            first = ready[0]
            if first["kind"] == "decision":
                runs.decide(store, run_id, first["outcomes"][0], step=first["step"], by="Petugas", now=START)
            else:
                runs.complete(store, run_id, step=first["step"], by="Petugas", now=START)
            seen_open += _same_as_status(store, run_id)
        assert api.run_status(store, run_id)["status"] == "completed"
    assert seen_open > 0


def test_the_summary_of_a_run_the_database_does_not_hold_names_it(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    runs.start_run("surat-keluar", db=db, definitions=DEFINITIONS, by="Petugas", now=START)
    with pytest.raises(RunNotFound, match="no run 'zzz-zzz' in"):
        api.open_summary(db, "zzz-zzz")


def test_complete_on_the_command_line_shows_the_next_open_step(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    run_id = runs.start_run("pengumpulan-data", db=db, definitions=DEFINITIONS, period="2026-10", by="Petugas",
                            now="2026-10-05T08:00")["run_id"]
    result = CliRunner().invoke(cli, ["--db", str(db), "--by", "Petugas", "--lang", "en", "complete", run_id,
                                      "--step", "1", "--now", "2026-10-05T09:00"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Completed kumpulkan-data of run {run_id} (Petugas)."
    assert lines[1].startswith("Open:     2. ")
    assert lines[2] == "Actor:    Kasubag Perencanaan Evaluasi dan Pelaporan (kasubag-pep)"
    assert lines[3].startswith("Due:      2026-10-05 ")
