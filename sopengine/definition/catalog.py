"""Where definitions are found.

Folders are searched in order — ``--definitions DIR`` (or ``SOPENGINE_DEFINITIONS``),
``./definitions``, then the definitions shipped with sopengine — and merged: for the same
id the earlier folder wins. A definition's id is its file name without ``.yaml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sopengine.errors import DefinitionNotFound
from sopengine.i18n import _

ENV_DEFINITIONS = "SOPENGINE_DEFINITIONS"


def packaged_dir() -> Path:
    """The definitions shipped with sopengine (inside the wheel, or the source tree's folder)."""
    here = Path(__file__).resolve().parent.parent
    inside = here / "_definitions"
    return inside if inside.is_dir() else here.parent / "definitions"


def search_dirs(option: str | Path | None = None) -> list[tuple[Path, str]]:
    """The folders to search, each with where it came from, earliest first."""
    dirs: list[tuple[Path, str]] = []
    if option:
        for part in str(option).split(os.pathsep):
            if part:
                dirs.append((Path(part), "--definitions"))
    elif os.environ.get(ENV_DEFINITIONS):
        for part in os.environ[ENV_DEFINITIONS].split(os.pathsep):
            if part:
                dirs.append((Path(part), ENV_DEFINITIONS))
    dirs.append((Path("definitions"), "./definitions"))
    dirs.append((packaged_dir(), "packaged"))
    seen: set[Path] = set()
    unique = []
    for path, origin in dirs:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((path, origin))
    return unique


@dataclass(frozen=True)
class Found:
    """A definition file found in a search folder."""

    id: str
    path: Path
    origin: str


def discover(option: str | Path | None = None) -> dict[str, Found]:
    """Every definition file found, by id; an earlier folder hides a later one's file."""
    found: dict[str, Found] = {}
    for folder, origin in search_dirs(option):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
            if path.stem == "calendar":
                continue
            found.setdefault(path.stem, Found(path.stem, path, origin))
    return found


def find(definition_id: str, option: str | Path | None = None) -> Found:
    """The file for *definition_id*, or :class:`DefinitionNotFound` naming where it looked."""
    if definition_id.endswith((".yaml", ".yml")) and Path(definition_id).is_file():
        path = Path(definition_id)
        return Found(path.stem, path, "path")
    found = discover(option)
    if definition_id in found:
        return found[definition_id]
    where = ", ".join(str(p) for p, _origin in search_dirs(option))
    known = ", ".join(sorted(found)) or _("none")
    raise DefinitionNotFound(
        _("no definition {id!r} (looked in {where}; found: {found}); check the id or pass --definitions DIR").format(
            id=definition_id, where=where, found=known),
        definition_id=definition_id,
    )
