"""Joins entered straight from a split, reopening inside a parallel section, and the guards
that keep a run's history in order (times, names, steps not yet reached)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from pg_support import connect, holds_no_runs
from sopengine import api
from sopengine.cli import cli
from sopengine.errors import InputError, OutputMissing, RunError
from test_runs_consistency import assert_consistent

ENGINE_DEFS = Path(__file__).resolve().parent / "data" / "engine"
PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"


def counts(db: Path, run_id: str) -> tuple[int, int]:
    con = connect(db)
    try:
        return (con.execute("SELECT COUNT(*) FROM events WHERE run_id = ?", (run_id,)).fetchone()[0],
                con.execute("SELECT COUNT(*) FROM tasks WHERE run_id = ?", (run_id,)).fetchone()[0])
    finally:
        con.close()


def open_steps(db: Path, run_id: str) -> list[tuple[str, int, str]]:
    return [(s["step"], s["iteration"], s["state"]) for s in api.run_status(db, run_id)["open_steps"]]


def test_a_split_straight_into_its_join_waits_for_the_other_branch_and_runs_the_join_once(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("split-into-join", db=db, definitions=ENGINE_DEFS, now=NOW)["run_id"]
    api.complete(db, run_id, now=NOW)
    assert open_steps(db, run_id) == [("gabung", 1, "waiting"), ("periksa", 1, "open")]
    api.complete(db, run_id, step="periksa", now=NOW)
    assert open_steps(db, run_id) == [("gabung", 1, "open")]
    api.complete(db, run_id, now=NOW)
    status = api.run_status(db, run_id)
    assert status["status"] == "completed"
    assert [t["step"] for t in status["timeline"] if t["state"] == "done"] == ["bagi-tugas", "periksa", "gabung"]
    assert_consistent(db, tmp_path)


def test_reopening_one_branch_leaves_the_other_branch_open(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("split-join", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, run_id, now=NOW)
    api.complete(db, run_id, step="arsipkan", now=NOW)
    assert open_steps(db, run_id) == [("olah-data", 1, "open"), ("gabungkan", 1, "waiting")]
    api.reopen(db, run_id, "arsipkan", reason="Arsip salah map", now="2026-10-01T10:00")
    assert sorted(open_steps(db, run_id)) == [("arsipkan", 2, "open"), ("olah-data", 1, "open")]
    api.complete(db, run_id, step="arsipkan", now="2026-10-01T10:30")
    api.complete(db, run_id, step="olah-data", now="2026-10-01T11:00")
    # the join was reached once before the correction (and that wait cancelled): this is visit 2
    assert open_steps(db, run_id) == [("gabungkan", 2, "open")]
    assert_consistent(db, tmp_path)


def test_reopen_refuses_a_step_the_run_has_not_reached(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW)["run_id"]
    before = counts(db, run_id)
    result = CliRunner().invoke(cli, ["--db", str(db), "reopen", run_id, "9", "--reason", "lompat", "--now", NOW])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: run {run_id} has not reached step susun-laporan-tahunan (no. 9) yet; reopen goes back to a step"
        " already done — 'sopengine status RUN' lists them\n"
    )
    assert counts(db, run_id) == before


def test_an_automatic_decision_with_no_outcome_holding_is_refused_whole(db_location: str | Path, tmp_path: Path) -> None:
    """Its facts are all given, and none of its outcomes holds: the definition lacks an 'otherwise'."""
    defs = tmp_path / "defs"
    defs.mkdir()
    text = (ENGINE_DEFS / "gate-without-otherwise.yaml").read_text(encoding="utf-8")
    (defs / "gate-without-otherwise.yaml").write_text(text.replace("values: [biasa, rahasia]", "values: [biasa, rahasia, umum]"),
                                                      encoding="utf-8")
    db = db_location
    run_id = api.start_run("gate-without-otherwise", db=db, definitions=defs, now=NOW, case={"jenis": "umum"})["run_id"]
    before = counts(db, run_id)
    result = CliRunner().invoke(cli, ["--db", str(db), "complete", run_id, "--step", "1", "--now", NOW])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no outcome of the automatic decision cek-jenis holds for run {run_id} (case.jenis = umum);"
        " nothing was recorded — the definition needs an 'otherwise' outcome there\n"
    )
    assert counts(db, run_id) == before
    with pytest.raises(RunError):
        api.complete(db, run_id, now=NOW)


@pytest.mark.parametrize("operation", ["reopen", "cancel", "assign"])
def test_changes_dated_before_the_run_started_are_refused(db_location: str | Path, tmp_path: Path, operation: str) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW)["run_id"]
    api.complete(db, run_id, now=NOW)
    before = counts(db, run_id)
    calls = {
        "reopen": lambda: api.reopen(db, run_id, "1", reason="salah", now="2026-09-30T09:00"),
        "cancel": lambda: api.cancel(db, run_id, reason="salah", now="2026-09-30T09:00"),
        "assign": lambda: api.assign(db, run_id, "kepala-bidang", "Siti", now="2026-09-30T09:00"),
    }
    with pytest.raises(InputError, match=r"is before run .* started \(2026-10-01 09:00 WIB\); check --now"):
        calls[operation]()
    assert counts(db, run_id) == before


def test_a_naive_datetime_from_python_is_the_sops_local_time(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=datetime(2026, 10, 1, 9, 0))["run_id"]
    assert api.run_status(db, run_id)["started_at"] == "2026-10-01T02:00:00Z"


def test_assignments_at_the_start_refuse_empty_names_and_fold_case(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    with pytest.raises(InputError, match=r"--assign kasubag-pep= needs a person's name"):
        api.start_run("pengumpulan-data", db=db, now=NOW, assign=[("kasubag-pep", " ")])
    assert holds_no_runs(db)
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW,
                           assign=[("kasubag-pep", "Rina"), ("kasubag-pep", "rina")])["run_id"]
    assert [(a["role"], a["person"]) for a in api.run_status(db, run_id)["assignments"]] == [("kasubag-pep", "Rina")]


def test_an_output_that_is_a_folder_is_named_as_such(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW)["run_id"]
    with pytest.raises(OutputMissing, match=r"is a folder; give the file of 'Disposisi'"):
        api.complete(db, run_id, now=NOW, outputs=[("Disposisi", str(tmp_path))])


def test_the_engines_own_name_cannot_be_used_by_a_person(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW)["run_id"]
    before = counts(db, run_id)
    result = CliRunner().invoke(cli, ["--db", str(db), "complete", run_id, "--step", "1", "--by", "SOPengine", "--now", NOW])
    assert result.exit_code == 1
    assert "is kept for what the engine records by itself; give your own name with --by" in result.stderr
    assert counts(db, run_id) == before


def test_inbox_by_role_names_a_mistyped_role_and_takes_the_sops_own_name(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW)["run_id"]
    result = CliRunner().invoke(cli, ["--db", str(db), "inbox", "--actor", "sekertaris-dinas"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no SOP in {db} has a role 'sekertaris-dinas'; roles are: ")
    assert [r["run_id"] for r in api.inbox(db, actor="Sekretaris Dinas")] == [run_id]


def test_inbox_by_person_folds_case_beyond_ascii(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, assign=[("sekretaris-dinas", "ÖZGÜR")])["run_id"]
    assert [r["run_id"] for r in api.inbox(db, person="özgür")] == [run_id]


def test_an_assignment_records_who_made_it_and_when_it_took_effect(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, by="Admin", assign=[("kasubag-pep", "Rina")])["run_id"]
    api.assign(db, run_id, "kepala-bidang", "Siti", acting=True, by="Sekretariat", now="2026-10-02T08:30")
    rows = {(a["role"], a["person"]): (a["assigned_by"], a["assigned_at"]) for a in api.run_status(db, run_id)["assignments"]}
    assert rows == {("kasubag-pep", "Rina"): ("Admin", "2026-10-01T02:00:00Z"),
                    ("kepala-bidang", "Siti"): ("Sekretariat", "2026-10-02T01:30:00Z")}


def test_a_name_that_is_not_text_is_a_one_line_error_and_writes_nothing(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW)["run_id"]
    before = counts(db, run_id)
    # what a terminal in another encoding hands Python for the byte 0xff
    result = CliRunner().invoke(cli, ["--db", str(db), "complete", run_id, "--step", "1", "--now", NOW, "--note", "catatan\udcff"])
    assert result.exit_code == 1
    assert result.stderr == "Error: a name or text given is not valid UTF-8 ('\\udcff'); set the terminal to UTF-8 and type it again\n"
    assert counts(db, run_id) == before
