"""Benchmark: the office server under load: many people signed in at once, working through the API.

A database is made with a people register: an admin (this process's OS login, as the
register requires of its first person) and ``--users`` staff, each holding every role of SOP
Surat Keluar (``definitions/surat-keluar.yaml``: seven rows in a line, two of them decisions,
taken here with their fixed outcome ``Ya``), every one with a password (argon2id). Then
``python -m sopengine serve`` starts as a real process on a free port of the loopback
interface, and once ``/healthz`` answers, each person is a thread with its own
``httpx.Client``:

1. **Sign-in**: every person asks ``POST /api/token`` for a bearer token, all at once. This
   is timed apart: argon2id is slow on purpose (about 50 ms of one core a sign-in), and a
   person signs in once a day, not once a step.
2. **Work**: all start together, and each makes ``--actions`` step requests with no pause
   between them: ``POST /api/runs/{id}/complete`` or ``/decide`` for the step its run has
   open, starting a run of its own (``POST /api/runs``) whenever the last one is done. A
   person therefore always has one request waiting: 50 people make a far heavier load than
   an office of 50, whose people read and type between two steps. ``--think SECONDS`` gives
   each person a pause before each request (random, that long on average), for a lighter load.

Reported: requests per second over the work (steps and starts), the p50 and p95 latency of a
step request and of a start, and the sign-ins' apart. Then the checks, which fail the
benchmark (exit 1) when they fail: ``sopengine audit verify`` is clean, every step request
answered 200 has exactly one step event (``step_completed`` or ``decided``, ``via: api``,
``auth: token``), and no step of a run is recorded twice.

Target: a step request's p95 under 100 ms (a missed target is a figure, not a failure).

Run from the repository root::

    python bench/bench_server.py                        # 50 people, 20 steps each
    python bench/bench_server.py --users 10 --actions 50
    python bench/bench_server.py --workers 2            # two server processes over the database
    python bench/bench_server.py --think 2              # a pause of 2 s on average before each request
    python bench/bench_server.py --smoke                # 3 people, 3 steps: proves it runs
    python bench/bench_server.py --json                 # only the figures, as JSON

The last line is ``RESULT {json}`` for ``bench/run.py`` (with ``--json``, the only output).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

DEFINITION = "surat-keluar"
# The run of Surat Keluar when each decision takes Ya: (step, outcome or None for a completion).
STEPS: list[tuple[str, str | None]] = [
    ("konsep-surat", None), ("ketik-konsep", None), ("periksa-kasubag", "Ya"), ("periksa-sekretaris", "Ya"),
    ("periksa-kepala-satuan", None), ("teruskan-penomoran", None), ("kirim-surat", None),
]
ROLES = ["kasubag-umpar", "pengadministrasi-umum", "sekretaris-kabid", "kepala-satuan"]
PASSWORD = "kata-sandi-beban-1"
TARGET_STEP_P95_MS = 100.0


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile of *values* (``share`` 0.95 for p95); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_office(folder: Path, users: int) -> tuple[Path, Path, list[str]]:
    """The database with its people register, and the definitions folder the server reads."""
    from sopengine import people
    from sopengine.identity import os_user

    definitions = folder / "definitions"
    definitions.mkdir()
    shutil.copy(ROOT / "definitions" / f"{DEFINITION}.yaml", definitions)
    db = folder / "kantor.db"
    people.add_person(db, "Admin Kantor", logins=[os_user()], access="admin", definitions=definitions)
    people.set_password(db, "Admin Kantor", PASSWORD)
    names = [f"Pegawai {n:03d}" for n in range(1, users + 1)]
    for name in names:
        people.add_person(db, name, roles=ROLES, access="staff", definitions=definitions)
        people.set_password(db, name, PASSWORD)
    return db, definitions, names


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_")}
    env["SOPENGINE_LANG"] = "en"
    return env


@dataclass
class Server:
    """``sopengine serve`` as a process of its own, its output kept in a file."""

    db: Path
    definitions: Path
    log: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> float:
        """Start it and wait until ``/healthz`` answers; the seconds that took."""
        t0 = time.perf_counter()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sopengine", "serve", "--db", str(self.db), "--definitions", str(self.definitions),
                 "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
                cwd=self.db.parent, env=child_env(), stdout=out, stderr=subprocess.STDOUT)
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.perf_counter() - t0 < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"sopengine serve stopped (exit {self.proc.returncode}):\n{self.tail()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return time.perf_counter() - t0
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"sopengine serve did not answer /healthz within {timeout:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])


@dataclass
class Person:
    """One person's client and what their requests measured."""

    name: str
    client: httpx.Client
    sign_in_ms: float | None = None
    step_ms: list[float] = field(default_factory=list)
    start_ms: list[float] = field(default_factory=list)
    steps_ok: int = 0
    starts_ok: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)

    def refusal(self, what: str, response: httpx.Response) -> None:
        key = f"{what} {response.status_code}"
        self.refused[key] = self.refused.get(key, 0) + 1
        if len(self.wrong) < 3:
            self.wrong.append(f"{self.name}: {key}: {response.text[:200]}")


