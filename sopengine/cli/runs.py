"""Commands that start, advance and read runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sopengine.cli.common import SopCommand, global_options, json_option, note, print_json, settings, state_word
from sopengine.i18n import _

if TYPE_CHECKING:
    from sopengine.cli.common import Settings
    from sopengine.store import Store


def _pairs(values: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(_("{option} takes NAME=VALUE, got {value!r}").format(option=option, value=value))
        out.append((key.strip(), rest))
    return out


def _when(text: str | None, tz: str | None = None) -> str:
    from sopengine.clock import local

    return local(text, tz) if text else "-"


def _late(seconds: int) -> str:
    from sopengine.clock import format_seconds

    return _("late by {time}").format(time=format_seconds(seconds, for_people=True)) if seconds else ""


@click.command("run", cls=SopCommand)
@click.argument("definition_id", metavar="ID")
@click.option("--period", help="The period this run is for: 2026-10, 2026-Q3, 2026-S2 or 2026.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Case data that automatic decisions read.")
@click.option("--assign", "assigns", multiple=True, metavar="ROLE=NAME", help="Assign a person to a role.")
@click.option("--allow-duplicate", is_flag=True, help="Start even if a run for this period is active.")
@click.option("--if-missing", is_flag=True, help="Start only if no run exists for --period; exit 0 either way.")
@click.option("--table", metavar="TABLE", help="The table to follow, for an SOP of several tables (its id or title).")
@global_options()
@json_option
def run_cmd(definition_id: str, period: str | None, sets: tuple[str, ...], assigns: tuple[str, ...],
            allow_duplicate: bool, if_missing: bool, table: str | None, as_json: bool) -> None:
    """Start a run of an SOP and show its first open step.

    Example:

        sopengine run pengumpulan-data --period 2026-10 --assign sekretaris-dinas="Agus Supriyadi"
    """
    from sopengine import api

    s = settings()
    result = api.start_run(
        definition_id, db=s.db_path, definitions=s.definitions, calendar=s.calendar, period=period,
        case=dict(_pairs(sets, "--set")), assign=_pairs(assigns, "--assign"), by=s.person, now=s.now,
        allow_duplicate=allow_duplicate, if_missing=if_missing, table=table,
    )
    if result.get("existing"):
        if as_json:
            print_json(result)
        note(_("Run {run} already exists for {period}; nothing started. (database: {db})").format(
            run=result["run_id"], period=result["period"], db=result["db"]))
        return
    status = api.run_status(s.db_path, result["run_id"], now=s.now, definitions=s.definitions)
    if as_json:
        print_json({**result, "open_steps": status["open_steps"]})
        return
    if result["period"]:
        click.echo(_("Started run {run} of {definition} ({title}) for {period}").format(
            run=result["run_id"], definition=result["definition"], title=result["title"], period=result["period"]))
    else:
        click.echo(_("Started run {run} of {definition} ({title})").format(
            run=result["run_id"], definition=result["definition"], title=result["title"]))
    if result.get("period_default"):
        click.echo(_("Period:   {period} (the current month; give --period for another period)").format(period=result["period"]))
    if status.get("table_title") or (result.get("table") and result["table"] != "utama"):
        click.echo(_("Table:    {table}").format(table=status.get("table_title") or result["table"]))
    _print_open(status)
    if result.get("due_at"):
        click.echo(_("Process deadline: {when}").format(when=_when(result["due_at"], status["timezone"])))
    click.echo(_("Database: {db}").format(db=result["db"]))


def _print_open(status: dict) -> None:
    from sopengine.status import stopped_for_people

    tz = status["timezone"]
    if not status["open_steps"]:
        click.echo(_("Run {run} is {status}.").format(run=status["run_id"], status=state_word(status["status"])))
        return
    for s in status["open_steps"]:
        no = f"{s['no']}. " if s.get("no") else ""
        part = " " + _("(part {part} of {parts})").format(part=s["part"], parts=s["parts"]) if s["parts"] > 1 else ""
        if s["state"] == "waiting":
            click.echo(_("Waiting:  {no}{kegiatan} — for its other branches").format(no=no, kegiatan=s["kegiatan"]))
            continue
        click.echo(_("Open:     {no}{kegiatan}").format(no=no, kegiatan=s["kegiatan"]) + part)
        if s["actor"]:
            click.echo(_("Actor:    {name} ({actor})").format(name=s["actor_name"], actor=s["actor"]))
        else:  # an automatic decision of format 1, stopped for a person: no lane of the SOP
            click.echo(_("Actor:    anyone who may act in the run"))
        if s.get("handover"):
            h = s["handover"]
            click.echo(_("Hand-over: {sop}").format(sop=h["sop"]) + (f" — {h['note']}" if h.get("note") else ""))
        if s.get("outcomes"):
            click.echo(_("Decide:   {outcomes}").format(outcomes=" / ".join(s["outcomes"])))
        stopped = stopped_for_people(s, status["run_id"])
        if stopped:
            click.echo(_("Stopped:  {why}").format(why=stopped))
        due = _when(s["due_at"], tz) if s["due_at"] else _("no due time ({waktu})").format(waktu=s.get("waktu") or _("untimed"))
        late = _late(s.get("late_by", 0))
        click.echo(_("Due:      {due}").format(due=due) + (f"  [{late}]" if late else ""))


@click.command("status", cls=SopCommand)
@click.argument("run_id", metavar="[RUN]", required=False)
@click.option("--all", "include_closed", is_flag=True, help="Include completed and cancelled runs.")
@global_options()
@json_option
def status_cmd(run_id: str | None, include_closed: bool, as_json: bool) -> None:
    """Show the active runs, or one run's timeline and what comes next.

    Example:

        sopengine status k7m-x3q
    """
    from sopengine import api

    s = settings()
    if run_id is None:
        runs = api.list_runs(s.db_path, include_closed=include_closed, now=s.now)
        if as_json:
            print_json(runs)
            return
        if not runs:
            note(_("No active runs.") if not include_closed else _("No runs."))
            return
        from rich.table import Table
        from rich.text import Text

        from sopengine.cli.common import console

        table = Table(title=_("Runs"), title_justify="left")
        for col in (_("Run"), "SOP", _("Period"), _("Status"), _("Open step"), _("Actor"), _("Due"), ""):
            table.add_column(col)
        for r in runs:
            steps = r["open_steps"] or [None]
            for i, st in enumerate(steps):
                first = i == 0
                table.add_row(
                    r["run_id"] if first else "", r["definition"] if first else "", (r["period"] or "-") if first else "",
                    state_word(r["status"]) if first else "",
                    (f"{st['no']}. {st['step']}" if st and st.get("no") else (st["step"] if st else "-")),
                    st["actor_name"] if st else "", _when(st["due_at"], r["timezone"]) if st and st["due_at"] else "-",
                    Text(_("OVERDUE"), style="red") if st and st["overdue"] else "",
                )
        console().print(table)
        return
    status = api.run_status(s.db_path, run_id, now=s.now, definitions=s.definitions)
    if as_json:
        print_json(status)
        return
    _print_timeline(status)


def _print_timeline(st: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    from sopengine.cli.common import console
    from sopengine.authority import mode_sentence
    from sopengine.documents import not_kept_note
    from sopengine.status import next_for_people, note_for_people, stopped_for_people

    tz = st["timezone"]
    out = console()
    out.print(Text.assemble((_("Run {run}").format(run=st["run_id"]), "bold"), f" — {st['title']} ({st['definition']})"
                            + (", " + _("period {period}").format(period=st["period"]) if st["period"] else "") + ": ",
                            (state_word(st["status"]), "bold")))
    out.print(_("Started {when} by {person}").format(when=_when(st["started_at"], tz), person=st["started_by"])
              + ("; " + _("finished {when}").format(when=_when(st["finished_at"], tz)) if st["finished_at"] else ""))
    if st["due_at"]:
        late = _late(st["deadline_late_by"])
        out.print(Text.assemble(_("Process deadline: {when} ({deadline})").format(when=_when(st["due_at"], tz), deadline=st["deadline"]),
                                (f" {late}" if late else "", "red")))
    if st.get("identity"):
        out.print(mode_sentence(st["identity"]), style="dim")
    if st["definition_file_missing"]:
        out.print(_("The definition file is gone; the run goes on from the text it started with."), style="yellow")
    elif st["definition_changed"]:
        out.print(_("The definition file has changed since this run started; the run follows the text it started with."), style="yellow")
    if st.get("table_title") or (st.get("table") and st["table"] != "utama"):
        out.print(_("Table: {table}").format(table=st.get("table_title") or st["table"]) + (f" ({st['table']})" if st.get("table_title") else ""))
    if st.get("state"):
        out.print(_("State: {state}").format(state="; ".join(f"{k}: {v}" for k, v in st["state"].items())))
    if st.get("ended_by"):
        e = st["ended_by"]
        if e.get("outcome"):
            out.print(_("Ended at {step} by the exit {outcome}, which the SOP does not draw").format(step=e["step"], outcome=e["outcome"]), style="yellow")
        else:
            out.print(_("Ended at {step}, by an arrow the SOP does not draw").format(step=e["step"]), style="yellow")
    if st["assignments"]:
        out.print(_("Assigned: {assignments}").format(
            assignments="; ".join(f"{a['role']}: {a['person']}" + (" (Plt.)" if a["acting"] else "") for a in st["assignments"])))
    table = Table(title=_("Timeline"), title_justify="left")
    for col in ("No", _("Step"), _("Actor"), _("Visit"), _("Opened"), _("Due"), _("Closed"), _("By"), _("Outcome"), _("Documents"), _("Note")):
        table.add_column(col, overflow="fold")
    for t in st["timeline"]:
        closed: str | Text
        due: str | Text
        if t["closed_at"]:
            closed = _when(t["closed_at"], tz)
        elif t["state"] == "open":
            closed = Text(state_word("open"), style="bold green")
        else:
            closed = state_word(t["state"])
        by = _for(t["closed_by"] or "", t["on_behalf_of"])
        due = _when(t["due_at"], tz) if t["due_at"] else "-"
        if t["late_by"]:
            due = Text.assemble(due, ("\n" + _late(t["late_by"]), "red"))
        table.add_row(
            str(t["no"] or "–"), t["step"] + (f" ({t['part']}/{t['parts']})" if t["parts"] > 1 else ""), t["actor_name"] or _("(engine)"),
            str(t["iteration"]), _when(t["opened_at"], tz), due, closed, by, t["outcome"] or "",
            "\n".join(f"{d['name']}: {d['path']}" + ("" if d.get("kept", True) else f" ({not_kept_note()})") for d in t["documents"]),
            note_for_people(t) or "",
        )
    out.print(table)
    if st["next"]:
        out.print(_("Next: {steps}").format(steps="; ".join(next_for_people(st))))
    for s in st["open_steps"]:
        stopped = stopped_for_people(s, st["run_id"])
        if stopped:
            out.print(Text(_("Stopped at {step}: {why}").format(step=s["step"], why=stopped), style="yellow"))


def _after_change(result: dict, verb: str, db: Store | None = None) -> None:
    """Say what a change did and what is open now; *db* the store the command already has open."""
    from sopengine import api

    s = settings()
    status = api.open_summary(db if db is not None else s.db_path, result["run_id"], now=s.now)
    click.echo(verb)
    _print_open(status)


_STEP_HELP = {
    "step": "The step: its id, or its row number when that row has one open step. Without it the command"
            " shows the open step and asks on a terminal, and refuses elsewhere.",
    "decision": "The decision: its id, or its row number when that row has one open step. Without it the"
                " command shows the open decision and asks on a terminal, and refuses elsewhere.",
}
_NOTE_HELP = {"step": "A remark kept with the step.", "decision": "A remark kept with the decision."}
_BEHALF_HELP = {
    "step": "The external party (citizen, agency) this step is recorded for.",
    "decision": "The external party (citizen, agency) this decision is recorded for.",
}


def _interactive() -> bool:
    """Whether a person is at a terminal: stdin and stdout both are one."""
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty()


def _command_store(s: Settings) -> Store:
    """The database a command that changes a run reads, writes and reads again, opened once:
    opening and closing it (a WAL checkpoint) cost more than the step itself. It must already be
    sopengine's: a mistyped --db naming an empty file or database is refused untouched."""
    from sopengine.store import Store

    return Store(s.db_path, existing=True)


