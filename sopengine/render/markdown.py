"""The SOP as Markdown: header, table of kegiatan and the Mermaid flowchart.

GitHub and GitLab render the ```` ```mermaid ```` block as a diagram, so the file reads as
the SOP in a repository or a wiki. Table cells go through :func:`markdown_cell`: HTML's
special characters become entities (Markdown passes raw HTML through) and the characters
Markdown reads (``|``, ``*``, ``_`` ...) are escaped with a backslash.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sopengine.definition.models import Definition

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


def markdown_cell(text: str) -> str:
    """*text* safe inside a Markdown table cell, line breaks kept as ``<br>``."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [_MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(line.split())) for line in text.splitlines()]
    return "<br>".join(line for line in lines if line)


def render_markdown(definition: Definition, progress: dict[str, Any] | None = None, notes: bool = True) -> str:
    """The document; with a run's *progress*, a column shows what the run has done.

    With *notes*, the steps' interpretations follow the flowchart.
    """
    from sopengine.render.layout import NOT_A_ROW, document_label, flow_text, has_keterangan, placed_lanes, progress_notes
    from sopengine.render.mermaid import render_mermaid
    from sopengine.render.terminal import header_rows

    names = {a.id: a.name for a in definition.actors}
    lanes = placed_lanes(definition)
    out = [f"# SOP {markdown_cell(definition.title)}", ""]
    if progress:
        period = f", period {progress['period']}" if progress.get("period") else ""
        out += [f"Run **{markdown_cell(progress.get('run_id', ''))}**{markdown_cell(period)}: {markdown_cell(progress.get('status', ''))}", ""]
    out += ["| | |", "| --- | --- |"]
    for label, text in header_rows(definition):
        out.append(f"| **{markdown_cell(label)}** | {markdown_cell(text)} |")
    out += ["", "## Pelaksana", ""]
    out += [f"- {markdown_cell(a.name)}" for a in definition.actors]
    keterangan = has_keterangan(definition)
    columns = ["No", "Kegiatan", "Pelaksana", "Kelengkapan", "Waktu", "Output"] + (["Keterangan"] if keterangan else [])
    if progress:
        columns.append("Progress")
    out += ["", "## Kegiatan", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for i, step in enumerate(definition.steps):
        kegiatan = markdown_cell(step.kegiatan)
        if step.no is None:
            kegiatan += f"<br>_({NOT_A_ROW})_"
        flow = flow_text(definition, i)
        if flow:
            kegiatan += "<br>" + markdown_cell(flow)
        cells = [
            str(step.no or ""),
            kegiatan,
            " → ".join(markdown_cell(names[a]) for a in lanes[i]),
            "<br>".join(markdown_cell(d.name) for d in step.inputs),
            markdown_cell(step.waktu or ""),
            "<br>".join(markdown_cell(document_label(d)) for d in step.outputs),
        ]
        if keterangan:
            cells.append(markdown_cell(step.keterangan or ""))
        if progress:
            cells.append("<br>".join(markdown_cell(n["text"]) for n in progress_notes(definition, step.id, progress)))
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "## Diagram alir", "", "```mermaid", render_mermaid(definition, progress).rstrip("\n"), "```", ""]
    interpreted = [s for s in definition.steps if s.interpretation]
    if notes and interpreted:
        out += ["## Transcription notes", "", "How this definition reads the signed SOP (not part of it).", ""]
        out += ["| No | Kegiatan | Interpretation |", "| --- | --- | --- |"]
        for step in interpreted:
            out.append(f"| {step.no or ''} | {markdown_cell(step.kegiatan)} | {markdown_cell(step.interpretation or '')} |")
        out.append("")
    return "\n".join(out)
