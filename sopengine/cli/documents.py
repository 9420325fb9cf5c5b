"""``sopengine documents``: the folders recorded documents may come from, and their size limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sopengine.cli.common import SopGroup, global_options, json_option, note, print_json, settings
from sopengine.i18n import _


@click.group("documents", cls=SopGroup)
@global_options()
def documents_group() -> None:
    """Set where recorded documents may come from and how large they may be.

    A file a step records with --output is copied into the database, so the history never
    depends on it staying where it was. Until an admin allows a folder, documents may come
    from any folder; once one is allowed, a file outside the allowed folders is refused,
    whichever link leads to it. Each change is recorded in the office's history.

    Example:

        sopengine documents allow /srv/arsip
    """


def _set_by(entry: dict[str, Any]) -> str:
    from sopengine import clock

    return _("{person}, {when}").format(person=entry["by"] if "by" in entry else entry["added_by"],
                                        when=clock.local(entry["at"] if "at" in entry else entry["added_at"]))


@documents_group.command("folders")
@global_options()
@json_option
def folders_cmd(as_json: bool) -> None:
    """Show the folders documents may come from and the largest document a step may record.

    Example:

        sopengine documents folders
    """
    from sopengine import documents

    result = documents.rules(settings().db_path)
    if as_json:
        print_json(result)
        return
    if result["folders"]:
        click.echo(_("Documents may come only from these folders (and the folders inside them):"))
        for f in result["folders"]:
            click.echo(f"  {f['path']}  ({_set_by(f)})")
    else:
        click.echo(_("Documents may come from any folder; 'sopengine documents allow DIR' restricts them."))
    size = documents.format_size(result["max_size"])
    if result["max_size_set"] is None:
        click.echo(_("Largest document: {size} (the default).").format(size=size))
    else:
        set_by = result["max_size_set"]
        click.echo(_("Largest document: {size} (set by {who}).").format(
            size=size, who=_set_by({"by": set_by["changed_by"], "at": set_by["changed_at"]})))


@documents_group.command("allow")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@global_options()
@json_option
def allow_cmd(folder: Path, as_json: bool) -> None:
    """Let documents come from DIR and the folders inside it; then only from allowed folders.

    Once a register of people exists, only an admin may do this.

    Example:

        sopengine documents allow /srv/arsip
    """
    from sopengine import documents

    s = settings()
    result = documents.allow_folder(s.db_path, folder, by=s.by, now=s.now)
    if as_json:
        print_json(result)
        return
    click.echo(_("Documents may now come from {folder} (and the folders inside it).").format(folder=result["folder"]))


@documents_group.command("disallow")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@global_options()
@json_option
def disallow_cmd(folder: Path, as_json: bool) -> None:
    """Stop letting documents come from DIR (documents already recorded stay kept).

    With no folder left allowed, documents may come from any folder again.

    Example:

        sopengine documents disallow /srv/arsip-lama
    """
    from sopengine import documents

    s = settings()
    result = documents.disallow_folder(s.db_path, folder, by=s.by, now=s.now)
    left = documents.rules(s.db_path)["folders"]
    if as_json:
        print_json(dict(result, folders=[f["path"] for f in left]))
        return
    click.echo(_("Documents may no longer come from {folder}.").format(folder=result["folder"]))
    if not left:
        note(_("No folder is allowed now: documents may come from any folder."))


@documents_group.command("max-size")
@click.argument("size", metavar="SIZE")
@global_options()
@json_option
def max_size_cmd(size: str, as_json: bool) -> None:
    """Set the largest document a step may record: 250MiB, 1GB, 5000000 (bytes), or default (100 MiB).

    At most 900 MiB: the database keeps each document as one value.

    Example:

        sopengine documents max-size 250MiB
    """
    from sopengine import documents

    s = settings()
    result = documents.set_max_size(s.db_path, None if size.strip().lower() == "default" else size, by=s.by, now=s.now)
    if as_json:
        print_json(result)
        return
    click.echo(_("The largest document a step may record is now {size} (it was {was}).").format(
        size=documents.format_size(result["max_size"]), was=documents.format_size(result["was"])))
