"""The office server end to end in a real browser: headless Chromium driven by Playwright.

``sopengine serve`` runs as a real process on a free loopback port. An admin signs in and
creates the accounts and their roles, and starts a run; a staff member signs in, finds the
step in the inbox, uploads a document, completes and decides until the run ends; an auditor
verifies the history and downloads the run's evidence pack, which ``verify-pack`` accepts.
Screenshots of the inbox and a run page (office PC and phone) are taken on the way; with
SOPENGINE_UPDATE_SCREENSHOTS=1 they replace the ones in ``docs/img/``.

Without a browser the tests skip, saying why; with SOPENGINE_REQUIRE_BROWSER=1 they fail
instead (CI sets it).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sopengine import api, people
from sopengine.cli import cli
from sopengine.identity import os_user

from server_support import serving
import test_render_browser

pytestmark = pytest.mark.browser

# the rendering tests' Chromium (the system's, headless): skipped without it, failed where SOPENGINE_REQUIRE_BROWSER=1
browser = test_render_browser.browser

ROOT = Path(__file__).resolve().parent.parent
UPDATE_SCREENSHOTS = os.environ.get("SOPENGINE_UPDATE_SCREENSHOTS") == "1"
ADMIN, STAFF, AUDITOR = "Admin Kantor", "Rina Wati", "Inspektur Hadi"
ADMIN_PASSWORD, STAFF_PASSWORD, AUDITOR_PASSWORD = "sandi-admin-kantor", "sandi-rina-wati-1", "sandi-inspektur-1"
ROLES = ("sekretaris-dinas", "kepala-bidang", "kasubag-pep", "kepala-seksi", "staf-evaluasi")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An office whose only account is its first admin (this process's OS login), served for real."""
    definitions = tmp_path / "definitions"
    shutil.copytree(ROOT / "definitions", definitions)
    db = tmp_path / "kantor.db"
    people.add_person(db, ADMIN, logins=[os_user()], access="admin")
    people.set_password(db, ADMIN, ADMIN_PASSWORD)
    with serving(db, definitions, tmp_path) as url:
        yield url, db


def _signed_in(browser: Any, url: str, username: str, password: str, viewport: dict[str, int] = DESKTOP) -> Any:
    context = browser.new_context(viewport=viewport, base_url=url, accept_downloads=True)
    context.add_cookies([{"name": "sopengine_lang", "value": "en", "url": url}])
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()
    return page


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px screen"


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    page.screenshot(path=str(target), full_page=False)
    if UPDATE_SCREENSHOTS:
        shutil.copyfile(target, ROOT / "docs" / "img" / name)


