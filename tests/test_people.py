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
# another OS account of this machine: an admin the register may be left with (it must exist here)
OTHER = next(p.pw_name for p in pwd.getpwall() if p.pw_uid != os.getuid())
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
    assert json.loads(event["payload"]) == {"name": "Kepala Kantor", "access": "admin", "logins": [ME], "roles": [], "via": "cli", "auth": "os-login"}
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
        "renamed": {"from": "Siti Rahma", "to": "Siti Rahmawati"}, "via": "cli", "auth": "os-login",
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
    (["Kepala Kantor", "--access", "staff"], "would leave the people register without an enabled admin whose OS login exists on this machine"),
    (["Kepala Kantor", "--remove-login", ME], "would leave the people register without an enabled admin whose OS login exists on this machine"),
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
    people.add_person(office, "Admin Dua", logins=[OTHER], access="admin", now=NOW)
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


# -- review findings: the tables against the chain, lock-out, renames, since when ---------------------------

def verify(db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOPENGINE_LANG": "en"}
    return subprocess.run([sys.executable, "-m", "sopengine", "audit", "verify", "--db", str(db)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_verify_finds_the_register_tables_edited_behind_its_back(office: Path) -> None:
    people.add_person(office, "Siti Rahma", logins=["siti"], roles=["kepala-bidang"], now=NOW)
    people.edit_person(office, "Siti Rahma", add_roles=["kasubag-pep"], remove_logins=["siti"], add_logins=["siti.r"], now=NOW)
    people.add_person(office, "Budi", logins=["budi"], now=NOW)
    people.disable_person(office, "Budi", now=NOW)
    assert api.verify(office)["ok"], api.verify(office)["problems"]
    con = sqlite3.connect(office)
    with con:
        con.execute("UPDATE people SET access = 'admin' WHERE name = 'Siti Rahma'")
        con.execute("INSERT INTO person_roles (person_id, role) SELECT id, 'sekretaris-dinas' FROM people WHERE name = 'Siti Rahma'")
        con.execute("UPDATE people SET disabled = 0 WHERE name = 'Budi'")
        con.execute("INSERT INTO people (name, name_key, access, disabled, created_at, changed_at)"
                    " VALUES ('Penyusup', 'penyusup', 'admin', 0, '2026-10-01T02:00:00Z', '2026-10-01T02:00:00Z')")
        con.execute("INSERT INTO person_logins (login, person_id) SELECT 'penyusup', id FROM people WHERE name = 'Penyusup'")
        con.execute("INSERT INTO person_roles (person_id, role) VALUES (999, 'kepala-bidang')")
    con.close()
    found = verify(office)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "Traceback" not in found.stderr
    for text in (
        "Siti Rahma in the people register differs from what the office events record: access admin in the table, staff by"
        " the events; role(s) sekretaris-dinas in the table that no event gave; the tables were edited",
        "Budi in the people register differs from what the office events record: enabled in the table, disabled by the events",
        "Penyusup is in the people table, but no office event added them: the table was edited",
        "role kepala-bidang in the person_roles table belongs to no person of the people table (person id 999)",
    ):
        assert text in found.stdout, found.stdout
    problems = api.verify(office)["problems"]
    assert {p["kind"] for p in problems} == {"register"}


def test_verify_finds_a_login_moved_and_a_person_deleted(office: Path) -> None:
    people.add_person(office, "Siti Rahma", logins=["siti"], now=NOW)
    con = sqlite3.connect(office)
    with con:
        con.execute("UPDATE person_logins SET login = 'siti2' WHERE login = 'siti'")
    con.close()
    (problem,) = api.verify(office)["problems"]
    assert problem["message"] == ("Siti Rahma in the people register differs from what the office events record: OS login(s)"
                                  " siti2 in the table that no event gave; OS login(s) siti given by the events but missing"
                                  " from the table; the tables were edited")
    con = sqlite3.connect(office)
    with con:
        con.execute("DELETE FROM person_logins")
        con.execute("DELETE FROM people")
    con.close()
    messages = [p["message"] for p in api.verify(office)["problems"]]
    assert ("Kepala Kantor was added by the office events but is missing from the people table: the table was edited"
            in messages)


def test_verify_finds_an_office_event_made_by_someone_who_was_not_an_admin(office: Path) -> None:
    """A well-chained event (re-hashed, as one who edits the file can) that staff could not have written."""
    from sopengine.store import people as register

    people.add_person(office, "Siti Rahma", logins=["siti"], now=NOW)
    con = sqlite3.connect(office)
    with con:
        register.append_office_event(con, kind="person_changed", at="2026-10-01T03:00:00Z", recorded_at="2026-10-01T03:00:00Z",
                                     person="Siti Rahma", os_user="siti",
                                     payload={"name": "Siti Rahma", "access": {"from": "staff", "to": "admin"}})
        con.execute("UPDATE people SET access = 'admin' WHERE name = 'Siti Rahma'")
        register.append_office_event(con, kind="document_max_size_set", at="2026-10-01T03:00:00Z",
                                     recorded_at="2026-10-01T03:00:00Z", person="Kepala Kantor", os_user="siti",
                                     payload={"default": True, "max_size": 1, "was": 1})
    con.close()
    result = api.verify(office)
    messages = [str(p["message"]) for p in result["problems"]]
    assert messages[0] == ("office event 3 (person_changed) was recorded by Siti Rahma, who was not an enabled admin of the"
                           " people register then (staff access): the event was forged or the register edited")
    assert messages[1] == ("office event 4 (document_max_size_set) was recorded by Kepala Kantor under OS login siti, which"
                           " was not one of theirs then (" + ME + "): the event was forged")
    assert len(messages) == 2  # the tables agree with the (forged) events: it is the maker that gives it away


def test_verify_checks_the_first_person_and_leaves_databases_without_a_register_alone(tmp_path: Path) -> None:
    from sopengine.store import people as register

    db = tmp_path / "x.db"
    api.start_run("surat-keluar", db=db, now=NOW, by="Rina")
    before = api.verify(db)
    assert before["ok"] and before["office_events"] == 0 and "+" not in before["head"]
    old = tmp_path / "old.db"
    shutil.copy(RELEASE / "sopengine.db", old)
    assert api.verify(old)["ok"]
    # a forged first person: staff, added by someone else
    with Store(db) as store, store.transaction() as conn:
        register.append_office_event(conn, kind="person_added", at="2026-10-01T03:00:00Z", recorded_at="2026-10-01T03:00:00Z",
                                     person="Rina", os_user="rina", payload={"name": "Orang", "access": "staff",
                                                                             "logins": ["orang"], "roles": []})
        conn.execute("INSERT INTO people (name, name_key, access, disabled, created_at, changed_at)"
                     " VALUES ('Orang', 'orang', 'staff', 0, '2026-10-01T03:00:00Z', '2026-10-01T03:00:00Z')")
        conn.execute("INSERT INTO person_logins (login, person_id) SELECT 'orang', id FROM people")
    (problem,) = api.verify(db)["problems"]
    assert str(problem["message"]).startswith("office event 1 adds the register's first person, Orang, but not as an admin"
                                              " who adds themselves under their own OS login")


def test_the_register_is_never_left_without_an_admin_who_can_log_in_here(office: Path) -> None:
    # an admin whose login does not exist on this machine cannot manage anything here
    assert invoke("people", "add", "Ghost", "--login", "agsu-no-such-login", "--access", "admin", "--db", str(office)).exit_code == 0
    before = dump(office)
    for args in (["edit", "Kepala Kantor", "--access", "staff"], ["disable", "Kepala Kantor"],
                 ["edit", "Kepala Kantor", "--remove-login", ME, "--add-login", "kk-no-such-login"]):
        result = invoke("people", *args, "--db", str(office))
        assert result.exit_code == 1, result.output
        assert result.output == ("Error: this change would leave the people register without an enabled admin whose OS login"
                                 " exists on this machine, and nobody here could manage it any more; make someone with a"
                                 " working login an admin first\n")
    assert dump(office) == before
    # an admin with a login that exists here makes it possible
    assert invoke("people", "add", "Admin Dua", "--login", OTHER, "--access", "admin", "--db", str(office)).exit_code == 0
    result = invoke("people", "edit", "Kepala Kantor", "--access", "staff", "--db", str(office))
    assert result.exit_code == 0, result.output


def test_a_rename_carries_the_persons_assignments_in_active_runs(office: Path) -> None:
    run_id = api.start_run("pengumpulan-data", db=office, period="2026-10", now=NOW,
                           assign=[("sekretaris-dinas", "Kepala Kantor")])["run_id"]
    api.assign(office, run_id, "kasubag-pep", "kepala kantor", acting=True, now=NOW)
    done = api.start_run("surat-keluar", db=office, now=NOW, assign=[("kasubag-umpar", "Kepala Kantor")])["run_id"]
    api.cancel(office, done, reason="contoh", now=NOW)
    result = invoke("people", "edit", "Kepala Kantor", "--rename", "Kepala Kantor Baru", "--now", NOW, "--db", str(office))
    assert result.exit_code == 0, result.output
    assigned = {(a["role"], a["person"], a["acting"]) for a in api.run_status(office, run_id, now=NOW)["assignments"]}
    assert assigned == {("sekretaris-dinas", "Kepala Kantor Baru", False), ("kasubag-pep", "Kepala Kantor Baru", True)}
    con = sqlite3.connect(office)
    rows = [(k, json.loads(p)) for k, p in con.execute("SELECT kind, payload FROM events WHERE run_id = ? ORDER BY seq", (run_id,))]
    kept = con.execute("SELECT person FROM assignments WHERE run_id = ?", (done,)).fetchall()
    con.close()
    assert [k for k, _p in rows[-4:]] == ["unassigned", "assigned", "unassigned", "assigned"]
    assert [p for _k, p in rows[-4:]] == [
        {"role": "kasubag-pep", "person": "kepala kantor", "renamed_to": "Kepala Kantor Baru", "via": "cli", "auth": "os-login"},
        {"role": "kasubag-pep", "person": "Kepala Kantor Baru", "acting": True, "renamed_from": "kepala kantor",
         "authorised_by": "Kepala Kantor", "via": "cli", "auth": "os-login"},
        {"role": "sekretaris-dinas", "person": "Kepala Kantor", "renamed_to": "Kepala Kantor Baru", "via": "cli", "auth": "os-login"},
        {"role": "sekretaris-dinas", "person": "Kepala Kantor Baru", "acting": False, "renamed_from": "Kepala Kantor", "via": "cli", "auth": "os-login"},
    ]
    assert kept == [("Kepala Kantor",)]  # a closed run keeps its history as it was
    # the renamed person still acts on the step they are assigned to, and the history still verifies
    assert api.complete(office, run_id, step="1", now=NOW)["run_id"] == run_id
    assert api.verify(office)["ok"], api.verify(office)["problems"]


def test_status_says_since_when_names_come_from_the_register(tmp_path: Path) -> None:
    from sopengine import authority

    db = tmp_path / "x.db"
    run_id = api.start_run("surat-keluar", db=db, now=NOW, by="Rina")["run_id"]
    people.add_person(db, "Kepala Kantor", logins=[ME], access="admin", now=NOW)
    (first,) = chain(db)
    with Store(db) as store:
        which = authority.mode(store)
    assert which == "register" and which.since == first["recorded_at"]
    from sopengine import clock

    expected = (f"Who acted is taken from the people register for everything recorded since {clock.local(first['recorded_at'])}:"
                " each change is recorded under the registered person whose OS login made it. What was recorded before then"
                " carries names as typed (--by or SOPENGINE_USER), which nothing checked.")
    assert authority.mode_sentence(which) == expected
    shown = invoke("status", run_id, "--db", str(db))
    assert shown.exit_code == 0
    assert expected in " ".join(shown.stdout.split())
    assert json.loads(invoke("status", run_id, "--json", "--db", str(db)).stdout)["identity"] == "register"
