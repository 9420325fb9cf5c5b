"""How the loader reads plain YAML values: what an admin typed is what the definition holds.

PyYAML follows YAML 1.1, which reads ``045`` as octal 37, ``12:30`` as 750 (base 60) and
``1_000`` as 1000. A definition keeps such values as the text written; a number stays a
number only where its digits read back the same.
"""

from __future__ import annotations

import pytest

from sopengine.definition.loader import check_text
from sopengine.definition.yamlmarks import load_with_lines, plain_number

ONE_STEP = """\
id: contoh
title: Contoh
header:
  nomor: {nomor}
  tanggal_efektif: {efektif}
actors:
  - {{id: staf, name: Staf}}
steps:
  - id: tulis
    no: 1
    kegiatan: {kegiatan}
    actor: staf
    waktu: {waktu}
    duration: 90 menit
    keterangan: {keterangan}
"""


@pytest.mark.parametrize(
    "written",
    ["045", "0755", "12:30", "1:30", "1:30:00", "1_000", "+5", "0x1F", "0b101", "007.5", ".5", "1.50", ".inf", ".nan"],
)
def test_a_number_yaml_11_would_change_stays_the_text_written(written: str) -> None:
    data, _ = load_with_lines(f"value: {written}\n")
    assert data == {"value": written}


@pytest.mark.parametrize("written, value", [("3", 3), ("-2", -2), ("0", 0), ("2026", 2026), ("1.5", 1.5), ("1.0", 1.0)])
def test_a_plainly_written_number_stays_a_number(written: str, value: float) -> None:
    data, _ = load_with_lines(f"value: {written}\n")
    assert data == {"value": value}
    assert type(data["value"]) is type(value)


def test_quoted_and_explicit_text_is_untouched() -> None:
    data, _ = load_with_lines('a: "045"\nb: \'12:30\'\nc: !!str 1_000\n')
    assert data == {"a": "045", "b": "12:30", "c": "1_000"}


@pytest.mark.parametrize(
    "field, written",
    [
        ("nomor", "045"),
        ("efektif", "12:30"),
        ("waktu", "1:30"),
        ("kegiatan", "0755"),
        ("keterangan", "1_000"),
        ("keterangan", "+5"),
    ],
)
def test_the_definition_keeps_each_unquoted_value_as_written(field: str, written: str) -> None:
    values = {"nomor": "1", "efektif": "Maret 2022", "kegiatan": "Menulis", "waktu": "15 menit", "keterangan": "-x"}
    values[field] = written
    checked = check_text(ONE_STEP.format(**values), "contoh.yaml", expected_id="contoh")
    assert checked.ok, [str(p) for p in checked.problems]
    d = checked.definition
    assert d is not None
    got = {
        "nomor": d.header.nomor,
        "efektif": d.header.tanggal_efektif,
        "kegiatan": d.steps[0].kegiatan,
        "waktu": d.steps[0].waktu,
        "keterangan": d.steps[0].keterangan,
    }
    assert got[field] == written


@pytest.mark.parametrize("text, plain", [("06", "6"), ("+2", "2"), ("1.50", "1.5"), ("1_000", "1000"), ("3", None), ("Ya", None), ("12:30", None)])
def test_plain_number(text: str, plain: str | None) -> None:
    assert plain_number(text) == plain


def test_a_row_number_with_a_leading_zero_says_what_to_write() -> None:
    text = ONE_STEP.format(nomor="1", efektif="x", kegiatan="Menulis", waktu="15 menit", keterangan="x").replace("no: 1", "no: 01")
    checked = check_text(text, "contoh.yaml", expected_id="contoh")
    assert [(p.line, p.field, p.message) for p in checked.errors] == [
        (10, "steps[1].no", "must be a whole number (got '01'); write 1: a number written with a leading zero, '+', '_' or a trailing zero stays text"),
    ]


def test_a_fact_with_a_leading_zero_says_what_to_write() -> None:
    text = """\
id: contoh
title: Contoh
actors: [{id: staf, name: Staf}]
steps:
  - id: gerbang
    kegiatan: Akhir semester?
    kind: decision
    automatic: true
    outcomes:
      - {name: "Ya", next: tulis, when: {period.month: 06}}
      - {name: "Tidak", next: selesai, when: otherwise}
  - {id: tulis, no: 1, kegiatan: Menulis, actor: staf, waktu: 15 menit}
"""
    checked = check_text(text, "contoh.yaml", expected_id="contoh")
    assert [(p.line, p.message) for p in checked.errors] == [
        (10, "'06' is never a value of period.month; write 6 (a number written with a leading zero, '+', '_' or a trailing zero stays text)"),
    ]
