"""The render command: the SOP as a printable document, a Mermaid flowchart or Markdown."""

from __future__ import annotations

from pathlib import Path

import click

from sopengine.cli.common import SopCommand, global_options, note, settings
from sopengine.i18n import _


@click.command("render", cls=SopCommand)
@click.argument("definition_id", metavar="[ID]", required=False)
@click.option(
    "--format", "fmt", type=click.Choice(["html", "md", "mermaid"]), default="html", show_default=True,
    help="html: the official SOP document (A4 landscape); md: Markdown with a Mermaid flowchart; mermaid: the flowchart alone.",
)
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@click.option("--run", "run_id", metavar="RUN", help="Show this run's progress: steps done (who, when), open and late steps.")
@click.option("--no-notes", is_flag=True, help="Leave out the transcription notes (the steps' interpretations).")
@global_options()
def render_cmd(definition_id: str | None, fmt: str, output: Path | None, run_id: str | None, no_notes: bool) -> None:
    """Render an SOP as its official document (HTML), Markdown or a Mermaid flowchart.

    The HTML file is self-contained (CSS and SVG inline) and prints on A4 landscape. With
    --run, the document is the definition that run is pinned to, marked with its progress;
    ID may then be left out.

    Example:

        sopengine render pengumpulan-data --format html -o pengumpulan-data.html
    """
    from sopengine import api

    s = settings()
    text = api.render(definition_id, fmt=fmt, run=run_id, db=s.db_path, definitions=s.definitions, now=s.now,
                      notes=not no_notes)
    if output:
        output.write_text(text, encoding="utf-8")
        note(_("Wrote {file}").format(file=output))
    else:
        click.echo(text, nl=not text.endswith("\n"))
