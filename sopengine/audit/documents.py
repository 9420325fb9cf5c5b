"""The documents the events recorded: each one's kept bytes re-hashed, and the documents table compared.

``audit verify --documents`` re-hashes the bytes the document store keeps for every
document a (chained) event recorded, and compares the sha256 with the one the event
recorded; the documents table must hold one matching row per recorded document. A
document recorded before the database had its store (a database of release 0.1, say) was
kept by path only: its file at the recorded path is re-hashed instead, and the result says
so. Bytes kept that no document refers to (a step refused after its file was stored) are
counted, not faulted; bytes that do not hash to their key are. The allowed folders and the
size limit are compared with the office events that set them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from sopengine.audit.findings import _joined, _problem, _text
from sopengine.i18n import N_
from sopengine.store import audit as store_audit
from sopengine.store import documents as store_documents
from sopengine.store import people as store_people


_DOCUMENT_FIELDS = store_audit.DOCUMENT_COLUMNS
"""What a documents row records, each also in its event (the last two as its recorded_at and person)."""


def _document_check(conn: sqlite3.Connection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Re-hash every output file the (chained) events recorded; compare the documents table too."""
    recorded = []
    for seq, run_id, step_id, recorded_at, person, payload in store_audit.document_event_rows(conn):
        try:
            docs = json.loads(payload).get("documents") or []
        except (ValueError, AttributeError):
            continue  # an unreadable payload is the chain check's finding
        for d in docs:
            if isinstance(d, dict):
                recorded.append({"event": seq, "run_id": run_id, "step": step_id, "name": d.get("name"),
                                 "path": d.get("path"), "sha256": d.get("sha256"), "size": d.get("size"),
                                 "recorded_at": recorded_at, "recorded_by": person})
    rows: dict[tuple[Any, ...], list[int]] = {}
    for doc_id, *values in store_audit.document_rows(conn):
        rows.setdefault(tuple(values), []).append(doc_id)
    result: dict[str, Any] = {"checked": len(recorded), "ok": 0, "changed": [], "missing": [], "unrecorded": [],
                              "kept": 0, "not_kept": [], "unreferenced": 0}
    problems = []
    unmatched = []
    began = store_documents.store_began(conn)
    blobs = {b["sha256"]: b for b in store_documents.blobs(conn)}
    rehashed: dict[str, tuple[str, int] | None] = {}

    def kept_hash(sha256: str) -> tuple[str, int] | None:
        if sha256 not in rehashed:
            rehashed[sha256] = store_documents.blob_sha256(conn, sha256) if sha256 in blobs else None
        return rehashed[sha256]

    for entry in recorded:
        key = (entry["run_id"], entry["step"], entry["name"], entry["path"], entry["sha256"], entry["size"],
               entry["recorded_at"], entry["recorded_by"])
        ids = rows.get(key)
        if ids:
            ids.pop(0)
        else:
            unmatched.append((entry, key))
        where = {"name": entry["name"], "run": entry["run_id"], "seq": entry["event"], "path": entry["path"]}
        digest = entry["sha256"] if isinstance(entry["sha256"], str) else None
        stored = kept_hash(digest) if digest else None
        if stored is not None:
            entry["source"] = "store"
            if stored[0] != digest:
                result["changed"].append(dict(entry, current_sha256=stored[0]))
                problems.append(_problem("document_changed", _text(N_(
                    "document {name!r} of run {run} (event {seq}): the bytes the database keeps for it no longer match"
                    " its sha256 (the document store was edited)"), **where), seq=entry["event"], run_id=entry["run_id"]))
            else:
                result["ok"] += 1
                result["kept"] += 1
            continue
        # Not kept: before the store existed the file stayed where it was, so it is read there.
        entry["source"] = "file"
        before = began is None or (isinstance(entry["recorded_at"], str) and entry["recorded_at"] < began)
        current = file_sha256(entry["path"]) if isinstance(entry["path"], str) else None
        if before:
            result["not_kept"].append(dict(entry, file="missing" if current is None else
                                           "ok" if current == digest else "changed"))
        else:
            problems.append(_problem("document_not_kept", _text(N_(
                "document {name!r} of run {run} (event {seq}) was recorded after the database got its document store,"
                " but its bytes are not in it (removed behind the engine's back)"), **where),
                seq=entry["event"], run_id=entry["run_id"]))
        if current is None:
            result["missing"].append(entry)
            problems.append(_problem("document_missing", _text(N_("document {name!r} of run {run} (event {seq}) is"
                                                                  " missing: {path}"), **where),
                                     seq=entry["event"], run_id=entry["run_id"]))
        elif current != digest:
            result["changed"].append(dict(entry, current_sha256=current))
            problems.append(_problem("document_changed", _text(N_("document {name!r} of run {run} (event {seq}) has"
                                                                  " changed since it was recorded: {path}"), **where),
                                     seq=entry["event"], run_id=entry["run_id"]))
        else:
            result["ok"] += 1
    referenced = {e["sha256"] for e in recorded} | store_documents.recorded_hashes(conn)
    for sha256 in sorted(set(blobs) - referenced):
        result["unreferenced"] += 1
        again = kept_hash(sha256)
        if again is not None and again[0] != sha256:
            problems.append(_problem("document_changed", _text(N_(
                "the bytes the database keeps under sha256 {sha256}… no longer match it (the document store was edited)"),
                sha256=sha256[:16])))
    left = [(key, doc_id) for key, ids in rows.items() for doc_id in ids]
    for entry, key in unmatched:
        where = {"name": entry["name"], "run": entry["run_id"], "seq": entry["event"]}
        # a row of the same document that differs: say in what (recorded_by against the event's person)
        twin = next((row for row, _ in left if row[:3] == key[:3]), None)
        if twin is None:
            message = _text(N_("document {name!r} of run {run} (event {seq}) has no row in the documents table that"
                               " matches it: the table was edited"), **where)
        else:
            differ = _joined([_text(N_("{field} ({table!r} in the table, {event!r} in the event)"),
                                    field=name, table=twin[i], event=key[i])
                              for i, name in enumerate(_DOCUMENT_FIELDS) if twin[i] != key[i]])
            message = _text(N_("document {name!r} of run {run} (event {seq}) has no row in the documents table that"
                               " matches it; its row differs in {differences}: the table was edited"),
                            **where, differences=differ)
        problems.append(_problem("document_record", message, seq=entry["event"], run_id=entry["run_id"]))
    for (run_id, _step, name, path, sha256, *_rest), doc_id in sorted(left, key=lambda item: item[1]):
        result["unrecorded"].append({"id": doc_id, "run_id": run_id, "name": name, "path": path, "sha256": sha256})
        problems.append(_problem(
            "document_record", _text(N_("document {name!r} of run {run} ({path}) in the documents table matches no"
                                        " event: the table was edited"), name=name, run=run_id, path=path),
            run_id=run_id,
        ))
    problems.extend(_rule_problems(conn))
    return result, problems


