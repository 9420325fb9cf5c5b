"""Errors by their cause: each condition of the database file gets its own message and exit code.

A lock held too long (4), a full disk, a file size limit and a read-only file (5) leave the data
intact and never advise a restore; only a file SQLite's own check finds damaged (6) does, and
such a file then takes no more changes until a backup is restored in its place. A text file
and a newer schema have messages of their own (1). Every case is a real file: a real lock
held by another connection, a real size limit (``ulimit -f``, ``PRAGMA max_page_count``), a
real read-only user (``useradd``, ``runuser``), a real damaged page.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api
from sopengine.cli import cli
from sopengine.errors import (
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseTooNew,
    NotADatabase,
    SopError,
    StorageUnavailable,
    StoreError,
)
from sopengine.store import SCHEMA_VERSION, Store
from sopengine.store.errors import confirm_damage, marker

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-10-01T09:00"
FIRST_STEP = "kumpulkan-data"
OTHER_USER = "sopengine-tamu"


def start(db: Path) -> str:
    return api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW)["run_id"]


def events(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        con.close()


def sound(db: Path) -> bool:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()


def sopengine(*args: str, env: dict[str, str] | None = None, prefix: list[str] | None = None,
              cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "SOPENGINE_LANG": "en", **(env or {})}
    return subprocess.run([*(prefix or []), sys.executable, "-m", "sopengine", *args], capture_output=True, text=True,
                          env=full, timeout=120, cwd=cwd, check=False)


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_exit_codes_are_attributes_of_the_error_tree() -> None:
    assert SopError.exit_code == 1
    assert StoreError.exit_code == NotADatabase.exit_code == DatabaseTooNew.exit_code == 1
    assert (DatabaseBusy.exit_code, StorageUnavailable.exit_code, DatabaseDamaged.exit_code) == (4, 5, 6)
    assert all(issubclass(c, StoreError) for c in (DatabaseBusy, StorageUnavailable, DatabaseDamaged))


# -- busy ------------------------------------------------------------------------------------------


def test_a_lock_held_longer_than_the_busy_timeout_is_exit_4_try_again(tmp_path: Path) -> None:
    db = tmp_path / "sibuk.db"
    run_id = start(db)
    before = events(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program writing, and writing for long
    try:
        done = sopengine("--db", str(db), "complete", run_id, "--step", FIRST_STEP,
                         env={"SOPENGINE_BUSY_TIMEOUT_MS": "300"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 4, done.stderr
    line = one_error_line(done.stderr)
    assert line == (f"Error: {db} is busy: another command has been writing to it for more than 0.3 s;"
                    " try again in a moment (nothing was changed)")
    assert "backup" not in line
    assert events(db) == before
    # once the lock is gone, the same command works
    again = sopengine("--db", str(db), "complete", run_id, "--step", FIRST_STEP)
    assert again.returncode == 0, again.stderr


def test_busy_in_the_library_is_database_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "sibuk.db"
    run_id = start(db)
    monkeypatch.setenv("SOPENGINE_BUSY_TIMEOUT_MS", "100")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseBusy, match="is busy: .* try again in a moment") as caught:
            api.complete(db, run_id, step=FIRST_STEP, now=NOW)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert caught.value.path == str(db)


def test_a_busy_timeout_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    start(db)
    result = sopengine("--db", str(db), "status", env={"SOPENGINE_BUSY_TIMEOUT_MS": "lama"})
    assert result.returncode == 1
    assert one_error_line(result.stderr) == (
        "Error: SOPENGINE_BUSY_TIMEOUT_MS must be a whole number of milliseconds from 0 to 3600000 (got 'lama');"
        " fix or unset it")


# -- full ------------------------------------------------------------------------------------------


def test_a_full_database_is_storage_unavailable_and_nothing_is_written(tmp_path: Path) -> None:
    db = tmp_path / "penuh.db"
    run_id = start(db)
    before = events(db)
    store = Store(db)
    try:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow
        with pytest.raises(StorageUnavailable) as caught:
            api.complete(store, run_id, step=FIRST_STEP, note="catatan panjang " * 20_000, now=NOW)
    finally:
        store.close()
    assert caught.value.cause == "full"
    assert str(caught.value) == f"{db} could not be written: the disk is full; free some space and try again (nothing was changed)"
    assert caught.value.exit_code == 5
    assert events(db) == before and sound(db)
    assert api.run_status(db, run_id)["open_steps"][0]["step"] == FIRST_STEP


def test_a_file_size_limit_is_exit_5_and_names_the_limit(tmp_path: Path) -> None:
    db = tmp_path / "batas.db"
    run_id = start(db)
    before = events(db)
    # bash's ulimit -f counts KiB; a complete writes more than 32 KiB of WAL into a fresh file
    done = sopengine("--db", str(db), "complete", run_id, "--step", FIRST_STEP, "--note", "x" * 40_000,
                     prefix=["bash", "-c", 'ulimit -f 32; exec "$0" "$@"'])
    assert done.returncode == 5, done.stderr
    line = one_error_line(done.stderr)
    assert line == (f"Error: {db} could not be written: no room to grow it, as this process may not write files larger"
                    " than 32768 bytes (ulimit -f); raise the limit or free space and try again (nothing was changed)")
    assert "backup" not in line
    assert events(db) == before and sound(db)
    assert not marker(db).exists()


# -- read-only -------------------------------------------------------------------------------------


def test_a_read_only_connection_is_storage_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "baca.db"
    run_id = start(db)
    store = Store(db)
    store.conn.close()
    store.conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        with pytest.raises(StorageUnavailable, match=r"is open read-only \(attempt to write a readonly database\)") as caught:
            api.complete(store, run_id, step=FIRST_STEP, now=NOW)
    finally:
        store.close()
    assert caught.value.cause == "readonly"
    assert "backup" not in str(caught.value)
    assert api.run_status(db, run_id)["open_steps"][0]["step"] == FIRST_STEP


def _python_for(user: str) -> list[str] | None:
    """A command that runs this checkout's Python as *user*, or None if none can."""
    if shutil.which("runuser") is None:
        return None
    paths = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])
    for python in (sys.executable, f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"):
        prefix = ["runuser", "-u", user, "--", "env", f"PYTHONPATH={paths}", "HOME=/tmp", "SOPENGINE_LANG=en", python]
        probe = subprocess.run([*prefix, "-c", "import sopengine.cli, rich, pydantic"], capture_output=True, check=False)
        if probe.returncode == 0:
            return prefix
    return None


@pytest.fixture(scope="module")
def as_other_user() -> list[str]:
    """The prefix that runs Python as a second, unprivileged OS user (made with useradd)."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to make a second OS user")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not available to make a second OS user")
    if subprocess.run(["id", OTHER_USER], capture_output=True, check=False).returncode != 0:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER],
                              capture_output=True, text=True, check=False)
        if made.returncode != 0 and "already exists" not in made.stderr:
            pytest.skip(f"useradd failed: {made.stderr.strip()}")
    prefix = _python_for(OTHER_USER)
    if prefix is None:
        pytest.skip(f"no Python with sopengine's packages that {OTHER_USER} may run")
    return prefix


def shared_folder(tmp_path: Path, mode: int) -> Path:
    """A folder other users can reach (pytest's own is private to root)."""
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"sopengine-{os.getpid()}-{tmp_path.name}"
    folder.mkdir()
    folder.chmod(mode)
    return folder


def run_as(prefix: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, "-m", "sopengine", *args], capture_output=True, text=True, timeout=120, check=False)


def test_a_file_another_user_owns_is_read_only_for_a_lower_user(tmp_path: Path, as_other_user: list[str]) -> None:
    folder = shared_folder(tmp_path, 0o777)
    try:
        db = folder / "kantor.db"
        run_id = start(db)
        db.chmod(0o644)  # root's file: others may read it
        before = events(db)
        done = run_as(as_other_user, "--db", str(db), "complete", run_id, "--step", FIRST_STEP)
        assert done.returncode == 5, done.stderr
        line = one_error_line(done.stderr)
        assert line == (f"Error: {db} is read-only for {OTHER_USER}; ask the administrator for write access to the file;"
                        " commands that only read still work (nothing was changed)")
        assert "backup" not in line
        assert events(db) == before and sound(db)
        read = run_as(as_other_user, "--db", str(db), "status", run_id)
        assert read.returncode == 0, read.stderr
    finally:
        shutil.rmtree(folder)


def test_a_read_only_folder_is_named_for_readers_too(tmp_path: Path, as_other_user: list[str]) -> None:
    folder = shared_folder(tmp_path, 0o755)
    try:
        db = folder / "kantor.db"
        run_id = start(db)
        for args in (["complete", run_id, "--step", FIRST_STEP], ["status"]):
            done = run_as(as_other_user, "--db", str(db), *args)
            assert done.returncode == 5, done.stderr
            assert one_error_line(done.stderr) == (
                f"Error: {db} cannot be used: its folder is read-only for {OTHER_USER}, and SQLite keeps two files beside"
                " the database (-wal, -shm) even to read it; ask the administrator for write access to the folder, or read"
                " a copy made with 'sopengine backup' (nothing was changed)")
        assert sorted(p.name for p in folder.iterdir()) == ["kantor.db"]
    finally:
        shutil.rmtree(folder)


# -- not ours, newer -------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["status"], ["complete", "abc-def", "--step", FIRST_STEP], ["history"]])
def test_a_text_file_is_not_a_sopengine_database(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "catatan.txt"
    db.write_text("Daftar hadir rapat\n" * 200, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {db} is not a sopengine database (not an SQLite file); pass the right --db\n"
    assert db.read_text(encoding="utf-8") == "Daftar hadir rapat\n" * 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catatan.txt"]


def test_a_newer_schema_has_its_own_message(tmp_path: Path) -> None:
    db = tmp_path / "baru.db"
    start(db)
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    for args in (["status"], ["complete", "abc-def", "--step", FIRST_STEP]):
        result = sopengine("--db", str(db), *args)
        assert result.returncode == 1
        assert one_error_line(result.stderr) == (
            f"Error: {db} was written by a newer sopengine (schema {SCHEMA_VERSION + 1}, this one knows {SCHEMA_VERSION});"
            " upgrade sopengine")


def test_a_folder_as_db(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path), "status"])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path} is a folder, not a database file; pass a file with --db\n"


