"""Evidence packs: one run's evidence in a zip, and the check of such a zip without the database.

:func:`pack` writes a run's evidence into one zip, its documents taken from the chained
events; :func:`verify_pack` checks such a zip without the database, the members the chain
does not cover included.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.audit.canonical import parse_head
from sopengine.audit.diagnose import _describe_run_problem
from sopengine.audit.documents import file_sha256
from sopengine.audit.findings import AuditError, Text, _cannot_write, _text
from sopengine.audit.history import _entry, write_history_csv
from sopengine.audit.pins import definition_problem
from sopengine.audit.tables import (
    _CLOSING_KINDS,
    _ENGINE,
    _RUN_FIELDS,
    _STATE_KINDS,
    _closed_task_problems,
    _compare_assignments,
    _compare_done,
    _event_closing,
    _note_state_event,
    _run_differences,
    _started_fields,
    _task_closing,
)
from sopengine.audit.verify import _stored_head
from sopengine.chain import CHAIN_FIELDS, GENESIS, canonical, event_hash
from sopengine.errors import InputError
from sopengine.i18n import N_, _, shown
from sopengine.store import Store
from sopengine.store import audit as store_audit

PACK_FORMAT = "sopengine-evidence-pack/1"

_PACK_README = """Evidence pack of sopengine run {run_id} ({definition}, period {period}).

