"""The flow of a format-2 definition: tables, rows, symbols and arrows.

The checks of format 1 (:mod:`sopengine.definition.flow`) over the symbol graph: every lane
is a known actor drawn in its table, every arrow points at a symbol of its own table, every
symbol can be reached from the table's start and can reach an end, diamonds have their
exits (an exit the paper does not draw is declared ``drawn: false``), automatic diamonds
name facts the engine knows, the row's waktu reads as a duration, documents come from an
earlier output, from outside or from a party, and the case state rows set is declared.
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Iterator
from typing import Any, Callable

from sopengine.definition.flow import (
    _comes_back,
    _did_you_mean,
    _doc_key,
    _fact_problems,
    _hours_problems,
    actor_and_case_problems,
    duration_problems,
    finishing,
    reach,
)
from sopengine.definition.format2 import DASH, Definition2, Header2, Row, SymbolKind
from sopengine.definition.graph import Placed, resolve, start_symbol, symbol_graph
from sopengine.definition.messages import N_
from sopengine.definition.models import END, is_end, slug
from sopengine.definition.problems import Lines, display_path, lookup_line, make_problem, short
from sopengine.definition.problem import Problem

Err = Callable[..., Problem]


def flow_problems2(d: Definition2, lines: Lines, filename: str, known_sops: set[str] | None = None) -> Iterator[Problem]:
    def err(loc: tuple[Any, ...], message: str, severity: str = "error") -> Problem:
        return make_problem(filename, lookup_line(loc, lines), display_path(loc), message, severity)

    yield from _header_problems(d, err)
    if d.hours is not None:
        yield from _hours_problems(d.hours, err)
    actor_ids = [a.id for a in d.actors]
    names = {a.id for a in d.actors} | {p.id for p in d.parties}
    yield from actor_and_case_problems(d, err)
    for i, p in enumerate(d.parties):
        if p.id in actor_ids or p.id in [x.id for x in d.parties[:i]]:
            yield err(("parties", i, "id"), N_("id {id!r} is already an actor's or a party's; give the party its own id").format(id=p.id))
    case_fields = {c.name: c for c in d.case}
    states = {s.name: s for s in d.state}
    for i, field in enumerate(d.state):
        if field.name in [x.name for x in d.state[:i]]:
            yield err(("state", i, "name"), N_("state {name!r} is declared twice; keep one").format(name=field.name))
        if field.values is not None and field.initial is not None and field.initial not in field.values:
            yield err(("state", i, "initial"), N_("{value} is not one of the state's values; add it to 'values' or fix it").format(value=short(field.initial)))

    # -- tables: ids, lanes, rows ---------------------------------------------------------------
    table_ids = [d.table_id(i) for i in range(len(d.tables))]
    if len(d.tables) > 1:
        for i, t in enumerate(d.tables):
            if t.id is None:
                yield err(("tables", i), N_("an SOP with several tables gives each an 'id' (staff choose it with --table); add 'id:'"))
            elif t.id in table_ids[:i]:
                yield err(("tables", i, "id"), N_("table id {id!r} is used twice; give each table its own id").format(id=t.id))
    for i, t in enumerate(d.tables):
        if t.lanes is not None:
            if len(set(t.lanes)) != len(t.lanes):
                yield err(("tables", i, "lanes"), N_("a lane is named twice; name each lane once, left to right"))
            for j, lane in enumerate(t.lanes):
                if lane not in actor_ids:
                    yield err(("tables", i, "lanes", j), N_("unknown actor {lane!r}{hint}").format(lane=lane, hint=_did_you_mean(lane, actor_ids, N_("declared actors are"))))
        if t.when is not None:
            for fact, value in t.when.items():
                yield from _fact_problems(("tables", i, "when", fact), fact, value, case_fields, err)
        seen_no: dict[str, int] = {}
        for r_i, r in enumerate(t.rows):
            if r.no is not None:
                if r.no in seen_no:
                    yield err(("tables", i, "rows", r_i, "no"), N_("row {no!r} is printed twice in this table; put every symbol of a row under one 'no'").format(no=r.no))
                seen_no.setdefault(r.no, r_i)

    # -- symbols ---------------------------------------------------------------------------------
    graph = symbol_graph(d)
    first_at: dict[str, tuple[int, int, int]] = {}
    for ti, ri, si, s in d.symbols():
        loc = ("tables", ti, "rows", ri, "symbols", si)
        if is_end(s.id):
            yield err(loc + ("id",), N_("symbol id {id!r} is reserved for the end of the process; choose another id").format(id=s.id))
            continue
        if s.id in first_at:
            a = first_at[s.id]
            yield err(loc + ("id",), N_("symbol id {id!r} is used twice (also table {table}, row {row}); give each symbol its own id").format(
                id=s.id, table=a[0] + 1, row=a[1] + 1))
            continue
        first_at[s.id] = (ti, ri, si)
    for ti, ri, si, s in d.symbols():
        if first_at.get(s.id) != (ti, ri, si):
            continue
        loc = ("tables", ti, "rows", ri, "symbols", si)
        placed = graph[s.id]
        row = d.tables[ti].rows[ri]
        lanes = d.lanes(ti)
        if s.lane is None:
            if not s.automatic and placed.task:
                yield err(loc, N_("a symbol that is work stands in a lane; add 'lane: <actor id>' (only an automatic diamond may go without)"))
        elif s.lane not in actor_ids:
            yield err(loc + ("lane",), N_("unknown actor {lane!r}{hint}").format(lane=s.lane, hint=_did_you_mean(s.lane, actor_ids, N_("declared actors are"))))
        elif s.lane not in lanes:
            yield err(loc + ("lane",), N_("lane {lane!r} is not drawn in table {table!r}; add it to the table's 'lanes'").format(lane=s.lane, table=table_ids[ti]))
        if not s.printed and not s.interpretation and not row.interpretation:
            yield err(loc + ("printed",), N_("a symbol the paper does not print is an interpretation; say why it is there in 'interpretation'"))
        if row.band and placed.task and not s.text and not s.automatic:
            yield err(loc, N_("work between rows has no kegiatan; give the symbol its 'text', or put it in a numbered row"))
        if s.kind is SymbolKind.decision:
            yield from _decision_problems(loc, s, case_fields, err)
        if s.waktu is not None or s.duration is not None:
            yield from duration_problems(loc, s.waktu, s.duration, False, err)
        if s.pair is not None:
            other = graph.get(s.pair)
            if other is None or other.symbol.kind is not SymbolKind.connector:
                yield err(loc + ("pair",), N_("no connector {id!r}{hint}").format(
                    id=s.pair, hint=_did_you_mean(s.pair, [x for x, p in graph.items() if p.symbol.kind is SymbolKind.connector], N_("connectors are"))))
            elif s.next is not None:
                yield err(loc + ("next",), N_("a connector with a 'pair' goes on at its pair; remove 'next'"))
        yield from _target_problems(d, graph, placed, loc, err)
        if s.next is not None and isinstance(s.next, list) and len(set(s.next)) != len(s.next):
            yield err(loc + ("next",), N_("the same symbol is named twice in a fork; name each branch once"))
    for ti, t in enumerate(d.tables):
        for ri, r in enumerate(t.rows):
            yield from _row_problems(d, ti, ri, r, graph, states, names, known_sops, err)

    # -- reachability, per table -------------------------------------------------------------------
    if len(first_at) != len(list(d.symbols())):
        return
    if not all(t == END or t in graph for p in graph.values() for t in p.targets):
        return
    edges = {sid: [t for t in p.targets if t != END] for sid, p in graph.items()}
    reverse, can_finish = finishing(edges, {sid for sid, p in graph.items() if END in p.targets})
    for ti in range(len(d.tables)):
        reached = reach(edges, start_symbol(d, ti))
        for ri, r in enumerate(d.tables[ti].rows):
            for si, s in enumerate(r.symbols):
                id_loc = ("tables", ti, "rows", ri, "symbols", si, "id")
                if s.id not in reached:
                    yield err(id_loc, N_("symbol {id!r} can never be reached from the start of its table; draw an arrow to it ('next' or an outcome), or remove it").format(id=s.id))
                elif s.id not in can_finish:
                    yield err(id_loc, N_("from symbol {id!r} the end can never be reached (it only loops); give it a way to '{end}'").format(id=s.id, end=END))
    for sid, placed in graph.items():
        if placed.symbol.join and len(reverse[sid]) < 2:
            yield err(("tables", placed.table, "rows", placed.row, "symbols", placed.place, "join"), N_("a join needs two or more arrows leading into it; remove 'join: true'"))
    automatic = {sid for sid, node in graph.items() if node.symbol.automatic}
    task_edges = {sid: [x for t in node.targets for x in resolve(graph, t) if x != END] for sid, node in graph.items()}
    auto_graph = {sid: [t for t in task_edges[sid] if t in automatic] for sid in automatic}
    for sid in automatic:
        node = graph[sid]
        if _comes_back(auto_graph, sid):
            yield err(("tables", node.table, "rows", node.row, "symbols", node.place, "id"), N_("automatic decision {id!r} can come back to itself through automatic decisions only, which would never stop; "
                         "put a step done by a person in that loop").format(id=sid))
    yield from _join_problems(graph, task_edges, err)
    yield from _input_problems(d, graph, task_edges, err)


def _join_problems(graph: dict[str, Placed], task_edges: dict[str, list[str]], err: Err) -> Iterator[Problem]:
    """Branches of a fork that meet again at a symbol that is not a join: it would open twice."""
    joins = {sid for sid, p in graph.items() if p.symbol.join}

    def ahead(start: str) -> set[str]:
        seen: set[str] = set()
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node in seen:
                continue
            seen.add(node)
            if node not in joins:  # branches stop meeting at a join
                queue.extend(task_edges.get(node, []))
        return seen

    warned: set[str] = set()
    for sid, branches in _fork_branches(graph):
        reaches = [ahead(b) for b in branches]
        for i, a in enumerate(reaches):
            for b in reaches[i + 1:]:
                for meet in sorted((a & b) - joins - warned):
                    if sid in a & b:
                        continue  # a loop back to before the fork, not a meeting of branches
                    p = graph[meet]
                    warned.add(meet)
                    yield err(("tables", p.table, "rows", p.row, "symbols", p.place),
                              N_("branches of the fork at {fork!r} both reach symbol {id!r}, which would open once for each; "
                                 "add 'join: true' where they meet").format(fork=sid, id=meet), "warning")


def _fork_branches(graph: dict[str, Placed]) -> Iterator[tuple[str, list[str]]]:
    """Each fork (a box's arrow or a diamond's exit into several symbols) with its branches' work."""
    for sid, p in graph.items():
        arrows = [o.targets for o in p.symbol.outcomes] if p.symbol.kind is SymbolKind.decision else [p.targets]
        for targets in arrows:
            if len(targets) > 1:
                branches = list(dict.fromkeys(x for t in targets for x in resolve(graph, t) if x != END))
                if len(branches) > 1:
                    yield sid, branches


