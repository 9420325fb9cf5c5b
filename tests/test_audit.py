"""``audit verify``: every change made behind the engine's back is found and named.

Each test builds a real database through the engine, then tampers with it using plain
``sqlite3`` (dropping the append-only triggers where the change needs it), the way someone
with the file and a SQL tool could.
"""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sopengine import audit
from sopengine.audit import canonical as canonical_form
from sopengine.audit import chainpass
from sopengine.audit import tables as audit_tables
from sopengine.chain import GENESIS, canonical, database_head, event_hash
from sopengine.cli import cli
from sopengine.runs import assign, cancel, complete, reopen, start_run


PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"

OUTPUTS = {
    "kumpulkan-data": "Disposisi", "rekap-laporan": "Lembar Disposisi", "olah-data": "Draft Laporan Kinerja",
    "susun-laporan": "Draft Laporan Kinerja", "sosialisasi-laporan": "Draft Laporan Kinerja",
    "rekap-dua-laporan": "Disposisi", "susun-laporan-semester": "Lembar Disposisi",
    "sosialisasi-semester": "Draft Laporan Kinerja",
}


def step(db: Path, run_id: str, by: str, now: str, *, note: str | None = None) -> Path:
    """Complete the run's open step with a real output file; returns the file."""
    open_step = sqlite3.connect(db).execute(
        "SELECT step_id FROM tasks WHERE run_id = ? AND state = 'open'", (run_id,)
    ).fetchone()[0]
    file = db.parent / "arsip" / f"{run_id}-{open_step}.txt"
    file.parent.mkdir(exist_ok=True)
    file.write_text(f"{OUTPUTS[open_step]} untuk {run_id}: data kinerja triwulan — sudah diperiksa\n", encoding="utf-8")
    complete(db, run_id, by=by, now=now, outputs=[(OUTPUTS[open_step], str(file))], note=note)
    return file


def build_history(folder: Path) -> dict:
    """Two interleaved runs: a 2026-S1 run carried to its end, and a 2026-10 run half done."""
    db = folder / "sopengine.db"
    a = start_run("pengumpulan-data", db=db, period="2026-S1", now="2026-07-01T08:30", by="ani")["run_id"]
    b = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani")["run_id"]
    step(db, a, "Agus Supriyadi", "2026-07-01T09:00", note="Sudah diperiksa — lengkap")
    step(db, b, "Agus Supriyadi", "2026-10-01T09:10")
    step(db, a, "budi", "2026-07-01T11:00")  # rekap-laporan: 30 Menit standard, done 2 hours later
    assign(db, b, "kasubag-pep", "Budi", by="ani", now="2026-10-01T09:20")
    step(db, a, "citra", "2026-07-02T09:00")
    step(db, b, "budi", "2026-10-01T09:30")
    step(db, a, "citra", "2026-07-02T10:00")
    step(db, a, "budi", "2026-07-02T13:00")
    step(db, a, "joko", "2026-07-03T09:00")  # rekap-dua-laporan, nobody assigned yet
    assign(db, a, "kepala-seksi", "Sari", by="ani", now="2026-07-03T10:00")
    step(db, a, "Dr. Rina", "2026-07-06T09:00")
    step(db, a, "Dr. Rina", "2026-07-06T14:00", note="Laporan semester disetujui")
    return {"db": db, "a": a, "b": b}


@pytest.fixture
def hist(tmp_path: Path) -> dict:
    return build_history(tmp_path)


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder that exists and cannot be written to, even by root (for whom /proc is such a folder)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        if not Path("/proc/self").is_dir():
            pytest.skip("running as root on a system without /proc: no folder root cannot write")
        return Path("/proc")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def run_seqs(db: Path, run_id: str) -> list[int]:
    return [r[0] for r in sqlite3.connect(db).execute("SELECT seq FROM events WHERE run_id = ? ORDER BY seq", (run_id,))]


def tamper(db: Path, *statements: tuple[str, tuple], drop_triggers: bool = False) -> None:
    """Change the database with plain sqlite3, behind the engine's back."""
    conn = sqlite3.connect(db)
    if drop_triggers:
        conn.execute("DROP TRIGGER events_append_only_update")
        conn.execute("DROP TRIGGER events_append_only_delete")
    for sql, args in statements:
        conn.execute(sql, args)
    conn.commit()
    conn.close()


def kept_head_follows(run_id: str) -> tuple[str, tuple]:
    """The statement a careful tamperer adds: the run row's kept chain head set to its last event's hash."""
    return ("UPDATE runs SET head = (SELECT hash FROM events WHERE run_id = runs.id ORDER BY seq DESC LIMIT 1)"
            " WHERE id = ?", (run_id,))


def first(db: Path, **kwargs) -> dict:
    result = audit.verify(db, **kwargs)
    assert not result["ok"]
    return result["first_problem"]


# -- a sound database ------------------------------------------------------------------------

def test_a_real_history_verifies_and_its_head_is_the_documented_hash(hist: dict) -> None:
    result = audit.verify(hist["db"])
    assert result["ok"], result["problems"]
    conn = sqlite3.connect(hist["db"])
    assert result["events"] == conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert result["runs"] == 2
    heads = {}
    for run_id, digest in conn.execute("SELECT run_id, hash FROM events ORDER BY seq"):
        heads[run_id] = digest
    last = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0]
    assert result["head"] == f"{database_head(heads)}@{last}"
    assert audit.head(hist["db"])["head"] == result["head"]


def test_every_stored_hash_is_the_hash_of_its_canonical_form(hist: dict) -> None:
    conn = sqlite3.connect(hist["db"])
    conn.row_factory = sqlite3.Row
    prev = {}
    for row in conn.execute("SELECT * FROM events ORDER BY seq"):
        assert row["prev_hash"] == prev.get(row["run_id"], GENESIS)
        assert event_hash(dict(row)) == row["hash"]
        prev[row["run_id"]] = row["hash"]


def test_verify_cli_prints_the_head_and_exits_0(hist: dict) -> None:
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(hist["db"])])
    assert result.exit_code == 0, result.output
    head = audit.verify(hist["db"])["head"]
    assert f"Head: {head}" in result.output
    assert result.output.startswith("OK: ")


