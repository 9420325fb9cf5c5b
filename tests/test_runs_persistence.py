"""What is stored stays: round trips, pinned definitions, corrections and backdated work.

* save → reload → compare: a run's status in every state (active, waiting at a join,
  completed, cancelled, reopened) is the same while the change still sits in the WAL, after
  the last connection closed, and in a copy of the file elsewhere;
* runs are pinned (invariant 4): editing or deleting the YAML file never changes a run in
  flight, and status says the file changed or is gone;
* corrections and backdated work (invariant 3): a reopened step and a completion recorded
  with ``--now`` in the past keep both times and the correction in the history.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pg_support import connect
from sopengine import api, clock
from sopengine.cli import cli
from sopengine.errors import DefinitionNotFound
from sopengine.store import Store
from test_runs_consistency import assert_consistent

ROOT = Path(__file__).resolve().parent.parent
PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"


def table_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: con.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in tables}
    finally:
        con.close()


def runs_in_every_state(db: Path | str, folder: Path | None = None) -> dict[str, str]:
    runs = {}
    runs["active"] = api.start_run("surat-keluar", db=db, now=NOW, by="Rina", assign=[("kasubag-umpar", "Hendra")])["run_id"]
    api.complete(db, runs["active"], now=NOW, by="Hendra", note="konsep pertama")
    api.assign(db, runs["active"], "kepala-satuan", "Siti Rahma", acting=True, now=NOW)
    runs["waiting"] = api.start_run("split-join", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, runs["waiting"], now=NOW)
    api.complete(db, runs["waiting"], step="arsipkan", now=NOW)
    runs["completed"] = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW)["run_id"]
    for _ in range(5):
        api.complete(db, runs["completed"], now=NOW)
    runs["cancelled"] = api.start_run("pengumpulan-data", db=db, period="2026-11", now=NOW)["run_id"]
    api.complete(db, runs["cancelled"], now=NOW)
    api.cancel(db, runs["cancelled"], reason="Dimulai dua kali", now=NOW)
    runs["reopened"] = api.start_run("pengumpulan-data", db=db, period="2026-09", now=NOW)["run_id"]
    for _ in range(5):
        api.complete(db, runs["reopened"], now=NOW)
    api.reopen(db, runs["reopened"], "3", reason="Data bulan September salah", now=NOW)
    out = tmp_doc(folder or Path(db).parent)
    runs["documents"] = api.start_run("dokumen-wajib", db=db, definitions=PARALLEL, now=NOW, case={"jenis": "biasa"})["run_id"]
    api.complete(db, runs["documents"], now=NOW, on_behalf="Budi Santoso")
    api.complete(db, runs["documents"], now=NOW, outputs={"Tanda Terima": str(out)})
    return runs


def tmp_doc(folder: Path) -> Path:
    path = folder / "tanda-terima.pdf"
    path.write_bytes(b"%PDF-1.4 tanda terima\n")
    return path


def everything(db: Path, runs: dict[str, str]) -> dict[str, Any]:
    return {
        "status": {name: api.run_status(db, run_id, now=NOW, definitions=PARALLEL) for name, run_id in runs.items()},
        "list": api.list_runs(db, include_closed=True, now=NOW),
        "inbox": api.inbox(db, person="Hendra", now=NOW),
    }


@pytest.mark.sqlite_only
def test_every_state_survives_closing_and_copying_the_database(tmp_path: Path) -> None:
    db = tmp_path / "a" / "runs.db"
    db.parent.mkdir()
    Store(db, create=True).close()
    # a connection that has read the file stays open: changes stay in the WAL, not yet in the file
    holder = sqlite3.connect(db)
    holder.execute("SELECT COUNT(*) FROM runs").fetchone()
    runs = runs_in_every_state(db)
    assert Path(f"{db}-wal").exists()
    while_open = everything(db, runs)
    assert {name: s["status"] for name, s in while_open["status"].items()} == {
        "active": "active", "waiting": "active", "completed": "completed", "cancelled": "cancelled",
        "reopened": "active", "documents": "completed",
    }
    assert [(s["step"], s["state"]) for s in while_open["status"]["waiting"]["open_steps"]] == [("olah-data", "open"), ("gabungkan", "waiting")]
    assert [(s["step"], s["iteration"]) for s in while_open["status"]["reopened"]["open_steps"]] == [("olah-data", 2)]
    holder.close()
    assert not Path(f"{db}-wal").exists()  # the last connection folded the WAL into the file
    after_close = everything(db, runs)
    assert after_close == while_open

    copy = tmp_path / "b" / "elsewhere.db"
    copy.parent.mkdir()
    shutil.copy(db, copy)
    assert everything(copy, runs) == while_open
    assert table_rows(copy) == table_rows(db)
    assert_consistent(copy, tmp_path)

    # the copy goes on by itself; the original does not see it
    api.complete(copy, runs["waiting"], step="olah-data", now=NOW)
    assert api.run_status(copy, runs["waiting"], now=NOW, definitions=PARALLEL)["open_steps"][0]["state"] == "open"
    assert everything(db, runs) == while_open


def test_the_json_status_round_trips(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    runs = runs_in_every_state(db, tmp_path)
    runner = CliRunner()
    for run_id in runs.values():
        result = runner.invoke(cli, ["status", run_id, "--json", "--db", str(db), "--now", NOW, "--definitions", str(PARALLEL)],
                               catch_exceptions=False)
        assert json.loads(result.stdout) == json.loads(json.dumps(api.run_status(db, run_id, now=NOW, definitions=PARALLEL)))


# -- runs survive their definitions -------------------------------------------------------------------

def test_a_run_goes_on_from_its_pinned_text_when_the_file_changes_or_goes(db_location: str | Path, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    source = PARALLEL / "split-join-loop.yaml"
    yaml_file = defs / "split-join-loop.yaml"
    shutil.copy(source, yaml_file)
    db = db_location
    run_id = api.start_run("split-join-loop", db=db, definitions=defs, now=NOW)["run_id"]
    status = api.run_status(db, run_id, now=NOW, definitions=defs)
    assert status["definition_changed"] is False and status["definition_file_missing"] is False
    # without --definitions, status looks at the file the run started from
    status = api.run_status(db, run_id, now=NOW)
    assert status["definition_changed"] is False and status["definition_file_missing"] is False

    # an admin rewrites the SOP: a row is renamed, and a rejected report goes to the join, not back to the start
    text = source.read_text(encoding="utf-8")
    edited = text.replace("kegiatan: Membagi tugas kepada staf", "kegiatan: Membagi tugas (revisi)")
    edited = edited.replace('- {name: "Tidak", next: bagi-tugas}', '- {name: "Tidak", next: gabungkan}')
    assert edited.count("revisi") == 1 and "next: gabungkan}" in edited
    yaml_file.write_text(edited, encoding="utf-8")
    status = api.run_status(db, run_id, now=NOW, definitions=defs)
    assert status["definition_changed"] is True and status["definition_file_missing"] is False
    assert status["open_steps"][0]["kegiatan"] == "Membagi tugas kepada staf"
    for folder in (["--definitions", str(defs)], []):
        shown = CliRunner().invoke(cli, ["status", run_id, "--db", str(db), *folder, "--now", NOW], catch_exceptions=False)
        assert "The definition file has changed since this run started; the run follows the text it started with." in shown.output

    def to_approval(run: str) -> None:
        api.complete(db, run, now=NOW)
        api.complete(db, run, step="arsipkan", now=NOW)
        api.complete(db, run, step="olah-data", now=NOW)
        api.decide(db, run, "Ya", now=NOW)
        api.complete(db, run, now=NOW)
        api.decide(db, run, "Tidak", now=NOW)

    # the run in flight follows its pinned text: Tidak goes back to the start
    to_approval(run_id)
    assert [(s["step"], s["kegiatan"]) for s in api.run_status(db, run_id, now=NOW, definitions=defs)["open_steps"]] == [
        ("bagi-tugas", "Membagi tugas kepada staf")]
    # a new run follows the new text
    new_run = api.start_run("split-join-loop", db=db, definitions=defs, now=NOW)["run_id"]
    assert api.run_status(db, new_run, now=NOW, definitions=defs)["definition_changed"] is False
    to_approval(new_run)
    assert [s["step"] for s in api.run_status(db, new_run, now=NOW, definitions=defs)["open_steps"]] == ["gabungkan"]

    yaml_file.unlink()
    status = api.run_status(db, run_id, now=NOW, definitions=defs)
    assert status["definition_file_missing"] is True and status["definition_changed"] is None
    for folder in (["--definitions", str(defs)], []):
        shown = CliRunner().invoke(cli, ["status", run_id, "--db", str(db), *folder, "--now", NOW], catch_exceptions=False)
        assert "The definition file is gone; the run goes on from the text it started with." in shown.output
    api.complete(db, run_id, now=NOW)
    for step in ("olah-data", "arsipkan"):
        api.complete(db, run_id, step=step, now=NOW)
    api.decide(db, run_id, "Ya", now=NOW)
    api.complete(db, run_id, now=NOW)
    api.decide(db, run_id, "Ya", now=NOW)
    assert api.run_status(db, run_id, now=NOW, definitions=defs)["status"] == "completed"
    with pytest.raises(DefinitionNotFound, match="no definition 'split-join-loop'"):
        api.start_run("split-join-loop", db=db, definitions=defs, now=NOW)
    # the pinned text is the one the run started with, byte for byte
    assert api.run_definition(db, run_id).steps[0].kegiatan == "Membagi tugas kepada staf"
    con = connect(db)
    pinned = con.execute("SELECT source FROM definitions d JOIN runs r ON r.definition_hash = d.hash WHERE r.id = ?", (run_id,)).fetchone()[0]
    con.close()
    assert pinned == text
    assert_consistent(db, tmp_path)


# -- corrections and backdated work --------------------------------------------------------------------

def _events(db: Path, run_id: str) -> list[dict[str, Any]]:
    con = connect(db)
    try:
        cur = con.execute("SELECT * FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
        cols = [c[0] for c in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
    for r in rows:
        r["payload"] = json.loads(r["payload"])
    return rows


def test_a_backdated_completion_keeps_both_times(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    before = datetime.now(UTC).replace(microsecond=0)
    run_id = api.start_run("surat-keluar", db=db, now="2026-10-01T08:00")["run_id"]
    api.complete(db, run_id, now="2026-10-01T08:25", by="Hendra")  # recorded later: the act happened at 08:25 WIB
    after = datetime.now(UTC).replace(microsecond=0)
    completed = next(e for e in _events(db, run_id) if e["kind"] == "step_completed")
    assert completed["at"] == "2026-10-01T01:25:00Z"
    recorded = clock.from_iso(completed["recorded_at"])
    assert recorded is not None and before <= recorded <= after  # the real clock, which no option changes
    status = api.run_status(db, run_id, now="2026-10-01T08:30")
    done = status["timeline"][0]
    assert (done["step"], done["closed_at"], done["closed_by"]) == ("konsep-surat", "2026-10-01T01:25:00Z", "Hendra")
    assert done["late_by"] == 0  # judged by when it happened: within its 30 minutes
    # the next step opened at the time of the act, so its due time follows from it
    assert status["open_steps"][0]["opened_at"] == "2026-10-01T01:25:00Z"
    assert status["open_steps"][0]["due_at"] == "2026-10-01T01:40:00Z"


def test_a_backdated_completion_from_the_environment(db_location: str | Path, tmp_path: Path, monkeypatch) -> None:
    db = db_location
    monkeypatch.setenv("SOPENGINE_NOW", "2026-10-02T10:00")
    result = CliRunner().invoke(cli, ["--db", str(db), "run", "surat-keluar", "--json"], catch_exceptions=False)
    run_id = json.loads(result.stdout)["run_id"]
    CliRunner().invoke(cli, ["--db", str(db), "complete", run_id, "--step", "1"], catch_exceptions=False)
    events = _events(db, run_id)
    assert [e["at"] for e in events] == ["2026-10-02T03:00:00Z", "2026-10-02T03:00:00Z"]
    assert all(e["recorded_at"] != e["at"] for e in events)


def test_a_reopened_step_keeps_the_first_round_and_the_correction(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T08:00")["run_id"]
    for minute, who in ((10, "Agus"), (40, "Sari"), (50, "Dedi"), (55, "Dedi"), (59, "Sari")):
        api.complete(db, run_id, now=f"2026-10-01T08:{minute:02d}", by=who)
    assert api.run_status(db, run_id, now=NOW)["status"] == "completed"

    # a mistake found the next day, recorded as done then, noticed and entered later still
    api.reopen(db, run_id, "olah-data", reason="Data bulan Oktober salah", now="2026-10-02T09:00", by="Kasubag")
    status = api.run_status(db, run_id, now="2026-10-02T09:00")
    assert status["status"] == "active" and status["finished_at"] is None
    assert [(s["step"], s["iteration"], s["opened_at"]) for s in status["open_steps"]] == [("olah-data", 2, "2026-10-02T02:00:00Z")]
    for when in ("2026-10-02T09:30", "2026-10-02T10:00", "2026-10-02T10:30"):
        api.complete(db, run_id, now=when, by="Dedi")
    status = api.run_status(db, run_id, now="2026-10-02T11:00")
    assert status["status"] == "completed" and status["finished_at"] == "2026-10-02T03:30:00Z"

    rounds = [(t["step"], t["iteration"], t["closed_by"], t["closed_at"]) for t in status["timeline"] if t["step"] == "olah-data"]
    assert rounds == [("olah-data", 1, "Dedi", "2026-10-01T01:50:00Z"), ("olah-data", 2, "Dedi", "2026-10-02T02:30:00Z")]
    kinds = [e["kind"] for e in _events(db, run_id)]
    assert kinds == ["run_started"] + ["step_completed"] * 5 + ["decided", "run_completed", "reopened"] + ["step_completed"] * 3 + [
        "decided", "run_completed"]
    reopened = next(e for e in _events(db, run_id) if e["kind"] == "reopened")
    assert reopened["payload"] == {"reason": "Data bulan Oktober salah", "closed": [], "was": "completed", "via": "cli", "auth": "as-typed"}
    assert (reopened["person"], reopened["at"], reopened["step_id"]) == ("Kasubag", "2026-10-02T02:00:00Z", "olah-data")
    assert reopened["recorded_at"] != reopened["at"]
    assert_consistent(db, tmp_path)


def test_reopening_an_active_run_closes_its_open_steps_with_the_reason(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("split-join", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, run_id, now=NOW)
    api.complete(db, run_id, step="arsipkan", now=NOW)
    api.reopen(db, run_id, "1", reason="Disposisi keliru", now="2026-10-01T10:00", by="Kabid")
    status = api.run_status(db, run_id, now=NOW, definitions=PARALLEL)
    assert [(s["step"], s["iteration"], s["state"]) for s in status["open_steps"]] == [("bagi-tugas", 2, "open")]
    cancelled = [(t["step"], t["note"]) for t in status["timeline"] if t["state"] == "cancelled"]
    assert cancelled == [("olah-data", "reopened at bagi-tugas: Disposisi keliru"), ("gabungkan", "reopened at bagi-tugas: Disposisi keliru")]
    reopened = next(e for e in _events(db, run_id) if e["kind"] == "reopened")
    assert reopened["payload"] == {"reason": "Disposisi keliru", "closed": ["olah-data", "gabungkan"], "was": "active", "via": "cli", "auth": "as-typed"}
    api.complete(db, run_id, now="2026-10-01T11:00")
    for step in ("olah-data", "arsipkan", "gabungkan"):
        api.complete(db, run_id, step=step, now="2026-10-01T11:00")
    assert api.run_status(db, run_id, now=NOW, definitions=PARALLEL)["status"] == "completed"
    assert_consistent(db, tmp_path)
