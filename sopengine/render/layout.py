"""The printed SOP AP tables as geometry: pages, rows, the symbols in their lanes, the arrows.

Permenpan RB 35/2012 lays a flowchart out as a table: one row per *kegiatan*, one column per
*pelaksana*, and the flowchart drawn across the rows in those columns. A definition (format
2) keeps that paper as printed and drawn, and this module decides everything the HTML
template draws, in millimetres, so that the template only prints numbers:

* **Tables.** A definition has one or more tables; each is laid out on pages of its own, with
  its title, its own lanes (only those are drawn), its column labels as printed and its
  footnotes under it on its last page. The header page comes once, before the first table.
* **Columns.** A4 landscape, fixed column widths; the lane columns share what the text
  columns leave.
* **Symbols.** Each symbol stands in its lane inside its row, in the order the row lists
  them: side by side when in different lanes, one under the other when in the same lane. A
  symbol's *level* is how far down the row it stands: the first symbol of a lane stands
  level with the symbol listed before it, a later one a level lower. Texts inside shapes
  (a diamond's question, "Mulai") are wrapped to fit, and the shape grows with its text.
* **Rows and pages.** Each row's height is the larger of its texts' (estimated
  conservatively, since a row that grows in the browser would break its arrows) and its
  levels'. Rows fill a page until its height budget is used; every page repeats the table
  header. A flow that crosses a page break ends in an off-page connector (a pentagon,
  lettered A, B, ... skipping the letters the definition's own connectors print) and
  resumes at the connector with the same letter, drawn in a thin strip row at the page's edge.
* **Arrows.** Only what the paper draws: a box's arrow (forks draw one arrow per branch), a
  diamond's drawn exits, each with its label where one is printed. An arrow the definition
  declares undrawn (``drawn: false``) is not drawn, a connector does not draw a line to its
  pair, and a box whose flow ends draws no arrow. A diamond's drawn exit to the end of the
  process, with no end symbol to point at, is a short arrow out of the diamond.
  Every row's lane cells hold one SVG spanning the lanes. An arrow is a chain of polylines,
  one per row it passes through, meeting at the row edges; it runs along the row's top and
  bottom channels and on vertical tracks in the lane margins, chosen so that no two arrows
  share a track over the same rows. Each side of a symbol is either a way out or a way in:
  arrows within a row are planned first (straight across, straight down, or a loop-back
  just under or over the level), then each exit's side, then the side each arrow from
  another row enters by (arrows merge at a symbol's top) and the track on that side.
* **Symbols the paper does not have.** A symbol the office added so that the SOP can run
  (``printed: false``) is drawn dashed and grey, and so are the arrows into and out of it,
  with an asterisk beside it; every page that draws one says under its table, in Indonesian,
  that it is not on the SOP (and where the notes say why, when they are printed).
* **A run's progress.** What a run has done is written in each row's Keterangan in
  Indonesian, as every word this module adds: the document is Indonesian whatever language
  sopengine speaks ("Selesai 1 Oktober 2026 08.20 WIB oleh Rina, terlambat 55 menit").
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sopengine.definition.models import END, is_end

if TYPE_CHECKING:
    from sopengine.definition.format2 import Definition2
    from sopengine.definition.format2 import Row as SopRow
    from sopengine.definition.models import Actor, Document

Point = tuple[float, float]

# -- page geometry (mm) -------------------------------------------------------------------------
PAGE_WIDTH = 297.0
PAGE_HEIGHT = 210.0
MARGIN_X = 10.0
MARGIN_Y = 8.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
CONTENT_HEIGHT = PAGE_HEIGHT - 2 * MARGIN_Y
CAPTION_HEIGHT = 7.0
TITLE_LINE = 4.4  # one line of a table's title, under the caption
FOOTER_HEIGHT = 6.0
HEAD_TOP_HEIGHT = 6.0  # "Pelaksana" / "Mutu Baku" header row
STRIP_HEIGHT = 9.0  # the row that holds off-page connectors
# Slack kept on every page for borders and the browser's rounding of millimetres to pixels.
PAGE_SLACK = 6.0

# Text metrics: body text 7.5pt, header text 7pt. The average glyph width is taken wide on
# purpose; a row estimated too tall only wastes paper, one estimated too short breaks arrows.
PT = 0.3528
BODY_FONT = 7.5 * PT
HEAD_FONT = 7.0 * PT
LINE_HEIGHT = 1.3
CHAR_WIDTH = 0.56  # of the font size
CELL_PAD = 1.2
MIN_ROW_HEIGHT = 22.0
MIN_BAND_HEIGHT = 12.0

# Fixed columns (mm); lanes take the rest.
FIXED_COLUMNS = {"no": 8.0, "kegiatan": 54.0, "kelengkapan": 32.0, "waktu": 17.0, "output": 28.0, "keterangan": 26.0}
KEGIATAN_MIN = 38.0
KEGIATAN_MAX = 90.0
LANE_MIN = 12.0
LANE_MAX = 30.0

# Symbols (mm).
SYMBOL_WIDTH_MAX = 17.0
PROCESS_HEIGHT = 8.0
TERMINATOR_HEIGHT = 7.0
DECISION_HEIGHT = 11.0
CONNECTOR_WIDTH = 5.0
CONNECTOR_HEIGHT = 5.5
SYMBOL_FONT = 2.3  # text inside a shape
DECISION_FONT = 2.1  # a diamond's question
CONNECTOR_FONT = 2.8
GLYPH = 0.56  # average glyph width of the texts inside shapes, of the font size
TEXT_LINE = 1.18  # line height of the texts inside shapes, of the font size
TEXT_PAD = 0.9
LABEL_FONT = 2.4  # printed labels on arrows
ROW_MARGIN = 5.0  # above the first level of symbols and below the last: the channels
LEVEL_GAP = 5.0  # between two levels of symbols
SLOT_FIRST = 1.3  # the channel nearest a row edge, from the edge
SLOT_STEP = 1.1  # between two channels
SLOTS = 3
LOOP_GAP = 2.2  # a loop-back within a row: how far under (or over) the symbols it passes
STUB = 5.0  # an arrow out of a diamond to the end of the process, with no symbol to point at
HEAD_LENGTH = 1.6
HEAD_WIDTH = 1.3

KINDS = ("start", "end", "process", "decision", "document", "connector", "manual", "other")
SYMBOL_NAMES = {
    "start": "Terminator",
    "end": "Terminator",
    "process": "Proses",
    "decision": "Keputusan",
    "document": "Dokumen",
    "connector": "Penghubung",
    "manual": "Operasi manual",
    "other": "Bentuk lain",
}
"""Each kind's name where the document names a symbol: a note about it, the Markdown table."""
TERMINATORS = ("start", "end")


@dataclass
class Symbol:
    """One flowchart symbol in a row's lanes."""

    step: str  # the symbol's id; "" for an off-page connector the layout adds at a page break
    lane: str  # actor id of the lane it stands in
    lane_index: int
    kind: str  # start, end, process, decision, document, connector, manual or other
    cx: float
    cy: float
    w: float
    h: float
    text: str = ""  # the text printed inside the shape, as written
    lines: list[str] = field(default_factory=list)  # the text, wrapped
    font: float = SYMBOL_FONT
    shape: str = ""  # kind other: the shape as seen on paper
    letter: str = ""  # an off-page connector the layout adds: its letter
    pointing: str = "down"  # connectors: the way the flow goes
    row: int = -1  # the row's index in its table
    level: int = 0  # how far down its row the symbol stands
    state: str = ""  # with progress: "done", "open" or ""
    late: bool = False
    printed: bool = True  # false: not on the paper (drawn dashed, marked with an asterisk)

    @property
    def top(self) -> float:
        return self.cy - self.h / 2

    @property
    def bottom(self) -> float:
        return self.cy + self.h / 2

    @property
    def left(self) -> float:
        return self.cx - self.w / 2

    @property
    def right(self) -> float:
        return self.cx + self.w / 2

    @property
    def inset(self) -> float:
        """A manual operation's trapezium: how far its bottom corners stand in."""
        return 0.16 * self.w if self.kind == "manual" else 0.0

    @property
    def wave(self) -> float:
        """A document's wavy bottom: how far its wave rises and falls."""
        return min(1.2, 0.12 * self.h) if self.kind == "document" else 0.0

    def port(self, side: str) -> Point:
        """Where an arrow leaves or enters the outline on *side* (top, bottom, left, right)."""
        if side == "top":
            return (self.cx, self.top)
        if side == "bottom":
            return (self.cx, self.bottom - self.wave)  # the wave crosses the middle there
        if side == "right":
            return (self.right - self.inset / 2, self.cy)
        return (self.left + self.inset / 2, self.cy)

    def on_outline(self, point: Point, tol: float = 1e-6) -> bool:
        """Whether *point* is one of the places an arrow meets this symbol."""
        return any(abs(point[0] - x) <= tol and abs(point[1] - y) <= tol
                   for x, y in (self.port(s) for s in ("top", "bottom", "left", "right")))

    @property
    def points(self) -> str:
        """The outline as SVG polygon points (diamonds, connectors, manual operations)."""
        x0, x1, y0, y1 = self.left, self.right, self.top, self.bottom
        if self.kind == "decision":
            pts = [(self.cx, y0), (x1, self.cy), (self.cx, y1), (x0, self.cy)]
        elif self.kind == "manual":
            pts = [(x0, y0), (x1, y0), (x1 - self.inset, y1), (x0 + self.inset, y1)]
        elif self.pointing == "up":
            pts = [(self.cx, y0), (x1, y0 + 0.4 * self.h), (x1, y1), (x0, y1), (x0, y0 + 0.4 * self.h)]
        else:
            pts = [(x0, y0), (x1, y0), (x1, y0 + 0.6 * self.h), (self.cx, y1), (x0, y0 + 0.6 * self.h)]
        return " ".join(f"{x:.2f},{y:.2f}" for x, y in pts)

    @property
    def path(self) -> str:
        """A document's outline: a box with a wavy bottom."""
        x0, x1, y0, y1, a = self.left, self.right, self.top, self.bottom, self.wave
        q = self.w / 4
        return (f"M {x0:.2f} {y0:.2f} L {x1:.2f} {y0:.2f} L {x1:.2f} {y1 - a:.2f} "
                f"C {x1 - q:.2f} {y1 - 3 * a:.2f} {x0 + q:.2f} {y1 + a:.2f} {x0:.2f} {y1 - a:.2f} Z")

    @property
    def mark_at(self) -> Point:
        """Where the asterisk of a symbol not on the paper stands: by its top right corner
        (inside a diamond's bounding box, where the diamond leaves it empty)."""
        if self.kind == "decision":
            return (self.right - 1.7, self.top + 2.0)
        return (self.right + 1.1, self.top + 1.0)

    @property
    def text_rows(self) -> list[tuple[float, str]]:
        """Each line of the text inside the shape with the height of its middle."""
        if not self.lines:
            return []
        step = self.font * TEXT_LINE
        middle = self.cy - self.wave / 2
        if self.kind == "connector":
            middle += -0.12 * self.h if self.pointing == "down" else 0.15 * self.h
        first = middle - (len(self.lines) - 1) * step / 2
        return [(first + k * step, line) for k, line in enumerate(self.lines)]


