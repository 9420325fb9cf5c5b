"""The store: the only package that talks to the database.

One module per concern: :mod:`~sopengine.store.core` opens a database, runs a transaction and
writes one command's changes to a run; :mod:`~sopengine.store.schema` holds the tables, views
and forward migrations. Everything else in sopengine asks the store and holds no SQL, so a
second database engine changes this package alone.
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
