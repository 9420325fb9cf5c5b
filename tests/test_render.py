"""Rendering: the SOP document's layout, HTML, Mermaid and Markdown, and the render command.

The geometry is checked here on the layout the HTML prints; tests/test_render_browser.py
checks the same in a real browser, where the document is laid out by Chromium. Every
renderer draws format 2 (a format-1 file as its upgrade), so the fixtures here are a format-1
file (the upgrade's drawing) and a format-2 file with several tables and several symbols per
row, beside every shipped definition.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sopengine import api
from sopengine.cli import cli
from sopengine.definition.format2 import Definition2
from sopengine.definition.loader import load_definition
from sopengine.definition.upgrade import as_format2
from sopengine.render.html import render_html
from sopengine.render.layout import (
    CONTENT_HEIGHT,
    KINDS,
    SYMBOL_NAMES,
    Layout,
    Segment,
    Symbol,
    build_layout,
    flow_edges,
    format_seconds,
    interpretations,
    local_time,
    period_text,
    placed_lanes,
    run_caption,
    symbol_progress,
)
from sopengine.render.markdown import markdown_cell, render_markdown
from sopengine.render.mermaid import node_ids, render_mermaid
from sopengine.render.terminal import header_rows

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (ROOT / "definitions").glob("*.yaml"))
NOW = "2026-10-01T08:00"

# A definition made to exercise the layout: loops back across pages, a split and a join, a
# multi-actor row, an automatic gate without an actor, a decision with three outcomes (one
# of them the end), and texts that HTML, Mermaid and Markdown must all escape.
UJI_YAML = r"""
format: 1
id: uji-tata-letak
title: Uji Tata Letak <script>alert(1)</script>
header:
  instansi: PEMERINTAH "UJI" & <b>CONTOH</b>
  nomor: 1/UJI/2026
  judul: Uji | Tata *Letak* <script>alert("x")</script>
  dasar_hukum: [Satu, Dua]
  labels: {judul: Judul <SOP>}
actors:
  - {id: pemohon, name: Pemohon, kind: external}
  - {id: petugas, name: "Petugas <i>Pelayanan</i>"}
  - {id: kepala, name: Kepala Bidang}
  - {id: sekretaris, name: Sekretaris}
case:
  - {name: jenis, values: [biasa, khusus]}
steps:
  - {id: ajukan, no: 1, kegiatan: "Mengajukan permohonan <script>alert('x')</script> | a \"b\" #c `d` [e]", actor: pemohon, waktu: 10 menit, inputs: [{name: KTP, external: true}], outputs: [Formulir]}
  - id: periksa
    no: 2
    kegiatan: Memeriksa kelengkapan
    kind: decision
    actor: petugas
    waktu: 15 menit
    outcomes:
      - {name: Lengkap, next: catat}
      - {name: Tidak "Lengkap", next: ajukan}
  - {id: catat, no: 3, kegiatan: Mencatat, actor: petugas, waktu: 5 menit, next: [telaah, arsip]}
  - {id: telaah, no: 4, kegiatan: Menelaah, actor: kepala, waktu: 1 jam, next: gabung}
  - {id: arsip, no: 5, kegiatan: Mengarsipkan, actor: sekretaris, waktu: 1 jam}
  - {id: gabung, no: 6, kegiatan: Menyatukan hasil telaah dan arsip, actors: [petugas, kepala], waktu: 30 menit, join: true}
  - id: jenis
    kegiatan: Jenis khusus?
    kind: decision
    automatic: true
    outcomes:
      - {name: "Ya", next: setujui, when: {case.jenis: khusus}}
      - {name: "Tidak", next: kirim, when: otherwise}
  - id: setujui
    no: 7
    kegiatan: Menyetujui
    kind: decision
    actor: sekretaris
    waktu: 2 jam
    outcomes:
      - {name: Setuju, next: s8}
      - {name: Perbaiki, next: catat}
      - {name: Tolak, next: selesai}
  - {id: s8, no: 8, kegiatan: Langkah delapan, actor: kepala, waktu: 1 jam}
  - {id: s9, no: 9, kegiatan: Langkah sembilan, actor: petugas, waktu: 1 jam}
  - id: s10
    no: 10
    kegiatan: Memeriksa ulang
    kind: decision
    actor: kepala
    waktu: 1 jam
    outcomes:
      - {name: "Ya", next: s11}
      - {name: "Tidak", next: periksa}
  - {id: s11, no: 11, kegiatan: Langkah sebelas, actor: sekretaris, waktu: 1 jam, interpretation: "A note <b>with</b> markup"}
  - {id: kirim, no: 12, kegiatan: Mengirim jawaban, actor: petugas, waktu: 1 jam}
  - {id: terima, no: 13, kegiatan: Menerima jawaban, actor: pemohon, waktu: 1 jam}
"""



# A format-2 definition with two tables, each drawing its own lanes, and the symbols the paper
# can draw: several in one row (three diamonds in three lanes and a connector under the last),
# printed and unprinted labels, undrawn exits, a fork, a connector pair across a band, a
# document, a manual operation, another shape, terminators with and without their words. Its
# header leaves fields out, gives one blank and marks its lists as printed.
DUA_YAML = r"""
format: 2
id: uji-dua
title: Uji Dua Tabel
header:
  instansi: PEMERINTAH KOTA UJI
  nomor: 7/UJI/2026
  tanggal_revisi:
  judul: Uji Dua Tabel
  dasar_hukum: [Undang-undang satu, Peraturan dua]
  keterkaitan:
  peralatan: [Komputer, ATK]
  peringatan: Hati-hati
  markers: {dasar_hukum: "a.", peralatan: "-"}
actors:
  - {id: pemohon, name: Pemohon, kind: external}
  - {id: petugas, name: Petugas}
  - {id: kepala, name: Kepala Bidang}
  - {id: sekretaris, name: Sekretaris}
tables:
  - id: umum
    title: "Tabel A. Pengajuan umum"
    lanes: [pemohon, petugas, kepala]
    columns: {kegiatan: Uraian Prosedur, mutu_baku: Mutu Buku, keterangan: Ket}
    footnotes: ["*) Kelengkapan dibawa asli", "**) Waktu hari kerja"]
    rows:
      - no: "1"
        kegiatan: Mengajukan permohonan
        waktu: 10 menit
        kelengkapan: [{name: KTP, external: true}]
        output: [Formulir]
        symbols:
          - {id: mulai, kind: start, lane: pemohon, text: Mulai}
          - {id: ajukan, kind: process, lane: pemohon}
      - no: "2"
        kegiatan: Memeriksa kelengkapan
        waktu: 15 menit
        kelengkapan: [Formulir]
        output: [Formulir]
        keterangan: "-"
        symbols:
          - {id: terima, kind: process, lane: petugas}
          - id: lengkap
            kind: decision
            lane: petugas
            text: Lengkap?
            outcomes:
              - {label: "Ya", next: setuju}
              - {label: Kurang, next: ajukan}
              - {name: Batal, drawn: false, next: selesai}
      - no: "3"
        kegiatan: Memutuskan bersama
        waktu: 1 jam
        symbols:
          - id: setuju
            kind: decision
            lane: pemohon
            text: Setuju?
            outcomes:
              - {label: "Ya", next: setuju-petugas}
              - {name: Menolak, next: selesai}
          - id: setuju-petugas
            kind: decision
            lane: petugas
            text: Benar <b>?</b>
            outcomes:
              - {label: "Ya", next: setuju-kepala}
              - {label: Ulang, next: [ajukan, terima]}
          - id: setuju-kepala
            kind: decision
            lane: kepala
            text: Disetujui Kepala?
            outcomes:
              - {label: "Ya", next: ke-b}
              - {name: Tidak, next: selesai, drawn: false}
          - {id: ke-b, kind: connector, lane: kepala, text: "1", pair: dari-b}
      - symbols:
          - {id: dari-b, kind: connector, lane: petugas, text: "1"}
      - no: 1a
        kegiatan: Mengarsipkan dan mencatat
        waktu: 30 menit
        output: [Arsip]
        symbols:
          - {id: arsip, kind: document, lane: petugas, text: Arsip surat}
          - {id: catat, kind: manual, lane: kepala, text: Catat manual}
          - {id: lain, kind: other, shape: dashed box, lane: kepala, label: Kirim, interpretation: Kotak bergaris putus-putus}
          - {id: selesai-a, kind: end, lane: pemohon, text: Selesai}
  - id: khusus
    title: "Tabel B. Pengajuan khusus"
    lanes: [petugas, sekretaris]
    rows:
      - no: "1"
        kegiatan: Menerima berkas khusus
        waktu: 10 menit
        interpretation: Dua simbol dalam satu baris
        symbols:
          - {id: b-mulai, kind: start, lane: petugas}
          - {id: b-terima, kind: process, lane: sekretaris, drawn: false, next: b-selesai}
      - no: "2"
        kegiatan: Menyelesaikan
        waktu: 10 menit
        symbols:
          - {id: b-selesai, kind: end, lane: sekretaris}
"""


def write_uji(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "uji-tata-letak.yaml"
    path.write_text(UJI_YAML, encoding="utf-8")
    return path


def uji_definition(folder: Path) -> Definition2:
    return as_format2(load_definition(write_uji(folder))[0])


def write_dua(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "uji-dua.yaml"
    path.write_text(DUA_YAML, encoding="utf-8")
    return path


def dua_definition(folder: Path) -> Definition2:
    definition = load_definition(write_dua(folder))[0]
    assert isinstance(definition, Definition2)
    return definition


def shipped(name: str) -> Definition2:
    return as_format2(api.get_definition(name, ROOT / "definitions"))


CASES = SHIPPED + ["uji-tata-letak", "uji-dua"]


def definition_for(name: str, folder: Path) -> Definition2:
    if name == "uji-tata-letak":
        return uji_definition(folder / "defs")
    if name == "uji-dua":
        return dua_definition(folder / "defs")
    return shipped(name)


@pytest.fixture(params=CASES)
def definition(request: pytest.FixtureRequest, tmp_path: Path) -> Definition2:
    return definition_for(request.param, tmp_path)


class Elements(HTMLParser):
    """Every start tag of a document with its attributes, and its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, attribute: str, **values: str) -> list[dict[str, str]]:
        return [a for _, a in self.tags if attribute in a and all(a.get(k.replace("_", "-")) == v for k, v in values.items())]


