"""Actual time against standard time, per step, per run and across runs.

Every visit of a step (one task row: a correction loop makes several per run) is
measured with its run's own calendar snapshot: the office time from opening to
completion, or the elapsed time for a step measured in *hari kalender*. Its *allowed*
time is the same count from opening to its due time, so "30 Menit" allows 1,800 s and
"2 Hari" the office time of two working days. A visit is *late* when it was completed
with office time past its due time (plain time for *hari kalender*), as :mod:`overdue`
counts lateness, and *overdue* when it is still open past it.

:func:`monitoring` fills the form of Permenpan RB 35/2012 (Tabel 7, Monitoring
Pelaksanaan SOP AP) per SOP from that evidence; :data:`RULE` states how a step is judged.
Its SQL is in :mod:`sopengine.store.queries`: the runs of one SOP and period come from an
index and only their task rows are read, so a report of one period costs the same in a
database of any age. ``yaml`` is imported only to read an SOP's header for the form.

The form's sentences (``catatan``, ``tindakan``, ``rule``) are data, in English, as JSON and
CSV carry them whatever the language; ``monitoring(..., translated=True)`` words them in the
language in force for a person to read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from gettext import NullTranslations
from pathlib import Path
from typing import Any

from sopengine import clock
from sopengine.errors import InputError
from sopengine.i18n import N_, _, translation
from sopengine.calendar import late_days, lateness
from sopengine.store import Store, queries
from sopengine.store import use as use_store

__all__ = ["BAIK", "RULE", "TIDAK_BAIK", "duration_text", "judge", "judge_deadline", "monitoring", "report"]

BAIK = "Berjalan dengan baik"
TIDAK_BAIK = "Tidak berjalan dengan baik"

#: A step is judged "Tidak berjalan dengan baik" when more than LATE_SHARE of its judged
#: visits were late (as a fraction: numerator, denominator).
LATE_SHARE = (1, 5)

_RULE = N_(
    "A step is '{tidak_baik}' when more than a fifth of its judged visits were late, or when the "
    "median time of its completed visits exceeds its standard time; otherwise '{baik}'. A visit is "
    "judged once it is completed or still open past its due time; times are office time by the "
    "run's calendar (elapsed time for hari kalender steps). A step without a standard time is not "
    "judged. The process deadline is judged the same way over the runs: a run is judged once it is "
    "completed or active with office time past the deadline, and late when it finished (or is) past "
    "it; the row whose Waktu is the deadline's text carries that judgement."
)
RULE = _RULE.format(tidak_baik=TIDAK_BAIK, baik=BAIK)


def _words(translated: bool) -> NullTranslations:
    """Where the form's sentences take their words: the language in force when ``translated``
    (for a person to read), else English, as JSON and CSV carry them whatever the language."""
    return translation() if translated else translation("en")


def _rule(tr: NullTranslations) -> str:
    return tr.gettext(_RULE).format(tidak_baik=TIDAK_BAIK, baik=BAIK)


def _duration(seconds: int, tr: NullTranslations) -> str:
    """``5400`` -> ``1 h 30 min`` (``1 jam 30 menit``), worded as :func:`clock.format_seconds` words it."""
    seconds = int(seconds)
    if seconds < 60:
        return tr.gettext(N_("{seconds} s")).format(seconds=seconds)
    h, m = divmod(seconds // 60, 60)
    if h and m:
        return tr.gettext(N_("{h} h {m} min")).format(h=h, m=m)
    if h:
        return tr.gettext(N_("{h} h")).format(h=h)
    return tr.gettext(N_("{m} min")).format(m=m)


def duration_text(seconds: int) -> str:
    """``5400`` -> ``1 h 30 min``, in the language in force (``1 jam 30 menit``)."""
    return _duration(seconds, translation())


@dataclass(frozen=True)
class _Visit:
    """One task row, measured."""

    run_id: str
    step_id: str
    part: int
    actor: str | None
    done: bool
    taken: int | None  # seconds from opening to completion; None while open
    allowed: int | None  # seconds from opening to the due time; None for an untimed step
    late: bool  # completed with office time (plain time for hari kalender) past its due time
    overdue: bool  # still open past its due time


def _span(cal: Any, start: datetime, end: datetime, calendar_days: bool) -> int:
    if calendar_days or cal is None:
        return max(0, (end - start) // timedelta(seconds=1))
    return cal.working_seconds(start, end)


def _median(values: list[int]) -> int | None:
    """The median in whole seconds: for an even count, the mean of the middle two, rounded down."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    return (ordered[(n - 1) // 2] + ordered[n // 2]) // 2


