"""The staff pages: the inbox, the runs, a run's page and acting on its steps, through the real app."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from sopengine import api
from sopengine.store import Store
from server_support import Office, csrf, office

NOW = "2026-12-02T10:00:00+07:00"
"""The office's clock for these tests (SOPENGINE_NOW): what the pages read and the writes record."""


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPENGINE_NOW", NOW)


def start(o: Office, definition: str = "pengumpulan-data", period: str | None = "2026-12",
          at: str = "2026-12-01T09:00:00+07:00") -> str:
    """A run started through the library (as the admin, whose OS login runs the tests)."""
    result = api.start_run(definition, db=o.db, definitions=o.definitions, period=period, now=at)
    return str(result["run_id"])


def advance(o: Office, run_id: str, steps: int, at: str) -> None:
    """Complete the run's open steps *steps* times through the library, one minute apart from *at*."""
    from datetime import datetime, timedelta

    moment = datetime.fromisoformat(at)
    for i in range(steps):
        step = api.open_steps(o.db, run_id)[0]
        api.complete(o.db, run_id, step=step["step"], task=step["task"], now=(moment + timedelta(minutes=i + 1)).isoformat())


def events(o: Office, run_id: str) -> list[dict[str, Any]]:
    """The run's events as stored: kind, person, step and payload."""
    with Store(o.db, readonly=True) as store:
        rows = store.conn.execute("SELECT kind, person, step_id, payload FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
        return [{"kind": k, "person": p, "step": s, "payload": json.loads(d)} for k, p, s, d in rows]


def task_of(o: Office, run_id: str) -> int:
    return int(api.open_steps(o.db, run_id)[0]["task"])


def complete_form(client: Any, run_id: str, task: int, step: str, files: dict[str, Any] | None = None,
                  note: str = "") -> Any:
    """Send a run page's complete form as a browser does: multipart, the CSRF token first."""
    data = {"csrftoken": csrf(client), "task": str(task), "step": step, "note": note}
    return client.post(f"/runs/{run_id}/complete", data=data, files=files or {"output:Disposisi": ("", b"")},
                       follow_redirects=False)


def test_inbox_lists_own_open_steps_overdue_first(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "kabid", "sekretaris"))
    # run a reaches step 7 (Kepala Bidang, 120 days) first; run b reaches step 8 (Kepala Bidang, 60 minutes) later
    a = start(o, period="2026-06", at="2026-11-30T08:00:00+07:00")
    advance(o, a, 6, "2026-11-30T08:00:00+07:00")
    b = start(o, period="2026-12", at="2026-12-01T08:00:00+07:00")
    advance(o, b, 7, "2026-12-01T08:00:00+07:00")
    other = start(o, period="2026-11", at="2026-12-01T09:00:00+07:00")  # waits for the Sekretaris Dinas

    kabid = o.client("kabid")
    page = kabid.get("/")
    assert page.status_code == 200
    html = page.text
    assert f"/runs/{a}" in html and f"/runs/{b}" in html
    assert f"/runs/{other}" not in html  # another role's step
    assert html.index(f"/runs/{b}") < html.index(f"/runs/{a}")  # overdue first, though opened later
    assert "Mensosialisasikan laporan semester" in html  # the kegiatan as the SOP writes it
    assert "Menyusun laporan semester dan laporan tahunan" in html
    assert "2026-12-01 09:07 WIB" in html  # step 8 of run b opened 08:07, due after 60 minutes
    assert "late by" in html

    sekretaris = o.client("sekretaris")
    html = sekretaris.get("/").text
    assert f"/runs/{other}" in html and f"/runs/{a}" not in html
    # a run that assigns the role to someone else is theirs, not the register's other holders'
    api.assign(o.db, other, "sekretaris-dinas", o.name("kabid"), acting=True, now="2026-12-01T09:30:00+07:00")
    assert f"/runs/{other}" not in sekretaris.get("/").text
    assert f"/runs/{other}" in kabid.get("/").text
    assert "Mengumpulkan data laporan kinerja bulanan/triwulan kepada subbag/seksi." in html


def test_empty_inbox_and_auditor(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "kasi", "auditor"))
    start(o)
    assert "Nothing is waiting for you." in o.client("kasi").get("/").text
    auditor = o.client("auditor").get("/")
    assert auditor.status_code == 200
    assert 'href="/audit"' in auditor.text and "Auditors have no inbox" in auditor.text


