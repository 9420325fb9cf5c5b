"""Safe YAML loading that remembers where each value was written.

``load_with_lines`` returns the data and a map from a path (a tuple of keys and list
indexes) to its 1-based line, so that a problem found later — by pydantic or by the
definition checks — can be reported at the line an admin has to edit.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import yaml

from sopengine.definition.messages import N_

Path = tuple[Any, ...]

# A definition has a few hundred values; aliases can multiply that without limit
# ("billion laughs"), so the walk stops long before memory or patience runs out.
MAX_VALUES = 100_000


class SopLoader(yaml.SafeLoader):
    """The safe loader with YAML 1.2 booleans.

    YAML 1.1 reads ``no``, ``yes``, ``on`` and ``off`` as booleans, so a row's ``no: 1``
    key or an outcome named ``No`` would silently change meaning. Only ``true`` and
    ``false`` are booleans here.
    """


SopLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SopLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


# A number as people write it, with the forms YAML 1.1 accepts but this loader keeps as text.
_LOOSE_NUMBER = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)$")


def plain_number(text: object) -> str | None:
    """The plain form of a number that was kept as text: ``'06'`` -> ``'6'``, ``'+2'`` -> ``'2'``.

    None when *text* is not such a number (or is already plain). Messages use it to say
    what to write where a number is wanted.
    """
    if not isinstance(text, str) or not _LOOSE_NUMBER.match(text):
        return None
    digits = text.replace("_", "")
    if digits.strip("+-.") == "":
        return None
    plain = str(float(digits)) if "." in digits else str(int(digits))
    return plain if plain != text else None


class YamlProblem(Exception):
    """The text is not usable YAML; ``line``/``column`` are 1-based, ``field`` the key's path."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None, field: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.field = field


# PyYAML's words for a problem -> what to do about it.
_HINTS = [
    ("found character '\\t'", N_("indent with spaces, not tabs")),
    ("mapping values are not allowed", N_("put a text that contains ': ' in quotes")),
    ("could not find expected ':'", N_("write 'key: value', or put the text in quotes")),
    ("found undefined alias", N_("define the anchor (&name) before using *name")),
    ("found unexpected end of stream", N_("close the quote")),
    ("while scanning a quoted scalar", N_("close the quote")),
    ("found unknown escape character", N_("in double quotes write a backslash as \\\\, or use single quotes")),
]


# 'keterangan: -' (Surat Keluar prints "-" in every row): YAML reads the dash as a list item.
_DASH_VALUE = re.compile(r"^\s*(?:-\s+)?(?P<key>[^\s:#'\"][^:#]*?):\s+(?P<value>-(?:\s.*?)?)\s*(?:#.*)?$")


def _dash_value(text: str, index: int) -> str | None:
    """The fix for a value that starts with '-' on line *index* (0-based), or None."""
    lines = text.splitlines()
    m = _DASH_VALUE.match(lines[index]) if 0 <= index < len(lines) else None
    if m is None:
        return None
    key, value = m.group("key"), m.group("value").strip()
    if value == "-":
        return N_("a lone '-' must be quoted: {key}: \"-\"").format(key=key)
    quoted = f"'{value}'" if '"' in value else f'"{value}"'
    return N_("a text that starts with '-' must be quoted: {key}: {quoted}").format(key=key, quoted=quoted)


