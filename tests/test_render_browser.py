"""The rendered SOP document in a real browser: headless Chromium driven by Playwright.

Chromium lays the document out, so these tests check what a reader (and a printer) gets:
every symbol stands in its actor's column, every arrow joins the right pair of symbols (or
of off-page connectors), no row grew past the height its arrows were drawn for, and the
printed PDF has exactly the pages the renderer made, each with the table header.

Without a browser the tests skip, saying why; with SOPENGINE_REQUIRE_BROWSER=1 they fail
instead (CI sets it). The Mermaid output is rendered with the npm ``mermaid`` package in the
same browser when npm can install it (or SOPENGINE_MERMAID_JS names its mermaid.min.js).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sopengine.render.html import render_html
from sopengine.render.layout import build_layout, flow_edges, placed_lanes
from sopengine.render.mermaid import render_mermaid

from test_render import CASES, ROOT, definition_for, shipped

pytestmark = pytest.mark.browser

# Read at import: the tests' own fixture clears SOPENGINE_* variables before each test.
REQUIRE_BROWSER = os.environ.get("SOPENGINE_REQUIRE_BROWSER") == "1"
UPDATE_SCREENSHOTS = os.environ.get("SOPENGINE_UPDATE_SCREENSHOTS") == "1"
MERMAID_JS = os.environ.get("SOPENGINE_MERMAID_JS")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]
DOCS_IMAGE = ROOT / "docs" / "img" / "pengumpulan-data.png"
ROW6_IMAGE = ROOT / "docs" / "img" / "operasi-penegakan-perda-row6.png"
TOLERANCE = 1.5  # px: borders and the rounding of millimetres to device pixels


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason}; SOPENGINE_REQUIRE_BROWSER=1 requires the browser tests to run")
    pytest.skip(reason)


def _chromium() -> str | None:
    for candidate in (os.environ.get("SOPENGINE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    path = _chromium()
    if path is None:
        _unavailable("no Chromium found (apt-get install chromium, or set SOPENGINE_CHROMIUM)")
    with sync_playwright() as p:
        # The system's Chromium, never a downloaded one: nothing is fetched at test time.
        instance = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


MEASURE = """() => {
  const abs = (r) => ({x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height});
  const pageOf = (el) => el.closest('section').dataset.page;
  const sections = [...document.querySelectorAll('section.page')].map(s => ({
    page: s.dataset.page, table: s.dataset.table || null,
    kind: s.classList.contains('table-page') ? 'table' : s.classList.contains('notes-page') ? 'notes' : 'header',
    scrollHeight: s.scrollHeight, clientHeight: s.clientHeight,
    actors: [...s.querySelectorAll('thead th[data-actor]')].map(th => ({actor: th.dataset.actor, box: abs(th.getBoundingClientRect())})),
    headings: [...s.querySelectorAll('thead th')].map(th => th.textContent.trim()),
  }));
  const symbols = [...document.querySelectorAll('g.symbol')].map(g => ({
    page: pageOf(g), step: g.dataset.step || null, lane: g.dataset.lane || null, kind: g.dataset.kind,
    letter: g.dataset.connector || null, box: abs(g.querySelector('.shape').getBoundingClientRect()),
    dashed: getComputedStyle(g.querySelector('.shape')).strokeDasharray !== 'none',
  }));
  const arrows = [...document.querySelectorAll('g.arrow')].map(g => {
    const path = g.querySelector('path.line');
    const ctm = path.getScreenCTM();
    const at = (l) => { const q = path.getPointAtLength(l).matrixTransform(ctm); return [q.x + scrollX, q.y + scrollY]; };
    return {page: pageOf(g), edge: g.dataset.edge, part: Number(g.dataset.part), from: g.dataset.from, to: g.dataset.to,
            fromLane: g.dataset.fromLane, toLane: g.dataset.toLane, label: g.dataset.label,
            start: at(0), end: at(path.getTotalLength()), dashed: getComputedStyle(path).strokeDasharray !== 'none'};
  });
  const rows = [...document.querySelectorAll('tr.row, tr.band, tr.strip')].map(tr => ({
    page: pageOf(tr), no: tr.dataset.no || null,
    cell: abs(tr.querySelector('td.lanes').getBoundingClientRect()),
    svg: abs(tr.querySelector('td.lanes svg').getBoundingClientRect()),
    rules: [...tr.querySelectorAll('line.rule')].map(l => abs(l.getBoundingClientRect()).x + l.getBoundingClientRect().width / 2),
  }));
  return {sections, symbols, arrows, rows};
}"""

# A manual operation is met on its slanted sides and a document at its wave, inside the
# box the browser gives their outline: a few pixels more for those.
OUTLINE_SLACK = {"manual": 6.0, "document": 6.0}


def touches(point: list[float], box: dict[str, float], tol: float = TOLERANCE) -> bool:
    """The point lies on the box's outline (within tol)."""
    x, y = point
    left, top, right, bottom = box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]
    inside = left - tol <= x <= right + tol and top - tol <= y <= bottom + tol
    return inside and min(abs(x - left), abs(x - right), abs(y - top), abs(y - bottom)) <= tol


