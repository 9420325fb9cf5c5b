"""Shared fixtures: real temporary folders and databases, never mocks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
DEFINITIONS = ROOT / "definitions"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test runs in its own folder with no sopengine variables from the caller."""
    for name in list(os.environ):
        if name.startswith("SOPENGINE_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def definitions_dir(tmp_path: Path) -> Path:
    """A copy of the shipped definitions in a temporary folder."""
    target = tmp_path / "defs"
    shutil.copytree(DEFINITIONS, target)
    return target
