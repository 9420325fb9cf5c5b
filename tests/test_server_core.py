"""The office server's core: passwords, 'sopengine serve' as a real process, who events record.

The server is started as ``sopengine serve`` in a subprocess on a free loopback port and
used over HTTP, as an office would; the same database is then read by the command line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from click.testing import CliRunner

from sopengine import api, people
from sopengine.cli import cli
from sopengine.identity import os_user

from server_support import PASSWORD, clean_env, csrf, free_port, office, serving, sign_in, wait_until_up

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str, input: str | None = None):  # noqa: A002 - click's own name
    return CliRunner().invoke(cli, [*args, "--lang", "en"], input=input)


def office_events(db: Path) -> list[tuple[str, str, dict]]:
    con = sqlite3.connect(db)
    try:
        return [(k, p, json.loads(x)) for k, p, x in con.execute("SELECT kind, person, payload FROM office_events ORDER BY seq")]
    finally:
        con.close()


def count(db: Path, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


# -- passwords ---------------------------------------------------------------------------------------

def test_passwd_reads_stdin_stores_only_a_hash_and_records_the_change(tmp_path: Path) -> None:
    db = tmp_path / "kantor.db"
    people.add_person(db, "Admin Kantor", logins=[os_user()], access="admin")
    people.add_person(db, "Siti Rahma", access="staff")
    result = invoke("people", "passwd", "Siti Rahma", "--password-stdin", "--db", str(db), input="rahasia-siti-123\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Password set for Siti Rahma; they sign in to the office server with it.\n"
    con = sqlite3.connect(db)
    (stored,) = con.execute("SELECT password_hash FROM people WHERE name = 'Siti Rahma'").fetchone()
    con.close()
    assert stored.startswith("$argon2id$") and "rahasia-siti-123" not in stored
    kind, person, payload = office_events(db)[-1]
    assert (kind, person) == ("password_set", "Admin Kantor")
    assert payload == {"name": "Siti Rahma", "set": True, "via": "cli", "auth": "os-login"}
    assert "argon2" not in json.dumps(office_events(db))  # the chain never holds the hash
    assert api.verify(db)["ok"]


@pytest.mark.parametrize("given, message", [
    ("pendek\n", "the password has 6 characters; give at least 10"),
    ("   \n", "the password is empty; give a password of at least 10 characters"),
])
def test_passwd_refuses_a_weak_password_and_writes_nothing(tmp_path: Path, given: str, message: str) -> None:
    db = tmp_path / "kantor.db"
    people.add_person(db, "Admin Kantor", logins=[os_user()], access="admin")
    before = office_events(db)
    result = invoke("people", "passwd", "Admin Kantor", "--password-stdin", "--db", str(db), input=given)
    assert result.exit_code == 1 and result.stderr == f"Error: {message}\n"
    assert office_events(db) == before


def test_passwd_without_a_terminal_or_stdin_flag_says_how(tmp_path: Path) -> None:
    db = tmp_path / "kantor.db"
    people.add_person(db, "Admin Kantor", logins=[os_user()], access="admin")
    result = invoke("people", "passwd", "Admin Kantor", "--db", str(db), input="")
    assert result.exit_code == 1
    assert result.stderr == "Error: no terminal to ask the password at; pipe it in with --password-stdin\n"


def test_removing_the_only_way_in_of_the_last_admin_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "kantor.db"
    # an admin whose OS login is not on this machine can only sign in with a password
    people.add_person(db, "Admin Kantor", logins=[os_user()], access="admin")
    people.add_person(db, "Admin Jauh", logins=["login-di-mesin-lain"], access="admin")
    people.set_password(db, "Admin Jauh", PASSWORD)
    people.edit_person(db, "Admin Kantor", access="staff")  # allowed: Admin Jauh can still sign in
    assert people.get_person(db, "Admin Kantor")["access"] == "staff"


# -- serve refuses a database nobody could sign in to ------------------------------------------------

def test_serve_refuses_a_database_without_register_or_passwords(tmp_path: Path) -> None:
    db = tmp_path / "kantor.db"
    api.start_run("pengumpulan-data", db=db, period="2026-12", now="2026-12-01T09:00")
    result = invoke("serve", "--db", str(db), "--port", "1")
    assert result.exit_code == 1
    assert "people register" in result.stderr and "is empty, so nobody could sign in" in result.stderr
    people.add_person(db, "Admin Kantor", logins=[os_user()], access="admin")
    result = invoke("serve", "--db", str(db), "--port", "1")
    assert result.exit_code == 1
    assert "has a password, so nobody could sign in; set one with 'sopengine people passwd NAME'" in result.stderr


# -- the server as a real process ----------------------------------------------------------------------

@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    the = office(tmp_path)
    with serving(the.db, the.definitions, tmp_path) as url:
        yield url, the.db


def test_a_real_server_signs_people_in_and_records_who_acted(served: tuple[str, Path]) -> None:
    url, db = served
    token = httpx.post(url + "/api/token", json={"username": "Agus Supriyadi", "password": PASSWORD}, timeout=60).json()["token"]
    # the API answers each write with the signed-in person, whatever a body might claim
    started = httpx.post(url + "/api/runs", json={"definition": "pengumpulan-data", "period": "2026-12"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    done = httpx.post(url + f"/api/runs/{run_id}/complete", json={"step": "1", "note": "lewat server"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert done.status_code == 200, done.text
    again = httpx.post(url + f"/api/runs/{run_id}/complete", json={"step": "1"}, headers={"Authorization": f"Bearer {token}"},
                       timeout=60)
    assert again.status_code == 409 and again.json()["error"]["code"]
    # the command line reads the same database beside the server
    status = json.loads(invoke("status", run_id, "--json", "--db", str(db)).stdout)
    (first,) = [t for t in status["timeline"] if t["step"] == "kumpulkan-data"]
    assert first["closed_by"] == "Agus Supriyadi"
    con = sqlite3.connect(db)
    payloads = [json.loads(p) for (p,) in con.execute(
        "SELECT payload FROM events WHERE run_id = ? AND kind IN ('run_started', 'step_completed') ORDER BY seq", (run_id,))]
    con.close()
    assert [(p["via"], p["auth"]) for p in payloads] == [("api", "token"), ("api", "token")]
    assert api.verify(db)["ok"]
    kinds = [k for (k,) in sqlite3.connect(db).execute("SELECT kind FROM access_log ORDER BY id")]
    assert kinds == ["sign_in_attempt", "sign_in", "token_issued"]


def test_a_web_session_over_http_sets_safe_cookies(served: tuple[str, Path]) -> None:
    url, _db = served
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get("/login")
        response = client.post("/login", data={"csrftoken": client.cookies["csrftoken"], "username": "admin kantor",
                                               "password": PASSWORD, "next": "/"})
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # loopback: plain HTTP


# -- the office chain with changes made through the server -------------------------------------------------

def test_register_changes_through_the_server_verify_and_forgeries_do_not(tmp_path: Path) -> None:
    from sopengine import channel

    the = office(tmp_path, keys=("admin", "sekretaris"))
    admin_id = people.get_person(the.db, "Admin Kantor")
    con = sqlite3.connect(the.db)
    (pid,) = con.execute("SELECT id FROM people WHERE name = 'Admin Kantor'").fetchone()
    con.close()
    with channel.signed_in(pid, channel.WEB, "password-session"):
        people.add_person(the.db, "Rina Wati", roles=["staf-evaluasi"], access="staff", definitions=the.definitions)
    kind, person, payload = office_events(the.db)[-1]
    assert (kind, person, payload["via"], payload["auth"]) == ("person_added", admin_id["name"], "web", "password-session")
    assert api.verify(the.db)["ok"], api.verify(the.db)["problems"]
    # the same change claimed through the server by an admin who had no password then is a forgery
    people.add_person(the.db, "Admin Kedua", logins=["admin-kedua"], access="admin")
    con = sqlite3.connect(the.db)
    (pid2,) = con.execute("SELECT id FROM people WHERE name = 'Admin Kedua'").fetchone()
    con.close()
    with channel.signed_in(pid2, channel.WEB, "password-session"):
        people.add_person(the.db, "Joko", access="staff")
    problems = api.verify(the.db)["problems"]
    assert any("through the office server, but Admin Kedua had no password" in p["message"] for p in problems)


def test_a_signed_in_staff_member_cannot_write_under_another_name(tmp_path: Path) -> None:
    from sopengine import authority, channel

    the = office(tmp_path, keys=("admin", "sekretaris"))
    run_id = api.start_run("pengumpulan-data", db=the.db, definitions=str(the.definitions), period="2026-12",
                           now="2026-12-01T09:00")["run_id"]
    con = sqlite3.connect(the.db)
    (pid,) = con.execute("SELECT id FROM people WHERE name = 'Agus Supriyadi'").fetchone()
    con.close()
    before = count(the.db, "events")
    with channel.signed_in(pid, channel.WEB, "password-session"), pytest.raises(authority.NotAuthorised) as refused:
        api.complete(the.db, run_id, step="1", by="Admin Kantor", now="2026-12-01T09:05")
    assert "recorded under the signed-in person only" in str(refused.value)
    assert count(the.db, "events") == before


def test_sign_in_page_is_indonesian_by_default(tmp_path: Path) -> None:
    the = office(tmp_path, keys=("admin",))
    client = the.anonymous(lang="id")
    client.cookies.delete("sopengine_lang")
    page = client.get("/login")
    assert page.status_code == 200 and 'lang="id"' in page.text
    refused = client.post("/login", data={"csrftoken": csrf(client), "username": "admin kantor", "password": "salah-sekali-1"})
    assert refused.status_code == 401
    assert "wrong name or password" not in refused.text  # worded in Indonesian
    sign_in(client, "admin kantor")


# -- the README's third command ----------------------------------------------------------------------------

def test_the_readme_third_command_starts_a_server_people_can_sign_in_to(tmp_path: Path) -> None:
    """The README's line, as written, after its first command: only the program's path and the port differ."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = [b for b in re.findall(r"```sh\n(.*?)\n```", readme, re.S) if "sopengine serve" in b]
    program = f"{sys.executable} -m sopengine"
    port = free_port()
    command = line.replace(".venv/bin/sopengine", program) + f" --port {port}"
    password = re.search(r"printf '%s\\n' '([^']+)'", line).group(1)
    first = subprocess.run(f"{program} run pengumpulan-data", shell=True, cwd=tmp_path, env=clean_env(), capture_output=True,
                           text=True)
    assert first.returncode == 0, first.stderr
    proc = subprocess.Popen(["bash", "-c", command], cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
        token = httpx.post(url + "/api/token", json={"username": "Admin Kantor", "password": password}, timeout=60)
        assert token.status_code == 200, token.text
        runs = httpx.get(url + "/api/runs", headers={"Authorization": "Bearer " + token.json()["token"]}, timeout=60)
        assert runs.status_code == 200 and [r["definition"] for r in runs.json()] == ["pengumpulan-data"]
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=10)


