"""Commands for auditors: history, audit verify / pack / verify-pack, backup."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sopengine.cli.common import SopCommand, SopGroup, console, global_options, json_option, note, print_json, settings
from sopengine.i18n import _


def local_time(text: str) -> str:
    from sopengine.audit.history import local_time as shown

    return shown(text)

TABLE_LIMIT = 1000
"""Entries the history table shows unless --limit says otherwise (CSV and JSON show all)."""

PROGRESS_AFTER = 200_000
"""Events (or pages of a backup) from which a long command shows a progress bar on a terminal."""


class ProgressBar:
    """A rich progress bar on stderr for long work: the library calls it with ``(done, total)``.

    It appears only when stderr is a terminal and the work is large (:data:`PROGRESS_AFTER`),
    and is cleared when the work is done; otherwise nothing is shown and nothing imported.
    A *total* of 0 means unknown: the bar then counts.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.terminal = sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if not self.terminal or max(done, total) < PROGRESS_AFTER:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=total or None)
        self._bar.update(self._task, completed=done, total=total or None)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _shown(text: Any) -> Any:
    """What the audit found (English as data), in the language in force."""
    from sopengine.audit import shown

    return shown(text)


def _problems_text(result: dict[str, Any], limit: int = 20) -> list[str]:
    problems = result["problems"]
    lines = []
    for p in problems[1:limit]:
        lines.append(f"  - {_shown(p['message'] if isinstance(p, dict) else p)}")
    if len(problems) > limit:
        lines.append(_("  … and {n} more (--json lists them all)").format(n=len(problems) - limit))
    return lines


# -- history ------------------------------------------------------------------------------------

@click.command("history", cls=SopCommand)
@click.option("--run", "run_id", metavar="RUN", help="Only this run.")
@click.option("--person", metavar="NAME", help="Only what this person recorded (any case).")
@click.option("--actor", metavar="ROLE", help="Only steps of this role (id or name, e.g. kepala-bidang).")
@click.option("--step", metavar="STEP", help="Only this step (id or number).")
@click.option("--kind", metavar="KIND", help="Only this kind of event (run_started, step_completed, decided, ...).")
@click.option("--since", metavar="WHEN", help="From this date or time (WIB unless an offset is given).")
@click.option("--until", metavar="WHEN", help="Up to this time, or the end of this date (WIB unless an offset is given).")
@click.option("--recorded-since", metavar="WHEN", help="Only what was written down from this date or time on (recorded_at).")
@click.option("--recorded-until", metavar="WHEN", help="Only what was written down up to this time, or the end of this date.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="Output format; CSV is UTF-8 with BOM for spreadsheets.")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help=f"At most N entries (0 = all; the table shows {TABLE_LIMIT} by default).")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write CSV or JSON to this file instead of stdout.")
@global_options()
@json_option
def history_cmd(run_id: str | None, person: str | None, actor: str | None, step: str | None, kind: str | None,
                since: str | None, until: str | None, recorded_since: str | None, recorded_until: str | None, fmt: str,
                limit: int | None, output: Path | None, as_json: bool) -> None:
    """Show every recorded event: when, who (and the OS user), what, with documents and notes.

    Times show in the SOP's zone (WIB) in the table and CSV, and in UTC in JSON. Entries
    recorded more than 5 minutes after the time they claim (work recorded later with
    --now) are marked as backdated, those recorded more than 5 minutes before it (a --now
    in the future) as postdated.

    Example:

        sopengine history --run k7m-x3q

        sopengine history --since 2026-10-01 --format csv -o oktober.csv

        sopengine history --recorded-since 2026-11-01 --recorded-until 2026-11-30
    """
    from sopengine import audit

    if as_json:
        fmt = "json"
    db = settings().db_path
    filters = dict(run=run_id, person=person, actor=actor, step=step, kind=kind, since=since, until=until,
                   recorded_since=recorded_since, recorded_until=recorded_until)
    if fmt == "table":
        shown = TABLE_LIMIT if limit is None else limit
        entries = audit.history(db, **filters, limit=shown + 1 if shown else None)
        more = bool(shown) and len(entries) > shown
        _history_table(entries[:shown] if shown else entries)
        if more:
            note(_("Showing the first {n} entries; --limit 0 shows all, --format csv writes them for a spreadsheet.").format(n=shown))
        return
    if output:
        with ProgressBar(_("Writing history")) as bar:
            count = audit.export_history(db, output, fmt=fmt, **filters, limit=limit or None, progress=bar)
        note(_("Wrote {n} entries to {file}.").format(n=count, file=output))
    else:
        sys.stdout.flush()
        with ProgressBar(_("Writing history")) as bar:
            audit.export_history(db, sys.stdout.buffer, fmt=fmt, **filters, limit=limit or None, progress=bar)
        sys.stdout.buffer.flush()


