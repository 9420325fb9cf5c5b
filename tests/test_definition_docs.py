"""docs/definition-format.md, the admin guide and the interpretation pages tell the truth
about the code.

Every field of both formats and every period fact is documented, and every message the
checks can print has its line; every duration the page says is accepted is accepted and
every one it says is refused is refused; the example files it shows check as it says, with
the very lines it prints; every YAML block of the two pages is YAML, and every example file
of the admin guide's cookbook is a valid definition.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from sopengine.cli import cli
from sopengine.definition import format2, models
from sopengine.definition.durations import DurationError, parse_duration
from sopengine.definition.loader import PERIOD_FACTS
from sopengine.definition.yamlmarks import load_with_lines

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "definition-format.md"
TEXT = PAGE.read_text(encoding="utf-8")
GUIDE = ROOT / "docs" / "admin-guide.md"
GUIDE_TEXT = GUIDE.read_text(encoding="utf-8")


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


MODELS = [m for module in (models, format2) for m in vars(module).values()
          if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == module.__name__ and m.__name__ != "_Model"]


def test_both_formats_models_are_looked_at() -> None:
    names = {m.__name__ for m in MODELS}
    assert {"Step", "Definition", "Definition2", "Table", "Row", "Symbol", "Outcome2", "Party", "StateField", "Header2"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    # a field is written in YAML under its alias where it has one ('from')
    missing = [info.alias or name for name, info in model.model_fields.items() if f"`{info.alias or name}`" not in TEXT]
    assert missing == []


def _message_fragment(message: str) -> str:
    """The longest fixed words of a message before its fix (';') and any aside (' (')."""
    head = message.split(";")[0].split(" (")[0]
    parts = re.split(r"\{[^}]*\}|, e\.g\.|, which", head)
    return max((p.strip() for p in parts), key=len)


CHECKS = ["flow2.py", "flow.py", "format2.py", "models.py"]


@pytest.mark.parametrize("module", CHECKS)
def test_every_message_of_the_checks_is_listed(module: str) -> None:
    source = (ROOT / "sopengine" / "definition" / module).read_text(encoding="utf-8")
    # A message is marked for the catalogue where it is made: err(loc, N_("...").format(...)),
    # raise ValueError(N_("...")); its English words are the ones the page lists.
    messages = re.findall(r'err\((?:[^()]|\([^()]*\))*?,\s*N_\(\s*"([^"]+)"', source)
    messages += re.findall(r'raise ValueError\(\s*N_\(\s*"([^"]+)"', source)
    assert len(messages) >= 10, "the pattern no longer finds the messages"
    missing = [m for m in messages if _message_fragment(m) not in TEXT]
    assert missing == []
    # and none is written without the mark, which would leave it out of the catalogue
    location = r'(?:\((?:[^()]|\([^()]*\))*\)|\w+)(?:\s*\+\s*\((?:[^()]|\([^()]*\))*\))?'
    unmarked = re.findall(rf'err\(\s*{location}\s*,\s*f?"([^"]+)"', source)
    unmarked += re.findall(r'raise ValueError\(\s*f?"([^"]+)"', source)
    assert unmarked == []


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
def test_interpretation_pages_name_their_rows(page: Path) -> None:
    """Each page covers every row of its definition, naming a symbol of it by id, and names
    every diamond (where the reading of the paper matters most)."""
    from sopengine.definition.loader import check_file

    checked = check_file(ROOT / "definitions" / f"{page.stem}.yaml")
    d = checked.definition
    assert d is not None
    text = page.read_text(encoding="utf-8")
    if isinstance(d, models.Definition):
        for step in d.steps:
            assert f"`{step.id}`" in text, step.id
        return
    for table in d.tables:
        for row in table.rows:
            assert any(f"`{s.id}`" in text for s in row.symbols), f"row {row.no or '(band)'}: {[s.id for s in row.symbols]}"
            for s in row.symbols:
                if s.kind is format2.SymbolKind.decision:
                    assert f"`{s.id}`" in text, s.id


@pytest.mark.parametrize("page", [PAGE, GUIDE], ids=lambda p: p.name)
def test_every_yaml_block_is_yaml(page: Path) -> None:
    found = blocks(page.read_text(encoding="utf-8"), "yaml")
    assert found
    for block in found:
        if block.lstrip().startswith("..."):
            continue
        text = "\n".join(line for line in block.splitlines() if line.strip() != "...")
        load_with_lines(text)  # raises on a syntax error


def _guide_files() -> dict[str, str]:
    files = {}
    for block in blocks(GUIDE_TEXT, "yaml"):
        first = block.splitlines()[0]
        if first.startswith("# file: "):
            files[first[len("# file: "):]] = block
    return files


def test_the_cookbook_has_its_example_files() -> None:
    assert len(_guide_files()) >= 15


@pytest.mark.parametrize("name", sorted(_guide_files()))
def test_every_cookbook_file_is_a_valid_format_2_definition(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sopengine.definition.loader import check_file

    (tmp_path / name).write_text(_guide_files()[name], encoding="utf-8")
    checked = check_file(tmp_path / name)
    assert checked.ok, [str(p) for p in checked.problems]
    assert isinstance(checked.definition, format2.Definition2)
    assert [str(p) for p in checked.warnings] == []
