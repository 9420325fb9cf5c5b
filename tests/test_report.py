"""The report (actual against standard time) and the monitoring form, checked against
figures worked out by hand from real runs with a fixed clock (WIB, office hours 08:00-16:00)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopengine.errors import DatabaseMissing, InputError, RunNotFound
from sopengine.report import BAIK, TIDAK_BAIK, judge, monitoring, report
from sopengine.runs import complete, decide, start_run

HOUR = 3600
MINUTE = 60


def one_step(folder: Path, waktu: str, definition_id: str = "satu-langkah") -> str:
    folder.mkdir(exist_ok=True)
    (folder / f"{definition_id}.yaml").write_text(
        f"""format: 1
id: {definition_id}
title: Uji waktu {waktu}
header:
  nomor: 800/01/UJI/2026
  unit: Sub Bagian Umum
actors:
  - {{id: staf, name: Staf Pelaksana}}
steps:
  - id: kerjakan
    no: 1
    kegiatan: Mengerjakan tugas
    actor: staf
    waktu: {waktu}
""",
        encoding="utf-8",
    )
    return definition_id


def start(definition_id: str, db: Path, now: str, defs: Path | None = None, **kw) -> str:
    return start_run(definition_id, db=db, definitions=defs, now=now, by="ani", **kw)["run_id"]


def by_step(rows: list[dict]) -> dict[str, dict]:
    return {r["step"]: r for r in rows}


FIGURES = ("visits", "late", "open", "open_overdue", "median_seconds", "max_seconds", "standard_seconds", "corrections")


def figures(row: dict) -> tuple:
    return tuple(row[k] for k in FIGURES)


@pytest.fixture
def loop_run(db_location: str | Path) -> tuple[Path, str]:
    """Surat keluar on Monday 5 October 2026, with one correction round."""
    db = db_location
    run = start("surat-keluar", db, "2026-10-05T09:00")
    complete(db, run, by="ani", now="2026-10-05T09:20")  # konsep (30 menit): 20 min
    complete(db, run, by="budi", now="2026-10-05T09:30")  # ketik (15 menit): 10 min
    decide(db, run, "Tidak", by="ani", now="2026-10-05T09:50")  # periksa (30 menit): 20 min
    complete(db, run, by="budi", now="2026-10-05T10:45")  # ketik again: 55 min, due 10:05
    decide(db, run, "Ya", by="ani", now="2026-10-05T11:00")  # periksa again: 15 min
    # periksa-sekretaris (2 jam) opened 11:00, due 13:00, still open at 15:00.
    return db, run


def test_a_run_with_a_correction_round(loop_run: tuple[Path, str]) -> None:
    db, run = loop_run
    data = report(db, run=run, now="2026-10-05T15:00")
    assert data["scope"]["run"] == run and data["now"] == "2026-10-05T08:00:00Z"
    [r] = data["runs"]
    assert r["run_id"] == run and r["status"] == "active"
    assert r["taken_seconds"] == 6 * HOUR  # 09:00 to 15:00
    steps = by_step(r["steps"])
    assert list(steps) == ["konsep-surat", "ketik-konsep", "periksa-kasubag", "periksa-sekretaris"]
    #                                visits late open overdue median        max          standard     corrections
    assert figures(steps["konsep-surat"]) == (1, 0, 0, 0, 20 * MINUTE, 20 * MINUTE, 30 * MINUTE, 0)
    # ketik: 10 and 55 minutes; the median of two is their mean, 32 min 30 s.
    assert figures(steps["ketik-konsep"]) == (2, 1, 0, 0, 1950, 55 * MINUTE, 15 * MINUTE, 1)
    # periksa: 20 and 15 minutes, both within 30.
    assert figures(steps["periksa-kasubag"]) == (2, 0, 0, 0, 1050, 20 * MINUTE, 30 * MINUTE, 1)
    assert figures(steps["periksa-sekretaris"]) == (0, 0, 1, 1, None, None, 2 * HOUR, 0)
    assert steps["ketik-konsep"]["actor_name"] == "Pengadministrasi Umum/ Arsiparis"
    assert steps["ketik-konsep"]["waktu"] == "15 menit" and steps["ketik-konsep"]["no"] == "2"
    # One run: the figures across runs are the same.
    assert [figures(s) for s in data["steps"]] == [figures(s) for s in r["steps"]]


def test_an_open_second_round_is_already_a_correction(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start("surat-keluar", db, "2026-10-05T09:00")
    complete(db, run, by="ani", now="2026-10-05T09:20")
    complete(db, run, by="budi", now="2026-10-05T09:30")
    decide(db, run, "Tidak", by="ani", now="2026-10-05T09:50")
    ketik = by_step(report(db, run=run, now="2026-10-05T10:00")["runs"][0]["steps"])["ketik-konsep"]
    assert figures(ketik) == (1, 0, 1, 0, 10 * MINUTE, 10 * MINUTE, 15 * MINUTE, 1)


def test_figures_across_runs(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "30 Menit")
    # Five runs opened Tuesday 6 October 2026 08:00, completed after 20 min, 25 min,
    # 2 h 10 min, 3 h and 4 h; one more still open.
    for done in ("08:20", "08:25", "10:10", "11:00", "12:00"):
        run = start(sop, db, "2026-10-06T08:00", defs)
        complete(db, run, by="ani", now=f"2026-10-06T{done}")
    start(sop, db, "2026-10-06T16:00", defs)  # counted from Wednesday 08:00: due 08:30
    data = report(db, now="2026-10-07T08:00")
    assert len(data["runs"]) == 6
    [step] = data["steps"]
    assert figures(step) == (5, 3, 1, 0, 2 * HOUR + 10 * MINUTE, 4 * HOUR, 30 * MINUTE, 0)
    assert step["runs"] == 6
    later = report(db, now="2026-10-07T09:00")["steps"][0]
    assert (later["open"], later["open_overdue"]) == (1, 1)
    # Runs started at the same minute come in id order: compare the per-run figures as a set.
    per_run = sorted((r["steps"][0]["median_seconds"] or 0, r["steps"][0]["late"]) for r in data["runs"])
    assert per_run == [(0, 0), (20 * MINUTE, 0), (25 * MINUTE, 0), (130 * MINUTE, 1), (3 * HOUR, 1), (4 * HOUR, 1)]


def test_working_days_and_calendar_days(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    defs.mkdir()
    (defs / "surat-tenggat.yaml").write_text(
        """format: 1