def _rule_problems(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The allowed folders and the size limit in their tables, against the office events that set them."""
    folders: set[str] = set()
    limit: int | None = None  # the default
    for e in store_people.office_events(conn):
        if not str(e["kind"]).startswith("document_"):
            continue
        try:
            payload = json.loads(e["payload"])
        except (TypeError, ValueError):
            continue  # an unreadable payload is the chain check's finding
        if e["kind"] == "document_folder_allowed":
            folders.add(str(payload.get("folder")))
        elif e["kind"] == "document_folder_disallowed":
            folders.discard(str(payload.get("folder")))
        elif e["kind"] == "document_max_size_set":
            limit = None if payload.get("default") else payload.get("max_size")
    problems = []
    table = set(store_documents.folder_paths(conn)) if store_documents.has_store(conn) else set()
    for folder in sorted(table - folders):
        problems.append(_problem("document_rules", _text(N_(
            "folder {folder} is allowed in the document_folders table, but no office event allowed it (the table was"
            " edited)"), folder=folder)))
    for folder in sorted(folders - table):
        problems.append(_problem("document_rules", _text(N_(
            "folder {folder} was allowed by an office event but is missing from the document_folders table (the table"
            " was edited)"), folder=folder)))
    stored = store_documents.setting(conn, store_documents.MAX_SIZE_KEY)
    held = int(stored["value"]) if stored else None
    if held != limit:
        problems.append(_problem("document_rules", _text(N_(
            "the size limit for documents is {table} in the settings table, but the office events set {events} (the table"
            " was edited)"), table=held if held is not None else _text(N_("the default")),
            events=limit if limit is not None else _text(N_("the default")))))
    return problems


def file_sha256(path: str | Path) -> str | None:
    """The sha256 of a file's bytes, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()
