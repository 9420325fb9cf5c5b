"""The printed SOP AP table as geometry: columns, pages, rows, symbols and arrows.

Permenpan RB 35/2012 lays a flowchart out as a table: one row per *kegiatan*, one column per
*pelaksana*, and the symbol of each row standing in its actor's column. This module decides
everything the HTML template draws, in millimetres, so that the template only prints numbers:

* **Columns.** A4 landscape, fixed column widths; the actor (lane) columns share what the
  text columns leave.
* **Rows and pages.** Each row's height is estimated from its texts (conservatively, since a
  row that grows in the browser would break its arrows). Rows fill a page until its height
  budget is used; every page repeats the table header. A flow that crosses a page break
  ends in an off-page connector (a pentagon, lettered A, B, ...) and resumes at the
  connector with the same letter, drawn in a thin strip row at the page's edge.
* **Arrows.** Every row's actor cells hold one SVG spanning the lanes. An arrow is a chain
  of polylines, one per row it passes through, meeting at the row edges: the next row is
  reached through the row's bottom channel; longer jumps and loop-backs run on vertical
  tracks in the lane margins, chosen so that no two arrows share a track over the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sopengine.definition.models import StepKind, is_end

if TYPE_CHECKING:
    from sopengine.definition.models import Definition, Document, Step

Point = tuple[float, float]

# -- page geometry (mm) -------------------------------------------------------------------------
PAGE_WIDTH = 297.0
PAGE_HEIGHT = 210.0
MARGIN_X = 10.0
MARGIN_Y = 8.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
CONTENT_HEIGHT = PAGE_HEIGHT - 2 * MARGIN_Y
CAPTION_HEIGHT = 7.0
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
LABEL_FONT = 2.4  # outcome labels on arrows
CHANNEL = 2.6  # distance of the top/bottom channel from the row edge
HEAD_LENGTH = 1.6
HEAD_WIDTH = 1.3


@dataclass
class Symbol:
    """One flowchart symbol in a row's lanes."""

    step: str  # the step id, "selesai" for an end terminator, or the connector's letter
    lane: str  # actor id of the column it stands in ("" for connectors)
    lane_index: int
    kind: str  # terminator, process, decision or connector
    cx: float
    cy: float
    w: float
    h: float
    label: str = ""
    pointing: str = ""  # connectors: "down" or "up"
    state: str = ""  # with progress: "done", "open" or ""
    late: bool = False
    added: bool = False  # the step is not a row of the SOP (an automatic gate without 'no')

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
    def points(self) -> str:
        """The outline as SVG polygon points (diamonds and connectors)."""
        x0, x1, y0, y1 = self.left, self.right, self.top, self.bottom
        if self.kind == "decision":
            pts = [(self.cx, y0), (x1, self.cy), (self.cx, y1), (x0, self.cy)]
        elif self.pointing == "up":
            pts = [(self.cx, y0), (x1, y0 + 0.4 * self.h), (x1, y1), (x0, y1), (x0, y0 + 0.4 * self.h)]
        else:
            pts = [(x0, y0), (x1, y0), (x1, y0 + 0.6 * self.h), (self.cx, y1), (x0, y0 + 0.6 * self.h)]
        return " ".join(f"{x:.2f},{y:.2f}" for x, y in pts)


@dataclass
class Segment:
    """The part of one arrow that lies in one row."""

    edge: str
    part: int
    source: str
    target: str
    source_lane: str
    target_lane: str
    label: str
    points: list[Point]
    head: bool  # ends in an arrowhead (at a symbol or a connector)
    label_at: tuple[float, float, str] | None = None  # x, y, text-anchor

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
    """One table row: a step, or a strip holding off-page connectors."""

    kind: str  # "step", "strip-top" or "strip-bottom"
    height: float
    step: Step | None = None
    symbols: list[Symbol] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)  # progress of the step
    state: str = ""  # "open", "done" or ""
    late: bool = False


@dataclass
class Page:
    number: int  # of the whole document; the header page is 1
    rows: list[Row]


@dataclass
class Column:
    key: str
    width: float
    actor: str = ""  # lanes: the actor id


