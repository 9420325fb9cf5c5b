"""Validate a definition file and compile it for the engine.

``check_file`` reports every problem of a file at once, each on one line as
``FILE:LINE: field: message`` where the message says what is wrong and how to fix it:
first the YAML itself, then the structure (pydantic, with its locations mapped back to
YAML lines: :mod:`~sopengine.definition.problems`), then the flow (unknown actors and
steps, unreachable steps, dead ends, decisions, durations, documents:
:mod:`~sopengine.definition.flow`). Problems about the file as a whole carry the field
``file`` (empty, not a mapping) or ``yaml`` (syntax). ``compile_definition`` turns a
valid definition into the plain dict that runs keep with them, so that a step never
re-validates YAML.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sopengine.definition.durations import parse_duration
from sopengine.definition.flow import PERIOD_FACTS, flow_problems, reach, step_targets
from sopengine.definition.flow2 import flow_problems2
from sopengine.definition.format2 import Definition2
from sopengine.definition.messages import N_
from sopengine.definition.models import END, Definition, StepKind, is_end, slug
from sopengine.definition.problems import display_path, make_problem, short, structure_problems
from sopengine.definition.yamlmarks import YamlProblem, load_with_lines
from sopengine.definition.problem import Problem
from sopengine.errors import DefinitionInvalid

__all__ = [
    "PERIOD_FACTS",
    "Checked",
    "check_file",
    "check_text",
    "compile_definition",
    "load_definition",
    "step_targets",
    "text_hash",
]


@dataclass
class Checked:
    """The outcome of checking one file."""

    path: Path
    text: str | None
    definition: Definition | Definition2 | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return self.definition is not None and not self.errors


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_file(path: Path | str, known_sops: set[str] | None = None) -> Checked:
    """Read and check one definition file; never raises for a bad file."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Checked(path, None, None, [make_problem(name, None, "file", N_("not found; check the path"))])
    except IsADirectoryError:
        return Checked(path, None, None, [make_problem(name, None, "file", N_("is a folder; name a .yaml file in it"))])
    except UnicodeDecodeError as exc:
        return Checked(path, None, None, [make_problem(
            name, None, "file", N_("is not UTF-8 text ({reason}); save the file as UTF-8").format(reason=exc.reason))])
    except OSError as exc:
        return Checked(path, None, None, [make_problem(
            name, None, "file", N_("cannot be read ({reason}); check its permissions").format(reason=exc.strerror))])
    return check_text(text, name, expected_id=path.stem, known_sops=known_sops)


def check_text(text: str, filename: str = "<text>", expected_id: str | None = None,
               known_sops: set[str] | None = None) -> Checked:
    """Check definition *text*; ``filename`` names it in problems.

    ``expected_id`` is the id the text must declare (the file name without ``.yaml``);
    ``known_sops``, the definition ids a format-2 ``handover`` may name (unchecked when None).
    Never raises for bad text: every problem is a :class:`~sopengine.definition.problem.Problem`.
    """
    path = Path(filename)
    try:
        data, lines = load_with_lines(text)
    except YamlProblem as exc:
        return Checked(path, text, None, [make_problem(filename, exc.line, display_path(exc.field) or "yaml", exc.message)])
    if data is None:
        return Checked(path, text, None, [make_problem(
            filename, 1, "file",
            N_("has no fields (it is empty or only comments); write id, title, actors and steps "
               "(docs/definition-format.md shows an example)"),
        )])
    if not isinstance(data, dict):
        kind = N_("a list") if isinstance(data, list) else N_("a single value ({value})").format(value=short(data))
        return Checked(path, text, None, [make_problem(
            filename, 1, "file",
            N_("is {kind}, but a definition is a mapping of fields; start the file with "
               "'id:', 'title:', 'actors:' and 'steps:' at the left margin").format(kind=kind),
        )])

    fmt = data.get("format")
    if fmt is not None and (fmt not in (1, 2) or isinstance(fmt, bool)):
        return Checked(path, text, None, [make_problem(
            filename, lines.get(("format",)), "format",
            N_("format {value} is not known; this version of sopengine reads format 1 and format 2 (write 'format: 2')").format(
                value=short(fmt)),
        )])
    if fmt is None and "tables" in data and "steps" not in data:
        return Checked(path, text, None, [make_problem(
            filename, 1, "format",
            N_("the file has 'tables' but no 'format: 2'; add 'format: 2' at the top (a file without it is read as format 1)"),
        )])
    model: type[Definition] | type[Definition2] = Definition2 if fmt == 2 else Definition
    try:
        definition = model.model_validate(data)
    except ValidationError as exc:
        problems = structure_problems(exc, data, lines, filename, model)
        problems.sort(key=lambda p: (p.line or 0, p.field))
        return Checked(path, text, None, problems)

    if isinstance(definition, Definition2):
        problems = list(flow_problems2(definition, lines, filename, known_sops))
    else:
        problems = list(flow_problems(definition, lines, filename))
    if expected_id is not None and definition.id != expected_id:
        problems.append(make_problem(
            filename, lines.get(("id",)), "id",
            N_("{id!r} must equal the file name {name!r}; rename the file or change the id").format(id=definition.id, name=expected_id),
        ))
    problems.sort(key=lambda p: (p.line or 0, p.field))
    return Checked(path, text, definition, problems)


