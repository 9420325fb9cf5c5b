"""Commands about time: overdue, calendar, report."""

from __future__ import annotations

import csv
import sys
from typing import Any

import click

from sopengine.cli.common import SopCommand, console, global_options, json_option, note, print_json, settings, state_word
from sopengine.i18n import _

EXIT_OVERDUE = 3
"""Exit code of ``overdue --fail-if-any`` when something is overdue."""


def _late_text(row: dict[str, Any]) -> str:
    from sopengine.clock import format_seconds

    text = format_seconds(row["late_by"], for_people=True)
    if row["counted_in"] == "calendar":
        return _("{time} (calendar)").format(time=text)
    return _with_days(text, row.get("late_by_days"))


def _with_days(text: str, days: int | None) -> str:
    """``136 h`` -> ``136 h (17 hari kerja)`` once the office time makes a working day or more."""
    return _("{time} ({days} hari kerja)").format(time=text, days=days) if days else text


def _who(actor_name: str | None, actor: str | None, assigned: list[str]) -> str:
    who = actor_name or actor or "-"
    return f"{who} ({', '.join(assigned)})" if assigned else who


# -- overdue ---------------------------------------------------------------------------------------


@click.command("overdue", cls=SopCommand)
@click.option("--actor", metavar="ROLE", help="Only steps of this role (its id or its name as the SOP writes it).")
@click.option("--person", metavar="NAME", help="Only steps of roles this person is assigned to in the run.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Show the N most overdue only.")
@click.option("--fail-if-any", is_flag=True, help="Exit with code 3 when anything is overdue (for cron and scripts).")
@global_options()
@json_option
def overdue_cmd(actor: str | None, person: str | None, limit: int | None, fail_if_any: bool, as_json: bool) -> None:
    """List open steps past their due time, most overdue first, and runs past their deadline.

    Lateness is office time counted by each run's own calendar (elapsed time for steps in
    hari kalender); due times are shown in each run's zone, and --now without an offset is
    read in WIB. With --fail-if-any the exit code is 3 when the list is not empty, so a
    cron job can send the output to someone.

    Example:

        sopengine overdue --actor kepala-bidang --fail-if-any
    """
    from sopengine import clock
    from sopengine.overdue import overdue

    s = settings()
    rows = overdue(s.db_path, now=s.now, actor=actor, person=person, limit=limit)
    if as_json:
        print_json(rows)
    elif not rows:
        note(_("Nothing is overdue at {when}.").format(when=clock.local(clock.now(s.now))))
    else:
        _print_overdue(rows, clock.local(clock.now(s.now)))
    if fail_if_any and rows:
        sys.exit(EXIT_OVERDUE)


def _print_overdue(rows: list[dict[str, Any]], at: str) -> None:
    from rich.table import Table

    from sopengine import clock

    steps = [r for r in rows if r["kind"] == "step"]
    deadlines = [r for r in rows if r["kind"] == "deadline"]
    out = console()
    if steps:
        table = Table(title=_("Overdue steps at {when}").format(when=at), title_justify="left")
        for col in (_("Late by"), _("Due"), _("Run"), "SOP", _("Period"), "No", "Kegiatan", "Waktu", _("Who must act")):
            table.add_column(col)
        for r in steps:
            kegiatan = r["kegiatan"] or r["step"]
            if r["iteration"] and r["iteration"] > 1:
                kegiatan += " " + _("(round {n})").format(n=r["iteration"])
            table.add_row(
                _late_text(r), clock.local(r["due_at"], r["timezone"]), r["run_id"],
                r["definition"] + (f" / {r['table']}" if r.get("table") and r["table"] != "utama" else ""), r["period"] or "-",
                str(r["no"] or ""), kegiatan, r["waktu"] or "-", _who(r["actor_name"], r["actor"], r["assigned"]),
            )
        out.print(table)
    if deadlines:
        table = Table(title=_("Runs past their deadline at {when}").format(when=at), title_justify="left")
        for col in (_("Late by"), _("Deadline"), _("Run"), "SOP", _("Period"), "Batas waktu", _("Waiting on")):
            table.add_column(col)
        for r in deadlines:
            waiting = "; ".join(
                f"{w['no'] or w['step']}: {_who(w['actor_name'], w['actor'], w['assigned'])}" for w in r["waiting_on"]
            ) or "-"
            table.add_row(
                _late_text(r), clock.local(r["due_at"], r["timezone"]), r["run_id"],
                r["definition"] + (f" / {r['table']}" if r.get("table") and r["table"] != "utama" else ""), r["period"] or "-",
                r["waktu"] or "-", waiting,
            )
        out.print(table)
    note(_("{steps} overdue step(s), {runs} run(s) past their deadline.").format(steps=len(steps), runs=len(deadlines)))


