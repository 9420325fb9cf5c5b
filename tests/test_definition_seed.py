"""The shipped definitions checked against the SOP texts they were written from.

``tests/data/seed-pengumpulan-data.txt`` is the first SOP's text as extracted from its PDF
(two tab-separated table blocks); the two other texts are careful transcriptions of signed
SOPs in a labelled layout. The tests parse those texts and require every header field,
actor, step text, requirement, time, output and flow they state to be in the YAML
verbatim, so that a definition cannot drift from its SOP unnoticed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from pathlib import Path
from typing import Any

import pytest

from sopengine.definition.durations import DurationError, parse_duration
from sopengine.definition.format2 import Definition2, SymbolKind
from sopengine.definition.graph import symbol_graph
from sopengine.definition.loader import check_file, compile_definition
from sopengine.definition.models import END, StepKind

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
DEFINITIONS = ROOT / "definitions"


@dataclass
class Rows:
    """A format-2 definition read row by row, as the paper's table compares with it."""

    d: Definition2
    steps: list[Any]
    targets: dict[str, list[str]]  # a row's first symbol -> where its last work symbol leads

    def __getattr__(self, name: str) -> Any:
        return getattr(self.d, name)

    def step(self, key: str) -> Any:
        return next((s for s in self.steps if s.id == key or key in s.symbols), None)


def _rows(d: Definition2, text: str) -> Rows:
    compiled = compile_definition(d, text)
    graph = symbol_graph(d)
    steps, targets = [], {}
    for row in d.tables[0].rows:
        work = [x for x in row.symbols if graph[x.id].task]
        decision = next((x for x in work if x.kind is SymbolKind.decision), None)
        lanes = [x.lane for x in work if x.lane]
        view = SimpleNamespace(
            id=row.symbols[0].id if row.no is not None else work[0].id, symbols=[x.id for x in row.symbols],
            no=int(row.no) if row.no is not None else None, kegiatan=row.kegiatan if row.no is not None else work[0].text,
            waktu=row.waktu, inputs=list(row.kelengkapan), outputs=list(row.output), keterangan=row.keterangan,
            untimed=row.untimed, parsed_duration=row.parsed_duration,
            interpretation=row.interpretation or next((x.interpretation for x in row.symbols if x.interpretation), None),
            lanes=lanes, actors=lanes if len(lanes) > 1 else None,
            kind=StepKind.decision if decision is not None else StepKind.process,
            automatic=bool(decision and decision.automatic),
            outcomes=[SimpleNamespace(name=o.title, meaning=o.meaning, next=o.targets[0]) for o in (decision.outcomes if decision else [])],
        )
        steps.append(view)
        targets[view.id] = compiled["steps"][work[-1].id]["next"] if work else [END]
    return Rows(d, steps, targets)


def load(definition_id: str) -> Rows:
    checked = check_file(DEFINITIONS / f"{definition_id}.yaml")
    assert checked.ok, [str(p) for p in checked.problems]
    assert checked.problems == [], [str(p) for p in checked.problems]
    assert isinstance(checked.definition, Definition2) and checked.text is not None  # shipped in format 2
    return _rows(checked.definition, checked.text)


def norm(text: str) -> str:
    """Commas and whitespace do not matter when a cell is compared with its split documents."""
    return " ".join(text.replace(",", " ").split())


def by_no(d: Rows) -> dict[int, Any]:
    return {s.no: s for s in d.steps if s.no is not None}


# -- the first SOP, from its PDF text -----------------------------------------------------------

@dataclass
class SeedRow:
    no: int
    kegiatan: str
    marks: dict[str, str]  # actor column -> the mark that survives in it
    kelengkapan: str
    waktu: str
    output: str