manifest.json     sha256 and size of every other member
definition.yaml   the definition text the run is pinned to (its sha256 is the run's definition hash)
events.json       the run's events with every field of the hash chain
events.csv        the same events for a spreadsheet (UTF-8 with BOM; times in {zone} and UTC)
verification.json the chain check when the pack was made: run head, database head, problems
run.json          the run, its step visits and assignments as the database held them
documents.json    every recorded output file: included, changed since recorded, or missing
documents/        the output files that still match the hash their event recorded

Check it without the database: sopengine audit verify-pack {name}
(with --expect-manifest and the manifest sha256 noted when the pack was made).

Checking the chain by hand
--------------------------
Each event's "hash" is the sha256 (64 lowercase hex digits) of the UTF-8 bytes of its
canonical form: the JSON object of its nine fields at, kind, os_user, payload, person,
prev_hash, recorded_at, run_id, step_id (not seq, not hash), written
 - with keys sorted by Unicode code point at every level, no key twice;
 - with no whitespace: "," between members, ":" between key and value;
 - with every character as itself (non-ASCII as UTF-8) except '"' as \\", '\\' as \\\\ and
   U+0000..U+001F as \\n \\r \\t \\b \\f or else \\u00xx in lowercase hex;
 - with true, false, null, integers in decimal and other numbers as Python's repr (1000.0);
that is Python's json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
"prev_hash" is the "hash" of the run's event before it; the first event's is 64 zeros.
The run head is the hash of the last event. sopengine's docs (Auditing) show test values
and a short program that checks a whole database the same way.

This run's first event in canonical form, and the sha256 of those bytes (its "hash"):
{first}
{first_hash}
"""


def _safe(name: str) -> str:
    cleaned = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name).strip(" .")
    return cleaned or "file"


def _chain_events(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    out = []
    for row in store_audit.run_event_rows(conn, run_id):
        event = {"seq": row[0], **dict(zip(CHAIN_FIELDS, row[1:10])), "hash": row[10]}
        try:
            event["payload"] = json.loads(event["payload"])
        except (TypeError, ValueError):
            pass  # kept as text; the pack's check then names the event
        out.append(event)
    return out


def _zip_time(utc_text: str, tz: str | None) -> tuple[int, int, int, int, int, int]:
    """A stored UTC time as a zip member's date: zip keeps local time, here the SOP's zone."""
    when = clock.from_iso(utc_text)
    if when is None:
        return (1980, 1, 1, 0, 0, 0)
    local = when.astimezone(clock.zone(tz))
    return max((local.year, local.month, local.day, local.hour, local.minute, local.second), (1980, 1, 1, 0, 0, 0))


def _zip_entry(name: str, stamp: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # readable once unpacked (a bare ZipInfo says no permissions at all)
    return info


def _copy_into(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> dict[str, Any]:
    """Copy a recorded file into the zip; the sha256 and size of what went in, not of what
    was checked a moment before."""
    digest = hashlib.sha256()
    size = 0
    try:
        src = path.open("rb")
    except OSError as exc:
        raise AuditError(_("cannot read the recorded file {file} ({reason}); no pack was written").format(
            file=path, reason=exc.strerror or exc), path=str(path)) from None
    with src, zf.open(info, "w") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


class _Pinned:
    """One compiled definition, read the way :class:`_Definitions` reads the database's."""

    def __init__(self, compiled: dict[str, Any]) -> None:
        self.found = {"steps": compiled.get("steps") or {}, "actors": compiled.get("actors") or {},
                      "timezone": compiled.get("timezone")}

    def get(self, definition_hash: str | None) -> dict[str, Any]:
        return self.found


def _pack_entries(events: list[dict[str, Any]], compiled: dict[str, Any]) -> list[dict[str, Any]]:
    """History entries of a pack's events, with the definition and period its run_started records."""
    started = events[0].get("payload") if events else None
    started = started if isinstance(started, dict) and events[0].get("kind") == "run_started" else {}
    defs = _Pinned(compiled)
    rows = []
    for e in events:
        payload = e.get("payload")
        text = payload if isinstance(payload, str) else canonical(payload)
        rows.append((e.get("seq"), e.get("run_id"), started.get("definition"), started.get("period"), None, e.get("at"),
                     e.get("recorded_at"), e.get("person"), e.get("os_user"), e.get("kind"), e.get("step_id"), text, e.get("hash")))
    return [_entry(row, defs) for row in rows]


def pack(db: str | Path, run_id: str, output: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Write one run's evidence into a zip at *output*; returns its summary and manifest hash."""
    target = Path(output)
    if target.exists() and not force:
        raise AuditError(_("{file} already exists; choose another name or pass --force").format(file=target), path=str(target))
    if not target.parent.exists():
        raise AuditError(_("folder {folder} does not exist; create it first").format(folder=target.parent), path=str(target))
    # the pack shows one moment of the database
    with Store(db, readonly=True) as store, store_audit.read_snapshot(store.conn) as conn:
        run = store.run(run_id)
        definition = store.definition_source(run["definition_hash"])
        pinned = store_audit.definition_row(conn, run["definition_hash"])
        reason = definition_problem(*pinned) if pinned else _text(
            N_("it is not in the definitions table (the row was deleted)"))
        if reason:
            raise AuditError(
                _("no pack written: the definition run {run} is pinned to ({hash}) fails its check — {reason}; run"
                  " 'sopengine audit verify' and restore the database from a backup").format(
                    run=run_id, hash=str(run["definition_hash"])[:12], reason=shown(reason)),
                run_id=run_id,
            )
        rows = store_audit.run_event_rows(conn, run_id)
        problem = _describe_run_problem(conn, run_id, rows)
        events = _chain_events(conn, run_id)
        tasks = store.tasks(run_id)
        assignments = store.assignments(run_id)
        db_head = _stored_head(conn)
        compiled = store.compiled(run["definition_hash"])
    # events.csv is made from events.json and the definition alone, so that verify-pack can
    # make it again and compare: the run head covers events.json, not the spreadsheet
    entries = _pack_entries(events, compiled)
    defs_tz = compiled.get("timezone") or clock.DEFAULT_ZONE
    run_head = events[-1]["hash"] if events else GENESIS
    verification = {
        "run_id": run_id,
        "ok": problem is None,
        "events": len(events),
        "first_hash": events[0]["hash"] if events else None,
        "run_head": run_head,
        "problem": problem,
        "database_head": db_head["head"],
        "checked_at": clock.iso(clock.real_now()),
    }
    members: dict[str, bytes] = {}
    members["definition.yaml"] = (definition or {}).get("source", "").encode("utf-8")
    members["events.json"] = (json.dumps(events, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    buf = io.BytesIO()
    write_history_csv(entries, buf)
    members["events.csv"] = buf.getvalue()
    members["verification.json"] = (json.dumps(verification, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    run_info = dict(run, tasks=tasks, assignments=assignments,
                    definition={k: v for k, v in (definition or {}).items() if k != "source"})
    members["run.json"] = (json.dumps(run_info, ensure_ascii=False, indent=2, default=str) + "\n").encode("utf-8")
    doc_list = []
    files: dict[str, Path] = {}
    stamps: dict[str, tuple[int, int, int, int, int, int]] = {}  # a file's date in the zip: when it was recorded
    # The documents come from the chained events, not from the documents table: what the
    # hashes cover is what the pack vouches for.
    for event in events:
        payload = event["payload"]
        recorded = payload.get("documents") if isinstance(payload, dict) else None
        for k, d in enumerate(recorded if isinstance(recorded, list) else [], start=1):
            if not isinstance(d, dict):
                continue
            entry = {"event": event["seq"], "step_id": event["step_id"], "name": d.get("name"), "path": d.get("path"),
                     "sha256": d.get("sha256"), "size": d.get("size"), "recorded_at": event["recorded_at"],
                     "recorded_by": event["person"]}
            current = file_sha256(d["path"]) if isinstance(d.get("path"), str) else None
            if current is None:
                entry["status"] = "missing"
            elif current != d.get("sha256"):
                entry["status"] = "changed"
                entry["current_sha256"] = current
            else:
                member = f"documents/{event['seq']:04d}-{k}-{_safe(str(event['step_id']))}/{_safe(Path(d['path']).name)}"
                entry["status"] = "included"
                entry["member"] = member
                files[member] = Path(d["path"])
                stamps[member] = _zip_time(event["recorded_at"], defs_tz)
            doc_list.append(entry)
    members["documents.json"] = (json.dumps(doc_list, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    first_text = canonical({k: events[0][k] for k in CHAIN_FIELDS}) if events else "(the run has no events)"
    members["README.txt"] = _PACK_README.format(
        run_id=run_id, definition=run["definition_id"], period=run["period"] or "-", zone=defs_tz, name=target.name,
        first=first_text, first_hash=events[0]["hash"] if events else "-",
    ).encode("utf-8")
    listing: dict[str, dict[str, Any]] = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in members.items()
    }
    created_at = clock.iso(clock.real_now()) or ""
    made = _zip_time(created_at, defs_tz)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        try:
            zf = zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED)
        except OSError as exc:
            raise _cannot_write(target, exc) from None
        with zf:
            for name, data in members.items():
                zf.writestr(_zip_entry(name, made), data)
            for member, path in files.items():
                listing[member] = _copy_into(zf, _zip_entry(member, stamps[member]), path)
            manifest = {
                "format": PACK_FORMAT,
                "run_id": run_id,
                "definition": run["definition_id"],
                "period": run["period"],
                "created_at": created_at,
                "run_head": run_head,
                "database_head": db_head["head"],
                "members": dict(sorted(listing.items())),
            }
            manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
            zf.writestr(_zip_entry("manifest.json", made), manifest_bytes)
        os.replace(tmp, target)
    except OSError as exc:  # the disk filled up, the folder went away
        raise _cannot_write(target, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "path": str(target),
        "run_id": run_id,
        "events": len(events),
        "ok": problem is None,
        "problem": problem,
        "run_head": run_head,
        "database_head": db_head["head"],
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "documents": {s: sum(1 for d in doc_list if d["status"] == s) for s in ("included", "changed", "missing")},
    }


def _json_member(data: bytes) -> Any:
    """A pack member's JSON; a key written twice is refused (readers differ on which one counts)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError(_text(N_("the key {key!r} is written twice"), key=next(k for k in keys if keys.count(k) > 1)))
        return dict(items)

    return json.loads(data.decode("utf-8"), object_pairs_hook=pairs)


def _read_json(zf: zipfile.ZipFile, name: str) -> Any:
    return _json_member(zf.read(name))


def _parse_sha256(text: str, what: str) -> str:
    """*text* as a sha256; *what* (marked with ``N_``) names it in the error."""
    digest = text.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError(_("cannot read {what} {text!r}; give the 64 hexadecimal digits as printed").format(
            what=_(what), text=text))
    return digest


def _reason(exc: BaseException) -> Any:
    """What an exception says: the :class:`Text` it was raised with, or its text."""
    said = exc.args[0] if len(exc.args) == 1 else None
    return said if isinstance(said, Text) else str(exc)


def _csv_problems(stored: bytes, events: list[dict[str, Any]], definition: bytes) -> list[Text]:
    """events.csv made again from events.json and definition.yaml, and compared byte for byte."""
    from sopengine.definition.loader import check_text, compile_definition

    try:
        checked = check_text(definition.decode("utf-8"), "definition.yaml")
    except UnicodeDecodeError:
        return [_text(N_("definition.yaml is not UTF-8 text, so events.csv cannot be made again from it"))]
    if not checked.ok or checked.definition is None:
        return [_text(N_("definition.yaml cannot be compiled by this sopengine, so events.csv cannot be made again and"
                         " compared"))]
    buf = io.BytesIO()
    try:
        write_history_csv(_pack_entries(events, compile_definition(checked.definition, checked.text or "")), buf)
    except (TypeError, ValueError, AttributeError) as exc:  # times or names of a kind the engine never writes
        return [_text(N_("events.csv cannot be made again from events.json ({error}): its events hold values the engine"
                         " never writes"), error=_reason(exc))]
    if buf.getvalue() != stored:
        return [_text(N_("events.csv: it differs from the events of events.json (made again from them and the"
                         " definition): the spreadsheet was altered"))]
    return []


def _run_json_problems(info: Any, events: list[dict[str, Any]], run_id: Any) -> list[Text]:
    """The run as run.json holds it, against what its events record."""
    if not isinstance(info, dict):
        return [_text(N_("it is not a JSON object"))]
    problems = []
    first = events[0] if events else {}
    started = first.get("payload") if first.get("kind") == "run_started" else None
    if not isinstance(started, dict):
        return [_text(N_("the run has no run_started event to compare it with"))]
    case = info.get("case_data")
    row = {name: info.get(name) for name in _RUN_FIELDS}
    row["case_data"] = canonical(case) if isinstance(case, dict) else case
    if info.get("id") != run_id:
        problems.append(_text(N_("its run id {id!r} is not the pack's {run!r}"), id=info.get("id"), run=run_id))
    try:
        fields = _started_fields(started)
    except TypeError:  # case data that is no JSON value
        fields = None
    differ, recorded = _run_differences(row, first.get("at"), first.get("person"), fields)
    for name in differ:
        problems.append(_text(N_("its {field} {value!r} differs from the run_started event's {recorded!r}"),
                              field=name, value=row[name], recorded=recorded.get(name)))
    last = events[-1]
    status = info.get("status")
    want = {"completed": "run_completed", "cancelled": "run_cancelled"}.get(status) if isinstance(status, str) else None
    if want and (last.get("kind") != want or last.get("at") != info.get("finished_at")):
        problems.append(_text(N_("the run is {status} there, but the last event is {kind} at {at}"),
                              status=info.get("status"), kind=last.get("kind"), at=last.get("at")))
    elif info.get("status") == "active" and last.get("kind") in ("run_completed", "run_cancelled"):
        problems.append(_text(N_("the run is active there, but the last event is {kind}"), kind=last.get("kind")))
    elif info.get("status") not in ("active", "completed", "cancelled"):
        problems.append(_text(N_("the run has an unknown status {status!r}"), status=info.get("status")))
    tasks, assignments = info.get("tasks"), info.get("assignments")
    if not (isinstance(tasks, list) and all(isinstance(t, dict) for t in tasks)):
        return problems + [_text(N_("its tasks are not a list of objects"))]
    if not (isinstance(assignments, list) and all(isinstance(a, dict) for a in assignments)):
        return problems + [_text(N_("its assignments are not a list of objects"))]
    # the same rebuild audit verify makes of the tables, from this run's events
    expected = []
    replayed: dict[str, dict[tuple[str, str], tuple[int, str, str]]] = {}
    holder: dict[str, list[tuple[Any, ...]]] = {}
    for e in events:
        p = e.get("payload")
        if not isinstance(p, dict):
            continue
        if e.get("kind") in _CLOSING_KINDS and e.get("person") != _ENGINE:
            expected.append((e.get("seq"), e.get("kind"), _event_closing(e.get("step_id"), e.get("at"), e.get("person"), p)))
        elif e.get("kind") in _STATE_KINDS:
            _note_state_event(holder, replayed, e.get("seq"), str(run_id), e.get("kind"), e.get("at"), e.get("person"),
                              e.get("step_id"), p)
    closings = holder.get(str(run_id), [])
    done = [(t.get("id"), _task_closing(*(t.get(k) for k in (
        "step_id", "closed_at", "closed_by", "outcome", "iteration", "actor", "part", "note", "on_behalf_of"))))
        for t in tasks if t.get("state") == "done"]
    other = [(t.get("id"), t.get("step_id"), t.get("state"), t.get("closed_at"), t.get("closed_by"))
             for t in tasks if t.get("state") in ("cancelled", "joined")]
    odd = [t for t in tasks if t.get("state") not in ("open", "waiting", "done", "cancelled", "joined")]
    found = _compare_done(str(run_id), expected, done) + _closed_task_problems(str(run_id), closings, other)
    named = [a for a in assignments if isinstance(a.get("role"), str) and isinstance(a.get("person"), str)]
    problems += [_text(N_("an assignment names no role or person: {assignment}"), assignment=canonical(a))
                 for a in assignments if a not in named]
    held = {str(run_id): {(a["role"], a["person"]): (a.get("acting"), a.get("assigned_at"), a.get("assigned_by"))
                          for a in named}}
    found += _compare_assignments(held, replayed)
    problems += [_text(N_("task {task} has an unknown state {state!r}"), task=t.get("id"), state=t.get("state")) for t in odd]
    problems += [p["message"] for p in found]
    return problems


def verify_pack(path: str | Path, *, expect_head: str | None = None, expect_manifest: str | None = None) -> dict[str, Any]:
    """Check an evidence pack without the database: manifest, chain, definition, documents,
    and the members the chain does not cover (events.csv, run.json) against the chain.

    Returns ``ok``, ``problems`` (the first is the first found), ``run_id``, ``events``,
    ``run_head`` and the manifest's sha256. ``expect_head`` is a run head noted elsewhere,
    ``expect_manifest`` the manifest's sha256 noted when the pack was made.
    """
    noted_head = parse_head(expect_head)[0] if expect_head is not None else None
    noted_manifest = _parse_sha256(expect_manifest, N_("manifest sha256")) if expect_manifest is not None else None
    file = Path(path)
    if not file.is_file():
        raise AuditError(_("no pack at {file}; give the path of a zip written by 'sopengine audit pack'").format(file=file),
                         path=str(file))
    problems: list[Text] = []
    result: dict[str, Any] = {"path": str(file), "problems": problems}
    try:
        zf = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        raise AuditError(_("{file} is not a zip file; give the pack written by 'sopengine audit pack'").format(file=file),
                         path=str(file)) from None
    with zf:
        listed_names = zf.namelist()
        twice = sorted({n for n in listed_names if listed_names.count(n) > 1})
        if twice:
            # zipfile reads the last of two equal names, other tools the first: what was checked
            # need not be what an auditor opens
            raise AuditError(
                _("{file} holds more than one member named {member}: a zip with repeated names reads differently in"
                  " different tools, and sopengine never writes one; it is not a pack to trust").format(
                    file=file, member=twice[0]),
                path=str(file),
            )
        names = set(listed_names)
        if "manifest.json" not in names:
            raise AuditError(_("{file} has no manifest.json: it is not a sopengine evidence pack").format(file=file),
                             path=str(file))
        manifest_bytes = zf.read("manifest.json")
        result["manifest_sha256"] = hashlib.sha256(manifest_bytes).hexdigest()
        try:
            manifest = _json_member(manifest_bytes)
            listed: dict[str, dict[str, Any]] = manifest["members"]
        except (ValueError, KeyError, TypeError):
            listed = None  # type: ignore[assignment]
        if not (isinstance(listed, dict) and all(isinstance(v, dict) for v in listed.values())):
            raise AuditError(_("{file}: manifest.json cannot be read as a pack's manifest (an object whose members map"
                               " each name to its sha256 and size)").format(file=file), path=str(file))
        if manifest.get("format") != PACK_FORMAT:
            problems.append(_text(N_("manifest.json: format {format!r} is not {expected}"), format=manifest.get("format"),
                                  expected=PACK_FORMAT))
        run_id = manifest.get("run_id")
        result["run_id"] = run_id
        for name in sorted(listed):
            if name not in names:
                problems.append(_text(N_("{member}: listed in the manifest but not in the pack"), member=name))
                continue
            data = zf.read(name)
            if hashlib.sha256(data).hexdigest() != listed[name].get("sha256"):
                problems.append(_text(N_("{member}: its sha256 differs from the manifest (the member was altered)"),
                                      member=name))
        for name in sorted(names - set(listed) - {"manifest.json"}):
            problems.append(_text(N_("{member}: in the pack but not in the manifest (a member was added)"), member=name))
        required = ("events.json", "events.csv", "verification.json", "definition.yaml", "documents.json", "run.json")
        missing = [n for n in required if n not in names]
        if missing:
            problems.append(_text(N_("{members}: missing from the pack"), members=", ".join(missing)))
            result.update(ok=False, first_problem=problems[0])
            return result
        shapes = {
            "events.json": (list, N_("{member} is not a list of events (each an object)")),
            "verification.json": (dict, N_("{member} is not an object")),
            "documents.json": (list, N_("{member} is not a list of documents (each an object)")),
        }
        read: dict[str, Any] = {}
        for name, (kind, wrong) in shapes.items():
            try:
                value = _read_json(zf, name)
            except ValueError as exc:
                problems.append(_text(N_("{member} cannot be read ({error})"), member=name, error=_reason(exc)))
                continue
            items_ok = kind is dict or all(isinstance(item, dict) for item in value) if isinstance(value, kind) else False
            if not items_ok:
                problems.append(_text(wrong, member=name))
                continue
            read[name] = value
        if len(read) < len(shapes):
            result.update(ok=False, first_problem=problems[0])
            return result
        events, verification, documents = read["events.json"], read["verification.json"], read["documents.json"]
        expected = GENESIS
        recorded_docs: list[tuple[Any, Any, Any]] = []
        last_seq = 0
        before_chain = len(problems)
        for k, e in enumerate(events):
            seq = e.get("seq")
            if e.get("run_id") != run_id:
                problems.append(_text(N_("events.json: event {seq} belongs to run {other}, not {run}"), seq=seq,
                                      other=e.get("run_id"), run=run_id))
                break
            if not isinstance(seq, int) or seq <= last_seq:
                problems.append(_text(N_("events.json: event {seq} is out of order"), seq=seq))
                break
            last_seq = seq
            if e.get("prev_hash") != expected:
                problems.append(_text(N_("events.json: event {seq} does not link to the event before it (deleted,"
                                         " reordered or forged)"), seq=seq))
                break
            try:
                recomputed = event_hash(e)
            except (KeyError, TypeError, ValueError):
                recomputed = None
            if recomputed != e.get("hash"):
                following = events[k + 1].get("prev_hash") if k + 1 < len(events) else None
                if recomputed is not None and following == recomputed:
                    problems.append(_text(N_("events.json: event {seq} does not match its stored hash, but its fields"
                                             " hash to what the next event links to (its hash was edited)"), seq=seq))
                else:
                    problems.append(_text(N_("events.json: event {seq} does not match its hash (its fields were edited)"),
                                          seq=seq))
                break
            expected = e["hash"]
            payload = e.get("payload")
            if isinstance(payload, dict):
                for d in payload.get("documents") or []:
                    if isinstance(d, dict):
                        recorded_docs.append((seq, d.get("name"), d.get("sha256")))
        chain_ok = len(problems) == before_chain
        run_head = events[-1].get("hash") if events else GENESIS
        result["events"] = len(events)
        result["run_head"] = run_head
        if verification.get("run_head") != run_head:
            problems.append(_text(N_("verification.json: its run head differs from the last event of events.json")))
        if verification.get("ok") is not True:
            recorded_problem = verification.get("problem")
            said = recorded_problem.get("message") if isinstance(recorded_problem, dict) else None
            problems.append(_text(N_("verification.json: the chain was already broken when the pack was made: {problem}"),
                                  problem=said or _text(N_("see the file"))))
        if manifest.get("run_head") != run_head:
            problems.append(_text(N_("manifest.json: its run head differs from the last event of events.json")))
        started = events[0] if events else {}
        pinned = (started.get("payload") or {}).get("definition_hash") if isinstance(started.get("payload"), dict) else None
        if hashlib.sha256(zf.read("definition.yaml")).hexdigest() != pinned:
            problems.append(_text(N_("definition.yaml: its sha256 is not the definition hash the run_started event recorded")))
        # every file the chain recorded is accounted for: included, or listed as changed or missing
        # keyed by their JSON text: a name or hash of the wrong type must not stop the check
        remaining = Counter(canonical(list(r)) for r in recorded_docs)
        for d in documents:
            key = canonical([d.get("event"), d.get("name"), d.get("sha256")])
            if remaining[key] <= 0:
                problems.append(_text(N_("documents.json: {name!r} of event {seq} is not a file the chain recorded"),
                                      name=d.get("name"), seq=d.get("event")))
                continue
            remaining[key] -= 1
            status = d.get("status")
            if status in ("changed", "missing"):
                continue
            if status != "included":
                problems.append(_text(N_("documents.json: {name!r} of event {seq} has an unknown status {status!r}"),
                                      name=d.get("name"), seq=d.get("event"), status=status))
                continue
            member = d.get("member")
            if not isinstance(member, str) or member not in names:
                problems.append(_text(N_("documents.json: {name!r} is marked included but {member} is not in the pack"),
                                      name=d.get("name"), member=member))
                continue
            if hashlib.sha256(zf.read(member)).hexdigest() != d.get("sha256"):
                problems.append(_text(N_("{member}: its sha256 differs from the one recorded for {name!r}"), member=member,
                                      name=d.get("name")))
        for seq, name, digest in recorded_docs:
            key = canonical([seq, name, digest])
            if remaining[key] > 0:
                remaining[key] -= 1
                problems.append(_text(N_("documents.json: event {seq} recorded {name!r} (sha256 {sha256}…), which the"
                                         " pack neither includes nor lists as changed or missing"),
                                      seq=seq, name=name, sha256=str(digest)[:12]))
        if chain_ok:  # held to a chain that does not hold, they would only repeat its problem
            problems.extend(_csv_problems(zf.read("events.csv"), events, zf.read("definition.yaml")))
            try:
                run_info = _read_json(zf, "run.json")
            except ValueError as exc:
                problems.append(_text(N_("{member} cannot be read ({error})"), member="run.json", error=_reason(exc)))
            else:
                problems.extend(_text("run.json: {problem}", problem=m) for m in _run_json_problems(run_info, events, run_id))
        if noted_head is not None:
            result["expected_head"] = noted_head
            if noted_head != run_head:
                problems.append(_text(N_("the run head {head}… differs from the noted head {noted}…"), head=run_head[:16],
                                      noted=noted_head[:16]))
        if noted_manifest is not None:
            result["expected_manifest"] = noted_manifest
            if noted_manifest != result["manifest_sha256"]:
                problems.append(_text(N_("the manifest's sha256 {sha256}… differs from the noted {noted}…: this is not"
                                         " the pack that was noted"), sha256=result["manifest_sha256"][:16],
                                      noted=noted_manifest[:16]))
    result["ok"] = not problems
    result["first_problem"] = problems[0] if problems else None
    result["documents"] = {s: sum(1 for d in documents if d.get("status") == s) for s in ("included", "changed", "missing")}
    return result