@dataclass
class Segment:
    """The part of one arrow that lies in one row."""

    edge: str
    part: int
    source: str
    target: str  # a symbol id, or "selesai" for an arrow to the end with no symbol
    source_lane: str
    target_lane: str
    label: str  # the label printed on the arrow ("" where none is printed)
    points: list[Point]
    head: bool  # ends in an arrowhead (at a symbol, a connector, or the end of a short exit)
    label_at: tuple[float, float, str] | None = None  # x, y, text-anchor
    exit: int = 0  # which exit of its source it leaves by: a diamond's outcome (index), 0 otherwise
    printed: bool = True  # false: into or out of a symbol not on the paper (drawn dashed)

    @property
    def d(self) -> str:
        pts = _dedupe(self.points)
        return "M " + " L ".join(f"{x:.2f} {y:.2f}" for x, y in pts)

    @property
    def head_points(self) -> str:
        pts = _dedupe(self.points)
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        length = math.hypot(x1 - x0, y1 - y0) or 1.0
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        bx, by = x1 - ux * HEAD_LENGTH, y1 - uy * HEAD_LENGTH
        px, py = -uy * HEAD_WIDTH / 2, ux * HEAD_WIDTH / 2
        return f"{x1:.2f},{y1:.2f} {bx + px:.2f},{by + py:.2f} {bx - px:.2f},{by - py:.2f}"


@dataclass
class Row:
    """One table row as printed, a band of symbols between rows, or a strip of off-page connectors."""

    kind: str  # "row", "band", "strip-top" or "strip-bottom"
    height: float
    row: SopRow | None = None
    index: int = -1  # the row's index in its table
    key: str = ""  # the row's key: table id / place, as the compiled definition names it
    symbols: list[Symbol] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)  # progress of the row's symbols
    state: str = ""  # "open", "done" or ""
    late: bool = False

    @property
    def no(self) -> str:
        return (self.row.no or "") if self.row is not None else ""


@dataclass
class Column:
    key: str
    width: float
    actor: str = ""  # lanes: the actor id


COLUMN_LABELS = {
    "no": "No",
    "kegiatan": "Kegiatan",
    "pelaksana": "Pelaksana",
    "mutu_baku": "Mutu Baku",
    "kelengkapan": "Kelengkapan",
    "waktu": "Waktu",
    "output": "Output",
    "keterangan": "Keterangan",
}
"""The usual column labels; a table's ``columns`` gives them as printed where they differ."""


@dataclass
class TableLayout:
    """One table of the SOP: its lanes, columns, labels, footnotes and pages."""

    index: int
    id: str
    title: str | None
    actors: list[Actor]  # the lanes drawn, left to right
    columns: list[Column]
    labels: dict[str, str]  # column labels as printed
    lane_width: float
    head_names_height: float
    caption_height: float
    keterangan: bool  # the table prints a Keterangan column
    footnotes: list[str]
    pages: list[Page] = field(default_factory=list)

    @property
    def lanes_width(self) -> float:
        return self.lane_width * len(self.actors)


@dataclass
class Page:
    number: int  # of the whole document; the header page is 1
    rows: list[Row]
    table: TableLayout | None = None
    first: bool = False  # the table's first page
    last: bool = False  # the table's last page: its footnotes go under it
    unprinted: list[str] = field(default_factory=list)  # the symbols not on the paper it draws
    footnote: str = ""  # under the table, where it draws one: what its dashed symbols are


@dataclass
class Note:
    """An interpretation of a row or a symbol, printed after the tables."""

    no: str
    step: str  # the symbol's id, or "" for a row's own note
    kegiatan: str
    text: str
    table: str = ""  # the table's title (or id) when the SOP has several tables
    symbol_text: str = ""  # the symbol the note is about: its shape's name, its lane and the text inside it
    printed: bool = True  # false: the symbol is not on the paper


@dataclass
class Layout:
    """The whole document's geometry."""

    definition: Definition2
    tables: list[TableLayout]
    note_pages: list[list[Note]] = field(default_factory=list)
    progress: dict[str, Any] | None = None

    @property
    def pages(self) -> list[Page]:
        """Every table page, in order."""
        return [p for t in self.tables for p in t.pages]

    @property
    def page_count(self) -> int:
        return 1 + len(self.pages) + len(self.note_pages)

    # A single-table SOP's table, for readers of the first table's geometry.
    @property
    def columns(self) -> list[Column]:
        return self.tables[0].columns

    @property
    def lane_width(self) -> float:
        return self.tables[0].lane_width

    @property
    def keterangan(self) -> bool:
        return self.tables[0].keterangan


# -- the definition as drawn -------------------------------------------------------------------

@dataclass(frozen=True)
class Arrow:
    """One arrow the paper draws: from a symbol to a symbol, or to the end of the process."""

    source: str
    target: str  # a symbol id, or END
    label: str  # printed on the arrow; "" where none is printed
    group: int  # the exit it leaves by: a diamond's outcome (index), 0 for other symbols
    first: bool  # the first branch of its exit: its label is printed there


def drawn_arrows(d: Definition2) -> list[Arrow]:
    """Every arrow drawn, in the order the symbols are listed.

    A box's arrow (one per branch of a fork) unless ``drawn: false``; a diamond's drawn exits;
    no arrow out of an end terminator, none from a connector to its pair. A box whose flow
    ends draws no arrow (unless a label is printed on it); a diamond's drawn exit to the end does.
    """
    from sopengine.definition.format2 import SymbolKind
    from sopengine.definition.graph import symbol_graph

    graph = symbol_graph(d)
    out: list[Arrow] = []
    for ti, ri, si, s in d.symbols():
        placed = graph.get(s.id)
        if placed is None or (placed.table, placed.row, placed.place) != (ti, ri, si):
            continue
        if s.kind is SymbolKind.decision:
            for j, o in enumerate(s.outcomes):
                if not o.drawn:
                    continue
                for k, target in enumerate(o.targets):
                    target = END if is_end(target) else target
                    if target == END or target in graph:
                        out.append(Arrow(s.id, target, o.label or "", j, k == 0))
            continue
        if s.kind is SymbolKind.end or (s.kind is SymbolKind.connector and s.pair is not None) or not s.drawn:
            continue
        for k, target in enumerate(placed.targets):
            if target == END and not s.label:
                continue
            if target == END or target in graph:
                out.append(Arrow(s.id, target, s.label or "", 0, k == 0))
    return out


def flow_edges(d: Definition2) -> list[tuple[str, str, str]]:
    """The arrows drawn: (source symbol id, target symbol id or 'selesai', printed label)."""
    return [(a.source, a.target, a.label) for a in drawn_arrows(d)]


def placed_lanes(d: Definition2) -> dict[str, str]:
    """The lane (actor id) each symbol stands in, by symbol id.

    A symbol's own lane; one without (a connector, an automatic diamond) stands in the lane
    the flow is already in: the lane of the symbol listed before it in its table, else of the
    first one after it with a lane, else the table's first lane.
    """
    out: dict[str, str] = {}
    for ti, t in enumerate(d.tables):
        lanes = d.lanes(ti)
        listed = [s for r in t.rows for s in r.symbols]
        previous: str | None = None
        for k, s in enumerate(listed):
            lane = s.lane if s.lane in lanes else None
            if lane is None:
                after = next((x.lane for x in listed[k + 1:] if x.lane in lanes), None)
                lane = previous or after or (lanes[0] if lanes else "")
            out.setdefault(s.id, lane)
            previous = lane
    return out


REQUIRED_MARK = "(wajib)"
"""After an output that must be attached to complete its row (``required: true``)."""

NOT_DRAWN = "tidak digambar"
"""How the tables write an arrow the paper does not draw (``drawn: false``)."""

NOT_PRINTED = "tidak tercetak pada SOP"
"""How every rendering marks a symbol the paper does not have (``printed: false``)."""

UNPRINTED_MARK = "*"
"""Beside a symbol the paper does not have, tying it to the line under its table."""

