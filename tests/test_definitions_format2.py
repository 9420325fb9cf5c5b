"""The format-2 definitions checked against the transcriptions of the signed SOPs they copy.

``tests/data/sop-operasi-penegakan-perda.txt`` and ``tests/data/sop-pengajuan-pembayaran.txt``
are careful transcriptions of two signed SOPs: the header, the lanes, every row's cells and
where each symbol stands and each arrow goes. The tests parse those texts and require the
committed YAML to hold what they state, verbatim (whitespace aside): every kegiatan, every
document cell, every waktu, every table's title, lanes and footnote, and the flowchart's
shapes where they are stated precisely (the three-diamond chains, the forks, the undrawn
exits). Only the definition is tested, never a run.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from sopengine.definition.format2 import Definition2, Row, Symbol, SymbolKind
from sopengine.definition.loader import check_file, compile_definition

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
DEFINITIONS = ROOT / "definitions"

PERDA = "operasi-penegakan-perda"
BAYAR = "pengajuan-pembayaran"


def load(definition_id: str) -> tuple[Definition2, str]:
    checked = check_file(DEFINITIONS / f"{definition_id}.yaml")
    assert checked.problems == [], [str(p) for p in checked.problems]
    assert isinstance(checked.definition, Definition2)
    assert checked.text is not None
    return checked.definition, checked.text


def norm(text: str) -> str:
    """Whitespace does not matter; nothing else is changed."""
    return " ".join(text.split())


def slash(text: str) -> str:
    """Spacing around '/' does not matter either (lane names: 'Ketua Tim/ Proyek')."""
    return re.sub(r"\s*/\s*", "/", norm(text))


def section(text: str, name: str) -> str:
    """The lines of the transcription's '=== NAME ===' section."""
    m = re.search(rf"^=== {re.escape(name)}[^=\n]* ===\n(.*?)(?=^=== |\Z)", text, flags=re.S | re.M)
    assert m, name
    return m.group(1)


def work(row: Row) -> list[Symbol]:
    """The symbols of a row that are not connectors or, next to a box, terminators."""
    boxes = [s for s in row.symbols if s.kind not in (SymbolKind.start, SymbolKind.end, SymbolKind.connector)]
    return boxes or [s for s in row.symbols if s.kind is not SymbolKind.connector]


def names(docs: list[Any]) -> list[str]:
    return [d.name for d in docs]


# -- Operasi Penegakkan Perda dan Perkada ------------------------------------------------------

PERDA_TEXT = (DATA / "sop-operasi-penegakan-perda.txt").read_text(encoding="utf-8")


def perda_steps() -> dict[str, dict[str, str]]:
    """Each 'Step N' block's fields; a field's value runs on over its indented lines."""
    steps: dict[str, dict[str, str]] = {}
    body = section(PERDA_TEXT, "STEPS")
    for no, block in re.findall(r"^Step (\d+)\n(.*?)(?=^Step \d+\n|\Z)", body, flags=re.S | re.M):
        fields: dict[str, str] = {}
        for key in ("Kegiatan", "Kelengkapan", "Waktu", "Output", "Ket"):
            m = re.search(rf"^  {key}\s*: (.*(?:\n {{5,}}\S.*)*)", block, flags=re.M)
            assert m, (no, key)
            # The transcriber's notes stand after two spaces, in brackets: "1 hari   (one ...)".
            fields[key] = norm(re.sub(r"\s{2,}\(.*$", "", m.group(1), flags=re.S))
        fields["block"] = block
        steps[no] = fields
    return steps


def perda_rows() -> dict[str, Row]:
    d, _ = load(PERDA)
    assert len(d.tables) == 1
    return {r.no: r for r in d.tables[0].rows if r.no is not None}


def test_perda_is_valid_without_warnings() -> None:
    load(PERDA)


def test_perda_rows_are_the_steps_in_order() -> None:
    d, _ = load(PERDA)
    assert [r.no for r in d.tables[0].rows] == list(perda_steps()) == [str(n) for n in range(1, 13)]


