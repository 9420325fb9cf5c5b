"""The SOP's flowchart as Mermaid text, with one lane (subgraph) per actor.

``transitions`` can draw its machine as a state diagram, but an SOP reader wants the
swim lanes of the paper table: so this writes a ``flowchart TD`` itself. Shapes follow the
SOP AP symbols: a stadium for the terminators (the first row, rows that end the process,
and the *Selesai* a decision may lead to), a box for a process and a rhombus for a
decision, whose arrows carry the outcome's name.

Every text goes through :func:`mermaid_text`: Mermaid reads quotes, brackets and ``<``
specially, so they are written as Mermaid's entity codes (``#quot;``, ``#lt;`` ...).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sopengine.definition.models import Definition

WRAP = 30  # characters per line in a node


def mermaid_text(text: str, wrap: int | None = WRAP) -> str:
    """*text* as a quoted Mermaid label body: entity codes for the characters Mermaid reads."""
    text = " ".join(str(text).split())
    lines = textwrap.wrap(text, wrap) if wrap else [text]
    codes = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "|": "#124;", "`": "#96;"}
    escaped = ["".join(codes.get(ch, ch) for ch in line) for line in lines or [""]]
    return "<br>".join(escaped)


def render_mermaid(definition: Definition, progress: dict[str, Any] | None = None) -> str:
    """The flowchart; with a run's *progress*, done, open and late steps get classes."""
    from sopengine.render.layout import flow_edges, placed_lanes, progress_notes, step_state, symbol_kinds

    lanes = placed_lanes(definition)
    kinds = symbol_kinds(definition)
    index = {s.id: i for i, s in enumerate(definition.steps)}

    def node(i: int, j: int = 0) -> str:
        return f"s{i}" if j == 0 else f"s{i}_{j}"

    shapes = {"terminator": ('(["', '"])'), "process": ('["', '"]'), "decision": ('{"', '"}')}
    members: dict[str, list[str]] = {a.id: [] for a in definition.actors}
    links: list[str] = []
    states: dict[str, list[str]] = {}
    added: list[str] = []
    end_count = 0
    for i, step in enumerate(definition.steps):
        text = f"{step.no}. {step.kegiatan}" if step.no is not None else step.kegiatan
        for j, (lane, kind) in enumerate(zip(lanes[i], kinds[i])):
            open_, close = shapes[kind]
            members[lane].append(f"{node(i, j)}{open_}{mermaid_text(text)}{close}")
            if j:
                links.append(f"{node(i, j - 1)} --> {node(i, j)}")
            if step.no is None:
                added.append(node(i, j))
        notes = progress_notes(definition, step.id, progress)
        for j, lane in enumerate(lanes[i]):
            state, late = step_state(notes, lane)
            if state:
                states.setdefault(state, []).append(node(i, j))
            if late:
                states.setdefault("late", []).append(node(i, j))
    for i, target, label in flow_edges(definition):
        source = node(i, len(lanes[i]) - 1)
        arrow = f'-->|"{mermaid_text(label, None)}"|' if label else "-->"
        if target == "selesai":
            end_count += 1
            end = f"selesai{end_count}"
            members[lanes[i][-1]].append(f'{end}(["Selesai"])')
            links.append(f"{source} {arrow} {end}")
        else:
            links.append(f"{source} {arrow} {node(index[target])}")
    out = ["flowchart TD"]
    for k, actor in enumerate(definition.actors):
        if not members[actor.id]:
            continue
        out.append(f'  subgraph lane{k}["{mermaid_text(actor.name, None)}"]')
        out.append("    direction TB")
        out += [f"    {m}" for m in members[actor.id]]
        out.append("  end")
    out += [f"  {link}" for link in links]
    if added:
        # Steps that are not rows of the SOP (automatic gates the definition adds): dashed.
        out.append("  classDef added stroke-dasharray:5 3,font-style:italic")
        out.append(f"  class {','.join(added)} added")
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