def _header_problems(d: Definition2, err: Err) -> Iterator[Problem]:
    fields = [name for name in Header2.model_fields if name not in ("labels", "extra", "markers")]
    lists = [name for name, f in Header2.model_fields.items() if f.annotation == list[str]]
    for key in d.header.labels:
        if key not in fields:
            yield err(("header", "labels", key), N_("{key!r} is not a header field{hint}").format(key=key, hint=_did_you_mean(key, fields, N_("header fields are"))))
    for key in d.header.extra:
        if key in fields:
            yield err(("header", "extra", key), N_("{key!r} is a header field; write it under 'header:' itself, not under 'extra'").format(key=key))
    for key in d.header.markers:
        if key not in lists:
            yield err(("header", "markers", key), N_("{key!r} is not a header list{hint}").format(key=key, hint=_did_you_mean(key, lists, N_("header lists are"))))


def _decision_problems(loc: tuple[Any, ...], s: Any, case_fields: dict[str, Any], err: Err) -> Iterator[Problem]:
    drawn = [o for o in s.outcomes if o.drawn]
    if not s.outcomes:
        yield err(loc + ("outcomes",), N_("a diamond needs its exits; add 'outcomes:' with the arrows drawn (label: as printed, name: where none is printed)"))
        return
    if len(s.outcomes) < 2 and not s.automatic:
        yield err(loc + ("outcomes",), N_("a diamond with one drawn exit declares what its other exit does; add e.g. '{name: Tidak, drawn: false, next: selesai}' "
                  "(not drawn on paper, the run ends there)"))
    if not drawn and not s.automatic:
        yield err(loc + ("outcomes",), N_("no exit of this diamond is drawn; mark the exits the paper draws (drawn is true by default)"))
    seen: set[str] = set()
    for j, o in enumerate(s.outcomes):
        key = slug(o.title)
        field = "label" if o.label is not None else "name"
        if not key:
            yield err(loc + ("outcomes", j, field), N_("outcome {name!r} has no letters or digits; name it as the SOP does (Ya, Tidak ...)").format(name=o.title))
        elif key in seen:
            yield err(loc + ("outcomes", j, field), N_("outcome {name!r} is given twice; an arrow that forks lists its targets in one 'next: [a, b]'").format(name=o.title))
        seen.add(key)
        if isinstance(o.next, list):
            if not o.next:
                yield err(loc + ("outcomes", j, "next"), N_("an empty list goes nowhere; give one symbol id, several to fork, or 'selesai'"))
            if any(is_end(t) for t in o.next) and len(o.next) > 1:
                yield err(loc + ("outcomes", j, "next"), N_("a fork's branch cannot be the end; each branch goes to a symbol (a branch that ends just has no arrow out)"))
            if len(set(o.next)) != len(o.next):
                yield err(loc + ("outcomes", j, "next"), N_("the same symbol is named twice in a fork; name each branch once"))
        if not s.automatic and o.when is not None:
            yield err(loc + ("outcomes", j, "when"), N_("only an automatic decision has 'when'; add 'automatic: true' to the symbol or remove 'when'"))
    if not s.automatic:
        return
    otherwise = [j for j, o in enumerate(s.outcomes) if o.when == "otherwise"]
    for j, o in enumerate(s.outcomes):
        if o.when is None:
            yield err(loc + ("outcomes", j), N_("an automatic decision needs 'when' on every outcome; add 'when: {fact: value}', or 'when: otherwise' on the last one"))
        elif isinstance(o.when, dict):
            if not o.when:
                yield err(loc + ("outcomes", j, "when"), N_("'when' needs at least one fact, e.g. {period.ends_year: true}; or write 'when: otherwise'"))
            for fact, value in o.when.items():
                yield from _fact_problems(loc + ("outcomes", j, "when", fact), fact, value, case_fields, err)
    if len(otherwise) > 1 or (otherwise and otherwise[0] != len(s.outcomes) - 1):
        yield err(loc + ("outcomes", otherwise[0], "when"), N_("'otherwise' may be used once, on the last outcome; move it there"))
    elif not otherwise and len(s.outcomes) >= 2:
        yield err(loc + ("outcomes",), N_("when none of the facts hold no outcome applies and the run would stop; give the last outcome 'when: otherwise'"), "warning")


