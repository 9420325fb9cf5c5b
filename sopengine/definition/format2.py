"""Format 2: the SOP's table as printed and its flowchart as drawn.

A signed SOP AP has two layers. The **table** has rows — *No*, *Kegiatan*, the *Mutu Baku*
cells (Kelengkapan, Waktu, Output) and *Keterangan* — and a **flowchart** is drawn across it:
symbols in the *pelaksana* lanes, arrows between them, labelled where the paper prints a
label. Format 2 keeps both, so an admin copies what is printed and what is drawn, nothing
invented and nothing dropped:

- a definition has one or more :class:`Table` (one per variant, e.g. per budget account);
- a table has its own lanes, column labels, footnotes and :class:`Row` list, numbered as
  printed (``"6"``, ``"1a"``);
- a row carries its printed cells and one or more :class:`Symbol`; a band without a number
  holds symbols that stand between rows (connector pairs, gates);
- a symbol has a kind, a lane, the text inside its shape and its arrows (``next`` for a box,
  ``outcomes`` for a diamond); an arrow may fork into several symbols, carry a printed
  ``label`` or an unprinted ``name``, and a diamond's exit that the paper does not draw is
  declared with ``drawn: false``.

Shared pieces (header, actors, case data, documents) are format 1's models.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from sopengine.definition.durations import DurationError, parse_duration
from sopengine.definition.messages import N_
from sopengine.definition.models import (
    ID_PATTERN,
    Actor,
    CaseField,
    Condition,
    Document,
    Handover,
    Header,
    Id,
    _documents,
    _target_text,
)

DASH = "-"
"""A cell printed as a dash: kept as printed, it names no document and no time."""


# A required field's description is marked for the catalogue (N_): the message of a missing
# field shows it in the language in force. The JSON Schema keeps the English.
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Marker(str, Enum):
    """How a header list's items are marked on paper."""

    numbers = "1."  # 1. 2. 3.
    numbers_paren = "1)"  # 1) 2) 3)
    letters = "a."  # a. b. c.
    dash = "-"  # - item
    bullet = "•"  # • item
    none = ""  # no marker


class Header2(Header):
    """The header of format 2: a field left out is not on the paper and is never printed;
    a field given blank (``tanggal_revisi:``) is printed as a blank box."""

    markers: dict[str, Marker] = Field(
        {}, description="How a list's items are marked on paper, per field: '1.', '1)', 'a.', '-', '•' or '' (none); default '1.'"
    )


class Party(_Model):
    """A party the SOP names without a lane: the applicant, another agency, TNI/Polri."""

    id: Id = Field(description=N_("Short id that documents use in 'from' and 'to'"))
    name: str = Field(min_length=1, description=N_("As the SOP names it"))
    description: str | None = None


class SymbolKind(str, Enum):
    start = "start"  # terminator: where the flow begins ("Mulai")
    end = "end"  # terminator: where the flow ends ("Selesai")
    process = "process"  # a box: work done in the lane
    decision = "decision"  # a diamond: one of its exits is taken
    document = "document"  # a document shape (an archive, a report)
    connector = "connector"  # an off-page connector: the flow goes on at its pair
    manual = "manual"  # a manual operation (trapezium)
    other = "other"  # any other shape seen on paper: say which in 'shape'


WORK_KINDS = {SymbolKind.process, SymbolKind.decision, SymbolKind.document, SymbolKind.manual, SymbolKind.other}
"""Kinds that are work for their lane by default; terminators and connectors only mark the flow."""

Targets = str | list[str]


