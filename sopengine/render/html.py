"""The official SOP document as one self-contained HTML file.

The document follows Permenpan RB 35/2012: a header page (identitas SOP) and the SOP's
tables on A4 landscape pages, with the flowchart drawn across their lanes, CSS and SVG
inline and nothing fetched from the network, so that it prints the same on any machine
(browser print, or ``chromium --headless --print-to-pdf``). The geometry comes from
:mod:`sopengine.render.layout`; the Jinja2 template only prints it, with autoescaping on,
so that any text of the SOP shows as text.

With a run's progress (the dict :func:`sopengine.api.run_status` returns), the same
document marks the symbols done (who, when), the open ones and the late ones.

The document is Indonesian whatever language sopengine speaks (``--lang``): it lies beside
the signed SOP. Every word it adds to the SOP's own (captions, the run's progress, the
notes' heading, dates as "1 Oktober 2026 09.15 WIB", durations as "1 jam 10 menit") is
written here and in :mod:`sopengine.render.layout` in Indonesian, never looked up in the
message catalogue.

A symbol the paper does not have (``printed: false``) and its arrows are drawn dashed and
grey, with an asterisk that a line under the table explains, in Indonesian like the rest of
the official document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sopengine.definition.format2 import Definition2

# The header fields the identity block shows beside the agency box, in the form's order.
IDENTITY_FIELDS = ("nomor", "tanggal_pembuatan", "tanggal_revisi", "tanggal_efektif", "disahkan_oleh", "judul")
# The header fields the context grid shows, two to a row, in the order the form prints them.
CONTEXT_FIELDS = ("dasar_hukum", "kualifikasi_pelaksana", "keterkaitan", "peralatan", "peringatan", "pencatatan")


def render_html(definition: Definition2, progress: dict[str, Any] | None = None, notes: bool = True) -> str:
    """The SOP document; *progress* (a run status) marks what a run has done.

    With *notes*, the interpretations of rows and symbols follow the tables, marked as not
    part of the SOP.
    """
    from sopengine import __version__
    from sopengine.definition.upgrade import as_format2
    from sopengine.render.layout import (
        NOT_PRINTED,
        NOTE_COLUMNS,
        PROGRESS_WORDS,
        REQUIRED_MARK,
        UNPRINTED_MARK,
        build_layout,
        run_caption,
    )

    definition = as_format2(definition)
    layout = build_layout(definition, progress, notes=notes)
    return _environment().get_template("sop.html.j2").render(
        definition=definition,
        header=definition.header,
        head=header_view(definition),
        layout=layout,
        run=progress,
        note_columns=NOTE_COLUMNS,
        required_mark=REQUIRED_MARK,
        unprinted_mark=UNPRINTED_MARK,
        not_printed=NOT_PRINTED,
        words=PROGRESS_WORDS,
        run_caption=run_caption,
        version=__version__,
    )


def header_view(definition: Definition2) -> dict[str, Any]:
    """What the header page prints: only the fields the paper has, labels as printed.

    ``agency``: whether the agency box is there (instansi or unit written); ``identity``: the
    fields beside it; ``context``: the lists under it (and any ``extra`` field), each with its
    items and their printed markers.
    """
    from sopengine.render.terminal import HEADER_LABELS, marked, present

    h = definition.header
    labels = {key: h.labels.get(key, label) for key, label in HEADER_LABELS}
    context = [{"key": key, "label": labels[key], "items": marked(definition, key)} for key in CONTEXT_FIELDS if present(definition, key)]
    for label, value in h.extra.items():
        values = value if isinstance(value, list) else [value]
        items = [("", values[0])] if len(values) == 1 else [(f"{i}.", v) for i, v in enumerate(values, 1)]
        context.append({"key": "extra", "label": label, "items": items})
    return {
        "agency": present(definition, "instansi") or present(definition, "unit"),
        "identity": [key for key in IDENTITY_FIELDS if present(definition, key)],
        "labels": labels,
        "context": context,
    }


def header_labels(definition: Definition2) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    """The header's labels as printed (by field) and its extra fields (label, value)."""
    view = header_view(definition)
    return view["labels"], list(definition.header.extra.items())


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
