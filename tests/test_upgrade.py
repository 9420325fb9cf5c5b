"""``sopengine upgrade``: a format-1 file rewritten as format 2 says the same, and runs the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine.cli import cli
from sopengine.definition.format2 import Definition2
from sopengine.definition.loader import check_file, check_text, compile_definition
from sopengine.definition.models import Definition
from sopengine.definition.upgrade import lane_symbol, upgrade_text

FORMAT1 = Path(__file__).resolve().parent / "data" / "format1"
FILES = sorted(FORMAT1.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_an_upgraded_file_says_what_the_format_1_file_said(path: Path) -> None:
    old = check_file(path)
    assert isinstance(old.definition, Definition)
    text = upgrade_text(path.read_text(encoding="utf-8"), str(path))
    new = check_text(text, str(path), expected_id=path.stem)
    assert new.ok and new.problems == [], [str(p) for p in new.problems]
    assert isinstance(new.definition, Definition2)
    before = compile_definition(old.definition, old.text or "")
    after = compile_definition(new.definition, text)
    assert after["id"] == before["id"] and after["title"] == before["title"] and after["actors"] == before["actors"]
    assert new.definition.header.model_dump(include=set(type(old.definition.header).model_fields)) == old.definition.header.model_dump()
    for sid in before["order"]:
        b = before["steps"][sid]
        for k, lane in enumerate(b["lanes"] or [None]):
            a = after["steps"][lane_symbol(sid, k + 1)]
            assert a["no"] == (str(b["no"]) if b["no"] is not None else None)
            assert (a["kegiatan"], a["kind"], a["waktu"], a["duration"], a["untimed"]) == (
                b["kegiatan"], b["kind"], b["waktu"], b["duration"], b["untimed"])
            assert a["lanes"] == ([lane] if lane else [])
            assert a["inputs"] == b["inputs"] and [o["name"] for o in a["outputs"]] == [o["name"] for o in b["outputs"]]
            if k == len(b["lanes"] or [None]) - 1:  # the row's last lane leads where the step led
                assert a["next"] == b["next"]
                assert [(o["name"], o["next"], o["when"]) for o in a["outcomes"]] == [
                    (o["name"], o["next"], o["when"]) for o in b["outcomes"]]
    # nothing dropped: every comment of the file survives
    comments = [ln.strip().lstrip("#").strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip().startswith("#")]
    for c in comments:
        assert c in text


def test_upgrade_in_place_and_refusals(tmp_path: Path) -> None:
    target = tmp_path / "surat-keluar.yaml"
    target.write_text((FORMAT1 / "surat-keluar.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["upgrade", str(target), "--in-place"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "format: 2" in target.read_text(encoding="utf-8")
    again = CliRunner().invoke(cli, ["upgrade", str(target)], catch_exceptions=False)
    assert again.exit_code == 1 and again.output.startswith("Error: ") and "format 2 already" in again.output
    broken = tmp_path / "rusak.yaml"
    broken.write_text("format: 1\nid: rusak\n", encoding="utf-8")
    before = broken.read_text(encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "sopengine", "upgrade", str(broken), "--in-place"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "rusak.yaml" in bad.stderr
    assert broken.read_text(encoding="utf-8") == before  # nothing half-written


def test_an_upgraded_file_runs_as_the_format_1_file_ran(tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "surat-keluar.yaml").write_text(upgrade_text((FORMAT1 / "surat-keluar.yaml").read_text(encoding="utf-8")), encoding="utf-8")

    def sop(*args: str, d: Path = defs) -> str:
        result = CliRunner().invoke(cli, ["--db", str(tmp_path / f"{d.name}.db"), "--definitions", str(d), "--by", "Ani", *args],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    paths = []
    for d in (FORMAT1, defs):
        run = json.loads(sop("run", "surat-keluar", "--now", "2026-12-07T09:00", "--json", d=d))["run_id"]
        for action in (["complete", "1"], ["complete", "2"], ["decide", "Tidak", "3"], ["complete", "2"], ["decide", "Ya", "3"],
                       ["decide", "Ya", "4"], ["complete", "5"], ["complete", "6"], ["complete", "7"]):
            sop(action[0], run, *action[1:-1], "--step", action[-1], "--now", "2026-12-07T10:00", d=d)
        st = json.loads(sop("status", run, "--json", d=d))
        paths.append([(t["step"], str(t["no"]), t["outcome"], t["due_at"]) for t in st["timeline"]])
        assert st["status"] == "completed"
    assert paths[0] == paths[1]
