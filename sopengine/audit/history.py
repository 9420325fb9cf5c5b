"""The history: the events read with filters, for people and spreadsheets.

:func:`history` / :func:`iter_history` read the events with filters; :func:`export_history`
writes them as CSV (:func:`write_history_csv`, which a spreadsheet opens safely) or JSON,
entry by entry, so that a million events need no million-item list.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sopengine import clock
from sopengine.audit.findings import AuditError, _text
from sopengine.errors import InputError, RunNotFound
from sopengine.i18n import N_, _
from sopengine.store import Store
from sopengine.store import audit as store_audit

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sopengine.audit.packs import _Pinned

BACKDATED_AFTER = 300
"""Seconds by which ``at`` may precede ``recorded_at`` before an entry counts as backdated."""

POSTDATED_AFTER = 300
"""Seconds by which ``at`` may follow ``recorded_at`` before an entry counts as postdated."""


KINDS: dict[str, str] = {
    "run_started": _text(N_("run started")),
    "step_completed": _text(N_("step completed")),
    "decided": _text(N_("decided")),
    "joined": _text(N_("branches joined")),
    "reopened": _text(N_("reopened")),
    "assigned": _text(N_("assigned")),
    "unassigned": _text(N_("unassigned")),
    "run_completed": _text(N_("run completed")),
    "run_cancelled": _text(N_("run cancelled")),
}
"""Event kinds the engine writes, with the words history shows for them (each a :class:`Text`)."""


class _Definitions:
    """Step numbers, texts and actor names of the definitions runs are pinned to, read once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._cache: dict[str, dict[str, Any]] = {}

    def get(self, definition_hash: str | None) -> dict[str, Any]:
        if not definition_hash:
            return {"steps": {}, "actors": {}, "timezone": None}
        found = self._cache.get(definition_hash)
        if found is None:
            text = store_audit.compiled_text(self.conn, definition_hash)
            compiled = json.loads(text) if text else {}
            found = self._cache[definition_hash] = {
                "steps": compiled.get("steps", {}), "actors": compiled.get("actors", {}), "timezone": compiled.get("timezone"),
            }
        return found

    def all(self) -> list[dict[str, Any]]:
        return [self.get(h) for h in store_audit.definition_hashes(self.conn)]


