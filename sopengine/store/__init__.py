"""The store: the only package that talks to the database.

One module per concern: :mod:`~sopengine.store.core` opens a database, runs a transaction and
writes one command's changes to a run; :mod:`~sopengine.store.runs` reads a run for a change
and for status; :mod:`~sopengine.store.queries` answers overdue, report and inbox;
:mod:`~sopengine.store.audit` holds everything ``audit`` and ``history`` read;
:mod:`~sopengine.store.people` the people register and the office's event chain;
:mod:`~sopengine.store.documents` the document store; :mod:`~sopengine.store.errors` turns
SQLite's result codes into errors by their cause; :mod:`~sopengine.store.schema` holds the
tables, views and forward migrations. Everything else in sopengine asks the store and holds
no SQL, so a second database engine changes this package alone.
"""

from sopengine.store.core import (
    BUSY_TIMEOUT_MS,
    SCHEMA_VERSION,
    Changes,
    CloseTask,
    Event,
    NewTask,
    Store,
    use,
)

__all__ = ["BUSY_TIMEOUT_MS", "SCHEMA_VERSION", "Changes", "CloseTask", "Event", "NewTask", "Store", "use"]
