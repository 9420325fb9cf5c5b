"""Commands about definitions: list, show, validate, schema."""

from __future__ import annotations

from pathlib import Path

import click

from sopengine.cli.common import SopCommand, console, global_options, json_option, note, print_json, settings
from sopengine.i18n import N_, _

ORIGINS: dict[str, str] = {"packaged": N_("packaged")}
"""Where a definition came from, as people read it; folders and variable names show as typed."""


def _definitions_dir() -> str | None:
    """The --definitions folder; None when only SOPENGINE_DEFINITIONS set it.

    The catalog reads the variable itself and then names it as the origin of what it
    finds, so that ``list`` says where a definition really came from.
    """
    from click.core import ParameterSource

    ctx = click.get_current_context()
    given_here = ctx.get_parameter_source("definitions") not in (None, ParameterSource.DEFAULT)
    from_env = ctx.find_root().get_parameter_source("definitions") is ParameterSource.ENVIRONMENT
    if from_env and not given_here:
        return None
    return settings().definitions


@click.command("list", cls=SopCommand)
@global_options()
@json_option
def list_cmd(as_json: bool) -> None:
    """List the definitions found, where each came from, and whether it is valid.

    Folders are searched in order: --definitions (or SOPENGINE_DEFINITIONS), ./definitions,
    then the packaged ones; for the same id the earlier folder wins.

    What checking a file found is kept in $XDG_CACHE_HOME/sopengine (~/.cache/sopengine) and
    used again while the file's text and name and sopengine's checks are unchanged;
    SOPENGINE_CACHE=off turns that off.

    Example:

        sopengine list
    """
    from sopengine import api

    rows = api.list_definitions(_definitions_dir())
    if as_json:
        print_json(rows)
        return
    if not rows:
        note(_("No definitions found; put YAML files in ./definitions or pass --definitions DIR."))
        return
    from rich.table import Table

    table = Table(title=_("SOP definitions"), title_justify="left")
    for col in ("ID", _("Title"), _("Valid"), _("From"), _("File")):
        table.add_column(col)
    for r in rows:
        mark = "✓" if r["valid"] else _("✗ {errors} error(s)").format(errors=r["errors"])
        origin = _(ORIGINS[r["origin"]]) if r["origin"] in ORIGINS else r["origin"]
        table.add_row(r["id"], r["title"] or "-", mark, origin, r["path"])
    console().print(table)


@click.command("show", cls=SopCommand)
@click.argument("definition_id", metavar="ID")
@global_options()
@json_option
def show_cmd(definition_id: str, as_json: bool) -> None:
    """Show an SOP's header and its table as the SOP prints it.

    Example:

        sopengine show pengumpulan-data
    """
    from sopengine import api

    d = api.get_definition(definition_id, _definitions_dir())
    if as_json:
        print_json(api.definition_json(d))
        return
    from sopengine.definition.upgrade import as_format2
    from sopengine.render.terminal import print_definition

    print_definition(console(), as_format2(d))


@click.command("upgrade", cls=SopCommand)
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path), help="Write the format-2 file here instead of stdout.")
@click.option("--in-place", is_flag=True, help="Replace FILE with its format-2 text (written whole, or not at all).")
@global_options()
def upgrade_cmd(path: Path, output: Path | None, in_place: bool) -> None:
    """Rewrite a format-1 definition file as format 2, losing nothing.

    Each step becomes a row with its printed cells and one symbol per lane; the first row's
    symbol and a row that ends the process become the terminators the renderings drew;
    outcomes keep their names as printed labels. The new text is validated before it is
    written. Runs already started keep their pinned definition.

    Example:

        sopengine upgrade definitions/surat-keluar.yaml --in-place
    """
    from sopengine import api

    if output and in_place:
        raise click.UsageError(_("give -o FILE or --in-place, not both"))
    text = api.upgrade_file(path)
    target = path if in_place else output
    if target is None:
        click.echo(text, nl=False)
        return
    api.write_text_atomic(target, text)
    note(_("Wrote {file} (format 2); check it with 'sopengine validate {file}'").format(file=target))


@click.command("validate", cls=SopCommand)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@global_options()
@json_option
def validate_cmd(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check definition files; report every problem as FILE:LINE: field: message.

    With no PATH, every definition found is checked. A PATH may be a file, a folder or a
    definition id. Exit code 0 when all are valid, 1 when any has errors (warnings do not
    fail).

    Example:

        sopengine validate definitions/surat-keluar.yaml
    """
    from sopengine import api

    results = api.validate(list(paths), _definitions_dir())
    failed = [r for r in results if not r.ok]
    if as_json:
        print_json([
            {
                "file": str(r.path),
                "id": r.definition.id if r.definition else None,
                "valid": r.ok,
                "problems": [
                    {"line": p.line, "field": p.field, "message": p.message, "severity": p.severity}
                    for p in r.problems
                ],
            }
            for r in results
        ])
    else:
        for r in results:
            for p in r.problems:
                click.echo(str(p))
        if not results:
            note(_("No definition files found."))
        else:
            note(_("{valid} of {total} definition(s) valid.").format(valid=len(results) - len(failed), total=len(results)))
    if failed:
        raise SystemExit(1)


@click.command("schema", cls=SopCommand)
@global_options()
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
def schema_cmd(output: Path | None) -> None:
    """Print the JSON Schema of the definition format, for editors.

    Start a definition file with a '# yaml-language-server: $schema=definition.schema.json'
    line so that editors complete and check fields as you type.

    Example:

        sopengine schema -o definitions/definition.schema.json
    """
    from sopengine import api

    text = api.schema_text()
    if output:
        output.write_text(text, encoding="utf-8")
        note(_("Wrote {file}").format(file=output))
    else:
        click.echo(text, nl=False)
