"""Write the tables of ``docs/performance.md`` from the figures ``bench/run.py`` saved.

Reads ``bench/results/summary.json`` (the machine, the load average, every target with its
verdict) and each benchmark's ``bench/results/NAME.json``, and replaces what stands between
each pair of markers in the page::

    <!-- bench:NAME -->
    ...generated...
    <!-- /bench:NAME -->

Blocks: ``machine``, ``targets``, ``step``, ``cli``, ``queries``, ``audit``, ``growth`` (from
``bench/results/growth.json``, written by ``python bench/run.py --growth SIZES``),
``capacity`` (one file's costs extrapolated from the largest database of ``audit``),
``server`` (the office server under load, with the date, machine and commit it was measured on),
and the engines side by side: ``engines`` (a step on SQLite and on PostgreSQL, the event
counter's cost), ``writers`` (writer processes at once) and ``pgqueries`` (the queries and
``audit verify`` on about a million events); ``growth`` gains a PostgreSQL column from
``pgqueries`` when its size is one of the growth sizes. A benchmark skipped for want of a
PostgreSQL server leaves its block as it was.
A block whose figures are missing is left as it is and named on stderr; nothing is typed by
hand between the markers.

A figure the prose quotes is written the same way, inline::

    takes <!-- fig:step|medians_ms/sopengine, open Store|ms -->0.157 ms<!-- /fig --> a step

``SOURCE|PATH|FORMAT[|DIVISOR]``: the results file (``summary`` or a benchmark's name), the keys
down to the value joined by ``/`` (a list's item by its number; ``{sizes.-1}`` stands for the
value at that path, here the last size), how it is written (``ms``,
``x``, ``pct``, ``int``, or a format spec such as ``.2f``; ``*K`` or ``/K`` after it scales the
value first) and, optionally, another path in the same file to divide it by. A key is
percent-decoded: a marker may not hold ``--`` (some Markdown renderers then show the comment as
text), so ``list --json`` is written ``list -%2Djson``. A figure that cannot be read, or whose
results are missing or were skipped, is named on stderr and left as it was.

    python bench/make_page.py                       # docs/performance.md
    python bench/make_page.py --check               # exit 1 when the page differs from the figures
    python bench/make_page.py --only server         # only that block (e.g. after 'python bench/run.py server')
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PAGE = ROOT / "docs" / "performance.md"


def load(name: str, results: Path = RESULTS) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(v: float) -> str:
    return f"{v:.3f} ms" if v < 1 else f"{v:.1f} ms" if v >= 100 else f"{v:.2f} ms"


def x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def block_machine(summary: dict[str, Any]) -> str:
    m = summary["machine"]
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    ran = ", ".join(f"{n} {r['seconds']:.0f} s" for n, r in summary["ran"].items())
    return table(["", ""], [
        ["Date", m["date"]],
        ["Commit", f"`{m['commit']}`"],
        ["CPUs (`nproc`)", m["cpus"]],
        ["CPU (`/proc/cpuinfo` model name)", m["cpu"]],
        ["OS", m["os"]],
        ["Python", m["python"]],
        ["SQLite", m["sqlite"]],
        ["Packages", pk],
        ["Load average (1, 5, 15 min) at the start", " ".join(f"{v:.2f}" for v in m["load_average"])],
        ["Load average at the end", " ".join(f"{v:.2f}" for v in summary["load_average_after"])],
        ["PostgreSQL (`SHOW ...`)", pg_settings(m.get("postgresql"))],
        ["Benchmarks run", ran + (" (`--quick` sizes)" if summary.get("quick") else "")],
    ])


def pg_settings(s: dict[str, Any] | None) -> str:
    if not s:
        return "none given: the engines were not compared"
    text = (f"{s['version']}; fsync={s['fsync']}, synchronous_commit={s['synchronous_commit']},"
            f" shared_buffers={s['shared_buffers']}")
    if s["fsync"] == "off":
        text += " (fsync off: a commit does not wait for the disk; a production server with fsync on is slower at every commit)"
    return text


def block_targets(summary: dict[str, Any]) -> str:
    rows = []
    for t in summary["targets"]:
        unit = t.get("unit", "x")
        value = ("-" if t["value"] is None else x(t["value"]) if unit == "x" else f"{t['value']:g}" if unit == "count"
                 else ms(t["value"]))
        limit = f"{t['limit']:g}" + ("x" if unit == "x" else "" if unit == "count" else " " + unit)
        rows.append([t["target"], f"{'≤' if t['op'] == '<=' else '≥'} {limit}", value, t["verdict"]])
    return table(["Target", "limit", "measured", "verdict"], rows)


def block_step(r: dict[str, Any]) -> str:
    med = r["medians_ms"]
    rows = [[name, ms(v)] for name, v in med.items()]
    out = table(["Per step (median of " + f"{r['steps']:,} steps, {r['runs']} runs per way)", "median"], rows)
    out += "\n\n" + table(["Ratio", ""], [[k, x(v)] for k, v in r["ratios"].items()])
    out += f"\n\nSQL statements in one step: {r['statements']:g}, in {r['commits']:g} commit(s)."
    if r.get("pages"):
        out += (" Pages written per step (WAL frames): " + ", ".join(f"{k} {v:g}" for k, v in r["pages"].items()) + ".")
    if r.get("profile"):
        out += "\n\n" + table(["Part of a profiled step (cProfile, shares)", "share"],
                             [[k, f"{v:.1%}"] for k, v in r["profile"].items()])
    return out


def block_cli(r: dict[str, Any]) -> str:
    base = r["medians_ms"]["python -c pass"]
    rows = [[f"`{name}`", ms(v), x(v / base)] for name, v in r["medians_ms"].items()]
    out = table([f"Command (median of {r['rounds']} rounds)", "median", "× `python -c pass`"], rows)
    mods = [[f"`{k}`", v, ", ".join(r["heavy"].get(k, [])) or "none"] for k, v in r["modules"].items()]
    out += "\n\n" + table(["Command", "modules imported", "heavy libraries imported"], mods)
    return out


def block_queries(r: dict[str, Any]) -> str:
    sizes = r["sizes"]
    head = [f"Query (median of {r['rounds']} calls)"] + [f"{n:,} runs" for n in sizes] + [f"{sizes[-1]:,} / {sizes[0]:,}", "peak MiB"]
    rows = []
    for name, med in r["medians_ms"].items():
        peak = r["peak_mib"][name]
        rows.append([f"`{name}`"] + [ms(med[str(n)]) for n in sizes] + [x(r["ratio"][name]),
                                                                        " / ".join(f"{peak[str(n)]:.1f}" for n in sizes)])
    out = table(head, rows)
    dbs = r["databases"]
    out += "\n\n" + table(["Database", "events", "active runs", "open steps", "size", "built in"], [
        [f"{n:,} runs", f"{dbs[str(n)]['events']:,}", f"{dbs[str(n)]['active_runs']:,}", f"{dbs[str(n)]['open_steps']:,}",
         f"{dbs[str(n)]['bytes'] / 1e6:,.0f} MB", f"{dbs[str(n)]['build_seconds']:.0f} s" if dbs[str(n)].get("build_seconds") else "-"]
        for n in sizes])
    return out


def block_audit(r: dict[str, Any]) -> str:
    rows = []
    for n in r["sizes"]:
        f = r["figures"][str(n)]
        rows.append([f"{n:,} runs", f"{f['events']:,}", f"{f['peak_mib']:.1f} MiB", f"{f['seconds']:.2f} s", f"{f['chain_seconds']:.2f} s",
                     f"{f['chain_rate']:,}", f"{f['floor_rate']:,}", f"{f['share']:.2f}", f"{f['integrity_seconds']:.2f} s"])
    out = table(["Database", "events", "peak memory", "verify", "chain pass", "events/s", "floor events/s", "share of floor",
                 "quick_check"], rows)
    out += (f"\n\nPeak memory is the verifying process's resident peak (`ru_maxrss`); the interpreter and its imports alone"
            f" take {r['baseline_mib']:.1f} MiB. Largest / smallest: {x(r['memory_ratio'])}.")
    return out


def measured(name: str, results: Path = RESULTS, machine: bool = False) -> str:
    """When (and, with *machine*, on what) a benchmark's figures were taken, from the header run.py wrote above its output."""
    path = results / f"{name}.txt"
    if not path.exists():
        return ""
    facts = dict(line.split(": ", 1) for line in path.read_text(encoding="utf-8").splitlines()[:8] if ": " in line)
    on = f" on {facts.get('machine', '?')}" if machine else ""
    return (f"Measured {facts.get('date', '?')}{on}, commit `{facts.get('sopengine', '?')}`, load average at the start"
            f" {facts.get('load average', '?')}.")


