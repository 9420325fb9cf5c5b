"""The official SOP document as one self-contained HTML file.

The document follows Permenpan RB 35/2012: a header page (identitas SOP) and the flowchart
table on A4 landscape pages, with CSS and SVG inline and nothing fetched from the network,
so that it prints the same on any machine (browser print, or ``chromium --headless
--print-to-pdf``). The geometry comes from :mod:`sopengine.render.layout`; the Jinja2
template only prints it, with autoescaping on, so that any text of the SOP shows as text.

With a run's progress (the dict :func:`sopengine.api.run_status` returns), the same
document marks the steps done (who, when), the open step and the late ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sopengine.definition.models import Definition

# The header fields the context grid shows, two to a row, in the order the form prints them.
CONTEXT_FIELDS = ("dasar_hukum", "kualifikasi_pelaksana", "keterkaitan", "peralatan", "peringatan", "pencatatan")


def render_html(definition: Definition, progress: dict[str, Any] | None = None, notes: bool = True) -> str:
    """The SOP document; *progress* (a run status) marks what a run has done.

    With *notes*, the steps' interpretations follow the table, marked as not part of the SOP.
    """
    from sopengine import __version__
    from sopengine.render.layout import NOT_A_ROW, NOTE_COLUMNS, REQUIRED_MARK, build_layout

    layout = build_layout(definition, progress, notes=notes)
    labels, extra = header_labels(definition)
    context = [
        {"key": key, "label": labels[key], "values": getattr(definition.header, key)} for key in CONTEXT_FIELDS
    ]
    for label, value in extra:
        context.append({"key": "extra", "label": label, "values": value if isinstance(value, list) else [value]})
    return _environment().get_template("sop.html.j2").render(
        definition=definition,
        header=definition.header,
        actors=definition.actors,
        labels=labels,
        context=context,
        layout=layout,
        run=progress,
        note_columns=NOTE_COLUMNS,
        not_a_row=NOT_A_ROW,
        required_mark=REQUIRED_MARK,
        version=__version__,
    )


def header_labels(definition: Definition) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    """The header's labels as printed (by field) and its extra fields (label, value)."""
    from sopengine.render.terminal import HEADER_LABELS, header_rows

    rows = header_rows(definition)
    labels = {key: label for (key, _), (label, _) in zip(HEADER_LABELS, rows)}
    return labels, list(definition.header.extra.items())


def _environment():  # -> jinja2.Environment
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("sopengine.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    # Millimetres with two decimals: enough for print, short enough to read the source.
    env.filters["mm"] = lambda value: f"{float(value):.2f}".rstrip("0").rstrip(".")
    return env
