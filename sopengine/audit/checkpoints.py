"""Anchored heads: checkpoints an auditor signs and keeps apart from the database.

A hash chain shows an edit, but not a history rebuilt whole: whoever can write the file can
edit an event and hash its run again, cut a tail and write it anew, or renumber the events,
and every chain still holds. A *checkpoint* pins the history as it stood at one moment,
outside the database: ``audit checkpoint`` verifies the database, then signs with the
auditor's Ed25519 key a record of

* ``seq`` and ``office_seq``: the last event number and the last office event number;
* ``digest`` and ``office_digest``: a running hash over every event up to those numbers, in
  number order, of each event's number, run and stored hash (:func:`link_digest`), so that
  it can be computed again from the database alone: an edited event (its stored hash, or
  those after it once its run is hashed again), a deleted or inserted event, a tail written
  anew and a renumbering each change it;
* ``events`` and ``office_events``: how many events those are;
* ``head``: the database head then (``HASH@SEQ``), to compare with heads noted elsewhere;
* ``recorded`` and ``office_recorded``: the newest ``recorded_at`` among those events (the
  office's clock, not the auditor's; none when there are none);
* ``time``: the real time it was signed (no ``--now``), ``prev``: the sha256 of the line
  before it (none for the first), and the signer's ``public_key``;

and appends it as one line of JSON to the auditor's checkpoint file. ``audit verify
--checkpoints FILE`` checks every line's signature (against ``--public-key`` when given),
their order, and computes every digest again; it also names any event numbered after a
checkpoint whose recorded time is more than :data:`GRACE_SECONDS` before the newest recorded
time that checkpoint signed (work written after the checkpoint and dated before it). The
comparison is between two times of the office's own clock, so neither an auditor's clock
that runs ahead nor a checkpoint signed later over a backup copy makes later work look
forged. A line of the first format (``sopengine-checkpoint/1``, without ``recorded``) is
still read; its events are judged against its signing time, less the grace.

What no checkpoint can show: work forged after the last checkpoint and dated after it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from json.encoder import encode_basestring as _json_str
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.audit.canonical import _ENCODE
from sopengine.audit.chainpass import PassResult
from sopengine.audit.findings import AuditError, _problem, _text
from sopengine.chain import GENESIS, canonical
from sopengine.i18n import N_, _
from sopengine.store import audit as store_audit

FORMAT = "sopengine-checkpoint/2"
FORMAT_1 = "sopengine-checkpoint/1"
"""The first format, without ``recorded``: still read and verified."""

GRACE_SECONDS = 60
"""How far before the newest recorded time a checkpoint signed an event numbered after it may
be recorded: a write in flight when the checkpoint was taken (it read the office's clock
before it waited for the write lock and committed)."""

SIGNED_FIELDS_1 = ("format", "time", "head", "seq", "office_seq", "events", "office_events", "digest", "office_digest",
                   "prev", "public_key")
SIGNED_FIELDS = (*SIGNED_FIELDS_1, "recorded", "office_recorded")
"""The fields of a checkpoint line; the signature is over their canonical JSON."""

_FIELDS = {FORMAT: SIGNED_FIELDS, FORMAT_1: SIGNED_FIELDS_1}


# -- the digest --------------------------------------------------------------------------------------

def link_digest(previous: str, seq: Any, run_id: Any, stored_hash: Any) -> str:
    """One step of a checkpoint's running digest: sha256 of ``[previous, seq, run_id, hash]``
    as canonical JSON (``json.dumps(..., separators=(",", ":"), ensure_ascii=False)``), in hex.
    The digest of no events is 64 zeros."""
    text = "[%s,%s,%s,%s]" % (_json_str(previous), _member(seq), _member(run_id), _member(stored_hash))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _member(value: Any) -> str:
    if type(value) is str:
        return _json_str(value)
    if type(value) is int:
        return str(value)
    return _ENCODE(value)


@dataclass
class _Point:
    """A checkpoint's place in one chain (runs' events or the office's): what to compare there."""

    seq: int
    time: str
    """The checkpoint's time (empty for the point of the whole history)."""
    recorded: str | None = None
    """The newest recorded time the checkpoint signed (format 2; None for format 1, whose
    events are judged against ``time``)."""
    found: tuple[str, int] | None = None
    """``(digest, events)`` computed up to ``seq``."""
    newest: str | None = None
    """The newest ``recorded_at`` computed up to ``seq``."""

    @property
    def floor(self) -> str:
        """The recorded time an event numbered after this point must not precede."""
        if self.recorded is not None:
            return _less_grace(self.recorded)
        return _less_grace(self.time) if self.time else ""