def block_server(r: dict[str, Any], results: Path = RESULTS) -> str:
    """The office server under load: sign-ins apart, then the steps and starts of everyone at once."""
    def row(label: str, part: dict[str, Any], seconds: float, per_second: float) -> list[Any]:
        return [label, f"{part['count']:,}", f"{seconds:.1f} s", f"{per_second:,.1f}", ms(part["p50_ms"]),
                ms(part["p95_ms"]) if part.get("p95_ms") is not None else "-", ms(part["max_ms"]) if part.get("max_ms") else "-"]

    pause = f"a pause of {r['think_seconds']:g} s on average before each request" if r.get("think_seconds") else "no pause between requests"
    sign_in = r["sign_in"]
    out = table(["Requests", "count", "wall time", "per second", "p50", "p95", "max"], [
        row("Sign-in (`POST /api/token`), everyone at once", sign_in, sign_in["wall_seconds"], sign_in["per_second"]),
        row("Step (`complete` or `decide`)", r["steps"], r["work_seconds"], r["steps"]["per_second"]),
        row("Start a run (`POST /api/runs`)", r["starts"], r["work_seconds"], r["starts"]["count"] / r["work_seconds"]),
        ["All work (steps and starts)", f"{r['requests']:,}", f"{r['work_seconds']:.1f} s", f"{r['requests_per_second']:,.1f}",
         "-", "-", "-"],
    ])
    checks = r["checks"]
    rec = r["recorded"]
    out += (f"\n\n{r['users']} people at once, {r['actions']} steps each, {pause}; SOP `{r['definition']}`;"
            f" `sopengine serve --workers {r['workers']}`. Target: a step's p95 ≤ {r['target_step_p95_ms']:g} ms:"
            f" {ms(r['steps']['p95_ms'])}, {r['verdict']}."
            f" Afterwards: `audit verify` {'clean' if checks['audit verify clean'] else 'NOT clean'} over {r['events']:,} events;"
            f" {rec['step_events']:,} step events for {r['steps']['ok']:,} steps answered 200, {rec['steps_recorded_twice']}"
            f" recorded twice; refused: {', '.join(f'{k} {n}' for k, n in sorted(r['refused'].items())) or 'none'}.")
    when = measured("server", results, machine=True)
    return out + (f"\n\n{when}" if when else "")


