"""The people register: the office's people, their OS logins, the roles they hold, their access.

Each person has a name (as written; compared in :func:`sopengine.identity.name_key` form),
an access level (``admin`` manages people and assignments, ``staff`` acts on steps,
``auditor`` reads only), the OS logins they work under (each login belongs to one person)
and the actor roles (the SOP's lanes, by id) they may act in. People are never deleted:
someone who leaves is disabled, so the history keeps naming them.

The first person added to an empty register must be an admin whose login is this
process's, or nobody could manage it; after that only an enabled admin changes it, and no
change may leave the register without an enabled admin who has a login. Every change is
written with its event in the office's hash chain (``office_events``,
:mod:`sopengine.store.people`) in one transaction.

Once the register has anyone in it, the run operations take the acting person from it
(:mod:`sopengine.authority`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sopengine import channel, clock
from sopengine.authority import ENGINE, NotAuthorised, acting
from sopengine.errors import DatabaseMissing, InputError
from sopengine.i18n import N_, Message, _, message
from sopengine.identity import clean_name, name_key, os_user, register_login
from sopengine.identity import person as _person
from sopengine.store import Store
from sopengine.store import people as register
from sopengine.store import use as use_store
from sopengine.store.dialect import is_url

ACCESS_LEVELS = ("admin", "staff", "auditor")

_PUBLIC = ("name", "access", "disabled", "logins", "roles", "created_at", "changed_at")


class PersonNotFound(InputError):
    """No person of that name in the register."""


def _public(person: dict[str, Any]) -> dict[str, Any]:
    return {key: person[key] for key in _PUBLIC}


# -- reading ---------------------------------------------------------------------------------------

def _must_exist(db: str | Path | Store) -> None:
    if not isinstance(db, Store) and not is_url(db) and not Path(db).exists():
        raise DatabaseMissing(
            _("no database at {path}; add the office's first person with 'sopengine people add NAME --login {login}"
              " --access admin', or pass --db PATH").format(path=db, login=os_user()),
            path=str(db),
        )


def _reader(db: str | Path | Store) -> tuple[Store, bool]:
    _must_exist(db)
    return use_store(db, readonly=True)


def list_people(db: str | Path | Store) -> list[dict[str, Any]]:
    """Everyone in the register, by name: name, access, disabled, logins, roles, created_at, changed_at."""
    store, owned = _reader(db)
    try:
        return [_public(p) for p in register.all_people(store.conn)]
    finally:
        if owned:
            store.close()


def get_person(db: str | Path | Store, name: str) -> dict[str, Any]:
    """One person of the register, by name (any case) or by one of their logins."""
    store, owned = _reader(db)
    try:
        return _public(_find(store.conn, name))
    finally:
        if owned:
            store.close()


def _find(conn: sqlite3.Connection, name: str) -> dict[str, Any]:
    found = register.by_key(conn, name_key(name)) or register.by_login(conn, clean_name(name))
    if found is None:
        known = ", ".join(p["name"] for p in register.all_people(conn)) or _("nobody yet")
        raise PersonNotFound(
            _("no person {name!r} in the people register (registered: {known}); 'sopengine people list' shows them").format(
                name=name, known=known),
            name=name,
        )
    return found


# -- checking what is given --------------------------------------------------------------------------

def _name(text: str) -> str:
    name = clean_name(text or "")
    if not name:
        raise InputError(_("give the person's name (it is empty or made only of invisible characters)"))
    if name_key(name) == ENGINE:
        raise InputError(_("the name {name!r} is kept for what the engine records by itself; give the person's own name").format(
            name=ENGINE))
    if len(name) > 200:
        raise InputError(_("the name {name!r}… is longer than 200 characters; give a shorter name").format(name=name[:40]))
    return name


def _access(value: str | None) -> str:
    level = (value or "").strip().lower()
    if level not in ACCESS_LEVELS:
        raise InputError(_("access level {value!r} is not one of admin, staff, auditor; give --access admin|staff|auditor").format(
            value=value))
    return level


_LOGIN_FORBIDDEN = set(" /:\\\"'`$;&|<>()[]{}*?!#")


def _login(text: str) -> str:
    login = clean_name(text or "")
    if not login:
        raise InputError(_("give an OS login with --login (it is empty)"))
    if any(ch in _LOGIN_FORBIDDEN for ch in login) or len(login) > 64:
        raise InputError(
            _("{login!r} is not an OS login (no spaces, slashes or shell characters, at most 64 characters);"
              " 'id -un' prints yours").format(login=text),
        )
    return login


def _login_warnings(logins: Iterable[str]) -> list[Message]:
    out: list[Message] = []
    try:
        import pwd
    except ImportError:  # no passwd database to check against
        return out
    for login in logins:
        try:
            pwd.getpwnam(login)
        except KeyError:
            if not login.startswith("uid-"):
                out.append(message(N_("there is no OS account {login} on this machine; kept as given (it may be"
                                      " created later, or be used on another machine)"), login=login))
    return out


def known_roles(definitions: str | Path | None = None) -> dict[str, str]:
    """The actor roles (lanes) of every definition found: role id -> its name in the SOP.

    Read from each file's ``actors`` with the safe loader, without validating the rest, so
    that a file with a problem elsewhere still names its roles.
    """
    import yaml

    from sopengine.definition.catalog import discover
    from sopengine.definition.yamlmarks import SopLoader

    roles: dict[str, str] = {}
    for found in discover(definitions).values():
        try:
            data = yaml.load(found.path.read_text(encoding="utf-8"), Loader=SopLoader)  # noqa: S506 (a SafeLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for actor in (data.get("actors") if isinstance(data, dict) else None) or []:
            if isinstance(actor, dict) and isinstance(actor.get("id"), str):
                roles.setdefault(actor["id"], str(actor.get("name") or actor["id"]))
    return roles


def _roles(given: Iterable[str], definitions: str | Path | None) -> tuple[list[str], list[Message]]:
    """Role ids for *given* (ids, or an actor's name as the SOP writes it), and warnings for unknown ones."""
    wanted = []
    for text in given:
        role = clean_name(text or "")
        if not role:
            raise InputError(_("give a role with --role (an actor id of an SOP, e.g. kepala-bidang); it is empty"))
        wanted.append(role)
    if not wanted:
        return [], []
    known = known_roles(definitions)
    by_name = {name_key(name): rid for rid, name in known.items()}
    out: list[str] = []
    warnings: list[Message] = []
    for role in wanted:
        if role not in known and name_key(role) in by_name:
            role = by_name[name_key(role)]
        elif role not in known:
            warnings.append(message(N_("role {role!r} is in none of the definitions found; kept as given — check the"
                                       " spelling ('sopengine show ID' lists an SOP's roles)"), role=role))
        if role not in out:
            out.append(role)
    return out, warnings


# -- writing ---------------------------------------------------------------------------------------

class _Change:
    """One change to the register: who makes it, when, in one transaction with its event."""

    def __init__(self, store: Store, conn: sqlite3.Connection, now: datetime | str | None) -> None:
        self.store = store
        self.conn = conn
        self.at = clock.iso(clock.coerce(now)) or ""
        self.recorded_at = clock.iso(clock.real_now()) or ""
        self.login = os_user()

    def manager(self, by: str | None) -> dict[str, Any]:
        """The admin making this change (refused: unknown login, disabled, not admin, --by someone else)."""
        if not register.has_people(self.conn):
            raise InputError(
                _("the people register is empty; add its first person, an admin with this process's OS login, with"
                  " 'sopengine people add NAME --login {login} --access admin'").format(login=self.login),
            )
        me, _other = acting(self.conn, None if by is None else _person(by), login=self.login, on_behalf=False)
        if me["access"] != "admin":
            raise NotAuthorised(
                _("{person} has {access} access; only an admin may change the people register (admins: {admins})").format(
                    person=me["name"], access=me["access"], admins=", ".join(register.admins_with_login(self.conn)) or _("none")),
                login=self.login, person=me["name"],
            )
        return me

    def event(self, kind: str, person: str, payload: dict[str, Any]) -> None:
        register.append_office_event(self.conn, kind=kind, at=self.at, recorded_at=self.recorded_at, person=person,
                                     os_user=self.login, payload={**payload, **channel.fields(True)})

    def check_logins_free(self, person_id: int | None, logins: Iterable[str]) -> None:
        for login in logins:
            owner = register.by_login(self.conn, login)
            if owner is not None and owner["id"] != person_id:
                raise InputError(
                    _("OS login {login} already belongs to {other}; a login is one person's — remove it there first with"
                      " 'sopengine people edit \"{other}\" --remove-login {login}'").format(login=login, other=owner["name"]),
                )

    def check_not_locked_out(self) -> None:
        if not admins_who_can_log_in(self.conn):
            raise InputError(
                _("this change would leave the people register without an enabled admin whose OS login exists on this"
                  " machine, and nobody here could manage it any more; make someone with a working login an admin first"),
            )


def admins_who_can_log_in(conn: sqlite3.Connection) -> list[str]:
    """The enabled admins who can still manage the register: with an OS login that exists on this
    machine (``pwd``), or a password to sign in to the office server with.

    A login kept for another machine, or mistyped, does not count: nobody can run a command as it here.
    """
    import pwd

    from sopengine.store import server

    with_password = set(server.has_password(conn))

    def exists(login: str) -> bool:
        try:
            pwd.getpwnam(login)
        except KeyError:
            return False
        return True

    return [p["name"] for p in register.all_people(conn)
            if p["access"] == "admin" and not p["disabled"] and (p["id"] in with_password or any(exists(x) for x in p["logins"]))]


def person_for_login(db: str | Path | Store, login: str | None = None) -> str | None:
    """The registered name of the person whose OS login is *login* (this process's by default).

    None when there is no database, no register or nobody registered with that login.
    """
    if not isinstance(db, Store) and not is_url(db) and not Path(db).exists():
        return None
    store, owned = use_store(db, readonly=True)
    try:
        if not register.has_people(store.conn):
            return None
        found = register.by_login(store.conn, login or register_login())
        return None if found is None else str(found["name"])
    finally:
        if owned:
            store.close()


def _writing(db: str | Path | Store, *, create: bool = False) -> tuple[Store, bool]:
    if not create:
        _must_exist(db)
    return use_store(db, create=create)


def _check_first(name: str, level: str, logins: list[str]) -> None:
    """The first person of an empty register: an admin whose logins include this process's."""
    register_login()  # refused where the login would come from the environment
    if level != "admin" or os_user() not in logins:
        raise InputError(
            _("the people register is empty: its first person must be an admin with this process's OS login,"
              " or nobody could manage it — 'sopengine people add \"{name}\" --login {login} --access admin'").format(
                name=name, login=os_user()),
        )


def add_person(
    db: str | Path | Store, name: str, *, logins: Iterable[str] = (), roles: Iterable[str] = (), access: str = "staff",
    by: str | None = None, now: datetime | str | None = None, definitions: str | Path | None = None,
) -> dict[str, Any]:
    """Add a person to the register; returns them with ``warnings`` (unknown roles, logins not on this machine).

    The first person of an empty register must be an ``admin`` whose logins include this
    process's OS login; after that only an admin adds people.
    """
    name = _name(name)
    level = _access(access)
    login_list = list(dict.fromkeys(_login(x) for x in logins))
    role_list, warnings = _roles(roles, definitions)
    warnings += _login_warnings(login_list)
    if not isinstance(db, Store) and not is_url(db) and not Path(db).exists():
        _check_first(name, level, login_list)  # refused before a database file is made for it
    store, owned = _writing(db, create=True)
    try:
        with store.transaction() as conn:
            change = _Change(store, conn, now)
            if register.has_people(conn):
                recorder = change.manager(by)["name"]
            else:
                _check_first(name, level, login_list)
                recorder = name
            existing = register.by_key(conn, name_key(name))
            if existing is not None:
                raise InputError(
                    _("{name} is already in the people register (as {existing}); change them with 'sopengine people edit'").format(
                        name=name, existing=existing["name"]),
                )
            change.check_logins_free(None, login_list)
            pid = register.insert_person(conn, name, name_key(name), level, change.at)
            for login in login_list:
                register.add_login(conn, pid, login)
            for role in role_list:
                register.add_role(conn, pid, role)
            change.event("person_added", recorder, {"name": name, "access": level, "logins": login_list, "roles": role_list})
            added = register.by_key(conn, name_key(name))
            assert added is not None
        return {**_public(added), "warnings": warnings}
    finally:
        if owned:
            store.close()


def edit_person(
    db: str | Path | Store, name: str, *, add_logins: Iterable[str] = (), remove_logins: Iterable[str] = (),
    add_roles: Iterable[str] = (), remove_roles: Iterable[str] = (), access: str | None = None, rename: str | None = None,
    by: str | None = None, now: datetime | str | None = None, definitions: str | Path | None = None,
) -> dict[str, Any]:
    """Change a person's logins, roles, access level or name (an admin only).

    Returns the person with ``changed`` (False when everything asked for was so already: no
    event is written then) and ``warnings``.
    """
    adding = list(dict.fromkeys(_login(x) for x in add_logins))
    removing = list(dict.fromkeys(_login(x) for x in remove_logins))
    level = _access(access) if access is not None else None
    new_name = _name(rename) if rename is not None else None
    roles_in, warnings = _roles(add_roles, definitions)
    roles_out = list(dict.fromkeys(clean_name(r) for r in remove_roles))
    if not (adding or removing or roles_in or roles_out or level or new_name):
        raise InputError(_("nothing to change; give --add-login, --remove-login, --add-role, --remove-role, --access or --rename"))
    warnings += _login_warnings(adding)
    store, owned = _writing(db)
    try:
        with store.transaction() as conn:
            change = _Change(store, conn, now)
            me = change.manager(by)
            person = _find(conn, name)
            pid = person["id"]
            payload: dict[str, Any] = {}
            for login in removing:
                if login not in person["logins"]:
                    raise InputError(_("{person} has no OS login {login} (theirs: {logins})").format(
                        person=person["name"], login=login, logins=", ".join(person["logins"]) or _("none")))
            change.check_logins_free(pid, adding)
            new_logins = [x for x in adding if x not in person["logins"]]
            for login in new_logins:
                register.add_login(conn, pid, login)
            for login in removing:
                register.remove_login(conn, pid, login)
            if new_logins:
                payload["added_logins"] = new_logins
            if removing:
                payload["removed_logins"] = removing
            for role in roles_out:
                if role not in person["roles"]:
                    raise InputError(_("{person} does not hold the role {role} (theirs: {roles})").format(
                        person=person["name"], role=role, roles=", ".join(person["roles"]) or _("none")))
            new_roles = [r for r in roles_in if r not in person["roles"]]
            for role in new_roles:
                register.add_role(conn, pid, role)
            for role in roles_out:
                register.remove_role(conn, pid, role)
            if new_roles:
                payload["added_roles"] = new_roles
            if roles_out:
                payload["removed_roles"] = roles_out
            values: dict[str, Any] = {}
            if level is not None and level != person["access"]:
                values["access"] = level
                payload["access"] = {"from": person["access"], "to": level}
            if new_name is not None and new_name != person["name"]:
                other = register.by_key(conn, name_key(new_name))
                if other is not None and other["id"] != pid:
                    raise InputError(_("{name} is already in the people register; choose another name").format(name=new_name))
                values.update(name=new_name, name_key=name_key(new_name))
                payload["renamed"] = {"from": person["name"], "to": new_name}
            if not payload:
                return {**_public(person), "changed": False, "warnings": warnings}
            register.update_person(conn, pid, change.at, **values)
            change.check_not_locked_out()
            current = register.by_key(conn, name_key(values.get("name", person["name"])))
            assert current is not None
            change.event("person_changed", me["name"], {"name": current["name"], **payload})
            if "renamed" in payload:
                _rename_assignments(change, me["name"], person["name_key"], current["name"])
        return {**_public(current), "changed": True, "warnings": warnings}
    finally:
        if owned:
            store.close()


def _rename_assignments(change: _Change, admin: str, old_key: str, new_name: str) -> None:
    """Move a renamed person's assignments in active runs to the new name, in the same transaction.

    Each is an ``unassigned`` and an ``assigned`` event in the run's own chain (recorded under the
    admin who renamed them, with ``renamed_from``), so the run's assignments table and its
    events keep agreeing, and the person keeps acting on the steps they were assigned to.
    """
    from sopengine.store import Changes, Event
    from sopengine.store import runs as run_sql

    def to_move() -> dict[str, list[tuple[str, str, bool]]]:
        found: dict[str, list[tuple[str, str, bool]]] = {}
        for run_id, role, person, acting_role in register.active_assignments(change.conn):
            if name_key(person) == old_key and person != new_name:
                found.setdefault(run_id, []).append((role, person, acting_role))
        return found

    # On PostgreSQL a step of another run may change its assignments (or end the run) between this
    # read and the lock on its row: read again once every run found is locked, until nothing new is found.
    locked: set[str] = set()
    moved = to_move()
    while set(moved) - locked:
        fresh = sorted(set(moved) - locked)
        register.lock_runs(change.conn, fresh)
        locked.update(fresh)
        moved = to_move()
    for run_id, rows in moved.items():
        run = change.store.run(run_id)
        changes = Changes(run_id, run["version"], change.recorded_at)
        for role, person, acting_role in rows:
            changes.unassign.append((role, person))
            changes.assign.append((role, new_name, acting_role, admin, change.at))
            changes.events.append(Event("unassigned", change.at, admin, change.login, None,
                                        {"role": role, "person": person, "renamed_to": new_name}))
            payload: dict[str, Any] = {"role": role, "person": new_name, "acting": acting_role, "renamed_from": person}
            if acting_role:
                payload["authorised_by"] = admin
            changes.events.append(Event("assigned", change.at, admin, change.login, None, payload))
        channel.stamp(changes.events, True)
        run_sql.write_changes(change.conn, changes)


def _set_disabled(db: str | Path | Store, name: str, disabled: bool, by: str | None, now: datetime | str | None) -> dict[str, Any]:
    store, owned = _writing(db)
    try:
        with store.transaction() as conn:
            change = _Change(store, conn, now)
            me = change.manager(by)
            person = _find(conn, name)
            if person["disabled"] == disabled:
                return {**_public(person), "changed": False}
            register.update_person(conn, person["id"], change.at, disabled=disabled)
            change.check_not_locked_out()
            if disabled:
                # the sessions and API tokens they hold end for good: enabling them again later
                # (after a stolen password, say) does not bring back what someone else may hold
                from sopengine.store import server

                server.end_sessions(conn, person, channel.fields(True)["via"], "disabled")
            change.event("person_disabled" if disabled else "person_enabled", me["name"], {"name": person["name"]})
            current = register.by_key(conn, person["name_key"])
            assert current is not None
        return {**_public(current), "changed": True}
    finally:
        if owned:
            store.close()


def disable_person(db: str | Path | Store, name: str, *, by: str | None = None, now: datetime | str | None = None) -> dict[str, Any]:
    """Disable a person: they may no longer act (their history stays); an admin only."""
    return _set_disabled(db, name, True, by, now)


def enable_person(db: str | Path | Store, name: str, *, by: str | None = None, now: datetime | str | None = None) -> dict[str, Any]:
    """Enable a disabled person again; an admin only."""
    return _set_disabled(db, name, False, by, now)


__all__ = [
    "ACCESS_LEVELS", "PersonNotFound", "add_person", "admins_who_can_log_in", "disable_person", "edit_person",
    "enable_person", "get_person", "known_roles", "list_people", "person_for_login",
]


def set_password(
    db: str | Path | Store, name: str, password: str | None, *, by: str | None = None, now: datetime | str | None = None,
) -> dict[str, Any]:
    """Set a person's password for the office server (argon2id), or remove it (*password* None).

    An admin sets anyone's; everyone else only their own. Recorded in the office's chain as
    ``password_set`` (``set``: whether a password is now set; never the password or its
    hash). The person's API tokens are revoked, and their signed-in sessions end.
    """
    from sopengine import passwords
    from sopengine.store import server

    hashed = passwords.hash_password(passwords.check_new(password)) if password is not None else None
    store, owned = _writing(db)
    try:
        with store.transaction() as conn:
            change = _Change(store, conn, now)
            if not register.has_people(conn):
                raise InputError(
                    _("the people register is empty; add its first person, an admin with this process's OS login, with"
                      " 'sopengine people add NAME --login {login} --access admin'").format(login=change.login),
                )
            me, _other = acting(conn, None if by is None else _person(by), login=change.login, write=False, on_behalf=False)
            person = _find(conn, name)
            if person["id"] != me["id"] and me["access"] != "admin":
                raise NotAuthorised(
                    _("{person} may set only their own password; an admin sets other people's (admins: {admins})").format(
                        person=me["name"], admins=", ".join(register.admins_with_login(conn)) or _("none")),
                    person=me["name"],
                )
            server.set_password_hash(conn, person["id"], hashed, change.at)
            server.revoke_tokens(conn, person["id"], change.recorded_at)
            if hashed is None:
                change.check_not_locked_out()
            change.event("password_set", me["name"], {"name": person["name"], "set": hashed is not None})
        return {**_public(person), "password_set": hashed is not None}
    finally:
        if owned:
            store.close()
