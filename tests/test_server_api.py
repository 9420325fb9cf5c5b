"""The office server's JSON API: the command line's --json shapes, who may write, and every refusal.

Over a real database with a people register and the real application (tests/server_support.py);
the command line's JSON is read through click's CliRunner over the same database. Every refusal
checks its status, its error shape and that no event was written.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from server_support import PASSWORD, Office, office
from sopengine import api, people
from sopengine.cli import cli

ROLE_OF = {"sekretaris-dinas": "sekretaris", "kepala-bidang": "kabid", "kasubag-pep": "kasubag",
           "kepala-seksi": "kasi", "staf-evaluasi": "staf"}


@pytest.fixture(scope="module")
def kantor(tmp_path_factory: pytest.TempPathFactory) -> Office:
    """One office for the module (its people's passwords take a while to hash): each test starts
    runs of its own periods and counts the events it writes itself."""
    return office(tmp_path_factory.mktemp("kantor"))


def events(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        con.close()


def cli_json(kantor: Office, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--db", str(kantor.db), "--definitions", str(kantor.definitions), *args, "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["message"]
    if code is not None:
        assert error["code"] == code
    return error  # type: ignore[no-any-return]


def start(client: TestClient, definition: str = "pengumpulan-data", **body: Any) -> str:
    response = client.post("/api/runs", json={"definition": definition, **body})
    assert response.status_code == 201, response.text
    return str(response.json()["run_id"])


def bare(kantor: Office, token: str | None = None) -> TestClient:
    """A client with no cookies at all (as a script calls the API), with *token* if given."""
    client = TestClient(kantor.app, base_url="http://testserver")
    if token is not None:
        client.headers["Authorization"] = "Bearer " + token
    kantor.clients.append(client)
    return client


# -- signing in -----------------------------------------------------------------------------------

def test_a_token_is_issued_for_a_password_and_opens_the_api(kantor: Office) -> None:
    anonymous = bare(kantor)
    issued = anonymous.post("/api/token", json={"username": kantor.name("kasubag"), "password": PASSWORD})
    assert issued.status_code == 200, issued.text
    assert set(issued.json()) == {"token", "expires_at"}
    client = bare(kantor, issued.json()["token"])
    assert client.get("/api/runs").status_code == 200
    assert isinstance(client.get("/api/inbox").json(), list)
    refused(anonymous.post("/api/token", json={"username": kantor.name("kasubag"), "password": "salah"}), 401, "sign_in_refused")


def test_no_token_or_a_bad_one_is_401_and_writes_nothing(kantor: Office) -> None:
    run_id = start(kantor.api("sekretaris"), period="2025-01")
    before = events(kantor.db)
    for client in (bare(kantor), bare(kantor, "not-a-token")):
        for path, body in (("/api/runs", {"definition": "pengumpulan-data"}), (f"/api/runs/{run_id}/complete", {"step": "1"})):
            response = client.post(path, json=body)
            refused(response, 401, "not_signed_in")
            assert response.headers["www-authenticate"] == "Bearer"
        for path in ("/api/runs", f"/api/runs/{run_id}", "/api/inbox", "/api/overdue", "/api/history"):
            refused(client.get(path), 401, "not_signed_in")
    assert events(kantor.db) == before


def test_a_token_is_revoked_when_the_password_changes(tmp_path: Path) -> None:
    kantor = office(tmp_path, keys=("admin", "sekretaris"))
    client = kantor.api("sekretaris")
    assert client.get("/api/runs").status_code == 200
    before = events(kantor.db)
    people.set_password(kantor.db, kantor.name("sekretaris"), "kata-sandi-baru-2")
    refused(client.get("/api/runs"), 401, "not_signed_in")
    refused(client.post("/api/runs", json={"definition": "pengumpulan-data"}), 401, "not_signed_in")
    assert events(kantor.db) == before
    issued = bare(kantor).post("/api/token", json={"username": kantor.name("sekretaris"), "password": "kata-sandi-baru-2"})
    assert bare(kantor, issued.json()["token"]).get("/api/runs").status_code == 200


def test_healthz_needs_no_sign_in(kantor: Office) -> None:
    response = bare(kantor).get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


# -- who may write ----------------------------------------------------------------------------------

def test_an_auditor_may_read_but_not_write(kantor: Office) -> None:
    run_id = start(kantor.api("sekretaris"), period="2025-02")
    auditor = kantor.api("auditor")
    before = events(kantor.db)
    refused(auditor.post("/api/runs", json={"definition": "pengumpulan-data"}), 403, "forbidden")
    refused(auditor.post(f"/api/runs/{run_id}/complete", json={"step": "1"}), 403, "forbidden")
    refused(auditor.post(f"/api/runs/{run_id}/decide", json={"step": "1", "outcome": "Ya"}), 403, "forbidden")
    assert events(kantor.db) == before
    assert auditor.get(f"/api/runs/{run_id}").json()["run_id"] == run_id
    assert [e["kind"] for e in auditor.get("/api/history", params={"run": run_id}).json()] == ["run_started"]


def test_staff_may_not_act_outside_their_role(kantor: Office) -> None:
    run_id = start(kantor.api("sekretaris"), period="2025-03")
    before = events(kantor.db)
    error = refused(kantor.api("kasubag").post(f"/api/runs/{run_id}/complete", json={"step": "1"}), 403, "not_assigned")
    assert kantor.name("kasubag") in error["message"]
    assert events(kantor.db) == before
    assert kantor.api("sekretaris").get(f"/api/runs/{run_id}").json()["open_steps"][0]["step"] == "kumpulkan-data"


# -- refusals -----------------------------------------------------------------------------------------

def test_an_unknown_run_or_definition_is_404(kantor: Office) -> None:
    client = kantor.api("sekretaris")
    before = events(kantor.db)
    refused(client.get("/api/runs/zzz-zzz"), 404, "run_not_found")
    refused(client.post("/api/runs/zzz-zzz/complete", json={"step": "1"}), 404, "run_not_found")
    refused(client.post("/api/runs/zzz-zzz/decide", json={"step": "1", "outcome": "Ya"}), 404, "run_not_found")
    refused(client.post("/api/runs", json={"definition": "tidak-ada"}), 404, "definition_not_found")
    assert events(kantor.db) == before


def test_completing_a_step_twice_deciding_a_step_not_open_or_a_second_run_is_409(kantor: Office) -> None:
    client = kantor.api("sekretaris")
    run_id = start(client, period="2025-04")
    done = client.post(f"/api/runs/{run_id}/complete", json={"step": "1"})
    assert done.status_code == 200, done.text
    before = events(kantor.db)
    error = refused(client.post(f"/api/runs/{run_id}/complete", json={"step": "1"}), 409, "step_not_open")
    assert kantor.name("sekretaris") in error["message"]  # who completed it
    kasubag = kantor.api("kasubag")
    refused(kasubag.post(f"/api/runs/{run_id}/decide", json={"step": "2", "outcome": "Ya"}), 409, "step_not_open")
    refused(kasubag.post(f"/api/runs/{run_id}/decide", json={"step": "akhir-semester", "outcome": "Ya"}), 409, "step_not_open")
    refused(client.post("/api/runs", json={"definition": "pengumpulan-data", "period": "2025-04"}), 409, "duplicate_run")
    assert events(kantor.db) == before
    # the repeat never completed the next step: row 2 is still open
    assert [s["step"] for s in client.get(f"/api/runs/{run_id}").json()["open_steps"]] == ["rekap-laporan"]


def test_a_bad_body_or_an_unknown_outcome_is_400(kantor: Office) -> None:
    client = kantor.api("sekretaris")
    run_id = start(client, period="2025-05")
    before = events(kantor.db)
    for body in ({}, {"step": ""}, {"step": 1.5}, {"step": "1", "by": "Siti Rahma"}):
        refused(client.post(f"/api/runs/{run_id}/complete", json=body), 400, "invalid_request")
    refused(client.post(f"/api/runs/{run_id}/complete", content=b"{step", headers={"content-type": "application/json"}),
            400, "invalid_request")
    refused(client.post(f"/api/runs/{run_id}/decide", json={"step": "1"}), 400, "invalid_request")
    refused(client.post("/api/runs", json={"period": "2026-10"}), 400, "invalid_request")
    refused(client.post("/api/runs", json={"definition": "pengumpulan-data", "period": "Oktober"}), 400)
    refused(kantor.api("auditor").get("/api/history", params={"limit": -1}), 400, "invalid_request")
    refused(client.get("/api/history"), 403, "forbidden")  # the whole history is for auditors and admins
    assert events(kantor.db) == before
    # an outcome the decision does not have: a decision of surat-keluar, taken by an admin
    admin = kantor.api("admin")
    letter = start(admin, "surat-keluar")
    for step in ("1", "2"):
        assert admin.post(f"/api/runs/{letter}/complete", json={"step": step}).status_code == 200
    before = events(kantor.db)
    error = refused(admin.post(f"/api/runs/{letter}/decide", json={"step": "3", "outcome": "Mungkin"}), 400, "unknown_outcome")
    assert "Ya" in error["message"]
    assert events(kantor.db) == before
    decided = admin.post(f"/api/runs/{letter}/decide", json={"step": "3", "outcome": "Ya", "note": "setuju"})
    assert decided.status_code == 200, decided.text
    assert decided.json() | {"at": None} == {"run_id": letter, "status": "active", "opened": ["periksa-sekretaris"],
                                              "step": "periksa-kasubag", "outcome": "Ya", "decided_by": kantor.name("admin"),
                                              "at": None}


# -- a whole run ----------------------------------------------------------------------------------------

def test_a_full_run_through_the_api_by_the_right_people(kantor: Office) -> None:
    clients = {key: kantor.api(key) for key in ROLE_OF.values()}
    created = clients["sekretaris"].post("/api/runs", json={"definition": "pengumpulan-data", "period": "2026-06"})
    assert created.status_code == 201, created.text
    run_id = created.json()["run_id"]
    assert created.headers["location"] == f"/api/runs/{run_id}"
    done = []
    status = created.json()
    while status["status"] == "active":
        (step,) = status["open_steps"]
        client = clients[ROLE_OF[step["actor"]]]
        assert step["step"] in [r["step"] for r in client.get("/api/inbox", params={"role": step["actor"]}).json()]
        answer = client.post(f"/api/runs/{run_id}/complete", json={"step": step["step"], "note": f"selesai {step['no']}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["step"] == step["step"]
        assert answer.json()["completed_by"] == kantor.name(ROLE_OF[step["actor"]])
        done.append(step["no"])
        status = client.get(f"/api/runs/{run_id}").json()
    assert done == ["1", "2", "3", "4", "5", "6", "7", "8"]  # a semester's end, not a year's: row 9 is skipped
    assert status["status"] == "completed" and status["open_steps"] == []
    assert run_id not in [r["run_id"] for r in clients["kasi"].get("/api/runs").json()]
    assert run_id in [r["run_id"] for r in clients["kasi"].get("/api/runs", params={"all": "true"}).json()]
    # every event a person made records the signed-in person, through the API, by token
    made = [e for e in api.history(kantor.db, run=run_id) if e["person"] != "sopengine"]
    assert [e["kind"] for e in made] == ["run_started"] + ["step_completed"] * 8 + ["run_completed"]
    for entry in made:
        assert entry["payload"]["via"] == "api" and entry["payload"]["auth"] == "token", entry
    completed = [e for e in made if e["kind"] == "step_completed"]
    assert [e["person"] for e in completed] == [kantor.name(ROLE_OF[e["actor"]]) for e in completed]
    assert made[0]["person"] == kantor.name("sekretaris") and made[-1]["person"] == kantor.name("kabid")


# -- the command line's JSON ----------------------------------------------------------------------------

def test_the_json_is_the_command_lines(kantor: Office) -> None:
    client = kantor.api("sekretaris")
    run_id = start(client, period="2026-10")
    start(client, period="2026-11")
    assert client.post(f"/api/runs/{run_id}/complete", json={"step": "1", "note": "sudah"}).status_code == 200
    assert client.get(f"/api/runs/{run_id}").json() == cli_json(kantor, "status", run_id)
    assert client.get("/api/runs").json() == cli_json(kantor, "status")
    assert client.get("/api/runs", params={"all": "true"}).json() == cli_json(kantor, "status", "--all")
    letters = [r for r in cli_json(kantor, "status", "--all") if r["definition"] == "surat-keluar"]
    assert client.get("/api/runs", params={"definition": "surat-keluar", "all": "true"}).json() == letters
    assert client.get("/api/inbox", params={"role": "kasubag-pep"}).json() == cli_json(kantor, "inbox", "--actor", "kasubag-pep")
    assert client.get("/api/overdue").json() == cli_json(kantor, "overdue")
    auditor = kantor.api("auditor")
    assert auditor.get("/api/history", params={"run": run_id, "limit": 0}).json() == cli_json(kantor, "history", "--run", run_id)
    assert auditor.get("/api/history", params={"kind": "run_started"}).json() == cli_json(kantor, "history", "--kind", "run_started")
    # the inbox of the signed-in person: the steps of the roles they are assigned to in each run
    api.assign(kantor.db, run_id, "kasubag-pep", kantor.name("kasubag"))
    kasubag = kantor.api("kasubag")
    mine = kasubag.get("/api/inbox").json()
    assert (run_id, "rekap-laporan") in [(r["run_id"], r["step"]) for r in mine]
    assert not [r for r in mine if r["actor"] != "kasubag-pep"]
    assert mine == cli_json(kantor, "inbox", "--person", kantor.name("kasubag"))


def test_history_comes_a_page_at_a_time(kantor: Office) -> None:
    for period in ("2026-07", "2026-08", "2026-09"):
        start(kantor.api("sekretaris"), period=period)
    client = kantor.api("auditor")
    everything = client.get("/api/history", params={"kind": "run_started", "limit": 0})
    assert len(everything.json()) >= 3 and "x-next-offset" not in everything.headers
    pages, offset = [], 0
    while True:
        page = client.get("/api/history", params={"kind": "run_started", "limit": 2, "offset": offset})
        pages.extend(page.json())
        if "x-next-offset" not in page.headers:
            break
        offset = int(page.headers["x-next-offset"])
    assert pages == everything.json()
    assert client.get("/api/history", params={"kind": "run_started", "offset": len(pages)}).json() == []


def test_the_openapi_document_describes_every_path(kantor: Office) -> None:
    response = bare(kantor).get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    paths = doc["paths"]
    expected = {
        "/api/runs": {"get", "post"}, "/api/runs/{run_id}": {"get"}, "/api/runs/{run_id}/complete": {"post"},
        "/api/runs/{run_id}/decide": {"post"}, "/api/inbox": {"get"}, "/api/overdue": {"get"}, "/api/history": {"get"},
        "/api/token": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    bodies = {
        ("/api/runs", "post"): "StartRun", ("/api/runs/{run_id}/complete", "post"): "CompleteStep",
        ("/api/runs/{run_id}/decide", "post"): "Decide",
    }
    for (path, method), model in bodies.items():
        schema = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert schema["$ref"] == f"#/components/schemas/{model}"
    for path, methods in expected.items():
        if path == "/api/token":
            continue
        for method in methods:
            responses = paths[path][method]["responses"]
            assert "401" in responses and "default" in responses and "422" not in responses, (path, method)
            assert responses["401"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorResponse"
            ok = "201" if (path, method) == ("/api/runs", "post") else "200"
            assert "$ref" in json.dumps(responses[ok]["content"]["application/json"]["schema"]), (path, method)
    assert set(doc["components"]["schemas"]["ErrorDetail"]["properties"]) == {"code", "message"}
    assert doc["components"]["securitySchemes"]["token"] == {"type": "http", "scheme": "bearer",
                                                             "description": "A token from POST /api/token."}
    assert paths["/api/history"]["get"]["security"] == [{"token": []}]
    assert "403" in paths["/api/runs/{run_id}/complete"]["post"]["responses"]
    assert "409" in paths["/api/runs/{run_id}/decide"]["post"]["responses"]
