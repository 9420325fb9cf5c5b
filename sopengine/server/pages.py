"""The staff pages of the office server: the inbox, the runs, a run's page, acting on its steps.

Reads call the library as the command line does (``inbox``, ``list_runs``, ``run_status``,
``open_steps``, ``render``); writes (``complete``, ``decide``, ``reopen``) run inside
``who.acting()``, pinned to the open task the form was drawn for (its hidden ``task``
field), so a form sent twice is refused (409) and never completes the next step. The
library decides who may act; these pages only choose which forms to offer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from sopengine import api, clock
from sopengine.errors import InputError, SopError
from sopengine.i18n import _
from sopengine.server.app import back, config, flash, page, staff, who
from sopengine.server.auth import Who

router = APIRouter(include_in_schema=False)

Reader = Annotated[Who, Depends(who)]
"""Anyone signed in: the pages that read."""
Actor = Annotated[Who, Depends(staff)]
"""Staff or an admin: the forms that write."""

OUTPUT_FIELD = "output:"
"""A file field of a complete or decide form: ``output:`` and the output's name as the SOP writes it."""


# -- how values read on a page -------------------------------------------------------------------

def when(text: str | None, tz: str | None) -> str:
    """A stored time in office time (the run's zone), as the command line shows it: ``2026-12-01 09:15 WIB``."""
    return clock.local(text, tz) if text else "-"


def late(seconds: int | None) -> str:
    return _("late by {time}").format(time=clock.format_seconds(seconds, for_people=True)) if seconds else ""


def size_text(size: int | None) -> str:
    """A document's size for people: bytes, KiB or MiB."""
    if size is None:
        return "-"
    if size < 1024:
        return _("{n} bytes").format(n=size)
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def _state_word(value: str | None) -> str:
    from sopengine.cli.common import state_word

    return state_word(value)


def _step_entry(view: dict[str, Any], tz: str) -> dict[str, Any]:
    """An open or past step as a page shows it (the SOP's number and kegiatan as written)."""
    return {
        **view,
        "opened": when(view.get("opened_at"), tz),
        "due": when(view.get("due_at"), tz) if view.get("due_at") else "",
        "closed": when(view.get("closed_at"), tz) if view.get("closed_at") else "",
        "late": late(view.get("late_by")),
        "state_word": _state_word(view.get("state")),
    }


# -- the inbox -----------------------------------------------------------------------------------

def inbox_rows(db: Any, me: Who) -> list[dict[str, Any]]:
    """The person's open steps (``sopengine inbox --person``: the roles assigned to them in each
    run, and the roles the register gives them in runs that assign that role to nobody);
    overdue first, then oldest first."""
    rows = api.inbox(db, person=me.name)
    rows.sort(key=lambda r: not r["overdue"])  # stable: overdue first, each group oldest first
    return [_step_entry(r, r["timezone"]) for r in rows]


@router.get("/", response_class=HTMLResponse)
def inbox_page(request: Request, me: Reader) -> Response:
    if me.access == "auditor":
        return page(request, "inbox.html", {"auditor": True, "rows": []})
    return page(request, "inbox.html", {"auditor": False, "rows": inbox_rows(config(request).db, me)})


# -- the runs ------------------------------------------------------------------------------------

@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, me: Reader, every: Annotated[bool, Query(alias="all")] = False) -> Response:
    """The active runs; with ``?all=true`` every run, completed and cancelled ones too."""
    runs = api.list_runs(config(request).db, include_closed=every)
    rows = [{
        **r,
        "started": when(r["started_at"], r["timezone"]),
        "deadline": when(r["due_at"], r["timezone"]) if r["due_at"] else "",
        "status_word": _state_word(r["status"]),
    } for r in runs]
    return page(request, "runs.html", {"rows": rows, "all": every})


# -- one run -------------------------------------------------------------------------------------