@pytest.mark.parametrize("name", CASES)
def test_the_document_in_chromium(browser: Any, name: str, tmp_path: Path) -> None:
    definition = definition_for(name, tmp_path)
    layout = build_layout(definition)
    html = tmp_path / f"{name}.html"
    html.write_text(render_html(definition), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=2)
    try:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.as_uri())
        m = page.evaluate(MEASURE)
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        if name == "pengumpulan-data" and (UPDATE_SCREENSHOTS or not DOCS_IMAGE.exists()):
            DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            page.locator('section[data-page="2"]').screenshot(path=str(DOCS_IMAGE))
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    finally:
        page.close()
    assert requests == [html.as_uri()], "the document fetched something besides itself"

    # pages: the header page, each table's pages in order, the notes; none overflows, and print agrees
    kinds = [s["kind"] for s in m["sections"]]
    assert kinds == ["header"] + ["table"] * len(layout.pages) + ["notes"] * len(layout.note_pages)
    assert [s["page"] for s in m["sections"]] == [str(n) for n in range(1, layout.page_count + 1)]
    assert [s["table"] for s in m["sections"] if s["kind"] == "table"] == [p.table.id for p in layout.pages if p.table]
    for s in m["sections"]:
        assert s["scrollHeight"] <= s["clientHeight"], f"page {s['page']} overflows"
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == layout.page_count
    lanes_of = {t.id: [a.id for a in t.actors] for t in layout.tables}
    keterangan = {t.id: t.keterangan for t in layout.tables}
    columns: dict[tuple[str, str], dict[str, float]] = {}
    page_table: dict[str, str] = {}
    for s in m["sections"]:
        if s["kind"] == "table":
            page_table[s["page"]] = s["table"]
            assert [a["actor"] for a in s["actors"]] == lanes_of[s["table"]], f"page {s['page']} lacks its table's lanes"
            assert len(s["headings"]) == 7 + len(s["actors"]) + int(keterangan[s["table"]])
            columns.update({(s["page"], a["actor"]): a["box"] for a in s["actors"]})

    # rows: the lanes' drawing fills its cell exactly, so arrows meet at the row edges, and
    # the lines between its lanes continue the borders between the actors' header cells
    for row in m["rows"]:
        cell, svg = row["cell"], row["svg"]
        assert abs(svg["y"] - cell["y"]) <= TOLERANCE and abs(svg["y"] + svg["h"] - cell["y"] - cell["h"]) <= TOLERANCE, row
        borders = [columns[(row["page"], a)]["x"] for a in lanes_of[page_table[row["page"]]][1:]]
        assert len(row["rules"]) == len(borders)
        for rule, border in zip(row["rules"], borders):
            assert abs(rule - border) <= TOLERANCE, (row, rule, border)

    # symbols: each in the middle of its lane's column
    expected = placed_lanes(definition)
    found: dict[str, str] = {}
    for sym in m["symbols"]:
        if sym["letter"] and not sym["step"]:
            continue  # an off-page connector at a page break
        box = sym["box"]
        column = columns[(sym["page"], sym["lane"])]
        centre = box["x"] + box["w"] / 2
        assert abs(centre - column["x"] - column["w"] / 2) <= 0.05 * column["w"], sym
        found[sym["step"]] = sym["lane"]
    assert found == expected

    # a symbol the paper does not have, and every arrow into or out of it, is drawn dashed; nothing else
    unprinted = {s.id for _, _, _, s in definition.symbols() if not s.printed}
    for sym in m["symbols"]:
        if sym["step"]:
            assert sym["dashed"] == (sym["step"] in unprinted), sym
    for arrow in m["arrows"]:
        assert arrow["dashed"] == (arrow["from"] in unprinted or arrow["to"] in unprinted), arrow

    # arrows: each a chain from its source symbol to its target, across rows and pages
    parts: dict[str, list[dict[str, Any]]] = {}
    for arrow in m["arrows"]:
        parts.setdefault(arrow["edge"], []).append(arrow)

    def symbol_touched(point: list[float], page: str, step: str, lane: str) -> bool:
        return any(s["page"] == page and s["step"] == step and s["lane"] == lane
                   and touches(point, s["box"], TOLERANCE + OUTLINE_SLACK.get(s["kind"], 0.0)) for s in m["symbols"])

    def connector_touched(point: list[float], page: str) -> str | None:
        hit = [s["letter"] for s in m["symbols"] if s["page"] == page and s["letter"] and not s["step"] and touches(point, s["box"])]
        return hit[0] if len(hit) == 1 else None

    joined = set()
    for edge, chain in parts.items():
        chain.sort(key=lambda a: a["part"])
        first, last = chain[0], chain[-1]
        assert symbol_touched(first["start"], first["page"], first["from"], first["fromLane"]), (edge, first)
        if last["to"] != "selesai":  # a drawn exit to the end points at no symbol
            assert symbol_touched(last["end"], last["page"], last["to"], last["toLane"]), (edge, last)
        for a, b in zip(chain, chain[1:]):
            if a["page"] == b["page"]:
                assert abs(a["end"][0] - b["start"][0]) <= TOLERANCE and abs(a["end"][1] - b["start"][1]) <= 2 * TOLERANCE, (edge, a, b)
            else:
                letter = connector_touched(a["end"], a["page"])
                assert letter is not None and letter == connector_touched(b["start"], b["page"]), (edge, a, b)
        joined.add((first["from"], last["to"], first["label"]))
    assert joined == set(flow_edges(definition))