@dataclass
class Note:
    """A step's interpretation, printed after the table."""

    no: str
    step: str
    kegiatan: str
    text: str


@dataclass
class Layout:
    """The whole document's geometry."""

    definition: Definition
    columns: list[Column]
    lane_width: float
    head_names_height: float
    pages: list[Page]
    note_pages: list[list[Note]] = field(default_factory=list)
    progress: dict[str, Any] | None = None
    keterangan: bool = True  # the table has a Keterangan column

    @property
    def lanes_width(self) -> float:
        return self.lane_width * len(self.definition.actors)

    @property
    def page_count(self) -> int:
        return 1 + len(self.pages) + len(self.note_pages)


# -- public entry points ----------------------------------------------------------------------

NOT_A_ROW = "not a row of the SOP"
"""The note every rendering prints on a step without a row number: an automatic gate the
definition adds to the signed SOP (see docs/definition-format.md), which must never pass for
one of its signed rows."""


def placed_lanes(definition: Definition) -> list[list[str]]:
    """The actor columns each step's symbols stand in, in order.

    A step's own lanes; an automatic gate without an actor stands in the column of the
    step before it (the first actor's for a first step), where the flow already is.
    """
    out: list[list[str]] = []
    for i, step in enumerate(definition.steps):
        if step.lanes:
            out.append(step.lanes)
        elif i:
            out.append([out[-1][-1]])
        else:
            out.append([definition.actors[0].id])
    return out


def symbol_kinds(definition: Definition) -> list[list[str]]:
    """Each step's symbol per lane: terminator, process or decision.

    The first row starts with a terminator, and a row whose flow ends the process ends with
    one; a decision is always a diamond, so that its outcomes keep their labelled arrows.
    """
    from sopengine.definition.loader import step_targets

    lanes = placed_lanes(definition)
    kinds: list[list[str]] = []
    for i, step in enumerate(definition.steps):
        if step.kind is StepKind.decision:
            kinds.append(["decision"] * len(lanes[i]))
            continue
        row = ["process"] * len(lanes[i])
        if i == 0:
            row[0] = "terminator"
        if any(is_end(t) for t in step_targets(definition, i)):
            row[-1] = "terminator"
        kinds.append(row)
    return kinds


def flow_edges(definition: Definition) -> list[tuple[int, str, str]]:
    """The arrows between steps: (source index, target step id or 'selesai', label).

    A process row that ends the process draws no arrow: its own symbol is the terminator.
    """
    from sopengine.definition.loader import step_targets

    edges = []
    for i, step in enumerate(definition.steps):
        if step.kind is StepKind.decision:
            for outcome in step.outcomes:
                edges.append((i, "selesai" if is_end(outcome.next) else outcome.next, outcome.name))
        else:
            for target in step_targets(definition, i):
                if not is_end(target):
                    edges.append((i, target, ""))
    return edges


REQUIRED_MARK = "(wajib)"
"""After an output that must be attached to complete its step (``required: true``)."""


def document_label(document: Document) -> str:
    """A document as the tables print it: its name, and ``(wajib)`` after a required output."""
    return f"{document.name} {REQUIRED_MARK}" if document.required else document.name


def has_keterangan(definition: Definition) -> bool:
    """Whether the SOP's table has a Keterangan column: some row gives ``keterangan``.

    Not every SOP prints the column; one that prints it empty says so with ``keterangan: ""``
    on a row.
    """
    return any(s.keterangan is not None for s in definition.steps)


def target_name(definition: Definition, target: str) -> str:
    """How a table names where an arrow goes: the row number, or the id of a step without one
    (an automatic gate that is not a row of the SOP), or 'selesai'."""
    if is_end(target):
        return "selesai"
    step = next((s for s in definition.steps if s.id == target), None)
    return str(step.no) if step is not None and step.no is not None else target