def sign_in(person: Person) -> None:
    t0 = time.perf_counter()
    response = person.client.post("/api/token", json={"username": person.name, "password": PASSWORD})
    person.sign_in_ms = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        person.refusal("sign-in", response)
        return
    person.client.headers["Authorization"] = "Bearer " + response.json()["token"]


def work(person: Person, actions: int, think: float) -> None:
    """*actions* step requests, each for the step the person's current run has open (after a pause of *think* s on average)."""
    pause = random.Random(person.name)
    run_id: str | None = None
    at = 0
    for _ in range(actions):
        if think:
            time.sleep(pause.expovariate(1 / think))
        if run_id is None or at == len(STEPS):
            t0 = time.perf_counter()
            response = person.client.post("/api/runs", json={"definition": DEFINITION})
            person.start_ms.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 201:
                person.refusal("start", response)
                run_id = None
                continue
            person.starts_ok += 1
            run_id, at = response.json()["run_id"], 0
        step, outcome = STEPS[at]
        t0 = time.perf_counter()
        if outcome is None:
            response = person.client.post(f"/api/runs/{run_id}/complete", json={"step": step})
        else:
            response = person.client.post(f"/api/runs/{run_id}/decide", json={"step": step, "outcome": outcome})
        person.step_ms.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            person.refusal("step", response)
            run_id = None  # start afresh rather than stumble on
            continue
        person.steps_ok += 1
        at += 1
        expected = [STEPS[at][0]] if at < len(STEPS) else []
        if response.json().get("opened") != expected:
            person.wrong.append(f"{person.name}: {step} opened {response.json().get('opened')}, not {expected}")
            run_id = None


def together(people: list[Person], job: Any, *args: Any) -> float:
    """Run *job* for every person on a thread of its own, all released at once; the wall seconds."""
    gate = threading.Barrier(len(people) + 1)
    failures: list[BaseException] = []

    def one(person: Person) -> None:
        gate.wait()
        try:
            job(person, *args)
        except BaseException as exc:  # a transport error ends that person's work; it is reported
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(p,), daemon=True) for p in people]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"{len(failures)} people stopped on an error; the first: {failures[0]!r}")
    return time.perf_counter() - t0