ROW = re.compile(r'<tr class="(?:row|band)[^"]*" data-row="(?P<key>[^"]+)" data-no="(?P<no>[^"]*)".*?</tr>', re.S)


def row_html(html: str, table: str, no: str) -> str:
    """The HTML of one printed row: table id and row number as printed."""
    found = [m.group(0) for m in ROW.finditer(html) if m.group("key").startswith(table + "/") and m.group("no") == no]
    assert len(found) == 1, (table, no)
    return found[0]


def all_symbols(d: Definition2) -> list[str]:
    return [s.id for _, _, _, s in d.symbols()]


# -- layout ------------------------------------------------------------------------------------

def test_the_shipped_definitions_are_all_rendered() -> None:
    assert {"pengumpulan-data", "surat-keluar", "permohonan-informasi-publik"} <= set(SHIPPED)


def drawn_symbols(layout: Layout) -> dict[str, Symbol]:
    return {s.step: s for page in layout.pages for row in page.rows for s in row.symbols if s.step}


def test_each_symbol_stands_in_its_lane_inside_its_row(definition: Definition2) -> None:
    layout = build_layout(definition)
    lanes = placed_lanes(definition)
    symbols = drawn_symbols(layout)
    assert sorted(symbols) == sorted(all_symbols(definition))
    for table in layout.tables:
        ids = [a.id for a in table.actors]
        assert ids == definition.lanes(table.index)
        for page in table.pages:
            for row in page.rows:
                for sym in row.symbols:
                    if sym.letter:
                        continue
                    assert sym.lane == lanes[sym.step]
                    k = ids.index(sym.lane)
                    assert k * table.lane_width < sym.left < sym.right < (k + 1) * table.lane_width, sym.step
                    assert 0 < sym.top < sym.bottom < row.height, sym.step
                if row.row is not None:
                    assert [s.step for s in row.symbols] == [s.id for s in row.row.symbols]


def test_symbols_are_drawn_as_the_definition_draws_them() -> None:
    d = shipped("pengumpulan-data")
    symbols = drawn_symbols(build_layout(d))
    assert (symbols["kumpulkan-data"].kind, symbols["kumpulkan-data"].lines) == ("start", ["Mulai"])
    assert (symbols["susun-laporan-tahunan"].kind, symbols["susun-laporan-tahunan"].lines) == ("end", [])
    assert symbols["akhir-semester"].kind == "decision" and " ".join(symbols["akhir-semester"].lines) == "Akhir semester?"
    assert (symbols["rekap-laporan"].kind, symbols["rekap-laporan"].lines) == ("process", [])


def test_several_symbols_in_one_row_stand_in_their_lanes(tmp_path: Path) -> None:
    d = dua_definition(tmp_path)
    html = render_html(d)
    row = Elements(row_html(html, "umum", "3"))
    shapes = [a for t, a in row.tags if "shape" in a.get("class", "").split()]
    assert len(shapes) == 4  # three diamonds and a connector
    symbols = row.having("data-kind")
    assert [(m["data-step"], m["data-kind"], m["data-lane"], m["data-level"]) for m in symbols] == [
        ("setuju", "decision", "pemohon", "0"),
        ("setuju-petugas", "decision", "petugas", "0"),
        ("setuju-kepala", "decision", "kepala", "0"),
        ("ke-b", "connector", "kepala", "1"),  # under the diamond of its lane
    ]
    placed = drawn_symbols(build_layout(d))
    diamonds = [placed[x] for x in ("setuju", "setuju-petugas", "setuju-kepala")]
    assert len({s.cy for s in diamonds}) == 1 and [s.lane_index for s in diamonds] == [0, 1, 2]
    assert placed["ke-b"].top > placed["setuju-kepala"].bottom and placed["ke-b"].cx == placed["setuju-kepala"].cx
    # the arrows between them: straight across, and down the lane to the connector
    layout = build_layout(d)
    segments = {(g.source, g.target): g for p in layout.pages for r in p.rows for g in r.segments}
    across = segments[("setuju", "setuju-petugas")].points
    assert across == [placed["setuju"].port("right"), placed["setuju-petugas"].port("left")]
    assert segments[("setuju-kepala", "ke-b")].points == [placed["setuju-kepala"].port("bottom"), placed["ke-b"].port("top")]
    # shapes of the other kinds
    kinds = Elements(row_html(html, "umum", "1a"))
    assert [(m["data-step"], m["data-kind"]) for m in kinds.having("data-kind")] == [
        ("arsip", "document"), ("catat", "manual"), ("lain", "other"), ("selesai-a", "end")]
    text = row_html(html, "umum", "1a")
    assert '<path class="shape"' in text  # the document's wavy bottom
    assert re.search(r'data-shape="dashed box"><title>dashed box</title>', text)  # the shape seen on paper, as a tooltip


def test_several_lanes_of_a_format_1_row_are_symbols_chained_left_to_right(tmp_path: Path) -> None:
    d = uji_definition(tmp_path)
    row = Elements(row_html(render_html(d), "utama", "6"))
    assert [(m["data-step"], m["data-lane"]) for m in row.having("data-kind")] == [("gabung", "petugas"), ("gabung-2", "kepala")]
    assert row.having("data-edge", data_from="gabung", data_to="gabung-2")


def test_a_diamonds_question_is_printed_inside_it(tmp_path: Path) -> None:
    d = dua_definition(tmp_path)
    html = render_html(d)
    for no, step, question in (("2", "lengkap", "Lengkap?"), ("3", "setuju-kepala", "Disetujui Kepala?")):
        text = row_html(html, "umum", no)
        group = re.search(rf'<g class="symbol decision[^"]*" data-step="{step}".*?</g>', text, re.S)
        assert group is not None
        inside = " ".join(re.findall(r'<text class="inside"[^>]*>([^<]*)</text>', group.group(0)))
        assert inside == question
    # escaped like every text
    group = re.search(r'<g class="symbol decision[^"]*" data-step="setuju-petugas".*?</g>', html, re.S)
    assert group is not None and "<b>" not in html
    assert " ".join(Elements(group.group(0)).text).split() == ["Benar", "<b>?</b>"]
    # a terminator prints its words only where the definition gives them
    symbols = drawn_symbols(build_layout(d))
    assert symbols["mulai"].lines == ["Mulai"] and symbols["selesai-a"].lines == ["Selesai"]
    assert symbols["b-mulai"].lines == [] and symbols["b-selesai"].lines == []


def test_labels_appear_only_where_printed(tmp_path: Path) -> None:
    d = dua_definition(tmp_path)
    html = render_html(d)
    parsed = Elements(html)
    printed = sorted(re.findall(r'<text class="arrow-label"[^>]*>([^<]*)</text>', html))
    # each printed label once (a fork prints its label on its first branch), unprinted names never
    assert printed == sorted(["Ya", "Kurang", "Ya", "Ya", "Ulang", "Ya", "Kirim"])
    assert "Menolak" not in html and "Batal" not in html
    refusal = parsed.having("data-edge", data_from="setuju", data_to="selesai")
    assert refusal and all(a["data-label"] == "" for a in refusal)  # drawn, without a label
    fork = parsed.having("data-edge", data_from="setuju-petugas", data_label="Ulang")
    assert {a["data-to"] for a in fork} == {"ajukan", "terima"}  # a forking outcome draws two arrows
    assert ("setuju", "selesai", "") in flow_edges(d)


def test_an_undrawn_exit_draws_nothing(tmp_path: Path) -> None:
    d = dua_definition(tmp_path)
    parsed = Elements(render_html(d))
    assert not parsed.having("data-edge", data_from="lengkap", data_to="selesai")  # Batal, drawn: false
    assert not parsed.having("data-edge", data_from="setuju-kepala", data_to="selesai")
    assert not parsed.having("data-edge", data_from="b-terima")  # a box's arrow the paper does not draw
    edges = flow_edges(d)
    assert not [e for e in edges if e[0] in ("b-terima",) or (e[0], e[1]) in (("lengkap", "selesai"), ("setuju-kepala", "selesai"))]
    assert "Batal → selesai (tidak digambar)" in render_markdown(d)


def test_a_connector_draws_no_line_to_its_pair(tmp_path: Path) -> None:
    d = dua_definition(tmp_path)
    parsed = Elements(render_html(d))
    assert not parsed.having("data-edge", data_from="ke-b")
    assert parsed.having("data-edge", data_from="setuju-kepala", data_to="ke-b")
    assert parsed.having("data-edge", data_from="dari-b", data_to="arsip")
    pentagons = [a for a in parsed.having("data-kind", data_kind="connector") if a.get("data-step") in ("ke-b", "dari-b")]
    assert len(pentagons) == 2


