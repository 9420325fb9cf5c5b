"""Build one realistic sopengine database for the benchmarks: ``python bench/make_db.py --runs N -o FILE``.

What is in it: runs of the five packaged SOPs (``definitions/``) started over the months
before ``--now`` at a steady rate (``--per-day``, 110 a day by default: a Pemda's letters,
requests, payments and operations, and one Pengumpulan Data Kinerja per month), in every
state: completed (some through correction rounds), cancelled, and active — the runs still in
flight, each as far along as the time since its start allows, and a few stuck at a step for
weeks. Every run has people assigned to its roles (a pool of names per role), the documents
its steps record, and the events all this leaves, hash-chained per run.

How: the rows are the engine's own. The generator first carries *template* runs through
the real library (``sopengine.runs``) in a scratch database: every table of every SOP, every
month's way through the period gates, each path run to its end, cut at every step (active)
and cancelled, with the real clock set to the simulated time. Then each run of the
database is a template's rows — runs, tasks, assignments, documents, events and any column
the engine adds — given a new id, new people, its own times (every time shifted alike) and
its own hash chain (:func:`sopengine.chain.event_hash` over the same fields the store
hashes; the generator checks that it gives the template's own hashes first). Events, and
task rows, are written in the order they were recorded across runs, as an office's database
has them. So ``audit verify`` passes on it and every query reads what the engine would have
written, at a fraction of the engine's cost (no state machine, no calendar arithmetic per row).

A database grows by its history: runs finish and new ones start, while the work in flight
(active runs, open steps, a person's inbox) stays about the same size. Ten times the runs is
ten times the months, not ten times the work in flight.

    python bench/make_db.py --runs 10000 -o /tmp/bench-10k.db
    python bench/make_db.py --runs 100000 -o /tmp/bench-100k.db --seed 2
    python bench/make_db.py --runs 100000 --db postgresql://postgres@127.0.0.1:54329/bench_100k

With ``--db postgresql://...`` the database built is then copied into that PostgreSQL database
(it must exist and be empty: ``createdb NAME``) by ``sopengine db copy``
(:func:`sopengine.dbcopy.copy`: every id and event number kept, both sides verified), and
``VACUUM ANALYZE`` gives the planner its statistics; the time of each part and
``pg_database_size`` are printed. The SQLite file is kept where ``-o`` says, else removed.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sopengine import clock, runs  # noqa: E402
from sopengine.chain import CHAIN_FIELDS, GENESIS, canonical, event_hash  # noqa: E402
from sopengine.store import Store  # noqa: E402

DEFINITIONS = ROOT / "definitions"
NOW = "2026-11-02T10:00"  # WIB: the moment the database is read at
PER_DAY = 110
PERIODIC = "pengumpulan-data"  # one run a month, for the month before
# The case SOPs' shares of the runs (the periodic one is one a month on top).
MIX = {"surat-keluar": 0.5, "permohonan-informasi-publik": 0.2, "pengajuan-pembayaran": 0.2, "operasi-penegakan-perda": 0.1}
PATHS_PER_VARIANT = 3  # ways through each table (decisions drawn at random)
STUCK_SHARE = 0.03  # runs of the last STUCK_DAYS left at a step, though time enough has passed
STUCK_DAYS = 90
CANCELLED_SHARE = 0.04
LATER_SHARE = 0.05  # actions recorded a day after they happened (staff entering work with --now)
FIRST_NAMES = ["Agus", "Budi", "Citra", "Dewi", "Eko", "Fitri", "Gilang", "Hendra", "Indah", "Joko", "Kartika", "Lestari",
               "Made", "Nur", "Oktaviani", "Putu", "Rina", "Sari", "Teguh", "Wahyu", "Yanti", "Zainal"]
LAST_NAMES = ["Supriyadi", "Santoso", "Wijaya", "Lestari", "Pratama", "Hidayat", "Nugroho", "Kusuma", "Saputra", "Rahayu",
              "Siregar", "Hasibuan", "Simanjuntak", "Wibowo", "Setiawan", "Utami"]
PEOPLE_PER_ROLE = 6
ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # as sopengine.runs.new_run_id
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ENGINE_USER = runs.ENGINE
DAY = timedelta(days=1)


# -- templates: real runs in a scratch database ---------------------------------------------------

_SIM_NOW: list[datetime] = [datetime.now(timezone.utc)]


def _simulated_clock() -> None:
    """The engine's real clock (``recorded_at``) reads the simulated time while templates are made;
    each definition file is read and validated once (``api.load`` at every start would parse it again)."""
    from functools import lru_cache

    from sopengine import api

    from sopengine import calendar

    clock.real_now = lambda: _SIM_NOW[0].replace(microsecond=0)
    if not hasattr(api.load, "cache_info"):
        api.load = lru_cache(maxsize=None)(api.load)
        built: dict[str, Any] = {}
        load_calendar = calendar.load_calendar

        def cached_calendar(*args: Any, **kwargs: Any) -> Any:  # the same file and years: the same calendar
            key = repr((args, sorted(kwargs.items())))
            if key not in built:
                built[key] = load_calendar(*args, **kwargs)
            return built[key]

        calendar.load_calendar = cached_calendar


@dataclass
class Template:
    """One run as the engine left it: its rows by table, and when it started and last changed."""

    definition: str
    variant: str
    path: int
    state: str  # active, completed, cancelled
    steps_done: int
    run_id: str
    period: str | None
    start: datetime
    last: datetime
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Path_:
    """One way through a table: the whole run, each cut of it (active) and cancelled ones."""

    definition: str
    variant: str
    completed: Template
    active: list[Template]  # by steps done
    cancelled: list[Template]


def _first_working_day(year: int, month: int) -> datetime:
    day = datetime(year, month, 1, 8, 30, tzinfo=clock.zone())
    while day.weekday() >= 5:
        day += DAY
    return day


def _variants(compiled: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, start arguments) for every table and, for the periodic SOP, every month."""
    if compiled["id"] == PERIODIC:
        return [(f"{m:02d}", {"period": f"2026-{m:02d}"}) for m in range(1, 13)]
    out = []
    for table_id in compiled.get("table_order") or [None]:
        table = (compiled.get("tables") or {}).get(table_id) or {}
        case: dict[str, Any] = {}
        for key, value in (table.get("when") or {}).items():
            if key.startswith("case."):
                case[key[5:]] = value[0] if isinstance(value, list) else value
        for name, spec in (compiled.get("case") or {}).items():
            if spec.get("required") and name not in case:
                case[name] = (spec.get("values") or ["x"])[0]
        out.append((table_id or "utama", {"case": case, "table": table_id}))
    return out