class Outcome2(_Model):
    """One exit of a diamond: an arrow (or several, forking) with its printed label or its name."""

    label: str | None = Field(None, min_length=1, description="The label printed on the arrow (Ya, Tidak, Lengkap)")
    name: str | None = Field(None, min_length=1, description="The outcome's name where the paper prints no label")
    meaning: str | None = Field(None, description="What the outcome means, e.g. 'setuju'")
    next: Targets = Field(description=N_("Symbol id(s) the arrow goes to (a list forks), or 'selesai'"))
    drawn: StrictBool = Field(True, description="false: the paper draws no such exit; declared so the run knows what to do")
    when: Condition | Literal["otherwise"] | None = Field(
        None, description="Automatic decisions: facts that must all hold, or 'otherwise'"
    )

    @field_validator("next", mode="before")
    @classmethod
    def _row_number(cls, value: Any) -> Any:
        return _target_text(value)

    @model_validator(mode="after")
    def _named(self) -> Outcome2:
        if self.label is None and self.name is None:
            raise ValueError(N_("an outcome needs 'label' (printed on the arrow) or 'name' (when the paper prints none)"))
        if self.label is not None and self.name is not None:
            raise ValueError(N_("give 'label' (printed on the arrow) or 'name' (not printed), not both"))
        if not self.drawn and self.label is not None:
            raise ValueError(N_("an exit the paper does not draw has no printed label; write 'name:' instead of 'label:'"))
        return self

    @property
    def title(self) -> str:
        """The outcome as staff choose it: the printed label, or the name."""
        return self.label or self.name or ""

    @property
    def targets(self) -> list[str]:
        return [self.next] if isinstance(self.next, str) else list(self.next)


class Symbol(_Model):
    """One symbol drawn in a lane: a terminator, a box, a diamond, a document, a connector."""

    id: Id = Field(description=N_("Short id, unique in the definition; arrows and '--step' use it"))
    kind: SymbolKind = Field(description=N_("start, end, process, decision, document, connector, manual or other"))
    lane: str | None = Field(None, description="Actor id of the lane the symbol stands in")
    text: str | None = Field(None, description="Text printed inside the shape: a diamond's question, 'Mulai', 'Selesai'")
    shape: str | None = Field(None, description="kind 'other': the shape as seen on paper, e.g. 'dashed box'")
    task: StrictBool | None = Field(
        None, description="Is the symbol work someone records? Default: boxes, diamonds and documents are; "
        "terminators are only when no other symbol of the row is; connectors never"
    )
    next: Targets | None = Field(
        None, description="Where the arrow goes: symbol id(s) (a list forks) or 'selesai'; default the next symbol drawn"
    )
    label: str | None = Field(None, description="A label printed on the arrow of a box")
    drawn: StrictBool = Field(True, description="false: the paper draws no arrow out of this symbol; 'next' is the office's declaration")
    printed: StrictBool = Field(
        True, description="false: the symbol is not on the paper; the office added it to run the SOP (say why in 'interpretation')"
    )
    pair: str | None = Field(None, description="Connectors: the id of the connector where the flow goes on")
    join: StrictBool = Field(False, description="Wait until every branch that can reach this symbol arrives")
    outcomes: list[Outcome2] = []
    automatic: StrictBool = Field(False, description="Decisions: the engine decides by the outcomes' 'when'")
    waktu: str | None = Field(None, description="This symbol's own standard time, as printed; default the row's")
    duration: str | None = Field(None, description="A parsable duration used instead of the symbol's waktu")
    interpretation: str | None = Field(None, description="Where placing this symbol is interpretation")

    @field_validator("next", mode="before")
    @classmethod
    def _row_numbers(cls, value: Any) -> Any:
        return _target_text(value)

    @field_validator("text", "waktu", "duration", mode="before", json_schema_input_type=str | int | float | None)
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @property
    def targets(self) -> list[str] | None:
        if self.next is None:
            return None
        return [self.next] if isinstance(self.next, str) else list(self.next)

    @model_validator(mode="after")
    def _shape(self) -> Symbol:
        k = self.kind
        if k is SymbolKind.decision:
            if self.next is not None:
                raise ValueError(N_("a diamond goes on through its outcomes; remove 'next'"))
            if self.label is not None:
                raise ValueError(N_("a diamond's arrows carry their labels in 'outcomes'; remove 'label'"))
            if self.join:
                raise ValueError(N_("a diamond cannot be a join; put the join on the box before it"))
        else:
            if self.outcomes:
                raise ValueError(N_("only a diamond has outcomes; write 'kind: decision'"))
            if self.automatic:
                raise ValueError(N_("only a diamond can be automatic; write 'kind: decision'"))
        if k is SymbolKind.end and self.next is not None:
            raise ValueError(N_("an end terminator ends the flow; remove 'next'"))
        if k is SymbolKind.connector:
            if self.task:
                raise ValueError(N_("a connector only carries the flow on; remove 'task'"))
        elif self.pair is not None:
            raise ValueError(N_("only a connector has a 'pair'"))
        if k is SymbolKind.other and not self.shape:
            raise ValueError(N_("kind 'other' needs 'shape': the shape as seen on paper"))
        if self.task is False and k is SymbolKind.decision:
            raise ValueError(N_("a diamond is always taken by someone or by the engine; remove 'task: false'"))
        return self


