"""The auditor's pages of the office server: the history, verify, evidence packs, the time
reports and the access log, for auditors and admins (:func:`~sopengine.server.app.reader`).

Everything here reads: no route writes to the history. Each page calls the library function
the matching command calls (``history``, ``audit verify``, ``audit pack``, ``report``,
``report --monitoring``), so that a page, a download and the command agree; the history CSV
is the bytes ``sopengine history --format csv`` writes for the same filters.
"""

from __future__ import annotations

import contextvars
import io
import itertools
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from starlette.background import BackgroundTask

from sopengine import clock, errors
from sopengine.i18n import N_, _
from sopengine.server import auth
from sopengine.server.app import config, page, reader, status_of

router = APIRouter(prefix="/audit", include_in_schema=False)

Reader = Annotated[auth.Who, Depends(reader)]
"""An auditor or an admin: every route here needs one (staff are refused with 403)."""

HISTORY_FILTERS = ("run", "person", "actor", "step", "kind", "since", "until", "recorded_since", "recorded_until")
"""The filters of ``sopengine history`` (``--recorded-since`` as ``recorded_since``), as query parameters."""

PAGE_SIZE = 100
"""History entries a page shows unless ``limit`` says otherwise."""

MAX_PAGE = 1000
"""The most entries one page shows (the command's table shows as many by default)."""

ACCESS_LIMIT = 200
"""Access log entries the page shows unless ``limit`` says otherwise (at most :data:`MAX_PAGE`)."""

CSV_CHUNK = 64 * 1024
"""Bytes of the history CSV sent at a time."""

CSV_STALL = 120.0
"""Seconds the CSV writer waits for a download that reads nothing before it stops."""


def _filters(request: Request) -> dict[str, str | None]:
    """The history filters of the query string; an empty field is no filter."""
    query = request.query_params
    return {name: (query.get(name) or "").strip() or None for name in HISTORY_FILTERS}


def _number(text: str | None, default: int, low: int, high: int) -> int:
    """A whole number from the query string, kept within ``low..high``; *default* when not one."""
    try:
        value = int(text or "")
    except ValueError:
        return default
    return max(low, min(high, value))


