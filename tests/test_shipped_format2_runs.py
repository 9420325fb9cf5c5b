"""The two SOPs that needed format 2, run as staff would run them.

Operasi Penegakan Perda: the Kasat's rejection in row 6 reopens the Sekretaris's diamond, the
Kabid's undrawn exit ends the run and says so, and row 6's three diamonds share one due time.
Pengajuan Pembayaran: the account code chooses the table, the forking "Ya" of row 5 opens both
branches and the join of row 7 waits for the other one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from sopengine.cli import cli

MON = "2026-12-07T09:00"


def sop(db: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--db", str(db), "--by", "Petugas", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def status(db: Path, run: str) -> dict[str, Any]:
    return json.loads(sop(db, "status", run, "--json").stdout)


def opened(db: Path, run: str) -> list[tuple[str, str, str]]:
    return [(s["step"], s["no"], s["state"]) for s in status(db, run)["open_steps"]]


def test_operasi_row_6_returns_to_the_sekretaris_and_keeps_the_rows_day(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run = json.loads(sop(db, "run", "operasi-penegakan-perda", "--now", MON, "--json").stdout)["run_id"]
    for step in ("1", "2", "3", "4"):
        sop(db, "complete", run, "--step", step, "--now", MON)
    sop(db, "decide", run, "Ya", "--step", "5", "--now", MON)
    assert opened(db, run) == [("periksa-kabid", "6", "open")]
    due = status(db, run)["open_steps"][0]["due_at"]
    sop(db, "decide", run, "Ya", "--step", "periksa-kabid", "--now", MON)
    sop(db, "decide", run, "Ya", "--step", "periksa-sekretaris", "--now", MON)
    sop(db, "decide", run, "Tidak", "--step", "periksa-kasat", "--now", MON)
    st = status(db, run)
    assert [(s["step"], s["actor"], s["due_at"]) for s in st["open_steps"]] == [("periksa-sekretaris", "sekretaris", due)]
    sop(db, "decide", run, "Ya", "--step", "periksa-sekretaris", "--now", MON)
    sop(db, "decide", run, "Ya", "--step", "periksa-kasat", "--now", MON)
    # through the off-page connectors into row 7
    assert opened(db, run) == [("disposisi-surat", "7", "open")]


def test_operasi_the_kabids_undrawn_exit_ends_the_run_recorded_as_such(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run = json.loads(sop(db, "run", "operasi-penegakan-perda", "--now", MON, "--json").stdout)["run_id"]
    for step in ("1", "2", "3", "4"):
        sop(db, "complete", run, "--step", step, "--now", MON)
    sop(db, "decide", run, "Ya", "--step", "5", "--now", MON)
    sop(db, "decide", run, "Tidak", "--step", "periksa-kabid", "--now", MON)
    st = status(db, run)
    assert st["status"] == "completed"
    assert st["ended_by"] == {"step": "periksa-kabid", "outcome": "Tidak", "undrawn": True}
    history = sop(db, "history", "--run", run, "--format", "json").stdout
    assert '"undrawn": true' in history.replace('"undrawn":true', '"undrawn": true')


def test_pengajuan_the_account_code_chooses_the_table_and_the_fork_meets_at_the_join(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    both = sop(db, "run", "pengajuan-pembayaran", "--set", "akun=524114", "--now", MON, code=1)
    assert "2 tables of pengajuan-pembayaran fit; choose one with --table" in both.output
    run = json.loads(sop(db, "run", "pengajuan-pembayaran", "--set", "akun=521211", "--now", MON, "--json").stdout)["run_id"]
    st = status(db, run)
    assert st["table"] == "akun-521211" and st["table_title"] == "Pengajuan Belanja Akun 521211"
    sop(db, "complete", run, "--step", "1", "--now", MON)
    sop(db, "decide", run, "Ya", "--step", "2", "--now", MON)
    sop(db, "complete", run, "--step", "3", "--now", MON)
    sop(db, "complete", run, "--step", "4", "--now", MON)
    sop(db, "decide", run, "Ya", "--step", "5", "--now", MON)
    # the two printed "Ya" arrows: the hand-over opens, the validation waits for it at its join
    assert opened(db, run) == [("v1-menyampaikan", "6", "open"), ("v1-validasi-dokumen", "7", "waiting")]
    sop(db, "complete", run, "--step", "6", "--now", MON)
    assert opened(db, run) == [("v1-validasi-dokumen", "7", "open")]
    sop(db, "complete", run, "--step", "7", "--now", MON)
    sop(db, "complete", run, "--step", "8", "--now", MON)
    assert status(db, run)["status"] == "completed"
    assert sop(db, "audit", "verify").exit_code == 0


def test_pengajuan_a_branch_the_paper_leaves_without_an_arrow_ends_there_recorded(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run = json.loads(sop(db, "run", "pengajuan-pembayaran", "--set", "akun=521811", "--now", MON, "--json").stdout)["run_id"]
    for step, action in (("1", "complete"), ("2", "decide"), ("3", "complete"), ("4", "complete"), ("5", "decide")):
        sop(db, action, run, *(["Ya"] if action == "decide" else []), "--step", step, "--now", MON)
    assert [s for s, _, st in opened(db, run)] == ["v3-menyampaikan", "v3-perekaman"]
    sop(db, "complete", run, "--step", "6", "--now", MON)  # no arrow out on paper: the branch ends
    assert [s for s, _, _ in opened(db, run)] == ["v3-perekaman"]
    history = json.loads(sop(db, "history", "--run", run, "--format", "json").stdout)
    done6 = [e for e in history if e.get("step") == "v3-menyampaikan"]
    assert done6 and "undrawn" in json.dumps(done6[-1])
    sop(db, "complete", run, "--step", "7", "--now", MON)  # its arrow to row 8 is declared, not drawn
    sop(db, "complete", run, "--step", "8", "--now", MON)
    assert status(db, run)["status"] == "completed"
