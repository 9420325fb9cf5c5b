"""The command line's shape: help, version, commands listed."""

from __future__ import annotations

from click.testing import CliRunner

from sopengine import __version__
from sopengine.cli import cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("list", "show", "validate", "schema"):
        assert f"  {name} " in result.output


def test_show_prints_the_table() -> None:
    result = CliRunner().invoke(cli, ["show", "pengumpulan-data"])
    assert result.exit_code == 0, result.output
    assert "Mengumpulkan data laporan" in result.output
    assert "Sekretaris Dinas" in result.output


def test_unknown_definition_is_a_one_line_error() -> None:
    result = CliRunner().invoke(cli, ["show", "tidak-ada"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no definition 'tidak-ada'")
    assert "Traceback" not in result.output


def test_the_command_table_matches_every_commands_own_help() -> None:
    """--help lists commands from COMMANDS without importing them; the table must not drift."""
    import click

    from sopengine.cli import COMMANDS

    ctx = click.Context(cli)
    for name, (_, short_help) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=1000) == short_help, name


def test_every_command_takes_the_global_options_after_its_name() -> None:
    import click

    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        commands = list(command.commands.values()) if isinstance(command, click.Group) else [command]
        for cmd in commands:
            flags = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
            assert {"--db", "--definitions", "--calendar", "--now", "--by"} <= flags, (name, cmd.name)
