"""``history``: every event with who, when (and when recorded), what; filters; CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import audit, clock
from sopengine.cli import cli
from sopengine.identity import os_user
from sopengine.errors import InputError, RunNotFound
from sopengine.runs import assign, start_run
from test_audit import build_history, step, unwritable_folder

BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def hist(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_history(tmp_path_factory.mktemp("history"))


def test_an_entry_carries_time_people_action_step_documents_and_note(hist: dict) -> None:
    entries = audit.history(hist["db"], run=hist["a"])
    first_step = next(e for e in entries if e["kind"] == "step_completed")
    assert first_step["at"] == "2026-07-01T02:00:00Z"  # 09:00 WIB
    assert first_step["person"] == "Agus Supriyadi"
    assert first_step["os_user"] == os_user()
    assert first_step["action"] == "step completed"
    assert (first_step["step"], first_step["step_no"]) == ("kumpulkan-data", "1")  # format 2: printed text
    assert first_step["kegiatan"] == "Mengumpulkan data laporan kinerja bulanan/triwulan kepada subbag/seksi."
    assert (first_step["actor"], first_step["actor_name"]) == ("sekretaris-dinas", "Sekretaris Dinas")
    assert [d["name"] for d in first_step["documents"]] == ["Disposisi"]
    assert first_step["documents"][0]["sha256"] == audit.file_sha256(first_step["documents"][0]["path"])
    assert first_step["note"] == "Sudah diperiksa — lengkap"
    gate = next(e for e in entries if e["kind"] == "decided" and e["step"] == "akhir-semester")
    assert gate["outcome"] == "Ya" and gate["person"] == "sopengine"
    assert gate["note"] == "automatic (period.ends_semester=True)"
    assert [e["kind"] for e in entries][0] == "run_started" and entries[-1]["kind"] == "run_completed"
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)


def test_entries_recorded_later_than_they_claim_are_marked(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    real = clock.real_now()
    run_id = start_run("pengumpulan-data", db=db, period="2026-10", now=clock.iso(real - timedelta(minutes=6)), by="ani")["run_id"]
    assign(db, run_id, "kepala-seksi", "Sari", by="ani", now=clock.iso(real - timedelta(minutes=4)))
    assign(db, run_id, "kepala-bidang", "Rina", by="ani")  # no --now: recorded as it happens
    entries = audit.history(db, run=run_id)
    assert [(e["kind"], e["backdated"]) for e in entries] == [("run_started", True), ("assigned", False), ("assigned", False)]
    assert entries[0]["recorded_later_by"] >= 360
    assert entries[1]["note"] == "Kepala Seksi: Sari"


def test_entries_dated_after_they_were_recorded_are_marked_postdated(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    real = clock.real_now()
    run_id = start_run("pengumpulan-data", db=db, period="2026-10", now=clock.iso(real - timedelta(minutes=1)), by="ani")["run_id"]
    assign(db, run_id, "kepala-seksi", "Sari", by="ani", now=clock.iso(real + timedelta(minutes=4)))
    assign(db, run_id, "kepala-bidang", "Rina", by="ani", now=clock.iso(real + timedelta(days=2)))  # a typing slip
    entries = audit.history(db, run=run_id)
    assert [(e["backdated"], e["postdated"]) for e in entries] == [(False, False), (False, False), (False, True)]
    assert entries[2]["recorded_later_by"] <= -2 * 86400 + 60
    rows = _csv_rows(CliRunner().invoke(cli, ["history", "--db", str(db), "--format", "csv"]).stdout_bytes)
    assert [r[rows[0].index("postdated")] for r in rows[1:]] == ["", "", "yes"]
    assert [e["postdated"] for e in json.loads(CliRunner().invoke(cli, ["history", "--db", str(db), "--json"]).stdout)] == [
        False, False, True]
    table = CliRunner().invoke(cli, ["history", "--db", str(db)])
    assert "? " + clock.local(entries[2]["recorded_at"])[:-4] in table.stdout
    assert "? recorded more than 5 minutes before the time it claims" in table.stderr
    view = sqlite3.connect(db).execute("SELECT backdated, postdated FROM audit_events ORDER BY seq").fetchall()
    assert view == [(0, 0), (0, 0), (0, 1)]


def test_filter_by_run_person_actor_step_and_kind(hist: dict) -> None:
    db = hist["db"]
    assert {e["run_id"] for e in audit.history(db, run=hist["b"])} == {hist["b"]}
    agus = audit.history(db, person="AGUS supriyadi")  # any case
    assert [e["person"] for e in agus] == ["Agus Supriyadi", "Agus Supriyadi"]
    assert {e["run_id"] for e in agus} == {hist["a"], hist["b"]}
    by_name = audit.history(db, actor="Kepala Bidang")
    by_id = audit.history(db, actor="kepala-bidang")
    assert by_name == by_id
    assert [(e["step"], e["person"]) for e in by_id] == [("susun-laporan-semester", "Dr. Rina"), ("sosialisasi-semester", "Dr. Rina")]
    assert [e["person"] for e in audit.history(db, step="6")] == ["joko"]
    assert audit.history(db, step="6") == audit.history(db, step="rekap-dua-laporan")
    decided = audit.history(db, kind="decided", run=hist["a"])
    assert [(e["step"], e["outcome"]) for e in decided] == [("akhir-semester", "Ya"), ("akhir-tahun", "Tidak")]
    assert audit.history(db, person="nobody") == []
    assert len(audit.history(db, limit=3)) == 3


def test_since_and_until_read_dates_in_wib_and_a_date_until_covers_the_day(hist: dict) -> None:
    db = hist["db"]
    day = audit.history(db, since="2026-07-02", until="2026-07-02")
    assert [(e["person"], clock.local(e["at"])) for e in day] == [
        ("citra", "2026-07-02 09:00 WIB"), ("citra", "2026-07-02 10:00 WIB"), ("budi", "2026-07-02 13:00 WIB"),
        ("sopengine", "2026-07-02 13:00 WIB"),  # the automatic semester gate, decided as budi completed step 5
    ]
    assert [e["person"] for e in audit.history(db, since="2026-07-02T10:00", until="2026-07-02T12:59")] == ["citra"]
    # the same instant with an offset: 13:00 WIB is 06:00 UTC
    at_one = audit.history(db, since="2026-07-02T06:00:00Z", until="2026-07-02T06:00:00+00:00")
    assert [e["person"] for e in at_one] == ["budi", "sopengine"]


def test_a_date_is_told_from_a_time_by_reading_it_not_by_its_length(hist: dict) -> None:
    db = hist["db"]
    day = audit.history(db, since="2026-07-02", until="2026-07-02")
    # the basic ISO form is a date too (it was once read as the time 00:00, so that day showed nothing)
    assert audit.history(db, since="20260702", until="20260702") == day
    assert len(day) == 4
    # a time stays a time: up to 10:00 WIB that day, inclusive
    assert [e["person"] for e in audit.history(db, since="20260702", until="2026-07-02T10")] == ["citra", "citra"]


def test_recorded_since_and_until_bound_when_entries_were_written_down(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    db = hist["db"]
    seqs = [e["seq"] for e in audit.history(db)]
    conn = sqlite3.connect(db)  # give the entries recording times of their own, behind the engine's back
    conn.execute("DROP TRIGGER events_append_only_update")
    for i, seq in enumerate(seqs):
        conn.execute("UPDATE events SET recorded_at = ? WHERE seq = ?", (f"2026-11-{1 + i:02d}T16:30:00Z", seq))
    conn.commit()
    conn.close()
    # 16:30 UTC is 23:30 WIB: each entry belongs to its own WIB day
    assert [e["seq"] for e in audit.history(db, recorded_since="2026-11-03", recorded_until="20261104")] == seqs[2:4]
    assert [e["seq"] for e in audit.history(db, recorded_until="2026-11-02T16:30:00Z")] == seqs[:2]
    result = CliRunner().invoke(cli, ["history", "--db", str(db), "--json", "--recorded-since", "2026-11-10",
                                      "--since", "2026-07-06"])
    assert [e["seq"] for e in json.loads(result.stdout)] == [s for s in seqs[9:] if s in
                                                            {e["seq"] for e in audit.history(db, since="2026-07-06")}]
    with pytest.raises(InputError, match="cannot read time 'kemarin'"):
        audit.history(db, recorded_since="kemarin")


def test_a_late_evening_entry_belongs_to_its_wib_date(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T23:30", by="ani")  # 16:30 UTC
    assert len(audit.history(db, until="2026-10-01")) == 1
    assert audit.history(db, since="2026-10-02") == []
    assert len(audit.history(db, since="2026-10-01", until="2026-10-01")) == 1


def test_bad_filters_are_clear_errors(hist: dict) -> None:
    with pytest.raises(InputError, match="no event kind 'completed'; kinds are: run_started"):
        audit.history(hist["db"], kind="completed")
    with pytest.raises(RunNotFound, match="no run 'xxx-yyy'"):
        audit.history(hist["db"], run="xxx-yyy")
    with pytest.raises(InputError, match="has a step '42'; steps are: "):
        audit.history(hist["db"], step="42")
    with pytest.raises(InputError, match="has a role 'Bupati'"):
        audit.history(hist["db"], actor="Bupati")
    with pytest.raises(InputError, match="cannot read time 'kemarin'"):
        audit.history(hist["db"], since="kemarin")
    result = CliRunner().invoke(cli, ["history", "--db", str(hist["db"]), "--kind", "completed"])
    assert result.exit_code == 1 and result.output.startswith("Error: no event kind 'completed'")
    assert "Traceback" not in result.output


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_opens_in_a_spreadsheet_with_one_header_and_indonesian_text(hist: dict, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["history", "--db", str(hist["db"]), "--run", hist["a"], "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = _csv_rows(result.stdout_bytes)
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert rows.count(rows[0]) == 1
    body = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert len(body) == len(audit.history(hist["db"], run=hist["a"]))
    step1 = next(r for r in body if r["step"] == "kumpulkan-data")
    assert (step1["time"], step1["zone"], step1["time_utc"]) == ("2026-07-01 09:00:00", "WIB", "2026-07-01T02:00:00Z")
    assert step1["kegiatan"] == "Mengumpulkan data laporan kinerja bulanan/triwulan kepada subbag/seksi."
    assert step1["note"] == "Sudah diperiksa — lengkap"
    assert step1["documents"] == "Disposisi" and step1["backdated"] == "yes" and step1["no"] == "1"
    assert b"\r\n" in result.stdout_bytes  # the spreadsheet dialect's line ends
    out = tmp_path / "riwayat.csv"
    to_file = CliRunner().invoke(cli, ["history", "--db", str(hist["db"]), "--run", hist["a"], "--format", "csv", "-o", str(out)])
    assert to_file.exit_code == 0
    assert out.read_bytes() == result.stdout_bytes


def test_json_times_are_utc_with_z(hist: dict) -> None:
    result = CliRunner().invoke(cli, ["history", "--db", str(hist["db"]), "--json", "--person", "joko"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data) == 1
    entry = data[0]
    assert entry["at"] == "2026-07-03T02:00:00Z" and entry["recorded_at"].endswith("Z")
    assert entry["backdated"] is True and entry["step"] == "rekap-dua-laporan"
    assert entry == audit.history_json(audit.history(hist["db"], person="joko")[0])


def test_the_table_shows_wib_and_marks_backdated_entries(hist: dict) -> None:
    result = CliRunner().invoke(cli, ["history", "--db", str(hist["db"]), "--run", hist["a"], "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "Time (WIB)" in result.stdout
    assert "2026-07-01 08:30" in result.stdout and "2026-07-01 09:00" in result.stdout
    assert "! 20" in result.stdout  # recorded later, with the real time it was recorded
    assert "Showing the first 2 entries" in result.stderr


def test_history_never_creates_a_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["history", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and result.output.startswith("Error: no database at")
    assert not (tmp_path / "none.db").exists()


def test_history_csv_in_a_real_process(hist: dict) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sopengine", "history", "--db", str(hist["db"]), "--format", "csv", "--kind", "run_started"],
        capture_output=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows = _csv_rows(proc.stdout)
    assert [r[rows[0].index("run")] for r in rows[1:]] == [hist["a"], hist["b"]]


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_kept_as_text(tmp_path: Path) -> None:
    db = tmp_path / "sopengine.db"
    run_id = start_run("pengumpulan-data", db=db, period="2026-10", now="2026-10-01T09:00", by="@ani")["run_id"]
    step(db, run_id, "+62 812", "2026-10-01T09:05", note='=HYPERLINK("http://x","klik")')
    assign(db, run_id, "kepala-bidang", "-Rina", by="-dedi", now="2026-10-01T09:06")
    rows = _csv_rows(CliRunner().invoke(cli, ["history", "--db", str(db), "--format", "csv"]).stdout_bytes)
    body = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert [r["person"] for r in body] == ["'@ani", "'+62 812", "'-dedi"]
    assert body[1]["note"] == '\'=HYPERLINK("http://x","klik")'
    assert body[2]["note"] == "Kepala Bidang: -Rina"  # starts with a letter: left as it is
    assert (body[0]["time"], body[0]["seq"], body[0]["period"]) == ("2026-10-01 09:00:00", "1", "2026-10")
    assert [audit.csv_cell(v) for v in ("=1+1", "-", "\tx", "\r", "2026-10", 5, None)] == [
        "'=1+1", "'-", "'\tx", "'\r", "2026-10", 5, None]


def test_writing_history_where_it_cannot_be_written_is_a_one_line_error(hist: dict, tmp_path: Path) -> None:
    for target in (tmp_path / "nowhere" / "x.csv", unwritable_folder(tmp_path) / "x.csv"):
        result = CliRunner().invoke(cli, ["history", "--db", str(hist["db"]), "--format", "csv", "-o", str(target)])
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: cannot write {target} (") and result.stderr.count("\n") == 1
        assert "check the folder exists and may be written" in result.stderr and not target.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a device whose every write fails")
def test_a_write_that_fails_midway_is_a_one_line_error(hist: dict) -> None:
    result = CliRunner().invoke(cli, ["history", "--db", str(hist["db"]), "--format", "json", "-o", "/dev/full"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: could not finish writing /dev/full (") and result.stderr.count("\n") == 1
