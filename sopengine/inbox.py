"""The inbox: open steps waiting for a person (through their roles) or for a role.

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


def _with_register_roles(store: Store, person: str, roles: list[str] | None, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """*rows* and, with a people register, the open steps of the roles the register gives
    *person* in runs that assign that role to nobody: :mod:`sopengine.authority` lets them act
    there, so their inbox shows them. Oldest first."""
    from sopengine.identity import name_key
    from sopengine.store import people as register

    if not register.has_people(store.conn):
        return rows
    found = register.by_key(store.conn, name_key(person))
    if found is None or found["disabled"] or found["access"] == "auditor":
        return rows
    held = [r for r in found["roles"] if roles is None or r in roles]
    seen = {t["id"] for t in rows}
    extra = [t for t in queries.unassigned_role_tasks(store, held) if t["id"] not in seen]
    if not extra:
        return rows
    return sorted(rows + extra, key=lambda t: (t["opened_at"], t["id"]))


def inbox(
    db: str | Path, *, person: str | None = None, actor: str | None = None, now: datetime | str | None = None,
) -> list[dict[str, Any]]:
    """Open steps waiting for a person (through their roles in each run) or a role; oldest first.

    A person's steps are those of the roles assigned to them in each run and, with a people
    register, those of the roles the register gives them in runs that assign that role to
    nobody (who may act on which step: :mod:`sopengine.authority`).

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
            if wanted:
                rows = _with_register_roles(store, wanted, roles, rows)
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
