"""Format-2 checks that name the line and the fix, on variations of a small real-shaped SOP."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopengine.definition.loader import check_text

BASE = (Path(__file__).resolve().parent / "data" / "format2" / "rantai-persetujuan.yaml").read_text(encoding="utf-8")


def problems(text: str) -> list[tuple[str, str, str]]:
    return [(p.field, p.severity, p.message) for p in check_text(text, "x.yaml").problems]


def test_the_base_is_clean() -> None:
    assert problems(BASE) == []


@pytest.mark.parametrize(("old", "new", "field", "severity", "words"), [
    ("          - {id: p-bayar, kind: process, lane: kasat, join: true}", "          - {id: p-bayar, kind: process, lane: kasat}",
     "tables[2].rows[4].symbols[1]", "warning", "both reach symbol 'p-bayar'"),
    ("format: 2\n", "", "format", "error", "add 'format: 2' at the top"),
    ("output: [{name: Surat terkirim, to: pemohon}]", "output: [{name: Surat terkirim, from: pemohon}]",
     "tables[1].rows[3].output[1].from", "error", "'from' is for kelengkapan"),
    ("kelengkapan: [{name: Permohonan, from: pemohon}]", "kelengkapan: [{name: Permohonan, to: pemohon}]",
     "tables[1].rows[1].kelengkapan[1].to", "error", "'to' is for outputs"),
    ("kelengkapan: [{name: Permohonan, external: true}]", "kelengkapan: [{name: Permohonan, external: true, produced_by: p-siapkan}]",
     "tables[2].rows[1].kelengkapan[1]", "error", "either 'external' or 'produced_by'"),
    ("              - {name: Tidak, drawn: false, next: selesai}", "",
     "tables[1].rows[2].symbols[1].outcomes", "error", "declares what its other exit does; add e.g. '{name: Tidak, drawn: false"),
    ("              - {name: Ya, next: periksa-sekretaris}", "              - {label: Ya, name: Ya, next: periksa-sekretaris}",
     "tables[1].rows[2].symbols[1].outcomes[1]", "error", "not both"),
    ("        sets: {status_surat: berlaku efektif}", "        sets: {status_surat: dicabut}",
     "tables[1].rows[3].sets.status_surat", "error", "not one of the values"),
    ("{id: ke-hal-2, kind: connector, lane: kasat, pair: dari-hal-1}", "{id: ke-hal-2, kind: connector, lane: kasat, pair: dari-hal-9}",
     "tables[1].rows[2].symbols[4].pair", "error", "no connector 'dari-hal-9'"),
    ("          - {id: p-serahkan, kind: process, lane: staf, next: p-bayar}", "          - {id: p-serahkan, kind: process, lane: staf, next: susun}",
     "tables[2].rows[3].symbols[1].next", "error", "in another table"),
    ("          - {id: susun, kind: process, lane: staf}", "          - {id: susun, kind: process, lane: sekretariat}",
     "tables[1].rows[1].symbols[2].lane", "error", "unknown actor 'sekretariat'"),
    ("    lanes: [staf, kasat]", "    lanes: [staf]", "tables[2].rows[2].symbols[1].lane", "error", "not drawn in table 'paket'"),
])
def test_a_problem_names_its_place_and_its_fix(old: str, new: str, field: str, severity: str, words: str) -> None:
    assert old in BASE
    found = problems(BASE.replace(old, new))
    assert any(f == field and s == severity and words in m for f, s, m in found), found


def test_a_band_between_rows_has_no_cells() -> None:
    text = BASE.replace("""      - no: "3"
        kegiatan: Mengirim surat""", """      - keterangan: ditulis di antara baris
        symbols: [{id: antara, kind: connector}]
      - no: "3"
        kegiatan: Mengirim surat""")
    assert any("a band between rows has no cells" in m for _, _, m in problems(text))


def test_a_dash_is_accepted_without_warnings() -> None:
    text = BASE.replace("        waktu: 30 menit\n        output: [{name: Surat terkirim", "        waktu: \"-\"\n        output: [{name: Surat terkirim")
    text = text.replace("        kelengkapan: [Surat]\n", "        kelengkapan: \"-\"\n")
    assert problems(text) == []