@pytest.mark.parametrize("no", [str(n) for n in range(1, 13)])
def test_perda_row_verbatim(no: str) -> None:
    step = perda_steps()[no]
    row = perda_rows()[no]
    assert row.kegiatan is not None and norm(row.kegiatan) == step["Kegiatan"]
    assert row.waktu == step["Waktu"]
    # Every cell is one document, as printed, commas and all.
    assert names(row.kelengkapan) == [step["Kelengkapan"]]
    assert names(row.output) == [step["Output"]]
    # The Ket column is printed and empty in every row: nothing is put in it.
    assert row.keterangan is None


def test_perda_every_kegiatan_appears_verbatim() -> None:
    text = norm((DEFINITIONS / f"{PERDA}.yaml").read_text(encoding="utf-8"))
    for no, step in perda_steps().items():
        assert step["Kegiatan"] in text, no


def test_perda_table_as_printed() -> None:
    d, _ = load(PERDA)
    t = d.tables[0]
    title = re.search(r'Table title on page \d+: "([^"]+)"', PERDA_TEXT)
    assert title and t.title == title.group(1)
    lanes = re.findall(r"^A\d+\s+(\S.*?)(?:\s{2,}\(.*)?$", section(PERDA_TEXT, "PELAKSANA"), flags=re.M)
    assert lanes == ["Pol PP", "PPNS", "Kasi", "Kabid", "Sekretaris", "Kasat"]
    assert [d.actor(a).name for a in d.lanes(0)] == lanes  # type: ignore[union-attr]
    columns = re.search(r"^Table columns as printed: (.*(?:\n\S.*)*)", section(PERDA_TEXT, "PELAKSANA"), flags=re.M)
    assert columns and norm(columns.group(1)).startswith("No. | Kegiatan |")
    assert norm(columns.group(1)).endswith("| Mutu Baku: Kelengkapan | Waktu | Output | Ket (Ket empty in every row)")
    assert t.columns.no == "No." and t.columns.keterangan == "Ket"
    assert t.keterangan_column is True


def test_perda_parties_are_named_without_a_lane() -> None:
    d, _ = load(PERDA)
    assert [p.name for p in d.parties] == ["TNI", "Kepolisian", "OPD terkait", "pihak terkait"]
    assert not {p.name for p in d.parties} & {a.name for a in d.actors}


def test_perda_row_1_starts_in_kabid_and_works_in_kasat() -> None:
    row = perda_rows()["1"]
    assert [(s.kind, s.lane) for s in row.symbols] == [(SymbolKind.start, "kabid"), (SymbolKind.process, "kasat")]


def test_perda_row_6_is_three_diamonds_in_three_lanes_then_a_connector() -> None:
    row = perda_rows()["6"]
    diamonds = [s for s in row.symbols if s.kind is SymbolKind.decision]
    assert [s.lane for s in diamonds] == ["kabid", "sekretaris", "kasat"]
    assert [s.kind for s in row.symbols] == [SymbolKind.decision] * 3 + [SymbolKind.connector]
    connector = row.symbols[-1]
    assert connector.lane == "kasat"
    # The pair stands in row 7's Kasi lane, before the row's box.
    row7 = perda_rows()["7"]
    assert [(s.kind, s.lane) for s in row7.symbols] == [(SymbolKind.connector, "kasi"), (SymbolKind.process, "kasi")]
    assert connector.pair == row7.symbols[0].id
    # One waktu for the whole row: no diamond has its own.
    assert row.waktu == "1 hari" and all(s.waktu is None and s.duration is None for s in row.symbols)


def test_perda_row_11_is_three_diamonds_in_three_lanes() -> None:
    row = perda_rows()["11"]
    assert [(s.kind, s.lane) for s in row.symbols] == [
        (SymbolKind.decision, "kabid"), (SymbolKind.decision, "sekretaris"), (SymbolKind.decision, "kasat"),
    ]


def perda_target(token: str) -> str | None:
    """The symbol id a transcribed arrow target names: '6b', '10', 'off-page connector ...'."""
    rows = perda_rows()
    sub = re.match(r"^(\d+)([abc])\b", token)
    if sub:
        diamonds = [s for s in rows[sub.group(1)].symbols if s.kind is SymbolKind.decision]
        return diamonds["abc".index(sub.group(2))].id
    if token.startswith("off-page connector"):
        return next(s.id for s in rows["6"].symbols if s.kind is SymbolKind.connector)
    if token.startswith("(no arrow drawn)"):
        return None
    number = re.match(r"^(\d+)\b", token)
    assert number, token
    return work(rows[number.group(1)])[0].id