def _as_date(text: str) -> date | None:
    """The day a bound names when it is a date alone (``2026-10-01``, ``20261001``), else None."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _bound(column: str, text: str, *, upper: bool) -> tuple[str, str, str]:
    """A time bound ``(column, op, UTC value)``: a date covers its whole day in WIB, a time is exact."""
    day = _as_date(text)
    if day is not None:
        value = clock.iso(clock.parse_time(day.isoformat(), end_of_day=upper))
        return column, ("<" if upper else ">="), value or ""
    return column, ("<=" if upper else ">="), clock.iso(clock.parse_time(text)) or ""


def _resolve_steps(defs: _Definitions, step: str) -> list[str]:
    key = step.strip()
    ids: set[str] = set()
    known: set[str] = set()
    for d in defs.all():
        for sid, spec in d["steps"].items():
            known.add(f"{spec['no']}={sid}" if spec.get("no") is not None else sid)
            if sid == key or (spec.get("no") is not None and str(spec["no"]) == key):
                ids.add(sid)
    if not ids:
        raise InputError(_("no SOP in this database has a step {step!r}; steps are: {steps}").format(
            step=step, steps=", ".join(sorted(known)) or _("none")))
    return sorted(ids)


def _resolve_actor(defs: _Definitions, actor: str) -> list[str]:
    key = actor.strip().casefold()
    ids: set[str] = set()
    known: set[str] = set()
    for d in defs.all():
        for aid, spec in d["actors"].items():
            known.add(aid)
            if aid.casefold() == key or str(spec.get("name", "")).casefold() == key:
                ids.add(aid)
    if not ids:
        raise InputError(_("no SOP in this database has a role {role!r}; roles are: {roles}").format(
            role=actor, roles=", ".join(sorted(known)) or _("none")))
    return sorted(ids)


def _persons(conn: sqlite3.Connection, person: str) -> list[str]:
    """The spellings of a name recorded in the events, any case (one index step per distinct name)."""
    wanted = person.strip().casefold()
    found = [name for name in store_audit.recorded_persons(conn) if name.casefold() == wanted]
    return found or [person.strip()]


def _query(conn: sqlite3.Connection, defs: _Definitions, *, run: str | None, person: str | None, actor: str | None,
           step: str | None, kind: str | None, since: str | None, until: str | None, limit: int | None,
           recorded_since: str | None = None, recorded_until: str | None = None) -> sqlite3.Cursor:
    """The filters checked and resolved (names, step numbers, role names, dates), then the rows."""
    if run and not store_audit.run_exists(conn, run):
        raise RunNotFound(_("no run {run!r} in this database; 'sopengine status --all' lists the runs").format(run=run),
                          run_id=run)
    if kind and kind not in KINDS:
        raise InputError(_("no event kind {kind!r}; kinds are: {kinds}").format(kind=kind, kinds=", ".join(KINDS)))
    persons = _persons(conn, person) if person else []
    steps = _resolve_steps(defs, step) if step else []
    roles = _resolve_actor(defs, actor) if actor else []
    bounds = [_bound(column, text, upper=upper)
              for column, text, upper in (("at", since, False), ("at", until, True),
                                          ("recorded_at", recorded_since, False), ("recorded_at", recorded_until, True))
              if text]
    return store_audit.history_rows(conn, run=run, persons=persons, kind=kind, steps=steps, roles=roles, bounds=bounds,
                                    limit=limit)


def _note(kind: str, payload: dict[str, Any], actors: dict[str, Any]) -> str | None:
    if payload.get("note"):
        return str(payload["note"])
    if payload.get("reason"):
        return str(payload["reason"])
    if kind in ("assigned", "unassigned"):
        role = payload.get("role")
        name = actors.get(role or "", {}).get("name", role)
        if payload.get("acting"):
            return _text(N_("{role}: {person} (acting)"), role=name, person=payload.get("person"))
        return f"{name}: {payload.get('person')}"
    if kind == "decided" and payload.get("automatic"):
        facts = ", ".join(f"{k}={v}" for k, v in (payload.get("facts") or {}).items())
        return _text(N_("automatic ({facts})"), facts=facts) if facts else _text(N_("automatic"))
    return None


def _entry(row: tuple[Any, ...], defs: _Definitions | _Pinned) -> dict[str, Any]:
    seq, run_id, definition, period, definition_hash, at, recorded_at, person, os_user, kind, step_id, payload_text, digest = row
    d = defs.get(definition_hash)
    try:
        payload = json.loads(payload_text)
    except (TypeError, ValueError):
        payload = {"unreadable": payload_text}
    if not isinstance(payload, dict):
        payload = {"value": payload}
    step = d["steps"].get(step_id or "", {})
    actor = payload.get("actor") or None
    lag = None
    at_dt, rec_dt = clock.from_iso(at), clock.from_iso(recorded_at)
    if at_dt and rec_dt:
        lag = int((rec_dt - at_dt).total_seconds())
    return {
        "seq": seq,
        "run_id": run_id,
        "definition": definition,
        "period": period,
        "at": at,
        "recorded_at": recorded_at,
        "backdated": lag is not None and lag > BACKDATED_AFTER,
        "postdated": lag is not None and -lag > POSTDATED_AFTER,
        "recorded_later_by": lag,
        "person": person,
        "os_user": os_user,
        "kind": kind,
        "action": KINDS.get(kind, kind),
        "step": step_id,
        "step_no": step.get("no"),
        "kegiatan": step.get("kegiatan"),
        "actor": actor,
        "actor_name": d["actors"].get(actor or "", {}).get("name"),
        "outcome": payload.get("outcome"),
        "documents": [
            {k: doc.get(k) for k in ("name", "path", "sha256", "size")} for doc in payload.get("documents") or [] if isinstance(doc, dict)
        ],
        "note": _note(kind, payload, d["actors"]),
        "timezone": d["timezone"] or clock.DEFAULT_ZONE,
        "payload": payload,
        "hash": digest,
    }


def iter_history(
    db: str | Path, *, run: str | None = None, person: str | None = None, actor: str | None = None,
    step: str | None = None, kind: str | None = None, since: str | None = None, until: str | None = None,
    recorded_since: str | None = None, recorded_until: str | None = None, limit: int | None = None,
) -> HistoryStream:
    """The events matching every filter given, in the order they were recorded.

    ``step`` is a step id or its number; ``actor`` a role id or name; ``person`` any case.
    ``since``/``until`` bound when the act happened (``at``), ``recorded_since`` /
    ``recorded_until`` when it was written down (``recorded_at``): each a date
    (``2026-10-01`` or ``20261001``) or a time, in WIB unless an offset is given; a date
    covers its whole day. Filters are checked before the first entry is yielded.
    """
    store = Store(db, readonly=True)
    snapshot = None
    try:
        if store.url is not None:
            # PostgreSQL streams the rows from a server-side cursor, which lives in a transaction
            snapshot = store_audit.read_snapshot(store.conn)
            snapshot.__enter__()
        defs = _Definitions(store.conn)
        cursor = _query(store.conn, defs, run=run, person=person, actor=actor, step=step, kind=kind,
                        since=since, until=until, limit=limit, recorded_since=recorded_since,
                        recorded_until=recorded_until)
    except BaseException:
        if snapshot is not None:
            snapshot.__exit__(None, None, None)
        store.close()
        raise
    return HistoryStream(store, cursor, defs, snapshot)


class HistoryStream(Iterator[dict[str, Any]]):
    """History entries read as they are asked for (:func:`iter_history`); the database closes
    at the end, or on :meth:`close` even before the first entry."""

    def __init__(self, store: Store, cursor: sqlite3.Cursor, defs: _Definitions,
                 snapshot: AbstractContextManager[Any] | None = None) -> None:
        self.store, self.cursor, self.defs, self.snapshot = store, cursor, defs, snapshot

    @property
    def events(self) -> int:
        """How many events the database holds (the most the stream can yield)."""
        low, high = store_audit.seq_range(self.store.conn)
        return high - low + 1 if high else 0

    def __next__(self) -> dict[str, Any]:
        try:
            row = next(self.cursor)
        except BaseException:
            self.close()
            raise
        return _entry(row, self.defs)

    def close(self) -> None:
        snapshot, self.snapshot = self.snapshot, None
        try:
            if snapshot is not None:
                snapshot.__exit__(None, None, None)
        finally:
            self.store.close()


def open_output(path: str | Path) -> IO[bytes]:
    """A file to write history or a report to, or :class:`AuditError` saying why it cannot be."""
    target = Path(path)
    try:
        return target.open("wb")
    except OSError as exc:
        raise AuditError(_("cannot write {file} ({reason}); check the folder exists and may be written").format(
            file=target, reason=exc.strerror or exc), path=str(target)) from None


def history(db: str | Path, **filters: Any) -> list[dict[str, Any]]:
    """The matching events as a list; see :func:`iter_history` for the filters."""
    return list(iter_history(db, **filters))


CSV_COLUMNS = (
    "seq", "run", "definition", "period", "time", "zone", "time_utc", "recorded_at_utc", "backdated", "postdated", "person",
    "os_user", "action", "kind", "step", "no", "kegiatan", "actor", "outcome", "documents", "note",
)


def local_parts(utc_text: str | None, tz: str | None) -> tuple[str, str]:
    """``("2026-10-01 09:00:00", "WIB")`` for a stored UTC time, in the SOP's zone."""
    dt = clock.from_iso(utc_text)
    if dt is None:
        return "", ""
    shown = dt.astimezone(clock.zone(tz))
    return shown.strftime("%Y-%m-%d %H:%M:%S"), shown.tzname() or ""


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: one that starts like a formula (``= + - @``,
    a tab or a carriage return) gets a leading ``'``, so that a name or note typed as
    ``=HYPERLINK(...)`` is never run when the file is opened. Numbers stay as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_history_csv(entries: Iterator[dict[str, Any]] | list[dict[str, Any]], out: IO[bytes]) -> int:
    """Write entries as CSV a spreadsheet opens cleanly: UTF-8 with BOM, one header row, CRLF,
    and no text cell that a spreadsheet would run as a formula (see :func:`csv_cell`)."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    n = 0
    for e in entries:
        local, zone_name = local_parts(e["at"], e["timezone"])
        writer.writerow([csv_cell(cell) for cell in (
            e["seq"], e["run_id"], e["definition"] or "", e["period"] or "", local, zone_name, e["at"], e["recorded_at"],
            "yes" if e["backdated"] else "", "yes" if e["postdated"] else "", e["person"], e["os_user"], e["action"], e["kind"], e["step"] or "",
            "" if e["step_no"] is None else e["step_no"], e["kegiatan"] or "", e["actor_name"] or e["actor"] or "",
            e["outcome"] or "", "; ".join(d["name"] or "" for d in e["documents"]), e["note"] or "",
        )])
        n += 1
    text.flush()
    text.detach()  # leave the caller's stream open
    return n


def history_json(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as history's JSON shows it (UTC times with ``Z``; no display-only fields)."""
    return {k: v for k, v in entry.items() if k != "timezone"}