UNPRINTED_FOOTNOTE = f"{UNPRINTED_MARK} Simbol tambahan (garis putus-putus), {NOT_PRINTED}"
"""The line under a table page that draws such a symbol; the notes' pages follow it, if printed."""


def unprinted_footnote(note_pages: list[int] | None = None) -> str:
    """The line under a table page drawing a symbol the paper does not have: with the pages
    of the transcription notes that say why it is there, or, without notes, pointing nowhere."""
    if not note_pages:
        return UNPRINTED_FOOTNOTE + "."
    numbers = [str(n) for n in sorted(set(note_pages))]
    pages = numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " dan " + numbers[-1]
    return f"{UNPRINTED_FOOTNOTE}; lihat catatan transkripsi, halaman {pages}."


def document_label(document: Document) -> str:
    """A document as the tables print it: its name, and ``(wajib)`` after a required output."""
    return f"{document.name} {REQUIRED_MARK}" if document.required else document.name


def has_keterangan(d: Definition2, table: int | None = None) -> bool:
    """Whether a table prints a Keterangan column (any table, without *table*).

    As the table says (``keterangan_column``), else when some row gives ``keterangan``: not
    every SOP prints the column, and one that prints it empty says so.
    """
    indexes = range(len(d.tables)) if table is None else [table]
    for ti in indexes:
        t = d.tables[ti]
        if t.keterangan_column is not None:
            if t.keterangan_column:
                return True
        elif any(r.keterangan is not None for r in t.rows):
            return True
    return False


def column_labels(d: Definition2, table: int) -> dict[str, str]:
    """A table's column labels as printed: the usual ones where ``columns`` gives none."""
    given = d.tables[table].columns
    return {key: getattr(given, key) or label for key, label in COLUMN_LABELS.items()}


def table_name(d: Definition2, table: int) -> str:
    """How the documents name a table: its title, else 'Tabel N'."""
    return d.tables[table].title or f"Tabel {table + 1}"


def target_name(d: Definition2, target: str) -> str:
    """How the tables name where an arrow goes: the row number (with the symbol's id where the
    row has several symbols), the id of a symbol between rows, or 'selesai'."""
    if is_end(target):
        return END
    for t in d.tables:
        for r in t.rows:
            if any(s.id == target for s in r.symbols):
                if r.no is None:
                    return target
                return r.no if len(r.symbols) == 1 else f"{r.no} ({target})"
    return target


def arrow_text(d: Definition2, symbol_id: str, *, terminal: bool = False) -> str:
    """A symbol's arrows that the order of the symbols does not show, as one line.

    A diamond lists its exits (``◇ Ya → 3 · Tidak → selesai``, ``otomatis:`` first for one
    the engine takes, ``automatic:`` in the English terminal, see :func:`symbol_line`; a fork ``Ya → 4, 5``); a fork of a box its branches (``⇉ 4, 5``); a box
    whose arrow goes elsewhere than the next symbol listed its target (``→ 2``, ``→ selesai``),
    with the label printed on it. An arrow the paper does not draw is marked
    ``(tidak digambar)``. Empty for a symbol whose arrow goes on to the next one.
    """
    from sopengine.definition.format2 import SymbolKind
    from sopengine.definition.graph import default_next, symbol_graph

    graph = symbol_graph(d)
    placed = graph.get(symbol_id)
    if placed is None:
        return ""
    s = placed.symbol

    def names(targets: list[str]) -> str:
        return ", ".join(target_name(d, t) for t in targets)

    undrawn = f" ({NOT_DRAWN})"
    if s.kind is SymbolKind.decision:
        ways = " · ".join(f"{o.title} → {names(o.targets)}{'' if o.drawn else undrawn}" for o in s.outcomes)
        if s.automatic:
            if terminal:
                from sopengine.i18n import _

                ways = _("automatic: {ways}").format(ways=ways)
            else:
                ways = f"otomatis: {ways}"
        return f"◇ {ways}"
    if s.kind is SymbolKind.end:
        return ""
    targets = placed.targets
    mark = "" if s.drawn else undrawn
    label = f"{s.label} " if s.label else ""
    if len(targets) > 1:
        return f"⇉ {label}{names(targets)}{mark}"
    following = default_next(d, placed.table, placed.row, placed.place)
    if s.next is None and s.pair is None and s.drawn and not s.label and targets == [following]:
        return ""
    if targets == [END] and s.next is None and s.drawn and not s.label:
        return ""  # the last symbol of the table: the flow ends there, as drawn
    return f"{label}→ {names(targets)}{mark}"


def symbol_line(d: Definition2, symbol_id: str, names: dict[str, str] | None = None, *, terminal: bool = False) -> str:
    """A symbol as the tables list it: its shape's name, lane, the text inside it, and its
    arrows; a symbol the paper does not have is marked so.

    ``Keputusan · Kepala Bidang · Akhir semester? (tidak tercetak pada SOP) · ◇ otomatis: Ya → 6 · Tidak → selesai``

    The document names the shape in Indonesian (:data:`SYMBOL_NAMES`). With *terminal*
    (``sopengine show``, which speaks the language in force) the symbol is named by its
    ``kind`` as the definition writes it (``decision``), and "automatic" is translated.
    """
    from sopengine.definition.graph import symbol_graph

    placed = symbol_graph(d)[symbol_id]
    s = placed.symbol
    names = names if names is not None else {a.id: a.name for a in d.actors}
    lane = placed_lanes(d).get(symbol_id, "")
    kind = (s.kind.value if terminal else SYMBOL_NAMES[s.kind.value]) + (f" ({s.shape})" if s.shape else "")
    parts = [kind, names.get(lane, lane)]
    if s.text:
        parts.append(s.text)
    if not s.printed:
        parts[-1] += f" ({NOT_PRINTED})"
    flow = arrow_text(d, symbol_id, terminal=terminal)
    if flow:
        parts.append(flow)
    return " · ".join(p for p in parts if p)


# -- the layout --------------------------------------------------------------------------------

def build_layout(definition: Definition2, progress: dict[str, Any] | None = None, notes: bool = True) -> Layout:
    """Lay the SOP's tables out on A4 landscape pages, the header page being page 1.

    With *notes*, the interpretations of rows and symbols follow the tables on pages of their own.
    """
    from sopengine.definition.graph import symbol_graph

    graph = symbol_graph(definition)
    by_symbol = symbol_progress(definition, progress)
    arrows = drawn_arrows(definition)
    own = {(s.text or "").strip().upper() for _, _, _, s in definition.symbols() if s.kind.value == "connector"}
    letters = _Letters(own)
    tables: list[TableLayout] = []
    number = 2
    for ti in range(len(definition.tables)):
        table = _TableBuilder(definition, ti, graph, arrows, progress, by_symbol, letters).build(number)
        tables.append(table)
        number += len(table.pages)
    layout = Layout(definition, tables, progress=progress)
    if notes:
        layout.note_pages = note_pages(definition)
    # Where the notes say why each symbol not on the paper is there: the page of its note.
    first_note_page = 2 + len(layout.pages)
    note_page = {n.step: first_note_page + k for k, page in enumerate(layout.note_pages) for n in page if n.step}
    for page in layout.pages:
        if page.unprinted:
            page.footnote = unprinted_footnote([note_page[x] for x in page.unprinted if x in note_page])
    return layout


NOTE_COLUMNS = {"no": 12.0, "kegiatan": 80.0, "text": CONTENT_WIDTH - 92.0}


def interpretations(d: Definition2) -> list[Note]:
    """The interpretations of rows and of symbols, in the order printed.

    A symbol the paper does not have is always there, marked so (``printed`` false): it is
    an interpretation even where its row's note, not its own, says why.
    """
    several = len(d.tables) > 1
    names = {a.id: a.name for a in d.actors}
    lanes = placed_lanes(d)
    out: list[Note] = []
    for ti, t in enumerate(d.tables):
        name = table_name(d, ti) if several else ""
        for r in t.rows:
            kegiatan = r.kegiatan or ""
            if r.interpretation:
                out.append(Note(r.no or "", "", kegiatan, r.interpretation, name))
            for s in r.symbols:
                if s.interpretation or not s.printed:
                    which = " · ".join(x for x in (SYMBOL_NAMES[s.kind.value], names.get(lanes.get(s.id, ""), ""), s.text or "") if x)
                    out.append(Note(r.no or "", s.id, kegiatan, s.interpretation or "", name, which, s.printed))
    return out


def note_pages(d: Definition2) -> list[list[Note]]:
    """The interpretations, as many to a page as fit."""
    budget = CONTENT_HEIGHT - CAPTION_HEIGHT - FOOTER_HEIGHT - 2 * HEAD_TOP_HEIGHT - PAGE_SLACK
    pages: list[list[Note]] = []
    used = budget
    table = None
    for note in interpretations(d):
        marked = [note.kegiatan, note.symbol_text] + ([f"{UNPRINTED_MARK} {NOT_PRINTED}"] if not note.printed else [])
        h = max(text_height(marked, NOTE_COLUMNS["kegiatan"], BODY_FONT),
                text_height([note.text], NOTE_COLUMNS["text"], BODY_FONT)) + 1.0
        if note.table != table:
            h += HEAD_TOP_HEIGHT  # the table's name, on a row of its own
        if used + h > budget:
            pages.append([])
            used = 0.0
            if note.table == table and note.table:
                h += HEAD_TOP_HEIGHT  # a new page names the table again
        pages[-1].append(note)
        used += h
        table = note.table
    return pages