def test_a_multi_table_sop_is_one_document_each_table_with_its_own_lanes(tmp_path: Path) -> None:
    d = dua_definition(tmp_path)
    layout = build_layout(d)
    html = render_html(d)
    sections = re.split(r"<section ", html)[1:]
    assert len(sections) == layout.page_count
    assert sum('class="page header-page"' in s for s in sections) == 1 and 'class="page header-page"' in sections[0]
    tables = [s for s in sections if 'class="page table-page"' in s]
    order = [re.search(r'data-table="([^"]+)"', s).group(1) for s in tables]  # type: ignore[union-attr]
    assert order == sorted(order, key=["umum", "khusus"].index) and set(order) == {"umum", "khusus"}
    for section, table in zip(tables, order):
        parsed = Elements(section)
        actors = [a["data-actor"] for a in parsed.having("data-actor")]
        lanes = {"umum": ["pemohon", "petugas", "kepala"], "khusus": ["petugas", "sekretaris"]}[table]
        assert actors == lanes
        assert {m["data-lane"] for m in parsed.having("data-lane") if "data-step" in m} <= set(lanes)
        words = " ".join(parsed.text)
        title = {"umum": "Tabel A. Pengajuan umum", "khusus": "Tabel B. Pengajuan khusus"}[table]
        assert title in words
        if table == "umum":
            assert "Uraian Prosedur" in words and "Mutu Buku" in words and "Ket" in words and "Kegiatan" not in words
        else:
            assert "Kegiatan" in words and "Mutu Baku" in words and "Ket" not in words
    # the footnotes under the last page of their table only
    last = [s for s, t in zip(tables, order) if t == "umum"][-1]
    assert [s.count("*) Kelengkapan dibawa asli") for s in tables] == [int(s is last) for s in tables]
    # row numbers as printed
    assert row_html(html, "umum", "1a") and row_html(html, "khusus", "1")
    assert re.search(r'<td class="no">1a</td>', html)
    # Markdown: a section per table; Mermaid: a subgraph per table, its lanes inside it
    md = render_markdown(d)
    assert "## Tabel A. Pengajuan umum" in md and "## Tabel B. Pengajuan khusus" in md
    assert md.index("## Tabel A.") < md.index("## Tabel B.") < md.index("## Diagram alir")
    assert "| No | Uraian Prosedur | Pelaksana | Kelengkapan | Waktu | Output | Ket |" in md
    mermaid = render_mermaid(d)
    assert re.findall(r'^  subgraph (table\d)\["(.*)"\]$', mermaid, re.M) == [
        ("table0", "Tabel A. Pengajuan umum"), ("table1", "Tabel B. Pengajuan khusus")]
    assert re.findall(r'^    subgraph t1lane\d\["(.*)"\]$', mermaid, re.M) == ["Petugas", "Sekretaris"]


def test_an_absent_header_field_is_absent_and_a_blank_one_a_blank_box(tmp_path: Path) -> None:
    d = dua_definition(tmp_path)
    html = render_html(d)
    fields = {a["data-field"] for a in Elements(html).having("data-field")}
    absent = {"tanggal_pembuatan", "tanggal_efektif", "disahkan_oleh", "kualifikasi_pelaksana", "pencatatan"}
    assert not fields & absent
    assert {"nomor", "tanggal_revisi", "judul", "dasar_hukum", "keterkaitan", "peralatan", "peringatan"} <= fields
    assert re.search(r'data-field="tanggal_revisi">\s*</td>', html)  # given blank: a blank box
    assert re.search(r'<td data-field="keterkaitan"[^>]*><div class="title">Keterkaitan:</div></td>', html)
    words = " ".join(Elements(html).text)
    for label in ("Tanggal Pembuatan", "Tanggal Efektif", "Disahkan oleh", "Kualifikasi Pelaksana", "Pencatatan"):
        assert label not in words
    # markers as printed
    assert '<span class="marker">a.</span><span class="item">Undang-undang satu</span>' in html
    assert '<span class="marker">b.</span><span class="item">Peraturan dua</span>' in html
    assert '<span class="marker">-</span><span class="item">ATK</span>' in html
    assert "<p>Hati-hati</p>" in html  # one item, no marker given: none printed
    rows = dict(header_rows(d))
    assert "Tanggal Pembuatan" not in rows and rows["Tanggal Revisi"] == "" and rows["Keterkaitan"] == ""
    assert rows["Dasar Hukum"] == "a. Undang-undang satu\nb. Peraturan dua" and rows["Peralatan/Perlengkapan"] == "- Komputer\n- ATK"
    md = render_markdown(d)
    assert "| **Tanggal Revisi** |  |" in md and "Tanggal Pembuatan" not in md
    terminal = shown(d)
    assert "Tanggal Revisi" in terminal and "Tanggal Pembuatan" not in terminal and "a. Undang-undang satu" in terminal


@pytest.mark.parametrize(("marker", "printed"), [("1.", ["1.", "2."]), ("1)", ["1)", "2)"]), ("a.", ["a.", "b."]),
                                                   ("-", ["-", "-"]), ("•", ["•", "•"]), ("", ["", ""])])
def test_header_lists_carry_their_printed_markers(marker: str, printed: list[str], tmp_path: Path) -> None:
    text = DUA_YAML.replace('markers: {dasar_hukum: "a.", peralatan: "-"}', f'markers: {{dasar_hukum: "{marker}"}}')
    (tmp_path / "uji-dua.yaml").write_text(text, encoding="utf-8")
    d = load_definition(tmp_path / "uji-dua.yaml")[0]
    html = render_html(d)
    cell = re.search(r'<td data-field="dasar_hukum".*?</td>', html, re.S)
    assert cell is not None
    assert re.findall(r'<span class="marker">([^<]*)</span>', cell.group(0)) == printed
    # the default, "1.", on the list that gives none
    cell = re.search(r'<td data-field="peralatan".*?</td>', html, re.S)
    assert cell is not None and re.findall(r'<span class="marker">([^<]*)</span>', cell.group(0)) == ["1.", "2."]


def chains(layout: Layout) -> dict[str, list[tuple[int, int, str, Segment]]]:
    """Each arrow's parts in order, with the page, the row and the row's kind they lie in."""
    out: dict[str, list[tuple[int, int, str, Segment]]] = {}
    for page in layout.pages:
        for r, row in enumerate(page.rows):
            for seg in row.segments:
                out.setdefault(seg.edge, []).append((page.number, r, row.kind, seg))
    for parts in out.values():
        parts.sort(key=lambda p: p[3].part)
    return out


def on_box(point: tuple[float, float], sym: Symbol, tol: float = 1e-6) -> bool:
    x, y = point
    inside = sym.left - tol <= x <= sym.right + tol and sym.top - tol <= y <= sym.bottom + tol
    edge = min(abs(x - sym.left), abs(x - sym.right), abs(y - sym.top), abs(y - sym.bottom)) <= tol
    return inside and edge


def test_every_arrow_is_one_unbroken_chain_between_the_right_symbols(definition: Definition2) -> None:
    layout = build_layout(definition)
    rows = [(p.number, r, row) for p in layout.pages for r, row in enumerate(p.rows)]
    where = {(p, r): row for p, r, row in rows}
    drawn = set()
    for edge, parts in chains(layout).items():
        assert [p[3].part for p in parts] == list(range(len(parts))), edge
        first, last = parts[0][3], parts[-1][3]
        source = [s for s in where[parts[0][:2]].symbols if s.step == first.source and s.lane == first.source_lane]
        assert len(source) == 1 and source[0].on_outline(first.points[0]), edge
        if last.target == "selesai":
            # a drawn exit to the end, with no symbol to point at: a short arrow in its row
            assert len(parts) == 1 and last.head and 0 < math_length(last.points) <= 5.01, edge
        else:
            target = [s for s in where[parts[-1][:2]].symbols if s.step == last.target and s.lane == last.target_lane]
            assert len(target) == 1 and target[0].on_outline(last.points[-1]), edge
        assert last.head
        for (pa, ra, _, a), (pb, rb, _, b) in zip(parts, parts[1:]):
            end, start = a.points[-1], b.points[0]
            if pa == pb:
                # consecutive rows: leave one row's edge where the next row's edge is entered
                assert abs(rb - ra) == 1, edge
                assert end[0] == pytest.approx(start[0])
                height = where[(pa, ra)].height
                assert {end[1], start[1]} in ({height, 0.0}, {0.0, where[(pb, rb)].height})
            else:
                # a page break: an arrow into a connector, out of the one with the same letter
                leaving = [s for s in where[(pa, ra)].symbols if s.letter and on_box(end, s)]
                arriving = [s for s in where[(pb, rb)].symbols if s.letter and on_box(start, s)]
                assert len(leaving) == len(arriving) == 1 and leaving[0].letter == arriving[0].letter, edge
                assert a.head
        drawn.add((first.source, last.target, first.label))
    assert drawn == set(flow_edges(definition))


def shared_length(a: tuple[tuple[float, float], tuple[float, float]], b: tuple[tuple[float, float], tuple[float, float]]) -> float:
    """How long two straight pieces run on one line (0 when they only cross or touch)."""
    (p, q), (r, s) = a, b
    for axis in (0, 1):
        other = 1 - axis
        if abs(p[axis] - q[axis]) < 1e-6 and abs(r[axis] - s[axis]) < 1e-6 and abs(p[axis] - r[axis]) < 1e-6:
            return max(0.0, min(max(p[other], q[other]), max(r[other], s[other])) - max(min(p[other], q[other]), min(r[other], s[other])))
    return 0.0


def test_no_two_arrows_run_on_one_line(definition: Definition2) -> None:
    # Arrows may merge into one symbol's top and a fork's branches share their way out;
    # otherwise no arrow lies on another (a loop-back never runs on the arrow forward).
    for page in build_layout(definition).pages:
        for row in page.rows:
            for k, a in enumerate(row.segments):
                for b in row.segments[k + 1:]:
                    if a.edge == b.edge or (a.target == b.target != "selesai") or (a.source, a.exit) == (b.source, b.exit):
                        continue
                    for pa in zip(a.points, a.points[1:]):
                        for pb in zip(b.points, b.points[1:]):
                            assert shared_length(pa, pb) < 0.3, (page.number, row.no, a, b)


def test_no_arrow_runs_through_a_symbol(definition: Definition2) -> None:
    for page in build_layout(definition).pages:
        for row in page.rows:
            for seg in row.segments:
                for (x0, y0), (x1, y1) in zip(seg.points, seg.points[1:]):
                    for sym in row.symbols:
                        if sym.step and sym.step in (seg.source, seg.target):
                            continue
                        crosses = (min(x0, x1) < sym.right - 0.3 and max(x0, x1) > sym.left + 0.3
                                   and min(y0, y1) < sym.bottom - 0.3 and max(y0, y1) > sym.top + 0.3)
                        assert not crosses, (page.number, row.no, seg.edge, sym.step or sym.letter)


