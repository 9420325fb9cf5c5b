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

Path = tuple[Any, ...]


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


class YamlProblem(Exception):
    """The text is not usable YAML; ``line``/``column`` are 1-based."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse *text* with the safe loader; return ``(data, lines)``.

    Mapping keys must be unique. Dates and times stay the text they were written as:
    the SOP's header is kept verbatim.
    """
    loader = SopLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = exc.problem or exc.context or "invalid YAML"
            line = mark.line + 1 if mark else None
            column = mark.column + 1 if mark else None
            raise YamlProblem(f"YAML syntax error: {reason}", line, column) from None
        except yaml.YAMLError as exc:
            raise YamlProblem(f"YAML error: {exc}") from None
        lines: dict[Path, int] = {}
        if node is None:
            return None, lines
        return _walk(loader, node, (), lines), lines
    finally:
        loader.dispose()


def _walk(loader: SopLoader, node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or isinstance(key, (list, dict)):
                raise YamlProblem("a mapping key must be plain text", key_node.start_mark.line + 1)
            if key in result:
                raise YamlProblem(f"duplicate key {key!r}", key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _walk(loader, value_node, path + (key,), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(loader, item, path + (i,), lines) for i, item in enumerate(node.value)]
    return _scalar(loader, node)


def _scalar(loader: SopLoader, node: yaml.Node) -> Any:
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise YamlProblem(f"YAML error: {exc.problem}", mark.line + 1 if mark else None) from None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return node.value
    return value
