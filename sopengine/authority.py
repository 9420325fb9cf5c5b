"""Who acts, and whether they may: the acting person of a command and the checks on it.

Without a people register (the single-user mode), the person is the name given with
``--by`` / ``SOPENGINE_USER`` (else the OS login), recorded beside the OS login of the
process. The run operations in :mod:`sopengine.runs` call only the functions here, so the
rules of who may act, assign and write on behalf of someone live in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sopengine.errors import InputError, NotAssigned
from sopengine.i18n import _
from sopengine.identity import name_key, os_user
from sopengine.identity import person as _person

if TYPE_CHECKING:
    from sopengine.runs import _Loaded
    from sopengine.store import Store

ENGINE = "sopengine"
"""The ``person`` of events the engine records by itself (automatic decisions, joins)."""


def checked_person(by: str | None) -> str:
    """The name a command acts under (cleaned); empty names and the engine's own name are refused."""
    name = _person(by)
    if name_key(name) == ENGINE:
        raise InputError(
            _("the name {name!r} is kept for what the engine records by itself; give your own name with --by").format(name=ENGINE)
        )
    return name


def identify(store: Store, by: str | None) -> tuple[str, str]:
    """The acting person and the OS login of this process, as events record them."""
    return _person(by), os_user()


def check_may_act(loaded: _Loaded, task: dict[str, Any]) -> None:
    """Refuse a person who is not assigned to the role of *task* (when the role has assignees)."""
    role = task["actor"]
    if role is None:
        return
    if loaded.compiled["actors"].get(role, {}).get("kind") == "external":
        # Staff record an external party's step for it; the party's assignee is whom it is for.
        return
    assignees = [a["person"] for a in loaded.assignments() if a["role"] == role]
    if assignees and name_key(loaded.person) not in {name_key(a) for a in assignees}:
        name = loaded.compiled["actors"].get(role, {}).get("name", role)
        raise NotAssigned(
            _("{person} is not assigned to {name} ({role}) in run {run}; assigned: {assigned}"
              " — act as one of them with --by, or 'sopengine assign {run} {role} NAME'").format(
                person=loaded.person, name=name, role=role, run=loaded.run["id"], assigned=", ".join(assignees)),
            run_id=loaded.run["id"], person=loaded.person, role=role,
        )


def check_may_assign(loaded: _Loaded, role: str, person: str, *, acting: bool, remove: bool) -> None:
    """Refuse an assignment the acting person may not make (single-user mode: anyone may)."""


def on_behalf_for(loaded: _Loaded, task: dict[str, Any], on_behalf: str | None) -> str | None:
    """Whom a step is recorded for: *on_behalf*, or an external party's assignee (or its name)."""
    actor = loaded.compiled["actors"].get(task["actor"] or "", {})
    if actor.get("kind") == "external" and not on_behalf:
        assigned = [a["person"] for a in loaded.assignments() if a["role"] == task["actor"]]
        return ", ".join(assigned) or actor.get("name")
    return on_behalf