class _Letters:
    """A, B, ..., Z, AA, AB, ... skipping the letters the definition's own connectors print."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.count = 0

    def next(self) -> str:
        while True:
            self.count += 1
            n, letters = self.count, ""
            while n:
                n, r = divmod(n - 1, 26)
                letters = chr(65 + r) + letters
            if letters not in self.taken:
                return letters


@dataclass
class _Edge:
    id: str
    src: Symbol
    tgt: Symbol | None  # None: a short exit to the end of the process
    label: str
    show_label: bool  # the first branch of its exit carries the printed label
    group: tuple[str, int]
    kind: str = "long"  # row (within one row), stub (to the end), long (to another row)
    exit: str = "bottom"
    into: str = ""  # arrows within a row: the side they enter their target by
    mode: str = ""  # arrows within a row: straight, stack, elbow, under, over or around


def _wrap(text: str, chars: int, breaking: bool = True) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, max(1, chars), break_long_words=breaking, break_on_hyphens=False) or []
    return lines


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


FONT_STEPS = (1.0, 0.9, 0.8, 0.7)
"""A shape's text is made smaller, down to these shares of its size, before a word is broken."""
DECISION_TALLEST = 24.0  # a diamond's question is made smaller rather than the diamond taller


def symbol_size(kind: str, text: str, lane_width: float) -> tuple[float, float, list[str], float]:
    """A symbol's width, height, wrapped text and font size in a lane *lane_width* wide.

    A shape grows with its text, up to the lane's width (less its two arrow tracks); its text
    is made smaller before a word is broken.
    """
    widest = max(4.0, lane_width - 2 * track_margin(lane_width) - 1.0)
    if kind == "connector":
        w = min(widest, max(CONNECTOR_WIDTH, len(text) * CONNECTOR_FONT * GLYPH + 1.6))
        return w, CONNECTOR_HEIGHT, ([text] if text else []), CONNECTOR_FONT
    if kind == "decision":
        base = min(SYMBOL_WIDTH_MAX, lane_width * 0.72, widest)
        if not text:
            return base, DECISION_HEIGHT, [], DECISION_FONT
        return _diamond(text, base, widest)
    base = min(SYMBOL_WIDTH_MAX, lane_width * 0.66, widest)
    h0 = {"start": TERMINATOR_HEIGHT, "end": TERMINATOR_HEIGHT, "document": PROCESS_HEIGHT + 1.0}.get(kind, PROCESS_HEIGHT)
    if not text:
        return base, h0, [], SYMBOL_FONT
    share = 0.68 if kind == "manual" else 1.0  # the trapezium's text keeps off its slanted sides
    pad = 2 * TEXT_PAD + (h0 * 0.6 if kind in TERMINATORS else 0.0)
    for step in FONT_STEPS:
        font = SYMBOL_FONT * step
        glyph = font * GLYPH
        w = min(widest, max(base, (len(text) * glyph + pad) / share))
        inner = w * share - pad
        if _longest_word(text) * glyph <= inner:
            lines = _wrap(text, int(inner / glyph), breaking=False)
            break
    else:
        lines = _wrap(text, int(inner / glyph))
    wave = min(1.2, 0.12 * h0) if kind == "document" else 0.0
    h = max(h0, len(lines) * font * TEXT_LINE + 2 * TEXT_PAD + 2 * wave)
    return w, round(h, 2), lines, round(font, 3)


def _diamond(text: str, base: float, widest: float) -> tuple[float, float, list[str], float]:
    """A diamond holding *text*: the smallest height over its widths, line lengths and fonts."""
    best: tuple[float, float, list[str], float] | None = None
    for step in FONT_STEPS:
        font = DECISION_FONT * step
        glyph = font * GLYPH
        for w in (base, widest):
            for chars in range(max(1, _longest_word(text)), max(2, int(w / glyph)) + 1):
                lines = _wrap(text, chars, breaking=False)
                used = max(len(x) for x in lines) * glyph
                if used > 0.9 * w:
                    break
                tall = len(lines) * font * TEXT_LINE + 0.8
                # the text's box fits inside the diamond when used/w + tall/h <= 1
                h = max(DECISION_HEIGHT, tall / (1 - used / w) + 0.6)
                if best is None or h < best[1] - 0.5:
                    best = (w, h, lines, font)
            if best is not None and best[1] <= DECISION_HEIGHT * 1.4:
                break
        if best is not None and best[1] <= DECISION_TALLEST:
            break
    if best is None:  # a word wider than the lane: broken where it must be
        font = DECISION_FONT * FONT_STEPS[-1]
        lines = _wrap(text, max(1, int(0.5 * widest / (font * GLYPH))))
        best = (widest, max(DECISION_HEIGHT, 2 * (len(lines) * font * TEXT_LINE + 0.8) + 0.6), lines, font)
    return best[0], round(best[1], 2), best[2], round(best[3], 3)


def track_margin(lane_width: float) -> float:
    """How far from a lane's edges its two vertical tracks run."""
    return min(3.0, lane_width * 0.12)


