"""The same commands on SQLite and on PostgreSQL print the same thing.

One sequence of starts, steps, decisions and corrections is run on an SQLite file and on a
PostgreSQL database; every read command (status, the run list, overdue, inbox, report,
history) must print the same text and JSON on both, once the random run ids and the
database's address are put aside.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine.cli import cli

pytestmark = pytest.mark.postgresql

PARALLEL = Path(__file__).resolve().parent / "data" / "parallel"
LATER = "2026-10-09T15:00"


def invoke(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db, "--definitions", str(PARALLEL), *args])
    assert result.exit_code == 0, result.output
    return result.output


def run_id(output: str) -> str:
    return output.split()[2]  # "Started run ID of ..."


def transcript(db: str) -> str:
    """What the read commands print after one working week's changes."""
    ids = {}
    ids["R1"] = run_id(invoke(db, "--now", "2026-10-01T09:00", "run", "pengumpulan-data", "--period", "2026-10",
                              "--assign", "sekretaris-dinas=Agus"))
    ids["R2"] = run_id(invoke(db, "--now", "2026-10-01T09:05", "run", "surat-keluar"))
    ids["R3"] = run_id(invoke(db, "--now", "2026-10-01T09:10", "run", "split-join-loop"))
    ids["R4"] = run_id(invoke(db, "--now", "2026-10-01T09:15", "run", "pengumpulan-data", "--period", "2026-11"))
    steps = [
        ("2026-10-01T10:00", "complete", "R1", "--step", "1", "--by", "Agus"),
        ("2026-10-01T11:00", "complete", "R2", "--step", "1"),
        ("2026-10-01T11:30", "complete", "R2", "--step", "2", "--note", "konsep"),
        ("2026-10-01T11:40", "decide", "R2", "Tidak", "--step", "3"),
        ("2026-10-02T09:00", "complete", "R3", "--step", "1", "--by", "Rina"),
        ("2026-10-02T09:30", "complete", "R3", "--step", "arsipkan", "--by", "Dedi"),
        ("2026-10-02T10:00", "assign", "R3", "kepala-bidang", "Siti", "--acting"),
        ("2026-10-05T09:00", "cancel", "R4", "--reason", "Dimulai dua kali"),
        ("2026-10-05T10:00", "reopen", "R1", "1", "--reason", "Data salah"),
    ]
    for at, command, run, *rest in steps:
        invoke(db, "--now", at, command, ids[run], *rest)
    reads = [
        ["status"], ["status", "--all"], ["status", "--all", "--json"], ["status", "R1"], ["status", "R2", "--json"],
        ["status", "R3", "--json"], ["status", "R4"], ["overdue"], ["overdue", "--json"], ["overdue", "--person", "agus"], ["overdue", "--actor", "kasubag-pep", "--json"],
        ["inbox", "--person", "AGUS"], ["inbox", "--actor", "sekretaris-dinas", "--json"], ["inbox", "--person", "siti", "--json"],
        ["report", "--definition", "pengumpulan-data"], ["report", "--definition", "surat-keluar", "--json"], ["report", "--json"],
        ["report", "--run", "R2", "--format", "csv"], ["report", "--monitoring", "--definition", "surat-keluar", "--json"],
        ["report", "--definition", "pengumpulan-data", "--period", "2026-10", "--since", "2026-10-02"],
        ["history", "--run", "R2"], ["history", "--run", "R3", "--json"], ["history", "--person", "agus", "--format", "csv"],
        ["history", "--actor", "kepala-bidang", "--since", "2026-10-02", "--json"],
    ]
    out = []
    for args in reads:
        text = invoke(db, "--now", LATER, *[ids.get(a, a) for a in args])
        out.append(f"### {' '.join(args)}\n{text}")
    text = "\n".join(out).replace(db, "DB")
    for name, found in ids.items():
        text = text.replace(found, name)
    # an event's hash covers its run's id; when it was written down is the clock's (every time
    # of the week worked is in October 2026)
    text = re.sub(r'"(hash|prev_hash)": "[0-9a-f]{64}"', r'"\1": "HASH"', text)
    text = re.sub(r'"recorded_later_by": \d+', '"recorded_later_by": SECONDS', text)
    return re.sub(r"\b(?!2026-10-)\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:?\d\d)?", "CLOCK", text)


def test_every_read_prints_the_same_on_both_engines(pg_db: str, tmp_path: Path) -> None:
    on_sqlite = transcript(str(tmp_path / "x.db"))
    on_postgresql = transcript(pg_db)
    assert on_postgresql.splitlines() == on_sqlite.splitlines()
    assert "OVERDUE" in on_sqlite and "Siti" in on_sqlite and "Data salah" in on_sqlite  # the transcript says something
