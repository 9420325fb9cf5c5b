"""Who acted: the OS login from the real user id, cleaned names, and authority once a people
register exists (issue 11, item 1).

Real databases in temporary folders; the CLI through click's CliRunner and, for the flows an
auditor relies on, as real processes. The register's refusals that hinge on a *different* OS
login run a process as a second OS user made with ``useradd`` (the tests run as root), with
``runuser -u``; it is removed afterwards with ``userdel -r``.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api, authority, identity, people
from sopengine.cli import cli
from sopengine.errors import InputError, NotAssigned

NOW = "2026-10-01T09:00"
LATER = "2026-10-01T10:00"
ME = pwd.getpwuid(os.getuid()).pw_name  # the login of this process's real user id
# another OS account of this machine: an admin the register may be left with (it must exist here)
OTHER = next(p.pw_name for p in pwd.getpwall() if p.pw_uid != os.getuid())


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def sopengine(*args: str, cwd: Path, user: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m sopengine ARGS`` in a fresh process (as *user* when given), in English."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SOPENGINE_LANG": "en", "HOME": str(cwd)}
    if os.environ.get("PYTHONPATH"):
        base["PYTHONPATH"] = os.environ["PYTHONPATH"]
    command = [sys.executable, "-m", "sopengine", *args]
    if user is not None:
        python, path = _PYTHON_FOR[user]
        # runuser sets USER and LOGNAME to the user's: what the test asks for is set after it
        extra = {**({"PYTHONPATH": path} if path else {}), **(env or {})}
        command = ["runuser", "-u", user, "--", "env", *(f"{k}={v}" for k, v in extra.items()), python, "-m", "sopengine", *args]
    else:
        base.update(env or {})
    return subprocess.run(command, cwd=cwd, env=base, capture_output=True, text=True, timeout=120)


_PYTHON_FOR: dict[str, tuple[str, str | None]] = {}


def _python_for(user: str) -> tuple[str, str | None] | None:
    """A Python the *user* can run sopengine with: this one, or (when it lives where the user may
    not look, as under /root) the system's of the same version with this one's packages."""
    import site
    import sysconfig

    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join([root, *site.getsitepackages(), sysconfig.get_paths()["purelib"]])
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python, extra in ((sys.executable, None), (shutil.which(version) or "", path), ("/usr/bin/python3", path)):
        if not python:
            continue
        probe = ["runuser", "-u", user, "--", "env", *([f"PYTHONPATH={extra}"] if extra else []), python, "-c",
                 f"import sys, sopengine; assert sys.version_info[:2] == {tuple(sys.version_info[:2])}"]
        if subprocess.run(probe, cwd="/", capture_output=True, timeout=60).returncode == 0:
            return python, extra
    return None


def events(db: Path, run_id: str | None = None) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        sql = "SELECT * FROM events" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY seq"
        rows = [dict(r) for r in con.execute(sql, (run_id,) if run_id else ())]
    finally:
        con.close()
    for r in rows:
        r["payload"] = json.loads(r["payload"])
    return rows


def dump(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


# -- the OS login ---------------------------------------------------------------------------------

def test_the_os_login_comes_from_the_real_user_id_not_from_logname_or_user(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    started = sopengine("run", "pengumpulan-data", "--period", "2026-10", "--now", NOW, "--json", "--db", str(db),
                        cwd=tmp_path, env={"LOGNAME": "kepala.dinas", "USER": "kepala.dinas"})
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    done = sopengine("complete", run_id, "--step", "1", "--by", "Agus Supriyadi", "--now", LATER, "--db", str(db),
                     cwd=tmp_path, env={"LOGNAME": "kepala.dinas", "USER": "kepala.dinas", "USERNAME": "kepala.dinas"})
    assert done.returncode == 0, done.stderr
    recorded = events(db, run_id)
    assert [e["os_user"] for e in recorded] == [ME] * len(recorded)
    assert "kepala.dinas" not in {e["os_user"] for e in recorded}


def test_os_user_reads_the_password_database_once(monkeypatch: pytest.MonkeyPatch) -> None:
    identity.os_user.cache_clear()
    monkeypatch.setenv("LOGNAME", "kepala.dinas")
    monkeypatch.setenv("USER", "kepala.dinas")
    assert identity.os_user() == ME
    assert identity.os_user.cache_info().misses == 1
    identity.os_user()
    assert identity.os_user.cache_info().hits >= 1


# -- names as typed -----------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, recorded", [
    ("Agus Supriyadi", "Agus Supriyadi"),
    ("  Agus   Supriyadi ", "Agus Supriyadi"),
    ("Agus\u200b Supriyadi", "Agus Supriyadi"),      # zero-width space
    ("\ufeffAgus Supriyadi\u200d", "Agus Supriyadi"),  # BOM, zero-width joiner
    ("Agus Supri\u00adyadi", "Agus Supriyadi"),       # soft hyphen
    ("Ａｇｕｓ Supriyadi", "Agus Supriyadi"),          # full-width letters (NFKC)
    ("Agus\tSupriyadi", "Agus Supriyadi"),
    ("Agus\x1b[31m Supriyadi", "Agus[31m Supriyadi"),  # the escape character itself goes
])
def test_names_are_cleaned_of_what_does_not_show(typed: str, recorded: str) -> None:
    assert identity.clean_name(typed) == recorded
    assert identity.name_key(typed) == identity.name_key(recorded.upper())


@pytest.mark.parametrize("typed", ["sopengine\u200b", "SOPENGINE", "\u200bsopengine", "sop\u00adengine", "ｓｏｐｅｎｇｉｎｅ"])
def test_the_engines_name_in_disguise_is_refused_and_nothing_is_written(tmp_path: Path, typed: str) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin")["run_id"]
    before = dump(db)
    result = invoke("complete", run_id, "--step", "1", "--by", typed, "--now", LATER, "--db", str(db))
    assert result.exit_code == 1
    assert "the name 'sopengine' is kept for what the engine records by itself" in result.output
    assert "Traceback" not in result.output
    assert dump(db) == before


def test_the_zero_width_engine_name_is_refused_by_a_real_process(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin")["run_id"]
    before = dump(db)
    done = sopengine("complete", run_id, "--step", "1", "--by", "sopengine\u200b", "--now", LATER, "--db", str(db), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: the name 'sopengine' is kept")
    assert len(done.stderr.strip().splitlines()) == 1
    assert dump(db) == before


@pytest.mark.parametrize("typed, message", [
    ("", "--by is empty; give your name with --by NAME"),
    ("   ", "--by is empty; give your name with --by NAME"),
    ("\u200b\u200d", "holds only invisible characters; type the name itself"),
])
def test_an_empty_or_invisible_name_is_refused_not_replaced_by_the_login(tmp_path: Path, typed: str, message: str) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin")["run_id"]
    before = dump(db)
    result = invoke("complete", run_id, "--step", "1", "--by", typed, "--now", LATER, "--db", str(db))
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert dump(db) == before
    with pytest.raises(InputError):
        api.complete(db, run_id, step="1", by=typed, now=LATER)
    # a new run is not started under an empty name either
    assert invoke("run", "surat-keluar", "--by", typed, "--now", NOW, "--db", str(db)).exit_code == 1
    assert dump(db) == before


def test_sopengine_user_stays_the_default_name(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin")["run_id"]
    result = invoke("complete", run_id, "--step", "1", "--now", LATER, "--db", str(db), env={"SOPENGINE_USER": "Rina\u200b"})
    assert result.exit_code == 0, result.output
    assert events(db, run_id)[-1]["person"] == "Rina"


def test_a_cleaned_name_matches_its_assignment(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin",
                           assign=[("sekretaris-dinas", "Agus Supriyadi")])["run_id"]
    with pytest.raises(NotAssigned):
        api.complete(db, run_id, step="1", by="Agus Supriyad", now=LATER)
    api.complete(db, run_id, step="1", by="AGUS\u200b  SUPRIYADI", now=LATER)
    assert events(db, run_id)[-1]["person"] == "AGUS SUPRIYADI"


# -- without a register -----------------------------------------------------------------------------

def test_without_a_register_names_are_as_typed_and_status_can_say_so(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Siapa Saja")["run_id"]
    api.complete(db, run_id, step="1", by="Orang Lain", now=LATER)
    from sopengine.store import Store

    with Store(db) as store:
        assert authority.mode(store) == "single-user"
    assert "names are recorded as typed" in authority.mode_sentence("single-user")
    assert [e["person"] for e in events(db, run_id)][:2] == ["Siapa Saja", "Orang Lain"]


# -- with a register, as this process's login ---------------------------------------------------------

@pytest.fixture
def office(tmp_path: Path) -> Path:
    """A database whose register has this process's login as its admin, and two staff."""
    db = tmp_path / "office.db"
    people.add_person(db, "Kepala Kantor", logins=[ME], access="admin", now=NOW)
    people.add_person(db, "Budi Santoso", logins=["budi-no-such-login"], roles=["sekretaris-dinas"], now=NOW)
    people.add_person(db, "Siti Rahma", logins=["siti-no-such-login"], roles=["sekretaris-dinas", "kasubag-pep"], now=NOW)
    return db


