"""The flow of a definition: actors, steps, targets, decisions, times and documents.

These checks run on a definition that pydantic accepted: every step names known actors
and steps, every step can be reached and can reach the end, decisions have outcomes and
automatic ones name facts the engine knows, waktu reads as a duration (or is marked
untimed), and every input comes from an earlier step or from outside.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from collections.abc import Iterator
from typing import Any, Callable

from sopengine.definition.durations import DurationError, parse_duration, suggest_duration
from sopengine.definition.messages import N_, concat
from sopengine.definition.models import END, Definition, Header, Step, StepKind, is_end, slug
from sopengine.definition.problems import NUMBER_KEPT_AS_TEXT, Lines, display_path, lookup_line, make_problem, short
from sopengine.definition.yamlmarks import plain_number
from sopengine.definition.problem import Problem

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

# What each period fact's value may be: a check per fact and the words for the message.
_PERIOD_VALUES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "period.type": (lambda v: v in ("month", "quarter", "semester", "year"), N_("month, quarter, semester or year")),
    "period.year": (lambda v: type(v) is int and 1900 <= v <= 9999, N_("a year such as 2026")),
    "period.month": (lambda v: type(v) is int and 1 <= v <= 12, N_("a month number 1-12")),
    "period.quarter": (lambda v: type(v) is int and 1 <= v <= 4, N_("a quarter number 1-4")),
    "period.semester": (lambda v: type(v) is int and 1 <= v <= 2, N_("1 or 2")),
    "period.ends_quarter": (lambda v: type(v) is bool, N_("true or false")),
    "period.ends_semester": (lambda v: type(v) is bool, N_("true or false")),
    "period.ends_year": (lambda v: type(v) is bool, N_("true or false")),
}

_CASE_VALUES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str), N_("text")),
    "integer": (lambda v: type(v) is int, N_("a whole number")),
    "number": (lambda v: type(v) in (int, float), N_("a number")),
    "boolean": (lambda v: type(v) is bool, N_("true or false")),
    "date": (lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) is not None, N_("a date YYYY-MM-DD")),
}

# Weekday names a definition's 'hours' may use, as the calendar reads them.
WEEKDAY_NAMES = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "senin", "selasa", "rabu", "kamis", "jumat", "sabtu", "minggu",
)
_SPAN = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-–]\s*(\d{1,2})[:.](\d{2})\s*$")


def step_targets(definition: Definition, index: int) -> list[str]:
    """Where a step goes: its ``next`` (the next row by default) or its outcomes' ``next``."""
    step = definition.steps[index]
    if step.kind is StepKind.decision:
        return [o.next for o in step.outcomes]
    if step.next is None:
        return [definition.steps[index + 1].id] if index + 1 < len(definition.steps) else [END]
    return [step.next] if isinstance(step.next, str) else list(step.next)


def _did_you_mean(name: str, known: list[str], listing: str) -> str:
    """The hint after a name that is not known: the closest known one, else *listing* and the known ones."""
    hint = difflib.get_close_matches(name, known, n=1)
    if hint:
        return N_("; did you mean {name!r}?").format(name=hint[0])
    return concat("; ", listing, ": ", ", ".join(known)) if known else ""


