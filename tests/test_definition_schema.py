"""The JSON Schema for editors: committed, current, and true to the shipped definitions.

The schema accepts a file of either format: format 2 (tables of rows and symbols, what new
files are written in) first, so that an editor offers its fields in a new file, and format 1
(steps), whose files still validate and run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api
from sopengine.cli import cli
from sopengine.definition.yamlmarks import load_with_lines

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
COMMITTED = DEFINITIONS / "definition.schema.json"
FORMAT1 = sorted((ROOT / "tests" / "data" / "parallel").glob("*.yaml")) + sorted((ROOT / "tests" / "data" / "engine").glob("*.yaml"))
FORMAT2_TESTS = sorted((ROOT / "tests" / "data" / "format2").glob("*.yaml"))


def _schema() -> dict:
    return json.loads(COMMITTED.read_text(encoding="utf-8"))


def _errors(data: object) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    return [e.message for e in jsonschema.Draft202012Validator(_schema()).iter_errors(data)]


def _data(path: Path) -> dict:
    data, _ = load_with_lines(path.read_text(encoding="utf-8"))
    return data


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


def test_schema_offers_format_2_first_and_keeps_format_1() -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["anyOf"] == [{"$ref": "#/$defs/Definition2"}, {"$ref": "#/$defs/Definition"}]
    assert "format 2" in schema["description"].lower()
    two = schema["$defs"]["Definition2"]
    assert set(two["required"]) == {"format", "id", "title", "actors", "tables"}
    assert two["properties"]["format"]["const"] == 2
    one = schema["$defs"]["Definition"]
    assert set(one["required"]) == {"id", "title", "actors", "steps"}
    assert one["properties"]["format"]["const"] == 1


def test_schema_describes_format_2() -> None:
    defs = _schema()["$defs"]
    row = defs["Row"]
    assert row["additionalProperties"] is False
    assert {"no", "kegiatan", "kelengkapan", "waktu", "untimed", "output", "keterangan", "sets", "handover",
            "interpretation", "symbols"} <= set(row["properties"])
    # a document may be written as its name alone
    items = row["properties"]["kelengkapan"]["anyOf"][0]["items"]["anyOf"]
    assert {"type": "string"} in items and {"$ref": "#/$defs/Document2"} in items
    assert {"from", "to", "produced_by", "external"} <= set(defs["Document2"]["properties"])
    symbol = defs["Symbol"]
    assert {"id", "kind", "lane", "text", "task", "next", "label", "drawn", "pair", "join", "outcomes", "automatic",
            "waktu"} <= set(symbol["properties"])
    assert set(defs["SymbolKind"]["enum"]) == {"start", "end", "process", "decision", "document", "connector", "manual", "other"}
    assert {"label", "name", "next", "drawn", "when"} <= set(defs["Outcome2"]["properties"])
    assert {"id", "title", "when", "lanes", "columns", "keterangan_column", "rows", "footnotes"} <= set(defs["Table"]["properties"])
    assert "markers" in defs["Header2"]["properties"]
    assert set(defs["Marker"]["enum"]) == {"1.", "1)", "a.", "-", "•", ""}
    # format 1's pieces are there too
    assert {"kegiatan", "waktu", "inputs", "outputs", "outcomes"} <= set(defs["Step"]["properties"])


@pytest.mark.parametrize("path", sorted(DEFINITIONS.glob("*.yaml")) + FORMAT2_TESTS, ids=lambda p: p.name)
def test_format_2_definitions_satisfy_the_schema(path: Path) -> None:
    data = _data(path)
    assert data.get("format") == 2
    assert _errors(data) == []


@pytest.mark.parametrize("path", FORMAT1, ids=lambda p: p.name)
def test_format_1_files_still_satisfy_the_schema(path: Path) -> None:
    data = _data(path)
    assert "steps" in data and data.get("format", 1) == 1
    assert _errors(data) == []


def test_a_format_1_file_upgraded_satisfies_the_schema() -> None:
    from sopengine.definition.upgrade import upgrade_text

    path = ROOT / "tests" / "data" / "parallel" / "split-join.yaml"
    data, _ = load_with_lines(upgrade_text(path.read_text(encoding="utf-8"), str(path)))
    assert _errors(data) == []


def test_schema_refuses_what_the_loader_refuses() -> None:
    data = _data(DEFINITIONS / "surat-keluar.yaml")
    row = data["tables"][0]["rows"][0]
    row["kegiatn"] = row.pop("kegiatan")
    assert _errors(data), "an editor flags a misspelt field in a row"
    data = _data(DEFINITIONS / "surat-keluar.yaml")
    data["tables"][0]["rows"][1]["symbols"][0]["kind"] = "box"
    assert _errors(data), "an editor flags a symbol kind that does not exist"
    data = _data(DEFINITIONS / "surat-keluar.yaml")
    data["steps"] = data.pop("tables")
    assert _errors(data), "a format-2 file with format 1's steps is neither format"
    one = _data(FORMAT1[0])
    one["steps"][0]["kegiatn"] = one["steps"][0].pop("kegiatan")
    assert _errors(one), "a misspelt field in a format-1 step is flagged too"