def _named_step(db: Store, run_id: str, step: str | None, verb: str, outcome: str | None = None) -> tuple[str, int]:
    """The step a write acts on and its open task: *step* as given, resolved to the task open
    now; else, at a terminal, the open step the person confirms; elsewhere a refusal naming
    the exact command. The write is pinned to that task, so a change meanwhile (the row's
    part or the step's visit completed, the step reopened) makes it fail, never act on the
    next part or visit. *db*: the command's open store."""
    from sopengine import api

    if step is not None:
        return step, api.open_task(db, run_id, step)["task"]
    import shlex

    from sopengine.errors import InputError

    choices = api.open_steps(db, run_id, kind="decision" if verb == "decide" else "process")

    def command(key: str) -> str:
        words = ["sopengine", verb, run_id, *([outcome] if outcome is not None else []), "--step", key]
        return " ".join(shlex.quote(w) for w in words)

    if not _interactive():
        if len(choices) == 1:
            raise InputError(_("say which step: {command}").format(command=command(choices[0]["key"])), run_id=run_id)
        raise InputError(_("run {run} has {n} open steps; say which: {commands}").format(
            run=run_id, n=len(choices), commands="; ".join(command(c["key"]) for c in choices)), run_id=run_id)
    click.echo(_("Run {run}, open:").format(run=run_id), err=True)
    for c in choices:
        no = f"{c['no']}. " if c.get("no") else ""
        part = " " + _("(part {part} of {parts})").format(part=c["part"], parts=c["parts"]) if c["parts"] > 1 else ""
        click.echo(f"  {no}{c['kegiatan']}{part}", err=True)
        click.echo("    " + _("step {step} — {name} ({actor}); --step {key}").format(
            step=c["step"], name=c["actor_name"] or "-", actor=c["actor"] or "-", key=c["key"]), err=True)
    if len(choices) == 1:
        chosen = choices[0]
        question = _("Complete this step?") if verb == "complete" else _("Decide {outcome} at this step?").format(outcome=outcome)
        if not click.confirm(question, default=False, err=True):
            raise InputError(_("not confirmed; nothing was recorded (name the step with --step to skip the question)"), run_id=run_id)
        return str(chosen["step"]), chosen["task"]
    keys = [str(c["key"]) for c in choices]
    key = click.prompt(_("Which step (--step)?"), type=click.Choice(keys), err=True)
    chosen = next(c for c in choices if c["key"] == key)
    return str(chosen["step"]), chosen["task"]


