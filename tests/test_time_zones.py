"""Time zones: WIB/WITA/WIT aliases, a run counted and shown in its calendar's zone, and the
zone of --now, --since and --until for the commands that read many runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sopengine import clock
from sopengine.calendar import load_calendar
from sopengine.definition.loader import check_text
from sopengine.errors import InputError


def definition_text(definition_id: str = "satu", extra: str = "", waktu: str = "1 Jam") -> str:
    return f"""format: 1
id: {definition_id}
title: Uji zona waktu
{extra}actors:
  - {{id: staf, name: Staf Pelaksana}}
steps:
  - id: kerjakan
    no: 1
    kegiatan: Mengerjakan tugas
    actor: staf
    waktu: {waktu}
"""


# -- aliases --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alias, iana", [("WITA", "Asia/Makassar"), ("wib", "Asia/Jakarta"), ("WIT", "Asia/Jayapura")])
def test_a_calendar_file_may_name_its_zone_wib_wita_or_wit(tmp_path: Path, alias: str, iana: str) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(f"timezone: {alias}\n", encoding="utf-8")
    cal = load_calendar(path, years=[2026])
    assert cal.zone == iana
    assert cal.snapshot()["zone"] == iana  # the snapshot keeps the IANA name


def test_a_definition_may_name_its_zone_wita_and_it_is_stored_as_the_iana_name() -> None:
    checked = check_text(definition_text(extra="timezone: WITA\n"), "satu.yaml", "satu")
    assert not checked.errors
    assert checked.definition.timezone == "Asia/Makassar"


def test_an_unknown_zone_names_the_aliases_in_its_fix(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text("timezone: WITT\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"timezone: unknown time zone 'WITT'.*WIB, WITA, WIT"):
        load_calendar(path, years=[2026])
    checked = check_text(definition_text(extra="timezone: WITT\n"), "satu.yaml", "satu")
    assert any("unknown time zone 'WITT'" in p.message and "WITA" in p.message for p in checked.errors)


def test_the_clock_reads_a_time_in_an_aliased_zone() -> None:
    assert clock.iso(clock.parse_time("2026-10-05T09:00", "WITA")) == "2026-10-05T01:00:00Z"
    assert clock.local("2026-10-05T01:00:00Z", "WIT") == "2026-10-05 10:00 WIT"


# -- a run in its calendar's zone -----------------------------------------------------------------


def wita_setup(tmp_path: Path, extra: str = "") -> tuple[Path, Path, Path]:
    """A definitions folder with a one-step SOP (1 Jam) and a WITA calendar file beside it."""
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "satu.yaml").write_text(definition_text(extra=extra), encoding="utf-8")
    (defs / "calendar.yaml").write_text("timezone: WITA\nhours:\n  friday: \"08:00-11:30\"\n", encoding="utf-8")
    return defs, defs / "calendar.yaml", tmp_path / "zona.db"


def test_a_run_with_a_wita_calendar_reads_now_and_shows_times_in_wita(tmp_path: Path) -> None:
    from sopengine.runs import start_run
    from sopengine.inbox import inbox
    from sopengine.status import list_runs, run_status

    defs, _, db = wita_setup(tmp_path)
    started = start_run("satu", db=db, definitions=defs, now="2026-10-05T09:00", by="ani")
    # 09:00 WITA is 01:00Z (read as WIB it would be 02:00Z); 1 Jam of office time later.
    assert started["started_at"] == "2026-10-05T01:00:00Z"
    status = run_status(db, started["run_id"], now="2026-10-05T15:30")
    assert status["timezone"] == "Asia/Makassar"
    [step] = status["open_steps"]
    assert step["due_at"] == "2026-10-05T02:00:00Z"
    # 15:30 WITA: 5 h 30 min of office time since 10:00 (read as WIB, 16:30 WITA, it would be 6 h).
    assert step["late_by"] == 5 * 3600 + 30 * 60
    [row] = list_runs(db, now="2026-10-05T15:30")
    assert row["timezone"] == "Asia/Makassar" and row["open_steps"][0]["late_by"] == 5 * 3600 + 30 * 60
    [waiting] = inbox(db, actor="staf", now="2026-10-05T15:30")
    assert waiting["timezone"] == "Asia/Makassar" and waiting["late_by"] == 5 * 3600 + 30 * 60


def test_the_definitions_zone_wins_over_the_calendar_files_for_the_run(tmp_path: Path) -> None:
    from sopengine.runs import start_run
    from sopengine.status import run_status

    defs, _, db = wita_setup(tmp_path, extra="timezone: WIT\n")
    started = start_run("satu", db=db, definitions=defs, now="2026-10-05T09:00", by="ani")
    assert started["started_at"] == "2026-10-05T00:00:00Z"  # 09:00 WIT
    assert run_status(db, started["run_id"])["timezone"] == "Asia/Jayapura"


def test_the_command_line_shows_a_wita_runs_times_in_wita(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sopengine.cli import cli

    defs, _, db = wita_setup(tmp_path)
    runner = CliRunner()
    started = runner.invoke(cli, ["run", "satu", "--definitions", str(defs), "--db", str(db), "--now", "2026-10-09T11:00",
                                  "--by", "ani", "--json"], catch_exceptions=False)
    assert started.exit_code == 0, started.output
    run_id = json.loads(started.output)["run_id"]
    # Friday closes at 11:30 WITA: half an hour on Friday, half an hour on Monday.
    shown = runner.invoke(cli, ["status", run_id, "--db", str(db), "--now", "2026-10-12T09:00"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "2026-10-09 11:00 WITA" in shown.output and "2026-10-12 08:30 WITA" in shown.output
    assert "WIB" not in shown.output


# -- overdue and report across zones --------------------------------------------------------------


@pytest.fixture
def two_zones(tmp_path: Path) -> tuple[Path, str, str]:
    """A WITA run and a WIB run of one-step SOPs (1 Jam), both started at 09:00 local time."""
    from sopengine.runs import start_run

    defs, _, db = wita_setup(tmp_path)
    wib = tmp_path / "wib"
    wib.mkdir()
    (wib / "dua.yaml").write_text(definition_text("dua"), encoding="utf-8")
    wita_run = start_run("satu", db=db, definitions=defs, now="2026-10-05T09:00", by="ani")["run_id"]
    wib_run = start_run("dua", db=db, definitions=wib, now="2026-10-05T09:00", by="ani")["run_id"]
    return db, wita_run, wib_run


def test_overdue_rows_carry_their_runs_zone_and_now_is_read_in_wib(two_zones: tuple[Path, str, str]) -> None:
    from sopengine.overdue import overdue

    db, wita_run, wib_run = two_zones
    rows = {r["run_id"]: r for r in overdue(db, now="2026-10-05T11:00")}  # 11:00 WIB = 12:00 WITA
    assert rows[wita_run]["timezone"] == "Asia/Makassar" and rows[wib_run]["timezone"] == "Asia/Jakarta"
    assert rows[wita_run]["due_at"] == "2026-10-05T02:00:00Z" and rows[wita_run]["late_by"] == 2 * 3600
    assert rows[wib_run]["due_at"] == "2026-10-05T03:00:00Z" and rows[wib_run]["late_by"] == 1 * 3600


def test_the_overdue_table_shows_each_due_time_in_its_runs_zone(two_zones: tuple[Path, str, str]) -> None:
    from click.testing import CliRunner

    from sopengine.cli import cli

    db, wita_run, wib_run = two_zones
    result = CliRunner().invoke(cli, ["overdue", "--db", str(db), "--now", "2026-10-05T11:00"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = {run: next(line for line in result.output.splitlines() if run in line) for run in (wita_run, wib_run)}
    assert "2026-10-05 10:00 WITA" in lines[wita_run]
    assert "2026-10-05 10:00 WIB" in lines[wib_run]


def test_report_reads_since_in_the_zone_of_the_sop_named(two_zones: tuple[Path, str, str]) -> None:
    from sopengine.report import report

    db, wita_run, _ = two_zones
    # 09:00 WITA is when the WITA run's step opened; read as WIB (10:00 WITA) it would leave it out.
    data = report(db, definition="satu", since="2026-10-05T09:00", now="2026-10-05T09:30")
    assert data["timezone"] == "Asia/Makassar"
    assert data["scope"]["since"] == "2026-10-05T01:00:00Z" and data["now"] == "2026-10-05T01:30:00Z"
    [run] = data["runs"]
    assert run["run_id"] == wita_run and run["timezone"] == "Asia/Makassar"
    assert run["taken_seconds"] == 30 * 60
    # Without --definition or --run the times are read in WIB.
    assert report(db, since="2026-10-05T09:00")["scope"]["since"] == "2026-10-05T02:00:00Z"


def test_the_report_table_shows_a_runs_start_in_its_zone(two_zones: tuple[Path, str, str]) -> None:
    from click.testing import CliRunner

    from sopengine.cli import cli

    db, wita_run, _ = two_zones
    result = CliRunner().invoke(cli, ["report", "--run", wita_run, "--db", str(db), "--now", "2026-10-05T10:00"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 h of office time since 2026-10-05 09:00 WITA" in result.output
