"""The library: everything the command line does, a Python caller can do.

Each CLI command calls one function here (or in the module it names). Heavy modules are
imported inside functions so that importing :mod:`sopengine.api` stays cheap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sopengine.errors import DefinitionInvalid
from sopengine.i18n import _

if TYPE_CHECKING:
    from sopengine.definition.loader import Checked
    from sopengine.definition.format2 import Definition2
    from sopengine.definition.models import Definition
    from sopengine.store import Store

    AnyDefinition = Definition | Definition2


# -- definitions -------------------------------------------------------------------------------

def list_definitions(definitions_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Every definition found: id, title, validity, where it came from; see :func:`sopengine.definition.catalog.listing`."""
    from sopengine.definition import catalog

    return catalog.listing(definitions_dir)


def load(definition_id: str, definitions_dir: str | Path | None = None) -> tuple[AnyDefinition, str, Path]:
    """The valid definition with this id (or file path), its text and its file."""
    from sopengine.definition import catalog
    from sopengine.definition.loader import load_definition

    found = catalog.find(definition_id, definitions_dir)
    definition, text = load_definition(found.path)
    return definition, text, found.path


def get_definition(definition_id: str, definitions_dir: str | Path | None = None) -> AnyDefinition:
    """The valid definition with this id; :class:`DefinitionInvalid` lists its problems."""
    return load(definition_id, definitions_dir)[0]


def definition_json(definition: Any) -> dict[str, Any]:
    """The definition as plain JSON data, with parsed durations beside the SOP's text.

    Format 2: ``tables``, each with its ``id``, ``title``, ``lanes`` (``id`` and ``name``)
    and ``rows``, each row with ``no`` (printed text) and its ``symbols`` (``id``, ``kind``,
    ``lane``, ``text``) — the contract outside tools rely on — and every other field as written.
    """
    from sopengine.definition.format2 import Definition2

    if isinstance(definition, Definition2):
        data = definition.model_dump(mode="json", exclude_none=False, by_alias=True)
        names = {a.id: a.name for a in definition.actors}
        for i, (table, raw) in enumerate(zip(definition.tables, data["tables"])):
            raw["id"] = definition.table_id(i)
            raw["lanes"] = [{"id": lane, "name": names.get(lane, lane)} for lane in definition.lanes(i)]
            for row, raw_row in zip(table.rows, raw["rows"]):
                raw_row["parsed_duration"] = row.parsed_duration
        return data
    data = definition.model_dump(mode="json", exclude_none=False)
    for step, raw in zip(definition.steps, data["steps"]):
        raw["parsed_duration"] = step.parsed_duration
    return data