def _may_act(me: Who, step: dict[str, Any], assignments: list[dict[str, Any]], actors: dict[str, Any]) -> bool:
    """Whether to offer *me* the forms of an open step (the library checks again when it is sent)."""
    from sopengine.identity import name_key

    if me.access == "auditor":
        return False
    role = step["actor"]
    if role is None or actors.get(role, {}).get("kind") == "external":
        return True
    holders = [a for a in assignments if a["role"] == role]
    mine = any(name_key(a["person"]) == name_key(me.name) for a in holders)
    if me.access == "admin":
        return not holders or mine
    acting = any(a["acting"] and name_key(a["person"]) == name_key(me.name) for a in holders)
    return (role in (me.person.get("roles") or []) or acting) and (not holders or mine)


def _may_return(me: Who, assignments: list[dict[str, Any]], actors: dict[str, Any]) -> bool:
    """Whether to offer *me* the return form: an admin, or staff holding one of the run's roles."""
    from sopengine.identity import name_key

    if me.access == "admin":
        return True
    if me.access != "staff":
        return False
    return bool(set(me.person.get("roles") or []) & set(actors)) or any(
        name_key(a["person"]) == name_key(me.name) for a in assignments)


def _compiled(db: Any, run_id: str) -> dict[str, Any]:
    from sopengine.store import Store

    with Store(db, readonly=True) as store:
        return store.compiled(store.run(run_id)["definition_hash"])


def _forms(db: Any, run_id: str, status: dict[str, Any], me: Who) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The complete and decide forms *me* is offered, and the steps a return may go back to."""
    compiled = _compiled(db, run_id)
    actors = compiled.get("actors") or {}
    forms: list[dict[str, Any]] = []
    if status["status"] == "active" and me.access != "auditor":
        try:
            open_now = api.open_steps(db, run_id)
        except SopError:  # closed meanwhile, or nothing open a person finishes
            open_now = []
        for s in open_now:
            if _may_act(me, s, status["assignments"], actors):
                spec = compiled["steps"].get(s["step"], {})
                forms.append({**s, "outputs": spec.get("outputs") or []})
    targets: list[dict[str, Any]] = []
    if status["status"] != "cancelled" and _may_return(me, status["assignments"], actors):
        for t in status["timeline"]:
            if t["state"] == "done" and not t.get("automatic") and t["step"] not in {x["step"] for x in targets}:
                targets.append({"step": t["step"], "no": t["no"], "kegiatan": t["kegiatan"]})
    return forms, targets


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, me: Reader) -> Response:
    from sopengine.status import next_for_people, note_for_people

    cfg = config(request)
    status = api.run_status(cfg.db, run_id, definitions=cfg.definitions)
    tz = status["timezone"]
    timeline = []
    for t in status["timeline"]:
        entry = _step_entry(t, tz)
        entry["note_text"] = note_for_people(t) or ""
        entry["docs"] = [{**d, "short": d["sha256"][:12], "size_text": size_text(d.get("size"))} for d in t["documents"]]
        timeline.append(entry)
    forms, targets = _forms(cfg.db, run_id, status, me)
    return page(request, "run.html", {
        "run": status,
        "started": when(status["started_at"], tz),
        "finished": when(status["finished_at"], tz) if status["finished_at"] else "",
        "deadline": when(status["due_at"], tz) if status["due_at"] else "",
        "deadline_late": late(status["deadline_late_by"]),
        "status_word": _state_word(status["status"]),
        "timeline": timeline,
        "open_steps": [_step_entry(s, tz) for s in status["open_steps"]],
        "next": next_for_people(status),
        "forms": forms,
        "targets": targets,
    })


@router.get("/runs/{run_id}/document", response_class=HTMLResponse)
def run_document(request: Request, run_id: str, me: Reader) -> Response:
    """The SOP document marked with the run's progress (``sopengine render --run RUN``)."""
    cfg = config(request)
    text = api.render(None, fmt="html", run=run_id, db=cfg.db, definitions=cfg.definitions)
    # the document is self-contained; it is shown framed by the run's page of this same server
    return HTMLResponse(text, headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "script-src 'none'"})