def block_growth(r: dict[str, Any], results: Path = RESULTS) -> str:
    sizes = r["sizes"]
    head = ["Query (median)"] + [f"{n:,} runs" for n in sizes]
    for a, b in zip(sizes, sizes[1:]):
        head.append(f"{b:,} / {a:,}")
    rows = []
    for name, med in r["medians_ms"].items():
        cells = [ms(med[str(n)]) for n in sizes]
        cells += [x(med[str(b)] / med[str(a)]) for a, b in zip(sizes, sizes[1:])]
        rows.append([f"`{name}`", *cells])
    pg = load("pgqueries", results)
    if pg is not None and (pg.get("skipped") or pg["runs"] not in sizes):
        pg = None
    if pg is not None:  # the same queries on PostgreSQL, at the size it was measured
        head.append(f"PostgreSQL, {pg['runs']:,} runs")
        for row, name in zip(rows, r["medians_ms"]):
            med = pg["medians_ms"].get(name, {})
            row.append(ms(med["PostgreSQL"]) if "PostgreSQL" in med else "fails")
    out = table(head, rows)
    dbs = r["databases"]
    out += "\n\n" + table(["Database", "events", "size", "bytes per run", "built in"], [
        [f"{n:,} runs", f"{dbs[str(n)]['events']:,}", f"{dbs[str(n)]['bytes'] / 1e6:,.0f} MB", f"{dbs[str(n)]['bytes'] / n:,.0f}",
         f"{dbs[str(n)]['build_seconds']:.0f} s" if dbs[str(n)].get("build_seconds") else "-"] for n in sizes]
        + ([[f"{pg['runs']:,} runs, PostgreSQL", f"{pg['events']:,}", f"{pg['databases']['PostgreSQL']['bytes'] / 1e6:,.0f} MB",
             f"{pg['databases']['PostgreSQL']['bytes'] / pg['runs']:,.0f}",
             f"{pg['databases']['PostgreSQL']['copy_seconds'] + pg['databases']['PostgreSQL']['analyze_seconds']:.0f} s (copy)"]]
           if pg else []))
    when = measured("growth", results)
    if pg is not None:
        when += (" The PostgreSQL column is from `bench_pgqueries.py` (SQLite beside it in that run, its own table below): "
                 + (measured("pgqueries", results) or "no record of when."))
    return out + (f"\n\n{when.strip()}" if when.strip() else "")