class _TableBuilder:
    def __init__(self, d: Definition2, ti: int, graph: dict[str, Any], arrows: list[Arrow],
                 progress: dict[str, Any] | None, by_symbol: dict[str, list[dict[str, str]]], letters: _Letters) -> None:
        self.d = d
        self.ti = ti
        self.t = d.tables[ti]
        self.graph = graph
        self.arrows = [a for a in arrows if graph[a.source].table == ti]
        self.progress = progress
        self.by_symbol = by_symbol
        self.letters = letters
        self.lane_ids = d.lanes(ti)
        self.actors = [a for lane in self.lane_ids for a in d.actors if a.id == lane]
        self.placed = placed_lanes(d)
        self.W = LANE_MAX
        self.rows: list[Row] = []
        self.symbols: dict[str, Symbol] = {}
        self.strips: dict[tuple[int, str], Row] = {}
        self.groups: list[list[int]] = []
        self.page_of: dict[int, int] = {}
        self.local: dict[int, int] = {}
        # page -> track x -> (first, last) local rows it is busy over; strips are -1 and len(page)
        self.tracks: dict[int, dict[float, list[tuple[int, int]]]] = {}
        # (row, "top"|"bottom") -> per channel, the x spans already running along it
        self.channels: dict[tuple[int, str], list[list[tuple[float, float]]]] = {}
        # (page, strip) -> lane centres already holding a connector
        self.centres: set[tuple[int, str, float]] = set()
        # symbol id -> the sides of that symbol arrows leave by, and enter by
        self.exits: dict[str, set[str]] = {}
        self.entries: dict[str, set[str]] = {}
        # (symbol id, exit) -> the side an exit leaves by, shared by the branches of a fork
        self.group_exit: dict[tuple[str, int], str] = {}
        # A run's progress is written in Keterangan: with one, the column is always there.
        self.keterangan = progress is not None or has_keterangan(d, ti)
        self.count = 0

    # columns and heights ---------------------------------------------------------------------
    def columns(self) -> tuple[list[Column], float]:
        n = max(1, len(self.lane_ids))
        fixed = dict(FIXED_COLUMNS)
        if not self.keterangan:
            del fixed["keterangan"]
        available = CONTENT_WIDTH - sum(fixed.values())
        lane = min(LANE_MAX, available / n)
        if lane < LANE_MIN:
            # Many lanes: they get what the Kegiatan column can spare.
            lane = max(6.0, min(LANE_MIN, (available + fixed["kegiatan"] - KEGIATAN_MIN) / n))
        fixed["kegiatan"] = max(KEGIATAN_MIN, min(KEGIATAN_MAX, fixed["kegiatan"] + available - lane * n))
        leftover = CONTENT_WIDTH - sum(fixed.values()) - lane * n
        if leftover > 0 and self.keterangan:
            fixed["keterangan"] += leftover
        elif leftover > 0:
            # No Keterangan: the document columns share what is left, as wide as they were.
            share = fixed["kelengkapan"] + fixed["output"]
            for key in ("kelengkapan", "output"):
                fixed[key] += leftover * fixed[key] / share
        cols = [Column("no", fixed["no"]), Column("kegiatan", fixed["kegiatan"])]
        cols += [Column("lane", lane, actor=a) for a in self.lane_ids]
        cols += [Column(k, fixed[k]) for k in ("kelengkapan", "waktu", "output", "keterangan") if k in fixed]
        return cols, lane

    def text_height(self, ri: int, widths: dict[str, float], notes: list[dict[str, str]]) -> float:
        r = self.t.rows[ri]
        texts = {
            "no": [r.no or ""],
            "kegiatan": [r.kegiatan or ""],
            "kelengkapan": [doc.name for doc in r.kelengkapan],
            "waktu": [r.waktu or ""],
            "output": [document_label(doc) for doc in r.output],
        }
        if self.keterangan:
            texts["keterangan"] = ([r.keterangan] if r.keterangan else []) + [n["text"] for n in notes]
        return max(text_height(lines, widths[key], BODY_FONT) for key, lines in texts.items())

    # the table -------------------------------------------------------------------------------
    def build(self, first_number: int) -> TableLayout:
        columns, self.W = self.columns()
        widths = {c.key: c.width for c in columns if c.key != "lane"}
        names_height = max([text_height([a.name], self.W, HEAD_FONT) for a in self.actors] or [0.0])
        names_height = round(max(names_height, 6.0), 1)
        labels = column_labels(self.d, self.ti)
        caption = CAPTION_HEIGHT + (len(_wrap(self.t.title, int(CONTENT_WIDTH / (8 * PT * CHAR_WIDTH)))) * TITLE_LINE if self.t.title else 0.0)
        heights: list[float] = []
        for ri, r in enumerate(self.t.rows):
            notes = self.row_notes(ri)
            key = f"{self.d.table_id(self.ti)}/{ri + 1}"
            row = Row("band" if r.band else "row", 0.0, row=r, index=ri, key=key, notes=notes)
            row.state, row.late = step_state(notes)
            self.rows.append(row)
            needed = self.make_symbols(ri, row)
            listed = [x.id for x in r.symbols]
            if any(a.source in listed and a.target in listed and listed.index(a.target) < listed.index(a.source)
                   for a in self.arrows):
                needed += 2 * (LOOP_GAP + 0.5)  # room for a loop-back under (or over) its level
            text = 0.0 if r.band and not notes else self.text_height(ri, widths, notes) + 2.0
            least = MIN_BAND_HEIGHT if r.band else MIN_ROW_HEIGHT
            heights.append(round(max(least, text, needed), 1))
        budget = (
            CONTENT_HEIGHT - caption - FOOTER_HEIGHT - HEAD_TOP_HEIGHT - names_height - 2 * STRIP_HEIGHT - PAGE_SLACK
        )
        footnotes = text_height(self.t.footnotes, CONTENT_WIDTH, BODY_FONT) + 1.5 if self.t.footnotes else 0.0
        # A page drawing a symbol not on the paper keeps room under its table for the line
        # that says so.
        marked = [any(not s.printed for s in r.symbols) for r in self.t.rows]
        mark_line = footnote_height([unprinted_footnote([100, 101, 102])]) if any(marked) else 0.0  # its longest wording
        groups: list[list[int]] = [[]]
        used = 0.0
        # The table's first page has no off-page connectors at its top: no flow comes down to
        # it, nor leaves it upwards.
        room = budget + STRIP_HEIGHT
        for i, h in enumerate(heights):
            need = h + (footnotes if i == len(heights) - 1 else 0.0)
            line = mark_line if marked[i] and not any(marked[k] for k in groups[-1]) else 0.0
            if groups[-1] and used + need + line > room:
                groups.append([])
                used = 0.0
                room = budget
                line = mark_line if marked[i] else 0.0
            groups[-1].append(i)
            used += h + line
        self.groups = groups
        self.page_of = {i: p for p, g in enumerate(groups) for i in g}
        self.local = {i: k for g in groups for k, i in enumerate(g)}
        self.tracks = {p: {} for p in range(len(groups))}
        for i, h in enumerate(heights):
            self.rows[i].height = h
            self.place_levels(self.rows[i])
        self.route_all()
        table = TableLayout(
            self.ti, self.d.table_id(self.ti), self.t.title, self.actors, columns, labels, self.W, names_height,
            round(caption, 1), self.keterangan, list(self.t.footnotes),
        )
        for p, group in enumerate(groups):
            rows = [self.strips[(p, "top")]] if (p, "top") in self.strips else []
            rows += [self.rows[i] for i in group]
            if (p, "bottom") in self.strips:
                rows.append(self.strips[(p, "bottom")])
            page = Page(first_number + p, rows, table, first=p == 0, last=p == len(groups) - 1)
            page.unprinted = [x.step for row in rows for x in row.symbols if x.step and not x.printed]
            table.pages.append(page)
        return table

    def row_notes(self, ri: int) -> list[dict[str, str]]:
        return row_notes(self.d, self.graph, self.t.rows[ri], self.by_symbol, self.placed)

    # symbols ---------------------------------------------------------------------------------
    def lane_x(self, lane: int) -> float:
        return (lane + 0.5) * self.W

    def make_symbols(self, ri: int, row: Row) -> float:
        """The row's symbols, sized and given their levels; the height their levels need."""
        r = self.t.rows[ri]
        last_level: dict[int, int] = {}
        previous = 0
        for s in r.symbols:
            lane = self.placed.get(s.id, self.lane_ids[0] if self.lane_ids else "")
            k = self.lane_ids.index(lane) if lane in self.lane_ids else 0
            level = max(previous, last_level[k] + 1) if k in last_level else previous
            last_level[k] = level
            previous = level
            kind = s.kind.value
            w, h, lines, font = symbol_size(kind, s.text or "", self.W)
            notes = self.by_symbol.get(s.id, [])
            state, late = step_state(notes)
            sym = Symbol(s.id, lane, k, kind, self.lane_x(k), 0.0, w, h, text=s.text or "", lines=lines, font=font,
                         shape=s.shape or "", row=ri, level=level, state=state, late=late, printed=s.printed)
            row.symbols.append(sym)
            self.symbols.setdefault(s.id, sym)
        return self.levels_height(row)

    def level_heights(self, row: Row) -> list[float]:
        count = max((s.level for s in row.symbols), default=-1) + 1
        return [max(s.h for s in row.symbols if s.level == j) if any(s.level == j for s in row.symbols) else 0.0
                for j in range(count)]

    def levels_height(self, row: Row) -> float:
        levels = self.level_heights(row)
        return 2 * ROW_MARGIN + sum(levels) + LEVEL_GAP * max(0, len(levels) - 1)

    def place_levels(self, row: Row) -> None:
        levels = self.level_heights(row)
        block = sum(levels) + LEVEL_GAP * max(0, len(levels) - 1)
        y = (row.height - block) / 2
        middles = []
        for h in levels:
            middles.append(y + h / 2)
            y += h + LEVEL_GAP
        for sym in row.symbols:
            sym.cy = round(middles[sym.level], 3)

    def above(self, sym: Symbol) -> list[Symbol]:
        return [s for s in self.rows[sym.row].symbols if s.lane_index == sym.lane_index and s.level < sym.level]

    def below(self, sym: Symbol) -> list[Symbol]:
        return [s for s in self.rows[sym.row].symbols if s.lane_index == sym.lane_index and s.level > sym.level]

    # channels and tracks ---------------------------------------------------------------------
    def channel(self, row: int, where: str, x0: float, x1: float) -> float:
        """A free channel along the top or bottom of *row* for a run from x0 to x1: its y."""
        a, b = min(x0, x1) - 0.6, max(x0, x1) + 0.6
        slots = self.channels.setdefault((row, where), [[] for _ in range(SLOTS)])
        k = next((k for k, spans in enumerate(slots) if all(b < s0 or a > s1 for s0, s1 in spans)), 0)
        slots[k].append((a, b))
        h = self.rows[row].height
        offset = SLOT_FIRST + k * SLOT_STEP
        return offset if where == "top" else h - offset

    def track_positions(self) -> list[float]:
        m = track_margin(self.W)
        xs = []
        for k in range(len(self.lane_ids)):
            xs += [round(k * self.W + m, 3), round((k + 1) * self.W - m, 3)]
        return xs

    def take_track(self, page: int, lo: int, hi: int, x_from: float, x_to: float, side: str, centre: float,
                   into: str = "", target: float = 0.0) -> float:
        """A free vertical track on *page* over local rows lo..hi, near the arrow's ends.

        Preferred: on the *side* of *centre* its source leaves by, and on the side of *target*
        its target is entered by (*into*); where both cannot be had, the target's side first.
        """
        candidates = self.track_positions()

        def on(x: float, which: str, middle: float) -> bool:
            return which not in ("right", "left") or (x > middle) == (which == "right")

        groups = [
            [x for x in candidates if on(x, side, centre) and on(x, into, target)],
            [x for x in candidates if on(x, into, target)],
            [x for x in candidates if on(x, side, centre)],
            list(candidates),
        ]

        def cost(x: float) -> float:
            return abs(x - x_from) + abs(x - x_to)

        busy = self.tracks[page]
        for group in groups:
            for x in sorted(group, key=cost):
                if all(hi < a or lo > b for a, b in busy.get(x, [])):
                    busy.setdefault(x, []).append((lo, hi))
                    return x
        # Every track is busy over these rows: share the least used one rather than fail.
        x = min(candidates, key=lambda c: (len(busy.get(c, [])), cost(c)))
        busy.setdefault(x, []).append((lo, hi))
        return x

    # routing ---------------------------------------------------------------------------------
    def route_all(self) -> None:
        edges: list[_Edge] = []
        for a in self.arrows:
            src = self.symbols.get(a.source)
            tgt = self.symbols.get(a.target) if a.target != END else None
            if src is None or (a.target != END and tgt is None):
                continue
            self.count += 1
            e = _Edge(f"t{self.ti + 1}e{self.count}", src, tgt, a.label, a.first, (a.source, a.group))
            if tgt is None:
                e.kind = "stub"
            elif tgt.row == src.row and tgt is not src:
                e.kind = "row"
            edges.append(e)
        # Arrows within a row first, in the order listed: they fix sides of both their symbols.
        for e in edges:
            if e.kind == "row":
                self.plan_row(e)
        self.assign_exits([e for e in edges if e.kind != "row"])
        for e in edges:
            if e.kind == "row":
                self.route_row(e)
        for e in edges:
            if e.kind == "stub":
                self.route_stub(e)
        # Long arrows last, shortest first, so that short loops get the tracks nearest them.
        longs = [e for e in edges if e.kind == "long"]
        longs.sort(key=lambda e: (abs(e.tgt.row - e.src.row) if e.tgt else 0, e.src.row, e.id))
        for e in longs:
            self.route_long(e)

    # sides -----------------------------------------------------------------------------------
    def can_leave(self, sym: Symbol, side: str, group: tuple[str, int] | None = None, down_to: Symbol | None = None) -> bool:
        """Whether an arrow may leave *sym* by *side*: its exit's side already, or a free side
        with nothing standing in the way (no symbol under a bottom exit but *down_to*, over a
        top one)."""
        if group is not None and group in self.group_exit:
            return self.group_exit[group] == side
        if side in self.exits.get(sym.step, set()) or side in self.entries.get(sym.step, set()):
            return False
        if side == "bottom" and [u for u in self.below(sym) if down_to is None or u.level < down_to.level]:
            return False
        if side == "top" and self.above(sym):
            return False
        return True

    def can_enter(self, sym: Symbol, side: str, down_from: Symbol | None = None) -> bool:
        """Whether an arrow may enter *sym* by *side*: arrows merge at its top (where nothing
        stands over it but *down_from*); a side is entered once and never where an arrow leaves."""
        if side in self.exits.get(sym.step, set()):
            return False
        if side == "top":
            return not [u for u in self.above(sym) if down_from is None or u.level > down_from.level]
        if side == "bottom" and self.below(sym):
            return False
        return side not in self.entries.get(sym.step, set())

    def leave_by(self, e: _Edge, side: str) -> None:
        e.exit = side
        self.group_exit[e.group] = side
        self.exits.setdefault(e.src.step, set()).add(side)

    def enter_by(self, sym: Symbol, side: str) -> None:
        self.entries.setdefault(sym.step, set()).add(side)

    def toward(self, src: Symbol, tgt: Symbol) -> str:
        return "left" if tgt.cx < src.cx - 1e-6 else "right"

    def clear_between(self, a: Symbol, b: Symbol) -> bool:
        """Nothing stands between two symbols of one row at the same height."""
        lo, hi = sorted((a.cx, b.cx))
        return not any(s is not a and s is not b and lo < s.cx < hi and abs(s.cy - a.cy) < (s.h + a.h) / 2
                       for s in self.rows[a.row].symbols)

    def plan_row(self, e: _Edge) -> None:
        """How an arrow between two symbols of one row is drawn, and by which sides.

        Beside each other on one level: straight across. One under the other in a lane:
        straight down. Down into a lane further on: across, then down into its top. An arrow
        back to a symbol already joined (a loop-back) runs under the level (bottom to bottom)
        or over it (top to top); anything else goes round on the lanes' tracks.
        """
        s, t = e.src, e.tgt
        assert t is not None
        g = e.group
        plans: list[tuple[str, str, str]] = []
        if s.lane_index == t.lane_index:
            between = [u for u in self.below(s) if u.level < t.level]
            if t.level > s.level and not between:
                plans.append(("bottom", "top", "stack"))
        else:
            side = self.toward(s, t)
            facing = "left" if side == "right" else "right"
            if abs(s.cy - t.cy) < 1e-6 and self.clear_between(s, t):
                plans.append((side, facing, "straight"))
            if (t.level > s.level and not [u for u in self.above(t) if u.level >= s.level]
                    and self.clear_run(s.row, s.cy, s.port(side)[0], t.cx, (s, t))):
                plans.append((side, "top", "elbow"))
            if not self.below(s):
                plans.append(("bottom", "bottom", "under"))
            if not self.above(s):
                plans.append(("top", "top", "over"))
        for out, into, mode in plans:
            if self.can_leave(s, out, g, t if mode == "stack" else None) and self.can_enter(t, into, s if mode == "stack" else None):
                break
        else:
            out = next((x for x in ("right", "left", "bottom", "top") if self.can_leave(s, x, g)),
                       self.group_exit.get(g, self.toward(s, t)))
            into, mode = "", "around"
        e.mode, e.into = mode, into
        self.leave_by(e, out)
        if into:
            self.enter_by(t, into)

    def assign_exits(self, edges: list[_Edge]) -> None:
        """The side each exit (an outcome, a box's arrow or fork) leaves its symbol by."""
        by_source: dict[str, dict[tuple[str, int], list[_Edge]]] = {}
        for e in edges:
            by_source.setdefault(e.src.step, {}).setdefault(e.group, []).append(e)
        for sid, groups in by_source.items():
            sym = self.symbols[sid]
            order = sorted(groups.values(), key=lambda g: (0 if any(self.adjacent(e) for e in g) else
                                                           1 if any(e.kind == "long" for e in g) else 2))
            for group in order:
                e = group[0]
                if e.group in self.group_exit:
                    chosen = self.group_exit[e.group]
                else:
                    if e.tgt is None:
                        want = ["right", "left", "bottom"]
                    elif e.tgt.row > sym.row:
                        toward = self.toward(sym, e.tgt)
                        want = ["bottom", toward, "left" if toward == "right" else "right"]
                    else:
                        toward = "right" if e.tgt.cx >= sym.cx else "left"
                        want = [toward, "left" if toward == "right" else "right", "bottom"]
                    chosen = next((w for w in want if self.can_leave(sym, w)),
                                  next((w for w in ("right", "left", "bottom") if w not in self.exits.get(sid, set())), want[0]))
                for x in group:
                    self.leave_by(x, chosen)

    def adjacent(self, e: _Edge) -> bool:
        """The next row on the same page."""
        return (e.tgt is not None and e.tgt.row == e.src.row + 1
                and self.page_of[e.src.row] == self.page_of[e.tgt.row])

    @staticmethod
    def printed(e: _Edge) -> bool:
        """Whether the paper has the arrow: not when it leaves or enters a symbol it does not have."""
        return e.src.printed and (e.tgt is None or e.tgt.printed)

    def segment(self, e: _Edge, part: int, points: list[Point], head: bool, first: bool = False) -> Segment:
        target = e.tgt.step if e.tgt is not None else END
        target_lane = e.tgt.lane if e.tgt is not None else e.src.lane
        label_at = self.label_place(e) if first and e.label and e.show_label else None
        return Segment(e.id, part, e.src.step, target, e.src.lane, target_lane, e.label, points, head, label_at, e.group[1],
                       printed=self.printed(e))

    def label_place(self, e: _Edge) -> tuple[float, float, str]:
        """Where a printed label starts: beside its exit, kept inside the lanes."""
        width = len(e.label) * LABEL_FONT * CHAR_WIDTH
        x, y = e.src.port(e.exit)
        if e.exit == "bottom":
            x, y = x + 0.8, y + 2.6
        elif e.exit == "top":
            x, y = x + 0.8, y - 1.4
        elif e.exit == "right":
            x, y = x + 0.5, y - 0.9
        else:
            x, y = x - 0.5 - width, y - 0.9
        x = max(0.4, min(x, self.W * len(self.lane_ids) - 0.4 - width))
        return (x, y, "start")

    def side_toward(self, sym: Symbol, x: float) -> str:
        return "right" if x > sym.cx else "left"

    def clear_run(self, row: int, y: float, xa: float, xb: float, skip: tuple[Symbol, ...]) -> bool:
        """No symbol of *row* but those in *skip* stands across a level run from xa to xb at y."""
        lo, hi = sorted((xa, xb))
        return not any(all(u is not k for k in skip) and u.top - 0.3 < y < u.bottom + 0.3 and u.right > lo and u.left < hi
                       for u in self.rows[row].symbols)

    def route_row(self, e: _Edge) -> None:
        """An arrow between two symbols of one row, as planned."""
        s, t = e.src, e.tgt
        assert t is not None
        row = self.rows[s.row]
        start = s.port(e.exit)
        if e.mode in ("straight", "stack"):
            pts = [start, t.port(e.into)]
        elif e.mode == "elbow":
            pts = [start, (t.cx, start[1]), t.port("top")]
        elif e.mode in ("under", "over"):
            y = self.beside_level(e)
            pts = [start, (start[0], y), (t.cx, y), t.port(e.into)]
        else:
            pts = self.around(e, start)
        row.segments.append(self.segment(e, 0, pts, True, first=True))

    def beside_level(self, e: _Edge) -> float:
        """The height a loop-back runs at: just under (or over) the symbols it passes, where
        nothing else stands; else along the row's bottom (or top) channel."""
        s, t = e.src, e.tgt
        assert t is not None
        under = e.mode == "under"
        lo, hi = sorted((s.cx, t.cx))
        passed = [u for u in self.rows[s.row].symbols if u.right > lo and u.left < hi and u.level <= max(s.level, t.level)
                  and u.level >= min(s.level, t.level)]
        y = max(u.bottom for u in passed) + LOOP_GAP if under else min(u.top for u in passed) - LOOP_GAP
        h = self.rows[s.row].height
        if SLOT_FIRST + SLOTS * SLOT_STEP < y < h - SLOT_FIRST - SLOTS * SLOT_STEP and self.clear_run(s.row, y, lo, hi, ()):
            return y
        return self.channel(s.row, "bottom" if under else "top", s.cx, t.cx)

    def around(self, e: _Edge, start: Point) -> list[Point]:
        """Round about within a row: out to a track beside the source, in by the target's
        side; along a channel to a track beside the target where the way is not clear."""
        s, t = e.src, e.tgt
        assert t is not None
        page = self.page_of[s.row]
        lo = hi = self.local[s.row]
        if e.exit in ("bottom", "top"):
            if e.exit == "bottom" and self.below(s):
                y = s.bottom + LEVEL_GAP / 2  # a fork sharing the way down to the symbol under it
            elif e.exit == "top" and self.above(s):
                y = s.top - LEVEL_GAP / 2
            else:
                y = self.channel(s.row, e.exit, s.cx, t.cx)
            into = next((x for x in ("left", "right") if self.can_enter(t, x) and (x == "right") == (s.cx > t.cx)),
                        "right" if s.cx > t.cx else "left")
            x = self.take_track(page, lo, hi, t.cx, s.cx, "", t.cx, into, t.cx)
            side = self.side_toward(t, x)
            self.enter_by(t, side)
            return [start, (start[0], y), (x, y), (x, t.cy), t.port(side)]
        x1 = self.take_track(page, lo, hi, s.cx, t.cx, e.exit, s.cx)
        side = self.side_toward(t, x1)
        if self.clear_run(s.row, start[1], start[0], x1, (s, t)) and self.clear_run(s.row, t.cy, x1, t.port(side)[0], (s, t)):
            self.enter_by(t, side)
            return [start, (x1, start[1]), (x1, t.cy), t.port(side)]
        self.tracks[page][x1].remove((lo, hi))
        x1 = self.take_track(page, lo, hi, s.cx, s.cx, e.exit, s.cx)
        x2 = self.take_track(page, lo, hi, t.cx, t.cx, self.side_toward(t, s.cx), t.cx)
        side = self.side_toward(t, x2)
        self.enter_by(t, side)
        y = self.channel(s.row, "bottom", x1, x2)
        return [start, (x1, start[1]), (x1, y), (x2, y), (x2, t.cy), t.port(side)]

    def route_stub(self, e: _Edge) -> None:
        """A diamond's drawn exit to the end of the process: a short arrow with its label."""
        s = e.src
        row = self.rows[s.row]
        x, y = s.port(e.exit)
        if e.exit == "bottom":
            end = (x, min(row.height - 0.8, y + STUB))
        elif e.exit == "top":
            end = (x, max(0.8, y - STUB))
        elif e.exit == "right":
            end = (min(self.W * len(self.lane_ids) - 0.5, x + STUB), y)
        else:
            end = (max(0.5, x - STUB), y)
        row.segments.append(self.segment(e, 0, [(x, y), end], True, first=True))

    def entry(self, t: Symbol, down: bool, toward: float) -> str:
        """The side an arrow from another row enters *t* by: its top when coming down (where
        arrows merge), else the side facing *toward*, else the other side; an arrow coming up
        takes the top only when both sides are taken."""
        if down and self.can_enter(t, "top"):
            return "top"
        facing = "right" if toward > t.cx else "left"
        other = "left" if facing == "right" else "right"
        for side in (facing, other, "top"):
            if self.can_enter(t, side):
                return side
        return facing

    def arrival(self, t: Symbol, x: float, down: bool, side: str) -> list[Point]:
        """The target row's part of an arrow that enters it at *x*, from its top or its bottom."""
        h = self.rows[t.row].height
        edge = 0.0 if down else h
        if side == "top":
            if down and abs(x - t.cx) < 1e-6:
                return [(x, 0.0), t.port("top")]
            y = self.channel(t.row, "top", x, t.cx)
            return [(x, edge), (x, y), (t.cx, y), t.port("top")]
        self.enter_by(t, side)
        return [(x, edge), (x, t.cy), t.port(side)]

    # long arrows -----------------------------------------------------------------------------
    def strip(self, page: int, where: str) -> Row:
        if (page, where) not in self.strips:
            self.strips[(page, where)] = Row("strip-" + where, STRIP_HEIGHT)
        return self.strips[(page, where)]

    def connector(self, letter: str, x: float, strip: Row, down: bool, leaving: bool, printed: bool = True) -> Symbol:
        """An off-page connector pointing the way the flow goes, at the strip's page edge;
        dashed (not *printed*) on an arrow into or out of a symbol the paper does not have."""
        at_top = down != leaving
        cy = 1.0 + CONNECTOR_HEIGHT / 2 if at_top else STRIP_HEIGHT - 1.0 - CONNECTOR_HEIGHT / 2
        sym = Symbol("", "", -1, "connector", x, cy, CONNECTOR_WIDTH, CONNECTOR_HEIGHT, text=letter, lines=[letter],
                     font=CONNECTOR_FONT, letter=letter, pointing="down" if down else "up", printed=printed)
        strip.symbols.append(sym)
        return sym

    def free_centre(self, page: int, where: str, x: float) -> bool:
        if (page, where, x) in self.centres:
            return False
        self.centres.add((page, where, x))
        return True

    def route_long(self, e: _Edge) -> None:
        src, tgt = e.src, e.tgt
        assert tgt is not None
        s, t = src.row, tgt.row
        down = t > s
        ps, pt = self.page_of[s], self.page_of[t]
        start = src.port(e.exit)
        into = self.entry(tgt, down, src.cx)
        if self.adjacent(e) and e.exit == "bottom" and into == "top" and not self.below(src):
            h = self.rows[s].height
            y = self.channel(s, "bottom", src.cx, tgt.cx)
            pts = [start, (src.cx, y), (tgt.cx, y), (tgt.cx, h)] if abs(src.cx - tgt.cx) > 1e-6 else [start, (src.cx, h)]
            self.rows[s].segments.append(self.segment(e, 0, pts, False, first=True))
            self.rows[t].segments.append(self.segment(e, 1, [(tgt.cx, 0.0), tgt.port("top")], True))
            return
        if ps == pt:
            ls, lt = self.local[s], self.local[t]
            if s == t:
                self.loop(e, self.take_track(ps, ls, ls, src.cx, src.cx, e.exit, src.cx))
                return
            x = self.take_track(ps, min(ls, lt), max(ls, lt), src.cx, tgt.cx, e.exit, src.cx, into, tgt.cx)
            part = self.leave(e, x, down, start, stop=t)
            self.rows[t].segments.append(self.segment(e, part, self.arrival(tgt, x, down, into), True))
            return
        # Across pages: the source page's part ends at a connector in the strip at its edge;
        # the target page's part starts at the connector with the same letter.
        letter = self.letters.next()
        last = len(self.groups[ps]) - 1
        if down:
            # The last row of a page drops straight down its own column when it can.
            if self.local[s] == last and e.exit == "bottom" and self.free_centre(ps, "bottom", src.cx):
                xs = src.cx
            else:
                xs = self.take_track(ps, self.local[s], last + 1, src.cx, src.cx, e.exit, src.cx)
            if self.local[t] == 0 and into == "top" and self.free_centre(pt, "top", tgt.cx):
                xt = tgt.cx
            else:
                xt = self.take_track(pt, -1, self.local[t], tgt.cx, tgt.cx, "", tgt.cx, into, tgt.cx)
        else:
            xs = self.take_track(ps, -1, self.local[s], src.cx, src.cx, e.exit, src.cx)
            xt = self.take_track(pt, self.local[t], len(self.groups[pt]), tgt.cx, tgt.cx, "", tgt.cx, into, tgt.cx)
        part = self.leave(e, xs, down, start, stop=None)
        strip = self.strip(ps, "bottom" if down else "top")
        printed = self.printed(e)
        conn = self.connector(letter, xs, strip, down, leaving=True, printed=printed)
        edge_y, conn_y = (0.0, conn.top) if down else (STRIP_HEIGHT, conn.bottom)
        strip.segments.append(self.segment(e, part, [(xs, edge_y), (xs, conn_y)], True))
        strip = self.strip(pt, "top" if down else "bottom")
        conn = self.connector(letter, xt, strip, down, leaving=False, printed=printed)
        conn_y, edge_y = (conn.bottom, STRIP_HEIGHT) if down else (conn.top, 0.0)
        strip.segments.append(self.segment(e, part + 1, [(xt, conn_y), (xt, edge_y)], False))
        part += 2
        group = self.groups[pt]
        for i in (range(group[0], t) if down else range(group[-1], t, -1)):
            part = self.through(e, i, xt, down, part)
        self.rows[t].segments.append(self.segment(e, part, self.arrival(tgt, xt, down, into), True))

    def loop(self, e: _Edge, x: float) -> None:
        """A symbol whose arrow comes back to itself: out by the side, back in from the top."""
        src = e.src
        start = src.port(e.exit)
        y = self.channel(src.row, "top", x, src.cx)
        pts = [start, (x, start[1]), (x, y), (src.cx, y), src.port("top")]
        self.rows[src.row].segments.append(self.segment(e, 0, pts, True, first=True))

    def leave(self, e: _Edge, x: float, down: bool, start: Point, stop: int | None) -> int:
        """The source row's part and the rows passed on the source page; the next part number.

        *stop* is the target row on the same page, or None to run to the page's edge.
        """
        src = e.src
        s = src.row
        h = self.rows[s].height
        if e.exit == "bottom" and self.below(src):
            # the exit is shared with the arrow down to the symbol under it: branch off in the gap
            y = src.bottom + LEVEL_GAP / 2
            pts = [start, (src.cx, y), (x, y), (x, h if down else 0.0)]
        elif e.exit in ("bottom", "top"):
            if abs(x - src.cx) < 1e-6 and down == (e.exit == "bottom"):
                pts = [start, (x, h if down else 0.0)]
            else:
                y = self.channel(s, e.exit, src.cx, x)
                pts = [start, (src.cx, y), (x, y), (x, h if down else 0.0)]
        else:
            pts = [start, (x, start[1]), (x, h if down else 0.0)]
        self.rows[s].segments.append(self.segment(e, 0, pts, False, first=True))
        part = 1
        group = self.groups[self.page_of[s]]
        if stop is None:
            rows = range(s + 1, group[-1] + 1) if down else range(s - 1, group[0] - 1, -1)
        else:
            rows = range(s + 1, stop) if down else range(s - 1, stop, -1)
        for i in rows:
            part = self.through(e, i, x, down, part)
        return part

    def through(self, e: _Edge, i: int, x: float, down: bool, part: int) -> int:
        h = self.rows[i].height
        self.rows[i].segments.append(self.segment(e, part, [(x, 0.0), (x, h)] if down else [(x, h), (x, 0.0)], False))
        return part + 1