def _history_table(entries: list[dict[str, Any]]) -> None:
    if not entries:
        note(_("No events match."))
        return
    from rich.table import Table

    from sopengine import audit

    zones = {audit.local_parts(e["at"], e["timezone"])[1] for e in entries}
    one_zone = zones.pop() if len(zones) == 1 else None

    def shown(text: str | None, tz: str) -> str:
        return audit.local_time(text, tz)[: -len(one_zone) - 1] if one_zone else audit.local_time(text, tz)

    table = Table(title=_("History"), title_justify="left")
    time = _("Time ({zone})").format(zone=one_zone) if one_zone else _("Time")
    for col in ("#", time, _("Run"), _("Person"), _("OS user"), _("Action"), _("Step"), _("Outcome"), _("Documents"), _("Note"), _("Recorded")):
        table.add_column(col, overflow="fold")
    for e in entries:
        step = f"{e['step_no']}. {e['step']}" if e["step_no"] is not None else (e["step"] or "")
        later = ""
        if e["backdated"]:
            later = f"! {shown(e['recorded_at'], e['timezone'])}"
        elif e["postdated"]:
            later = f"? {shown(e['recorded_at'], e['timezone'])}"
        table.add_row(
            str(e["seq"]), shown(e["at"], e["timezone"]), e["run_id"], e["person"], e["os_user"], audit.shown(e["action"]),
            step, e["outcome"] or "", ", ".join(d["name"] or "" for d in e["documents"]), audit.shown(e["note"]) or "", later,
        )
    console().print(table)
    if any(e["backdated"] for e in entries):
        note(_("! recorded more than 5 minutes after the time it claims (entered later with --now)."))
    if any(e["postdated"] for e in entries):
        note(_("? recorded more than 5 minutes before the time it claims (dated in the future with --now)."))


# -- audit --------------------------------------------------------------------------------------

@click.group("audit", cls=SopGroup)
@global_options()
def audit_group() -> None:
    """Check the tamper-evident history; make and check evidence packs.

    Example:

        sopengine audit verify
    """


@audit_group.command("verify")
@click.option("--documents", is_flag=True, help="Also re-hash every recorded document's bytes kept in the database.")
@click.option("--expect-head", metavar="HEAD", help="A head noted earlier (HASH or HASH@SEQ) to compare with.")
@click.option("--full-check", is_flag=True,
              help="Run SQLite's full integrity_check first (slower) instead of its quick_check (on PostgreSQL,"
                   " the server's own check either way).")