def flow_problems(d: Definition, lines: Lines, filename: str) -> Iterator[Problem]:
    def err(loc: tuple[Any, ...], message: str, severity: str = "error") -> Problem:
        return make_problem(filename, lookup_line(loc, lines), display_path(loc), message, severity)

    yield from _header_problems(d, err)
    if d.hours is not None:
        yield from _hours_problems(d.hours, err)

    actor_ids = [a.id for a in d.actors]
    case_fields = {c.name: c for c in d.case}
    yield from actor_and_case_problems(d, err)

    step_ids: dict[str, int] = {}
    numbers: dict[int, int] = {}
    last_no = 0
    for i, s in enumerate(d.steps):
        if is_end(s.id):
            yield err(("steps", i, "id"), N_("step id {id!r} is reserved for the end of the process; choose another id").format(id=s.id))
        elif s.id in step_ids:
            yield err(("steps", i, "id"), N_("step id {id!r} is used twice; give each step its own id").format(id=s.id))
        step_ids.setdefault(s.id, i)
        if s.no is not None:
            if s.no in numbers:
                yield err(("steps", i, "no"), N_("row number {no} is used twice (also step {other!r}); number the rows as the SOP does").format(
                    no=s.no, other=d.steps[numbers[s.no]].id))
            elif s.no < last_no:
                yield err(("steps", i, "no"), N_("row {no} comes after row {previous}; keep the steps in the SOP's row order").format(
                    no=s.no, previous=last_no), "warning")
            numbers.setdefault(s.no, i)
            last_no = max(last_no, s.no)

    for i, s in enumerate(d.steps):
        for j, lane in enumerate(s.lanes):
            if lane not in actor_ids:
                loc = ("steps", i, "actors", j) if s.actors else ("steps", i, "actor")
                parts = [x.strip() for x in lane.split(",")]
                if not s.actors and len(parts) > 1 and all(x in actor_ids for x in parts):
                    yield err(loc, N_("unknown actor {lane!r}; for several lanes write 'actors: [{lanes}]'").format(lane=lane, lanes=", ".join(parts)))
                    continue
                yield err(loc, N_("unknown actor {lane!r}{hint}").format(lane=lane, hint=_did_you_mean(lane, actor_ids, N_("declared actors are"))))
        if s.actors and len(set(s.actors)) != len(s.actors):
            yield err(("steps", i, "actors"), N_("the same actor is named twice in one row; name each lane once"))
        yield from _time_problems(i, s, err)
        yield from _target_problems(d, i, s, step_ids, err)
        if s.kind is StepKind.decision:
            yield from _decision_problems(i, s, case_fields, err)
        for j, doc in enumerate(s.outputs):
            if doc.external:
                yield err(("steps", i, "outputs", j, "external"), N_("'external' is for inputs; remove it from the output"))
            if doc.produced_by is not None:
                yield err(("steps", i, "outputs", j, "produced_by"), N_("'produced_by' is for inputs; remove it from the output"))
        for j, doc in enumerate(s.inputs):
            if doc.required:
                yield err(("steps", i, "inputs", j, "required"), N_("'required' is for outputs (a file the step must attach); remove it from the input"))
            if doc.external and doc.produced_by is not None:
                yield err(("steps", i, "inputs", j), N_("an input is either 'external' or 'produced_by' a step, not both; remove one"))
            if doc.produced_by is not None and doc.produced_by not in step_ids:
                yield err(("steps", i, "inputs", j, "produced_by"), N_("no step {id!r}{hint}").format(
                    id=doc.produced_by, hint=_did_you_mean(doc.produced_by, list(step_ids), N_("step ids are"))))

    # reachability: only meaningful when every target exists
    all_targets_known = all(is_end(t) or t in step_ids for i in range(len(d.steps)) for t in step_targets(d, i))
    graph = {s.id: [t for t in step_targets(d, i) if not is_end(t)] for i, s in enumerate(d.steps)}
    known = all_targets_known and len(step_ids) == len(d.steps)
    yield from _input_problems(d, step_ids, graph if known else None, err)
    if not known:
        return
    ends = {s.id for i, s in enumerate(d.steps) if any(is_end(t) for t in step_targets(d, i))}
    reached = reach(graph, d.steps[0].id)
    for i, s in enumerate(d.steps):
        if s.id not in reached:
            yield err(("steps", i, "id"), N_("step {id!r} can never be reached from the first step; point a 'next' or an outcome at it, or remove it").format(id=s.id))
    reverse, can_finish = finishing(graph, ends)
    for i, s in enumerate(d.steps):
        if s.id in reached and s.id not in can_finish:
            yield err(("steps", i, "id"), N_("from step {id!r} the end can never be reached (it only loops); give it a way to '{end}'").format(id=s.id, end=END))
    for i, s in enumerate(d.steps):
        if s.join and len(reverse[s.id]) < 2:
            yield err(("steps", i, "join"), N_("a join needs two or more steps leading into it; remove 'join: true'"))
    # Automatic decisions are taken at once and a run's facts do not change while it runs: a
    # loop made only of them would go round for ever.
    automatic = {s.id for s in d.steps if s.automatic}
    auto_graph = {sid: [t for t in graph[sid] if t in automatic] for sid in automatic}
    for i, s in enumerate(d.steps):
        if s.id in automatic and _comes_back(auto_graph, s.id):
            yield err(("steps", i, "id"), N_("automatic decision {id!r} can come back to itself through automatic decisions only, which would never stop; "
                                             "put a step done by a person in that loop").format(id=s.id))

