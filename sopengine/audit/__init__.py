"""The audit trail: verify the hash chains, query the history, evidence packs, backups.

One module per concept:

* :mod:`~sopengine.audit.verify` — :func:`verify` walks every event in ``seq`` order, checks
  each run's hash chain and the tables against it, and returns the *database head*
  (``HASH@SEQ``); :func:`head` reads the stored head without checking. It leans on
  :mod:`~sopengine.audit.canonical` (an event's hash from its stored row, payload checks,
  noted heads), :mod:`~sopengine.audit.diagnose` (naming a run's first bad event),
  :mod:`~sopengine.audit.tables` (runs, tasks and assignments rebuilt from the events),
  :mod:`~sopengine.audit.pins` (definitions and calendars) and
  :mod:`~sopengine.audit.documents` (recorded files re-hashed).
* :mod:`~sopengine.audit.history` — :func:`history` / :func:`iter_history` read the events
  with filters; :func:`export_history` writes them as CSV or JSON.
* :mod:`~sopengine.audit.packs` — :func:`pack` writes a run's evidence into one zip.
* :mod:`~sopengine.audit.pack_check` — :func:`verify_pack` checks such a zip without the database.
* :mod:`~sopengine.audit.checkpoints` — :func:`keygen` makes an auditor's Ed25519 key;
  :func:`checkpoint` signs the database head and the time into a file kept apart, which
  ``verify(checkpoints=FILE)`` holds the history to.
* :mod:`~sopengine.audit.backup` — :func:`backup` copies the live database with SQLite's
  online backup API.

The canonical form and the hash themselves are :mod:`sopengine.chain` (the step path writes
with them and must not import this package). Every SQL statement the audit runs is in
:mod:`sopengine.store.audit`; every write goes through the store (a backup writes only its
new file). What the checks find is data in English (:mod:`~sopengine.audit.findings`),
shown to a person in the language in force with :func:`shown`.
"""

from __future__ import annotations

from sopengine.audit.backup import backup
from sopengine.audit.canonical import parse_head, payload_problem
from sopengine.audit.checkpoints import checkpoint, keygen
from sopengine.audit.documents import file_sha256
from sopengine.audit.findings import AuditError, Text, shown
from sopengine.audit.history import (
    BACKDATED_AFTER,
    CSV_COLUMNS,
    KINDS,
    POSTDATED_AFTER,
    HistoryStream,
    csv_cell,
    export_history,
    history,
    history_json,
    iter_history,
    local_parts,
    local_time,
    open_output,
    write_history_csv,
    write_history_json,
)
from sopengine.audit.pack_check import verify_pack
from sopengine.audit.packs import PACK_FORMAT, pack
from sopengine.audit.pins import calendar_problem, definition_problem
from sopengine.audit.verify import floor_rate, head, verify

__all__ = [
    "BACKDATED_AFTER", "CSV_COLUMNS", "KINDS", "PACK_FORMAT", "POSTDATED_AFTER", "AuditError", "HistoryStream", "Text",
    "backup", "calendar_problem", "checkpoint", "floor_rate", "keygen", "csv_cell", "definition_problem", "export_history", "file_sha256", "head", "history",
    "history_json", "iter_history", "local_parts", "local_time", "open_output", "pack", "parse_head", "payload_problem",
    "shown", "verify", "verify_pack", "write_history_csv", "write_history_json",
]
