"""The inbox: open steps waiting for a person (through their roles in each run) or for a role."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.status import _task_view
from sopengine.store import Store


def inbox(
    db: str | Path, *, person: str | None = None, actor: str | None = None, now: datetime | str | None = None,
) -> list[dict[str, Any]]:
    """Open steps waiting for a person (through their roles in each run) or a role; oldest first."""
    store = Store(db, readonly=True)
    try:
        store.conn.execute("BEGIN")  # one snapshot, as in run_status
        rows = store.open_tasks_all()
        roles_by_run: dict[str, set[str]] = {}
        if person:
            wanted = person.strip().casefold()
            for run_id, role, name in store.conn.execute("SELECT run_id, role, person FROM assignments"):
                if name.casefold() == wanted:
                    roles_by_run.setdefault(run_id, set()).add(role)
        roles = None
        if actor:
            from sopengine.overdue import roles_named

            roles = set(roles_named(store, actor))  # an id or the SOP's name; a typo is an error
        out = []
        compiled_cache: dict[str, dict[str, Any]] = {}
        for t in rows:
            if roles is not None and t["actor"] not in roles:
                continue
            if person and t["actor"] not in roles_by_run.get(t["run_id"], set()):
                continue
            compiled = compiled_cache.get(t["definition_hash"])
            if compiled is None:
                compiled = compiled_cache[t["definition_hash"]] = store.compiled(t["definition_hash"])
            run_cal = store.conn.execute("SELECT calendar_hash FROM runs WHERE id = ?", (t["run_id"],)).fetchone()[0]
            cal = store.work_calendar(run_cal)
            tz = clock.run_zone(cal, compiled.get("timezone"))
            view = _task_view(compiled, cal, t, clock.coerce(now, tz), [])
            view.update({"run_id": t["run_id"], "definition": t["definition_id"], "period": t["period"], "timezone": tz})
            out.append(view)
        return out
    finally:
        store.close()
