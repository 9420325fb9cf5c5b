"""The auditor's pages of the office server: history, CSV, verify, evidence packs, the time
reports and the access log, read by an auditor; refused to staff; nothing written by either."""

from __future__ import annotations

import io
import re
import sqlite3
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api, channel
from sopengine.cli import cli
from sopengine.documents import Upload
from sopengine.server import auditor
from server_support import Office, csrf, office

KEYS = ("admin", "sekretaris", "auditor")

ROUTES = (
    "/audit", "/audit?kind=step_completed", "/audit/history.csv", "/audit/verify", "/audit/verify?check=1&documents=1",
    "/audit/runs/{run}/pack", "/audit/monitoring?definition=pengumpulan-data", "/audit/report?definition=pengumpulan-data",
    "/audit/access",
)


def events(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def admin_id(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT id FROM people WHERE access = 'admin'").fetchone()[0])
    finally:
        conn.close()


def make_office(tmp_path: Path) -> tuple[Office, str]:
    """An office with one run of pengumpulan-data: started and its first step completed on the
    command line by the admin (the test process's OS login), its second through the pages."""
    found = office(tmp_path, keys=KEYS)
    run = api.start_run("pengumpulan-data", db=found.db, definitions=str(found.definitions), period="2026-10")["run_id"]
    api.complete(found.db, run, step="kumpulkan-data", note="data bulan Oktober")
    with channel.signed_in(admin_id(found.db), channel.WEB, "password-session"):
        api.complete(found.db, run, step="rekap-laporan", note="rekap selesai",
                     outputs=[("Lembar Disposisi", Upload("disposisi.pdf", io.BytesIO(b"%PDF-1.4 disposisi\n")))])
    return found, run


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Office, str]:
    """One office the read-only tests share (the tests that change the database make their own)."""
    return make_office(tmp_path_factory.mktemp("office"))


def cli_csv(db: Path, *args: str) -> bytes:
    result = CliRunner().invoke(cli, ["history", "--db", str(db), *args, "--format", "csv"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def table_rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)


def test_history_filters_and_pages(audited: tuple[Office, str]) -> None:
    found, run = audited
    client = found.client("auditor")
    page = client.get("/audit", params={"run": run})
    assert page.status_code == 200
    rows = table_rows(page.text)
    assert len(rows) == 3
    assert "run started" in rows[0] and "step completed" in rows[1] and "step completed" in rows[2]
    assert "Admin Kantor" in rows[1] and "cli" in rows[1] and "os-login" in rows[1] and "data bulan Oktober" in rows[1]
    assert "web" in rows[2] and "password-session" in rows[2] and "Lembar Disposisi" in rows[2] and "disposisi.pdf" in rows[2] and "rekap selesai" in rows[2]
    assert "2. Merekap laporan" in rows[2] and "WIB" in rows[2]
    assert f"/audit/runs/{run}/pack" in page.text

    kind = client.get("/audit", params={"kind": "decided"})
    assert kind.status_code == 200 and "No events match." in kind.text
    person = client.get("/audit", params={"person": "admin kantor", "kind": "step_completed", "step": "2"})
    assert len(table_rows(person.text)) == 1 and "rekap selesai" in person.text

    second = client.get("/audit", params={"run": run, "limit": "1", "page": "2"})
    assert [r for r in table_rows(second.text)] and "data bulan Oktober" in table_rows(second.text)[0]
    assert "page=3" in second.text and "page=1" in second.text

    wrong = client.get("/audit", params={"kind": "dibuang"})
    assert wrong.status_code == 400 and "no event kind" in wrong.text
    missing = client.get("/audit", params={"run": "zzz-zzz"})
    assert missing.status_code == 404 and "no run" in missing.text


def test_history_csv_is_the_commands(audited: tuple[Office, str], monkeypatch: pytest.MonkeyPatch) -> None:
    found, run = audited
    client = found.client("auditor")
    whole = client.get("/audit/history.csv")
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/csv")
    assert "history.csv" in whole.headers["content-disposition"]
    assert whole.content == cli_csv(found.db)
    assert whole.content.startswith(b"\xef\xbb\xbfseq,run,")
    filtered = client.get("/audit/history.csv", params={"run": run, "kind": "step_completed", "since": "2000-01-01"})
    assert filtered.content == cli_csv(found.db, "--run", run, "--kind", "step_completed", "--since", "2000-01-01")
    assert filtered.content.count(b"\r\n") == 3
    limited = client.get("/audit/history.csv", params={"limit": "2"})
    assert limited.content == cli_csv(found.db, "--limit", "2")
    monkeypatch.setattr(auditor, "CSV_CHUNK", 50)  # many small chunks: the stream's bytes are the same
    assert client.get("/audit/history.csv").content == whole.content
    wrong = client.get("/audit/history.csv", params={"step": "99"})
    assert wrong.status_code == 400 and "no SOP in this database has a step" in wrong.text


def test_verify_clean_then_tampered(tmp_path: Path) -> None:
    found, run = make_office(tmp_path)
    client = found.client("auditor")
    form = client.get("/audit/verify")
    assert form.status_code == 200 and 'name="documents"' in form.text and "OK:" not in form.text
    head = api.verify(found.db)["head"]
    clean = client.get("/audit/verify", params={"check": "1", "documents": "1"})
    assert clean.status_code == 200
    assert "OK: 3 events in 1 runs verified" in clean.text and head in clean.text and "@" in head
    assert "1 recorded, 1 unchanged" in clean.text
    matches = client.get("/audit/verify", params={"check": "1", "expect_head": head})
    assert "matches" in matches.text and "DOES NOT MATCH" not in matches.text
    differs = client.get("/audit/verify", params={"check": "1", "expect_head": "a" * 64})
    assert "DOES NOT MATCH" in differs.text

    conn = sqlite3.connect(found.db)
    conn.execute("DROP TRIGGER events_append_only_update")
    conn.execute("UPDATE events SET payload = replace(payload, 'rekap selesai', 'rekap diubah') WHERE run_id = ? AND seq = "
                 "(SELECT max(seq) FROM events WHERE run_id = ?)", (run, run))
    conn.commit()
    conn.close()
    broken = client.get("/audit/verify", params={"check": "1"})
    assert broken.status_code == 200
    assert "FAILED:" in broken.text
    problems = table_rows(broken.text)
    assert problems and run in problems[0]
    assert api.verify(found.db)["first_problem"]["seq"] is not None
    assert f">{api.verify(found.db)['first_problem']['seq']}<" in problems[0]


def test_pack_download_verifies(audited: tuple[Office, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found, run = audited
    client = found.client("auditor")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # this test's own: no other's leftovers in it
    response = client.get(f"/audit/runs/{run}/pack")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert f'filename="evidence-{run}.zip"' in response.headers["content-disposition"]
    target = tmp_path / f"evidence-{run}.zip"
    target.write_bytes(response.content)
    checked = CliRunner().invoke(cli, ["audit", "verify-pack", str(target), "--expect-manifest",
                                       response.headers["x-manifest-sha256"], "--lang", "en"])
    assert checked.exit_code == 0, checked.output
    assert "OK:" in checked.output and "3 events" in checked.output and "1 included" in checked.output
    assert list(temporary.iterdir()) == []  # the temporary folder went with the response
    unknown = client.get("/audit/runs/zzz-zzz/pack")
    assert unknown.status_code == 404


def test_monitoring_and_report(audited: tuple[Office, str]) -> None:
    found, run = audited
    client = found.client("auditor")
    form = client.get("/audit/monitoring")
    assert form.status_code == 200 and "pengumpulan-data" in form.text and "Prosedur" not in form.text
    shown = client.get("/audit/monitoring", params={"definition": "pengumpulan-data", "period": "2026-10"})
    assert shown.status_code == 200
    assert "MONITORING PELAKSANAAN SOP AP" in shown.text and "Pengumpulan Data Kinerja" in shown.text
    rows = table_rows(shown.text)
    assert "Mengumpulkan data laporan kinerja" in rows[0] and "Berjalan dengan baik" in rows[0]
    assert "2026-10" in shown.text
    none = client.get("/audit/monitoring", params={"definition": "pengumpulan-data", "period": "2025-01"})
    assert "No runs in that scope." in none.text
    wrong = client.get("/audit/monitoring", params={"definition": "pengumpulan-data", "period": "Oktober"})
    assert wrong.status_code == 400 and 'class="flash error"' in wrong.text

    report = client.get("/audit/report", params={"definition": "pengumpulan-data", "period": "2026-10"})
    assert report.status_code == 200
    assert "pengumpulan-data: standard against actual time across 1 run(s)" in report.text
    assert "Merekap laporan kinerja" in report.text and run in report.text and "active" in report.text


def test_access_log(audited: tuple[Office, str]) -> None:
    found, _run = audited
    refused = found.anonymous()
    answer = refused.post("/login", data={"csrftoken": csrf(refused), "username": "Inspektur Hadi", "password": "salah",
                                          "next": "/"})
    assert answer.status_code == 401
    client = found.client("auditor")
    found.token("auditor")
    page = client.get("/audit/access")
    assert page.status_code == 200
    rows = table_rows(page.text)
    # newest first: each sign-in is an attempt, then its outcome
    words = ["API token issued", "signed in", "sign-in attempted", "signed in", "sign-in attempted", "sign-in refused",
             "sign-in attempted"]
    assert [next(w for w in words if f">{w}<" in r) for r in rows[:7]] == words
    assert all("Inspektur Hadi" in r for r in rows[:7])
    mine = table_rows(client.get("/audit/access", params={"person": "inspektur HADI"}).text)
    assert mine and all("Inspektur Hadi" in r for r in mine)
    nobody = client.get("/audit/access", params={"person": "Tidak Terdaftar"})
    assert "No entries." in nobody.text


def test_staff_refused_everywhere(audited: tuple[Office, str]) -> None:
    found, run = audited
    before = events(found.db)
    staff = found.client("sekretaris")
    for route in ROUTES:
        response = staff.get(route.format(run=run))
        assert response.status_code == 403, route
        assert "auditor or admin access" in response.text, route
    anonymous = found.anonymous()
    assert anonymous.get("/audit", follow_redirects=False).status_code == 303
    assert events(found.db) == before


def test_readers_write_nothing(audited: tuple[Office, str]) -> None:
    found, run = audited
    before = events(found.db)
    for key, lang in (("auditor", "en"), ("admin", "id")):
        client = found.client(key, lang=lang)
        for route in ROUTES:
            response = client.get(route.format(run=run))
            assert response.status_code == 200, (key, route, response.text[:300])
    assert events(found.db) == before
    assert api.verify(found.db)["ok"]
