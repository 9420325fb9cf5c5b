"""Publishing a definition or the working calendar into the office's definitions folder.

An admin checks a file's text first (:func:`check_definition`, :func:`check_calendar`: every
problem at once, as ``sopengine validate`` reports them); a text with errors is never written.
A valid one is written whole or not at all (:func:`sopengine.api.write_text_atomic`) and
recorded in the office's hash chain — ``definition_published`` or ``calendar_published``, with
the file's name and the SHA-256 of its text — in one transaction with nothing else, so the
history says who put which text in force, and when.

Runs already started are not touched: each is pinned to the definition text (by hash) and the
calendar it started with.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sopengine.errors import DefinitionInvalid, InputError
from sopengine.i18n import _

if TYPE_CHECKING:
    from sopengine.definition.loader import Checked
    from sopengine.store import Store

CALENDAR_FILE = "calendar.yaml"
_BARE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\.yaml")


def file_name(name: str) -> str:
    """*name* if it is a bare ``NAME.yaml`` (no folders, no ``..``); else :class:`InputError`."""
    name = (name or "").strip()
    if not _BARE_NAME.fullmatch(name) or name == CALENDAR_FILE:
        raise InputError(
            _("{name!r} is not a definition file name; give a bare NAME.yaml (letters, digits, '-' and '_', no folders),"
              " NAME being the SOP's id").format(name=name),
        )
    return name


def check_definition(text: str, name: str, definitions: str | Path | None = None) -> Checked:
    """Check *text* as the definition file *name* (its id must be the name without ``.yaml``).

    A format-2 handover may name any definition found in *definitions*, or this one.
    """
    from sopengine.definition import catalog
    from sopengine.definition.loader import check_text

    name = file_name(name)
    stem = name[: -len(".yaml")]
    known = set(catalog.discover(definitions)) | {stem}
    return check_text(text, name, expected_id=stem, known_sops=known)


def problem_lines(checked: Checked) -> list[str]:
    """Every problem of *checked* as ``FILE:LINE: field: message``, as ``sopengine validate`` prints them."""
    return [str(p) for p in checked.problems]


def check_calendar(text: str) -> list[str]:
    """The problems of *text* as a calendar file (none: it is valid), each naming ``calendar.yaml``."""
    from sopengine import clock
    from sopengine.calendar import load_calendar

    year = clock.now().astimezone(clock.zone()).year
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / CALENDAR_FILE
        path.write_text(text, encoding="utf-8")
        try:
            load_calendar(path, years=[year])
        except InputError as exc:
            return [str(exc).replace(str(path), CALENDAR_FILE)]
    return []


def calendar_file(definitions: str | Path | None) -> Path | None:
    """The calendar file in force if it is the definitions folder's own ``calendar.yaml`` (the one an admin may publish)."""
    from sopengine.calendar import resolve_calendar_path
    from sopengine.definition.catalog import search_dirs

    if definitions is None:
        return None
    target = Path(definitions) / CALENDAR_FILE
    try:
        in_force = resolve_calendar_path(None, [p for p, _origin in search_dirs(definitions)])
    except InputError:
        return None
    return target if in_force is not None and in_force.resolve() == target.resolve() else None


def publish_definition(
    db: str | Path | Store, definitions: str | Path | None, name: str, text: str, *, by: str | None = None, now: Any = None,
) -> dict[str, Any]:
    """Write *text* as *definitions*/*name* if it is a valid definition, and record ``definition_published``.

    Refused: no definitions folder, a name that is not a bare ``NAME.yaml``,
    :class:`DefinitionInvalid` with every problem when the text has errors, or someone who is not an admin.
    """
    folder = _folder(definitions)
    checked = check_definition(text, name, folder)
    if not checked.ok:
        raise DefinitionInvalid(checked.problems)
    assert checked.definition is not None
    name = file_name(name)
    payload = {"id": checked.definition.id, "file": name, "sha256": _sha256(text)}
    return _publish(db, folder / name, text, "definition_published", payload, by, now)


def publish_calendar(
    db: str | Path | Store, definitions: str | Path | None, text: str, *, by: str | None = None, now: Any = None,
) -> dict[str, Any]:
    """Write *text* over the definitions folder's ``calendar.yaml`` if it is a valid calendar, and record ``calendar_published``.

    Only the file already in force there is replaced: a calendar given by ``--calendar`` or
    ``SOPENGINE_CALENDAR`` is outside the server's reach.
    """
    folder = _folder(definitions)
    target = calendar_file(folder)
    if target is None:
        raise InputError(
            _("the calendar in force is not {file} in the definitions folder {folder}; it can only be changed where it is kept").format(
                file=CALENDAR_FILE, folder=folder),
        )
    problems = check_calendar(text)
    if problems:
        raise InputError("; ".join(problems))
    return _publish(db, target, text, "calendar_published", {"file": CALENDAR_FILE, "sha256": _sha256(text)}, by, now)


def _folder(definitions: str | Path | None) -> Path:
    if definitions is None:
        raise InputError(_("this server has no definitions folder to publish into; start it with --definitions DIR"))
    folder = Path(definitions)
    if not folder.is_dir():
        raise InputError(_("the definitions folder {folder} does not exist; create it or start the server with another"
                           " --definitions DIR").format(folder=folder))
    return folder


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _publish(db: str | Path | Store, target: Path, text: str, kind: str, payload: dict[str, Any], by: str | None,
             now: Any) -> dict[str, Any]:
    """Record *kind* and put *text* in force at *target*, both or neither.

    The text is written whole to a temporary file beside *target* first; in the event's
    transaction, as its last step, the file takes *target*'s name (one rename, which does not
    fail half-way), so a refused rename records nothing. Only a commit failing after the
    rename would leave the file in force without its event.
    """
    import os

    from sopengine import authority, channel, clock
    from sopengine.identity import os_user
    from sopengine.store import people as register
    from sopengine.store import use

    def cannot(exc: OSError) -> InputError:
        return InputError(_("cannot write {file} ({reason}); check the folder and its permissions").format(
            file=target, reason=exc.strerror))

    staged = ""
    try:
        fd, staged = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        if staged:
            Path(staged).unlink(missing_ok=True)
        raise cannot(exc) from None
    store, owned = use(db)
    try:
        at = clock.iso(clock.coerce(now)) or ""
        recorded_at = clock.iso(clock.real_now()) or ""
        with store.transaction() as conn:
            who = _publisher(conn, by)
            register.append_office_event(conn, kind=kind, at=at, recorded_at=recorded_at, person=who, os_user=os_user(),
                                         payload={**payload, **channel.fields(authority.mode(conn) == authority.REGISTER)})
            try:
                os.replace(staged, target)  # last: a rename refused rolls the event back
            except OSError as exc:
                raise cannot(exc) from None
        return {**payload, "path": str(target), "by": who, "at": at}
    finally:
        Path(staged).unlink(missing_ok=True)
        if owned:
            store.close()


def _publisher(conn: Any, by: str | None) -> str:
    """Who publishes: in register mode an admin acting as themselves; else the name given."""
    from sopengine import authority

    if authority.mode(conn) != authority.REGISTER:
        return authority.checked_person(by)
    me, _other = authority.acting(conn, None if by is None else authority.checked_person(by), on_behalf=False)
    if me["access"] != "admin":
        raise authority.NotAuthorised(
            _("{person} has {access} access; only an admin may publish definitions or the calendar").format(
                person=me["name"], access=me["access"]),
            person=me["name"],
        )
    return str(me["name"])
