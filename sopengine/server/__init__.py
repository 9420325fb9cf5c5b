"""The office server: ``sopengine serve``, a web inbox and a JSON API over the same store.

:func:`create_app` builds the ASGI application (:mod:`sopengine.server.app`); people sign in
with the passwords of the people register (:mod:`sopengine.server.auth`). Staff work from
their inbox (:mod:`.pages`), admins manage people, definitions and runs (:mod:`.admin`),
auditors read and verify the history (:mod:`.auditor`); scripts use the API (:mod:`.api`).
"""

from __future__ import annotations

from sopengine.server.app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
