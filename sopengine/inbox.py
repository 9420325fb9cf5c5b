"""The inbox: open steps waiting for a person (through their roles in each run) or for a role.

Its SQL is in :mod:`sopengine.store.queries`: the open tasks come from partial indexes of
open tasks, and a person's are checked against each run's assignments by primary key, so
the inbox costs what the work in flight costs, however much history the database holds.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.status import _task_view
from sopengine.store import Store, queries


def inbox(
    db: str | Path, *, person: str | None = None, actor: str | None = None, now: datetime | str | None = None,
) -> list[dict[str, Any]]:
    """Open steps waiting for a person (through their roles in each run) or a role; oldest first.

    ``person`` is compared case-folded (``"agus"`` finds ``"Agus"``, ``"özgür"`` finds
    ``"ÖZGÜR"``); ``actor`` is a role id or its name as the SOP writes it, and a role no
    stored SOP has is an :class:`~sopengine.errors.InputError`.
    """
    store = Store(db, readonly=True)
    try:
        with queries.snapshot(store):  # one snapshot, as in run_status
            roles = None
            if actor:
                from sopengine.overdue import roles_named

                roles = roles_named(store, actor)  # an id or the SOP's name; a typo is an error
            wanted = person.strip() if person else None
            rows = queries.inbox_tasks(store, person=wanted or None, roles=roles)
        out = []
        for t in rows:
            compiled = store.compiled(t["definition_hash"])
            cal = store.work_calendar(t["calendar_hash"])
            tz = clock.run_zone(cal, compiled.get("timezone"))
            view = _task_view(compiled, cal, t, clock.coerce(now, tz), [])
            view.update({"run_id": t["run_id"], "definition": t["definition_id"], "period": t["period"], "timezone": tz})
            out.append(view)
        return out
    finally:
        store.close()
