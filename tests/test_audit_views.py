"""The auditors' SQL views, the schema version that brings them, and docs/auditing.md's promises:
its canonical-form test values, its independent check and its SQL questions, each run on a
database written by real runs."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import sqlite3
from pathlib import Path

import pytest

from sopengine import audit, store
from sopengine.store import schema
from sopengine.chain import GENESIS, canonical, database_head, event_hash
from sopengine.store import Store
from sopengine.runs import cancel, reopen, start_run
from test_audit import build_history, run_seqs, step, tamper

DOC = Path(__file__).resolve().parent.parent / "docs" / "auditing.md"
VIEWS = ("audit_definition_steps", "audit_events", "audit_open_steps", "audit_step_visits")


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def doc_sql(name: str) -> str:
    found = re.search(rf"```sql\n-- question: {re.escape(name)}\n(.*?)```", doc_text(), re.S)
    assert found, f"docs/auditing.md has no SQL block tagged {name!r}"
    return found.group(1)


def doc_snippet() -> str:
    section = doc_text().split("### An independent check", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "docs/auditing.md has no independent check"
    return found.group(1)


def query(db: Path, sql: str) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def hist(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_history(tmp_path_factory.mktemp("views"))


# -- the schema ------------------------------------------------------------------------------

def test_the_migrations_in_order_and_the_store_knows_the_latest() -> None:
    names = [m.name for m in schema.migrations._migrations]
    assert names[:4] == ["0001_initial", "0002_audit_views", "0003_audit_events_postdated", "0004_definition_steps_lanes"]
    assert schema.LATEST == len(names) == store.SCHEMA_VERSION


def test_a_new_database_has_the_views_and_the_version_the_store_knows(hist: dict) -> None:
    conn = sqlite3.connect(hist["db"])
    views = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert set(VIEWS) <= views
    assert conn.execute("PRAGMA user_version").fetchone()[0] == min(schema.LATEST, store.SCHEMA_VERSION)


@pytest.mark.skipif(store.SCHEMA_VERSION < schema.LATEST,
                    reason="sopengine.store.SCHEMA_VERSION has not been raised to the schema's LATEST yet")
def test_a_version_1_database_is_migrated_on_open(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    conn = sqlite3.connect(hist["db"])  # turn it back into what the first release wrote
    for view in VIEWS:
        conn.execute(f"DROP VIEW {view}")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name != '0001_initial'")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store(hist["db"]) as opened:
        assert opened.conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        views = {r[0] for r in opened.conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert set(VIEWS) <= views
    assert audit.verify(hist["db"])["ok"]


# -- the views ---------------------------------------------------------------------------------

def test_audit_events_reads_every_event(hist: dict) -> None:
    rows = query(hist["db"], "SELECT * FROM audit_events ORDER BY seq")
    entries = audit.history(hist["db"])
    assert [r["seq"] for r in rows] == [e["seq"] for e in entries]
    for r, e in zip(rows, entries):
        assert (r["run"], r["at_utc"], r["recorded_at_utc"], r["person"], r["os_user"], r["kind"], r["step"]) == (
            e["run_id"], e["at"], e["recorded_at"], e["person"], e["os_user"], e["kind"], e["step"])
        assert (r["actor"], r["outcome"], r["note"] if e["kind"] not in ("assigned", "decided") else e["note"]) == (
            e["actor"], e["outcome"], e["note"])
        assert r["backdated"] == int(e["backdated"]) and r["recorded_later_seconds"] == e["recorded_later_by"]
        assert r["postdated"] == int(e["postdated"]) == 0
        assert (r["documents"] or "") == "; ".join(d["name"] for d in e["documents"])
        assert r["definition"] == "pengumpulan-data" and r["hash"] == e["hash"]


def test_audit_step_visits_compares_standard_and_actual(hist: dict) -> None:
    rows = query(hist["db"], f"SELECT * FROM audit_step_visits WHERE run = '{hist['a']}' ORDER BY task_id")
    # format 2 keeps the row number as printed: text (runs pinned to format 1 keep their numbers)
    assert [r["no"] for r in rows] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    first = rows[0]
    assert (first["step"], first["kegiatan"], first["actor"], first["waktu"]) == (
        "kumpulkan-data", "Mengumpulkan data laporan kinerja bulanan/triwulan kepada subbag/seksi.", "sekretaris-dinas", "15 Menit")
    assert (first["standard_minutes"], first["standard_days"]) == (15, 0)
    assert first["opened_at"] == "2026-07-01T01:30:00Z" and first["closed_at"] == "2026-07-01T02:00:00Z"
    assert first["actual_seconds"] == 30 * 60 and first["late"] == 1  # due 08:45 WIB, done 09:00
    semester = next(r for r in rows if r["step"] == "susun-laporan-semester")
    assert (semester["standard_days"], semester["waktu"], semester["closed_by"], semester["late"]) == (120, "120 Hari", "Dr. Rina", 0)
    on_time = query(hist["db"], f"SELECT late FROM audit_step_visits WHERE run = '{hist['b']}' AND state = 'done'")
    assert [r["late"] for r in on_time] == [0, 0]


def test_audit_open_steps_lists_open_steps_with_due_times(hist: dict) -> None:
    rows = query(hist["db"], "SELECT * FROM audit_open_steps")
    assert [(r["run"], r["step"], r["no"], r["actor"]) for r in rows] == [(hist["b"], "olah-data", "3", "staf-evaluasi")]
    assert rows[0]["due_at"] == "2026-10-01T02:32:00Z"  # 2 Menit after 09:30 WIB
    assert rows[0]["assigned"] is None


# -- the questions in docs/auditing.md ----------------------------------------------------------

def test_question_steps_completed_by_someone_not_assigned(hist: dict) -> None:
    rows = query(hist["db"], doc_sql("not-assigned"))
    # joko did step 6 while nobody was assigned; Sari was assigned to the role afterwards.
    # In run b Budi was assigned before budi completed step 2: the same person in another case.
    assert [(r["run"], r["no"], r["actor"], r["closed_by"], r["assigned"]) for r in rows] == [
        (hist["a"], "6", "kepala-seksi", "joko", "Sari"),
    ]


def test_question_runs_slower_than_the_standard(hist: dict) -> None:
    rows = query(hist["db"], doc_sql("slower-than-standard"))
    assert [r["run"] for r in rows] == [hist["a"]]
    assert rows[0]["steps_done"] == 8 and rows[0]["late_steps"] >= 2 and rows[0]["standard_days"] == 122


def test_question_who_approved_the_semester_report(hist: dict) -> None:
    rows = query(hist["db"], doc_sql("semester-report"))
    assert [(r["run"], r["no"], r["person"]) for r in rows] == [(hist["a"], "7", "Dr. Rina"), (hist["a"], "8", "Dr. Rina")]
    assert rows[1]["note"] == "Laporan semester disetujui"
    assert rows[1]["at_utc"] == "2026-07-06T07:00:00Z" and rows[1]["documents"] == "Draft Laporan Kinerja"


def finish(db: Path, run_id: str, person: str, day: str) -> None:
    """Complete every step of a run in turn, at hourly times on *day*, until it ends."""
    hour = 9
    while sqlite3.connect(db).execute("SELECT 1 FROM tasks WHERE run_id = ? AND state = 'open'", (run_id,)).fetchone():
        step(db, run_id, person, f"{day}T{hour:02d}:00")
        hour += 1


def test_question_semester_report_covers_every_period_that_ends_the_semester_and_only_what_stands(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    db = hist["db"]
    june = start_run("pengumpulan-data", db=db, period="2026-06", now="2026-06-30T08:00", by="ani")["run_id"]
    finish(db, june, "Joko", "2026-06-30")
    q2 = start_run("pengumpulan-data", db=db, period="2026-Q2", now="2026-07-01T08:00", by="ani")["run_id"]
    finish(db, q2, "Wati", "2026-07-01")
    # step 8 of the June run is sent back and presented again by someone else
    reopen(db, june, "sosialisasi-semester", reason="Salah lampiran", by="ani", now="2026-07-08T08:00")
    finish(db, june, "Dr. Rina", "2026-07-08")
    # a second Q2 run gets as far as composing the report, then is cancelled: it produced none
    cancelled = start_run("pengumpulan-data", db=db, period="2026-Q2", now="2026-07-02T08:00", by="ani",
                          allow_duplicate=True)["run_id"]
    for hour in range(9, 16):  # steps 1 to 7
        step(db, cancelled, "Mallory", f"2026-07-02T{hour:02d}:00")
    cancel(db, cancelled, reason="Dobel", by="ani", now="2026-07-02T16:30")
    third_quarter = start_run("pengumpulan-data", db=db, period="2026-09", now="2026-09-30T08:00", by="ani")["run_id"]
    finish(db, third_quarter, "Budi", "2026-09-30")  # ends no semester: never reaches steps 7 and 8
    rows = query(db, doc_sql("semester-report"))
    got = [(r["run"], r["period"], r["no"], r["person"]) for r in rows]
    assert got == [
        (hist["a"], "2026-S1", "7", "Dr. Rina"), (hist["a"], "2026-S1", "8", "Dr. Rina"),
        (june, "2026-06", "7", "Joko"),
        (q2, "2026-Q2", "7", "Wati"), (q2, "2026-Q2", "8", "Wati"),
        (june, "2026-06", "8", "Dr. Rina"),
    ]
    assert [e["step"] for e in audit.history(db, run=cancelled, kind="step_completed")][-1] == "susun-laporan-semester"


def test_question_backdated_and_overdue(hist: dict) -> None:
    backdated = query(hist["db"], doc_sql("backdated"))
    # every event of the fixture was entered with --now, months before the real clock
    assert len(backdated) == len(audit.history(hist["db"]))
    overdue = query(hist["db"], doc_sql("overdue-now"))
    assert [(r["run"], r["no"]) for r in overdue] == [(hist["b"], "3")]


# -- the canonical form as documented --------------------------------------------------------------

def test_the_documented_test_values_are_what_the_engine_computes() -> None:
    text = doc_text()
    pairs = re.findall(r"^(\{\"at\":.*\})\nhash: ([0-9a-f]{64})$", text, re.M)
    assert len(pairs) == 2
    previous = GENESIS
    for line, digest in pairs:
        event = json.loads(line)
        assert canonical(event) == line  # the text shown is itself canonical
        assert event["prev_hash"] == previous
        assert event_hash(event) == digest
        previous = digest
    head = re.search(r"head of a database holding only this run: ([0-9a-f]{64})@2", text)
    assert head and database_head({"k7m-x3q": previous}) == head.group(1)


def test_the_documented_hard_cases_are_canonical_and_hash_as_shown() -> None:
    text = doc_text()
    line = re.search(r"^canonical: (\{.*\})\nsha256: ([0-9a-f]{64})$", text, re.M)
    assert line, "docs/auditing.md shows no canonical payload with its sha256"
    shown, digest = line.group(1), line.group(2)
    value = json.loads(shown)
    assert canonical(value) == shown
    assert hashlib.sha256(shown.encode("utf-8")).hexdigest() == digest
    # what the text says about it: code point order, lowercase escapes, floats as repr
    assert list(value) == sorted(value) != sorted(value, key=lambda k: k.encode("utf-16-be"))
    assert "\\u001f" in shown and "\\u001F" not in shown and '"jumlah":1000.0' in shown and '"besar":1e+16' in shown
    assert audit.payload_problem(shown) is None
    assert audit.payload_problem(shown.replace("\\u001f", "\\u001F")) is not None  # upper case is another text


def _run_snippet(folder: Path) -> str:
    """Run docs/auditing.md's independent check as written, in *folder*; its printed line."""
    out = io.StringIO()
    cwd = Path.cwd()
    try:
        os.chdir(folder)
        with contextlib.redirect_stdout(out):
            exec(compile(doc_snippet(), "docs/auditing.md", "exec"), {"__name__": "auditor"})
    finally:
        os.chdir(cwd)
    return out.getvalue().strip()


