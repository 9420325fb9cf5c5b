"""SQLite's exceptions, translated by their cause at the store's boundary.

SQLite says what went wrong in a result code (``sqlite_errorcode``); one function here,
:func:`translate`, turns it into the :class:`~sopengine.errors.StoreError` a person can act
on, so that the store and the command line's last-resort handler word each cause the same way::

    SQLITE_BUSY, SQLITE_LOCKED          DatabaseBusy        (exit 4) try again
    SQLITE_FULL, SQLITE_IOERR_*         StorageUnavailable  (exit 5) full, a size limit, the disk
    SQLITE_READONLY_*, SQLITE_PERM      StorageUnavailable  (exit 5) read-only, permission
    SQLITE_CANTOPEN                     StorageUnavailable  (exit 5), or NotADatabase for a folder
    SQLITE_NOTADB                       NotADatabase        not an SQLite file at all
    SQLITE_CORRUPT_*, SQLITE_NOTADB     DatabaseDamaged     (exit 6) only when SQLite's own check
      (on an SQLite file)                                   confirms it; else a StoreError

Only a confirmed damage advises restoring a backup: a lock held too long, a full disk or a
read-only file leave the data intact, and their messages say so.

**A damaged file takes no more changes.** When damage is confirmed (:func:`confirm_damage`,
called on a corruption error and by ``audit verify``), a note is written beside the file,
``FILE.damaged``, saying when and what the check found. The note is keyed by the file's
resolved path: opened through a symbolic link (to it or to a folder on its way), the file
finds its note. A hard link is another name of its own and does not (see the command line
reference: a database is never to be opened under two names). Opening the database for a change
looks for that note (one ``stat``); while it is there, the check is run again and the change
is refused as long as it fails. Once a backup has been restored in the file's place the check
passes, the note is removed and work goes on. Read commands still read a damaged file as far
as they can.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sopengine.errors import DatabaseBusy, DatabaseDamaged, NotADatabase, StorageUnavailable, StoreError
from sopengine.i18n import _

SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

MARKER_SUFFIX = ".damaged"

# Primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _FULL, _READONLY, _CANTOPEN, _PERM, _IOERR, _NOTADB, _CORRUPT = 5, 6, 13, 8, 14, 3, 10, 26, 11
_NAMES = {"SQLITE_BUSY": _BUSY, "SQLITE_LOCKED": _LOCKED, "SQLITE_FULL": _FULL, "SQLITE_READONLY": _READONLY,
          "SQLITE_CANTOPEN": _CANTOPEN, "SQLITE_PERM": _PERM, "SQLITE_IOERR": _IOERR, "SQLITE_NOTADB": _NOTADB,
          "SQLITE_CORRUPT": _CORRUPT}

FREE_SPACE_LOW = 1 << 20
"""Below this many bytes free, a failed write is put down to a full disk."""


def primary_code(exc: BaseException) -> int | None:
    """SQLite's primary result code of *exc* (``SQLITE_BUSY`` is 5 ...), or None if it has none."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str):
        for prefix, value in _NAMES.items():
            if name == prefix or name.startswith(prefix + "_"):
                return value
    return None


def translate(exc: BaseException, path: str | Path, conn: sqlite3.Connection | None = None,
              *, timeout_ms: int | None = None) -> StoreError | None:
    """The error a person can act on for SQLite's *exc* on the database at *path*, or None.

    None means the exception is not about the file (a constraint, a misuse: a bug, which
    keeps its traceback). A corruption error is confirmed with SQLite's own check on *conn*
    (or on a fresh read-only connection) before it is called damage.
    """
    code = primary_code(exc)
    path = Path(path)
    reason = str(exc)
    if code in (_BUSY, _LOCKED):
        seconds = (timeout_ms if timeout_ms is not None else _default_timeout()) / 1000
        return DatabaseBusy(
            _("{path} is busy: another command has been writing to it for more than {seconds:g} s; try again in a moment"
              " (nothing was changed)").format(path=path, seconds=seconds),
            path=str(path),
        )
    if code == _FULL or code == _IOERR:
        return _no_room(path, reason, certain=code == _FULL)
    if code in (_READONLY, _PERM):
        return _read_only(path, exc, code == _PERM)
    if code == _CANTOPEN:
        if path.is_dir():
            return NotADatabase(_("{path} is a folder, not a database file; pass a file with --db").format(path=path),
                                path=str(path))
        return StorageUnavailable(
            _("{path} cannot be opened ({reason}); check that it and its folder exist and that {user} may read and write"
              " them").format(path=path, reason=reason, user=login()),
            path=str(path), cause="permission",
        )
    if code == _NOTADB and not _looks_like_sqlite(path):
        return NotADatabase(
            _("{path} is not a sopengine database (not an SQLite file); pass the right --db").format(path=path),
            path=str(path),
        )
    if code in (_NOTADB, _CORRUPT):
        damaged = confirm_damage(conn, path) if conn is not None else _confirm_fresh(path)
        if damaged is not None:
            return damaged
        return StoreError(
            _("SQLite reported a problem reading {path} ({reason}) but its check finds the file sound; try again, and run"
              " 'sopengine audit verify' if it happens again").format(path=path, reason=reason),
            path=str(path),
        )
    return None