def flow_text(definition: Definition, index: int) -> str:
    """The arrows of a row that the table's order does not show, as one line.

    A decision lists its outcomes (``◇ Ya → 3 · Tidak → selesai``, ``automatic:`` first for a
    gate the engine takes); a split its branches (``⇉ 4, 5``); a process row with ``next``
    its jump or the end (``→ 2``, ``→ selesai``). Empty for a row that goes on to the next.
    """
    step = definition.steps[index]
    if step.kind is StepKind.decision:
        ways = " · ".join(f"{o.name} → {target_name(definition, o.next)}" for o in step.outcomes)
        return f"◇ {'automatic: ' if step.automatic else ''}{ways}"
    if isinstance(step.next, list):
        return "⇉ " + ", ".join(target_name(definition, t) for t in step.next)
    if step.next is not None:
        return f"→ {target_name(definition, step.next)}"
    return ""


def build_layout(definition: Definition, progress: dict[str, Any] | None = None, notes: bool = True) -> Layout:
    """Lay the SOP table out on A4 landscape pages.

    With *notes*, the steps' interpretations follow the table on pages of their own.
    """
    layout = _Builder(definition, progress).build()
    if notes:
        layout.note_pages = note_pages(definition)
    return layout


NOTE_COLUMNS = {"no": 12.0, "kegiatan": 80.0, "text": CONTENT_WIDTH - 92.0}


def note_pages(definition: Definition) -> list[list[Note]]:
    """The interpretations, as many to a page as fit."""
    notes = [
        Note(str(s.no or ""), s.id, s.kegiatan, s.interpretation) for s in definition.steps if s.interpretation
    ]
    budget = CONTENT_HEIGHT - CAPTION_HEIGHT - FOOTER_HEIGHT - 2 * HEAD_TOP_HEIGHT - PAGE_SLACK
    pages: list[list[Note]] = []
    used = budget
    for note in notes:
        h = max(text_height([note.kegiatan], NOTE_COLUMNS["kegiatan"], BODY_FONT),
                text_height([note.text], NOTE_COLUMNS["text"], BODY_FONT)) + 1.0
        if used + h > budget:
            pages.append([])
            used = 0.0
        pages[-1].append(note)
        used += h
    return pages


# -- the builder ------------------------------------------------------------------------------

@dataclass
class _Edge:
    id: str
    source: int  # step index
    target: int | None  # step index, None for the end terminator beside a decision
    label: str
    exit: str = "bottom"  # where it leaves the source symbol: bottom, left or right
    kind: str = "long"  # adjacent (the next row on the page), long, or end (within the row)
    end_lane: int = -1  # end arrows: the lane of their terminator