def actor_and_case_problems(d: Any, err: Callable[..., Problem]) -> Iterator[Problem]:
    """Actors (ids once, alternatives two or more) and case fields (names once, values of their type); both formats."""
    actor_ids = [a.id for a in d.actors]
    for i, a in enumerate(d.actors):
        if a.id in actor_ids[:i]:
            yield err(("actors", i, "id"), N_("actor id {id!r} is used twice; give each pelaksana column its own id").format(id=a.id))
        if len(a.alternatives) == 1:
            yield err(("actors", i, "alternatives"), N_("one alternative is no choice; list two or more roles, or remove 'alternatives'"))
    for i, c in enumerate(d.case):
        if c.name in [x.name for x in d.case[:i]]:
            yield err(("case", i, "name"), N_("case field {name!r} is declared twice; keep one").format(name=c.name))
        check, words = _CASE_VALUES[c.type.value]
        for j, v in enumerate(c.values or []):
            if not check(v):
                yield err(("case", i, "values", j), N_("{value} is not {words} (the field's type is {type}); {fix}").format(
                    value=short(v), words=words, type=c.type.value, fix=_fix_number(v, N_("fix the value or the type"))))


def _input_problems(d: Definition, step_ids: dict[str, int], graph: dict[str, list[str]] | None,
                    err: Callable[..., Problem]) -> Iterator[Problem]:
    """Inputs come from an earlier output, from a step that leads here, or from outside.

    ``graph`` is None while some arrow points nowhere: whether a step leads to another is
    then not known, and only the checks that do not need it are made.
    """
    produced: set[str] = set()
    for i, s in enumerate(d.steps):
        for j, doc in enumerate(s.inputs):
            loc = ("steps", i, "inputs", j, "produced_by")
            if doc.produced_by is not None and doc.produced_by in step_ids:
                if doc.produced_by == s.id or (graph is not None and s.id not in reach(graph, doc.produced_by)):
                    yield err(loc, N_("step {source!r} never leads to step {id!r}, so it cannot produce this input; name a step before it").format(
                        source=doc.produced_by, id=s.id))
                elif not d.steps[step_ids[doc.produced_by]].outputs:
                    yield err(loc, N_("step {source!r} has no outputs; name the step whose output this is").format(source=doc.produced_by))
            elif not doc.external and doc.produced_by is None and _doc_key(doc.name) not in produced:
                yield err(("steps", i, "inputs", j), N_("input {name!r} is not an output of an earlier step; mark it 'external: true' if it comes "
                                                      "from outside, or name its step with 'produced_by'").format(name=doc.name), "warning")
        produced.update(_doc_key(o.name) for o in s.outputs)


def _doc_key(name: str) -> str:
    """A document name for comparison: case, spacing around '/' and a final full stop do not matter."""
    text = " ".join(name.lower().split()).rstrip(". ")
    return re.sub(r"\s*/\s*", "/", text)


def _header_problems(d: Definition, err: Callable[..., Problem]) -> Iterator[Problem]:
    fields = [name for name in Header.model_fields if name not in ("labels", "extra")]
    for key in d.header.labels:
        if key not in fields:
            yield err(("header", "labels", key), N_("{key!r} is not a header field{hint}").format(key=key, hint=_did_you_mean(key, fields, N_("header fields are"))))
    for key in d.header.extra:
        if key in fields:
            yield err(("header", "extra", key), N_("{key!r} is a header field; write it under 'header:' itself, not under 'extra'").format(key=key))


def _hours_problems(hours: dict[str, str | None], err: Callable[..., Problem]) -> Iterator[Problem]:
    seen: dict[int, str] = {}
    for key, span in hours.items():
        name = key.strip().lower()
        if name not in WEEKDAY_NAMES:
            yield err(("hours", key), N_("unknown weekday {key!r}; use monday ... sunday (or senin ... minggu)").format(key=key))
            continue
        day = WEEKDAY_NAMES.index(name) % 7
        if day in seen:
            yield err(("hours", key), N_("{first!r} and {key!r} name the same day; keep one").format(first=seen[day], key=key))
            continue
        seen[day] = key
        if span is None:
            continue
        m = _SPAN.match(span)
        if m is None:
            yield err(("hours", key), N_("{span!r} is not a time range; write \"HH:MM-HH:MM\" in quotes, e.g. \"08:00-16:00\" (null for a closed day)").format(span=span))
            continue
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            yield err(("hours", key), N_("{span!r} has an impossible time; use 00:00 to 23:59").format(span=span))
        elif (h2, m2) <= (h1, m1):
            yield err(("hours", key), N_("{span!r} closes before it opens; swap or fix the times").format(span=span))