def _target_problems(d: Definition2, graph: dict[str, Placed], placed: Placed, loc: tuple[Any, ...], err: Err) -> Iterator[Problem]:
    s = placed.symbol
    pairs: list[tuple[tuple[Any, ...], str]] = []
    if s.kind is SymbolKind.decision:
        pairs = [(loc + ("outcomes", j, "next"), t) for j, o in enumerate(s.outcomes) for t in o.targets]
    elif s.next is not None:
        pairs = [(loc + ("next",), t) for t in (s.targets or [])]
        if isinstance(s.next, list):
            if not s.next:
                yield err(loc + ("next",), N_("an empty list goes nowhere; give one symbol id, several to fork, or 'selesai'"))
            elif any(is_end(t) for t in s.next) and len(s.next) > 1:
                yield err(loc + ("next",), N_("a fork's branch cannot be the end; each branch goes to a symbol"))
    numbers: dict[str, list[str]] = {}
    for r in d.tables[placed.table].rows:
        if r.no is not None:
            numbers[r.no] = [x.id for x in r.symbols]
    for where, t in pairs:
        if is_end(t):
            continue
        if t not in graph:
            if t in numbers:
                yield err(where, N_("{target!r} is a row number; arrows go to a symbol: {ids}").format(
                    target=t, ids=", ".join(repr(x) for x in numbers[t])))
                continue
            hint = difflib.get_close_matches(t, list(graph), n=1)
            if hint:
                yield err(where, N_("no symbol {id!r}; did you mean {name!r}?").format(id=t, name=hint[0]))
            else:
                yield err(where, N_("no symbol {id!r}; use a symbol id, or '{end}' to end the process").format(id=t, end=END))
        elif graph[t].table != placed.table:
            yield err(where, N_("symbol {id!r} is in another table; an arrow stays in its own table").format(id=t))