def _work_options(what: str):
    """The options of a command that finishes a step: which step, its outputs, a note, for whom."""

    def decorate(f):
        for option in reversed([
            click.option("--step", help=_STEP_HELP[what]),
            click.option("--output", "outputs", multiple=True, metavar="NAME=FILE",
                         help="Record an output document (path, size, sha256)."),
            click.option("--note", help=_NOTE_HELP[what]),
            click.option("--on-behalf", help=_BEHALF_HELP[what]),
            global_options(),
            json_option,
        ]):
            f = option(f)
        return f

    return decorate


@click.command("complete", cls=SopCommand)
@click.argument("run_id", metavar="RUN")
@_work_options("step")
def complete_cmd(run_id: str, step: str | None, outputs: tuple[str, ...], note: str | None,
                 on_behalf: str | None, as_json: bool) -> None:
    """Complete the open step of a run (or your part of a multi-actor row).

    Example:

        sopengine complete k7m-x3q --step 1 --output Disposisi=disposisi.pdf --by "Agus Supriyadi"
    """
    from sopengine import api

    s = settings()
    with _command_store(s) as db:
        step, task = _named_step(db, run_id, step, "complete")
        result = api.complete(db, run_id, step=step, task=task, outputs=_pairs(outputs, "--output"), note=note,
                              by=s.person, now=s.now, on_behalf=on_behalf)
        if as_json:
            print_json(result)
            return
        _after_change(result, _("Completed {step} of run {run} ({person}).").format(
            step=result["step"], run=run_id, person=_for(result["completed_by"], result.get("on_behalf_of"))), db)


