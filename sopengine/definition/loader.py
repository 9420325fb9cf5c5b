"""Validate a definition file and compile it for the engine.

``check_file`` reports every problem of a file at once, each as ``FILE:LINE: field: message``:
first the structure (pydantic, with its locations mapped back to YAML lines), then the
flow (unknown actors and steps, unreachable steps, dead ends, decisions, durations).
``compile_definition`` turns a valid definition into the plain dict that runs keep with
them, so that a step never re-validates YAML.
"""

from __future__ import annotations

import difflib
import hashlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sopengine.definition.durations import parse_duration
from sopengine.definition.models import Definition, Step, StepKind, is_end, slug, END
from sopengine.definition.yamlmarks import YamlProblem, load_with_lines
from sopengine.errors import DefinitionInvalid, Problem

PERIOD_FACTS = {
    "period.type": "month, quarter, semester or year",
    "period.year": "the year, e.g. 2026",
    "period.month": "the last month of the period, 1-12",
    "period.quarter": "the quarter the period ends in, 1-4",
    "period.semester": "the semester the period ends in, 1-2",
    "period.ends_quarter": "true when the period ends with a quarter",
    "period.ends_semester": "true when the period ends with a semester (June or December)",
    "period.ends_year": "true when the period ends with the year",
}


@dataclass
class Checked:
    """The outcome of checking one file."""

    path: Path
    text: str | None
    definition: Definition | None
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


def check_file(path: Path | str) -> Checked:
    """Read and check one definition file; never raises for a bad file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Checked(path, None, None, [Problem(str(path), None, "", "file not found")])
    except UnicodeDecodeError as exc:
        return Checked(path, None, None, [Problem(str(path), None, "", f"not UTF-8 text ({exc.reason}); save the file as UTF-8")])
    except OSError as exc:
        return Checked(path, None, None, [Problem(str(path), None, "", f"cannot read the file: {exc.strerror}")])
    return check_text(text, str(path), expected_id=path.stem)


def check_text(text: str, filename: str = "<text>", expected_id: str | None = None) -> Checked:
    """Check definition *text*; ``filename`` names it in problems."""
    path = Path(filename)

    def problem(line: int | None, where: str, message: str, severity: str = "error") -> Problem:
        return Problem(filename, line, where, message, severity)

    try:
        data, lines = load_with_lines(text)
    except YamlProblem as exc:
        col = f" (column {exc.column})" if exc.column else ""
        return Checked(path, text, None, [problem(exc.line, "", exc.message + col)])
    if data is None:
        return Checked(path, text, None, [problem(1, "", "the file is empty; a definition needs id, title, actors and steps")])
    if not isinstance(data, dict):
        kind = type(data).__name__.replace("str", "text").replace("list", "a list")
        return Checked(path, text, None, [problem(1, "", f"the file must be a mapping of fields (id, title, actors, steps), not {kind}")])

    try:
        definition = Definition.model_validate(data)
    except ValidationError as exc:
        problems = [_pydantic_problem(err, lines, filename) for err in exc.errors()]
        problems.sort(key=lambda p: (p.line or 0, p.field))
        return Checked(path, text, None, problems)

    problems = list(_flow_problems(definition, lines, filename))
    if expected_id is not None and definition.id != expected_id:
        problems.append(problem(lines.get(("id",)), "id", f"id {definition.id!r} must equal the file name {expected_id!r}; rename the file or the id"))
    problems.sort(key=lambda p: (p.line or 0, p.field))
    return Checked(path, text, definition, problems)


def load_definition(path: Path | str) -> tuple[Definition, str]:
    """The valid definition in *path* and its text; raises :class:`DefinitionInvalid`."""
    checked = check_file(path)
    if not checked.ok:
        raise DefinitionInvalid(checked.problems)
    assert checked.definition is not None and checked.text is not None
    return checked.definition, checked.text


# -- pydantic locations to lines ---------------------------------------------------------------

def _lookup_line(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _display_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = Definition
    for part in loc:
        if isinstance(part, int):
            continue
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            return None
        ann = info.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        nested = None
        for c in candidates:
            for inner in [c, *getattr(c, "__args__", ())]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    nested = inner
        model = nested
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _pydantic_problem(err: dict[str, Any], lines: dict[tuple[Any, ...], int], filename: str) -> Problem:
    # Union members add their type names to the location; they mean nothing to an admin.
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in {"str", "int", "float", "bool", "list", "dict", "function-after", "literal['otherwise']"})))
    kind = err["type"]
    message = err["msg"]
    if kind == "extra_forbidden":
        name = loc[-1]
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(name), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else (f"; allowed here: {', '.join(allowed)}" if allowed else "")
        return Problem(filename, _lookup_line(loc, lines), _display_path(loc[:-1]), f"unknown field {name!r}{hint}")
    if kind == "missing":
        return Problem(filename, _lookup_line(loc, lines), _display_path(loc), "required field is missing")
    if kind == "string_pattern_mismatch":
        message = "use lower-case letters, digits, '-' and '_' only (e.g. 'kepala-bidang')"
    elif kind == "too_short":
        message = "must not be empty"
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    elif message.startswith("Assertion failed, "):
        message = message[len("Assertion failed, "):]
    else:
        message = message[0].lower() + message[1:]
    if "input" in err and kind in {"string_type", "int_type", "list_type", "dict_type", "bool_type", "model_type", "enum", "literal_error", "int_parsing", "bool_parsing"}:
        given = err["input"]
        if not isinstance(given, (dict, list)):
            message += f" (got {given!r})"
    return Problem(filename, _lookup_line(loc, lines), _display_path(loc), message)


# -- the flow ----------------------------------------------------------------------------------

def step_targets(definition: Definition, index: int) -> list[str]:
    """Where a step goes: its ``next`` (the next row by default) or its outcomes' ``next``."""
    step = definition.steps[index]
    if step.kind is StepKind.decision:
        return [o.next for o in step.outcomes]
    if step.next is None:
        return [definition.steps[index + 1].id] if index + 1 < len(definition.steps) else [END]
    return [step.next] if isinstance(step.next, str) else list(step.next)


