"""The check of an evidence pack without the database: :func:`verify_pack`.

A pack holds only what its run's chain accounts for: the fixed members :mod:`~sopengine.audit.packs`
writes, each checked against the events (the chain itself, the definition by its hash,
events.csv and README.txt made again, run.json and verification.json compared), and the
documents the events recorded. Any other member, any member name that could write outside
the folder it is unpacked in, and any member that disagrees with the events is refused.

A document the database kept (recorded after it got its document store) is always included:
the pack takes its bytes from the database. So a pack that lists such a document as missing
or changed has lost it — its file removed from the pack, or the database's copy removed or
altered before the pack was made — and is refused. Only a document recorded before the store,
kept by its path then, may be missing or changed in a pack that holds.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.audit.canonical import parse_head
from sopengine.audit.findings import AuditError, Text, _text
from sopengine.audit.history import write_history_csv
from sopengine.audit.packs import FIXED_MEMBERS, PACK_FORMAT, README_DOCUMENTS, README_DOCUMENTS_BEFORE_STORE, _pack_entries, readme
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
from sopengine.chain import GENESIS, canonical, event_hash
from sopengine.documents import NOT_KEPT
from sopengine.errors import InputError
from sopengine.i18n import N_, _


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


def _made_again_problems(csv_bytes: bytes, readme_bytes: bytes | None, events: list[dict[str, Any]], definition: bytes,
                         manifest: dict[str, Any]) -> list[Text]:
    """events.csv and README.txt made again from events.json and definition.yaml, and compared byte for byte."""
    from sopengine.definition.loader import check_text, compile_definition

    try:
        checked = check_text(definition.decode("utf-8"), "definition.yaml")
    except UnicodeDecodeError:
        return [_text(N_("definition.yaml is not UTF-8 text, so events.csv cannot be made again from it"))]
    if not checked.ok or checked.definition is None:
        return [_text(N_("definition.yaml cannot be compiled by this sopengine, so events.csv cannot be made again and"
                         " compared"))]
    compiled = compile_definition(checked.definition, checked.text or "")
    buf = io.BytesIO()
    try:
        write_history_csv(_pack_entries(events, compiled), buf)
    except (TypeError, ValueError, AttributeError) as exc:  # times or names of a kind the engine never writes
        return [_text(N_("events.csv cannot be made again from events.json ({error}): its events hold values the engine"
                         " never writes"), error=_reason(exc))]
    problems = []
    if buf.getvalue() != csv_bytes:
        problems.append(_text(N_("events.csv: it differs from the events of events.json (made again from them and the"
                                 " definition): the spreadsheet was altered")))
    if readme_bytes is not None and not _readme_holds(readme_bytes, events, compiled, manifest):
        problems.append(_text(N_("README.txt: it differs from the text a pack of these events holds: the instructions"
                                 " were altered")))
    return problems


def _readme_holds(data: bytes, events: list[dict[str, Any]], compiled: dict[str, Any], manifest: dict[str, Any]) -> bool:
    """Whether README.txt is the one :func:`~sopengine.audit.packs.pack` writes for these events
    (under the pack's file name when it was made, which the text itself says)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    said = re.search(r"^Check it without the database: sopengine audit verify-pack (.*)$", text, re.M)
    started = events[0].get("payload") if events and events[0].get("kind") == "run_started" else None
    if said is None or not isinstance(started, dict):
        return False
    zone = compiled.get("timezone") or clock.DEFAULT_ZONE
    try:
        made = readme(str(manifest.get("run_id")), str(started.get("definition")), started.get("period"), zone,
                      said.group(1), events)
    except (KeyError, TypeError, ValueError):
        return False
    # a pack made before the document store says so in two lines; both are what sopengine wrote
    return text in (made, made.replace(README_DOCUMENTS, README_DOCUMENTS_BEFORE_STORE))


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


def _unsafe_members(zf: zipfile.ZipFile) -> list[Text]:
    """Members whose name or kind could write outside the folder the pack is unpacked in."""
    problems = []
    for info in zf.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
            what = N_("an absolute path")
        elif "\\" in name:
            what = N_("a backslash")
        elif ".." in name.split("/"):
            what = N_("'..'")
        elif any(ord(c) < 32 or ord(c) == 127 for c in name):
            what = N_("a control character")
        elif stat.S_ISLNK(info.external_attr >> 16):
            what = N_("a symbolic link")
        else:
            continue
        problems.append(_text(N_("{member!r}: a member name with {what}, which could write outside the folder the pack"
                                 " is unpacked in; sopengine never writes one, so the pack was altered"),
                              member=name, what=_text(what)))
    return problems


_VERIFICATION_KEYS = frozenset({"run_id", "ok", "events", "first_hash", "run_head", "problem", "database_head", "checked_at"})
_MANIFEST_KEYS = frozenset({"format", "run_id", "definition", "period", "created_at", "run_head", "database_head", "members"})


def _is_time(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value) is not None


def _verification_problems(verification: dict[str, Any], events: list[dict[str, Any]], run_id: Any,
                           chain_ok: bool) -> list[Text]:
    """verification.json against the events: what the check said when the pack was made must be
    what the events say now."""
    problems = []
    run_head = events[-1].get("hash") if events else GENESIS
    odd = sorted(set(verification) ^ _VERIFICATION_KEYS)
    if odd:
        problems.append(_text(N_("verification.json: its fields are not those of a pack's check ({fields})"),
                              fields=", ".join(odd)))
    if verification.get("run_id") != run_id:
        problems.append(_text(N_("verification.json: its run {run!r} is not the pack's {pack!r}"),
                              run=verification.get("run_id"), pack=run_id))
    if verification.get("events") != len(events):
        problems.append(_text(N_("verification.json: it counts {counted!r} events, events.json holds {held}"),
                              counted=verification.get("events"), held=len(events)))
    if verification.get("first_hash") != (events[0].get("hash") if events else None):
        problems.append(_text(N_("verification.json: its first hash differs from the first event of events.json")))
    if verification.get("run_head") != run_head:
        problems.append(_text(N_("verification.json: its run head differs from the last event of events.json")))
    if not _is_time(verification.get("checked_at")):
        problems.append(_text(N_("verification.json: its checked_at {value!r} is not a time as sopengine writes it"),
                              value=verification.get("checked_at")))
    ok, said = verification.get("ok"), verification.get("problem")
    if ok is not True:
        message = said.get("message") if isinstance(said, dict) else None
        problems.append(_text(N_("verification.json: the chain was already broken when the pack was made: {problem}"),
                              problem=message or _text(N_("see the file"))))
    elif said is not None:
        problems.append(_text(N_("verification.json: it says the chain holds yet records a problem")))
    elif not chain_ok:
        problems.append(_text(N_("verification.json: it says the chain holds, but the chain of events.json does not")))
    return problems


def _manifest_problems(manifest: dict[str, Any], events: list[dict[str, Any]], verification: dict[str, Any]) -> list[Text]:
    """manifest.json's own fields against the events and the check."""
    problems = []
    run_head = events[-1].get("hash") if events else GENESIS
    odd = sorted(set(manifest) ^ _MANIFEST_KEYS)
    if odd:
        problems.append(_text(N_("manifest.json: its fields are not those of a pack's manifest ({fields})"),
                              fields=", ".join(odd)))
    if manifest.get("run_head") != run_head:
        problems.append(_text(N_("manifest.json: its run head differs from the last event of events.json")))
    started = events[0].get("payload") if events and events[0].get("kind") == "run_started" else None
    if isinstance(started, dict):
        for field in ("definition", "period"):
            if manifest.get(field) != started.get(field):
                problems.append(_text(N_("manifest.json: its {field} {value!r} differs from the run_started event's"
                                         " {recorded!r}"), field=field, value=manifest.get(field),
                                      recorded=started.get(field)))
    if manifest.get("database_head") != verification.get("database_head"):
        problems.append(_text(N_("manifest.json: its database head differs from the one verification.json recorded")))
    if not _is_time(manifest.get("created_at")):
        problems.append(_text(N_("manifest.json: its created_at {value!r} is not a time as sopengine writes it"),
                              value=manifest.get("created_at")))
    elif _is_time(verification.get("checked_at")) and verification["checked_at"] > manifest["created_at"]:
        problems.append(_text(N_("verification.json: it was checked after the pack was made (checked_at after the"
                                 " manifest's created_at)")))
    return problems


def _lost_kept_documents(documents: list[dict[str, Any]], not_included: list[dict[str, Any]],
                         recorded_at: dict[int, Any]) -> list[Text]:
    """Documents the database kept that the pack lists as changed or missing (see the module's note).

    An entry of a pack made since the document store says whether the document was kept
    (``kept``) and, if not, why (``note``). One that was kept, or was not though recorded
    after the store began, is refused. One said to be recorded before the store is refused
    too when the chain shows the store already existed: the pack includes, from the store, a
    document an event recorded no later than it. Entries without ``kept`` (packs made before
    the store) keep their missing and changed documents.
    """
    problems: list[Text] = []
    kept_since: tuple[str, Any] | None = None  # the earliest recorded time of a document included from the store
    for d in documents:
        event = d.get("event")
        when = recorded_at.get(event) if isinstance(event, int) else None
        if d.get("status") == "included" and d.get("kept") is True and d.get("source") == "store" \
                and isinstance(when, str) and (kept_since is None or when < kept_since[0]):
            kept_since = (when, d.get("event"))
    for d in not_included:
        if "kept" not in d:
            continue
        name, seq, status = d.get("name"), d.get("event"), d.get("status")
        when = recorded_at.get(seq) if isinstance(seq, int) else None
        if d.get("kept") is not False or d.get("note") != NOT_KEPT:
            problems.append(_text(N_("documents.json: {name!r} of event {seq} was recorded after the database began to"
                                     " keep its documents, yet the pack lists it as {status}: a kept document is always"
                                     " included, so its file was removed from the pack, or the database's copy was removed"
                                     " or altered"), name=name, seq=seq, status=status))
        elif kept_since is not None and isinstance(when, str) and when >= kept_since[0]:
            problems.append(_text(N_("documents.json: {name!r} of event {seq} is said to be recorded before the document"
                                     " store, yet the pack includes from the store a document that event {kept} recorded"
                                     " no later: it was kept, and its file was removed from the pack"),
                                  name=name, seq=seq, kept=kept_since[1]))
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
        unsafe = _unsafe_members(zf)
        if unsafe:
            problems.extend(unsafe)
            result.update(ok=False, first_problem=problems[0])
            return result
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
        recorded_at: dict[int, Any] = {}  # each event's recorded time, as the chain holds it
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
            recorded_at[seq] = e.get("recorded_at")
            payload = e.get("payload")
            if isinstance(payload, dict):
                for d in payload.get("documents") or []:
                    if isinstance(d, dict):
                        recorded_docs.append((seq, d.get("name"), d.get("sha256")))
        chain_ok = len(problems) == before_chain
        run_head = events[-1].get("hash") if events else GENESIS
        result["events"] = len(events)
        result["run_head"] = run_head
        problems.extend(_verification_problems(verification, events, run_id, chain_ok))
        problems.extend(_manifest_problems(manifest, events, verification))
        started = events[0] if events else {}
        pinned = (started.get("payload") or {}).get("definition_hash") if isinstance(started.get("payload"), dict) else None
        if hashlib.sha256(zf.read("definition.yaml")).hexdigest() != pinned:
            problems.append(_text(N_("definition.yaml: its sha256 is not the definition hash the run_started event recorded")))
        # every file the chain recorded is accounted for: included, or listed as changed or missing
        # keyed by their JSON text: a name or hash of the wrong type must not stop the check
        remaining = Counter(canonical(list(r)) for r in recorded_docs)
        included: set[str] = set()  # the document members the chain accounts for
        not_included: list[dict[str, Any]] = []  # listed as changed or missing
        for d in documents:
            key = canonical([d.get("event"), d.get("name"), d.get("sha256")])
            if remaining[key] <= 0:
                problems.append(_text(N_("documents.json: {name!r} of event {seq} is not a file the chain recorded"),
                                      name=d.get("name"), seq=d.get("event")))
                continue
            remaining[key] -= 1
            status = d.get("status")
            if status in ("changed", "missing"):
                not_included.append(d)
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
            if not member.startswith("documents/") or member in included:
                problems.append(_text(N_("documents.json: {name!r} of event {seq} names {member} as its file, which is"
                                         " not a document member of its own"), name=d.get("name"), seq=d.get("event"),
                                      member=member))
                continue
            included.add(member)
            if hashlib.sha256(zf.read(member)).hexdigest() != d.get("sha256"):
                problems.append(_text(N_("{member}: its sha256 differs from the one recorded for {name!r}"), member=member,
                                      name=d.get("name")))
        problems.extend(_lost_kept_documents(documents, not_included, recorded_at))
        for seq, name, digest in recorded_docs:
            key = canonical([seq, name, digest])
            if remaining[key] > 0:
                remaining[key] -= 1
                problems.append(_text(N_("documents.json: event {seq} recorded {name!r} (sha256 {sha256}…), which the"
                                         " pack neither includes nor lists as changed or missing"),
                                      seq=seq, name=name, sha256=str(digest)[:12]))
        for name in sorted(names - FIXED_MEMBERS - included):
            problems.append(_text(N_("{member}: the run's chain does not account for it (a pack holds its fixed members"
                                     " and the documents its events recorded, nothing else)"), member=name))
        if chain_ok:  # held to a chain that does not hold, they would only repeat its problem
            readme = zf.read("README.txt") if "README.txt" in names else None
            problems.extend(_made_again_problems(zf.read("events.csv"), readme, events, zf.read("definition.yaml"), manifest))
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

