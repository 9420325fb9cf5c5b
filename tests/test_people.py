"""The people register (``sopengine people``): who may add, change and disable people, what is
kept, and the office's own hash chain of every change.

Real temporary databases; the commands through click's CliRunner and, for the first steps
an office takes, as a real process. Refusals leave the database as it was. The refusals
that need another OS login are in ``test_identity.py``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api, people
from sopengine.authority import NotAuthorised
from sopengine.chain import GENESIS, canonical, event_hash
from sopengine.errors import DatabaseMissing, InputError
from sopengine.store import Store
from sopengine.store.people import OFFICE_CHAIN, office_events
from sopengine.cli import cli

NOW = "2026-10-01T09:00"
ME = pwd.getpwuid(os.getuid()).pw_name
RELEASE = Path(__file__).resolve().parent / "data" / "release-0.1"


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def dump(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def chain(db: Path) -> list[dict]:
    with Store(db, readonly=True) as store:
        return list(office_events(store.conn))


@pytest.fixture
def office(tmp_path: Path) -> Path:
    db = tmp_path / "office.db"
    result = invoke("people", "add", "Kepala Kantor", "--login", ME, "--access", "admin", "--db", str(db), "--now", NOW)
    assert result.exit_code == 0, result.output
    return db


# -- the first person ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--login", ME],                              # staff by default
    ["--login", "someone-else", "--access", "admin"],  # not this process's login
    ["--access", "admin"],                        # no login at all
])
def test_the_first_person_must_be_an_admin_with_this_login(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "office.db"
    result = invoke("people", "add", "Kepala Kantor", *args, "--db", str(db))
    assert result.exit_code == 1
    assert ("Error: the people register is empty: its first person must be an admin with this process's OS login,"
            f" or nobody could manage it — 'sopengine people add \"Kepala Kantor\" --login {ME} --access admin'") in result.output
    assert not db.exists()  # nothing made for a refused command
    # nor in a database that already holds runs
    api.start_run("surat-keluar", db=db, now=NOW, by="Rina")
    before = dump(db)
    assert invoke("people", "add", "Kepala Kantor", *args, "--db", str(db)).exit_code == 1
    assert dump(db) == before


def test_the_first_admin_starts_the_register_and_its_chain(office: Path) -> None:
    rows = json.loads(invoke("people", "list", "--json", "--db", str(office)).stdout)
    assert rows == [{"name": "Kepala Kantor", "access": "admin", "disabled": False, "logins": [ME], "roles": [],
                     "created_at": "2026-10-01T02:00:00Z", "changed_at": "2026-10-01T02:00:00Z"}]
    (event,) = chain(office)
    assert (event["kind"], event["person"], event["os_user"], event["step_id"]) == ("person_added", "Kepala Kantor", ME, None)
    assert json.loads(event["payload"]) == {"name": "Kepala Kantor", "access": "admin", "logins": [ME], "roles": []}
    assert event["at"] == "2026-10-01T02:00:00Z" and event["recorded_at"] != event["at"]


def test_a_real_process_sets_up_an_office(tmp_path: Path) -> None:
    env = {**os.environ, "SOPENGINE_LANG": "en", "LOGNAME": "kepala.dinas", "USER": "kepala.dinas"}
    env.pop("SOPENGINE_USER", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sopengine", *args, "--db", "office.db"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    refused = run("people", "add", "Kepala Dinas", "--login", "kepala.dinas", "--access", "admin")
    assert refused.returncode == 1 and refused.stderr.startswith("Error: the people register is empty")
    assert not (tmp_path / "office.db").exists()
    added = run("people", "add", "Kepala Dinas", "--login", ME, "--access", "admin")
    assert added.returncode == 0, added.stderr
    assert added.stdout == f"Added Kepala Dinas: admin access; OS logins: {ME}; roles: -.\n"
    added = run("people", "add", "Siti Rahma", "--login", "siti-no-such-login", "--role", "Kepala Bidang")
    assert added.returncode == 0, added.stderr
    assert "roles: kepala-bidang" in added.stdout  # the actor's name as the SOP writes it, kept as its id
    assert "Warning: there is no OS account siti-no-such-login on this machine" in added.stderr
    listed = run("people", "list")
    assert listed.returncode == 0
    assert "Kepala Dinas" in listed.stdout and "Siti Rahma" in listed.stdout and "kepala-bidang" in listed.stdout


# -- reading ----------------------------------------------------------------------------------------

def test_list_reads_without_making_a_database(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    result = invoke("people", "list", "--db", str(db))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no database at {db}; add the office's first person with 'sopengine people add NAME")
    assert not db.exists()
    with pytest.raises(DatabaseMissing):
        people.list_people(db)


def test_an_empty_register_says_names_are_as_typed(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    api.start_run("surat-keluar", db=db, now=NOW, by="Rina")
    assert json.loads(invoke("people", "list", "--json", "--db", str(db)).stdout) == []
    result = invoke("people", "list", "--db", str(db))
    assert result.exit_code == 0 and "No people register: names are recorded as typed" in result.output


def test_a_release_0_1_database_gains_a_register(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    shutil.copy(RELEASE / "sopengine.db", db)
    before = sqlite3.connect(db).execute("SELECT seq, hash FROM events ORDER BY seq").fetchall()
    assert people.list_people(db) == []  # read as it is, not migrated
    people.add_person(db, "Kepala Kantor", logins=[ME], access="admin", now=NOW)
    assert [p["name"] for p in people.list_people(db)] == ["Kepala Kantor"]
    assert sqlite3.connect(db).execute("SELECT seq, hash FROM events ORDER BY seq").fetchall() == before


# -- adding and changing ----------------------------------------------------------------------------------

def test_people_are_added_with_logins_roles_and_access(office: Path) -> None:
    result = invoke("people", "add", "Siti Rahma", "--login", "siti", "--login", "siti.rahma", "--role", "kepala-bidang",
                    "--role", "Sekretaris Dinas", "--role", "bupati", "--db", str(office), "--json", "--now", NOW)
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    assert (added["name"], added["access"], added["logins"], added["roles"]) == (
        "Siti Rahma", "staff", ["siti", "siti.rahma"], ["bupati", "kepala-bidang", "sekretaris-dinas"])
    assert any("role 'bupati' is in none of the definitions found" in w for w in added["warnings"])
    assert "Warning: role 'bupati' is in none of the definitions found; kept as given" in result.stderr
    assert invoke("people", "add", "Ani", "--login", "ani", "--access", "auditor", "--db", str(office)).exit_code == 0
    names = [(p["name"], p["access"]) for p in people.list_people(office)]
    assert names == [("Ani", "auditor"), ("Kepala Kantor", "admin"), ("Siti Rahma", "staff")]


@pytest.mark.parametrize("args, message", [
    (["SITI\u200b RAHMA", "--login", "s2"], "SITI RAHMA is already in the people register (as Siti Rahma)"),
    (["Orang Baru", "--login", "siti"], "OS login siti already belongs to Siti Rahma; a login is one person's"),
    (["sopengine\u200b", "--login", "x"], "the name 'sopengine' is kept for what the engine records by itself"),
    (["\u200b\u00ad", "--login", "x"], "give the person's name (it is empty or made only of invisible characters)"),
    (["Orang Baru", "--login", "two words"], "'two words' is not an OS login"),
    (["Orang Baru", "--login", "../etc"], "'../etc' is not an OS login"),
    (["Orang Baru", "--login", ""], "give an OS login with --login (it is empty)"),
    (["Orang Baru", "--role", " "], "give a role with --role"),
    (["Orang Baru", "--access", "root"], "Invalid value for '--access'"),
])
def test_bad_additions_are_refused_and_nothing_is_written(office: Path, args: list[str], message: str) -> None:
    people.add_person(office, "Siti Rahma", logins=["siti"], now=NOW)
    before = dump(office)
    result = invoke("people", "add", *args, "--db", str(office))
    assert result.exit_code in (1, 2), result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert dump(office) == before


def test_edit_changes_logins_roles_access_and_name_each_an_event(office: Path) -> None:
    people.add_person(office, "Siti Rahma", logins=["siti"], roles=["kepala-bidang"], now=NOW)
    result = invoke("people", "edit", "siti rahma", "--add-login", "siti2", "--remove-login", "siti", "--add-role", "kasubag-pep",
                    "--remove-role", "kepala-bidang", "--access", "admin", "--rename", "Siti Rahmawati", "--db", str(office),
                    "--now", "2026-10-02T09:00")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Changed Siti Rahmawati: admin access; OS logins: siti2; roles: kasubag-pep.\n"
    person = people.get_person(office, "siti2")  # by a login too
    assert (person["name"], person["changed_at"], person["created_at"]) == (
        "Siti Rahmawati", "2026-10-02T02:00:00Z", "2026-10-01T02:00:00Z")
    last = chain(office)[-1]
    assert (last["kind"], last["person"]) == ("person_changed", "Kepala Kantor")
    assert json.loads(last["payload"]) == {
        "name": "Siti Rahmawati", "added_logins": ["siti2"], "removed_logins": ["siti"], "added_roles": ["kasubag-pep"],
        "removed_roles": ["kepala-bidang"], "access": {"from": "staff", "to": "admin"},
        "renamed": {"from": "Siti Rahma", "to": "Siti Rahmawati"},
    }
    # what is so already changes nothing and writes nothing
    before = dump(office)
    result = invoke("people", "edit", "Siti Rahmawati", "--add-role", "kasubag-pep", "--db", str(office), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["changed"] is False
    assert dump(office) == before


@pytest.mark.parametrize("args, message", [
    (["Tidak Ada", "--access", "staff"], "no person 'Tidak Ada' in the people register (registered: Kepala Kantor, Siti Rahma)"),
    (["Siti Rahma"], "nothing to change; give --add-login"),
    (["Siti Rahma", "--remove-login", "budi"], "Siti Rahma has no OS login budi (theirs: siti)"),
    (["Siti Rahma", "--remove-role", "bupati"], "Siti Rahma does not hold the role bupati (theirs: none)"),
    (["Siti Rahma", "--add-login", ME], f"OS login {ME} already belongs to Kepala Kantor"),
    (["Siti Rahma", "--rename", "kepala kantor"], "kepala kantor is already in the people register; choose another name"),
    (["Kepala Kantor", "--access", "staff"], "would leave the people register without an enabled admin who has an OS login"),
    (["Kepala Kantor", "--remove-login", ME], "would leave the people register without an enabled admin who has an OS login"),
])
def test_bad_edits_are_refused_and_nothing_is_written(office: Path, args: list[str], message: str) -> None:
    people.add_person(office, "Siti Rahma", logins=["siti"], now=NOW)
    before = dump(office)
    result = invoke("people", "edit", *args, "--db", str(office))
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert dump(office) == before


def test_disable_and_enable(office: Path) -> None:
    people.add_person(office, "Siti Rahma", logins=["siti"], now=NOW)
    result = invoke("people", "disable", "Siti Rahma", "--db", str(office))
    assert result.exit_code == 0 and result.stdout == "Disabled Siti Rahma; they may no longer act.\n"
    assert people.get_person(office, "Siti Rahma")["disabled"] is True
    again = invoke("people", "disable", "Siti Rahma", "--db", str(office))
    assert again.exit_code == 0 and "Siti Rahma is disabled already." in again.output
    assert invoke("people", "enable", "Siti Rahma", "--db", str(office)).exit_code == 0
    assert people.get_person(office, "Siti Rahma")["disabled"] is False
    assert [e["kind"] for e in chain(office)] == ["person_added", "person_added", "person_disabled", "person_enabled"]
    # the last admin cannot be disabled: nobody could manage the register then
    before = dump(office)
    result = invoke("people", "disable", "Kepala Kantor", "--db", str(office))
    assert result.exit_code == 1 and "without an enabled admin" in result.output
    assert dump(office) == before


def test_only_an_admin_changes_the_register(office: Path) -> None:
    people.add_person(office, "Admin Dua", logins=["admin-dua"], access="admin", now=NOW)
    people.edit_person(office, "Kepala Kantor", access="staff", now=NOW)
    before = dump(office)
    with pytest.raises(NotAuthorised, match="Kepala Kantor has staff access; only an admin may change the people register"
                                            r" \(admins: Admin Dua\)"):
        people.add_person(office, "Orang Baru", logins=["baru"], now=NOW)
    with pytest.raises(NotAuthorised):
        people.edit_person(office, "Kepala Kantor", access="admin", now=NOW)
    assert dump(office) == before


def test_an_admins_by_naming_someone_else_is_refused_for_the_register(office: Path) -> None:
    people.add_person(office, "Siti Rahma", logins=["siti"], now=NOW)
    before = dump(office)
    result = invoke("people", "edit", "Siti Rahma", "--access", "auditor", "--by", "Siti Rahma", "--db", str(office))
    assert result.exit_code == 1
    assert "Kepala Kantor: this change is recorded under your own name, not on behalf of Siti Rahma" in result.output
    assert dump(office) == before
    # naming oneself, by name or login, is fine
    assert invoke("people", "edit", "Siti Rahma", "--access", "auditor", "--by", ME, "--db", str(office)).exit_code == 0


def test_a_register_change_needs_a_register(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    api.start_run("surat-keluar", db=db, now=NOW, by="Rina")
    with pytest.raises(InputError, match="the people register is empty; add its first person"):
        people.edit_person(db, "Rina", access="admin")
    with pytest.raises(DatabaseMissing):
        people.disable_person(tmp_path / "none.db", "Rina")
    assert not (tmp_path / "none.db").exists()


# -- the office's chain ----------------------------------------------------------------------------------

def test_every_change_is_an_event_in_one_hash_chain(office: Path) -> None:
    people.add_person(office, "Siti Rahma", logins=["siti"], now=NOW)
    people.edit_person(office, "Siti Rahma", add_roles=["kepala-bidang"], now=NOW)
    people.disable_person(office, "Siti Rahma", now=NOW)
    events = chain(office)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    prev = GENESIS
    for e in events:
        assert set(e) == {"seq", "run_id", "at", "recorded_at", "person", "os_user", "kind", "step_id", "payload", "prev_hash", "hash"}
        assert e["run_id"] == OFFICE_CHAIN
        assert e["prev_hash"] == prev
        assert e["hash"] == event_hash(e)
        assert e["payload"] == canonical(json.loads(e["payload"]))
        prev = e["hash"]
    # the hash is the run events' hash with run_id "@office": an auditor's own check agrees
    import hashlib

    first = events[0]
    record = {k: first[k] for k in ("run_id", "at", "recorded_at", "person", "os_user", "kind", "step_id", "prev_hash")}
    record["payload"] = json.loads(first["payload"])
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == first["hash"]


def test_the_office_chain_is_append_only(office: Path) -> None:
    con = sqlite3.connect(office)
    try:
        for sql in ("UPDATE office_events SET person = 'Orang Lain'", "DELETE FROM office_events"):
            with pytest.raises(sqlite3.DatabaseError, match="office_events are append-only"):
                con.execute(sql)
    finally:
        con.close()
    assert len(chain(office)) == 1


def test_a_database_without_a_register_has_no_office_events(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    api.start_run("surat-keluar", db=db, now=NOW, by="Rina")
    assert chain(db) == []
    shutil.copy(RELEASE / "sopengine.db", tmp_path / "old.db")
    assert chain(tmp_path / "old.db") == []
