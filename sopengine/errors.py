"""The error tree.

Every error a user can cause is a :class:`SopError`; the CLI catches only that class,
prints ``Error: <message>`` on stderr and exits with the error's :attr:`~SopError.exit_code`
(1 unless the tree below says otherwise). Anything else is a bug and shows a traceback.
Context is carried as keyword attributes, never only in the text::

    SopError                       exit 1
    ├── DefinitionError            a definition cannot be used
    │   ├── DefinitionInvalid      one or more problems, each with file, line and field
    │   └── DefinitionNotFound     no definition with that id
    ├── InputError                 a command-line value that cannot be read (period, time, KEY=VALUE)
    ├── RunError                   a change to a run is refused (run_id, step attributes)
    │   ├── RunNotFound
    │   ├── RunClosed              the run is completed or cancelled
    │   ├── StepNotOpen            the step named is not open
    │   ├── UnknownOutcome         the decision has no such outcome
    │   ├── NotAssigned            the person is not assigned to the step's role
    │   ├── OutputMissing          a required output, or an output file, is missing
    │   ├── DuplicateRun           a run for that definition and period is already active
    │   └── ConcurrentChange       another command changed the run first
    └── StoreError                 the database cannot be used (path)
        ├── DatabaseMissing        no file there
        ├── NotADatabase           the file is not a sopengine database (a text file, another program's)
        ├── DatabaseTooNew         written by a newer sopengine
        ├── DatabaseBusy           exit 4: another command held the write lock too long; try again
        ├── StorageUnavailable     exit 5: the file cannot be written or read (cause: "full",
        │                          "limit", "readonly", "permission" or "io"); the data is intact
        └── DatabaseDamaged        exit 6: SQLite's own check found the file damaged (problem);
                                   restore it from a backup, it takes no more changes

:mod:`sopengine.store.errors` turns SQLite's exceptions into the last four, by their cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sopengine.i18n import _

if TYPE_CHECKING:  # a definition's problems are built by sopengine.definition alone
    from sopengine.definition.problem import Problem


def __getattr__(name: str) -> object:
    """``sopengine.errors.Problem``, where a library caller found it before it moved to
    :mod:`sopengine.definition.problem`; imported when asked for, so that every command's
    start-up does not build it."""
    if name == "Problem":
        from sopengine.definition.problem import Problem

        return Problem
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class SopError(Exception):
    """Base class of every error a user can cause and fix."""

    exit_code: int = 1
    """The command line's exit status for this error (see ``docs/cli.md``, Exit codes)."""

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context
        for key, value in context.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


class DefinitionError(SopError):
    """A definition cannot be used."""


class DefinitionInvalid(DefinitionError):
    """A definition file has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        first = str(errors[0]) if errors else _("invalid definition")
        if len(errors) > 1:
            first = _("{problem} (and {n} more problem(s); run 'sopengine validate')").format(problem=first, n=len(errors) - 1)
        super().__init__(first, problems=problems)


class DefinitionNotFound(DefinitionError):
    """No definition with the id asked for."""


class InputError(SopError):
    """A value given on the command line (or to the library) cannot be read."""


class RunError(SopError):
    """A change to a run is refused."""


class RunNotFound(RunError):
    pass


class RunClosed(RunError):
    pass


class StepNotOpen(RunError):
    pass


class UnknownOutcome(RunError):
    pass


class NotAssigned(RunError):
    pass


class OutputMissing(RunError):
    pass


class DuplicateRun(RunError):
    pass


class ConcurrentChange(RunError):
    pass


class StoreError(SopError):
    """The database cannot be used; ``path`` names the file."""


class DatabaseMissing(StoreError):
    pass


class NotADatabase(StoreError):
    pass


class DatabaseTooNew(StoreError):
    pass


class DatabaseBusy(StoreError):
    """Another command held the database's write lock for longer than the busy timeout.

    Nothing was changed; the same command, run again a moment later, normally succeeds.
    """

    exit_code = 4


class StorageUnavailable(StoreError):
    """The file cannot be written (or read) where it is; the data in it is intact.

    ``cause`` says why: ``"full"`` (no room left on the disk), ``"limit"`` (a file size limit,
    ``ulimit -f``), ``"readonly"`` (the file, its folder or the connection is read-only),
    ``"permission"`` (the system refuses access) or ``"io"`` (the disk reported an error).
    """

    exit_code = 5


class DatabaseDamaged(StoreError):
    """SQLite's own check (``PRAGMA quick_check`` or ``integrity_check``) found the file damaged.

    ``problem`` is the first thing the check reported. Only this error advises restoring a
    backup; the store refuses further changes to the file (see :mod:`sopengine.store.errors`).
    """

    exit_code = 6