# -- calendar --------------------------------------------------------------------------------------


def calendar_view(
    option: str | None, definitions: str | None, year: int | None, now: str | None, definition: str | None = None,
) -> dict[str, Any]:
    """The calendar in force for ``year`` as plain data: where it came from, hours, closed days.

    With ``definition`` (an SOP's id), that SOP's own ``timezone`` and ``hours`` are applied
    over the file, as they are for its runs.
    """
    from sopengine import clock
    from sopengine.calendar import DAY_NAMES_ID, WEEKDAYS, load_calendar, resolve_calendar_path
    from sopengine.definition.catalog import search_dirs

    path = resolve_calendar_path(option, [p for p, _ in search_dirs(definitions)])
    if year is None:
        # The year is read in the default zone first; the calendar's own zone rarely differs by a year.
        year = clock.now(now).astimezone(clock.zone()).year
    zone, hours = None, None
    if definition:
        from sopengine import api

        sop = api.get_definition(definition, definitions)
        zone, hours = sop.timezone, sop.hours
    cal = load_calendar(path, years=[year], timezone=zone, hours=hours)
    return {
        "year": year,
        "source": str(path) if path else "packaged default",
        "file": str(path) if path else None,
        "definition": definition or None,
        "timezone": cal.zone,
        "hours": [
            {"weekday": WEEKDAYS[i], "day": day, "hours": None if span == "tutup" else span}
            for i, (day, span) in enumerate(cal.describe_hours())
        ],
        "closed": [
            {"date": d.isoformat(), "day": DAY_NAMES_ID[d.weekday()], "name": name} for d, name in cal.closed_days(year)
        ],
        "open": [
            {"date": d.isoformat(), "day": DAY_NAMES_ID[d.weekday()], "name": name,
             "hours": "–".join(f"{t:%H:%M}" for t in cal.hours_on(d) or ())}
            for d, name in cal.extra_working_days(year)
        ],
    }


@click.command("calendar", cls=SopCommand)
@click.option("--year", type=click.IntRange(1, 9998), metavar="YEAR", help="Year to list (default: this year).")
@click.option("--definition", "definition_id", metavar="ID",
              help="Apply this SOP's own timezone and hours, as its runs do.")
@global_options()
@json_option
def calendar_cmd(year: int | None, definition_id: str | None, as_json: bool) -> None:
    """Show the working calendar in force: office hours and the days the office is closed.

    The calendar file is --calendar FILE (or SOPENGINE_CALENDAR), else calendar.yaml in the
    definitions folder, else the packaged default. Holidays on a weekend are listed too.
    With --definition, the SOP's own timezone and hours win over the file, as for its runs.

    Example:

        sopengine calendar --year 2026 --definition permohonan-informasi-publik
    """
    s = settings()
    view = calendar_view(s.calendar, s.definitions, year, s.now, definition_id)
    if as_json:
        print_json(view)
        return
    from rich.table import Table

    out = console()
    source = view["source"] if view["file"] else _("packaged default")
    if view["definition"]:
        out.print(_("Working calendar {year} — {source}, with the timezone and hours of {definition} ({timezone})").format(
            year=view["year"], source=source, definition=view["definition"], timezone=view["timezone"]))
    else:
        out.print(_("Working calendar {year} — {source} ({timezone})").format(
            year=view["year"], source=source, timezone=view["timezone"]))
    hours = Table(title="Jam kerja", title_justify="left")
    hours.add_column("Hari")
    hours.add_column("Jam")
    for h in view["hours"]:
        hours.add_row(h["day"], h["hours"] or "tutup")
    out.print(hours)
    closed = Table(title=f"Hari libur dan cuti bersama {view['year']}", title_justify="left")
    for col in ("Tanggal", "Hari", "Keterangan"):
        closed.add_column(col)
    for c in view["closed"]:
        closed.add_row(c["date"], c["day"], c["name"])
    out.print(closed)
    if view["open"]:
        extra = Table(title=f"Hari kerja tambahan {view['year']}", title_justify="left")
        for col in ("Tanggal", "Hari", "Jam", "Keterangan"):
            extra.add_column(col)
        for o in view["open"]:
            extra.add_row(o["date"], o["day"], o["hours"], o["name"])
        out.print(extra)
    note(_("{days} closed day(s) in {year}.").format(days=len(view["closed"]), year=view["year"]))