def block_capacity(audit: dict[str, Any], sizes: dict[str, Any]) -> str:
    """One file's costs extrapolated from the largest database measured: they grow with the runs."""
    n = audit["sizes"][-1]
    f = audit["figures"][str(n)]
    db = sizes["databases"].get(str(n)) or sizes["databases"][str(sizes["sizes"][-1])]
    events_per_run = f["events"] / n
    bytes_per_run = db["bytes"] / n
    verify_per_event = f["seconds"] / f["events"]
    check_per_byte = f["integrity_seconds"] / db["bytes"] if db["bytes"] else 0.0
    rows = []
    for runs in (n, 1_000_000, 3_000_000, 10_000_000):
        events = runs * events_per_run
        size = runs * bytes_per_run
        rows.append([f"{runs:,} runs" + (" (measured)" if runs == n else ""), f"{events:,.0f}", f"{size / 1e9:,.1f} GB",
                     _duration(events * verify_per_event), _duration(size * check_per_byte)])
    limit = 15 * 60 / (verify_per_event * events_per_run)
    out = table(["Database", "events", "file", "`audit verify`", "SQLite quick_check"], rows)
    out += (f"\n\nFrom the {n:,}-run database: {events_per_run:.1f} events and {bytes_per_run / 1e3:,.1f} kB per run;"
            f" `audit verify` {f['events'] / f['seconds']:,.0f} events/s in all. At that rate a full `audit verify` takes"
            f" 15 minutes at about {limit:,.0f} runs.")
    return out


def block_engines(r: dict[str, Any], results: Path = RESULTS) -> str:
    """One durable step on each engine, side by side; the statements of a step; the event counter's cost."""
    med, p90 = r["medians_ms"], r["p90_ms"]
    out = table([f"Per step (median of {r['steps']:,} steps, {r['runs']} runs per engine)", "median", "p90", "steps/s, one writer",
                 "statements", "commits"],
                [[name, ms(med[name]), ms(p90[name]), f"{1000 / med[name]:,.0f}", f"{r['statements'][name.split(',')[0]]:g}",
                  f"{r['commits'][name.split(',')[0]]:g}"] for name in med])
    c = r["counter"]
    out += f"\n\nPostgreSQL / SQLite, a step: {x(r['ratio'])}."
    if r.get("open_ms"):
        out += (f" Opening and closing a store as a command's process does: SQLite {ms(r['open_ms']['SQLite'])}, PostgreSQL"
                f" {ms(r['open_ms']['PostgreSQL'])} (a new connection; within one process the pool keeps it between stores).")
    out += "\n\n" + table([f"One-event transaction (BEGIN, INSERT, COMMIT; median of {c['inserts']:,} each)", "median"],
                           [[name, ms(v)] for name, v in c["medians_ms"].items()])
    out += (f"\n\nThe counter row costs {c['extra_us']:+.0f} µs a transaction ({x(c['ratio'])} the sequence's), that is"
            f" {c['share_of_step']:+.1%} of a PostgreSQL step, for one writer.")
    when = measured("engines", results, machine=True)
    out += f"\n\nPostgreSQL: {pg_settings(r.get('postgresql'))}."
    return out + (f" {when}" if when else "")


def block_writers(r: dict[str, Any], results: Path = RESULTS) -> str:
    """Writer processes at once on each engine: steps per second, latencies, writes refused."""
    rows = []
    for n in r["writers"]:
        base = r["results"][str(n)]["SQLite"]["steps_per_second"]
        for engine in r["engines"]:
            e = r["results"][str(n)][engine]
            rows.append([f"{n}", engine, f"{e['steps_per_second']:,.1f}", x(e["steps_per_second"] / base), ms(e["p50_ms"]),
                         ms(e["p95_ms"]), f"{sum(e['refused'].values())}", f"clean, {e['events']:,} events"])
    out = table(["Writers", "engine", "steps/s (median)", "× SQLite", "step p50", "step p95", "refused", "`audit verify` after"], rows)
    out += (f"\n\nEach writer a process with its own store, carrying {r['runs_per_writer']} runs of its own in turn with no pause;"
            f" {r['repeat']} window{'' if r['repeat'] == 1 else 's'} of {r['window_seconds']:g} s per engine and number of writers, the engines in turn; {r['cpus']} CPUs."
            f" Writes refused in all: {r['refused']}.")
    when = measured("writers", results, machine=True)
    out += f"\n\nPostgreSQL: {pg_settings(r.get('postgresql'))}."
    return out + (f" {when}" if when else "")


