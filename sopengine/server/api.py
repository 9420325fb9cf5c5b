"""The office server's JSON API: the command line's ``--json`` shapes over HTTP.

Each route calls the library function the matching CLI command calls, with the same
arguments, and answers the same JSON (``sopengine status RUN --json`` is ``GET
/api/runs/{id}``). Reads take any signed-in person; writes take staff or admin and run inside
``who.acting()``, so the events record the signed-in person with ``via: api`` and ``auth:
token`` — a body never names who acts. Completing or deciding first resolves ``step`` to the
task open now (:func:`sopengine.api.open_task`) and pins the write to it: a repeated or
concurrent call is refused (409), never acting on the next step.

A library error becomes ``{"error": {"code", "message"}}`` with its status
(:func:`sopengine.server.app.status_of`); a body that is not what the route takes is 400.
"""

from __future__ import annotations

import json
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from sopengine import api
from sopengine.server.app import config, reader, staff, who
from sopengine.server.auth import Who

HISTORY_PAGE = 100
"""Entries ``GET /api/history`` answers when no ``limit`` is given."""
NEXT_OFFSET = "X-Next-Offset"
"""The header of a history page that is not the last: the ``offset`` of the next page."""


class CliJSON(JSONResponse):
    """JSON exactly as the command line prints it: values JSON has no type for become their text."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=str).encode("utf-8")


# -- the documented shapes ---------------------------------------------------------------------------
# The routes answer the library's dicts as they are (CliJSON); these models describe them in
# the OpenAPI document. Every shape may carry more fields than named here.

class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable word for the kind of error, e.g. step_not_open, not_signed_in.")
    message: str = Field(description="What went wrong and what to do, in the reader's language.")


class ErrorResponse(BaseModel):
    """Every refusal of the API."""

    error: ErrorDetail


class OpenStep(_Open):
    step: str | None = None
    no: str | None = None
    kind: str | None = None
    actor: str | None = None
    actor_name: str | None = None
    state: str | None = None
    due_at: str | None = None
    late_by: int | None = None
    overdue: bool | None = None


class _Run(_Open):
    run_id: str
    definition: str
    title: str
    period: str | None = None
    status: str
    started_at: str
    finished_at: str | None = None
    open_steps: list[OpenStep]


class RunSummary(_Run):
    """A run as ``sopengine status --json`` lists it."""

    due_at: str | None = None


class RunStatus(_Run):
    """One run as ``sopengine status RUN --json`` shows it: its state, open steps and timeline."""

    started_by: str
    timeline: list[dict[str, Any]]
    assignments: list[dict[str, Any]]


class Completed(_Open):
    """As ``sopengine complete --json``."""

    run_id: str
    status: str
    step: str
    completed_by: str
    at: str
    opened: list[str]


class Decided(_Open):
    """As ``sopengine decide --json``."""

    run_id: str
    status: str
    step: str
    outcome: str
    decided_by: str
    at: str
    opened: list[str]


class InboxRow(OpenStep):
    """An open step as ``sopengine inbox --json`` lists it."""

    run_id: str
    definition: str
    period: str | None = None
    kegiatan: str | None = None
    opened_at: str | None = None


class OverdueRow(_Open):
    """A late step (``kind: step``) or a run past its deadline (``kind: deadline``), as ``sopengine overdue --json``."""

    kind: str
    run_id: str
    late_by: int


class HistoryEntry(_Open):
    """An event as ``sopengine history --json`` lists it (UTC times)."""

    seq: int
    run_id: str
    at: str
    recorded_at: str
    person: str
    kind: str
    action: str
    payload: dict[str, Any]
    hash: str


class StartRun(BaseModel):
    """``POST /api/runs``: the SOP to run, and as ``sopengine run`` takes them, its period and case data."""

    model_config = ConfigDict(extra="forbid")

    definition: str = Field(min_length=1, description="The definition's id, e.g. pengumpulan-data.")
    period: str | None = Field(None, description="2026-10, 2026-Q3, 2026-S2 or 2026; a periodic SOP defaults to this month.")
    case: dict[str, Any] | None = Field(None, description="Case data that automatic decisions read.")


class CompleteStep(BaseModel):
    """``POST /api/runs/{id}/complete``: the open step to complete."""

    model_config = ConfigDict(extra="forbid")

    step: str = Field(min_length=1, description="The step's id, or its row number when that row has one open step.")
    note: str | None = Field(None, description="A remark kept with the step.")


class Decide(BaseModel):
    """``POST /api/runs/{id}/decide``: the open decision and its outcome."""

    model_config = ConfigDict(extra="forbid")

    step: str = Field(min_length=1, description="The decision's id, or its row number when that row has one open step.")
    outcome: str = Field(min_length=1, description="One of the decision's outcomes (Ya/Tidak or the SOP's own words).")
    note: str | None = Field(None, description="A remark kept with the decision.")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The refusals a route documents; ``default`` covers the rest (413, 429, 503, ...), same shape."""
    said = {
        400: "The request is not what this address takes, or the library refused its values.",
        401: "Not signed in, or the token is unknown, expired or revoked (password changed).",
        403: "The signed-in person may not do this (auditor access, or not in the step's role).",
        404: "No such run or definition.",
        409: "The step is not open now (already done, or another change came first), or the run is closed.",
    }
    found: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse, "description": said[code]} for code in codes}
    found["default"] = {"model": ErrorResponse, "description": "Any other refusal, in the same shape."}
    return found