def test_runs_list_active_and_all(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    live = start(o)
    gone = start(o, period="2026-11")
    api.cancel(o.db, gone, reason="Dimulai dua kali", now="2026-12-01T10:00:00+07:00")
    client = o.client("sekretaris")
    active = client.get("/runs").text
    assert f"/runs/{live}" in active and f"/runs/{gone}" not in active
    assert "Pengumpulan Data Kinerja" in active and "2026-12" in active and "2026-12-01 09:00 WIB" in active
    every = client.get("/runs?all=true").text
    assert f"/runs/{live}" in every and f"/runs/{gone}" in every


def test_complete_with_upload_records_the_person_and_the_document(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    run_id = start(o)
    client = o.client("sekretaris")
    page = client.get(f"/runs/{run_id}").text
    # the form: the CSRF token first, the open task pinned, one file input per declared output
    form = re.search(r'<form method="post" action="/runs/[^"]+/complete".*?</form>', page, re.S)
    assert form is not None
    assert re.search(r'<form[^>]*>\s*<input type="hidden" name="csrftoken"', form.group(0))
    task = task_of(o, run_id)
    assert f'name="task" value="{task}"' in form.group(0)
    assert 'name="output:Disposisi"' in form.group(0)

    content = b"%PDF-1.4 disposisi sekretaris\n"
    response = complete_form(client, run_id, task, "kumpulkan-data",
                             files={"output:Disposisi": ("disposisi.pdf", content, "application/pdf")}, note="Sudah dikirim")
    assert response.status_code == 303 and response.headers["location"] == f"/runs/{run_id}"
    after = client.get(f"/runs/{run_id}").text
    assert "Completed 1. Mengumpulkan data laporan kinerja" in after  # the flash

    status = api.run_status(o.db, run_id)
    done = status["timeline"][0]
    assert done["state"] == "done" and done["closed_by"] == o.name("sekretaris") and done["note"] == "Sudah dikirim"
    doc = done["documents"][0]
    assert doc["name"] == "Disposisi" and doc["path"] == "upload:disposisi.pdf"
    assert doc["sha256"] == hashlib.sha256(content).hexdigest() and doc["size"] == len(content)
    assert doc["sha256"][:12] in after
    event = [e for e in events(o, run_id) if e["kind"] == "step_completed"][0]
    assert event["person"] == o.name("sekretaris")
    assert event["payload"]["via"] == "web" and event["payload"]["auth"] == "password-session"


def test_a_form_sent_twice_is_refused_and_never_completes_the_next_step(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris", "kasubag"))
    run_id = start(o)
    # Budi Santoso (Kasubag) is on step 2 and acts on it here: the repeated form of step 1 must not touch it
    client = o.client("sekretaris")
    task = task_of(o, run_id)
    assert complete_form(client, run_id, task, "kumpulkan-data").status_code == 303
    count = len(events(o, run_id))
    again = complete_form(client, run_id, task, "kumpulkan-data")
    assert again.status_code == 409
    assert "already completed by Agus Supriyadi" in again.text
    assert len(events(o, run_id)) == count
    assert api.open_steps(o.db, run_id)[0]["step"] == "rekap-laporan"


def test_a_person_outside_the_role_is_refused(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "kasi", "auditor"))
    run_id = start(o)
    count = len(events(o, run_id))
    kasi = o.client("kasi")
    assert "Complete this step" not in kasi.get(f"/runs/{run_id}").text  # no form offered
    refused = complete_form(kasi, run_id, task_of(o, run_id), "kumpulkan-data")
    assert refused.status_code == 403
    assert "does not hold the role" in refused.text
    auditor = o.client("auditor")
    assert complete_form(auditor, run_id, task_of(o, run_id), "kumpulkan-data").status_code == 403
    assert len(events(o, run_id)) == count
    assert api.open_steps(o.db, run_id)[0]["step"] == "kumpulkan-data"


def raw_upload(client: Any, run_id: str, task: int, filename: bytes) -> Any:
    """A complete form whose file part names *filename* as raw bytes (a browser's or a script's)."""
    boundary = "sopenginebatas"
    parts = [("csrftoken", csrf(client)), ("task", str(task)), ("step", "kumpulkan-data")]
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in parts)
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="output:Disposisi"; filename="'.encode() + filename
             + b'"\r\nContent-Type: application/pdf\r\n\r\nisi\r\n' + f"--{boundary}--\r\n".encode())
    return client.post(f"/runs/{run_id}/complete", content=body, follow_redirects=False,
                       headers={"content-type": f"multipart/form-data; boundary={boundary}"})


