"""Problems in plain words, at the line an admin has to edit.

pydantic reports a location (``('steps', 2, 'waktu')``) and an error type; this module
maps the location to the YAML line (:mod:`sopengine.definition.yamlmarks` recorded them),
folds the errors of a union into one, and words each as what is wrong and how to fix it.
Each message is a :class:`~sopengine.definition.messages.Message`: English in the problem
(``validate --json``), in the language in force where the problem is printed.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from sopengine.definition.messages import Message, N_, concat, either
from sopengine.definition.models import Definition, Document
from sopengine.definition.yamlmarks import plain_number
from sopengine.definition.problem import Problem

Lines = dict[tuple[Any, ...], int]
"""A path (keys and list indexes) to its 1-based line."""


NUMBER_KEPT_AS_TEXT = N_("a number written with a leading zero, '+', '_' or a trailing zero stays text")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def make_problem(filename: str, line: int | None, where: str, message: str, severity: str = "error") -> Problem:
    """A problem whose message is English, shown in the language in force when it is a :class:`Message`."""
    # A problem is one line, whatever a key or a value smuggles in.
    if isinstance(message, Message):
        return Problem(filename, line, one_line(where), one_line(message), severity,
                       template=message.template, values=message.values)
    return Problem(filename, line, one_line(where), one_line(message), severity)


def lookup_line(loc: tuple[Any, ...], lines: Lines) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def display_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_ROOT: list[type[BaseModel]] = [Definition]
"""The model of the file being explained (format 1's or format 2's), set by structure_problems."""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at *loc* (None for plain dicts)."""
    model: Any = _ROOT[-1]
    for part in loc:
        if isinstance(part, int):
            continue
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            return None
        nested = None
        for c in [info.annotation, *getattr(info.annotation, "__args__", ())]:
            for inner in [c, *getattr(c, "__args__", ())]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    nested = inner
        model = nested
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def short(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, dict):
        return N_("a mapping")
    if isinstance(value, list):
        return N_("a list")
    return repr(value)


def _got(value: Any) -> str:
    return N_(" (got an empty value)") if value is None else N_(" (got {value})").format(value=short(value))


_TEXT = N_("text")
_LIST = N_("a list")
_MAPPING = N_("a mapping")
_WHOLE_NUMBER = N_("a whole number")
_TRUE_OR_FALSE = N_("true or false")
_DOCUMENT = N_("a document's name or a mapping")
_NOUNS = {
    "string_type": _TEXT, "string_sub_type": _TEXT,
    "list_type": _LIST, "tuple_type": _LIST,
    "dict_type": _MAPPING, "model_type": _MAPPING, "model_attributes_type": _MAPPING,
    "int_type": _WHOLE_NUMBER, "int_parsing": _WHOLE_NUMBER, "int_from_float": _WHOLE_NUMBER,
    "float_type": N_("a number"), "float_parsing": N_("a number"),
    "bool_type": _TRUE_OR_FALSE, "bool_parsing": _TRUE_OR_FALSE,
}


def _noun(err: dict[str, Any]) -> str | None:
    if err["type"] in ("literal_error", "enum"):
        expected = err.get("ctx", {}).get("expected")
        return N_("one of the allowed values") if expected is None else _choices(str(expected))
    return _NOUNS.get(err["type"])


