"""An office for the office server's tests: a real database with a people register and passwords.

``office(tmp_path)`` makes the database (the test process's OS login is the admin's, as the
register requires of its first person), a copy of the shipped definitions, and the ASGI
application over them; ``office.client("sekretaris")`` is a test client signed in as that
person through the real sign-in form. Nothing is mocked: the app, the store and SQLite are
the ones ``sopengine serve`` runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx

from starlette.testclient import TestClient

from sopengine import people
from sopengine.identity import os_user
from sopengine.server import ServerConfig, create_app

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "kata-sandi-uji-1"

# key -> (name, access, roles); the roles are lanes of pengumpulan-data
PEOPLE: dict[str, tuple[str, str, list[str]]] = {
    "admin": ("Admin Kantor", "admin", []),
    "sekretaris": ("Agus Supriyadi", "staff", ["sekretaris-dinas"]),
    "kabid": ("Siti Rahma", "staff", ["kepala-bidang"]),
    "kasubag": ("Budi Santoso", "staff", ["kasubag-pep"]),
    "kasi": ("Dewi Lestari", "staff", ["kepala-seksi"]),
    "staf": ("Rina Wati", "staff", ["staf-evaluasi"]),
    "auditor": ("Inspektur Hadi", "auditor", []),
}


@dataclass
class Office:
    db: Path
    definitions: Path
    app: Any
    clients: list[TestClient] = field(default_factory=list)

    def name(self, key: str) -> str:
        return PEOPLE[key][0]

    def anonymous(self, lang: str = "en") -> TestClient:
        client = TestClient(self.app, base_url="http://testserver")
        client.cookies.set("sopengine_lang", lang)
        self.clients.append(client)
        return client

    def client(self, key: str, lang: str = "en") -> TestClient:
        """A client signed in as PEOPLE[key] through the sign-in form (CSRF token included)."""
        client = self.anonymous(lang)
        sign_in(client, self.name(key))
        return client

    def token(self, key: str) -> str:
        client = self.anonymous()
        response = client.post("/api/token", json={"username": self.name(key), "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def api(self, key: str) -> TestClient:
        """A client that calls the API with a bearer token of PEOPLE[key] (no cookies)."""
        client = TestClient(self.app, base_url="http://testserver")
        client.headers["Authorization"] = "Bearer " + self.token(key)
        self.clients.append(client)
        return client


def csrf(client: TestClient, path: str = "/login") -> str:
    """The CSRF token of *client*'s cookie (a page is fetched first when it has none yet)."""
    if "csrftoken" not in client.cookies:
        client.get(path)
    return str(client.cookies["csrftoken"])


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    response = client.post("/login", data={"csrftoken": csrf(client), "username": username, "password": password, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


def office(tmp_path: Path, *, upload_limit: int | None = None, keys: tuple[str, ...] = tuple(PEOPLE)) -> Office:
    definitions = tmp_path / "definitions"
    shutil.copytree(ROOT / "definitions", definitions)
    db = tmp_path / "kantor.db"
    admin_name = PEOPLE["admin"][0]
    people.add_person(db, admin_name, logins=[os_user()], access="admin", definitions=definitions)
    people.set_password(db, admin_name, PASSWORD)
    for key in keys:
        if key == "admin":
            continue
        name, access, roles = PEOPLE[key]
        people.add_person(db, name, roles=roles, access=access, definitions=definitions)
        people.set_password(db, name, PASSWORD)
    cfg = ServerConfig(db=db, definitions=definitions)
    if upload_limit is not None:
        cfg.upload_limit = upload_limit
    return Office(db, definitions, create_app(cfg))


# -- the server as a real process ----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This process's environment without the SOPENGINE_ variables the tests' fixture cleared."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_")}


def wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Return once *url*'s ``/healthz`` answers; fail with the process's output if it exits or does not
    within a minute (a loaded machine starts Python slowly)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode() if proc.stdout else "the server exited")
        time.sleep(0.05)
    raise AssertionError(f"{url}/healthz did not answer")


@contextmanager
def serving(db: Path, definitions: Path, cwd: Path) -> Iterator[str]:
    """``sopengine serve`` over *db* as a real process on a free loopback port; its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sopengine", "serve", "--db", str(db), "--definitions", str(definitions), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=clean_env(), cwd=cwd,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