def write_history_json(entries: Iterator[dict[str, Any]] | list[dict[str, Any]], out: IO[bytes]) -> int:
    """A JSON array written entry by entry, so that a million events need no million-item list."""
    n = 0
    out.write(b"[")
    for entry in entries:
        out.write((",\n  " if n else "\n  ").encode("utf-8"))
        text = json.dumps(history_json(entry), ensure_ascii=False, indent=2, default=str).replace("\n", "\n  ")
        out.write(text.encode("utf-8"))
        n += 1
    out.write(b"\n]\n" if n else b"]\n")
    return n


def export_history(db: str | Path, out: str | Path | IO[bytes], *, fmt: str = "csv",
                   progress: Callable[[int, int], None] | None = None, **filters: Any) -> int:
    """Write the matching events as ``csv`` or ``json`` to a file or an open binary stream; the count.

    A file is made only once the filters are known to be good (a mistyped filter leaves an
    existing file as it was); one that cannot be written is an :class:`AuditError`.
    *progress* is told ``(entries written, entries in all)`` as the export goes on; the total
    is the number of events when no filter is given, else 0 (not known in advance).
    """
    write = {"csv": write_history_csv, "json": write_history_json}[fmt]
    entries = iter_history(db, **filters)
    try:
        counted: Iterator[dict[str, Any]] = entries
        if progress is not None:
            total = 0 if any(v for v in filters.values()) else entries.events
            counted = _told(entries, progress, total)
        if not isinstance(out, (str, Path)):
            return write(counted, out)
        target = Path(out)
        fh = open_output(target)
        try:
            with fh:  # closing flushes: a full disk may only show here
                return write(counted, fh)
        except OSError as exc:
            raise AuditError(_("could not finish writing {file} ({reason}); the file is incomplete").format(
                file=target, reason=exc.strerror or exc), path=str(target)) from None
    finally:
        entries.close()


def _told(entries: Iterator[dict[str, Any]], progress: Callable[[int, int], None], total: int,
          every: int = 4096) -> Iterator[dict[str, Any]]:
    n = 0
    for entry in entries:
        yield entry
        n += 1
        if n % every == 0:
            progress(n, total)
    progress(n, total)


def local_time(text: str | None, tz: str | None = None) -> str:
    """A stored UTC time as history's table shows it (``2026-10-01 09:00 WIB``)."""
    return clock.local(text, tz) if text else "-"
