"""What every command shares: the global options, the clock, output and errors.

``--db``, ``--definitions``, ``--calendar``, ``--now`` and ``--by`` are accepted before the
command name and after it; the value after the command wins. Environment variables are
read once, at the group. Only click is imported here: heavy libraries load inside the
commands that need them.

**Terminal safety.** Text people typed (names, notes, reasons, case data, document names)
may hold control characters: an escape sequence that recolours, moves the cursor or rewrites
what a terminal shows, a carriage return that overwrites a line, a bidi override that
reorders it. Everything the command line prints for people goes through
:func:`terminal_safe`, which shows those characters visibly (``\\x1b``, ``\\u202e``), in two
places: the streams (:class:`TerminalSafeStream`, installed around every command by the
group, for ``click.echo`` and the error messages) and the rich console (:func:`console`,
whose tables are escaped before they are laid out, so columns keep their widths). Data a
command was asked for — ``--json``, ``--format json|csv``, ``render``, ``schema``,
``upgrade`` — is written exactly as it is.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, TextIO

from sopengine.i18n import LANGUAGES, N_, _, set_language

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    from pathlib import Path

ENV_DB = "SOPENGINE_DB"
ENV_USER = "SOPENGINE_USER"
DEFAULT_DB = "sopengine.db"


class Settings:
    """The global options, merged from both places and the environment.

    A plain class rather than a dataclass: ``--help`` builds one, and importing
    :mod:`dataclasses` would cost it more than the class is worth.
    """

    def __init__(self, db: str | None = None, definitions: str | None = None, calendar: str | None = None,
                 now: str | None = None, by: str | None = None, lang: str | None = None) -> None:
        self.db = db
        self.definitions = definitions
        self.calendar = calendar
        self.now = now
        self.by = by
        self.lang = lang

    @property
    def db_path(self) -> Path:
        """The SQLite file to use, or the ``postgresql://`` address as given (a str)."""
        from pathlib import Path

        from sopengine.store.dialect import is_url

        value = self.db or os.environ.get(ENV_DB) or DEFAULT_DB
        if is_url(value):
            return value  # type: ignore[return-value]
        return Path(value)

    @property
    def person(self) -> str:
        from sopengine.identity import person

        return person(self.by)


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            setattr(ctx.ensure_object(Settings), name, value)
            # SOPENGINE_LANG is read where the language is resolved; setting it here would undo
            # a --lang given after the command name before that command's eager --help.
            if name == "lang" and ctx.get_parameter_source(param.name or name) is not ParameterSource.ENVIRONMENT:
                set_language(value)
        return value

    return callback


_GLOBALS: dict[str, tuple[str, str, str | None]] = {
    "db": ("--db", "SQLite database file, or a postgresql:// address (default: sopengine.db here; env SOPENGINE_DB).", "SOPENGINE_DB"),
    "definitions": ("--definitions", "Folder of definition files, searched first (env SOPENGINE_DEFINITIONS).", "SOPENGINE_DEFINITIONS"),
    "calendar": ("--calendar", "Working calendar file (env SOPENGINE_CALENDAR).", "SOPENGINE_CALENDAR"),
    "now": ("--now", "Use this time as now: ISO 8601, in the SOP's time zone (WIB unless the SOP or its calendar says otherwise) (env SOPENGINE_NOW).", "SOPENGINE_NOW"),
    "by": ("--by", "Who acts (env SOPENGINE_USER, default the OS login).", "SOPENGINE_USER"),
    "lang": ("--lang", "Language of what people read: id (Bahasa Indonesia, the default) or en (env SOPENGINE_LANG); JSON never changes.", "SOPENGINE_LANG"),
}


def global_options(group: bool = False) -> Callable[[Any], Any]:
    """Add the global options; on the group they also read the environment.

    Every command takes all of them, whether or not it uses each, so that a script may put
    any global option after any command name.
    """

    def decorate(f: Any) -> Any:
        for name in reversed(tuple(_GLOBALS)):
            flag, help_text, env = _GLOBALS[name]
            f = click.option(
                flag,
                name,
                default=None,
                envvar=env if group else None,
                metavar={"db": "PATH", "definitions": "DIR", "calendar": "FILE", "now": "TIME", "by": "NAME", "lang": "id|en"}[name],
                type=click.Choice(LANGUAGES, case_sensitive=False) if name == "lang" else None,
                expose_value=False,
                is_eager=False,
                callback=_store(name),
                help=help_text,
            )(f)
        return f

    return decorate


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")