def _query(values: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


# -- the history ------------------------------------------------------------------------------------

def _row(entry: dict[str, Any]) -> dict[str, Any]:
    """A history entry as the page shows it: office time, words in the reader's language."""
    from sopengine import audit

    payload = entry["payload"]
    step = entry["step"] or ""
    if entry["step_no"] is not None:
        step = f"{entry['step_no']}. {entry['kegiatan'] or step}"
    return {
        "seq": entry["seq"],
        "when": audit.local_time(entry["at"], entry["timezone"]),
        "recorded": audit.local_time(entry["recorded_at"], entry["timezone"]),
        "backdated": entry["backdated"],
        "postdated": entry["postdated"],
        "run": entry["run_id"],
        "definition": entry["definition"] or "",
        "period": entry["period"] or "",
        "person": entry["person"],
        "os_user": entry["os_user"],
        "via": payload.get("via") or "",
        "auth": payload.get("auth") or "",
        "action": audit.shown(entry["action"]),
        "outcome": entry["outcome"] or "",
        "step": step,
        "actor": entry["actor_name"] or entry["actor"] or "",
        "documents": [{"name": d["name"] or "", "path": d["path"] or ""} for d in entry["documents"]],
        "note": audit.shown(entry["note"]) or "",
    }


@router.get("", response_class=HTMLResponse)
def history_page(request: Request, who: Reader) -> HTMLResponse:
    """The history with the command's filters, one page of entries at a time."""
    from sopengine import audit

    filters = _filters(request)
    size = _number(request.query_params.get("limit"), PAGE_SIZE, 1, MAX_PAGE)
    number = _number(request.query_params.get("page"), 1, 1, 10**9)
    rows: list[dict[str, Any]] = []
    more = False
    problem = None
    status = 200
    try:
        entries = audit.iter_history(config(request).db, **filters, limit=number * size + 1)
    except errors.SopError as exc:
        problem, status = str(exc), status_of(exc)
    else:
        try:
            chosen = list(itertools.islice(entries, (number - 1) * size, number * size + 1))
        finally:
            entries.close()
        more = len(chosen) > size
        rows = [_row(e) for e in chosen[:size]]
    shown = {**filters, "limit": size if size != PAGE_SIZE else None}
    return page(request, "audit_history.html", {
        "filters": filters,
        "kinds": [(kind, audit.shown(word)) for kind, word in audit.KINDS.items()],
        "rows": rows,
        "problem": problem,
        "page": number,
        "size": size,
        "first": (number - 1) * size + 1,
        "previous": _query({**shown, "page": number - 1}) if number > 1 else None,
        "next": _query({**shown, "page": number + 1}) if more else None,
        "csv": _query(filters),
        "backdated": any(r["backdated"] for r in rows),
        "postdated": any(r["postdated"] for r in rows),
    }, status_code=status)


class _Stopped(Exception):
    """The reader of a CSV download went away: the writer stops."""


class _CsvPipe(io.RawIOBase):
    """The history CSV written on a thread of its own and read in chunks as it is written.

    SQLite's connection serves the thread that opened it, and a streamed response is read
    on whichever worker thread is free; so one thread opens the history, writes the CSV
    (:func:`sopengine.audit.write_history_csv`, the command's own writer) into this pipe
    and closes the history, while the response takes the chunks. At most a few chunks wait
    in memory; when the response stops early, the writer stops too.
    """

    _READY = object()
    _DONE = object()

    def __init__(self) -> None:
        super().__init__()
        self.chunks: queue.Queue[Any] = queue.Queue(maxsize=8)
        self.pending = bytearray()
        self.stopped = threading.Event()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.pending += data
        if len(self.pending) >= CSV_CHUNK:
            self._put(bytes(self.pending))
            self.pending.clear()
        return len(data)

    def _put(self, item: Any) -> None:
        # a response never read (its client gone before the body began) never says stop:
        # give up after CSV_STALL seconds, so that no read transaction is held open for good
        waited = 0.0
        while not self.stopped.is_set() and waited < CSV_STALL:
            try:
                self.chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                waited += 0.5
        self.stopped.set()
        raise _Stopped

    def _write(self, db: Path | str, filters: dict[str, Any]) -> None:
        from sopengine import audit

        try:
            entries = audit.iter_history(db, **filters)
        except BaseException as exc:  # a filter refused: the route answers it before any byte is sent
            self._put(exc)
            return
        try:
            self._put(self._READY)
            audit.write_history_csv(entries, cast(IO[bytes], self))
            self._put(bytes(self.pending))
            self._put(self._DONE)
        except _Stopped:
            pass
        except BaseException as exc:
            try:
                self._put(exc)
            except _Stopped:
                pass
        finally:
            entries.close()

    def start(self, db: Path | str, filters: dict[str, Any]) -> Iterator[bytes]:
        """Begin writing; the chunks, once the filters are known to be good (else their error)."""
        context = contextvars.copy_context()  # the reader's language, for a refused filter's message
        threading.Thread(target=context.run, args=(self._write, db, filters), daemon=True).start()
        first = self.chunks.get()
        if isinstance(first, BaseException):
            raise first
        return self._read()

    def _read(self) -> Iterator[bytes]:
        try:
            while True:
                item = self.chunks.get()
                if item is self._DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                if item:
                    yield item
        finally:
            self.stopped.set()


@router.get("/history.csv")
def history_csv(request: Request, who: Reader) -> StreamingResponse:
    """The CSV ``sopengine history --format csv`` writes for the same filters, streamed."""
    filters: dict[str, Any] = _filters(request)
    limit = _number(request.query_params.get("limit"), 0, 0, 10**12)
    chunks = _CsvPipe().start(config(request).db, {**filters, "limit": limit or None})
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="history.csv"'})


# -- verify and evidence packs ---------------------------------------------------------------------

def _verify_view(result: dict[str, Any]) -> dict[str, Any]:
    """What the verify page shows of :func:`sopengine.audit.verify`'s result."""
    from sopengine import audit

    problems = [{"kind": p["kind"], "seq": p.get("seq"), "run": p.get("run_id"), "message": audit.shown(p["message"])}
                for p in result["problems"]]
    docs = result.get("documents")
    return {
        "ok": result["ok"],
        "events": result["events"],
        "runs": result["runs"],
        "office_events": result.get("office_events") or 0,
        "head": result["head"],
        "head_matches": result.get("head_matches"),
        "expected_head": result.get("expected_head"),
        "integrity": result["integrity"],
        "seconds": result["seconds"],
        "problems": problems,
        "documents": None if docs is None else {
            "checked": docs["checked"], "ok": docs["ok"], "changed": docs["changed"], "missing": docs["missing"],
            "unrecorded": len(docs["unrecorded"]), "not_kept": len(docs.get("not_kept") or []),
        },
    }


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, who: Reader) -> HTMLResponse:
    """The form of ``audit verify``; with ``check=1`` its result (it writes nothing, so a GET runs it)."""
    from sopengine import audit

    query = request.query_params
    documents = bool(query.get("documents"))
    expect_head = (query.get("expect_head") or "").strip() or None
    result = None
    problem = None
    status = 200
    if query.get("check"):
        try:
            result = _verify_view(audit.verify(config(request).db, documents=documents, expect_head=expect_head))
        except errors.SopError as exc:
            problem, status = str(exc), status_of(exc)
    return page(request, "audit_verify.html", {
        "documents": documents, "expect_head": expect_head or "", "result": result, "problem": problem,
    }, status_code=status)


