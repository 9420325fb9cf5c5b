"""The people register's tables against the office's chain, and who made each office change.

The register's tables (``people``, ``person_logins``, ``person_roles``) hold what is true now;
the office's events (``office_events``) say how it came to be. :func:`register_problems`
replays the events written by :mod:`sopengine.people` (``person_added``, ``person_changed``,
``person_disabled``, ``person_enabled``) into the people, logins, roles, access and disabled
state they leave, and names every way the tables differ: someone who edits the database file
(``UPDATE people SET access = 'admin'``) is found. Along the way it checks that each office
event, the document rules' (``document_*``) included, was recorded by an enabled admin of the
register as it stood then, under one of that admin's OS logins; the register's first person is
the exception: an admin who adds themselves under their own login. Document rules recorded
before the register existed (single-user mode) are anyone's.

The allowed folders and the size limit are compared with their events by ``audit verify
--documents`` (:mod:`sopengine.audit.documents`). A database without a register yields nothing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sopengine.audit.findings import _joined, _problem, _text
from sopengine.i18n import N_
from sopengine.identity import name_key
from sopengine.store import audit as store_audit
from sopengine.store import people as store_people

OFFICE = store_audit.OFFICE_CHAIN

PASSWORD_SET = "password_set"
PEOPLE_KINDS = frozenset(("person_added", "person_changed", "person_disabled", "person_enabled", PASSWORD_SET))


def _strings(value: Any) -> list[str]:
    return [x for x in value if isinstance(x, str)] if isinstance(value, list) else []


class _Replay:
    """The register as the office's events leave it: name key -> the person's state."""

    def __init__(self) -> None:
        self.people: dict[str, dict[str, Any]] = {}
        self.problems: list[dict[str, Any]] = []

    def problem(self, seq: int, template: str, **values: Any) -> None:
        self.problems.append(_problem("register", _text(template, seq=seq, **values), seq=seq, run_id=OFFICE))

    def check_maker(self, e: dict[str, Any], payload: dict[str, Any]) -> None:
        """The person who recorded event *e* may change the register (or its document rules)."""
        seq, kind, who, login = e["seq"], e["kind"], str(e["person"]), str(e["os_user"])
        if not self.people:
            if kind == "person_added" and not (
                payload.get("access") == "admin" and login in _strings(payload.get("logins"))
                and name_key(who) == name_key(str(payload.get("name")))
            ):
                self.problem(seq, N_("office event {seq} adds the register's first person, {name}, but not as an admin who adds"
                                     " themselves under their own OS login ({person}, OS login {login}): the event was"
                                     " forged"), name=payload.get("name"), person=who, login=login)
            return
        maker = self.people.get(name_key(who))
        own_password = kind == PASSWORD_SET and name_key(who) == name_key(str(payload.get("name")))
        if own_password and maker is not None and not maker["disabled"]:
            pass  # anyone enabled may set their own password
        elif maker is None or maker["disabled"] or maker["access"] != "admin":
            why = (N_("not in the register") if maker is None else N_("disabled") if maker["disabled"]
                   else N_("{access} access"))
            self.problem(seq, N_("office event {seq} ({kind}) was recorded by {person}, who was not an enabled admin of the"
                                 " people register then ({why}): the event was forged or the register edited"),
                         kind=kind, person=who, why=_text(why, access=maker["access"] if maker else ""))
            return
        assert maker is not None
        if payload.get("via") in ("web", "api"):
            # signed in to the office server: the OS login is the server's; a password proved who
            if not maker.get("password"):
                self.problem(seq, N_("office event {seq} ({kind}) was recorded by {person} through the office server, but"
                                     " {person} had no password to sign in with then: the event was forged"),
                             kind=kind, person=who)
        elif login not in maker["logins"]:
            self.problem(seq, N_("office event {seq} ({kind}) was recorded by {person} under OS login {login}, which was not"
                                 " one of theirs then ({logins}): the event was forged"),
                         kind=kind, person=who, login=login, logins=", ".join(sorted(maker["logins"])) or "-")

    def apply(self, e: dict[str, Any], payload: dict[str, Any]) -> None:
        seq, kind = e["seq"], e["kind"]
        name = str(payload.get("name"))
        if kind == "person_added":
            if name_key(name) in self.people:
                self.problem(seq, N_("office event {seq} adds {name}, who was in the register already"), name=name)
            self.people[name_key(name)] = {
                "name": name, "access": payload.get("access"), "disabled": False,
                "logins": set(_strings(payload.get("logins"))), "roles": set(_strings(payload.get("roles"))),
            }
            return
        renamed = payload.get("renamed") if isinstance(payload.get("renamed"), dict) else None
        key = name_key(str(renamed.get("from"))) if renamed else name_key(name)
        person = self.people.get(key)
        if person is None:
            self.problem(seq, N_("office event {seq} ({kind}) changes {name}, whom no earlier office event added"),
                         kind=kind, name=renamed.get("from") if renamed else name)
            return
        if kind in ("person_disabled", "person_enabled"):
            person["disabled"] = kind == "person_disabled"
            return
        if kind == PASSWORD_SET:
            person["password"] = bool(payload.get("set", True))
            return
        person["logins"] |= set(_strings(payload.get("added_logins")))
        person["logins"] -= set(_strings(payload.get("removed_logins")))
        person["roles"] |= set(_strings(payload.get("added_roles")))
        person["roles"] -= set(_strings(payload.get("removed_roles")))
        if isinstance(payload.get("access"), dict):
            person["access"] = payload["access"].get("to")
        if renamed:
            del self.people[key]
            person["name"] = str(renamed.get("to"))
            self.people[name_key(person["name"])] = person


def register_problems(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every difference between the register's tables and the office's events, and every office
    event recorded by someone who could not make it (see the module's text)."""
    replay = _Replay()
    for e in store_people.office_events(conn):
        try:
            payload = json.loads(e["payload"])
        except (TypeError, ValueError):
            continue  # an unreadable payload is the chain check's finding
        if not isinstance(payload, dict):
            continue
        replay.check_maker(e, payload)
        if e["kind"] in PEOPLE_KINDS:
            replay.apply(e, payload)
    return replay.problems + _table_problems(conn, replay.people)


