"""A database made by release 0.1.0, read, checked and finished by the current code.

``tests/data/release-0.1`` holds a database written by sopengine 0.1.0 (commit c6522a8)
with runs of the three shipped SOPs: completed, in flight (at an open step, an open
decision, one lane of a two-lane row), cancelled, with correction loops, a reopen,
assignments and documents. Its README says how it was made. Each test works on a copy.

Old runs are pinned to the compiled definition stored when they started, so their step
ids, row numbers and outcomes must keep working exactly, whatever the definitions on disk
now say. Through click's CliRunner (``catch_exceptions=False``: a traceback fails the test)
and, where the process boundary matters, real processes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sopengine.cli import cli

ROOT = Path(__file__).resolve().parent.parent
RELEASE = Path(__file__).resolve().parent / "data" / "release-0.1"
RUNS: list[dict[str, Any]] = json.loads((RELEASE / "runs.json").read_text(encoding="utf-8"))
VERIFIED: dict[str, Any] = json.loads((RELEASE / "verify.json").read_text(encoding="utf-8"))
RUN = {r["label"]: r["run_id"] for r in RUNS}
IN_FLIGHT = [r["label"] for r in RUNS if r["status"] == "active"]

# The row numbers of the definitions the runs are pinned to (those of release 0.1.0);
# automatic decisions have none.
ROWS = {
    "pengumpulan-data": {
        "kumpulkan-data": 1, "rekap-laporan": 2, "olah-data": 3, "susun-laporan": 4, "sosialisasi-laporan": 5,
        "akhir-semester": None, "rekap-dua-laporan": 6, "susun-laporan-semester": 7, "sosialisasi-semester": 8,
        "akhir-tahun": None, "susun-laporan-tahunan": 9,
    },
    "surat-keluar": {
        "konsep-surat": 1, "ketik-konsep": 2, "periksa-kasubag": 3, "periksa-sekretaris": 4,
        "periksa-kepala-satuan": 5, "teruskan-penomoran": 6, "kirim-surat": 7,
    },
    "permohonan-informasi-publik": {
        "ajukan-permohonan": 1, "periksa-permohonan": 2, "catat-permohonan": 3, "verifikasi-ppid": 4,
        "koordinasi": 5, "siapkan-informasi": 6, "hubungi-pengguna": 7, "terima-informasi": 8,
    },
}
# The outcome of each decision that moves the flow on, as the pinned definitions spell it.
FORWARD = {"periksa-permohonan": "YA", "periksa-kasubag": "Ya", "periksa-sekretaris": "Ya"}
EXTERNAL = {"pengguna-layanan"}
CITIZEN = "Budi Santoso"

# What is left of each run in flight, in order: (step, part, person); None where the role
# has nobody assigned, so anyone may act.
REST = {
    "data-2026-10": [("olah-data", 1, "Rudi Hartono"), ("susun-laporan", 1, None), ("sosialisasi-laporan", 1, None)],
    "data-2025-12": [
        ("susun-laporan-semester", 1, "Siti Rahma"), ("sosialisasi-semester", 1, "Siti Rahma"),
        ("susun-laporan-tahunan", 1, None),
    ],
    "surat-undangan": [
        ("periksa-sekretaris", 1, None), ("periksa-kepala-satuan", 1, None), ("teruskan-penomoran", 1, None),
        ("kirim-surat", 1, "Maya Sari"),
    ],
    "informasi-anggaran": [("siapkan-informasi", 2, "Dewi Lestari"), ("hubungi-pengguna", 1, None), ("terima-informasi", 1, None)],
    "informasi-baru": [
        ("ajukan-permohonan", 1, None), ("periksa-permohonan", 1, None), ("catat-permohonan", 1, None),
        ("verifikasi-ppid", 1, None), ("koordinasi", 1, None), ("siapkan-informasi", 1, None),
        ("siapkan-informasi", 2, None), ("hubungi-pengguna", 1, None), ("terima-informasi", 1, None),
    ],
}
# The automatic decisions each run in flight takes on its way to the end.
AUTOMATIC = {
    "data-2026-10": [("akhir-semester", "Tidak")],
    "data-2025-12": [("akhir-tahun", "Ya")],
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A copy of the release's folder (database, documents, run list); the original stays untouched."""
    target = tmp_path / "release-0.1"
    shutil.copytree(RELEASE, target, ignore=shutil.ignore_patterns("*-wal", "*-shm", "*-journal"))
    return target / "sopengine.db"


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


