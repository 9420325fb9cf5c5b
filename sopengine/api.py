"""The library: everything the command line does, a Python caller can do.

Each CLI command calls one function here (or in the module it names). Heavy modules are
imported inside functions so that importing :mod:`sopengine.api` stays cheap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sopengine.definition import catalog
from sopengine.errors import DefinitionInvalid

if TYPE_CHECKING:
    from sopengine.definition.loader import Checked
    from sopengine.definition.models import Definition


# -- definitions -------------------------------------------------------------------------------

def list_definitions(definitions_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Every definition found: id, title, validity, where it came from."""
    from sopengine.definition.loader import check_file

    rows = []
    for found in catalog.discover(definitions_dir).values():
        checked = check_file(found.path)
        rows.append({
            "id": found.id,
            "title": checked.definition.title if checked.definition else None,
            "valid": checked.ok,
            "errors": len(checked.errors),
            "warnings": len(checked.warnings),
            "origin": found.origin,
            "path": str(found.path),
        })
    return rows


def load(definition_id: str, definitions_dir: str | Path | None = None) -> tuple[Definition, str, Path]:
    """The valid definition with this id (or file path), its text and its file."""
    from sopengine.definition.loader import load_definition

    found = catalog.find(definition_id, definitions_dir)
    definition, text = load_definition(found.path)
    return definition, text, found.path


def get_definition(definition_id: str, definitions_dir: str | Path | None = None) -> Definition:
    """The valid definition with this id; :class:`DefinitionInvalid` lists its problems."""
    return load(definition_id, definitions_dir)[0]


def definition_json(definition: Definition) -> dict[str, Any]:
    """The definition as plain JSON data, with parsed durations beside the SOP's text."""
    data = definition.model_dump(mode="json", exclude_none=False)
    for step, raw in zip(definition.steps, data["steps"]):
        raw["parsed_duration"] = step.parsed_duration
    return data


def validate(paths: list[Path] | None = None, definitions_dir: str | Path | None = None) -> list[Checked]:
    """Check files, folders or ids (every definition found when none are given)."""
    from sopengine.definition.loader import check_file

    files: list[Path] = []
    if not paths:
        files = [f.path for f in catalog.discover(definitions_dir).values()]
    for p in paths or []:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(x for x in p.glob("*.y*ml") if x.stem != "calendar"))
        elif p.exists() or p.suffix in (".yaml", ".yml"):
            files.append(p)
        else:
            files.append(catalog.find(str(p), definitions_dir).path)
    return [check_file(f) for f in files]


def schema() -> dict[str, Any]:
    """The JSON Schema of the definition format, generated from the models."""
    from sopengine.definition.models import Definition

    data = Definition.model_json_schema()
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return data


def schema_text() -> str:
    return json.dumps(schema(), ensure_ascii=False, indent=2) + "\n"


__all__ = [
    "DefinitionInvalid",
    "definition_json",
    "get_definition",
    "list_definitions",
    "load",
    "schema",
    "schema_text",
    "validate",
]
