"""Every refusal: its message, its exit code, and nothing written (invariant 7).

Each case runs through click's CliRunner and as a real ``python -m sopengine`` process, against
a copy of one prepared database (or a missing, newer, foreign or random file). Before and
after, the database file's bytes and its logical dump are compared: a refused command leaves
no trace.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import pg_support
from sopengine import api
from test_one_step import start_writers
from sopengine.cli import cli
from sopengine.errors import (
    DatabaseMissing,
    DatabaseTooNew,
    DefinitionNotFound,
    DuplicateRun,
    InputError,
    NotADatabase,
    NotAssigned,
    OutputMissing,
    RunClosed,
    RunNotFound,
    StepNotOpen,
    UnknownOutcome,
)
from sopengine.store import pg

PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
NOW = "2026-10-01T09:00"


@dataclass(frozen=True)
class World:
    """A prepared database with runs in known states; tests work on copies of it."""

    db: Path
    runs: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("world")
    db = folder / "world.db"
    runs = _build_world(db)
    assert not Path(f"{db}-wal").exists()
    return World(db, runs)


@pytest.fixture(scope="module")
def pg_world(pg_server: pg_support.PgServer) -> Iterator[World]:
    """The same world in a PostgreSQL database, which each test copies (CREATE DATABASE ... TEMPLATE)."""
    name, url = pg_server.create()
    try:
        runs = _build_world(url)
        pg.close_pools()  # nobody connected: it is a template now
        yield World(name, runs)  # type: ignore[arg-type]  # the database's name, not a path
    finally:
        pg_server.drop(name)


def _build_world(db: Path | str) -> dict[str, str]:
    runs = {}
    runs["assigned"] = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin",
                                     assign=[("sekretaris-dinas", "Agus Supriyadi")])["run_id"]
    runs["decision"] = api.start_run("surat-keluar", db=db, now=NOW, by="Admin")["run_id"]
    for _ in range(2):
        api.complete(db, runs["decision"], now=NOW, by="Rina")
    runs["completed"] = api.start_run("pengumpulan-data", db=db, period="2026-01", now=NOW)["run_id"]
    for _ in range(5):
        api.complete(db, runs["completed"], now=NOW, by="Rina")
    runs["cancelled"] = api.start_run("pengumpulan-data", db=db, period="2026-02", now=NOW)["run_id"]
    api.cancel(db, runs["cancelled"], reason="Dimulai dua kali", now=NOW, by="Admin")
    runs["outputs"] = api.start_run("dokumen-wajib", db=db, definitions=PARALLEL, now=NOW, case={"jenis": "rahasia"})["run_id"]
    api.complete(db, runs["outputs"], now=NOW, by="Rina")
    runs["split"] = api.start_run("split-join", db=db, definitions=PARALLEL, now=NOW)["run_id"]
    api.complete(db, runs["split"], now=NOW, by="Kabid")
    return runs


def snapshot(db: Path) -> tuple[bytes, bytes | None, list[str]]:
    """The file's bytes, its WAL's bytes (if any) and the logical dump."""
    wal = Path(f"{db}-wal")
    raw = db.read_bytes(), wal.read_bytes() if wal.exists() else None
    con = sqlite3.connect(db)  # the last connection to close removes the (empty) WAL again
    try:
        dump = list(con.iterdump())
    finally:
        con.close()
    return (*raw, dump)


# (name, arguments, expected message) — {run} names a run of the world; {db} the database path.
CASES: list[tuple[str, list[str], str]] = [
    ("not-assigned", ["complete", "{assigned}", "--step", "1", "--by", "Budi"],
     (r"Budi is not assigned to Sekretaris Dinas \(sekretaris-dinas\) in run {assigned}; assigned: Agus Supriyadi"
      r" — act as one of them with --by, or 'sopengine assign {assigned} sekretaris-dinas NAME'")),
    ("step-not-open", ["complete", "{assigned}", "--step", "3", "--by", "Agus Supriyadi"],
     r"step olah-data \(no\. 3\) of run {assigned} is not open; open: kumpulkan-data \(no\. 1\)"),
    ("step-done-before", ["complete", "{decision}", "--step", "ketik-konsep"],
     (r"step ketik-konsep \(no\. 2\) of run {decision} is not open \(last completed by Rina at 2026-10-01 09:00 WIB\);"
      r" open: periksa-kasubag \(no\. 3\)")),
    ("no-such-step", ["complete", "{assigned}", "--step", "99"],
     (r"the SOP has no step '99'; steps are: 1=kumpulkan-data, 2=rekap-laporan, 3=olah-data, 4=susun-laporan,"
      r" 5=sosialisasi-laporan, akhir-semester, 6=rekap-dua-laporan, 7=susun-laporan-semester, 8=sosialisasi-semester,"
      r" akhir-tahun, 9=susun-laporan-tahunan")),
    ("no-step-named", ["complete", "{assigned}", "--by", "Agus Supriyadi"], r"say which step: sopengine complete {assigned} --step 1"),
    ("no-decision-named", ["decide", "{decision}", "Ya"], r"say which step: sopengine decide {decision} Ya --step 3"),
    ("several-open", ["complete", "{split}"],
     r"run {split} has 2 open steps; say which: sopengine complete {split} --step 2; sopengine complete {split} --step 3"),
    ("unknown-outcome", ["decide", "{decision}", "Mungkin", "--step", "3"],
     r"step periksa-kasubag has no outcome 'Mungkin'; choose one of: Ya, Tidak"),
    ("complete-a-decision", ["complete", "{decision}", "--step", "3"],
     r"step periksa-kasubag \(no\. 3\) is a decision \(Ya / Tidak\); use 'sopengine decide {decision} OUTCOME --step 3'"),
    ("complete-unnamed-at-a-decision", ["complete", "{decision}"],
     (r"run {decision} has no open step to complete; its open decision is periksa-kasubag \(no\. 3\):"
      r" 'sopengine decide {decision} Ya\|Tidak --step 3'")),
    ("decide-a-process", ["decide", "{assigned}", "Ya", "--step", "1", "--by", "Agus Supriyadi"],
     r"step kumpulkan-data \(no\. 1\) is not a decision; use 'sopengine complete {assigned} --step 1'"),
    ("decide-unnamed-at-a-process", ["decide", "{assigned}", "Ya", "--by", "Agus Supriyadi"],
     r"run {assigned} has no open decision; its open step is kumpulkan-data \(no\. 1\): 'sopengine complete {assigned} --step 1'"),
    ("completed-run", ["complete", "{completed}"],
     r"run {completed} is completed \(since 2026-10-01 09:00 WIB\); nothing can be changed — start a new run, or 'sopengine reopen' a completed one"),
    ("cancelled-run", ["complete", "{cancelled}"],
     r"run {cancelled} is cancelled \(since 2026-10-01 09:00 WIB\); nothing can be changed — .*"),
    ("assign-in-cancelled-run", ["assign", "{cancelled}", "kepala-bidang", "Siti"], r"run {cancelled} is cancelled .*"),
    ("reopen-cancelled-run", ["reopen", "{cancelled}", "1", "--reason", "salah"], r"run {cancelled} is cancelled; start a new run instead"),
    ("cancel-completed-run", ["cancel", "{completed}", "--reason", "salah"], r"run {completed} is completed .*"),
    ("required-output", ["complete", "{outputs}", "--step", "terima"], r"step terima needs its output 'Tanda Terima'; add --output 'Tanda Terima=FILE'"),
    ("output-file-missing", ["complete", "{outputs}", "--step", "terima", "--output", "Tanda Terima=tidak-ada.pdf"],
     r"output file tidak-ada\.pdf does not exist; check the path of 'Tanda Terima'"),
    ("undeclared-output", ["complete", "{outputs}", "--step", "terima", "--output", "Foto=tidak-ada.pdf"],
     r"step terima has no output 'Foto'; its outputs are: 'Tanda Terima'"),
    ("unknown-run", ["complete", "zzz-zzz"], r"no run 'zzz-zzz' in {db}; 'sopengine status' lists the runs"),
    ("unknown-run-status", ["status", "zzz-zzz"], r"no run 'zzz-zzz' in {db}; 'sopengine status' lists the runs"),
    ("unknown-role", ["assign", "{assigned}", "bupati", "Siti"], r"the SOP has no role 'bupati'; roles are: .*kepala-bidang.*sekretaris-dinas.*"),
    ("remove-unassigned", ["assign", "{assigned}", "kepala-bidang", "Siti", "--remove"],
     r"Siti is not assigned to kepala-bidang in run {assigned} \(assigned: nobody\)"),
    ("empty-reason", ["cancel", "{assigned}", "--reason", " "], r"give the reason for cancelling with --reason TEXT"),
    ("unknown-definition", ["run", "tidak-ada"], r"no definition 'tidak-ada'.*"),
    ("malformed-period", ["run", "pengumpulan-data", "--period", "2026-13"],
     r"cannot read period '2026-13'; write a month 2026-10, a quarter 2026-Q3, a semester 2026-S2 or a year 2026"),
    ("undeclared-case-field", ["run", "pengumpulan-data", "--period", "2026-03", "--set", "jenis=rahasia"],
     r"the SOP declares no case field 'jenis'; declared: none \(this SOP reads no case data\)"),
    ("case-value-not-allowed", ["run", "dokumen-wajib", "--set", "jenis=terbuka"],
     r"jenis='terbuka' is not allowed; allowed values: biasa, rahasia"),
    ("duplicate-run", ["run", "pengumpulan-data", "--period", "2026-10"],
     r"run {assigned} of pengumpulan-data for 2026-10 is still active; continue it, or pass --allow-duplicate"),
    ("malformed-now", ["complete", "{assigned}", "--step", "1", "--now", "kemarin"], r"cannot read time 'kemarin'; write ISO 8601.*"),
    ("now-before-the-step-opened", ["complete", "{assigned}", "--step", "1", "--now", "2026-10-01T08:00", "--by", "Agus Supriyadi"],
     r"the time given \(2026-10-01 08:00 WIB\) is before step kumpulkan-data opened \(2026-10-01 09:00 WIB\); check --now"),
]
KEY_CASES = {"not-assigned", "no-step-named", "step-not-open", "unknown-outcome", "completed-run", "required-output", "output-file-missing",
             "unknown-run", "unknown-definition", "malformed-period", "undeclared-case-field", "duplicate-run"}


def _invoke(mode: str, args: list[str], cwd: Path) -> tuple[int, str, str]:
    if mode == "runner":
        result = CliRunner().invoke(cli, args)
        return result.exit_code, result.stdout, result.stderr
    proc = subprocess.run([sys.executable, "-m", "sopengine", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def _assert_refused(code: int, stdout: str, stderr: str, message: str) -> None:
    assert code == 1, (code, stdout, stderr)
    assert stdout == ""
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1, stderr
    assert re.fullmatch(f"Error: {message}\n", stderr), stderr


RUNS = [pytest.param(*case, "runner", id=f"{case[0]}-runner") for case in CASES]
RUNS += [pytest.param(*case, "process", id=f"{case[0]}-process") for case in CASES if case[0] in KEY_CASES]


@pytest.mark.parametrize(("name", "args", "message", "mode"), RUNS)
def test_refusal(tmp_path: Path, world: World, name: str, args: list[str], message: str, mode: str) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(world.db, db)
    before = snapshot(db)
    argv = ["--db", str(db), "--definitions", str(PARALLEL), "--now", NOW, *[a.format(**world.runs) for a in args]]
    code, stdout, stderr = _invoke(mode, argv, tmp_path)
    _assert_refused(code, stdout, stderr, message.format(db=re.escape(str(db)), **world.runs))
    assert snapshot(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.db"]


@pytest.fixture
def pg_copy(pg_server: pg_support.PgServer, pg_world: World) -> Iterator[str]:
    """A fresh copy of the PostgreSQL world."""
    name, url = pg_server.create(template=str(pg_world.db))
    try:
        yield url
    finally:
        pg_server.drop(name)


@pytest.mark.postgresql
@pytest.mark.parametrize(("name", "args", "message", "mode"), RUNS)
def test_refusal_on_postgresql(tmp_path: Path, pg_world: World, pg_copy: str, name: str, args: list[str], message: str,
                               mode: str) -> None:
    db = pg_copy
    before = pg_support.dump(db)
    argv = ["--db", db, "--definitions", str(PARALLEL), "--now", NOW, *[a.format(**pg_world.runs) for a in args]]
    code, stdout, stderr = _invoke(mode, argv, tmp_path)
    _assert_refused(code, stdout, stderr, message.format(db=re.escape(db), **pg_world.runs))
    assert pg_support.dump(db) == before
    assert list(tmp_path.iterdir()) == []


LIBRARY = [
    ("not-assigned", lambda w, db: api.complete(db, w.runs["assigned"], by="Budi"), NotAssigned),
    ("step-not-open", lambda w, db: api.complete(db, w.runs["assigned"], step="3"), StepNotOpen),
    ("unknown-outcome", lambda w, db: api.decide(db, w.runs["decision"], "Mungkin"), UnknownOutcome),
    ("completed-run", lambda w, db: api.complete(db, w.runs["completed"]), RunClosed),
    ("required-output", lambda w, db: api.complete(db, w.runs["outputs"]), OutputMissing),
    ("unknown-run", lambda w, db: api.complete(db, "zzz-zzz"), RunNotFound),
    ("unknown-definition", lambda w, db: api.start_run("tidak-ada", db=db), DefinitionNotFound),
    ("malformed-period", lambda w, db: api.start_run("pengumpulan-data", db=db, period="Oktober"), InputError),
    ("duplicate-run", lambda w, db: api.start_run("pengumpulan-data", db=db, period="2026-10"), DuplicateRun),
]


@pytest.mark.parametrize(("name", "call", "error"), LIBRARY, ids=[c[0] for c in LIBRARY])
def test_the_library_raises_the_documented_error(tmp_path: Path, world: World, name: str, call, error: type) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(world.db, db)
    before = snapshot(db)
    with pytest.raises(error) as info:
        call(world, db)
    assert info.value.message == str(info.value) and "\n" not in str(info.value)
    assert snapshot(db) == before


@pytest.mark.postgresql
@pytest.mark.parametrize(("name", "call", "error"), LIBRARY, ids=[c[0] for c in LIBRARY])
def test_the_library_raises_the_documented_error_on_postgresql(pg_world: World, pg_copy: str, name: str, call, error: type) -> None:
    before = pg_support.dump(pg_copy)
    with pytest.raises(error) as info:
        call(pg_world, pg_copy)
    assert info.value.message == str(info.value) and "\n" not in str(info.value)
    assert pg_support.dump(pg_copy) == before


# -- files that are not (this version's) sopengine databases ------------------------------------------

def _newer(path: Path, world: World) -> None:
    shutil.copy(world.db, path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()


def _random(path: Path, world: World) -> None:
    path.write_bytes(os.urandom(8192))


def _foreign(path: Path, world: World) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE pegawai (nip TEXT PRIMARY KEY, nama TEXT)")
    con.execute("INSERT INTO pegawai VALUES ('197108051991011001', 'Agus')")
    con.commit()
    con.close()


FILES = [
    ("newer", _newer, r"{db} was written by a newer sopengine \(schema 99, this one knows \d+\); upgrade sopengine", DatabaseTooNew),
    ("random", _random, r"{db} is not a sopengine database \(not an SQLite file\); pass the right --db", NotADatabase),
    ("foreign", _foreign, r"{db} is an SQLite file but not a sopengine database \(it has tables pegawai\); pass another --db", NotADatabase),
]
COMMANDS = [["status"], ["status", "abc-def"], ["inbox", "--person", "Agus"], ["run", "pengumpulan-data", "--period", "2026-10"],
            ["complete", "abc-def"], ["cancel", "abc-def", "--reason", "x"]]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("kind", "make", "message", "error"), FILES, ids=[f[0] for f in FILES])
def test_a_file_that_is_not_a_usable_database_is_refused_untouched(
    tmp_path: Path, world: World, kind: str, make, message: str, error: type,
) -> None:
    db = tmp_path / "other.db"
    make(db, world)
    before = db.read_bytes()
    expected = message.format(db=re.escape(str(db)))
    for command in COMMANDS:
        code, stdout, stderr = _invoke("runner", ["--db", str(db), *command], tmp_path)
        _assert_refused(code, stdout, stderr, expected)
    code, stdout, stderr = _invoke("process", ["--db", str(db), *COMMANDS[3]], tmp_path)
    _assert_refused(code, stdout, stderr, expected)
    with pytest.raises(error, match=expected):
        api.run_status(db, "abc-def")
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_refused_starts_create_no_database(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    for args in (["run", "tidak-ada"], ["run", "pengumpulan-data", "--period", "2026-13"],
                 ["run", "pengumpulan-data", "--set", "x=1"], ["run", "surat-keluar", "--if-missing"]):
        code, _, stderr = _invoke("runner", ["--db", str(db), *args], tmp_path)
        assert code == 1 and stderr.startswith("Error: "), stderr
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DatabaseMissing):
        api.run_status(db, "abc-def")


def test_a_start_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    code, _, stderr = _invoke("runner", ["--db", str(tmp_path / "tidak-ada" / "x.db"), "run", "pengumpulan-data"], tmp_path)
    assert code == 1
    assert stderr == f"Error: folder {tmp_path / 'tidak-ada'} does not exist; create it or pass another --db\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.sqlite_only
def test_a_completion_that_lost_the_race_says_who_won_and_when(tmp_path: Path, world: World) -> None:
    """Two real processes load the same state while a third holds the write lock; then both write."""
    db = tmp_path / "copy.db"
    shutil.copy(world.db, db)
    run_id = world.runs["assigned"]
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        # both have read the run (reads do not wait for the lock) and wait to write
        procs = start_writers(tmp_path, [["--db", str(db), "--now", NOW, "complete", run_id, "--step", "1", "--by", "Agus Supriyadi",
                                          "--note", f"versi {i}"] for i in (1, 2)], cwd=tmp_path)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    results = [p.communicate(timeout=30) + (p.returncode,) for p in procs]
    assert sorted(r[2] for r in results) == [0, 1]
    _, stderr, _ = next(r for r in results if r[2] == 1)
    # both pinned the task before either wrote: the second is refused for that task
    assert stderr == (f"Error: step kumpulkan-data (no. 1) of run {run_id} was already completed by Agus Supriyadi at"
                      f" 2026-10-01 09:00 WIB; see 'sopengine status {run_id}'\n"), stderr
    con = sqlite3.connect(db)
    notes = con.execute("SELECT note FROM tasks WHERE run_id = ? AND step_id = 'kumpulkan-data'", (run_id,)).fetchall()
    events = con.execute("SELECT COUNT(*) FROM events WHERE run_id = ? AND kind = 'step_completed'", (run_id,)).fetchone()[0]
    con.close()
    assert len(notes) == 1 and events == 1


@pytest.mark.sqlite_only
def test_another_programs_file_with_a_user_version_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE pegawai (nip TEXT PRIMARY KEY, nama TEXT)")
    con.execute("PRAGMA user_version = 1")  # as some programs number their own schemas
    con.commit()
    con.close()
    before = db.read_bytes()
    code, stdout, stderr = _invoke("runner", ["--db", str(db), "status"], tmp_path)
    _assert_refused(code, stdout, stderr, re.escape(str(db)) + r" is an SQLite file but not a sopengine database \(it has tables pegawai\); pass another --db")
    assert db.read_bytes() == before


@pytest.mark.sqlite_only
def test_another_programs_file_numbered_like_ours_gives_a_one_line_error(tmp_path: Path) -> None:
    from sopengine.store import SCHEMA_VERSION

    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE pegawai (nip TEXT PRIMARY KEY, nama TEXT)")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    con.commit()
    con.close()
    before = db.read_bytes()
    for args in (["status"], ["status", "abc-def"], ["complete", "abc-def"]):
        code, stdout, stderr = _invoke("runner", ["--db", str(db), *args], tmp_path)
        _assert_refused(code, stdout, stderr,
                        re.escape(str(db)) + r" cannot be used as a sopengine database \(no such table: runs\); pass the right --db")
    assert db.read_bytes() == before
