"""``sopengine serve``: the office server over the database the CLI uses."""

from __future__ import annotations

import click

from sopengine.cli.common import SopCommand, global_options, note, settings
from sopengine.i18n import _


@click.command("serve", cls=SopCommand)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="The TCP port to listen on.")
@click.option("--secure-cookies", is_flag=True,
              help="Mark cookies Secure on every answer. Without it they are Secure when the request came over HTTPS"
                   " (from nginx: X-Forwarded-Proto).")
@click.option("--upload-limit", default="20MiB", show_default=True, metavar="SIZE",
              help="The largest request (an uploaded document with its form) the server accepts, e.g. 50MiB.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="The proxies (e.g. nginx) whose X-Forwarded-For and -Proto headers are trusted.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes; they share the database, its sessions and its sign-in throttle.")
@global_options()
def serve_cmd(host: str, port: int, secure_cookies: bool, upload_limit: str, forwarded_allow_ips: str, workers: int) -> None:
    """Run the office server: people sign in with their register password and work in a browser.

    Staff see their inbox and act on their steps, admins manage people, definitions and
    runs, auditors read and verify the history; scripts use the JSON API, described at
    /api/openapi.json. The command line keeps working beside it on the same database. Put
    nginx with TLS in front (docs/deployment.md).

    Example:

        sopengine serve --host 0.0.0.0 --port 8000 --db /srv/sopengine/kantor.db
    """
    from pathlib import Path

    from sopengine.documents import parse_size
    from sopengine.errors import InputError
    from sopengine.server import ServerConfig
    from sopengine.server.run import check_ready, run

    from sopengine.store.dialect import is_url

    s = settings()
    limit = parse_size(upload_limit)
    db = s.db_path if is_url(s.db_path) else s.db_path.resolve()
    cfg = ServerConfig(db=db, definitions=None if s.definitions is None else Path(s.definitions).resolve(),
                       upload_limit=limit, secure_cookies=secure_cookies)
    for line in check_ready(cfg, host):
        note(line)
    if is_url(db):
        from sopengine.store.pg import redact

        shown = redact(str(db))
    elif not Path(db).exists():
        raise InputError(_("no database at {path}; pass --db PATH").format(path=db))
    else:
        shown = str(db)
    click.echo(_("Office server for {db} at http://{host}:{port}/ (Ctrl+C stops it)").format(db=shown, host=host, port=port))
    run(cfg, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips, workers=workers)
