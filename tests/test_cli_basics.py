"""The command line's shape: help, version, commands listed; and in Bahasa Indonesia."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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


# -- in Bahasa Indonesia --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def indonesian(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a reader of Bahasa Indonesia, with the catalogue as the source holds it now."""
    from sopengine.locale.catalog import compile_catalogue

    folder = tmp_path_factory.mktemp("locale")
    compile_catalogue("id", folder / "id" / "LC_MESSAGES" / "sopengine.mo")
    return {"SOPENGINE_LANG": "id", "SOPENGINE_LOCALE_DIR": str(folder)}


def test_help_reads_in_indonesian_and_leaves_the_english_as_it_was(indonesian: dict[str, str]) -> None:
    before = CliRunner().invoke(cli, ["history", "--help"]).output
    shown = CliRunner().invoke(cli, ["history", "--help"], env=indonesian).output
    assert shown.startswith("Penggunaan: ") and " history [OPSI]" in shown
    assert "Contoh:\n\n      sopengine history --run k7m-x3q\n" in shown
    assert "--since WAKTU" in shown and "--person NAME" in shown  # names typed as they are stay
    after = CliRunner().invoke(cli, ["history", "--help"]).output
    assert after == before
    assert after.startswith("Usage: ") and "[OPTIONS]" in after and "--since WHEN" in after


def test_a_usage_error_reads_in_indonesian(indonesian: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["reopen", "abc-def"], env=indonesian)
    assert result.exit_code == 2
    assert "Kesalahan: Argumen belum diberikan: 'STEP'." in result.output


def test_a_run_reads_in_indonesian_and_its_json_does_not_change(indonesian: dict[str, str], tmp_path: Path) -> None:
    common = ["--db", str(tmp_path / "x.db"), "--now", "2026-10-01T09:00", "--by", "Ani"]
    started = CliRunner().invoke(cli, ["run", "pengumpulan-data", "--period", "2026-10", *common], env=indonesian)
    assert started.exit_code == 0, started.output
    assert "dimulai: pengumpulan-data" in started.output and "\nPelaksana: Sekretaris Dinas" in started.output
    listed = CliRunner().invoke(cli, ["status", *common], env=indonesian)
    assert "berjalan" in listed.output and "active" not in listed.output
    english = CliRunner().invoke(cli, ["status", *common])
    assert "active" in english.output and "berjalan" not in english.output
    data = [json.loads(CliRunner().invoke(cli, ["status", "--json", *common], env=env).stdout) for env in (indonesian, {})]
    assert data[0] == data[1] and data[0][0]["status"] == "active"


def test_lang_after_the_command_name_wins_over_the_environment_even_for_help(indonesian: dict[str, str]) -> None:
    english = {**indonesian, "SOPENGINE_LANG": "en"}
    assert CliRunner().invoke(cli, ["run", "--lang", "id", "--help"], env=english).output.startswith("Penggunaan: ")
    assert CliRunner().invoke(cli, ["run", "--lang", "en", "--help"], env=indonesian).output.startswith("Usage: ")