def _flow_problems(d: Definition, lines: dict[tuple[Any, ...], int], filename: str):
    def at(*loc: Any) -> int | None:
        return _lookup_line(loc, lines)

    def err(loc: tuple[Any, ...], message: str, severity: str = "error") -> Problem:
        return Problem(filename, at(*loc), _display_path(loc), message, severity)

    actor_ids = [a.id for a in d.actors]
    for i, a in enumerate(d.actors):
        if a.id in actor_ids[:i]:
            yield err(("actors", i, "id"), f"duplicate actor id {a.id!r}")
    case_fields = {c.name: c for c in d.case}
    for i, c in enumerate(d.case):
        if c.name in [x.name for x in d.case[:i]]:
            yield err(("case", i, "name"), f"duplicate case field {c.name!r}")

    step_ids: dict[str, int] = {}
    numbers: dict[int, int] = {}
    for i, s in enumerate(d.steps):
        if s.id in step_ids or is_end(s.id):
            what = "is reserved for the end of the process" if is_end(s.id) else "is used twice"
            yield err(("steps", i, "id"), f"step id {s.id!r} {what}")
        step_ids.setdefault(s.id, i)
        if s.no is not None:
            if s.no in numbers:
                yield err(("steps", i, "no"), f"step number {s.no} is used twice (also step {d.steps[numbers[s.no]].id!r})")
            numbers.setdefault(s.no, i)

    for i, s in enumerate(d.steps):
        field_name = "actors" if s.actors else "actor"
        for j, lane in enumerate(s.lanes):
            if lane not in actor_ids:
                loc = ("steps", i, "actors", j) if s.actors else ("steps", i, "actor")
                hint = difflib.get_close_matches(lane, actor_ids, n=1)
                yield err(loc, f"unknown actor {lane!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; actors are: {', '.join(actor_ids)}"))
        if s.actors and len(set(s.actors)) != len(s.actors):
            yield err(("steps", i, field_name), "the same actor is named twice in one row")
        # waktu
        if s.duration is not None:
            try:
                parse_duration(s.duration)
            except ValueError as exc:
                yield err(("steps", i, "duration"), str(exc))
        elif s.waktu is not None and not s.untimed:
            try:
                parse_duration(s.waktu)
            except ValueError as exc:
                msg = str(exc)
                if not msg.startswith("unknown unit"):
                    msg += "; if the SOP gives a window, not a duration, add 'untimed: true'"
                yield err(("steps", i, "waktu"), msg)
        elif s.waktu is None and not s.untimed and not s.automatic:
            yield err(("steps", i), "the step has no waktu; give the SOP's waktu, or 'untimed: true' if it has none")
        # targets
        targets = step_targets(d, i)
        if s.kind is StepKind.process and isinstance(s.next, list):
            if len(s.next) < 2:
                yield err(("steps", i, "next"), "a split needs two or more steps; give a single step id instead")
            if len(set(s.next)) != len(s.next):
                yield err(("steps", i, "next"), "the same step is named twice in a split")
            if any(is_end(t) for t in s.next):
                yield err(("steps", i, "next"), "a branch of a split cannot end the process; end it after the join")
        for t in targets:
            if not is_end(t) and t not in step_ids:
                hint = difflib.get_close_matches(t, list(step_ids), n=1)
                loc = ("steps", i, "next") if s.kind is StepKind.process else ("steps", i, "outcomes", [o.next for o in s.outcomes].index(t), "next")
                yield err(loc, f"no step {t!r}" + (f"; did you mean {hint[0]!r}?" if hint else "") + f" (use a step id, or '{END}' to end the process)")
        if s.kind is StepKind.decision:
            yield from _decision_problems(d, i, s, case_fields, err)

    # reachability: only meaningful when every target exists
    all_targets_known = all(is_end(t) or t in step_ids for i in range(len(d.steps)) for t in step_targets(d, i))
    if not all_targets_known or len(step_ids) != len(d.steps):
        return
    graph = {s.id: [t for t in step_targets(d, i) if not is_end(t)] for i, s in enumerate(d.steps)}
    ends = {s.id for i, s in enumerate(d.steps) if any(is_end(t) for t in step_targets(d, i))}
    reached = _reach(graph, d.steps[0].id)
    for i, s in enumerate(d.steps):
        if s.id not in reached:
            yield err(("steps", i, "id"), f"step {s.id!r} can never be reached from the first step; point a 'next' or an outcome at it, or remove it")
    reverse: dict[str, list[str]] = {k: [] for k in graph}
    for src, dests in graph.items():
        for dst in dests:
            reverse[dst].append(src)
    can_finish: set[str] = set()
    queue = deque(ends)
    while queue:
        node = queue.popleft()
        if node in can_finish:
            continue
        can_finish.add(node)
        queue.extend(reverse[node])
    for i, s in enumerate(d.steps):
        if s.id in reached and s.id not in can_finish:
            yield err(("steps", i, "id"), f"from step {s.id!r} the end can never be reached (it only loops); give it a way to '{END}'")
    for i, s in enumerate(d.steps):
        if s.join and len(reverse[s.id]) < 2:
            yield err(("steps", i, "join"), "a join needs two or more steps leading into it")
    # inputs nobody produced
    produced: set[str] = set()
    for i, s in enumerate(d.steps):
        for j, doc in enumerate(s.inputs):
            if not doc.external and _norm(doc.name) not in produced:
                yield err(("steps", i, "inputs", j), f"input {doc.name!r} is not an output of an earlier step; mark it 'external: true' if it comes from outside", "warning")
        produced.update(_norm(o.name) for o in s.outputs)