@router.get("/runs/{run_id}/pack")
def pack_download(request: Request, run_id: str, who: Reader) -> FileResponse:
    """The run's evidence pack (``sopengine audit pack RUN``), made in a temporary folder and sent."""
    from sopengine import audit

    folder = Path(tempfile.mkdtemp(prefix="sopengine-pack-"))
    try:
        name = f"evidence-{run_id}.zip"
        result = audit.pack(config(request).db, run_id, folder / name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        result["path"], media_type="application/zip", filename=name,
        headers={"X-Run-Head": result["run_head"], "X-Manifest-Sha256": result["manifest_sha256"],
                 "X-Chain-Ok": "yes" if result["ok"] else "no"},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


# -- the time reports -------------------------------------------------------------------------------

def _scope(request: Request) -> dict[str, str | None]:
    query = request.query_params
    return {name: (query.get(name) or "").strip() or None for name in ("definition", "period", "since", "until")}


def _definitions(request: Request) -> list[dict[str, Any]]:
    """The definitions to choose from: those found beside the server, valid ones only."""
    from sopengine import api

    cfg = config(request)
    return [d for d in api.list_definitions(str(cfg.definitions) if cfg.definitions else None) if d.get("valid")]


def _duration(seconds: int | None) -> str:
    return "-" if seconds is None else clock.format_seconds(seconds, for_people=True)


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, who: Reader) -> HTMLResponse:
    """The monitoring form of Permenpan RB 35/2012 (``report --monitoring``) for a definition and period."""
    from sopengine import report

    scope = _scope(request)
    forms = None
    problem = None
    status = 200
    if "definition" in request.query_params:
        try:
            forms = report.monitoring(config(request).db, **scope, translated=True)
        except errors.SopError as exc:
            problem, status = str(exc), status_of(exc)
    return page(request, "audit_monitoring.html", {
        "scope": scope, "definitions": _definitions(request), "forms": forms, "problem": problem,
    }, status_code=status)


def _steps_view(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**s, "median": _duration(s["median_seconds"]), "max": _duration(s["max_seconds"])} for s in steps]


@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request, who: Reader) -> HTMLResponse:
    """Standard against actual time per step (``report``) for a definition and period."""
    from sopengine import report
    from sopengine.cli.common import state_word

    scope = _scope(request)
    data = None
    problem = None
    status = 200
    if "definition" in request.query_params:
        try:
            data = report.report(config(request).db, **scope)
        except errors.SopError as exc:
            problem, status = str(exc), status_of(exc)
    view = None
    if data is not None:
        view = {
            "definitions": [
                {"id": def_id, "runs": sum(1 for r in data["runs"] if r["definition"] == def_id),
                 "steps": _steps_view([s for s in data["steps"] if s["definition"] == def_id])}
                for def_id in sorted({s["definition"] for s in data["steps"]})
            ],
            "runs": [{
                **r,
                "status_word": state_word(r["status"]),
                "started": clock.local(r["started_at"], r["timezone"]),
                "taken": _duration(r["taken_seconds"]),
                "late": sum(s["late"] + s["open_overdue"] for s in r["steps"]),
                "corrections": sum(s["corrections"] for s in r["steps"]),
                "late_by": _duration(r["deadline_late_by"]) if r["deadline_late_by"] else None,
            } for r in data["runs"]],
        }
    return page(request, "audit_report.html", {
        "scope": scope, "definitions": _definitions(request), "report": view, "problem": problem,
    }, status_code=status)


# -- the access log ---------------------------------------------------------------------------------

ACCESS_WORDS = {
    "sign_in_attempt": N_("sign-in attempted"),
    "sign_in": N_("signed in"),
    "sign_in_refused": N_("sign-in refused"),
    "sign_in_throttled": N_("sign-in throttled"),
    "sign_out": N_("signed out"),
    "token_issued": N_("API token issued"),
    "sessions_ended": N_("sessions and tokens ended"),
}
"""The kinds of access log entries, as the page words them (translated when shown)."""


@router.get("/access", response_class=HTMLResponse)
def access_page(request: Request, who: Reader) -> HTMLResponse:
    """The office server's access log, newest first: sign-ins, refusals, throttling, sign-outs, tokens."""
    from sopengine.identity import clean_name, name_key
    from sopengine.store import Store
    from sopengine.store import server as sql

    limit = _number(request.query_params.get("limit"), ACCESS_LIMIT, 1, MAX_PAGE)
    person = (request.query_params.get("person") or "").strip()
    with Store(config(request).db, readonly=True) as store:
        entries = sql.access_log(store.conn, limit=limit, username=name_key(clean_name(person)) if person else None)
    rows = [{**e, "when": clock.local(e["at"]), "what": _(ACCESS_WORDS[e["kind"]]) if e["kind"] in ACCESS_WORDS else e["kind"]}
            for e in entries]
    return page(request, "audit_access.html", {"rows": rows, "person": person, "limit": limit})