# Symbols crowded in one row: a fork sharing its way down, arrows coming up to taken sides.
CROWDED_YAML = """
format: 2
id: tepi
title: Tepi
actors: [{id: a, name: A}, {id: b, name: B}, {id: c, name: C}]
tables:
  - rows:
      - no: "1"
        kegiatan: Satu
        waktu: 1 jam
        symbols:
          - {id: s1, kind: start, lane: a}
          - {id: p1, kind: process, lane: a}
          - {id: p2, kind: process, lane: a, next: p1b}
          - {id: p1b, kind: process, lane: b}
          - {id: p1c, kind: process, lane: c, next: [p1c2, p2b]}
          - {id: p1c2, kind: process, lane: c}
          - {id: p2b, kind: process, lane: b}
      - no: "2"
        kegiatan: Dua
        waktu: 1 jam
        symbols:
          - id: d
            kind: decision
            lane: b
            text: Empat jalan?
            outcomes:
              - {label: Dua, next: p1}
              - {label: Tiga, next: e}
              - {label: Empat, next: p2}
          - {id: e, kind: end, lane: c}
"""


def test_crowded_rows_keep_their_arrows_apart(tmp_path: Path) -> None:
    (tmp_path / "tepi.yaml").write_text(CROWDED_YAML, encoding="utf-8")
    d = load_definition(tmp_path / "tepi.yaml")[0]
    test_no_two_arrows_run_on_one_line(d)
    test_no_arrow_runs_through_a_symbol(d)
    test_every_arrow_is_one_unbroken_chain_between_the_right_symbols(d)
    layout = build_layout(d)
    symbols = drawn_symbols(layout)
    ends = {(g.source, g.target): g.points[-1] for p in layout.pages for r in p.rows for g in r.segments if g.head}
    # p2's right side is its arrow out: the arrow up from the diamond enters by its left
    assert ends[("d", "p2")] == symbols["p2"].port("left")
    assert ends[("p2", "p1b")] == symbols["p1b"].port("left")


def math_length(points: list[tuple[float, float]]) -> float:
    return sum(abs(b[0] - a[0]) + abs(b[1] - a[1]) for a, b in zip(points, points[1:]))


def test_flows_crossing_pages_meet_at_lettered_connectors(tmp_path: Path) -> None:
    layout = build_layout(uji_definition(tmp_path))
    assert len(layout.pages) >= 2
    seen: dict[str, list[tuple[int, str]]] = {}
    for page in layout.pages:
        for row in page.rows:
            for sym in row.symbols:
                if sym.letter:
                    assert sym.kind == "connector" and row.kind in ("strip-top", "strip-bottom")
                    seen.setdefault(sym.letter, []).append((page.number, row.kind))
    assert sorted(seen)[:2] == ["A", "B"]
    for letter, places in seen.items():
        assert len(places) == 2 and places[0][0] != places[1][0], letter


def test_page_connectors_skip_the_letters_the_sop_prints(tmp_path: Path) -> None:
    text = DUA_YAML.replace('text: "1", pair: dari-b', 'text: "A", pair: dari-b').replace(
        '{id: dari-b, kind: connector, lane: petugas, text: "1"}', '{id: dari-b, kind: connector, lane: petugas, text: "A"}')
    (tmp_path / "uji-dua.yaml").write_text(text, encoding="utf-8")
    layout = build_layout(load_definition(tmp_path / "uji-dua.yaml")[0])
    letters = {s.letter for p in layout.pages for r in p.rows for s in r.symbols if s.letter}
    assert letters and "A" not in letters


def test_pages_keep_within_a4(definition: Definition2) -> None:
    layout = build_layout(definition)
    for table in layout.tables:
        for page in table.pages:
            assert sum(row.height for row in page.rows) < CONTENT_HEIGHT - 30
            assert any(row.row for row in page.rows)


# -- HTML --------------------------------------------------------------------------------------

def test_html_escapes_every_text(tmp_path: Path) -> None:
    text = render_html(uji_definition(tmp_path))
    assert "<script" not in text.lower()
    assert "<b>" not in text and "<i>Pelayanan" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    parsed = Elements(text)
    words = "".join(parsed.text)
    assert "Mengajukan permohonan <script>alert('x')</script>" in words
    assert "Petugas <i>Pelayanan</i>" in words and "A note <b>with</b> markup" in words
    assert parsed.having("data-edge", data_label='Tidak "Lengkap"')


def test_html_is_self_contained_and_sized_for_a4_landscape() -> None:
    text = render_html(shipped("pengumpulan-data"))
    assert "@page { size: A4 landscape" in text
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+[^\s\"')]*", text))
    assert urls <= {"http://www.w3.org/2000/svg"}
    for fetching in ("<link", "<script", "src=", "@import", "url("):
        assert fetching not in text


def test_html_header_page_uses_the_printed_labels() -> None:
    d = shipped("pengumpulan-data")
    parsed = Elements(render_html(d))
    words = " ".join(parsed.text)
    for label, _ in header_rows(d):
        if label not in ("Instansi", "Unit"):  # the agency block is printed without labels
            assert label in words
    assert "Nomor Standar Oprasional Prosedur" in words and "NIP. 197108051991011001" in words
    assert "KEPALA SUB BAGIAN DAN PELAPORAN" in words  # the agency box's third line
    assert "Alamat" not in words and "Sub Bagian:" not in words  # no label the SOP does not print


def test_html_prints_the_extra_header_fields(tmp_path: Path) -> None:
    text = ENDS_EARLY_YAML.replace("title: Berhenti\n", "title: Berhenti\nheader:\n  extra: {Kode Klasifikasi: \"800\", Lampiran: [Satu, Dua]}\n")
    (tmp_path / "berhenti.yaml").write_text(text, encoding="utf-8")
    parsed = Elements(render_html(load_definition(tmp_path / "berhenti.yaml")[0]))
    words = " ".join(parsed.text)
    assert "Kode Klasifikasi:" in words and "800" in words
    assert "Lampiran:" in words and "Satu" in words and "Dua" in words


def test_html_repeats_each_tables_header_on_every_page(definition: Definition2) -> None:
    layout = build_layout(definition)
    text = render_html(definition)
    sections = re.split(r"<section ", text)[1:]
    assert len(sections) == layout.page_count
    tables = [s for s in sections if 'class="page table-page"' in s]
    assert len(tables) == len(layout.pages)
    for section, page in zip(tables, layout.pages):
        assert page.table is not None
        actors = [a["data-actor"] for a in Elements(section).having("data-actor")]
        assert actors == definition.lanes(page.table.index)
        assert section.count("<thead>") == 1 and page.table.labels["mutu_baku"] in section
        assert ('class="col-keterangan"' in section) == page.table.keterangan
    assert "break-after: page" in text


def test_html_symbols_and_arrows_carry_data_attributes(definition: Definition2) -> None:
    parsed = Elements(render_html(definition))
    lanes = placed_lanes(definition)
    marks = [m for m in parsed.having("data-kind") if "data-step" in m]
    assert sorted(m["data-step"] for m in marks) == sorted(all_symbols(definition))
    for m in marks:
        assert m["data-lane"] == lanes[m["data-step"]] and m["data-kind"] in KINDS
    for source, target, label in flow_edges(definition):
        assert parsed.having("data-edge", data_from=source, data_to=target, data_label=label), (source, target)


def test_the_notes_page_holds_the_interpretations_of_rows_and_symbols(tmp_path: Path) -> None:
    d = dua_definition(tmp_path)
    html = render_html(d)
    assert 'class="page notes-page"' in html
    notes = html.split('class="page notes-page"')[1]
    assert "Kotak bergaris putus-putus" in notes and "Dua simbol dalam satu baris" in notes
    # a note about one symbol of a row names it: its shape, its lane
    assert '<span class="symbol-text">Bentuk lain · Kepala Bidang</span>' in notes
    assert "Tabel A. Pengajuan umum" in notes and "Tabel B. Pengajuan khusus" in notes  # named by their tables
    without = render_html(d, notes=False)
    assert 'class="page notes-page"' not in without and "Kotak bergaris" not in without
    assert "## Catatan transkripsi" in render_markdown(d) and "## Catatan transkripsi" not in render_markdown(d, notes=False)
    assert api.render("uji-dua", definitions=tmp_path, notes=False) == without


# -- Mermaid -----------------------------------------------------------------------------------

