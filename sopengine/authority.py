"""Who acts, and whether they may: the acting person of a command and the checks on it.

Two modes, decided by the database (:func:`mode`):

* **single-user** (no people register): the person is the name given with ``--by`` /
  ``SOPENGINE_USER`` (else the OS login), recorded beside the OS login of the process.
  Nothing checks the name; assignments decide who may act on a run's steps.
* **register** (``sopengine people`` has at least one person): the acting person is the one
  whose registered OS login runs the process. An unknown login, a disabled person and
  ``auditor`` access may not write; ``staff`` act only in the roles they hold (or hold as
  acting, Plt./Plh., in the run); assigning needs ``admin`` access. ``--by`` naming someone
  else is refused, except from an admin on a step, which is then recorded as the admin's
  work on behalf of that person.

The run operations in :mod:`sopengine.runs` call only the functions here, so the rules of
who may act, assign and write on behalf of someone live in one place. In register mode,
:func:`identify` returns the person's name as an :class:`Acting` (a ``str``) that carries
their register entry to the later checks of the same operation.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from sopengine.errors import InputError, NotAssigned, SopError
from sopengine.i18n import _
from sopengine.identity import name_key, os_user, register_login
from sopengine.identity import person as _person
from sopengine.store import people as register

if TYPE_CHECKING:
    from sopengine.runs import _Loaded
    from sopengine.store import Store

ENGINE = "sopengine"
"""The ``person`` of events the engine records by itself (automatic decisions, joins)."""

REGISTER = "register"
SINGLE_USER = "single-user"


class NotAuthorised(SopError):
    """The acting person may not do this: an unknown OS login, a disabled person, too little
    access, or ``--by`` naming someone else. ``login`` and ``person`` say who was refused."""


class Acting(str):
    """The acting person's name as events record it, with their register entry.

    ``record`` is the register's entry of the person whose OS login runs the process;
    ``behalf`` the registered person an admin records a step for (``--by`` naming them), else
    None. To every other reader it is the plain name.
    """

    record: dict[str, Any]
    behalf: dict[str, Any] | None

    def __new__(cls, record: dict[str, Any], behalf: dict[str, Any] | None = None) -> Acting:
        self = super().__new__(cls, record["name"])
        self.record = record
        self.behalf = behalf
        return self


def checked_person(by: str | None) -> str:
    """The name a command acts under (cleaned); empty names and the engine's own name are refused."""
    name = _person(by)
    if name_key(name) == ENGINE:
        raise InputError(
            _("the name {name!r} is kept for what the engine records by itself; give your own name with --by").format(name=ENGINE)
        )
    return name


class Mode(str):
    """What :func:`mode` returns: ``"register"`` or ``"single-user"``, and ``since``, the real
    time (UTC ISO) the register's first person was recorded (None without a register). To
    every other reader (JSON included) it is the plain word."""

    since: str | None

    def __new__(cls, which: str, since: str | None = None) -> Mode:
        self = super().__new__(cls, which)
        self.since = since
        return self


def mode(store: Store | sqlite3.Connection) -> Mode:
    """``"register"`` when the database's people register has anyone in it, else ``"single-user"``.

    In register mode its ``since`` is when the register's first person was recorded: the
    events recorded before then were recorded with names as typed.
    """
    # a Store, or a connection of either engine (sqlite3's or the store's PostgreSQL one)
    conn: Any = store if isinstance(store, sqlite3.Connection) else getattr(store, "conn", store)
    if register.has_people(conn):
        return Mode(REGISTER, register.register_started(conn))
    return Mode(SINGLE_USER)


def mode_sentence(which: str, since: str | None = None, tz: str | None = None) -> str:
    """What a *which* mode (:func:`mode`) means for the names in the history, in the language in force.

    In register mode it says since when (*since*, or the ``since`` :func:`mode` gave, shown in
    *tz*): what was recorded before the register existed was recorded with names as typed.
    """
    if which == REGISTER:
        since = since or getattr(which, "since", None)
        if since:
            from sopengine import clock

            return _("Who acted is taken from the people register for everything recorded since {when}: each change is"
                     " recorded under the registered person whose OS login made it. What was recorded before then"
                     " carries names as typed (--by or SOPENGINE_USER), which nothing checked.").format(
                when=clock.local(since, tz))
        return _("Who acted is taken from the people register: each change is recorded under the registered"
                 " person whose OS login made it.")
    return _("No people register: names are recorded as typed (--by or SOPENGINE_USER), beside the OS login;"
             " nothing checks them. 'sopengine people add' starts a register.")


