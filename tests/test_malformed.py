"""Malformed definitions: each problem is one line, FILE:LINE: field: message, at the right line.

Every case edits one valid definition (``BASE``) so that the line of the mistake is easy to
see; each gives the line, the field and a fragment of the message that an admin needs to
fix it. The same files go through ``sopengine validate``: exit 1, the same lines, no
traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine.cli import cli
from sopengine.definition.loader import check_file, check_text

BASE = """\
id: bad
title: Contoh
actors:
  - id: staf
    name: Staf
  - id: kepala
    name: Kepala
steps:
  - id: tulis
    no: 1
    kegiatan: Menulis konsep
    actor: staf
    waktu: 15 menit
    outputs: [Konsep]
  - id: periksa
    no: 2
    kegiatan: Memeriksa konsep
    kind: decision
    actor: kepala
    inputs: [Konsep]
    waktu: 1 jam
    outcomes:
      - {name: "Ya", next: selesai}
      - {name: "Tidak", next: tulis}
"""
# Lines of BASE: 9 step 'tulis' (10 no, 12 actor, 13 waktu, 14 outputs),
# 15 step 'periksa' (16 no, 19 actor, 21 waktu, 22 outcomes, 23 Ya, 24 Tidak).

THIRD = """\
  - id: arsip
    no: 3
    kegiatan: Mengarsipkan
    actor: staf
    waktu: 5 menit
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def automatic(ya: str, tidak: str, extra: str = "") -> str:
    """BASE with the decision made automatic and the two outcomes' 'when' given."""
    text = edit("    kind: decision\n", "    kind: decision\n    automatic: true\n")
    text = edit('      - {name: "Ya", next: selesai}\n', f'      - {{name: "Ya", next: selesai{ya}}}\n', text)
    text = edit('      - {name: "Tidak", next: tulis}\n', f'      - {{name: "Tidak", next: tulis{tidak}}}\n', text)
    return extra + text


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    line: int
    field: str
    fragment: str
    file: str = "bad.yaml"


