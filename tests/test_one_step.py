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

import pytest

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
    con = sqlite3.connect(db)
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

def test_eight_racers_without_a_step_are_all_refused_and_the_run_stays(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    version = api.run_status(db, run_id, now=NOW)["version"]
    results = race(tmp_path, [["complete", run_id, "--by", f"P{i}", "--db", str(db), "--now", NOW] for i in range(RACERS)])
    for code, stdout, stderr in results:
        assert (code, stdout) == (1, "")
        assert stderr == f"Error: say which step: sopengine complete {run_id} --step 1\n"
    status = api.run_status(db, run_id, now=NOW)
    assert status["version"] == version and [s["step"] for s in status["open_steps"]] == ["kumpulkan-data"]
    assert done_steps(db, run_id) == []


def test_eight_racers_naming_the_step_complete_it_once(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
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
        assert stderr == (f"Error: step kumpulkan-data (no. 1) of run {run_id} is not open (last completed by {winner} at"
                          f" 2026-10-01 09:00 WIB); open: rekap-laporan (no. 2)\n")
    assert done_steps(db, run_id) == [("kumpulkan-data", winner)]
    assert [s["step"] for s in api.run_status(db, run_id, now=NOW)["open_steps"]] == ["rekap-laporan"]
    assert api.verify(db)["ok"]


def test_a_repeated_command_does_not_complete_the_next_step(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    args = [sys.executable, "-m", "sopengine", "--db", str(db), "--now", NOW, "complete", run_id, "--step", "1"]
    first = subprocess.run(args, capture_output=True, text=True, env=env(), check=False)
    again = subprocess.run(args, capture_output=True, text=True, env=env(), check=False)
    assert first.returncode == 0 and again.returncode == 1
    assert "is not open (last completed by" in again.stderr
    assert [s for s, _ in done_steps(db, run_id)] == ["kumpulkan-data"]


# -- at a terminal ---------------------------------------------------------------------------------------

def test_at_a_terminal_the_open_step_is_shown_and_confirmed(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    code, out = on_terminal(tmp_path, ["--db", str(db), "--now", NOW, "--by", "Agus", "complete", run_id], "y\n")
    assert code == 0, out
    assert f"Run {run_id}, open:" in out
    assert "1. Mengumpulkan data laporan kinerja bulanan/triwulan kepada subbag/seksi." in out
    assert "step kumpulkan-data — Sekretaris Dinas (sekretaris-dinas); --step 1" in out
    assert "Complete this step? [y/N]:" in out
    assert f"Completed kumpulkan-data of run {run_id} (Agus)." in out
    assert done_steps(db, run_id) == [("kumpulkan-data", "Agus")]


def test_at_a_terminal_no_is_the_default_and_records_nothing(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    for answer in ("\n", "n\n"):
        code, out = on_terminal(tmp_path, ["--db", str(db), "--now", NOW, "complete", run_id], answer)
        assert code == 1, out
        assert "Error: not confirmed; nothing was recorded (name the step with --step to skip the question)" in out
        assert "Traceback" not in out
    assert done_steps(db, run_id) == []
    assert api.run_status(db, run_id, now=NOW)["version"] == 1


def test_at_a_terminal_a_decision_is_confirmed_with_its_outcome(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("surat-keluar", db=db, now=NOW)["run_id"]
    for n in ("1", "2"):
        api.complete(db, run_id, step=n, now=NOW)
    code, out = on_terminal(tmp_path, ["--db", str(db), "--now", NOW, "decide", run_id, "Tidak"], "y\n")
    assert code == 0, out
    assert "3. Memeriksa konsep surat" in out or "step periksa-kasubag" in out
    assert "Decide Tidak at this step? [y/N]:" in out
    assert [s["step"] for s in api.run_status(db, run_id, now=NOW)["open_steps"]] == ["ketik-konsep"]


def test_at_a_terminal_several_open_steps_are_chosen_by_their_key(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("split-join", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, run_id, step="1", now=NOW)
    code, out = on_terminal(tmp_path, ["--db", str(db), "--definitions", str(PARALLEL), "--now", NOW, "--by", "Dedi",
                                       "complete", run_id], "3\n")
    assert code == 0, out
    assert "--step 2" in out and "--step 3" in out
    assert re.search(r"Which step \(--step\)\? \(2, 3\):", out), out
    assert done_steps(db, run_id)[-1] == ("arsipkan", "Dedi")


def test_json_output_is_refused_without_a_step_when_stdout_is_not_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    proc = subprocess.run([sys.executable, "-m", "sopengine", "--db", str(db), "complete", run_id, "--json"],
                          capture_output=True, text=True, env=env(), check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"Error: say which step: sopengine complete {run_id} --step 1\n"
    named = subprocess.run([sys.executable, "-m", "sopengine", "--db", str(db), "--now", NOW, "complete", run_id, "--step", "1", "--json"],
                           capture_output=True, text=True, env=env(), check=False)
    assert named.returncode == 0 and json.loads(named.stdout)["step"] == "kumpulkan-data"


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_command_in_the_refusal_is_never_translated(tmp_path: Path, language: str) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("surat-keluar", db=db, now=NOW)["run_id"]
    proc = subprocess.run([sys.executable, "-m", "sopengine", "--lang", language, "--db", str(db), "complete", run_id],
                          capture_output=True, text=True, env=env(), check=False)
    assert proc.returncode == 1
    assert re.fullmatch(rf"(Error|Kesalahan): [^\n]+: sopengine complete {run_id} --step 1\n", proc.stderr), proc.stderr


def test_the_library_still_takes_the_only_open_step(tmp_path: Path) -> None:
    """Python callers keep complete(db, run_id) as it was; the docs ask them to name the step."""
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, now=NOW, period="2026-12")["run_id"]
    assert api.complete(db, run_id, now=NOW)["step"] == "kumpulkan-data"
    assert api.complete(db, run_id, now=NOW)["step"] == "rekap-laporan"
    assert [(s["step"], s["key"]) for s in api.open_steps(db, run_id)] == [("olah-data", "3")]