@pytest.mark.parametrize("no", ["6", "11"])
def test_perda_approval_chain_arrows_as_drawn(no: str) -> None:
    """Ya forward and Tidak back, as transcribed; the one undrawn exit is declared, not drawn."""
    block = perda_steps()[no]["block"]
    arrows = re.findall(rf"^  {no}([abc]) \w+\s*: Ya -> (.*?) ; Tidak -> (.*)$", block, flags=re.M)
    assert [a[0] for a in arrows] == ["a", "b", "c"]
    diamonds = [s for s in perda_rows()[no].symbols if s.kind is SymbolKind.decision]
    for (letter, ya, tidak), diamond in zip(arrows, diamonds):
        outcomes = {o.title: o for o in diamond.outcomes}
        assert set(outcomes) == {"Ya", "Tidak"}
        # No label is printed on these arrows: the outcomes are named, not labelled.
        assert all(o.label is None for o in diamond.outcomes)
        assert outcomes["Ya"].drawn and outcomes["Ya"].targets == [perda_target(ya)], letter
        expected = perda_target(tidak)
        if expected is None:
            assert outcomes["Tidak"].drawn is False, letter
        else:
            assert outcomes["Tidak"].drawn and outcomes["Tidak"].targets == [expected], letter


def test_perda_only_the_kabid_rejection_in_row_6_is_undrawn() -> None:
    d, _ = load(PERDA)
    undrawn = [(s.id, o.title) for _, _, _, s in d.symbols() for o in s.outcomes if not o.drawn]
    assert undrawn == [("periksa-kabid", "Tidak")]
    assert all(s.drawn for _, _, _, s in d.symbols())


def test_perda_row_12_is_the_end_terminator_carrying_the_operation() -> None:
    d, text = load(PERDA)
    row = perda_rows()["12"]
    assert [(s.kind, s.lane) for s in row.symbols] == [(SymbolKind.end, "pol-pp")]
    steps = compile_definition(d, text)["steps"]
    assert steps[row.symbols[0].id]["kegiatan"] == "Pelaksanaan Operasi sesuai Surat Tugas"


def test_perda_every_row_records_its_reading() -> None:
    assert all(r.interpretation for r in perda_rows().values())


def test_perda_header_verbatim() -> None:
    d, _ = load(PERDA)
    h = d.header
    head = section(PERDA_TEXT, "HEADER")
    scalar = dict(re.findall(r"^(\S[^:\n]*?)\s*: (.*)$", head, flags=re.M))
    assert h.instansi == scalar["Instansi"] and h.unit == scalar["Unit"] and h.nomor == scalar["Nomor SOP"]
    assert h.tanggal_pembuatan == scalar["Tanggal Pembuatan"] and h.tanggal_efektif == scalar["Tanggal Efektif"]
    assert scalar["Tanggal Revisi"] == "(blank)" and h.tanggal_revisi is None and "tanggal_revisi" in h.model_fields_set
    assert h.judul == scalar["Nama SOP"]
    assert h.disahkan_oleh is not None and scalar["Disahkan oleh"].startswith(h.disahkan_oleh.jabatan or "?")
    assert h.disahkan_oleh.nama is None and h.disahkan_oleh.nip is None
    lists = {
        "Dasar Hukum": ("dasar_hukum", "1."), "Kualifikasi pelaksana": ("kualifikasi_pelaksana", "1."),
        "Keterkaitan": ("keterkaitan", "1."), "Peralatan/perlengkapan": ("peralatan", "1."),
        "Peringatan": ("peringatan", "-"), "Pencatatan dan pendataan": ("pencatatan", "-"),
    }
    for label, (key, marker) in lists.items():
        m = re.search(rf"^{re.escape(label)}:\n((?:  .*\n)+)", head, flags=re.M)
        assert m, label
        items = [norm(x) for x in re.split(r"^  (?:\d+\.|-) ", m.group(1), flags=re.M) if x.strip()]
        assert getattr(h, key) == items, label
        assert h.markers.get(key, "1.") == marker, label
    assert h.labels == {
        "kualifikasi_pelaksana": "Kualifikasi pelaksana", "peralatan": "Peralatan/perlengkapan",
        "pencatatan": "Pencatatan dan pendataan",
    }