def test_verify_json_is_the_result(hist: dict) -> None:
    result = CliRunner().invoke(cli, ["--db", str(hist["db"]), "audit", "verify", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["problems"] == [] and data["runs"] == 2


def test_verify_on_a_missing_database_is_a_clear_error_and_creates_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(tmp_path / "nope.db")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no database at")
    assert not (tmp_path / "nope.db").exists()


# -- the triggers ------------------------------------------------------------------------------

def test_the_append_only_triggers_refuse_update_and_delete(hist: dict) -> None:
    conn = sqlite3.connect(hist["db"])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE events SET person = 'mallory' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM events WHERE seq = 2")
    conn.rollback()
    assert conn.execute("SELECT person FROM events WHERE seq = 2").fetchone()[0] == "ani"
    assert audit.verify(hist["db"])["ok"]


# -- tampering ---------------------------------------------------------------------------------

def test_an_edited_payload_is_named(hist: dict) -> None:
    seqs = run_seqs(hist["db"], hist["a"])
    target = seqs[1]  # the first step_completed, with its note
    tamper(hist["db"], ("UPDATE events SET payload = replace(payload, 'lengkap', 'tidak lengkap') WHERE seq = ?", (target,)),
           drop_triggers=True)
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"], problem["run_id"]) == ("edited", target, hist["a"])
    assert f"event {target} of run {hist['a']} does not match its hash" in problem["message"]


def test_a_changed_time_is_named(hist: dict) -> None:
    target = run_seqs(hist["db"], hist["b"])[1]
    tamper(hist["db"], ("UPDATE events SET at = '2026-10-01T01:00:00Z' WHERE seq = ?", (target,)), drop_triggers=True)
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"], problem["run_id"]) == ("edited", target, hist["b"])


def test_an_edit_whose_hash_was_recomputed_is_found_at_the_next_link(hist: dict) -> None:
    seqs = run_seqs(hist["db"], hist["a"])
    conn = sqlite3.connect(hist["db"])
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM events WHERE seq = ?", (seqs[2],)).fetchone())
    conn.close()
    row["person"] = "mallory"
    tamper(hist["db"], ("UPDATE events SET person = 'mallory', hash = ? WHERE seq = ?", (event_hash(row), seqs[2])),
           drop_triggers=True)
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"]) == ("relinked", seqs[3])
    assert f"event {seqs[2]} was edited and re-hashed" in problem["message"]


def test_only_the_hash_column_edited_is_named_as_such(hist: dict) -> None:
    seqs = run_seqs(hist["db"], hist["a"])
    tamper(hist["db"], ("UPDATE events SET hash = ? WHERE seq = ?", ("ab" * 32, seqs[2])), drop_triggers=True)
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"]) == ("edited", seqs[2])
    assert problem["message"] == (
        f"event {seqs[2]} of run {hist['a']}: its stored hash does not match its row, whose fields still hash to what"
        f" event {seqs[3]} links to: the hash column was edited"
    )


def test_an_edited_last_event_says_which_cannot_be_told(hist: dict) -> None:
    last = run_seqs(hist["db"], hist["b"])[-1]
    tamper(hist["db"], ("UPDATE events SET hash = ? WHERE seq = ?", ("ab" * 32, last)), drop_triggers=True)
    assert first(hist["db"])["message"] == (
        f"event {last} of run {hist['b']} does not match its hash: its payload, times, people or kind were edited, or"
        " its stored hash (it is the run's last event: which of the two cannot be told)"
    )


def test_a_deleted_row_is_named_as_a_gap(hist: dict) -> None:
    seqs = run_seqs(hist["db"], hist["a"])
    tamper(hist["db"], ("DELETE FROM events WHERE seq = ?", (seqs[3],)), drop_triggers=True)
    result = audit.verify(hist["db"])
    problem = result["first_problem"]
    assert (problem["kind"], problem["seq"], problem["run_id"]) == ("deleted", seqs[4], hist["a"])
    assert "a row was deleted" in problem["message"]
    # the gap itself is explained by that run, not listed again
    assert not any(p["message"].startswith("event(s)") for p in result["problems"])


def test_deleting_a_runs_last_event_in_the_middle_of_the_table_is_a_gap(hist: dict) -> None:
    last_of_b = run_seqs(hist["db"], hist["b"])[-1]
    tamper(hist["db"], ("DELETE FROM events WHERE seq = ?", (last_of_b,)), drop_triggers=True)
    result = audit.verify(hist["db"])
    assert not result["ok"]
    assert result["first_problem"]["seq"] == last_of_b
    assert f"event(s) {last_of_b} are missing" in result["first_problem"]["message"]
    assert any(p["run_id"] == hist["b"] and "events were deleted" in p["message"] for p in result["problems"][1:])


def test_swapped_rows_are_named(hist: dict) -> None:
    seqs = run_seqs(hist["db"], hist["a"])
    x, y = seqs[2], seqs[3]
    cols = "run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev_hash, hash"
    conn = sqlite3.connect(hist["db"])
    rx = conn.execute(f"SELECT {cols} FROM events WHERE seq = ?", (x,)).fetchone()
    ry = conn.execute(f"SELECT {cols} FROM events WHERE seq = ?", (y,)).fetchone()
    conn.close()
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    tamper(hist["db"], (f"UPDATE events SET {sets} WHERE seq = ?", (*ry, x)), (f"UPDATE events SET {sets} WHERE seq = ?", (*rx, y)),
           drop_triggers=True)
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"], problem["run_id"]) == ("reordered", x, hist["a"])
    assert "reordered or swapped" in problem["message"]


def test_a_forged_row_linked_into_the_middle_is_named(hist: dict) -> None:
    conn = sqlite3.connect(hist["db"])
    conn.row_factory = sqlite3.Row
    start = dict(conn.execute("SELECT * FROM events WHERE run_id = ? ORDER BY seq LIMIT 1", (hist["b"],)).fetchone())
    conn.close()
    forged = {
        "run_id": hist["b"], "at": "2026-10-01T02:05:00Z", "recorded_at": "2026-10-01T02:05:00Z", "person": "mallory",
        "os_user": "mallory", "kind": "step_completed", "step_id": "kumpulkan-data",
        "payload": {"actor": "sekretaris-dinas", "iteration": 1}, "prev_hash": start["hash"],
    }
    tamper(hist["db"], (
        "INSERT INTO events (run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*[forged[k] for k in ("run_id", "at", "recorded_at", "person", "os_user", "kind", "step_id")],
         canonical(forged["payload"]), forged["prev_hash"], event_hash(forged)),
    ))  # INSERT needs no trigger dropped: the triggers guard UPDATE and DELETE
    new_seq = sqlite3.connect(hist["db"]).execute("SELECT MAX(seq) FROM events").fetchone()[0]
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"], problem["run_id"]) == ("forged", new_seq, hist["b"])
    assert "a forged row was inserted" in problem["message"]


def test_a_forged_row_of_an_unknown_run_is_named(hist: dict) -> None:
    forged = {
        "run_id": "zzz-zzz", "at": "2026-10-01T02:05:00Z", "recorded_at": "2026-10-01T02:05:00Z", "person": "mallory",
        "os_user": "mallory", "kind": "run_started", "step_id": None, "payload": {}, "prev_hash": GENESIS,
    }
    tamper(hist["db"], (
        "INSERT INTO events (run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)",
        (*[forged[k] for k in ("run_id", "at", "recorded_at", "person", "os_user", "kind", "step_id")], GENESIS, event_hash(forged)),
    ))
    problem = first(hist["db"])
    assert problem["kind"] == "forged" and problem["run_id"] == "zzz-zzz"
    assert "not in the runs table" in problem["message"]


def test_a_cut_off_tail_is_caught_by_the_noted_head(hist: dict) -> None:
    step(hist["db"], hist["b"], "budi", "2026-10-01T10:00")  # b's work is now the newest in the table
    noted = audit.verify(hist["db"])["head"]
    seqs = run_seqs(hist["db"], hist["b"])
    version = sqlite3.connect(hist["db"]).execute("SELECT version FROM runs WHERE id = ?", (hist["b"],)).fetchone()[0]
    # b is still active, so cutting its last event leaves a run that looks whole; the
    # tamperer also rewinds the counters and the task rows that would give the cut away
    tamper(
        hist["db"],
        ("DELETE FROM events WHERE seq = ?", (seqs[-1],)),
        ("UPDATE sqlite_sequence SET seq = (SELECT MAX(seq) FROM events) WHERE name = 'events'", ()),
        ("UPDATE runs SET version = ? WHERE id = ?", (version - 1, hist["b"])),
        ("DELETE FROM tasks WHERE run_id = ? AND state = 'open'", (hist["b"],)),
        ("UPDATE tasks SET state = 'open', closed_at = NULL, closed_by = NULL WHERE id ="
         " (SELECT MAX(id) FROM tasks WHERE run_id = ? AND state = 'done')", (hist["b"],)),
        ("DELETE FROM documents WHERE id = (SELECT MAX(id) FROM documents WHERE run_id = ?)", (hist["b"],)),
        kept_head_follows(hist["b"]),
        drop_triggers=True,
    )
    assert sqlite3.connect(hist["db"]).execute("SELECT MAX(seq) FROM events").fetchone()[0] < seqs[-1]
    assert audit.verify(hist["db"])["ok"]  # the chains alone cannot see a clean cut
    result = audit.verify(hist["db"], expect_head=noted)
    assert not result["ok"] and result["head_matches"] is False
    assert result["first_problem"]["kind"] == "head"
    cli_result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(hist["db"]), "--expect-head", noted])
    assert cli_result.exit_code == 1
    assert "DOES NOT MATCH" in cli_result.output