def _admins(conn: sqlite3.Connection) -> str:
    return ", ".join(register.admins_with_login(conn)) or _("none")


def _names_self(me: dict[str, Any], by: str | None) -> bool:
    """Whether *by* (a cleaned name, or None) names the person *me*: their name or one of their logins."""
    return by is None or name_key(by) == me["name_key"] or by in me["logins"]


def acting(
    conn: sqlite3.Connection, by: str | None, *, login: str | None = None, write: bool = True, on_behalf: bool = True,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """In register mode: the registered person this process acts as, and whom ``--by`` names instead.

    *by* is the cleaned ``--by`` name (None when not given). The second value is None unless
    *by* names another registered person and *on_behalf* allows an admin to record for them.
    Refused (:class:`NotAuthorised`): an OS login not in the register, a disabled person,
    ``auditor`` access when *write*, ``--by`` naming someone else.
    """
    from sopengine import channel

    web = channel.current()
    if web is not None:
        return _signed_in(conn, web, by, write)
    trusted = register_login()  # refused where the login would come from the environment
    login = login or trusted
    me = register.by_login(conn, login)
    if me is None:
        raise NotAuthorised(
            _("OS login {login} is not in the people register, so it may not record anything;"
              " an admin adds it with 'sopengine people edit NAME --add-login {login}' (admins: {admins})").format(
                login=login, admins=_admins(conn)),
            login=login,
        )
    if me["disabled"]:
        raise NotAuthorised(
            _("{person} (OS login {login}) is disabled in the people register; an admin can enable them with"
              " 'sopengine people enable \"{person}\"'").format(person=me["name"], login=login),
            login=login, person=me["name"],
        )
    if write and me["access"] == "auditor":
        raise NotAuthorised(
            _("{person} has auditor access, which reads only; an admin can change it with"
              " 'sopengine people edit \"{person}\" --access staff'").format(person=me["name"]),
            login=login, person=me["name"],
        )
    if _names_self(me, by):
        return me, None
    assert by is not None
    if me["access"] != "admin":
        raise NotAuthorised(
            _("this process runs as OS login {login}, registered to {person}; --by names {name}, someone else —"
              " leave out --by (and SOPENGINE_USER), or ask an admin to record it on behalf of {name}").format(
                login=login, person=me["name"], name=by),
            login=login, person=me["name"],
        )
    if not on_behalf:
        raise NotAuthorised(
            _("{person}: this change is recorded under your own name, not on behalf of {name}; leave out --by"
              " (and SOPENGINE_USER)").format(person=me["name"], name=by),
            login=login, person=me["name"],
        )
    other = register.by_key(conn, name_key(by))
    if other is None:
        raise NotAuthorised(
            _("--by names {name}, who is not in the people register; check the name ('sopengine people list'),"
              " or leave out --by to act as yourself ({person})").format(name=by, person=me["name"]),
            login=login, person=me["name"],
        )
    if other["disabled"] or other["access"] == "auditor":
        raise NotAuthorised(
            _("{name} may not act ({why}), so nothing can be recorded on their behalf").format(
                name=other["name"], why=_("disabled") if other["disabled"] else _("auditor access")),
            login=login, person=me["name"],
        )
    return me, other


def _signed_in(conn: sqlite3.Connection, web: Any, by: str | None, write: bool) -> tuple[dict[str, Any], None]:
    """The person the office server signed in (:mod:`sopengine.channel`), read again from the
    register in the operation's own transaction: disabled since signing in, or made an
    auditor, they are refused as the command line refuses them. No name given in a request
    is ever used instead."""
    from sopengine.store import server

    me = server.person_by_id(conn, web.person_id)
    if me is None:
        raise NotAuthorised(_("your account is no longer in the people register; ask an admin ({admins})").format(
            admins=_admins(conn)))
    if me["disabled"]:
        raise NotAuthorised(
            _("{person} is disabled in the people register; an admin can enable them").format(person=me["name"]),
            person=me["name"],
        )
    if write and me["access"] == "auditor":
        raise NotAuthorised(
            _("{person} has auditor access, which reads only").format(person=me["name"]), person=me["name"],
        )
    if by is not None and not _names_self(me, by):
        raise NotAuthorised(
            _("{person} is signed in; a change is recorded under the signed-in person only, never a name given").format(
                person=me["name"]),
            person=me["name"],
        )
    return me, None


def identify(store: Store, by: str | None, *, on_behalf: bool = True) -> tuple[str, str]:
    """The acting person and the OS login of this process, as events record them.

    Single-user mode: the name given (cleaned). Register mode: the registered person whose
    OS login runs the process, as an :class:`Acting`; *on_behalf* lets an admin's ``--by``
    name the registered person a step is recorded for (the operations that record
    ``on_behalf_of``).
    """
    login = os_user()
    if not register.has_people(store.conn):
        from sopengine import channel

        if channel.current() is not None:
            raise NotAuthorised(_("the people register is empty, so nobody can be signed in; an admin adds people with"
                                  " 'sopengine people add'"))
        return _person(by), login
    me, other = acting(store.conn, None if by is None else _person(by), login=login, on_behalf=on_behalf)
    return Acting(me, other), login


def _registered(loaded: _Loaded) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    person = loaded.person
    if isinstance(person, Acting):
        return person.record, person.behalf
    return None


def check_may_act(loaded: _Loaded, task: dict[str, Any]) -> None:
    """Refuse a person who may not act on *task*.

    Both modes: when the step's role has assignees in the run, only they may act. Register
    mode also: ``staff`` act only in roles they hold in the register or hold as acting
    (Plt./Plh.) in this run. A step recorded on behalf of someone is checked for them.
    """
    role = task["actor"]
    if role is None:
        _check_may_take_decision(loaded, task)
        return
    actor = loaded.compiled["actors"].get(role, {})
    if actor.get("kind") == "external":
        # Staff record an external party's step for it; the party's assignee is whom it is for.
        return
    name = actor.get("name", role)
    run_id = loaded.run["id"]
    found = _registered(loaded)
    who = str(loaded.person)
    assignees = [a for a in loaded.assignments() if a["role"] == role]
    if found is not None:
        me, behalf = found
        subject = behalf or me
        who = subject["name"]
        if subject["access"] == "staff":
            acting_here = any(a["acting"] and name_key(a["person"]) == subject["name_key"] for a in assignees)
            if role not in subject["roles"] and not acting_here:
                raise NotAssigned(
                    _("{person} does not hold the role {name} ({role}) in the people register; an admin gives it with"
                      " 'sopengine people edit \"{person}\" --add-role {role}', or for this run only with"
                      " 'sopengine assign {run} {role} \"{person}\" --acting'").format(
                        person=who, name=name, role=role, run=run_id),
                    run_id=run_id, person=who, role=role,
                )
    if assignees and name_key(who) not in {name_key(a["person"]) for a in assignees}:
        assigned = ", ".join(a["person"] for a in assignees)
        if found is None:
            message = _("{person} is not assigned to {name} ({role}) in run {run}; assigned: {assigned}"
                        " — act as one of them with --by, or 'sopengine assign {run} {role} NAME'")
        else:
            message = _("{person} is not assigned to {name} ({role}) in run {run}; assigned: {assigned}"
                        " — an admin can change it with 'sopengine assign {run} {role} NAME'")
        raise NotAssigned(
            message.format(person=who, name=name, role=role, run=run_id, assigned=assigned),
            run_id=run_id, person=who, role=role,
        )


def _holds_run_role(loaded: _Loaded, person: dict[str, Any]) -> bool:
    """Whether a registered *person* holds one of the run's roles: in the register, or as an
    assignee (acting Plt./Plh. included) of this run."""
    lanes = set(loaded.compiled.get("actors") or {})
    assigned = any(name_key(a["person"]) == person["name_key"] for a in loaded.assignments())
    return bool(set(person["roles"]) & lanes) or assigned


def _check_may_take_decision(loaded: _Loaded, task: dict[str, Any]) -> None:
    """A step of no role (an automatic decision that stopped for a missing fact), register mode:
    an admin, or someone who holds one of the run's roles, may take it."""
    found = _registered(loaded)
    if found is None:
        return
    me, behalf = found
    subject = behalf or me
    if subject["access"] == "admin" or _holds_run_role(loaded, subject):
        return
    run_id = loaded.run["id"]
    raise NotAuthorised(
        _("{person} holds no role of run {run}, so may not take its decision {step} for the engine; ask an admin"
          " ({admins}) or one of the run's officials").format(
            person=subject["name"], run=run_id, step=task["step_id"], admins=_admins(loaded.store.conn)),
        person=subject["name"], run_id=run_id,
    )


def check_may_assign(loaded: _Loaded, role: str, person: str, *, acting: bool, remove: bool) -> None:
    """Refuse an assignment the acting person may not make.

    Single-user mode: anyone may. Register mode: only an admin, under their own name; the
    person assigned must be registered, enabled, not an auditor, and (unless the assignment is
    acting, Plt./Plh.) hold the role.
    """
    if isinstance(loaded.person, Acting):
        _check_assignment(loaded.store.conn, loaded.person, role, person, acting=acting, remove=remove)


def check_may_change_run(loaded: _Loaded, what: str) -> None:
    """Refuse a reopen or a cancel the acting person may not make.

    Single-user mode: anyone may. Register mode: an admin, or staff who hold one of the run's
    roles (in the register, or as its assignee or acting Plt./Plh. in this run). *what* is
    ``"reopen"`` or ``"cancel"``.
    """
    if not isinstance(loaded.person, Acting):
        return
    me = loaded.person.record
    if me["access"] == "admin":
        return
    if not _holds_run_role(loaded, me):
        if what == "reopen":
            message = _("{person} holds no role of run {run}, so may not reopen it; ask an admin ({admins}) or one of"
                        " the run's officials")
        else:
            message = _("{person} holds no role of run {run}, so may not cancel it; ask an admin ({admins}) or one of"
                        " the run's officials")
        raise NotAuthorised(
            message.format(person=me["name"], run=loaded.run["id"], admins=_admins(loaded.store.conn)),
            person=me["name"], run_id=loaded.run["id"],
        )


def check_start_assignments(store: Store, person: str, assignments: list[tuple[str, str]]) -> None:
    """Refuse the assignments given as a run starts (``--assign ROLE=NAME``) that
    :func:`check_may_assign` would refuse: *person* is what :func:`identify` returned."""
    if isinstance(person, Acting):
        for role, name in assignments:
            _check_assignment(store.conn, person, role, name, acting=False, remove=False)


def _check_assignment(
    conn: sqlite3.Connection, by: Acting, role: str, person: str, *, acting: bool, remove: bool,
) -> None:
    me, behalf = by.record, by.behalf
    if behalf is not None:
        raise NotAuthorised(
            _("{person}: an assignment is recorded under the admin who makes it, not on behalf of {name}; leave out --by"
              " (and SOPENGINE_USER)").format(person=me["name"], name=behalf["name"]),
            person=me["name"],
        )
    if me["access"] != "admin":
        raise NotAuthorised(
            _("{person} has {access} access; assigning people to roles needs admin access — ask an admin ({admins})").format(
                person=me["name"], access=me["access"], admins=_admins(conn)),
            person=me["name"],
        )
    if remove:
        return
    target = register.by_key(conn, name_key(person))
    if target is None:
        raise InputError(
            _("{name} is not in the people register, so they could not act on the steps of {role}; add them first with"
              " 'sopengine people add \"{name}\" --login LOGIN --role {role}'").format(name=person, role=role),
        )
    if target["disabled"] or target["access"] == "auditor":
        raise InputError(
            _("{name} may not act ({why}); assign someone else").format(
                name=target["name"], why=_("disabled") if target["disabled"] else _("auditor access")),
        )
    if target["access"] == "staff" and not acting and role not in target["roles"]:
        raise InputError(
            _("{name} does not hold the role {role} in the people register; give it with"
              " 'sopengine people edit \"{name}\" --add-role {role}', or assign them as acting (Plt./Plh.) with --acting").format(
                name=target["name"], role=role),
        )


def on_behalf_for(loaded: _Loaded, task: dict[str, Any], on_behalf: str | None) -> str | None:
    """Whom a step is recorded for: the registered person an admin's ``--by`` names, *on_behalf*,
    or an external party's assignee (or its name)."""
    found = _registered(loaded)
    if found is not None and found[1] is not None:
        behalf = found[1]
        if on_behalf and name_key(on_behalf) != behalf["name_key"]:
            raise InputError(
                _("--by names {name} and --on-behalf names {other}; a step is recorded for one person — give one of them").format(
                    name=behalf["name"], other=on_behalf),
            )
        return str(behalf["name"])
    actor = loaded.compiled["actors"].get(task["actor"] or "", {})
    if found is not None and on_behalf and actor.get("kind") != "external" and found[0]["access"] != "admin":
        # Staff record for an outside party (an external lane); writing "on behalf of" anyone
        # else would make their own write look like that person's authorised one.
        me = found[0]
        raise NotAuthorised(
            _("{person}: --on-behalf is for the steps of an outside party (an external role); step {step} is an internal"
              " step, recorded under your own name — leave out --on-behalf, or ask an admin ({admins}) to record it"
              " on behalf of {name}").format(
                person=me["name"], step=task["step_id"], admins=_admins(loaded.store.conn), name=on_behalf),
            person=me["name"], run_id=loaded.run["id"],
        )
    if actor.get("kind") == "external" and not on_behalf:
        assigned = [a["person"] for a in loaded.assignments() if a["role"] == task["actor"]]
        return ", ".join(assigned) or actor.get("name")
    return on_behalf
