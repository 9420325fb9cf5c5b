"""The ``sopengine`` command line: a thin mirror of the library.

Commands live in modules by concept and are imported only when used (or listed by
``--help``); each parses its arguments, calls one library function and formats the result.
A :class:`~sopengine.errors.SopError` becomes ``Error: ...`` on stderr and the error's exit
code (``docs/cli.md`` lists them); what is printed for people is terminal-safe
(:func:`~sopengine.cli.common.terminal_safe`).
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from sopengine import __version__
from sopengine.cli.common import Settings, SopGroup, global_options, terminal_safe, terminal_safe_output
from sopengine.i18n import LANGUAGES, _, set_language

# command name -> ("module:attribute", short help), in the order --help lists them. The short
# help is repeated here so that --help lists the commands without importing them all
# (tests/test_cli_basics.py checks that each matches its command's own).
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("sopengine.cli.definitions:list_cmd", "List the definitions found, where each came from, and whether it is valid."),
    "show": ("sopengine.cli.definitions:show_cmd", "Show an SOP's header and its table as the SOP prints it."),
    "validate": ("sopengine.cli.definitions:validate_cmd", "Check definition files; report every problem as FILE:LINE: field: message."),
    "schema": ("sopengine.cli.definitions:schema_cmd", "Print the JSON Schema of the definition format, for editors."),
    "upgrade": ("sopengine.cli.definitions:upgrade_cmd", "Rewrite a format-1 definition file as format 2, losing nothing."),
    "run": ("sopengine.cli.runs:run_cmd", "Start a run of an SOP and show its first open step."),
    "status": ("sopengine.cli.runs:status_cmd", "Show the active runs, or one run's timeline and what comes next."),
    "complete": ("sopengine.cli.runs:complete_cmd", "Complete the open step of a run (or your part of a multi-actor row)."),
    "decide": ("sopengine.cli.runs:decide_cmd", "Take the outcome of an open decision (Ya/Tidak or the SOP's own words)."),
    "reopen": ("sopengine.cli.runs:reopen_cmd", "Send a run back to a step to correct a mistake; the history keeps both."),
    "assign": ("sopengine.cli.runs:assign_cmd", "Assign a person to a role of a run; only assignees may then act for it."),
    "cancel": ("sopengine.cli.runs:cancel_cmd", "Cancel a run; its open steps close and nothing more can be done in it."),
    "inbox": ("sopengine.cli.runs:inbox_cmd", "List the open steps waiting for a person or a role, oldest first."),
    "people": ("sopengine.cli.people:people_group", "Keep the register of the office's people: their OS logins, roles and access."),
    "documents": ("sopengine.cli.documents:documents_group", "Set where recorded documents may come from and how large they may be."),
    "overdue": ("sopengine.cli.time:overdue_cmd", "List open steps past their due time, most overdue first, and runs past their deadline."),
    "calendar": ("sopengine.cli.time:calendar_cmd", "Show the working calendar in force: office hours and the days the office is closed."),
    "report": ("sopengine.cli.time:report_cmd", "Compare each step's standard time (Waktu) with the working time it actually took."),
    "history": ("sopengine.cli.audit:history_cmd", "Show every recorded event: when, who (and the OS user), what, with documents and notes."),
    "audit": ("sopengine.cli.audit:audit_group", "Check the tamper-evident history; make and check evidence packs."),
    "backup": ("sopengine.cli.audit:backup_cmd", "Copy the live database safely with SQLite's online backup, while others keep working."),
    "db": ("sopengine.cli.db:db_group", "Prepare a database, or copy a whole one between SQLite and PostgreSQL, its history unchanged."),
    "serve": ("sopengine.cli.serve:serve_cmd", "Run the office server: people sign in with their register password and work in a browser."),
    "render": ("sopengine.cli.render:render_cmd", "Render an SOP as its official document (HTML), Markdown or a Mermaid flowchart."),
}


def _lang_in(args: list[str]) -> str | None:
    """The ``--lang`` given anywhere on the command line (before ``--``), if any."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
    return None


