"""Rendering: the SOP document's layout, HTML, Mermaid and Markdown, and the render command.

The geometry is checked here on the layout the HTML prints; tests/test_render_browser.py
checks the same in a real browser, where the document is laid out by Chromium.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api
from sopengine.cli import cli
from sopengine.definition.loader import load_definition
from sopengine.definition.models import Definition
from sopengine.render.html import render_html
from sopengine.render.layout import (
    CONTENT_HEIGHT,
    Layout,
    Segment,
    Symbol,
    build_layout,
    flow_edges,
    placed_lanes,
)
from sopengine.render.markdown import markdown_cell, render_markdown
from sopengine.render.mermaid import render_mermaid
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


def write_uji(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "uji-tata-letak.yaml"
    path.write_text(UJI_YAML, encoding="utf-8")
    return path


def uji_definition(folder: Path) -> Definition:
    return load_definition(write_uji(folder))[0]


def definitions_under_test(tmp_path: Path) -> dict[str, Definition]:
    found = {name: api.get_definition(name, ROOT / "definitions") for name in SHIPPED}
    found["uji-tata-letak"] = uji_definition(tmp_path / "defs")
    return found


CASES = SHIPPED + ["uji-tata-letak"]


@pytest.fixture(params=CASES)
def definition(request: pytest.FixtureRequest, tmp_path: Path) -> Definition:
    if request.param == "uji-tata-letak":
        return uji_definition(tmp_path / "defs")
    return api.get_definition(request.param, ROOT / "definitions")


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


# -- layout ------------------------------------------------------------------------------------

def test_the_shipped_definitions_are_all_rendered() -> None:
    assert {"pengumpulan-data", "surat-keluar", "permohonan-informasi-publik"} <= set(SHIPPED)


def step_symbols(layout: Layout) -> dict[str, list[Symbol]]:
    out: dict[str, list[Symbol]] = {}
    for page in layout.pages:
        for row in page.rows:
            if row.step:
                out[row.step.id] = [s for s in row.symbols if s.step == row.step.id]
    return out


def test_each_symbol_stands_in_its_actors_column(definition: Definition) -> None:
    layout = build_layout(definition)
    actor_ids = [a.id for a in definition.actors]
    symbols = step_symbols(layout)
    assert list(symbols) == [s.id for s in definition.steps]
    for step, lanes in zip(definition.steps, placed_lanes(definition)):
        if step.lanes:
            assert lanes == step.lanes
        assert [s.lane for s in symbols[step.id]] == lanes
        for sym in symbols[step.id]:
            k = actor_ids.index(sym.lane)
            assert k * layout.lane_width < sym.left < sym.right < (k + 1) * layout.lane_width


def test_symbol_kinds_follow_the_sop_ap_rules() -> None:
    d = api.get_definition("pengumpulan-data", ROOT / "definitions")
    kinds = {step: [s.kind for s in syms] for step, syms in step_symbols(build_layout(d)).items()}
    assert kinds["kumpulkan-data"] == ["terminator"]  # the first row
    assert kinds["susun-laporan-tahunan"] == ["terminator"]  # its flow ends the process
    assert kinds["akhir-semester"] == ["decision"]
    assert kinds["rekap-laporan"] == ["process"]
    p = api.get_definition("permohonan-informasi-publik", ROOT / "definitions")
    multi = next(s for s in p.steps if len(s.lanes) > 1)
    symbols = step_symbols(build_layout(p))[multi.id]
    assert [s.lane for s in symbols] == multi.lanes and all(s.kind == "process" for s in symbols)


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


def on_boundary(point: tuple[float, float], sym: Symbol, tol: float = 1e-6) -> bool:
    x, y = point
    inside = sym.left - tol <= x <= sym.right + tol and sym.top - tol <= y <= sym.bottom + tol
    edge = min(abs(x - sym.left), abs(x - sym.right), abs(y - sym.top), abs(y - sym.bottom)) <= tol
    return inside and edge


def test_every_arrow_is_one_unbroken_chain_between_the_right_symbols(definition: Definition) -> None:
    layout = build_layout(definition)
    rows = [(p.number, r, row) for p in layout.pages for r, row in enumerate(p.rows)]
    where = {(p, r): row for p, r, row in rows}
    drawn = set()
    for edge, parts in chains(layout).items():
        assert [p[3].part for p in parts] == list(range(len(parts))), edge
        first, last = parts[0][3], parts[-1][3]
        source = [s for s in where[parts[0][:2]].symbols if s.step == first.source and s.lane == first.source_lane]
        target = [s for s in where[parts[-1][:2]].symbols if s.step == last.target and s.lane == last.target_lane]
        assert len(source) == 1 and on_boundary(first.points[0], source[0]), edge
        assert len(target) == 1 and on_boundary(last.points[-1], target[0]), edge
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
                leaving = [s for s in where[(pa, ra)].symbols if s.kind == "connector" and on_boundary(end, s)]
                arriving = [s for s in where[(pb, rb)].symbols if s.kind == "connector" and on_boundary(start, s)]
                assert len(leaving) == len(arriving) == 1 and leaving[0].label == arriving[0].label, edge
                assert a.head
        if first.source != first.target:
            drawn.add((first.source, last.target, first.label))
    expected = {(definition.steps[i].id, target, label) for i, target, label in flow_edges(definition)}
    assert drawn == expected


def test_flows_crossing_pages_meet_at_lettered_connectors(tmp_path: Path) -> None:
    layout = build_layout(uji_definition(tmp_path))
    assert len(layout.pages) >= 2
    seen: dict[str, list[tuple[int, str]]] = {}
    for page in layout.pages:
        for row in page.rows:
            for sym in row.symbols:
                if sym.kind == "connector":
                    assert row.kind in ("strip-top", "strip-bottom")
                    seen.setdefault(sym.label, []).append((page.number, row.kind))
    assert sorted(seen)[:2] == ["A", "B"]
    for letter, places in seen.items():
        assert len(places) == 2 and places[0][0] != places[1][0], letter


def test_pages_keep_within_a4(definition: Definition) -> None:
    layout = build_layout(definition)
    for page in layout.pages:
        assert sum(row.height for row in page.rows) < CONTENT_HEIGHT - 30
        assert any(row.step for row in page.rows)


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
    text = render_html(api.get_definition("pengumpulan-data", ROOT / "definitions"))
    assert "@page { size: A4 landscape" in text
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+[^\s\"')]*", text))
    assert urls <= {"http://www.w3.org/2000/svg"}
    for fetching in ("<link", "<script", "src=", "@import", "url("):
        assert fetching not in text


def test_html_header_page_uses_the_printed_labels() -> None:
    d = api.get_definition("pengumpulan-data", ROOT / "definitions")
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


def test_html_repeats_the_table_header_on_every_page(definition: Definition) -> None:
    layout = build_layout(definition)
    text = render_html(definition)
    sections = re.split(r"<section ", text)[1:]
    assert len(sections) == layout.page_count
    tables = [s for s in sections if 'class="page table-page"' in s]
    assert len(tables) == len(layout.pages)
    for section in tables:
        actors = [a["data-actor"] for a in Elements(section).having("data-actor")]
        assert actors == [a.id for a in definition.actors]
        assert section.count("<thead>") == 1 and "Mutu Baku" in section
        assert ("Keterangan</th>" in section) == any(s.keterangan is not None for s in definition.steps)
    assert "break-after: page" in text


def test_html_symbols_and_arrows_carry_data_attributes(definition: Definition) -> None:
    parsed = Elements(render_html(definition))
    for step, lanes in zip(definition.steps, placed_lanes(definition)):
        marks = parsed.having("data-kind", data_step=step.id)
        assert [m["data-lane"] for m in marks] == lanes
        assert {m["data-kind"] for m in marks} <= {"terminator", "process", "decision"}
    for i, target, label in flow_edges(definition):
        arrows = parsed.having("data-edge", data_from=definition.steps[i].id, data_to=target, data_label=label)
        assert arrows, (definition.steps[i].id, target)


# -- Mermaid -----------------------------------------------------------------------------------

def mermaid_nodes(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\w+)(\(\[|\[|\{)\"", text, re.M))


def test_mermaid_has_a_lane_per_actor_and_the_sop_shapes(definition: Definition) -> None:
    text = render_mermaid(definition)
    assert text.startswith("flowchart TD\n")
    used = {lane for lanes in placed_lanes(definition) for lane in lanes}
    names = re.findall(r'^  subgraph lane\d+\["(.*)"\]$', text, re.M)
    assert len(names) == len(used)
    nodes = mermaid_nodes(text)
    ends = [t for _, t, _ in flow_edges(definition) if t == "selesai"]
    assert len(nodes) == sum(len(lanes) for lanes in placed_lanes(definition)) + len(ends)
    assert nodes["s0"] == "([" or definition.steps[0].kind.value == "decision"
    for i, step in enumerate(definition.steps):
        if step.kind.value == "decision":
            assert nodes[f"s{i}"] == "{"
            for outcome in step.outcomes:
                assert f'-->|"{outcome.name.replace(chr(34), "#quot;")}"|' in text
    edges = re.findall(r"^  (\w+) -->(?:\|\"[^\"]*\"\|)? (\w+)$", text, re.M)
    multi = sum(len(lanes) - 1 for lanes in placed_lanes(definition))
    assert len(edges) == len(flow_edges(definition)) + multi


def test_mermaid_escapes_what_mermaid_reads(tmp_path: Path) -> None:
    text = render_mermaid(uji_definition(tmp_path))
    labels = re.findall(r'"([^"]*)"', text)
    assert labels
    for label in labels:
        assert "<" not in label.replace("<br>", "") and ">" not in label.replace("<br>", "")
    assert "#lt;script#gt;alert('x')#lt;/script#gt;" in text
    assert "#quot;b#quot;" in text and "#124;" in text and "#35;c" in text
    assert '"Tidak #quot;Lengkap#quot;"' in text


# -- Markdown ----------------------------------------------------------------------------------

def test_markdown_has_header_table_and_mermaid_block(definition: Definition) -> None:
    text = render_markdown(definition)
    rows = re.findall(r"^\| (\d*) \| ", text.split("## Kegiatan")[1].split("## Diagram alir")[0], re.M)
    assert len(rows) == len(definition.steps)
    block = re.search(r"^```mermaid\n(.*?)^```$", text, re.M | re.S)
    assert block and block.group(1) == render_mermaid(definition)
    for label, _ in header_rows(definition):
        assert f"| **{markdown_cell(label)}** |" in text


def test_markdown_escapes_cells(tmp_path: Path) -> None:
    text = render_markdown(uji_definition(tmp_path))
    table = text.split("```mermaid")[0]
    assert "<script" not in table and "<b>" not in table
    assert "&lt;script&gt;alert('x')&lt;/script&gt; \\| a \"b\" \\#c \\`d\\` \\[e\\]" in table
    assert "Uji \\| Tata \\*Letak\\*" in table
    for line in table.splitlines():
        if line.startswith("| ") and "---" not in line:
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) in (2, 3, 6), line  # no Keterangan column: no step has one


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
    parsed = Elements(render_html(api.run_definition(db, run_id), status))
    marks = {m["data-step"]: m for m in parsed.having("data-kind") if m.get("data-kind") != "connector"}
    state = {k: (m.get("data-state", ""), m.get("data-late", "")) for k, m in marks.items()}
    assert state["konsep-surat"] == ("done", "")
    assert state["ketik-konsep"] == ("done", "yes")  # its first round was late
    assert state["periksa-kasubag"] == ("done", "")
    # 2 jam from 09:50 is 11:50 WIB; at 13:00 the open step is late
    assert state["periksa-sekretaris"] == ("open", "yes")
    assert state["periksa-kepala-satuan"] == ("", "")
    words = " ".join(parsed.text)
    assert "Done 2026-10-01 08:20 WIB by Rina" in words
    assert "Done 2026-10-01 09:30 WIB by Budi, late by 55m" in words
    assert "Done 2026-10-01 09:40 WIB by Rina: Tidak" in words
    assert "Open, due 2026-10-01 11:50 WIB, late by 1h 10m" in words
    assert parsed.having("data-run")[0]["data-run"] == run_id
    mermaid = render_mermaid(api.run_definition(db, run_id), status)
    assert re.search(r"^  class [\w,]*\bs3\b[\w,]* open$", mermaid, re.M)
    assert re.search(r"^  class [\w,]*\bs1\b[\w,]* late$", mermaid, re.M)


def test_progress_without_a_database_shape() -> None:
    # The renderer takes the status dict as documented, whatever produced it.
    d = api.get_definition("permohonan-informasi-publik", ROOT / "definitions")
    multi = next(s for s in d.steps if len(s.lanes) > 1)
    progress = {
        "run_id": "abc-def", "definition": d.id, "period": None, "status": "active",
        "open_steps": [{"step": multi.id, "kind": "process", "actor": multi.lanes[1], "due_at": "2026-10-01T02:00:00Z", "late_by": 0}],
        "timeline": [{"step": multi.id, "iteration": 1, "actor": multi.lanes[0], "opened_at": "2026-10-01T01:00:00Z",
                      "closed_at": "2026-10-01T01:30:00Z", "closed_by": "Sari", "outcome": None,
                      "due_at": "2026-10-01T02:00:00Z", "late_by": 0}],
    }
    marks = [m for m in Elements(render_html(d, progress)).having("data-kind", data_step=multi.id)]
    assert [(m["data-lane"], m.get("data-state")) for m in marks] == [(multi.lanes[0], "done"), (multi.lanes[1], "open")]


# -- the command -------------------------------------------------------------------------------

def invoke(*args: str) -> object:
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
def test_render_other_formats(fmt: str, tmp_path: Path) -> None:
    write_uji(tmp_path / "defs")
    result = invoke("render", "uji-tata-letak", "--format", fmt, "--definitions", str(tmp_path / "defs"))
    assert result.exit_code == 0
    d = uji_definition(tmp_path / "defs")
    assert result.stdout == (render_markdown(d) if fmt == "md" else render_mermaid(d))


def test_render_a_run_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run_id = drive_surat_keluar(db)
    result = invoke("--db", str(db), "render", "--run", run_id, "--now", "2026-10-01T13:00")
    assert result.exit_code == 0, result.output
    assert 'data-state="open" data-late="yes"' in result.stdout
    after = invoke("render", "surat-keluar", "--run", run_id, "--db", str(db), "--format", "md")
    assert after.exit_code == 0 and "| Progress |" in after.stdout
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
    assert "](img/pengumpulan-data.png)" in page and (ROOT / "docs" / "img" / "pengumpulan-data.png").is_file()


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


def shown(d: Definition) -> str:
    from rich.console import Console

    from sopengine.render.terminal import print_definition

    console = Console(width=400, record=True, color_system=None)
    print_definition(console, d)
    return console.export_text()


def test_markdown_and_show_name_every_jump_and_the_end_by_row_number(tmp_path: Path) -> None:
    (tmp_path / "berhenti.yaml").write_text(ENDS_EARLY_YAML, encoding="utf-8")
    d = load_definition(tmp_path / "berhenti.yaml")[0]
    expected = {"1": "→ 3", "2": "→ selesai", "3": "→ 2"}
    md = render_markdown(d)
    terminal = shown(d)
    for no, flow in expected.items():
        assert re.search(rf"^\| {no} \| [^|]*<br>{flow} \|", md, re.M), md
        row = next(line for line in terminal.splitlines() if re.match(rf"^│ {no} ", line))
        following = terminal.splitlines()[terminal.splitlines().index(row) + 1]
        assert f"│ {flow} " in following, terminal


def test_markdown_and_show_write_the_same_arrows(tmp_path: Path) -> None:
    d = uji_definition(tmp_path)
    md = render_markdown(d)
    terminal = shown(d)
    flows = [
        "⇉ 4, 5",  # catat
        "→ 6",  # telaah
        "◇ Lengkap → 3 · Tidak \"Lengkap\" → 1",  # periksa
        "◇ automatic: Ya → 7 · Tidak → 12",  # jenis, the gate without a row number
        "◇ Setuju → 8 · Perbaiki → 3 · Tolak → selesai",  # setujui
        "◇ Ya → 11 · Tidak → 2",  # s10
    ]
    for flow in flows:
        assert flow in terminal, (flow, terminal)
        assert markdown_cell(flow) in md, (flow, md)
    # a row that goes on to the next one says nothing
    assert "<br>→" not in md.split("| 1 |")[1].split("\n")[0]


# -- steps that are not rows of the SOP ---------------------------------------------------------

def test_steps_without_a_row_number_are_marked_in_every_format(definition: Definition) -> None:
    from sopengine.render.layout import NOT_A_ROW

    added = [s.id for s in definition.steps if s.no is None]
    parsed = Elements(render_html(definition))
    rows = {a["data-step"]: a for _, a in parsed.tags if "step" in a.get("class", "").split()}
    assert {k for k, a in rows.items() if a.get("data-added") == "yes"} == set(added)
    assert {k for k, a in rows.items() if "added" in a["class"].split()} == set(added)
    symbols = [m for m in parsed.having("data-step") if m.get("data-kind") not in (None, "connector") and m["data-step"] != "selesai"]
    assert {m["data-step"] for m in symbols if m.get("data-added") == "yes"} == set(added)
    assert {m["data-step"] for m in symbols if "added" in m["class"].split()} == set(added)
    assert " ".join(parsed.text).count(NOT_A_ROW) == len(added)

    md = render_markdown(definition)
    table = md.split("## Kegiatan")[1].split("## Diagram alir")[0]
    marked = [line for line in table.splitlines() if f"_({NOT_A_ROW})_" in line]
    assert len(marked) == len(added)
    assert all(line.startswith("|  | ") for line in marked)

    mermaid = render_mermaid(definition)
    index = {s.id: i for i, s in enumerate(definition.steps)}
    classed = re.findall(r"^  class ([\w,]+) added$", mermaid, re.M)
    assert sorted(",".join(classed).split(",") if classed else []) == sorted(f"s{index[a]}" for a in added)
    assert ("classDef added stroke-dasharray" in mermaid) == bool(added)


def test_pengumpulan_data_marks_its_two_gates() -> None:
    d = api.get_definition("pengumpulan-data", ROOT / "definitions")
    parsed = Elements(render_html(d))
    assert sorted(a["data-step"] for a in parsed.having("data-added") if a.get("data-kind") is None) == ["akhir-semester", "akhir-tahun"]


def test_the_keterangan_column_only_where_the_sop_has_it(tmp_path: Path) -> None:
    from sopengine.render.layout import has_keterangan

    for name, expected in (("surat-keluar", True), ("permohonan-informasi-publik", False), ("pengumpulan-data", False)):
        d = api.get_definition(name, ROOT / "definitions")
        assert has_keterangan(d) is expected, name
        html, md, terminal = render_html(d), render_markdown(d), shown(d)
        assert ('class="col-keterangan"' in html) is expected
        assert (html.count('<td class="keterangan">') == len(d.steps)) is expected
        assert ("| Output | Keterangan |" in md) is expected and ("| Output |\n" in md) is not expected
        assert ("Keterangan" in terminal) is expected
        columns = {c.key for c in build_layout(d).columns}
        assert ("keterangan" in columns) is expected
        assert abs(sum(c.width for c in build_layout(d).columns) - 277.0) < 0.01  # the columns fill the page's width
    # An SOP that prints the column empty says so with an empty keterangan.
    (tmp_path / "berhenti.yaml").write_text(ENDS_EARLY_YAML.replace("next: arsip}", 'next: arsip, keterangan: ""}'), encoding="utf-8")
    d = load_definition(tmp_path / "berhenti.yaml")[0]
    assert has_keterangan(d) and 'class="col-keterangan"' in render_html(d)
    # A run's progress is written in Keterangan, so with a run the column is there.
    progress = {"run_id": "abc-def", "status": "active", "open_steps": [], "timeline": []}
    assert 'class="col-keterangan"' in render_html(api.get_definition("pengumpulan-data", ROOT / "definitions"), progress)


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