def _row_problems(d: Definition2, ti: int, ri: int, r: Row, graph: dict[str, Placed], states: dict[str, Any],
                  names: set[str], known_sops: set[str] | None, err: Err) -> Iterator[Problem]:
    loc = ("tables", ti, "rows", ri)
    own_time = [s for s in r.symbols if s.waktu is not None or s.duration is not None]
    needs_row_time = any(graph[s.id].task and not s.automatic and s not in own_time for s in r.symbols if s.id in graph)
    if not r.band:
        if r.waktu is not None and r.waktu.strip() == DASH and r.duration is None:
            pass  # a dash as printed: no standard time, no warning
        elif r.waktu is not None or r.duration is not None or r.untimed:
            yield from duration_problems(loc, r.waktu, r.duration, r.untimed, err)
        elif needs_row_time:
            yield err(loc, N_("the row has no waktu; give the SOP's waktu, '-' as printed, or 'untimed: true' if it has none"))
    for key, value in r.sets.items():
        spec = states.get(key)
        if spec is None:
            yield err(loc + ("sets", key), N_("state {key!r} is not declared; add it under 'state:' (name: {key})").format(key=key))
        elif spec.values is not None and value not in spec.values:
            yield err(loc + ("sets", key), N_("{value} is not one of the values of {key!r} ({values}); use one of them").format(
                value=short(value), key=key, values=", ".join(map(str, spec.values))))
    for field in ("kelengkapan", "output"):
        for j, doc in enumerate(getattr(r, field)):
            for side in ("from_", "to"):
                who = getattr(doc, side, None)
                if who is not None and who not in names:
                    yield err(loc + (field, j, side.rstrip("_")), N_("no actor or party {name!r}; declare it under 'parties:'{hint}").format(
                        name=who, hint=_did_you_mean(who, sorted(names), N_("known are"))))
            if field == "output" and doc.from_ is not None:
                yield err(loc + (field, j, "from"), N_("'from' is for kelengkapan (where a document comes from); an output names where it goes with 'to'"))
            if field == "kelengkapan" and doc.to is not None:
                yield err(loc + (field, j, "to"), N_("'to' is for outputs (where a document goes); kelengkapan names where it comes from with 'from'"))
            if doc.external and doc.produced_by is not None:
                yield err(loc + (field, j), N_("a document is either 'external' or 'produced_by' a symbol, not both; remove one"))
            if field == "output" and doc.external:
                yield err(loc + (field, j, "external"), N_("'external' is for kelengkapan; remove it from the output"))
            if field == "kelengkapan" and doc.required:
                yield err(loc + (field, j, "required"), N_("'required' is for outputs (a file the row must attach); remove it from the kelengkapan"))
            if doc.produced_by is not None:
                if field == "output":
                    yield err(loc + (field, j, "produced_by"), N_("'produced_by' is for kelengkapan; remove it from the output"))
                elif doc.produced_by not in graph:
                    yield err(loc + (field, j, "produced_by"), N_("no symbol {id!r}{hint}").format(
                        id=doc.produced_by, hint=_did_you_mean(doc.produced_by, list(graph), N_("symbol ids are"))))
    if r.handover is not None and known_sops is not None and r.handover.sop not in known_sops:
        yield err(loc + ("handover", "sop"), N_("no definition {sop!r} is known; write the other SOP's id (definitions found: {found}), "
                     "or keep the name as printed if it is not run here").format(
            sop=r.handover.sop, found=", ".join(sorted(known_sops)) or N_("none")), "warning")


