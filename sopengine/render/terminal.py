"""The SOP's header and table in the terminal, with rich."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sopengine.definition.durations import format_duration

if TYPE_CHECKING:
    from rich.console import Console

    from sopengine.definition.models import Definition

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


def header_rows(d: Definition) -> list[tuple[str, str]]:
    """The header as (label, text) pairs, labels as the SOP prints them; blanks stay blank."""
    h = d.header
    rows = []
    for key, label in HEADER_LABELS:
        value = getattr(h, key)
        label = h.labels.get(key, label)
        if key == "disahkan_oleh":
            text = "\n".join(x for x in ([value.jabatan, value.nama, f"NIP. {value.nip}" if value.nip else None] if value else []) if x)
        elif isinstance(value, list):
            text = "\n".join(f"{i}. {v}" for i, v in enumerate(value, 1)) if len(value) > 1 else "".join(value)
        else:
            text = value or ""
        rows.append((label, text))
    for label, value in h.extra.items():
        rows.append((label, "\n".join(value) if isinstance(value, list) else value))
    return rows


def print_definition(console: Console, d: Definition) -> None:
    from rich.table import Table
    from rich.text import Text

    from sopengine.render.layout import document_label, flow_text, has_keterangan

    names = {a.id: a.name for a in d.actors}
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for label, text in header_rows(d):
        head.add_row(label, text or "")
    console.print(Text.assemble((f"SOP {d.title}", "bold"), f" ({d.id})"))
    console.print(head)
    if d.deadline:
        console.print(f"Process deadline: {d.deadline}")
    table = Table(show_lines=True)
    keterangan = has_keterangan(d)
    for col in ("No", "Kegiatan", "Pelaksana", "Kelengkapan", "Waktu", "Output") + (("Keterangan",) if keterangan else ()):
        table.add_column(col, overflow="fold")
    for i, s in enumerate(d.steps):
        lanes = " → ".join(names.get(a, a) for a in s.lanes)
        kegiatan = s.kegiatan
        flow = flow_text(d, i)
        if flow:
            kegiatan += "\n" + flow
        waktu = Text(s.waktu or ("(automatic)" if s.automatic else "-"))
        parsed = s.parsed_duration
        # Say how the time is counted where the text alone leaves it open: days (working or
        # calendar), or a duration given beside the SOP's own wording.
        if parsed and (parsed.get("days") or s.duration):
            waktu.append("\n" + format_duration(parsed), style="dim")
        cells: list[str | Text] = [
            str(s.no) if s.no is not None else "–",
            kegiatan,
            lanes or "(engine)",
            "\n".join(i.name for i in s.inputs) or "-",
            waktu,
            "\n".join(document_label(o) for o in s.outputs) or "-",
        ]
        if keterangan:
            cells.append(s.keterangan or "")
        table.add_row(*cells)
    console.print(table)
