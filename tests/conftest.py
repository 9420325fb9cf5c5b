"""Shared fixtures: real temporary folders and databases, never mocks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