# -- damaged ---------------------------------------------------------------------------------------


def damage(db: Path, table: str = "tasks") -> None:
    """Damage *table*'s first page as a failing disk would: its cell count no longer matches."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    con.close()
    with db.open("r+b") as fh:
        fh.seek((root - 1) * page_size + 3)  # the b-tree page header's number of cells
        fh.write(b"\x00\x09")
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchall() != [("ok",)]  # SQLite's own verdict
    check.close()


def test_a_damaged_file_is_exit_6_with_the_backup_advice_and_takes_no_more_changes(tmp_path: Path) -> None:
    db = tmp_path / "rusak.db"
    run_id = start(db)
    backup = tmp_path / "cadangan.db"
    assert sopengine("--db", str(db), "backup", str(backup)).returncode == 0
    damage(db)

    done = sopengine("--db", str(db), "complete", run_id, "--step", FIRST_STEP)
    assert done.returncode == 6, done.stderr
    line = one_error_line(done.stderr)
    assert line.startswith(f"Error: {db} is damaged: SQLite's check reports 'On tree page ")
    assert line.endswith("; stop using it and restore it from a backup (see 'A damaged database' in the docs);"
                         " it takes no more changes until then")
    note = marker(db).read_text(encoding="utf-8")
    assert "check: quick_check" in note and "problem: On tree page" in note

    # every change is refused at open now, whatever it would touch
    cancel = sopengine("--db", str(db), "cancel", run_id, "--reason", "salah")
    assert cancel.returncode == 6
    assert "restore it from a backup" in one_error_line(cancel.stderr)
    started = sopengine("--db", str(db), "run", "pengumpulan-data", "--period", "2026-11")
    assert started.returncode == 6
    # reading what can still be read is allowed; reading the damaged page says so
    shown = sopengine("--db", str(db), "status", run_id)
    assert shown.returncode == 6 and "is damaged" in shown.stderr

    # the admin restores the backup in the file's place: the check passes, the note goes, work resumes
    for leftover in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(backup, db)
    again = sopengine("--db", str(db), "complete", run_id, "--step", FIRST_STEP)
    assert again.returncode == 0, again.stderr
    assert not marker(db).exists()


def test_a_damaged_page_seen_by_the_library_is_database_damaged(tmp_path: Path) -> None:
    db = tmp_path / "rusak.db"
    run_id = start(db)
    # the runs table's page: a step reads its run (with its open tasks) before it writes, and
    # appends its events without reading them
    damage(db, "runs")
    with pytest.raises(DatabaseDamaged) as caught:
        api.complete(db, run_id, step=FIRST_STEP, now=NOW)
    assert caught.value.exit_code == 6
    assert caught.value.path == str(db)
    assert caught.value.problem


def test_confirm_damage_says_none_for_a_sound_file_and_marks_a_damaged_one(tmp_path: Path) -> None:
    db = tmp_path / "periksa.db"
    start(db)
    con = sqlite3.connect(db)
    assert confirm_damage(con, db) is None
    assert confirm_damage(con, db, full=True) is None
    con.close()
    assert not marker(db).exists()
    damage(db)
    con = sqlite3.connect(db)
    found = confirm_damage(con, db, full=True)
    con.close()
    assert isinstance(found, DatabaseDamaged)
    assert "check: integrity_check" in marker(db).read_text(encoding="utf-8")
    with pytest.raises(DatabaseDamaged):
        Store(db)  # opening for a change runs the check the note names, and it still fails
    Store(db, readonly=True).close()  # reading is allowed


def test_the_damage_note_is_found_through_a_symbolic_link_to_the_file_or_its_folder(tmp_path: Path) -> None:
    real = tmp_path / "data" / "kantor.db"
    real.parent.mkdir()
    run_id = start(real)
    link = tmp_path / "tautan.db"
    link.symlink_to(real)
    folder_link = tmp_path / "folder-tautan"
    folder_link.symlink_to(real.parent)
    damage(real)
    con = sqlite3.connect(link)
    assert isinstance(confirm_damage(con, link), DatabaseDamaged)  # found through the link
    con.close()
    assert marker(link) == marker(real) == Path(f"{real}.damaged")
    assert Path(f"{real}.damaged").exists() and not Path(f"{link}.damaged").exists()
    for name in (real, link, folder_link / "kantor.db"):
        with pytest.raises(DatabaseDamaged):
            Store(name)
        # a change that would not touch the damaged page is refused too, whichever name opens it
        cancel = sopengine("--db", str(name), "cancel", run_id, "--reason", "salah")
        assert cancel.returncode == 6, cancel.stderr
        assert "restore it from a backup" in one_error_line(cancel.stderr)


def test_json_of_a_failed_command_is_empty_and_the_exit_code_does_not_change_with_the_language(tmp_path: Path) -> None:
    db = tmp_path / "sibuk.db"
    run_id = start(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        codes = {lang: sopengine("--db", str(db), "complete", run_id, "--step", FIRST_STEP, "--json",
                                 env={"SOPENGINE_BUSY_TIMEOUT_MS": "100", "SOPENGINE_LANG": lang}) for lang in ("en", "id")}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert {lang: r.returncode for lang, r in codes.items()} == {"en": 4, "id": 4}
    assert all(r.stdout == "" for r in codes.values())
    assert json.loads(sopengine("--db", str(db), "status", run_id, "--json").stdout)["run_id"] == run_id


def test_the_exit_codes_in_the_docs_are_the_error_trees() -> None:
    import re

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    table = text[text.index("**Exit codes.**"):text.index("### A damaged database")]
    rows = {int(m[1]): m[2] for m in re.finditer(r"^\| (\d) \| ([^|]+) \|", table, re.M)}
    assert sorted(rows) == [0, 1, 2, 3, 4, 5, 6]
    assert "busy" in rows[DatabaseBusy.exit_code]
    assert "storage unavailable" in rows[StorageUnavailable.exit_code]
    assert "damaged" in rows[DatabaseDamaged.exit_code]
