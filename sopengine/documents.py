"""Documents a step records: the files given with ``--output NAME=FILE``, kept in the database.

Each file is read once, in chunks: its sha256 and size go into the step's event, and the very
bytes hashed are kept in the database's document store (:mod:`sopengine.store.documents`),
so the history never depends on the file staying where it was.

Only a regular file is accepted (a symbolic link is judged by its target). A named pipe is
never opened — reading one would wait for a writer — and a device, a folder or a socket each
get their own message. When an admin has named the folders documents may come from
(``sopengine documents allow DIR``), a file whose real path lies outside them is refused,
whichever link led to it; a file larger than the size limit (100 MiB unless an admin set
another) is refused too.

The bytes are stored in the step's own write transaction when the caller already holds one;
otherwise just before it, in a transaction of their own. Either way the blob is keyed by its
content and written at most once, so a step refused afterwards (a concurrent change, say)
leaves at most a blob no event refers to: harmless, and reported by
``sopengine audit verify --documents`` as kept but not recorded.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sopengine.errors import InputError, OutputMissing
from sopengine.i18n import _

if TYPE_CHECKING:
    from sopengine.runs import _Loaded
    from sopengine.store import Store

_SPOOL_IN_MEMORY = 1 << 20
"""Bytes of a document held in memory while it is read; a larger one spills to a temporary file."""


def record_outputs(loaded: _Loaded, task: dict[str, Any], outputs: list[tuple[str, Any]] | dict[str, Any] | None) -> list[dict[str, Any]]:
    """Check the outputs given for *task* against its step, read each file and keep its bytes."""
    step = loaded.compiled["steps"][task["step_id"]]
    declared = {o["name"].casefold(): o for o in step["outputs"]}
    items = list(outputs.items()) if isinstance(outputs, dict) else list(outputs or [])
    docs: list[dict[str, Any]] = []
    spools: list[IO[bytes]] = []
    given = set()
    try:
        rules: tuple[list[str], int] | None = None
        for name, path in items:
            spec = declared.get(name.strip().casefold())
            if spec is None:
                names = ", ".join(repr(o["name"]) for o in step["outputs"]) or _("none")
                raise InputError(_("step {step} has no output {name!r}; its outputs are: {names}").format(
                    step=task["step_id"], name=name, names=names))
            if rules is None:  # read only by a step that records a document
                from sopengine.store import documents as kept

                rules = kept.rules(loaded.store.conn)
            if isinstance(path, Upload):
                doc, spool = read_upload(path, spec["name"], max_size=rules[1])
            else:
                doc, spool = read_document(path, spec["name"], folders=rules[0], max_size=rules[1])
            spools.append(spool)
            docs.append({"task_id": task["id"], "step_id": task["step_id"], "name": spec["name"], **doc,
                         "recorded_by": loaded.person})
            given.add(spec["name"].casefold())
        lanes = step["lanes"] or [None]
        if task["part"] == len(lanes) - 1:  # required outputs are due when the row's last lane finishes
            for o in step["outputs"]:
                if o["required"] and o["name"].casefold() not in given:
                    raise OutputMissing(
                        _("step {step} needs its output {output!r}; add --output '{output}=FILE'").format(
                            step=task["step_id"], output=o["name"]),
                        step=task["step_id"],
                    )
        if docs:
            _keep(loaded, docs, spools)
    finally:
        for spool in spools:
            spool.close()
    return docs


def _keep(loaded: _Loaded, docs: list[dict[str, Any]], spools: list[IO[bytes]]) -> None:
    """Store each document's bytes: in the caller's transaction if one is open, else in one of their own."""
    from sopengine.store import documents as kept

    conn = loaded.store.conn

    def put_all() -> None:
        for doc, spool in zip(docs, spools):
            spool.seek(0)
            kept.put(conn, doc["sha256"], doc["size"], spool, loaded.recorded_at)

    if conn.in_transaction:
        put_all()
    else:
        with loaded.store.transaction():
            put_all()


NOT_KEPT = "not kept in the database (recorded before the document store)"
"""Said, in English data, of a document whose bytes the database does not hold."""


def not_kept_note() -> str:
    """What status and packs say of a document recorded before the document store, in the language in force."""
    return _("not kept in the database (recorded before the document store)")


def _folders_text(folders: list[str]) -> str:
    return ", ".join(folders)


class Upload:
    """A document sent to the office server: the file name the browser gave and its bytes.

    Recorded with the path ``upload:NAME``; the name is checked before (a bare file name, no
    folders). The folders rule of ``sopengine documents allow`` is about files on the
    machine and does not apply; the size limit does.
    """

    PREFIX = "upload:"

    def __init__(self, filename: str, file: IO[bytes]) -> None:
        self.filename = filename
        self.file = file

    def __str__(self) -> str:
        return self.PREFIX + self.filename


def read_upload(upload: Upload, output: str, *, max_size: int) -> tuple[dict[str, Any], IO[bytes]]:
    """Read an uploaded document once, hashing and spooling the same bytes (see :func:`read_document`)."""
    import tempfile

    given = str(upload)
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
    try:
        upload.file.seek(0)
        digest = hashlib.sha256()
        size = 0
        for chunk in iter(lambda: upload.file.read(1 << 20), b""):
            size += len(chunk)
            if size > max_size:
                raise _too_large(given, output, size, max_size)
            digest.update(chunk)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return {"path": given, "sha256": digest.hexdigest(), "size": size}, spool


def read_document(path: str | os.PathLike[str], output: str, *, folders: list[str], max_size: int) -> tuple[dict[str, Any], IO[bytes]]:
    """Check the file at *path* and read it once: its record (path, sha256, size) and its bytes.

    *folders* are the allowed folders (empty: any); *max_size* the largest size accepted.
    The bytes come back in a spooled temporary file, positioned at its end; the caller closes it.
    """
    given = str(path)
    file = Path(path).expanduser()
    try:
        st = os.stat(file)  # follows a link: the target is judged
    except FileNotFoundError:
        if os.path.islink(file):
            raise OutputMissing(
                _("output {path} is a link to {target}, which does not exist; check the path of {output!r}").format(
                    path=given, target=os.readlink(file), output=output),
                path=given, reason="dangling_link",
            ) from None
        raise OutputMissing(
            _("output file {path} does not exist; check the path of {output!r}").format(path=given, output=output),
            path=given, reason="missing",
        ) from None
    except NotADirectoryError:
        raise OutputMissing(
            _("output file {path} does not exist; check the path of {output!r}").format(path=given, output=output),
            path=given, reason="missing",
        ) from None
    except PermissionError as exc:
        raise OutputMissing(
            _("output {path} cannot be read ({reason}); check its permissions").format(path=given, reason=exc.strerror),
            path=given, reason="permission",
        ) from None
    real = os.path.realpath(file)
    if folders and not any(_inside(real, folder) for folder in folders):
        if real != os.path.abspath(file):
            message = _("output {path} leads to {target}, outside the folders documents may come from ({folders});"
                        " save {output!r} in one of them, or ask an admin to allow its folder with 'sopengine documents allow DIR'")
        else:
            message = _("output {path} is outside the folders documents may come from ({folders});"
                        " save {output!r} in one of them, or ask an admin to allow its folder with 'sopengine documents allow DIR'")
        raise InputError(
            message.format(path=given, target=real, folders=_folders_text(folders), output=output),
            path=given, reason="outside_folders", folders=list(folders),
        )
    _check_kind(st.st_mode, given, output)
    if st.st_size > max_size:
        raise _too_large(given, output, st.st_size, max_size)
    return _read(real, st, given, output, max_size)


def _inside(real: str, folder: str) -> bool:
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)


def _check_kind(mode: int, given: str, output: str) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        message, reason = _("output {path} is a folder; give the file of {output!r}"), "folder"
    elif stat.S_ISFIFO(mode):
        message, reason = _("output {path} is a named pipe (FIFO), not a file; save {output!r} as a file and give that"), "fifo"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        message, reason = _("output {path} is a device, not a file; save {output!r} as a file and give that"), "device"
    elif stat.S_ISSOCK(mode):
        message, reason = _("output {path} is a socket, not a file; save {output!r} as a file and give that"), "socket"
    else:
        message, reason = _("output {path} is not a regular file; save {output!r} as a file and give that"), "not_regular"
    raise OutputMissing(message.format(path=given, output=output), path=given, reason=reason)


def _too_large(given: str, output: str, size: int, max_size: int) -> InputError:
    return InputError(
        _("output {path} is {size}, larger than the {limit} a document may be; record a smaller file for {output!r},"
          " or ask an admin to raise the limit with 'sopengine documents max-size SIZE'").format(
            path=given, size=format_size(size), limit=format_size(max_size), output=output),
        path=given, reason="too_large", size=size, limit=max_size,
    )


def _read(real: str, st: os.stat_result, given: str, output: str, max_size: int) -> tuple[dict[str, Any], IO[bytes]]:
    """Read the file once, hashing and spooling the same bytes."""
    try:
        # O_NONBLOCK: had the path become a pipe since it was looked at, opening it must not wait.
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise OutputMissing(
            _("output {path} cannot be read ({reason}); check its permissions").format(path=given, reason=exc.strerror),
            path=given, reason="permission",
        ) from None
    import tempfile  # only a step that records a document pays for it

    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
    try:
        with os.fdopen(fd, "rb") as fh:
            opened = os.fstat(fh.fileno())
            if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                _check_kind(opened.st_mode, given, output)
                raise _changed(given)
            digest = hashlib.sha256()
            size = 0
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                size += len(chunk)
                if size > max_size:
                    raise _too_large(given, output, size, max_size)
                digest.update(chunk)
                spool.write(chunk)
    except OSError as exc:
        spool.close()
        raise OutputMissing(
            _("output {path} cannot be read ({reason}); check the file").format(path=given, reason=exc.strerror or exc),
            path=given, reason="unreadable",
        ) from None
    except BaseException:
        spool.close()
        raise
    return {"path": real, "sha256": digest.hexdigest(), "size": size}, spool


def _changed(given: str) -> OutputMissing:
    return OutputMissing(
        _("output {path} changed while it was being read; record it again once it is complete").format(path=given),
        path=given, reason="changed",
    )


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3}


def format_size(size: int) -> str:
    """A size as people read it: bytes, KiB, MiB or GiB."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} B"


