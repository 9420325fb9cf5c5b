"""The people register, the document store, the office's chain and the office server's pages on
PostgreSQL, as they work on SQLite.

A real PostgreSQL server (``SOPENGINE_TEST_PG``; the tests skip, saying why, without it) and a
fresh database for each test (``pg_db``); the
commands through click's CliRunner and the office server's application in process (the two
real server processes are in ``test_pg_serve.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import pg_support
from click.testing import CliRunner

from sopengine import audit, people
from sopengine.chain import GENESIS, canonical, event_hash
from sopengine.cli import cli
from sopengine.identity import os_user
from sopengine.runs import complete, start_run
from sopengine.store import Store
from sopengine.store import documents as kept
from sopengine.store.people import OFFICE_CHAIN, office_events

pytestmark = pytest.mark.postgresql

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-10-01T09:00"
ME = os_user()
PASSWORD = "kata-sandi-uji-1"


def invoke(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=stdin)


def rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with Store(url, readonly=True) as store:
        return [tuple(r) for r in store.conn.execute(sql, args).fetchall()]


# -- the people register ------------------------------------------------------------------------------

def test_the_register_commands_work_on_postgresql_as_on_sqlite(pg_db: str) -> None:
    result = invoke("people", "add", "Kepala Kantor", "--login", ME, "--access", "admin", "--db", pg_db, "--now", NOW)
    assert result.exit_code == 0, result.output
    for args in (
        ("people", "add", "Agus Supriyadi", "--login", "agus", "--role", "sekretaris-dinas", "--role", "kepala-bidang"),
        ("people", "add", "Inspektur Hadi", "--access", "auditor"),
        ("people", "edit", "Agus Supriyadi", "--add-login", "agus2", "--remove-role", "kepala-bidang", "--add-role", "kasubag-pep"),
        ("people", "disable", "Inspektur Hadi"),
        ("people", "enable", "Inspektur Hadi"),
    ):
        result = invoke(*args, "--db", pg_db, "--now", NOW)
        assert result.exit_code == 0, (args, result.output)
    listed = json.loads(invoke("people", "list", "--json", "--db", pg_db).stdout)
    assert [(p["name"], p["access"], p["logins"], p["roles"], p["disabled"]) for p in listed] == [
        ("Agus Supriyadi", "staff", ["agus", "agus2"], ["kasubag-pep", "sekretaris-dinas"], False),
        ("Inspektur Hadi", "auditor", [], [], False),  # json_agg of nothing is an empty list, as on SQLite
        ("Kepala Kantor", "admin", [ME], [], False),
    ]
    assert people.get_person(pg_db, "agus2")["name"] == "Agus Supriyadi"  # found by a login
    # a refusal is the same one-line error, and leaves the register as it was
    before = rows(pg_db, "SELECT count(*) FROM office_events")
    again = invoke("people", "add", "agus supriyadi", "--db", pg_db)
    assert again.exit_code != 0 and "already in the people register" in again.output and "Traceback" not in again.output
    taken = invoke("people", "add", "Joko", "--login", "agus", "--db", pg_db)
    assert taken.exit_code != 0 and "already belongs to Agus Supriyadi" in taken.output
    assert rows(pg_db, "SELECT count(*) FROM office_events") == before
    # a password is kept as its hash only, and recorded without it
    result = invoke("people", "passwd", "Agus Supriyadi", "--password-stdin", "--db", pg_db, stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    (stored,) = rows(pg_db, "SELECT password_hash FROM people WHERE name = 'Agus Supriyadi'")[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_the_office_chain_is_numbered_without_gaps_and_verifies(pg_db: str) -> None:
    people.add_person(pg_db, "Kepala Kantor", logins=[ME], access="admin", now=NOW)
    people.add_person(pg_db, "Agus Supriyadi", roles=["sekretaris-dinas"], now=NOW)
    run_id = start_run("pengumpulan-data", db=pg_db, period="2026-09", now=NOW)["run_id"]
    assert complete(pg_db, run_id, step="kumpulkan-data", by="Kepala Kantor", now=NOW)["step"] == "kumpulkan-data"
    people.edit_person(pg_db, "Agus Supriyadi", rename="Agus S.", now=NOW)
    people.set_password(pg_db, "Agus S.", PASSWORD)
    people.disable_person(pg_db, "Agus S.")
    with Store(pg_db, readonly=True) as store:
        chain = list(office_events(store.conn))
    assert [e["seq"] for e in chain] == list(range(1, len(chain) + 1))
    assert [e["kind"] for e in chain] == ["person_added", "person_added", "person_changed", "password_set", "person_disabled"]
    prev = GENESIS
    for event in chain:  # hashed as on SQLite: the stored payload text is the canonical JSON
        assert event["run_id"] == OFFICE_CHAIN and event["prev_hash"] == prev
        record = {**event, "payload": json.loads(event["payload"])}
        assert canonical(record["payload"]) == event["payload"]
        assert event_hash(record) == event["hash"]
        prev = event["hash"]
    result = audit.verify(pg_db)
    assert result["ok"], result["problems"]
    assert result["last_office_seq"] == len(chain)
    verified = invoke("audit", "verify", "--db", pg_db)
    assert verified.exit_code == 0, verified.output


def test_a_rename_moves_assignments_in_active_runs_on_postgresql(pg_db: str) -> None:
    from sopengine import api

    people.add_person(pg_db, "Kepala Kantor", logins=[ME], access="admin", now=NOW)
    people.add_person(pg_db, "Siti Rahma", roles=["kepala-bidang"], now=NOW)
    runs = [start_run("pengumpulan-data", db=pg_db, period=p, now=NOW)["run_id"] for p in ("2026-08", "2026-09")]
    for run_id in runs:
        api.assign(pg_db, run_id, "kepala-bidang", "Siti Rahma", now=NOW)
    people.edit_person(pg_db, "Siti Rahma", rename="Siti Rahmawati", now=NOW)
    assert rows(pg_db, "SELECT DISTINCT person FROM assignments") == [("Siti Rahmawati",)]
    assert audit.verify(pg_db)["ok"]


# -- the document store -------------------------------------------------------------------------------

def test_documents_are_kept_and_read_back_byte_for_byte(pg_db: str, tmp_path: Path) -> None:
    run_id = start_run("pengumpulan-data", db=pg_db, period="2026-S1", now="2026-07-01T08:30", by="ani")["run_id"]
    arsip = tmp_path / "arsip"
    arsip.mkdir()
    contents = {
        "besar.bin": os.urandom(kept.CHUNK * 2 + 12345),  # more than one chunk, not a whole number of them
        "kosong.txt": b"",
        "nul.bin": bytes(range(256)) * 3 + b"\x00\x00'\\%?",  # bytes a text column or a placeholder would mangle
    }
    for name, data in contents.items():
        (arsip / name).write_bytes(data)
    second = start_run("pengumpulan-data", db=pg_db, period="2026-S2", now="2026-07-01T08:30", by="ani")["run_id"]
    complete(pg_db, run_id, step="kumpulkan-data", outputs=[("Disposisi", str(arsip / "besar.bin"))], by="ani", now=NOW)
    # the same bytes recorded again, in another run: kept once
    complete(pg_db, second, step="kumpulkan-data", outputs=[("Disposisi", str(arsip / "besar.bin"))], by="ani", now=NOW)
    third = start_run("pengumpulan-data", db=pg_db, period="2025-S2", now="2026-07-01T08:30", by="ani")["run_id"]
    complete(pg_db, third, step="kumpulkan-data", outputs=[("Disposisi", str(arsip / "nul.bin"))], by="ani", now=NOW)
    fourth = start_run("pengumpulan-data", db=pg_db, period="2025-S1", now="2026-07-01T08:30", by="ani")["run_id"]
    complete(pg_db, fourth, step="kumpulkan-data", outputs=[("Disposisi", str(arsip / "kosong.txt"))], by="ani", now=NOW)
    with Store(pg_db, readonly=True) as store:
        assert kept.has_store(store.conn)
        stored = kept.blobs(store.conn)
        assert len(stored) == 3
        for data in contents.values():
            digest = hashlib.sha256(data).hexdigest()
            assert b"".join(kept.read(store.conn, digest)) == data
            assert kept.blob_size(store.conn, digest) == len(data)
            assert kept.blob_sha256(store.conn, digest) == (digest, len(data))
        assert kept.kept(store.conn, [hashlib.sha256(d).hexdigest() for d in contents.values()] + ["0" * 64]) == {
            hashlib.sha256(d).hexdigest() for d in contents.values()}
        assert list(kept.read(store.conn, "0" * 64)) == [] and kept.blob_size(store.conn, "0" * 64) is None
        assert kept.store_began(store.conn) is not None
    for file in arsip.iterdir():
        file.unlink()  # the history no longer depends on the files
    result = audit.verify(pg_db, documents=True)
    assert result["ok"], result["problems"]
    assert result["documents"] == {"checked": 4, "ok": 4, "changed": [], "missing": [], "unrecorded": [], "kept": 4,
                                   "not_kept": [], "unreferenced": 0}


def test_the_document_rules_are_kept_and_recorded_on_postgresql(pg_db: str, tmp_path: Path) -> None:
    start_run("pengumpulan-data", db=pg_db, period="2026-S1", now="2026-07-01T08:30", by="ani")
    allowed = tmp_path / "arsip"
    allowed.mkdir()
    result = invoke("documents", "allow", str(allowed), "--db", pg_db, "--by", "ani")
    assert result.exit_code == 0, result.output
    again = invoke("documents", "allow", str(allowed), "--db", pg_db, "--by", "ani")
    assert again.exit_code != 0 and "already an allowed folder" in again.output
    assert invoke("documents", "max-size", "2MiB", "--db", pg_db, "--by", "ani").exit_code == 0
    too_big = invoke("documents", "max-size", "2GiB", "--db", pg_db, "--by", "ani")
    assert too_big.exit_code != 0 and too_big.output == (
        "Error: a document's size limit must be more than 0 and at most 900 MiB (one value PostgreSQL keeps is at most 1 GB);"
        " 2GiB is not\n")
    shown = json.loads(invoke("documents", "folders", "--json", "--db", pg_db).stdout)
    assert [f["path"] for f in shown["folders"]] == [os.path.realpath(allowed)] and shown["max_size"] == 2 * 1024 * 1024
    assert invoke("documents", "disallow", str(allowed), "--db", pg_db, "--by", "ani").exit_code == 0
    with Store(pg_db, readonly=True) as store:
        kinds = [e["kind"] for e in office_events(store.conn)]
    assert kinds == ["document_folder_allowed", "document_max_size_set", "document_folder_disallowed"]
    assert audit.verify(pg_db)["ok"]


# -- the office server's pages, in process ------------------------------------------------------------------

def test_the_office_server_pages_work_over_postgresql(pg_db: str, tmp_path: Path) -> None:
    import re

    from starlette.testclient import TestClient

    from sopengine.server import ServerConfig, create_app

    definitions = tmp_path / "definitions"
    shutil.copytree(ROOT / "definitions", definitions)
    people.add_person(pg_db, "Admin Kantor", logins=[ME], access="admin", definitions=definitions)
    people.set_password(pg_db, "Admin Kantor", PASSWORD)
    people.add_person(pg_db, "Agus Supriyadi", roles=["sekretaris-dinas"], definitions=definitions)
    people.set_password(pg_db, "Agus Supriyadi", PASSWORD)
    people.add_person(pg_db, "Inspektur Hadi", access="auditor", definitions=definitions)
    people.set_password(pg_db, "Inspektur Hadi", PASSWORD)
    app = create_app(ServerConfig(db=pg_db, definitions=definitions))

    def client(name: str) -> TestClient:
        c = TestClient(app, base_url="http://testserver")
        c.cookies.set("sopengine_lang", "en")
        c.get("/login")
        signed = c.post("/login", data={"csrftoken": c.cookies["csrftoken"], "username": name, "password": PASSWORD,
                                        "next": "/"}, follow_redirects=False)
        assert signed.status_code == 303, signed.text
        return c

    staff, admin, auditor = client("Agus Supriyadi"), client("Admin Kantor"), client("Inspektur Hadi")
    token = TestClient(app).post("/api/token", json={"username": "Agus Supriyadi", "password": PASSWORD})
    assert token.status_code == 200, token.text
    started = staff.post("/api/runs", json={"definition": "pengumpulan-data", "period": "2026-12"},
                         headers={"x-csrftoken": staff.cookies["csrftoken"]})
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    page = staff.get(f"/runs/{run_id}")
    assert page.status_code == 200
    task = re.search(r'name="task" value="(\d+)"', page.text)
    assert task is not None
    content = os.urandom(200_000) + b"\x00 disposisi"
    sent = staff.post(f"/runs/{run_id}/complete",
                      data={"csrftoken": staff.cookies["csrftoken"], "task": task.group(1), "step": "kumpulkan-data", "note": ""},
                      files={"output:Disposisi": ("disposisi.pdf", content, "application/pdf")}, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    digest = hashlib.sha256(content).hexdigest()
    with Store(pg_db, readonly=True) as store:
        assert b"".join(kept.read(store.conn, digest)) == content
    for path in ("/", "/runs", f"/runs/{run_id}"):
        assert staff.get(path).status_code == 200, path
    for path in ("/admin", "/admin/people", "/admin/people/new", f"/admin/runs/{run_id}/assignments", "/admin/definitions",
                 "/admin/start"):
        assert admin.get(path).status_code == 200, path
    added = admin.post("/admin/people", data={"csrftoken": admin.cookies["csrftoken"], "name": "Rina Wati", "access": "staff",
                                              "logins": "", "roles": "staf-evaluasi"}, follow_redirects=False)
    assert added.status_code == 303, added.text
    assert people.get_person(pg_db, "Rina Wati")["roles"] == ["staf-evaluasi"]
    # a definition published through the admin page: the file in force and its event in the office chain
    text = (definitions / "surat-keluar.yaml").read_text(encoding="utf-8").replace("id: surat-keluar", "id: surat-masuk", 1)
    published = admin.post("/admin/definitions", data={"csrftoken": admin.cookies["csrftoken"], "name": "surat-masuk.yaml",
                                                       "text": text, "action": "publish"}, follow_redirects=False)
    assert published.status_code == 303, published.text
    assert (definitions / "surat-masuk.yaml").read_text(encoding="utf-8") == text
    with Store(pg_db, readonly=True) as store:
        last = list(office_events(store.conn))[-1]
    assert last["kind"] == "definition_published" and json.loads(last["payload"])["via"] == "web"
    disabled = admin.post("/admin/people/disable", data={"csrftoken": admin.cookies["csrftoken"], "name": "Rina Wati"},
                          follow_redirects=False)
    assert disabled.status_code == 303, disabled.text
    assert people.get_person(pg_db, "Rina Wati")["disabled"] is True
    for path, params in (("/audit", {}), ("/audit", {"run": run_id, "kind": "step_completed"}), ("/audit/history.csv", {}),
                         (f"/audit/runs/{run_id}/pack", {}), ("/audit/monitoring", {"definition": "pengumpulan-data",
                                                                                    "period": "2026-12"}),
                         ("/audit/report", {"definition": "pengumpulan-data"}), ("/audit/access", {})):
        assert auditor.get(path, params=params).status_code == 200, path
    assert "kumpulkan-data" in auditor.get("/audit/history.csv").text
    access = rows(pg_db, "SELECT kind FROM access_log ORDER BY id")
    assert ("sign_in",) in access and ("token_issued",) in access
    verified = auditor.get("/audit/verify", params={"check": "1", "documents": "1"})
    assert verified.status_code == 200, verified.text
    # a wrong password is refused and counted, as on SQLite
    wrong = TestClient(app).post("/api/token", json={"username": "Agus Supriyadi", "password": "salah-sekali-1"})
    assert wrong.status_code == 401
    assert rows(pg_db, "SELECT count(*) FROM access_log WHERE kind = 'sign_in_refused'") == [(1,)]


def test_a_page_whose_read_waits_too_long_is_busy_503_not_a_crash(pg_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read outside any transaction (the run list) that waits longer than the busy timeout for a table a
    maintenance job holds: the server answers 503 with the store's words, as the command line exits 4."""
    from starlette.testclient import TestClient

    from sopengine.server import ServerConfig, create_app
    from sopengine.store import pg

    people.add_person(pg_db, "Agus Supriyadi", logins=[ME], access="admin")
    people.set_password(pg_db, "Agus Supriyadi", PASSWORD)
    start_run("pengumpulan-data", db=pg_db, period="2026-12", now=NOW)
    monkeypatch.setenv("SOPENGINE_BUSY_TIMEOUT_MS", "300")
    pg.close_pools()  # the pool sets each connection's lock timeout when it opens it
    app = create_app(ServerConfig(db=pg_db))
    client = TestClient(app)
    token = client.post("/api/token", json={"username": "Agus Supriyadi", "password": PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/runs", headers=headers).status_code == 200
    holder = pg_support.connect(pg_db)
    try:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
        busy = client.get("/api/runs", headers=headers)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        pg.close_pools()
    assert busy.status_code == 503, busy.text
    assert busy.json()["error"]["code"] == "database_busy"
    assert "0.3" in busy.json()["error"]["message"]