def ok(db: Path, *args: str) -> Result:
    result = invoke(db, *args)
    assert result.exit_code == 0, result.output
    return result


def as_json(db: Path, *args: str) -> Any:
    return json.loads(ok(db, *args, "--json").stdout)


def sop(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sopengine", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        cur = con.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()


def clock(start: str = "2026-11-23T08:00") -> Iterator[str]:
    """Times after everything the release recorded, ten minutes apart."""
    first = datetime.fromisoformat(start)
    for i in itertools.count():
        yield (first + timedelta(minutes=10 * i)).strftime("%Y-%m-%dT%H:%M")


def assert_one_line_error(output: str, *words: str) -> None:
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("Error:"), output
    for word in words:
        assert word in lines[0], output


def finish(db: Path, label: str, times: Iterator[str]) -> list[tuple[str, int, str]]:
    """Carry a run to its end, acting on each open step by its row number; return what was done."""
    run = RUN[label]
    done: list[tuple[str, int, str]] = []
    for _ in range(40):
        status = as_json(db, "status", run)
        if status["status"] != "active":
            return done
        assert status["open_steps"], status
        step = status["open_steps"][0]
        definition = status["definition"]
        assert step["no"] == ROWS[definition][step["step"]], step
        assigned = [a["person"] for a in status["assignments"] if a["role"] == step["actor"]]
        by = assigned[0] if assigned else f"Petugas {step['actor']}"
        args = ["--step", str(step["no"]), "--now", next(times), "--by", by]
        if step["actor"] in EXTERNAL:
            args += ["--on-behalf", CITIZEN]
        if step["kind"] == "decision":
            outcome = FORWARD[step["step"]]
            assert outcome in step["outcomes"], step
            ok(db, "decide", run, outcome, *args)
        else:
            ok(db, "complete", run, *args)
        done.append((step["step"], step["part"], by))
    raise AssertionError(f"run {run} ({label}) did not end")


# -- the records verify, with the head the release printed ---------------------------------------

def test_the_release_left_what_its_readme_describes() -> None:
    assert VERIFIED["ok"] is True and VERIFIED["problems"] == []
    assert (VERIFIED["events"], VERIFIED["runs"]) == (60, 8)
    assert sorted(r["status"] for r in RUNS) == ["active"] * 5 + ["cancelled"] + ["completed"] * 2
    assert {r["definition"] for r in RUNS} == set(ROWS)
    assert set(IN_FLIGHT) == set(REST)


def test_audit_verify_passes_and_prints_the_head_the_release_printed(db: Path) -> None:
    result = as_json(db, "audit", "verify")
    assert result["ok"] is True, result["problems"]
    assert result["problems"] == []
    assert result["head"] == VERIFIED["head"]
    assert (result["events"], result["runs"]) == (VERIFIED["events"], VERIFIED["runs"])

    text = ok(db, "audit", "verify", "--expect-head", VERIFIED["head"]).stdout
    assert f"Head: {VERIFIED['head']}" in text
    assert "Expected head: matches" in text


def test_audit_verify_in_a_real_process(db: Path) -> None:
    proc = sop("--db", str(db), "audit", "verify", cwd=db.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"Head: {VERIFIED['head']}" in proc.stdout
    assert proc.stdout.startswith("OK: 60 events in 8 runs verified")


def test_an_evidence_pack_of_an_old_run_holds(db: Path) -> None:
    run = RUN["surat-edaran"]
    last = rows(db, "SELECT hash FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", (run,))[0]["hash"]
    pack = db.parent / f"{run}.zip"
    made = ok(db, "audit", "pack", run, "-o", str(pack)).stdout
    assert f"Run head: {last}" in made
    checked = ok(db, "audit", "verify-pack", str(pack)).stdout
    assert checked.startswith("OK: ") and f"holds; run {run}, 11 events" in checked
    assert f"Run head: {last}" in checked


def test_the_documents_recorded_are_the_files_kept_beside_the_database(db: Path) -> None:
    docs = db.parent / "docs"
    table = rows(db, "SELECT run_id, step_id, name, path, sha256, size FROM documents ORDER BY id")
    assert len(table) == 15
    assert {Path(d["path"]).name for d in table} == {f.name for f in docs.iterdir()}
    for d in table:
        data = (docs / Path(d["path"]).name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (d["sha256"], d["size"]), d

    # each document as its chained event recorded it, read back through the history
    history = as_json(db, "history", "--limit", "0")
    recorded = [(e["run_id"], e["step"], doc["name"], doc["sha256"]) for e in history for doc in e["documents"]]
    assert sorted(recorded) == sorted((d["run_id"], d["step_id"], d["name"], d["sha256"]) for d in table)
    names = [(e["step"], [doc["name"] for doc in e["documents"]]) for e in history if e["run_id"] == RUN["data-2026-06"] and e["documents"]]
    assert names == [
        ("kumpulkan-data", ["Disposisi"]), ("rekap-laporan", ["Lembar Disposisi"]),
        ("susun-laporan", ["Draft Laporan Kinerja"]), ("susun-laporan-semester", ["Lembar Disposisi"]),
    ]


# -- the auditor's SQL of docs/auditing.md ------------------------------------------------------------

def questions() -> dict[str, str]:
    text = (ROOT / "docs" / "auditing.md").read_text(encoding="utf-8")
    return dict(re.findall(r"```sql\n-- question: (\S+)\n(.*?)```", text, re.S))


@pytest.mark.parametrize("opened", [False, True], ids=["as-the-release-left-it", "after-the-current-engine-opened-it"])
def test_the_audit_views_read_the_old_database(db: Path, opened: bool) -> None:
    if opened:
        ok(db, "status", "--all")
    events = rows(db, "SELECT seq, run_id, kind, step_id, hash FROM events ORDER BY seq")
    listed = rows(db, "SELECT seq, run, kind, step, hash FROM audit_events ORDER BY seq")
    assert [tuple(e.values()) for e in listed] == [tuple(e.values()) for e in events]
    assert len(listed) == 60

    tasks = rows(db, "SELECT id, run_id, step_id, iteration, state FROM tasks ORDER BY id")
    visits = rows(db, "SELECT task_id, run, step, iteration, state, no, actual_seconds, closed_at FROM audit_step_visits ORDER BY task_id")
    assert [(v["task_id"], v["run"], v["step"], v["iteration"], v["state"]) for v in visits] == [tuple(t.values()) for t in tasks]
    done = [v for v in visits if v["state"] == "done"]
    by_people = rows(db, "SELECT COUNT(*) AS n FROM events WHERE kind IN ('step_completed', 'decided') AND person != 'sopengine'")
    assert len(done) == by_people[0]["n"] == 41  # automatic decisions close no step visit
    for v in done:  # a duration for every completed step, its row number from the pinned definition
        assert v["closed_at"] is not None and v["actual_seconds"] is not None and v["actual_seconds"] >= 0, v
    by_run = {(v["run"], v["step"], v["iteration"]): v for v in visits}
    assert by_run[(RUN["surat-edaran"], "periksa-kasubag", 2)]["state"] == "done"
    assert by_run[(RUN["data-2026-10"], "susun-laporan", 1)]["state"] == "cancelled"  # closed by the reopen
    runs = {r["run_id"]: r["definition"] for r in RUNS}
    for v in visits:
        assert v["no"] == ROWS[runs[v["run"]]][v["step"]], v

    open_steps = rows(db, "SELECT run, step, no, actor, assigned FROM audit_open_steps")
    assert sorted((o["run"], o["step"], o["actor"], o["assigned"]) for o in open_steps) == sorted([
        (RUN["data-2026-10"], "olah-data", "staf-evaluasi", "Rudi Hartono"),
        (RUN["data-2025-12"], "susun-laporan-semester", "kepala-bidang", "Siti Rahma"),
        (RUN["surat-undangan"], "periksa-sekretaris", "sekretaris-kabid", None),
        (RUN["informasi-anggaran"], "siapkan-informasi", "ppid", "Dewi Lestari"),
        (RUN["informasi-baru"], "ajukan-permohonan", "pengguna-layanan", None),
    ])

    steps = rows(db, "SELECT definition, step, no, lanes FROM audit_definition_steps")
    assert {(s["definition"], s["step"], s["no"]) for s in steps} == {(d, s, n) for d, table in ROWS.items() for s, n in table.items()}
    lanes = [json.loads(s["lanes"]) for s in steps if s["step"] == "siapkan-informasi"]
    assert lanes == [["perangkat-daerah", "ppid"]]


def test_the_questions_of_the_auditing_guide_answer_on_the_old_database(db: Path) -> None:
    sql = questions()
    assert {"not-assigned", "slower-than-standard", "semester-report", "backdated", "overdue-now"} <= set(sql)
    answers = {name: rows(db, query) for name, query in sql.items()}  # every documented query runs

    # the typist was assigned only after the first typing of surat-undangan
    assert [(a["run"], a["step"], a["closed_by"], a["assigned"]) for a in answers["not-assigned"]] == [
        (RUN["surat-undangan"], "ketik-konsep", "Maya", "Maya Sari"),
    ]

    slower = answers["slower-than-standard"]
    assert slower and all(r["late_steps"] > 0 for r in slower)
    late = {r["run"] for r in rows(db, "SELECT run FROM audit_step_visits WHERE state = 'done' AND late = 1")}
    assert {r["run"] for r in slower} == late
    assert RUN["data-2026-06"] in late

    # the first semester of 2026 was reported by the run for 2026-06, whose gate took Ya
    report = answers["semester-report"]
    assert [(r["run"], r["period"], r["no"], r["person"]) for r in report] == [
        (RUN["data-2026-06"], "2026-06", 7, "Siti Rahma"), (RUN["data-2026-06"], "2026-06", 8, "Siti Rahma"),
    ]
    assert report[0]["documents"] == "Lembar Disposisi"

    # everything was entered with --now, later than it happened
    later = {e["seq"] for e in rows(db, "SELECT seq, at, recorded_at FROM events")
             if (datetime.fromisoformat(e["recorded_at"].replace("Z", "+00:00"))
                 - datetime.fromisoformat(e["at"].replace("Z", "+00:00"))).total_seconds() > 300}
    assert {r["seq"] for r in answers["backdated"]} == later
    assert len(later) == 60

    # the open steps with a due time (untimed rows have none) are past it
    assert sorted((r["run"], r["no"]) for r in answers["overdue-now"]) == sorted([
        (RUN["data-2026-10"], 3), (RUN["data-2025-12"], 7), (RUN["surat-undangan"], 4),
    ])


# -- the runs read as they were ---------------------------------------------------------------------

def test_status_json_of_every_old_run(db: Path) -> None:
    listed = {r["run_id"]: r for r in as_json(db, "status", "--all")}
    assert set(listed) == set(RUN.values())
    stored = {r["id"]: r["definition_hash"] for r in rows(db, "SELECT id, definition_hash FROM runs")}
    for run in RUNS:
        assert listed[run["run_id"]]["status"] == run["status"]
        status = as_json(db, "status", run["run_id"])
        assert (status["run_id"], status["definition"], status["period"], status["status"]) == (
            run["run_id"], run["definition"], run["period"], run["status"])
        assert status["definition_hash"] == stored[run["run_id"]]
        assert [s["step"] for s in status["open_steps"]] == run["open_steps"]
        for entry in status["timeline"]:
            assert entry["no"] == ROWS[run["definition"]][entry["step"]], entry

    # the open decision offers the pinned outcomes; the two-lane row waits for its second lane
    decision = as_json(db, "status", RUN["surat-undangan"])["open_steps"]
    assert [(s["step"], s["kind"], s["outcomes"]) for s in decision] == [("periksa-sekretaris", "decision", ["Ya", "Tidak"])]
    lanes = as_json(db, "status", RUN["informasi-anggaran"])["open_steps"]
    assert [(s["step"], s["part"], s["parts"], s["actor"]) for s in lanes] == [("siapkan-informasi", 2, 2, "ppid")]


def test_history_of_the_loops_shows_both_visits(db: Path) -> None:
    letter = as_json(db, "history", "--run", RUN["surat-undangan"])
    typed = [(e["person"], e["documents"][0]["name"]) for e in letter if e["kind"] == "step_completed" and e["step"] == "ketik-konsep"]
    assert typed == [("Maya", "Konsep surat yang sudah diketik"), ("Maya Sari", "Konsep surat yang sudah diketik")]
    reviews = [(e["outcome"], e["note"]) for e in letter if e["kind"] == "decided" and e["step"] == "periksa-kasubag"]
    assert reviews == [("Tidak", "Nomor surat salah"), ("Ya", None)]
    timeline = as_json(db, "status", RUN["surat-undangan"])["timeline"]
    assert [(t["iteration"], t["state"]) for t in timeline if t["step"] == "ketik-konsep"] == [(1, "done"), (2, "done")]

    # the citizen's request came back once (by row number, as the pinned definition numbers it)
    request = as_json(db, "history", "--run", RUN["informasi-anggaran"], "--step", "1")
    assert [(e["kind"], e["payload"].get("on_behalf_of")) for e in request] == [("step_completed", CITIZEN)] * 2
    checks = as_json(db, "history", "--run", RUN["informasi-anggaran"], "--step", "periksa-permohonan")
    assert [e["outcome"] for e in checks] == ["TIDAK", "YA"]

    # the reopen: row 2 done twice, the work after it closed, the reason kept
    data = as_json(db, "history", "--run", RUN["data-2026-10"])
    assert [e["step"] for e in data if e["kind"] == "step_completed"] == ["kumpulkan-data", "rekap-laporan", "olah-data", "rekap-laporan"]
    reopened = [e for e in data if e["kind"] == "reopened"]
    assert [(e["step"], e["note"]) for e in reopened] == [("rekap-laporan", "Rekap bulan Oktober salah")]

    table = ok(db, "history", "--run", RUN["surat-undangan"]).stdout
    assert RUN["surat-undangan"] in table and "Maya Sari" in table


# -- the runs in flight finish under the current engine ------------------------------------------------

def test_every_run_in_flight_can_be_finished(db: Path) -> None:
    before = {r["run_id"]: r for r in rows(db, "SELECT id AS run_id, status, finished_at FROM runs")}
    times = clock()
    for label in IN_FLIGHT:
        done = finish(db, label, times)
        expected = REST[label]
        assert [(s, p) for s, p, _ in done] == [(s, p) for s, p, _ in expected], label
        for (_, _, by), (_, _, person) in zip(done, expected):
            if person is not None:
                assert by == person, (label, done)
        status = as_json(db, "status", RUN[label])
        assert status["status"] == "completed", status
        assert status["open_steps"] == []

    for label, decisions in AUTOMATIC.items():
        taken = rows(db, "SELECT step, outcome FROM audit_events WHERE run = ? AND kind = 'decided' AND seq > 60 ORDER BY seq", (RUN[label],))
        assert [(t["step"], t["outcome"]) for t in taken] == decisions, label

    # the runs already closed are as they were
    after = {r["run_id"]: r for r in rows(db, "SELECT id AS run_id, status, finished_at FROM runs")}
    for run in RUNS:
        if run["status"] != "active":
            assert after[run["run_id"]] == before[run["run_id"]]

    result = as_json(db, "audit", "verify")
    assert result["ok"] is True, result["problems"]
    assert result["runs"] == 8 and result["events"] > 60
    checked = ok(db, "audit", "verify", "--expect-head", VERIFIED["head"]).stdout
    assert "Expected head: matches" in checked
    assert rows(db, "SELECT COUNT(*) AS n FROM audit_open_steps")[0]["n"] == 0


def test_the_old_assignments_still_bind(db: Path) -> None:
    run = RUN["data-2026-10"]
    refused = invoke(db, "complete", run, "--step", "3", "--now", "2026-11-23T09:00", "--by", "Rudi")
    assert refused.exit_code != 0
    assert_one_line_error(refused.output, "Rudi Hartono")
    ok(db, "complete", run, "--step", "3", "--now", "2026-11-23T09:00", "--by", "Rudi Hartono")
    assert [s["step"] for s in as_json(db, "status", run)["open_steps"]] == ["susun-laporan"]


def test_a_completed_run_stays_completed(db: Path) -> None:
    for label in ("data-2026-06", "surat-edaran"):
        run = RUN[label]
        before = as_json(db, "status", run)
        assert before["status"] == "completed"
        refused = invoke(db, "complete", run, "--now", "2026-11-23T09:00", "--by", "Budi")
        assert refused.exit_code != 0
        assert_one_line_error(refused.output, run, "completed")
        after = as_json(db, "status", run)
        assert (after["status"], after["finished_at"], after["open_steps"]) == (before["status"], before["finished_at"], [])
    assert as_json(db, "audit", "verify")["head"] == VERIFIED["head"]  # nothing was written


def test_the_cancelled_run_refuses_every_write(db: Path) -> None:
    run = RUN["surat-batal"]
    attempts = [
        ("complete", run),
        ("decide", run, "Ya"),
        ("assign", run, "kasubag-umpar", "Yuliana"),
        ("reopen", run, "1", "--reason", "Dilanjutkan"),
    ]
    for attempt in attempts:
        result = invoke(db, *attempt, "--now", "2026-11-23T09:00", "--by", "Yuliana")
        assert result.exit_code != 0, attempt
        assert_one_line_error(result.output, run, "cancelled")

    # the same from a real process: one line on stderr, nothing on stdout
    proc = sop("--db", str(db), "complete", run, "--now", "2026-11-23T09:00", "--by", "Yuliana", cwd=db.parent)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert_one_line_error(proc.stderr, run, "cancelled")

    assert as_json(db, "status", run)["status"] == "cancelled"
    assert as_json(db, "audit", "verify")["head"] == VERIFIED["head"]  # nothing was written
