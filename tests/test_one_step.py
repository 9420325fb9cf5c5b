"""One command, one step: a write names the step it means.

``complete RUN`` and ``decide RUN OUTCOME`` without ``--step`` are refused where no person
is at a terminal, with the exact command to run; at a terminal (stdin and stdout are TTYs)
they show the open step and ask, and the step confirmed is passed on by its id. So eight
copies of one command, repeated or racing, never carry a run further than one step.
Racers are real processes released together by a barrier file; the terminal is a real
pseudo-terminal (``pty``).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pg_support import connect
from sopengine import api

PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"
RACERS = 8

CHILD = """
import os, sys, time
from sopengine.cli import cli
import sopengine.cli.runs, sopengine.runs, sopengine.status, sopengine.api  # loaded before the start
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.0005)
cli.main(sys.argv[2:], prog_name="sopengine")
"""


WRITER = """
import os, sys
from sopengine.cli import cli
import sopengine.store.core as core
_transaction = core.Store.transaction
def transaction(self, *args, **kwargs):
    # the command has read the step it acts on (outside the transaction): say so, then wait to write
    open(os.path.join(sys.argv[1], f"writing-{os.getpid()}"), "w").close()
    return _transaction(self, *args, **kwargs)
core.Store.transaction = transaction
cli.main(sys.argv[2:], prog_name="sopengine")
"""
"""A command that leaves a file ``writing-PID`` in the folder it is given when it is about to write."""


def start_writers(folder: Path, commands: list[list[str]], **popen: Any) -> list[subprocess.Popen[str]]:
    """One process per command (sopengine's command line, as :data:`WRITER`), each marking when it has
    read what it acts on and is about to write; returns once every one has, or one has ended."""
    child = folder / "writer.py"
    child.write_text(WRITER, encoding="utf-8")
    marks = folder / f"marks-{time.monotonic_ns()}"
    marks.mkdir()
    procs = [subprocess.Popen([sys.executable, str(child), str(marks), *cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, **popen) for cmd in commands]
    deadline = time.monotonic() + 120
    while len(list(marks.iterdir())) < len(procs) and all(p.poll() is None for p in procs):
        assert time.monotonic() < deadline, "the writers never reached their write"
        time.sleep(0.01)
    return procs


def env() -> dict[str, str]:
    return {**os.environ, "SOPENGINE_LANG": "en", "COLUMNS": "200"}


def race(tmp_path: Path, commands: list[list[str]]) -> list[tuple[int, str, str]]:
    """One process per command, released together; (exit code, stdout, stderr) of each."""
    child = tmp_path / "racer.py"
    child.write_text(CHILD, encoding="utf-8")
    barrier = tmp_path / f"go-{time.monotonic_ns()}"
    procs = [subprocess.Popen([sys.executable, str(child), str(barrier), *cmd], cwd=tmp_path, env=env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd in commands]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    barrier.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append((p.returncode, stdout, stderr))
    return out


def done_steps(db: Path, run_id: str) -> list[tuple[str, str]]:
    con = connect(db)
    try:
        return con.execute("SELECT step_id, closed_by FROM tasks WHERE run_id = ? AND state = 'done' ORDER BY id", (run_id,)).fetchall()
    finally:
        con.close()


def on_terminal(tmp_path: Path, args: list[str], answer: str) -> tuple[int, str]:
    """Run sopengine with stdin, stdout and stderr on a pseudo-terminal, typing *answer*."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sopengine", *args], stdin=slave, stdout=slave, stderr=slave,
                            cwd=tmp_path, env=env(), close_fds=True)
    os.close(slave)
    os.write(master, answer.encode())
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed its side
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    code = proc.wait(timeout=60)
    return code, out.decode("utf-8", "replace").replace("\r\n", "\n")


# -- racers --------------------------------------------------------------------------------------------