@click.option("--checkpoints", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An auditor's checkpoint file: prove the history up to every checkpoint in it unchanged.")
@click.option("--public-key", metavar="KEY",
              help="The auditor's public key (KEYFILE.pub or 64 hex digits) every checkpoint must be signed with.")
@global_options()
@json_option
def verify_cmd(documents: bool, expect_head: str | None, full_check: bool, checkpoints: Path | None,
               public_key: str | None, as_json: bool) -> None:
    """Check the database file, recompute every hash chain and name the first bad event.

    SQLite's own quick_check comes first (--full-check: integrity_check): a damaged file
    exits 6, and only then is restoring a backup advised. On PostgreSQL the server keeps
    its storage sound and the check asks whether it met damaged pages. Prints the database head
    (HASH@SEQ): note it elsewhere, and later --expect-head shows whether events up to that
    point were cut off or the history rebuilt. With --checkpoints, every signed checkpoint
    is held to the history (see 'sopengine audit checkpoint'). Exit code 0 when everything
    holds, 1 when anything does not.

    Example:

        sopengine audit verify --documents

        sopengine audit verify --expect-head 3f2a…c9@1234

        sopengine audit verify --checkpoints /media/auditor/kantor.checkpoints --public-key auditor.key.pub
    """
    from sopengine import audit

    if public_key and checkpoints is None:
        raise click.UsageError(_("--public-key checks the signatures of a checkpoint file: give it with --checkpoints FILE"))
    with ProgressBar(_("Verifying events")) as bar:
        result = audit.verify(settings().db_path, documents=documents, expect_head=expect_head, full_check=full_check,
                              progress=bar, checkpoints=checkpoints, public_key=public_key)
    if as_json:
        print_json(result)
    else:
        _print_verify(result)
    if not result["ok"]:
        sys.exit(1)


def _print_verify(r: dict[str, Any]) -> None:
    if r["ok"]:
        click.echo(_("OK: {events} events in {runs} runs verified; every chain holds ({seconds:.2f} s).").format(
            events=r["events"], runs=r["runs"], seconds=r["seconds"]))
    else:
        click.echo(_("FAILED: {problems} problem(s) among {events} events in {runs} runs.").format(
            problems=len(r["problems"]), events=r["events"], runs=r["runs"]))
        click.echo(_("First problem: {message}").format(message=_shown(r["first_problem"]["message"])))
        for line in _problems_text(r):
            click.echo(line)
    docs = r.get("documents")
    if docs is not None:
        click.echo(_("Documents: {checked} recorded, {ok} unchanged, {changed} changed, {missing} missing,"
                     " {unrecorded} not matching any event.").format(
            checked=docs["checked"], ok=docs["ok"], changed=len(docs["changed"]), missing=len(docs["missing"]),
            unrecorded=len(docs["unrecorded"])))
        for d in docs["changed"]:
            click.echo(_("  changed: {name} (run {run}) {path}").format(name=d["name"], run=d["run_id"], path=d["path"]))
        for d in docs["missing"]:
            click.echo(_("  missing: {name} (run {run}) {path}").format(name=d["name"], run=d["run_id"], path=d["path"]))
        if docs.get("not_kept"):
            click.echo(_("{count} document(s) not kept in the database (recorded before the document store): checked at their"
                         " recorded path instead.").format(count=len(docs["not_kept"])))
        if docs.get("unreferenced"):
            click.echo(_("{count} kept document(s) recorded by no step (a step refused after its file was stored);"
                         " harmless.").format(count=docs["unreferenced"]))
    if "head_matches" in r:
        click.echo(_("Expected head: matches") if r["head_matches"] else _("Expected head: DOES NOT MATCH"))
    held = r.get("checkpoints")
    if held is not None:
        _print_checkpoints(held)
    click.echo(_("Head: {head}").format(head=r["head"]))
    if r["ok"] and "head_matches" not in r and held is None:
        note(_("Note this head somewhere else; 'sopengine audit verify --expect-head HEAD' compares with it later."))


def _print_checkpoints(held: dict[str, Any]) -> None:
    last = held["last"]
    keys = ", ".join(k[:16] + "…" for k in held["keys"]) or "-"
    click.echo(_("Checkpoints: {held} of {count} in {file} hold (signed by {keys}).").format(
        held=held["held"], count=held["count"], file=held["file"], keys=keys))
    if last is not None:
        click.echo(_("Last checkpoint: {time}, head {head}.").format(time=local_time(last["time"]), head=last["head"]))
    if not held["key_given"] and held["count"]:
        note(_("Anyone can make a key: compare the key above with the auditor's, or pass --public-key KEYFILE.pub."))


@audit_group.command("keygen")
@click.argument("key_file", metavar="KEYFILE", type=click.Path(dir_okay=False, path_type=Path))
@global_options()
@json_option
def keygen_cmd(key_file: Path, as_json: bool) -> None:
    """Make an auditor's signing key: KEYFILE (private, readable by you alone) and KEYFILE.pub.

    Keep KEYFILE away from the database and from the people whose work is audited; give
    KEYFILE.pub to whoever checks the checkpoints. A key is never replaced.

    Example:

        sopengine audit keygen /media/auditor/auditor.key
    """
    from sopengine.audit import checkpoints

    result = checkpoints.keygen(key_file)
    if as_json:
        print_json(result)
        return
    click.echo(_("Wrote the private key {key} and the public key {public}.").format(
        key=result["key"], public=result["public_key_file"]))
    click.echo(_("Public key: {key}").format(key=result["public_key"]))
    note(_("Keep the private key with the auditor, away from this database."))


@audit_group.command("checkpoint")
@click.option("--key", "key_file", metavar="KEYFILE", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The auditor's private key ('sopengine audit keygen' makes one).")
@click.option("--file", "file", metavar="FILE", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The checkpoint file the auditor keeps apart from the database; one line is added.")
@global_options()
@json_option
def checkpoint_cmd(key_file: Path, file: Path, as_json: bool) -> None:
    """Verify the database, then sign its head and the real time and add the checkpoint to FILE.

    Later 'sopengine audit verify --checkpoints FILE' proves the history up to every
    checkpoint unchanged, and names events added after one but dated before it. Nothing is
    signed when the history does not verify. Keep FILE (and the key) where those who write
    the database cannot change it.

    Example:

        sopengine audit checkpoint --key /media/auditor/auditor.key --file /media/auditor/kantor.checkpoints
    """
    from sopengine.audit import checkpoints

    with ProgressBar(_("Verifying events")) as bar:
        record = checkpoints.checkpoint(settings().db_path, key_file, file, progress=bar)
    if as_json:
        print_json(record)
        return
    click.echo(_("Checkpoint {n} added to {file}: head {head}, {time}.").format(
        n=record["number"], file=record["file"], head=record["head"], time=local_time(record["time"])))
    click.echo(_("Public key: {key}").format(key=record["public_key"]))


@audit_group.command("pack")
@click.argument("run_id", metavar="RUN")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The zip to write (default: evidence-RUN.zip).")
@click.option("--force", is_flag=True, help="Replace the zip if it exists.")
@global_options()
@json_option
def pack_cmd(run_id: str, output: Path | None, force: bool, as_json: bool) -> None:
    """Write one run's evidence into a zip an auditor can take away.

    The zip holds the pinned definition text, the events (JSON and CSV), the chain check,
    the recorded documents as the database keeps them (and a list of any that do not
    match their hashes) and a manifest with the sha256 of every member. Exit code 1 when
    the run's chain is broken (the pack is written and records it).

    Example:

        sopengine audit pack k7m-x3q -o k7m-x3q.zip
    """
    from sopengine import audit

    target = output or Path(f"evidence-{run_id}.zip")
    result = audit.pack(settings().db_path, run_id, target, force=force)
    if as_json:
        print_json(result)
    else:
        docs = result["documents"]
        click.echo(_("Wrote {file}: {events} events; documents {included} included, {changed} changed, {missing} missing.").format(
            file=result["path"], events=result["events"], included=docs["included"], changed=docs["changed"], missing=docs["missing"]))
        if result.get("not_kept"):
            click.echo(_("{count} documents not kept in the database (recorded before the document store): taken from"
                         " their recorded path where the file still matches.").format(count=len(result["not_kept"])))
        click.echo(_("Run head: {head}").format(head=result["run_head"]))
        click.echo(_("Manifest sha256: {sha256}").format(sha256=result["manifest_sha256"]))
        if not result["ok"]:
            click.echo(_("The run's chain is broken: {message}").format(message=_shown(result["problem"]["message"])))
        else:
            note(_("Note the manifest sha256 elsewhere; 'sopengine audit verify-pack FILE --expect-manifest SHA256' compares with it."))
    if not result["ok"]:
        sys.exit(1)


@audit_group.command("verify-pack")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--expect-head", metavar="HASH", help="The run head noted when the pack was made.")
@click.option("--expect-manifest", metavar="SHA256", help="The manifest sha256 noted when the pack was made.")
@json_option
@global_options()
def verify_pack_cmd(path: Path, expect_head: str | None, expect_manifest: str | None, as_json: bool) -> None:
    """Check an evidence pack without the database; name the first problem.

    Checks every member against the manifest, recomputes the run's hash chain from
    events.json, the definition's hash and the documents' hashes, makes events.csv and
    README.txt again from the events and compares them, and checks run.json and
    verification.json against the events. A member the chain does not account for, or a
    member name that could write outside the folder (.., an absolute path, a backslash),
    is refused. Exit code 0 when the pack holds, 1 when it does not.

    Example:

        sopengine audit verify-pack k7m-x3q.zip --expect-manifest 97e5…2d94
    """
    from sopengine import audit

    result = audit.verify_pack(path, expect_head=expect_head, expect_manifest=expect_manifest)
    if as_json:
        print_json(result)
    elif result["ok"]:
        docs = result["documents"]
        click.echo(_("OK: {file} holds; run {run}, {events} events; documents {included} included, {changed} changed,"
                     " {missing} missing.").format(
            file=path, run=result["run_id"], events=result["events"], included=docs["included"], changed=docs["changed"],
            missing=docs["missing"]))
        click.echo(_("Run head: {head}").format(head=result["run_head"]))
        click.echo(_("Manifest sha256: {sha256}").format(sha256=result["manifest_sha256"]))
    else:
        click.echo(_("FAILED: {file}: {problem}").format(file=path, problem=_shown(result["first_problem"])))
        for line in _problems_text(result):
            click.echo(line)
    if not result["ok"]:
        sys.exit(1)


# -- backup -------------------------------------------------------------------------------------

@click.command("backup", cls=SopCommand)
@click.argument("target", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@global_options()
@json_option
def backup_cmd(target: Path, force: bool, as_json: bool) -> None:
    """Copy the live database safely with SQLite's online backup, while others keep working.

    Never copy the database file itself while it is in use. The head of the copy is
    printed so that the copy can be checked with 'sopengine audit verify --expect-head'.
    A PostgreSQL database is backed up with pg_dump instead, or copied into an SQLite
    file with 'sopengine db copy'.

    Example:

        sopengine backup /media/usb/sopengine-2026-10-31.db
    """
    from sopengine import audit

    with ProgressBar(_("Backing up")) as bar:
        # in steps only when someone watches: otherwise one step, as fast as SQLite copies
        result = audit.backup(settings().db_path, target, force=force, progress=bar if bar.terminal else None)
    if as_json:
        print_json(result)
        return
    click.echo(_("Backed up {db} to {file}: {events} events in {runs} runs, {size:,} bytes.").format(
        db=settings().db_path, file=result["path"], events=result["events"], runs=result["runs"], size=result["size"]))
    click.echo(_("Head of the copy: {head}").format(head=result["head"]))
    note(_("Check it with: sopengine audit verify --db {file} --expect-head {head}").format(file=result["path"], head=result["head"]))