def parse_size(text: str) -> int:
    """``100MiB``, ``250 MB``, ``5000000`` as a number of bytes (KiB/MiB/GiB count in 1024s, kB/MB/GB in 1000s)."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS:
        raise InputError(_("cannot read the size {text!r}; write it like 100MiB, 250MB or 5000000 (bytes)").format(text=text))
    return int(float(m.group(1)) * _UNITS[unit])


# -- the rules an admin sets: the folders documents may come from, the largest size ------------------

def rules(db: str | Path | Store) -> dict[str, Any]:
    """The folders documents may come from (an empty list: any folder) and the size limit, with who set them."""
    from sopengine.store import documents as kept
    from sopengine.store import use

    store, owned = use(db, readonly=True)
    try:
        limit = kept.setting(store.conn, kept.MAX_SIZE_KEY)
        return {
            "folders": kept.folders(store.conn),
            "max_size": int(limit["value"]) if limit else kept.DEFAULT_MAX_SIZE,
            "max_size_set": None if limit is None else {k: limit[k] for k in ("changed_at", "changed_by", "os_user")},
            "default_max_size": kept.DEFAULT_MAX_SIZE,
        }
    finally:
        if owned:
            store.close()


def allow_folder(db: str | Path | Store, folder: str | os.PathLike[str], *, by: str | None = None,
                 now: Any = None) -> dict[str, Any]:
    """Let documents come from *folder* (and the folders inside it); once any folder is allowed, only those are.

    The folder is kept as its real path (links resolved). An admin's change when the people
    register exists; recorded as an event in the office's chain either way.
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise InputError(
            _("{folder} is not a folder; give an existing folder that documents are saved in").format(folder=folder),
            path=str(folder),
        )
    real = os.path.realpath(path)
    return _change_rules(db, by, now, "document_folder_allowed", {"folder": real},
                         lambda conn, at, who, login: _add(conn, real, at, who, login))


