"""Where definitions are found, and the list of them with each one's validity.

Folders are searched in order — ``--definitions DIR`` (or ``SOPENGINE_DEFINITIONS``),
``./definitions``, then the definitions shipped with sopengine — and merged: for the same
id the earlier folder wins. A definition's id is its file name without ``.yaml``.

:func:`listing` says of each file whether it is valid. Checking a file (YAML, pydantic, the
flow checks) costs far more than starting the command, so what a check found is kept in a
small cache file, ``$XDG_CACHE_HOME/sopengine/definitions.json`` (``~/.cache`` when the
variable is not set), under the sha256 of the file's bytes and its name (the id must equal
it); an entry counts only while the code that checked it is the same: the cache is keyed too
by a hash of sopengine's definition checks (the source of ``sopengine/definition/`` and the
modules it reads) and the versions of Python, pydantic and PyYAML. So a file is checked
again whenever its text, its name or the checking code changes, and the list says what a
check would say now. ``SOPENGINE_CACHE=off`` turns the cache off; a cache that cannot be
read or written is passed over.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

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


class Found(NamedTuple):
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


# -- the list, with each file's validity ---------------------------------------------------------

ENV_CACHE = "SOPENGINE_CACHE"
_CACHE_ENTRIES = 500  # files remembered; the oldest are dropped beyond this


def _cache_file() -> Path | None:
    if os.environ.get(ENV_CACHE, "").lower() in ("off", "0", "no"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if base.startswith("~"):
        return None  # no home folder to keep it in
    return Path(base) / "sopengine" / "definitions.json"


def _checker_hash() -> str:
    """A hash of what decides a check's outcome: sopengine's checking code and the libraries it uses."""
    import importlib.util

    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted(here.glob("*.py")) + [here.parent / name for name in ("errors.py", "period.py", "__init__.py")]:
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        except OSError:
            digest.update(path.name.encode() + b"\0-")
    for name in ("pydantic", "pydantic_core", "yaml"):
        spec = importlib.util.find_spec(name)  # finds the package without importing it
        origin = Path(spec.origin) if spec and spec.origin else None
        try:
            stat = origin.stat() if origin else None
        except OSError:
            stat = None
        digest.update(f"{name}:{origin}:{stat.st_mtime_ns if stat else 0}:{stat.st_size if stat else 0}".encode())
    return digest.hexdigest()


def _read_cache(path: Path | None, checker: str) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("checker") != checker or not isinstance(data.get("files"), dict):
        return {}
    return data["files"]


def _write_cache(path: Path | None, checker: str, files: dict[str, Any]) -> None:
    if path is None:
        return
    keep = dict(list(files.items())[-_CACHE_ENTRIES:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        temp.write_text(json.dumps({"checker": checker, "files": keep}), encoding="utf-8")
        os.replace(temp, path)  # whole or not at all: commands listing at once never read half a file
    except OSError:
        pass


def _checked(path: Path) -> dict[str, Any]:
    """What checking the file finds: its title, whether it is valid, how many errors and warnings."""
    from sopengine.definition.loader import check_file

    checked = check_file(path)
    return {
        "title": checked.definition.title if checked.definition else None,
        "valid": checked.ok,
        "errors": len(checked.errors),
        "warnings": len(checked.warnings),
    }


def listing(option: str | Path | None = None) -> list[dict[str, Any]]:
    """Every definition found: ``id``, ``title``, ``valid``, ``errors``, ``warnings``, ``origin``, ``path``.

    Each file's validity is what :func:`~sopengine.definition.loader.check_file` finds; a file
    whose bytes, name and checking code are unchanged since it was last checked is not checked
    again (see the module's description of the cache).
    """
    found = discover(option)
    cache = _cache_file()
    checker = _checker_hash() if cache is not None else ""
    files = _read_cache(cache, checker)
    changed = False
    rows = []
    for f in found.values():
        try:
            data = f.path.read_bytes()
        except OSError:
            data = None
        key = f"{hashlib.sha256(data).hexdigest()}:{f.path.stem}" if data is not None else None
        entry = files.get(key) if key else None
        if entry is None:
            entry = _checked(f.path)
            if key:
                files.pop(key, None)
                files[key] = entry
                changed = True
        rows.append({"id": f.id, **entry, "origin": f.origin, "path": str(f.path)})
    if changed:
        _write_cache(cache, checker, files)
    return rows
