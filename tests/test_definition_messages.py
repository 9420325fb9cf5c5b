"""A definition's problems in the reader's language, and in English for JSON.

The line a person reads (``FILE:LINE: field: message``) is in the language in force; the
message ``validate --json`` gives is the English one whatever the language. In English the
two are the same words, byte for byte.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_malformed import CASES

from sopengine.cli import cli
from sopengine.definition.durations import DurationError, format_duration, parse_duration
from sopengine.definition.loader import check_text
from sopengine.definition.messages import N_, Message, concat, either
from sopengine.definition.problem import Problem
from sopengine.errors import DefinitionInvalid

BROKEN = """\
format: 2
id: rusak
title: Contoh
deadline: 3 minggu kalender lalu
actors: [{id: staf, name: Staf, kind: extrnal}]
tables:
  - rows:
      - {no: "1", kegiatan: [Memeriksa], symbols: [{id: periksa, kind: decision, lane: staf}]}
"""

FLOW = """\
format: 2
id: alur
title: Contoh
actors: [{id: staf, name: Staf}]
tables:
  - rows:
      - {no: "1", kegiatan: Menulis, waktu: 15 mnit, symbols: [{id: tulis, kind: process, lane: kepala, next: periksa}]}
      - {no: "2", kegiatan: Memeriksa, waktu: Setiap Saat, symbols: [{id: periksa, kind: decision, lane: staf}]}
"""


@pytest.fixture
def indonesian(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The language in force is Indonesian, from the catalogue with the part files laid over it."""
    from sopengine.locale.catalog import compile_catalogue

    compile_catalogue("id", tmp_path / "locale" / "id" / "LC_MESSAGES" / "sopengine.mo")
    monkeypatch.setenv("SOPENGINE_LOCALE_DIR", str(tmp_path / "locale"))
    monkeypatch.setenv("SOPENGINE_LANG", "id")


def _problems() -> list[Problem]:
    problems = [p for case in CASES for p in check_text(case.text, "bad.yaml").problems]
    problems += check_text(BROKEN, "rusak.yaml").problems + check_text(FLOW, "alur.yaml").problems
    assert len(problems) > 60
    return problems


def _as_before(p: Problem) -> str:
    where = f"{p.file}:{p.line}" if p.line else p.file
    field = f" {p.field}:" if p.field else ""
    return f"{where}:{field} {'warning: ' if p.severity == 'warning' else ''}{p.message}"


def test_in_english_the_line_is_the_message_as_it_was() -> None:
    for p in _problems():
        assert p.template is not None, p.message  # every check keeps its template
        assert p.text() == p.message
        assert str(p) == _as_before(p)


def test_in_indonesian_the_line_is_translated_and_the_message_stays_english(indonesian: None) -> None:
    problems = _problems()
    english = {id(p): p.message for p in problems}
    for p in problems:
        assert p.message == english[id(p)]
        assert "\n" not in p.text()
    translated = [p for p in problems if p.text() != p.message]
    # what PyYAML and pydantic say in their own words stays theirs; every check's own words change
    assert len(translated) >= len(problems) - 3, [p.message for p in problems if p.text() == p.message]
    lines = {str(p) for p in check_text(BROKEN, "rusak.yaml").problems}
    assert "rusak.yaml:5: actors[1].kind: harus berupa 'internal', 'external' atau 'system' " \
           "(yang tertulis: 'extrnal'); maksud Anda 'external'?" in lines
    flow = "\n".join(str(p) for p in check_text(FLOW, "alur.yaml").problems)
    assert "alur.yaml:7: tables[1].rows[1].waktu: satuan waktu 'mnit' dalam '15 mnit' tidak dikenal (maksud Anda 'menit'?)" in flow
    assert "alur.yaml:7: tables[1].rows[1].symbols[1].lane: pelaksana 'kepala' tidak dikenal; pelaksana yang dideklarasikan: staf" in flow


def test_validate_json_is_the_same_in_both_languages(indonesian: None, tmp_path: Path) -> None:
    path = tmp_path / "rusak.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    out = {}
    for lang in ("id", "en"):
        human = CliRunner().invoke(cli, ["validate", str(path), "--lang", lang])
        as_json = CliRunner().invoke(cli, ["validate", str(path), "--json", "--lang", lang])
        assert human.exit_code == as_json.exit_code == 1
        out[lang] = (human.stdout, as_json.stdout)
    assert out["id"][1] == out["en"][1]
    assert out["id"][0] != out["en"][0]
    messages = [p["message"] for p in json.loads(out["id"][1])[0]["problems"]]
    assert "must be 'internal', 'external' or 'system' (got 'extrnal'); did you mean 'external'?" in messages


def test_an_invalid_definition_names_its_first_problem_in_the_language(indonesian: None) -> None:
    problems = check_text(BROKEN, "rusak.yaml").problems
    error = DefinitionInvalid(problems)
    first = next(p for p in problems if p.severity == "error")
    assert first.text() != first.message
    assert str(error).startswith(str(first)) and first.text() in str(error)


def test_a_message_is_english_and_remembers_how_it_was_made() -> None:
    hint = N_("; did you mean {name!r}?").format(name="staf")
    message = N_("unknown actor {lane!r}{hint}").format(lane="stav", hint=hint)
    assert message == "unknown actor 'stav'; did you mean 'staf'?"
    assert isinstance(message, str) and message.text() == message
    assert pickle.loads(pickle.dumps(message)) == message
    assert either(["'a'", "'b'", "'c'"]) == "'a', 'b' or 'c'"
    assert concat(N_("text"), " (x)") == "text (x)"
    # a template used as it is keeps its braces as text
    assert N_("write {period.ends_year: true}").text() == "write {period.ends_year: true}"
    with pytest.raises(TypeError):
        message.format(lane="x")
    assert isinstance(Message("x"), str)


def test_a_duration_error_is_english_and_shown_in_the_language(indonesian: None) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration("15 detik")
    assert str(info.value) == "unknown unit of time 'detik' in '15 detik'; use menit, jam, hari or minggu (or minutes, hours, days, weeks)"
    assert info.value.message.text().startswith("satuan waktu 'detik' dalam '15 detik' tidak dikenal; gunakan menit")


@pytest.mark.parametrize(
    ("duration", "english", "indonesian"),
    [
        ({"days": 0, "minutes": 90, "calendar": False}, "1 h 30 min", "1 jam 30 menit"),
        ({"days": 2, "minutes": 0, "calendar": False}, "2 working days", "2 hari kerja"),
        ({"days": 1, "minutes": 0, "calendar": True}, "1 calendar day", "1 hari kalender"),
        ({"days": 0, "minutes": 15, "calendar": False}, "15 min", "15 menit"),
    ],
)
def test_a_duration_reads_as_people_write_it(duration: dict, english: str, indonesian: str,
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert format_duration(duration) == english
    from sopengine.locale.catalog import compile_catalogue

    compile_catalogue("id", tmp_path / "locale" / "id" / "LC_MESSAGES" / "sopengine.mo")
    monkeypatch.setenv("SOPENGINE_LOCALE_DIR", str(tmp_path / "locale"))
    monkeypatch.setenv("SOPENGINE_LANG", "id")
    assert format_duration(duration) == indonesian