def recorded(db: Path) -> dict[str, Any]:
    """What the database holds of the work: step events by channel, starts, and any step recorded twice."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        by_api = "json_extract(payload, '$.via') = 'api' AND json_extract(payload, '$.auth') = 'token'"
        steps = conn.execute(f"SELECT count(*) FROM events WHERE kind IN ('step_completed', 'decided') AND {by_api}").fetchone()[0]
        other = conn.execute(f"SELECT count(*) FROM events WHERE kind IN ('step_completed', 'decided') AND NOT ({by_api})").fetchone()[0]
        starts = conn.execute(f"SELECT count(*) FROM events WHERE kind = 'run_started' AND {by_api}").fetchone()[0]
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT run_id, step_id, json_extract(payload, '$.iteration') AS i, count(*) AS n FROM events"
            " WHERE kind IN ('step_completed', 'decided') GROUP BY run_id, step_id, i HAVING n > 1)").fetchone()[0]
        completed = conn.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0]
    finally:
        conn.close()
    return {"step_events": steps, "step_events_other": other, "run_started": starts, "steps_recorded_twice": twice,
            "runs_completed": completed}


def audit_verify(db: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "sopengine", "--db", str(db), "audit", "verify", "--json"],
                          cwd=db.parent, env=child_env(), capture_output=True, text=True, timeout=600)
    try:
        found: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        found = {"ok": False, "problems": [proc.stderr.strip()[-500:]]}
    found["exit"] = proc.returncode
    return found


def ms_or_none(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="people signed in and working at once (default 50)")
    parser.add_argument("--actions", type=int, default=20, help="step requests each person makes (default 20)")
    parser.add_argument("--workers", type=int, default=1, help="server processes, as 'sopengine serve --workers' (default 1)")
    parser.add_argument("--think", type=float, default=0.0, metavar="SECONDS",
                        help="each person's pause before each step, on average (default 0: none)")
    parser.add_argument("--smoke", action="store_true", help="3 people, 3 steps each: proves it runs, measures nothing")
    parser.add_argument("--json", action="store_true", help="print only the figures, as one JSON object")
    args = parser.parse_args()
    if args.smoke:
        args.users, args.actions = 3, 3
    if args.users < 1 or args.actions < 1 or args.workers < 1 or args.think < 0:
        print("Error: --users, --actions and --workers must be 1 or more, --think 0 or more", file=sys.stderr)
        return 2

    def say(text: str) -> None:
        if not args.json:
            print(text, flush=True)

    folder = Path(tempfile.mkdtemp(prefix="sopengine-bench-server-"))
    server: Server | None = None
    people: list[Person] = []
    try:
        load_before = [round(x, 2) for x in os.getloadavg()]
        t0 = time.perf_counter()
        db, definitions, names = make_office(folder, args.users)
        say(f"office: {args.users} staff holding every role of {DEFINITION}, and an admin; passwords set in"
            f" {time.perf_counter() - t0:.1f} s")
        server = Server(db, definitions, folder / "server.log", workers=args.workers)
        ready = server.start()
        say(f"sopengine serve ({args.workers} worker{'s' if args.workers > 1 else ''}) answered /healthz"
            f" {ready:.1f} s after it started, at {server.url}")
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        people = [Person(name, httpx.Client(base_url=server.url, timeout=60.0, limits=limits)) for name in names]

        sign_in_wall = together(people, sign_in)
        signed = [p for p in people if "Authorization" in p.client.headers]
        sign_ins = [p.sign_in_ms for p in people if p.sign_in_ms is not None]
        say(f"sign-in: {len(signed)} of {len(people)} people at once in {sign_in_wall:.2f} s;"
            f" {len(sign_ins) / sign_in_wall:.1f} sign-ins/s; p50 {percentile(sign_ins, 0.5):.0f} ms, p95 {percentile(sign_ins, 0.95):.0f} ms")

        if not signed:
            raise RuntimeError("nobody could sign in: " + "; ".join(w for p in people for w in p.wrong)[:600])
        work_wall = together(signed, work, args.actions, args.think)
        step_ms = [v for p in signed for v in p.step_ms]
        start_ms = [v for p in signed for v in p.start_ms]
        requests = len(step_ms) + len(start_ms)
        steps_ok = sum(p.steps_ok for p in signed)
        starts_ok = sum(p.starts_ok for p in signed)
        refused: dict[str, int] = {}
        for p in people:
            for key, n in p.refused.items():
                refused[key] = refused.get(key, 0) + n
        step_p50, step_p95 = percentile(step_ms, 0.5), percentile(step_ms, 0.95)
        say(f"work: {len(step_ms)} step requests and {len(start_ms)} starts by {len(signed)} {'person' if len(signed) == 1 else 'people'}"
            f"{f', pausing {args.think:g} s on average,' if args.think else ''} in {work_wall:.2f} s:"
            f" {requests / work_wall:.1f} requests/s ({steps_ok / work_wall:.1f} steps/s)")
        say(f"  step (complete/decide): p50 {step_p50:.1f} ms, p95 {step_p95:.1f} ms, max {max(step_ms):.1f} ms")
        if start_ms:
            say(f"  start a run: p50 {percentile(start_ms, 0.5):.1f} ms, p95 {percentile(start_ms, 0.95):.1f} ms")
        say("  refused: " + (", ".join(f"{k}: {n}" for k, n in sorted(refused.items())) or "none"))
        for line in [w for p in people for w in p.wrong][:5]:
            say(f"  {line}")
        load_after = [round(x, 2) for x in os.getloadavg()]
    finally:
        for p in people:
            p.client.close()
        if server is not None:
            server.stop()

    try:
        facts = recorded(db)
        verified = audit_verify(db)
        wrong = [w for p in people for w in p.wrong]
        checks = {
            "audit verify clean": bool(verified.get("ok")) and verified["exit"] == 0,
            "one step event per step answered 200": facts["step_events"] == steps_ok and facts["step_events_other"] == 0,
            "one run_started per start answered 201": facts["run_started"] == starts_ok,
            "no step recorded twice": facts["steps_recorded_twice"] == 0,
            "every step opened the next": not wrong,
            "every person signed in": len(signed) == len(people),
        }
        say(f"checks: audit verify: {'clean' if checks['audit verify clean'] else 'NOT clean: ' + str(verified.get('problems'))[:300]}"
            f" ({verified.get('events')} events); step events {facts['step_events']} for {steps_ok} steps answered 200;"
            f" run_started {facts['run_started']} for {starts_ok} starts; steps recorded twice: {facts['steps_recorded_twice']}")
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            say("FAILED: " + "; ".join(failed))
        met = step_p95 is not None and step_p95 < TARGET_STEP_P95_MS
        say(f"target: a step's p95 under {TARGET_STEP_P95_MS:g} ms: {step_p95:.1f} ms, {'met' if met else 'missed'}"
            f" (load average {' '.join(f'{x:.2f}' for x in load_before)} before, {' '.join(f'{x:.2f}' for x in load_after)} after)")
        result = {
            "users": args.users, "actions": args.actions, "workers": args.workers, "think_seconds": args.think, "definition": DEFINITION,
            "sign_in": {"count": len(sign_ins), "ok": len(signed), "wall_seconds": round(sign_in_wall, 3),
                        "per_second": round(len(sign_ins) / sign_in_wall, 2),
                        "p50_ms": ms_or_none(percentile(sign_ins, 0.5)), "p95_ms": ms_or_none(percentile(sign_ins, 0.95))},
            "work_seconds": round(work_wall, 3), "requests": requests, "requests_per_second": round(requests / work_wall, 2),
            "steps": {"count": len(step_ms), "ok": steps_ok, "per_second": round(steps_ok / work_wall, 2),
                      "p50_ms": ms_or_none(step_p50), "p95_ms": ms_or_none(step_p95), "max_ms": ms_or_none(max(step_ms))},
            "starts": {"count": len(start_ms), "ok": starts_ok, "p50_ms": ms_or_none(percentile(start_ms, 0.5)),
                       "p95_ms": ms_or_none(percentile(start_ms, 0.95))},
            "refused": refused, "recorded": facts, "events": verified.get("events"), "verify_seconds": verified.get("seconds"),
            "checks": checks, "target_step_p95_ms": TARGET_STEP_P95_MS, "verdict": "met" if met else "missed",
            "load_average_before": load_before, "load_average_after": load_after,
        }
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
        return 1 if failed else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
