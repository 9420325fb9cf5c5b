"""Two ``sopengine serve`` processes over one PostgreSQL database serve one office.

Both real processes listen on the loopback interface; people sign in on either, a run's steps
are worked alternately on each, and the same step is sent to both at once: one completes it,
the other refuses with 409, nothing is lost or recorded twice, the events are numbered
without gaps and ``sopengine audit verify`` finds the history sound. Needs a PostgreSQL
server (``SOPENGINE_TEST_PG``, the ``pg_db`` fixture); skips without one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from server_support import PEOPLE, clean_env, serving
from sopengine import people
from sopengine.identity import os_user

pytestmark = pytest.mark.postgresql

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "kata-sandi-uji-1"
ROLE_OF = {"sekretaris-dinas": "sekretaris", "kepala-bidang": "kabid", "kasubag-pep": "kasubag",
           "kepala-seksi": "kasi", "staf-evaluasi": "staf"}


def make_office(url: str, definitions: Path) -> None:
    """The register of ``server_support.PEOPLE``, everyone with a password (the admin's login is this process's)."""
    for key, (name, access, roles) in PEOPLE.items():
        people.add_person(url, name, logins=[os_user()] if key == "admin" else [], roles=roles, access=access,
                          definitions=definitions)
        people.set_password(url, name, PASSWORD)


def sign_in_web(base: str, key: str) -> httpx.Client:
    """A browser-like client of *base* signed in as PEOPLE[key] through the sign-in form."""
    client = httpx.Client(base_url=base, timeout=60)
    client.cookies.set("sopengine_lang", "en")
    client.get("/login")
    response = client.post("/login", data={"csrftoken": client.cookies["csrftoken"], "username": PEOPLE[key][0],
                                           "password": PASSWORD, "next": "/"})
    assert response.status_code == 303 and response.headers["location"] == "/", response.text
    return client


def token_client(base: str, key: str) -> httpx.Client:
    """An API client of *base* with a bearer token of PEOPLE[key], signed in on that server."""
    answer = httpx.post(base + "/api/token", json={"username": PEOPLE[key][0], "password": PASSWORD}, timeout=60)
    assert answer.status_code == 200, answer.text
    return httpx.Client(base_url=base, timeout=60, headers={"Authorization": "Bearer " + answer.json()["token"]})


def numbers(url: str, table: str) -> list[int]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(f"SELECT seq FROM {table} ORDER BY seq").fetchall()]  # noqa: S608 (a fixed name)


def completed(url: str, run_id: str) -> list[tuple[str, str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT step_id, person FROM events WHERE run_id = %s AND kind = 'step_completed' ORDER BY seq", (run_id,)).fetchall()]


def let_through_while_waiting(url: str, key: str) -> list[tuple[int, str]]:
    """The sign-in attempts of PEOPLE[key] that were judged (not held up) while the account had to
    wait, as the throttle reckons it from every attempt logged before (by id: each check and its log
    entry are one transaction, taken in turn): none, when the servers share one count."""
    import psycopg

    from sopengine.identity import name_key

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, at, kind FROM access_log WHERE username = %s ORDER BY id",
                            (name_key(PEOPLE[key][0]),)).fetchall()
    wrong, attempts = [], []
    for row_id, at, kind in rows:
        when = datetime.fromisoformat(at)
        if kind == "sign_in":
            attempts = []  # a sign-in starts the count again
        elif kind == "sign_in_attempt":
            if len(attempts) >= 5 and when < max(attempts) + timedelta(seconds=2 ** (len(attempts) - 5)):
                wrong.append((row_id, at))
            attempts.append(when)
    return wrong


def access_kinds(url: str, key: str) -> Counter[str]:
    """How many access log entries of each kind PEOPLE[key]'s sign-ins left."""
    import psycopg

    from sopengine.identity import name_key

    with psycopg.connect(url) as conn:
        return Counter(r[0] for r in conn.execute("SELECT kind FROM access_log WHERE username = %s",
                                                  (name_key(PEOPLE[key][0]),)).fetchall())


