"""Who acted: the OS login from the real user id, cleaned names, and authority once a people
register exists (issue 11, item 1).

Real databases in temporary folders; the CLI through click's CliRunner and, for the flows an
auditor relies on, as real processes. The register's refusals that hinge on a *different* OS
login run a process as a second OS user made with ``useradd`` (the tests run as root), with
``runuser -u``; it is removed afterwards with ``userdel -r``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api, identity
from sopengine.cli import cli
from sopengine.errors import InputError, NotAssigned

NOW = "2026-10-01T09:00"
LATER = "2026-10-01T10:00"
ME = pwd.getpwuid(os.getuid()).pw_name  # the login of this process's real user id


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def sopengine(*args: str, cwd: Path, user: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m sopengine ARGS`` in a fresh process (as *user* when given), in English."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SOPENGINE_LANG": "en", "HOME": str(cwd)}
    command = [sys.executable, "-m", "sopengine", *args]
    if user is not None:
        python, path = _PYTHON_FOR[user]
        # runuser sets USER and LOGNAME to the user's: what the test asks for is set after it
        extra = {**({"PYTHONPATH": path} if path else {}), **(env or {})}
        command = ["runuser", "-u", user, "--", "env", *(f"{k}={v}" for k, v in extra.items()), python, "-m", "sopengine", *args]
    else:
        base.update(env or {})
    return subprocess.run(command, cwd=cwd, env=base, capture_output=True, text=True, timeout=120)


_PYTHON_FOR: dict[str, tuple[str, str | None]] = {}


def _python_for(user: str) -> tuple[str, str | None] | None:
    """A Python the *user* can run sopengine with: this one, or (when it lives where the user may
    not look, as under /root) the system's of the same version with this one's packages."""
    import site
    import sysconfig

    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join([root, *site.getsitepackages(), sysconfig.get_paths()["purelib"]])
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python, extra in ((sys.executable, None), (shutil.which(version) or "", path), ("/usr/bin/python3", path)):
        if not python:
            continue
        probe = ["runuser", "-u", user, "--", "env", *([f"PYTHONPATH={extra}"] if extra else []), python, "-c",
                 f"import sys, sopengine; assert sys.version_info[:2] == {tuple(sys.version_info[:2])}"]
        if subprocess.run(probe, cwd="/", capture_output=True, timeout=60).returncode == 0:
            return python, extra
    return None


def events(db: Path, run_id: str | None = None) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        sql = "SELECT * FROM events" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY seq"
        rows = [dict(r) for r in con.execute(sql, (run_id,) if run_id else ())]
    finally:
        con.close()
    for r in rows:
        r["payload"] = json.loads(r["payload"])
    return rows


def dump(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


# -- the OS login ---------------------------------------------------------------------------------

def test_the_os_login_comes_from_the_real_user_id_not_from_logname_or_user(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    started = sopengine("run", "pengumpulan-data", "--period", "2026-10", "--now", NOW, "--json", "--db", str(db),
                        cwd=tmp_path, env={"LOGNAME": "kepala.dinas", "USER": "kepala.dinas"})
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    done = sopengine("complete", run_id, "--step", "1", "--by", "Agus Supriyadi", "--now", LATER, "--db", str(db),
                     cwd=tmp_path, env={"LOGNAME": "kepala.dinas", "USER": "kepala.dinas", "USERNAME": "kepala.dinas"})
    assert done.returncode == 0, done.stderr
    recorded = events(db, run_id)
    assert [e["os_user"] for e in recorded] == [ME] * len(recorded)
    assert "kepala.dinas" not in {e["os_user"] for e in recorded}


def test_os_user_reads_the_password_database_once(monkeypatch: pytest.MonkeyPatch) -> None:
    identity.os_user.cache_clear()
    monkeypatch.setenv("LOGNAME", "kepala.dinas")
    monkeypatch.setenv("USER", "kepala.dinas")
    assert identity.os_user() == ME
    assert identity.os_user.cache_info().misses == 1
    identity.os_user()
    assert identity.os_user.cache_info().hits >= 1


# -- names as typed -----------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, recorded", [
    ("Agus Supriyadi", "Agus Supriyadi"),
    ("  Agus   Supriyadi ", "Agus Supriyadi"),
    ("Agus\u200b Supriyadi", "Agus Supriyadi"),      # zero-width space
    ("\ufeffAgus Supriyadi\u200d", "Agus Supriyadi"),  # BOM, zero-width joiner
    ("Agus Supri\u00adyadi", "Agus Supriyadi"),       # soft hyphen
    ("Ａｇｕｓ Supriyadi", "Agus Supriyadi"),          # full-width letters (NFKC)
    ("Agus\tSupriyadi", "Agus Supriyadi"),
    ("Agus\x1b[31m Supriyadi", "Agus[31m Supriyadi"),  # the escape character itself goes
])
def test_names_are_cleaned_of_what_does_not_show(typed: str, recorded: str) -> None:
    assert identity.clean_name(typed) == recorded
    assert identity.name_key(typed) == identity.name_key(recorded.upper())


@pytest.mark.parametrize("typed", ["sopengine\u200b", "SOPENGINE", "\u200bsopengine", "sop\u00adengine", "ｓｏｐｅｎｇｉｎｅ"])
def test_the_engines_name_in_disguise_is_refused_and_nothing_is_written(tmp_path: Path, typed: str) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin")["run_id"]
    before = dump(db)
    result = invoke("complete", run_id, "--step", "1", "--by", typed, "--now", LATER, "--db", str(db))
    assert result.exit_code == 1
    assert "the name 'sopengine' is kept for what the engine records by itself" in result.output
    assert "Traceback" not in result.output
    assert dump(db) == before


def test_the_zero_width_engine_name_is_refused_by_a_real_process(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin")["run_id"]
    before = dump(db)
    done = sopengine("complete", run_id, "--step", "1", "--by", "sopengine\u200b", "--now", LATER, "--db", str(db), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: the name 'sopengine' is kept")
    assert len(done.stderr.strip().splitlines()) == 1
    assert dump(db) == before


@pytest.mark.parametrize("typed, message", [
    ("", "--by is empty; give your name with --by NAME"),
    ("   ", "--by is empty; give your name with --by NAME"),
    ("\u200b\u200d", "holds only invisible characters; type the name itself"),
])
def test_an_empty_or_invisible_name_is_refused_not_replaced_by_the_login(tmp_path: Path, typed: str, message: str) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin")["run_id"]
    before = dump(db)
    result = invoke("complete", run_id, "--step", "1", "--by", typed, "--now", LATER, "--db", str(db))
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert dump(db) == before
    with pytest.raises(InputError):
        api.complete(db, run_id, step="1", by=typed, now=LATER)
    # a new run is not started under an empty name either
    assert invoke("run", "surat-keluar", "--by", typed, "--now", NOW, "--db", str(db)).exit_code == 1
    assert dump(db) == before


def test_sopengine_user_stays_the_default_name(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin")["run_id"]
    result = invoke("complete", run_id, "--step", "1", "--now", LATER, "--db", str(db), env={"SOPENGINE_USER": "Rina\u200b"})
    assert result.exit_code == 0, result.output
    assert events(db, run_id)[-1]["person"] == "Rina"


def test_a_cleaned_name_matches_its_assignment(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Admin",
                           assign=[("sekretaris-dinas", "Agus Supriyadi")])["run_id"]
    with pytest.raises(NotAssigned):
        api.complete(db, run_id, step="1", by="Agus Supriyad", now=LATER)
    api.complete(db, run_id, step="1", by="AGUS\u200b  SUPRIYADI", now=LATER)
    assert events(db, run_id)[-1]["person"] == "AGUS SUPRIYADI"
