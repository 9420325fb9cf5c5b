"""Backups: the live database copied with SQLite's online backup API, checked, moved into place.

A backup that cannot be written where it was asked to go (the disk full, a file size limit,
a read-only folder, no permission, an error of the disk) is :class:`StorageUnavailable`
(exit 5) and says which; the database backed up is intact and nothing was replaced.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.audit.findings import AuditError, _cannot_write
from sopengine.audit.verify import _stored_head
from sopengine.errors import StorageUnavailable
from sopengine.i18n import _
from sopengine.store import Store
from sopengine.store import audit as store_audit
from sopengine.store import errors as store_errors
from sopengine.store.dialect import is_url


def backup(db: str | Path, target: str | Path, *, force: bool = False,
           progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Copy the live database to *target* with SQLite's online backup API.

    Writers may keep working: the copy is one consistent moment of the database. The copy is
    written beside *target* and moved into place when complete, so a failed backup leaves no
    half-written file. Returns the copy's path, size, event count and head (``HASH@SEQ``).
    *progress* is told ``(pages copied, pages in all)`` as the copy goes on.

    A PostgreSQL database is refused (:class:`AuditError`): SQLite's online backup copies an
    SQLite file; the server's own ``pg_dump`` backs up a PostgreSQL database, and
    ``sopengine db copy`` copies its history into an SQLite file.
    """
    if is_url(db):
        from sopengine.store.pg import redact

        raise AuditError(_("{db} is a PostgreSQL database and 'sopengine backup' copies SQLite files only; back it up with"
                           " pg_dump, or copy it into an SQLite file with 'sopengine db copy'").format(db=redact(str(db))),
                         path=redact(str(db)))
    source = Path(db)
    dest = Path(target)
    if dest.exists() and not force:
        raise AuditError(_("{file} already exists; choose another name or pass --force to replace it").format(file=dest),
                         path=str(dest))
    if not dest.parent.exists():
        raise AuditError(_("folder {folder} does not exist; create it first").format(folder=dest.parent), path=str(dest))
    if dest.exists() and source.exists() and dest.resolve() == source.resolve():
        raise AuditError(_("{file} is the database itself; back up to another file").format(file=dest), path=str(dest))
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with Store(source, readonly=True) as store:
        try:
            try:
                # made here first, so that a folder that cannot be written is named as the target's
                # fault (SQLite would only say "unable to open database file")
                with open(tmp, "wb"):
                    pass
            except OSError as exc:
                raise _unavailable(dest, tmp, exc) or _cannot_write(dest, exc) from None
            try:
                copy = store_audit.copy_into(store.conn, tmp, progress=progress)
            except sqlite3.OperationalError as exc:  # the target's disk is full, or it went away
                raise _unavailable(dest, tmp, exc) or AuditError(
                    _("the backup to {file} could not be written ({reason}); nothing was replaced").format(
                        file=dest, reason=exc), path=str(dest)) from None
            except sqlite3.Error as exc:
                raise _unavailable(dest, tmp, exc) or _cannot_write(dest, exc) from None
            try:
                from sopengine.store import server as server_sql

                server_sql.forget_secrets(copy)  # a backup signs no session cookie of the live server
                check = store_audit.quick_check(copy)
                summary = _stored_head(copy)
            except sqlite3.OperationalError as exc:  # the target's disk is full, or it went away
                raise _unavailable(dest, tmp, exc) or AuditError(
                    _("the backup to {file} could not be written ({reason}); nothing was replaced").format(
                        file=dest, reason=exc), path=str(dest)) from None
            finally:
                copy.close()
            if check != "ok":
                raise AuditError(_("the copy at {file} failed SQLite's quick_check ({result}); the database may be"
                                   " damaged").format(file=dest, result=check))
            try:
                for stale in (Path(f"{dest}-wal"), Path(f"{dest}-shm")):
                    # an old copy's leftover log would be replayed into the new file when it is opened
                    stale.unlink(missing_ok=True)
                os.replace(tmp, dest)
            except OSError as exc:
                raise _unavailable(dest, tmp, exc) or _cannot_write(dest, exc) from None
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
    return {"path": str(dest), "size": dest.stat().st_size, **summary, "created_at": clock.iso(clock.real_now())}


_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DENIED_ERRNOS = {errno.EACCES, errno.EPERM}


def _unavailable(dest: Path, written: Path, exc: BaseException) -> StorageUnavailable | None:
    """Why the backup could not be written at *dest* (*written* is the file being written), as
    :class:`StorageUnavailable`; None when the failure is not one of the storage's."""
    code = store_errors.primary_code(exc)
    number = exc.errno if isinstance(exc, OSError) else None
    folder = dest.parent if str(dest.parent) else Path(".")
    limit = store_errors._size_limit()
    try:
        size = written.stat().st_size
    except OSError:
        size = 0
    if (code in (store_errors._FULL, store_errors._IOERR) or number in (errno.EFBIG, *_FULL_ERRNOS)) \
            and limit is not None and size + store_errors.LIMIT_MARGIN >= limit:
        text, cause = _("the backup to {file} could not be written: this process may not write files larger than {size}"
                        " bytes (ulimit -f); raise the limit, or back up to a smaller file elsewhere (the database is"
                        " intact; nothing was replaced)"), "limit"
    elif code == store_errors._FULL or number in _FULL_ERRNOS or (
            code == store_errors._IOERR and (store_errors._free_bytes(dest) or 0) < store_errors.FREE_SPACE_LOW):
        text, cause = _("the backup to {file} could not be written: the disk is full; free some space or back up to"
                        " another disk (the database is intact; nothing was replaced)"), "full"
    elif code == store_errors._READONLY or number == errno.EROFS:
        text, cause = _("the backup to {file} could not be written: {folder} is read-only ({reason}); back up to a"
                        " folder you may write to (the database is intact; nothing was replaced)"), "readonly"
    elif code in (store_errors._PERM, store_errors._CANTOPEN) or number in _DENIED_ERRNOS:
        text, cause = _("the backup to {file} could not be written: {user} may not write in {folder} ({reason}); back up"
                        " to a folder you may write to, or ask the administrator for access (the database is intact;"
                        " nothing was replaced)"), "permission"
    elif code == store_errors._IOERR or number == errno.EIO:
        text, cause = _("the backup to {file} could not be written: the disk reported an error ({reason}); check the"
                        " disk and try again (the database is intact; nothing was replaced)"), "io"
    else:
        return None
    reason = getattr(exc, "strerror", None) or str(exc)
    return StorageUnavailable(text.format(file=dest, size=limit, folder=folder, reason=reason, user=store_errors.login()),
                              path=str(dest), cause=cause)
