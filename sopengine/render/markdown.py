"""The SOP as Markdown: header, a table of rows per SOP table, and the Mermaid flowchart.

GitHub and GitLab render the ```` ```mermaid ```` block as a diagram, so the file reads as
the SOP in a repository or a wiki. Each row lists every symbol drawn in it (kind, lane, the
text inside it) with the arrows the order of the symbols does not show, written as text; a
symbol the paper does not have (``printed: false``) is marked "(tidak tercetak pada SOP)".
Like the official document, the page is Indonesian whatever language sopengine speaks.
Table cells go through :func:`markdown_cell`: HTML's special characters become entities
(Markdown passes raw HTML through) and the characters Markdown reads (``|``, ``*``, ``_``
...) are escaped with a backslash.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sopengine.definition.format2 import Definition2

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")

PROGRESS_COLUMN = "Kemajuan Pelaksanaan"
"""The column a run's progress is written in, after the SOP's own columns."""


def markdown_cell(text: str) -> str:
    """*text* safe inside a Markdown table cell, line breaks kept as ``<br>``."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [_MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(line.split())) for line in text.splitlines()]
    return "<br>".join(line for line in lines if line)


def render_markdown(definition: Definition2, progress: dict[str, Any] | None = None, notes: bool = True) -> str:
    """The document; with a run's *progress*, a column shows what the run has done.

    With *notes*, the interpretations of rows and symbols follow the flowchart.
    """
    from sopengine.definition.graph import symbol_graph
    from sopengine.definition.upgrade import as_format2
    from sopengine.render.layout import (
        NOT_PRINTED,
        row_notes,
        column_labels,
        document_label,
        has_keterangan,
        interpretations,
        placed_lanes,
        run_caption,
        symbol_line,
        symbol_progress,
        table_name,
    )
    from sopengine.render.mermaid import render_mermaid
    from sopengine.render.terminal import header_rows

    definition = as_format2(definition)
    names = {a.id: a.name for a in definition.actors}
    graph = symbol_graph(definition)
    lanes = placed_lanes(definition)
    by_symbol = symbol_progress(definition, progress)
    out = [f"# SOP {markdown_cell(definition.title)}", ""]
    if progress:
        caption = run_caption(progress)
        period = f", {markdown_cell(caption['period'])}" if caption["period"] else ""
        status = f": {markdown_cell(caption['status'])}" if caption["status"] else ""
        out += [f"Pelaksanaan **{markdown_cell(caption['run'])}**{period}{status}", ""]
    out += ["| | |", "| --- | --- |"]
    for label, text in header_rows(definition):
        out.append(f"| **{markdown_cell(label)}** | {markdown_cell(text)} |")
    out += ["", "## Pelaksana", ""]
    out += [f"- {markdown_cell(a.name)}" for a in definition.actors]
    several = len(definition.tables) > 1
    for ti, t in enumerate(definition.tables):
        labels = column_labels(definition, ti)
        keys = ["no", "kegiatan", "pelaksana", "kelengkapan", "waktu", "output"]
        if has_keterangan(definition, ti):
            keys.append("keterangan")
        columns = [markdown_cell(labels[k]) for k in keys] + ([PROGRESS_COLUMN] if progress else [])
        out += ["", f"## {markdown_cell(table_name(definition, ti))}" if several else "## Kegiatan", ""]
        if t.title and not several:
            out += [f"**{markdown_cell(t.title)}**", ""]
        out += ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        for r in t.rows:
            cells = {
                "no": markdown_cell(r.no or ""),
                "kegiatan": markdown_cell(r.kegiatan or ""),
                "pelaksana": "<br>".join(markdown_cell(symbol_line(definition, s.id, names)) for s in r.symbols),
                "kelengkapan": "<br>".join(markdown_cell(d.name) for d in r.kelengkapan),
                "waktu": markdown_cell(r.waktu or ""),
                "output": "<br>".join(markdown_cell(document_label(d)) for d in r.output),
                "keterangan": markdown_cell(r.keterangan or ""),
            }
            row = [cells[k] for k in keys]
            if progress:
                row.append("<br>".join(markdown_cell(n["text"]) for n in row_notes(definition, graph, r, by_symbol, lanes)))
            out.append("| " + " | ".join(row) + " |")
        if t.footnotes:
            out.append("")
            out += [markdown_cell(note) + "  " for note in t.footnotes]
            out[-1] = out[-1].rstrip()
    out += ["", "## Diagram alir", "", "```mermaid", render_mermaid(definition, progress).rstrip("\n"), "```", ""]
    interpreted = interpretations(definition)
    if notes and interpreted:
        out += ["## Catatan transkripsi", "", "Cara definisi ini membaca SOP yang ditandatangani (bukan bagian dari SOP).", ""]
        head = (["Tabel"] if several else []) + ["No", "Kegiatan", "Interpretasi"]
        out += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for note in interpreted:
            kegiatan = markdown_cell(note.kegiatan)
            if note.symbol_text:
                kegiatan += ("<br>" if kegiatan else "") + f"_{markdown_cell(note.symbol_text)}_"
            if not note.printed:
                kegiatan += f" ({NOT_PRINTED})"
            note_cells = ([markdown_cell(note.table)] if several else []) + [markdown_cell(note.no), kegiatan, markdown_cell(note.text)]
            out.append("| " + " | ".join(note_cells) + " |")
        out.append("")
    return "\n".join(out)