# -- Pengajuan Pembayaran ------------------------------------------------------------------------

BAYAR_TEXT = (DATA / "sop-pengajuan-pembayaran.txt").read_text(encoding="utf-8")
KEGIATAN_NOTE = re.compile(r' \((?:sic|no "[^"]*"|not "[^"]*")\)')


def cells(text: str) -> dict[str, str]:
    """The K, W and O cells a transcribed row line states, without the transcriber's notes."""
    out: dict[str, str] = {}
    k = re.search(r"\bK: (.+?)(?= \| [WO]: |$)", text)
    w = re.search(r"\bW: ([^|;(]+)", text)
    o = re.search(r"\bO: (.+?)(?= \| |\s{2,}\(|$)", text)
    if k:
        out["K"] = norm(k.group(1))
    if w:
        out["W"] = norm(w.group(1))
    if o:
        out["O"] = norm(o.group(1))
    return out


def variants() -> dict[int, dict[str, Any]]:
    """Each table of the transcription: title, lanes, footnote and rows, inheritance resolved.

    A table described as 'Same shape as V5' takes V5's rows and lanes and then the rows it
    lists; 'rows 1-5 identical ... to V1' takes those rows of V1.
    """
    body = section(BAYAR_TEXT, "STEPS")
    out: dict[int, dict[str, Any]] = {}
    for v, block in re.findall(r"^--- V(\d)(.*?)(?=^--- V\d|\Z)", body, flags=re.S | re.M):
        n = int(v)
        lines = block.splitlines()
        head: list[str] = []
        i = 0
        while i < len(lines) and not re.match(r"^\d", lines[i]) and not lines[i].startswith("Same shape"):
            head.append(lines[i])
            i += 1
        head_text = norm(" ".join(head))
        title = re.search(r'"([^"]+)"', head_text)
        assert title, n
        table: dict[str, Any] = {"title": title.group(1), "rows": {}, "footnote": None}
        lanes = re.search(r"\(lanes: (.*?)\)", head_text)
        same_lanes = re.search(r"same six lanes as V(\d)", head_text)
        base = re.search(r"^Same shape(?: and arrows)? as V(\d)", block, flags=re.M)
        if base:
            table["rows"] = copy.deepcopy(out[int(base.group(1))]["rows"])
            table["lanes"] = out[int(base.group(1))]["lanes"]
        if lanes:
            table["lanes"] = [x.strip() for x in lanes.group(1).split(",")]
        elif same_lanes:
            table["lanes"] = out[int(same_lanes.group(1))]["lanes"]
        footnote = re.search(r"^Ket: (.*(?:\n {5}\S.*)*)", block, flags=re.M)
        if footnote:
            # A note stands after two spaces inside a line and may run on to the next line.
            text = re.sub(r"(?<=\S) {2,}\([^)]*\)", "", footnote.group(0))
            table["footnote"] = norm(KEGIATAN_NOTE.sub("", text))
        # Rows: a numbered line and its lines indented by three; a bracketed line is a note.
        current: list[str] | None = None
        numbered: list[tuple[str, list[str]]] = []
        for line in lines[i:]:
            m = re.match(r"^(\d+)  (.*)$", line)
            same = re.match(r"^(\d+)-(\d+) identical .*? to V(\d)", line)
            if same:
                src = out[int(same.group(3))]["rows"]
                for k in range(int(same.group(1)), int(same.group(2)) + 1):
                    table["rows"][str(k)] = copy.deepcopy(src[str(k)])
                current = None
            elif m:
                current = [m.group(2)]
                numbered.append((m.group(1), current))
            elif current is not None and re.match(r"^   \S", line) and not line.startswith("   ("):
                current.append(line.strip())
            else:
                current = None
        for no, parts in numbered:
            text = " ".join(parts)
            row = table["rows"].setdefault(no, {})
            if not re.match(r"^[KWO]: ", text):
                kegiatan = KEGIATAN_NOTE.sub("", text.split(" | ")[0])
                row["kegiatan"] = norm(kegiatan)
                fields = text.split(" | ")
                if len(fields) > 1 and not re.match(r"^[KWO]: ", fields[1]):
                    row["lane"] = fields[1]
            row.update(cells(text))
            diamond = re.search(r'decision (?:printed )?"([^"]+)"', text)
            if diamond:
                row["diamond"] = diamond.group(1)
        out[n] = table
    return out