def _summary(visits: list[_Visit]) -> dict[str, Any]:
    """Visits, lateness and times of a group of visits (one step, one run or many)."""
    done = [v for v in visits if v.done]
    rounds: dict[tuple[str, int], int] = defaultdict(int)
    for v in visits:
        rounds[(v.run_id, v.part)] += 1
    times = [v.taken for v in done if v.taken is not None]
    allowed = [v.allowed for v in visits if v.allowed is not None]
    return {
        "visits": len(done),
        "late": sum(v.late for v in done),
        "open": len(visits) - len(done),
        "open_overdue": sum(v.overdue for v in visits),
        "median_seconds": _median(times),
        "max_seconds": max(times) if times else None,
        "standard_seconds": _median(allowed),
        "corrections": sum(n - 1 for n in rounds.values()),
        "runs": len({v.run_id for v in visits}),
    }


def judge(row: dict[str, Any], *, translated: bool = False) -> tuple[str | None, str, str]:
    """``(penilaian, catatan, tindakan)`` for a step's figures, by :data:`RULE`.

    ``row`` carries the keys of a report step row: ``visits``, ``late``,
    ``open_overdue``, ``median_seconds``, ``standard_seconds``, ``corrections``,
    ``waktu`` and ``actor_name``. ``penilaian`` is None when there is no evidence.
    ``catatan`` and ``tindakan`` are English unless ``translated`` (the language in force).
    """
    tr = _words(translated)
    judged = row["visits"] + row["open_overdue"]
    late = row["late"] + row["open_overdue"]
    if judged == 0:
        return None, tr.gettext(N_("Not carried out in the runs assessed.")), "-"
    median, standard = row["median_seconds"], row["standard_seconds"]
    waktu = row.get("waktu")
    if standard is None:
        # Nothing to measure against ("Setiap saat", "Pada hari dan jam kerja"): report, do not judge.
        if waktu:
            said = tr.gettext(N_("No standard time (Waktu: {waktu}): not judged")).format(waktu=waktu)
        else:
            said = tr.gettext(N_("No standard time: not judged"))
        notes = [said, tr.ngettext("{n} visit completed", "{n} visits completed", row["visits"]).format(n=row["visits"])]
        if median is not None:
            notes.append(tr.gettext(N_("median {time}")).format(time=_duration(median, tr)))
        if row["corrections"]:
            notes.append(_corrections(row["corrections"], tr))
        return None, "; ".join(notes), "-"
    notes = [tr.ngettext("{late} of {n} visit late", "{late} of {n} visits late", judged).format(late=late, n=judged)]
    if median is not None:
        if waktu:
            notes.append(tr.gettext(N_("median {time} against {waktu}")).format(time=_duration(median, tr), waktu=waktu))
        else:
            notes.append(tr.gettext(N_("median {time} against its standard time")).format(time=_duration(median, tr)))
    if row["open_overdue"]:
        notes.append(tr.gettext(N_("{n} still open past due")).format(n=row["open_overdue"]))
    if row["corrections"]:
        notes.append(_corrections(row["corrections"], tr))
    too_late = late * LATE_SHARE[1] > judged * LATE_SHARE[0]
    too_slow = median is not None and standard is not None and median > standard
    if not (too_late or too_slow):
        return BAIK, "; ".join(notes), "-"
    who = row.get("actor_name") or tr.gettext(N_("the officials"))
    if waktu:
        action = tr.gettext(N_(
            "Find out why {who} needs more than {waktu} (workload, absence, missing inputs) and act on it;"
            " if the standard time cannot be met, revise the SOP's Waktu."
        )).format(who=who, waktu=waktu)
    else:
        action = tr.gettext(N_(
            "Find out why {who} needs more than its standard time (workload, absence, missing inputs) and act"
            " on it; if the standard time cannot be met, revise the SOP's Waktu."
        )).format(who=who)
    if row["corrections"]:
        action += " " + tr.gettext(N_("Reduce the correction rounds: agree on the content before the first submission."))
    return TIDAK_BAIK, "; ".join(notes), action


