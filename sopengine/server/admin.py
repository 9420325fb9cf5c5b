"""The admin pages of the office server: people, run assignments, definitions, the calendar, starting runs.

Every route needs admin access (:func:`sopengine.server.app.admin`: staff and auditors get 403).
Every write calls the library inside ``who.acting()``, then redirects (303) with a flash; a
refused write shows the library's message with the status that fits it (the app's error
handler). Definitions and the calendar are checked first and published only when valid
(:mod:`sopengine.publish`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from sopengine import api, people, publish
from sopengine.errors import DefinitionInvalid, InputError
from sopengine.i18n import _
from sopengine.server.app import admin, back, config, flash, page
from sopengine.server.auth import Who

router = APIRouter(prefix="/admin", include_in_schema=False)
Admin = Annotated[Who, Depends(admin)]
Text = Annotated[str, Form()]
Texts = Annotated[list[str] | None, Form()]  # checkboxes: none checked sends nothing
Upload = Annotated[UploadFile | None, File()]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _definitions(request: Request) -> str | None:
    found = config(request).definitions
    return None if found is None else str(found)


def _split(text: str) -> list[str]:
    """OS logins typed in one field, separated by commas or spaces."""
    return [x for x in re.split(r"[\s,]+", text or "") if x]


# -- the index ------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def index(request: Request, who: Admin) -> Response:
    runs = api.list_runs(config(request).db)
    return page(request, "admin_index.html", {"runs": runs})


# -- people ---------------------------------------------------------------------------------------

def _with_passwords(request: Request) -> list[dict[str, Any]]:
    from sopengine.store import Store
    from sopengine.store import server as sql
    from sopengine.store.people import all_people

    with Store(config(request).db, readonly=True) as store:
        has = set(sql.has_password(store.conn))
        return [{**person, "password": p["id"] in has}
                for p, person in zip(all_people(store.conn), people.list_people(store))]


@router.get("/people", response_class=HTMLResponse)
def people_list(request: Request, who: Admin) -> Response:
    return page(request, "admin_people.html", {"people": _with_passwords(request),
                                                "roles": people.known_roles(_definitions(request))})


@router.get("/people/new", response_class=HTMLResponse)
def person_new(request: Request, who: Admin) -> Response:
    return page(request, "admin_person.html", {"person": None, "roles": people.known_roles(_definitions(request)),
                                               "levels": people.ACCESS_LEVELS})


@router.post("/people")
def person_add(request: Request, who: Admin, name: Text = "", logins: Text = "", roles: Texts = None,
               access: Text = "staff") -> Response:
    with who.acting():
        added = people.add_person(config(request).db, name, logins=_split(logins), roles=roles or [], access=access,
                                  definitions=_definitions(request))
    flash(request, _("Added {person} ({access}).").format(person=added["name"], access=added["access"]))
    for warning in added["warnings"]:
        flash(request, str(warning), "warning")
    return back(request, "/admin/people/edit?name=" + quote(added["name"]))


@router.get("/people/edit", response_class=HTMLResponse)
def person_edit_form(request: Request, who: Admin, name: str) -> Response:
    person = people.get_person(config(request).db, name)
    known = people.known_roles(_definitions(request))
    roles = {**known, **{r: r for r in person["roles"] if r not in known}}
    password = next((p["password"] for p in _with_passwords(request) if p["name"] == person["name"]), False)
    return page(request, "admin_person.html", {"person": person, "roles": roles, "levels": people.ACCESS_LEVELS,
                                               "password": password})


@router.post("/people/edit")
def person_edit(request: Request, who: Admin, name: Text, rename: Text = "", logins: Text = "",
                roles: Texts = None, access: Text = "") -> Response:
    db = config(request).db
    person = people.get_person(db, name)
    wanted_logins = list(dict.fromkeys(_split(logins)))
    wanted_roles = list(dict.fromkeys(roles or []))
    changes: dict[str, Any] = {
        "add_logins": [x for x in wanted_logins if x not in person["logins"]],
        "remove_logins": [x for x in person["logins"] if x not in wanted_logins],
        "add_roles": [r for r in wanted_roles if r not in person["roles"]],
        "remove_roles": [r for r in person["roles"] if r not in wanted_roles],
        "access": access if access and access != person["access"] else None,
        "rename": rename.strip() if rename.strip() and rename.strip() != person["name"] else None,
    }
    if not any(changes.values()):
        flash(request, _("Nothing changed for {person}.").format(person=person["name"]), "info")
        return back(request, "/admin/people/edit?name=" + quote(person["name"]))
    with who.acting():
        changed = people.edit_person(db, person["name"], definitions=_definitions(request), **changes)
    flash(request, _("Saved the changes to {person}.").format(person=changed["name"]))
    for warning in changed["warnings"]:
        flash(request, str(warning), "warning")
    return back(request, "/admin/people/edit?name=" + quote(changed["name"]))


@router.post("/people/disable")
def person_disable(request: Request, who: Admin, name: Text) -> Response:
    with who.acting():
        done = people.disable_person(config(request).db, name)
    flash(request, _("{person} is disabled: they can no longer sign in or act.").format(person=done["name"]))
    return back(request, "/admin/people")


@router.post("/people/enable")
def person_enable(request: Request, who: Admin, name: Text) -> Response:
    with who.acting():
        done = people.enable_person(config(request).db, name)
    flash(request, _("{person} is enabled again.").format(person=done["name"]))
    return back(request, "/admin/people")


@router.post("/people/password")
def person_password(request: Request, who: Admin, name: Text, password: Text = "", confirm: Text = "") -> Response:
    if password != confirm:
        raise InputError(_("the two passwords differ; type the same password in both fields"))
    with who.acting():
        done = people.set_password(config(request).db, name, password)
    flash(request, _("Set a new password for {person}; their other sessions and tokens have ended.").format(person=done["name"]))
    return back(request, "/admin/people/edit?name=" + quote(done["name"]))


# -- assignments of a run ----------------------------------------------------------------------------

@router.get("/runs/{run_id}/assignments", response_class=HTMLResponse)
def assignments(request: Request, who: Admin, run_id: str) -> Response:
    db = config(request).db
    status = api.run_status(db, run_id, definitions=_definitions(request))
    definition = api.run_definition(db, run_id)
    held: dict[str, list[dict[str, Any]]] = {}
    for a in status["assignments"]:
        held.setdefault(a["role"], []).append(a)
    roles = [{"id": a.id, "name": a.name, "kind": str(getattr(a.kind, "value", a.kind)), "assigned": held.get(a.id, [])}
             for a in definition.actors]
    registered = [p for p in people.list_people(db) if not p["disabled"] and p["access"] != "auditor"]
    return page(request, "admin_assignments.html", {"run": status, "roles": roles, "people": registered})


@router.post("/runs/{run_id}/assignments")
def assign(request: Request, who: Admin, run_id: str, role: Text, person: Text, acting: Text = "") -> Response:
    db = config(request).db
    registered = people.get_person(db, person)  # only a registered person is assigned
    with who.acting():
        done = api.assign(db, run_id, role, registered["name"], acting=bool(acting))
    if done["acting"]:
        flash(request, _("Assigned {person} to {role} (acting, Plt./Plh.).").format(person=done["person"], role=done["role"]))
    else:
        flash(request, _("Assigned {person} to {role}.").format(person=done["person"], role=done["role"]))
    return back(request, f"/admin/runs/{quote(run_id)}/assignments")


@router.post("/runs/{run_id}/assignments/remove")
def unassign(request: Request, who: Admin, run_id: str, role: Text, person: Text) -> Response:
    with who.acting():
        done = api.assign(config(request).db, run_id, role, person, remove=True)
    flash(request, _("Removed {person} from {role}.").format(person=done["person"], role=done["role"]))
    return back(request, f"/admin/runs/{quote(run_id)}/assignments")


# -- definitions ------------------------------------------------------------------------------------

@router.get("/definitions", response_class=HTMLResponse)
def definitions_list(request: Request, who: Admin) -> Response:
    return page(request, "admin_definitions.html", {"definitions": api.list_definitions(_definitions(request)),
                                                    "folder": _definitions(request)})


def _source(request: Request, definition_id: str) -> tuple[str, str]:
    """The file name and text of the definition *definition_id* as this server finds it."""
    from sopengine.definition import catalog

    if not _ID.fullmatch(definition_id):
        raise InputError(_("{id!r} is not a definition id").format(id=definition_id))
    found = catalog.find(definition_id, _definitions(request))
    return found.path.name, found.path.read_text(encoding="utf-8")


@router.get("/definitions/{definition_id}", response_class=HTMLResponse)
def definition_view(request: Request, who: Admin, definition_id: str) -> Response:
    name, text = _source(request, definition_id)
    return page(request, "admin_definition.html", {"name": name, "text": text, "id": definition_id,
                                                   "folder": _definitions(request)})


@router.get("/definition-new", response_class=HTMLResponse)
def definition_new(request: Request, who: Admin) -> Response:
    return page(request, "admin_definition.html", {"name": "", "text": "", "id": None, "folder": _definitions(request)})


async def _uploaded(upload: UploadFile | None) -> tuple[str, str] | None:
    """The name and UTF-8 text of an uploaded file, if one was sent."""
    if upload is None or not upload.filename:
        return None
    data = await upload.read()
    try:
        return Path(upload.filename).name, data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(_("{file} is not UTF-8 text; save it as UTF-8 and upload it again").format(file=upload.filename)) from None


@router.post("/definitions")
async def definition_publish(request: Request, who: Admin, name: Text = "", text: Text = "", action: Text = "check",
                             upload: Upload = None) -> Response:
    # the form is read here; checking, writing and the database wait in a worker thread, never on the event loop
    sent = await _uploaded(upload)
    return await run_in_threadpool(_definition_publish, request, who, name, text, action, sent)


def _definition_publish(request: Request, who: Any, name: str, text: str, action: str, sent: tuple[str, str] | None) -> Response:
    if sent is not None:
        name = name.strip() or sent[0]
        text = sent[1]
    text = text.replace("\r\n", "\n")
    folder = _definitions(request)
    context: dict[str, Any] = {"name": name, "text": text, "id": None, "folder": folder}
    try:
        checked = publish.check_definition(text, name, folder)
    except InputError as exc:
        return page(request, "admin_definition.html", {**context, "problems": [str(exc)]}, status_code=400)
    lines = publish.problem_lines(checked)
    if not checked.ok:
        return page(request, "admin_definition.html", {**context, "problems": lines}, status_code=400)
    if action != "publish":
        return page(request, "admin_definition.html", {**context, "problems": lines, "valid": True})
    try:
        with who.acting():
            done = publish.publish_definition(config(request).db, config(request).definitions, name, text)
    except DefinitionInvalid as exc:  # changed between the check and now (a handover's target)
        problems = getattr(exc, "problems", None) or [str(exc)]
        return page(request, "admin_definition.html", {**context, "problems": [str(p) for p in problems]}, status_code=400)
    flash(request, _("Published {file}: new runs of {id} follow it; runs already started keep the text they started with.").format(
        file=done["file"], id=done["id"]))
    return back(request, f"/admin/definitions/{quote(done['id'])}")


# -- the calendar ---------------------------------------------------------------------------------------

def _calendar_context(request: Request) -> dict[str, Any]:
    from sopengine.cli.time import calendar_view

    folder = _definitions(request)
    editable = publish.calendar_file(folder)
    view = calendar_view(None, folder, None, None)
    return {"view": view, "editable": editable is not None,
            "text": editable.read_text(encoding="utf-8") if editable is not None else ""}


@router.get("/calendar", response_class=HTMLResponse)
def calendar(request: Request, who: Admin) -> Response:
    return page(request, "admin_calendar.html", _calendar_context(request))


@router.post("/calendar")
async def calendar_publish(request: Request, who: Admin, text: Text = "", action: Text = "check",
                           upload: Upload = None) -> Response:
    sent = await _uploaded(upload)
    return await run_in_threadpool(_calendar_publish, request, who, text, action, sent)


def _calendar_publish(request: Request, who: Any, text: str, action: str, sent: tuple[str, str] | None) -> Response:
    if sent is not None:
        text = sent[1]
    text = text.replace("\r\n", "\n")
    context = {**_calendar_context(request), "text": text}
    if not context["editable"]:
        raise InputError(_("the calendar in force is not calendar.yaml in this server's definitions folder; it is shown"
                           " read-only"))
    problems = publish.check_calendar(text)
    if problems:
        return page(request, "admin_calendar.html", {**context, "problems": problems}, status_code=400)
    if action != "publish":
        return page(request, "admin_calendar.html", {**context, "valid": True})
    with who.acting():
        publish.publish_calendar(config(request).db, config(request).definitions, text)
    flash(request, _("Published the calendar: new runs use it; runs already started keep the calendar they started with."))
    return back(request, "/admin/calendar")


# -- starting a run ----------------------------------------------------------------------------------------

def _start_form(request: Request, definition_id: str) -> dict[str, Any]:
    """What the start form asks for *definition_id*: whether it is periodic, its case fields, its tables."""
    from sopengine.definition.loader import compile_definition
    from sopengine.runs import period_facts_read

    definition, text, _path = api.load(definition_id, _definitions(request))
    compiled = compile_definition(definition, text)
    tables = compiled.get("tables") or {}
    return {
        "id": compiled["id"], "title": compiled["title"], "periodic": bool(period_facts_read(compiled)),
        "case": compiled.get("case") or {},
        "tables": [(t, tables[t].get("title") or t) for t in compiled.get("table_order") or []] if len(tables) > 1 else [],
    }


@router.get("/start", response_class=HTMLResponse)
def start_form(request: Request, who: Admin, definition: str = "") -> Response:
    valid = [d for d in api.list_definitions(_definitions(request)) if d["valid"]]
    chosen = _start_form(request, definition) if definition else None
    return page(request, "admin_start.html", {"definitions": valid, "chosen": chosen})


@router.post("/start")
async def start(request: Request, who: Admin) -> Response:
    form = await request.form()
    return await run_in_threadpool(_start, request, who, form)


def _start(request: Request, who: Any, form: Any) -> Response:
    definition = str(form.get("definition") or "")
    if not definition:
        raise InputError(_("choose the SOP to start"))
    declared = _start_form(request, definition)["case"]
    case = {name: str(form.get(f"case.{name}")).strip() for name in declared
            if str(form.get(f"case.{name}") or "").strip()}
    period = str(form.get("period") or "").strip() or None
    table = str(form.get("table") or "").strip() or None
    with who.acting():
        result = api.start_run(definition, db=config(request).db, definitions=_definitions(request), period=period,
                               case=case, table=table)
    if result.get("period"):
        flash(request, _("Started run {run} of {definition} for {period}.").format(
            run=result["run_id"], definition=result["definition"], period=result["period"]))
    else:
        flash(request, _("Started run {run} of {definition}.").format(run=result["run_id"], definition=result["definition"]))
    return back(request, f"/runs/{quote(result['run_id'])}")