def race(calls: list[Any]) -> list[httpx.Response]:
    """Send every call at the same moment (each in its own thread); their answers in order."""
    gate = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def send(i: int) -> None:
        gate.wait()
        try:
            answers[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            answers[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(isinstance(a, httpx.Response) for a in answers), answers
    return answers


def test_two_servers_over_one_postgresql_database_serve_one_office(pg_db: str, tmp_path: Path) -> None:
    definitions = tmp_path / "definitions"
    shutil.copytree(ROOT / "definitions", definitions)
    make_office(pg_db, definitions)
    with serving(pg_db, definitions, tmp_path) as one, serving(pg_db, definitions, tmp_path) as two:  # type: ignore[arg-type]
        servers = (one, two)
        # people sign in on both; a session cookie one server signed is good on the other (one secret, in the database)
        web = {base: sign_in_web(base, "sekretaris") for base in servers}
        for client in web.values():
            assert client.get("/").status_code == 200
        moved = httpx.Client(base_url=two, timeout=60, cookies=web[one].cookies)
        assert moved.get("/").status_code == 200 and "/login" not in str(moved.get("/", follow_redirects=True).url)
        moved.close()
        api = {(base, key): token_client(base, key) for base in servers for key in ROLE_OF.values()}

        # a run started on one server, its first step completed with an upload through the other's page
        started = api[(one, "sekretaris")].post("/api/runs", json={"definition": "pengumpulan-data", "period": "2026-06"})
        assert started.status_code == 201, started.text
        run_id = started.json()["run_id"]
        page = web[two].get(f"/runs/{run_id}")
        task = re.search(r'name="task" value="(\d+)"', page.text)
        assert page.status_code == 200 and task is not None
        content = os.urandom(300_000) + b"\x00 disposisi"
        sent = web[two].post(f"/runs/{run_id}/complete",
                             data={"csrftoken": web[two].cookies["csrftoken"], "task": task.group(1), "step": "kumpulkan-data",
                                   "note": ""},
                             files={"output:Disposisi": ("disposisi.pdf", content, "application/pdf")})
        assert sent.status_code == 303, sent.text
        assert completed(pg_db, run_id) == [("kumpulkan-data", PEOPLE["sekretaris"][0])]

        # the rest of its steps alternately on each server, each by the person of its role
        done = ["1"]
        status = api[(one, "sekretaris")].get(f"/api/runs/{run_id}").json()
        turn = 0
        while status["status"] == "active":
            (step,) = status["open_steps"]
            base = servers[turn % 2]
            answer = api[(base, ROLE_OF[step["actor"]])].post(f"/api/runs/{run_id}/complete", json={"step": step["step"]})
            assert answer.status_code == 200, answer.text
            done.append(step["no"])
            turn += 1
            status = api[(servers[turn % 2], "sekretaris")].get(f"/api/runs/{run_id}").json()
        assert done == ["1", "2", "3", "4", "5", "6", "7", "8"] and status["status"] == "completed"

        # another run: every step sent to both servers at the same moment; one wins, the other is refused
        raced = api[(two, "sekretaris")].post("/api/runs", json={"definition": "pengumpulan-data", "period": "2026-07"})
        assert raced.status_code == 201, raced.text
        race_id = raced.json()["run_id"]
        status = raced.json()
        refusals = []
        raced_steps = []
        while status["status"] == "active":
            (step,) = status["open_steps"]
            raced_steps.append(step["step"])
            key = ROLE_OF[step["actor"]]
            body = {"step": step["step"]}
            answers = race([
                (lambda client=api[(base, key)], body=body: client.post(f"/api/runs/{race_id}/complete", json=body))
                for base in servers
            ])
            assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
            (loser,) = [a for a in answers if a.status_code == 409]
            refusals.append(loser.json()["error"]["code"])
            assert loser.json()["error"]["message"]
            status = api[(one, "sekretaris")].get(f"/api/runs/{race_id}").json()
        assert set(refusals) <= {"step_not_open", "concurrent_change"}, refusals
        assert status["status"] == "completed" and len(raced_steps) == 5  # July: not a semester's end, rows 6-9 skipped

        # two admins' changes to the register at the same moment, one on each server: both recorded, in one chain
        admins = [sign_in_web(base, "admin") for base in servers]
        added = race([
            (lambda client=client, name=name: client.post("/admin/people", data={
                "csrftoken": client.cookies["csrftoken"], "name": name, "access": "staff", "logins": "", "roles": "staf-evaluasi"}))
            for client, name in zip(admins, ("Joko Widodo", "Sri Mulyani"))
        ])
        assert [a.status_code for a in added] == [303, 303], [a.text for a in added]
        assert {"Joko Widodo", "Sri Mulyani"} <= {p["name"] for p in people.list_people(pg_db)}
        for client in admins:
            client.close()

        # an auditor reads and verifies on either server
        for base in servers:
            auditor = sign_in_web(base, "auditor")
            assert auditor.get("/audit/access").status_code == 200
            checked = auditor.get("/audit/verify", params={"check": "1", "documents": "1"})
            assert checked.status_code == 200, checked.text
            auditor.close()

        # wrong passwords sent to both servers at once at one account: each server judges an attempt with
        # every attempt logged before it by either, so the first five are refused (401) and the sixth,
        # judged a moment after the fifth, waits (429) unless that moment is past the one-second wait (a
        # loaded machine): the log shows that no attempt was let through while the shared count said to
        # wait. Three to each server alone would all be refused.
        guess = {"username": PEOPLE["staf"][0], "password": "salah-sekali-1"}
        guesses = race([(lambda base=base: httpx.post(base + "/api/token", json=guess, timeout=60))
                        for base in servers for _ in range(3)])
        codes = [a.status_code for a in guesses]
        assert set(codes) <= {401, 429} and codes.count(401) >= 5, [a.text for a in guesses]
        assert let_through_while_waiting(pg_db, "staf") == []
        assert all(int(a.headers["retry-after"]) >= 1 for a in guesses if a.status_code == 429)
        logged = access_kinds(pg_db, "staf")  # besides the sign-in for a token on each server earlier
        assert logged["sign_in_attempt"] + logged["sign_in_throttled"] == 2 + 6 and logged["sign_in"] == 2
        assert logged["sign_in_refused"] == codes.count(401) and logged["sign_in_throttled"] == codes.count(429)
        for client in [*web.values(), *api.values()]:
            client.close()

    # nothing lost or recorded twice; events and office events numbered 1..N without a gap
    for run, count in ((run_id, 8), (race_id, 5)):
        steps = completed(pg_db, run)
        assert len(steps) == count and max(Counter(s for s, _p in steps).values()) == 1, steps
        assert [p for _s, p in steps][:1] == [PEOPLE["sekretaris"][0]]
    assert [s for s, _p in completed(pg_db, race_id)] == raced_steps
    seqs = numbers(pg_db, "events")
    assert seqs == list(range(1, len(seqs) + 1))
    office = numbers(pg_db, "office_events")
    assert office == list(range(1, len(office) + 1)) and len(office) == 2 * len(PEOPLE) + 2
    verified = subprocess.run([sys.executable, "-m", "sopengine", "audit", "verify", "--documents", "--json", "--db", pg_db],
                              capture_output=True, text=True, env={**clean_env(), "SOPENGINE_LANG": "en"}, cwd=tmp_path,
                              timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["last_seq"] == len(seqs) and report["last_office_seq"] == len(office), report
    assert report["documents"]["kept"] == 1 and report["documents"]["ok"] == 1, report
    import psycopg

    with psycopg.connect(pg_db) as conn:
        row = conn.execute("SELECT data FROM document_blobs WHERE sha256 = %s", (hashlib.sha256(content).hexdigest(),)).fetchone()
    assert row is not None and bytes(row[0]) == content