def _corrections(n: int, tr: NullTranslations) -> str:
    return tr.ngettext("{n} correction round", "{n} correction rounds", n).format(n=n)


def judge_deadline(figures: dict[str, Any], *, translated: bool = False) -> tuple[str | None, str, str]:
    """``(penilaian, catatan, tindakan)`` for the process deadline over the runs, by :data:`RULE`.

    ``figures`` is a form's ``deadline`` block: ``text``, ``runs_judged``, ``runs_late``,
    ``max_late_seconds`` (office time, or plain time when ``counted_in`` is ``calendar``) and
    ``max_late_days`` (whole working days of it, None for calendar days).
    ``penilaian`` is None while no run has reached the deadline. ``catatan`` and ``tindakan``
    are English unless ``translated`` (the language in force).
    """
    tr = _words(translated)
    text, judged, late = figures["text"], figures["runs_judged"], figures["runs_late"]
    if judged == 0:
        return None, tr.gettext(N_("No run has reached the deadline ({deadline}) yet.")).format(deadline=text), "-"
    notes = [tr.ngettext(
        "{late} of {n} run missed the deadline ({deadline})", "{late} of {n} runs missed the deadline ({deadline})", judged,
    ).format(late=late, n=judged, deadline=text)]
    if late:
        notes.append(tr.gettext(N_("by up to {time}")).format(time=_late_words(figures, tr)))
    if late * LATE_SHARE[1] <= judged * LATE_SHARE[0]:
        return BAIK, "; ".join(notes), "-"
    return TIDAK_BAIK, "; ".join(notes), tr.gettext(
        N_("Find out at which steps the runs lose time against the deadline ({deadline}) and act on it.")
    ).format(deadline=text)


def _late_words(figures: dict[str, Any], tr: NullTranslations) -> str:
    words = _duration(figures["max_late_seconds"] or 0, tr)
    if figures.get("counted_in") == "calendar":
        return tr.gettext(N_("{time} (calendar)")).format(time=words)
    days = figures.get("max_late_days")
    return tr.gettext(N_("{time} ({days} hari kerja)")).format(time=words, days=days) if days else words


def _deadline_figures(compiled: dict[str, Any], runs: list[dict[str, Any]], at: datetime) -> dict[str, Any] | None:
    """How the runs did against the SOP's process deadline; None when the SOP has none.

    A completed run is judged by its finish; an active run once office time has passed since
    its deadline (it can no longer meet it). Cancelled runs are left out: they did not finish
    the process.
    """
    text = compiled.get("deadline_text")
    if not text:
        return None
    calendar_days = bool((compiled.get("deadline") or {}).get("calendar"))
    judged, late = 0, []  # late: (office seconds, working days) per run that missed it
    for r in runs:
        due = clock.from_iso(r["due_at"])
        if due is None or r["status"] not in ("completed", "active"):
            continue
        end = clock.from_iso(r["finished_at"]) if r["status"] == "completed" else at
        assert end is not None
        by = lateness(r["cal"], due, end, calendar_days=calendar_days)
        if r["status"] == "active" and by == 0:
            continue  # not finished and not yet late: nothing to judge
        judged += 1
        if by > 0:
            late.append((by, late_days(r["cal"], due, end, calendar_days=calendar_days)))
    worst = max(late, key=lambda pair: pair[0]) if late else (None, None)
    return {
        "text": text,
        "counted_in": "calendar" if calendar_days else "working",
        "runs_judged": judged,
        "runs_late": len(late),
        "max_late_seconds": worst[0],
        "max_late_days": worst[1],
    }