def test_cookies_are_secure_over_https_and_plain_over_http(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    the = office(tmp_path, keys=("admin",))
    for base, secure in (("https://kantor.example", True), ("http://kantor.example", False)):
        client = TestClient(the.app, base_url=base)
        client.get("/login")
        response = client.post("/login", data={"csrftoken": client.cookies["csrftoken"], "username": "admin kantor",
                                               "password": PASSWORD, "next": "/"}, follow_redirects=False)
        assert response.status_code == 303
        cookies = response.headers.get_list("set-cookie")
        assert cookies and all(("; secure" in c.lower()) is secure for c in cookies), cookies


def test_a_persons_inbox_holds_their_register_roles_in_runs_that_assign_them_to_nobody(tmp_path: Path) -> None:
    the = office(tmp_path, keys=("admin", "sekretaris", "kabid"))
    run_id = api.start_run("pengumpulan-data", db=the.db, definitions=str(the.definitions), period="2026-12",
                           now="2026-12-01T09:00")["run_id"]
    other = api.start_run("pengumpulan-data", db=the.db, definitions=str(the.definitions), period="2026-11",
                          now="2026-12-01T09:00", assign=[("sekretaris-dinas", "Admin Kantor")])["run_id"]

    def inbox(name: str) -> list[str]:
        result = invoke("inbox", "--person", name, "--json", "--db", str(the.db), "--now", "2026-12-01T10:00")
        assert result.exit_code == 0, result.output
        return [row["run_id"] for row in json.loads(result.stdout)]

    # Agus holds sekretaris-dinas in the register: the run that assigns it to nobody is his to act on;
    # the other run assigned it to the admin, so only the admin's inbox has it
    assert inbox("Agus Supriyadi") == [run_id]
    assert inbox("Admin Kantor") == [other]
    assert inbox("Siti Rahma") == []  # kepala-bidang has nothing open yet
    api.assign(the.db, run_id, "sekretaris-dinas", "Admin Kantor", now="2026-12-01T09:30")
    assert inbox("Agus Supriyadi") == []
    assert sorted(inbox("Admin Kantor")) == sorted([run_id, other])


def test_an_api_call_without_a_session_is_unauthenticated_whatever_cookies_it_carries(tmp_path: Path) -> None:
    the = office(tmp_path, keys=("admin",))
    client = the.anonymous()  # carries the language cookie, no session
    before = count(the.db, "events")
    response = client.post("/api/runs", json={"definition": "pengumpulan-data", "period": "2026-12"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_signed_in"
    assert count(the.db, "events") == before
    # a signed-in browser session must still show the CSRF token to write through the API
    browser = the.client("admin")
    response = browser.post("/api/runs", json={"definition": "pengumpulan-data", "period": "2026-12"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf"
    assert count(the.db, "events") == before
    response = browser.post("/api/runs", json={"definition": "pengumpulan-data", "period": "2026-12"},
                            headers={"x-csrftoken": csrf(browser)})
    assert response.status_code == 201, response.text


def test_an_upload_over_the_limit_is_a_page_for_a_browser_and_json_for_the_api(tmp_path: Path) -> None:
    the = office(tmp_path, keys=("admin",), upload_limit=64 * 1024)
    client = the.client("admin")
    big = b"x" * (300 * 1024)
    page = client.post("/runs/x/complete", files={"output:Disposisi": ("d.pdf", big)}, data={"csrftoken": csrf(client)})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "64 KiB" not in page.text and "the upload is larger than" in page.text
    api_call = client.post("/api/runs/x/complete", content=big, headers={"content-type": "application/json"})
    assert api_call.status_code == 413 and api_call.json()["error"]["code"] == "too_large"


def test_people_change_their_own_password_proving_the_current_one(tmp_path: Path) -> None:
    the = office(tmp_path, keys=("admin", "auditor"))
    laptop, phone = the.client("auditor"), the.client("auditor")  # auditors too: it is their own account
    token = the.token("auditor")
    before = office_events(the.db)
    form = {"csrftoken": csrf(laptop), "current": "salah-sekali-1", "password": "sandi-baru-inspektur", "confirm": "sandi-baru-inspektur"}
    assert laptop.post("/account/password", data=form).status_code == 403
    assert laptop.post("/account/password", data={**form, "current": PASSWORD, "confirm": "lain"}).status_code == 400
    assert office_events(the.db) == before
    done = laptop.post("/account/password", data={**form, "current": PASSWORD}, follow_redirects=False)
    assert done.status_code == 303
    kind, person, payload = office_events(the.db)[-1]
    assert (kind, person, payload["name"], payload["via"]) == ("password_set", "Inspektur Hadi", "Inspektur Hadi", "web")
    assert laptop.get("/audit", follow_redirects=False).status_code == 200  # this session goes on
    assert phone.get("/audit", follow_redirects=False).headers["location"].startswith("/login")  # the other ended
    assert httpx_get(the, "/api/inbox", token).status_code == 401  # the token was revoked
    sign_in(the.anonymous(), "Inspektur Hadi", "sandi-baru-inspektur")
    assert api.verify(the.db)["ok"]


def httpx_get(the, path: str, token: str):
    from starlette.testclient import TestClient

    return TestClient(the.app).get(path, headers={"Authorization": f"Bearer {token}"})


def test_a_backup_carries_no_signing_secret_of_the_live_server(tmp_path: Path) -> None:
    the = office(tmp_path, keys=("admin",))
    the.client("admin")  # the app made its secrets
    con = sqlite3.connect(the.db)
    assert con.execute("SELECT count(*) FROM server_settings").fetchone()[0] == 2
    con.close()
    copy = tmp_path / "cadangan.db"
    result = invoke("backup", str(copy), "--db", str(the.db))
    assert result.exit_code == 0, result.output
    con = sqlite3.connect(copy)
    assert con.execute("SELECT count(*) FROM server_settings").fetchone()[0] == 0
    con.close()
    assert api.verify(copy)["ok"]


def test_disabling_ends_sessions_and_tokens_for_good(tmp_path: Path) -> None:
    the = office(tmp_path, keys=("admin", "kabid"))
    page, token = the.client("kabid"), the.token("kabid")
    assert page.get("/", follow_redirects=False).status_code == 200
    people.disable_person(the.db, "Siti Rahma")
    people.enable_person(the.db, "Siti Rahma")  # after the investigation, say
    assert page.get("/", follow_redirects=False).status_code == 303  # the old session does not come back
    assert httpx_get(the, "/api/inbox", token).status_code == 401  # nor the old token
    sign_in(the.anonymous(), "Siti Rahma")  # a new sign-in works


def test_a_signed_out_session_stays_out_after_a_rename(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    the = office(tmp_path, keys=("admin", "sekretaris"))
    client = the.client("sekretaris")
    copied = dict(client.cookies)
    client.post("/logout", data={"csrftoken": csrf(client)})
    people.edit_person(the.db, "Agus Supriyadi", rename="Agus S")
    thief = TestClient(the.app, cookies=copied)
    assert thief.get("/", follow_redirects=False).status_code == 303


def test_a_session_ends_at_its_hours_however_busy(tmp_path: Path) -> None:
    from sopengine.server import ServerConfig, create_app
    from starlette.testclient import TestClient

    the = office(tmp_path, keys=("admin",))
    short = create_app(ServerConfig(db=the.db, definitions=the.definitions, session_hours=0))
    client = TestClient(short)
    sign_in(client, "admin kantor")
    assert client.get("/", follow_redirects=False).status_code == 303  # zero hours: over at once


def test_nothing_is_loaded_from_elsewhere_and_the_api_is_described(tmp_path: Path) -> None:
    import re

    the = office(tmp_path, keys=("admin",))
    client = the.client("admin")
    assert client.get("/api/docs").status_code == 404  # FastAPI's page would load Swagger UI from a CDN
    assert client.get("/api/openapi.json").status_code == 200
    for path in ("/", "/runs", "/admin", "/audit", "/login", "/account/password"):
        text = client.get(path).text
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path


def test_a_chunked_body_over_the_limit_is_413_on_the_api(tmp_path: Path) -> None:
    the = office(tmp_path, keys=("admin",), upload_limit=64 * 1024)
    client = the.api("admin")
    before = count(the.db, "events")

    def chunks():
        yield b'{"definition": "pengumpulan-data", "case": {"x": "'
        for _ in range(40):
            yield b"y" * 8192
        yield b'"}}'

    response = client.post("/api/runs", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert count(the.db, "events") == before


def test_a_backup_file_holds_no_bytes_of_the_signing_secrets(tmp_path: Path) -> None:
    the = office(tmp_path, keys=("admin",))
    the.client("admin")
    con = sqlite3.connect(the.db)
    secrets_now = [v for (v,) in con.execute("SELECT value FROM server_settings")]
    con.close()
    copy = tmp_path / "cadangan.db"
    assert invoke("backup", str(copy), "--db", str(the.db)).exit_code == 0
    raw = copy.read_bytes()
    assert secrets_now and not any(secret.encode() in raw for secret in secrets_now)


def test_a_publish_whose_file_cannot_take_its_place_records_nothing(tmp_path: Path) -> None:
    from sopengine import publish
    from sopengine.errors import InputError

    the = office(tmp_path, keys=("admin",))
    text = (the.definitions / "surat-keluar.yaml").read_text(encoding="utf-8").replace("id: surat-keluar", "id: surat-keluar-2", 1)
    (the.definitions / "surat-keluar-2.yaml").mkdir()  # a folder where the file would go
    before = office_events(the.db)
    with pytest.raises(InputError, match="cannot write"):
        publish.publish_definition(the.db, the.definitions, "surat-keluar-2.yaml", text)
    assert office_events(the.db) == before
    assert [p.name for p in the.definitions.iterdir() if p.name.startswith(".")] == []  # no staged file left
