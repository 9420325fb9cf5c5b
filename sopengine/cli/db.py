"""``sopengine db``: the database as a whole (copy between SQLite and PostgreSQL)."""

from __future__ import annotations

import click

from sopengine.cli.common import SopGroup, global_options, json_option, note, print_json
from sopengine.i18n import _


@click.group("db", cls=SopGroup)
@global_options()
def db_group() -> None:
    """Prepare a database, or copy a whole one between SQLite and PostgreSQL, its history unchanged.

    Example:

        sopengine db copy sopengine.db postgresql://sop@localhost/kantor
    """


@db_group.command("init")
@global_options()
@json_option
def init_cmd(as_json: bool) -> None:
    """Prepare the database --db names: create sopengine's tables in a new SQLite file or an
    empty PostgreSQL database, or upgrade an older database to this release's schema.

    A database that is already prepared is left as it is. On PostgreSQL, run it as the role
    that is to own the tables (see Deployment in the docs).

    Example:

        sopengine db init --db postgresql://sop_owner@localhost/kantor
    """
    from sopengine.cli.common import settings
    from sopengine.store import SCHEMA_VERSION, Store

    with Store(settings().db_path, create=True) as store:
        result = {"db": str(store.path), "engine": store.engine, "schema": SCHEMA_VERSION}
    if as_json:
        print_json(result)
        return
    click.echo(_("{db} is ready: schema {schema} ({engine}).").format(**result))


@db_group.command("copy")
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@global_options()
@json_option
def copy_cmd(src: str, dst: str, as_json: bool) -> None:
    """Copy every table of SRC into DST, a new SQLite file or an empty PostgreSQL database.

    SRC and DST are each an SQLite file or a postgresql:// address. Every row keeps its id
    and every event its number, so the hash chains are the same; the copy is written in one
    transaction (all or nothing) and checked with 'sopengine audit verify' on both sides,
    whose heads must agree. A DST holding any data is refused and left as it was. SRC is only
    read (an SRC of an earlier release is upgraded first, as any command writing to it
    would). The office server's signing secrets are not copied: a server on DST makes its own.
    Stop the commands and servers that write to SRC while it is copied.

    Example:

        sopengine db copy sopengine.db postgresql://sop@localhost/kantor

        sopengine db copy postgresql://sop@localhost/kantor kantor-copy.db
    """
    from sopengine import api
    from sopengine.cli.audit import ProgressBar

    with ProgressBar(_("Copying")) as bar:
        result = api.db_copy(src, dst, progress=bar)
    if as_json:
        print_json(result)
        return
    if result["upgraded_from"] is not None:
        note(_("{src} was upgraded from schema {version} first, as any command writing to it would; its history is"
               " unchanged.").format(src=result["source"], version=result["upgraded_from"]))
    tables = sum(1 for n in result["tables"].values() if n)
    click.echo(_("Copied {src} to {dst}: {rows:,} rows in {tables} tables; {events:,} events in {runs:,} runs, {office:,}"
                 " office events.").format(src=result["source"], dst=result["target"], rows=result["rows"], tables=tables,
                                    events=result["events"], runs=result["runs"], office=result["office_events"]))
    click.echo(_("Head on both sides: {head}").format(head=result["head"]))
    verified = result["verified"]
    for side in ("source", "target"):
        found = verified[side]
        if not found["ok"]:
            note(_("audit verify finds {n} problem(s) in the {side}, copied as they are; 'sopengine audit verify' names"
                   " them.").format(n=found["problems"], side=_("source") if side == "source" else _("target")))
    if verified["source"]["head"] != result["head"]:
        note(_("The source has changed since it was copied (its head now is {head}); the copy holds it as it was.").format(
            head=verified["source"]["head"]))
