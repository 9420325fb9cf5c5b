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