def _for(person: str, behalf: str | None) -> str:
    """Who recorded a step, and for whom when it was recorded on someone's behalf."""
    return person + (" " + _("for {party}").format(party=behalf) if behalf else "")


@click.command("decide", cls=SopCommand)
@click.argument("run_id", metavar="RUN")
@click.argument("outcome")
@_work_options("decision")
def decide_cmd(run_id: str, outcome: str, step: str | None, outputs: tuple[str, ...], note: str | None,
               on_behalf: str | None, as_json: bool) -> None:
    """Take the outcome of an open decision (Ya/Tidak or the SOP's own words).

    Example:

        sopengine decide k7m-x3q Tidak --step 4 --note "Nomor surat salah"
    """
    from sopengine import api

    s = settings()
    with _command_store(s) as db:
        step, task = _named_step(db, run_id, step, "decide", outcome)
        result = api.decide(db, run_id, outcome, step=step, task=task, outputs=_pairs(outputs, "--output"), note=note,
                            by=s.person, now=s.now, on_behalf=on_behalf)
        if as_json:
            print_json(result)
            return
        _after_change(result, _("Decided {outcome} at {step} of run {run} ({person}).").format(
            outcome=result["outcome"], step=result["step"], run=run_id,
            person=_for(result["decided_by"], result.get("on_behalf_of"))), db)