def test_a_plain_cut_off_tail_shows_in_the_sequence(hist: dict) -> None:
    last = sqlite3.connect(hist["db"]).execute("SELECT MAX(seq) FROM events").fetchone()[0]
    tamper(hist["db"], ("DELETE FROM events WHERE seq = ?", (last,)), drop_triggers=True)
    messages = [p["message"] for p in audit.verify(hist["db"])["problems"]]
    assert any(f"events up to {last} were written" in m for m in messages)


def test_a_head_noted_earlier_still_matches_after_new_work(hist: dict) -> None:
    noted = audit.verify(hist["db"])["head"]
    step(hist["db"], hist["b"], "budi", "2026-10-01T10:00")
    result = audit.verify(hist["db"], expect_head=noted)
    assert result["ok"] and result["head_matches"] is True
    assert result["head"] != noted
    bare = noted.split("@")[0]  # without @SEQ it is compared with the head now
    assert not audit.verify(hist["db"], expect_head=bare)["ok"]


def test_a_rebuilt_history_verifies_alone_but_not_against_the_noted_head(hist: dict) -> None:
    noted = audit.verify(hist["db"])["head"]
    conn = sqlite3.connect(hist["db"])
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM events WHERE run_id = ? ORDER BY seq", (hist["a"],))]
    conn.close()
    prev = GENESIS
    updates = []
    for row in rows:  # someone with the code rewrites a name and re-chains everything after it
        row["person"] = "mallory" if row["person"] == "joko" else row["person"]
        row["prev_hash"] = prev
        row["hash"] = event_hash(row)
        prev = row["hash"]
        updates.append(("UPDATE events SET person = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                        (row["person"], row["prev_hash"], row["hash"], row["seq"])))
    updates.append(("UPDATE tasks SET closed_by = 'mallory' WHERE closed_by = 'joko'", ()))  # the tables to match
    updates.append(kept_head_follows(hist["a"]))
    tamper(hist["db"], *updates, drop_triggers=True)
    assert audit.verify(hist["db"])["ok"]
    assert not audit.verify(hist["db"], expect_head=noted)["ok"]


def test_renumbering_events_of_different_runs_is_not_detected_as_the_docs_say(hist: dict) -> None:
    """seq is outside the hash: two adjacent events of different runs may swap numbers unseen."""
    noted = audit.verify(hist["db"])["head"]
    a, b = run_seqs(hist["db"], hist["a"]), run_seqs(hist["db"], hist["b"])
    x = next(s for s in a if s + 1 in b)  # an event of a followed at once by one of b
    tamper(hist["db"], ("UPDATE events SET seq = -1 WHERE seq = ?", (x,)),
           ("UPDATE events SET seq = ? WHERE seq = ?", (x, x + 1)),
           ("UPDATE events SET seq = ? WHERE seq = -1", (x + 1,)), drop_triggers=True)
    assert run_seqs(hist["db"], hist["a"]) != a
    result = audit.verify(hist["db"], expect_head=noted)
    assert result["ok"] and result["head_matches"]


def test_a_run_whose_status_contradicts_its_events_is_named(hist: dict) -> None:
    tamper(hist["db"], ("UPDATE runs SET status = 'completed', finished_at = '2026-10-02T01:00:00Z' WHERE id = ?", (hist["b"],)))
    problem = first(hist["db"])
    assert problem["kind"] == "state" and problem["run_id"] == hist["b"]
    assert "is completed in the runs table but its last event" in problem["message"]


def test_a_run_repointed_to_another_definition_is_named(hist: dict) -> None:
    tamper(hist["db"], ("UPDATE runs SET started_by = 'mallory' WHERE id = ?", (hist["a"],)))
    problem = first(hist["db"])
    assert problem["kind"] == "state" and "differs from its run_started event" in problem["message"]


@pytest.mark.parametrize("column,value", [
    ("period", "2026-09"),
    ("definition_id", "pengumpulan-data-lama"),
    ("calendar_hash", "0" * 64),
    ("case_data", '{"jenis":"triwulan"}'),
    ("due_at", "2027-01-01T00:00:00Z"),
    ("started_at", "2026-10-01T01:00:00Z"),
])
def test_every_column_of_a_run_the_run_started_event_records_is_compared(hist: dict, column: str, value: str) -> None:
    before = sqlite3.connect(hist["db"]).execute(f"SELECT {column} FROM runs WHERE id = ?", (hist["b"],)).fetchone()[0]
    tamper(hist["db"], (f"UPDATE runs SET {column} = ? WHERE id = ?", (value, hist["b"])))
    problems = [p for p in audit.verify(hist["db"])["problems"] if p["kind"] == "state"]
    assert len(problems) == 1 and problems[0]["run_id"] == hist["b"] and problems[0]["fields"] == [column]
    assert problems[0]["message"] == (
        f"run {hist['b']} in the runs table differs from its run_started event {run_seqs(hist['db'], hist['b'])[0]} in"
        f" {column} ({value!r} in the table, {before!r} in the event): the run's row was edited"
    )


# -- the tasks and assignments tables ------------------------------------------------------------

def done_task(db: Path, run_id: str, step_id: str) -> int:
    return sqlite3.connect(db).execute(
        "SELECT id FROM tasks WHERE run_id = ? AND step_id = ? AND state = 'done'", (run_id, step_id)
    ).fetchone()[0]


@pytest.mark.parametrize("column,value", [
    ("closed_by", "mallory"), ("closed_at", "2026-07-01T01:45:00Z"), ("note", "Tidak lengkap"), ("outcome", "Tidak"),
    ("iteration", 2), ("actor", "kepala-bidang"), ("on_behalf_of", "Bupati"),
])
def test_a_done_task_row_edited_is_named_with_the_column(hist: dict, column: str, value: object) -> None:
    task_id = done_task(hist["db"], hist["a"], "kumpulkan-data")
    tamper(hist["db"], (f"UPDATE tasks SET {column} = ? WHERE id = ?", (value, task_id)))
    problem = first(hist["db"])
    assert (problem["kind"], problem["task_id"], problem["fields"]) == ("tasks", task_id, [column])
    assert problem["message"].startswith(f"task {task_id} of run {hist['a']} (step kumpulkan-data) differs from event ")
    assert f"in {column} ({value!r} in the table, " in problem["message"]


def test_a_deleted_done_task_is_named_by_its_event(hist: dict) -> None:
    tamper(hist["db"], ("DELETE FROM tasks WHERE id = ?", (done_task(hist["db"], hist["a"], "rekap-laporan"),)))
    problem = first(hist["db"])
    seq = run_seqs(hist["db"], hist["a"])[2]
    assert problem["message"] == (
        f"event {seq} of run {hist['a']} (rekap-laporan completed by budi at 2026-07-01T04:00:00Z) has no done task row:"
        " the row was deleted from the tasks table, or the event was forged"
    )


def test_an_inserted_done_task_is_named(hist: dict) -> None:
    tamper(hist["db"], (
        "INSERT INTO tasks (run_id, step_id, part, iteration, actor, state, opened_at, closed_at, closed_by)"
        " VALUES (?, 'olah-data', 0, 1, 'staf-evaluasi', 'done', '2026-10-01T02:30:00Z', '2026-10-01T02:31:00Z', 'citra')",
        (hist["b"],),
    ))
    problem = first(hist["db"])
    assert problem["kind"] == "tasks" and problem["run_id"] == hist["b"]
    assert problem["message"].endswith("(step olah-data done by citra at 2026-10-01T02:31:00Z) matches no event: the row"
                                       " was added to or edited in the tasks table, or its event was deleted")


def test_a_forged_event_chained_onto_a_tail_is_caught_by_the_tasks_table(hist: dict) -> None:
    """Someone with the code appends a well-chained completion: the chain holds, the tables do not."""
    conn = sqlite3.connect(hist["db"])
    last = conn.execute("SELECT hash FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", (hist["b"],)).fetchone()[0]
    conn.close()
    forged = {
        "run_id": hist["b"], "at": "2026-10-01T03:00:00Z", "recorded_at": "2026-10-01T03:00:00Z", "person": "mallory",
        "os_user": "mallory", "kind": "step_completed", "step_id": "olah-data",
        "payload": {"actor": "staf-evaluasi", "iteration": 1}, "prev_hash": last,
    }
    tamper(hist["db"], (
        "INSERT INTO events (run_id, at, recorded_at, person, os_user, kind, step_id, payload, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*[forged[k] for k in ("run_id", "at", "recorded_at", "person", "os_user", "kind", "step_id")],
         canonical(forged["payload"]), last, event_hash(forged)),
    ), kept_head_follows(hist["b"]))
    result = audit.verify(hist["db"])
    assert [p["kind"] for p in result["problems"]] == ["tasks"]  # every chain holds
    seq = run_seqs(hist["db"], hist["b"])[-1]
    assert result["first_problem"]["message"].startswith(f"event {seq} of run {hist['b']} (olah-data completed by mallory")


def test_cancelled_rows_follow_the_reopen_and_cancel_that_closed_them(hist: dict) -> None:
    db = hist["db"]
    reopen(db, hist["b"], "rekap-laporan", reason="Lampiran kurang", by="ani", now="2026-10-01T09:40")
    cancel(db, hist["b"], reason="Diganti run lain", by="ani", now="2026-10-01T09:50")
    assert audit.verify(db)["ok"]
    conn = sqlite3.connect(db)
    by_reopen, by_cancel = [r[0] for r in conn.execute(
        "SELECT id FROM tasks WHERE run_id = ? AND state = 'cancelled' ORDER BY id", (hist["b"],))]
    conn.close()
    reopened = run_seqs(db, hist["b"])[-2]
    tamper(db, ("UPDATE tasks SET closed_by = 'mallory' WHERE id = ?", (by_reopen,)))
    messages = [p["message"] for p in audit.verify(db)["problems"]]
    assert messages == [
        f"event {reopened} of run {hist['b']} reopened the run and closed step olah-data, but no cancelled task row of step"
        " olah-data at 2026-10-01T02:40:00Z by ani records it: the tasks table was edited",
        f"task {by_reopen} of run {hist['b']} (step olah-data) is cancelled at 2026-10-01T02:40:00Z by mallory, but no"
        " reopened or run_cancelled event closed it: the tasks table was edited",
    ]
    tamper(db, ("UPDATE tasks SET closed_by = 'ani' WHERE id = ?", (by_reopen,)),
           ("UPDATE tasks SET closed_at = '2026-10-01T02:55:00Z' WHERE id = ?", (by_cancel,)))
    assert [p["task_id"] for p in audit.verify(db)["problems"]] == [by_cancel]


def test_a_joined_row_needs_its_joined_event(tmp_path: Path) -> None:
    db = tmp_path / "par.db"
    run_id = start_run("split-join", db=db, definitions=PARALLEL, now="2026-10-01T09:00", by="Kabid")["run_id"]
    for step_id, person in (("bagi-tugas", "Kabid"), ("arsipkan", "Dedi"), ("olah-data", "Sari")):
        complete(db, run_id, step=step_id, now="2026-10-01T10:00", by=person)
    assert audit.verify(db)["ok"]
    joined = sqlite3.connect(db).execute("SELECT id FROM tasks WHERE state = 'joined'").fetchone()[0]
    tamper(db, ("UPDATE tasks SET closed_at = '2026-10-01T02:00:00Z' WHERE id = ?", (joined,)))
    problem = first(db)
    assert problem["message"] == (
        f"task {joined} of run {run_id} (step gabungkan) is marked joined at 2026-10-01T02:00:00Z by sopengine, but no"
        " joined event of the run records it: the tasks table was edited"
    )


def test_the_assignments_table_is_replayed_from_the_events(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    run_id = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani",
                       assign=[("kepala-bidang", "Dr. Rina")])["run_id"]
    assign(db, run_id, "kepala-seksi", "Sari", by="ani", now="2026-10-01T09:05")
    assign(db, run_id, "kepala-seksi", "sari", acting=True, by="budi", now="2026-10-01T09:06")  # the same person, now acting
    assign(db, run_id, "kasubag-pep", "Budi", by="ani", now="2026-10-01T09:07")
    assign(db, run_id, "kasubag-pep", "Budi", remove=True, by="ani", now="2026-10-01T09:08")
    assert audit.verify(db)["ok"]
    assert [(a["role"], a["person"], a["acting"], a["assigned_at"], a["assigned_by"]) for a in audit_rows(db, "assignments")] == [
        ("kepala-bidang", "Dr. Rina", 0, "2026-10-01T02:00:00Z", "ani"),
        ("kepala-seksi", "Sari", 1, "2026-10-01T02:05:00Z", "ani"),
    ]
    tamper(db, ("INSERT INTO assignments VALUES (?, 'kasubag-pep', 'mallory', 0, '2026-10-01T02:09:00Z', 'ani')", (run_id,)),
           ("UPDATE assignments SET acting = 0 WHERE role = 'kepala-seksi'", ()),
           ("DELETE FROM assignments WHERE role = 'kepala-bidang'", ()))
    assert [p["message"] for p in audit.verify(db)["problems"]] == [
        f"mallory is assigned to kasubag-pep in run {run_id} in the assignments table, but no event assigned them:"
        " the row was added to the table",
        f"the assignment of Sari to kepala-seksi in run {run_id} differs from its events in acting (0 in the table,"
        " 1 from the events): the assignments table was edited",
        f"Dr. Rina is assigned to kepala-bidang in run {run_id} by its events, but the assignments table has no such row:"
        " the row was deleted",
    ]


def audit_rows(db: Path, table: str) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    finally:
        conn.close()


# -- the pinned definitions and calendars -------------------------------------------------------

def test_an_edited_definition_source_is_named(hist: dict) -> None:
    tamper(hist["db"], ("UPDATE definitions SET source = replace(source, '15 Menit', '150 Menit')", ()))
    problem = first(hist["db"])
    assert problem["kind"] == "definition"
    assert problem["message"].startswith("definition pengumpulan-data ")
    assert problem["message"].endswith("its source text does not match its hash: the stored definition was edited")


def test_an_edited_compiled_form_that_keeps_its_hash_is_named(hist: dict) -> None:
    # what the views and the engine read: a step's standard time, made longer
    tamper(hist["db"], ("UPDATE definitions SET compiled = replace(compiled, '\"minutes\":15}', '\"minutes\":150}')", ()))
    compiled = json.loads(sqlite3.connect(hist["db"]).execute("SELECT compiled FROM definitions").fetchone()[0])
    assert compiled["steps"]["kumpulkan-data"]["duration"]["minutes"] == 150  # the edit took, the hash key stayed
    problem = first(hist["db"])
    assert problem["kind"] == "definition"
    assert "its compiled form differs from what its source compiles to" in problem["message"]


def test_a_compiled_form_with_a_duplicate_key_is_named(hist: dict) -> None:
    # json_extract reads the first of two equal keys, Python the last: the views would see 999
    tamper(hist["db"], ("UPDATE definitions SET compiled = '{\"deadline\":999,' || substr(compiled, 2)", ()))
    problem = first(hist["db"])
    assert "its compiled form is not the canonical JSON the engine writes" in problem["message"]


def test_a_deleted_definition_or_calendar_row_is_named(hist: dict) -> None:
    tamper(hist["db"], ("DELETE FROM definitions", ()), ("DELETE FROM calendars", ()))
    messages = [p["message"] for p in audit.verify(hist["db"])["problems"]]
    for run_id in (hist["a"], hist["b"]):
        assert any(m.startswith(f"run {run_id} is pinned to definition ") and "not in the definitions table" in m for m in messages)
        assert any(m.startswith(f"run {run_id} is pinned to calendar ") and "not in the calendars table" in m for m in messages)


def test_an_edited_calendar_snapshot_is_named(hist: dict) -> None:
    data = sqlite3.connect(hist["db"]).execute("SELECT data FROM calendars").fetchone()[0]
    snapshot = json.loads(data)
    assert "2026-08-17" in data  # Hari Kemerdekaan, a closed day, made a working day
    edited = canonical(json.loads(data.replace('"2026-08-17"', '"2026-08-18"')))
    assert edited != canonical(snapshot)
    tamper(hist["db"], ("UPDATE calendars SET data = ?", (edited,)))
    problem = first(hist["db"])
    assert problem["kind"] == "calendar"
    assert problem["message"].endswith("its snapshot does not match its hash: the stored calendar was edited")


# -- documents -------------------------------------------------------------------------------

def test_documents_whose_kept_bytes_were_edited_or_removed_are_listed(hist: dict) -> None:
    conn = sqlite3.connect(hist["db"])
    docs = conn.execute("SELECT path, sha256 FROM documents WHERE run_id = ? ORDER BY id", (hist["a"],)).fetchall()
    conn.close()
    for path, _ in docs:  # the files moving on after they were recorded changes nothing: their bytes are kept
        Path(path).write_text("diubah diam-diam\n", encoding="utf-8")
    assert audit.verify(hist["db"], documents=True)["ok"]
    (path0, sha0), (path1, sha1) = docs[0], docs[1]
    tamper(hist["db"], ("DROP TRIGGER document_blobs_append_only_update", ()),
           ("DROP TRIGGER document_blobs_append_only_delete", ()),
           ("UPDATE document_blobs SET data = ? WHERE sha256 = ?", (b"disunting\n", sha0)),
           ("DELETE FROM document_blobs WHERE sha256 = ?", (sha1,)))
    for path, sha in docs:
        if sha == sha1:
            Path(path).unlink()
    result = audit.verify(hist["db"], documents=True)
    assert not result["ok"]
    assert [d["path"] for d in result["documents"]["changed"]] == [p for p, s in docs if s == sha0]
    assert [d["path"] for d in result["documents"]["missing"]] == [p for p, s in docs if s == sha1]
    assert result["first_problem"]["kind"] == "document_changed"
    assert {p["kind"] for p in result["problems"]} == {"document_changed", "document_not_kept", "document_missing"}
    assert audit.verify(hist["db"])["ok"]  # without --documents the store is not read
    cli_result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(hist["db"]), "--documents"])
    assert cli_result.exit_code == 1
    assert f"changed: Disposisi (run {hist['a']}) {path0}" in cli_result.output
    assert f"missing: Lembar Disposisi (run {hist['a']}) {path1}" in cli_result.output