def test_with_a_register_the_login_decides_who_acted(office: Path) -> None:
    from sopengine.store import Store

    with Store(office) as store:
        assert authority.mode(store) == "register"
    assert "people register" in authority.mode_sentence("register")
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW)["run_id"]
    result = invoke("complete", run_id, "--step", "1", "--now", LATER, "--db", str(office), "--json")
    assert result.exit_code == 0, result.output
    last = events(office, run_id)[-1]
    assert (last["person"], last["os_user"]) == ("Kepala Kantor", ME)
    assert "on_behalf_of" not in last["payload"]
    assert json.loads(result.stdout)["completed_by"] == "Kepala Kantor"


def test_an_admins_by_is_recorded_as_a_write_on_behalf(office: Path) -> None:
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW)["run_id"]
    done = sopengine("complete", run_id, "--step", "1", "--by", "budi santoso", "--now", LATER, "--db", str(office), cwd=office.parent)
    assert done.returncode == 0, done.stderr
    last = events(office, run_id)[-1]
    assert last["kind"] == "step_completed"
    assert (last["person"], last["os_user"], last["payload"]["on_behalf_of"]) == ("Kepala Kantor", ME, "Budi Santoso")
    con = sqlite3.connect(office)
    assert con.execute("SELECT closed_by, on_behalf_of FROM tasks WHERE run_id = ? AND step_id = 'kumpulkan-data'",
                       (run_id,)).fetchone() == ("Kepala Kantor", "Budi Santoso")
    con.close()


