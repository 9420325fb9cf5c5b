"""The compiled form of a format-2 definition: the symbols that are work, as the engine runs them.

The engine's unit is the *step*; in format 2 a step is a symbol that is work (a box, a
diamond, a document, a terminator that carries its row's work). Terminators that only mark
the flow and connectors are passed through here: an arrow into them leads straight on to
the work they point at. Each step keeps its row (printed number, cells), its table and its
lane, and whether its due time is the row's (one due time for the row's symbols) or its own.
Keys of format 1's compiled form keep their meaning; format 2 only adds keys.
"""

from __future__ import annotations

from typing import Any

from sopengine.definition.flow import reach
from sopengine.definition.format2 import DASH, Definition2, SymbolKind
from sopengine.definition.graph import resolve, start_symbol, symbol_graph
from sopengine.definition.models import END, slug
from sopengine.definition.durations import parse_duration


def _parsed(text: str | None) -> dict | None:
    if not text or text.strip() == DASH:
        return None
    try:
        return parse_duration(text)
    except ValueError:
        return None


def row_key(table_id: str, index: int) -> str:
    """A row's key in the compiled form: its table and its place (``utama/6``), unique per definition."""
    return f"{table_id}/{index + 1}"


def compile_format2(d: Definition2, text_hash: str) -> dict[str, Any]:
    graph = symbol_graph(d)
    steps: dict[str, Any] = {}
    rows: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    order: list[str] = []
    for ti, t in enumerate(d.tables):
        tid = d.table_id(ti)
        # where a run of this table begins: its start terminator, or the work it leads to
        first = resolve(graph, start_symbol(d, ti))
        tables[tid] = {
            "title": t.title,
            "lanes": d.lanes(ti),
            "when": t.when,
            "first": first,
            "rows": [],
        }
        for ri, r in enumerate(t.rows):
            rk = row_key(tid, ri)
            tables[tid]["rows"].append(rk)
            row_duration = None if r.untimed else (_parsed(r.duration) or _parsed(r.waktu))
            row_symbols = [s.id for s in r.symbols if graph[s.id].task]
            rows[rk] = {
                "no": r.no,
                "table": tid,
                "kegiatan": r.kegiatan,
                "waktu": r.waktu,
                "duration": row_duration,
                "untimed": r.untimed or (r.waktu is not None and r.waktu.strip() == DASH and r.duration is None),
                "symbols": row_symbols,
                "sets": dict(r.sets),
                "handover": r.handover.model_dump() if r.handover else None,
            }
            inputs = [x for x in r.kelengkapan if x.name.strip() != DASH]
            outputs = [x for x in r.output if x.name.strip() != DASH]
            for s in r.symbols:
                placed = graph[s.id]
                if not placed.task:
                    continue
                order.append(s.id)
                own = s.duration or s.waktu
                targets = [x for t_ in placed.targets for x in resolve(graph, t_)]

                def onward(dests: list[str], ri: int = ri, ti: int = ti) -> bool:
                    """Does the flow go on past this row (to a later row, or to the end)?"""
                    return all(x == END or (graph[x].table == ti and graph[x].row > ri) for x in dests)

                leaves = onward(targets)
                step: dict[str, Any] = {
                    "no": r.no,
                    "kegiatan": r.kegiatan if r.kegiatan is not None else s.text,
                    "kind": "decision" if s.kind is SymbolKind.decision else "process",
                    "lanes": [s.lane] if s.lane else [],
                    "waktu": s.waktu if own else r.waktu,
                    "duration": _parsed(s.duration) or _parsed(s.waktu) if own else row_duration,
                    "untimed": False if own else rows[rk]["untimed"],
                    "inputs": [x.name for x in inputs],
                    "input_sources": {x.name: ("external" if x.external or x.from_ else x.produced_by) for x in inputs},
                    "outputs": [{"name": x.name, "required": x.required and leaves} for x in outputs],
                    "next": _dedupe(targets) if s.kind is not SymbolKind.decision else [],
                    "join": s.join,
                    "automatic": s.automatic,
                    "outcomes": [],
                    "handover": rows[rk]["handover"],
                    "keterangan": r.keterangan,
                    # format 2
                    "row": rk,
                    "table": tid,
                    "shape": s.kind.value,
                    "text": s.text,
                    "row_timed": not own,
                    # the case state the row changes is recorded when the work goes on past the row,
                    # not on a return or on an arrow the paper does not draw
                    "sets": dict(r.sets) if leaves and s.drawn else {},
                    "drawn": s.drawn,
                }
                for o in s.outcomes:
                    dests = _dedupe([x for t_ in o.targets for x in resolve(graph, t_)])
                    step["outcomes"].append({
                        "name": o.title, "key": slug(o.title), "next": dests[0], "spawn": dests[1:],
                        "when": o.when, "drawn": o.drawn, "printed": o.label is not None,
                        # the row's state is set when the outcome takes the work on past the row
                        "leaves": onward(dests) and o.drawn,
                    })
                if s.kind is SymbolKind.decision:
                    step["sets"] = dict(r.sets)
                steps[s.id] = step
    task_graph = {sid: [x for x in st["next"] + [o["next"] for o in st["outcomes"]] + [y for o in st["outcomes"] for y in o["spawn"]] if x != END]
                  for sid, st in steps.items()}
    first_table = d.table_id(0)
    return {
        "format": 2,
        "id": d.id,
        "title": d.title,
        "hash": text_hash,
        "timezone": d.timezone,
        "hours": d.hours,
        "deadline": parse_duration(d.deadline) if d.deadline else None,
        "deadline_text": d.deadline,
        "actors": {a.id: {"name": a.name, "kind": a.kind.value, "alternatives": a.alternatives} for a in d.actors},
        "parties": {p.id: {"name": p.name} for p in d.parties},
        "case": {c.name: {"type": c.type.value, "values": c.values, "required": c.required} for c in d.case},
        "state": {s.name: {"initial": s.initial, "values": s.values} for s in d.state},
        "steps": steps,
        "rows": rows,
        "tables": tables,
        "table_order": [d.table_id(i) for i in range(len(d.tables))],
        "order": order,
        "first": tables[first_table]["first"][0],
        "reach": {sid: sorted(reach(task_graph, sid) - {sid}) for sid in task_graph},
    }


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for x in items:
        if x not in out:
            out.append(x)
    return out