def _start_time(definition: str, variant: str, path: int) -> datetime:
    if definition == PERIODIC:  # the month's data is collected early in the next month
        month = int(variant)
        return _first_working_day(2026 + month // 12, month % 12 + 1)
    return _first_working_day(2026, 2) + timedelta(days=7 * path)


class _Carrier:
    """Carries template runs in the scratch database through the real library."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder = folder
        self.rng = rng
        self.store = Store(folder / "templates.db", create=True)
        self.files: dict[str, str] = {}
        self.recorded: dict[str, datetime] = {}  # run id -> the last time recorded: the clock never goes back

    def close(self) -> None:
        self.store.close()

    def compiled(self, run_id: str) -> dict[str, Any]:
        row = self.store.conn.execute("SELECT definition_hash FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self.store.compiled(row[0])

    def open_tasks(self, run_id: str) -> list[tuple[Any, ...]]:
        return self.store.conn.execute(
            "SELECT id, step_id, actor, opened_at, due_at FROM tasks WHERE run_id = ? AND state = 'open' ORDER BY id", (run_id,)
        ).fetchall()

    def status(self, run_id: str) -> str:
        return self.store.conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]

    def document(self, name: str) -> str:
        path = self.files.get(name)
        if path is None:
            file = self.folder / "documents" / f"{len(self.files):03d}.pdf"
            file.parent.mkdir(exist_ok=True)
            file.write_bytes(f"%PDF-1.4\n% {name}\n".encode() + bytes(self.rng.randrange(256) for _ in range(2048)))
            path = self.files[name] = str(file)
        return path

    def start(self, definition: str, args: dict[str, Any], at: datetime, roles: list[str]) -> str:
        _SIM_NOW[0] = at
        return runs.start_run(
            definition, db=self.store, definitions=DEFINITIONS, by="@starter", now=at, allow_duplicate=True,
            assign=[(role, f"@{role}") for role in roles], **args,
        )["run_id"]

    def plan(self, run_id: str, at: datetime) -> tuple[Any, ...] | None:
        """The next action on a run: (kind, step, outcome, by, outputs, when); None when none is open."""
        open_now = self.open_tasks(run_id)
        if not open_now:
            return None
        _task_id, step_id, actor, opened_at, due_at = open_now[0]
        step = self.compiled(run_id)["steps"][step_id]
        opened = clock.from_iso(opened_at)
        due = clock.from_iso(due_at)
        assert opened is not None
        if due is not None and due > opened:
            # a share of the standard time; about one step in four late
            when = opened + (due - opened) * self.rng.choice([0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.3, 1.8])
        else:
            when = opened + timedelta(minutes=self.rng.choice([10, 30, 90, 240, 1440]))
        when = max(when, at) + timedelta(seconds=self.rng.randrange(30, 600))
        by = f"@{actor}" if actor and self.assigned(run_id, actor) else "@starter"
        outputs = [(o["name"], self.document(o["name"])) for o in step.get("outputs") or []
                   if o.get("required") or self.rng.random() < 0.3]
        if step["kind"] == "decision" and not step.get("automatic"):
            names = [o["name"] for o in step["outcomes"]]
            # mostly the first outcome (Ya, lengkap, ...); a correction round now and then
            outcome = names[0] if self.rng.random() < 0.8 or len(names) == 1 else self.rng.choice(names[1:])
            return ("decide", step_id, outcome, by, outputs, when)
        return ("complete", step_id, None, by, outputs, when)

    def assigned(self, run_id: str, role: str) -> bool:
        return self.store.conn.execute(
            "SELECT 1 FROM assignments WHERE run_id = ? AND role = ?", (run_id, role)).fetchone() is not None

    def act(self, run_id: str, action: tuple[Any, ...], later: bool) -> None:
        kind, step_id, outcome, by, outputs, when = action
        _SIM_NOW[0] = max(when + (DAY if later else timedelta(0)), self.recorded.get(run_id, when))
        self.recorded[run_id] = _SIM_NOW[0]
        if kind == "decide":
            runs.decide(self.store, run_id, outcome, step=step_id, by=by, now=when, outputs=outputs or None)
        else:
            runs.complete(self.store, run_id, step=step_id, by=by, now=when, outputs=outputs or None)

    def cancel(self, run_id: str, at: datetime) -> None:
        _SIM_NOW[0] = max(at, self.recorded.get(run_id, at))
        runs.cancel(self.store, run_id, reason="Dibatalkan: permohonan ditarik", by="@starter", now=at)


def _rows(store: Store, run_id: str, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for table in tables:
        key = "id" if table == "runs" else "run_id"
        order = "seq" if table == "events" else ("rowid" if table in ("runs", "assignments") else "id")
        cur = store.conn.execute(f"SELECT * FROM {table} WHERE {key} = ? ORDER BY {order}", (run_id,))
        cols = [c[0] for c in cur.description]
        out[table] = [dict(zip(cols, r)) for r in cur.fetchall()]
    return out


def _run_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables holding a run's rows: ``runs`` and every table with a ``run_id`` column."""
    names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    found = ["runs"]
    for name in names:
        if name != "runs" and any(c[1] == "run_id" for c in conn.execute(f"PRAGMA table_info({name})")):
            found.append(name)
    return found


def make_templates(folder: Path, seed: int, paths_per_variant: int = PATHS_PER_VARIANT) -> tuple[list[Path_], Path, list[str]]:
    """Carry the template runs; returns the paths, the scratch database and the run tables."""
    _simulated_clock()
    rng = random.Random(seed)
    carrier = _Carrier(folder, rng)
    paths: list[Path_] = []
    try:
        probes = {definition: _compiled_of(definition) for definition in [PERIODIC, *MIX]}
        tables = _run_tables(carrier.store.conn)
        for definition, compiled in probes.items():
            roles = [a for a, spec in compiled["actors"].items() if spec.get("kind") != "external"]
            for variant, args in _variants(compiled):
                for path in range(1 if definition == PERIODIC else paths_per_variant):
                    paths.append(_carry_path(carrier, definition, variant, args, path, roles, tables, rng))
        return paths, carrier.store.path, tables
    finally:
        carrier.close()


def _compiled_of(definition: str) -> dict[str, Any]:
    from sopengine import api
    from sopengine.definition.loader import compile_definition

    d, text, _path = api.load(definition, DEFINITIONS)
    return compile_definition(d, text)


def _carry_path(carrier: _Carrier, definition: str, variant: str, args: dict[str, Any], path: int, roles: list[str],
                tables: list[str], rng: random.Random) -> Path_:
    start = _start_time(definition, variant, path)
    # the whole way first, its actions noted; then the same actions again, cut at each step
    full = carrier.start(definition, args, start, roles)
    actions: list[tuple[Any, ...]] = []
    later: list[bool] = []
    at = start
    for _ in range(60):
        action = carrier.plan(full, at)
        if action is None:
            break
        late = rng.random() < LATER_SHARE
        carrier.act(full, action, late)
        actions.append(action)
        later.append(late)
        at = action[-1]
    else:
        raise SystemExit(f"make_db: a {definition} run did not end within 60 steps")
    if carrier.status(full) != "completed":
        raise SystemExit(f"make_db: a {definition} run ended {carrier.status(full)}, not completed")

    def template(run_id: str, state: str, done: int, last: datetime) -> Template:
        return Template(definition, variant, path, state, done, run_id, args.get("period"), start, last,
                        _rows(carrier.store, run_id, tables))

    completed = template(full, "completed", len(actions), actions[-1][-1])
    active, cancelled = [], []
    cut_cancel = rng.randrange(len(actions))
    for k in range(len(actions)):
        cut = carrier.start(definition, args, start, roles)
        for action, late in zip(actions[:k], later[:k]):
            carrier.act(cut, action, late)
        last = actions[k - 1][-1] if k else start
        if k == cut_cancel:
            when = last + timedelta(hours=rng.choice([1, 4, 24]))
            carrier.cancel(cut, when)
            cancelled.append(template(cut, "cancelled", k, when))
        else:
            active.append(template(cut, "active", k, last))
    return Path_(definition, variant, completed, active, cancelled)


# -- cloning ---------------------------------------------------------------------------------------


def _run_ids(seed: int) -> Any:
    """Distinct ids in the engine's form (``k7m-x3q``), in a scrambled order."""
    n = len(ID_ALPHABET) ** 6
    step = 387_420_489  # 9**9: shares no factor with 31**6
    x = seed * 7919 % n
    while True:
        x = (x + step) % n
        v, chars = x, []
        for _ in range(6):
            v, r = divmod(v, len(ID_ALPHABET))
            chars.append(ID_ALPHABET[r])
        yield f"{''.join(chars[:3])}-{''.join(chars[3:])}"


def _people(rng: random.Random, roles: list[str]) -> dict[str, list[str]]:
    names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(names)
    pool: dict[str, list[str]] = {}
    for role in sorted(roles):
        pool[role] = [names.pop() for _ in range(PEOPLE_PER_ROLE)]
    return pool


def _login(name: str) -> str:
    first, _, last = name.lower().partition(" ")
    return f"{first}.{last[:1]}" if last else first


class _Shift:
    """Everything a clone changes in a template's values."""

    def __init__(self, delta: timedelta, names: dict[str, Any], period: tuple[str | None, str | None]) -> None:
        self.delta = delta
        self.names = names  # template value -> clone value: run id, people, hashes, task ids
        self.period = period

    def value(self, v: Any) -> Any:
        if isinstance(v, str):
            hit = self.names.get(v)
            if hit is not None:
                return hit
            if len(v) == 20 and v[10] == "T" and ISO.match(v):
                return (datetime.fromisoformat(v[:19]) + self.delta).isoformat() + "Z"
            if self.period[0] is not None and v == self.period[0]:
                return self.period[1]
            return v
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        return v


def _check_chain(t: Template) -> None:
    """The events' hashes are what event_hash gives over the stored fields: else the engine's
    event format moved on and this generator must follow it."""
    prev = GENESIS
    for e in t.rows["events"]:
        record = {k: e[k] for k in CHAIN_FIELDS}
        if record["prev_hash"] != prev or event_hash(record) != e["hash"]:
            raise SystemExit(f"make_db: event {e['seq']} of a {t.definition} template does not hash as"
                             f" sopengine.chain.event_hash over {CHAIN_FIELDS}; update bench/make_db.py")
        prev = e["hash"]


class _Writer:
    """Writes clones' rows into the database in the order they were recorded across runs, each
    numbered (events' seq, tasks' and documents' ids) as it is written, as the engine numbers them."""

    def __init__(self, conn: sqlite3.Connection, tables: list[str]) -> None:
        self.conn = conn
        self.columns = {t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
        self.heap: list[tuple[str, int, str, dict[str, Any]]] = []  # (recorded, order, table, row)
        self.order = 0
        self.batch: dict[str, list[tuple[Any, ...]]] = {t: [] for t in tables}
        self.written = 0
        self.next_id = {"tasks": 1, "documents": 1, "events": 1}
        self.task_ids: dict[tuple[int, int], int] = {}

    def now(self, table: str, row: dict[str, Any]) -> None:
        self.batch[table].append(tuple(row[c] for c in self.columns[table]))
        if len(self.batch[table]) >= 5000:
            self.flush(table)

    def later(self, at: str, table: str, row: dict[str, Any]) -> None:
        self.order += 1
        heapq.heappush(self.heap, (at, self.order, table, row))

    def until(self, at: str) -> None:
        """Write every pending row recorded before ``at`` (no run started later can precede it)."""
        while self.heap and self.heap[0][0] < at:
            _at, _order, table, row = heapq.heappop(self.heap)
            self.number(table, row)
            self.now(table, row)

    def number(self, table: str, row: dict[str, Any]) -> None:
        if table == "events":
            row["seq"] = self.next_id["events"]
            self.next_id["events"] += 1
            self.written += 1
        elif table == "tasks":
            row["id"] = self.task_ids[row.pop("_key")] = self.next_id["tasks"]
            self.next_id["tasks"] += 1
        elif table == "documents":
            row["id"] = self.next_id["documents"]
            self.next_id["documents"] += 1
        key = row.pop("_task_key", None)
        if key is not None:
            row["task_id"] = self.task_ids[key]

    def flush(self, table: str | None = None) -> None:
        for t in [table] if table else list(self.batch):
            rows = self.batch[t]
            if rows:
                cols = self.columns[t]
                self.conn.executemany(f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
                rows.clear()

    def drain(self) -> None:
        self.until("9999")
        self.flush()


@dataclass
class Plan:
    """Which template each run of the database copies, and when it starts."""

    start: datetime
    path: Path_
    template: Template


def _schedule(paths: list[Path_], n: int, now: datetime, per_day: float, rng: random.Random) -> list[Plan]:
    by_sop: dict[str, list[Path_]] = {}
    for p in paths:
        by_sop.setdefault(p.definition, []).append(p)
    span = timedelta(days=n / per_day)
    first = now - span
    starts: list[tuple[datetime, str]] = []
    # the periodic SOP: one run a month, early in the month, for the month before
    month = datetime(first.year, first.month, 1, tzinfo=timezone.utc)
    while month < now and len(starts) < n:
        y, m = month.year, month.month
        at = _first_working_day(y, m).astimezone(timezone.utc)
        if first <= at < now:
            starts.append((at, PERIODIC))
        month = datetime(y + m // 12, m % 12 + 1, 1, tzinfo=timezone.utc)
    rest = n - len(starts)
    sops, weights = list(MIX), list(MIX.values())
    for i in range(rest):
        offset = span * ((i + rng.random()) / rest)
        at = (first + offset).replace(microsecond=0)
        starts.append((at, rng.choices(sops, weights)[0]))
    starts.sort()
    plans = []
    for at, sop in starts:
        if sop == PERIODIC:
            prev_month = (at.astimezone(clock.zone()).month - 2) % 12 + 1
            path = next(p for p in by_sop[sop] if p.variant == f"{prev_month:02d}")
        else:
            path = rng.choice(by_sop[sop])
        plans.append(Plan(at, path, _state(path, at, now, rng)))
    return plans


def _state(path: Path_, start: datetime, now: datetime, rng: random.Random) -> Template:
    """The template a run started at ``start`` copies, as far along as ``now`` allows."""
    age = now - start
    full = path.completed
    if age > full.last - full.start:  # time enough to have finished
        roll = rng.random()
        if age < timedelta(days=STUCK_DAYS) and roll < STUCK_SHARE:
            return rng.choice(path.active)
        if roll < STUCK_SHARE + CANCELLED_SHARE and path.cancelled:
            return rng.choice(path.cancelled)
        return full
    # still in flight: the cut whose last step happened before now (cuts are by steps done)
    spans = [t.last - t.start for t in path.active]
    k = bisect.bisect_right(spans, age) - 1
    return path.active[max(k, 0)]


def _clone(plan: Plan, number: int, run_id: str, people: dict[str, list[str]], writer: _Writer,
           rng: random.Random) -> None:
    t = plan.template
    names: dict[str, Any] = {t.run_id: run_id}
    for role, pool in people.items():
        names[f"@{role}"] = rng.choice(pool)
    names["@starter"] = rng.choice(people[min(people)])
    period: tuple[str | None, str | None] = (None, None)
    if t.period:
        local = plan.start.astimezone(clock.zone())
        y, m = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
        period = (t.period, f"{y:04d}-{m:02d}")
    shift = _Shift(plan.start - t.start, names, period)
    # the events, chained anew
    prev = GENESIS
    events = []
    for e in t.rows["events"]:
        row = {k: shift.value(v) for k, v in e.items() if k not in ("payload", "seq", "hash", "prev_hash", "os_user")}
        payload = shift.value(json.loads(e["payload"]))
        row["os_user"] = _login(row["person"] if row["person"] != ENGINE_USER else names["@starter"])
        row["payload"] = payload
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash({k: row[k] for k in CHAIN_FIELDS})
        names[e["hash"]] = prev  # a column keeping the run's chain head follows
        row["payload"] = canonical(payload)
        events.append(row)
    for table in ("runs", "tasks", *(n for n in t.rows if n not in ("runs", "tasks", "events"))):
        for r in t.rows.get(table, []):
            row = {k: shift.value(v) for k, v in r.items()}  # integer ids are numbered when written
            if table == "runs":
                writer.now("runs", row)
                continue
            if table == "tasks":
                row["_key"] = (number, r["id"])
                writer.later(row["opened_at"], "tasks", row)
                continue
            if row.get("task_id") is not None:
                row["_task_key"] = (number, r["task_id"])
            when = row.get("recorded_at") or row.get("assigned_at") or clock.iso(plan.start) or ""
            writer.later(when, table, row)
    for row in events:
        writer.later(row["recorded_at"], "events", row)


_MADE: dict[tuple[int, int], tuple[list[Path_], Path, list[str], float]] = {}


def _templates(seed: int, paths: int) -> tuple[list[Path_], Path, list[str], float]:
    """The template runs, carried once per process for a seed (databases of several sizes share them)."""
    if (seed, paths) not in _MADE:
        import atexit

        t0 = time.perf_counter()
        folder = Path(tempfile.mkdtemp(prefix="sopengine-make-db-"))
        atexit.register(shutil.rmtree, folder, True)
        ways, scratch, tables = make_templates(folder, seed, paths)
        for p in ways:
            for t in (p.completed, *p.active, *p.cancelled):
                _check_chain(t)
        _MADE[(seed, paths)] = (ways, scratch, tables, time.perf_counter() - t0)
    return _MADE[(seed, paths)]


def build(out: Path, runs_wanted: int, *, seed: int = 1, now: str = NOW, per_day: float = PER_DAY,
          paths: int = PATHS_PER_VARIANT, quiet: bool = False) -> dict[str, Any]:
    """Build the database at ``out`` (replaced); returns what was written and how long it took."""
    t0 = time.perf_counter()
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    ways, scratch, tables, made = _templates(seed, paths)
    templates = [t for p in ways for t in (p.completed, *p.active, *p.cancelled)]
    say(f"make_db: {len(templates)} template runs of {len({p.definition for p in ways})} SOPs carried by the"
        f" engine in {made:.1f} s")
    # the schema as the engine makes it; the pinned definitions, calendars and document bytes as they are
    Store(out, create=True).close()
    conn = sqlite3.connect(str(out), isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -200000")
    conn.execute("ATTACH DATABASE ? AS scratch", (str(scratch),))
    roles = sorted({a["role"] for t in templates for a in t.rows["assignments"]})
    people = _people(random.Random(seed), roles)  # the same people at every size
    rng = random.Random(seed * 1_000_003 + runs_wanted)
    at = clock.coerce(now).astimezone(timezone.utc)
    plans = _schedule(ways, runs_wanted, at, per_day, rng)
    writer = _Writer(conn, tables)
    ids = _run_ids(seed)
    conn.execute("BEGIN")
    for i, plan in enumerate(plans):
        writer.until(plan.start.strftime("%Y-%m-%dT%H:%M:%SZ"))
        _clone(plan, i, next(ids), people, writer, rng)
        if i % 20_000 == 19_999:
            writer.flush()
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            say(f"  {i + 1:,} runs, {writer.written:,} events written ({time.perf_counter() - t0:.0f} s)")
    writer.drain()
    # the pinned definitions and calendars as the templates stored them, and the bytes of the
    # documents the runs recorded (content-addressed: one copy each)
    shared = [n for (n,) in conn.execute("SELECT name FROM scratch.sqlite_master WHERE type = 'table'")
              if n not in tables and not n.startswith(("sqlite_", "_sqlite"))]
    for name in shared:
        used = " WHERE sha256 IN (SELECT sha256 FROM main.documents)" if name == "document_blobs" else ""
        conn.execute(f"INSERT OR IGNORE INTO main.{name} SELECT * FROM scratch.{name}{used}")
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE scratch")
    conn.execute("PRAGMA journal_mode = WAL")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("runs", "tasks", "events", "assignments", "documents")}
    states = dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    open_tasks = conn.execute("SELECT count(*) FROM tasks WHERE state = 'open'").fetchone()[0]
    first = conn.execute("SELECT min(started_at) FROM runs").fetchone()[0]
    conn.close()
    seconds = time.perf_counter() - t0
    size = sum(Path(f"{out}{s}").stat().st_size for s in ("", "-wal") if Path(f"{out}{s}").exists())
    result = {"runs": counts["runs"], "events": counts["events"], "tasks": counts["tasks"], "assignments": counts["assignments"],
              "documents": counts["documents"], "states": states, "open_tasks": open_tasks, "first_start": first,
              "now": clock.iso(clock.coerce(now)), "seconds": round(seconds, 1), "bytes": size, "templates": len(templates)}
    say(f"make_db: {counts['runs']:,} runs ({', '.join(f'{k} {v:,}' for k, v in sorted(states.items()))}),"
        f" {counts['events']:,} events, {counts['tasks']:,} task rows ({open_tasks:,} open), {counts['assignments']:,}"
        f" assignments, {counts['documents']:,} documents; runs from {first} to {result['now']};"
        f" {size / 1e6:,.0f} MB in {seconds:.1f} s")
    return result


def to_postgresql(src: Path, url: str) -> dict[str, Any]:
    """Copy the SQLite database *src* into the empty PostgreSQL database *url* (``sopengine db copy``),
    then ``VACUUM ANALYZE`` it; the seconds of each and ``pg_database_size``."""
    import psycopg

    from sopengine.dbcopy import copy
    from sopengine.store import pg

    t0 = time.perf_counter()
    copied = copy(src, url)
    t1 = time.perf_counter()
    pg.close_pools()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        t2 = time.perf_counter()
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return {"copy_seconds": round(t1 - t0, 1), "analyze_seconds": round(t2 - t1, 1), "bytes": int(row[0]),
            "events": copied.get("events"), "head": copied.get("head")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, required=True, help="runs to write (e.g. 10000, 100000)")
    parser.add_argument("-o", "--output", type=Path, help="the database file to write (replaced); optional with --db")
    parser.add_argument("--db", metavar="URL", help="then copy it into this PostgreSQL database (postgresql://..., existing and empty)")
    parser.add_argument("--now", default=NOW, help=f"the moment the database is read at, WIB (default {NOW})")
    parser.add_argument("--per-day", type=float, default=PER_DAY, help=f"runs started per day (default {PER_DAY})")
    parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same database")
    parser.add_argument("--paths", type=int, default=PATHS_PER_VARIANT,
                        help=f"ways through each table carried by the engine (default {PATHS_PER_VARIANT}; 1 is quicker)")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON on the last line")
    args = parser.parse_args()
    if args.runs < 1:
        print("Error: --runs must be 1 or more", file=sys.stderr)
        return 2
    if args.output is None and not args.db:
        print("Error: say where to write the database: -o FILE (SQLite), --db postgresql://... or both", file=sys.stderr)
        return 2
    if args.db and not args.db.startswith(("postgresql://", "postgres://")):
        print(f"Error: --db {args.db!r} is not a PostgreSQL address (postgresql://USER@HOST:PORT/DB); for an SQLite file use -o",
              file=sys.stderr)
        return 2
    if args.output is not None and not args.output.parent.is_dir():
        print(f"Error: folder {args.output.parent} does not exist; create it or pass another -o", file=sys.stderr)
        return 2
    if args.db:  # before the minutes of building: the database is there, reachable and empty
        import psycopg

        from sopengine.store.pg import redact

        try:
            with psycopg.connect(args.db, connect_timeout=10) as conn:
                tables = {t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
                held = 0
                if {"runs", "events"} <= tables:
                    found = conn.execute("SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM events)").fetchone()
                    held = found[0] if found else 0
        except psycopg.Error as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            print(f"Error: cannot reach {redact(args.db)} ({reason}); create the database first (createdb NAME) or pass another --db",
                  file=sys.stderr)
            return 2
        if (tables and not {"runs", "events"} <= tables) or held:
            print(f"Error: {redact(args.db)} already holds " + ("runs" if held else "other tables")
                  + "; give a new, empty database (createdb NAME)", file=sys.stderr)
            return 2
    folder = None
    out = args.output
    if out is None:
        folder = Path(tempfile.mkdtemp(prefix="sopengine-make-db-pg-"))
        out = folder / "bench.db"
    try:
        result = build(out, args.runs, seed=args.seed, now=args.now, per_day=args.per_day, paths=args.paths)
        if args.db:
            from sopengine.errors import SopError
            from sopengine.store.pg import redact

            try:
                pg = to_postgresql(out, args.db)
            except SopError as exc:
                print(f"Error: {exc}", file=sys.stderr)
                return 2
            result["postgresql"] = pg
            print(f"make_db: copied into {redact(args.db)} by sopengine db copy in {pg['copy_seconds']:.1f} s (both sides"
                  f" verified), VACUUM ANALYZE {pg['analyze_seconds']:.1f} s; pg_database_size {pg['bytes'] / 1e6:,.0f} MB;"
                  f" in all {result['seconds'] + pg['copy_seconds'] + pg['analyze_seconds']:.1f} s", flush=True)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