def test_a_document_row_rewritten_to_match_edited_kept_bytes_is_caught(hist: dict) -> None:
    conn = sqlite3.connect(hist["db"])
    doc_id, path, sha = conn.execute("SELECT id, path, sha256 FROM documents ORDER BY id LIMIT 1").fetchone()
    sharing = [r[0] for r in conn.execute("SELECT path FROM documents WHERE sha256 = ? ORDER BY id", (sha,))]
    conn.close()
    from hashlib import sha256

    forged = b"versi lain\n"
    tamper(hist["db"], ("DROP TRIGGER document_blobs_append_only_update", ()),
           ("UPDATE document_blobs SET data = ? WHERE sha256 = ?", (forged, sha)),
           ("UPDATE documents SET sha256 = ? WHERE id = ?", (sha256(forged).hexdigest(), doc_id)))
    result = audit.verify(hist["db"], documents=True)
    # the kept bytes are checked against the hash the events recorded, which the table cannot change
    assert sorted(p["kind"] for p in result["problems"]) == ["document_changed"] * len(sharing) + ["document_record"] * 2
    assert [d["path"] for d in result["documents"]["changed"]] == sharing and path in sharing
    assert any("in the documents table matches no event" in p["message"] for p in result["problems"])


def test_a_document_row_is_compared_on_every_recorded_field(hist: dict) -> None:
    """Who recorded a file and when are the event's person and recorded_at: a row saying otherwise is named."""
    conn = sqlite3.connect(hist["db"])
    doc_id, name, event_person = conn.execute(
        "SELECT d.id, d.name, d.recorded_by FROM documents d WHERE d.run_id = ? ORDER BY d.id LIMIT 1", (hist["a"],)
    ).fetchone()
    conn.close()
    assert audit.verify(hist["db"], documents=True)["ok"]
    tamper(hist["db"], ("UPDATE documents SET recorded_by = 'mallory' WHERE id = ?", (doc_id,)))
    result = audit.verify(hist["db"], documents=True)
    assert sorted(p["kind"] for p in result["problems"]) == ["document_record", "document_record"]
    seq = run_seqs(hist["db"], hist["a"])[1]
    assert result["first_problem"]["message"] == (
        f"document {name!r} of run {hist['a']} (event {seq}) has no row in the documents table that matches it; its row"
        f" differs in recorded_by ('mallory' in the table, {event_person!r} in the event): the table was edited"
    )
    assert audit.verify(hist["db"])["ok"]  # without --documents the table is not read