bearer = HTTPBearer(auto_error=False, scheme_name="token", description="A token from POST /api/token.")
"""Declares the bearer token in the OpenAPI document; :func:`~sopengine.server.app.who` checks it."""
# Every route needs a signed-in person (any access level: everyone may read what the command
# line lets them read); a write needs staff or admin, and the library checks the step's role.
router = APIRouter(prefix="/api", tags=["api"], default_response_class=CliJSON,
                   dependencies=[Depends(who), Security(bearer)])
Reader = Annotated[Who, Depends(who)]
Writer = Annotated[Who, Depends(staff)]


def _definitions(request: Request) -> str | None:
    found = config(request).definitions
    return None if found is None else str(found)


# -- runs ------------------------------------------------------------------------------------------

@router.get("/runs", response_model=list[RunSummary], responses=_errors(400, 401),
            summary="The active runs (all with ?all=true), as 'sopengine status --json'")
def list_runs(
    request: Request,
    include_closed: bool = Query(False, alias="all", description="Include completed and cancelled runs."),
    definition: str | None = Query(None, description="Only the runs of this definition (its id)."),
) -> CliJSON:
    runs = api.list_runs(config(request).db, include_closed=include_closed)
    if definition:
        runs = [r for r in runs if r["definition"] == definition]
    return CliJSON(runs)


@router.get("/runs/{run_id}", response_model=RunStatus, responses=_errors(401, 404),
            summary="One run's status and timeline, as 'sopengine status RUN --json'")
def run_status(request: Request, run_id: str) -> CliJSON:
    return CliJSON(api.run_status(config(request).db, run_id, definitions=_definitions(request)))


@router.post("/runs", status_code=201, response_model=RunStatus,
             responses={**_errors(400, 401, 403, 404, 409), 201: {"headers": {"Location": {
                 "description": "The run's address: /api/runs/{id}.", "schema": {"type": "string"}}}}},
             summary="Start a run; answers its status, as 'sopengine status RUN --json'")
def start_run(request: Request, body: StartRun, person: Writer) -> CliJSON:
    cfg = config(request)
    with person.acting():
        started = api.start_run(body.definition, db=cfg.db, definitions=_definitions(request), period=body.period,
                                case=body.case or {})
    status = api.run_status(cfg.db, started["run_id"], definitions=_definitions(request))
    return CliJSON(status, status_code=201, headers={"Location": f"/api/runs/{started['run_id']}"})


@router.post("/runs/{run_id}/complete", response_model=Completed, responses=_errors(400, 401, 403, 404, 409),
             summary="Complete an open step, as 'sopengine complete RUN --step STEP --json'")