# -- report ----------------------------------------------------------------------------------------

_STEP_COLUMNS = (
    "definition", "no", "step", "kegiatan", "part", "actor", "actor_name", "waktu", "standard_seconds", "counted_in",
    "visits", "late", "open", "open_overdue", "median_seconds", "max_seconds", "corrections",
)
_FORM_COLUMNS = ("definition", "nomor", "no", "prosedur", "penilaian", "catatan", "tindakan")


@click.command("report", cls=SopCommand)
@click.option("--run", "run_id", metavar="RUN", help="One run.")
@click.option("--definition", "definition_id", metavar="ID", help="The runs of one SOP.")
@click.option("--period", metavar="P", help="With --definition: one period (2026-10, 2026-Q3, 2026-S2, 2026).")
@click.option("--since", metavar="DATE", help="Visits opened from this date or time (without an offset: in the SOP's zone with --run or --definition, else WIB).")
@click.option("--until", metavar="DATE", help="Visits opened before this time; a date alone includes that day.")
@click.option("--monitoring", is_flag=True, help="Fill the monitoring form of Permenpan RB 35/2012 per SOP.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="Output format; --json means --format json.")
@global_options()
@json_option
def report_cmd(
    run_id: str | None, definition_id: str | None, period: str | None, since: str | None, until: str | None,
    monitoring: bool, fmt: str, as_json: bool,
) -> None:
    """Compare each step's standard time (Waktu) with the working time it actually took.

    Per step: visits, median and maximum time, late visits and correction rounds (visits
    beyond the first in a run), per run and across runs. With --monitoring, the form of
    Permenpan RB 35/2012 per SOP, each row judged from the measured lateness.

    Example:

        sopengine report --definition pengumpulan-data --monitoring
    """
    from sopengine import report as lib

    s = settings()
    fmt = "json" if as_json else fmt
    scope = {"run": run_id, "definition": definition_id, "period": period, "since": since, "until": until, "now": s.now}
    if monitoring:
        forms = lib.monitoring(s.db_path, **scope, translated=fmt == "table")
        if fmt == "json":
            print_json(forms)
        elif fmt == "csv":
            _write_csv(_FORM_COLUMNS, [{**row, "definition": f["definition"], "nomor": f["nomor"]} for f in forms for row in f["rows"]])
        else:
            _print_forms(forms)
        return
    data = lib.report(s.db_path, **scope)
    if fmt == "json":
        print_json(data)
    elif fmt == "csv":
        rows = [{"level": "run", "run_id": r["run_id"], "period": r["period"], **step} for r in data["runs"] for step in r["steps"]]
        rows += [{"level": "all", "run_id": None, "period": None, **step} for step in data["steps"]]
        _write_csv(("level", "run_id", "period", *_STEP_COLUMNS), rows)
    else:
        _print_report(data)


def _write_csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})


def _seconds(value: int | None) -> str:
    from sopengine.clock import format_seconds

    return "-" if value is None else format_seconds(value, for_people=True)