def test_a_deleted_document_row_is_caught(hist: dict) -> None:
    tamper(hist["db"], ("DELETE FROM documents WHERE id = (SELECT MAX(id) FROM documents)", ()))
    problem = first(hist["db"], documents=True)
    assert problem["kind"] == "document_record" and "has no row in the documents table" in problem["message"]


# -- the command line in a real process --------------------------------------------------------

def test_verify_in_a_real_process_names_the_first_bad_event(hist: dict) -> None:
    target = run_seqs(hist["db"], hist["a"])[4]
    cmd = [sys.executable, "-m", "sopengine", "audit", "verify", "--db", str(hist["db"])]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    tamper(hist["db"], ("UPDATE events SET person = 'mallory' WHERE seq = ?", (target,)), drop_triggers=True)
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert f"First problem: event {target} of run {hist['a']} does not match its hash" in bad.stdout
    assert "Traceback" not in bad.stderr


def test_a_malformed_head_is_a_one_line_error(hist: dict) -> None:
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(hist["db"]), "--expect-head", "abc"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot read head 'abc'")


# -- the fast canonical form equals the engine's ------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(fields=st.fixed_dictionaries({name: _text for name in ("run_id", "at", "recorded_at", "person", "os_user", "kind", "prev_hash")}),
       step_id=st.none() | _text, payload=st.dictionaries(_text, _json, max_size=4))
