"""The office server's guards, each attacked through the real app over a real database.

Every refusal is checked twice: its HTTP status, and that nothing was written — the rows of
``events``, ``office_events``, ``documents`` and ``document_blobs`` are counted before and
after. A route not there yet is skipped by name (see :func:`has_route`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeSerializer
from starlette.testclient import TestClient

from server_support import PASSWORD, PEOPLE, Office, csrf, office, sign_in
from sopengine import api, people
from sopengine.server import ServerConfig, create_app

TABLES = ("events", "office_events", "documents", "document_blobs")
STEP = "kumpulkan-data"
"""The first step of pengumpulan-data: the sekretaris-dinas lane's, with the output Disposisi."""


def has_route(method: str, path: str) -> bool:
    """Whether the office server has the route (its modules are written alongside these tests)."""
    from sopengine.server import admin, pages
    from sopengine.server import api as api_routes

    return any(path == getattr(r, "path", None) and method in getattr(r, "methods", ())
               for router in (api_routes.router, pages.router, admin.router) for r in router.routes)


needs_complete_page = pytest.mark.skipif(not has_route("POST", "/runs/{run_id}/complete"),
                                         reason="the run page's complete form is not there yet")
needs_decide_page = pytest.mark.skipif(not has_route("POST", "/runs/{run_id}/decide"),
                                       reason="the run page's decide form is not there yet")
needs_complete_api = pytest.mark.skipif(not has_route("POST", "/api/runs/{run_id}/complete"),
                                        reason="POST /api/runs/{id}/complete is not there yet")
needs_decide_api = pytest.mark.skipif(not has_route("POST", "/api/runs/{run_id}/decide"),
                                      reason="POST /api/runs/{id}/decide is not there yet")
needs_start_api = pytest.mark.skipif(not has_route("POST", "/api/runs"), reason="POST /api/runs is not there yet")
needs_disable_page = pytest.mark.skipif(not has_route("POST", "/admin/people/disable"),
                                        reason="the admin's disable form is not there yet")
needs_runs_api = pytest.mark.skipif(not has_route("GET", "/api/runs"), reason="GET /api/runs is not there yet")


# -- what was written ------------------------------------------------------------------------------

def counts(o: Office) -> dict[str, int]:
    """The rows of every table a write adds to."""
    with sqlite3.connect(o.db) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def access(o: Office, kind: str | None = None) -> list[dict[str, Any]]:
    """The access log, oldest first (of one kind)."""
    with sqlite3.connect(o.db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM access_log ORDER BY id").fetchall()
    return [dict(r) for r in rows if kind is None or r["kind"] == kind]


def start(o: Office) -> str:
    """A run of pengumpulan-data started through the library (by the admin, whose OS login runs the tests)."""
    return str(api.start_run("pengumpulan-data", db=o.db, definitions=str(o.definitions), period="2026-12")["run_id"])


def task_of(o: Office, run_id: str, step: str = STEP) -> int:
    return int(api.open_task(o.db, run_id, step)["task"])


def still_open(o: Office, run_id: str, step: str = STEP) -> bool:
    return any(s["step"] == step for s in api.open_steps(o.db, run_id))


def complete_form(client: TestClient, run_id: str, task: int, *, token: str | None = None,
                  files: dict[str, Any] | None = None) -> Any:
    """The run page's complete form as a browser sends it: multipart, the CSRF token first."""
    data = {"task": str(task), "step": STEP, "note": "catatan"}
    if token is not None:
        data = {"csrftoken": token, **data}
    return client.post(f"/runs/{run_id}/complete", data=data,
                       files=files or {"output:Disposisi": ("disposisi.pdf", b"%PDF-1.4 isi", "application/pdf")},
                       follow_redirects=False)


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, bytes, bytes]]) -> tuple[bytes, str]:
    """A multipart body written byte by byte (a file name may hold what no client library sends), and its content type."""
    boundary = b"sopengine-uji-batas"
    body = b""
    for name, value in fields:
        body += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
        body += value.encode() + b"\r\n"
    for name, filename, data in files:
        body += (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"; filename="'
                 + filename + b'"\r\nContent-Type: application/pdf\r\n\r\n' + data + b"\r\n")
    return body + b"--" + boundary + b"--\r\n", "multipart/form-data; boundary=" + boundary.decode()


def bare_client(o: Office, cookies: dict[str, str] | None = None, address: str = "testclient") -> TestClient:
    """A client with exactly these cookies (the language cookie added), from *address*."""
    client = TestClient(o.app, base_url="http://testserver", cookies={"sopengine_lang": "en", **(cookies or {})},
                        client=(address, 50000))
    o.clients.append(client)
    return client


