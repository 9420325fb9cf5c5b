"""The admin pages of the office server: people, assignments, definitions, the calendar, starting runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from server_support import PASSWORD, Office, csrf, office, sign_in

from sopengine import api, people

NEW_PASSWORD = "kata-sandi-baru-2"


def make(tmp_path: Path, *keys: str) -> Office:
    """An office with the admin and only the people a test needs (each password costs an argon2 hash)."""
    return office(tmp_path, keys=("admin", *keys))


def office_events(db: Path) -> list[tuple[str, dict]]:
    with sqlite3.connect(db) as conn:
        return [(kind, json.loads(payload)) for kind, payload in conn.execute("SELECT kind, payload FROM office_events ORDER BY seq")]


def run_events(db: Path, run_id: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events WHERE run_id = ?", (run_id,)).fetchone()[0])


def start(kantor: Office) -> str:
    from sopengine import channel

    with channel.signed_in(1, channel.WEB, "password-session"):
        return str(api.start_run("pengumpulan-data", db=kantor.db, definitions=kantor.definitions)["run_id"])


def test_admin_adds_a_person_who_then_signs_in_and_edits_their_roles(tmp_path: Path) -> None:
    kantor = make(tmp_path)
    admin = kantor.client("admin")
    page = admin.get("/admin/people/new")
    assert page.status_code == 200
    assert 'value="kepala-bidang"' in page.text  # the roles the definitions know, as checkboxes
    response = admin.post("/admin/people", data={"csrftoken": csrf(admin), "name": "Yuni Astuti", "logins": "",
                                                 "roles": ["kepala-bidang", "staf-evaluasi"], "access": "staff"},
                          follow_redirects=False)
    assert response.status_code == 303
    person = people.get_person(kantor.db, "Yuni Astuti")
    assert person["roles"] == ["kepala-bidang", "staf-evaluasi"] and person["access"] == "staff"
    added = office_events(kantor.db)[-1]
    assert added[0] == "person_added" and added[1]["via"] == "web"

    response = admin.post("/admin/people/password", data={"csrftoken": csrf(admin), "name": "Yuni Astuti",
                                                          "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                          follow_redirects=False)
    assert response.status_code == 303
    listing = admin.get("/admin/people")
    assert "Yuni Astuti" in listing.text and "not set" not in listing.text.split("Yuni Astuti")[1].split("</tr>")[0]

    yuni = kantor.anonymous()
    sign_in(yuni, "Yuni Astuti", NEW_PASSWORD)
    assert yuni.get("/admin/people").status_code == 403  # staff

    response = admin.post("/admin/people/edit", data={"csrftoken": csrf(admin), "name": "Yuni Astuti", "rename": "Yuni Astuti",
                                                      "logins": "", "roles": ["kepala-seksi", "staf-evaluasi"], "access": "staff"},
                          follow_redirects=False)
    assert response.status_code == 303
    assert people.get_person(kantor.db, "Yuni Astuti")["roles"] == ["kepala-seksi", "staf-evaluasi"]
    changed = office_events(kantor.db)[-1]
    assert changed[0] == "person_changed"
    assert changed[1]["added_roles"] == ["kepala-seksi"] and changed[1]["removed_roles"] == ["kepala-bidang"]


def test_passwords_that_differ_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    kantor = make(tmp_path, "staf")
    admin = kantor.client("admin")
    before = office_events(kantor.db)
    response = admin.post("/admin/people/password", data={"csrftoken": csrf(admin), "name": kantor.name("staf"),
                                                          "password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert response.status_code == 400
    assert "differ" in response.text
    assert office_events(kantor.db) == before


def test_a_refused_add_shows_the_library_message(tmp_path: Path) -> None:
    kantor = make(tmp_path, "kabid")
    admin = kantor.client("admin")
    before = office_events(kantor.db)
    response = admin.post("/admin/people", data={"csrftoken": csrf(admin), "name": kantor.name("kabid"), "access": "staff"})
    assert response.status_code == 400
    assert "already in the people register" in response.text
    assert office_events(kantor.db) == before


def test_a_disabled_person_loses_their_live_session(tmp_path: Path) -> None:
    kantor = make(tmp_path, "staf")
    staf = kantor.client("staf")
    token = kantor.api("staf")
    assert staf.get("/api/inbox").status_code == 200 and token.get("/api/inbox").status_code == 200
    admin = kantor.client("admin")
    response = admin.post("/admin/people/disable", data={"csrftoken": csrf(admin), "name": kantor.name("staf")},
                          follow_redirects=False)
    assert response.status_code == 303
    assert people.get_person(kantor.db, kantor.name("staf"))["disabled"]
    page = staf.get("/admin/people", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert staf.get("/api/inbox").status_code == 401
    assert token.get("/api/inbox").status_code == 401  # the bearer token no longer names anyone either

    response = admin.post("/admin/people/enable", data={"csrftoken": csrf(admin), "name": kantor.name("staf")},
                          follow_redirects=False)
    assert response.status_code == 303
    assert not people.get_person(kantor.db, kantor.name("staf"))["disabled"]


def test_admin_assigns_a_plt_and_removes_an_assignment(tmp_path: Path) -> None:
    kantor = make(tmp_path, "kasi")
    run_id = start(kantor)
    admin = kantor.client("admin")
    page = admin.get(f"/admin/runs/{run_id}/assignments")
    assert page.status_code == 200 and "kepala-bidang" in page.text
    response = admin.post(f"/admin/runs/{run_id}/assignments",
                          data={"csrftoken": csrf(admin), "role": "kepala-bidang", "person": kantor.name("kasi"), "acting": "1"},
                          follow_redirects=False)
    assert response.status_code == 303
    status = api.run_status(kantor.db, run_id)
    assert status["assignments"][0]["person"] == kantor.name("kasi") and status["assignments"][0]["acting"]
    page = admin.get(f"/admin/runs/{run_id}/assignments")
    assert "Plt./Plh." in page.text and kantor.name("kasi") in page.text

    count = run_events(kantor.db, run_id)
    refused = admin.post(f"/admin/runs/{run_id}/assignments",
                         data={"csrftoken": csrf(admin), "role": "kepala-bidang", "person": "Nobody Registered"})
    assert refused.status_code == 404
    assert run_events(kantor.db, run_id) == count

    response = admin.post(f"/admin/runs/{run_id}/assignments/remove",
                          data={"csrftoken": csrf(admin), "role": "kepala-bidang", "person": kantor.name("kasi")},
                          follow_redirects=False)
    assert response.status_code == 303
    assert api.run_status(kantor.db, run_id)["assignments"] == []
    assert api.verify(kantor.db)["ok"]


BROKEN = "id: surat-masuk\ntitle: Surat Masuk\nactors:\n  - id: tu\n    name: TU\nsteps:\n  - id: a\n    actor: nobody\n"


def _valid_text(kantor: Office) -> str:
    text = (kantor.definitions / "surat-keluar.yaml").read_text(encoding="utf-8")
    return text.replace("id: surat-keluar", "id: surat-masuk", 1)


def test_an_invalid_definition_shows_every_problem_and_writes_nothing(tmp_path: Path) -> None:
    kantor = make(tmp_path)
    admin = kantor.client("admin")
    before = office_events(kantor.db)
    for action in ("check", "publish"):
        response = admin.post("/admin/definitions", data={"csrftoken": csrf(admin), "name": "surat-masuk.yaml",
                                                          "text": BROKEN, "action": action})
        assert response.status_code == 400
        assert "surat-masuk.yaml:7: steps[1].kegiatan:" in response.text
    response = admin.post("/admin/definitions", data={"csrftoken": csrf(admin), "name": "surat-masuk.yaml",
                                                      "text": "id: [unclosed\n", "action": "publish"})
    assert response.status_code == 400 and "surat-masuk.yaml:2: yaml:" in response.text
    response = admin.post("/admin/definitions", data={"csrftoken": csrf(admin), "name": "../surat-masuk.yaml",
                                                      "text": _valid_text(kantor), "action": "publish"})
    assert response.status_code == 400 and "NAME.yaml" in response.text
    assert not (kantor.definitions / "surat-masuk.yaml").exists()
    assert not (kantor.definitions.parent / "surat-masuk.yaml").exists()
    assert office_events(kantor.db) == before


def test_a_valid_definition_is_checked_then_published_and_recorded(tmp_path: Path) -> None:
    kantor = make(tmp_path)
    import hashlib

    admin = kantor.client("admin")
    text = _valid_text(kantor)
    checked = admin.post("/admin/definitions", data={"csrftoken": csrf(admin), "name": "surat-masuk.yaml", "text": text,
                                                     "action": "check"})
    assert checked.status_code == 200 and "is valid" in checked.text
    assert not (kantor.definitions / "surat-masuk.yaml").exists()
    response = admin.post("/admin/definitions", files={"upload": ("surat-masuk.yaml", text.encode(), "text/yaml")},
                          data={"csrftoken": csrf(admin), "name": "", "text": "", "action": "publish"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/definitions/surat-masuk"
    assert (kantor.definitions / "surat-masuk.yaml").read_text(encoding="utf-8") == text
    kind, payload = office_events(kantor.db)[-1]
    assert kind == "definition_published"
    assert payload["id"] == "surat-masuk" and payload["file"] == "surat-masuk.yaml"
    assert payload["sha256"] == hashlib.sha256(text.encode()).hexdigest() and payload["via"] == "web"
    assert api.verify(kantor.db)["ok"]
    page = admin.get("/admin/definitions/surat-masuk")
    assert page.status_code == 200 and "pinned by its hash" in page.text
    assert "surat-masuk" in admin.get("/admin/definitions").text


def test_publishing_needs_a_definitions_folder(tmp_path: Path) -> None:
    from sopengine.server import ServerConfig, create_app

    kantor = make(tmp_path)
    kantor.app = create_app(ServerConfig(db=kantor.db, definitions=None))
    admin = kantor.client("admin")
    before = office_events(kantor.db)
    response = admin.post("/admin/definitions", data={"csrftoken": csrf(admin), "name": "surat-masuk.yaml",
                                                      "text": _valid_text(kantor), "action": "publish"})
    assert response.status_code == 400 and "--definitions DIR" in response.text
    assert office_events(kantor.db) == before


def test_the_calendar_is_read_only_without_a_file_and_publishable_with_one(tmp_path: Path) -> None:
    kantor = make(tmp_path)
    admin = kantor.client("admin")
    page = admin.get("/admin/calendar")
    assert page.status_code == 200 and "Jam kerja" in page.text and "read-only" in page.text
    refused = admin.post("/admin/calendar", data={"csrftoken": csrf(admin), "text": "timezone: Asia/Jakarta\n", "action": "publish"})
    assert refused.status_code == 400
    assert not (kantor.definitions / "calendar.yaml").exists()

    (kantor.definitions / "calendar.yaml").write_text("timezone: Asia/Jakarta\n", encoding="utf-8")
    assert "<textarea" in admin.get("/admin/calendar").text
    before = office_events(kantor.db)
    bad = admin.post("/admin/calendar", data={"csrftoken": csrf(admin), "text": "hours: [\n", "action": "publish"})
    assert bad.status_code == 400 and "calendar.yaml" in bad.text
    assert office_events(kantor.db) == before
    text = "timezone: Asia/Jakarta\nclosed:\n  - date: 2026-12-31\n    name: Tutup akhir tahun\n"
    response = admin.post("/admin/calendar", data={"csrftoken": csrf(admin), "text": text, "action": "publish"},
                          follow_redirects=False)
    assert response.status_code == 303, response.text
    assert (kantor.definitions / "calendar.yaml").read_text(encoding="utf-8") == text
    assert office_events(kantor.db)[-1][0] == "calendar_published"
    assert api.verify(kantor.db)["ok"]


def test_admin_starts_a_run(tmp_path: Path) -> None:
    kantor = make(tmp_path)
    admin = kantor.client("admin")
    form = admin.get("/admin/start?definition=pengajuan-pembayaran")
    assert form.status_code == 200 and 'name="case.akun"' in form.text
    response = admin.post("/admin/start", data={"csrftoken": csrf(admin), "definition": "pengajuan-pembayaran",
                                                "case.akun": "521211"}, follow_redirects=False)
    assert response.status_code == 303
    run_id = response.headers["location"].removeprefix("/runs/")
    status = api.run_status(kantor.db, run_id)
    assert status["definition"] == "pengajuan-pembayaran" and status["case"] == {"akun": "521211"}
    assert status["started_by"] == kantor.name("admin")

    response = admin.post("/admin/start", data={"csrftoken": csrf(admin), "definition": "pengumpulan-data"},
                          follow_redirects=False)
    assert response.status_code == 303
    periodic = api.run_status(kantor.db, response.headers["location"].removeprefix("/runs/"))
    assert periodic["period"]  # the current month, as the command line defaults
    runs = len(api.list_runs(kantor.db))
    duplicate = admin.post("/admin/start", data={"csrftoken": csrf(admin), "definition": "pengumpulan-data"})
    assert duplicate.status_code == 409
    assert len(api.list_runs(kantor.db)) == runs


GETS = ["/admin", "/admin/people", "/admin/people/new", "/admin/people/edit?name=Rina%20Wati", "/admin/definitions",
        "/admin/definitions/surat-keluar", "/admin/definition-new", "/admin/calendar", "/admin/start",
        "/admin/start?definition=pengumpulan-data", "/admin/runs/{run}/assignments"]


def test_staff_and_auditors_get_403_everywhere_and_write_nothing(tmp_path: Path) -> None:
    kantor = make(tmp_path, "staf", "auditor")
    run_id = start(kantor)
    posts = {
        "/admin/people": {"name": "Orang Baru", "access": "admin"},
        "/admin/people/edit": {"name": "Rina Wati", "access": "admin"},
        "/admin/people/disable": {"name": "Admin Kantor"},
        "/admin/people/enable": {"name": "Rina Wati"},
        "/admin/people/password": {"name": "Admin Kantor", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        f"/admin/runs/{run_id}/assignments": {"role": "kepala-bidang", "person": "Rina Wati"},
        f"/admin/runs/{run_id}/assignments/remove": {"role": "kepala-bidang", "person": "Rina Wati"},
        "/admin/definitions": {"name": "surat-masuk.yaml", "text": _valid_text(kantor), "action": "publish"},
        "/admin/calendar": {"text": "timezone: Asia/Jakarta\n", "action": "publish"},
        "/admin/start": {"definition": "surat-keluar"},
    }
    before = (office_events(kantor.db), run_events(kantor.db, run_id), len(api.list_runs(kantor.db)))
    for key in ("staf", "auditor"):
        client = kantor.client(key)
        for path in GETS:
            assert client.get(path.format(run=run_id)).status_code == 403, (key, path)
        for path, data in posts.items():
            assert client.post(path, data={"csrftoken": csrf(client), **data}).status_code == 403, (key, path)
    assert (office_events(kantor.db), run_events(kantor.db, run_id), len(api.list_runs(kantor.db))) == before
    assert not (kantor.definitions / "surat-masuk.yaml").exists()
    assert sign_in(kantor.anonymous(), kantor.name("admin"), PASSWORD)


def test_every_admin_page_renders_in_both_languages(tmp_path: Path) -> None:
    kantor = make(tmp_path, "staf")
    run_id = start(kantor)
    for lang in ("id", "en"):
        admin = kantor.client("admin", lang=lang)
        for path in GETS:
            response = admin.get(path.format(run=run_id))
            assert response.status_code == 200, (lang, path, response.text)
            assert 'href="/admin"' in response.text and "<h1>" in response.text
        assert admin.get("/admin/definitions/..%2Fkantor").status_code in (400, 404)


def test_a_run_in_flight_keeps_the_definition_it_started_with(tmp_path: Path) -> None:
    kantor = make(tmp_path)
    from sopengine import channel

    with channel.signed_in(1, channel.WEB, "password-session"):
        run_id = str(api.start_run("surat-keluar", db=kantor.db, definitions=kantor.definitions)["run_id"])
    pinned = api.run_status(kantor.db, run_id)["definition_hash"]
    admin = kantor.client("admin")
    text = (kantor.definitions / "surat-keluar.yaml").read_text(encoding="utf-8")
    title = api.get_definition("surat-keluar", kantor.definitions).title
    changed = text.replace(f"\ntitle: {title}\n", f"\ntitle: {title} (revisi)\n", 1)
    assert changed != text
    response = admin.post("/admin/definitions", data={"csrftoken": csrf(admin), "name": "surat-keluar.yaml", "text": changed,
                                                      "action": "publish"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert api.get_definition("surat-keluar", kantor.definitions).title == title + " (revisi)"
    status = api.run_status(kantor.db, run_id, definitions=kantor.definitions)
    assert status["definition_hash"] == pinned and status["title"] == title