# -- text estimate -----------------------------------------------------------------------------

def text_height(paragraphs: list[str], width: float, font: float) -> float:
    """A generous estimate of the height (mm) of *paragraphs* wrapped in a cell *width* wide."""
    per_line = max(1, int((width - 2 * CELL_PAD) / (font * CHAR_WIDTH)))
    lines = 0
    for text in paragraphs:
        words = text.split()
        if not words:
            continue
        count, used = 1, 0
        for word in words:
            size = len(word)
            while size > per_line:  # a word longer than the line breaks anywhere
                if used:
                    count += 1
                size -= per_line
                count += 1
                used = 0
            if used and used + 1 + size > per_line:
                count += 1
                used = size
            else:
                used += size + (1 if used else 0)
        lines += count
    return lines * font * LINE_HEIGHT + 2 * CELL_PAD


FOOTNOTE_FONT = 7.0 * PT
FOOTNOTE_GAP = 1.2 + 0.4  # above the footnotes, and under each line


def footnote_height(lines: list[str]) -> float:
    """The height (mm) of footnote *lines* under a table: 7pt text the width of the page."""
    cell = text_height(lines, CONTENT_WIDTH + 2 * CELL_PAD, FOOTNOTE_FONT) - 2 * CELL_PAD
    return cell + FOOTNOTE_GAP * max(1, len(lines))


