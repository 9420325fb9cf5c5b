"""SOP texts print as written: square brackets (a transcriber's "[sic]") are not terminal markup."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sopengine.cli import cli

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"
TEXT = "Merekap [sic] laporan [/b] kinerja"


def test_brackets_in_step_texts_print_as_written(tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    source = (DEFINITIONS / "pengumpulan-data.yaml").read_text(encoding="utf-8")
    old = "kegiatan: Merekap laporan kinerja Bulanan dan triwulan"
    assert source.count(old) == 1
    (defs / "pengumpulan-data.yaml").write_text(source.replace(old, f'kegiatan: "{TEXT}"'), encoding="utf-8")
    db = str(tmp_path / "x.db")

    def ok(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--definitions", str(defs), "--db", db, "--now", "2026-10-01T09:00", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    shown = ok("show", "pengumpulan-data")  # a table cell may wrap: look for each bracketed part
    assert "[sic]" in shown and "[/b]" in shown
    run_id = json.loads(ok("run", "pengumpulan-data", "--json"))["run_id"]
    assert TEXT in ok("complete", run_id, "--step", "1")
    assert "[sic]" in ok("inbox", "--actor", "kasubag-pep")