def test_an_upload_that_is_not_a_bare_file_name_is_refused(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    run_id = start(o)
    count = len(events(o, run_id))
    client = o.client("sekretaris")
    task = task_of(o, run_id)
    for name in (b"../../x", b"a/b.pdf", b"a\\b.pdf", b"..", b"x\x01.pdf", b"x\x00.pdf", b" "):
        refused = raw_upload(client, run_id, task, name)
        assert refused.status_code == 400, (name, refused.text)
        assert "is not a bare file name" in refused.text
    empty = raw_upload(client, run_id, task, b"")  # a file with bytes but no name
    assert empty.status_code == 400 and "is not a bare file name" in empty.text
    assert len(events(o, run_id)) == count
    with Store(o.db, readonly=True) as store:
        assert store.conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
    assert raw_upload(client, run_id, task, "nota dinas 1.pdf".encode()).status_code == 303


def test_an_upload_over_the_limit_is_refused(tmp_path: Path) -> None:
    o = office(tmp_path, upload_limit=1024, keys=("admin", "sekretaris"))
    run_id = start(o)
    count = len(events(o, run_id))
    client = o.client("sekretaris")
    big = b"x" * (1024 + 300 * 1024)
    refused = complete_form(client, run_id, task_of(o, run_id), "kumpulkan-data",
                            files={"output:Disposisi": ("besar.pdf", big, "application/pdf")})
    assert refused.status_code == 413
    assert len(events(o, run_id)) == count
    assert api.open_steps(o.db, run_id)[0]["step"] == "kumpulkan-data"


def test_decide_and_return(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin",))
    run_id = start(o, "surat-keluar", period=None)
    advance(o, run_id, 2, "2026-12-01T09:00:00+07:00")
    admin = o.client("admin")
    page = admin.get(f"/runs/{run_id}").text
    assert 'name="outcome" value="Ya"' in page and 'name="outcome" value="Tidak"' in page
    task = task_of(o, run_id)
    form = {"csrftoken": csrf(admin), "task": str(task), "step": "3", "outcome": "Tidak", "note": "Nomor surat salah"}
    response = admin.post(f"/runs/{run_id}/decide", data=form, files={"none": ("", b"")}, follow_redirects=False)
    assert response.status_code == 303
    assert "Decided Tidak at 3." in admin.get(f"/runs/{run_id}").text
    count = len(events(o, run_id))
    again = admin.post(f"/runs/{run_id}/decide", data={**form, "outcome": "Ya"}, files={"none": ("", b"")}, follow_redirects=False)
    assert again.status_code == 409 and len(events(o, run_id)) == count
    decided = [e for e in events(o, run_id) if e["kind"] == "decided"][-1]
    assert decided["payload"]["outcome"] == "Tidak" and decided["payload"]["via"] == "web"

    page = admin.get(f"/runs/{run_id}").text
    assert "Send the run back to an earlier step" in page
    count = len(events(o, run_id))
    no_reason = admin.post(f"/runs/{run_id}/return", data={"csrftoken": csrf(admin), "step": "2", "reason": " "},
                           files={"none": ("", b"")}, follow_redirects=False)
    assert no_reason.status_code == 400 and len(events(o, run_id)) == count
    back = admin.post(f"/runs/{run_id}/return", data={"csrftoken": csrf(admin), "step": "2", "reason": "Lampiran kurang"},
                      files={"none": ("", b"")}, follow_redirects=False)
    assert back.status_code == 303
    reopened = events(o, run_id)[-1]
    assert reopened["kind"] == "reopened" and reopened["payload"]["reason"] == "Lampiran kurang"
    assert reopened["person"] == o.name("admin") and reopened["payload"]["via"] == "web"
    assert "Run sent back to 2." in admin.get(f"/runs/{run_id}").text


def test_run_page_shows_header_timeline_and_document(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "kasubag"))
    run_id = start(o)
    advance(o, run_id, 1, "2026-12-01T09:00:00+07:00")
    client = o.client("kasubag")
    page = client.get(f"/runs/{run_id}").text
    assert "Pengumpulan Data Kinerja" in page and "2026-12" in page
    assert "2026-12-01 09:00 WIB" in page and "2026-12-01 09:01 WIB" in page
    assert o.name("admin") in page  # who completed step 1
    assert f'src="/runs/{run_id}/document"' in page
    document = client.get(f"/runs/{run_id}/document")
    assert document.status_code == 200 and "Merekap laporan kinerja" in document.text
    assert client.get("/runs/nope-000").status_code == 404


def test_pages_are_indonesian_by_default(tmp_path: Path) -> None:
    o = office(tmp_path, keys=("admin", "sekretaris"))
    run_id = start(o)
    client = o.client("sekretaris", lang="id")
    inbox = client.get("/").text
    assert '<html lang="id">' in inbox
    assert "Langkah" in inbox and "Tenggat" in inbox and "Pelaksanaan" in inbox
    assert "terlambat" in inbox.lower()
    run = client.get(f"/runs/{run_id}").text
    assert "Periode" in run and "Langkah" in run
    client.cookies.delete("sopengine_lang")
    assert '<html lang="id">' in client.get("/runs").text