def mermaid_nodes(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\w+)(\(\[|\[\\|\[|\{|\(\(|@\{ shape: \w+(?:-\w+)?)", text, re.M))


def test_mermaid_has_a_lane_per_actor_and_the_sop_shapes(definition: Definition2) -> None:
    text = render_mermaid(definition)
    assert text.startswith("flowchart TD\n")
    lanes = placed_lanes(definition)
    names = re.findall(r'^\s+subgraph \w*lane\d+\["(.*)"\]$', text, re.M)
    used = sum(len({lanes[s.id] for r in t.rows for s in r.symbols}) for t in definition.tables)
    assert len(names) == used
    nodes = mermaid_nodes(text)
    edges = flow_edges(definition)
    ends = [t for _, t, _ in edges if t == "selesai"]
    assert len(nodes) == len(all_symbols(definition)) + len(ends)
    ids = node_ids(definition)
    shapes = {"start": "([", "end": "([", "process": "[", "decision": "{", "manual": "[\\", "connector": "((",
              "other": "[", "document": "@{ shape: doc"}
    for _, _, _, s in definition.symbols():
        assert nodes[ids[s.id]] == shapes[s.kind.value], s.id
    links = re.findall(r"^  (\w+) (-->|-\.->)(?:\|\"([^\"]*)\"\|)? (\w+)$", text, re.M)
    assert len(links) == len(edges)
    assert sorted(label for _, _, label, _ in links if label) == sorted(markdown_free(label) for _, _, label in edges if label)
    # dotted: the arrows into and out of a symbol the paper does not have, and only those
    unprinted = {ids[s.id] for _, _, _, s in definition.symbols() if not s.printed}
    for source, link, _, target in links:
        assert (link == "-.->") == (source in unprinted or target in unprinted), (source, target)


def markdown_free(label: str) -> str:
    return label.replace('"', "#quot;")


def test_mermaid_escapes_what_mermaid_reads(tmp_path: Path) -> None:
    text = render_mermaid(uji_definition(tmp_path))
    labels = re.findall(r'"([^"]*)"', text)
    assert labels
    for label in labels:
        assert "<" not in label.replace("<br>", "") and ">" not in label.replace("<br>", "")
    assert "#lt;script#gt;alert('x')#lt;/script#gt;" in text
    assert "#quot;b#quot;" in text and "#124;" in text and "#35;c" in text
    assert '"Tidak #quot;Lengkap#quot;"' in text


def test_mermaid_prints_labels_only_where_printed(tmp_path: Path) -> None:
    text = render_mermaid(dua_definition(tmp_path))
    ids = node_ids(dua_definition(tmp_path))
    assert f'{ids["setuju"]} --> selesai1' in text  # drawn, no label printed
    assert "Menolak" not in text and "Batal" not in text
    assert f'{ids["setuju-petugas"]} -->|"Ulang"| {ids["ajukan"]}' in text
    assert f'{ids["setuju-petugas"]} -->|"Ulang"| {ids["terima"]}' in text
    assert not re.search(rf"^  {ids['ke-b']} --> ", text, re.M)  # a connector's pair: no line
    assert not re.search(rf"^  {ids['b-terima']} --> ", text, re.M)  # not drawn


# -- Markdown ----------------------------------------------------------------------------------

def test_markdown_has_header_table_and_mermaid_block(definition: Definition2) -> None:
    text = render_markdown(definition)
    tables = text.split("## Diagram alir")[0].split("\n## ")[2:]
    assert len(tables) == len(definition.tables)
    for section, table in zip(tables, definition.tables):
        rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| No") and "---" not in line]
        rows = [line for line in rows if not re.match(r"^\| [^|]*(Kegiatan|Prosedur)", line)]
        assert len(rows) == len(table.rows)
        for line, r in zip(rows, table.rows):
            assert line.startswith(f"| {markdown_cell(r.no or '')} | ")
            # every symbol of the row listed: its shape's name and its lane
            assert line.count("<br>") >= len(r.symbols) - 1
            for s in r.symbols:
                assert SYMBOL_NAMES[s.kind.value] in line
    block = re.search(r"^```mermaid\n(.*?)^```$", text, re.M | re.S)
    assert block and block.group(1) == render_mermaid(definition)
    for label, _ in header_rows(definition):
        assert f"| **{markdown_cell(label)}** |" in text


def test_markdown_lists_every_symbol_of_a_row(tmp_path: Path) -> None:
    md = render_markdown(dua_definition(tmp_path))
    row = next(line for line in md.splitlines() if line.startswith("| 3 | "))
    assert row.split(" | ")[2].split("<br>") == [
        "Keputusan · Pemohon · Setuju? · ◇ Ya → 3 (setuju-petugas) · Menolak → selesai",
        "Keputusan · Petugas · Benar &lt;b&gt;?&lt;/b&gt; · ◇ Ya → 3 (setuju-kepala) · Ulang → 1 (ajukan), 2 (terima)",
        "Keputusan · Kepala Bidang · Disetujui Kepala? · ◇ Ya → 3 (ke-b) · Tidak → selesai (tidak digambar)",
        "Penghubung · Kepala Bidang · 1 · → dari-b",
    ]
    row = next(line for line in md.splitlines() if line.startswith("| 1a | "))
    assert "Bentuk lain (dashed box) · Kepala Bidang · Kirim → 1a (selesai-a)" in row


def test_markdown_escapes_cells(tmp_path: Path) -> None:
    text = render_markdown(uji_definition(tmp_path))
    table = text.split("```mermaid")[0]
    assert "<script" not in table and "<b>" not in table
    assert "&lt;script&gt;alert('x')&lt;/script&gt; \\| a \"b\" \\#c \\`d\\` \\[e\\]" in table
    assert "Uji \\| Tata \\*Letak\\*" in table
    for line in table.splitlines():
        if line.startswith("| ") and "---" not in line:
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) in (2, 3, 6), line  # no Keterangan column: no row has one


# -- a run's progress --------------------------------------------------------------------------

def drive_surat_keluar(db: Path) -> str:
    run_id = api.start_run("surat-keluar", db=db, definitions=ROOT / "definitions", now=NOW, by="Rina")["run_id"]
    api.complete(db, run_id, now="2026-10-01T08:20", by="Rina")
    api.complete(db, run_id, now="2026-10-01T09:30", by="Budi")  # 15 menit allowed: late
    api.decide(db, run_id, "Tidak", now="2026-10-01T09:40", by="Rina")
    api.complete(db, run_id, now="2026-10-01T09:45", by="Budi")
    api.decide(db, run_id, "Ya", now="2026-10-01T09:50", by="Rina")
    return run_id


def test_progress_of_a_real_run(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run_id = drive_surat_keluar(db)
    status = api.run_status(db, run_id, now="2026-10-01T13:00")
    definition = api.run_definition(db, run_id)
    parsed = Elements(render_html(definition, status))
    marks = {m["data-step"]: m for m in parsed.having("data-kind") if "data-step" in m}
    state = {k: (m.get("data-state", ""), m.get("data-late", "")) for k, m in marks.items()}
    assert state["konsep-surat"] == ("done", "")
    assert state["ketik-konsep"] == ("done", "yes")  # its first round was late
    assert state["periksa-kasubag"] == ("done", "")
    # 2 jam from 09:50 is 11:50 WIB; at 13:00 the open step is late
    assert state["periksa-sekretaris"] == ("open", "yes")
    assert state["periksa-kepala-satuan"] == ("", "")
    words = " ".join(parsed.text)
    # in Indonesian, as the whole document is: dates as written in Indonesian, one form of duration
    assert "Selesai 1 Oktober 2026 08.20 WIB oleh Rina" in words
    assert "Selesai 1 Oktober 2026 09.30 WIB oleh Budi, terlambat 55 menit" in words
    assert "Selesai 1 Oktober 2026 09.40 WIB oleh Rina: Tidak" in words
    assert "Terbuka, tenggat 1 Oktober 2026 11.50 WIB, terlambat 1 jam 10 menit" in words
    assert f"Pelaksanaan <b>{run_id}</b> · berjalan" in render_html(definition, status)
    assert all(word in words for word in ("Selesai", "Terbuka", "Terlambat"))  # the legend
    assert parsed.having("data-run")[0]["data-run"] == run_id
    mermaid = render_mermaid(definition, status)
    ids = node_ids(as_format2(definition))
    assert re.search(rf"^  class [\w,]*\b{ids['periksa-sekretaris']}\b[\w,]* open$", mermaid, re.M)
    assert re.search(rf"^  class [\w,]*\b{ids['ketik-konsep']}\b[\w,]* late$", mermaid, re.M)


def test_progress_of_a_format_1_run_marks_each_lane_of_a_row(tmp_path: Path) -> None:
    # A run pinned to a format-1 definition names lane k of a multi-lane row by its step and
    # part k; the status dict is taken as documented, whatever produced it.
    d = uji_definition(tmp_path)
    base = {"run_id": "abc-def", "definition": d.id, "period": None, "status": "active"}
    done = {"step": "gabung", "iteration": 1, "actor": "petugas", "opened_at": "2026-10-01T01:00:00Z",
            "closed_at": "2026-10-01T01:30:00Z", "closed_by": "Sari", "outcome": None, "due_at": "2026-10-01T02:00:00Z",
            "late_by": 0, "state": "done"}
    opened = {"step": "gabung", "kind": "process", "actor": "kepala", "due_at": "2026-10-01T02:00:00Z", "late_by": 0, "state": "open"}
    for extra in ({"part": 1}, {}):  # with its part, and (older dicts) with its actor only
        progress = dict(base, timeline=[dict(done, **extra)], open_steps=[dict(opened, **({"part": 2} if extra else {}))])
        marks = Elements(row_html(render_html(d, progress), "utama", "6")).having("data-kind")
        assert [(m["data-step"], m.get("data-state")) for m in marks] == [("gabung", "done"), ("gabung-2", "open")]
        row = row_html(render_html(d, progress), "utama", "6")
        assert "Petugas &lt;i&gt;Pelayanan&lt;/i&gt;: Selesai" in row and "Kepala Bidang: Terbuka" in row


def test_a_run_of_release_0_1_marks_the_lane_it_is_at(tmp_path: Path) -> None:
    # tests/data/release-0.1: a run pinned to the format-1 Permohonan Informasi Publik, done in
    # the first lane of its two-lane row 6 and open in the second.
    import shutil

    db = tmp_path / "sopengine.db"
    shutil.copy(ROOT / "tests" / "data" / "release-0.1" / "sopengine.db", db)
    html = api.render(run="8jn-sbh", db=db, now="2026-11-20T10:00")
    marks = Elements(row_html(html, "utama", "6")).having("data-kind")
    assert [(m["data-step"], m["data-lane"], m.get("data-state")) for m in marks] == [
        ("siapkan-informasi", "perangkat-daerah", "done"), ("siapkan-informasi-2", "ppid", "open")]


# -- the command -------------------------------------------------------------------------------

def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_render_html_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    result = invoke("render", "pengumpulan-data")
    assert result.exit_code == 0
    assert result.stdout.startswith("<!DOCTYPE html>") and result.stdout.rstrip().endswith("</html>")
    out = tmp_path / "sop.html"
    result = invoke("render", "pengumpulan-data", "--format", "html", "-o", str(out))
    assert result.exit_code == 0 and f"Wrote {out}" in result.stderr and result.stdout == ""
    assert out.read_text(encoding="utf-8") == render_html(api.get_definition("pengumpulan-data"))


@pytest.mark.parametrize("fmt", ["md", "mermaid"])
@pytest.mark.parametrize("name", ["uji-tata-letak", "uji-dua"])
def test_render_other_formats(fmt: str, name: str, tmp_path: Path) -> None:
    write_uji(tmp_path / "defs")
    write_dua(tmp_path / "defs")
    result = invoke("render", name, "--format", fmt, "--definitions", str(tmp_path / "defs"))
    assert result.exit_code == 0
    d = definition_for(name, tmp_path)
    assert result.stdout == (render_markdown(d) if fmt == "md" else render_mermaid(d))


def test_render_a_run_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run_id = drive_surat_keluar(db)
    result = invoke("--db", str(db), "render", "--run", run_id, "--now", "2026-10-01T13:00")
    assert result.exit_code == 0, result.output
    assert 'data-state="open" data-late="yes"' in result.stdout
    after = invoke("render", "surat-keluar", "--run", run_id, "--db", str(db), "--format", "md")
    assert after.exit_code == 0 and "| Kemajuan Pelaksanaan |" in after.stdout
    wrong = invoke("render", "pengumpulan-data", "--run", run_id, "--db", str(db))
    assert wrong.exit_code == 1
    assert wrong.output.strip() == f"Error: run {run_id} is a run of 'surat-keluar', not 'pengumpulan-data'; leave out ID or give the right one"


def test_render_errors_are_one_line(tmp_path: Path) -> None:
    result = invoke("render")
    assert result.exit_code == 1 and result.output == "Error: give a definition ID, or --run RUN to render a run's progress\n"
    result = invoke("render", "tidak-ada")
    assert result.exit_code == 1 and result.output.startswith("Error: no definition 'tidak-ada'")
    missing = tmp_path / "none.db"
    result = invoke("render", "--run", "abc-def", "--db", str(missing))
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "Traceback" not in result.output
    assert not missing.exists()


def test_the_docs_show_the_current_rendering() -> None:
    page = (ROOT / "docs" / "rendering.md").read_text(encoding="utf-8")
    block = re.search(r"^```mermaid\n(.*?)^```$", page, re.M | re.S)
    assert block and block.group(1) == render_mermaid(api.get_definition("pengumpulan-data", ROOT / "definitions"))
    for image in ("pengumpulan-data.png", "operasi-penegakan-perda-row6.png"):
        assert f"](img/{image})" in page and (ROOT / "docs" / "img" / image).is_file()


# -- where arrows go, in the tables ------------------------------------------------------------

ENDS_EARLY_YAML = """
id: berhenti
title: Berhenti
actors: [{id: staf, name: Staf}, {id: kepala, name: Kepala}]
steps:
  - {id: tulis, no: 1, kegiatan: Menulis, actor: staf, waktu: 15 menit, next: arsip}
  - {id: sisip, no: 2, kegiatan: Menyisipkan, actor: kepala, waktu: 15 menit, next: selesai}
  - {id: arsip, no: 3, kegiatan: Mengarsipkan, actor: staf, waktu: 15 menit, next: sisip}
"""




def shown(d: Any) -> str:
    from rich.console import Console

    from sopengine.render.terminal import print_definition

    console = Console(width=400, record=True, color_system=None)
    print_definition(console, d)
    return console.export_text()


def test_markdown_and_show_name_every_jump_by_row_number(tmp_path: Path) -> None:
    (tmp_path / "berhenti.yaml").write_text(ENDS_EARLY_YAML, encoding="utf-8")
    d = load_definition(tmp_path / "berhenti.yaml")[0]
    # row 2 ends the process: its symbol is the end terminator, which draws no arrow. The
    # Markdown (a document, always Indonesian) names the shape; show names the kind as written.
    expected = {"1": ("Terminator · Staf · → 3", "start · Staf · → 3"), "2": ("Terminator · Kepala", "end · Kepala"),
                "3": ("Proses · Staf · → 2", "process · Staf · → 2")}
    md = render_markdown(d)
    terminal = shown(d)
    for no, (in_md, in_show) in expected.items():
        assert re.search(rf"^\| {no} \| [^|]* \| {in_md} \|", md, re.M), md
        row = next(x for x in terminal.splitlines() if re.match(rf"^│ {no} ", x))
        assert f"│ {in_show} " in row, terminal


@pytest.mark.parametrize("lang", ["en", "id"])
def test_markdown_and_show_write_the_same_arrows(lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPENGINE_LANG", lang)
    d = uji_definition(tmp_path)
    md = render_markdown(d)
    terminal = shown(d)
    flows = [
        "⇉ 4, 5",  # catat
        "→ 6 (gabung)",  # telaah: row 6 has a symbol in each of its two lanes
        "◇ Lengkap → 3 · Tidak \"Lengkap\" → 1",  # periksa
        "◇ {automatic}: Ya → 7 · Tidak → 12",  # jenis, the gate between rows
        "◇ Setuju → 8 · Perbaiki → 3 · Tolak → selesai",  # setujui
        "◇ Ya → 11 · Tidak → 2",  # s10
    ]
    # show speaks the language in force; the Markdown is a document, Indonesian in both
    for flow in flows:
        assert flow.format(automatic="automatic" if lang == "en" else "otomatis") in terminal, (flow, terminal)
        assert markdown_cell(flow.format(automatic="otomatis")) in md, (flow, md)
    # a symbol that goes on to the next one drawn says nothing more than its shape and lane
    assert "| Terminator · Pemohon |" in next(line for line in md.splitlines() if line.startswith("| 1 | "))


# -- symbols between rows ----------------------------------------------------------------------

def test_a_band_between_rows_is_drawn_with_its_symbols_in_every_format(definition: Definition2) -> None:
    bands = [(ti, r) for ti, t in enumerate(definition.tables) for r in t.rows if r.band]
    parsed = Elements(render_html(definition))
    rows = [a for _, a in parsed.tags if a.get("class", "").split()[:1] == ["band"]]
    assert len(rows) == len(bands)
    for attrs, (_, r) in zip(rows, bands):
        assert attrs["data-no"] == "" and attrs["data-symbols"] == " ".join(s.id for s in r.symbols)
    html = render_html(definition)
    for m in ROW.finditer(html):
        if m.group(0).startswith('<tr class="band'):
            assert re.search(r'<td class="no"></td>\s*<td class="kegiatan"></td>', m.group(0))
    md = render_markdown(definition)
    assert sum(1 for line in md.splitlines() if line.startswith("|  |  | ")) == len(bands)
    ids = node_ids(definition)
    mermaid = render_mermaid(definition)
    for _, r in bands:
        for s in r.symbols:
            assert re.search(rf"^\s+{ids[s.id]}\W", mermaid, re.M)


def test_pengumpulan_data_draws_its_two_gates_between_rows() -> None:
    d = shipped("pengumpulan-data")
    html = render_html(d)
    bands = [m.group(0) for m in ROW.finditer(html) if m.group(0).startswith('<tr class="band')]
    assert [re.search(r'data-symbols="([^"]*)"', b).group(1) for b in bands] == ["akhir-semester", "akhir-tahun"]  # type: ignore[union-attr]
    questions = [" ".join(re.findall(r'<text class="inside"[^>]*>([^<]*)</text>', b)) for b in bands]
    assert questions == ["Akhir semester?", "Akhir tahun?"]


# -- symbols the paper does not have (printed: false) ------------------------------------------

GATES = ["akhir-semester", "akhir-tahun"]
FOOTNOTE = re.compile(r'<p class="unprinted-note" data-footnote="unprinted">([^<]*)</p>')
SYMBOL_G = re.compile(r'<g class="symbol (?P<cls>[^"]*)" data-step="(?P<step>[^"]+)".*?</g>', re.S)
ARROW_G = re.compile(r'<g class="arrow(?P<cls>[^"]*)" data-edge="[^"]*" data-part="[^"]*" data-from="(?P<src>[^"]*)" data-to="(?P<dst>[^"]*)"[^>]*>')


def unprinted_ids(d: Definition2) -> set[str]:
    return {s.id for _, _, _, s in d.symbols() if not s.printed}


def table_pages(html: str) -> list[str]:
    return re.findall(r'<section class="page table-page".*?</section>', html, re.S)


def test_pengumpulan_data_draws_its_two_gates_dashed_with_a_footnote() -> None:
    d = shipped("pengumpulan-data")
    assert sorted(unprinted_ids(d)) == GATES
    html = render_html(d)
    parsed = Elements(html)
    dashed = [a["data-step"] for a in parsed.having("data-step", data_printed="no") if "data-kind" in a]
    assert dashed == GATES
    for m in SYMBOL_G.finditer(html):
        if m.group("step") in GATES:
            assert "unprinted" in m.group("cls").split()
            assert re.search(r'<text class="mark"[^>]*>\*</text>', m.group(0)), m.group("step")
    # the arrows into and out of the gates, and only those, are dashed; their labels too
    arrows = [(m.group("src"), m.group("dst"), "unprinted" in m.group("cls").split()) for m in ARROW_G.finditer(html)]
    assert {(a, b) for a, b, dash in arrows if dash} == {
        ("sosialisasi-laporan", "akhir-semester"), ("akhir-semester", "rekap-dua-laporan"), ("akhir-semester", "selesai"),
        ("sosialisasi-semester", "akhir-tahun"), ("akhir-tahun", "susun-laporan-tahunan"), ("akhir-tahun", "selesai"),
    }
    assert sorted(re.findall(r'<text class="arrow-label unprinted"[^>]*>([^<]*)</text>', html)) == ["Tidak", "Tidak", "Ya", "Ya"]
    # the page connectors on a dashed arrow are dashed; the style is a light grey dash
    assert re.search(r'class="symbol connector page-connector unprinted"', html)
    assert re.search(r"svg \.unprinted \.shape, svg \.arrow\.unprinted \.line \{[^}]*stroke-dasharray: [\d.]+ [\d.]+", html)
    # the footnote: once on each page that draws a gate, and it points at the notes' page
    layout = build_layout(d)
    notes_page = 2 + len(layout.pages)
    pages = table_pages(html)
    assert len(pages) == len(layout.pages)
    for text, page in zip(pages, layout.pages):
        drawn = [g for g in GATES if f'data-step="{g}"' in text]
        assert page.unprinted == drawn
        expected = [f"* Simbol tambahan (garis putus-putus), tidak tercetak pada SOP; lihat catatan transkripsi, halaman {notes_page}."]
        assert FOOTNOTE.findall(text) == (expected if drawn else [])
    assert sum(1 for page in pages if FOOTNOTE.search(page)) == sum(1 for page in layout.pages if page.unprinted) >= 1
    # the notes' page names both gates as not on the SOP, beside why they are there
    notes = html.split('class="page notes-page"')[1]
    for gate in GATES:
        row = re.search(rf'<tr data-step="{gate}" data-printed="no">.*?</tr>', notes, re.S)
        assert row and '<span class="unprinted-mark">* tidak tercetak pada SOP</span>' in row.group(0)
        assert "Not a row of the SOP" in row.group(0)
    assert notes.count("tidak tercetak pada SOP") == 2


def test_a_printed_symbol_is_never_dashed(definition: Definition2) -> None:
    html = render_html(definition)
    unprinted = unprinted_ids(definition)
    for m in SYMBOL_G.finditer(html):
        assert ("unprinted" in m.group("cls").split()) == (m.group("step") in unprinted), m.group("step")
        assert ('class="mark"' in m.group(0)) == (m.group("step") in unprinted), m.group("step")
    for m in ARROW_G.finditer(html):
        touches = m.group("src") in unprinted or m.group("dst") in unprinted
        assert ("unprinted" in m.group("cls").split()) == touches, m.group(0)
    layout = build_layout(definition)
    for text, page in zip(table_pages(html), layout.pages):
        assert len(FOOTNOTE.findall(text)) == (1 if page.unprinted else 0)
    for page in layout.pages:
        for row in page.rows:
            for sym in row.symbols:
                assert sym.printed == (sym.step not in unprinted) or not sym.step
            for seg in row.segments:
                assert seg.printed == (seg.source not in unprinted and seg.target not in unprinted)
    if not unprinted:
        assert "data-printed" not in html and "tidak tercetak" not in html


def test_a_format_1_gate_between_rows_is_drawn_dashed(tmp_path: Path) -> None:
    d = uji_definition(tmp_path)
    assert unprinted_ids(d) == {"jenis"}  # the upgrade marks the unnumbered gate
    html = render_html(d)
    assert re.search(r'<g class="symbol decision unprinted" data-step="jenis"', html)
    # no interpretation of its own: the notes still name it, as not on the SOP
    notes = html.split('class="page notes-page"')[1]
    assert re.search(r'<tr data-step="jenis" data-printed="no">.*?\* tidak tercetak pada SOP', notes, re.S)


def test_without_notes_the_footnote_points_nowhere(tmp_path: Path) -> None:
    out = tmp_path / "pd.html"
    assert invoke("render", "pengumpulan-data", "--definitions", str(ROOT / "definitions"), "--no-notes", "-o", str(out)).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert 'class="page notes-page"' not in html
    footnotes = FOOTNOTE.findall(html)
    assert footnotes and set(footnotes) == {"* Simbol tambahan (garis putus-putus), tidak tercetak pada SOP."}
    for text in footnotes:
        assert "catatan" not in text.lower() and "lihat" not in text and "halaman" not in text
    assert len(re.findall(r'<g class="symbol decision unprinted"', html)) == 2  # still dashed


def test_markdown_show_and_mermaid_mark_the_symbols_not_on_the_paper() -> None:
    d = shipped("pengumpulan-data")
    md = render_markdown(d)
    table = md.split("## Diagram alir")[0]
    marked = [line for line in table.splitlines() if "(tidak tercetak pada SOP)" in line]
    assert [line.split(" | ")[2] for line in marked] == [
        "Keputusan · Kepala Bidang · Akhir semester? (tidak tercetak pada SOP) · ◇ otomatis: Ya → 6 · Tidak → selesai",
        "Keputusan · Kepala Bidang · Akhir tahun? (tidak tercetak pada SOP) · ◇ otomatis: Ya → 9 · Tidak → selesai",
    ]
    notes = md.split("## Catatan transkripsi")[1]
    assert "_Keputusan · Kepala Bidang · Akhir semester?_ (tidak tercetak pada SOP)" in notes
    assert notes.count("(tidak tercetak pada SOP)") == 2
    terminal = " ".join(shown(d).split())
    assert terminal.count("(tidak tercetak pada SOP)") == 2
    mermaid = render_mermaid(d)
    ids = node_ids(d)
    style = re.search(r"^  classDef unprinted (.*)$", mermaid, re.M)
    assert style and "stroke-dasharray:" in style.group(1)
    assert re.findall(r"^  class ([\w,]+) unprinted$", mermaid, re.M) == [f"{ids['akhir-semester']},{ids['akhir-tahun']}"]
    # a definition whose symbols are all on the paper marks nothing
    plain = shipped("surat-keluar")
    assert "tidak tercetak" not in render_markdown(plain) and "unprinted" not in render_mermaid(plain)


def test_the_keterangan_column_only_where_the_sop_has_it(tmp_path: Path) -> None:
    from sopengine.render.layout import has_keterangan

    for name, expected in (("surat-keluar", True), ("permohonan-informasi-publik", False), ("pengumpulan-data", False)):
        d = shipped(name)
        assert has_keterangan(d) is expected, name
        html, md, terminal = render_html(d), render_markdown(d), shown(d)
        assert ('class="col-keterangan"' in html) is expected
        assert (html.count('<td class="keterangan">') == len(d.tables[0].rows)) is expected
        assert ("| Output | Keterangan |" in md) is expected and ("| Output |\n" in md) is not expected
        assert ("Keterangan" in terminal) is expected
        columns = {c.key for c in build_layout(d).columns}
        assert ("keterangan" in columns) is expected
        assert abs(sum(c.width for c in build_layout(d).columns) - 277.0) < 0.01  # the columns fill the page's width
    # An SOP that prints the column empty says so with an empty keterangan.
    (tmp_path / "berhenti.yaml").write_text(ENDS_EARLY_YAML.replace("next: arsip}", 'next: arsip, keterangan: ""}'), encoding="utf-8")
    d = as_format2(load_definition(tmp_path / "berhenti.yaml")[0])
    assert has_keterangan(d) and 'class="col-keterangan"' in render_html(d)
    # A table says so itself with keterangan_column.
    dua = dua_definition(tmp_path / "dua")
    assert has_keterangan(dua, 0) and not has_keterangan(dua, 1)
    # A run's progress is written in Keterangan, so with a run the column is there.
    progress = {"run_id": "abc-def", "status": "active", "open_steps": [], "timeline": []}
    assert 'class="col-keterangan"' in render_html(shipped("pengumpulan-data"), progress)


def test_a_blank_header_field_stays_blank_in_html(tmp_path: Path) -> None:
    (tmp_path / "berhenti.yaml").write_text(ENDS_EARLY_YAML, encoding="utf-8")
    d = load_definition(tmp_path / "berhenti.yaml")[0]
    assert d.header.judul is None
    html = render_html(d)
    for field in ("nomor", "tanggal_pembuatan", "tanggal_revisi", "tanggal_efektif", "judul"):
        assert re.search(rf'data-field="{field}">\s*</td>', html), field
    # the title names the document elsewhere (its caption), never the SOP's judul
    assert "SOP Berhenti" in html


@pytest.mark.parametrize("written", ["  keterkaitan: []\n", "  keterkaitan:\n"])
def test_an_empty_list_renders_as_a_field_left_out(written: str, tmp_path: Path) -> None:
    # Format 1 prints every header field: one left out and one given empty are the same paper.
    with_header = ENDS_EARLY_YAML.replace("title: Berhenti\n", "title: Berhenti\nheader:\n  nomor: 1/X\n")
    with_list = with_header.replace("  nomor: 1/X\n", "  nomor: 1/X\n" + written)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "berhenti.yaml").write_text(with_header, encoding="utf-8")
    (tmp_path / "b" / "berhenti.yaml").write_text(with_list, encoding="utf-8")
    left_out = load_definition(tmp_path / "a" / "berhenti.yaml")[0]
    empty = load_definition(tmp_path / "b" / "berhenti.yaml")[0]
    assert empty.header.keterkaitan == [] == left_out.header.keterkaitan
    assert render_html(empty) == render_html(left_out)
    assert render_markdown(empty) == render_markdown(left_out)
    assert shown(empty) == shown(left_out)


def test_required_outputs_are_marked_wajib_in_every_table(tmp_path: Path) -> None:
    text = ENDS_EARLY_YAML.replace(
        "next: arsip}", "next: arsip, outputs: [{name: Surat izin cuti, required: true}, Salinan]}"
    ).replace("next: selesai}", "next: selesai, outputs: [{name: Arsip, required: true}]}")
    (tmp_path / "berhenti.yaml").write_text(text, encoding="utf-8")
    d = load_definition(tmp_path / "berhenti.yaml")[0]
    html = render_html(d)
    assert re.findall(r'([^<>]+) <span class="required" data-required="yes">\(wajib\)</span>', html) == ["Surat izin cuti", "Arsip"]
    assert "Salinan <span" not in html
    md = render_markdown(d)
    assert "| Surat izin cuti (wajib)<br>Salinan |" in md and "| Arsip (wajib) |" in md
    terminal = shown(d)
    assert "Surat izin cuti (wajib)" in terminal and "Arsip (wajib)" in terminal and "Salinan (wajib)" not in terminal


# -- the document is Indonesian, whatever language sopengine speaks ----------------------------

# Words the renderers said in English once, or could: none may be in a document. Matched as
# whole words, case as written; the SOPs' own words are Indonesian, and the admins' English
# interpretations are left out (rendered without notes) where these are looked for.
ENGLISH = [
    "Transcription", "transcription", "notes", "Notes", "Interpretation", "how this", "signed", "not part",
    "Done", "done", "Open", "open", "Late", "late", "late by", "Waiting", "waiting", "Cancelled", "cancelled",
    "Run", "run", "by", "period", "Period", "active", "Active", "completed", "Completed", "Started", "started",
    "Page", "page", "of", "Step", "step", "Actor", "actor", "Due", "due", "Outcome", "outcome", "Progress", "progress",
    "Table", "Legend", "automatic", "decision", "process", "start", "end", "connector", "other", "document",
    "working day", "working days", "the", "and", "for", "January", "February", "March", "May", "June", "July",
    "August", "October", "December", "Monday", "Friday",
]
ENGLISH_WORD = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in ENGLISH) + r")\b|\b\d+ ?(?:h|m|d|min)\b")
PROGRESS_DAY = "2026-12-0{day}T{hour:02d}:30"


def drive(name: str, db: Path, actions: int, cancel: bool = False) -> dict[str, Any]:
    """A run of a shipped SOP taken through *actions* steps (first outcome of each decision), an
    hour apart and three to a day so that some are late; cancelled at the end with *cancel*.
    The run's status as of the next morning."""
    case = {"akun": "521211"} if name == "pengajuan-pembayaran" else None
    run_id = api.start_run(name, db=db, definitions=ROOT / "definitions", now="2026-12-01T08:00", by="Rina",
                           period="2026-06", case=case, allow_duplicate=True)["run_id"]
    for k in range(actions):
        now = PROGRESS_DAY.format(day=1 + k // 3, hour=9 + k % 3)
        steps = [s for s in api.run_status(db, run_id, now=now)["open_steps"] if s["state"] == "open"]
        if not steps:
            break
        step = steps[0]
        if step["kind"] == "decision":
            api.decide(db, run_id, step["outcomes"][0], step=step["step"], now=now, by="Budi Santoso")
        else:
            api.complete(db, run_id, step=step["step"], now=now, by="Budi Santoso")
    if cancel:
        api.cancel(db, run_id, reason="uji", now="2026-12-04T08:00", by="Rina")
    return api.run_status(db, run_id, now="2026-12-04T10:00")


@pytest.fixture(scope="module")
def shipped_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Each shipped SOP with the progress of four runs: under way (an open step, late), gone far
    enough to fork and wait at a join where the SOP has one, to its end where it gets there, and
    cancelled."""
    db = tmp_path_factory.mktemp("runs") / "runs.db"
    return {name: [drive(name, db, n) for n in (4, 5, 12)] + [drive(name, db, 2, cancel=True)] for name in SHIPPED}


def visible_html(html: str) -> str:
    """What a reader of the HTML sees: its text, without the style sheet."""
    return " ".join(Elements(re.sub(r"<style>.*?</style>", "", html, flags=re.S)).text)


def visible_mermaid(text: str) -> str:
    """What a reader of the drawn flowchart sees: the quoted labels (ids and classes are not shown)."""
    return " ".join(re.findall(r'"([^"]*)"', text))


def visible_markdown(text: str) -> str:
    """The Markdown with its flowchart as the labels a reader sees."""
    return re.sub(r"^```mermaid\n(.*?)^```$", lambda m: visible_mermaid(m.group(1)), text, flags=re.M | re.S)


def documents(d: Definition2, progress: dict[str, Any] | None, notes: bool = True) -> dict[str, str]:
    return {"html": render_html(d, progress, notes=notes), "md": render_markdown(d, progress, notes=notes),
            "mermaid": render_mermaid(d, progress)}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_document_is_indonesian_in_both_languages(
    name: str, shipped_runs: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = shipped(name)
    # the notes print the admins' interpretations as written, in any language: left out here
    written = sorted({n.text for n in interpretations(d) if n.text}, key=len, reverse=True)
    seen = {}
    for lang in ("id", "en"):
        monkeypatch.setenv("SOPENGINE_LANG", lang)
        for k, progress in enumerate([None] + shipped_runs[name]):
            for notes in (False, True):
                docs = documents(d, progress, notes)
                seen[(lang, k, notes)] = docs
                shown = {"html": visible_html(docs["html"]), "md": visible_markdown(docs["md"]),
                         "mermaid": visible_mermaid(docs["mermaid"])}
                for text in written:
                    shown = {fmt: page.replace(text, " ").replace(markdown_cell(text), " ") for fmt, page in shown.items()}
                if progress is not None:  # a run id such as "94d-k7m" is not a duration in English
                    shown = {fmt: page.replace(progress["run_id"], " ") for fmt, page in shown.items()}
                if notes and written:
                    assert "Catatan transkripsi" in shown["html"] and "## Catatan transkripsi" in shown["md"]
                for fmt, text in shown.items():
                    found = sorted({m.group(0) for m in ENGLISH_WORD.finditer(text)})
                    assert not found, (lang, fmt, k, found)
    # the same document, byte for byte, whatever the language
    for (lang, k, notes), docs in seen.items():
        if lang == "en":
            assert docs == seen[("id", k, notes)], (k, notes)


def test_the_runs_drive_every_kind_of_progress_note(shipped_runs: dict[str, list[dict[str, Any]]]) -> None:
    # so that the test above reads every sentence a document says about a run
    kinds, late, statuses = set(), False, set()
    for name, runs in shipped_runs.items():
        for progress in runs:
            statuses.add(progress["status"])
            for notes in symbol_progress(shipped(name), progress).values():
                kinds |= {n["kind"] for n in notes}
                late = late or any(n["late"] for n in notes)
    assert kinds == {"done", "cancelled", "open", "waiting"} and late
    assert statuses == {"active", "completed", "cancelled"}


def test_the_document_writes_dates_durations_and_the_run_in_indonesian() -> None:
    assert local_time("2026-12-01T02:15:00Z", "Asia/Jakarta") == "1 Desember 2026 09.15 WIB"
    assert local_time("2026-01-31T16:05:00Z", "Asia/Jayapura") == "1 Februari 2026 01.05 WIT"
    assert [format_seconds(s) for s in (30, 300, 3600, 23400, 8 * 3600, 2 * 8 * 3600, 9 * 3600 + 300)] == [
        "kurang dari 1 menit", "5 menit", "1 jam", "6 jam 30 menit", "1 hari kerja", "2 hari kerja", "1 hari kerja 1 jam 5 menit"]
    assert [period_text(p) for p in ("2026-10", "2026-Q3", "2026-S2", "2026")] == [
        "Oktober 2026", "Triwulan III 2026", "Semester II 2026", "Tahun 2026"]
    assert run_caption({"run_id": "k7m-x3q", "period": "2026-10", "status": "completed"}) == {
        "run": "k7m-x3q", "period": "periode Oktober 2026", "status": "selesai"}
    d = shipped("pengumpulan-data")
    progress = {"run_id": "k7m-x3q", "period": "2026-S1", "status": "active", "timezone": "Asia/Jakarta",
                "timeline": [{"step": "kumpulkan-data", "actor": "sekretaris-dinas", "state": "done", "closed_at": "2026-12-01T02:15:00Z",
                              "closed_by": "Rina", "late_by": 2 * 8 * 3600}],
                "open_steps": [{"step": "rekap-laporan", "actor": "kasubag", "state": "open", "due_at": "2026-12-01T03:15:00Z", "late_by": 1800}]}
    html = render_html(d, progress)
    assert "Pelaksanaan <b>k7m-x3q</b> · periode Semester I 2026 · berjalan" in html
    assert ">Selesai 1 Desember 2026 09.15 WIB oleh Rina, terlambat 2 hari kerja<" in html
    assert ">Terbuka, tenggat 1 Desember 2026 10.15 WIB, terlambat 30 menit<" in html
    legend = re.findall(r'<span><i class="(\w+)"></i>([^<]*)</span>', html)
    assert legend == [("done", "Selesai"), ("open", "Terbuka"), ("late", "Terlambat")] * len(build_layout(d, progress).pages)
    md = render_markdown(d, progress)
    assert "Pelaksanaan **k7m-x3q**, periode Semester I 2026: berjalan" in md
    assert "| Kemajuan Pelaksanaan |" in md and "Selesai 1 Desember 2026 09.15 WIB oleh Rina, terlambat 2 hari kerja" in md


def test_the_notes_are_headed_in_indonesian_as_the_footnote_names_them() -> None:
    d = shipped("pengumpulan-data")
    html = render_html(d)
    notes = html.split('class="page notes-page"')[1]
    assert '<span class="notes-heading">Catatan transkripsi</span>: cara definisi ini membaca SOP yang ditandatangani (bukan bagian dari SOP)' in notes
    assert "<th>No</th><th>Kegiatan</th><th>Interpretasi</th>" in notes
    assert all("lihat catatan transkripsi, halaman" in text for text in FOOTNOTE.findall(html))
    md = render_markdown(d)
    assert "## Catatan transkripsi\n\nCara definisi ini membaca SOP yang ditandatangani (bukan bagian dari SOP).\n" in md
    assert "| No | Kegiatan | Interpretasi |" in md


@pytest.mark.parametrize("fmt", ["html", "md", "mermaid"])
def test_the_render_command_prints_the_same_document_with_either_language(fmt: str, tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run_id = drive_surat_keluar(db)
    outputs = {}
    for lang in ("id", "en"):
        result = invoke("--lang", lang, "--db", str(db), "render", "--run", run_id, "--format", fmt, "--now", "2026-10-01T13:00")
        assert result.exit_code == 0, result.output
        outputs[lang] = result.stdout
    assert outputs["id"] == outputs["en"]
    if fmt != "mermaid":
        assert "terlambat 1 jam 10 menit" in outputs["id"]


@pytest.mark.parametrize("lang", ["en", "id"])
def test_show_speaks_the_language_in_force(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # sopengine show is no document: its own words follow the language; the SOP's stay as written
    monkeypatch.setenv("SOPENGINE_LANG", lang)
    terminal = " ".join(shown(shipped("pengumpulan-data")).split())
    automatic = {"en": "◇ automatic: Ya → 6", "id": "◇ otomatis: Ya → 6"}
    assert automatic[lang] in terminal and automatic["id" if lang == "en" else "en"] not in terminal
    assert "decision · Kepala Bidang · Akhir semester? (tidak tercetak pada SOP)" in terminal