# -- progress ---------------------------------------------------------------------------------

def step_state(notes: list[dict[str, str]], lane: str | None = None) -> tuple[str, bool]:
    """A symbol's (or a row's) state from its notes, and whether it is late.

    The state is "open" (open or waiting now), else "done" (done at least once), else "".
    Late means the open visit is late, or (when none is open) a done visit was. With *lane*,
    only the notes of that lane's actor count.
    """
    if lane is not None and any(n.get("actor") == lane for n in notes):
        notes = [n for n in notes if n.get("actor") in (lane, "")]
    now = [n for n in notes if n["kind"] in ("open", "waiting")]
    if now:
        return "open", any(n["late"] for n in now)
    done = [n for n in notes if n["kind"] == "done"]
    if done:
        return "done", any(n["late"] for n in done)
    return "", False


def progress_symbol(d: Definition2, entry: dict[str, Any], lanes: dict[str, str] | None = None) -> str | None:
    """The symbol a run's step entry (of ``timeline`` or ``open_steps``) is about.

    A step is a symbol; a run pinned to a format-1 definition names a multi-lane row's lane
    k by its step and ``part`` k, which is the symbol :func:`~sopengine.definition.upgrade.lane_symbol`
    names (or, without ``part``, the symbol of the step's row standing in the entry's ``actor`` lane).
    """
    from sopengine.definition.upgrade import lane_symbol

    step = entry.get("step")
    if not step:
        return None
    lanes = lanes if lanes is not None else placed_lanes(d)
    part = entry.get("part")
    if isinstance(part, int) and part > 1:
        for candidate in (lane_symbol(step, part), lane_symbol(step, part) + "-lane"):
            if candidate in lanes:
                return candidate
    family = [step] + [lane_symbol(step, k) for k in range(2, 10) if lane_symbol(step, k) in lanes]
    actor = entry.get("actor")
    if part is None and actor and len(family) > 1:
        found = next((x for x in family if lanes.get(x) == actor), None)
        if found:
            return found
    return step if step in lanes else None