def _same_text(a: str | None, b: str | None) -> bool:
    return bool(a and b) and " ".join(a.split()).casefold() == " ".join(b.split()).casefold()  # type: ignore[union-attr]


# -- reading the evidence --------------------------------------------------------------------------


@dataclass
class _Scope:
    run: str | None
    definition: str | None
    period: str | None
    since: datetime | None
    until: datetime | None
    timezone: str = clock.DEFAULT_ZONE  # the zone --since, --until and --now are read in

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.run, "definition": self.definition, "period": self.period,
            "since": clock.iso(self.since), "until": clock.iso(self.until),
        }


def _check_scope(run: str | None, definition: str | None, period: str | None, since: Any, until: Any) -> str | None:
    """Refuse scopes that contradict themselves; returns the period in its normal form."""
    if run and (definition or period or since or until):
        raise InputError(_("--run names one run; leave out --definition, --period, --since and --until"))
    if period and not definition:
        raise InputError(_("--period needs --definition: say which SOP's period to report on"))
    if period:
        from sopengine.period import normalise

        return normalise(period)
    return None


def _query_zone(store: Store, run: str | None, definition: str | None) -> str:
    """The zone times without an offset are read in: the run's (``run``), the latest run's of the
    SOP (``definition``), else WIB, since a report over every SOP has no one zone."""
    if run:
        row: dict[str, Any] | None = store.run(run)
    elif definition:
        row = queries.latest_run(store, definition)
    else:
        row = None
    if row is None:
        return clock.DEFAULT_ZONE
    return clock.run_zone(store.work_calendar(row["calendar_hash"]), store.compiled(row["definition_hash"]).get("timezone"))


def _scope(
    run: str | None, definition: str | None, period: str | None,
    since: datetime | str | None, until: datetime | str | None, tz: str = clock.DEFAULT_ZONE,
) -> _Scope:
    def read(value: datetime | str | None, end: bool) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return clock.coerce(value, tz)
        return clock.parse_time(value, tz, end_of_day=end)

    start, stop = read(since, False), read(until, True)
    if start and stop and stop <= start:
        raise InputError(
            _("--until ({until}) is not after --since ({since}); swap them").format(
                until=clock.local(stop, tz), since=clock.local(start, tz),
            )
        )
    return _Scope(run, definition, period, start, stop, tz)


def _runs(store: Store, scope: _Scope) -> list[dict[str, Any]]:
    if scope.run:
        return [store.run(scope.run)]
    runs = queries.report_runs(store, scope.definition, scope.period)
    if scope.definition and not runs and not scope.period:
        known = queries.definitions_with_runs(store)
        raise InputError(
            _("no runs of SOP {definition!r} in {db}; SOPs with runs: {known}").format(
                definition=scope.definition, db=store.path, known=", ".join(known) or _("none"),
            )
        )
    return runs


def _tasks(store: Store, run_ids: list[str], scope: _Scope) -> dict[str, list[tuple[Any, ...]]]:
    return queries.report_tasks(store, run_ids, clock.iso(scope.since), clock.iso(scope.until))


def _measure(row: tuple[Any, ...], cal: Any, step: dict[str, Any], at: datetime) -> _Visit:
    run_id, step_id, part, actor, state, opened_at, due_at, closed_at = row
    calendar_days = bool(step.get("duration") and step["duration"].get("calendar"))
    opened = clock.from_iso(opened_at)
    due = clock.from_iso(due_at)
    closed = clock.from_iso(closed_at)
    assert opened is not None
    done = state == "done"
    return _Visit(
        run_id=run_id, step_id=step_id, part=part, actor=actor, done=done,
        taken=_span(cal, opened, closed, calendar_days) if done and closed else None,
        allowed=_span(cal, opened, due, calendar_days) if due else None,
        # Late by office time, as overdue and status count it: due 16:00, done 16:30 is on time.
        late=bool(done and due and closed and lateness(cal, due, closed, calendar_days=calendar_days) > 0),
        overdue=bool(not done and due and at > due),
    )


