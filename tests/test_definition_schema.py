"""The JSON Schema for editors: committed, current, and true to the shipped definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api
from sopengine.cli import cli
from sopengine.definition.yamlmarks import load_with_lines

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"
COMMITTED = DEFINITIONS / "definition.schema.json"


def test_committed_schema_equals_the_generated_one() -> None:
    # After changing the models: sopengine schema -o definitions/definition.schema.json
    assert COMMITTED.read_text(encoding="utf-8") == api.schema_text()


def test_schema_command_writes_the_same_text(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    result = CliRunner().invoke(cli, ["schema", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")
    printed = CliRunner().invoke(cli, ["schema"])
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == json.loads(COMMITTED.read_text(encoding="utf-8"))


def test_schema_describes_the_format() -> None:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == {"id", "title", "actors", "steps"}
    step = schema["$defs"]["Step"]
    assert step["additionalProperties"] is False
    assert {"kegiatan", "waktu", "untimed", "inputs", "outputs", "outcomes", "interpretation"} <= set(step["properties"])
    # a document may be written as its name alone
    items = step["properties"]["inputs"]["anyOf"][0]["items"]["anyOf"]
    assert {"type": "string"} in items and {"$ref": "#/$defs/Document"} in items
    assert "produced_by" in schema["$defs"]["Document"]["properties"]


@pytest.mark.parametrize("path", sorted(DEFINITIONS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_definitions_satisfy_the_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    data, _ = load_with_lines(path.read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert errors == []


def test_schema_refuses_what_the_loader_refuses() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    data, _ = load_with_lines((DEFINITIONS / "surat-keluar.yaml").read_text(encoding="utf-8"))
    data["steps"][0]["kegiatn"] = data["steps"][0].pop("kegiatan")
    messages = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert messages, "an editor flags a misspelt field too"