def _table_problems(conn: sqlite3.Connection, expected: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    people, logins, roles = store_audit.register_rows(conn)
    by_id = {row[0]: row for row in people}
    held: dict[str, dict[str, Any]] = {}
    for _pid, name, access, disabled in people:
        held[name_key(str(name))] = {"name": name, "access": access, "disabled": bool(disabled), "logins": set(), "roles": set()}
    problems = []

    def problem(template: str, **values: Any) -> None:
        problems.append(_problem("register", _text(template, **values), run_id=OFFICE))

    for login, pid in logins:
        if pid in by_id:
            held[name_key(str(by_id[pid][1]))]["logins"].add(login)
        else:
            problem(N_("OS login {login} in the person_logins table belongs to no person of the people table (person id"
                       " {id}): the table was edited"), login=login, id=pid)
    for pid, role in roles:
        if pid in by_id:
            held[name_key(str(by_id[pid][1]))]["roles"].add(role)
        else:
            problem(N_("role {role} in the person_roles table belongs to no person of the people table (person id {id}):"
                       " the table was edited"), role=role, id=pid)
    for key in sorted(set(held) - set(expected)):
        problem(N_("{name} is in the people table, but no office event added them: the table was edited"),
                name=held[key]["name"])
    for key in sorted(set(expected) - set(held)):
        problem(N_("{name} was added by the office events but is missing from the people table: the table was edited"),
                name=expected[key]["name"])
    for key in sorted(set(expected) & set(held)):
        want, have = expected[key], held[key]
        differences = []
        if have["name"] != want["name"]:
            differences.append(_text(N_("name {table!r} in the table, {events!r} by the events"),
                                     table=have["name"], events=want["name"]))
        if have["access"] != want["access"]:
            differences.append(_text(N_("access {table} in the table, {events} by the events"),
                                     table=have["access"], events=want["access"]))
        if have["disabled"] != want["disabled"]:
            differences.append(_text(N_("disabled in the table, enabled by the events") if have["disabled"]
                                     else N_("enabled in the table, disabled by the events")))
        for what, extra, missing in (
            ("logins", N_("OS login(s) {values} in the table that no event gave"), N_("OS login(s) {values} given by the events"
                                                                                     " but missing from the table")),
            ("roles", N_("role(s) {values} in the table that no event gave"), N_("role(s) {values} given by the events but"
                                                                                 " missing from the table")),
        ):
            if have[what] - want[what]:
                differences.append(_text(extra, values=", ".join(sorted(have[what] - want[what]))))
            if want[what] - have[what]:
                differences.append(_text(missing, values=", ".join(sorted(want[what] - have[what]))))
        if differences:
            problem(N_("{name} in the people register differs from what the office events record: {differences}; the"
                       " tables were edited"), name=want["name"], differences=_joined(differences))
    return problems