def _row_visits(compiled: dict[str, Any], rows: list[tuple[Any, ...]], cal: Any, at: datetime) -> dict[str, list[_Visit]]:
    """Format 2: each visit of a printed row, measured as one, by row key.

    The symbols of a row that share the row's waktu share one due time given when the flow
    entered the row; one visit runs from the first of them opening to the last closing, and is
    judged against the printed waktu — never a symbol's share against the row's figure.
    """
    groups: dict[tuple[str, Any], list[tuple[Any, ...]]] = {}
    entered: dict[str, int] = defaultdict(int)
    for t in rows:
        step = compiled["steps"].get(t[1], {})
        if not step.get("row_timed") or not step.get("row"):
            continue
        row_key = step["row"]
        first = compiled["rows"].get(row_key, {}).get("symbols", [None])[0]
        if t[6] is None and t[1] == first:
            entered[row_key] += 1
        key = (row_key, t[6] if t[6] is not None else entered[row_key])
        groups.setdefault(key, []).append(t)
    out: dict[str, list[_Visit]] = defaultdict(list)
    for (row_key, _entered), members in groups.items():
        done = all(m[4] == "done" for m in members)
        closed = max((m[7] for m in members if m[7]), default=None) if done else None
        head = members[0]
        merged = (head[0], head[1], 0, head[3], "done" if done else "open", min(m[5] for m in members), head[6], closed)
        out[row_key].append(_measure(merged, cal, compiled["steps"].get(head[1], {}), at))
    return out


def _step_row(compiled: dict[str, Any], step_id: str, part: int, actor: str | None, visits: list[_Visit]) -> dict[str, Any]:
    step = compiled["steps"].get(step_id, {})
    calendar_days = bool(step.get("duration") and step["duration"].get("calendar"))
    row = {
        "definition": compiled["id"],
        "step": step_id,
        "no": step.get("no"),
        "table": step.get("table"),
        "kegiatan": step.get("kegiatan"),
        "kind": step.get("kind"),
        "part": part + 1,
        "actor": actor,
        "actor_name": compiled["actors"].get(actor or "", {}).get("name"),
        "waktu": step.get("waktu"),
        "counted_in": "calendar" if calendar_days else "working",
    }
    row.update(_summary(visits))
    return row


def _ordered(compiled: dict[str, Any], visits: list[_Visit]) -> list[tuple[str, int, str | None, list[_Visit]]]:
    """Visits grouped by (step, lane), in the SOP's row order."""
    groups: dict[tuple[str, int], list[_Visit]] = defaultdict(list)
    for v in visits:
        groups[(v.step_id, v.part)].append(v)
    rank = {sid: i for i, sid in enumerate(compiled["order"])}
    keys = sorted(groups, key=lambda k: (rank.get(k[0], len(rank)), k[1]))
    return [(sid, part, groups[(sid, part)][0].actor, groups[(sid, part)]) for sid, part in keys]


@dataclass
class _Evidence:
    at: datetime
    scope: _Scope
    runs: list[dict[str, Any]]  # run rows with "compiled", "visits" and "cal" added
    compiled: dict[str, dict[str, Any]]  # definition id -> latest compiled form among the runs
    sources: dict[str, str | None]  # definition id -> the YAML text of that version