def test_the_independent_check_agrees_with_the_engine(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    assert "import sopengine" not in doc_snippet() and "from sopengine" not in doc_snippet()
    engine = audit.verify(hist["db"])
    assert _run_snippet(tmp_path) == f"every chain holds {engine['head']}"
    target = run_seqs(hist["db"], hist["a"])[5]
    tamper(hist["db"], ("UPDATE events SET at = '2026-07-02T05:00:00Z' WHERE seq = ?", (target,)), drop_triggers=True)
    engine = audit.verify(hist["db"])
    printed = _run_snippet(tmp_path)
    assert printed == f"({target}, '{hist['a']}', 'does not match its hash') {engine['head']}"
    assert engine["first_problem"]["seq"] == target


def test_the_independent_check_sees_a_deleted_row_where_the_engine_does(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    seqs = run_seqs(hist["db"], hist["a"])
    tamper(hist["db"], ("DELETE FROM events WHERE seq = ?", (seqs[2],)), drop_triggers=True)
    printed = _run_snippet(tmp_path)
    assert printed.startswith(f"({seqs[3]}, '{hist['a']}', 'does not link to the event before it')")
    assert audit.verify(hist["db"])["first_problem"]["seq"] == seqs[3]


def test_the_independent_check_sees_a_key_written_twice_where_the_engine_does(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    seq, payload = sqlite3.connect(hist["db"]).execute(
        "SELECT seq, payload FROM events WHERE run_id = ? AND kind = 'step_completed' ORDER BY seq LIMIT 1", (hist["a"],)
    ).fetchone()
    tamper(hist["db"], ("UPDATE events SET payload = ? WHERE seq = ?", ('{"note":"Tidak lengkap",' + payload[1:], seq)),
           drop_triggers=True)
    engine = audit.verify(hist["db"])
    assert (engine["first_problem"]["kind"], engine["first_problem"]["seq"]) == ("noncanonical", seq)
    assert _run_snippet(tmp_path) == f"({seq}, '{hist['a']}', 'its payload is not stored as its canonical text') {engine['head']}"


def test_a_version_2_database_gains_the_postdated_column(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    conn = sqlite3.connect(hist["db"])  # as the release before postdated entries wrote it
    conn.execute("DROP VIEW audit_events")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0003_audit_events_postdated'")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    assert audit.verify(hist["db"])["ok"]  # read as it is: a read migrates nothing
    assert sqlite3.connect(hist["db"]).execute("PRAGMA user_version").fetchone()[0] == 2
    with Store(hist["db"]) as opened:
        assert opened.conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    columns = [r[1] for r in sqlite3.connect(hist["db"]).execute("PRAGMA table_info(audit_events)")]
    assert columns[columns.index("backdated") + 1] == "postdated"


def test_audit_definition_steps_lists_every_lane_of_a_row(tmp_path: Path) -> None:
    from sopengine.runs import start_run as start

    db = tmp_path / "sopengine.db"
    # a definition pinned in format 1, whose two-lane row is one step with two lanes
    start("permohonan-informasi-publik", db=db, now="2026-10-01T09:00", by="ani",
          definitions=Path(__file__).resolve().parent / "data" / "format1")
    rows = query(db, "SELECT step, actor, lanes FROM audit_definition_steps WHERE definition = 'permohonan-informasi-publik'")
    compiled = json.loads(sqlite3.connect(db).execute("SELECT compiled FROM definitions").fetchone()[0])
    assert {r["step"]: json.loads(r["lanes"]) for r in rows} == {sid: s["lanes"] for sid, s in compiled["steps"].items()}
    several = [r for r in rows if len(json.loads(r["lanes"])) > 1]
    assert [r["step"] for r in several] == ["siapkan-informasi"]  # a row done by two officials
    assert all(r["actor"] == json.loads(r["lanes"])[0] for r in rows)
    assert "`lanes`" in doc_text()


def test_the_independent_check_reads_the_office_chain_and_its_place_in_the_head(tmp_path: Path) -> None:
    import pwd

    from sopengine import people

    hist = build_history(tmp_path)
    people.add_person(hist["db"], "Kepala Kantor", logins=[pwd.getpwuid(os.getuid()).pw_name], access="admin",
                      now="2026-10-02T08:00")
    engine = audit.verify(hist["db"])
    assert engine["head"].endswith("+1")
    assert _run_snippet(tmp_path) == f"every chain holds {engine['head']}"
    conn = sqlite3.connect(hist["db"])
    conn.execute("DROP TRIGGER office_events_append_only_update")
    conn.execute("UPDATE office_events SET person = 'Orang Lain' WHERE seq = 1")
    conn.commit()
    conn.close()
    assert audit.verify(hist["db"])["first_problem"]["run_id"] == "@office"
    assert _run_snippet(tmp_path).startswith("(1, '@office', 'does not match its hash')")


def test_the_independent_check_sees_the_newest_events_deleted_and_an_edited_pin(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    last = run_seqs(hist["db"], hist["a"])[-1]
    tamper(hist["db"], ("DELETE FROM events WHERE seq = ?", (last,)), drop_triggers=True)
    engine = audit.verify(hist["db"])
    assert any("the newest rows were deleted" in p["message"] for p in engine["problems"])
    issued = sqlite3.connect(hist["db"]).execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()[0]
    assert f"events up to {issued} were written: the newest were deleted" in _run_snippet(tmp_path)

    (tmp_path / "b").mkdir()
    other = build_history(tmp_path / "b")
    tamper(other["db"], ("UPDATE calendars SET data = replace(data, '\"', '\"') || ' '", ()))
    assert any(p["kind"] == "calendar" for p in audit.verify(other["db"])["problems"])
    assert _run_snippet(tmp_path / "b").startswith("(None, None, 'calendar ")


# -- the same questions on PostgreSQL ----------------------------------------------------------------

QUESTIONS = ("not-assigned", "slower-than-standard", "semester-report", "backdated", "overdue-now")


def doc_sql_pg(name: str) -> str:
    """The question's PostgreSQL form where the page gives one, else the query both engines read."""
    found = re.search(rf"```sql\n-- question: {re.escape(name)} \(postgresql\)\n(.*?)```", doc_text(), re.S)
    return found.group(1) if found else doc_sql(name)


@pytest.mark.parametrize("name", QUESTIONS)
def test_each_question_gives_the_same_rows_on_postgresql(hist: dict, pg_db: str, name: str) -> None:
    from decimal import Decimal

    import pg_support

    from sopengine import dbcopy

    dbcopy.copy(hist["db"], pg_db)
    expected = query(hist["db"], doc_sql(name))
    assert expected, f"the question {name!r} finds nothing to compare"
    con = pg_support.connect(pg_db)
    try:
        cur = con.raw.execute(doc_sql_pg(name))
        columns = [c.name for c in cur.description]
        got = [dict(zip(columns, (int(v) if isinstance(v, Decimal) and v == int(v) else v for v in row)))
               for row in cur.fetchall()]
    finally:
        con.close()
    assert got == expected
