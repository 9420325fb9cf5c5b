"""Problems in plain words, at the line an admin has to edit.

pydantic reports a location (``('steps', 2, 'waktu')``) and an error type; this module
maps the location to the YAML line (:mod:`sopengine.definition.yamlmarks` recorded them),
folds the errors of a union into one, and words each as what is wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from sopengine.definition.models import Definition, Document
from sopengine.definition.yamlmarks import plain_number
from sopengine.errors import Problem

Lines = dict[tuple[Any, ...], int]
"""A path (keys and list indexes) to its 1-based line."""


NUMBER_KEPT_AS_TEXT = "a number written with a leading zero, '+', '_' or a trailing zero stays text"


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def make_problem(filename: str, line: int | None, where: str, message: str, severity: str = "error") -> Problem:
    # A problem is one line, whatever a key or a value smuggles in.
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
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _got(value: Any) -> str:
    return " (got an empty value)" if value is None else f" (got {short(value)})"


_NOUNS = {
    "string_type": "text", "string_sub_type": "text",
    "list_type": "a list", "tuple_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
}


def _noun(err: dict[str, Any]) -> str | None:
    if err["type"] in ("literal_error", "enum"):
        return str(err.get("ctx", {}).get("expected", "one of the allowed values"))
    return _NOUNS.get(err["type"])


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
            head = ", ".join(nouns[:-1]) + " or " + nouns[-1]
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
            return where, f"unknown field; did you mean {close[0]!r}?"
        return where, "unknown field; " + (f"remove it (allowed here: {', '.join(allowed)})" if allowed else "remove it")
    if kind == "missing":
        model = _model_at(loc[:-1])
        info = model.model_fields.get(str(loc[-1])) if model else None
        what = f" ({info.description})" if info is not None and info.description else ""
        return where, f"required field is missing; add '{loc[-1]}:'{what}"
    if kind == "string_pattern_mismatch":
        return where, (f"{short(given)} is not a valid id; use lower-case letters, digits, '-' and '_', "
                       "starting with a letter or digit (e.g. 'kepala-bidang')")
    if kind in ("too_short", "string_too_short"):
        if isinstance(given, str):
            return where, "must not be empty; write the text"
        return where, "needs at least one item; add one ('- ...')"
    if kind in ("greater_than_equal", "greater_than"):
        limit = err.get("ctx", {}).get("ge", err.get("ctx", {}).get("gt"))
        return where, f"must be {limit} or more{_got(given)}; number the rows as the SOP does, from 1"
    if kind in ("value_error", "assertion_error"):
        text = err["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if text.startswith(prefix):
                text = text[len(prefix):]
        return where, text
    if kind == "union":
        nouns = err["nouns"]
        return where, f"must be {err['text']}{_got(given)}" + _type_hint(nouns[0], given, loc)
    noun = _noun(err)
    if noun == "a mapping" and _model_at(loc) is not None and issubclass(_model_at(loc), Document):  # type: ignore[arg-type]
        noun = "a document's name or a mapping"
    if noun is not None:
        return where, f"must be {noun}{_got(given)}" + _type_hint(noun, given, loc)
    text = err["msg"]
    return where, text[0].lower() + text[1:] + _got(given)


def _type_hint(noun: str, given: Any, loc: tuple[Any, ...]) -> str:
    if noun == "text" and loc and loc[-1] == "actor" and isinstance(given, list):
        lanes = ", ".join(str(x) for x in given)
        return f"; one lane is 'actor: <id>'; for several lanes write 'actors: [{lanes}]'"
    if noun == "text":
        if isinstance(given, (dict, list)):
            return "; put the text in quotes if it contains ': ' or starts with '[', '{' or '-'"
        if given is None:
            return "; write the text after the colon, or remove the field"
        return "; put it in quotes"
    if noun == "a list":
        return "; write each item on its own line starting with '- '"
    if loc and loc[-1] == "when":
        return "; write facts such as {period.ends_year: true}, or otherwise"
    if noun == "a document's name or a mapping":
        return "; write the document's name, or a mapping such as {name: ..., external: true}"
    if noun == "a mapping":
        model = _model_at(loc)
        if model is not None:
            needed = [n for n, f in model.model_fields.items() if f.is_required()]
            if needed:
                return f"; write it as 'field: value' lines (needs {', '.join(needed)})"
            if len(model.model_fields) <= 6:
                return f"; write it as 'field: value' lines ({', '.join(model.model_fields)})"
            return "; write it as 'field: value' lines (see docs/definition-format.md)"
        return "; write it as 'key: value' lines"
    if noun == "true or false":
        return "; write true or false (yes/no are text here)"
    if noun == "a whole number":
        plain = plain_number(given)
        if plain is not None:
            return f"; write {plain}: {NUMBER_KEPT_AS_TEXT}"
        return "; write a number such as 3, without quotes"
    if loc == ("format",):
        return "; this version of sopengine reads format 1 and format 2 (write 'format: 2')"
    if noun.startswith("'"):
        choices = re.findall(r"'([^']*)'", noun)
        close = difflib.get_close_matches(str(given), choices, n=1) if isinstance(given, str) else []
        return f"; did you mean {close[0]!r}?" if close else "; write one of these"
    return ""