def test_an_admin_writing_on_behalf_of_someone_is_checked_as_that_person(office: Path) -> None:
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW)["run_id"]
    api.complete(office, run_id, step="1", now=LATER)
    before = dump(office)
    # rekap-laporan is kasubag-pep's: Budi does not hold it
    result = invoke("complete", run_id, "--step", "2", "--by", "Budi Santoso", "--now", LATER, "--db", str(office))
    assert result.exit_code == 1
    assert "Budi Santoso does not hold the role" in result.output and "kasubag-pep" in result.output
    for by, message in [("Nobody Known", "--by names Nobody Known, who is not in the people register"),
                        ("Siti Rahma", None)]:
        result = invoke("complete", run_id, "--step", "2", "--by", by, "--on-behalf", "Warga", "--now", LATER, "--db", str(office))
        assert result.exit_code == 1
        assert (message or "a step is recorded for one person") in result.output
    assert dump(office) == before


def test_an_assignment_needs_an_admin_under_their_own_name(office: Path) -> None:
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW)["run_id"]
    before = dump(office)
    for args, message in [
        (["--by", "Budi Santoso"], "this change is recorded under your own name, not on behalf of Budi Santoso"),
    ]:
        result = invoke("assign", run_id, "kepala-bidang", "Siti Rahma", *args, "--now", LATER, "--db", str(office))
        assert result.exit_code == 1 and message in result.output
    result = invoke("assign", run_id, "kepala-bidang", "Orang Luar", "--now", LATER, "--db", str(office))
    assert result.exit_code == 1 and "Orang Luar is not in the people register, so they could not act on the steps of kepala-bidang" in result.output
    result = invoke("assign", run_id, "kepala-bidang", "Siti Rahma", "--now", LATER, "--db", str(office))
    assert result.exit_code == 1 and "does not hold the role kepala-bidang" in result.output
    assert dump(office) == before
    result = invoke("assign", run_id, "kepala-bidang", "Siti Rahma", "--acting", "--now", LATER, "--db", str(office))
    assert result.exit_code == 0, result.output
    last = events(office, run_id)[-1]
    assert (last["kind"], last["person"], last["payload"]["acting"]) == ("assigned", "Kepala Kantor", True)
    assert last["payload"]["authorised_by"] == "Kepala Kantor"  # a Plt. names whose authority it stands on
    con = sqlite3.connect(office)
    assert con.execute("SELECT assigned_by FROM assignments WHERE run_id = ? AND role = 'kepala-bidang'", (run_id,)).fetchone() == (
        "Kepala Kantor",)
    con.close()