class Document2(Document):
    """A document in a row's Kelengkapan or Output; it may name the party it comes from or goes to."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True)

    from_: str | None = Field(None, alias="from", description="Kelengkapan: the actor or party it comes from")
    to: str | None = Field(None, description="Output: the actor or party it goes to")


Documents = Annotated[list[Document2], Field(description="Documents as printed; '-' where the cell prints a dash")]


def _cell_documents(value: Any) -> Any:
    # "-" as printed stays "-": renders print it, checks and runs skip it (it names no document).
    return _documents(value)


class Row(_Model):
    """One row of the table as printed, or (without ``no`` and ``kegiatan``) a band between rows."""

    no: str | None = Field(None, description="The row number as printed: '6', '1a', '12'; none for a band between rows")
    kegiatan: str | None = Field(None, description="The activity, verbatim")
    kelengkapan: Documents = []
    waktu: str | None = Field(None, description="The row's standard time as printed; one due time for its symbols")
    duration: str | None = Field(None, description="A parsable duration used instead of waktu")
    untimed: StrictBool = Field(False, description="waktu is a window, not a duration: no due time")
    output: Documents = []
    keterangan: str | None = None
    sets: dict[str, str | int | float | bool] = Field(
        {}, description="Case state the row changes, recorded when the row is done: state name -> value"
    )
    handover: Handover | None = None
    interpretation: str | None = None
    symbols: list[Symbol] = Field(min_length=1, description=N_("The symbols drawn in the row, left to right, top to bottom"))

    @field_validator("kelengkapan", "output", mode="before", json_schema_input_type=list[str | Document2] | str | None)
    @classmethod
    def _docs(cls, value: Any) -> Any:
        return _cell_documents(value)

    @field_validator("no", "waktu", "duration", "keterangan", "kegiatan", mode="before",
                     json_schema_input_type=str | int | float | None)
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @property
    def band(self) -> bool:
        """A band between rows: symbols with no row number and no kegiatan."""
        return self.no is None and self.kegiatan is None

    @property
    def parsed_duration(self) -> dict | None:
        text = self.duration or self.waktu
        if self.untimed or not text or text.strip() == DASH:
            return None
        try:
            return parse_duration(text)
        except ValueError:
            return None

    @model_validator(mode="after")
    def _shape(self) -> Row:
        if self.no is None and self.kegiatan is not None:
            raise ValueError(N_("a row with a kegiatan needs its number as printed; add 'no:' (a band between rows has neither)"))
        if self.no is not None and self.kegiatan is None:
            raise ValueError(N_("a numbered row needs its 'kegiatan', verbatim"))
        if self.band and (self.kelengkapan or self.output or self.waktu or self.sets or self.handover
                          or self.keterangan is not None or self.duration or self.untimed):
            raise ValueError(N_("a band between rows has no cells; give it 'no:' and 'kegiatan:' if the SOP prints it as a row"))
        return self


class Columns(_Model):
    """The table's column labels as printed, where they differ from the usual ones."""

    no: str | None = None
    kegiatan: str | None = Field(None, description="e.g. 'Uraian Prosedur'")
    pelaksana: str | None = None
    mutu_baku: str | None = Field(None, description="e.g. 'Mutu Buku' as printed")
    kelengkapan: str | None = Field(None, description="e.g. 'Persyaratan/Kelengkapan'")
    waktu: str | None = None
    output: str | None = None
    keterangan: str | None = Field(None, description="e.g. 'Ket'")