def test_eight_racers_without_a_step_are_all_refused_and_the_run_stays(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    version = api.run_status(db, run_id, now=NOW)["version"]
    results = race(tmp_path, [["complete", run_id, "--by", f"P{i}", "--db", str(db), "--now", NOW] for i in range(RACERS)])
    for code, stdout, stderr in results:
        assert (code, stdout) == (1, "")
        assert stderr == f"Error: say which step: sopengine complete {run_id} --step 1\n"
    status = api.run_status(db, run_id, now=NOW)
    assert status["version"] == version and [s["step"] for s in status["open_steps"]] == ["kumpulkan-data"]
    assert done_steps(db, run_id) == []


def test_eight_racers_naming_the_step_complete_it_once(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    results = race(tmp_path, [["complete", run_id, "--step", "1", "--by", f"P{i}", "--db", str(db), "--now", NOW]
                              for i in range(RACERS)])
    winners = [i for i, (code, _, _) in enumerate(results) if code == 0]
    assert len(winners) == 1, results
    winner = f"P{winners[0]}"
    for i, (code, stdout, stderr) in enumerate(results):
        if i == winners[0]:
            continue
        assert (code, stdout) == (1, ""), stderr
        # read before the winner wrote: pinned to the task it completed; read after: the step is not open
        assert stderr in (
            f"Error: step kumpulkan-data (no. 1) of run {run_id} was already completed by {winner} at 2026-10-01 09:00 WIB;"
            f" see 'sopengine status {run_id}'\n",
            f"Error: step kumpulkan-data (no. 1) of run {run_id} is not open (last completed by {winner} at"
            f" 2026-10-01 09:00 WIB); open: rekap-laporan (no. 2)\n",
        ), stderr
    assert done_steps(db, run_id) == [("kumpulkan-data", winner)]
    assert [s["step"] for s in api.run_status(db, run_id, now=NOW)["open_steps"]] == ["rekap-laporan"]
    assert api.verify(db)["ok"]


def test_a_repeated_command_does_not_complete_the_next_step(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    args = [sys.executable, "-m", "sopengine", "--db", str(db), "--now", NOW, "complete", run_id, "--step", "1"]
    first = subprocess.run(args, capture_output=True, text=True, env=env(), check=False)
    again = subprocess.run(args, capture_output=True, text=True, env=env(), check=False)
    assert first.returncode == 0 and again.returncode == 1
    assert "is not open (last completed by" in again.stderr
    assert [s for s, _ in done_steps(db, run_id)] == ["kumpulkan-data"]


# -- at a terminal ---------------------------------------------------------------------------------------

def test_at_a_terminal_the_open_step_is_shown_and_confirmed(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    code, out = on_terminal(tmp_path, ["--db", str(db), "--now", NOW, "--by", "Agus", "complete", run_id], "y\n")
    assert code == 0, out
    assert f"Run {run_id}, open:" in out
    assert "1. Mengumpulkan data laporan kinerja bulanan/triwulan kepada subbag/seksi." in out
    assert "step kumpulkan-data — Sekretaris Dinas (sekretaris-dinas); --step 1" in out
    assert "Complete this step? [y/N]:" in out
    assert f"Completed kumpulkan-data of run {run_id} (Agus)." in out
    assert done_steps(db, run_id) == [("kumpulkan-data", "Agus")]


def test_at_a_terminal_no_is_the_default_and_records_nothing(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    for answer in ("\n", "n\n"):
        code, out = on_terminal(tmp_path, ["--db", str(db), "--now", NOW, "complete", run_id], answer)
        assert code == 1, out
        assert "Error: not confirmed; nothing was recorded (name the step with --step to skip the question)" in out
        assert "Traceback" not in out
    assert done_steps(db, run_id) == []
    assert api.run_status(db, run_id, now=NOW)["version"] == 1


def test_at_a_terminal_a_decision_is_confirmed_with_its_outcome(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("surat-keluar", db=db, now=NOW)["run_id"]
    for n in ("1", "2"):
        api.complete(db, run_id, step=n, now=NOW)
    code, out = on_terminal(tmp_path, ["--db", str(db), "--now", NOW, "decide", run_id, "Tidak"], "y\n")
    assert code == 0, out
    assert "3. Memeriksa konsep surat" in out or "step periksa-kasubag" in out
    assert "Decide Tidak at this step? [y/N]:" in out
    assert [s["step"] for s in api.run_status(db, run_id, now=NOW)["open_steps"]] == ["ketik-konsep"]


def test_at_a_terminal_several_open_steps_are_chosen_by_their_key(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("split-join", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, run_id, step="1", now=NOW)
    code, out = on_terminal(tmp_path, ["--db", str(db), "--definitions", str(PARALLEL), "--now", NOW, "--by", "Dedi",
                                       "complete", run_id], "3\n")
    assert code == 0, out
    assert "--step 2" in out and "--step 3" in out
    assert re.search(r"Which step \(--step\)\? \(2, 3\):", out), out
    assert done_steps(db, run_id)[-1] == ("arsipkan", "Dedi")


def test_json_output_is_refused_without_a_step_when_stdout_is_not_a_terminal(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    proc = subprocess.run([sys.executable, "-m", "sopengine", "--db", str(db), "complete", run_id, "--json"],
                          capture_output=True, text=True, env=env(), check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"Error: say which step: sopengine complete {run_id} --step 1\n"
    named = subprocess.run([sys.executable, "-m", "sopengine", "--db", str(db), "--now", NOW, "complete", run_id, "--step", "1", "--json"],
                           capture_output=True, text=True, env=env(), check=False)
    assert named.returncode == 0 and json.loads(named.stdout)["step"] == "kumpulkan-data"


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_command_in_the_refusal_is_never_translated(db_location: str | Path, tmp_path: Path, language: str) -> None:
    db = db_location
    run_id = api.start_run("surat-keluar", db=db, now=NOW)["run_id"]
    proc = subprocess.run([sys.executable, "-m", "sopengine", "--lang", language, "--db", str(db), "complete", run_id],
                          capture_output=True, text=True, env=env(), check=False)
    assert proc.returncode == 1
    assert re.fullmatch(rf"(Error|Kesalahan): [^\n]+: sopengine complete {run_id} --step 1\n", proc.stderr), proc.stderr


def test_the_library_still_takes_the_only_open_step(db_location: str | Path, tmp_path: Path) -> None:
    """Python callers keep complete(db, run_id) as it was; the docs ask them to name the step."""
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    assert api.complete(db, run_id, now=NOW)["step"] == "kumpulkan-data"
    assert api.complete(db, run_id, now=NOW)["step"] == "rekap-laporan"
    assert [(s["step"], s["key"]) for s in api.open_steps(db, run_id)] == [("olah-data", "3")]


# -- the exact task: a row's next part and a step's next visit are never taken -----------------------

def _at_row_of_two_parts(tmp_path: Path, db: str | Path | None = None) -> tuple[Path, str]:
    """A run of dokumen-wajib at row 3, which two lanes do in turn (Kepala Bidang, then Sekretaris)."""
    db = db or tmp_path / "lanes.db"
    receipt = tmp_path / "tanda-terima.pdf"
    receipt.write_bytes(b"%PDF-1.4 tanda terima\n")
    run_id = api.start_run("dokumen-wajib", db=db, definitions=PARALLEL, now=NOW, case={"jenis": "rahasia"})["run_id"]
    api.complete(db, run_id, step="1", by="Rina", now=NOW)
    api.complete(db, run_id, step="2", by="Rina", now=NOW, outputs=[("Tanda Terima", str(receipt))])
    assert [(s["step"], s["key"], s["part"], s["parts"]) for s in api.open_steps(db, run_id)] == [("paraf-bersama", "3", 1, 2)]
    return db, run_id


def open_parts(db: Path, run_id: str) -> list[tuple[str, int, str]]:
    con = connect(db)
    try:
        return con.execute("SELECT step_id, part, state FROM tasks WHERE run_id = ? AND step_id = 'paraf-bersama' ORDER BY id",
                           (run_id,)).fetchall()
    finally:
        con.close()


@pytest.mark.sqlite_only
def test_eight_racers_on_a_row_of_two_parts_complete_one_part(tmp_path: Path) -> None:
    """Eight ``complete RUN --step 3`` at once on a row two lanes do in turn: one part is completed.

    The racers' reads are made certain to come before any write: the test holds the write lock
    while they start and read (readers do not wait for it), then lets it go. Each racer has
    pinned part 1; the first to write completes it and the seven others are refused, told who
    completed it and when, rather than going on to part 2 and ending the run.
    """
    db, run_id = _at_row_of_two_parts(tmp_path)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        # every racer has read its step and waits for the lock before the lock is let go
        procs = start_writers(tmp_path, [["complete", run_id, "--step", "3", "--by", f"P{i}", "--db", str(db), "--definitions",
                                          str(PARALLEL), "--now", NOW] for i in range(RACERS)],
                              cwd=tmp_path, env={**env(), "SOPENGINE_BUSY_TIMEOUT_MS": "60000"})
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    results = [(p.wait(timeout=120), p.stdout.read() if p.stdout else "", p.stderr.read() if p.stderr else "") for p in procs]
    winners = [i for i, (code, _, _) in enumerate(results) if code == 0]
    assert len(winners) == 1, results
    winner = f"P{winners[0]}"
    assert f"Completed paraf-bersama of run {run_id} ({winner})." in results[winners[0]][1]
    for i, (code, stdout, stderr) in enumerate(results):
        if i != winners[0]:
            assert (code, stdout) == (1, ""), stderr
            assert stderr == (f"Error: step paraf-bersama (no. 3) (part 1 of 2) of run {run_id} was already completed by {winner}"
                              f" at 2026-10-01 09:00 WIB; see 'sopengine status {run_id}'\n"), stderr
    assert open_parts(db, run_id) == [("paraf-bersama", 0, "done"), ("paraf-bersama", 1, "open")]
    status = api.run_status(db, run_id, now=NOW, definitions=PARALLEL)
    assert status["status"] == "active" and [(s["step"], s["part"]) for s in status["open_steps"]] == [("paraf-bersama", 2)]
    assert api.verify(db)["ok"]


def test_the_command_completes_the_part_open_when_it_is_given(db_location: str | Path, tmp_path: Path) -> None:
    """One after the other, each command takes the part open when it runs: part 1, then part 2."""
    db, run_id = _at_row_of_two_parts(tmp_path, db_location)
    args = [sys.executable, "-m", "sopengine", "--db", str(db), "--definitions", str(PARALLEL), "--now", NOW, "complete", run_id,
            "--step", "3"]
    first = subprocess.run([*args, "--by", "Kabid"], capture_output=True, text=True, env=env(), check=False)
    assert first.returncode == 0, first.stderr
    assert "Open:     3. Memaraf surat jawaban (part 2 of 2)" in first.stdout
    second = subprocess.run([*args, "--by", "Sekretaris"], capture_output=True, text=True, env=env(), check=False)
    assert second.returncode == 0, second.stderr
    assert f"Run {run_id} is completed." in second.stdout
    third = subprocess.run([*args, "--by", "Sekretaris"], capture_output=True, text=True, env=env(), check=False)
    assert (third.returncode, third.stdout) == (1, "")
    assert third.stderr.startswith(f"Error: run {run_id} is completed (since 2026-10-01 09:00 WIB)"), third.stderr


def test_the_library_pins_a_task_and_never_moves_on(db_location: str | Path, tmp_path: Path) -> None:
    from sopengine.errors import ConcurrentChange

    db, run_id = _at_row_of_two_parts(tmp_path, db_location)
    part1 = api.open_task(db, run_id, "3")
    assert part1["step"] == "paraf-bersama" and (part1["part"], part1["parts"], part1["iteration"]) == (1, 2, 1)
    assert api.open_steps(db, run_id)[0]["task"] == part1["task"]
    assert api.complete(db, run_id, task=part1["task"], by="Kabid", now=NOW)["step"] == "paraf-bersama"
    with pytest.raises(ConcurrentChange) as refused:
        api.complete(db, run_id, step="3", task=part1["task"], by="Sekretaris", now=NOW)
    assert str(refused.value) == (f"step paraf-bersama (no. 3) (part 1 of 2) of run {run_id} was already completed by Kabid at"
                                  f" 2026-10-01 09:00 WIB; see 'sopengine status {run_id}'")
    part2 = api.open_task(db, run_id, "paraf-bersama")
    assert (part2["part"], part2["task"] != part1["task"]) == (2, True)
    api.complete(db, run_id, step="3", by="Sekretaris", now=NOW)  # step alone: the part open now, as before
    # the run has ended; a write pinned to a task completed meanwhile names who completed it
    with pytest.raises(ConcurrentChange) as late:
        api.complete(db, run_id, task=part2["task"], by="Kabid", now=NOW)
    assert "(part 2 of 2)" in str(late.value) and "was already completed by Sekretaris at 2026-10-01 09:00 WIB" in str(late.value)
    assert open_parts(db, run_id) == [("paraf-bersama", 0, "done"), ("paraf-bersama", 1, "done")]


def test_a_pinned_task_that_is_not_the_step_named_or_not_the_runs_is_refused(db_location: str | Path, tmp_path: Path) -> None:
    from sopengine.errors import InputError

    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    other = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-11")["run_id"]
    mine = api.open_task(db, run_id, "1")["task"]
    with pytest.raises(InputError, match=rf"^task {mine} of run {run_id} is step kumpulkan-data \(no\. 1\), not 2$"):
        api.complete(db, run_id, step="2", task=mine, now=NOW)
    theirs = api.open_task(db, other, "1")["task"]
    with pytest.raises(InputError, match=rf"^run {run_id} has no task {theirs}; 'sopengine status {run_id}' lists its steps$"):
        api.complete(db, run_id, task=theirs, now=NOW)
    assert done_steps(db, run_id) == [] and done_steps(db, other) == []


def test_a_decision_is_pinned_to_its_visit(db_location: str | Path, tmp_path: Path) -> None:
    """A decision reopened meanwhile is a new visit: a write pinned to the first visit is refused."""
    from sopengine.errors import ConcurrentChange

    db = db_location
    run_id = api.start_run("surat-keluar", db=db, now=NOW)["run_id"]
    for n in ("1", "2"):
        api.complete(db, run_id, step=n, now=NOW)
    first = api.open_task(db, run_id, "3")
    api.decide(db, run_id, "Ya", step="3", by="Budi", now=NOW)
    api.reopen(db, run_id, "3", reason="Salah pilih", by="Budi", now=NOW)
    again = api.open_task(db, run_id, "3")
    assert (again["step"], again["iteration"]) == (first["step"], 2)
    with pytest.raises(ConcurrentChange, match="was already completed by Budi at 2026-10-01 09:00 WIB"):
        api.decide(db, run_id, "Tidak", step="3", task=first["task"], by="Agus", now=NOW)
    assert api.decide(db, run_id, "Tidak", step="3", task=again["task"], by="Agus", now=NOW)["outcome"] == "Tidak"


def on_terminal_meanwhile(tmp_path: Path, args: list[str], prompt: str, meanwhile, answer: str) -> tuple[int, str]:
    """Run sopengine on a pseudo-terminal; once *prompt* is shown, call *meanwhile*, then type *answer*."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sopengine", *args], stdin=slave, stdout=slave, stderr=slave,
                            cwd=tmp_path, env=env(), close_fds=True)
    os.close(slave)
    out = b""
    typed = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed its side
            break
        if not chunk:
            break
        out += chunk
        if not typed and prompt.encode() in out:
            meanwhile()
            os.write(master, answer.encode())
            typed = True
    os.close(master)
    code = proc.wait(timeout=60)
    assert typed, out
    return code, out.decode("utf-8", "replace").replace("\r\n", "\n")


def test_a_step_confirmed_at_a_terminal_and_reopened_meanwhile_is_refused(db_location: str | Path, tmp_path: Path) -> None:
    """The person confirms visit 1 of step 1; meanwhile someone completes it and reopens it (visit 2).
    The confirmation is for the visit shown, so the command is refused and visit 2 stays open."""
    db = db_location
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]

    def meanwhile() -> None:
        api.complete(db, run_id, step="1", by="Budi", now=NOW)
        api.reopen(db, run_id, "1", reason="Data salah", by="Budi", now=NOW)

    code, out = on_terminal_meanwhile(tmp_path, ["--db", str(db), "--now", NOW, "--by", "Agus", "complete", run_id],
                                      "Complete this step? [y/N]:", meanwhile, "y\n")
    assert code == 1, out
    assert (f"Error: step kumpulkan-data (no. 1) of run {run_id} was already completed by Budi at 2026-10-01 09:00 WIB;"
            f" see 'sopengine status {run_id}'") in out
    assert "Traceback" not in out
    assert done_steps(db, run_id) == [("kumpulkan-data", "Budi")]
    assert [(s["step"], s["iteration"]) for s in api.open_steps(db, run_id)] == [("kumpulkan-data", 2)]


def test_a_step_chosen_at_a_terminal_and_completed_meanwhile_is_refused(db_location: str | Path, tmp_path: Path) -> None:
    """Of two open branches the person picks one; someone completes it first: nothing is recorded."""
    db = db_location
    run_id = api.start_run("split-join", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, run_id, step="1", now=NOW)

    def meanwhile() -> None:
        api.complete(db, run_id, step="3", by="Sari", now=NOW)

    code, out = on_terminal_meanwhile(tmp_path, ["--db", str(db), "--definitions", str(PARALLEL), "--now", NOW, "--by", "Dedi",
                                                 "complete", run_id], "Which step (--step)?", meanwhile, "3\n")
    assert code == 1, out
    assert "was already completed by Sari at 2026-10-01 09:00 WIB" in out
    assert done_steps(db, run_id)[-1] == ("arsipkan", "Sari")