def complete(request: Request, run_id: str, body: CompleteStep, person: Writer) -> CliJSON:
    db = config(request).db
    task = api.open_task(db, run_id, body.step)["task"]
    with person.acting():
        return CliJSON(api.complete(db, run_id, step=body.step, task=task, note=body.note))


@router.post("/runs/{run_id}/decide", response_model=Decided, responses=_errors(400, 401, 403, 404, 409),
             summary="Take an open decision's outcome, as 'sopengine decide RUN OUTCOME --step STEP --json'")
def decide(request: Request, run_id: str, body: Decide, person: Writer) -> CliJSON:
    db = config(request).db
    task = api.open_task(db, run_id, body.step)["task"]
    with person.acting():
        return CliJSON(api.decide(db, run_id, body.outcome, step=body.step, task=task, note=body.note))


# -- work waiting, late work, the history ----------------------------------------------------------------

@router.get("/inbox", response_model=list[InboxRow], responses=_errors(400, 401),
            summary="Open steps waiting for the signed-in person (or a role), as 'sopengine inbox --json'")
def inbox(
    request: Request,
    person: Reader,
    role: str | None = Query(None, description="The steps waiting for this role (its id or its name) instead."),
) -> CliJSON:
    db = config(request).db
    if role:
        return CliJSON(api.inbox(db, actor=role))
    return CliJSON(api.inbox(db, person=person.name))


@router.get("/overdue", response_model=list[OverdueRow], responses=_errors(400, 401),
            summary="Open steps past due and runs past their deadline, most late first, as 'sopengine overdue --json'")
def overdue(
    request: Request,
    actor: str | None = Query(None, description="Only steps of this role (its id or its name)."),
    person_name: str | None = Query(None, alias="person", description="Only steps of roles this person holds in the run."),
    limit: int | None = Query(None, ge=1, description="The N most overdue only."),
) -> CliJSON:
    return CliJSON(api.overdue(config(request).db, actor=actor, person=person_name, limit=limit))


@router.get("/history", response_model=list[HistoryEntry], dependencies=[Depends(reader)],
            responses={**_errors(400, 401), 200: {"headers": {NEXT_OFFSET: {
                "description": "Sent when more entries match: the offset of the next page.", "schema": {"type": "integer"}}}}},
            summary="Recorded events, oldest first, as 'sopengine history --json', a page at a time (auditors and admins)")
def history(
    request: Request,
    run: str | None = Query(None, description="Only this run."),
    person_name: str | None = Query(None, alias="person", description="Only what this person recorded (any case)."),
    actor: str | None = Query(None, description="Only steps of this role (id or name)."),
    step: str | None = Query(None, description="Only this step (id or number)."),
    kind: str | None = Query(None, description="Only this kind of event (run_started, step_completed, decided, ...)."),
    since: str | None = Query(None, description="From this date or time (WIB unless an offset is given)."),
    until: str | None = Query(None, description="Up to this time, or the end of this date."),
    recorded_since: str | None = Query(None, description="Only what was written down from this date or time on."),
    recorded_until: str | None = Query(None, description="Only what was written down up to this time, or the end of this date."),
    limit: int = Query(HISTORY_PAGE, ge=0, description="At most N entries (0 = all, as the command line's --limit 0)."),
    offset: int = Query(0, ge=0, description="Skip this many matching entries first: the X-Next-Offset of the page before."),
) -> CliJSON:
    from sopengine.audit import history_json, iter_history

    entries = iter_history(config(request).db, run=run, person=person_name, actor=actor, step=step, kind=kind, since=since,
                           until=until, recorded_since=recorded_since, recorded_until=recorded_until,
                           limit=offset + limit + 1 if limit else None)
    try:
        page = list(islice(entries, offset, offset + limit + 1 if limit else None))
    finally:
        entries.close()
    more = bool(limit) and len(page) > limit
    shown = page[:limit] if limit else page
    return CliJSON([history_json(e) for e in shown], headers={NEXT_OFFSET: str(offset + limit)} if more else None)