def _evidence(
    db: str | Path | Store, run: str | None, definition: str | None, period: str | None,
    since: datetime | str | None, until: datetime | str | None, now: datetime | str | None,
) -> _Evidence:
    period = _check_scope(run, definition, period, since, until)
    store, owned = use_store(db, readonly=True)
    try:
        tz = _query_zone(store, run, definition)
        scope = _scope(run, definition, period, since, until, tz)
        at = clock.coerce(now, tz)
        runs = _runs(store, scope)
        tasks = _tasks(store, [r["id"] for r in runs], scope)
        compiled_by_hash: dict[str, dict[str, Any]] = {}
        latest: dict[str, dict[str, Any]] = {}
        sources: dict[str, str | None] = {}
        kept = []
        for r in runs:
            compiled = compiled_by_hash.get(r["definition_hash"])
            if compiled is None:
                compiled = compiled_by_hash[r["definition_hash"]] = store.compiled(r["definition_hash"])
            cal = store.work_calendar(r["calendar_hash"])
            rows = tasks.get(r["id"], [])
            if not rows and (scope.since or scope.until):
                continue  # nothing of this run happened in the window
            r["compiled"], r["cal"] = compiled, cal
            r["visits"] = [_measure(t, cal, compiled["steps"].get(t[1], {}), at) for t in rows]
            if compiled.get("format") == 2:
                r["row_visits"] = _row_visits(compiled, rows, cal, at)
            if latest.get(compiled["id"]) is not compiled:  # runs come by start time: the last one wins
                latest[compiled["id"]] = compiled
                found = store.definition_source(r["definition_hash"])
                sources[compiled["id"]] = found["source"] if found else None
            kept.append(r)
        return _Evidence(at, scope, kept, latest, sources)
    finally:
        if owned:
            store.close()


# -- the report ------------------------------------------------------------------------------------


def report(
    db: str | Path | Store,
    *,
    run: str | None = None,
    definition: str | None = None,
    period: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    now: datetime | str | None = None,
) -> dict[str, Any]:
    """Standard against actual time per step: per run (``runs[].steps``) and across runs (``steps``).

    Scope: one ``run``; or the runs of a ``definition`` (one ``period`` of it); and/or the
    visits opened between ``since`` (inclusive) and ``until`` (exclusive; a date alone
    covers that whole day). No scope means every run in the database. Open visits count
    as ``open`` (and ``open_overdue`` once past due) at ``now``; times (median, maximum)
    come from completed visits only. ``corrections`` counts the visits of a step beyond
    the first in each run. ``since``, ``until`` and ``now`` without an offset are read in
    the zone of ``run``, or of the latest run of ``definition``, else WIB (``timezone`` in
    the result); each run's ``timezone`` is the zone its times are shown in. ``db`` is a
    path or an open :class:`~sopengine.store.Store`.
    """
    ev = _evidence(db, run, definition, period, since, until, now)
    runs_out = []
    across: dict[tuple[str, str, int], list[_Visit]] = defaultdict(list)
    actors: dict[tuple[str, str, int], str | None] = {}
    for r in ev.runs:
        compiled, cal = r["compiled"], r["cal"]
        started = clock.from_iso(r["started_at"])
        finished = clock.from_iso(r["finished_at"]) or ev.at
        assert started is not None
        deadline = compiled.get("deadline") or {}
        due = clock.from_iso(r["due_at"])
        end = finished if r["status"] != "active" else ev.at
        runs_out.append({
            "run_id": r["id"],
            "definition": r["definition_id"],
            "title": compiled["title"],
            "period": r["period"],
            "table": next((compiled["steps"].get(v.step_id, {}).get("table") for v in r["visits"]), None),
            "status": r["status"],
            "started_at": r["started_at"],
            "finished_at": r["finished_at"],
            "timezone": clock.run_zone(cal, compiled.get("timezone")),
            "taken_seconds": _span(cal, started, finished, False),
            "due_at": r["due_at"],
            "deadline": compiled.get("deadline_text"),
            "deadline_late_by": (
                lateness(cal, due, end, calendar_days=bool(deadline.get("calendar"))) if due else 0
            ),
            "deadline_late_by_days": (
                late_days(cal, due, end, calendar_days=bool(deadline.get("calendar"))) if due else None
            ),
            "steps": [_step_row(compiled, sid, part, actor, vs) for sid, part, actor, vs in _ordered(compiled, r["visits"])],
        })
        for v in r["visits"]:
            across[(compiled["id"], v.step_id, v.part)].append(v)
            actors.setdefault((compiled["id"], v.step_id, v.part), v.actor)
    steps_out = []
    for def_id, compiled in ev.compiled.items():
        mine = [v for (d, _step, _part), vs in across.items() if d == def_id for v in vs]
        for sid, part, actor, vs in _ordered(compiled, mine):
            steps_out.append(_step_row(compiled, sid, part, actor, vs))
    return {
        "now": clock.iso(ev.at),
        "timezone": ev.scope.timezone,
        "scope": ev.scope.as_json(),
        "runs": runs_out,
        "steps": steps_out,
    }