def listed() -> list[tuple[int, str, int]]:
    """The structure list: (variant, title, number of steps)."""
    part = section(BAYAR_TEXT, "STRUCTURE OF THE DOCUMENT")
    return [(int(v), t, int(s)) for v, t, s in re.findall(r'^  V(\d)  page \d+  "([^"]+)"\s+(\d+) steps', part, flags=re.M)]


def test_bayar_is_valid_without_warnings() -> None:
    load(BAYAR)


def test_bayar_has_eight_tables_numbered_from_1() -> None:
    d, _ = load(BAYAR)
    counts = [n for _, _, n in listed()]
    assert counts == [8, 7, 8, 7, 9, 9, 9, 9]
    assert len(d.tables) == 8
    for t, n in zip(d.tables, counts):
        assert [r.no for r in t.rows] == [str(k) for k in range(1, n + 1)], t.id
        assert not any(r.band for r in t.rows)


def test_bayar_table_titles_as_printed() -> None:
    d, _ = load(BAYAR)
    assert [t.title for t in d.tables] == [title for _, title, _ in listed()]
    assert [t.title for t in d.tables] == [v["title"] for v in variants().values()]


def test_bayar_every_table_has_its_lanes_as_printed() -> None:
    d, _ = load(BAYAR)
    for ti, (n, v) in enumerate(variants().items()):
        got = [d.actor(a).name for a in d.lanes(ti)]  # type: ignore[union-attr]
        assert [slash(x) for x in got] == [slash(x) for x in v["lanes"]], n


def test_bayar_actors_are_the_lanes_as_listed() -> None:
    d, _ = load(BAYAR)
    listed_lanes = re.findall(r"^L\d'?\s+(\S.*?)\s{2,}\(", section(BAYAR_TEXT, "PELAKSANA"), flags=re.M)
    assert [a.name for a in d.actors] == listed_lanes
    # every lane of every table is an actor, and every actor is drawn somewhere
    drawn = {a for ti in range(len(d.tables)) for a in d.lanes(ti)}
    assert drawn == {a.id for a in d.actors}


def test_bayar_rows_verbatim() -> None:
    d, _ = load(BAYAR)
    for t, (n, v) in zip(d.tables, variants().items()):
        assert sorted(v["rows"], key=int) == [r.no for r in t.rows], n
        for r in t.rows:
            src = v["rows"][r.no]
            where = f"V{n} row {r.no}"
            assert r.kegiatan == src["kegiatan"], where
            assert r.waktu == src["W"], where
            # A cell naming several documents is split at its commas; joined, it spells the cell.
            assert ", ".join(names(r.kelengkapan)) == src["K"], where
            assert ", ".join(names(r.output)) == src["O"], where
            assert r.keterangan is None, where


def test_bayar_every_kegiatan_appears_verbatim() -> None:
    text = norm((DEFINITIONS / f"{BAYAR}.yaml").read_text(encoding="utf-8"))
    for n, v in variants().items():
        for no, row in v["rows"].items():
            assert row["kegiatan"] in text, (n, no)


def test_bayar_symbols_stand_in_the_lane_of_their_row() -> None:
    d, _ = load(BAYAR)
    by_name = {slash(a.name): a.id for a in d.actors}
    checked = 0
    for t, (n, v) in zip(d.tables, variants().items()):
        for r in t.rows:
            lane = slash(v["rows"][r.no].get("lane", ""))
            if lane in by_name:
                assert {s.lane for s in r.symbols} == {by_name[lane]}, (n, r.no)
                checked += 1
    assert checked > 50
    # V3 row 7: "drawn in the Proyek Keuangan/PPK lane (the 'Persediaan' lane stays empty)"
    v3 = d.tables[2]
    assert [s.lane for s in v3.rows[6].symbols] == ["proyek-keuangan"]
    assert not any(s.lane == "persediaan" for r in v3.rows for s in r.symbols)