# -- storage ---------------------------------------------------------------------------------------


def login() -> str:
    """The OS login of the process's real user (for 'who may not write')."""
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _size_limit() -> int | None:
    """This process's file size limit in bytes (``ulimit -f``), or None when unlimited."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


LIMIT_MARGIN = 1 << 16
"""A file this close to the size limit is taken to have hit it (a write is a few pages)."""


def _largest(path: Path) -> int:
    """The size of the largest of the database's files (itself, its -wal and -shm)."""
    sizes = [0]
    for name in (str(path), f"{path}-wal", f"{path}-shm"):
        try:
            sizes.append(os.stat(name).st_size)
        except OSError:
            pass
    return max(sizes)


def _free_bytes(path: Path) -> int | None:
    try:
        st = os.statvfs(path.parent if str(path.parent) else Path("."))
    except (OSError, AttributeError):
        return None
    return st.f_bavail * st.f_frsize


def _no_room(path: Path, reason: str, *, certain: bool) -> StorageUnavailable:
    """A write that found no room: a full disk, a file size limit, or an error of the disk itself."""
    limit = _size_limit()
    if limit is not None and _largest(path) + LIMIT_MARGIN >= limit:
        return StorageUnavailable(
            _("{path} could not be written: no room to grow it, as this process may not write files larger than {size}"
              " bytes (ulimit -f); raise the limit or free space and try again (nothing was changed)").format(
                path=path, size=limit),
            path=str(path), cause="limit",
        )
    free = _free_bytes(path)
    if certain or (free is not None and free < FREE_SPACE_LOW):
        return StorageUnavailable(
            _("{path} could not be written: the disk is full; free some space and try again (nothing was changed)").format(
                path=path),
            path=str(path), cause="full",
        )
    return StorageUnavailable(
        _("{path} could not be read or written: the disk reported an error ({reason}); check the disk and its free space"
          " and try again (nothing was changed)").format(path=path, reason=reason),
        path=str(path), cause="io",
    )


def _read_only(path: Path, exc: BaseException, denied: bool) -> StorageUnavailable:
    folder = path.parent if str(path.parent) else Path(".")
    name = getattr(exc, "sqlite_errorname", "") or ""
    if denied:
        text = _("{path} cannot be used: the system denies access ({reason}); ask the administrator to let {user} read"
                 " and write it (nothing was changed)")
    elif name == "SQLITE_READONLY_DIRECTORY" or not os.access(folder, os.W_OK):
        text = _("{path} cannot be used: its folder is read-only for {user}, and SQLite keeps two files beside the"
                 " database (-wal, -shm) even to read it; ask the administrator for write access to the folder, or read a"
                 " copy made with 'sopengine backup' (nothing was changed)")
    elif path.exists() and not os.access(path, os.W_OK):
        text = _("{path} is read-only for {user}; ask the administrator for write access to the file; commands that"
                 " only read still work (nothing was changed)")
    else:
        text = _("{path} is open read-only ({reason}); open it for writing, or use a command that only reads (nothing"
                 " was changed)")
    return StorageUnavailable(text.format(path=path, reason=exc, user=login()), path=str(path),
                              cause="permission" if denied else "readonly")


# -- damage ----------------------------------------------------------------------------------------