# -- the monitoring form ---------------------------------------------------------------------------


def _header(text: str | None) -> dict[str, Any]:
    """The ``header`` block of a definition's YAML text (empty when it cannot be read)."""
    if not text:
        return {}
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    header = data.get("header") if isinstance(data, dict) else None
    return header if isinstance(header, dict) else {}


def monitoring(
    db: str | Path | Store,
    *,
    run: str | None = None,
    definition: str | None = None,
    period: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    now: datetime | str | None = None,
    translated: bool = False,
) -> list[dict[str, Any]]:
    """The monitoring form (Permenpan RB 35/2012, Tabel 7) per SOP, filled from the runs in scope.

    One form per SOP with runs in the scope (same scope arguments as :func:`report`), one
    row per numbered row of the SOP (No, Prosedur = the kegiatan), judged by :data:`RULE`
    over all its visits in those runs (all lanes of a multi-actor row together). A row
    without a standard time is not judged. When the SOP has a process deadline, the form's
    ``deadline`` block says how many runs were judged against it and how many missed it,
    with its own ``penilaian``; the row whose *waktu* is the deadline's text carries it.

    ``catatan``, ``tindakan`` and ``rule`` are English, as JSON and CSV carry them; with
    ``translated`` they are worded in the language in force, for a person to read.
    """
    ev = _evidence(db, run, definition, period, since, until, now)
    forms = []
    for def_id, compiled in ev.compiled.items():
        runs = [r for r in ev.runs if r["definition_id"] == def_id]
        visits = [v for r in runs for v in r["visits"]]
        header = _header(ev.sources.get(def_id))
        deadline = _deadline_figures(compiled, runs, ev.at)
        if deadline is not None:
            deadline["penilaian"], deadline["catatan"], deadline["tindakan"] = judge_deadline(deadline, translated=translated)
        rows = []
        if compiled.get("format") == 2:
            rows = _monitoring_rows2(compiled, runs, deadline, translated)
        for sid in compiled["order"] if compiled.get("format") != 2 else []:
            step = compiled["steps"][sid]
            if step.get("no") is None:
                continue  # an unnumbered gate is not a row of the SOP's table
            mine = [v for v in visits if v.step_id == sid]
            lanes = step.get("lanes") or []
            figures = _step_row(compiled, sid, 0, lanes[0] if lanes else None, mine)
            figures["actor_name"] = " / ".join(
                compiled["actors"].get(a, {}).get("name", a) for a in lanes
            ) or None
            penilaian, catatan, tindakan = judge(figures, translated=translated)
            if deadline is not None and _same_text(step.get("waktu"), deadline["text"]):
                penilaian, catatan, tindakan = _with_deadline((penilaian, catatan, tindakan), figures, deadline)
            rows.append({
                "no": step["no"],
                "prosedur": step["kegiatan"],
                "penilaian": penilaian,
                "catatan": catatan,
                "tindakan": tindakan,
                "step": sid,
                "evidence": {k: figures[k] for k in (
                    "waktu", "standard_seconds", "visits", "late", "open", "open_overdue",
                    "median_seconds", "max_seconds", "corrections", "counted_in",
                )},
            })
        forms.append({
            "definition": def_id,
            "title": compiled["title"],
            "nomor": header.get("nomor"),
            "unit": header.get("unit"),
            "instansi": header.get("instansi"),
            "runs": len(runs),
            "periods": sorted({r["period"] for r in runs if r["period"]}),
            "scope": ev.scope.as_json(),
            "now": clock.iso(ev.at),
            "timezone": clock.run_zone(runs[-1]["cal"], compiled.get("timezone")),
            "rule": _rule(_words(translated)),
            "deadline": deadline,
            "rows": rows,
        })
    return forms


