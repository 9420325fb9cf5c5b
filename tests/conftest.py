"""Shared fixtures: real temporary folders and databases, never mocks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pg_support
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
DEFINITIONS = ROOT / "definitions"


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogues() -> None:
    """The Indonesian catalogue compiled beside its source, as a build does for the wheel.

    A checkout has the ``.po`` only; an installed wheel has the ``.mo`` already.
    """
    import sopengine.locale

    folder = Path(sopengine.locale.__file__).resolve().parent
    po = folder / "id" / "LC_MESSAGES" / "sopengine.po"
    mo = po.with_suffix(".mo")
    if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
        from sopengine.locale.catalog import compile_catalogue

        compile_catalogue("id", mo)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test runs in its own folder with no sopengine variables from the caller.

    Tests read English (``SOPENGINE_LANG=en``), the words they were written against; the
    tests of the Indonesian output set the language themselves.
    """
    for name in list(os.environ):
        if name.startswith("SOPENGINE_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOPENGINE_LANG", "en")
    from sopengine import i18n

    monkeypatch.setattr(i18n, "_chosen", None)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def definitions_dir(tmp_path: Path) -> Path:
    """A copy of the shipped definitions in a temporary folder."""
    target = tmp_path / "defs"
    shutil.copytree(DEFINITIONS, target)
    return target


# -- PostgreSQL ----------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: opens the SQLite file itself (sqlite3), so runs on SQLite alone")
    config.addinivalue_line("markers", "postgresql: needs a PostgreSQL server (required when SOPENGINE_REQUIRE_PG=1)")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg_support.PgServer]:
    """The session's PostgreSQL server (``SOPENGINE_TEST_PG``); the tests skip without one."""
    found = pg_support.start_server()
    if isinstance(found, str):
        pg_support.unavailable(found)
        raise AssertionError("unreachable")
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def pg_db(pg_server: pg_support.PgServer) -> Iterator[str]:
    """The address of a fresh sopengine database on PostgreSQL (its schema in place, no runs), dropped after the test."""
    name, url = pg_server.create()
    try:
        yield url
    finally:
        pg_server.drop(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test's database is, once per engine: an SQLite file in *tmp_path*, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "x.db"
    url: str = request.getfixturevalue("pg_db")
    return url
