"""Evidence packs: one run's evidence in a zip an auditor can take away.

:func:`pack` writes a run's evidence into one zip, its documents taken from the chained
events; :func:`~sopengine.audit.pack_check.verify_pack` checks such a zip without the database.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.audit.diagnose import _describe_run_problem
from sopengine.audit.documents import file_sha256
from sopengine.audit.findings import AuditError, _cannot_write, _text
from sopengine.audit.history import _entry, write_history_csv
from sopengine.audit.pins import definition_problem
from sopengine.audit.verify import _stored_head
from sopengine.documents import NOT_KEPT
from sopengine.chain import CHAIN_FIELDS, GENESIS, canonical
from sopengine.i18n import N_, _, shown
from sopengine.store import Store
from sopengine.store import audit as store_audit
from sopengine.store import documents as store_documents

PACK_FORMAT = "sopengine-evidence-pack/1"

FIXED_MEMBERS = frozenset({"manifest.json", "README.txt", "definition.yaml", "events.json", "events.csv",
                           "verification.json", "run.json", "documents.json"})
"""The members every pack holds; the others are the documents its events recorded (``documents/…``)."""

README_DOCUMENTS = """documents.json    every document the events recorded: included, changed since recorded, or missing
documents/        the recorded documents, from the database's document store (one recorded
                  before the store existed: from its recorded path, when the file still matches)
"""
README_DOCUMENTS_BEFORE_STORE = """documents.json    every recorded output file: included, changed since recorded, or missing
documents/        the output files that still match the hash their event recorded
"""
"""What README.txt said of the documents before the document store: such packs still hold."""

_PACK_README = """Evidence pack of sopengine run {run_id} ({definition}, period {period}).

manifest.json     sha256 and size of every other member
definition.yaml   the definition text the run is pinned to (its sha256 is the run's definition hash)
events.json       the run's events with every field of the hash chain
events.csv        the same events for a spreadsheet (UTF-8 with BOM; times in {zone} and UTC)
verification.json the chain check when the pack was made: run head, database head, problems
run.json          the run, its step visits and assignments as the database held them
{documents}
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


_Stamp = tuple[int, int, int, int, int, int]

NOT_KEPT_REMOVED = "not kept in the database, though recorded after the document store began (removed from it)"


def _pack_documents(conn: sqlite3.Connection, events: list[dict[str, Any]],
                    tz: str) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]], dict[str, _Stamp]]:
    """documents.json's entries, and each member to write: ``("store", sha256)`` or ``("file", path)``.

    The documents come from the chained events, not from the documents table: what the
    hashes cover is what the pack vouches for. Their bytes come from the document store; a
    document not kept there (recorded before the store) from its recorded path, when the
    file there still matches.
    """
    recorded: list[tuple[dict[str, Any], int, dict[str, Any]]] = []
    for event in events:
        payload = event["payload"]
        listed = payload.get("documents") if isinstance(payload, dict) else None
        recorded.extend((event, k, d) for k, d in enumerate(listed if isinstance(listed, list) else [], start=1)
                        if isinstance(d, dict))
    kept = store_documents.kept(conn, [d["sha256"] for _, _, d in recorded if isinstance(d.get("sha256"), str)])
    began = store_documents.store_began(conn)
    doc_list: list[dict[str, Any]] = []
    sources: dict[str, tuple[str, str]] = {}
    stamps: dict[str, _Stamp] = {}  # a file's date in the zip: when it was recorded
    for event, k, d in recorded:
        entry = {"event": event["seq"], "step_id": event["step_id"], "name": d.get("name"), "path": d.get("path"),
                 "sha256": d.get("sha256"), "size": d.get("size"), "recorded_at": event["recorded_at"],
                 "recorded_by": event["person"]}
        source: tuple[str, str] | None = None
        if d.get("sha256") in kept:
            entry["kept"] = True
            again = store_documents.blob_sha256(conn, d["sha256"])
            if again is not None and again[0] == d["sha256"]:
                source = ("store", d["sha256"])
            else:
                entry["status"] = "changed"
                entry["current_sha256"] = again[0] if again else None
        else:
            entry["kept"] = False
            before = began is None or str(event["recorded_at"]) < began
            entry["note"] = NOT_KEPT if before else NOT_KEPT_REMOVED
            current = file_sha256(d["path"]) if isinstance(d.get("path"), str) else None
            if current is None:
                entry["status"] = "missing"
            elif current != d.get("sha256"):
                entry["status"] = "changed"
                entry["current_sha256"] = current
            else:
                source = ("file", d["path"])
        if source is not None:
            name = Path(d["path"]).name if isinstance(d.get("path"), str) else str(d.get("name"))
            member = f"documents/{event['seq']:04d}-{k}-{_safe(str(event['step_id']))}/{_safe(name)}"
            entry["status"] = "included"
            entry["member"] = member
            entry["source"] = source[0]
            sources[member] = source
            stamps[member] = _zip_time(event["recorded_at"], tz)
        doc_list.append(entry)
    return doc_list, sources, stamps


def _copy_kept(zf: zipfile.ZipFile, info: zipfile.ZipInfo, conn: sqlite3.Connection, sha256: str) -> dict[str, Any]:
    """Copy a document's kept bytes into the zip; the sha256 and size of what went in."""
    digest = hashlib.sha256()
    size = 0
    with zf.open(info, "w") as dst:
        for chunk in store_documents.read(conn, sha256):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def pack(db: str | Path, run_id: str, output: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Write one run's evidence into a zip at *output*; returns its summary and manifest hash."""
    target = Path(output)
    if target.exists() and not force:
        raise AuditError(_("{file} already exists; choose another name or pass --force").format(file=target), path=str(target))
    if not target.parent.exists():
        raise AuditError(_("folder {folder} does not exist; create it first").format(folder=target.parent), path=str(target))
    # the pack shows one moment of the database, its documents' bytes included
    with Store(db, readonly=True) as store, store_audit.read_snapshot(store.conn) as conn:
        return _pack(store, conn, run_id, target)


def _pack(store: Store, conn: sqlite3.Connection, run_id: str, target: Path) -> dict[str, Any]:
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
    doc_list, sources, stamps = _pack_documents(conn, events, defs_tz)
    members["documents.json"] = (json.dumps(doc_list, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    members["README.txt"] = readme(run_id, run["definition_id"], run["period"], defs_tz, target.name, events).encode("utf-8")
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
            for member, (kind, where) in sources.items():
                info = _zip_entry(member, stamps[member])
                listing[member] = _copy_kept(zf, info, conn, where) if kind == "store" else _copy_into(zf, info, Path(where))
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
        "documents": {s: sum(1 for d in doc_list if d.get("status") == s) for s in ("included", "changed", "missing")},
        "not_kept": [{"event": d["event"], "name": d["name"], "path": d["path"], "status": d["status"], "note": d["note"]}
                     for d in doc_list if not d["kept"]],
    }


def readme(run_id: str, definition: str, period: str | None, zone: str, name: str, events: list[dict[str, Any]]) -> str:
    """README.txt of a pack: what each member is, and the run's first event to check by hand."""
    first_text = canonical({k: events[0][k] for k in CHAIN_FIELDS}) if events else "(the run has no events)"
    return _PACK_README.format(
        run_id=run_id, definition=definition, period=period or "-", zone=zone, name=name,
        first=first_text, first_hash=events[0]["hash"] if events else "-", documents=README_DOCUMENTS,
    )