def block_pgqueries(r: dict[str, Any], results: Path = RESULTS) -> str:
    """The queries and audit verify on about a million events, both engines."""
    rows = []
    for name, med in r["medians_ms"].items():
        if name in r["failed"]:
            rows.append([f"`{name}`", ms(med["SQLite"]), "fails", "-", r["rows"]["SQLite"][name]])
            continue
        rows.append([f"`{name}`", ms(med["SQLite"]), ms(med["PostgreSQL"]), x(med["PostgreSQL"] / med["SQLite"]),
                     r["rows"]["SQLite"][name]])
    out = table([f"Query (median of {r['rounds']} calls), {r['runs']:,} runs, {r['events']:,} events", "SQLite", "PostgreSQL",
                 "PostgreSQL / SQLite", "rows"], rows)
    v = r["verify"]
    out += "\n\n" + table([f"`audit verify` (median of {r['repeat']})", "time", "chain pass", "events/s in all", "peak memory"],
                           [[engine, f"{f['seconds']:.2f} s", f"{f['chain_seconds']:.2f} s", f"{f['events_per_second']:,}",
                             f"{f['peak_mib']:.0f} MiB"] for engine, f in v.items()])
    d = r["databases"]
    pg = d["PostgreSQL"]
    built = f"built in {d['SQLite']['build_seconds']:.0f} s" if d["SQLite"].get("build_seconds") else "built earlier in the run"
    out += (f"\n\nThe database: SQLite {d['SQLite']['bytes'] / 1e6:,.0f} MB ({built});"
            f" PostgreSQL {pg['bytes'] / 1e6:,.0f} MB (`pg_database_size`), copied by `sopengine db copy` in {pg['copy_seconds']:.0f} s"
            f" (both sides verified) and `VACUUM ANALYZE` in {pg['analyze_seconds']:.0f} s.")
    if r["failed"]:
        out += " Failing on PostgreSQL: " + "; ".join(f"`{k}` ({v})" for k, v in r["failed"].items()) + "."
    when = measured("pgqueries", results, machine=True)
    out += f"\n\nPostgreSQL: {pg_settings(r.get('postgresql'))}."
    return out + (f" {when}" if when else "")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


BLOCKS: dict[str, tuple[str, Callable[..., str]]] = {
    "machine": ("summary", block_machine),
    "targets": ("summary", block_targets),
    "step": ("step", block_step),
    "cli": ("cli", block_cli),
    "queries": ("queries", block_queries),
    "audit": ("audit", block_audit),
    "growth": ("growth", block_growth),
    "capacity": ("audit+queries", block_capacity),
    "server": ("server", block_server),
    "engines": ("engines", block_engines),
    "writers": ("writers", block_writers),
    "pgqueries": ("pgqueries", block_pgqueries),
}
WITH_RESULTS = (block_growth, block_server, block_engines, block_writers, block_pgqueries)  # blocks that also read run.py's header of their output


FIGURE = re.compile(r"<!-- fig:([^>]+?) -->(.*?)<!-- /fig -->")
OPENING = "<!-- fig:"


def _at(data: Any, path: str, root: Any = None) -> Any:
    """The value at *path* in *data*: keys joined by ``/``; ``{a.0}`` is itself a value looked up
    from the top (keys joined by ``.``), such as a benchmark's first or last size."""
    from urllib.parse import unquote

    root = data if root is None else root
    for key in re.findall(r"\{[^}]*\}|[^/]+", path):
        if key.startswith("{"):
            key = str(_at(root, key[1:-1].replace(".", "/"), root))
        key = unquote(key)
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


def figure(spec: str, loaded: dict[str, dict[str, Any] | None]) -> str | None:
    """The text of the inline figure *spec* (see the module's doc) from the results in *loaded*
    (None: its source is not among them, or was skipped). Raises KeyError, IndexError,
    ValueError or TypeError when it cannot be read."""
    parts = spec.split("|")
    if len(parts) not in (3, 4):
        raise ValueError("write SOURCE|PATH|FORMAT or SOURCE|PATH|FORMAT|DIVISOR")
    if "--" in spec:  # CommonMark before 0.31 (GitHub's, for one) shows such a comment as text
        raise ValueError("a figure's marker may not hold '--': write the second '-' as %2D")
    source, path, form = parts[:3]
    data = loaded.get(source)
    if data is None or data.get("skipped"):
        return None
    value = float(_at(data, path))
    if len(parts) == 4:
        value /= float(_at(data, parts[3]))
    scaled = re.fullmatch(r"(.+?)([*/])([0-9.]+)", form)
    if scaled:
        form, op, k = scaled.group(1), scaled.group(2), float(scaled.group(3))
        value = value * k if op == "*" else value / k
    if form == "ms":
        return ms(value)
    if form == "x":
        return x(value)
    if form == "pct":
        return f"{value:.1%}"
    if form == "int":
        return f"{value:,.0f}"
    return format(value, form)