def signed_out(response: Any) -> bool:
    """A page answered as to someone not signed in: the sign-in page, by a redirect."""
    return response.status_code == 303 and response.headers["location"].startswith("/login")


# -- 1. CSRF -----------------------------------------------------------------------------------------

def test_sign_out_needs_the_forms_csrf_token(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    client = o.client("sekretaris")
    other = o.anonymous()
    before = len(access(o))
    for data in ({}, {"csrftoken": ""}, {"csrftoken": csrf(other)}, {"csrftoken": csrf(client) + "x"}):
        refused = client.post("/logout", data=data, follow_redirects=False)
        assert refused.status_code == 403, (data, refused.text)
        assert refused.json()["error"]["code"] == "csrf"
    assert len(access(o)) == before  # no sign_out recorded
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_a_csrf_cookie_signed_with_another_secret_is_refused(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    client = o.client("sekretaris")
    forged = URLSafeSerializer("rahasia-lain").dumps("abcdef", "csrftoken")
    attacker = bare_client(o, {"sopengine_session": client.cookies["sopengine_session"], "csrftoken": forged})
    refused = attacker.post("/logout", data={"csrftoken": forged}, follow_redirects=False)
    assert refused.status_code == 403
    assert access(o, "sign_out") == []


@needs_complete_page
def test_the_complete_form_needs_its_own_csrf_token(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    run_id = start(o)
    client = o.client("sekretaris")
    someone_else = o.client("admin")
    before = counts(o)
    task = task_of(o, run_id)
    for token in (None, "", csrf(someone_else), URLSafeSerializer("rahasia-lain").dumps("abcdef", "csrftoken")):
        refused = complete_form(client, run_id, task, token=token)
        assert refused.status_code == 403, (token, refused.text)
    # a file before the token is refused too: the token must come first
    late = client.post(f"/runs/{run_id}/complete",
                       files={"output:Disposisi": ("d.pdf", b"isi", "application/pdf"), "csrftoken": (None, csrf(client))},
                       data={"task": str(task), "step": STEP}, follow_redirects=False)
    assert late.status_code == 403
    # a JSON body with the session cookie, and a wrong header token
    as_json = client.post(f"/runs/{run_id}/complete", json={"task": task, "step": STEP}, follow_redirects=False)
    assert as_json.status_code == 403
    header = client.post(f"/runs/{run_id}/complete", data={"task": str(task), "step": STEP},
                         headers={"x-csrftoken": csrf(someone_else)}, follow_redirects=False)
    assert header.status_code == 403
    assert counts(o) == before
    assert still_open(o, run_id)


@needs_disable_page
def test_an_admin_form_needs_its_csrf_token(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    admin = o.client("admin")
    other = o.anonymous()
    before = counts(o)
    for data in ({"name": o.name("sekretaris")}, {"csrftoken": csrf(other), "name": o.name("sekretaris")}):
        refused = admin.post("/admin/people/disable", data=data, follow_redirects=False)
        assert refused.status_code == 403, refused.text
    assert counts(o) == before
    assert not people.get_person(o.db, o.name("sekretaris"))["disabled"]


def test_the_sign_in_form_needs_its_csrf_token(tmp_path: Path) -> None:
    """Login CSRF: another site must not sign a browser in as the attacker."""
    o = office(tmp_path, keys=("admin", "sekretaris"))
    other = o.anonymous()
    for cookies, data in (
        (None, {}),  # no cookie at all: the sign-in form is protected even so
        (None, {"csrftoken": csrf(other)}),
        ({}, {"csrftoken": csrf(other)}),
        ({"csrftoken": csrf(other)}, {"csrftoken": csrf(o.anonymous())}),
    ):
        client = TestClient(o.app) if cookies is None else bare_client(o, cookies)
        o.clients.append(client)
        refused = client.post("/login", data={**data, "username": o.name("sekretaris"), "password": PASSWORD},
                              follow_redirects=False)
        assert refused.status_code == 403, (cookies, data, refused.text)
        assert "sopengine_session" not in client.cookies
    assert access(o) == []


@needs_complete_api
def test_a_browser_session_on_the_api_needs_the_csrf_header(tmp_path: Path) -> None:
    """Another site can make a signed-in browser post to the API (a form sends text/plain); only a token or the header passes."""
    o = office(tmp_path, keys=("admin", "sekretaris"))
    run_id = start(o)
    client = o.client("sekretaris")
    before = counts(o)
    body = json.dumps({"step": STEP, "note": "dari situs lain"})
    for kind in ("text/plain", "application/json", "application/x-www-form-urlencoded"):
        refused = client.post(f"/api/runs/{run_id}/complete", content=body, headers={"content-type": kind})
        assert refused.status_code == 403, (kind, refused.text)
    assert counts(o) == before
    assert still_open(o, run_id)


@needs_complete_page
def test_a_multipart_boundary_however_written_is_read_and_none_is_400(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    run_id = start(o)
    client = o.client("sekretaris")
    body, kind = multipart([("csrftoken", csrf(client)), ("task", str(task_of(o, run_id))), ("step", STEP)],
                           [("output:Disposisi", b"disposisi.pdf", b"%PDF-1.4 isi")])
    boundary = kind.split("boundary=")[1]
    before = counts(o)
    for written in ("multipart/form-data", "multipart/form-data; charset=utf-8"):
        refused = client.post(f"/runs/{run_id}/complete", content=body, headers={"content-type": written},
                              follow_redirects=False)
        assert refused.status_code == 400, (written, refused.text)
    assert counts(o) == before
    # without the space, or quoted: the form is read (and its token checked) as any other
    forged = client.post(f"/runs/{run_id}/complete", content=body.replace(csrf(client).encode(), b"x"),
                         headers={"content-type": f'multipart/form-data;boundary="{boundary}"'}, follow_redirects=False)
    assert forged.status_code == 403
    assert counts(o) == before
    done = client.post(f"/runs/{run_id}/complete", content=body,
                       headers={"content-type": f"multipart/form-data;boundary={boundary}"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert not still_open(o, run_id)


# -- 2. the run's roles ------------------------------------------------------------------------------

@needs_complete_page
def test_a_step_of_another_role_is_refused_on_the_page(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris", "kasubag"))
    run_id = start(o)
    client = o.client("kasubag")  # kasubag-pep; the step is sekretaris-dinas's
    before = counts(o)
    refused = complete_form(client, run_id, task_of(o, run_id), token=csrf(client))
    assert refused.status_code == 403, refused.text
    assert counts(o) == before
    assert still_open(o, run_id)


@needs_complete_api
def test_a_step_of_another_role_is_refused_on_the_api(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris", "kasubag"))
    run_id = start(o)
    client = o.api("kasubag")
    before = counts(o)
    refused = client.post(f"/api/runs/{run_id}/complete", json={"step": STEP, "note": "bukan saya"})
    assert refused.status_code == 403, refused.text
    assert counts(o) == before
    assert still_open(o, run_id)


# -- 3. auditors only read ---------------------------------------------------------------------------

@needs_complete_api
@needs_decide_api
@needs_start_api
def test_an_auditor_may_not_write_through_the_api(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris", "auditor"))
    run_id = start(o)
    client = o.api("auditor")
    before = counts(o)
    for path, body in ((f"/api/runs/{run_id}/complete", {"step": STEP, "note": "x"}),
                       (f"/api/runs/{run_id}/decide", {"step": STEP, "outcome": "Ya"}),
                       ("/api/runs", {"definition": "pengumpulan-data", "period": "2026-11"})):
        refused = client.post(path, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"]["code"] == "forbidden"
    assert counts(o) == before
    assert still_open(o, run_id)


@needs_complete_page
@needs_decide_page
def test_an_auditor_may_not_write_through_the_pages(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris", "auditor"))
    run_id = start(o)
    client = o.client("auditor")
    before = counts(o)
    task = task_of(o, run_id)
    refused = complete_form(client, run_id, task, token=csrf(client))
    assert refused.status_code == 403, refused.text
    decided = client.post(f"/runs/{run_id}/decide", data={"csrftoken": csrf(client), "task": str(task), "step": STEP,
                                                           "outcome": "Ya"}, follow_redirects=False)
    assert decided.status_code == 403, decided.text
    assert counts(o) == before
    assert still_open(o, run_id)


# -- 4. altered session cookies --------------------------------------------------------------------

def _session_payload(cookie: str) -> dict[str, Any]:
    data = cookie.split(".")[0]
    return dict(json.loads(base64.b64decode(data + "=" * (-len(data) % 4))))


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]


@needs_runs_api
def test_an_altered_session_cookie_is_signed_out(tmp_path: Path) -> None:
    o = office(tmp_path / "kantor", keys=("admin", "sekretaris"))
    run_id = start(o)
    real = o.client("sekretaris").cookies["sopengine_session"]
    payload = _session_payload(real)
    with sqlite3.connect(o.db) as conn:
        admin_id = conn.execute("SELECT id FROM people WHERE name = ?", (o.name("admin"),)).fetchone()[0]
    elsewhere = office(tmp_path / "kantor-lain", keys=("admin", "sekretaris"))
    with sqlite3.connect(o.db) as here, sqlite3.connect(elsewhere.db) as there:
        # the same person id and password hash there: only the signing secret tells the servers apart
        hashed = here.execute("SELECT password_hash FROM people WHERE id = ?", (payload["pid"],)).fetchone()[0]
        there.execute("UPDATE people SET password_hash = ? WHERE id = ?", (hashed, payload["pid"]))
    forged = {
        "a payload character changed": _flip(real, 2),
        "a signature character changed": _flip(real, len(real) - 3),
        "another secret": TimestampSigner("rahasia-lain").sign(
            base64.b64encode(json.dumps({**payload, "pid": admin_id}).encode())).decode(),
        "another database's server": elsewhere.client("sekretaris").cookies["sopengine_session"],
    }
    theirs = _session_payload(forged["another database's server"])
    assert (theirs["pid"], theirs["pw"]) == (payload["pid"], payload["pw"])
    before = counts(o)
    for how, cookie in forged.items():
        client = bare_client(o, {"sopengine_session": cookie})
        assert signed_out(client.get("/", follow_redirects=False)), how
        assert signed_out(client.get(f"/runs/{run_id}", follow_redirects=False)), how
        assert client.get("/api/runs").status_code == 401, how
        if has_route("POST", "/runs/{run_id}/complete"):
            sent = complete_form(client, run_id, task_of(o, run_id), token=csrf(client))
            assert signed_out(sent), (how, sent.status_code)
    assert counts(o) == before
    assert still_open(o, run_id)


# -- 5. upload names ---------------------------------------------------------------------------------

def _tree(root: Path) -> list[str]:
    """Every path under *root* but the database's own files (its journal comes and goes)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.name.startswith("kantor.db"))


@needs_complete_page
@pytest.mark.parametrize("name", [b"../../x", b"..\\x", b"/etc/passwd", b"laporan\x00.pdf"],
                         ids=["dotdot", "backslash", "absolute", "nul"])
def test_an_upload_name_with_folders_is_refused(tmp_path: Path, name: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    cwd = tmp_path / "server" / "cwd"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)  # a name taken as a path relative to the server would land inside tmp_path
    run_id = start(o)
    client = o.client("sekretaris")
    before, tree = counts(o), _tree(tmp_path)
    passwd = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() if Path("/etc/passwd").exists() else None
    body, kind = multipart([("csrftoken", csrf(client)), ("task", str(task_of(o, run_id))), ("step", STEP)],
                           [("output:Disposisi", name, b"%PDF-1.4 bukan dokumen")])
    refused = client.post(f"/runs/{run_id}/complete", content=body, headers={"content-type": kind}, follow_redirects=False)
    assert refused.status_code == 400, refused.text
    assert counts(o) == before
    assert _tree(tmp_path) == tree
    if passwd is not None:
        assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == passwd
    assert still_open(o, run_id)


@pytest.mark.skipif(not has_route("POST", "/admin/definitions"), reason="the admin's definition upload is not there yet")
def test_an_uploaded_definition_lands_in_the_definitions_folder_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    o = office(tmp_path, keys=("admin",))
    cwd = tmp_path / "server" / "cwd"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    admin = o.client("admin")
    text = (o.definitions / "surat-keluar.yaml").read_bytes().replace(b"id: surat-keluar", b"id: surat-masuk", 1)
    outside = [p for p in _tree(tmp_path) if not p.startswith("definitions")]
    shipped = {p.name for p in o.definitions.iterdir()}
    for name in (b"../../surat-masuk.yaml", b"..\\surat-masuk.yaml", b"/etc/surat-masuk.yaml", b"surat\x00masuk.yaml"):
        body, kind = multipart([("csrftoken", csrf(admin)), ("name", ""), ("action", "publish")],
                               [("upload", name, text)])
        sent = admin.post("/admin/definitions", content=body, headers={"content-type": kind}, follow_redirects=False)
        assert sent.status_code in (303, 400), (name, sent.status_code)  # its bare name published, or refused
        assert [p for p in _tree(tmp_path) if not p.startswith("definitions")] == outside, name
        assert not Path("/etc/surat-masuk.yaml").exists()
        assert {p.name for p in o.definitions.iterdir()} - shipped <= {"surat-masuk.yaml"}, name


# -- 6. the upload limit -----------------------------------------------------------------------------

@needs_complete_page
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_upload_over_the_limit_is_413(tmp_path: Path, chunked: bool) -> None:
    o = office(tmp_path, upload_limit=64 * 1024, keys=("admin", "sekretaris"))
    run_id = start(o)
    client = o.client("sekretaris")
    before = counts(o)
    body, kind = multipart([("csrftoken", csrf(client)), ("task", str(task_of(o, run_id))), ("step", STEP)],
                           [("output:Disposisi", b"besar.pdf", b"x" * (200 * 1024))])

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(body), 16 * 1024):
            yield body[i:i + 16 * 1024]

    refused = client.post(f"/runs/{run_id}/complete", content=pieces() if chunked else body,
                          headers={"content-type": kind}, follow_redirects=False)
    assert refused.status_code == 413, refused.text
    assert ("content-length" in refused.request.headers) is not chunked
    assert counts(o) == before
    assert still_open(o, run_id)


# -- 7. the sign-in throttle ---------------------------------------------------------------------------

@pytest.fixture
def slow_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The throttle's clock at a hundredth of real speed, for tests whose attempts must all fall in its
    one-second wait: a loaded machine's pauses between them (a password check each) stay well inside it.
    :func:`refusals` writes its times by the same clock."""
    import time

    from sopengine.server import auth

    start, began = datetime.now(timezone.utc), time.monotonic()
    monkeypatch.setattr(auth, "_now", lambda: start + timedelta(seconds=(time.monotonic() - began) / 100))


def _at(seconds_ago: float) -> str:
    from sopengine.server import auth

    return (auth._now() - timedelta(seconds=seconds_ago)).isoformat(timespec="microseconds")  # the throttle's clock


def refusals(o: Office, username: str, address: str, count: int, seconds_ago: float) -> None:
    """*count* refused sign-ins of *username* from *address*, the last *seconds_ago* (the log takes inserts only):
    each an attempt, then its refusal."""
    with sqlite3.connect(o.db) as conn:
        for i in range(count):
            for kind in ("sign_in_attempt", "sign_in_refused"):
                conn.execute("INSERT INTO access_log (at, kind, username, person, address, via) VALUES (?, ?, ?, ?, ?, ?)",
                             (_at(seconds_ago + count - 1 - i), kind, username, None, address, "web"))


def key_of(o: Office, key: str) -> str:
    """The register's key of PEOPLE[key]: what the throttle counts an account by."""
    with sqlite3.connect(o.db) as conn:
        return str(conn.execute("SELECT name_key FROM people WHERE name = ?", (o.name(key),)).fetchone()[0])


def attempt(client: TestClient, username: str, password: str) -> Any:
    return client.post("/login", data={"csrftoken": csrf(client), "username": username, "password": password, "next": "/"},
                       follow_redirects=False)


def test_five_wrong_passwords_then_even_the_right_one_waits(tmp_path: Path, slow_clock: None) -> None:
    o = office(tmp_path, keys=("admin", "kasubag"))
    client = o.anonymous()
    before = counts(o)
    for _ in range(5):
        assert attempt(client, o.name("kasubag"), "salah").status_code == 401
    throttled = attempt(client, o.name("kasubag"), PASSWORD)
    assert throttled.status_code == 429, throttled.text
    assert 1 <= int(throttled.headers["retry-after"]) <= 2
    assert "sopengine_session" not in client.cookies
    assert len(access(o, "sign_in_refused")) == 5
    assert len(access(o, "sign_in_throttled")) == 1
    assert access(o, "sign_in") == []
    token = o.anonymous().post("/api/token", json={"username": o.name("kasubag"), "password": PASSWORD})
    assert token.status_code == 429, token.text
    assert 1 <= int(token.headers["retry-after"]) <= 2
    assert token.json()["error"]["code"] == "throttled"
    assert len(access(o, "sign_in_throttled")) == 2
    assert counts(o) == before


def test_the_throttle_counts_the_account_whichever_name_or_login_is_typed(tmp_path: Path, slow_clock: None) -> None:
    from sopengine.identity import os_user

    o = office(tmp_path, keys=("admin",))
    name = o.name("admin")
    typed = [name, name.upper(), name.lower(), "  " + name.replace(" ", "   ") + " ", os_user()]
    for i, username in enumerate(typed):  # each from its own address: only the account links them
        assert attempt(bare_client(o, address=f"10.0.0.{i + 1}"), username, "salah").status_code == 401
    throttled = bare_client(o, address="10.0.0.99").post("/api/token", json={"username": os_user(), "password": PASSWORD})
    assert throttled.status_code == 429, throttled.text
    assert "retry-after" in throttled.headers
    assert {r["username"] for r in access(o, "sign_in_refused")} == {key_of(o, "admin")}


def test_the_throttle_counts_the_address_across_accounts(tmp_path: Path, slow_clock: None) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris", "kasubag"))
    client = bare_client(o, address="192.0.2.7")
    for username in (o.name("sekretaris"), o.name("kasubag"), "Tidak Ada", "Orang Lain", "Siapa Saja"):
        assert attempt(client, username, "salah").status_code == 401
    assert attempt(client, o.name("admin"), PASSWORD).status_code == 429
    assert bare_client(o, address="192.0.2.7").post(
        "/api/token", json={"username": "Belum Dicoba", "password": "x"}).status_code == 429
    assert len(access(o, "sign_in_throttled")) == 2
    # the same account from another address is not held up
    assert attempt(bare_client(o, address="192.0.2.8"), o.name("admin"), PASSWORD).status_code == 303


def test_the_wait_doubles_with_each_refusal_and_ends(tmp_path: Path, slow_clock: None) -> None:
    o = office(tmp_path, keys=("admin", "kasubag"))
    user = key_of(o, "kasubag")
    for n, address in ((6, "198.51.100.6"), (7, "198.51.100.7"), (8, "198.51.100.8"), (30, "198.51.100.30")):
        refusals(o, user + str(n), address, n, seconds_ago=0.1)  # an account of its own for each
        throttled = bare_client(o, address=address).post("/api/token", json={"username": user + str(n), "password": "x"})
        assert throttled.status_code == 429
        wait = min(2 ** (n - 5), 15 * 60)
        assert wait - 1 <= int(throttled.headers["retry-after"]) <= wait, n
    # five refusals two seconds ago: the one-second wait is over, the right password signs in
    refusals(o, user, "198.51.100.1", 5, seconds_ago=2)
    assert attempt(bare_client(o, address="198.51.100.1"), o.name("kasubag"), PASSWORD).status_code == 303
    # refusals older than the 15 minutes' window count no more
    refusals(o, key_of(o, "admin"), "198.51.100.2", 9, seconds_ago=16 * 60)
    assert attempt(bare_client(o, address="198.51.100.2"), o.name("admin"), PASSWORD).status_code == 303


def test_a_sign_in_clears_the_count(tmp_path: Path, slow_clock: None) -> None:
    o = office(tmp_path, keys=("admin", "kasubag"))
    refusals(o, key_of(o, "kasubag"), "203.0.113.1", 4, seconds_ago=1)
    client = bare_client(o, address="203.0.113.1")
    assert attempt(client, o.name("kasubag"), PASSWORD).status_code == 303
    # for the account, one refusal after the sign-in is the first of a new count, not the fifth
    # (from another address: an address's count is not cleared by a sign-in, see the next test)
    assert attempt(bare_client(o, address="203.0.113.2"), o.name("kasubag"), "salah").status_code == 401
    assert attempt(bare_client(o, address="203.0.113.2"), o.name("kasubag"), PASSWORD).status_code == 303


def test_someone_elses_sign_in_does_not_clear_an_addresss_count(tmp_path: Path, slow_clock: None) -> None:
    o = office(tmp_path, keys=("admin", "kasubag", "kasi"))
    for key in ("admin", "kasi"):  # guesses at two accounts from one address
        refusals(o, key_of(o, key), "203.0.113.9", 2, seconds_ago=1)
    assert attempt(bare_client(o, address="203.0.113.9"), o.name("kasubag"), PASSWORD).status_code == 303  # an own sign-in
    assert attempt(bare_client(o, address="203.0.113.9"), o.name("kasi"), "salah").status_code == 401  # the fifth failure
    assert attempt(bare_client(o, address="203.0.113.9"), o.name("kasi"), PASSWORD).status_code == 429


def test_guesses_sent_at_once_count_each_other(tmp_path: Path, slow_clock: None) -> None:
    from concurrent.futures import ThreadPoolExecutor

    o = office(tmp_path, keys=("admin", "kasubag"))

    def guess(i: int) -> int:
        return attempt(bare_client(o, address=f"198.51.100.{i}"), o.name("kasubag"), f"tebakan-{i}").status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(guess, range(12)))
    assert statuses.count(401) <= 5 and statuses.count(429) >= 7, statuses


# -- 8. a disabled person, a changed password ---------------------------------------------------------

@needs_complete_api
def test_a_disabled_person_is_signed_out_everywhere_and_writes_nothing(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    run_id = start(o)
    page = o.client("sekretaris")
    token_client = o.api("sekretaris")
    assert page.get("/", follow_redirects=False).status_code == 200
    token = csrf(page)
    people.disable_person(o.db, o.name("sekretaris"))  # as the admin, whose OS login runs the tests
    before = counts(o)
    assert signed_out(page.get("/", follow_redirects=False))
    refused = token_client.post(f"/api/runs/{run_id}/complete", json={"step": STEP, "note": "masih bisa?"})
    assert refused.status_code == 401, refused.text
    if has_route("POST", "/runs/{run_id}/complete"):
        assert signed_out(complete_form(page, run_id, task_of(o, run_id), token=token))
    assert counts(o) == before
    assert still_open(o, run_id)
    # and signing in again is refused, with the reason kept in the log only
    again = attempt(o.anonymous(), o.name("sekretaris"), PASSWORD)
    assert again.status_code == 401
    assert access(o, "sign_in_refused")[-1]["detail"] == "disabled"


@needs_runs_api
def test_a_changed_password_ends_the_session_and_revokes_the_token(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    page = o.client("sekretaris")
    token_client = o.api("sekretaris")
    assert token_client.get("/api/runs").status_code == 200
    people.set_password(o.db, o.name("sekretaris"), "kata-sandi-baru-2")
    assert signed_out(page.get("/", follow_redirects=False))
    assert token_client.get("/api/runs").status_code == 401
    assert attempt(o.anonymous(), o.name("sekretaris"), "kata-sandi-baru-2").status_code == 303


def test_a_signed_out_session_stays_out_in_a_copy_of_its_cookie(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    run_id = start(o)
    client = o.client("sekretaris")
    elsewhere = o.client("sekretaris")  # the same person signed in on another device
    copied = client.cookies["sopengine_session"]
    assert client.post("/logout", data={"csrftoken": csrf(client)}, follow_redirects=False).status_code == 303
    before = counts(o)
    thief = bare_client(o, {"sopengine_session": copied})
    assert signed_out(thief.get("/", follow_redirects=False))
    if has_route("POST", "/runs/{run_id}/complete"):
        assert signed_out(complete_form(thief, run_id, task_of(o, run_id), token=csrf(thief)))
    assert counts(o) == before
    assert still_open(o, run_id)
    assert elsewhere.get("/", follow_redirects=False).status_code == 200  # only the session signed out ends


# -- 9. open redirects ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example", "http:/evil.example",
                                    "evil.example", "\\\\evil.example"])
def test_sign_in_goes_to_this_server_only(tmp_path: Path, target: str) -> None:
    o = office(tmp_path, keys=("admin",))
    client = o.anonymous()
    form = client.get("/login", params={"next": target})
    assert target not in form.text.replace("&#34;", '"')
    done = client.post("/login", data={"csrftoken": csrf(client), "username": o.name("admin"), "password": PASSWORD,
                                       "next": target}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/"
    switched = client.get("/lang/id", params={"next": target}, follow_redirects=False)
    assert switched.headers["location"] == "/"


# -- 10. cookies -------------------------------------------------------------------------------------

def _set_cookie(response: Any, name: str) -> str:
    found = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(name + "=")]
    assert found, response.headers
    return found[0].lower()


def test_the_session_cookie_is_httponly_lax_and_secure_over_tls(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin",))
    always = TestClient(create_app(ServerConfig(db=o.db, definitions=o.definitions, secure_cookies=True)))
    o.clients.append(always)
    assert "secure" in _set_cookie(always.get("/login"), "csrftoken")  # even over plain HTTP
    for secure_cookies, scheme, secure in ((False, "http", False), (True, "https", True), (False, "https", True)):
        app = create_app(ServerConfig(db=o.db, definitions=o.definitions, secure_cookies=secure_cookies))
        client = TestClient(app, base_url=f"{scheme}://testserver")
        o.clients.append(client)
        cookie = _set_cookie(sign_in(client, o.name("admin")), "sopengine_session")
        parts = {p.strip().split("=")[0] for p in cookie.split(";")}
        assert "httponly" in parts, cookie
        assert "samesite=lax" in cookie, cookie
        assert ("secure" in parts) is secure, (secure_cookies, scheme, cookie)


def test_no_page_is_framed_by_another_site(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin",))
    run_id = start(o)
    client = o.client("admin")
    for response in (o.anonymous().get("/login"), client.get("/"), client.get(f"/runs/{run_id}"),
                     o.anonymous().get("/api/runs"), o.anonymous().get("/", follow_redirects=False)):
        assert response.headers["x-frame-options"] == "SAMEORIGIN", response.url
        assert response.headers["x-content-type-options"] == "nosniff", response.url
    assert "frame-ancestors 'self'" in client.get("/").headers["content-security-policy"]
    if has_route("GET", "/runs/{run_id}/document"):  # a route's own policy is kept, not doubled
        document = client.get(f"/runs/{run_id}/document")
        assert len(document.headers.get_list("x-frame-options")) == 1


# -- 11. how a request may be authenticated -----------------------------------------------------------

@needs_runs_api
def test_a_token_counts_only_in_the_authorization_header_as_bearer(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    token = o.token("sekretaris")
    client = bare_client(o)
    assert client.get("/api/runs", headers={"Authorization": "Bearer " + token}).status_code == 200
    for params, headers in (
        ({"token": token}, {}),
        ({"access_token": token}, {}),
        ({}, {"Authorization": "Basic " + base64.b64encode(f"{o.name('sekretaris')}:{PASSWORD}".encode()).decode()}),
        ({}, {"Authorization": "Basic " + base64.b64encode(f"token:{token}".encode()).decode()}),
        ({}, {"Authorization": token}),
        ({}, {"X-Api-Key": token}),
    ):
        refused = client.get("/api/runs", params=params, headers=headers)
        assert refused.status_code == 401, (params, headers)


@needs_complete_api
def test_a_bearer_token_beside_someone_elses_session_acts_as_the_tokens_person(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris", "kasubag"))
    run_id = start(o)
    kasubag = o.client("kasubag")  # a session of someone the step's role does not allow
    before = counts(o)
    # kasubag's session with a junk token: the token alone decides, and it is no one
    junk = kasubag.post(f"/api/runs/{run_id}/complete", json={"step": STEP}, headers={"Authorization": "Bearer salah"})
    assert junk.status_code == 401
    # kasubag's own token beside the sekretaris's session: still kasubag, still refused
    sekretaris = o.client("sekretaris")
    own = sekretaris.post(f"/api/runs/{run_id}/complete", json={"step": STEP},
                          headers={"Authorization": "Bearer " + o.token("kasubag")})
    assert own.status_code == 403, own.text
    assert counts(o) == before
    # the sekretaris's token beside kasubag's session: the step is completed, by the sekretaris, via the API
    done = kasubag.post(f"/api/runs/{run_id}/complete", json={"step": STEP, "note": "lewat token"},
                        headers={"Authorization": "Bearer " + o.token("sekretaris")})
    assert done.status_code == 200, done.text
    assert done.json()["completed_by"] == o.name("sekretaris")
    with sqlite3.connect(o.db) as conn:
        person, payload = conn.execute("SELECT person, payload FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
                                       (run_id,)).fetchone()
    assert person == o.name("sekretaris")
    assert json.loads(payload)["via"] == "api" and json.loads(payload)["auth"] == "token"


def test_an_office_signing_in_at_once_from_one_address_is_not_held_up(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    o = office(tmp_path)  # seven people, all with the right password, behind one router

    def sign_in_now(key: str) -> int:
        return attempt(bare_client(o, address="203.0.113.50"), o.name(key), PASSWORD).status_code

    with ThreadPoolExecutor(7) as pool:
        assert list(pool.map(sign_in_now, list(PEOPLE))) == [303] * len(PEOPLE)


def test_guesses_at_many_accounts_sent_at_once_from_one_address_are_held_up(tmp_path: Path, slow_clock: None) -> None:
    from concurrent.futures import ThreadPoolExecutor

    o = office(tmp_path)
    names = [o.name(k) for k in PEOPLE] * 3  # 21 guesses, three at each account

    def guess(name: str) -> int:
        return attempt(bare_client(o, address="192.0.2.77"), name, "tebakan-salah-1").status_code

    with ThreadPoolExecutor(21) as pool:
        statuses = list(pool.map(guess, names))
    assert statuses.count(401) <= 5 + 3 and statuses.count(429) >= 13, statuses  # 5 free, at most a check in flight each