CASES = [
    # -- the file as a whole and its YAML
    Case("empty file", "", 1, "file", "has no fields"),
    Case("only comments", "# nothing yet\n# still nothing\n", 1, "file", "has no fields"),
    Case("a list", "- id: bad\n- title: Contoh\n", 1, "file", "is a list, but a definition is a mapping"),
    Case("a scalar", "Pengurusan Surat Keluar\n", 1, "file", "is a single value ('Pengurusan Surat Keluar')"),
    Case("a number", "42\n", 1, "file", "is a single value (42)"),
    Case("unclosed bracket", edit("outputs: [Konsep]", "outputs: [Konsep"), 15, "yaml",
         "syntax error at column 7: expected ',' or ']', but got ':' (while parsing a flow sequence that starts on line 14)"),
    Case("unquoted colon", edit("kegiatan: Menulis konsep", "kegiatan: Menulis: konsep"), 11, "yaml",
         "syntax error at column 22: mapping values are not allowed here; put a text that contains ': ' in quotes"),
    Case("unclosed quote", BASE + 'deadline: "2 hari\n', 26, "yaml",
         "found unexpected end of stream (while scanning a quoted scalar that starts on line 25); close the quote"),
    Case("a lone dash", edit("    outputs: [Konsep]\n", "    outputs: [Konsep]\n    keterangan: -\n"), 15, "yaml",
         "syntax error at column 17: sequence entries are not allowed here; a lone '-' must be quoted: keterangan: \"-\""),
    Case("a text starting with a dash", edit("waktu: 15 menit", "waktu: - 15 menit"), 13, "yaml",
         "a text that starts with '-' must be quoted: waktu: \"- 15 menit\""),
    Case("tab indentation", edit("    no: 1\n", "\tno: 1\n"), 10, "yaml", "indent with spaces, not tabs"),
    Case("duplicate YAML key", edit("    waktu: 15 menit\n", "    waktu: 15 menit\n    waktu: 30 menit\n"), 14,
         "steps[1].waktu", "the key 'waktu' is given twice in this mapping (column 5); keep one"),
    Case("merge key", edit("    actor: staf\n", "    <<: {actor: staf}\n"), 12, "steps[1]", "merge keys"),
    Case("python tag on a list", edit("title: Contoh", "title: !!python/object/apply:os.system [ls]"), 2, "yaml",
         "the tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed; definitions use plain YAML only"),
    Case("python tag on a value", edit("title: Contoh", "title: !!python/name:os.system"), 2, "yaml",
         "could not determine a constructor for the tag 'tag:yaml.org,2002:python/name:os.system'; definitions use plain YAML only"),
    Case("two documents", BASE + "---\nid: lain\n", 25, "yaml", "a second YAML document starts here"),
    # -- structure
    Case("missing title", edit("title: Contoh\n", ""), 1, "title", "required field is missing; add 'title:'"),
    Case("missing steps", BASE.split("steps:")[0], 1, "steps", "required field is missing; add 'steps:'"),
    Case("empty steps", BASE.split("steps:")[0] + "steps: []\n", 8, "steps", "needs at least one item"),
    Case("missing kegiatan", edit("    kegiatan: Menulis konsep\n", ""), 9, "steps[1].kegiatan", "required field is missing; add 'kegiatan:'"),
    Case("empty kegiatan", edit("kegiatan: Menulis konsep", 'kegiatan: ""'), 11, "steps[1].kegiatan", "must not be empty"),
    Case("unknown field, did you mean", edit("    kegiatan: Menulis konsep\n", "    kegiatn: Menulis konsep\n"), 11,
         "steps[1].kegiatn", "unknown field; did you mean 'kegiatan'?"),
    Case("unknown top-level field", "foo: 1\n" + BASE, 1, "foo", "unknown field; remove it (allowed here: actors,"),
    Case("bad id pattern", edit("id: bad\n", "id: Bad Id\n"), 1, "id", "'Bad Id' is not a valid id; use lower-case letters"),
    Case("bad step id pattern", edit("  - id: tulis\n", "  - id: Tulis Konsep\n"), 9, "steps[1].id", "'Tulis Konsep' is not a valid id"),
    Case("id not the file name", edit("id: bad\n", "id: lain\n"), 1, "id", "'lain' must equal the file name 'bad'; rename the file or change the id"),
    Case("row number as text", edit("    no: 1\n", "    no: satu\n"), 10, "steps[1].no", "must be a whole number (got 'satu')"),
    Case("row number quoted", edit("    no: 1\n", '    no: "1"\n'), 10, "steps[1].no", "write a number such as 3, without quotes"),
    Case("row number zero", edit("    no: 1\n", "    no: 0\n"), 10, "steps[1].no", "must be 1 or more (got 0)"),
    Case("yes is not a boolean", edit("    waktu: 15 menit\n", "    waktu: 15 menit\n    untimed: yes\n"), 14,
         "steps[1].untimed", "must be true or false (got 'yes'); write true or false (yes/no are text here)"),
    Case("actors as text", edit("actors:\n  - id: staf\n    name: Staf\n  - id: kepala\n    name: Kepala\n", "actors: staf, kepala\n"), 3,
         "actors", "must be a list (got 'staf, kepala'); write each item on its own line starting with '- '"),
    Case("step as text", edit("steps:\n", "steps:\n  - tulis konsep\n"), 9, "steps[1]", "must be a mapping (got 'tulis konsep')"),
    Case("next neither text nor list", edit("    outputs: [Konsep]\n", "    outputs: [Konsep]\n    next: {a: b}\n"), 15,
         "steps[1].next", "must be text or a list (got a mapping)"),
    Case("input as number", edit("    inputs: [Konsep]\n", "    inputs: [12]\n"), 20, "steps[2].inputs[1]", "must be a document's name or a mapping (got 12)"),
    Case("unknown step kind", edit("    kind: decision\n", "    kind: diamond\n"), 18, "steps[2].kind", "must be 'process' or 'decision' (got 'diamond')"),
    Case("unknown actor kind", edit("    name: Staf\n", "    name: Staf\n    kind: warga\n"), 6, "actors[1].kind", "must be 'internal', 'external' or 'system'"),
    Case("format 3", "format: 3\n" + BASE, 1, "format", "format 3 is not known; this version of sopengine reads format 1 and format 2"),
    Case("unknown time zone", BASE + "timezone: Asia/Bandung\n", 25, "timezone", "unknown time zone 'Asia/Bandung'; use an IANA name"),
    Case("deadline not a duration", BASE + "deadline: Setiap Saat\n", 25, "deadline", "a deadline is one duration"),
    Case("actor and actors", edit("    actor: staf\n", "    actor: staf\n    actors: [staf, kepala]\n"), 9, "steps[1]", "the row has both 'actor' and 'actors'; keep one"),
    Case("actor as a list", edit("    actor: staf\n", "    actor: [staf, kepala]\n"), 12, "steps[1].actor",
         "must be text (got a list); one lane is 'actor: <id>'; for several lanes write 'actors: [staf, kepala]'"),
    Case("actor with a comma", edit("    actor: staf\n", "    actor: staf, kepala\n"), 12, "steps[1].actor",
         "unknown actor 'staf, kepala'; for several lanes write 'actors: [staf, kepala]'"),
    Case("no actor", edit("    actor: staf\n", ""), 9, "steps[1]", "a step needs an 'actor'"),
    Case("no row number", edit("    no: 1\n", ""), 9, "steps[1]", "a step needs its row number; add 'no:'"),
    Case("decision with next", edit("    waktu: 1 jam\n", "    waktu: 1 jam\n    next: tulis\n"), 15, "steps[2]", "remove 'next'"),
    Case("outcomes on a process step", edit("    kind: decision\n", ""), 15, "steps[2]", "only a decision has outcomes; add 'kind: decision'"),
    # -- the flow
    Case("unknown actor", edit("    actor: kepala\n", "    actor: kepla\n"), 19, "steps[2].actor", "unknown actor 'kepla'; did you mean 'kepala'?"),
    Case("unknown actor, no near name", edit("    actor: kepala\n", "    actor: bendahara\n"), 19, "steps[2].actor", "declared actors are: staf, kepala"),
    Case("duplicate actor id", edit("  - id: kepala\n", "  - id: staf\n"), 6, "actors[2].id", "actor id 'staf' is used twice"),
    Case("duplicate step id", edit("  - id: periksa\n", "  - id: tulis\n"), 15, "steps[2].id", "step id 'tulis' is used twice; give each step its own id"),
    Case("reserved step id", edit("  - id: periksa\n", "  - id: selesai\n"), 15, "steps[2].id", "is reserved for the end of the process"),
    Case("duplicate row number", edit("    no: 2\n", "    no: 1\n"), 16, "steps[2].no", "row number 1 is used twice (also step 'tulis')"),
    Case("outcome to a missing step", edit("next: tulis}", "next: tullis}"), 24, "steps[2].outcomes[2].next", "no step 'tullis'; did you mean 'tulis'?"),
    Case("next a row number", edit("    outputs: [Konsep]\n", "    outputs: [Konsep]\n    next: 2\n"), 15, "steps[1].next",
         "'2' is a row number; use its id 'periksa'"),
    Case("outcome to a row number", edit("next: tulis}", "next: 1}"), 24, "steps[2].outcomes[2].next", "'1' is a row number; use its id 'tulis'"),
    Case("outcome to a number that is no row", edit("next: tulis}", "next: 7}"), 24, "steps[2].outcomes[2].next",
         "no step '7'; use a step id, or 'selesai' to end the process"),
    Case("next to a missing step", edit("    outputs: [Konsep]\n", "    outputs: [Konsep]\n    next: cetak\n"), 15, "steps[1].next",
         "no step 'cetak'; use a step id, or 'selesai' to end the process"),
    Case("unreachable step", BASE + THIRD, 25, "steps[3].id", "step 'arsip' can never be reached from the first step"),
    Case("never reaches the end", edit("next: selesai}", "next: periksa}"), 9, "steps[1].id",
         "from step 'tulis' the end can never be reached (it only loops); give it a way to 'selesai'"),
    Case("decision with one outcome", edit('      - {name: "Tidak", next: tulis}\n', ""), 22, "steps[2].outcomes",
         "a decision needs at least two outcomes (e.g. Ya and Tidak)"),
    Case("outcome given twice", edit('{name: "Tidak"', '{name: "ya"'), 24, "steps[2].outcomes[2].name", "outcome 'ya' is given twice"),
    Case("unknown time unit", edit("waktu: 15 menit", "waktu: 15 detik"), 13, "steps[1].waktu",
         "unknown unit of time 'detik' in '15 detik'; keep waktu as written and add 'duration:' with the time to count, e.g. 'duration: 15 menit'"),
    Case("waktu per item", edit("waktu: 15 menit", "waktu: 10 Menit/berkas"), 13, "steps[1].waktu",
         "cannot read '10 Menit/berkas' as a duration (unexpected '/berkas'); keep waktu as written and add 'duration:' with the time to count, e.g. 'duration: 10 menit'"),
    Case("waktu too long", edit("waktu: 15 menit", "waktu: " + "Menunggu " * 30), 13, "steps[1].waktu",
         "the text is 269 characters long, too long for a duration (at most 200); keep waktu as written and add 'duration:'"),
    Case("untimed missing for Setiap Saat", edit("waktu: 15 menit", "waktu: Setiap Saat"), 13, "steps[1].waktu",
         "'Setiap Saat' says when the step may be done, not how long it takes; add 'untimed: true'"),
    Case("waktu a range", edit("waktu: 15 menit", "waktu: 15-30 menit"), 13, "steps[1].waktu", "is a range, not one duration; keep waktu as written and add 'duration:'"),
    Case("no waktu", edit("    waktu: 15 menit\n", ""), 9, "steps[1]", "the step has no waktu; give the SOP's waktu, or 'untimed: true'"),
    Case("untimed with duration", edit("    waktu: 15 menit\n", "    waktu: Setiap Saat\n    untimed: true\n    duration: 15 menit\n"), 14,
         "steps[1].untimed", "an untimed step has no 'duration'; remove one of the two"),
    Case("automatic decision without when", edit("    kind: decision\n", "    kind: decision\n    automatic: true\n"), 24, "steps[2].outcomes[1]",
         "an automatic decision needs 'when' on every outcome"),
    Case("when on a manual decision", edit("next: selesai}", "next: selesai, when: {period.ends_year: true}}"), 23,
         "steps[2].outcomes[1].when", "only an automatic decision has 'when'; add 'automatic: true'"),
    Case("unknown fact", automatic(", when: {period.ends_yer: true}", ", when: otherwise"), 24, "steps[2].outcomes[1].when.period.ends_yer",
         "unknown fact 'period.ends_yer'; did you mean 'period.ends_year'?"),
    Case("fact value of the wrong type", automatic(", when: {period.ends_year: yes}", ", when: otherwise"), 24,
         "steps[2].outcomes[1].when.period.ends_year", "'yes' is never a value of period.ends_year; use true or false"),
    Case("undeclared case field", automatic(", when: {case.jenis: biasa}", ", when: otherwise"), 24, "steps[2].outcomes[1].when.case.jenis",
         "case field 'jenis' is not declared; add"),
    Case("case value not allowed", automatic(", when: {case.jenis: rahasia}", ", when: otherwise", "case:\n  - {name: jenis, values: [biasa, segera]}\n"), 26,
         "steps[2].outcomes[1].when.case.jenis", "'rahasia' is not an allowed value of 'jenis' (biasa, segera); use one of them"),
    Case("otherwise not last", automatic(", when: otherwise", ", when: {period.ends_year: true}"), 24, "steps[2].outcomes[1].when",
         "'otherwise' may be used once, on the last outcome; move it there"),
    Case("when neither facts nor otherwise", automatic(", when: sometimes", ", when: otherwise"), 24, "steps[2].outcomes[1].when",
         "must be a mapping or 'otherwise' (got 'sometimes')"),
    Case("join with one incoming edge", edit("    waktu: 15 menit\n", "    waktu: 15 menit\n    join: true\n"), 14, "steps[1].join",
         "a join needs two or more steps leading into it; remove 'join: true'"),
    Case("split with one target", edit("    outputs: [Konsep]\n", "    outputs: [Konsep]\n    next: [periksa]\n"), 15, "steps[1].next",
         "a split needs two or more steps; give a single step id instead of a list"),
    Case("split ending the process", edit("    outputs: [Konsep]\n", "    outputs: [Konsep]\n    next: [periksa, selesai]\n"), 15, "steps[1].next",
         "a branch of a split cannot end the process"),
    Case("required on an input", edit("    inputs: [Konsep]\n", "    inputs: [{name: Konsep, required: true}]\n"), 20, "steps[2].inputs[1].required",
         "'required' is for outputs"),
    Case("produced_by a missing step", edit("    inputs: [Konsep]\n", "    inputs: [{name: Draf, produced_by: tulsi}]\n"), 20,
         "steps[2].inputs[1].produced_by", "no step 'tulsi'; did you mean 'tulis'?"),
    Case("label of an unknown header field", edit("title: Contoh\n", "title: Contoh\nheader:\n  labels:\n    judl: Judul SOP\n"), 5,
         "header.labels.judl", "'judl' is not a header field; did you mean 'judul'?"),
    Case("office hours not a range", BASE + "hours:\n  senin: 8 pagi\n", 26, "hours.senin", "is not a time range; write \"HH:MM-HH:MM\""),
    Case("office hours twice for one day", BASE + "hours:\n  friday: \"08:00-11:00\"\n  jumat: \"08:00-11:30\"\n", 27, "hours.jumat",
         "'friday' and 'jumat' name the same day; keep one"),
    Case("office hours closing first", BASE + "hours:\n  senin: \"16:00-08:00\"\n", 26, "hours.senin", "closes before it opens; swap or fix the times"),
    Case("office hours of an unknown day", BASE + "hours:\n  ahad: \"08:00-12:00\"\n", 26, "hours.ahad", "unknown weekday 'ahad'"),
]
CASES.append(Case(
    "produced_by a step that never leads here",
    edit("    inputs: [Konsep]\n", "    inputs: [{name: Arsip, produced_by: arsip}]\n", BASE.replace("next: selesai}", "next: arsip}"))
    + THIRD.replace("    waktu: 5 menit\n", "    waktu: 5 menit\n    outputs: [Arsip]\n"),
    20, "steps[2].inputs[1].produced_by", "step 'arsip' never leads to step 'periksa', so it cannot produce this input",
))

