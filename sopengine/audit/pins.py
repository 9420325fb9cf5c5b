"""The definitions and calendars runs are pinned to: each intact, and each there.

A definition row is keyed by the sha256 of its source text; its compiled form (what runs
execute and the views read) must be canonical JSON naming the same hash, id and title. A
calendar snapshot is keyed by the sha256 of its canonical JSON text.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from sopengine.audit.findings import _problem, _text
from sopengine.chain import canonical
from sopengine.i18n import N_
from sopengine.store import audit as store_audit


def definition_problem(text_hash: str, def_id: Any, title: Any, source: Any, compiled: Any) -> str | None:
    """What is wrong with a stored definition row, or None when it is the text its hash names.

    The source must hash to the row's key; the compiled form (what runs execute and the views
    read) must be canonical JSON naming the same hash, id and title, and equal what this
    sopengine compiles from the source whenever it compiles that source in the same format.
    """
    if not isinstance(source, str) or hashlib.sha256(source.encode("utf-8")).hexdigest() != text_hash:
        return _text(N_("its source text does not match its hash: the stored definition was edited"))
    try:
        data = json.loads(compiled)
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict) or canonical(data) != compiled:
        return _text(N_("its compiled form is not the canonical JSON the engine writes: it was edited"))
    if data.get("hash") != text_hash or data.get("id") != def_id or data.get("title") != title:
        return _text(N_("its compiled form names another hash, id or title than its row: it was edited"))
    from sopengine.definition.loader import check_text, compile_definition

    checked = check_text(source)
    # A source this sopengine no longer accepts (rules grow stricter), or one compiled by an
    # engine with another compiled format, cannot be compared: its hashes above still hold.
    if checked.ok and checked.definition is not None:
        fresh = compile_definition(checked.definition, source)
        if fresh.get("format") == data.get("format") and canonical(fresh) != compiled:
            return _text(N_("its compiled form differs from what its source compiles to: the compiled form was edited"))
    return None


def calendar_problem(cal_hash: str, data: Any) -> str | None:
    """What is wrong with a stored calendar snapshot, or None when it hashes to its key."""
    try:
        snapshot = json.loads(data)
    except (TypeError, ValueError):
        snapshot = None
    if snapshot is None or canonical(snapshot) != data:
        return _text(N_("its snapshot is not the canonical JSON the engine writes: it was edited"))
    if hashlib.sha256(data.encode("utf-8")).hexdigest() != cal_hash:
        return _text(N_("its snapshot does not match its hash: the stored calendar was edited"))
    return None


def _pin_problems(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The definitions and calendars runs are pinned to: each intact, and each there."""
    problems = []
    definitions = set()
    for text_hash, def_id, title, source, compiled in store_audit.definition_rows(conn):
        definitions.add(text_hash)
        reason = definition_problem(text_hash, def_id, title, source, compiled)
        if reason:
            problems.append(_problem("definition", _text(N_("definition {id} {hash}: {reason}"), id=def_id,
                                                         hash=str(text_hash)[:12], reason=reason)))
    calendars = set()
    for cal_hash, data in store_audit.calendar_rows(conn):
        calendars.add(cal_hash)
        reason = calendar_problem(cal_hash, data)
        if reason:
            problems.append(_problem("calendar", _text(N_("calendar {hash}: {reason}"), hash=str(cal_hash)[:12], reason=reason)))
    for run_id, definition_hash, calendar_hash in store_audit.run_pins(conn):
        if definition_hash not in definitions:
            problems.append(_problem(
                "definition", _text(N_("run {run} is pinned to definition {hash}, which is not in the definitions table:"
                                       " the row was deleted"), run=run_id, hash=str(definition_hash)[:12]),
                run_id=run_id,
            ))
        if calendar_hash is not None and calendar_hash not in calendars:
            problems.append(_problem(
                "calendar", _text(N_("run {run} is pinned to calendar {hash}, which is not in the calendars table: the"
                                     " row was deleted"), run=run_id, hash=str(calendar_hash)[:12]),
                run_id=run_id,
            ))
    return problems