def _time_problems(i: int, s: Step, err: Callable[..., Problem]) -> Iterator[Problem]:
    if s.duration is None and s.waktu is None and not s.untimed:
        if not s.automatic:
            yield err(("steps", i), N_("the step has no waktu; give the SOP's waktu, or 'untimed: true' if it has none"))
        return
    yield from duration_problems(("steps", i), s.waktu, s.duration, s.untimed, err)


def duration_problems(loc: tuple[Any, ...], waktu: str | None, duration: str | None, untimed: bool,
                      err: Callable[..., Problem]) -> Iterator[Problem]:
    """Problems of a waktu (the SOP's text), a duration to count instead, and 'untimed'."""
    if duration is not None:
        if untimed:
            yield err(loc + ("untimed",), N_("an untimed step has no 'duration'; remove one of the two"))
            return
        try:
            parse_duration(duration)
        except DurationError as exc:
            yield err(loc + ("duration",), N_("{error}; 'duration' must be one duration, e.g. '30 menit' (keep the SOP's text in waktu)").format(
                error=exc.message))
    elif waktu is not None and not untimed:
        try:
            parse_duration(waktu)
        except DurationError as exc:
            # waktu is the SOP's text, kept verbatim: the fix is never to rewrite it, but to
            # say beside it how long to count (or that it is a window).
            if exc.window:
                msg = N_("{reason}; add 'untimed: true' to keep it as text with no due time").format(reason=exc.reason)
            elif not waktu.strip():
                msg = N_("waktu is empty; give the SOP's waktu, or remove the field and add 'untimed: true' if the SOP gives none")
            else:
                example = suggest_duration(waktu)
                if "is a range" in exc.reason:
                    msg = N_("{reason}; keep waktu as written and add 'duration:' with the time to count, "
                             "e.g. 'duration: {example}' (the upper bound)").format(reason=exc.reason, example=example)
                elif exc.reason.startswith("cannot read"):
                    msg = N_("{reason}; keep waktu as written and add 'duration:' with the time to count, "
                             "e.g. 'duration: {example}', or 'untimed: true' if the SOP gives a window, not a duration").format(
                        reason=exc.reason, example=example)
                else:
                    msg = N_("{reason}; keep waktu as written and add 'duration:' with the time to count, "
                             "e.g. 'duration: {example}'").format(reason=exc.reason, example=example)
            yield err(loc + ("waktu",), msg)


def _target_problems(d: Definition, i: int, s: Step, step_ids: dict[str, int], err: Callable[..., Problem]) -> Iterator[Problem]:
    if s.kind is StepKind.process and isinstance(s.next, list):
        if len(s.next) < 2:
            yield err(("steps", i, "next"), N_("a split needs two or more steps; give a single step id instead of a list"))
        if len(set(s.next)) != len(s.next):
            yield err(("steps", i, "next"), N_("the same step is named twice in a split; name each branch once"))
        if any(is_end(t) for t in s.next):
            yield err(("steps", i, "next"), N_("a branch of a split cannot end the process; join the branches first and end after the join"))
    targets: list[tuple[tuple[Any, ...], str]]
    if s.kind is StepKind.process:
        targets = [(("steps", i, "next"), t) for t in step_targets(d, i)]
    else:
        targets = [(("steps", i, "outcomes", j, "next"), o.next) for j, o in enumerate(s.outcomes)]
    numbers = {str(x.no): x.id for x in d.steps if x.no is not None}
    for loc, t in targets:
        if not is_end(t) and t not in step_ids:
            if t in numbers:
                yield err(loc, N_("{target!r} is a row number; use its id {id!r}").format(target=t, id=numbers[t]))
                continue
            hint = difflib.get_close_matches(t, list(step_ids), n=1)
            if hint:
                yield err(loc, N_("no step {id!r}; did you mean {name!r}?").format(id=t, name=hint[0]))
            else:
                yield err(loc, N_("no step {id!r}; use a step id, or '{end}' to end the process").format(id=t, end=END))