def load_definition(path: Path | str) -> tuple[Definition | Definition2, str]:
    """The valid definition in *path* and its text; raises :class:`DefinitionInvalid`."""
    checked = check_file(path)
    if not checked.ok:
        raise DefinitionInvalid(checked.problems)
    assert checked.definition is not None and checked.text is not None
    return checked.definition, checked.text


# -- compiled form -----------------------------------------------------------------------------

def compile_definition(d: Definition | Definition2, text: str) -> dict[str, Any]:
    """The plain, JSON-ready form a run keeps: everything the engine needs, nothing to re-validate."""
    if isinstance(d, Definition2):
        from sopengine.definition.compile2 import compile_format2

        return compile_format2(d, text_hash(text))
    steps: dict[str, Any] = {}
    graph: dict[str, list[str]] = {}
    for i, s in enumerate(d.steps):
        targets = [END if is_end(t) else t for t in step_targets(d, i)]
        graph[s.id] = [t for t in targets if t != END]
        steps[s.id] = {
            "no": s.no,
            "kegiatan": s.kegiatan,
            "kind": s.kind.value,
            "lanes": s.lanes,
            "waktu": s.waktu,
            "duration": s.parsed_duration,
            "untimed": s.untimed,
            "inputs": [x.name for x in s.inputs],
            "input_sources": {x.name: ("external" if x.external else x.produced_by) for x in s.inputs},
            "outputs": [{"name": x.name, "required": x.required} for x in s.outputs],
            "next": targets if s.kind is StepKind.process else [],
            "join": s.join,
            "automatic": s.automatic,
            "outcomes": [
                {"name": o.name, "key": slug(o.name), "next": END if is_end(o.next) else o.next, "when": o.when}
                for o in s.outcomes
            ],
            "handover": s.handover.model_dump() if s.handover else None,
            "keterangan": s.keterangan,
        }
    return {
        "format": 1,
        "id": d.id,
        "title": d.title,
        "hash": text_hash(text),
        "timezone": d.timezone,
        "hours": d.hours,
        "deadline": parse_duration(d.deadline) if d.deadline else None,
        "deadline_text": d.deadline,
        "actors": {a.id: {"name": a.name, "kind": a.kind.value, "alternatives": a.alternatives} for a in d.actors},
        "case": {c.name: {"type": c.type.value, "values": c.values, "required": c.required} for c in d.case},
        "steps": steps,
        "order": [s.id for s in d.steps],
        "first": d.steps[0].id,
        "reach": {sid: sorted(reach(graph, sid) - {sid}) for sid in graph},
    }
