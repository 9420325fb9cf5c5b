"""Read commands never write: no database created, none migrated, an empty file refused untouched (by a step too)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api
from sopengine.cli import cli
from sopengine.errors import NotADatabase
from sopengine.store import SCHEMA_VERSION

NOW = "2026-10-01T09:00"


@pytest.mark.parametrize("args", [["status"], ["status", "abc-def"], ["overdue"], ["history"], ["audit", "verify"], ["report"],
                                  # a change opens the database once, for writing: a mistyped --db is still not made one
                                  ["complete", "abc-def", "--step", "1"], ["decide", "abc-def", "Ya", "--step", "1"],
                                  ["reopen", "abc-def", "1", "--reason", "salah"], ["assign", "abc-def", "pelaksana", "Agus"],
                                  ["cancel", "abc-def", "--reason", "ganda"]])
def test_an_empty_file_is_refused_and_left_empty(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "kosong.db"
    db.touch()
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {db} is an empty file, not a sopengine database; pass the right --db\n"
    assert db.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kosong.db"]


def test_reading_an_older_database_does_not_migrate_it_and_the_next_change_does(tmp_path: Path) -> None:
    db = tmp_path / "lama.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW)["run_id"]
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 1")  # as a database written before the audit views
    con.commit()
    con.close()
    assert api.run_status(db, run_id)["status"] == "active"
    assert api.verify(db)["ok"] is True
    version = sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0]
    assert version == 1
    api.complete(db, run_id, now=NOW)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_reading_another_programs_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "lain.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE pegawai (nip TEXT)")
    con.commit()
    con.close()
    with pytest.raises(NotADatabase, match=r"is an SQLite file but not a sopengine database \(it has tables pegawai\); pass another --db"):
        api.run_status(db, "abc-def")


def test_a_step_naming_a_file_with_no_sopengine_tables_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "bukan.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA application_id = 7")  # a header and nothing else: not empty, no tables
    con.commit()
    con.close()
    before = db.read_bytes()
    result = CliRunner().invoke(cli, ["--db", str(db), "--by", "Agus", "complete", "abc-def", "--step", "1"])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {db} holds no sopengine data; pass the right --db\n"
    assert db.read_bytes() == before


def test_problem_is_still_found_where_it_was() -> None:
    from sopengine import errors
    from sopengine.definition.problem import Problem

    assert errors.Problem is Problem
    with pytest.raises(AttributeError):
        errors.NoSuchThing  # noqa: B018