def symbol_progress(d: Definition2, progress: dict[str, Any] | None) -> dict[str, list[dict[str, str]]]:
    """What a run has done at each symbol, as short lines for the Keterangan column.

    Each note is ``{"kind": done|cancelled|open|waiting, "text", "late": "yes" or "", "actor"}``.
    """
    if not progress:
        return {}
    zone = progress.get("timezone") or d.timezone or "Asia/Jakarta"
    lanes = placed_lanes(d)
    out: dict[str, list[dict[str, str]]] = {}
    for visit in progress.get("timeline", []):
        state = visit.get("state") or ("done" if visit.get("closed_at") else "")
        if state not in ("done", "cancelled") or not visit.get("closed_at"):
            continue
        sid = progress_symbol(d, visit, lanes)
        if sid is None:
            continue
        late = (visit.get("late_by") or 0) if state == "done" else 0
        text = (PROGRESS_WORDS["done"] if state == "done" else "Dibatalkan") + f" {local_time(visit['closed_at'], zone)}"
        if visit.get("closed_by"):
            text += f" oleh {visit['closed_by']}"
        if visit.get("outcome"):
            text += f": {visit['outcome']}"
        if late:
            text += f", {late_text(late)}"
        out.setdefault(sid, []).append({"kind": state, "text": text, "late": "yes" if late else "", "actor": visit.get("actor") or ""})
    for entry in progress.get("open_steps", []):
        sid = progress_symbol(d, entry, lanes)
        if sid is None:
            continue
        if entry.get("state") == "waiting":
            out.setdefault(sid, []).append({"kind": "waiting", "text": WAITING, "late": "", "actor": entry.get("actor") or ""})
            continue
        late = entry.get("late_by") or 0
        text = PROGRESS_WORDS["open"]
        if entry.get("due_at"):
            text += f", tenggat {local_time(entry['due_at'], zone)}"
        if late:
            text += f", {late_text(late)}"
        out.setdefault(sid, []).append({"kind": "open", "text": text, "late": "yes" if late else "", "actor": entry.get("actor") or ""})
    return out


def row_progress(d: Definition2, table: int, row: int, progress: dict[str, Any] | None) -> list[dict[str, str]]:
    """What a run has done in one row: its symbols' notes, each named by its lane's actor where
    the row has several symbols that are work."""
    from sopengine.definition.graph import symbol_graph

    if not progress:
        return []
    return row_notes(d, symbol_graph(d), d.tables[table].rows[row], symbol_progress(d, progress), placed_lanes(d))


def row_notes(d: Definition2, graph: dict[str, Any], r: SopRow, by_symbol: dict[str, list[dict[str, str]]],
               lanes: dict[str, str]) -> list[dict[str, str]]:
    several = sum(1 for s in r.symbols if s.id in graph and graph[s.id].task) > 1
    names = {a.id: a.name for a in d.actors}
    out = []
    for s in r.symbols:
        for note in by_symbol.get(s.id, []):
            note = dict(note, symbol=s.id)
            if several:
                who = note.get("actor") or lanes.get(s.id, "")
                note["text"] = f"{names.get(who, who)}: {note['text']}"
            out.append(note)
    return out


MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")


def local_time(stamp: str, zone: str) -> str:
    """An ISO UTC time ('...Z') as the document writes it in the SOP's zone: '1 Oktober 2026 09.15 WIB'.

    The date as Indonesians write it, the time with a period between hours and minutes.
    """
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    text = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year} {moment:%H.%M}"
    return f"{text} {moment.tzname()}" if moment.tzname() else text


WORKING_DAY_HOURS = 8
"""Office time beyond this many hours is written in working days."""


def format_seconds(value: Any) -> str:
    """Seconds of office time as the document writes them: '55 menit', '1 jam 10 menit',
    '2 hari kerja', '1 hari kerja 3 jam' (a working day of 8 hours), 'kurang dari 1 menit'."""
    if not isinstance(value, (int, float)):
        return str(value)
    minutes = int(value) // 60
    hours, minutes = divmod(minutes, 60)
    days = 0
    if hours >= WORKING_DAY_HOURS:
        days, hours = divmod(hours, WORKING_DAY_HOURS)
    parts = [f"{days} hari kerja"] if days else []
    parts += [f"{hours} jam"] if hours else []
    parts += [f"{minutes} menit"] if minutes else []
    return " ".join(parts) or "kurang dari 1 menit"


def late_text(value: Any) -> str:
    """How late, as the document says it: 'terlambat 1 jam 10 menit'."""
    return f"{PROGRESS_WORDS['late']} {format_seconds(value)}"


PROGRESS_WORDS = {"done": "Selesai", "open": "Terbuka", "late": "terlambat"}
"""The document's words for a symbol's state, in its Keterangan and its legend."""

WAITING = "Menunggu cabang lain selesai"
"""A join waiting for its other branches, in Keterangan."""

RUN_STATUS = {"active": "berjalan", "completed": "selesai", "cancelled": "dibatalkan"}
"""A run's status as the document writes it (the status itself, as ``run_status`` gives it, stays English)."""


def period_text(period: Any) -> str:
    """A run's period as the document writes it: '2026-10' is 'Oktober 2026', '2026-Q3'
    'Triwulan III 2026', '2026-S2' 'Semester II 2026', '2026' 'Tahun 2026'; else as given."""
    text = str(period)
    roman = {"1": "I", "2": "II", "3": "III", "4": "IV"}
    if m := re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", text):
        return f"{MONTHS[int(m.group(2)) - 1]} {m.group(1)}"
    if m := re.fullmatch(r"(\d{4})-(Q(?=[1-4])|S(?=[12]))(\d)", text, re.I):
        word = "Triwulan" if m.group(2).upper() == "Q" else "Semester"
        return f"{word} {roman[m.group(3)]} {m.group(1)}"
    if re.fullmatch(r"\d{4}", text):
        return f"Tahun {text}"
    return text


def run_caption(progress: dict[str, Any]) -> dict[str, str]:
    """What the document says about the run it marks: its id, its period as written (``periode
    Oktober 2026``, "" without one) and its status as written (``berjalan``)."""
    status = str(progress.get("status") or "")
    period = progress.get("period")
    return {
        "run": str(progress.get("run_id") or ""),
        "period": f"periode {period_text(period)}" if period else "",
        "status": RUN_STATUS.get(status, status),
    }


def _dedupe(points: list[Point]) -> list[Point]:
    out: list[Point] = []
    for p in points:
        if not out or abs(out[-1][0] - p[0]) > 1e-6 or abs(out[-1][1] - p[1]) > 1e-6:
            out.append(p)
    if len(out) == 1:
        out.append(out[0])
    return out
