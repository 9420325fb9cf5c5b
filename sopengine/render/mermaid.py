"""The SOP's flowchart as Mermaid text: one flowchart, a lane (subgraph) per actor.

``transitions`` can draw its machine as a state diagram, but an SOP reader wants the
swim lanes of the paper table: so this writes a ``flowchart TD`` itself, drawing what the
paper draws. An SOP with several tables gets one subgraph per table, with that table's
lanes inside it. Shapes follow the SOP AP symbols: a stadium for a terminator, a box for a
process, a rhombus for a decision, Mermaid's document shape for a document, a trapezium for
a manual operation, a circle for a connector and a plain box for any other shape. A node
shows the text printed inside its shape, else its row's number and kegiatan. Arrows carry
a label only where the paper prints one; arrows the paper does not draw are left out, and
a connector draws no line to its pair. A diamond's drawn exit to the end of the process
ends at a small stop point. A symbol the paper does not have (``printed: false``) is a dashed
grey node (class ``unprinted``), and the arrows into and out of it are dotted.

Every text goes through :func:`mermaid_text`: Mermaid reads quotes, brackets and ``<``
specially, so they are written as Mermaid's entity codes (``#quot;``, ``#lt;`` ...).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sopengine.definition.format2 import Definition2

WRAP = 30  # characters per line in a node

SHAPES = {
    "start": ('(["', '"])'),
    "end": ('(["', '"])'),
    "process": ('["', '"]'),
    "decision": ('{"', '"}'),
    "manual": ('[\\"', '"/]'),
    "connector": ('(("', '"))'),
    "other": ('["', '"]'),
}
"""Each kind's Mermaid brackets; a document uses the ``@{ shape: doc }`` form."""

UNPRINTED_STYLE = "stroke:#6e6e6e,stroke-dasharray:5 4,color:#3c3c3c"
"""The node of a symbol the paper does not have: dashed and grey, as in the document."""


def mermaid_text(text: str, wrap: int | None = WRAP) -> str:
    """*text* as a quoted Mermaid label body: entity codes for the characters Mermaid reads."""
    text = " ".join(str(text).split())
    lines = textwrap.wrap(text, wrap) if wrap else [text]
    codes = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "|": "#124;", "`": "#96;"}
    escaped = ["".join(codes.get(ch, ch) for ch in line) for line in lines or [""]]
    return "<br>".join(escaped)


def node_ids(definition: Definition2) -> dict[str, str]:
    """Each symbol's node id: ``s0``, ``s1`` ... in the order the symbols are listed."""
    out: dict[str, str] = {}
    for k, (_, _, _, s) in enumerate(definition.symbols()):
        out.setdefault(s.id, f"s{k}")
    return out


def node(definition: Definition2, symbol: Any, row: Any, node_id: str) -> str:
    """One symbol as a Mermaid node of its kind's shape."""
    if symbol.text:
        text = symbol.text
    elif row.no is not None:
        text = f"{row.no}. {row.kegiatan}"
    else:
        text = symbol.id
    body = mermaid_text(text)
    kind = symbol.kind.value
    if kind == "document":
        return f'{node_id}@{{ shape: doc, label: "{body}" }}'
    open_, close = SHAPES[kind]
    return f"{node_id}{open_}{body}{close}"


def render_mermaid(definition: Definition2, progress: dict[str, Any] | None = None) -> str:
    """The flowchart; with a run's *progress*, done, open and late symbols get classes."""
    from sopengine.definition.upgrade import as_format2
    from sopengine.render.layout import drawn_arrows, placed_lanes, step_state, symbol_progress, table_name

    definition = as_format2(definition)
    ids = node_ids(definition)
    lanes = placed_lanes(definition)
    names = {a.id: a.name for a in definition.actors}
    by_symbol = symbol_progress(definition, progress)
    several = len(definition.tables) > 1
    out = ["flowchart TD"]
    states: dict[str, list[str]] = {}
    ends = 0
    links: list[str] = []
    stops: dict[int, dict[str, list[str]]] = {}
    unprinted = {s.id for _, _, _, s in definition.symbols() if not s.printed}
    for a in drawn_arrows(definition):
        source = ids[a.source]
        link = "-.->" if a.source in unprinted or a.target in unprinted else "-->"
        arrow = f'{link}|"{mermaid_text(a.label, None)}"|' if a.label else link
        if a.target == "selesai":
            ends += 1
            stop = f"selesai{ends}"
            ti = next(ti for ti, _, _, s in definition.symbols() if s.id == a.source)
            stops.setdefault(ti, {}).setdefault(lanes[a.source], []).append(f"{stop}@{{ shape: fr-circ }}")
            links.append(f"{source} {arrow} {stop}")
        else:
            links.append(f"{source} {arrow} {ids[a.target]}")
    for ti, t in enumerate(definition.tables):
        members: dict[str, list[str]] = {lane: [] for lane in definition.lanes(ti)}
        seen: set[str] = set()
        for r in t.rows:
            for s in r.symbols:
                if s.id in seen or ids.get(s.id) is None:
                    continue
                seen.add(s.id)
                members.setdefault(lanes[s.id], []).append(node(definition, s, r, ids[s.id]))
                state, late = step_state(by_symbol.get(s.id, []))
                if state:
                    states.setdefault(state, []).append(ids[s.id])
                if late:
                    states.setdefault("late", []).append(ids[s.id])
        for lane, extra in stops.get(ti, {}).items():
            members.setdefault(lane, []).extend(extra)
        indent = "  "
        if several:
            out.append(f'  subgraph table{ti}["{mermaid_text(table_name(definition, ti), None)}"]')
            out.append("    direction TB")
            indent = "    "
        for k, lane in enumerate(members):
            if not members[lane]:
                continue
            sub = f"t{ti}lane{k}" if several else f"lane{k}"
            out.append(f'{indent}subgraph {sub}["{mermaid_text(names.get(lane, lane), None)}"]')
            out.append(f"{indent}  direction TB")
            out += [f"{indent}  {m}" for m in members[lane]]
            out.append(f"{indent}end")
        if several:
            out.append("  end")
    out += [f"  {link}" for link in links]
    marked = [ids[x] for x in ids if x in unprinted]
    if marked:
        out.append(f"  classDef unprinted {UNPRINTED_STYLE}")
        out.append(f"  class {','.join(marked)} unprinted")
    if states:
        styles = {
            "done": "fill:#d6ecd2,stroke:#333",
            "open": "fill:#ffe066,stroke:#333,stroke-width:2px",
            "late": "stroke:#c00000,stroke-width:3px",
        }
        for state, nodes in states.items():
            out.append(f"  classDef {state} {styles[state]}")
            out.append(f"  class {','.join(nodes)} {state}")
    return "\n".join(out) + "\n"