class _Builder:
    def __init__(self, definition: Definition, progress: dict[str, Any] | None) -> None:
        self.d = definition
        self.progress = progress
        self.actor_ids = [a.id for a in definition.actors]
        self.lanes = placed_lanes(definition)
        self.kinds = symbol_kinds(definition)
        self.index = {s.id: i for i, s in enumerate(definition.steps)}
        self.letters = 0
        self.W = LANE_MAX
        self.rows: dict[int, Row] = {}
        self.strips: dict[tuple[int, str], Row] = {}
        self.groups: list[list[int]] = []
        self.page_of: dict[int, int] = {}
        self.local: dict[int, int] = {}
        # page -> track x -> (first, last) local rows it is busy over; strips are -1 and len(page)
        self.tracks: dict[int, dict[float, list[tuple[int, int]]]] = {}
        # (page, strip) -> lane centres already holding a connector
        self.centres: set[tuple[int, str, float]] = set()
        # (step id, lane) -> the sides of that symbol an arrow already leaves or enters by
        self.sides: dict[tuple[str, str], set[str]] = {}
        # A run's progress is written in Keterangan: with one, the column is always there.
        self.keterangan = progress is not None or has_keterangan(definition)

    # columns and heights ---------------------------------------------------------------------
    def columns(self) -> tuple[list[Column], float]:
        n = len(self.actor_ids)
        fixed = dict(FIXED_COLUMNS)
        if not self.keterangan:
            del fixed["keterangan"]
        available = CONTENT_WIDTH - sum(fixed.values())
        lane = min(LANE_MAX, available / n)
        if lane < LANE_MIN:
            # Many actors: they get what the Kegiatan column can spare.
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
        cols += [Column("lane", lane, actor=a) for a in self.actor_ids]
        cols += [Column(k, fixed[k]) for k in ("kelengkapan", "waktu", "output", "keterangan") if k in fixed]
        return cols, lane

    def row_height(self, i: int, widths: dict[str, float], notes: list[dict[str, str]]) -> float:
        step = self.d.steps[i]
        texts = {
            "no": [str(step.no or "")],
            "kegiatan": [step.kegiatan] + ([NOT_A_ROW] if step.no is None else []),
            "kelengkapan": [doc.name for doc in step.inputs],
            "waktu": [step.waktu or ""],
            "output": [document_label(doc) for doc in step.outputs],
        }
        if self.keterangan:
            texts["keterangan"] = ([step.keterangan] if step.keterangan else []) + [n["text"] for n in notes]
        tallest = max(text_height(lines, widths[key], BODY_FONT) for key, lines in texts.items())
        return round(max(MIN_ROW_HEIGHT, tallest + 2.0), 1)

    # the whole document ----------------------------------------------------------------------
    def build(self) -> Layout:
        columns, self.W = self.columns()
        widths = {c.key: c.width for c in columns if c.key != "lane"}
        names_height = max(text_height([a.name], self.W, HEAD_FONT) for a in self.d.actors)
        names_height = round(max(names_height, 6.0), 1)
        notes = [progress_notes(self.d, s.id, self.progress) for s in self.d.steps]
        heights = [self.row_height(i, widths, notes[i]) for i in range(len(self.d.steps))]
        budget = (
            CONTENT_HEIGHT - CAPTION_HEIGHT - FOOTER_HEIGHT - HEAD_TOP_HEIGHT - names_height
            - 2 * STRIP_HEIGHT - PAGE_SLACK
        )
        groups: list[list[int]] = [[]]
        used = 0.0
        for i, h in enumerate(heights):
            if groups[-1] and used + h > budget:
                groups.append([])
                used = 0.0
            groups[-1].append(i)
            used += h
        self.groups = groups
        self.page_of = {i: p for p, g in enumerate(groups) for i in g}
        self.local = {i: k for g in groups for k, i in enumerate(g)}
        self.tracks = {p: {} for p in range(len(groups))}
        for i, step in enumerate(self.d.steps):
            state, late = step_state(notes[i])
            row = Row("step", heights[i], step=step, notes=notes[i], state=state, late=late)
            self.rows[i] = row
            self.place_symbols(i, row)
        self.route_all()
        pages = []
        for p, group in enumerate(groups):
            rows = [self.strips[(p, "top")]] if (p, "top") in self.strips else []
            rows += [self.rows[i] for i in group]
            if (p, "bottom") in self.strips:
                rows.append(self.strips[(p, "bottom")])
            pages.append(Page(p + 2, rows))
        return Layout(self.d, columns, self.W, names_height, pages, progress=self.progress, keterangan=self.keterangan)

    # symbols ---------------------------------------------------------------------------------
    def lane_x(self, lane: int) -> float:
        return (lane + 0.5) * self.W

    def symbol_width(self, kind: str) -> float:
        share = 0.72 if kind == "decision" else 0.66
        return min(SYMBOL_WIDTH_MAX, self.W * share)

    def place_symbols(self, i: int, row: Row) -> None:
        step = self.d.steps[i]
        for lane, kind in zip(self.lanes[i], self.kinds[i]):
            h = {"decision": DECISION_HEIGHT, "terminator": TERMINATOR_HEIGHT, "process": PROCESS_HEIGHT}[kind]
            k = self.actor_ids.index(lane)
            state, late = step_state(row.notes, lane)
            row.symbols.append(Symbol(
                step.id, lane, k, kind, self.lane_x(k), row.height / 2, self.symbol_width(kind), h, state=state, late=late,
                added=step.no is None,
            ))

    def source_symbol(self, i: int) -> Symbol:
        """Arrows leave a row from its last lane's symbol ..."""
        step_id = self.d.steps[i].id
        return [s for s in self.rows[i].symbols if s.step == step_id][-1]

    def target_symbol(self, i: int) -> Symbol:
        """... and enter it at its first lane's symbol."""
        return self.rows[i].symbols[0]

    # routing ---------------------------------------------------------------------------------
    def route_all(self) -> None:
        edges = [
            _Edge(f"e{n}", i, None if target == "selesai" else self.index[target], label)
            for n, (i, target, label) in enumerate(flow_edges(self.d), 1)
        ]
        n = len(edges)
        # A multi-actor row: one symbol per lane, joined in the SOP's order.
        for row in self.rows.values():
            for a, b in zip(row.symbols, row.symbols[1:]):
                n += 1
                rightwards = b.cx > a.cx
                ends = [(a.right, a.cy), (b.left, b.cy)] if rightwards else [(a.left, a.cy), (b.right, b.cy)]
                self.sides.setdefault((a.step, a.lane), set()).add("right" if rightwards else "left")
                self.sides.setdefault((b.step, b.lane), set()).add("left" if rightwards else "right")
                row.segments.append(Segment(f"e{n}", 0, a.step, b.step, a.lane, b.lane, "", ends, True))
        self.assign_exits(edges)
        for e in edges:
            src = self.source_symbol(e.source)
            self.sides.setdefault((src.step, src.lane), set()).add(e.exit)
        for e in edges:
            if e.kind == "end":
                self.route_end(e)
            elif e.kind == "adjacent":
                self.route_adjacent(e)
        # Long arrows last, shortest first, so that short loops get the tracks nearest them.
        longs = sorted((e for e in edges if e.kind == "long"), key=lambda e: (abs((e.target or 0) - e.source), e.source))
        for e in longs:
            self.route_long(e)

    def assign_exits(self, edges: list[_Edge]) -> None:
        by_source: dict[int, list[_Edge]] = {}
        for e in edges:
            by_source.setdefault(e.source, []).append(e)
        for i, out in by_source.items():
            decision = self.d.steps[i].kind is StepKind.decision
            used: set[str] = set()
            for e in out:
                # The next row on the same page is reached straight down.
                if e.target == i + 1 and self.page_of[i] == self.page_of[i + 1] and "bottom" not in used:
                    e.kind, e.exit = "adjacent", "bottom"
                    used.add("bottom")
            # Then the end terminators, which need a free lane beside the diamond.
            for e in out:
                if e.kind != "adjacent" and e.target is None:
                    e.kind = "end"
                    e.exit, e.end_lane = self.end_place(i, used)
                    used.add(e.exit)
            for e in out:
                if e.kind in ("adjacent", "end") or e.target is None:
                    continue
                if not decision:
                    # A process leaves by its bottom, except when it loops back up.
                    e.exit = "bottom" if e.target > i else "right"
                else:
                    src, tgt = self.source_symbol(i), self.target_symbol(e.target)
                    want = ["right", "left"] if tgt.cx >= src.cx else ["left", "right"]
                    if e.target > i:
                        want.insert(0, "bottom")
                    e.exit = next((s for s in want + ["bottom"] if s not in used), "bottom")
                    used.add(e.exit)

    def end_place(self, i: int, used: set[str]) -> tuple[str, int]:
        """Where a decision's 'selesai' terminator stands: the nearest free lane beside it."""
        k = self.source_symbol(i).lane_index
        taken = {s.lane_index for s in self.rows[i].symbols}
        n = len(self.actor_ids)
        for distance in range(1, n):
            for side, lane in (("right", k + distance), ("left", k - distance)):
                if 0 <= lane < n and lane not in taken and side not in used:
                    return side, lane
        # One lane only: the terminator stands beside the diamond in the same column.
        return ("right" if "right" not in used else "left"), k

    def exit_point(self, sym: Symbol, exit: str) -> Point:
        if exit == "bottom":
            return (sym.cx, sym.bottom)
        return (sym.right if exit == "right" else sym.left, sym.cy)

    def segment(self, e: _Edge, part: int, points: list[Point], head: bool, first: bool = False) -> Segment:
        src = self.source_symbol(e.source)
        if e.target is None:
            target, target_lane = "selesai", self.actor_ids[e.end_lane]
        else:
            tgt = self.target_symbol(e.target)
            target, target_lane = tgt.step, tgt.lane
        label_at = self.label_place(src, e) if first and e.label else None
        return Segment(e.id, part, src.step, target, src.lane, target_lane, e.label, points, head, label_at)

    def label_place(self, src: Symbol, e: _Edge) -> tuple[float, float, str]:
        """Where an outcome's label starts: beside its exit, kept inside the lanes."""
        width = len(e.label) * LABEL_FONT * CHAR_WIDTH
        if e.exit == "bottom":
            x, y = src.cx + 0.8, src.bottom + 2.6
        elif e.exit == "right":
            x, y = src.right + 0.5, src.cy - 0.9
        else:
            x, y = src.left - 0.5 - width, src.cy - 0.9
        x = max(0.4, min(x, self.W * len(self.actor_ids) - 0.4 - width))
        return (x, y, "start")

    def route_end(self, e: _Edge) -> None:
        row = self.rows[e.source]
        src = self.source_symbol(e.source)
        w = min(self.symbol_width("terminator"), 13.0)
        if e.end_lane == src.lane_index:
            cx = src.right + 2.5 + w / 2 if e.exit == "right" else src.left - 2.5 - w / 2
        else:
            cx = self.lane_x(e.end_lane)
        end = Symbol("selesai", self.actor_ids[e.end_lane], e.end_lane, "terminator", cx, src.cy, w,
                     TERMINATOR_HEIGHT, label="Selesai")
        row.symbols.append(end)
        stop = (end.left, end.cy) if end.cx > src.cx else (end.right, end.cy)
        row.segments.append(self.segment(e, 0, [self.exit_point(src, e.exit), stop], True, first=True))

    def route_adjacent(self, e: _Edge) -> None:
        assert e.target is not None
        src, tgt = self.source_symbol(e.source), self.target_symbol(e.target)
        h = self.rows[e.source].height
        pts = [(src.cx, src.bottom), (src.cx, h - CHANNEL), (tgt.cx, h - CHANNEL), (tgt.cx, h)]
        self.rows[e.source].segments.append(self.segment(e, 0, pts, False, first=True))
        self.rows[e.target].segments.append(self.segment(e, 1, [(tgt.cx, 0.0), (tgt.cx, tgt.top)], True))

    # long arrows -----------------------------------------------------------------------------
    def track_positions(self) -> list[float]:
        m = min(3.0, self.W * 0.14)
        xs = []
        for k in range(len(self.actor_ids)):
            xs += [round(k * self.W + m, 3), round((k + 1) * self.W - m, 3)]
        return xs

    def take_track(self, page: int, lo: int, hi: int, x_from: float, x_to: float, side: str, centre: float) -> float:
        """A free vertical track on *page* over local rows lo..hi, near the arrow's ends."""
        candidates = self.track_positions()
        if side in ("right", "left"):
            preferred = [x for x in candidates if (x > centre) == (side == "right")]
        else:
            preferred = list(candidates)
        rest = [x for x in candidates if x not in preferred]

        def cost(x: float) -> float:
            return abs(x - x_from) + abs(x - x_to)

        busy = self.tracks[page]
        for group in (sorted(preferred, key=cost), sorted(rest, key=cost)):
            for x in group:
                if all(hi < a or lo > b for a, b in busy.get(x, [])):
                    busy.setdefault(x, []).append((lo, hi))
                    return x
        # Every track is busy over these rows: share the least used one rather than fail.
        x = min(candidates, key=lambda c: (len(busy.get(c, [])), cost(c)))
        busy.setdefault(x, []).append((lo, hi))
        return x

    def strip(self, page: int, where: str) -> Row:
        if (page, where) not in self.strips:
            self.strips[(page, where)] = Row("strip-" + where, STRIP_HEIGHT)
        return self.strips[(page, where)]

    def next_letter(self) -> str:
        """A, B, ..., Z, AA, AB, ..."""
        self.letters += 1
        n, letters = self.letters, ""
        while n:
            n, r = divmod(n - 1, 26)
            letters = chr(65 + r) + letters
        return letters

    def connector(self, letter: str, x: float, strip: Row, down: bool, leaving: bool) -> Symbol:
        """An off-page connector pointing the way the flow goes, at the strip's page edge."""
        at_top = down != leaving
        cy = 1.0 + CONNECTOR_HEIGHT / 2 if at_top else STRIP_HEIGHT - 1.0 - CONNECTOR_HEIGHT / 2
        sym = Symbol(letter, "", -1, "connector", x, cy, CONNECTOR_WIDTH, CONNECTOR_HEIGHT,
                     label=letter, pointing="down" if down else "up")
        strip.symbols.append(sym)
        return sym

    def free_centre(self, page: int, where: str, x: float) -> bool:
        if (page, where, x) in self.centres:
            return False
        self.centres.add((page, where, x))
        return True

    def route_long(self, e: _Edge) -> None:
        assert e.target is not None
        s, t = e.source, e.target
        src, tgt = self.source_symbol(s), self.target_symbol(t)
        down = t > s
        ps, pt = self.page_of[s], self.page_of[t]
        start = self.exit_point(src, e.exit)
        if ps == pt:
            ls, lt = self.local[s], self.local[t]
            x = self.take_track(ps, min(ls, lt), max(ls, lt), src.cx, tgt.cx, e.exit, src.cx)
            part = self.leave(e, s, x, down, start, stop=t)
            if s == t:
                return
            self.rows[t].segments.append(self.segment(e, part, self.arrival(t, x, down, tgt), True))
            return
        # Across pages: the source page's part ends at a connector in the strip at its edge;
        # the target page's part starts at the connector with the same letter.
        letter = self.next_letter()
        last = len(self.groups[ps]) - 1
        if down:
            # The last row of a page drops straight down its own column when it can.
            if self.local[s] == last and e.exit == "bottom" and self.free_centre(ps, "bottom", src.cx):
                xs = src.cx
            else:
                xs = self.take_track(ps, self.local[s], last + 1, src.cx, src.cx, e.exit, src.cx)
            if self.local[t] == 0 and self.free_centre(pt, "top", tgt.cx):
                xt = tgt.cx
            else:
                xt = self.take_track(pt, -1, self.local[t], tgt.cx, tgt.cx, "", tgt.cx)
        else:
            xs = self.take_track(ps, -1, self.local[s], src.cx, src.cx, e.exit, src.cx)
            xt = self.take_track(pt, self.local[t], len(self.groups[pt]), tgt.cx, tgt.cx, "", tgt.cx)
        part = self.leave(e, s, xs, down, start, stop=None)
        strip = self.strip(ps, "bottom" if down else "top")
        conn = self.connector(letter, xs, strip, down, leaving=True)
        edge_y, conn_y = (0.0, conn.top) if down else (STRIP_HEIGHT, conn.bottom)
        strip.segments.append(self.segment(e, part, [(xs, edge_y), (xs, conn_y)], True))
        strip = self.strip(pt, "top" if down else "bottom")
        conn = self.connector(letter, xt, strip, down, leaving=False)
        conn_y, edge_y = (conn.bottom, STRIP_HEIGHT) if down else (conn.top, 0.0)
        strip.segments.append(self.segment(e, part + 1, [(xt, conn_y), (xt, edge_y)], False))
        part += 2
        group = self.groups[pt]
        for i in (range(group[0], t) if down else range(group[-1], t, -1)):
            part = self.through(e, i, xt, down, part)
        self.rows[t].segments.append(self.segment(e, part, self.arrival(t, xt, down, tgt), True))

    def leave(self, e: _Edge, s: int, x: float, down: bool, start: Point, stop: int | None) -> int:
        """The source row's part and the rows passed on the source page; the next part number.

        *stop* is the target row on the same page, or None to run to the page's edge.
        """
        src = self.source_symbol(s)
        h = self.rows[s].height
        if s == stop:
            # A step that loops to itself: out by the side, back in from the top.
            pts = [start, (x, start[1]), (x, CHANNEL), (src.cx, CHANNEL), (src.cx, src.top)]
            self.rows[s].segments.append(self.segment(e, 0, pts, True, first=True))
            return 1
        if e.exit == "bottom":
            pts = [start, (src.cx, h - CHANNEL), (x, h - CHANNEL), (x, h)]
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

    def arrival(self, t: int, x: float, down: bool, tgt: Symbol) -> list[Point]:
        if down:
            if abs(x - tgt.cx) < 1e-6:
                return [(x, 0.0), (x, tgt.top)]
            return [(x, 0.0), (x, CHANNEL), (tgt.cx, CHANNEL), (tgt.cx, tgt.top)]
        h = self.rows[t].height
        side = "right" if x > tgt.cx else "left"
        if side in self.sides.get((tgt.step, tgt.lane), set()):
            # That side is taken by an arrow of the symbol's own: come in from the top instead.
            return [(x, h), (x, CHANNEL), (tgt.cx, CHANNEL), (tgt.cx, tgt.top)]
        return [(x, h), (x, tgt.cy), (tgt.right if side == "right" else tgt.left, tgt.cy)]


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