def _steps_table(title: str, steps: list[dict[str, Any]]):  # -> rich.table.Table
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("No", "Kegiatan", "Pelaksana", "Waktu", _("Visits"), _("Median"), _("Max"), _("Late"), _("Corrections"), _("Open")):
        table.add_column(col)
    for st in steps:
        opened = _("{open} ({overdue} overdue)").format(open=st["open"], overdue=st["open_overdue"]) if st["open_overdue"] else str(st["open"])
        table.add_row(
            str(st["no"] or ""), st["kegiatan"] or st["step"], st["actor_name"] or "-", st["waktu"] or "-",
            str(st["visits"]), _seconds(st["median_seconds"]), _seconds(st["max_seconds"]),
            str(st["late"]), str(st["corrections"]), opened,
        )
    return table


def _print_report(data: dict[str, Any]) -> None:
    from rich.table import Table

    from sopengine import clock

    out = console()
    if not data["runs"]:
        note(_("No runs in that scope."))
        return
    if data["scope"]["run"]:
        r = data["runs"][0]
        out.print(_("Run {run} — {title} ({definition}), period {period}, {status}; {taken} of office time since {started}").format(
            run=r["run_id"], title=r["title"], definition=r["definition"], period=r["period"] or "-", status=state_word(r["status"]),
            taken=_seconds(r["taken_seconds"]), started=clock.local(r["started_at"], r["timezone"]),
        ))
        if r["deadline"]:
            late = _with_days(_seconds(r["deadline_late_by"]), r["deadline_late_by_days"])
            late = ", " + _("{time} late").format(time=late) if r["deadline_late_by"] else ""
            out.print(_("Deadline: {deadline} → {when}").format(deadline=r["deadline"], when=clock.local(r["due_at"], r["timezone"])) + late)
        out.print(_steps_table(_("Standard against actual time"), r["steps"]))
        return
    definitions = sorted({s["definition"] for s in data["steps"]})
    for def_id in definitions:
        steps = [s for s in data["steps"] if s["definition"] == def_id]
        n = len([r for r in data["runs"] if r["definition"] == def_id])
        out.print(_steps_table(_("{definition}: standard against actual time across {n} run(s)").format(definition=def_id, n=n), steps))
    runs = Table(title=_("Per run"), title_justify="left")
    for col in (_("Run"), "SOP", _("Period"), _("Status"), _("Started"), _("Office time"), _("Late visits"), _("Corrections"), _("Deadline")):
        runs.add_column(col)
    for r in data["runs"]:
        late = sum(st["late"] + st["open_overdue"] for st in r["steps"])
        corrections = sum(st["corrections"] for st in r["steps"])
        deadline = "-"
        if r["deadline"]:
            behind = _with_days(_seconds(r["deadline_late_by"]), r["deadline_late_by_days"])
            deadline = _("{time} late").format(time=behind) if r["deadline_late_by"] else _("met")
        runs.add_row(
            r["run_id"], r["definition"], r["period"] or "-", state_word(r["status"]), clock.local(r["started_at"], r["timezone"]),
            _seconds(r["taken_seconds"]), str(late), str(corrections), deadline,
        )
    out.print(runs)


def _print_forms(forms: list[dict[str, Any]]) -> None:
    from rich.table import Table

    out = console()
    if not forms:
        note(_("No runs in that scope."))
        return
    for f in forms:
        out.print(_("MONITORING PELAKSANAAN SOP AP"))
        out.print(f"Nama SOP  : {f['title']}")
        out.print(f"Nomor SOP : {f['nomor'] or '-'}")
        out.print(f"Unit      : {f['unit'] or '-'}")
        periods = ", ".join(f["periods"]) or "-"
        out.print(_("Evidence  : {runs} run(s); periods {periods}").format(runs=f["runs"], periods=periods))
        if f.get("deadline"):
            d = f["deadline"]
            out.print(_("Deadline  : {deadline} — {judgement}: {notes}").format(
                deadline=d["text"], judgement=d["penilaian"] or _("not judged"), notes=d["catatan"]))
        table = Table(show_lines=True)
        for col in ("No", "Prosedur", "Penilaian terhadap penerapan", "Catatan hasil penilaian", "Tindakan yang harus diambil"):
            table.add_column(col)
        for row in f["rows"]:
            table.add_row(str(row["no"]), row["prosedur"], row["penilaian"] or "-", row["catatan"], row["tindakan"])
        out.print(table)
        out.print(_("Rule: {rule}").format(rule=f["rule"]))
