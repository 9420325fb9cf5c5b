"""Who acts: ``--by`` / ``SOPENGINE_USER`` / the OS login, and the OS user itself.

A local command line cannot authenticate people: the name is what the person says it is.
Every event records it beside the OS user the command ran as.
"""

from __future__ import annotations

import getpass
import os

ENV_USER = "SOPENGINE_USER"


def os_user() -> str:
    """The OS login the command runs as."""
    try:
        return getpass.getuser()
    except Exception:  # no login name, e.g. a container user without a passwd entry
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def person(by: str | None = None) -> str:
    """The acting person: *by*, else ``SOPENGINE_USER``, else the OS login."""
    return (by or "").strip() or os.environ.get(ENV_USER) or os_user()