def test_bayar_first_and_last_rows_hold_the_terminators() -> None:
    d, _ = load(BAYAR)
    for t in d.tables:
        first, last = t.rows[0].symbols, t.rows[-1].symbols
        assert [s.kind for s in first] == [SymbolKind.start, SymbolKind.process], t.id
        assert [s.kind for s in last] == [SymbolKind.process, SymbolKind.end], t.id
        assert len({s.lane for s in first}) == 1 and len({s.lane for s in last}) == 1, t.id


def test_bayar_diamonds_print_their_question_and_labels() -> None:
    d, _ = load(BAYAR)
    for t, (n, v) in zip(d.tables, variants().items()):
        for r in t.rows:
            diamonds = [s for s in r.symbols if s.kind is SymbolKind.decision]
            question = v["rows"][r.no].get("diamond")
            assert [s.text for s in diamonds] == ([question] if question else []), (n, r.no)
            for s in diamonds:
                # "All diamonds carry printed Ya/Tidak labels."
                assert [(o.label, o.drawn) for o in s.outcomes] == [("Ya", True), ("Tidak", True)], s.id


def test_bayar_when_chooses_by_the_account_codes_of_the_title() -> None:
    d, _ = load(BAYAR)
    codes: list[str] = []
    for t in d.tables:
        assert t.title is not None and t.when is not None
        printed = re.findall(r"\b\d{6}\b", t.title)
        value = t.when["case.akun"]
        assert (value if isinstance(value, list) else [value]) == printed, t.id
        codes += printed
    field = next(c for c in d.case if c.name == "akun")
    assert field.required and sorted(field.values or []) == sorted(set(codes))
    # 524114 and 524119 choose two tables: staff pick one with --table
    shared = [t.id for t in d.tables if t.when and t.when["case.akun"] == ["524114", "524119"]]
    assert len(shared) == 2


def test_bayar_footnotes_verbatim() -> None:
    d, _ = load(BAYAR)
    for t, (n, v) in zip(d.tables, variants().items()):
        assert t.footnotes == ([v["footnote"]] if v["footnote"] else []), n


def test_bayar_acceptance_check_forks_on_ya() -> None:
    """V1, V3, V8 row 5: two arrows printed "Ya" are one outcome that forks into rows 6 and 7."""
    d, text = load(BAYAR)
    steps = compile_definition(d, text)["steps"]
    for ti in (0, 2, 7):
        t = d.tables[ti]
        diamond = t.rows[4].symbols[0]
        assert diamond.kind is SymbolKind.decision
        ya = next(o for o in steps[diamond.id]["outcomes"] if o["name"] == "Ya")
        assert {ya["next"], *ya["spawn"]} == {t.rows[5].symbols[0].id, t.rows[6].symbols[0].id}, t.id
        assert len(ya["spawn"]) == 1
        tidak = next(o for o in steps[diamond.id]["outcomes"] if o["name"] == "Tidak")
        assert tidak["next"] == t.rows[3].symbols[0].id and tidak["spawn"] == []


def test_bayar_v1_row_5_compiles_to_a_fork() -> None:
    d, text = load(BAYAR)
    step = compile_definition(d, text)["steps"]["v1-serah-terima"]
    ya = next(o for o in step["outcomes"] if o["name"] == "Ya")
    assert [ya["next"], *ya["spawn"]] == ["v1-menyampaikan", "v1-validasi-dokumen"]


def test_bayar_joins_where_two_arrows_meet() -> None:
    d, _ = load(BAYAR)
    joins = sorted((d.table_id(ti), r.no) for ti, ri, _, s in d.symbols() for r in [d.tables[ti].rows[ri]] if s.join)
    assert joins == [("akun-521211", "7"), ("akun-521213", "4"), ("akun-522151", "4")]


def test_bayar_split_after_row_1_forks_to_rows_2_and_4() -> None:
    d, _ = load(BAYAR)
    for ti in (1, 3):  # V2, V4
        t = d.tables[ti]
        box = t.rows[0].symbols[1]
        assert box.targets == [t.rows[1].symbols[0].id, t.rows[3].symbols[0].id], t.id