# -- progress ---------------------------------------------------------------------------------

def step_state(notes: list[dict[str, str]], lane: str | None = None) -> tuple[str, bool]:
    """A symbol's state from its step's notes, and whether it is late.

    The state is "open" (open or waiting now), else "done" (done at least once), else "".
    Late means the open visit is late, or (when none is open) a done visit was. With *lane*,
    only the notes of that lane's actor count (a multi-actor row has one task per lane).
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


def progress_notes(definition: Definition, step_id: str, progress: dict[str, Any] | None) -> list[dict[str, str]]:
    """What a run has done at one step, as short lines for the Keterangan column.

    Each note is ``{"kind": done|cancelled|open|waiting, "text", "late": "yes" or "", "actor"}``.
    """
    if not progress:
        return []
    zone = progress.get("timezone") or definition.timezone or "Asia/Jakarta"
    step = definition.step(step_id)
    several = step is not None and len(step.lanes) > 1
    names = {a.id: a.name for a in definition.actors}
    notes = []

    def who(entry: dict[str, Any]) -> str:
        return f"{names.get(entry.get('actor') or '', entry.get('actor'))}: " if several and entry.get("actor") else ""

    for visit in progress.get("timeline", []):
        state = visit.get("state") or ("done" if visit.get("closed_at") else "")
        if visit.get("step") != step_id or state not in ("done", "cancelled") or not visit.get("closed_at"):
            continue
        late = (visit.get("late_by") or 0) if state == "done" else 0
        text = who(visit) + ("Done" if state == "done" else "Cancelled") + f" {local_time(visit['closed_at'], zone)}"
        if visit.get("closed_by"):
            text += f" by {visit['closed_by']}"
        if visit.get("outcome"):
            text += f": {visit['outcome']}"
        if late:
            text += f", late by {format_seconds(late)}"
        notes.append({"kind": state, "text": text, "late": "yes" if late else "", "actor": visit.get("actor") or ""})
    for entry in progress.get("open_steps", []):
        if entry.get("step") != step_id:
            continue
        if entry.get("state") == "waiting":
            notes.append({"kind": "waiting", "text": who(entry) + "Waiting for the other branches", "late": "", "actor": entry.get("actor") or ""})
            continue
        late = entry.get("late_by") or 0
        text = who(entry) + "Open"
        if entry.get("due_at"):
            text += f", due {local_time(entry['due_at'], zone)}"
        if late:
            text += f", late by {format_seconds(late)}"
        notes.append({"kind": "open", "text": text, "late": "yes" if late else "", "actor": entry.get("actor") or ""})
    return notes


def local_time(stamp: str, zone: str) -> str:
    """An ISO UTC time ('...Z') shown in the SOP's zone, e.g. '2026-10-01 09:15 WIB'."""
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M ") + (moment.tzname() or "")


def format_seconds(value: Any) -> str:
    """Late-by seconds of office time as '2h 05m' (or '1d 3h' beyond a working day of 8 hours)."""
    if not isinstance(value, (int, float)):
        return str(value)
    minutes = int(value) // 60
    hours, minutes = divmod(minutes, 60)
    if hours >= 8:
        days, hours = divmod(hours, 8)
        return f"{days}d {hours}h" if hours else f"{days}d"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def _dedupe(points: list[Point]) -> list[Point]:
    out: list[Point] = []
    for p in points:
        if not out or abs(out[-1][0] - p[0]) > 1e-6 or abs(out[-1][1] - p[1]) > 1e-6:
            out.append(p)
    if len(out) == 1:
        out.append(out[0])
    return out