def test_auditors_and_disabled_people_may_not_write(office: Path) -> None:
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW)["run_id"]
    people.add_person(office, "Admin Dua", logins=[OTHER], access="admin", now=NOW)
    people.edit_person(office, "Kepala Kantor", access="auditor", now=NOW)
    before = dump(office)
    result = invoke("complete", run_id, "--step", "1", "--now", LATER, "--db", str(office))
    assert result.exit_code == 1
    assert "Kepala Kantor has auditor access, which reads only" in result.output
    assert invoke("run", "surat-keluar", "--now", NOW, "--db", str(office)).exit_code == 1
    assert dump(office) == before
    # reading stays open to them
    assert invoke("status", run_id, "--db", str(office)).exit_code == 0


def test_disabled_people_may_not_write(office: Path) -> None:
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW)["run_id"]
    people.add_person(office, "Admin Dua", logins=[OTHER], access="admin", now=NOW)
    people.disable_person(office, "Kepala Kantor", now=NOW)
    before = dump(office)
    result = invoke("complete", run_id, "--step", "1", "--now", LATER, "--db", str(office))
    assert result.exit_code == 1
    assert f"Kepala Kantor (OS login {ME}) is disabled in the people register" in result.output
    assert dump(office) == before


def test_staff_act_only_in_the_roles_they_hold(office: Path) -> None:
    people.add_person(office, "Admin Dua", logins=[OTHER], access="admin", now=NOW)
    people.edit_person(office, "Kepala Kantor", add_roles=["sekretaris-dinas"], access="staff", now=NOW)
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW)["run_id"]
    api.complete(office, run_id, step="1", now=LATER)  # sekretaris-dinas: held
    before = dump(office)
    result = invoke("complete", run_id, "--step", "2", "--now", LATER, "--db", str(office))
    assert result.exit_code == 1
    assert "Kepala Kantor does not hold the role" in result.output and "(kasubag-pep)" in result.output
    # naming someone else is an admin's right only
    result = invoke("complete", run_id, "--step", "2", "--by", "Siti Rahma", "--now", LATER, "--db", str(office))
    assert result.exit_code == 1
    assert f"this process runs as OS login {ME}, registered to Kepala Kantor; --by names Siti Rahma" in result.output
    # and so is assigning, themselves included
    result = invoke("assign", run_id, "kasubag-pep", "Kepala Kantor", "--acting", "--now", LATER, "--db", str(office))
    assert result.exit_code == 1
    assert "Kepala Kantor has staff access; assigning people to roles needs admin access" in result.output
    assert dump(office) == before