def test_operasi_penegakan_perda_row_6_draws_three_diamonds(browser: Any, tmp_path: Path) -> None:
    if not (ROOT / "definitions" / "operasi-penegakan-perda.yaml").is_file():
        pytest.skip("definitions/operasi-penegakan-perda.yaml is not there")
    definition = shipped("operasi-penegakan-perda")
    html = tmp_path / "operasi.html"
    html.write_text(render_html(definition), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=2)
    try:
        page.goto(html.as_uri())
        row = page.locator('tr.row[data-no="6"]')
        found = page.evaluate("""() => {
          const tr = document.querySelector('tr.row[data-no="6"]');
          const section = tr.closest('section');
          const columns = Object.fromEntries([...section.querySelectorAll('thead th[data-actor]')].map(
            th => { const r = th.getBoundingClientRect(); return [th.dataset.actor, [r.left, r.right]]; }));
          const symbols = [...tr.querySelectorAll('g.symbol')].map(g => {
            const r = g.querySelector('.shape').getBoundingClientRect();
            return {kind: g.dataset.kind, lane: g.dataset.lane, x: (r.left + r.right) / 2, top: r.top, bottom: r.bottom};
          });
          const cell = tr.querySelector('td.lanes').getBoundingClientRect();
          return {columns, symbols, cell: [cell.top, cell.bottom], page: section.dataset.page};
        }""")
        if UPDATE_SCREENSHOTS or not ROW6_IMAGE.exists():
            # the table's header and the row: the lanes' names above the three diamonds
            head = page.locator(f'section[data-page="{found["page"]}"] table.sop thead').bounding_box()
            box = row.bounding_box()
            assert head is not None and box is not None
            ROW6_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ROW6_IMAGE), full_page=True, clip={
                "x": head["x"], "y": head["y"], "width": head["width"], "height": box["y"] + box["height"] - head["y"] + 1})
    finally:
        page.close()
    diamonds = [s for s in found["symbols"] if s["kind"] == "decision"]
    assert len(diamonds) == 3
    lanes = [s["lane"] for s in diamonds]
    assert len(set(lanes)) == 3
    for s in found["symbols"]:
        left, right = found["columns"][s["lane"]]
        assert left < s["x"] < right, s  # in its lane's column
        assert found["cell"][0] < s["top"] < s["bottom"] < found["cell"][1], s  # inside the row
    assert [s["kind"] for s in found["symbols"]].count("connector") == 1