def _input_problems(d: Definition2, graph: dict[str, Placed], task_edges: dict[str, list[str]], err: Err) -> Iterator[Problem]:
    """Kelengkapan comes from an earlier output of its table, from outside, or from a party."""
    for ti, t in enumerate(d.tables):
        produced: set[str] = set()
        for ri, r in enumerate(t.rows):
            for j, doc in enumerate(r.kelengkapan):
                loc = ("tables", ti, "rows", ri, "kelengkapan", j)
                if doc.name.strip() == DASH or doc.external or doc.from_ is not None:
                    continue
                if doc.produced_by is not None:
                    src = graph.get(doc.produced_by)
                    if src is not None and not any(x in reach(task_edges, doc.produced_by) - {doc.produced_by} or x == doc.produced_by
                                                   for x in [s.id for s in r.symbols]):
                        yield err(loc + ("produced_by",), N_("symbol {id!r} never leads to row {row}, so it cannot produce this; name a symbol before it").format(
                            id=doc.produced_by, row=r.no or ri + 1))
                    continue
                if _doc_key(doc.name) not in produced:
                    yield err(loc, N_("{name!r} is not an output of an earlier row; mark it 'external: true' if it comes from outside "
                                      "(or 'from: <party>'), or name its symbol with 'produced_by'").format(name=doc.name), "warning")
            produced.update(_doc_key(o.name) for o in r.output)