def test_an_office_works_a_run_through_the_browser(browser: Any, server: tuple[str, Path], tmp_path: Path) -> None:
    url, db = server
    # -- the admin creates the accounts, gives the roles and starts a run
    admin = _signed_in(browser, url, ADMIN, ADMIN_PASSWORD)
    for name, access, roles, password in ((STAFF, "staff", ROLES, STAFF_PASSWORD), (AUDITOR, "auditor", (), AUDITOR_PASSWORD)):
        admin.goto("/admin/people/new")
        form = admin.locator("form[action='/admin/people']")
        form.locator("input[name=name]").fill(name)
        form.locator("select[name=access]").select_option(access)
        for role in roles:
            form.locator(f"input[name=roles][value='{role}']").check()
        form.locator("button[type=submit]").click()
        admin.wait_for_load_state()
        admin.goto(f"/admin/people/edit?name={name}")
        form = admin.locator("form[action='/admin/people/password']")
        form.locator("input[name=password]").fill(password)
        form.locator("input[name=confirm]").fill(password)
        form.locator("button[type=submit]").click()
        admin.wait_for_load_state()
    registered = {p["name"]: p for p in people.list_people(db)}
    assert set(registered[STAFF]["roles"]) == set(ROLES) and registered[AUDITOR]["access"] == "auditor"
    started = []
    for period in ("2026-11", "2026-12"):
        admin.goto("/admin/start?definition=pengumpulan-data")
        form = admin.locator("form[action='/admin/start'][method=post]")
        form.locator("input[name=period]").fill(period)
        form.locator("button[type=submit]").click()
        admin.wait_for_url("**/runs/*")
        started.append(admin.url.rstrip("/").rsplit("/", 1)[1])
    run_id = started[-1]
    assert [api.run_status(db, r)["period"] for r in started] == ["2026-11", "2026-12"]

    # -- a staff member finds the step in the inbox and works the run to its end
    staff = _signed_in(browser, url, STAFF, STAFF_PASSWORD)
    staff.goto("/")
    assert staff.locator(f"a[href='/runs/{run_id}']").count() >= 1
    _shot(staff, tmp_path, "office-inbox.png")
    # phone-sized: the inbox and the run page read without scrolling sideways
    phone = _signed_in(browser, url, STAFF, STAFF_PASSWORD, viewport=PHONE)
    phone.goto("/")
    assert phone.locator(f"a[href='/runs/{run_id}']").count() >= 1
    _no_sideways_scroll(phone)
    _shot(phone, tmp_path, "office-inbox-phone.png")
    phone.goto(f"/runs/{run_id}")
    _no_sideways_scroll(phone)
    staff.locator(f"a[href='/runs/{run_id}']").first.click()
    staff.wait_for_url(f"**/runs/{run_id}")
    _shot(staff, tmp_path, "office-run.png")
    uploaded = tmp_path / "Disposisi.pdf"
    uploaded.write_bytes(b"%PDF-1.4\n% disposisi kepala dinas\n")
    documents = 0
    for _ in range(40):
        forms = staff.locator("form.act")
        if forms.count() == 0:
            break
        form = forms.first
        files = form.locator("input[type=file]")
        if files.count():
            files.first.set_input_files(str(uploaded))  # a document with the first output of each step
            documents += 1
        if "decide" in (form.get_attribute("class") or ""):
            buttons = form.locator("button[name=outcome]")
            forward = form.locator("button[name=outcome][value='Ya']")
            (forward if forward.count() else buttons).first.click()
        else:
            form.locator("button[type=submit]").click()
        staff.wait_for_load_state()
        assert "flash error" not in staff.content(), staff.content()
    status = api.run_status(db, run_id)
    assert status["status"] == "completed"
    con = sqlite3.connect(db)
    kept = con.execute("SELECT count(*) FROM documents WHERE run_id = ? AND path = 'upload:Disposisi.pdf'", (run_id,)).fetchone()[0]
    assert documents >= 1 and kept == documents, (documents, kept)
    writers = {row for row in con.execute(
        "SELECT person, json_extract(payload, '$.via'), json_extract(payload, '$.auth') FROM events"
        " WHERE run_id = ? AND kind IN ('step_completed', 'decided') AND person != 'sopengine'", (run_id,))}
    con.close()
    assert writers == {(STAFF, "web", "password-session")}

    # -- the auditor verifies the history and takes the evidence pack
    auditor = _signed_in(browser, url, AUDITOR, AUDITOR_PASSWORD)
    auditor.goto("/audit/verify")
    auditor.locator("main form button[type=submit]").first.click()
    auditor.wait_for_load_state()
    assert api.verify(db)["ok"]
    assert api.verify(db)["head"].split("@")[0][:12] in auditor.content()
    with auditor.expect_download() as download:
        auditor.evaluate(f"() => {{ const a = document.createElement('a'); a.href = '/audit/runs/{run_id}/pack';"
                         " document.body.appendChild(a); a.click(); }")
    pack = tmp_path / "pack.zip"
    download.value.save_as(str(pack))
    checked = CliRunner().invoke(cli, ["audit", "verify-pack", str(pack), "--lang", "en"])
    assert checked.exit_code == 0, checked.output
    # the auditor may not act: the run page offers them no form, the API refuses
    auditor.goto(f"/runs/{run_id}")
    assert auditor.locator("form.act").count() == 0
