"""An external party's steps (a citizen, another agency) are recorded by staff on its behalf."""

from __future__ import annotations

import json
from pathlib import Path

from pg_support import connect
from sopengine import api

PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"


def test_staff_record_an_assigned_citizens_step_and_the_event_names_both(db_location: str | Path) -> None:
    db = db_location
    run_id = api.start_run("dokumen-wajib", db=db, definitions=PARALLEL, now=NOW, by="Admin",
                           case={"jenis": "biasa"}, assign=[("pemohon", "Budi Warga")])["run_id"]
    # the citizen is assigned to the external role, yet staff (not the citizen) record the step
    api.complete(db, run_id, by="Rina Petugas", now=NOW)
    con = connect(db)
    person, payload = con.execute(
        "SELECT person, payload FROM events WHERE run_id = ? AND kind = 'step_completed'", (run_id,)
    ).fetchone()
    con.close()
    assert person == "Rina Petugas"
    assert json.loads(payload)["on_behalf_of"] == "Budi Warga"


def test_an_unassigned_external_step_is_recorded_for_the_role(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("dokumen-wajib", db=db, definitions=PARALLEL, now=NOW, case={"jenis": "biasa"})["run_id"]
    api.complete(db, run_id, by="Rina Petugas", now=NOW)
    step = api.run_status(db, run_id)["timeline"][0]
    assert (step["closed_by"], step["on_behalf_of"]) == ("Rina Petugas", "Pemohon")
