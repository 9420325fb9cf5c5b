"""Every shipped definition run to its end, through every outcome of every decision.

Person decisions are taken with each outcome at least once (loops taken, then left);
automatic gates are driven by the periods that take each branch. Parallel fixtures under
``tests/data/parallel`` prove splits and joins. Each finished database is checked with
:func:`test_runs_consistency.assert_consistent`, its history replayed.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pg_support import connect
from sopengine import api, clock
from sopengine.cli import cli
from sopengine.errors import StepNotOpen
from test_runs_consistency import assert_consistent

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"
SHIPPED = sorted(p.stem for p in DEFINITIONS.glob("*.yaml"))


def compiled(definition_id: str, definitions: Path = DEFINITIONS) -> dict[str, Any]:
    from sopengine.definition.loader import compile_definition

    definition, text, _ = api.load(definition_id, definitions)
    return compile_definition(definition, text)


def start_for(definition_id: str, spec: dict[str, Any], step_id: str | None = None, **kwargs: Any) -> str:
    """Start a run that reaches *step_id*: for an SOP of several tables, the step's own table,
    with the case data its ``when`` asks for."""
    if step_id is not None and len(spec.get("table_order") or []) > 1:
        table = spec["steps"][step_id]["table"]
        when = spec["tables"][table]["when"] or {}
        case = {k.removeprefix("case."): (v[0] if isinstance(v, list) else v) for k, v in when.items()}
        kwargs.update(table=table, case=case)
    return api.start_run(definition_id, **kwargs)["run_id"]


def forward(spec: dict[str, Any], step_id: str) -> str:
    """The outcome of a decision that leads on (to a later row or the end), not back."""
    order = spec["order"]
    for o in spec["steps"][step_id]["outcomes"]:
        if o["next"] == "selesai" or order.index(o["next"]) > order.index(step_id):
            return o["name"]
    raise AssertionError(f"{step_id} has no forward outcome")


def drive(db: Path, run_id: str, spec: dict[str, Any], choices: dict[str, list[str]] | None = None,
          definitions: Path = DEFINITIONS, limit: int = 100) -> list[tuple[str, str | None]]:
    """Carry a run to its end: complete process steps, take decisions from *choices* (then forward).

    Returns every step taken with its outcome, in order.
    """
    plan = {k: list(v) for k, v in (choices or {}).items()}
    taken: list[tuple[str, str | None]] = []
    for _ in range(limit):
        status = api.run_status(db, run_id, now=NOW, definitions=definitions)
        if status["status"] != "active":
            return taken
        task = next(s for s in status["open_steps"] if s["state"] == "open")
        step_id = task["step"]
        if task["kind"] == "decision":
            outcome = plan[step_id].pop(0) if plan.get(step_id) else forward(spec, step_id)
            api.decide(db, run_id, outcome, step=step_id, by=f"pejabat-{task['actor']}", now=NOW, note=f"putusan {outcome}")
            taken.append((step_id, outcome))
        else:
            api.complete(db, run_id, step=step_id, by=f"pejabat-{task['actor']}", now=NOW)
            taken.append((step_id, None))
    raise AssertionError(f"run {run_id} did not end within {limit} actions: {taken[-10:]}")


def events(db: Path, run_id: str) -> list[dict[str, Any]]:
    con = connect(db)
    try:
        cur = con.execute("SELECT * FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
        cols = [c[0] for c in cur.description]
        out = [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
    for e in out:
        e["payload"] = json.loads(e["payload"])
    return out


def task_rows(db: Path, run_id: str) -> list[tuple[Any, ...]]:
    con = connect(db)
    try:
        return con.execute(
            "SELECT step_id, part, iteration, state, outcome FROM tasks WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
    finally:
        con.close()


def person_decisions() -> list[tuple[str, str, str]]:
    """(definition, decision step, outcome) for every outcome of every person decision shipped."""
    cases = []
    for definition_id in SHIPPED:
        spec = compiled(definition_id)
        for step_id in spec["order"]:
            step = spec["steps"][step_id]
            if step["kind"] == "decision" and not step["automatic"]:
                cases.extend((definition_id, step_id, o["name"]) for o in step["outcomes"])
    return cases


def test_the_shipped_definitions_are_all_covered() -> None:
    # The three SOPs of the project; a new file is picked up by the parametrized tests below.
    assert {"pengumpulan-data", "surat-keluar", "permohonan-informasi-publik"} <= set(SHIPPED)
    decisions = {(d, s) for d, s, _ in person_decisions()}
    assert ("surat-keluar", "periksa-kasubag") in decisions
    assert ("surat-keluar", "periksa-sekretaris") in decisions
    assert ("permohonan-informasi-publik", "periksa-permohonan") in decisions


@pytest.mark.parametrize(("definition_id", "step_id", "outcome"), person_decisions())
def test_every_outcome_of_every_person_decision_runs_to_the_end(
    db_location: str | Path, tmp_path: Path, definition_id: str, step_id: str, outcome: str,
) -> None:
    db = db_location
    spec = compiled(definition_id)
    run_id = start_for(definition_id, spec, step_id, db=db, now=NOW, period="2026-10")
    taken = drive(db, run_id, spec, {step_id: [outcome]})
    assert (step_id, outcome) in taken
    # the outcome's target is where the run went next
    target = next(o["next"] for o in spec["steps"][step_id]["outcomes"] if o["name"] == outcome)
    i = taken.index((step_id, outcome))
    if target != "selesai":
        assert taken[i + 1][0] == target
    status = api.run_status(db, run_id, now=NOW)
    assert status["status"] == "completed" and status["open_steps"] == []
    kinds = [e["kind"] for e in events(db, run_id)]
    assert kinds[0] == "run_started" and kinds[-1] == "run_completed"
    assert_consistent(db, tmp_path)


def loops(definition_id: str) -> dict[str, str]:
    """The person decisions of a definition that can send the work back, with that outcome."""
    spec = compiled(definition_id)
    out = {}
    for step_id in spec["order"]:
        step = spec["steps"][step_id]
        if step["kind"] == "decision" and not step["automatic"]:
            back = [o["name"] for o in step["outcomes"] if o["name"] != forward(spec, step_id) and o["next"] != "selesai"]
            if back:
                out[step_id] = back[0]
    return out


LOOPING = [d for d in SHIPPED if loops(d)]


def test_the_correction_loops_of_the_shipped_sops_are_found() -> None:
    assert loops("surat-keluar") == {"periksa-kasubag": "Tidak", "periksa-sekretaris": "Tidak"}
    assert loops("permohonan-informasi-publik") == {"periksa-permohonan": "TIDAK"}
    assert loops("pengumpulan-data") == {}


@pytest.mark.parametrize("definition_id", LOOPING)
def test_every_loop_taken_twice_then_left(db_location: str | Path, tmp_path: Path, definition_id: str) -> None:
    """Each decision that can go back does so twice; every round keeps its rows and events."""
    spec = compiled(definition_id)
    db = db_location
    for step_id, back in loops(definition_id).items():
        run_id = start_for(definition_id, spec, step_id, db=db, now=NOW, period="2026-10", allow_duplicate=True)
        taken = drive(db, run_id, spec, {step_id: [back, back]})
        assert [o for s, o in taken if s == step_id][:3] == [back, back, forward(spec, step_id)]
        rows = task_rows(db, run_id)
        assert [(it, out) for s, _, it, st, out in rows if s == step_id] == [(1, back), (2, back), (3, forward(spec, step_id))]
        decided = [e for e in events(db, run_id) if e["kind"] == "decided" and e["step_id"] == step_id]
        assert [(e["payload"]["iteration"], e["payload"]["outcome"], e["payload"]["note"]) for e in decided] == [
            (1, back, f"putusan {back}"), (2, back, f"putusan {back}"), (3, forward(spec, step_id), f"putusan {forward(spec, step_id)}"),
        ]
        target = next(o["next"] for o in spec["steps"][step_id]["outcomes"] if o["name"] == back)
        assert sorted(it for s, _, it, st, _ in rows if s == target and st == "done")[:3] == [1, 2, 3]
    assert_consistent(db, tmp_path)


def test_surat_keluar_both_correction_loops_nested(db_location: str | Path, tmp_path: Path) -> None:
    """Sekretaris sends the draft back twice; the Kasubag sends it back once in between."""
    db = db_location
    spec = compiled("surat-keluar")
    run_id = api.start_run("surat-keluar", db=db, now=NOW)["run_id"]
    taken = drive(db, run_id, spec, {"periksa-sekretaris": ["Tidak", "Tidak"], "periksa-kasubag": ["Ya", "Ya", "Tidak"]})
    assert [s for s, _ in taken] == [
        "konsep-surat", "ketik-konsep", "periksa-kasubag", "periksa-sekretaris",  # Tidak
        "periksa-kasubag", "periksa-sekretaris",  # Kasubag Ya, Sekretaris Tidak
        "periksa-kasubag", "ketik-konsep", "periksa-kasubag", "periksa-sekretaris",  # Kasubag Tidak: retyped
        "periksa-kepala-satuan", "teruskan-penomoran", "kirim-surat",
    ]
    counts = Counter(s for s, _, _, st, _ in task_rows(db, run_id) if st == "done")
    assert counts["periksa-kasubag"] == 4 and counts["periksa-sekretaris"] == 3 and counts["ketik-konsep"] == 2
    assert_consistent(db, tmp_path)


# -- automatic gates: the period takes each branch ----------------------------------------------------

GATES = [
    ("2026-12", ["akhir-semester:Ya", "akhir-tahun:Ya"], 9),
    ("2026", ["akhir-semester:Ya", "akhir-tahun:Ya"], 9),
    ("2026-Q4", ["akhir-semester:Ya", "akhir-tahun:Ya"], 9),
    ("2026-10", ["akhir-semester:Tidak"], 5),
    ("2026-Q1", ["akhir-semester:Tidak"], 5),
    ("2026-06", ["akhir-semester:Ya", "akhir-tahun:Tidak"], 8),
    ("2026-S1", ["akhir-semester:Ya", "akhir-tahun:Tidak"], 8),
    (None, ["akhir-semester:Tidak"], 5),  # no --period: the current month, October (NOW)
]


@pytest.mark.parametrize(("period", "gates", "rows"), GATES)
def test_pengumpulan_data_period_gates(db_location: str | Path, tmp_path: Path, period: str | None, gates: list[str], rows: int) -> None:
    db = db_location
    spec = compiled("pengumpulan-data")
    started = api.start_run("pengumpulan-data", db=db, now=NOW, period=period, by="Agus")
    assert (started["period"], started["period_default"]) == ((period, False) if period else ("2026-10", True))
    run_id = started["run_id"]
    taken = drive(db, run_id, spec)
    numbers = [spec["steps"][s]["no"] for s, _ in taken]
    # format 2 keeps the row number as printed: text
    assert numbers == [str(n) for n in range(1, rows + 1)]
    evs = events(db, run_id)
    decided = [e for e in evs if e["kind"] == "decided"]
    assert [f"{e['step_id']}:{e['payload']['outcome']}" for e in decided] == gates
    for e in decided:
        assert e["payload"]["automatic"] is True
        assert e["person"] == "sopengine"
        cause = evs[evs.index(e) - 1]
        assert cause["kind"] == "step_completed" and e["payload"]["triggered_by"] == cause["person"]
        fact = "period.ends_semester" if e["step_id"] == "akhir-semester" else "period.ends_year"
        assert e["payload"]["facts"] == {fact: e["payload"]["outcome"] == "Ya"}
    # the gate's decision rides in the same transaction as the completion that reached it
    gate = decided[0]
    before = evs[evs.index(gate) - 1]
    assert before["kind"] == "step_completed" and before["step_id"] == "sosialisasi-laporan"
    assert before["recorded_at"] == gate["recorded_at"]
    # an automatic gate never becomes a task a person must act on
    assert not [r for r in task_rows(db, run_id) if r[0] in ("akhir-semester", "akhir-tahun")]
    assert api.run_status(db, run_id, now=NOW)["status"] == "completed"
    assert_consistent(db, tmp_path)


def test_the_library_decides_nothing_automatic_for_a_person(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    with pytest.raises(StepNotOpen, match=r"step akhir-semester of run \S+ is not open; open: kumpulkan-data \(no\. 1\)"):
        api.decide(db, run_id, "Ya", step="akhir-semester", now=NOW)


# -- the citizen's request: external actor, two-actor row, untimed steps, process deadline --------------

def test_permohonan_informasi_publik_end_to_end(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = api.start_run("permohonan-informasi-publik", db=db, now=NOW, by="Rina Petugas",
                        assign=[("ppid", "Hendra"), ("perangkat-daerah", "Wati")])
    run_id = run["run_id"]
    start = clock.from_iso(run["started_at"])
    due = clock.from_iso(run["due_at"])
    assert start is not None and due is not None
    # 17 working days: more than three calendar weeks, less than five
    assert timedelta(days=23) <= due - start <= timedelta(days=35)
    status = api.run_status(db, run_id, now=NOW)
    assert status["deadline"] == "Paling lambat 17 hari kerja" and status["deadline_late_by"] == 0
    assert [(s["step"], s["due_at"], s["waktu"]) for s in status["open_steps"]] == [("ajukan-permohonan", None, "Setiap Saat")]

    # the citizen's step, recorded by staff for them, twice (the form was incomplete once)
    api.complete(db, run_id, by="Rina Petugas", now=NOW, on_behalf="Budi Santoso")
    api.decide(db, run_id, "TIDAK", by="Rina Petugas", now=NOW, note="KTP tidak terbaca")
    api.complete(db, run_id, by="Rina Petugas", now=NOW)
    api.decide(db, run_id, "ya", by="Rina Petugas", now=NOW)  # outcome names in any case
    api.complete(db, run_id, by="Rina Petugas", now=NOW)
    api.complete(db, run_id, by="Hendra", now=NOW)
    api.complete(db, run_id, by="Wati", now=NOW)
    # the two-actor row: the unit's box, then the PPID's box (format 2: two symbols of row 6)
    lanes = api.run_status(db, run_id, now=NOW)["open_steps"]
    assert [(s["step"], s["actor"], s["no"]) for s in lanes] == [("siapkan-informasi", "perangkat-daerah", "6")]
    api.complete(db, run_id, by="Wati", now=NOW)
    lanes = api.run_status(db, run_id, now=NOW)["open_steps"]
    assert [(s["step"], s["actor"], s["no"]) for s in lanes] == [("siapkan-informasi-2", "ppid", "6")]
    api.complete(db, run_id, by="Hendra", now=NOW)
    api.complete(db, run_id, by="Rina Petugas", now=NOW)
    late = "2026-11-20T09:00"
    api.complete(db, run_id, by="Rina Petugas", now=late)
    status = api.run_status(db, run_id, now=late)
    assert status["status"] == "completed"
    assert status["deadline_late_by"] > 0  # finished after the 17 working days

    evs = events(db, run_id)
    citizen = [e for e in evs if e["step_id"] in ("ajukan-permohonan", "terima-informasi") and e["kind"] == "step_completed"]
    assert [(e["person"], e["payload"]["on_behalf_of"]) for e in citizen] == [
        ("Rina Petugas", "Budi Santoso"), ("Rina Petugas", "Pengguna Layanan"), ("Rina Petugas", "Pengguna Layanan"),
    ]
    siapkan = [e for e in evs if e["step_id"] in ("siapkan-informasi", "siapkan-informasi-2")]
    assert [(e["person"], e["step_id"], e["payload"]["actor"]) for e in siapkan] == [
        ("Wati", "siapkan-informasi", "perangkat-daerah"), ("Hendra", "siapkan-informasi-2", "ppid"),
    ]
    rows = task_rows(db, run_id)
    assert [(it, out) for s, _, it, _, out in rows if s == "periksa-permohonan"] == [(1, "TIDAK"), (2, "YA")]
    assert [it for s, _, it, _, _ in rows if s == "ajukan-permohonan"] == [1, 2]
    assert_consistent(db, tmp_path)


# -- parallel split and join ----------------------------------------------------------------------------

def open_steps(db: Path, run_id: str) -> list[tuple[str, str]]:
    return [(s["step"], s["state"]) for s in api.run_status(db, run_id, now=NOW, definitions=PARALLEL)["open_steps"]]


def test_split_opens_both_branches_and_the_join_waits_for_both(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("split-join", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    result = api.complete(db, run_id, now=NOW, by="Kabid")
    assert result["opened"] == ["olah-data", "arsipkan"]
    assert open_steps(db, run_id) == [("olah-data", "open"), ("arsipkan", "open")]
    with pytest.raises(StepNotOpen, match=r"several open steps \(olah-data \(no\. 2\), arsipkan \(no\. 3\)\); say which with --step"):
        api.complete(db, run_id, now=NOW)

    api.complete(db, run_id, step="3", now=NOW, by="Dedi")  # by row number
    assert open_steps(db, run_id) == [("olah-data", "open"), ("gabungkan", "waiting")]
    with pytest.raises(StepNotOpen, match="waits for the other branches"):
        api.complete(db, run_id, step="gabungkan", now=NOW)
    assert api.run_status(db, run_id, now=NOW, definitions=PARALLEL)["status"] == "active"

    api.complete(db, run_id, step="olah-data", now=NOW, by="Sari")
    assert open_steps(db, run_id) == [("gabungkan", "open")]
    api.complete(db, run_id, now=NOW, by="Kabid")
    assert api.run_status(db, run_id, now=NOW, definitions=PARALLEL)["status"] == "completed"
    kinds = [e["kind"] for e in events(db, run_id)]
    assert kinds == ["run_started", "step_completed", "step_completed", "step_completed", "joined", "step_completed", "run_completed"]
    rows = task_rows(db, run_id)
    assert [(s, st) for s, _, _, st, _ in rows] == [
        ("bagi-tugas", "done"), ("olah-data", "done"), ("arsipkan", "done"), ("gabungkan", "joined"), ("gabungkan", "done"),
    ]
    assert_consistent(db, tmp_path)


def test_branches_finish_in_either_order(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    for first, second in (("olah-data", "arsipkan"), ("arsipkan", "olah-data")):
        run_id = api.start_run("split-join", db=db, definitions=PARALLEL, now=NOW)["run_id"]
        api.complete(db, run_id, now=NOW)
        api.complete(db, run_id, step=first, now=NOW)
        assert open_steps(db, run_id) == [(second, "open"), ("gabungkan", "waiting")]
        api.complete(db, run_id, step=second, now=NOW)
        assert open_steps(db, run_id) == [("gabungkan", "open")]
    assert_consistent(db, tmp_path)


def test_a_join_waits_once_however_many_branches_have_arrived(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("split-three", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, run_id, now=NOW)
    assert open_steps(db, run_id) == [("olah-data", "open"), ("arsipkan", "open"), ("hitung-biaya", "open")]
    api.complete(db, run_id, step="olah-data", now=NOW)
    api.complete(db, run_id, step="arsipkan", now=NOW)
    assert open_steps(db, run_id) == [("hitung-biaya", "open"), ("gabungkan", "waiting")]
    api.complete(db, run_id, step="hitung-biaya", now=NOW)
    assert open_steps(db, run_id) == [("gabungkan", "open")]
    assert [(s, st) for s, _, _, st, _ in task_rows(db, run_id) if s == "gabungkan"] == [("gabungkan", "joined"), ("gabungkan", "open")]
    api.complete(db, run_id, now=NOW)
    assert api.run_status(db, run_id, now=NOW, definitions=PARALLEL)["status"] == "completed"
    assert_consistent(db, tmp_path)


@pytest.mark.parametrize("order", ["join-first", "exit-first"])
def test_a_branch_that_ends_the_process_releases_the_join(db_location: str | Path, tmp_path: Path, order: str) -> None:
    """The join waits for the branches that can still arrive; one that took 'selesai' will not."""
    db = db_location
    run_id = api.start_run("split-exit", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, run_id, now=NOW)
    if order == "join-first":
        api.complete(db, run_id, step="olah-data", now=NOW)
        assert open_steps(db, run_id) == [("periksa-arsip", "open"), ("gabungkan", "waiting")]
        result = api.decide(db, run_id, "Tidak", now=NOW, by="Dedi")
        assert result["opened"] == ["gabungkan"]
    else:
        api.decide(db, run_id, "Tidak", now=NOW, by="Dedi")
        assert open_steps(db, run_id) == [("olah-data", "open")]
        api.complete(db, run_id, step="olah-data", now=NOW)
    assert open_steps(db, run_id) == [("gabungkan", "open")]
    api.complete(db, run_id, now=NOW)
    assert api.run_status(db, run_id, now=NOW, definitions=PARALLEL)["status"] == "completed"
    assert_consistent(db, tmp_path)


def test_split_with_loops_inside_a_branch_and_around_the_join(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("split-join-loop", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, run_id, now=NOW)
    api.complete(db, run_id, step="arsipkan", now=NOW)
    # one branch loops twice while the other waits at the join
    for _ in range(2):
        api.complete(db, run_id, step="olah-data", now=NOW)
        api.decide(db, run_id, "Tidak", now=NOW, note="angka tidak cocok")
        assert open_steps(db, run_id) == [("gabungkan", "waiting"), ("olah-data", "open")]
    api.complete(db, run_id, step="olah-data", now=NOW)
    api.decide(db, run_id, "Ya", now=NOW)
    assert open_steps(db, run_id) == [("gabungkan", "open")]
    api.complete(db, run_id, now=NOW)
    # the whole work is sent back: the split happens again and the join waits again
    api.decide(db, run_id, "Tidak", now=NOW)
    api.complete(db, run_id, now=NOW)
    assert open_steps(db, run_id) == [("olah-data", "open"), ("arsipkan", "open")]
    api.complete(db, run_id, step="olah-data", now=NOW)
    api.decide(db, run_id, "Ya", now=NOW)
    assert open_steps(db, run_id) == [("arsipkan", "open"), ("gabungkan", "waiting")]
    api.complete(db, run_id, step="arsipkan", now=NOW)
    api.complete(db, run_id, now=NOW)
    api.decide(db, run_id, "Ya", now=NOW)
    assert api.run_status(db, run_id, now=NOW, definitions=PARALLEL)["status"] == "completed"

    rows = task_rows(db, run_id)
    assert [(it, out) for s, _, it, st, out in rows if s == "periksa-data"] == [(1, "Tidak"), (2, "Tidak"), (3, "Ya"), (4, "Ya")]
    assert [it for s, _, it, st, _ in rows if s == "olah-data"] == [1, 2, 3, 4]
    # each visit of the join has its own number: waiting rows included
    assert [(it, st) for s, _, it, st, _ in rows if s == "gabungkan"] == [(1, "joined"), (1, "done"), (2, "joined"), (2, "done")]
    assert_consistent(db, tmp_path)


def test_parallel_through_the_command_line(db_location: str | Path) -> None:
    runner = CliRunner()
    base = ["--db", str(db_location), "--definitions", str(PARALLEL), "--now", NOW]
    started = runner.invoke(cli, [*base, "run", "split-join", "--json"], catch_exceptions=False)
    run_id = json.loads(started.stdout)["run_id"]
    runner.invoke(cli, [*base, "complete", run_id, "--step", "1"], catch_exceptions=False)
    result = runner.invoke(cli, [*base, "complete", run_id])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: run {run_id} has 2 open steps; say which: sopengine complete {run_id} --step 2;"
                             f" sopengine complete {run_id} --step 3\n")
    result = runner.invoke(cli, [*base, "complete", run_id, "--step", "arsipkan"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Open:     2. Mengolah data" in result.output
    assert "Waiting:  4. Menggabungkan hasil" in result.output
    result = runner.invoke(cli, [*base, "complete", run_id, "--step", "2"], catch_exceptions=False)
    assert "Open:     4. Menggabungkan hasil" in result.output