class Table(_Model):
    """One table of the SOP: its title, lanes, column labels, rows and footnotes."""

    id: Id | None = Field(None, description="Short id, needed when the SOP has several tables; staff give it with --table")
    title: str | None = Field(None, description="The table's title as printed, if any")
    when: Condition | None = Field(None, description="Case facts that choose this table when a run starts")
    lanes: list[str] | None = Field(None, description="The lanes drawn, left to right (actor ids); default every actor")
    columns: Columns = Columns()
    keterangan_column: StrictBool | None = Field(
        None, description="Does the table print a Keterangan column? Default: when some row has keterangan"
    )
    rows: list[Row] = Field(min_length=1)
    footnotes: list[str] = Field([], description="Notes printed under the table, verbatim ('*) Kelengkapan ...')")

    @field_validator("footnotes", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value


class StateField(_Model):
    """Case state that rows change (a licence 'belum efektif' -> 'berlaku efektif')."""

    name: Id = Field(description=N_("Used in a row's 'sets'"))
    initial: str | int | float | bool | None = Field(None, description="The value when a run starts")
    values: list[str | int | float | bool] | None = Field(None, description="Allowed values")
    description: str | None = None


class Definition2(_Model):
    """One SOP in format 2: header, lanes, parties, case data and tables of rows and symbols."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, title="sopengine SOP definition (format 2)")

    format: Literal[2] = Field(description=N_("Version of this file format: 2"))
    id: Id = Field(description=N_("Equals the file name without .yaml"))
    title: str = Field(min_length=1, description=N_("Short title of the SOP"))
    header: Header2 = Header2()
    timezone: str | None = Field(None, description="IANA zone, default from the calendar (Asia/Jakarta)")
    hours: dict[str, str | None] | None = Field(None, description="Office hours per weekday, overriding the calendar")
    deadline: str | None = Field(None, description="Process-level deadline, e.g. 'Paling lambat 17 hari kerja'")
    case: list[CaseField] = []
    state: list[StateField] = Field([], description="Case state that rows change, recorded when the row is done")
    actors: list[Actor] = Field(min_length=1, description=N_("Every lane of every table (pelaksana), left to right"))
    parties: list[Party] = Field([], description="Parties named without a lane")
    tables: list[Table] = Field(min_length=1, description=N_("The SOP's tables, in order"))

    _zone = field_validator("timezone")(lambda cls, v: _check_zone(v))
    _deadline = field_validator("deadline")(lambda cls, v: _check_deadline(v))

    def actor(self, actor_id: str) -> Actor | None:
        return next((a for a in self.actors if a.id == actor_id), None)

    def table_id(self, index: int) -> str:
        """A table's id: as written, or ``utama`` for the one table of a single-table SOP."""
        t = self.tables[index]
        return t.id or ("utama" if len(self.tables) == 1 else f"tabel-{index + 1}")

    def lanes(self, index: int) -> list[str]:
        t = self.tables[index]
        return list(t.lanes) if t.lanes is not None else [a.id for a in self.actors]

    def symbols(self) -> list[tuple[int, int, int, Symbol]]:
        """Every symbol with its table, row and place, in the order printed."""
        return [(ti, ri, si, s) for ti, t in enumerate(self.tables) for ri, r in enumerate(t.rows) for si, s in enumerate(r.symbols)]


def _check_zone(value: str | None) -> str | None:
    if value is None:
        return value
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from sopengine.clock import zone_name

    try:
        return ZoneInfo(zone_name(value)).key
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(N_("unknown time zone {zone!r}; use an IANA name such as Asia/Jakarta, or WIB, WITA, WIT").format(zone=value)) from None


def _check_deadline(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_duration(value)
        except DurationError as exc:
            raise ValueError(N_("{error}; a deadline is one duration, e.g. 'Paling lambat 17 hari kerja'").format(error=exc.message)) from None
    return value


__all__ = [
    "DASH",
    "ID_PATTERN",
    "WORK_KINDS",
    "Columns",
    "Definition2",
    "Header2",
    "Marker",
    "Outcome2",
    "Party",
    "Row",
    "StateField",
    "Symbol",
    "SymbolKind",
    "Table",
]
