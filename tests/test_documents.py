"""Documents a step records are kept in the database: the bytes by sha256, only regular files,
only from the folders an admin allowed, no larger than the limit; every refusal a one-line
error that leaves the run as it was."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import audit
from sopengine import documents as docs_lib
from sopengine.cli import cli
from sopengine.errors import InputError, OutputMissing
from sopengine.runs import complete, start_run
from sopengine.store import Store
from sopengine.store import documents as kept

NOW = "2026-07-01T09:00"


@pytest.fixture
def office(tmp_path: Path) -> dict:
    db = tmp_path / "sopengine.db"
    run = start_run("pengumpulan-data", db=db, period="2026-S1", now="2026-07-01T08:30", by="ani")["run_id"]
    arsip = tmp_path / "arsip"
    arsip.mkdir()
    return {"db": db, "run": run, "arsip": arsip, "tmp": tmp_path}


def record(office: dict, path: str | Path, *, name: str = "Disposisi") -> dict:
    return complete(office["db"], office["run"], step="kumpulkan-data", outputs=[(name, str(path))], by="ani", now=NOW)


def state(db: Path) -> tuple:
    """What a refused step must leave as it was: the run's version, its events, documents and kept bytes."""
    con = sqlite3.connect(db)
    try:
        return (con.execute("SELECT version FROM runs").fetchall(), con.execute("SELECT COUNT(*) FROM events").fetchone(),
                con.execute("SELECT COUNT(*) FROM documents").fetchone(), con.execute("SELECT COUNT(*) FROM document_blobs").fetchone())
    finally:
        con.close()


def blobs(db: Path) -> dict[str, bytes]:
    con = sqlite3.connect(db)
    try:
        return {r[0]: bytes(r[1]) for r in con.execute("SELECT sha256, data FROM document_blobs")}
    finally:
        con.close()