def _choices(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" with the language's 'or' (as pydantic wrote it when it is not that)."""
    items = re.findall(r"'[^']*'|\d+", expected)
    words = either(items)
    return words if words == expected else expected


def _tagged_loc(loc: tuple[Any, ...], data: Any, kind: str) -> list[tuple[str, Any]]:
    """Mark each part of a pydantic location as a real key/index or a union member's tag.

    Union members add their type names ('constrained-str', 'list[...]') to the location;
    walking the data beside it tells the two apart, even for a user's key named 'int'.
    """
    out: list[tuple[str, Any]] = []
    node = data
    for n, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            out.append(("key", part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(("key", part))
            node = node[part]
        elif kind == "missing" and n == len(loc) - 1:
            out.append(("key", part))
        elif isinstance(part, str):
            out.append(("tag", part))
        else:
            out.append(("key", part))
            node = None
    return out


def _collapse(items: list[tuple[list[tuple[str, Any]], dict[str, Any]]]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """One error per place: a value that matches no member of a union gets one message.

    When the value has the shape of one member (a list where 'text or a list' is allowed)
    only the errors inside that member are kept: they point at the item to fix.
    """
    out: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    groups: dict[tuple[Any, ...], list[tuple[list[tuple[str, Any]], dict[str, Any]]]] = {}
    for loc, err in items:
        tags = [i for i, (kind, _) in enumerate(loc) if kind == "tag"]
        if not tags:
            out.append((tuple(v for _, v in loc), err))
            continue
        first = tags[0]
        prefix = tuple(v for _, v in loc[:first])
        groups.setdefault(prefix, []).append((loc[:first] + loc[first + 1:], err))
    for prefix, members in groups.items():
        deep = [(loc, err) for loc, err in members if len(loc) > len(prefix)]
        if deep:
            out.extend(_collapse(deep))
            continue
        nouns: list[str] = []
        for _, err in members:
            noun = _noun(err)
            if noun and noun not in nouns:
                nouns.append(noun)
        if len(nouns) > 1:
            head = either(nouns)
            out.append((prefix, {"type": "union", "nouns": nouns, "text": head, "input": members[0][1].get("input")}))
        else:
            out.append((prefix, members[0][1]))
    return out


def structure_problems(exc: ValidationError, data: Any, lines: Lines, filename: str,
                       root: type[BaseModel] = Definition) -> list[Problem]:
    _ROOT.append(root)
    try:
        return _structure_problems(exc, data, lines, filename)
    finally:
        _ROOT.pop()


def _structure_problems(exc: ValidationError, data: Any, lines: Lines, filename: str) -> list[Problem]:
    items = [(_tagged_loc(tuple(err["loc"]), data, err["type"]), dict(err)) for err in exc.errors()]
    seen: set[tuple[Any, ...]] = set()
    problems = []
    for loc, err in _collapse(items):
        where, message = _explain(loc, err)
        key = (where, message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(make_problem(filename, lookup_line(loc, lines), where, message))
    return problems


def _explain(loc: tuple[Any, ...], err: dict[str, Any]) -> tuple[str, str]:
    """The field and the one-line message (what is wrong, how to fix it) for one error."""
    kind = err["type"]
    where = display_path(loc)
    given = err.get("input")
    if kind == "extra_forbidden":
        name = str(loc[-1])
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        if close:
            return where, N_("unknown field; did you mean {name!r}?").format(name=close[0])
        if allowed:
            return where, N_("unknown field; remove it (allowed here: {fields})").format(fields=", ".join(allowed))
        return where, N_("unknown field; remove it")
    if kind == "missing":
        model = _model_at(loc[:-1])
        info = model.model_fields.get(str(loc[-1])) if model else None
        if info is not None and info.description:
            # the description is marked for the catalogue where the model declares it
            return where, N_("required field is missing; add '{field}:' ({description})").format(
                field=loc[-1], description=Message(info.description))
        return where, N_("required field is missing; add '{field}:'").format(field=loc[-1])
    if kind == "string_pattern_mismatch":
        return where, N_("{value} is not a valid id; use lower-case letters, digits, '-' and '_', "
                         "starting with a letter or digit (e.g. 'kepala-bidang')").format(value=short(given))
    if kind in ("too_short", "string_too_short"):
        if isinstance(given, str):
            return where, N_("must not be empty; write the text")
        return where, N_("needs at least one item; add one ('- ...')")
    if kind in ("greater_than_equal", "greater_than"):
        limit = err.get("ctx", {}).get("ge", err.get("ctx", {}).get("gt"))
        return where, N_("must be {limit} or more{got}; number the rows as the SOP does, from 1").format(limit=limit, got=_got(given))
    if kind in ("value_error", "assertion_error"):
        text = err["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if text.startswith(prefix):
                text = text[len(prefix):]
        # the validator's own message, when it raised one of the checks' messages (pydantic keeps it)
        error = err.get("ctx", {}).get("error")
        raised = error.args[0] if isinstance(error, Exception) and error.args else None
        return where, raised if isinstance(raised, Message) and raised == text else text
    if kind == "union":
        nouns = err["nouns"]
        return where, N_("must be {nouns}{got}{hint}").format(nouns=err["text"], got=_got(given), hint=_type_hint(nouns[0], given, loc))
    noun = _noun(err)
    if noun == _MAPPING and _model_at(loc) is not None and issubclass(_model_at(loc), Document):  # type: ignore[arg-type]
        noun = _DOCUMENT
    if noun is not None:
        return where, N_("must be {nouns}{got}{hint}").format(nouns=noun, got=_got(given), hint=_type_hint(noun, given, loc))
    text = err["msg"]  # pydantic's own words, in English
    return where, concat(text[0].lower() + text[1:], _got(given))


def _type_hint(noun: str, given: Any, loc: tuple[Any, ...]) -> str:
    if noun == _TEXT and loc and loc[-1] == "actor" and isinstance(given, list):
        lanes = ", ".join(str(x) for x in given)
        return N_("; one lane is 'actor: <id>'; for several lanes write 'actors: [{lanes}]'").format(lanes=lanes)
    if noun == _TEXT:
        if isinstance(given, (dict, list)):
            return N_("; put the text in quotes if it contains ': ' or starts with '[', '{' or '-'")
        if given is None:
            return N_("; write the text after the colon, or remove the field")
        return N_("; put it in quotes")
    if noun == _LIST:
        return N_("; write each item on its own line starting with '- '")
    if loc and loc[-1] == "when":
        return N_("; write facts such as {period.ends_year: true}, or otherwise")
    if noun == _DOCUMENT:
        return N_("; write the document's name, or a mapping such as {name: ..., external: true}")
    if noun == _MAPPING:
        model = _model_at(loc)
        if model is not None:
            needed = [n for n, f in model.model_fields.items() if f.is_required()]
            if needed:
                return N_("; write it as 'field: value' lines (needs {fields})").format(fields=", ".join(needed))
            if len(model.model_fields) <= 6:
                return N_("; write it as 'field: value' lines ({fields})").format(fields=", ".join(model.model_fields))
            return N_("; write it as 'field: value' lines (see docs/definition-format.md)")
        return N_("; write it as 'key: value' lines")
    if noun == _TRUE_OR_FALSE:
        return N_("; write true or false (yes/no are text here)")
    if noun == _WHOLE_NUMBER:
        plain = plain_number(given)
        if plain is not None:
            return N_("; write {plain}: {why}").format(plain=plain, why=NUMBER_KEPT_AS_TEXT)
        return N_("; write a number such as 3, without quotes")
    if loc == ("format",):
        return N_("; this version of sopengine reads format 1 and format 2 (write 'format: 2')")
    if noun.startswith("'"):
        choices = re.findall(r"'([^']*)'", noun)
        close = difflib.get_close_matches(str(given), choices, n=1) if isinstance(given, str) else []
        return N_("; did you mean {choice!r}?").format(choice=close[0]) if close else N_("; write one of these")
    return ""
