"""``sopengine people``: the register of the office's people, their logins, roles and access."""

from __future__ import annotations

from typing import Any

import click

from sopengine.cli.common import SopGroup, console, global_options, json_option, note, print_json, settings
from sopengine.i18n import _, shown

ACCESS = click.Choice(["admin", "staff", "auditor"], case_sensitive=False)


def _listed(values: list[str]) -> str:
    return ", ".join(values) or "-"


def _warn(result: dict[str, Any]) -> None:
    for warning in result.get("warnings", []):
        note(_("Warning: {message}").format(message=shown(warning)))


def _described(person: dict[str, Any]) -> str:
    return _("{name}: {access} access; OS logins: {logins}; roles: {roles}{disabled}").format(
        name=person["name"], access=person["access"], logins=_listed(person["logins"]), roles=_listed(person["roles"]),
        disabled=" " + _("(disabled)") if person["disabled"] else "")


@click.group("people", cls=SopGroup)
@global_options()
def people_group() -> None:
    """Keep the register of the office's people: their OS logins, roles and access.

    Once the register has anyone in it, every change is recorded under the registered person
    whose OS login makes it; admins manage people and assignments, staff act in the roles
    they hold, auditors only read. The first person must be an admin with your OS login.

    Example:

        sopengine people add "Agus Supriyadi" --login agus --access admin
    """


@people_group.command("add")
@click.argument("name")
@click.option("--login", "logins", multiple=True, metavar="LOGIN", help="An OS login the person works under (repeatable).")
@click.option("--role", "roles", multiple=True, metavar="ROLE", help="An actor role (SOP lane id) the person may act in (repeatable).")
@click.option("--access", type=ACCESS, default="staff", show_default=True,
              help="admin manages people and assignments; staff act on steps; auditor reads only.")
@global_options()
@json_option
def add_cmd(name: str, logins: tuple[str, ...], roles: tuple[str, ...], access: str, as_json: bool) -> None:
    """Add a person to the register (an admin only; the first person must be an admin with your login).

    Example:

        sopengine people add "Siti Rahma" --login siti --role kepala-bidang
    """
    from sopengine import people

    s = settings()
    result = people.add_person(s.db_path, name, logins=logins, roles=roles, access=access, by=s.by, now=s.now,
                               definitions=s.definitions)
    _warn(result)
    if as_json:
        print_json(result)
        return
    click.echo(_("Added {person}.").format(person=_described(result)))


@people_group.command("list")
@global_options()
@json_option
def list_cmd(as_json: bool) -> None:
    """List the people of the register with their access, OS logins and roles.

    Example:

        sopengine people list --json
    """
    from sopengine import people
    from sopengine.authority import SINGLE_USER, mode_sentence

    s = settings()
    rows = people.list_people(s.db_path)
    if as_json:
        print_json(rows)
        return
    if not rows:
        note(mode_sentence(SINGLE_USER))
        return
    from rich.table import Table

    table = Table(title=_("People"), title_justify="left")
    for col in (_("Name"), _("Access"), _("OS logins"), _("Roles"), _("Status")):
        table.add_column(col)
    for p in rows:
        table.add_row(p["name"], p["access"], _listed(p["logins"]), _listed(p["roles"]),
                      _("disabled") if p["disabled"] else _("enabled"))
    console().print(table)


@people_group.command("edit")
@click.argument("name")
@click.option("--add-login", "add_logins", multiple=True, metavar="LOGIN", help="Give the person this OS login (repeatable).")
@click.option("--remove-login", "remove_logins", multiple=True, metavar="LOGIN", help="Take this OS login away (repeatable).")
@click.option("--add-role", "add_roles", multiple=True, metavar="ROLE", help="Let the person act in this role (repeatable).")
@click.option("--remove-role", "remove_roles", multiple=True, metavar="ROLE", help="Take this role away (repeatable).")
@click.option("--access", type=ACCESS, default=None, help="Change the access level: admin, staff or auditor.")
@click.option("--rename", metavar="NAME", help="Correct the person's name (the history keeps the old one).")
@global_options()
@json_option
def edit_cmd(name: str, add_logins: tuple[str, ...], remove_logins: tuple[str, ...], add_roles: tuple[str, ...],
             remove_roles: tuple[str, ...], access: str | None, rename: str | None, as_json: bool) -> None:
    """Change a person's OS logins, roles, access or name (an admin only).

    Example:

        sopengine people edit "Siti Rahma" --add-role sekretaris-dinas --remove-login siti.old
    """
    from sopengine import people

    s = settings()
    result = people.edit_person(s.db_path, name, add_logins=add_logins, remove_logins=remove_logins, add_roles=add_roles,
                                remove_roles=remove_roles, access=access, rename=rename, by=s.by, now=s.now,
                                definitions=s.definitions)
    _warn(result)
    if as_json:
        print_json(result)
        return
    if not result["changed"]:
        note(_("Nothing to change: {person}").format(person=_described(result)))
        return
    click.echo(_("Changed {person}.").format(person=_described(result)))


@people_group.command("disable")
@click.argument("name")
@global_options()
@json_option
def disable_cmd(name: str, as_json: bool) -> None:
    """Disable a person: they may no longer act; the history keeps their name (an admin only).

    Example:

        sopengine people disable "Budi Santoso"
    """
    from sopengine import people

    s = settings()
    result = people.disable_person(s.db_path, name, by=s.by, now=s.now)
    if as_json:
        print_json(result)
        return
    if not result["changed"]:
        note(_("{person} is disabled already.").format(person=result["name"]))
        return
    click.echo(_("Disabled {person}; they may no longer act.").format(person=result["name"]))


@people_group.command("enable")
@click.argument("name")
@global_options()
@json_option
def enable_cmd(name: str, as_json: bool) -> None:
    """Enable a disabled person again (an admin only).

    Example:

        sopengine people enable "Budi Santoso"
    """
    from sopengine import people

    s = settings()
    result = people.enable_person(s.db_path, name, by=s.by, now=s.now)
    if as_json:
        print_json(result)
        return
    if not result["changed"]:
        note(_("{person} is enabled already.").format(person=result["name"]))
        return
    click.echo(_("Enabled {person}.").format(person=result["name"]))


@people_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (its first line), for scripts.")
@click.option("--remove", is_flag=True, help="Remove the password: the person can no longer sign in to the office server.")
@global_options()
@json_option
def passwd_cmd(name: str, password_stdin: bool, remove: bool, as_json: bool) -> None:
    """Set a person's password for the office server ('sopengine serve').

    An admin sets anyone's; everyone else their own. At a terminal the password is asked
    twice and not shown; with --password-stdin it is read from standard input. Setting it
    ends the person's sessions and revokes their API tokens.

    Example:

        sopengine people passwd "Siti Rahma" --password-stdin < sandi-siti.txt
    """
    import sys

    from sopengine import people
    from sopengine.errors import InputError

    s = settings()
    password: str | None = None
    if remove:
        if password_stdin:
            raise InputError(_("--remove takes no password; leave out --password-stdin"))
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = click.prompt(_("New password"), hide_input=True, confirmation_prompt=_("Repeat the password"))
    else:
        raise InputError(_("no terminal to ask the password at; pipe it in with --password-stdin"))
    result = people.set_password(s.db_path, name, password, by=s.by, now=s.now)
    if as_json:
        print_json(result)
        return
    if result["password_set"]:
        click.echo(_("Password set for {person}; they sign in to the office server with it.").format(person=result["name"]))
    else:
        click.echo(_("Password removed for {person}; they can no longer sign in to the office server.").format(
            person=result["name"]))
