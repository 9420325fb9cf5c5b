"""``backup``: a consistent copy made with SQLite's online backup, even while others write."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from sopengine import audit
from sopengine.cli import cli
from sopengine.runs import assign, start_run
from test_audit import build_history, unwritable_folder

WRITER = """
import sys
from sopengine.runs import assign
db, run_id, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("writing", flush=True)
for i in range(rounds):
    assign(db, run_id, "kepala-seksi", f"Staf {i % 7}", by="penulis")
    assign(db, run_id, "kepala-seksi", f"Staf {i % 7}", remove=True, by="penulis")
print("done", flush=True)
"""


def test_backup_copies_and_prints_the_head_of_the_copy(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    target = tmp_path / "cadangan" / "sopengine-2026-10-31.db"
    target.parent.mkdir()
    result = CliRunner().invoke(cli, ["--db", str(hist["db"]), "backup", str(target)])
    assert result.exit_code == 0, result.output
    head = audit.verify(hist["db"])["head"]
    assert f"Head of the copy: {head}" in result.stdout
    assert f"--expect-head {head}" in result.stderr
    copy = audit.verify(target, expect_head=head)
    assert copy["ok"] and copy["head_matches"]
    assert audit.history(target) == [dict(e) for e in audit.history(hist["db"])]
    assert not list(target.parent.glob(".*tmp*"))  # nothing half-written left beside it


def test_backup_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    target = tmp_path / "copy.db"
    target.write_bytes(b"an older copy")
    refused = CliRunner().invoke(cli, ["backup", "--db", str(hist["db"]), str(target)])
    assert refused.exit_code == 1
    assert refused.output.startswith(f"Error: {target} already exists; choose another name or pass --force")
    assert target.read_bytes() == b"an older copy"
    forced = CliRunner().invoke(cli, ["backup", "--db", str(hist["db"]), str(target), "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    data = json.loads(forced.stdout)
    assert data["path"] == str(target) and data["events"] == audit.verify(hist["db"])["events"]
    assert audit.verify(target, expect_head=data["head"])["ok"]


def test_backup_refuses_the_database_itself_and_a_missing_source(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    same = CliRunner().invoke(cli, ["backup", "--db", str(hist["db"]), str(hist["db"]), "--force"])
    assert same.exit_code == 1 and "is the database itself" in same.output
    missing = CliRunner().invoke(cli, ["backup", "--db", str(tmp_path / "none.db"), str(tmp_path / "copy.db")])
    assert missing.exit_code == 1 and missing.output.startswith("Error: no database at")
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "copy.db").exists()


def test_a_backup_taken_while_another_process_writes_verifies(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    run_id = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani")["run_id"]
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), run_id, "150"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
        copies = []
        deadline = time.monotonic() + 60
        while len(copies) < 5 and time.monotonic() < deadline:
            before = sqlite3.connect(db).execute("SELECT COUNT(*) FROM events").fetchone()[0]
            target = tmp_path / f"copy-{len(copies)}.db"
            proc = subprocess.run(
                [sys.executable, "-m", "sopengine", "backup", "--db", str(db), str(target), "--json"],
                capture_output=True, text=True, timeout=60,
            )
            assert proc.returncode == 0, proc.stderr
            copies.append((target, json.loads(proc.stdout), before))
        out, err = writer.communicate(timeout=120)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    assert out.strip().endswith("done")
    final = sqlite3.connect(db).execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert final == 1 + 2 * 150
    counts = []
    for target, printed, before in copies:
        result = audit.verify(target, expect_head=printed["head"])
        assert result["ok"], result["problems"]
        assert before <= result["events"] <= final
        counts.append(result["events"])
    # the copies were taken mid-stream: at least one holds part of the writer's work
    assert any(1 < n < final for n in counts), counts


def test_a_backup_taken_while_a_thread_writes_verifies(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    run_id = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani")["run_id"]
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            i = 0
            while not stop.is_set():
                assign(db, run_id, "kasubag-pep", f"Pegawai {i}", by="penulis")
                i += 1
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    count = "SELECT COUNT(*) FROM events"
    try:
        while sqlite3.connect(db).execute(count).fetchone()[0] < 5:
            time.sleep(0.01)
        results = []
        for i in range(3):
            results.append(audit.backup(db, tmp_path / f"t{i}.db"))
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert errors == []
    for r in results:
        assert audit.verify(r["path"], expect_head=r["head"])["ok"]
    # the thread kept writing between and during the copies
    assert results[0]["events"] < results[-1]["events"] < sqlite3.connect(db).execute(count).fetchone()[0]


def test_a_restored_backup_is_checked_with_the_noted_head(tmp_path: Path) -> None:
    """Restore: stop writers, copy the backup into place (its -wal/-shm moved aside), verify."""
    hist = build_history(tmp_path)
    backup = audit.backup(hist["db"], tmp_path / "copy.db")
    assign(hist["db"], hist["b"], "kepala-seksi", "Sari", by="ani")  # work after the backup
    live = hist["db"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    live.write_bytes(Path(backup["path"]).read_bytes())
    assert audit.verify(live, expect_head=backup["head"])["ok"]
    assert all(e["note"] != "Kepala Seksi: Sari" for e in audit.history(live, run=hist["b"]))


def test_backup_into_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    result = CliRunner().invoke(cli, ["backup", "--db", str(hist["db"]), str(tmp_path / "nowhere" / "copy.db")])
    assert result.exit_code == 1 and "does not exist; create it first" in result.output


def test_backup_into_a_folder_that_cannot_be_written_blames_the_target(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    target = unwritable_folder(tmp_path) / "copy.db"
    result = CliRunner().invoke(cli, ["backup", "--db", str(hist["db"]), str(target)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write {target} (")
    assert "choose a folder you may write to" in result.stderr and "database cannot be read" not in result.stderr
    assert result.stderr.count("\n") == 1 and not target.exists()
    assert audit.verify(hist["db"])["ok"]  # the source is untouched


def test_a_backup_in_steps_with_progress_is_one_consistent_moment_while_a_thread_writes(tmp_path: Path) -> None:
    """With a progress bar the copy goes page by page; the source holds one snapshot throughout."""
    from sopengine.store import audit as store_audit

    db = tmp_path / "sopengine.db"
    run_id = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="ani")["run_id"]
    for i in range(40):
        assign(db, run_id, "kasubag-pep", f"Pegawai {i}", by="penulis")
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            i = 0
            while not stop.is_set():
                assign(db, run_id, "kepala-seksi", f"Staf {i}", by="penulis")
                i += 1
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    seen: list[tuple[int, int]] = []
    steps = store_audit.COPY_STEP_PAGES
    store_audit.COPY_STEP_PAGES = 1  # one page a step: the writer gets many chances in between
    thread = threading.Thread(target=write)
    thread.start()
    try:
        result = audit.backup(db, tmp_path / "copy.db", progress=lambda done, total: seen.append((done, total)))
    finally:
        store_audit.COPY_STEP_PAGES = steps
        stop.set()
        thread.join(timeout=30)
    assert errors == []
    assert len(seen) > 3 and seen[-1][0] == seen[-1][1]
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    copy = audit.verify(result["path"], expect_head=result["head"])
    assert copy["ok"], copy["problems"]
    assert copy["events"] < audit.verify(db)["events"]  # the thread went on writing after the snapshot


# -- a target that cannot take the backup: storage unavailable, exit 5 ----------------------------------

def _backup_process(db: Path, target: Path, prefix: list[str]) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "SOPENGINE_LANG": "en"}
    return subprocess.run([*prefix, sys.executable, "-m", "sopengine", "--db", str(db), "backup", str(target), "--force"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def _one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_backup_larger_than_the_file_size_limit_is_exit_5_and_replaces_nothing(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    assert hist["db"].stat().st_size > 64 * 1024
    folder = tmp_path / "cadangan"
    folder.mkdir()
    target = folder / "copy.db"
    target.write_bytes(b"the backup before\n")
    head = audit.verify(hist["db"])["head"]
    # bash's ulimit -f counts KiB; the copy outgrows 32 KiB
    done = _backup_process(hist["db"], target, ["bash", "-c", 'ulimit -f 32; exec "$0" "$@"'])
    assert done.returncode == 5, done.stderr
    assert _one_line(done.stderr) == (
        f"Error: the backup to {target} could not be written: this process may not write files larger than 32768 bytes"
        " (ulimit -f); raise the limit, or back up to a smaller file elsewhere (the database is intact; nothing was"
        " replaced)")
    assert "restore" not in done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["copy.db"] and target.read_bytes() == b"the backup before\n"
    assert audit.verify(hist["db"])["head"] == head


def test_a_backup_into_a_folder_a_lower_user_may_not_write_is_exit_5(tmp_path: Path) -> None:
    import os
    import shutil

    import pytest

    from test_errors_by_cause import OTHER_USER, _python_for

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
    shared = Path(os.environ.get("TMPDIR", "/tmp")) / f"sopengine-backup-{os.getpid()}-{tmp_path.name}"
    shared.mkdir()
    try:
        shared.chmod(0o777)
        db = shared / "kantor.db"
        shutil.copyfile(build_history(tmp_path)["db"], db)
        db.chmod(0o666)
        closed = shared / "arsip"
        closed.mkdir(mode=0o755)  # root's folder: others may enter and read, not write
        target = closed / "copy.db"
        done = subprocess.run([*prefix, "-m", "sopengine", "--db", str(db), "backup", str(target)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 5, done.stderr
        assert _one_line(done.stderr) == (
            f"Error: the backup to {target} could not be written: {OTHER_USER} may not write in {closed} (Permission"
            " denied); back up to a folder you may write to, or ask the administrator for access (the database is"
            " intact; nothing was replaced)")
        assert list(closed.iterdir()) == []
    finally:
        shutil.rmtree(shared)