def _decision_problems(i: int, s: Step, case_fields: dict[str, Any], err: Callable[..., Problem]) -> Iterator[Problem]:
    if len(s.outcomes) < 2:
        yield err(("steps", i, "outcomes"), N_("a decision needs at least two outcomes (e.g. Ya and Tidak); add the other outcome, or make it a process step"))
    seen: set[str] = set()
    for j, o in enumerate(s.outcomes):
        key = slug(o.name)
        if not key:
            yield err(("steps", i, "outcomes", j, "name"), N_("outcome name {name!r} has no letters or digits; name it as the SOP does (Ya, Tidak ...)").format(name=o.name))
        elif key in seen:
            yield err(("steps", i, "outcomes", j, "name"), N_("outcome {name!r} is given twice; give each outcome its own name").format(name=o.name))
        seen.add(key)
        if not s.automatic and o.when is not None:
            yield err(("steps", i, "outcomes", j, "when"), N_("only an automatic decision has 'when'; add 'automatic: true' to the step or remove 'when'"))
    if not s.automatic:
        return
    otherwise = [j for j, o in enumerate(s.outcomes) if o.when == "otherwise"]
    for j, o in enumerate(s.outcomes):
        if o.when is None:
            yield err(("steps", i, "outcomes", j), N_("an automatic decision needs 'when' on every outcome; add 'when: {fact: value}', or 'when: otherwise' on the last one"))
        elif isinstance(o.when, dict):
            if not o.when:
                yield err(("steps", i, "outcomes", j, "when"), N_("'when' needs at least one fact, e.g. {period.ends_year: true}; or write 'when: otherwise'"))
            for fact, value in o.when.items():
                yield from _fact_problems(("steps", i, "outcomes", j, "when", fact), fact, value, case_fields, err)
    if len(otherwise) > 1 or (otherwise and otherwise[0] != len(s.outcomes) - 1):
        yield err(("steps", i, "outcomes", otherwise[0], "when"), N_("'otherwise' may be used once, on the last outcome; move it there"))
    elif not otherwise and len(s.outcomes) >= 2:
        yield err(("steps", i, "outcomes"), N_("when none of the facts hold no outcome applies and the run would stop; give the last outcome 'when: otherwise'"), "warning")


def _fact_problems(loc: tuple[Any, ...], fact: str, value: Any, case_fields: dict[str, Any], err: Callable[..., Problem]) -> Iterator[Problem]:
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        yield err(loc, N_("an empty list matches nothing; give one value or several"))
        return
    if fact in PERIOD_FACTS:
        check, words = _PERIOD_VALUES[fact]
        for v in values:
            if not check(v):
                yield err(loc, N_("{value} is never a value of {fact}; {fix}").format(
                    value=short(v), fact=fact, fix=_fix_number(v, N_("use {words}").format(words=words))))
        return
    if fact.startswith("case."):
        name = fact[5:]
        cf = case_fields.get(name)
        if cf is None:
            if case_fields or not name:
                yield err(loc, N_("case field {name!r} is not declared; add it under 'case:' (name: {name})").format(name=name))
            else:
                yield err(loc, N_("case field {name!r} is not declared; add 'case: [{{name: {name}}}]'").format(name=name))
            return
        check, words = _CASE_VALUES[cf.type.value]
        for v in values:
            if not check(v):
                yield err(loc, N_("{value} is not {words}, the type of case field {name!r}; {fix}").format(
                    value=short(v), words=words, name=name, fix=_fix_number(v, N_("fix the value or the field's type"))))
            elif cf.values is not None and v not in cf.values:
                yield err(loc, N_("{value} is not an allowed value of {name!r} ({values}); use one of them").format(
                    value=short(v), name=name, values=", ".join(map(str, cf.values))))
        return
    close = difflib.get_close_matches(fact, list(PERIOD_FACTS), n=1)
    if close:
        yield err(loc, N_("unknown fact {fact!r}; did you mean {name!r}? use case.<name> or one of {facts}").format(
            fact=fact, name=close[0], facts=", ".join(PERIOD_FACTS)))
    else:
        yield err(loc, N_("unknown fact {fact!r}; use case.<name> or one of {facts}").format(fact=fact, facts=", ".join(PERIOD_FACTS)))


def _fix_number(value: Any, otherwise: str) -> str:
    """What to write for a value that should be a number: its plain digits when it has them."""
    plain = plain_number(value)
    return N_("write {plain} ({why})").format(plain=plain, why=NUMBER_KEPT_AS_TEXT) if plain is not None else otherwise


def _comes_back(graph: dict[str, list[str]], start: str) -> bool:
    """Can *start* come back to itself through the graph?"""
    return any(start in reach(graph, nxt) for nxt in graph.get(start, []))


def finishing(graph: dict[str, list[str]], ends: set[str]) -> tuple[dict[str, list[str]], set[str]]:
    """The arrows into each node, and the nodes from which one of *ends* can be reached."""
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
    return reverse, can_finish


def reach(graph: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        queue.extend(graph.get(node, []))
    return seen