def test_an_acting_assignment_lets_staff_act_in_the_role_for_that_run(office: Path) -> None:
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW)["run_id"]
    api.complete(office, run_id, step="1", now=LATER, by="Budi Santoso")
    with pytest.raises(NotAssigned, match="Budi Santoso does not hold the role"):
        api.complete(office, run_id, step="2", now=LATER, by="Budi Santoso")
    api.assign(office, run_id, "kasubag-pep", "Budi Santoso", acting=True, now=LATER)
    # the assignee rule applies as before: Siti holds kasubag-pep, but Budi is its assignee now
    with pytest.raises(NotAssigned, match="Siti Rahma is not assigned to"):
        api.complete(office, run_id, step="2", now=LATER, by="Siti Rahma")
    api.complete(office, run_id, step="2", now=LATER, by="Budi Santoso")  # recorded on his behalf
    last = events(office, run_id)[-1]
    assert (last["person"], last["payload"]["on_behalf_of"]) == ("Kepala Kantor", "Budi Santoso")


# -- another OS login -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def second_user() -> Iterator[str]:
    """A second OS user, made for this test run and removed after it."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs root with useradd and runuser to run a process as a second OS user")
    name = f"sopid{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True, capture_output=True)
    try:
        found = _python_for(name)
        if found is None:
            pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} that OS user {name} may run sopengine with")
        _PYTHON_FOR[name] = found
        yield name
    finally:
        subprocess.run(["userdel", "-r", name], capture_output=True)


@pytest.fixture
def shared(second_user: str) -> Iterator[Path]:
    """A folder both users may write, holding an office whose register knows the second user as Budi."""
    folder = Path(tempfile.mkdtemp(prefix="sopengine-identity-", dir="/tmp"))
    folder.chmod(0o777)
    db = folder / "office.db"
    people.add_person(db, "Kepala Kantor", logins=[ME], access="admin", now=NOW)
    db.chmod(0o666)
    try:
        yield db
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_an_unknown_login_may_not_write(shared: Path, second_user: str) -> None:
    run_id = api.start_run("pengumpulan-data", db=shared, period="2026-10", now=NOW)["run_id"]
    before = dump(shared)
    done = sopengine("complete", run_id, "--step", "1", "--by", "Kepala Kantor", "--now", LATER, "--db", str(shared),
                     cwd=shared.parent, user=second_user)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith(f"Error: OS login {second_user} is not in the people register, so it may not record anything;"
                                  f" an admin adds it with 'sopengine people edit NAME --add-login {second_user}'")
    assert "Traceback" not in done.stderr
    assert dump(shared) == before


def test_a_registered_person_cannot_pose_as_another_from_their_own_login(shared: Path, second_user: str) -> None:
    people.add_person(shared, "Budi Santoso", logins=[second_user], roles=["sekretaris-dinas", "kasubag-pep"], now=NOW)
    people.add_person(shared, "Siti Rahma", logins=["siti-no-such-login"], roles=["sekretaris-dinas"], now=NOW)
    run_id = api.start_run("pengumpulan-data", db=shared, period="2026-10", now=NOW)["run_id"]
    before = dump(shared)
    for by in ("Siti Rahma", "Kepala Kantor"):
        done = sopengine("complete", run_id, "--step", "1", "--by", by, "--now", LATER, "--db", str(shared),
                         cwd=shared.parent, user=second_user)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.startswith(f"Error: this process runs as OS login {second_user}, registered to Budi Santoso;"
                                      f" --by names {by}, someone else")
    done = sopengine("complete", run_id, "--step", "1", "--by", "Siti Rahma", "--now", LATER, "--db", str(shared),
                     cwd=shared.parent, user=second_user, env={"LOGNAME": "siti-no-such-login", "USER": "siti-no-such-login"})
    assert done.returncode == 1
    assert dump(shared) == before
    # as themselves it works, and the history names them with their real login
    done = sopengine("complete", run_id, "--step", "1", "--now", LATER, "--db", str(shared), cwd=shared.parent, user=second_user)
    assert done.returncode == 0, done.stderr
    last = events(shared, run_id)[-1]
    assert (last["kind"], last["person"], last["os_user"]) == ("step_completed", "Budi Santoso", second_user)


def test_assigning_oneself_without_admin_access_is_refused(shared: Path, second_user: str) -> None:
    people.add_person(shared, "Budi Santoso", logins=[second_user], roles=["sekretaris-dinas"], now=NOW)
    people.add_person(shared, "Siti Rahma", logins=["siti-no-such-login"], roles=["sekretaris-dinas"], now=NOW)
    run_id = api.start_run("pengumpulan-data", db=shared, period="2026-10", now=NOW,
                           assign=[("sekretaris-dinas", "Siti Rahma")])["run_id"]
    before = dump(shared)
    for args in (["sekretaris-dinas", "Budi Santoso"], ["sekretaris-dinas", "Siti Rahma", "--remove"],
                 ["kasubag-pep", "Budi Santoso", "--acting"]):
        done = sopengine("assign", run_id, *args, "--now", LATER, "--db", str(shared), cwd=shared.parent, user=second_user)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.startswith("Error: Budi Santoso has staff access; assigning people to roles needs admin access")
    # so the step stays Siti's
    done = sopengine("complete", run_id, "--step", "1", "--now", LATER, "--db", str(shared), cwd=shared.parent, user=second_user)
    assert done.returncode == 1
    assert "Budi Santoso is not assigned to Sekretaris Dinas (sekretaris-dinas)" in done.stderr
    assert dump(shared) == before


def test_the_people_register_is_managed_by_admins_only(shared: Path, second_user: str) -> None:
    people.add_person(shared, "Budi Santoso", logins=[second_user], roles=["sekretaris-dinas"], now=NOW)
    before = dump(shared)
    for args in (["add", "Teman Budi", "--login", "teman"], ["edit", "Budi Santoso", "--access", "admin"],
                 ["disable", "Kepala Kantor"]):
        done = sopengine("people", *args, "--db", str(shared), cwd=shared.parent, user=second_user)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.startswith("Error: Budi Santoso has staff access; only an admin may change the people register")
    assert dump(shared) == before
    listed = sopengine("people", "list", "--json", "--db", str(shared), cwd=shared.parent, user=second_user)
    assert listed.returncode == 0, listed.stderr
    assert [p["name"] for p in json.loads(listed.stdout)] == ["Budi Santoso", "Kepala Kantor"]


def test_assignments_given_as_a_run_starts_follow_the_same_rules(office: Path) -> None:
    """``authority.check_start_assignments``: what ``run --assign`` is to be checked with."""
    from sopengine.store import Store

    with Store(office) as store:
        me, login = authority.identify(store, None)
        assert (me, login) == ("Kepala Kantor", ME)
        authority.check_start_assignments(store, me, [("sekretaris-dinas", "budi santoso")])
        with pytest.raises(InputError, match="Budi Santoso does not hold the role kasubag-pep"):
            authority.check_start_assignments(store, me, [("kasubag-pep", "Budi Santoso")])
        with pytest.raises(InputError, match="Orang Luar is not in the people register"):
            authority.check_start_assignments(store, me, [("kasubag-pep", "Orang Luar")])
    people.add_person(office, "Admin Dua", logins=[OTHER], access="admin", now=NOW)
    people.edit_person(office, "Kepala Kantor", add_roles=["sekretaris-dinas"], access="staff", now=NOW)
    with Store(office) as store:
        me, _login = authority.identify(store, None)
        authority.check_start_assignments(store, me, [])
        with pytest.raises(authority.NotAuthorised, match="Kepala Kantor has staff access; assigning people to roles needs admin"):
            authority.check_start_assignments(store, me, [("sekretaris-dinas", "Kepala Kantor")])
    # without a register anyone may
    db = office.parent / "single.db"
    api.start_run("surat-keluar", db=db, now=NOW, by="Rina")
    with Store(db) as store:
        me, _login = authority.identify(store, "Rina")
        authority.check_start_assignments(store, me, [("kasubag-umpar", "Siapa Saja")])


def test_staff_without_a_role_in_the_run_may_not_reopen_or_cancel_it(shared: Path, second_user: str) -> None:
    # Rudi is staff of another SOP's role only: the run's officials and admins may correct it, he may not
    people.add_person(shared, "Rudi Hartono", logins=[second_user], roles=["pejabat-tanpa-sop"], now=NOW)
    run_id = api.start_run("pengumpulan-data", db=shared, period="2026-10", now=NOW)["run_id"]
    api.complete(shared, run_id, step="1", now=LATER)
    before = dump(shared)
    for args, verb in ((["reopen", run_id, "1", "--reason", "salah"], "reopen"), (["cancel", run_id, "--reason", "iseng"], "cancel")):
        done = sopengine(*args, "--now", LATER, "--db", str(shared), cwd=shared.parent, user=second_user)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.startswith(f"Error: Rudi Hartono holds no role of run {run_id}, so may not {verb} it; ask an admin")
    assert dump(shared) == before
    # an official of the run may (Rudi is given a lane of the SOP)
    people.edit_person(shared, "Rudi Hartono", add_roles=["sekretaris-dinas"], now=NOW)
    done = sopengine("cancel", run_id, "--reason", "periode salah", "--now", LATER, "--db", str(shared),
                     cwd=shared.parent, user=second_user)
    assert done.returncode == 0, done.stderr


# -- review findings: on behalf, automatic decisions, the inbox, no pwd ------------------------------------

ENGINE_DEFS = Path(__file__).resolve().parent / "data" / "engine"


def test_staff_may_write_on_behalf_only_of_an_outside_party(shared: Path, second_user: str) -> None:
    people.add_person(shared, "Budi Santoso", logins=[second_user], roles=["sekretaris-dinas", "petugas-pelayanan"], now=NOW)
    run_id = api.start_run("pengumpulan-data", db=shared, period="2026-10", now=NOW)["run_id"]
    before = dump(shared)
    done = sopengine("complete", run_id, "--step", "1", "--on-behalf", "Kepala Kantor", "--now", LATER, "--db", str(shared),
                     cwd=shared.parent, user=second_user)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("Error: Budi Santoso: --on-behalf is for the steps of an outside party (an external role);"
                                  " step kumpulkan-data is an internal step, recorded under your own name")
    assert "Traceback" not in done.stderr
    assert dump(shared) == before
    # an outside party's step (the citizen's request) is recorded for them
    request = api.start_run("permohonan-informasi-publik", db=shared, now=NOW)["run_id"]
    done = sopengine("complete", request, "--step", "1", "--on-behalf", "Warga Pemohon", "--now", LATER, "--db", str(shared),
                     cwd=shared.parent, user=second_user)
    assert done.returncode == 0, done.stderr
    last = events(shared, request)[-1]
    assert (last["person"], last["os_user"], last["payload"]["on_behalf_of"]) == ("Budi Santoso", second_user, "Warga Pemohon")
    # an admin may still record an internal step on behalf of someone
    api.complete(shared, run_id, step="1", on_behalf="Budi Santoso", now=LATER)
    assert events(shared, run_id)[-1]["payload"]["on_behalf_of"] == "Budi Santoso"


def test_an_automatic_decision_that_stopped_is_taken_by_the_runs_people_only(shared: Path, second_user: str) -> None:
    people.add_person(shared, "Rudi Hartono", logins=[second_user], roles=["pejabat-tanpa-sop"], now=NOW)
    defs = str(ENGINE_DEFS)
    run_id = api.start_run("gate-without-otherwise", db=shared, definitions=defs, now=NOW)["run_id"]
    assert api.complete(shared, run_id, step="1", now=LATER)["missing_facts"] == {"cek-jenis": ["case.jenis"]}
    before = dump(shared)
    done = sopengine("decide", run_id, "Ya", "--step", "cek-jenis", "--now", LATER, "--db", str(shared),
                     cwd=shared.parent, user=second_user)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith(f"Error: Rudi Hartono holds no role of run {run_id}, so may not take its decision cek-jenis"
                                  " for the engine; ask an admin (Kepala Kantor)")
    assert dump(shared) == before
    # one of the run's officials (Rudi given its lane) may
    people.edit_person(shared, "Rudi Hartono", add_roles=["petugas"], now=NOW)
    done = sopengine("decide", run_id, "Ya", "--step", "cek-jenis", "--now", LATER, "--db", str(shared),
                     cwd=shared.parent, user=second_user)
    assert done.returncode == 0, done.stderr
    last = [e for e in events(shared, run_id) if e["kind"] == "decided"][-1]
    assert (last["person"], last["step_id"]) == ("Rudi Hartono", "cek-jenis")


def test_an_admin_takes_an_automatic_decision_that_stopped(office: Path) -> None:
    defs = str(ENGINE_DEFS)
    run_id = api.start_run("gate-without-otherwise", db=office, definitions=defs, now=NOW)["run_id"]
    api.complete(office, run_id, step="1", now=LATER)
    api.decide(office, run_id, "Tidak", step="cek-jenis", now=LATER)
    assert events(office, run_id)[-1]["person"] == "Kepala Kantor"


def test_the_inbox_is_the_registered_persons_by_default(office: Path) -> None:
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW,
                           assign=[("sekretaris-dinas", "Kepala Kantor")])["run_id"]
    result = invoke("inbox", "--json", "--now", LATER, "--db", str(office))
    assert result.exit_code == 0, result.output
    assert [(r["run_id"], r["step"]) for r in json.loads(result.stdout)] == [(run_id, "kumpulkan-data")]
    shown = sopengine("inbox", "--now", LATER, "--db", str(office), cwd=office.parent)
    assert shown.returncode == 0, shown.stderr
    assert "Waiting for Kepala Kantor" in shown.stdout and ME not in shown.stdout.replace("Kepala", "")
    # --person and --by still name someone else's inbox
    assert json.loads(invoke("inbox", "--json", "--by", "Budi Santoso", "--now", LATER, "--db", str(office)).stdout) == []


def test_the_register_is_refused_where_the_os_has_no_user_database(tmp_path: Path, office: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW)["run_id"]
    before = dump(office)
    monkeypatch.delattr(os, "getuid")  # as on Windows: the login would come from USERNAME
    identity.os_user.cache_clear()
    try:
        for args in (["complete", run_id, "--step", "1"], ["people", "add", "Orang Baru", "--login", "baru"]):
            result = invoke(*args, "--now", LATER, "--db", str(office))
            assert result.exit_code == 1
            assert result.output.startswith("Error: a people register needs the OS's user database (pwd) to know who runs a"
                                            " command, and this system has none")
        assert dump(office) == before
        db = tmp_path / "new.db"
        result = invoke("people", "add", "Kepala", "--login", "x", "--access", "admin", "--db", str(db))
        assert result.exit_code == 1 and "needs the OS's user database (pwd)" in result.output
        assert not db.exists()
        # without a register, single-user work goes on
        single = tmp_path / "single.db"
        assert api.start_run("surat-keluar", db=single, now=NOW, by="Rina")["run_id"]
    finally:
        monkeypatch.undo()
        identity.os_user.cache_clear()