def test_the_fast_hash_is_byte_identical_to_event_hash(fields: dict, step_id: str | None, payload: dict) -> None:
    event = dict(fields, step_id=step_id, payload=payload)
    assert canonical_form._fast_hash(
        event["run_id"], event["at"], event["recorded_at"], event["person"], event["os_user"], event["kind"],
        step_id, canonical(payload), event["prev_hash"],
    ) == event_hash(event)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(_text, _json, max_size=4))
def test_the_canonical_encoder_is_byte_identical_to_json_dumps(value: dict) -> None:
    """``canonical`` is json's C encoder made once; its text is json.dumps' with the canonical settings."""
    assert canonical(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_form._ENCODE(value) == canonical(value)
    assert audit.payload_problem(canonical(value)) is None


def test_the_canonical_encoder_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        canonical({"when": object()})
    with pytest.raises(TypeError):
        json.dumps({"when": object()})


def test_a_payload_stored_in_another_spelling_of_the_same_json_is_named(tmp_path: Path) -> None:
    """The engine writes every payload as its canonical text: another spelling was written behind its back.

    (This test once asserted that such a payload verifies: the hash is over the meaning, so
    the chain holds. But a re-spelled payload is still an edit, and a duplicate key means
    different things to different readers; see the next test.)
    """
    db = tmp_path / "sopengine.db"
    run_id = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani")["run_id"]
    conn = sqlite3.connect(db)
    seq, payload = conn.execute("SELECT seq, payload FROM events WHERE run_id = ?", (run_id,)).fetchone()
    conn.close()
    spaced = json.dumps(json.loads(payload), indent=2)
    tamper(db, ("UPDATE events SET payload = ? WHERE run_id = ?", (spaced, run_id)), drop_triggers=True)
    result = audit.verify(db)
    assert [p["kind"] for p in result["problems"]] == ["noncanonical"]  # the chain itself holds
    assert result["first_problem"]["message"] == (
        f"event {seq} of run {run_id} has a payload that is not the canonical text the engine writes (its spacing, key"
        " order, escapes or numbers differ from the canonical text): it was written behind sopengine's back"
    )


def test_a_duplicate_key_that_sql_tools_read_differently_is_named(hist: dict) -> None:
    """Python's json keeps the last of two equal keys, SQLite's json_extract the first: the
    hash covers the note as written, the views would show the forged one."""
    seq, payload = sqlite3.connect(hist["db"]).execute(
        "SELECT seq, payload FROM events WHERE run_id = ? AND kind = 'step_completed' ORDER BY seq LIMIT 1", (hist["a"],)
    ).fetchone()
    forged = '{"note":"Tidak lengkap",' + payload[1:]
    tamper(hist["db"], ("UPDATE events SET payload = ? WHERE seq = ?", (forged, seq)), drop_triggers=True)
    assert json.loads(forged)["note"] == "Sudah diperiksa — lengkap"
    seen_by_sql = sqlite3.connect(hist["db"]).execute("SELECT note FROM audit_events WHERE seq = ?", (seq,)).fetchone()[0]
    assert seen_by_sql == "Tidak lengkap"
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"]) == ("noncanonical", seq)
    assert "(the key 'note' appears twice; SQL tools read the first value, the hash covers the last)" in problem["message"]


def test_a_re_spelled_payload_hashed_as_written_at_a_tail_is_named(hist: dict) -> None:
    """The last event of a run, rewritten with a duplicate key and its hash computed over the text as stored."""
    conn = sqlite3.connect(hist["db"])
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", (hist["b"],)).fetchone())
    conn.close()
    text = '{"actor":"kepala-bidang",' + row["payload"][1:]
    digest = canonical_form._fast_hash(*(row[k] for k in ("run_id", "at", "recorded_at", "person", "os_user", "kind", "step_id")),
                              text, row["prev_hash"])
    tamper(hist["db"], ("UPDATE events SET payload = ?, hash = ? WHERE seq = ?", (text, digest, row["seq"])), drop_triggers=True)
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"]) == ("noncanonical", row["seq"])


@settings(max_examples=200, deadline=None)
@given(payload=st.dictionaries(st.sampled_from(["outcome", "iteration", "actor", "part", "note", "on_behalf_of", "x"]),
                               _json, max_size=6))
def test_the_pass_s_closing_key_is_the_one_the_row_by_row_check_uses(tmp_path_factory, payload: dict) -> None:
    """The pass writes the closing key out for speed; it must stay the key _event_closing makes."""
    db = tmp_path_factory.mktemp("k") / "k.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, run_id, at, recorded_at, person, os_user, kind, step_id,"
                 " payload, prev_hash, hash)")
    conn.execute("CREATE TABLE runs (id, status, version, finished_at, definition_id, definition_hash, calendar_hash,"
                 " period, case_data, due_at, started_at, started_by)")
    conn.execute("CREATE TABLE tasks (run_id, id, step_id, part, iteration, actor, state, closed_at, closed_by, outcome,"
                 " note, on_behalf_of)")
    conn.execute("CREATE TABLE assignments (run_id, role, person, acting, assigned_at, assigned_by)")
    conn.execute("INSERT INTO events VALUES (1, 'r', 'a', 'b', 'p', 'o', 'step_completed', 's', ?, ?, 'h')",
                 (canonical(payload), GENESIS))
    conn.commit()
    seen = []
    original = chainpass.run_table_problems

    def recording(conn, run_id, events, *rest):
        seen.append((run_id, events.closes if events is not None else None))
        return original(conn, run_id, events, *rest)

    chainpass.run_table_problems = recording
    try:
        chainpass.chain_pass(conn)
    finally:
        chainpass.run_table_problems = original
        conn.close()
    stored = json.loads(canonical(payload))  # as the pass reads it back
    assert seen == [("r", (audit_tables._key_hash(audit_tables._event_closing("s", "a", "p", stored)), 1))]