def upgrade_file(path: str | Path) -> str:
    """The format-2 text of a format-1 definition file; :class:`DefinitionInvalid` if it is not valid."""
    from sopengine.definition.upgrade import upgrade_text
    from sopengine.errors import InputError

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(_("{file} does not exist; give the path of a definition file").format(file=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(_("{file} cannot be read ({reason}); give a UTF-8 definition file").format(file=path, reason=exc)) from None
    return upgrade_text(text, str(path))


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write *text* to *path* whole or not at all (a temporary file beside it, then renamed)."""
    import os
    import tempfile

    from sopengine.errors import InputError

    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InputError(_("cannot write {file} ({reason}); check the folder and its permissions").format(file=path, reason=exc.strerror)) from None


def validate(paths: list[Path] | None = None, definitions_dir: str | Path | None = None) -> list[Checked]:
    """Check files, folders or ids (every definition found when none are given)."""
    from sopengine.definition import catalog
    from sopengine.definition.loader import check_file

    files: list[Path] = []
    found = catalog.discover(definitions_dir)
    if not paths:
        files = [f.path for f in found.values()]
    for p in paths or []:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(x for x in p.glob("*.y*ml") if x.stem != "calendar"))
        elif p.exists() or p.suffix in (".yaml", ".yml"):
            files.append(p)
        else:
            files.append(catalog.find(str(p), definitions_dir).path)
    # a format-2 handover names another SOP: known when its definition is found here too
    known = set(found) | {Path(f).stem for f in files}
    return [check_file(f, known) for f in files]


def schema() -> dict[str, Any]:
    """The JSON Schema of the definition format, generated from the models.

    A file is format 2 or format 1 (``anyOf``, format 2 first, so that an editor offers its
    fields in a new file); format-1 files keep validating in editors.
    """
    from typing import Annotated

    from pydantic import Field, TypeAdapter

    from sopengine.definition.format2 import Definition2
    from sopengine.definition.models import Definition

    either = Annotated[Definition2 | Definition, Field(
        title="sopengine SOP definition",
        description="Format 2 ('format: 2'): the SOP's tables of rows as printed and its flowchart's "
        "symbols as drawn; write new files so. Format 1 (steps, no 'format: 2') still validates and runs.",
    )]
    data = TypeAdapter(either).json_schema()
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return data


def schema_text() -> str:
    return json.dumps(schema(), ensure_ascii=False, indent=2) + "\n"


# -- runs --------------------------------------------------------------------------------------
# The run operations live in sopengine.runs (writes) and sopengine.status (reads); they are
# re-exported here so that callers have one namespace.

def start_run(definition_id: str, **kwargs: Any) -> dict[str, Any]:
    """Start a run; see :func:`sopengine.runs.start_run`."""
    from sopengine.runs import start_run as _start

    return _start(definition_id, **kwargs)


def complete(db: str | Path | Store, run_id: str, **kwargs: Any) -> dict[str, Any]:
    """Complete a step; name it with ``step=`` (see :func:`sopengine.runs.complete`).

    Without ``step`` the run's only open step is completed, whichever it is by then: a
    repeated or concurrent call would complete the next step too. ``task=`` (an id from
    :func:`open_task` or :func:`open_steps`) pins the exact open task: the call completes it
    or is refused, saying who completed it and when, never the next part of a row or a
    visit opened meanwhile.
    """
    from sopengine.runs import complete as _complete

    return _complete(db, run_id, **kwargs)


def decide(db: str | Path | Store, run_id: str, outcome: str, **kwargs: Any) -> dict[str, Any]:
    """Take a decision; name it with ``step=``, pin it with ``task=`` (see :func:`sopengine.runs.decide`)."""
    from sopengine.runs import decide as _decide

    return _decide(db, run_id, outcome, **kwargs)


def open_steps(db: str | Path | Store, run_id: str, **kwargs: Any) -> list[dict[str, Any]]:
    """A run's open steps with the ``step`` key naming each; see :func:`sopengine.runs.open_steps`."""
    from sopengine.runs import open_steps as _open_steps

    return _open_steps(db, run_id, **kwargs)


def open_task(db: str | Path | Store, run_id: str, step: str) -> dict[str, Any]:
    """The open task a step names now, to pin a write with ``task=``; see :func:`sopengine.runs.open_task`."""
    from sopengine.runs import open_task as _open_task

    return _open_task(db, run_id, step)


def reopen(db: str | Path | Store, run_id: str, step: str, **kwargs: Any) -> dict[str, Any]:
    """Send a run back to a step; see :func:`sopengine.runs.reopen`."""
    from sopengine.runs import reopen as _reopen

    return _reopen(db, run_id, step, **kwargs)


def assign(db: str | Path | Store, run_id: str, role: str, person: str, **kwargs: Any) -> dict[str, Any]:
    """Assign a person to a role; see :func:`sopengine.runs.assign`."""
    from sopengine.runs import assign as _assign

    return _assign(db, run_id, role, person, **kwargs)


def cancel(db: str | Path | Store, run_id: str, **kwargs: Any) -> dict[str, Any]:
    """Cancel a run; see :func:`sopengine.runs.cancel`."""
    from sopengine.runs import cancel as _cancel

    return _cancel(db, run_id, **kwargs)


def open_summary(db: str | Path | Store, run_id: str, **kwargs: Any) -> dict[str, Any]:
    """What is open in a run now, as :func:`run_status` gives it; see :func:`sopengine.status.open_summary`."""
    from sopengine.status import open_summary as _open_summary

    return _open_summary(db, run_id, **kwargs)


def run_status(db: str | Path | Store, run_id: str, **kwargs: Any) -> dict[str, Any]:
    """One run's status and timeline; see :func:`sopengine.status.run_status`."""
    from sopengine.status import run_status as _status

    return _status(db, run_id, **kwargs)


def list_runs(db: str | Path, **kwargs: Any) -> list[dict[str, Any]]:
    """Active runs (all with include_closed=True); see :func:`sopengine.status.list_runs`."""
    from sopengine.status import list_runs as _list

    return _list(db, **kwargs)


def inbox(db: str | Path, **kwargs: Any) -> list[dict[str, Any]]:
    """Open steps for a person or role; see :func:`sopengine.inbox.inbox`."""
    from sopengine.inbox import inbox as _inbox

    return _inbox(db, **kwargs)


def run_definition(db: str | Path, run_id: str) -> AnyDefinition:
    """The definition a run is pinned to, parsed from the text it started with."""
    from sopengine.definition.loader import check_text
    from sopengine.store import Store

    with Store(db, readonly=True) as store:
        run = store.run(run_id)
        source = store.definition_source(run["definition_hash"])
    assert source is not None
    checked = check_text(source["source"], f"{source['id']}.yaml (pinned {source['hash'][:12]})")
    if checked.definition is None:
        raise DefinitionInvalid(checked.problems)
    return checked.definition


# -- rendering, time, audit ------------------------------------------------------------------------

def render(
    definition_id: str | None = None, *, fmt: str = "html", run: str | None = None, db: str | Path | None = None,
    definitions: str | Path | None = None, now: Any = None, notes: bool = True,
) -> str:
    """The SOP as ``html`` (official document), ``md`` or ``mermaid``; with *run*, marked with its progress.

    With *run*, the document is the definition text that run is pinned to.
    """
    from sopengine.errors import InputError

    progress = None
    if run:
        if db is None:
            raise InputError(_("give the database of the run (--db)"))
        progress = run_status(db, run, now=now, definitions=definitions)
        if definition_id and definition_id != progress["definition"]:
            raise InputError(
                _("run {run} is a run of {sop!r}, not {given!r}; leave out ID or give the right one").format(
                    run=run, sop=progress["definition"], given=definition_id)
            )
        definition = run_definition(db, run)
    elif definition_id:
        definition = get_definition(definition_id, definitions)
    else:
        raise InputError(_("give a definition ID, or --run RUN to render a run's progress"))
    from sopengine.definition.upgrade import as_format2

    definition = as_format2(definition)  # renderings draw format 2; a format-1 file as its upgrade
    if fmt == "html":
        from sopengine.render.html import render_html

        return render_html(definition, progress, notes=notes)
    if fmt == "md":
        from sopengine.render.markdown import render_markdown

        return render_markdown(definition, progress, notes=notes)
    if fmt == "mermaid":
        from sopengine.render.mermaid import render_mermaid

        return render_mermaid(definition, progress)
    raise InputError(_("unknown format {format!r}; use html, md or mermaid").format(format=fmt))


def overdue(db: str | Path, **kwargs: Any) -> list[dict[str, Any]]:
    """Open steps past due, most late first; see :func:`sopengine.overdue.overdue`."""
    from sopengine.overdue import overdue as _overdue

    return _overdue(db, **kwargs)


def report(db: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Standard against actual time per step; see :func:`sopengine.report.report`."""
    from sopengine.report import report as _report

    return _report(db, **kwargs)


def verify(db: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Check every run's hash chain; see :func:`sopengine.audit.verify`."""
    from sopengine.audit import verify as _verify

    return _verify(db, **kwargs)


def history(db: str | Path, **filters: Any) -> list[dict[str, Any]]:
    """Events, filtered; see :func:`sopengine.audit.history`."""
    from sopengine.audit import history as _history

    return _history(db, **filters)


def backup(db: str | Path, target: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Copy the live database with SQLite's online backup; see :func:`sopengine.audit.backup`."""
    from sopengine.audit import backup as _backup

    return _backup(db, target, **kwargs)


def db_copy(src: str | Path, dst: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Copy a whole database between SQLite and PostgreSQL; see :func:`sopengine.dbcopy.copy`."""
    from sopengine.dbcopy import copy as _copy

    return _copy(src, dst, **kwargs)


__all__ = [
    "backup",
    "db_copy",
    "history",
    "overdue",
    "render",
    "report",
    "verify",
    "assign",
    "cancel",
    "complete",
    "decide",
    "inbox",
    "list_runs",
    "open_steps",
    "open_task",
    "reopen",
    "run_definition",
    "run_status",
    "start_run",
    "DefinitionInvalid",
    "definition_json",
    "get_definition",
    "list_definitions",
    "load",
    "schema",
    "schema_text",
    "validate",
]