def _looks_like_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _default_timeout() -> int:
    from sopengine.store.core import busy_timeout_ms

    return busy_timeout_ms()


def marker(path: str | Path) -> Path:
    """The note beside a database that says it was found damaged: ``FILE.damaged``, beside the
    file itself (symbolic links, of the file or of a folder on its way, followed), so that the
    same file opened under another name finds it."""
    return Path(os.path.realpath(path) + MARKER_SUFFIX)


def check(conn: sqlite3.Connection, *, full: bool = False) -> list[str]:
    """What SQLite's own check finds wrong in the database open on *conn* (empty: nothing).

    ``quick_check`` by default (it reads every page, in about the time of reading the file);
    ``full`` runs ``integrity_check``, which also compares every index with its table. A file
    SQLite cannot even read for the check is reported as one problem.
    """
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(20)").fetchall()]
    except sqlite3.DatabaseError as exc:
        if primary_code(exc) in (_NOTADB, _CORRUPT):
            return [str(exc)]
        raise
    if rows == ["ok"]:
        return []
    # a row may hold several lines, the first naming the schema ("*** in database main ***")
    lines = [" ".join(line.split()) for row in rows for line in row.splitlines()]
    return [line for line in lines if line and not line.startswith("***")] or ["?"]


def confirm_damage(conn: sqlite3.Connection, path: str | Path, *, full: bool = False) -> DatabaseDamaged | None:
    """Run SQLite's check on *conn*; when it finds damage, mark the file and return the error.

    The note ``FILE.damaged`` makes the store refuse changes until the check passes again
    (a backup restored in its place). None when the check finds nothing wrong.
    """
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
    problems = check(conn, full=full)
    if not problems:
        return None
    _write_marker(path, problems, "integrity_check" if full else "quick_check")
    return damaged(path, problems[0])


def damaged(path: str | Path, problem: str) -> DatabaseDamaged:
    """The error for a database SQLite's check found damaged."""
    return DatabaseDamaged(
        _("{path} is damaged: SQLite's check reports '{problem}'; stop using it and restore it from a backup (see"
          " 'A damaged database' in the docs); it takes no more changes until then").format(path=path, problem=problem),
        path=str(path), problem=problem,
    )


def server_damaged(db: str, problem: str) -> DatabaseDamaged:
    """The error for a PostgreSQL database whose server counted damaged pages (no marker file: the
    server, not a file beside it, keeps that count)."""
    return DatabaseDamaged(
        _("{db} is damaged: the PostgreSQL server reports '{problem}'; ask its administrator to check the server's"
          " storage and restore the database from a backup (pg_dump) if pages are lost").format(db=db, problem=problem),
        path=db, problem=problem,
    )


def refuse_if_damaged(conn: sqlite3.Connection, path: str | Path) -> None:
    """Before a change: refuse it if the file was found damaged and SQLite's check still says so.

    Costs one ``stat`` when the file was never found damaged. Once the check passes (a backup
    was restored in the file's place) the note is removed and the change goes on.
    """
    note = marker(path)
    if not os.path.exists(note):  # the common case: about 30 µs with resolving the links
        return
    try:
        text = note.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    full = "check: integrity_check" in text
    problems = check(conn, full=full)
    if problems:
        raise damaged(path, problems[0])
    try:
        note.unlink()
    except FileNotFoundError:
        pass


def _write_marker(path: str | Path, problems: list[str], pragma: str) -> None:
    from datetime import datetime, timezone

    when = datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        "sopengine: this database was found damaged and takes no more changes.",
        f"found: {when}",
        f"by: {login()}",
        f"check: {pragma}",
        *(f"problem: {p}" for p in problems[:20]),
        "what to do: restore a backup in the database's place (remove its -wal and -shm files first);",
        "the next change runs the check again and removes this note when the file is sound.",
    ]
    try:
        marker(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError:
        pass  # a folder that cannot be written cannot take changes either


def _confirm_fresh(path: Path) -> DatabaseDamaged | None:
    """Confirm damage on a connection of its own (the one that failed may be unusable)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return damaged(path, str(exc)) if primary_code(exc) in (_NOTADB, _CORRUPT) else None
    try:
        return confirm_damage(conn, path)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