# -- the file itself, SQLite's own check ---------------------------------------------------------------

def damage_page(db: Path, table: str) -> None:
    """Damage *table*'s first page as a failing disk would: its cell count no longer matches."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    con.close()
    with db.open("r+b") as fh:
        fh.seek((root - 1) * page_size + 3)  # the b-tree page header's number of cells
        fh.write(b"\x00\x09")


def sopengine_en(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_")}
    env["SOPENGINE_LANG"] = "en"
    return subprocess.run([sys.executable, "-m", "sopengine", *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_damaged_file_is_reported_as_damaged_with_exit_6_and_only_then_the_backup_advice(hist: dict) -> None:
    """audit verify once said OK on a file SQLite's integrity_check called malformed."""
    sound = sopengine_en("--db", str(hist["db"]), "audit", "verify")
    assert sound.returncode == 0, sound.stderr
    assert "backup" not in (sound.stdout + sound.stderr).lower()
    damage_page(hist["db"], "tasks")  # the events still chain: only SQLite's check can tell
    damaged = sopengine_en("--db", str(hist["db"]), "audit", "verify")
    assert damaged.returncode == 6, damaged.stderr
    assert damaged.stdout == ""
    lines = damaged.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in damaged.stderr
    assert lines[0].startswith(f"Error: {hist['db']} is damaged: SQLite's check reports ")
    assert "restore it from a backup" in lines[0]
    as_json = sopengine_en("--db", str(hist["db"]), "audit", "verify", "--json")
    assert as_json.returncode == 6 and as_json.stdout == ""


def test_full_check_runs_sqlite_s_integrity_check_timed_apart(hist: dict) -> None:
    quick = CliRunner().invoke(cli, ["--db", str(hist["db"]), "audit", "verify", "--json"])
    full = CliRunner().invoke(cli, ["--db", str(hist["db"]), "audit", "verify", "--json", "--full-check"])
    assert quick.exit_code == full.exit_code == 0, quick.output + full.output
    assert json.loads(quick.stdout)["integrity"]["check"] == "quick_check"
    checked = json.loads(full.stdout)
    assert checked["integrity"]["check"] == "integrity_check" and checked["integrity"]["ok"]
    assert checked["integrity"]["seconds"] >= 0 and checked["chain_seconds"] >= 0 and checked["tables_seconds"] >= 0


# -- progress on a terminal ---------------------------------------------------------------------------

SHOW_PROGRESS_FROM_ONE = (
    "import sopengine.cli.audit as a; a.PROGRESS_AFTER = 1; from sopengine.cli import main; main()"
)


def on_a_terminal(*args: str) -> tuple[int, str]:
    """Run the command line with its stderr on a pseudo-terminal (progress shown from the first event)."""
    import pty

    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_")}
    env.update(SOPENGINE_LANG="en", TERM="xterm", COLUMNS="100")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", SHOW_PROGRESS_FROM_ONE, *args], stdout=subprocess.DEVNULL,
                            stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_verify_backup_and_history_export_show_progress_on_a_terminal(hist: dict, tmp_path: Path) -> None:
    db = str(hist["db"])
    code, shown = on_a_terminal("--db", db, "audit", "verify")
    assert code == 0 and "Verifying events" in shown
    code, shown = on_a_terminal("--db", db, "backup", str(tmp_path / "copy.db"))
    assert code == 0 and "Backing up" in shown
    assert audit.verify(tmp_path / "copy.db")["ok"]
    code, shown = on_a_terminal("--db", db, "history", "--format", "csv", "-o", str(tmp_path / "h.csv"))
    assert code == 0 and "Writing history" in shown


