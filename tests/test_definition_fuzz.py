"""Whatever an admin types, checking it gives problems, never a traceback.

Three sources of input: YAML-ish text built from the format's own words and YAML's
punctuation, random nested data dumped as YAML, and a shipped definition with one part
replaced by random data (which reaches the flow checks, not only the parser).
"""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopengine.cli import cli
from sopengine.definition.loader import check_text
from sopengine.definition.yamlmarks import load_with_lines

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [load_with_lines(p.read_text(encoding="utf-8"))[0] for p in sorted((ROOT / "definitions").glob("*.yaml"))]

WORDS = [
    "id", "title", "header", "actors", "steps", "no", "kegiatan", "actor", "actors", "kind", "decision",
    "process", "waktu", "untimed", "duration", "inputs", "outputs", "name", "external", "required",
    "produced_by", "next", "join", "outcomes", "automatic", "when", "otherwise", "selesai", "end",
    "case", "values", "type", "deadline", "timezone", "hours", "labels", "extra", "format",
    "period.ends_year", "case.jenis", "Setiap Saat", "15 Menit", "2 Hari", "PT15M", "Ya", "Tidak",
    "true", "false", "yes", "no", "null", "~", "1", "0", "-1", "1.5", "staf", "a", "Asia/Jakarta",
]
PUNCTUATION = [": ", ":", "- ", "-", "[", "]", "{", "}", ", ", "'", '"', "#", "&a ", "*a", "!!str ", "|", ">", "? ", "\t", "%", "@", "`", "---", "..."]

line = st.builds(
    lambda indent, parts: " " * indent + "".join(parts),
    st.integers(0, 8),
    st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(PUNCTUATION), st.text(max_size=5)), max_size=8),
)
yamlish = st.lists(line, max_size=25).map("\n".join)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True), st.text(max_size=30),
    st.sampled_from(WORDS),
)
keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=10))
nested = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)),
    max_leaves=40,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.extend(_paths(v, prefix + (i,)))
    return out


# Every place in every shipped definition, with the definition it belongs to.
PLACES = [(n, path) for n, data in enumerate(SHIPPED) for path in _paths(data)[1:]]


def _replace(place: tuple[int, tuple[Any, ...]], value: Any) -> Any:
    n, path = place
    data = SHIPPED[n]
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


ONE_LINE = re.compile(r"^[^\n]+$")


def _assert_problems_only(text: str) -> None:
    checked = check_text(text, "fuzz.yaml", expected_id="fuzz")
    for p in checked.problems:
        assert ONE_LINE.match(str(p)), str(p)
        assert p.severity in ("error", "warning")
    if checked.definition is None:
        assert checked.errors, "a text without a definition must say why"


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(yamlish)
def test_yamlish_text(text: str) -> None:
    _assert_problems_only(text)


@FUZZ
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    _assert_problems_only(text)


@FUZZ
@given(nested)
def test_random_data_dumped_as_yaml(data: Any) -> None:
    _assert_problems_only(_dump(data))


@FUZZ
@given(st.sampled_from(PLACES), nested)
def test_a_definition_with_one_part_replaced(place: tuple[int, tuple[Any, ...]], value: Any) -> None:
    _assert_problems_only(_dump(_replace(place, value)))


@FUZZ
@given(st.sampled_from(PLACES), st.sampled_from(WORDS + [None, True, 0, 3, [], {}]))
def test_a_definition_with_one_value_swapped_for_a_word(place: tuple[int, tuple[Any, ...]], value: Any) -> None:
    _assert_problems_only(_dump(_replace(place, value)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(yamlish, nested.map(_dump), st.tuples(st.sampled_from(PLACES), nested).map(lambda pv: _dump(_replace(*pv)))))
def test_validate_command_never_shows_a_traceback(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for out in result.stdout.splitlines():
        assert out.startswith(f"{path}"), out