def _hint(reason: str, context: str) -> str:
    for needle, hint in _HINTS:
        if needle in reason or needle in context:
            return hint
    return N_("check the indentation, quotes and brackets on this line and the one before")


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse *text* with the safe loader; return ``(data, lines)``.

    Mapping keys are text and must be unique. Dates and times stay the text they were
    written as: the SOP's header is kept verbatim. An unquoted number is a number only
    where reading it back gives the same digits (``3``, ``-2``, ``1.5``); anything else
    YAML 1.1 would turn into a number (``045``, ``12:30``, ``1_000``, ``+5``, ``0x1F``,
    ``1.50``) stays the text written. Raises :class:`YamlProblem`.
    """
    try:
        # The reader checks every character as the loader is made: a NUL fails right here.
        loader = SopLoader(text)
    except yaml.reader.ReaderError as exc:
        raise _reader_problem(exc, text) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
            if "expected a single document" in str(exc.context):
                # PyYAML words this one backwards ("but found another document").
                raise YamlProblem(
                    N_("a second YAML document starts here; a definition file holds one document, "
                       "so remove the '---' and what follows or move it to its own file"),
                    mark.line + 1 if mark else None,
                ) from None
            line = mark.line + 1 if mark else None
            column = mark.column + 1 if mark else None
            dash = _dash_value(text, mark.line) if mark and "sequence entries are not allowed" in reason else None
            if dash is not None:
                raise YamlProblem(_syntax_error(column, reason, dash), line, column) from None
            # Where the unfinished construct began (an unclosed '[' or quote) is often the line to fix.
            began = exc.context_mark
            hint = _hint(reason, str(exc.context or ""))
            if exc.problem and exc.context and began is not None and mark is not None and began.line != mark.line:
                # PyYAML's words (what is wrong, what was open) stay as PyYAML wrote them
                reason = N_("{reason} ({context} that starts on line {line})").format(
                    reason=reason, context=" ".join(str(exc.context).split()), line=began.line + 1)
            raise YamlProblem(_syntax_error(column, reason, hint), line, column) from None
        except yaml.reader.ReaderError as exc:
            raise _reader_problem(exc, text) from None
        except yaml.YAMLError as exc:
            raise YamlProblem(N_("not valid YAML ({error}); check the file's syntax").format(error=" ".join(str(exc).split()))) from None
        except RecursionError:
            raise YamlProblem(N_("the YAML is nested too deeply to be a definition; check the brackets")) from None
        lines: dict[Path, int] = {}
        if node is None:
            return None, lines
        walker = _Walker(loader, lines)
        try:
            return walker.walk(node, ()), lines
        except RecursionError:
            raise YamlProblem(N_("the YAML is nested too deeply to be a definition; check the brackets")) from None
    finally:
        loader.dispose()


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


def _syntax_error(column: int | None, reason: str, fix: str) -> str:
    if column:
        return N_("syntax error at column {column}: {reason}; {fix}").format(column=column, reason=reason, fix=fix)
    return N_("syntax error: {reason}; {fix}").format(reason=reason, fix=fix)


def _reader_problem(exc: yaml.reader.ReaderError, text: str) -> YamlProblem:
    line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
    char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
    return YamlProblem(
        N_("the control character {char} is not allowed in YAML; delete it (or save the file as plain UTF-8 text)").format(char=char), line
    )


class _Walker:
    def __init__(self, loader: SopLoader, lines: dict[Path, int]) -> None:
        self.loader = loader
        self.lines = lines
        self.count = 0
        self.open: set[int] = set()

    def walk(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise YamlProblem(
                N_("the file expands to more than {most} values (aliases?); write the definition out plainly").format(most=MAX_VALUES),
                node.start_mark.line + 1,
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self.open:
            raise YamlProblem(N_("an alias (*name) refers to a value that contains it; remove the alias"),
                              node.start_mark.line + 1, field=path)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            # The safe loader would refuse these too; say so in the admin's words.
            raise YamlProblem(
                N_("the tag {tag!r} is not allowed; definitions use plain YAML only (remove the tag)").format(tag=node.tag),
                node.start_mark.line + 1, node.start_mark.column + 1,
            )
        if isinstance(node, yaml.MappingNode):
            self.open.add(id(node))
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    raise YamlProblem(N_("a key must be plain text, not a list or mapping; write 'key: value'"), line, column, path)
                # Keys stay the text written: '1: x' names the key "1", never a list index.
                key = key_node.value
                if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                    raise YamlProblem(N_("merge keys ('<<: *name') are not supported; write the fields out"), line, column, path)
                if key in result:
                    raise YamlProblem(
                        N_("the key {key!r} is given twice in this mapping (column {column}); keep one").format(key=key, column=column),
                        line, column, path + (key,),
                    )
                self.lines[path + (key,)] = line
                result[key] = self.walk(value_node, path + (key,))
            self.open.discard(id(node))
            return result
        if isinstance(node, yaml.SequenceNode):
            self.open.add(id(node))
            items = [self.walk(item, path + (i,)) for i, item in enumerate(node.value)]
            self.open.discard(id(node))
            return items
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            mark = exc.problem_mark or node.start_mark
            reason = " ".join(str(exc.problem).split()) if exc.problem else N_("cannot read this value")
            raise YamlProblem(
                N_("{reason}; definitions use plain YAML only (remove the tag or quote the value)").format(reason=reason),
                mark.line + 1, mark.column + 1,
            ) from None
        except (ValueError, TypeError, OverflowError) as exc:
            # e.g. an explicit !!int on text, or !!timestamp on an impossible date
            raise YamlProblem(
                N_("cannot read the value {value!r} ({error}); remove the tag or quote the value").format(value=node.value, error=str(exc)),
                node.start_mark.line + 1, node.start_mark.column + 1,
            ) from None
        if isinstance(value, (_dt.date, _dt.datetime)):
            return node.value
        if isinstance(value, bytes):
            return node.value
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and node.tag in _NUMBER_TAGS
            and getattr(node, "style", None) is None
            and str(value) != node.value
        ):
            # YAML 1.1 reads '045' as octal 37, '12:30' as 750 (base 60), '1_000' as 1000 and
            # '+5' as 5. A definition keeps what was written: such a number stays its text.
            return node.value
        return value
