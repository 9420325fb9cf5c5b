"""Start-up stays light: what ``complete``, ``decide``, ``status``, ``list``, the queries and ``--help`` import.

Each command runs in a fresh interpreter under ``python -X importtime`` on a real database,
and the modules it imported are read from that report. pydantic, sqlite-utils, rich,
holidays and jinja2 each cost more to import than a whole step takes; they belong to
validation, admin queries, tables, calendars and rendering, never to a step. ``list`` keeps
what it checked in a cache, so a second ``list`` validates nothing and imports no pydantic;
the queries (``overdue``, ``inbox``, ``report``) import nothing heavy for their JSON and only
rich for their tables. A step reads its definition compiled, as JSON, from the database, so it
imports no YAML; ``--help`` imports click and the command line's own start-up and nothing a
command works with.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sopengine import runs

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
HEAVY = {"pydantic", "sqlite_utils", "rich", "holidays", "jinja2"}
NOW = "2026-10-05T09:00"
# What a step never needs: it reads its definition compiled, as JSON, from the database (no
# YAML), makes no run id (secrets) and formats no help (shutil). Its records are plain classes
# and named tuples: building each dataclass at import cost a third of a millisecond.
NOT_IN_A_STEP = {"yaml", "secrets", "shutil", "dataclasses"}
# --help prints words: it loads click and the command line's own start-up, nothing a command
# works with (the libraries of a step, nor json, pathlib, dataclasses or shutil).
NOT_IN_HELP = {"yaml", "transitions", "sqlite3", "json", "pathlib", "dataclasses", "shutil", "secrets", "zoneinfo", "hashlib"}
HELP_MODULES = {"sopengine", "sopengine.cli", "sopengine.cli.common", "sopengine.cli.runs", "sopengine.i18n"}


def imported(args: list[str], cwd: Path) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Run ``python -X importtime -m sopengine ARGS``; the names of every module it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_")}
    env["SOPENGINE_LANG"] = "en"  # the words these tests read are the English ones
    env["XDG_CACHE_HOME"] = str(cwd / "cache")  # list's cache of what it checked, this test's own
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sopengine", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names, proc


def heavy(names: set[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] in HEAVY}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


def common(db: Path) -> list[str]:
    """The global options, given before the command name (every command accepts them there)."""
    return ["--db", str(db), "--definitions", str(DEFINITIONS), "--now", NOW, "--by", "Agus"]


def errors(proc: subprocess.CompletedProcess[str]) -> str:
    """stderr without the import report, for assertion messages."""
    return "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("import time:"))[-500:]


def test_complete_imports_none_of_the_heavy_libraries(db: Path, tmp_path: Path) -> None:
    run_id = runs.start_run("pengumpulan-data", db=db, definitions=DEFINITIONS, period="2026-10", by="Agus", now="2026-10-05T08:00")["run_id"]
    for extra in ([], ["--json"]):
        step = "kumpulkan-data" if not extra else "rekap-laporan"
        names, proc = imported([*common(db), "complete", run_id, "--step", step, *extra], tmp_path)
        assert proc.returncode == 0, errors(proc)
        # the report is read: the step's own modules are in it
        assert {"sopengine.runs", "sopengine.store", "transitions", "sqlite3"} <= names
        assert heavy(names) == set(), f"complete {extra} imported {sorted(heavy(names))}"
        assert names & NOT_IN_A_STEP == set(), f"complete {extra} imported {sorted(names & NOT_IN_A_STEP)}"
    with sqlite3.connect(db) as con:
        done = [r[0] for r in con.execute("SELECT step_id FROM tasks WHERE run_id = ? AND state = 'done' ORDER BY id", (run_id,))]
    assert done == ["kumpulkan-data", "rekap-laporan"]


def test_decide_imports_none_of_the_heavy_libraries(db: Path, tmp_path: Path) -> None:
    run_id = runs.start_run("surat-keluar", db=db, definitions=DEFINITIONS, by="Agus", now="2026-10-05T08:00")["run_id"]
    runs.complete(db, run_id, by="Agus", now="2026-10-05T08:10")
    runs.complete(db, run_id, by="Agus", now="2026-10-05T08:20")
    names, proc = imported([*common(db), "decide", run_id, "Ya", "--step", "periksa-kasubag"], tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert "Decided Ya" in proc.stdout
    assert heavy(names) == set(), f"decide imported {sorted(heavy(names))}"
    assert names & NOT_IN_A_STEP == set(), f"decide imported {sorted(names & NOT_IN_A_STEP)}"
    names, proc = imported([*common(db), "decide", run_id, "Tidak", "--step", "periksa-sekretaris", "--json"], tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert json.loads(proc.stdout)["outcome"] == "Tidak"
    assert heavy(names) == set(), f"decide --json imported {sorted(heavy(names))}"


def test_status_json_imports_none_of_the_heavy_libraries(db: Path, tmp_path: Path) -> None:
    run_id = runs.start_run("pengumpulan-data", db=db, definitions=DEFINITIONS, period="2026-10", by="Agus", now="2026-10-05T08:00")["run_id"]
    names, proc = imported([*common(db), "status", run_id, "--json"], tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert json.loads(proc.stdout)["run_id"] == run_id
    assert heavy(names) == set(), f"status RUN --json imported {sorted(heavy(names))}"
    assert names & NOT_IN_A_STEP == set(), f"status RUN --json imported {sorted(names & NOT_IN_A_STEP)}"
    names, proc = imported([*common(db), "status", "--json"], tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert [r["run_id"] for r in json.loads(proc.stdout)] == [run_id]
    assert heavy(names) == set(), f"status --json imported {sorted(heavy(names))}"


def test_status_tables_import_rich_and_nothing_else_heavy(db: Path, tmp_path: Path) -> None:
    # Human status output is a rich table by design; the other heavy libraries stay out.
    run_id = runs.start_run("pengumpulan-data", db=db, definitions=DEFINITIONS, period="2026-10", by="Agus", now="2026-10-05T08:00")["run_id"]
    names, proc = imported([*common(db), "status", run_id], tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert run_id in proc.stdout
    assert {n.split(".")[0] for n in heavy(names)} <= {"rich"}, f"status RUN imported {sorted(heavy(names))}"


@pytest.mark.parametrize("args", [["--help"], ["complete", "--help"], ["decide", "--help"], ["status", "--help"]])
def test_help_imports_none_of_the_heavy_libraries(args: list[str], tmp_path: Path) -> None:
    names, proc = imported(args, tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert "Usage:" in proc.stdout
    assert "click" in names
    assert heavy(names) == set(), f"{' '.join(args)} imported {sorted(heavy(names))}"
    assert names & NOT_IN_HELP == set(), f"{' '.join(args)} imported {sorted(names & NOT_IN_HELP)}"
    own = {n for n in names if n.split(".")[0] == "sopengine"}
    assert own <= HELP_MODULES, f"{' '.join(args)} imported {sorted(own - HELP_MODULES)}"


def test_list_validates_once_then_imports_no_pydantic(tmp_path: Path) -> None:
    args = ["--definitions", str(DEFINITIONS), "list"]
    names, proc = imported([*args, "--json"], tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert "pydantic" in names  # the first list checks every file
    first = json.loads(proc.stdout)
    names, proc = imported([*args, "--json"], tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert json.loads(proc.stdout) == first
    assert heavy(names) == set(), f"list --json imported {sorted(heavy(names))}"
    assert "yaml" not in names
    names, proc = imported(args, tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert "pengumpulan-data" in proc.stdout
    assert {n.split(".")[0] for n in heavy(names)} <= {"rich"}, f"list imported {sorted(heavy(names))}"


@pytest.mark.parametrize("command", [
    ["overdue"], ["inbox", "--person", "Agus"], ["inbox", "--actor", "kepala-bidang"], ["report"],
    ["report", "--definition", "pengumpulan-data", "--period", "2026-10"],
])
def test_the_queries_import_nothing_heavy(command: list[str], db: Path, tmp_path: Path) -> None:
    runs.start_run("pengumpulan-data", db=db, definitions=DEFINITIONS, period="2026-10", by="Agus", now="2026-10-05T08:00",
                   assign=[("sekretaris-dinas", "Agus")])
    names, proc = imported([*common(db), *command, "--json"], tmp_path)
    assert proc.returncode == 0, errors(proc)
    json.loads(proc.stdout)
    assert heavy(names) == set(), f"{' '.join(command)} --json imported {sorted(heavy(names))}"
    names, proc = imported([*common(db), *command], tmp_path)
    assert proc.returncode == 0, errors(proc)
    assert {n.split(".")[0] for n in heavy(names)} <= {"rich"}, f"{' '.join(command)} imported {sorted(heavy(names))}"
