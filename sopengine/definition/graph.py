"""The symbol graph of a format-2 definition: where each symbol's arrows go, and which are work.

Both the flow checks and the compiler read a definition through :func:`symbol_graph`, so
that the defaults — an arrow not written goes to the next symbol drawn, a terminator is work
only when nothing else in its row is — are decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from sopengine.definition.format2 import WORK_KINDS, Definition2, Row, Symbol, SymbolKind
from sopengine.definition.models import END, is_end


@dataclass(frozen=True)
class Placed:
    """A symbol with where it stands and where its arrows go (as written or by default)."""

    symbol: Symbol
    table: int
    row: int
    place: int
    targets: list[str]  # symbol ids or END; a decision's are its outcomes' targets, in order
    task: bool  # work someone (or the engine) records; otherwise the flow passes through it

    @property
    def key(self) -> tuple[str, int, int]:
        return ("tables", self.table, self.row)


def is_task(symbol: Symbol, row: Row) -> bool:
    """Is *symbol* work? As written (``task``), else by its kind and its row."""
    if symbol.task is not None:
        return symbol.task
    if symbol.kind in WORK_KINDS:
        return True
    if symbol.kind in (SymbolKind.start, SymbolKind.end):
        # A terminator carries its row's work when it is the row's only working symbol.
        return not row.band and not any(s is not symbol and s.kind in WORK_KINDS and s.task is not False for s in row.symbols)
    return False


def default_next(d: Definition2, ti: int, ri: int, si: int) -> str:
    """The symbol drawn after this one: the next in its row, else the first of the next row."""
    rows = d.tables[ti].rows
    if si + 1 < len(rows[ri].symbols):
        return rows[ri].symbols[si + 1].id
    if ri + 1 < len(rows):
        return rows[ri + 1].symbols[0].id
    return END


def symbol_graph(d: Definition2) -> dict[str, Placed]:
    """Every symbol by id (the first one where an id is used twice), in the order printed."""
    out: dict[str, Placed] = {}
    for ti, t in enumerate(d.tables):
        for ri, r in enumerate(t.rows):
            for si, s in enumerate(r.symbols):
                if s.id in out:
                    continue
                if s.kind is SymbolKind.decision:
                    targets = [END if is_end(x) else x for o in s.outcomes for x in o.targets]
                elif s.kind is SymbolKind.end:
                    targets = [END]
                elif s.pair is not None:
                    targets = [s.pair]
                elif s.next is not None:
                    targets = [END if is_end(x) else x for x in (s.targets or [])]
                else:
                    targets = [default_next(d, ti, ri, si)]
                out[s.id] = Placed(s, ti, ri, si, targets, is_task(s, r))
    return out


def start_symbol(d: Definition2, ti: int) -> str:
    """Where a run of table *ti* begins: its start terminator, else its first symbol."""
    t = d.tables[ti]
    for r in t.rows:
        for s in r.symbols:
            if s.kind is SymbolKind.start:
                return s.id
    return t.rows[0].symbols[0].id


def resolve(graph: dict[str, Placed], target: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """The work symbols (or END) an arrow into *target* reaches, passing through markers."""
    if target == END or target not in graph:
        return [target]
    placed = graph[target]
    if placed.task:
        return [target]
    if target in seen:  # markers pointing at each other only: the flow ends there
        return [END]
    out: list[str] = []
    for t in placed.targets:
        for x in resolve(graph, t, seen | {target}):
            if x not in out:
                out.append(x)
    return out or [END]
