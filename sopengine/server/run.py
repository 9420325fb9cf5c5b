"""Starting the office server: checks before it listens, and uvicorn."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sopengine.errors import InputError
from sopengine.i18n import _
from sopengine.server.app import ServerConfig, create_app
from sopengine.store.dialect import is_url

ENV_CONFIG = "SOPENGINE_SERVER_CONFIG"


def check_ready(cfg: ServerConfig, host: str) -> list[str]:
    """Refuse a database nobody could sign in to; the warnings worth reading before it listens."""
    from sopengine.store import Store
    from sopengine.store import people as register
    from sopengine.store import server as sql

    if not is_url(cfg.db) and not Path(cfg.db).exists():
        raise InputError(_("no database at {path}; pass --db PATH (start one with 'sopengine people add')").format(path=cfg.db))
    with Store(cfg.db) as store:  # migrates an older database, as any writing command does
        if not register.has_people(store.conn):
            raise InputError(
                _("the people register of {path} is empty, so nobody could sign in; add people with 'sopengine people add'"
                  " and give them passwords with 'sopengine people passwd'").format(path=store.path))
        if not sql.has_password(store.conn):
            raise InputError(
                _("nobody in the people register of {path} has a password, so nobody could sign in; set one with"
                  " 'sopengine people passwd NAME'").format(path=store.path))
    if host not in ("127.0.0.1", "localhost", "::1"):
        return [_("The server listens beyond this machine over plain HTTP: passwords would cross the network readable;"
                  " put nginx with TLS in front and listen on 127.0.0.1 (docs/deployment.md).")]
    return []


def app_from_env() -> Any:
    """The application a uvicorn worker process builds (``--workers`` above 1)."""
    raw = json.loads(os.environ[ENV_CONFIG])
    raw["db"] = raw["db"] if is_url(raw["db"]) else Path(raw["db"])
    return create_app(ServerConfig(**raw))


def run(cfg: ServerConfig, *, host: str, port: int, forwarded_allow_ips: str, workers: int = 1) -> None:
    import uvicorn

    common: dict[str, Any] = dict(host=host, port=port, proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips,
                                  log_level="info", server_header=False)
    if workers == 1:
        uvicorn.run(create_app(cfg), **common)
        return
    os.environ[ENV_CONFIG] = json.dumps({
        "db": str(cfg.db), "definitions": None if cfg.definitions is None else str(cfg.definitions),
        "upload_limit": cfg.upload_limit, "secure_cookies": cfg.secure_cookies, "session_hours": cfg.session_hours,
    })
    uvicorn.run("sopengine.server.run:app_from_env", factory=True, workers=workers, **common)
