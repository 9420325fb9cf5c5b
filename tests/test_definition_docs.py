"""docs/definition-format.md and the interpretation pages tell the truth about the code.

Every field of the format and every period fact is documented; every duration the page
says is accepted is accepted and every one it says is refused is refused; the example
files it shows check as it says, with the very lines it prints.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from sopengine.cli import cli
from sopengine.definition import models
from sopengine.definition.durations import DurationError, parse_duration
from sopengine.definition.loader import PERIOD_FACTS

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "definition-format.md"
TEXT = PAGE.read_text(encoding="utf-8")


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def table_rows(text: str, header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header row starts with *header*."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split(" | ")])
    return rows


MODELS = [m for m in vars(models).values() if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == models.__name__ and m is not models._Model]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    missing = [name for name in model.model_fields if f"`{name}`" not in TEXT]
    assert missing == []


def test_every_period_fact_is_documented() -> None:
    documented = {row[0].strip("`") for row in table_rows(TEXT, "Fact")}
    assert documented == set(PERIOD_FACTS)


def test_every_documented_form_is_accepted() -> None:
    examples = [x for row in table_rows(TEXT, "Form") for x in re.findall(r"`([^`]+)`", row[1])]
    assert len(examples) > 40
    for text in examples:
        parse_duration(text)


def test_every_documented_refusal_is_refused() -> None:
    refused = [x for row in table_rows(TEXT, "Refused") for x in re.findall(r"`([^`]+)`", row[0])]
    assert len(refused) > 15
    for text in refused:
        with pytest.raises(DurationError):
            parse_duration(text)


def test_documented_windows_are_windows() -> None:
    row = next(r for r in table_rows(TEXT, "Refused") if "untimed" in r[2])
    for text in re.findall(r"`([^`]+)`", row[0]):
        with pytest.raises(DurationError) as info:
            parse_duration(text)
        assert info.value.window, text


def test_example_files_check_as_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {}
    for block in blocks(TEXT, "yaml"):
        first = block.splitlines()[0]
        if first.startswith("# file: "):
            name = first[len("# file: "):]
            (tmp_path / name).write_text(block, encoding="utf-8")
            files[name] = block
    assert {"cuti.yaml", "cuti-rusak.yaml", "cuti-draft.yaml"} <= set(files)
    monkeypatch.chdir(tmp_path)
    good = CliRunner().invoke(cli, ["validate", "cuti.yaml"])
    assert good.exit_code == 0 and good.stdout == "", good.output
    shown = [b for b in blocks(TEXT, "console") if b.startswith("$ sopengine validate ")]
    assert len(shown) == 2
    for block in shown:
        command, *expected = block.rstrip("\n").splitlines()
        result = CliRunner().invoke(cli, command.split()[2:])
        assert result.exit_code == 1
        assert result.stdout.splitlines() + result.stderr.splitlines() == expected


@pytest.mark.parametrize("page", sorted((ROOT / "docs" / "definitions").glob("*.md")), ids=lambda p: p.name)
def test_interpretation_pages_name_their_steps(page: Path) -> None:
    """Each page covers every step of its definition, by row number or id."""
    from sopengine.definition.loader import check_file

    checked = check_file(ROOT / "definitions" / f"{page.stem}.yaml")
    assert checked.definition is not None
    text = page.read_text(encoding="utf-8")
    for step in checked.definition.steps:
        assert f"`{step.id}`" in text, step.id