def _terminal_columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` gives it (``COLUMNS``, the terminal, else 80).

    Read here because importing :mod:`shutil` (with the compression modules it loads) is a good
    part of what ``--help`` costs, and the width is all the help needs of it.
    """
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            return 80
        columns = size.columns or 80
    return columns


class SopContext(click.Context):
    """click's context, making the help formatter click would make, at the width click would find."""

    def make_formatter(self) -> click.HelpFormatter:
        width = self.terminal_width
        if width is None:
            from click import formatting

            width = formatting.FORCED_WIDTH
            if width is None:
                limit = 80 if self.max_content_width is None else self.max_content_width
                width = max(min(_terminal_columns(), limit) - 2, 50)
        return self.formatter_class(width=width, max_width=self.max_content_width)


class SopCommand(click.Command):
    """A command whose help (its text and its options') is shown in the language in force.

    Help texts are written in English in the code, where click reads them at import; they are
    translated when shown, so that ``--lang`` given anywhere on the line applies.
    """

    context_class = SopContext

    def get_help(self, ctx: click.Context) -> str:
        with _translated_help(self, ctx):
            return super().get_help(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        # Data asked for on stdout is written exactly; text for people stays terminal-safe.
        if isinstance(sys.stdout, TerminalSafeStream) and prints_data(ctx):
            sys.stdout.data = True
        return super().invoke(ctx)

    def get_short_help_str(self, limit: int = 45) -> str:
        with _translated_help(self, None):
            return super().get_short_help_str(limit)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [_(USAGE_WORDS[piece]) if piece in USAGE_WORDS else piece for piece in super().collect_usage_pieces(ctx)]


class SopGroup(SopCommand, click.Group):
    """A group of commands, with its help in the language in force."""

    command_class = SopCommand


USAGE_WORDS: dict[str, str] = {"[OPTIONS]": N_("[OPTIONS]"), "COMMAND [ARGS]...": N_("COMMAND [ARGS]...")}
"""click's words in a usage line."""

METAVARS: dict[str, str] = {
    "DATE": N_("DATE"), "WHEN": N_("WHEN"), "TIME": N_("TIME"), "YEAR": N_("YEAR"), "KIND": N_("KIND"),
    "TEXT": N_("TEXT"), "INTEGER RANGE": N_("INTEGER RANGE"),
}
"""The words --help shows for an option's value that describe it; names that are typed or
referred to in the help texts as they are (RUN, FILE, ROLE, NAME, ID ...) stay."""


def _metavar(param: click.Parameter) -> str | None:
    """The translated word for *param*'s value in --help, or None to leave it as click shows it."""
    if param.metavar is not None:
        return _(METAVARS[param.metavar]) if param.metavar in METAVARS else None
    if not isinstance(param, click.Option) or param.is_flag or param.count or isinstance(param.type, click.Choice):
        return None  # an argument shows its name; a flag shows nothing; a choice its choices
    shown = param.type.name.upper()
    return _(METAVARS[shown]) if shown in METAVARS else None


class _translated_help:
    """Swap a command's and its options' help (and value words) for their translations while click formats them."""

    def __init__(self, command: click.Command, ctx: click.Context | None) -> None:
        self.command = command
        self.params = command.get_params(ctx) if ctx is not None else []
        self.saved: list[tuple[Any, str | None]] = []
        self.metavars: list[tuple[click.Parameter, str | None]] = []

    def __enter__(self) -> None:
        import inspect

        helped: list[Any] = [self.command, *self.params]  # a command and its options: each may have help
        for obj in helped:
            text = getattr(obj, "help", None)
            self.saved.append((obj, text))
            if text:
                obj.help = _(inspect.cleandoc(text).partition("\f")[0])
        for param in self.params:
            shown = _metavar(param)
            if shown is not None:
                self.metavars.append((param, param.metavar))
                param.metavar = shown
        short = self.command.short_help
        self.saved.append((None, short))
        if short:
            self.command.short_help = _(short)

    def __exit__(self, *exc: object) -> None:
        short = self.saved.pop()[1]
        self.command.short_help = short
        for obj, text in self.saved:
            obj.help = text
        for param, metavar in self.metavars:
            param.metavar = metavar


STATE_WORDS: dict[str, str] = {
    "active": N_("active"),
    "completed": N_("completed"),
    "cancelled": N_("cancelled"),
    "open": N_("open"),
    "waiting": N_("waiting"),
    "done": N_("done"),
    "joined": N_("joined"),
}
"""A run's status and a step's state as people read them (the stored words stay as they are)."""


def state_word(value: str | None) -> str:
    """*value*, a run's status or a step's state, in the language in force."""
    if not value:
        return value or ""
    return _(STATE_WORDS[value]) if value in STATE_WORDS else value


def settings() -> Settings:
    return click.get_current_context().ensure_object(Settings)


def print_json(data: Any) -> None:
    """*data* as JSON on stdout, exactly: control characters in it are JSON's to escape."""
    import json

    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str), file=_beneath(sys.stdout))


def console(stderr: bool = False):  # -> rich.console.Console
    """A rich console for tables. Markup is off: SOP texts may hold '[' and ']' (a transcriber's
    "[sic]"), which must print as written; styles are given as ``rich.text.Text`` instead.

    Its text is made terminal-safe before it is laid out (:func:`terminal_safe`); it writes to
    the stream beneath :class:`TerminalSafeStream`, so that its own colours reach the terminal.
    """
    stream = _beneath(sys.stderr if stderr else sys.stdout)
    # Piped output (a file, a test, a pager) is not squeezed to 80 columns.
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return _safe_console_class()(file=stream, highlight=False, soft_wrap=False, width=width, markup=False, emoji=False)


# -- terminal safety -------------------------------------------------------------------------------

_ESCAPES: dict[int, str] = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x09, 0x0A)}
# bidi controls: embeddings and overrides, isolates, and the marks
_ESCAPES.update({c: f"\\u{c:04x}" for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))})
_UNSAFE = re.compile("[" + "".join(re.escape(chr(c)) for c in _ESCAPES) + "]")


def terminal_safe(text: str) -> str:
    """*text* with the characters that would act on a terminal shown as text instead.

    C0 controls but tab and newline (ESC becomes ``\\x1b``, a carriage return ``\\x0d``),
    DEL, the C1 controls, and the bidi embeddings, overrides, isolates and marks
    (``\\u202e``). Printable text, tabs and newlines are left as they are.
    """
    if _UNSAFE.search(text) is None:
        return text
    return text.translate(_ESCAPES)


class TerminalSafeStream:
    """A text stream that writes :func:`terminal_safe` text to the stream beneath it.

    ``data`` turns the escaping off (the command prints data asked for: JSON, CSV, a file's
    text). Binary writes (``.buffer``) and every other attribute go to the stream beneath.
    """

    def __init__(self, beneath: TextIO) -> None:
        self.beneath = beneath
        self.data = False

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # click probes for a binary stream with b""
            raise TypeError("TerminalSafeStream writes text")
        self.beneath.write(text if self.data else terminal_safe(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.beneath.flush()

    def isatty(self) -> bool:
        return self.beneath.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.beneath, name)


def _beneath(stream: Any) -> Any:
    return stream.beneath if isinstance(stream, TerminalSafeStream) else stream


@contextmanager
def terminal_safe_output() -> Iterator[None]:
    """Make stdout and stderr terminal-safe for the length of one command."""
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, TerminalSafeStream):
        sys.stdout = TerminalSafeStream(sys.stdout)
    if not isinstance(sys.stderr, TerminalSafeStream):
        sys.stderr = TerminalSafeStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


DATA_COMMANDS = frozenset({"render", "schema", "upgrade"})
"""Commands whose standard output is a file's text (HTML, Markdown, JSON Schema, YAML)."""


def prints_data(ctx: click.Context) -> bool:
    """Whether the command in *ctx* was asked for data on stdout rather than text for people."""
    params = ctx.params
    return bool(params.get("as_json")) or params.get("fmt") in ("json", "csv") or ctx.command.name in DATA_COMMANDS


def _safe_renderable(item: Any) -> Any:
    """*item* (a str, a rich Text or Table, or a renderable holding one) with its text made terminal-safe."""
    from rich.table import Table
    from rich.text import Text

    if isinstance(item, str):
        return terminal_safe(item)
    if isinstance(item, Text):
        return _safe_text(item)
    if isinstance(item, Table):
        for column in item.columns:
            column.header = _safe_renderable(column.header)
            column.footer = _safe_renderable(column.footer)
            column._cells[:] = [_safe_renderable(cell) for cell in column._cells]
        item.title = _safe_renderable(item.title) if item.title is not None else None
        item.caption = _safe_renderable(item.caption) if item.caption is not None else None
        return item
    inner = getattr(item, "renderable", None)  # Panel, Padding, Align
    if inner is not None:
        item.renderable = _safe_renderable(inner)
    return item


def _safe_text(text: Any) -> Any:
    """A rich Text made terminal-safe, its styles kept on the same characters."""
    from rich.text import Span, Text

    plain = text.plain
    if _UNSAFE.search(plain) is None:
        return text
    starts, parts, pos = [], [], 0
    for ch in plain:
        starts.append(pos)
        shown = _ESCAPES.get(ord(ch), ch)
        parts.append(shown)
        pos += len(shown)
    starts.append(pos)
    return Text(
        "".join(parts), style=text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap,
        end=text.end, tab_size=text.tab_size,
        spans=[Span(starts[s.start], starts[min(s.end, len(plain))], s.style) for s in text.spans],
    )


_SAFE_CONSOLE: Any = None


def _safe_console_class() -> Any:
    """A rich Console whose text is made terminal-safe before layout (built once, when first used)."""
    global _SAFE_CONSOLE
    if _SAFE_CONSOLE is None:
        from rich.console import Console, RenderHook

        class _Escape(RenderHook):
            def process_renderables(self, renderables: list[Any]) -> list[Any]:
                return [_safe_renderable(r) for r in renderables]

        class SafeConsole(Console):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.push_render_hook(_Escape())

            def render_str(self, text: str, **kwargs: Any) -> Any:  # every str rich lays out
                return super().render_str(terminal_safe(text), **kwargs)

        _SAFE_CONSOLE = SafeConsole
    return _SAFE_CONSOLE


def note(message: str) -> None:
    """A message for people, on stderr."""
    click.echo(message, err=True)


def wants_json(as_json: bool, fmt: str | None = None) -> bool:
    return as_json or fmt == "json"


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