Late = tuple[int, Any, str, _Point]
"""An event recorded too early: ``(seq, run, recorded_at, the checkpoint it precedes)``."""


def _digest_pass(rows: Iterable[tuple[Any, ...]], points: list[_Point], late: list[Late]) -> None:
    """One pass in number order: the digest, count and newest recorded time at each point, and
    the events recorded too early.

    *points* sorted by ``seq``. An event numbered after a point and recorded before that
    point's :attr:`_Point.floor` goes into *late*.
    """
    digest, n = GENESIS, 0
    newest: str | None = None
    i = 0  # the first point not yet reached
    floor = ""  # the recorded time an event must not precede (the highest floor of the points passed)
    floor_point: _Point | None = None
    link = link_digest
    for seq, run_id, recorded_at, stored in rows:
        while i < len(points) and isinstance(seq, int) and seq > points[i].seq:
            points[i].found, points[i].newest = (digest, n), newest
            if points[i].floor > floor:
                floor, floor_point = points[i].floor, points[i]
            i += 1
        if floor_point is not None and isinstance(recorded_at, str) and recorded_at < floor:
            late.append((seq, run_id, recorded_at, floor_point))
        digest = link(digest, seq, run_id, stored)
        n += 1
        if isinstance(recorded_at, str) and (newest is None or recorded_at > newest):
            newest = recorded_at
    for point in points[i:]:
        if point.found is None:
            point.found, point.newest = (digest, n), newest


def _less_grace(time: str) -> str:
    when = clock.from_iso(time)
    return clock.iso(when - timedelta(seconds=GRACE_SECONDS)) or "" if when else ""


# -- keys ----------------------------------------------------------------------------------------------

def _crypto() -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return serialization, ed25519


def keygen(key_file: str | Path) -> dict[str, Any]:
    """Write a new Ed25519 key pair: the private key at *key_file* (PEM, mode 0600, never
    replaced) and its public key beside it at ``KEYFILE.pub`` (PEM)."""
    serialization, ed25519 = _crypto()
    private_path = Path(key_file)
    public_path = Path(f"{private_path}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise AuditError(_("{file} already exists; choose another name (a key is never replaced)").format(file=path),
                             path=str(path))
    if not private_path.parent.is_dir():
        raise AuditError(_("folder {folder} does not exist; create it first").format(folder=private_path.parent),
                         path=str(private_path))
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_pem)
        os.chmod(private_path, 0o600)  # whatever the umask
        with open(public_path, "xb") as fh:
            fh.write(public_pem)
    except OSError as exc:
        private_path.unlink(missing_ok=True)
        raise AuditError(_("cannot write {file} ({reason}); choose a folder you may write to — nothing was written").format(
            file=private_path, reason=exc.strerror or exc), path=str(private_path)) from None
    return {"key": str(private_path), "public_key_file": str(public_path), "public_key": _raw_hex(key.public_key())}


def _raw_hex(public_key: Any) -> str:
    serialization, _ed = _crypto()
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_private_key(key_file: str | Path) -> Any:
    """The Ed25519 private key in *key_file*, or :class:`AuditError` saying what is wrong."""
    serialization, ed25519 = _crypto()
    path = Path(key_file)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise AuditError(_("cannot read the key {file} ({reason}); make one with 'sopengine audit keygen {file}'").format(
            file=path, reason=exc.strerror or exc), path=str(path)) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuditError(_("the key {file} may be read by others (mode {mode:o}); make it private with 'chmod 600 {file}'"
                           ).format(file=path, mode=stat.S_IMODE(mode)), path=str(path))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise AuditError(_("{file} is not an unencrypted Ed25519 private key in PEM form; make one with 'sopengine audit"
                           " keygen KEYFILE'").format(file=path), path=str(path))
    return key


def public_key_hex(text: str) -> str:
    """An auditor's public key given as 64 hex digits or as the file 'audit keygen' wrote (KEYFILE.pub)."""
    raw = text.strip().lower()
    if len(raw) == 64 and all(c in "0123456789abcdef" for c in raw):
        return raw
    serialization, ed25519 = _crypto()
    path = Path(text)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditError(_("cannot read the public key {key} ({reason}); give the KEYFILE.pub 'sopengine audit keygen'"
                           " wrote, or the key's 64 hex digits").format(key=text, reason=exc.strerror or exc)) from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise AuditError(_("{file} is not an Ed25519 public key in PEM form; give the KEYFILE.pub 'sopengine audit keygen'"
                           " wrote").format(file=path), path=str(path))
    return _raw_hex(key)