class LazyGroup(SopGroup):
    """Imports a command's module only when the command is used or listed."""

    def main(self, args: Any = None, *a: Any, **kw: Any) -> Any:
        # The language is set before click reads anything, so that every word it prints —
        # help, errors, its own "Usage:" — is in the language asked for, wherever --lang stands.
        given = _lang_in(list(sys.argv[1:] if args is None else args))
        set_language(given if given and given.lower() in LANGUAGES else None)
        with terminal_safe_output():
            return super().main(args, *a, **kw)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # An unknown --lang is a usage error even beside --help, which is eager and would
        # otherwise print the help in the default language; without --help click says it.
        given = _lang_in(args)
        words = args[: args.index("--")] if "--" in args else args
        if given is not None and ("--help" in words or "-h" in words):
            lang = next(p for p in self.params if p.name == "lang")
            lang.type.convert(given, lang, ctx)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attr = entry[0].split(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Same layout as click's, from the table above: listing imports no command module.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=_(help_text)).get_short_help_str(limit))
            for name, (_module, help_text) in COMMANDS.items()
        ]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # A SopError or an sqlite3.Error can only come from a module already imported: looked
            # up, not imported, so that a command's --help or a usage error loads neither.
            errors, sqlite3 = sys.modules.get("sopengine.errors"), sys.modules.get("sqlite3")
            if errors is not None and isinstance(exc, errors.SopError):
                raise _failure(exc) from None
            if sqlite3 is not None and isinstance(exc, sqlite3.Error):
                failure = _sqlite_failure(exc, ctx)
                if failure is not None:
                    raise failure from None
            psycopg = sys.modules.get("psycopg")
            if psycopg is not None and isinstance(exc, psycopg.Error):
                failure = _pg_failure(exc, ctx)
                if failure is not None:
                    raise failure from None
            raise
        except KeyboardInterrupt:
            click.echo(_("Interrupted; nothing was half-written."), err=True)
            sys.exit(130)


_FAILURES: dict[int, type[click.ClickException]] = {}


def _failure(exc: Exception) -> click.ClickException:
    """``Error: <message>`` and the error's exit code (1, or 4 busy, 5 storage, 6 damaged)."""
    code = getattr(exc, "exit_code", 1)
    kind = _FAILURES.get(code)
    if kind is None:  # click reads the exit code from the class
        kind = _FAILURES[code] = type(f"Failure{code}", (click.ClickException,), {"exit_code": code})
    return kind(terminal_safe(str(exc)))


def _sqlite_failure(exc: Exception, ctx: click.Context) -> click.ClickException | None:
    """The last resort for an SQLite error the library let through: worded by its cause.

    Only the file's condition is put into words; an IntegrityError or ProgrammingError is
    a bug and keeps its traceback (None).
    """
    import sqlite3

    from sopengine.store.errors import translate

    path = ctx.ensure_object(Settings).db_path
    error = translate(exc, path)
    if error is not None:
        return _failure(error)
    if type(exc) in (sqlite3.DatabaseError, sqlite3.OperationalError):
        # an SQLite file of another program that looks like ours
        return _failure(Exception(
            _("{path} cannot be used as a sopengine database ({reason}); pass the right --db").format(path=path, reason=exc)))
    return None


def _pg_failure(exc: Exception, ctx: click.Context) -> click.ClickException | None:
    """The last resort for a PostgreSQL error the library let through (a read outside a
    transaction that waited too long, a server gone): worded by its cause, as the store words it."""
    from sopengine.store.core import translated

    error = translated(exc, ctx.ensure_object(Settings).db_path)
    return None if error is None else _failure(error)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # click's own --version reads its words when the module is imported, before --lang is known.
    if not value or ctx.resilient_parsing:
        return
    click.echo(_("%(prog)s, version %(version)s") % {"prog": "sopengine", "version": __version__}, color=ctx.color)
    ctx.exit()


# color=True: click never strips escape sequences from what it echoes (it would, off a terminal,
# and hide them); the terminal-safe streams show every one of them as text instead.
@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "color": True})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
@global_options(group=True)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Run Indonesian government SOPs (SOP AP) as auditable processes.

    Definitions are YAML files; runs live in one SQLite file. Global options may also be
    given after the command name.

    Example:

        sopengine run pengumpulan-data --period 2026-10
    """
    ctx.ensure_object(Settings)


def main() -> None:
    """Console-script entry point.

    What is loaded by now (click, this package) lives as long as the process. Frozen, the
    garbage collector no longer walks it at each full collection, while the command imports
    the rest and when the process ends: some milliseconds of every command.
    """
    gc.freeze()
    cli(prog_name="sopengine")