def seed_table() -> tuple[list[str], list[SeedRow]]:
    """The actor columns and the rows of the seed's two table blocks."""
    text = (DATA / "seed-pengumpulan-data.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    actors: list[str] = []
    rows: list[SeedRow] = []
    for i, line in enumerate(lines):
        if line.startswith("No\tKegiatan\tPelaksana"):
            columns = lines[i + 1].split("\t")
            names = [c for c in columns if c.strip()]
            assert not actors or names == actors, "both blocks have the same actor columns"
            actors = names
        elif re.match(r"^\d+\t", line):
            cells = line.split("\t")
            assert len(cells) == 2 + len(actors) + 3, line
            marks = {actors[k]: cells[2 + k].strip() for k in range(len(actors)) if cells[2 + k].strip()}
            rows.append(SeedRow(int(cells[0]), cells[1], marks, *cells[2 + len(actors):]))
    return actors, rows


def test_seed_text_has_two_blocks_of_nine_rows() -> None:
    actors, rows = seed_table()
    assert len(actors) == 5
    assert [r.no for r in rows] == list(range(1, 10))


def test_seed_actors_are_the_columns_in_order() -> None:
    actors, _ = seed_table()
    assert [a.name for a in load("pengumpulan-data").actors] == actors


@pytest.mark.parametrize("no", range(1, 10))
def test_seed_row_verbatim(no: int) -> None:
    _, rows = seed_table()
    row = next(r for r in rows if r.no == no)
    step = by_no(load("pengumpulan-data"))[no]
    assert step.kegiatan == row.kegiatan
    assert step.waktu == row.waktu
    assert [o.name for o in step.outputs] == [row.output]
    # A cell may hold several documents; split, they still spell the cell.
    assert norm(" ".join(x.name for x in step.inputs)) == norm(row.kelengkapan)


def test_seed_surviving_marks_fix_the_actor() -> None:
    """Where a mark survives in an actor column (Mulai, +1, Ya, Tidak), that column acts."""
    _, rows = seed_table()
    d = load("pengumpulan-data")
    names = {a.id: a.name for a in d.actors}
    marked = [r for r in rows if r.marks]
    assert [(r.no, list(r.marks.values())) for r in marked] == [
        (1, ["Mulai"]), (3, ["+1"]), (7, ["Ya"]), (8, ["Tidak"]), (9, ["Ya"]),
    ]
    for r in marked:
        assert [names[a] for a in by_no(d)[r.no].lanes] == list(r.marks), r.no
    assert not any("Selesai" in r.marks.values() for r in rows)


def test_seed_only_unnumbered_steps_are_automatic_gates() -> None:
    d = load("pengumpulan-data")
    _, rows = seed_table()
    assert sorted(by_no(d)) == [r.no for r in rows]
    gates = [s for s in d.steps if s.no is None]
    assert gates and all(s.kind is StepKind.decision and s.automatic for s in gates)
    assert all(s.interpretation for s in d.steps)


def test_seed_header_verbatim() -> None:
    text = (DATA / "seed-pengumpulan-data.txt").read_text(encoding="utf-8")
    flat = norm(text)
    h = load("pengumpulan-data").header
    values: list[str] = [v for v in (h.instansi, h.unit, h.nomor, h.tanggal_pembuatan, h.judul) if v]
    values += h.dasar_hukum + h.kualifikasi_pelaksana + h.keterkaitan + h.peralatan + h.peringatan + h.pencatatan
    assert h.disahkan_oleh is not None
    values += [h.disahkan_oleh.jabatan or "", h.disahkan_oleh.nama or "", f"NIP. {h.disahkan_oleh.nip}"]
    values += list(h.labels.values())
    values += [v for v in h.extra.values() if isinstance(v, str)]
    for value in values:
        assert norm(value) in flat, value
    # The header prints two values for its five dated fields: the rest stay blank.
    printed = [line[2:].strip() for line in text.splitlines() if line.startswith(": ")]
    assert printed == [h.nomor, h.tanggal_pembuatan]
    assert h.tanggal_revisi is None and h.tanggal_efektif is None


def test_seed_labels_as_printed() -> None:
    from sopengine.render.terminal import HEADER_LABELS, header_rows

    text = (DATA / "seed-pengumpulan-data.txt").read_text(encoding="utf-8")
    flat = " ".join(text.split())
    d = load("pengumpulan-data")
    # Every label a rendering prints is printed on the SOP, capitals and spelling included
    # (the agency box's lines have no labels on paper), and none is added.
    for (key, _), (label, _) in zip(HEADER_LABELS, header_rows(d.d)):
        if key not in ("instansi", "unit"):
            assert label in flat, label
    assert d.header.extra == {}
    # The name's row: its printed label, then the name, each word once.
    h = d.header
    assert h.judul is not None and f"{h.labels['judul']} {h.judul}" in flat
    assert not h.judul.startswith(h.labels["judul"])
    # The agency box, line by line.
    box = ["PEMERINTAH PROVINSI BANTEN", "SATUAN POLISI PAMONG PRAJA", "KEPALA SUB BAGIAN DAN PELAPORAN"]
    assert [h.instansi, *(h.unit or "").splitlines()] == box
    assert "  \n".join(box) in text


# -- the two transcribed SOPs ----------------------------------------------------------------

ANNOTATION = re.compile(r"(\s{2,}\(.*|\s\((?:signed|sic|external)\b.*)$")


def clean(value: str) -> str:
    """A transcribed value without the transcriber's notes: '(sic)', '(blank)', '(handwritten)'."""
    return " ".join(ANNOTATION.sub("", value).split())


def sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        m = re.match(r"^=== (.+?)(?: \(.*\))? ===$", line)
        if m:
            current = m.group(1)
            out[current] = []
        elif current:
            out[current].append(line)
    return out


@dataclass
class Transcribed:
    header: dict[str, Any] = field(default_factory=dict)  # label -> text, None or list of items
    label_notes: dict[str, str] = field(default_factory=dict)  # label -> its note
    actors: list[str] = field(default_factory=list)  # actor lines
    steps: dict[int, dict[str, Any]] = field(default_factory=dict)


def transcribed(name: str) -> Transcribed:
    t = Transcribed()
    parts = sections((DATA / name).read_text(encoding="utf-8"))
    label = ""
    for line in parts["HEADER"]:
        if not line.strip():
            continue
        item = re.match(r"^\s+(?:\d+\.|-)\s+(.*)$", line)
        top = re.match(r"^(\S[^:]*?)\s*:\s*(.*)$", line)
        if top and not line.startswith(" "):
            label, value = top.group(1), top.group(2)
            note = re.search(r"\((.*)\)$", label)
            if note:
                label = label[: note.start()].strip()
                t.label_notes[label] = note.group(1)
            if not value:
                t.header[label] = []
            elif value.strip() == "(empty)":
                t.header[label] = []
            elif value.strip() == "(blank)":
                t.header[label] = None
            else:
                t.header[label] = value
        elif item:
            t.header[label].append(item.group(1))
        else:  # a continuation of the last value or item
            if isinstance(t.header[label], list):
                t.header[label][-1] += " " + line.strip()
            else:
                t.header[label] += " " + line.strip()
    t.actors = [line for line in parts["PELAKSANA"] if re.match(r"^A\d+\s", line)]
    step: dict[str, Any] | None = None
    key = ""
    for line in parts["STEPS"]:
        m = re.match(r"^Step (\d+)$", line)
        if m:
            step = {"outcomes": []}
            t.steps[int(m.group(1))] = step
            continue
        if step is None or not line.strip():
            continue
        attr = re.match(r"^  (\w[\w ]*?)(?: \((\d+) items\))?\s*:\s*(.*)$", line)
        outcome = re.match(r"^  (Ya|Tidak|YA|TIDAK) \(([^)]*)\)\s*->\s*(\d+)", line)
        if outcome:
            step["outcomes"].append((outcome.group(1), outcome.group(2), int(outcome.group(3))))
        elif attr:
            key = attr.group(1)
            step[key] = [] if attr.group(2) else attr.group(3)
        elif re.match(r"^    - ", line):
            step[key].append(line.strip()[2:])
        elif line.startswith("     ") and isinstance(step.get(key), str):
            step[key] += " " + line.strip()
    return t


FIELDS = {
    "Instansi": "instansi", "Unit": "unit", "Nomor SOP": "nomor", "Tanggal Pembuatan": "tanggal_pembuatan",
    "Tanggal Revisi": "tanggal_revisi", "Tanggal Efektif": "tanggal_efektif", "Judul SOP": "judul",
    "Nama SOP": "judul", "Dasar Hukum": "dasar_hukum", "Kualifikasi Pelaksana": "kualifikasi_pelaksana",
    "Kualitas Pelaksana": "kualifikasi_pelaksana", "Keterkaitan": "keterkaitan",
    "Peralatan/Perlengkapan": "peralatan", "Peringatan": "peringatan",
    "Pencatatan dan Pendataan": "pencatatan", "Pencatatan dan Pedataan": "pencatatan",
}
EXAMPLES = [
    ("surat-keluar", "sop-surat-keluar.txt"),
    ("permohonan-informasi-publik", "sop-permohonan-informasi-publik.txt"),
]


@pytest.mark.parametrize(("definition_id", "source"), EXAMPLES)
def test_example_header_verbatim(definition_id: str, source: str) -> None:
    t = transcribed(source)
    h = load(definition_id).header
    assert h.disahkan_oleh is not None
    assert h.disahkan_oleh.jabatan == clean(t.header.pop("Disahkan oleh"))
    # The transcription leaves out the name and NIP: they stay absent, never invented.
    assert h.disahkan_oleh.nama is None and h.disahkan_oleh.nip is None
    assert set(t.header) <= set(FIELDS), set(t.header) - set(FIELDS)
    for label, value in t.header.items():
        got = getattr(h, FIELDS[label])
        if isinstance(value, list):
            assert got == [clean(v) for v in value], label
        else:
            assert got == (clean(value) if value is not None else None), label


@pytest.mark.parametrize(("definition_id", "source"), EXAMPLES)
def test_example_labels_as_printed(definition_id: str, source: str) -> None:
    t = transcribed(source)
    h = load(definition_id).header
    printed: dict[str, str] = {}
    for label, note in t.label_notes.items():
        if "as printed" in note or note == "sic":
            printed[FIELDS[label]] = label
    for label, value in t.header.items():
        said = re.search(r'labelled "([^"]+)"', value) if isinstance(value, str) else None
        if said:
            printed[FIELDS[label]] = said.group(1)
    assert printed, "each example prints at least one label its own way"
    assert h.labels == printed


@pytest.mark.parametrize(("definition_id", "source"), EXAMPLES)
def test_example_actors(definition_id: str, source: str) -> None:
    t = transcribed(source)
    d = load(definition_id)
    assert len(d.actors) == len(t.actors)
    for actor, line in zip(d.actors, t.actors):
        name = re.split(r"\s{2,}", re.sub(r"^A\d+\s+", "", line))[0].strip()
        assert actor.name == name
        assert (actor.kind.value == "external") is ("EXTERNAL" in line), name
        assert bool(actor.alternatives) is ("alternative" in line), name
        if actor.alternatives:
            assert all(alt.split()[0] in actor.name for alt in actor.alternatives)


@pytest.mark.parametrize(("definition_id", "source"), EXAMPLES)
def test_example_steps_verbatim(definition_id: str, source: str) -> None:
    t = transcribed(source)
    d = load(definition_id)
    steps = by_no(d)
    names = {a.id: a.name for a in d.actors}
    ids = {x: s.no for s in d.steps for x in s.symbols}
    assert sorted(steps) == sorted(t.steps) and len(d.steps) == len(t.steps)
    for no, row in t.steps.items():
        s = steps[no]
        assert s.kegiatan == row["Kegiatan"], no
        assert s.waktu == row["Waktu"], no
        kelengkapan = row["Kelengkapan"]
        want = [clean(k) for k in kelengkapan] if isinstance(kelengkapan, list) else [clean(kelengkapan)]
        assert [x.name for x in s.inputs] == want, no
        assert [o.name for o in s.outputs] == [clean(row["Output"])], no
        assert s.keterangan == (row["Keterangan"] if "Keterangan" in row else None), no
        # the lane(s): one actor's name, or several named in order
        pelaksana = clean(row["Pelaksana"])
        lanes = [names[a] for a in s.lanes]
        if len(lanes) == 1:
            assert lanes == [pelaksana], no
        else:
            positions = [row["Pelaksana"].find(n) for n in lanes]
            assert -1 not in positions and positions == sorted(positions), no
        # the symbol and where it leads
        assert (s.kind is StepKind.decision) is row["Symbol"].startswith("decision"), no
        if s.kind is StepKind.decision:
            got = [(o.name, o.meaning, ids[o.next]) for o in s.outcomes]
            assert got == row["outcomes"], no
        else:
            target = re.match(r"^(\d+)", row["Next"])
            expected = [int(target.group(1))] if target else [END]
            assert [ids.get(x, x) for x in d.targets[s.id]] == expected, no


@pytest.mark.parametrize(("definition_id", "source"), EXAMPLES)
def test_example_windows_are_untimed_and_the_deadline_is_the_process(definition_id: str, source: str) -> None:
    t = transcribed(source)
    d = load(definition_id)
    for no, row in t.steps.items():
        s = by_no(d)[no]
        if row["Waktu"].lower().startswith("paling lambat"):
            # a deadline for the whole request, kept on the row as printed
            assert d.deadline == row["Waktu"] and s.untimed, no
            continue
        try:
            parse_duration(row["Waktu"])
        except DurationError as exc:
            assert exc.window and s.untimed, no
        else:
            assert not s.untimed and s.parsed_duration == parse_duration(row["Waktu"]), no


def test_surat_keluar_loops() -> None:
    d = load("surat-keluar")
    steps = by_no(d)
    loops = {(no, o.name): by_no_of(d, o.next) for no, s in steps.items() for o in s.outcomes}
    assert loops == {(3, "Ya"): 4, (3, "Tidak"): 2, (4, "Ya"): 5, (4, "Tidak"): 3}
    # Step 5 is drawn as a box: no way back, though its text describes one.
    assert steps[5].kind is StepKind.process and "tidak setuju" in steps[5].kegiatan


def test_permohonan_loop_and_two_actor_row() -> None:
    d = load("permohonan-informasi-publik")
    steps = by_no(d)
    assert [(o.name, by_no_of(d, o.next)) for o in steps[2].outcomes] == [("YA", 3), ("TIDAK", 1)]
    assert steps[6].actors == ["perangkat-daerah", "ppid"]
    assert d.actor("pengguna-layanan").kind.value == "external"  # type: ignore[union-attr]
    assert parse_duration(d.deadline or "") == {"days": 17, "minutes": 0, "calendar": False}


def by_no_of(d: Rows, step_id: str) -> int | None:
    step = d.step(step_id)
    return step.no if step else None


@pytest.mark.parametrize("path", sorted(DEFINITIONS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_files_start_with_the_schema_line(path: Path) -> None:
    assert path.read_text(encoding="utf-8").splitlines()[0] == "# yaml-language-server: $schema=definition.schema.json"