def test_bayar_undrawn_arrows_are_declared() -> None:
    """V3 and V8 row 6 draw no arrow out (the branch ends); V3 row 7 draws none to row 8."""
    d, _ = load(BAYAR)
    undrawn = {(d.table_id(ti), d.tables[ti].rows[ri].no): s.targets for ti, ri, _, s in d.symbols() if not s.drawn}
    assert undrawn == {
        ("akun-521811", "6"): ["selesai"],
        ("akun-521811", "7"): ["v3-pembayaran"],
        ("akun-524114-524119-paket-meeting", "6"): ["selesai"],
    }
    assert not any(not o.drawn for _, _, _, s in d.symbols() for o in s.outcomes)


def test_bayar_v4_prints_tidak_on_a_box() -> None:
    d, _ = load(BAYAR)
    labelled = [(d.table_id(ti), d.tables[ti].rows[ri].no, s.kind, s.label) for ti, ri, _, s in d.symbols() if s.label]
    assert labelled == [("akun-522151", "3", SymbolKind.process, "Tidak")]


def test_bayar_v6_conditional_row_stays_a_box() -> None:
    d, _ = load(BAYAR)
    row = d.tables[5].rows[3]
    assert row.kegiatan == "Pembuatan SPD (jika dibutuhkan)"
    assert [s.kind for s in row.symbols] == [SymbolKind.process]
    assert row.interpretation and "jika dibutuhkan" in row.interpretation


def test_bayar_table_columns_as_printed() -> None:
    d, _ = load(BAYAR)
    said = re.search(r"^Table columns \(all variants\): (.*)$", section(BAYAR_TEXT, "STRUCTURE OF THE DOCUMENT"), flags=re.M)
    assert said and "Mutu Baku: Persyaratan/Perlengkapan" in said.group(1)
    for t in d.tables:
        assert t.columns.kelengkapan == "Persyaratan/Perlengkapan"
        assert t.keterangan_column is True and not any(r.keterangan for r in t.rows)


def test_bayar_header_verbatim() -> None:
    d, _ = load(BAYAR)
    h = d.header
    head = section(BAYAR_TEXT, "HEADER")
    scalar = dict(re.findall(r"^(\S[^:\n]*?)\s*: (.*)$", head, flags=re.M))
    assert [h.instansi, h.unit, h.nomor, h.tanggal_pembuatan, h.tanggal_revisi, h.tanggal_efektif] == [
        scalar[k] for k in ("Instansi", "Unit", "Nomor SOP", "Tanggal Pembuatan", "Tanggal Revisi", "Tanggal Efektif")
    ]
    assert scalar["Judul SOP"].startswith(f"{h.judul}   (label \"Judul SOP\"")
    assert h.labels == {"judul": "Judul SOP", "disahkan_oleh": "Disahkan Oleh"}
    assert h.disahkan_oleh is not None and scalar["Disahkan Oleh"].startswith(h.disahkan_oleh.jabatan or "?")

    def block(label: str) -> str:
        m = re.search(rf"^{re.escape(label)}:\n((?:  .*\n)+)", head, flags=re.M)
        assert m, label
        return m.group(1)

    # Printed without a marker: the words, in order, and no marker.
    for label, key in (("Dasar Hukum", "dasar_hukum"), ("Kualifikasi Pelaksana", "kualifikasi_pelaksana"), ("Peringatan", "peringatan")):
        assert norm(" ".join(getattr(h, key))) == norm(block(label)), label
        assert h.markers[key] == "", label
    assert h.kualifikasi_pelaksana == [norm(x) for x in block("Kualifikasi Pelaksana").splitlines()]
    # Numbered: one item per number.
    for label, key in (("Keterkaitan", "keterkaitan"), ("Peralatan/Perlengkapan", "peralatan")):
        items = [norm(x) for x in re.split(r"(?:^|\s)\d+\. ", block(label), flags=re.M) if x.strip()]
        assert getattr(h, key) == items, label
        assert h.markers.get(key, "1.") == "1.", label
    # Printed empty: given blank, so the box is printed and stays empty.
    assert block("Pencatatan dan Pendataan").strip() == "(empty)"
    assert h.pencatatan == [] and "pencatatan" in h.model_fields_set