def _monitoring_rows2(
    compiled: dict[str, Any], runs: list[dict[str, Any]], deadline: dict[str, Any] | None, translated: bool = False,
) -> list[dict[str, Any]]:
    """The monitoring form's rows of a format-2 SOP: one per printed row of the tables the runs
    followed, judged against the row's waktu; a symbol with its own waktu gets a row of its own."""
    used = {t["table"] for r in runs for v in r["visits"] for t in [compiled["steps"].get(v.step_id, {})] if t.get("table")}
    out = []
    for table in compiled["table_order"]:
        if used and table not in used:
            continue
        for row_key in compiled["tables"][table]["rows"]:
            row = compiled["rows"][row_key]
            if row["no"] is None or not row["symbols"]:
                continue  # a band between rows is not a row of the SOP's table
            first = compiled["steps"][row["symbols"][0]]
            lanes = [ln for sid in row["symbols"] for ln in compiled["steps"][sid]["lanes"]]
            visits = [v for r in runs for v in r.get("row_visits", {}).get(row_key, [])]
            pieces: list[tuple[str, dict[str, Any], list[_Visit], list[str]]] = [(row["symbols"][0], first, visits, lanes)]
            for sid in row["symbols"]:
                step = compiled["steps"][sid]
                if not step.get("row_timed"):
                    pieces.append((sid, step, [v for r in runs for v in r["visits"] if v.step_id == sid], step["lanes"]))
            for k, (sid, step, mine, lanes_) in enumerate(pieces):
                figures = _step_row(compiled, sid, 0, lanes_[0] if lanes_ else None, mine)
                figures["actor_name"] = " / ".join(dict.fromkeys(compiled["actors"].get(a, {}).get("name", a) for a in lanes_)) or None
                if k == 0:
                    figures["waktu"] = row["waktu"]
                penilaian, catatan, tindakan = judge(figures, translated=translated)
                if deadline is not None and _same_text(figures["waktu"], deadline["text"]):
                    penilaian, catatan, tindakan = _with_deadline((penilaian, catatan, tindakan), figures, deadline)
                prosedur = row["kegiatan"] if k == 0 else f"{row['kegiatan']} — {step.get('text') or sid}"
                out.append({
                    "no": row["no"], "prosedur": prosedur, "penilaian": penilaian, "catatan": catatan, "tindakan": tindakan,
                    "step": sid, "table": table, "row": row_key,
                    "evidence": {key: figures[key] for key in (
                        "waktu", "standard_seconds", "visits", "late", "open", "open_overdue",
                        "median_seconds", "max_seconds", "corrections", "counted_in",
                    )},
                })
    return out


def _with_deadline(
    own: tuple[str | None, str, str], figures: dict[str, Any], deadline: dict[str, Any],
) -> tuple[str | None, str, str]:
    """A row whose waktu is the process deadline: judged by the deadline (and by its own
    standard time, should it have one as well; the worse judgement wins)."""
    if figures["standard_seconds"] is None:
        return deadline["penilaian"], deadline["catatan"], deadline["tindakan"]
    verdicts = [v for v in (own[0], deadline["penilaian"]) if v is not None]
    penilaian = TIDAK_BAIK if TIDAK_BAIK in verdicts else (BAIK if verdicts else None)
    tindakan = " ".join(t for t in (own[2], deadline["tindakan"]) if t != "-") or "-"
    return penilaian, f"{deadline['catatan']}; {own[1]}", tindakan
