"""``sopengine db copy``: a whole database copied between SQLite and PostgreSQL, ids and hashes kept.

The source is opened read-only and read in one snapshot; the target must be new or empty,
and is written in one transaction: all of it, or nothing. Every row keeps its id and every
event its number, so the hash chains and the database head are the same on both sides; the
counters that number new events and rows go on after the copied ones. Before the copy
commits, the target's stored head is compared with the source's; after it, ``audit verify``
recomputes every chain on both sides and the heads must agree. The SQL is
:mod:`sopengine.store.copy`.

A source of an older schema (an SQLite file of an earlier release) is upgraded first, as the
next command writing to it would upgrade it: the forward migrations run in one transaction of
their own and change no event, so its history and head stay as they were. Nothing else is
ever written to the source.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from sopengine.errors import StoreError
from sopengine.i18n import _
from sopengine.store import SCHEMA_VERSION, Store
from sopengine.store import copy as copy_sql
from sopengine.store.dialect import is_url

Progress = Callable[[int, int], None]


class CopyRefused(StoreError):
    """The copy cannot be made (a target holding data or another program's tables, heads that differ)."""


def _where(db: str | Path) -> str:
    if is_url(db):
        from sopengine.store.pg import redact

        return redact(str(db))
    return str(db)


def copy(src: str | Path, dst: str | Path, *, progress: Progress | None = None) -> dict[str, Any]:
    """Copy every table of the database *src* into *dst*, a new SQLite file or an empty database.

    *src* and *dst* are each an SQLite path or a ``postgresql://`` address. Returns ``source``,
    ``target``, ``tables`` (rows copied per table), ``rows``, ``head`` (``HASH@SEQ``, as
    ``audit verify`` prints it on both sides), ``events``, ``runs``, ``office_events``,
    ``last_seq``, ``counters`` (the highest number each chain's counter had handed out, carried
    over) and ``verified`` (``audit verify`` of each side: its ``head``, ``ok`` and number of
    ``problems``). *progress* is told ``(rows copied, rows in all)`` as the copy goes; ``upgraded_from`` is the schema version the source was
    upgraded from (None: it was not). Raises :class:`CopyRefused` when the target holds data
    or another program's tables, or when the heads differ.
    """
    if _same(src, dst):
        raise CopyRefused(_("{src} and {dst} are the same database; copy to another").format(
            src=_where(src), dst=_where(dst)))
    if not is_url(src) and not Path(src).is_file():
        raise CopyRefused(_("no database at {src}; give the path of the database to copy").format(src=src))
    target, created = _open_target(dst)
    try:
        upgraded = _upgrade(src)
        with Store(src, readonly=True) as source, target:
            summary = _copy(source, target, progress)
    except BaseException:
        target.close()
        if created:
            _remove(Path(dst))
        raise
    copied = summary["head"]
    result: dict[str, Any] = {"source": _where(src), "target": _where(dst), "upgraded_from": upgraded, **summary}
    after = _verified(dst)
    before = _verified(src, expect_head=after["head"])
    result["verified"] = {"source": before, "target": after}
    same = before["head"] == after["head"] or before.get("head_matches") is True
    if after["head"] != copied or not same:
        raise CopyRefused(
            _("the copy's head {target} differs from the source's {source}; do not use {dst}: remove it (or drop the"
              " database) and copy again").format(target=after["head"], source=before["head"], dst=_where(dst)))
    return result


def _upgrade(src: str | Path) -> int | None:
    """Upgrade the source to this release's schema if it is older: its former version, else None."""
    with Store(src, readonly=True) as source:
        version = copy_sql.schema_version(source.conn)
    if version >= SCHEMA_VERSION:
        return None
    Store(src).close()  # the forward migrations, all or nothing
    return version


def _same(src: str | Path, dst: str | Path) -> bool:
    if is_url(src) or is_url(dst):
        return str(src) == str(dst)
    a, b = Path(src), Path(dst)
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _open_target(dst: str | Path) -> tuple[Store, bool]:
    """The target, opened (its schema prepared when it has none), and whether this call made its file."""
    if is_url(dst):
        target = Store(dst)
        try:
            _refuse_foreign(dst, copy_sql.table_names(target.conn))
        except BaseException:
            target.close()
            raise
        return target, False
    path = Path(dst)
    if path.is_dir():
        raise CopyRefused(_("{dst} is a folder; give the path of a new database file").format(dst=path))
    if path.exists() and path.stat().st_size:
        import sqlite3

        try:
            found, counts = copy_sql.probe_sqlite(path)
        except sqlite3.Error as exc:
            raise CopyRefused(_("{dst} cannot be read as an SQLite database ({reason}); give the path of a new file").format(
                dst=path, reason=exc)) from None
        _refuse_foreign(dst, found)
        _refuse_filled(dst, counts)
    if not path.parent.is_dir():
        raise CopyRefused(_("folder {folder} does not exist; create it first").format(folder=path.parent))
    created = not path.exists()
    try:
        return Store(path, create=True), created
    except BaseException:
        if created:
            _remove(path)
        raise


def _refuse_foreign(dst: str | Path, found: set[str]) -> None:
    known = {t for t, _key in copy_sql.TABLES} | copy_sql.LEFT_OUT | copy_sql.HOUSEKEEPING
    foreign = found - known
    if foreign:
        raise CopyRefused(_("{dst} holds tables of another program ({tables}); copy into a new or empty database").format(
            dst=_where(dst), tables=", ".join(sorted(foreign)[:5])))


def _refuse_filled(dst: str | Path, counts: dict[str, int]) -> None:
    filled = {t: n for t, n in counts.items() if n}
    if filled:
        shown = ", ".join(f"{t} ({n})" for t, n in list(filled.items())[:5])
        raise CopyRefused(_("{dst} is not empty (it holds {tables}); copy into a new or empty database (nothing was"
                            " written)").format(dst=_where(dst), tables=shown))


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            os.unlink(leftover)
        except OSError:
            pass


def _copy(source: Store, target: Store, progress: Progress | None) -> dict[str, Any]:
    from sopengine.audit.verify import _stored_head
    from sopengine.store.documents import store_began

    names = [t for t, _key in copy_sql.TABLES]
    with target.transaction() as out:
        # checked again under the target's write lock: nobody filled it since it was looked at
        _refuse_filled(target.url or target.path, copy_sql.row_counts(out, names))
        src = source.conn
        try:
            copy_sql.begin_snapshot(src)
            counts = _reading(source, lambda: copy_sql.row_counts(src, names))
            counters = _reading(source, lambda: {t: copy_sql.chain_counter(src, t) for t in copy_sql.CHAINS})
            head = _reading(source, lambda: _stored_head(src))
            began = _reading(source, lambda: store_began(src))
            total, done = sum(counts.values()), 0
            try:
                copy_sql.hold_numbering(out)
            except target.errors as exc:
                raise CopyRefused(_("{dst}: only the owner of its tables may write the copied event numbers ({reason});"
                                    " copy as the database user that owns them").format(
                    dst=_where(target.url or target.path), reason=str(exc).strip().splitlines()[0])) from None
            for table, key in copy_sql.TABLES:
                cols = copy_sql.columns(out, table)
                missing = set(cols) ^ set(_reading(source, partial(copy_sql.columns, src, table)))
                if missing:
                    raise CopyRefused(_("table {table} of {src} does not have the columns of {dst}'s ({columns}); nothing was"
                                        " written").format(table=table, src=_where(source.url or source.path),
                                                           dst=_where(target.url or target.path),
                                                           columns=", ".join(sorted(missing))))
                for batch in _batches(source, copy_sql.read_rows(src, table, cols, key)):
                    _write(target, table, cols, batch)
                    done += len(batch)
                    if progress is not None:
                        progress(done, total)
        finally:
            _reading(source, lambda: copy_sql.end_snapshot(src))
        copy_sql.resume_numbering(out, counters)
        if began:
            copy_sql.set_store_began(out, began)
        written = copy_sql.row_counts(out, names)
        copied = _stored_head(out)
        if written != counts or copied["head"] != head["head"]:
            raise CopyRefused(_("the copy in {dst} does not match its source (head {copied}, the source's {head});"
                                " nothing was written").format(dst=_where(target.url or target.path),
                                                              copied=copied["head"], head=head["head"]))
    return {"tables": counts, "rows": total, "head": head["head"], "events": head["events"], "runs": head["runs"],
            "office_events": head["office_events"], "last_seq": head["last_seq"], "counters": counters}


def _reading(source: Store, read: Callable[[], Any]) -> Any:
    """*read* of the source, its errors worded for the source."""
    try:
        return read()
    except source.errors as exc:
        error = source._translated(exc)
        if error is None:
            raise CopyRefused(_("{src} could not be read ({reason}); nothing was written").format(
                src=_where(source.url or source.path), reason=str(exc).strip().splitlines()[0])) from None
        raise error from None


def _batches(source: Store, rows: Iterator[list[tuple[Any, ...]]]) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        batch = _reading(source, lambda: next(rows, None))
        if batch is None:
            return
        yield batch


def _write(target: Store, table: str, cols: list[str], batch: list[tuple[Any, ...]]) -> None:
    try:
        copy_sql.insert_rows(target.conn, table, cols, batch)
    except target.errors as exc:
        if target._translated(exc) is not None:
            raise  # the target's condition (busy, full, refused): the store words it
        raise CopyRefused(_("a row of table {table} could not be written to {dst} ({reason}); nothing was written").format(
            table=table, dst=_where(target.url or target.path), reason=str(exc).strip().splitlines()[0])) from None


def _verified(db: str | Path, expect_head: str | None = None) -> dict[str, Any]:
    """``audit verify``'s head of *db*, whether every check held (``ok``) and how many problems it found."""
    from sopengine import audit

    result = audit.verify(db, expect_head=expect_head)
    found = {"head": result["head"], "ok": result["ok"], "problems": len(result["problems"])}
    if "head_matches" in result:
        found["head_matches"] = result["head_matches"]
    return found