def _norm(name: str) -> str:
    return " ".join(name.lower().split())


def _decision_problems(d: Definition, i: int, s: Step, case_fields: dict, err):
    if len(s.outcomes) < 2:
        yield err(("steps", i, "outcomes"), "a decision needs at least two outcomes (e.g. Ya and Tidak)")
    seen: set[str] = set()
    for j, o in enumerate(s.outcomes):
        key = slug(o.name)
        if not key:
            yield err(("steps", i, "outcomes", j, "name"), "an outcome name needs letters or digits")
        if key in seen:
            yield err(("steps", i, "outcomes", j, "name"), f"outcome {o.name!r} is given twice")
        seen.add(key)
        if not s.automatic and o.when is not None:
            yield err(("steps", i, "outcomes", j, "when"), "only an automatic decision has 'when'; add 'automatic: true' or remove 'when'")
    if not s.automatic:
        return
    otherwise = [j for j, o in enumerate(s.outcomes) if o.when == "otherwise"]
    for j, o in enumerate(s.outcomes):
        if o.when is None:
            yield err(("steps", i, "outcomes", j), "an automatic decision needs 'when' on every outcome ('otherwise' for the rest)")
        elif isinstance(o.when, dict):
            if not o.when:
                yield err(("steps", i, "outcomes", j, "when"), "'when' needs at least one fact")
            for fact, value in o.when.items():
                if fact in PERIOD_FACTS:
                    continue
                if fact.startswith("case."):
                    name = fact[5:]
                    cf = case_fields.get(name)
                    if cf is None:
                        yield err(("steps", i, "outcomes", j, "when", fact), f"case field {name!r} is not declared; add it under 'case:'")
                    elif cf.values is not None:
                        for v in value if isinstance(value, list) else [value]:
                            if v not in cf.values:
                                yield err(("steps", i, "outcomes", j, "when", fact), f"{v!r} is not an allowed value of {name!r} ({', '.join(map(str, cf.values))})")
                    continue
                yield err(("steps", i, "outcomes", j, "when", fact), f"unknown fact {fact!r}; use case.<name> or one of {', '.join(PERIOD_FACTS)}")
    if len(otherwise) > 1 or (otherwise and otherwise[0] != len(s.outcomes) - 1):
        yield err(("steps", i, "outcomes"), "'otherwise' may be used once, on the last outcome")


def _reach(graph: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        queue.extend(graph.get(node, []))
    return seen


# -- compiled form -----------------------------------------------------------------------------

def compile_definition(d: Definition, text: str) -> dict[str, Any]:
    """The plain, JSON-ready form a run keeps: everything the engine needs, nothing to re-validate."""
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
            "inputs": [x.name for x in s.inputs],
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
        "reach": {sid: sorted(_reach(graph, sid) - {sid}) for sid in graph},
    }
