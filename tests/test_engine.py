"""The workflow engine alone: one ``transitions`` machine per definition version, tokens per operation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sopengine import api, engine
from sopengine.definition.loader import compile_definition
from sopengine.engine import END, Workflow, decide_trigger, matches, split_state, state_name, workflow
from sopengine.store import Store

PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"


def compiled(definition_id: str, definitions: Path | None = None) -> dict[str, Any]:
    definition, text, _ = api.load(definition_id, definitions)
    return compile_definition(definition, text)


def test_state_names_of_lanes() -> None:
    assert state_name("siapkan-informasi") == "siapkan-informasi"
    assert state_name("siapkan-informasi", 1) == "siapkan-informasi#2"
    assert split_state("siapkan-informasi#2") == ("siapkan-informasi", 1)
    assert split_state("olah-data") == ("olah-data", 0)


def test_one_machine_per_definition_version() -> None:
    first = compiled("pengumpulan-data")
    again = compiled("pengumpulan-data")
    assert first is not again and first["hash"] == again["hash"]
    assert workflow(first) is workflow(again)
    other = dict(first, hash="0" * 64)  # another version of the text
    assert workflow(other) is not workflow(first)


def test_operations_reuse_one_attached_token_and_leave_no_run_data_on_it(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("split-join-loop", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, run_id, now=NOW)
    api.complete(db, run_id, step="olah-data", now=NOW)
    api.decide(db, run_id, "Tidak", now=NOW)
    with Store(db) as store:
        pinned = store.compiled(store.run(run_id)["definition_hash"])
    wf = workflow(pinned)
    assert wf is engine._CACHE[pinned["hash"]]
    assert len(wf.machine.models) == 1
    with pytest.raises(ValueError):
        wf.fire("olah-data", decide_trigger("ya"))
    assert len(wf.machine.models) == 1
    assert wf.machine.models[0].facts == {}


def test_process_steps_complete_to_their_next_row_and_splits_spawn_tokens() -> None:
    wf = Workflow(compiled("split-join", PARALLEL))
    token = wf.fire("bagi-tugas", "complete")
    assert token.moves == [("complete", "bagi-tugas", "olah-data")]
    assert token.spawned == ["arsipkan"]
    assert wf.fire("olah-data", "complete").moves[-1][2] == "gabungkan"
    assert wf.fire("gabungkan", "complete").moves[-1][2] == END
    assert wf.triggers("gabungkan") == ["complete"]


def test_decisions_have_one_trigger_per_outcome() -> None:
    wf = Workflow(compiled("surat-keluar"))
    assert sorted(wf.triggers("periksa-kasubag")) == [decide_trigger("tidak"), decide_trigger("ya")]
    assert wf.fire("periksa-kasubag", decide_trigger("tidak")).moves[-1][2] == "ketik-konsep"
    assert wf.fire("periksa-sekretaris", decide_trigger("tidak")).moves[-1][2] == "periksa-kasubag"
    assert wf.fire("periksa-sekretaris", decide_trigger("ya")).moves[-1][2] == "periksa-kepala-satuan"
    with pytest.raises(ValueError, match="'complete' cannot fire in state 'periksa-kasubag'"):
        wf.fire("periksa-kasubag", "complete")


FORMAT1 = Path(__file__).resolve().parent / "data" / "format1"


def test_a_two_actor_row_is_one_state_per_lane() -> None:
    # Runs pinned to a format-1 definition keep its lanes as parts of one step
    wf = Workflow(compiled("permohonan-informasi-publik", FORMAT1))
    assert wf.fire("siapkan-informasi", "complete").moves[-1][2] == "siapkan-informasi#2"
    assert wf.fire("siapkan-informasi#2", "complete").moves[-1][2] == "hubungi-pengguna"


def test_a_row_of_two_symbols_is_two_states() -> None:
    # format 2: each box of the row is a step of its own, drawn in its lane
    wf = Workflow(compiled("permohonan-informasi-publik"))
    assert wf.fire("siapkan-informasi", "complete").moves[-1][2] == "siapkan-informasi-2"
    assert wf.fire("siapkan-informasi-2", "complete").moves[-1][2] == "hubungi-pengguna"


@pytest.mark.parametrize(("period_facts", "dest"), [
    ({"period.ends_semester": True}, "rekap-dua-laporan"),
    ({"period.ends_semester": False}, END),
    ({"period.ends_semester": None}, END),
])
def test_automatic_gates_follow_the_facts(period_facts: dict[str, Any], dest: str) -> None:
    wf = Workflow(compiled("pengumpulan-data"))
    assert wf.fire("akhir-semester", "auto", period_facts).moves[-1][2] == dest


def test_an_automatic_gate_with_no_outcome_that_holds_is_an_error() -> None:
    spec = compiled("pengumpulan-data")
    spec["steps"]["akhir-tahun"]["outcomes"] = [o for o in spec["steps"]["akhir-tahun"]["outcomes"] if o["when"] != "otherwise"]
    wf = Workflow(dict(spec, hash="1" * 64))
    with pytest.raises(ValueError, match="no outcome of 'akhir-tahun' holds"):
        wf.fire("akhir-tahun", "auto", {"period.ends_year": False})


def test_matches() -> None:
    assert matches("otherwise", {})
    assert matches({"case.jenis": "rahasia"}, {"case.jenis": "rahasia"})
    assert not matches({"case.jenis": "rahasia"}, {"case.jenis": "biasa"})
    assert matches({"case.jenis": ["rahasia", "terbatas"]}, {"case.jenis": "terbatas"})
    assert not matches({"case.jenis": ["rahasia"]}, {})
    assert not matches({"period.ends_year": True, "case.jenis": "rahasia"}, {"period.ends_year": True, "case.jenis": "biasa"})
