"""The ``sopengine`` command line: a thin mirror of the library.

Commands live in modules by concept and are imported only when used (or listed by
``--help``); each parses its arguments, calls one library function and formats the result.
A :class:`~sopengine.errors.SopError` becomes ``Error: ...`` on stderr and exit code 1.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from sopengine import __version__
from sopengine.cli.common import Settings, global_options

# command name -> "module:attribute", in the order --help lists them
COMMANDS: dict[str, str] = {
    "list": "sopengine.cli.definitions:list_cmd",
    "show": "sopengine.cli.definitions:show_cmd",
    "validate": "sopengine.cli.definitions:validate_cmd",
    "schema": "sopengine.cli.definitions:schema_cmd",
    "run": "sopengine.cli.runs:run_cmd",
    "status": "sopengine.cli.runs:status_cmd",
    "complete": "sopengine.cli.runs:complete_cmd",
    "decide": "sopengine.cli.runs:decide_cmd",
    "reopen": "sopengine.cli.runs:reopen_cmd",
    "assign": "sopengine.cli.runs:assign_cmd",
    "cancel": "sopengine.cli.runs:cancel_cmd",
    "inbox": "sopengine.cli.runs:inbox_cmd",
    "overdue": "sopengine.cli.time:overdue_cmd",
    "calendar": "sopengine.cli.time:calendar_cmd",
    "report": "sopengine.cli.time:report_cmd",
    "history": "sopengine.cli.audit:history_cmd",
    "audit": "sopengine.cli.audit:audit_group",
    "backup": "sopengine.cli.audit:backup_cmd",
    "render": "sopengine.cli.render:render_cmd",
}


def _available() -> dict[str, str]:
    from importlib.util import find_spec

    return {name: target for name, target in COMMANDS.items() if find_spec(target.split(":")[0]) is not None}


class LazyGroup(click.Group):
    """Imports a command's module only when the command is used or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_available())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _available().get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context) -> Any:
        from sopengine.errors import SopError

        try:
            return super().invoke(ctx)
        except SopError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            import sqlite3

            if isinstance(exc, sqlite3.DatabaseError):
                # A damaged file, or an SQLite file of another program that looks like ours.
                raise click.ClickException(
                    f"the database cannot be read ({exc}); check --db, or restore it from a backup"
                    " ('sopengine audit verify' checks a copy)"
                ) from None
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing was half-written.", err=True)
            sys.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="sopengine")
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
    """Console-script entry point."""
    cli(prog_name="sopengine")