@click.command("reopen", cls=SopCommand)
@click.argument("run_id", metavar="RUN")
@click.argument("step")
@click.option("--reason", required=True, help="Why the run goes back (kept in the history).")
@global_options()
@json_option
def reopen_cmd(run_id: str, step: str, reason: str, as_json: bool) -> None:
    """Send a run back to a step to correct a mistake; the history keeps both.

    Example:

        sopengine reopen k7m-x3q 3 --reason "Data bulan Oktober salah"
    """
    from sopengine import api

    s = settings()
    with _command_store(s) as db:
        result = api.reopen(db, run_id, step, reason=reason, by=s.person, now=s.now)
        if as_json:
            print_json(result)
            return
        _after_change(result, _("Run {run} reopened at {step}.").format(run=run_id, step=result["step"]), db)


@click.command("assign", cls=SopCommand)
@click.argument("run_id", metavar="RUN")
@click.argument("role")
@click.argument("name")
@click.option("--acting", is_flag=True, help="The person acts for the official (Plt./Plh.).")
@click.option("--remove", is_flag=True, help="Remove the person from the role.")
@global_options()
@json_option
def assign_cmd(run_id: str, role: str, name: str, acting: bool, remove: bool, as_json: bool) -> None:
    """Assign a person to a role of a run; only assignees may then act for it.

    Example:

        sopengine assign k7m-x3q kepala-bidang "Siti Rahma" --acting
    """
    from sopengine import api

    s = settings()
    with _command_store(s) as db:
        result = api.assign(db, run_id, role, name, acting=acting, remove=remove, by=s.person, now=s.now)
    if as_json:
        print_json(result)
        return
    if remove:
        click.echo(_("Removed {person} from {role} in run {run}.").format(person=result["person"], role=result["role"], run=run_id))
    elif acting:
        click.echo(_("Assigned {person} to {role} in run {run} (acting, Plt.).").format(
            person=result["person"], role=result["role"], run=run_id))
    else:
        click.echo(_("Assigned {person} to {role} in run {run}.").format(person=result["person"], role=result["role"], run=run_id))


@click.command("cancel", cls=SopCommand)
@click.argument("run_id", metavar="RUN")
@click.option("--reason", required=True, help="Why the run is cancelled (kept in the history).")
@global_options()
@json_option
def cancel_cmd(run_id: str, reason: str, as_json: bool) -> None:
    """Cancel a run; its open steps close and nothing more can be done in it.

    Example:

        sopengine cancel k7m-x3q --reason "Dimulai dua kali"
    """
    from sopengine import api

    s = settings()
    with _command_store(s) as db:
        result = api.cancel(db, run_id, reason=reason, by=s.person, now=s.now)
    if as_json:
        print_json(result)
        return
    click.echo(_("Run {run} cancelled.").format(run=run_id))


@click.command("inbox", cls=SopCommand)
@click.option("--person", help="Steps waiting for this person, through the roles assigned to them.")
@click.option("--actor", help="Steps waiting for this role (actor id).")
@global_options()
@json_option
def inbox_cmd(person: str | None, actor: str | None, as_json: bool) -> None:
    """List the open steps waiting for a person or a role, oldest first.

    Without --person or --actor, the person is --by; else, with a people register, the
    registered person whose OS login runs the command; else SOPENGINE_USER or the OS login.

    Example:

        sopengine inbox --person "Agus Supriyadi"
    """
    from sopengine import api
    from sopengine.people import person_for_login

    s = settings()
    if not person and not actor:
        person = (None if s.by is not None else person_for_login(s.db_path)) or s.person
    rows = api.inbox(s.db_path, person=person, actor=actor, now=s.now)
    if as_json:
        print_json(rows)
        return
    if not rows:
        note(_("Nothing waiting for {who}.").format(who=person or actor))
        return
    from rich.table import Table
    from rich.text import Text

    from sopengine.cli.common import console

    table = Table(title=_("Waiting for {who}").format(who=person or actor), title_justify="left")
    for col in (_("Run"), "SOP", _("Period"), "No", _("Step"), _("Actor"), _("Opened"), _("Due"), ""):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["run_id"], r["definition"], r["period"] or "-", str(r["no"] or "–"), r["kegiatan"],
                      r["actor_name"], _when(r["opened_at"], r["timezone"]), _when(r["due_at"], r["timezone"]) if r["due_at"] else "-",
                      Text(_("OVERDUE"), style="red") if r["overdue"] else "")
    console().print(table)