# -- Mermaid -----------------------------------------------------------------------------------

MERMAID = "11.17.2"
"""The Mermaid release the diagrams are drawn with here (a pinned one: a later release may draw other elements)."""

@pytest.fixture(scope="module")
def mermaid_js(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if MERMAID_JS:
        path = Path(MERMAID_JS)
        if not path.is_file():
            pytest.fail(f"SOPENGINE_MERMAID_JS={MERMAID_JS} is not a file")
        return path
    # pytest's cache keeps the package between runs; without the cache plugin, a temporary folder
    cache = getattr(request.config, "cache", None)
    folder = Path(cache.mkdir(f"mermaid-npm-{MERMAID}")) if cache is not None else tmp_path_factory.mktemp("mermaid-npm")
    path = folder / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    if path.is_file():
        return path
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the Mermaid output is checked for its structure only (tests/test_render.py)")
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder), f"mermaid@{MERMAID}"],
            capture_output=True, text=True, timeout=600,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm did not install mermaid within 10 minutes")
    if done.returncode != 0 or not path.is_file():
        pytest.skip(f"npm could not install mermaid: {(done.stderr or done.stdout).strip()[:300]}")
    return path


RENDER_MERMAID = """async (text) => {
  mermaid.initialize({startOnLoad: false, securityLevel: 'strict'});
  const out = document.getElementById('out');
  const {svg} = await mermaid.render('sop', text);
  out.innerHTML = svg;
  return {
    nodes: out.querySelectorAll('g.node').length,
    cluster_names: [...out.querySelectorAll('g.cluster')].map(c => (c.querySelector('.cluster-label') || c).textContent.trim()),
    edges: out.querySelectorAll('path.flowchart-link').length,
    labels: [...out.querySelectorAll('g.edgeLabel')].map(e => e.textContent.trim()).filter(t => t),
    text: out.textContent,
    scripts: out.querySelectorAll('script').length,
  };
}"""


@pytest.mark.parametrize("name", CASES)
def test_mermaid_renders_with_mermaid(browser: Any, mermaid_js: Path, name: str, tmp_path: Path) -> None:
    definition = definition_for(name, tmp_path)
    page = browser.new_page()
    try:
        page.set_content('<!DOCTYPE html><html><body><div id="out"></div></body></html>')
        page.add_script_tag(path=str(mermaid_js))
        got = page.evaluate(RENDER_MERMAID, render_mermaid(definition))
    finally:
        page.close()
    lanes = placed_lanes(definition)
    edges = flow_edges(definition)
    ends = sum(1 for _, target, _ in edges if target == "selesai")
    symbols = [s for _, _, _, s in definition.symbols()]
    assert got["nodes"] == len(symbols) + ends
    names = {a.id: a.name for a in definition.actors}
    clusters = [names[lane] for t in definition.tables for lane in dict.fromkeys(lanes[s.id] for r in t.rows for s in r.symbols)]
    if len(definition.tables) > 1:
        clusters += [t.title or f"Tabel {k + 1}" for k, t in enumerate(definition.tables)]
    assert sorted(c.split("\n")[0] for c in got["cluster_names"]) == sorted(clusters)
    assert got["edges"] == len(edges)
    assert sorted(got["labels"]) == sorted(label for _, _, label in edges if label)
    assert got["scripts"] == 0
    if name == "uji-tata-letak":
        assert "<script>alert('x')</script>" in got["text"]
        assert "Petugas <i>Pelayanan</i>" in got["text"]
