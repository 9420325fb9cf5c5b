"""The SOP's header and tables in the terminal, with rich; the header as every rendering prints it.

``sopengine show`` is not the official document: its own words follow the language in force
(:mod:`sopengine.i18n`), while the SOP's words, its labels as printed and each symbol's
``kind`` as the definition writes it are shown as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sopengine.definition.durations import format_duration
from sopengine.i18n import _

if TYPE_CHECKING:
    from rich.console import Console

    from sopengine.definition.format2 import Definition2

HEADER_LABELS = [
    ("instansi", "Instansi"),
    ("unit", "Unit"),
    ("nomor", "Nomor SOP"),
    ("tanggal_pembuatan", "Tanggal Pembuatan"),
    ("tanggal_revisi", "Tanggal Revisi"),
    ("tanggal_efektif", "Tanggal Efektif"),
    ("disahkan_oleh", "Disahkan oleh"),
    ("judul", "Nama SOP"),
    ("dasar_hukum", "Dasar Hukum"),
    ("kualifikasi_pelaksana", "Kualifikasi Pelaksana"),
    ("keterkaitan", "Keterkaitan"),
    ("peralatan", "Peralatan/Perlengkapan"),
    ("peringatan", "Peringatan"),
    ("pencatatan", "Pencatatan dan Pendataan"),
]

HEADER_LISTS = ("dasar_hukum", "kualifikasi_pelaksana", "keterkaitan", "peralatan", "peringatan", "pencatatan")


def present(d: Any, key: str) -> bool:
    """Whether the paper has the header field *key*: written in the definition, even blank.

    A field left out of the YAML is not on the paper, and no rendering prints it (not even
    as an empty box); a field given blank is printed as a blank box.
    """
    return key in d.header.model_fields_set


def _letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(97 + r) + out
    return out


def marked(d: Any, key: str) -> list[tuple[str, str]]:
    """A header list's items with their markers as printed (``header.markers``; default '1.').

    A single item is printed without a marker unless the definition gives the list's marker.
    """
    values = list(getattr(d.header, key) or [])
    given = getattr(d.header, "markers", {}).get(key)
    marker = given.value if given is not None else "1."
    if len(values) == 1 and given is None:
        return [("", values[0])]
    out = []
    for i, value in enumerate(values, 1):
        if marker == "1.":
            mark = f"{i}."
        elif marker == "1)":
            mark = f"{i})"
        elif marker == "a.":
            mark = f"{_letters(i)}."
        else:
            mark = marker
        out.append((mark, value))
    return out


def header_fields(d: Any) -> list[tuple[str, str, Any]]:
    """The header fields on the paper, in the form's order: (field, label as printed, value)."""
    from sopengine.definition.upgrade import as_format2

    d = as_format2(d)
    h = d.header
    return [(key, h.labels.get(key, label), getattr(h, key)) for key, label in HEADER_LABELS if present(d, key)]


def header_rows(d: Any) -> list[tuple[str, str]]:
    """The header as (label, text) pairs, labels as the SOP prints them; blanks stay blank,
    fields the paper does not have are left out, list items carry their printed markers."""
    from sopengine.definition.upgrade import as_format2

    d = as_format2(d)
    rows = []
    for key, label, value in header_fields(d):
        if key == "disahkan_oleh":
            text = "\n".join(x for x in ([value.jabatan, value.nama, f"NIP. {value.nip}" if value.nip else None] if value else []) if x)
        elif key in HEADER_LISTS:
            text = "\n".join(f"{mark} {item}" if mark else item for mark, item in marked(d, key))
        else:
            text = value or ""
        rows.append((label, text))
    for label, value in d.header.extra.items():
        rows.append((label, "\n".join(value) if isinstance(value, list) else value))
    return rows


def print_definition(console: Console, d: Any) -> None:
    """The header, then each table: its rows, each symbol of a row on a line of its own."""
    from rich.table import Table
    from rich.text import Text

    from sopengine.definition.upgrade import as_format2
    from sopengine.render.layout import column_labels, document_label, has_keterangan, symbol_line, table_name

    d2: Definition2 = as_format2(d)
    names = {a.id: a.name for a in d2.actors}
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for label, text in header_rows(d2):
        head.add_row(label, text or "")
    console.print(Text.assemble((f"SOP {d2.title}", "bold"), f" ({d2.id})"))
    console.print(head)
    if d2.deadline:
        console.print(_("Process deadline: {deadline}").format(deadline=d2.deadline))
    for ti, t in enumerate(d2.tables):
        if len(d2.tables) > 1 or t.title:
            console.print(Text(table_name(d2, ti) if len(d2.tables) > 1 else t.title or "", style="bold"))
        labels = column_labels(d2, ti)
        keterangan = has_keterangan(d2, ti)
        table = Table(show_lines=True)
        keys = ["no", "kegiatan", "pelaksana", "kelengkapan", "waktu", "output"] + (["keterangan"] if keterangan else [])
        for key in keys:
            table.add_column(labels[key], overflow="fold")
        for r in t.rows:
            waktu = Text(r.waktu or (_("(automatic)") if r.band and any(s.automatic for s in r.symbols) else "-"))
            parsed = r.parsed_duration
            # Say how the time is counted where the text alone leaves it open: days (working or
            # calendar), or a duration given beside the SOP's own wording.
            if parsed and (parsed.get("days") or r.duration):
                waktu.append("\n" + format_duration(parsed), style="dim")
            cells: list[str | Text] = [
                r.no or "–",
                r.kegiatan or "",
                "\n".join(symbol_line(d2, s.id, names, terminal=True) for s in r.symbols),
                "\n".join(x.name for x in r.kelengkapan) or "-",
                waktu,
                "\n".join(document_label(o) for o in r.output) or "-",
            ]
            if keterangan:
                cells.append(r.keterangan or "")
            table.add_row(*cells)
        console.print(table)
        for note in t.footnotes:
            console.print(note)