id: surat-tenggat
title: Surat dengan tenggat
deadline: Paling lambat 3 hari kerja
actors:
  - {id: sekretaris, name: Sekretaris}
  - {id: kasubag, name: Kasubag Umum}
steps:
  - {id: tandatangani, no: 1, kegiatan: Menandatangani surat, actor: sekretaris, waktu: 5 Hari}
  - {id: kirim, no: 2, kegiatan: Mengirim surat, actor: kasubag, waktu: 2 hari kalender}
""",
        encoding="utf-8",
    )
    run = start("surat-tenggat", db, "2026-10-05T09:20", defs)
    complete(db, run, by="ani", now="2026-10-07T09:00")
    complete(db, run, by="ani", now="2026-10-09T10:00")
    [r] = report(db, run=run)["runs"]
    assert r["status"] == "completed"
    steps = by_step(r["steps"])
    # 5 Hari allow 5 x 8 h of office time; taken: Mon 09:20-16:00, Tue, Wed 08:00-09:00.
    assert figures(steps["tandatangani"]) == (1, 0, 0, 0, 6 * HOUR + 40 * MINUTE + 9 * HOUR, 15 * HOUR + 40 * MINUTE, 40 * HOUR, 0)
    assert steps["tandatangani"]["counted_in"] == "working"
    # 2 hari kalender allow 48 h of plain time; Wednesday 09:00 to Friday 10:00 is 49 h.
    assert figures(steps["kirim"]) == (1, 1, 0, 0, 49 * HOUR, 49 * HOUR, 48 * HOUR, 0)
    assert steps["kirim"]["counted_in"] == "calendar"
    # The deadline (Thursday 09:20) was missed by Thu 09:20-16:00 and Fri 08:00-10:00.
    assert r["due_at"] == "2026-10-08T02:20:00Z"
    assert r["deadline_late_by"] == 6 * HOUR + 40 * MINUTE + 2 * HOUR
    # Monday 09:20 to Friday 10:00: 6 h 40 min + 3 x 8 h + 2 h.
    assert r["taken_seconds"] == 6 * HOUR + 40 * MINUTE + 24 * HOUR + 2 * HOUR


def test_scopes(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "1 jam")
    first = start(sop, db, "2026-10-06T09:00", defs, period="2026-10")
    complete(db, first, by="ani", now="2026-10-06T09:30")
    second = start(sop, db, "2026-10-20T09:00", defs, period="2026-11")
    complete(db, second, by="ani", now="2026-10-20T11:00")
    other = start("surat-keluar", db, "2026-10-06T09:30")
    assert [r["run_id"] for r in report(db)["runs"]] == [first, other, second]
    assert [r["run_id"] for r in report(db, definition=sop)["runs"]] == [first, second]
    assert [r["run_id"] for r in report(db, definition=sop, period="2026-11")["runs"]] == [second]
    assert report(db, definition=sop, period="2026-12")["runs"] == []
    # Visits opened in a window; a date alone for --until covers that whole day.
    window = report(db, since="2026-10-01", until="2026-10-10")
    assert [r["run_id"] for r in window["runs"]] == [first, other]
    assert window["scope"]["since"] == "2026-09-30T17:00:00Z" and window["scope"]["until"] == "2026-10-10T17:00:00Z"
    assert [r["run_id"] for r in report(db, definition=sop, since="2026-10-20", until="2026-10-20")["runs"]] == [second]
    assert figures(report(db, definition=sop, since="2026-10-20")["steps"][0]) == (1, 1, 0, 0, 2 * HOUR, 2 * HOUR, HOUR, 0)


def test_scope_errors(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start("surat-keluar", db, "2026-10-06T09:00")
    with pytest.raises(InputError, match="--run names one run"):
        report(db, run=run, definition="surat-keluar")
    with pytest.raises(InputError, match="--period needs --definition"):
        report(db, period="2026-10")
    with pytest.raises(InputError, match="cannot read period"):
        report(db, definition="surat-keluar", period="Oktober")
    with pytest.raises(InputError, match="no runs of SOP 'surat-masuk'.*SOPs with runs: surat-keluar"):
        report(db, definition="surat-masuk")
    with pytest.raises(InputError, match="is not after --since"):
        report(db, since="2026-10-10", until="2026-10-01")
    with pytest.raises(RunNotFound, match="no run 'abc-def'"):
        report(db, run="abc-def")
    missing = tmp_path / "missing.db"
    with pytest.raises(DatabaseMissing, match="no database at"):
        report(missing)
    with pytest.raises(DatabaseMissing):
        monitoring(missing)
    assert not missing.exists()


# --------------------------------------------------------------------------- the monitoring form


def test_monitoring_judges_each_row_and_says_why(db_location: str | Path, tmp_path: Path) -> None:
    defs, db = tmp_path / "defs", db_location
    sop = one_step(defs, "30 Menit")
    for done in ("08:20", "08:25", "10:10", "11:00", "12:00"):
        run = start(sop, db, "2026-10-06T08:00", defs)
        complete(db, run, by="ani", now=f"2026-10-06T{done}")
    [form] = monitoring(db, now="2026-10-07T08:00")
    assert form["definition"] == sop
    assert (form["nomor"], form["unit"], form["runs"]) == ("800/01/UJI/2026", "Sub Bagian Umum", 5)
    assert "more than a fifth" in form["rule"]
    [row] = form["rows"]
    assert (row["no"], row["prosedur"]) == (1, "Mengerjakan tugas")
    assert row["penilaian"] == TIDAK_BAIK == "Tidak berjalan dengan baik"
    assert row["catatan"] == "3 of 5 visits late; median 2 h 10 min against 30 Menit"
    assert "Staf Pelaksana" in row["tindakan"] and "30 Menit" in row["tindakan"]
    assert row["evidence"]["visits"] == 5 and row["evidence"]["late"] == 3


def test_monitoring_of_the_loop_run(loop_run: tuple[Path, str]) -> None:
    db, _ = loop_run
    [form] = monitoring(db, definition="surat-keluar", now="2026-10-05T15:00")
    assert form["title"] == "Pengurusan Surat Keluar"
    rows = {int(r["no"]): r for r in form["rows"]}  # format 2: printed text
    assert list(rows) == [1, 2, 3, 4, 5, 6, 7]
    assert rows[1]["penilaian"] == BAIK
    assert rows[1]["catatan"] == "0 of 1 visit late; median 20 min against 30 menit"
    assert rows[1]["tindakan"] == "-"
    # ketik: 1 of 2 late is more than a fifth.
    assert rows[2]["penilaian"] == TIDAK_BAIK
    assert rows[2]["catatan"] == "1 of 2 visits late; median 32 min against 15 menit; 1 correction round"
    assert "correction rounds" in rows[2]["tindakan"]
    assert rows[3]["penilaian"] == BAIK
    assert rows[3]["catatan"] == "0 of 2 visits late; median 17 min against 30 menit; 1 correction round"
    # periksa-sekretaris is open past its due time: judged late.
    assert rows[4]["penilaian"] == TIDAK_BAIK
    assert rows[4]["catatan"] == "1 of 1 visit late; 1 still open past due"
    assert rows[5]["penilaian"] is None
    assert rows[5]["catatan"] == "Not carried out in the runs assessed."


def test_monitoring_lists_numbered_rows_only(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start("pengumpulan-data", db, "2026-10-01T09:00", period="2026-10")
    complete(db, run, by="ani", now="2026-10-01T09:10")
    [form] = monitoring(db, now="2026-10-01T09:20")
    assert [r["no"] for r in form["rows"]] == [str(n) for n in range(1, 10)]  # the two gates have no number
    assert form["nomor"] == "03/24 - Satpol PP/2022"
    assert form["periods"] == ["2026-10"]
    assert form["rows"][0]["penilaian"] == BAIK
    assert form["rows"][1]["penilaian"] is None  # open, not yet due


@pytest.mark.parametrize(
    "late, visits, open_overdue, median, expected",
    [
        (1, 5, 0, 20 * MINUTE, BAIK),  # exactly a fifth is not more than a fifth
        (2, 5, 0, 20 * MINUTE, TIDAK_BAIK),
        (0, 4, 1, 20 * MINUTE, BAIK),  # 1 of 5 judged visits late
        (0, 3, 1, 20 * MINUTE, TIDAK_BAIK),  # 1 of 4
        (0, 5, 0, 31 * MINUTE, TIDAK_BAIK),  # median above the standard
        (0, 5, 0, 30 * MINUTE, BAIK),  # median equal to the standard
    ],
)
def test_the_judgement_rule(late: int, visits: int, open_overdue: int, median: int, expected: str) -> None:
    row = {
        "visits": visits, "late": late, "open_overdue": open_overdue, "median_seconds": median,
        "standard_seconds": 30 * MINUTE, "corrections": 0, "waktu": "30 Menit", "actor_name": "Staf",
    }
    penilaian, catatan, tindakan = judge(row)
    assert penilaian == expected
    assert catatan.startswith(f"{late + open_overdue} of {visits + open_overdue} visit")
    assert (tindakan == "-") == (expected == BAIK)


def test_a_step_without_a_standard_time_is_not_judged() -> None:
    row = {
        "visits": 2, "late": 0, "open_overdue": 0, "median_seconds": 5 * HOUR,
        "standard_seconds": None, "corrections": 1, "waktu": "Pada hari dan jam kerja", "actor_name": "Staf",
    }
    assert judge(row) == (
        None, "No standard time (Waktu: Pada hari dan jam kerja): not judged; 2 visits completed; median 5 h; 1 correction round", "-",
    )


def informasi_publik(db: Path, started: str, finished: str) -> str:
    """A Permohonan Informasi Publik run from ``started`` to ``finished`` (its last step)."""
    run = start("permohonan-informasi-publik", db, started)
    complete(db, run, by="ani", now=started)  # 1. permohonan diajukan
    decide(db, run, "YA", by="ani", now=started)  # 2. lengkap
    for _ in range(6):  # 3, 4, 5, both lanes of 6, 7
        complete(db, run, by="ani", now=started)
    complete(db, run, by="ani", now=finished)  # 8. the citizen receives the information
    return run


def test_the_monitoring_form_judges_the_process_deadline(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    # Monday 5 October 2026 09:00: "Paling lambat 17 hari kerja" is Wednesday 28 October 09:00.
    late = informasi_publik(db, "2026-10-05T09:00", "2026-11-20T09:00")  # 17 working days past it
    informasi_publik(db, "2026-10-05T09:00", "2026-10-27T09:00")  # in time
    [form] = monitoring(db, definition="permohonan-informasi-publik", now="2026-12-01T09:00")
    deadline = form["deadline"]
    assert (deadline["text"], deadline["runs_judged"], deadline["runs_late"]) == ("Paling lambat 17 hari kerja", 2, 1)
    assert (deadline["max_late_seconds"], deadline["max_late_days"]) == (17 * 8 * HOUR, 17)
    assert deadline["penilaian"] == TIDAK_BAIK  # one run in two missed it
    rows = {int(r["no"]): r for r in form["rows"]}  # format 2: printed text
    # Rows with no standard time are reported, not judged.
    assert all(rows[no]["penilaian"] is None for no in range(1, 8))
    assert rows[3]["catatan"].startswith("No standard time (Waktu: Pada hari dan jam kerja): not judged; 2 visits completed")
    # Row 8's waktu is the deadline's text: it carries the deadline's judgement.
    assert rows[8]["penilaian"] == TIDAK_BAIK
    assert rows[8]["catatan"] == "1 of 2 runs missed the deadline (Paling lambat 17 hari kerja); by up to 136 h (17 hari kerja)"
    assert rows[8]["tindakan"] != "-"
    by_run = {r["run_id"]: r for r in report(db, definition="permohonan-informasi-publik")["runs"]}
    assert by_run[late]["status"] == "completed" and by_run[late]["deadline_late_by"] == 17 * 8 * HOUR
    assert by_run[late]["deadline_late_by_days"] == 17


def test_a_run_still_active_before_its_deadline_is_not_judged_against_it(db_location: str | Path, tmp_path: Path) -> None:
    db = db_location
    run = start("permohonan-informasi-publik", db, "2026-10-05T09:00")
    complete(db, run, by="ani", now="2026-10-05T09:10")
    [form] = monitoring(db, run=run, now="2026-10-20T09:00")
    assert (form["deadline"]["runs_judged"], form["deadline"]["runs_late"], form["deadline"]["penilaian"]) == (0, 0, None)
    # Once office time has passed since its deadline the active run counts as late.
    [form] = monitoring(db, run=run, now="2026-10-28T10:00")
    assert (form["deadline"]["runs_judged"], form["deadline"]["runs_late"], form["deadline"]["max_late_seconds"]) == (1, 1, HOUR)
    assert form["deadline"]["penilaian"] == TIDAK_BAIK


def test_a_step_completed_after_closing_on_its_due_day_is_not_late(db_location: str | Path, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    one_step(defs, "1 Jam")
    db = db_location
    evening = start("satu-langkah", db, "2026-10-06T15:00", defs)  # due Tuesday 16:00
    complete(db, evening, by="ani", now="2026-10-06T16:30")  # after closing: no office time past due
    morning = start("satu-langkah", db, "2026-10-06T15:00", defs, allow_duplicate=True)
    complete(db, morning, by="ani", now="2026-10-07T08:10")  # 10 minutes of office time past due
    runs = {r["run_id"]: r["steps"][0] for r in report(db, now="2026-10-07T09:00")["runs"]}
    assert runs[evening]["late"] == 0 and runs[evening]["median_seconds"] == HOUR
    assert runs[morning]["late"] == 1 and runs[morning]["median_seconds"] == HOUR + 10 * MINUTE
    [across] = report(db, now="2026-10-07T09:00")["steps"]
    assert (across["visits"], across["late"]) == (2, 1)


@pytest.mark.sqlite_only
def test_a_report_of_one_period_reads_that_periods_runs_through_indexes(tmp_path: Path) -> None:
    """Its runs come from an index on (SOP, period) or (SOP, start time), and only their task
    rows are read: a report of one period costs the same however old the database is."""
    import sqlite3

    from sopengine.store.queries import REPORT_TASK_COLUMNS

    db = tmp_path / "p.db"
    start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="Agus")
    conn = sqlite3.connect(db)

    def plan(sql: str, args: tuple[object, ...]) -> str:
        return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))

    latest = plan("SELECT * FROM runs WHERE definition_id = ? ORDER BY started_at DESC, id DESC LIMIT 1", ("x",))
    assert latest == "SEARCH runs USING INDEX runs_definition_started (definition_id=?)", latest
    every = plan("SELECT * FROM runs WHERE definition_id = ? ORDER BY started_at, id", ("x",))
    assert every == "SEARCH runs USING INDEX runs_definition_started (definition_id=?)", every
    in_period = plan("SELECT * FROM runs WHERE definition_id = ? AND period = ?", ("x", "y"))
    assert in_period.startswith("SEARCH runs USING INDEX runs_definition_period (definition_id=? AND period=?)"), in_period
    tasks = plan(f"SELECT {', '.join(REPORT_TASK_COLUMNS)} FROM tasks WHERE run_id IN (?, ?) AND state IN ('done', 'open')"
                 " ORDER BY id", ("a", "b"))
    assert tasks.startswith("SEARCH tasks USING INDEX tasks_run (run_id=? AND state=?)"), tasks
    conn.close()