def test_no_progress_is_shown_when_stderr_is_not_a_terminal(hist: dict, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_")}
    env["SOPENGINE_LANG"] = "en"
    for args in (["audit", "verify"], ["backup", str(tmp_path / "copy.db")],
                 ["history", "--format", "csv", "-o", str(tmp_path / "h.csv")]):
        proc = subprocess.run([sys.executable, "-c", SHOW_PROGRESS_FROM_ONE, "--db", str(hist["db"]), *args],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "\x1b" not in proc.stderr and "Verifying" not in proc.stderr and "Backing up" not in proc.stderr


# -- the office's chain -----------------------------------------------------------------------------

def with_office(tmp_path: Path) -> tuple[dict, str]:
    """The two runs' history, its head noted, then the office's people register: two people added."""
    from sopengine import people

    me = pwd.getpwuid(os.getuid()).pw_name
    hist = build_history(tmp_path)
    noted = audit.verify(hist["db"])["head"]
    people.add_person(hist["db"], "Kepala Kantor", logins=[me], access="admin", now="2026-10-02T08:00")
    people.add_person(hist["db"], "Siti Rahma", logins=["siti"], now="2026-10-02T08:05")
    return hist, noted


def office_rows(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM office_events ORDER BY seq")]
    conn.close()
    return rows


def test_the_office_chain_is_verified_and_takes_its_place_in_the_head(tmp_path: Path) -> None:
    hist, noted = with_office(tmp_path)
    result = audit.verify(hist["db"])
    assert result["ok"], result["problems"]
    assert result["office_events"] == 2 and result["last_office_seq"] == 2
    assert result["head"] == f"{result['head_hash']}@{result['last_seq']}+2"
    conn = sqlite3.connect(hist["db"])
    heads = dict(conn.execute("SELECT run_id, hash FROM events WHERE seq IN (SELECT MAX(seq) FROM events GROUP BY run_id)"))
    conn.close()
    assert result["head_hash"] == database_head({**heads, "@office": office_rows(hist["db"])[-1]["hash"]})
    assert audit.head(hist["db"])["head"] == result["head"]
    # a head noted before the office had events names no office part, and still matches
    assert "+" not in noted and noted != result["head"]
    again = audit.verify(hist["db"], expect_head=noted)
    assert again["ok"] and again["head_matches"]


def test_a_database_without_office_events_keeps_the_head_it_always_had(hist: dict) -> None:
    conn = sqlite3.connect(hist["db"])
    heads = dict(conn.execute("SELECT run_id, hash FROM events WHERE seq IN (SELECT MAX(seq) FROM events GROUP BY run_id)"))
    conn.close()
    result = audit.verify(hist["db"])
    assert result["office_events"] == 0 and "+" not in result["head"]
    assert result["head_hash"] == database_head(heads)


def test_an_edited_office_event_is_named(tmp_path: Path) -> None:
    hist, _noted = with_office(tmp_path)
    conn = sqlite3.connect(hist["db"])
    conn.execute("DROP TRIGGER office_events_append_only_update")
    conn.execute("UPDATE office_events SET person = 'Orang Lain' WHERE seq = 1")
    conn.commit()
    conn.close()
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"], problem["run_id"]) == ("edited", 1, "@office")


def test_the_office_chain_s_newest_events_deleted_are_named(tmp_path: Path) -> None:
    hist, _noted = with_office(tmp_path)
    conn = sqlite3.connect(hist["db"])
    conn.execute("DROP TRIGGER office_events_append_only_delete")
    conn.execute("DELETE FROM office_events WHERE seq = 2")
    conn.commit()
    conn.close()
    problem = first(hist["db"])
    assert problem["run_id"] == "@office" and problem["kind"] == "deleted"
    assert problem["message"] == ("office events up to 2 were written but the last one now is 1: the newest rows of the"
                                  " office's chain were deleted")


def test_a_noted_head_with_an_office_part_catches_a_rehashed_office_chain(tmp_path: Path) -> None:
    from sopengine import people

    hist, _noted = with_office(tmp_path)
    noted = audit.verify(hist["db"])["head"]
    people.add_person(hist["db"], "Budi Santoso", logins=["budi"], now="2026-10-03T08:00")
    later = audit.verify(hist["db"], expect_head=noted)
    assert later["ok"] and later["head_matches"]  # work added since leaves the noted history as it was
    # the first office event's time edited and the whole office chain hashed again: every link holds
    # (an edited person would be caught without a head: the register's replay names who may write)
    rows = office_rows(hist["db"])
    rows[0]["at"] = "2026-09-01T00:00:00Z"
    prev = GENESIS
    conn = sqlite3.connect(hist["db"])
    conn.execute("DROP TRIGGER office_events_append_only_update")
    for row in rows:
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(dict(row, run_id="@office"))
        conn.execute("UPDATE office_events SET at = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (row["at"], row["prev_hash"], row["hash"], row["seq"]))
    conn.commit()
    conn.close()
    assert audit.verify(hist["db"])["ok"]  # the chain alone cannot tell
    result = audit.verify(hist["db"], expect_head=noted)
    assert not result["ok"] and not result["head_matches"]


def test_an_office_event_rehashed_under_another_name_is_named_without_a_head(tmp_path: Path) -> None:
    """The register replayed from the office's chain says who could write each event."""
    hist, _noted = with_office(tmp_path)
    rows = office_rows(hist["db"])
    rows[0]["person"] = "Orang Lain"
    prev = GENESIS
    conn = sqlite3.connect(hist["db"])
    conn.execute("DROP TRIGGER office_events_append_only_update")
    for row in rows:
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(dict(row, run_id="@office"))
        conn.execute("UPDATE office_events SET person = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (row["person"], row["prev_hash"], row["hash"], row["seq"]))
    conn.commit()
    conn.close()
    result = audit.verify(hist["db"])
    assert not result["ok"]
    first = result["problems"][0]
    assert (first["kind"], first["seq"], first["run_id"]) == ("register", 1, "@office")
    assert str(first["message"]).startswith("office event 1 adds the register's first person")


def test_a_run_s_kept_chain_head_edited_is_named(hist: dict) -> None:
    """The runs row keeps its chain's head, which the next event links to: it must be the last event's hash."""
    assert audit.verify(hist["db"])["ok"]
    last = run_seqs(hist["db"], hist["b"])[-1]
    tamper(hist["db"], ("UPDATE runs SET head = ? WHERE id = ?", ("f" * 64, hist["b"])))
    problem = first(hist["db"])
    assert (problem["kind"], problem["seq"], problem["run_id"]) == ("state", last, hist["b"])
    assert problem["message"].startswith(f"run {hist['b']} keeps ffffffffffffffff as its chain's head in the runs table,"
                                         f" but its last event {last} hashes to ")


# -- a run's events come a fetch at a time, and a long run is not held in memory -------------------

_TAMPERINGS = {
    "sound": [],
    "payload edited": [("UPDATE events SET payload = replace(payload, '\"iteration\":1', '\"iteration\":2')"
                        " WHERE seq = (SELECT MIN(seq) FROM events WHERE kind = 'step_completed')", ())],
    "hash edited": [("UPDATE events SET hash = ? WHERE seq = (SELECT MAX(seq) FROM events WHERE kind = 'step_completed')",
                     ("f" * 64,))],
    "link cut": [("DELETE FROM events WHERE seq = (SELECT MIN(seq) FROM events WHERE kind = 'step_completed')", ())],
    "person edited": [("UPDATE events SET person = 'Orang Lain' WHERE seq = (SELECT MAX(seq) FROM events)", ())],
    "number where text belongs": [("UPDATE events SET step_id = 7 WHERE seq = (SELECT MIN(seq) FROM events"
                                   " WHERE kind = 'decided')", ())],
}


@pytest.mark.parametrize("tampering", sorted(_TAMPERINGS))
def test_a_run_read_in_small_fetches_and_not_kept_is_judged_the_same(tmp_path: Path, tampering: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The pass carries what it found in a run from one fetch to the next, never the run's rows
    beyond a few thousand: a run as long as the history is then read again from the database,
    should its chain break. With fetches of three events and no rows kept, every finding and
    every head must be what the pass finds reading whole runs."""
    import importlib

    chainpass = importlib.import_module("sopengine.audit.chainpass")
    store_audit = importlib.import_module("sopengine.store.audit")
    db = build_history(tmp_path)["db"]
    if _TAMPERINGS[tampering]:
        tamper(db, *_TAMPERINGS[tampering], drop_triggers=True)
    whole = audit.verify(db)
    monkeypatch.setattr(store_audit, "FETCH_SIZE", 3)
    monkeypatch.setattr(chainpass, "_KEEP_ROWS", 0)
    parts = audit.verify(db)
    for volatile in ("seconds", "chain_seconds", "tables_seconds", "integrity"):
        whole.pop(volatile, None)
        parts.pop(volatile, None)
    assert parts == whole
    assert whole["ok"] is (tampering == "sound")