def render_figures(text: str, results: Path = RESULTS, sources: set[str] | None = None) -> tuple[str, list[str]]:
    """Every inline figure written from the results (only those of *sources*, when given)."""
    missing: list[str] = []
    loaded: dict[str, dict[str, Any] | None] = {}

    def one(found: re.Match[str]) -> str:
        spec = found.group(1)
        source = spec.split("|", 1)[0]
        if sources is not None and source not in sources:
            return found.group(0)
        if source not in loaded:
            loaded[source] = load(source, results)
        try:
            value = figure(spec, loaded)
        except (KeyError, IndexError, ValueError, TypeError, ZeroDivisionError) as exc:
            missing.append(f"figure {spec!r} cannot be read ({type(exc).__name__}: {exc}); it is left as it was")
            return found.group(0)
        if value is None:
            data = loaded[source]
            why = f"{source} was skipped" if data is not None else f"no {results / (source + '.json')}"
            stale.setdefault(why, 0)
            stale[why] += 1
            return found.group(0)
        return f"<!-- fig:{spec} -->{value}<!-- /fig -->"

    stale: dict[str, int] = {}
    new = FIGURE.sub(one, text)
    missing += [f"{why}: {n} figure(s) of the prose left as they were" for why, n in stale.items()]
    unmatched = text.count(OPENING) - len(FIGURE.findall(text))
    if unmatched:
        missing.append(f"{unmatched} figure marker(s) not closed by <!-- /fig --> on the same line, or holding '>'; left as they were")
    return new, missing


def render(text: str, results: Path = RESULTS, only: list[str] | None = None) -> tuple[str, list[str]]:
    missing = []
    for name, (source, make) in BLOCKS.items():
        if only and name not in only:
            continue
        pattern = re.compile(rf"(<!-- bench:{name} -->\n)(.*?)(<!-- /bench:{name} -->)", re.S)
        if not pattern.search(text):
            missing.append(f"no markers for {name}; that block is left as it was")
            continue
        loaded = [load(part, results) for part in source.split("+")]
        if any(d is None for d in loaded):
            missing.append(f"no {' or '.join(str(results / (p + '.json')) for p in source.split('+'))} for {name};"
                           " that block is left as it was")
            continue
        if any(d.get("skipped") for d in loaded if d is not None):
            missing.append(f"{name} was skipped ({next(d['skipped'] for d in loaded if d and d.get('skipped'))});"
                           " that block is left as it was")
            continue
        body = make(*loaded, results) if make in WITH_RESULTS else make(*loaded)
        found = pattern.search(text)
        assert found is not None
        text = text[:found.start(2)] + "\n" + body + "\n\n" + text[found.end(2):]
    sources = None if not only else {part for name in only for part in BLOCKS[name][0].split("+")}
    text, unread = render_figures(text, results, sources)
    return text, missing + unread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=Path, default=PAGE, help="the page to write (default docs/performance.md)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where run.py saved the figures (default bench/results)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when the page differs from the figures")
    parser.add_argument("--only", action="append", choices=list(BLOCKS), metavar="BLOCK",
                        help="write only this block (repeatable), e.g. server after 'python bench/run.py server'")
    args = parser.parse_args()
    needs_summary = not args.only or any(BLOCKS[name][0] == "summary" for name in args.only)
    if needs_summary and not (args.results / "summary.json").exists():
        print(f"Error: no {args.results / 'summary.json'}; run 'python bench/run.py' first", file=sys.stderr)
        return 1
    if not args.page.is_file():
        print(f"Error: no page at {args.page}; pass --page FILE (default docs/performance.md)", file=sys.stderr)
        return 1
    text = args.page.read_text(encoding="utf-8")
    new, missing = render(text, args.results, args.only)
    for m in missing:
        print(f"make_page: {m}", file=sys.stderr)
    if args.check:
        return 0 if new == text else 1
    if new != text:
        args.page.write_text(new, encoding="utf-8")
    print(f"make_page: wrote {args.page}" if new != text else f"make_page: {args.page} already shows these figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