LINE_FORM = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<field>[^\s:][^:\n]*?): (?P<message>[^\n]+)$")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_problem_at_its_line(case: Case) -> None:
    checked = check_text(case.text, case.file, expected_id="bad")
    assert not checked.ok
    found = [p for p in checked.errors if p.line == case.line and p.field == case.field and case.fragment in p.message]
    assert found, "\n".join(str(p) for p in checked.problems)
    for p in checked.problems:
        text = str(p)
        assert LINE_FORM.match(text), text
        assert "\n" not in text
        # what is wrong, then how to fix it
        assert ";" in p.message or "?" in p.message, text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_command_exits_1_without_traceback(case: Case, tmp_path: Path) -> None:
    path = tmp_path / case.file
    path.write_text(case.text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stdout.splitlines()
    assert lines, result.output
    for line in lines:
        m = LINE_FORM.match(line)
        assert m and m["file"] == str(path), line
    expected = f"{path}:{case.line}: {case.field}: "
    assert any(line.startswith(expected) and case.fragment in line for line in lines), result.stdout
    assert "0 of 1 definition(s) valid." in result.stderr


def test_at_least_thirty_cases() -> None:
    assert len({c.name for c in CASES}) >= 30


def test_every_problem_of_a_file_at_once() -> None:
    text = edit("    actor: kepala\n", "    actor: kepla\n", edit("waktu: 15 menit", "waktu: 15 detik"))
    checked = check_text(text, "bad.yaml", expected_id="bad")
    assert [(p.line, p.field) for p in checked.errors] == [(13, "steps[1].waktu"), (19, "steps[2].actor")]


def test_input_no_earlier_step_produces_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(edit("    inputs: [Konsep]\n", "    inputs: [Konsep, Nota Dinas]\n"), encoding="utf-8")
    checked = check_file(path)
    assert checked.ok
    assert [str(p) for p in checked.problems] == [
        f"{path}:20: steps[2].inputs[2]: warning: input 'Nota Dinas' is not an output of an earlier step; "
        "mark it 'external: true' if it comes from outside, or name its step with 'produced_by'"
    ]
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: input 'Nota Dinas'" in result.stdout
    assert "1 of 1 definition(s) valid." in result.stderr


@pytest.mark.parametrize(
    ("inputs", "warned"),
    [
        ("[{name: Nota Dinas, external: true}]", False),
        ("[{name: Nota Dinas, produced_by: tulis}]", False),
        ("[konsep.]", False),  # case and a final full stop do not make another document
        ("[Konsep Surat]", True),
    ],
)
def test_where_an_input_comes_from(inputs: str, warned: bool) -> None:
    checked = check_text(edit("    inputs: [Konsep]\n", f"    inputs: {inputs}\n"), "bad.yaml", expected_id="bad")
    assert checked.ok
    assert bool(checked.warnings) is warned


def test_spacing_around_a_slash_names_the_same_document() -> None:
    text = edit("outputs: [Konsep]", "outputs: [Konsep yang sudah diperiksa kasubag /Kasi]")
    text = edit("inputs: [Konsep]", "inputs: [Konsep yang sudah diperiksa kasubag/ Kasi]", text)
    assert check_text(text, "bad.yaml", expected_id="bad").problems == []


def test_automatic_decision_without_otherwise_is_a_warning() -> None:
    checked = check_text(
        automatic(", when: {period.ends_year: true}", ", when: {period.ends_year: false}"), "bad.yaml", expected_id="bad"
    )
    assert checked.ok
    assert [(p.line, p.field) for p in checked.warnings] == [(23, "steps[2].outcomes")]
    assert "give the last outcome 'when: otherwise'" in checked.warnings[0].message


def test_a_missing_file_and_a_folder(tmp_path: Path) -> None:
    missing = check_file(tmp_path / "tidak-ada.yaml")
    assert [str(p) for p in missing.problems] == [f"{tmp_path / 'tidak-ada.yaml'}: file: not found; check the path"]
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert "is a folder" in check_file(folder).problems[0].message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(BASE.replace("Contoh", "Cont\xf6h").encode("latin-1"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}: file: is not UTF-8 text" in result.stdout
    assert "save the file as UTF-8" in result.stdout


def test_alias_bomb_is_refused_quickly() -> None:
    # Nine levels of nine aliases would expand to 387 million values.
    lines = ['a0: &a0 ["x"]']
    for n in range(1, 10):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    checked = check_text("\n".join(lines) + "\n", "bad.yaml")
    assert [p.field for p in checked.problems] == ["yaml"]
    assert "more than 100000 values" in checked.problems[0].message


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    checked = check_text("a: " + "[" * 5000 + "]" * 5000 + "\n", "bad.yaml")
    assert not checked.ok
    assert checked.problems[0].field == "yaml"


def test_a_loop_of_automatic_decisions_only_is_an_error() -> None:
    path = Path(__file__).resolve().parent / "data" / "engine" / "autoloop.yaml"
    checked = check_file(path)
    messages = [(p.line, p.field, p.message) for p in checked.errors]
    assert messages == [
        (11, "steps[2].id", "automatic decision 'g1' can come back to itself through automatic decisions only, which would never stop; put a step done by a person in that loop"),
        (18, "steps[3].id", "automatic decision 'g2' can come back to itself through automatic decisions only, which would never stop; put a step done by a person in that loop"),
    ]


@pytest.mark.parametrize(
    "waktu",
    ["10 Menit/berkas", "2 x 30 menit", "15 detik", "30 mnit", "'1:30'", "0 menit", "99999 hari", "1,5 hari",
     "P1Y", "2 hari kalender 3 jam", "1 hari kerja dan 2 hari kalender", "15-30 menit", "Menunggu " * 30],
)
def test_waktu_is_never_to_be_rewritten(waktu: str) -> None:
    # waktu is the SOP's text: every problem with it asks for a duration beside it.
    checked = check_text(edit("waktu: 15 menit", f"waktu: {waktu}"), "bad.yaml", expected_id="bad")
    [problem] = checked.errors
    assert problem.field == "steps[1].waktu"
    assert "keep waktu as written and add 'duration:' with the time to count, e.g. 'duration: " in problem.message
    assert "write e.g." not in problem.message and "use menit" not in problem.message


@pytest.mark.parametrize("waktu", ["1 x 24 jam", "± 30 menit"])
def test_waktu_as_service_standards_print_it_needs_no_duration(waktu: str) -> None:
    checked = check_text(edit("waktu: 15 menit", f"waktu: {waktu}"), "bad.yaml", expected_id="bad")
    assert checked.ok, [str(p) for p in checked.problems]


@pytest.mark.parametrize("written", ["2", '"2"', "[2, tulis]"])
def test_a_row_number_as_next_gets_one_problem_naming_the_id(written: str) -> None:
    text = edit("    outputs: [Konsep]\n", f"    outputs: [Konsep]\n    next: {written}\n")
    checked = check_text(text, "bad.yaml", expected_id="bad")
    row_number = [p for p in checked.errors if p.field == "steps[1].next"]
    assert [p.message for p in row_number][:1] == ["'2' is a row number; use its id 'periksa'"]
    assert not any("must be text" in p.message or "no step" in p.message for p in checked.errors)