def sop(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sopengine", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "SOPENGINE_LANG": "en"})


# -- kept, not referenced -----------------------------------------------------------------------------

def test_the_bytes_are_kept_in_the_database_and_the_event_names_them(office: dict) -> None:
    file = office["arsip"] / "disposisi.txt"
    file.write_bytes(b"Disposisi Kepala Dinas: lanjutkan\n")
    record(office, file)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    assert blobs(office["db"]) == {digest: file.read_bytes()}
    last = audit.history(office["db"], run=office["run"])[-1]
    assert last["documents"] == [{"name": "Disposisi", "path": str(file.resolve()), "sha256": digest, "size": 34}]
    file.unlink()  # the history no longer depends on the file
    assert audit.verify(office["db"], documents=True)["documents"] == {
        "checked": 1, "ok": 1, "changed": [], "missing": [], "unrecorded": [], "kept": 1, "not_kept": [], "unreferenced": 0}


def test_the_same_bytes_are_kept_once(office: dict) -> None:
    a, b = office["arsip"] / "a.txt", office["arsip"] / "b.txt"
    a.write_bytes(b"sama\n")
    b.write_bytes(b"sama\n")
    record(office, a)
    complete(office["db"], office["run"], step="rekap-laporan", outputs=[("Lembar Disposisi", str(b))], by="budi", now=NOW)
    assert len(blobs(office["db"])) == 1
    assert audit.verify(office["db"], documents=True)["documents"]["kept"] == 2


def test_a_large_file_is_read_in_chunks_and_kept_whole(office: dict) -> None:
    file = office["arsip"] / "besar.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one chunk and more than the spool kept in memory
    file.write_bytes(data)
    record(office, file)
    digest = hashlib.sha256(data).hexdigest()
    with Store(office["db"], readonly=True) as store:
        assert b"".join(kept.read(store.conn, digest)) == data
        assert kept.blob_sha256(store.conn, digest) == (digest, len(data))


def test_backup_carries_the_kept_documents(office: dict) -> None:
    file = office["arsip"] / "d.txt"
    file.write_bytes(b"isi dokumen\n")
    record(office, file)
    file.unlink()
    copy = office["tmp"] / "salinan.db"
    audit.backup(office["db"], copy)
    assert blobs(copy) == blobs(office["db"]) != {}
    assert audit.verify(copy, documents=True)["ok"]


def test_an_empty_file_is_a_document_too(office: dict) -> None:
    file = office["arsip"] / "kosong.txt"
    file.write_bytes(b"")
    record(office, file)
    assert blobs(office["db"]) == {hashlib.sha256(b"").hexdigest(): b""}
    assert audit.verify(office["db"], documents=True)["ok"]


# -- only regular files, each other kind with its own message ------------------------------------------

def refused(office: dict, path: str | Path, exc: type[Exception], message: str) -> None:
    before = state(office["db"])
    with pytest.raises(exc) as info:
        record(office, path)
    assert str(info.value) == message
    assert state(office["db"]) == before


def test_a_fifo_is_refused_without_being_opened(office: dict) -> None:
    fifo = office["arsip"] / "pipa"
    os.mkfifo(fifo)
    # opening a FIFO for reading would wait for a writer forever: the process would hang, not fail
    proc = sop("--db", str(office["db"]), "complete", office["run"], "--step", "kumpulkan-data", "--by", "ani",
               "--output", f"Disposisi={fifo}", cwd=office["tmp"], timeout=30)
    assert proc.returncode == 1
    assert proc.stderr == (f"Error: output {fifo} is a named pipe (FIFO), not a file; save 'Disposisi' as a file and give"
                           " that\n")
    refused(office, fifo, OutputMissing,
            f"output {fifo} is a named pipe (FIFO), not a file; save 'Disposisi' as a file and give that")


def test_a_link_to_a_fifo_is_judged_by_its_target(office: dict) -> None:
    fifo = office["arsip"] / "pipa"
    os.mkfifo(fifo)
    link = office["arsip"] / "tautan.txt"
    link.symlink_to(fifo)
    refused(office, link, OutputMissing,
            f"output {link} is a named pipe (FIFO), not a file; save 'Disposisi' as a file and give that")


def test_a_device_is_refused(office: dict) -> None:
    refused(office, "/dev/null", OutputMissing,
            "output /dev/null is a device, not a file; save 'Disposisi' as a file and give that")


def test_a_folder_is_refused(office: dict) -> None:
    refused(office, office["arsip"], OutputMissing,
            f"output {office['arsip']} is a folder; give the file of 'Disposisi'")


def test_a_socket_is_refused(office: dict) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sk", dir="/tmp"))  # a socket's path must be short
    path = folder / "s"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
        refused(office, path, OutputMissing, f"output {path} is a socket, not a file; save 'Disposisi' as a file and give that")
    path.unlink()
    folder.rmdir()


def test_a_missing_file_and_a_dangling_link_are_named(office: dict) -> None:
    gone = office["arsip"] / "tidak-ada.txt"
    refused(office, gone, OutputMissing, f"output file {gone} does not exist; check the path of 'Disposisi'")
    link = office["arsip"] / "putus.txt"
    link.symlink_to(gone)
    refused(office, link, OutputMissing,
            f"output {link} is a link to {gone}, which does not exist; check the path of 'Disposisi'")


# -- the size limit --------------------------------------------------------------------------------------

def test_a_file_over_the_limit_is_refused_and_the_limit_is_the_admins(office: dict) -> None:
    file = office["arsip"] / "besar.bin"
    file.write_bytes(b"x" * (2 * 1024 * 1024))
    result = docs_lib.set_max_size(office["db"], "1MiB", by="ani")
    assert (result["max_size"], result["was"]) == (1024 * 1024, kept.DEFAULT_MAX_SIZE)
    refused(office, file, InputError,
            f"output {file} is 2 MiB, larger than the 1 MiB a document may be; record a smaller file for 'Disposisi',"
            " or ask an admin to raise the limit with 'sopengine documents max-size SIZE'")
    back = CliRunner().invoke(cli, ["documents", "max-size", "default", "--db", str(office["db"])])
    assert back.exit_code == 0, back.output
    assert back.stdout == "The largest document a step may record is now 100 MiB (it was 1 MiB).\n"
    record(office, file)


@pytest.mark.parametrize("size,said", [
    ("banyak", "Error: cannot read the size 'banyak'; write it like 100MiB, 250MB or 5000000 (bytes)\n"),
    ("2GiB", "Error: a document's size limit must be more than 0 and at most 900 MiB (one value SQLite keeps); 2GiB is not\n"),
    ("0", "Error: a document's size limit must be more than 0 and at most 900 MiB (one value SQLite keeps); 0 is not\n"),
])
def test_a_size_limit_that_cannot_be_is_a_one_line_error(office: dict, size: str, said: str) -> None:
    result = CliRunner().invoke(cli, ["documents", "max-size", size, "--db", str(office["db"])])
    assert result.exit_code == 1 and result.stderr == said


def test_sizes_are_read_as_people_write_them() -> None:
    assert docs_lib.parse_size("250MiB") == 250 * 1024 * 1024
    assert docs_lib.parse_size("250 MB") == 250_000_000
    assert docs_lib.parse_size("5000000") == 5_000_000
    assert docs_lib.parse_size("1.5kib") == 1536
    assert docs_lib.format_size(100 * 1024 * 1024) == "100 MiB"
    assert docs_lib.format_size(1536) == "1.5 KiB"


# -- the folders documents may come from -------------------------------------------------------------------

def test_once_a_folder_is_allowed_a_file_outside_it_is_refused_naming_the_folders(office: dict) -> None:
    inside = office["arsip"] / "sub" / "ok.txt"
    inside.parent.mkdir()
    inside.write_bytes(b"di dalam\n")
    outside = office["tmp"] / "luar.txt"
    outside.write_bytes(b"di luar\n")
    allowed = CliRunner().invoke(cli, ["documents", "allow", str(office["arsip"]), "--db", str(office["db"]), "--by", "ani"])
    assert allowed.exit_code == 0, allowed.output
    assert allowed.stdout == f"Documents may now come from {office['arsip']} (and the folders inside it).\n"
    refused(office, outside, InputError,
            f"output {outside} is outside the folders documents may come from ({office['arsip']}); save 'Disposisi' in"
            " one of them, or ask an admin to allow its folder with 'sopengine documents allow DIR'")
    refused(office, "/etc/shadow", InputError,
            f"output /etc/shadow is outside the folders documents may come from ({office['arsip']}); save 'Disposisi' in"
            " one of them, or ask an admin to allow its folder with 'sopengine documents allow DIR'")
    record(office, inside)


def test_a_link_inside_an_allowed_folder_to_a_file_outside_is_refused(office: dict) -> None:
    docs_lib.allow_folder(office["db"], office["arsip"], by="ani")
    link = office["arsip"] / "shadow.txt"
    link.symlink_to("/etc/shadow")
    refused(office, link, InputError,
            f"output {link} leads to /etc/shadow, outside the folders documents may come from ({office['arsip']});"
            " save 'Disposisi' in one of them, or ask an admin to allow its folder with 'sopengine documents allow DIR'")
    # a folder whose name merely begins like the allowed one is outside it too
    twin = office["tmp"] / "arsip-lain"
    twin.mkdir()
    (twin / "x.txt").write_bytes(b"x")
    with pytest.raises(InputError, match="outside the folders documents may come from"):
        record(office, twin / "x.txt")


def test_an_allowed_folder_reached_through_a_link_counts_by_its_real_path(office: dict) -> None:
    via = office["tmp"] / "jalan-pintas"
    via.symlink_to(office["arsip"])
    docs_lib.allow_folder(office["db"], via, by="ani")
    assert [f["path"] for f in docs_lib.rules(office["db"])["folders"]] == [os.path.realpath(office["arsip"])]
    (office["arsip"] / "d.txt").write_bytes(b"d\n")
    record(office, via / "d.txt")


def test_folders_are_listed_disallowed_and_each_change_is_an_office_event(office: dict) -> None:
    other = office["tmp"] / "kedua"
    other.mkdir()
    runner = CliRunner()
    for args in (["allow", str(office["arsip"])], ["allow", str(other)], ["max-size", "50MiB"], ["disallow", str(other)]):
        result = runner.invoke(cli, ["documents", *args, "--db", str(office["db"]), "--by", "ani", "--now", NOW])
        assert result.exit_code == 0, result.output
    listed = runner.invoke(cli, ["documents", "folders", "--db", str(office["db"])])
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[:2] == [
        "Documents may come only from these folders (and the folders inside them):",
        f"  {office['arsip']}  (ani, 2026-07-01 09:00 WIB)",
    ]
    assert listed.stdout.splitlines()[2].startswith("Largest document: 50 MiB (set by ani, ")
    as_json = json.loads(runner.invoke(cli, ["documents", "folders", "--json", "--db", str(office["db"])]).stdout)
    assert [f["path"] for f in as_json["folders"]] == [str(office["arsip"])] and as_json["max_size"] == 50 * 1024 * 1024
    con = sqlite3.connect(office["db"])
    rows = con.execute("SELECT kind, person, payload FROM office_events ORDER BY seq").fetchall()
    cli_typed = {"via": "cli", "auth": "as-typed"}  # no people register: the name as typed
    assert [(k, p, json.loads(x)) for k, p, x in rows] == [
        ("document_folder_allowed", "ani", {"folder": str(office["arsip"]), **cli_typed}),
        ("document_folder_allowed", "ani", {"folder": str(other), **cli_typed}),
        ("document_max_size_set", "ani", {"default": False, "max_size": 50 * 1024 * 1024, "was": kept.DEFAULT_MAX_SIZE,
                                          **cli_typed}),
        ("document_folder_disallowed", "ani", {"folder": str(other), **cli_typed}),
    ]
    assert audit.verify(office["db"])["ok"]
    last = runner.invoke(cli, ["documents", "disallow", str(office["arsip"]), "--db", str(office["db"])])
    assert last.stderr == "No folder is allowed now: documents may come from any folder.\n"


@pytest.mark.parametrize("args,said", [
    (["allow", "/tidak/ada"], "Error: /tidak/ada is not a folder; give an existing folder that documents are saved in\n"),
    (["disallow", "/srv"], "Error: /srv is not an allowed folder; the allowed folders are: none (documents may come from any"
                           " folder)\n"),
])
def test_a_folder_that_cannot_be_allowed_or_disallowed_is_a_one_line_error(office: dict, args: list, said: str) -> None:
    before = sqlite3.connect(office["db"]).execute("SELECT COUNT(*) FROM office_events").fetchone()
    result = CliRunner().invoke(cli, ["documents", *args, "--db", str(office["db"])])
    assert result.exit_code == 1 and result.stderr == said
    assert sqlite3.connect(office["db"]).execute("SELECT COUNT(*) FROM office_events").fetchone() == before


def test_the_rules_in_a_real_process(office: dict) -> None:
    proc = sop("--db", str(office["db"]), "documents", "allow", str(office["arsip"]), "--by", "ani", cwd=office["tmp"])
    assert proc.returncode == 0, proc.stderr
    outside = office["tmp"] / "luar.txt"
    outside.write_bytes(b"luar\n")
    proc = sop("--db", str(office["db"]), "complete", office["run"], "--step", "kumpulkan-data", "--by", "ani",
               "--output", f"Disposisi={outside}", cwd=office["tmp"])
    assert proc.returncode == 1 and proc.stderr.startswith(f"Error: output {outside} is outside the folders")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = sop("--db", str(office["db"]), "documents", "folders", "--json", cwd=office["tmp"])
    assert json.loads(proc.stdout)["folders"][0]["path"] == str(office["arsip"])


# -- what the checks make of kept bytes ------------------------------------------------------------------

def test_bytes_kept_for_a_step_refused_afterwards_are_counted_not_faulted(office: dict) -> None:
    with Store(office["db"]) as store, store.transaction() as conn:
        spool = tempfile.TemporaryFile()
        spool.write(b"yatim\n")
        spool.seek(0)
        kept.put(conn, hashlib.sha256(b"yatim\n").hexdigest(), 6, spool, "2026-07-01T02:00:00Z")
    result = audit.verify(office["db"], documents=True)
    assert result["ok"] and result["documents"]["unreferenced"] == 1
    shown = CliRunner().invoke(cli, ["audit", "verify", "--documents", "--db", str(office["db"])])
    assert "1 kept document(s) recorded by no step (a step refused after its file was stored); harmless." in shown.stdout


def test_a_release_0_1_database_checks_its_documents_at_their_paths_and_says_so(tmp_path: Path) -> None:
    import shutil

    release = Path(__file__).resolve().parent / "data" / "release-0.1"
    folder = tmp_path / "release-0.1"
    shutil.copytree(release, folder, ignore=shutil.ignore_patterns("*-wal", "*-shm", "*-journal"))
    result = audit.verify(folder / "sopengine.db", documents=True)
    found = result["documents"]
    assert found["kept"] == 0 and len(found["not_kept"]) == found["checked"] == 15
    assert all(d["source"] == "file" for d in found["not_kept"])
    shown = CliRunner().invoke(cli, ["audit", "verify", "--documents", "--db", str(folder / "sopengine.db")])
    assert ("15 document(s) not kept in the database (recorded before the document store): checked at their recorded"
            " path instead.") in shown.stdout


# -- with a people register, only an admin changes the rules ------------------------------------------------

def _python_for(user: str) -> list[str] | None:
    """A command that runs sopengine's Python as *user*: this interpreter, or (when it lives where
    the user may not look, as under /root) the system's of the same version with this one's packages."""
    import site
    import sysconfig

    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join([root, *site.getsitepackages(), sysconfig.get_paths()["purelib"]])
    for python, extra in ((sys.executable, []), ("/usr/bin/python3", [f"PYTHONPATH={path}"])):
        command = ["runuser", "-u", user, "--", "env", *extra, python]
        probe = subprocess.run([*command, "-c", f"import sys, sopengine; assert sys.version_info[:2] == {tuple(sys.version_info[:2])}"],
                               cwd="/", capture_output=True, timeout=60)
        if probe.returncode == 0:
            return command
    return None


@pytest.fixture(scope="module")
def second_user() -> object:
    """A second OS user, made for this test module and removed after it, with the command to run Python as them."""
    import secrets
    import shutil

    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs root with useradd and runuser to run a process as a second OS user")
    name = f"sopdoc{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True, capture_output=True)
    try:
        python = _python_for(name)
        if python is None:
            pytest.skip(f"no Python {sys.version_info[0]}.{sys.version_info[1]} that OS user {name} may run sopengine with")
        yield name, python
    finally:
        subprocess.run(["userdel", "-r", name], capture_output=True)


def test_with_a_register_only_an_admin_changes_the_rules(second_user: tuple[str, list[str]]) -> None:
    import pwd
    import shutil

    from sopengine import people

    me = pwd.getpwuid(os.getuid()).pw_name
    user, python = second_user
    folder = Path(tempfile.mkdtemp(prefix="sopengine-documents-", dir="/tmp"))
    try:
        folder.chmod(0o777)
        arsip = folder / "arsip"
        arsip.mkdir()
        db = folder / "office.db"
        people.add_person(db, "Kepala Kantor", logins=[me], access="admin", now=NOW)
        people.add_person(db, "Budi Santoso", logins=[user], access="staff", now=NOW)
        for f in folder.glob("office.db*"):
            f.chmod(0o666)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SOPENGINE_LANG": "en", "HOME": str(folder)}
        as_staff = subprocess.run(
            [*python, "-m", "sopengine", "documents", "allow", str(arsip), "--db", str(db)], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
        assert as_staff.returncode == 1, as_staff.stdout + as_staff.stderr
        assert as_staff.stderr == ("Error: Budi Santoso has staff access; only an admin may change the folders documents"
                                   " come from or their size limit\n")
        assert docs_lib.rules(db)["folders"] == []
        # the admin, whose OS login runs this process; --by naming another is no way round it
        from sopengine.authority import NotAuthorised

        with pytest.raises(NotAuthorised, match="this change is recorded under your own name, not on behalf of Budi Santoso"):
            docs_lib.allow_folder(db, arsip, by="Budi Santoso")
        result = docs_lib.allow_folder(db, arsip, now=NOW)
        assert result["by"] == "Kepala Kantor"
        last = sqlite3.connect(db).execute("SELECT kind, person, os_user FROM office_events ORDER BY seq DESC LIMIT 1").fetchone()
        assert last == ("document_folder_allowed", "Kepala Kantor", me)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_rules_edited_behind_the_engines_back_are_found_by_verify(office: dict) -> None:
    docs_lib.allow_folder(office["db"], office["arsip"], by="ani")
    docs_lib.set_max_size(office["db"], "10MiB", by="ani")
    assert audit.verify(office["db"], documents=True)["ok"]
    con = sqlite3.connect(office["db"])
    con.execute("INSERT INTO document_folders (path, added_at, added_by, os_user) VALUES ('/etc', '2026-07-01T02:00:00Z', 'ani', 'root')")
    con.execute("UPDATE settings SET value = '943718400' WHERE key = 'documents.max_size'")
    con.commit()
    con.close()
    result = audit.verify(office["db"], documents=True)
    assert not result["ok"]
    assert [p["message"] for p in result["problems"] if p["kind"] == "document_rules"] == [
        "folder /etc is allowed in the document_folders table, but no office event allowed it (the table was edited)",
        "the size limit for documents is 943718400 in the settings table, but the office events set 10485760 (the table was"
        " edited)",
    ]