# -- acting on steps -----------------------------------------------------------------------------

def bare_name(filename: str | None) -> str:
    """An uploaded file's name if it is a bare file name; else :class:`InputError` (nothing is written)."""
    name = filename or ""
    bad = (not name.strip() or "/" in name or "\\" in name or ".." in name
           or any(ord(c) < 32 or ord(c) == 127 for c in name))
    if bad:
        raise InputError(_("the file name {name!r} is not a bare file name (no folders, '..' or control characters);"
                           " rename the file and send it again").format(name=name))
    return name


async def _outputs(form: Any) -> list[tuple[str, Any]]:
    """The documents of a form: each ``output:NAME`` file field with a file in it, checked for its name."""
    from sopengine.documents import Upload

    out: list[tuple[str, Any]] = []
    for key, value in form.multi_items():
        if not key.startswith(OUTPUT_FIELD) or not isinstance(value, UploadFile):
            continue
        if not value.filename:
            # an empty file input (an optional output left out) sends no name and no bytes
            await value.seek(0)
            if not await value.read(1):
                continue
        out.append((key[len(OUTPUT_FIELD):], Upload(bare_name(value.filename), value.file)))
    return out


def _task_id(form: Any) -> int:
    raw = str(form.get("task") or "")
    if not raw.isdigit():
        raise InputError(_("the form names no open task; reload the run's page and send it again"))
    return int(raw)


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def _step_label(run_id: str, step: str, db: Any) -> str:
    spec = _compiled(db, run_id)["steps"].get(step, {})
    return f"{spec['no']}. {spec.get('kegiatan') or step}" if spec.get("no") else str(spec.get("kegiatan") or step)


@router.post("/runs/{run_id}/complete")
async def complete_step(request: Request, run_id: str, me: Actor) -> Response:
    cfg = config(request)
    form = await request.form()
    task = _task_id(form)
    step = _text(form, "step")
    outputs = await _outputs(form)
    note = _text(form, "note")

    def write() -> dict[str, Any]:
        with me.acting():
            return api.complete(cfg.db, run_id, step=step, task=task, outputs=outputs, note=note)

    result = await run_in_threadpool(write)
    flash(request, _("Completed {step}.").format(step=_step_label(run_id, result["step"], cfg.db)))
    return back(request, f"/runs/{run_id}")


@router.post("/runs/{run_id}/decide")
async def decide_step(request: Request, run_id: str, me: Actor) -> Response:
    cfg = config(request)
    form = await request.form()
    task = _task_id(form)
    step = _text(form, "step")
    outcome = _text(form, "outcome")
    if outcome is None:
        raise InputError(_("choose an outcome: press one of the decision's buttons"))
    outputs = await _outputs(form)
    note = _text(form, "note")

    def write() -> dict[str, Any]:
        with me.acting():
            return api.decide(cfg.db, run_id, outcome, step=step, task=task, outputs=outputs, note=note)

    result = await run_in_threadpool(write)
    flash(request, _("Decided {outcome} at {step}.").format(
        outcome=result["outcome"], step=_step_label(run_id, result["step"], cfg.db)))
    return back(request, f"/runs/{run_id}")


@router.post("/runs/{run_id}/return")
async def return_step(request: Request, run_id: str, me: Actor) -> Response:
    cfg = config(request)
    form = await request.form()
    step = _text(form, "step")
    reason = _text(form, "reason")
    if step is None:
        raise InputError(_("choose the step to send the run back to"))
    if reason is None:
        raise InputError(_("give the reason for sending the run back"))

    def write() -> dict[str, Any]:
        with me.acting():
            return api.reopen(cfg.db, run_id, step, reason=reason)

    result = await run_in_threadpool(write)
    flash(request, _("Run sent back to {step}.").format(step=_step_label(run_id, result["step"], cfg.db)))
    return back(request, f"/runs/{run_id}")