def disallow_folder(db: str | Path | Store, folder: str | os.PathLike[str], *, by: str | None = None,
                    now: Any = None) -> dict[str, Any]:
    """Stop letting documents come from *folder*; with no folder left, documents may come from any."""
    from sopengine.store import documents as kept

    def remove(conn: Any, at: str, who: str, login: str) -> dict[str, Any]:
        allowed = kept.folder_paths(conn)
        candidates = {os.path.realpath(Path(folder).expanduser()), os.path.abspath(Path(folder).expanduser())}
        found = next((p for p in allowed if p in candidates), None)
        if found is None:
            raise InputError(
                _("{folder} is not an allowed folder; the allowed folders are: {folders}").format(
                    folder=folder, folders=_folders_text(allowed) or _("none (documents may come from any folder)")),
                path=str(folder),
            )
        kept.remove_folder(conn, found)
        return {"folder": found}

    return _change_rules(db, by, now, "document_folder_disallowed", None, remove)


def set_max_size(db: str | Path | Store, size: int | str | None, *, by: str | None = None,
                 now: Any = None) -> dict[str, Any]:
    """Set the largest document a step may record (bytes, or text such as ``250MiB``); None: back to the default."""
    from sopengine.store import documents as kept

    value = parse_size(size) if isinstance(size, str) else size
    if value is not None and not 0 < value <= kept.LARGEST_MAX_SIZE:
        from sopengine.store.dialect import is_url

        if is_url(db) or getattr(db, "engine", None) == "postgresql":
            raise InputError(
                _("a document's size limit must be more than 0 and at most {largest} (one value PostgreSQL keeps is at"
                  " most 1 GB); {size} is not").format(largest=format_size(kept.LARGEST_MAX_SIZE), size=size),
            )
        raise InputError(
            _("a document's size limit must be more than 0 and at most {largest} (one value SQLite keeps); {size} is not").format(
                largest=format_size(kept.LARGEST_MAX_SIZE), size=size),
        )

    def apply(conn: Any, at: str, who: str, login: str) -> dict[str, Any]:
        was = kept.setting(conn, kept.MAX_SIZE_KEY)
        kept.set_setting(conn, kept.MAX_SIZE_KEY, None if value is None else str(value), at, who, login)
        return {"max_size": value if value is not None else kept.DEFAULT_MAX_SIZE, "default": value is None,
                "was": int(was["value"]) if was else kept.DEFAULT_MAX_SIZE}

    return _change_rules(db, by, now, "document_max_size_set", None, apply)