def _signature_holds(record: dict[str, Any], signature: Any) -> bool:
    _serialization, ed25519 = _crypto()
    from cryptography.exceptions import InvalidSignature

    try:
        key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(record["public_key"]))
        key.verify(bytes.fromhex(signature), signed_bytes(record))
    except (InvalidSignature, ValueError, TypeError, KeyError):
        return False
    return True


def signed_bytes(record: dict[str, Any]) -> bytes:
    """What a checkpoint's signature is over: the canonical JSON of its format's fields (all
    but ``signature``)."""
    fields = _FIELDS.get(str(record.get("format")), SIGNED_FIELDS)
    return canonical({k: record.get(k) for k in fields}).encode("utf-8")


# -- the checkpoint file -------------------------------------------------------------------------------

@dataclass
class CheckpointFile:
    """A checkpoint file read and its lines checked on their own (format, signature, order, key).

    :meth:`check` then holds the database to them; :func:`sopengine.audit.verify.verify` calls
    it inside its one snapshot.
    """

    path: Path
    expected_key: str | None = None
    lines: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    """``(line number, text, record)`` of every checkpoint that could be read."""
    problems: list[dict[str, Any]] = field(default_factory=list)
    current: dict[str, Any] | None = None
    """With ``want_current``, the digests of the whole history in the snapshot checked."""
    want_current: bool = False
    count: int = 0
    """Checkpoint lines in the file, read or not."""

    @classmethod
    def read(cls, path: str | Path, public_key: str | None = None, *, missing_ok: bool = False) -> CheckpointFile:
        file = cls(Path(path), public_key_hex(public_key) if public_key else None)
        try:
            text = file.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return file
            raise AuditError(_("no checkpoint file at {file}; make the first checkpoint with 'sopengine audit checkpoint"
                               " --key KEYFILE --file {file}'").format(file=file.path), path=str(file.path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditError(_("cannot read the checkpoint file {file} ({reason})").format(
                file=file.path, reason=getattr(exc, "strerror", None) or exc), path=str(file.path)) from None
        file._read_lines(text)
        return file

    def _problem(self, n: int, message: Any) -> None:
        self.problems.append(_problem("checkpoint", message, checkpoint=n))

    def _read_lines(self, text: str) -> None:
        previous_text: str | None = None
        first_key: str | None = None
        n = 0
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            n += 1
            self.count = n
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or record.get("format") not in _FIELDS or not _well_formed(record):
                self._problem(n, _text(N_("checkpoint {n} ({file} line {line}) is not a checkpoint sopengine writes: it was"
                                          " edited, or the file is not a checkpoint file"), n=n, file=self.path.name,
                                       line=number))
                previous_text = line
                continue
            if not _signature_holds(record, record.get("signature")):
                self._problem(n, _text(N_("checkpoint {n} ({file} line {line}): its signature does not hold: the line was"
                                          " edited after it was signed"), n=n, file=self.path.name, line=number))
            key = record["public_key"]
            if self.expected_key is not None and key != self.expected_key:
                self._problem(n, _text(N_("checkpoint {n} is signed by key {key}…, not by the key given ({given}…)"),
                                       n=n, key=key[:16], given=self.expected_key[:16]))
            elif self.expected_key is None and first_key is not None and key != first_key:
                self._problem(n, _text(N_("checkpoint {n} is signed by key {key}…, not by the key of the first checkpoint"
                                          " ({first}…): give the auditor's key with --public-key"),
                                       n=n, key=key[:16], first=first_key[:16]))
            first_key = first_key or key
            want_prev = hashlib.sha256(previous_text.encode("utf-8")).hexdigest() if previous_text is not None else None
            if record["prev"] != want_prev:
                self._problem(n, _text(N_("checkpoint {n} does not follow the line before it: a checkpoint was removed,"
                                          " or the lines were reordered or edited"), n=n))
            if self.lines:
                before = self.lines[-1][2]
                if record["seq"] < before["seq"] or (record["office_seq"] or 0) < (before["office_seq"] or 0) \
                        or record["time"] < before["time"]:
                    self._problem(n, _text(N_("checkpoint {n} goes back in event numbers or time from the one before it"),
                                           n=n))
            self.lines.append((n, line, record))
            previous_text = line

    @property
    def last_text(self) -> str | None:
        return self.lines[-1][1] if self.lines else None

    def keys(self) -> list[str]:
        return sorted({record["public_key"] for _n, _line, record in self.lines})

    def check(self, conn: sqlite3.Connection, scan: PassResult, high: int, office_seq: int | None,
              problems: list[dict[str, Any]]) -> dict[str, Any]:
        """Hold the database (one snapshot, after the chain pass) to every checkpoint; the summary."""
        problems.extend(self.problems)
        events, office = [], []
        for n, _line, record in self.lines:
            if record["seq"] > high:
                problems.append(_problem("checkpoint", _text(
                    N_("checkpoint {n} ({time}) was signed at event {seq}, but the last event now is {last}: events up to"
                       " the checkpoint were cut off"), n=n, time=record["time"], seq=record["seq"], last=high),
                    checkpoint=n))
            if (record["office_seq"] or 0) > (office_seq or 0):
                problems.append(_problem("checkpoint", _text(
                    N_("checkpoint {n} ({time}) was signed at office event {seq}, but the last office event now is {last}:"
                       " office events up to the checkpoint were cut off"), n=n, time=record["time"],
                    seq=record["office_seq"], last=office_seq or 0), checkpoint=n))
        for n, _line, record in self.lines:
            second = record["format"] != FORMAT_1  # it signed the newest recorded times
            events.append((n, record, _Point(record["seq"], record["time"], record["recorded"] or "" if second else None)))
            office.append((n, record, _Point(record["office_seq"] or 0, record["time"],
                                             record["office_recorded"] or "" if second else None)))
        late: list[Late] = []
        late_office: list[Late] = []
        now_events, now_office = _Point(high, ""), _Point(office_seq or 0, "")
        _digest_pass(store_audit.event_links(conn), sorted([p for _n, _r, p in events] + [now_events],
                                                           key=lambda p: p.seq), late)
        _digest_pass(store_audit.event_links(conn, office=True),
                     sorted([p for _n, _r, p in office] + [now_office], key=lambda p: p.seq), late_office)
        if self.want_current:
            assert now_events.found is not None and now_office.found is not None
            self.current = {"digest": now_events.found[0], "events": now_events.found[1],
                            "office_digest": now_office.found[0], "office_events": now_office.found[1],
                            "recorded": now_events.newest, "office_recorded": now_office.newest}
        held = 0
        for (n, record, point), (_n, _r, office_point) in zip(events, office):
            fine = True
            if point.found != (record["digest"], record["events"]) and record["seq"] <= high:
                fine = False
                problems.append(_problem("checkpoint", _text(
                    N_("checkpoint {n} ({time}): the events up to {seq} are not those it signed: an event before it was"
                       " edited and its run hashed again, events were cut off and written anew, or the history was"
                       " renumbered"), n=n, time=record["time"], seq=record["seq"]), checkpoint=n))
            if office_point.found != (record["office_digest"], record["office_events"]) and \
                    (record["office_seq"] or 0) <= (office_seq or 0):
                fine = False
                problems.append(_problem("checkpoint", _text(
                    N_("checkpoint {n} ({time}): the office's events up to {seq} are not those it signed: the people"
                       " register's history was rewritten"), n=n, time=record["time"], seq=record["office_seq"] or 0),
                    checkpoint=n))
            held += fine and record["seq"] <= high and (record["office_seq"] or 0) <= (office_seq or 0)
        for seq, run_id, recorded_at, point in late:
            if point.recorded is None:
                text = _text(N_("event {seq} of run {run} was written after the checkpoint of {time}, but its recorded"
                                " time {recorded} is earlier: it was added with a false date"),
                             seq=seq, run=run_id, time=point.time, recorded=recorded_at)
            else:
                text = _text(N_("event {seq} of run {run} was written after the checkpoint of {time}, but its recorded"
                                " time {recorded} is earlier than the newest event that checkpoint signed ({newest}): it"
                                " was added with a false date"),
                             seq=seq, run=run_id, time=point.time, recorded=recorded_at, newest=point.recorded)
            problems.append(_problem("late", text, seq=seq, run_id=run_id))
        for seq, _run, recorded_at, point in late_office:
            if point.recorded is None:
                text = _text(N_("office event {seq} was written after the checkpoint of {time}, but its recorded time"
                                " {recorded} is earlier: it was added with a false date"),
                             seq=seq, time=point.time, recorded=recorded_at)
            else:
                text = _text(N_("office event {seq} was written after the checkpoint of {time}, but its recorded time"
                                " {recorded} is earlier than the newest office event that checkpoint signed ({newest}):"
                                " it was added with a false date"),
                             seq=seq, time=point.time, recorded=recorded_at, newest=point.recorded)
            problems.append(_problem("late", text, run_id=store_audit.OFFICE_CHAIN))
        last = self.lines[-1][2] if self.lines else None
        return {
            "file": str(self.path),
            "count": self.count,
            "held": held,
            "keys": self.keys(),
            "key_given": self.expected_key is not None,
            "last": {k: last[k] for k in ("time", "head", "seq", "office_seq")} if last else None,
        }


def _well_formed(record: dict[str, Any]) -> bool:
    def hex64(value: Any) -> bool:
        return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)

    def time_or_none(value: Any) -> bool:
        return value is None or (isinstance(value, str) and clock.from_iso(value) is not None)

    fields = _FIELDS[record["format"]]
    return (all(k in record for k in (*fields, "signature"))
            and (record["format"] == FORMAT_1 or (time_or_none(record["recorded"])
                                                  and time_or_none(record["office_recorded"])))
            and isinstance(record["seq"], int) and isinstance(record["events"], int)
            and isinstance(record["office_events"], int)
            and (record["office_seq"] is None or isinstance(record["office_seq"], int))
            and isinstance(record["time"], str) and clock.from_iso(record["time"]) is not None
            and isinstance(record["head"], str)
            and hex64(record["digest"]) and hex64(record["office_digest"]) and hex64(record["public_key"])
            and (record["prev"] is None or hex64(record["prev"]))
            and isinstance(record["signature"], str) and len(record["signature"]) == 128)


# -- making a checkpoint -------------------------------------------------------------------------------

def checkpoint(db: str | Path, key_file: str | Path, file: str | Path,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Verify *db* (against the checkpoints already in *file*), then sign its head and the real
    time with the key in *key_file* and append the checkpoint to *file*; returns the record.

    Nothing is signed when the history does not verify, or *file* holds a line that does not.
    """
    from sopengine.audit.verify import verify

    key = load_private_key(key_file)
    target = Path(file)
    if not target.parent.is_dir():
        raise AuditError(_("folder {folder} does not exist; create it first").format(folder=target.parent),
                         path=str(target))
    with _locked(target):
        existing = CheckpointFile.read(target, missing_ok=True)
        if existing.problems:
            raise AuditError(_("{file}: {problem}; no checkpoint written — keep the file as it is and show it to the"
                               " auditor").format(file=target, problem=existing.problems[0]["message"]), path=str(target))
        existing.want_current = True
        time = clock.iso(clock.real_now()) or ""  # before the snapshot: what the snapshot holds was written before it
        result = verify(db, checkpoints=existing, progress=progress)
        if not result["ok"]:
            from sopengine.audit.findings import shown

            raise AuditError(_("the history does not verify ({problem}); no checkpoint written — run 'sopengine audit"
                               " verify' and settle it first").format(problem=shown(result["first_problem"]["message"])),
                             path=str(result["db"]))  # a PostgreSQL address without its password
        current = existing.current or {}
        record: dict[str, Any] = {
            "format": FORMAT,
            "time": time,
            "head": result["head"],
            "seq": result["last_seq"],
            "office_seq": result["last_office_seq"],
            "events": current["events"],
            "office_events": current["office_events"],
            "digest": current["digest"],
            "office_digest": current["office_digest"],
            "recorded": current["recorded"],
            "office_recorded": current["office_recorded"],
            "prev": hashlib.sha256(existing.last_text.encode("utf-8")).hexdigest() if existing.last_text else None,
            "public_key": _raw_hex(key.public_key()),
        }
        record["signature"] = key.sign(signed_bytes(record)).hex()
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise AuditError(_("cannot write {file} ({reason}); choose a folder you may write to — nothing was written"
                               ).format(file=target, reason=exc.strerror or exc), path=str(target)) from None
    return dict(record, file=str(target), number=len(existing.lines) + 1)


class _locked:
    """An exclusive lock on *path*'s folder for the length of a read-and-append, so that two
    auditors signing at once each chain their line to the other's."""

    def __init__(self, path: Path) -> None:
        self.folder = path.parent
        self.fd: int | None = None

    def __enter__(self) -> None:
        import fcntl

        self.fd = os.open(self.folder, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