def _add(conn: Any, real: str, at: str, who: str, login: str) -> dict[str, Any]:
    from sopengine.store import documents as kept

    if not kept.add_folder(conn, real, at, who, login):
        raise InputError(_("{folder} is already an allowed folder; 'sopengine documents folders' lists them").format(folder=real),
                         path=real)
    return {"folder": real}


def _change_rules(db: str | Path | Store, by: str | None, now: Any, kind: str, payload: dict[str, Any] | None,
                  change: Any) -> dict[str, Any]:
    """Make one change to the rules and record it, in one transaction: who (an admin once a
    register exists), when, and the event in the office's chain."""
    from sopengine import clock
    from sopengine.store import people as register
    from sopengine.store import use

    store, owned = use(db, create=True)
    try:
        at = clock.iso(clock.coerce(now)) or ""
        recorded_at = clock.iso(clock.real_now()) or ""
        with store.transaction() as conn:
            who, login = _rule_maker(conn, by)
            done = change(conn, at, who, login)
            from sopengine import authority, channel

            register.append_office_event(conn, kind=kind, at=at, recorded_at=recorded_at, person=who, os_user=login,
                                         payload={**(payload if payload is not None else done),
                                                  **channel.fields(authority.mode(conn) == authority.REGISTER)})
        return {**done, "by": who, "at": at}
    finally:
        if owned:
            store.close()


def _rule_maker(conn: Any, by: str | None) -> tuple[str, str]:
    """Who changes the rules: in register mode an admin acting as themselves; else the name given."""
    from sopengine import authority
    from sopengine.identity import os_user

    if authority.mode(conn) != authority.REGISTER:
        return authority.checked_person(by), os_user()
    me, _other = authority.acting(conn, None if by is None else authority.checked_person(by), on_behalf=False)
    if me["access"] != "admin":
        raise authority.NotAuthorised(
            _("{person} has {access} access; only an admin may change the folders documents come from or their size"
              " limit").format(person=me["name"], access=me["access"]),
            person=me["name"],
        )
    return me["name"], os_user()
