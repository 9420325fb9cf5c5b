"""Every benchmark still runs: each ``bench/`` script at the smallest sizes, as a process.

The figures at these sizes mean nothing; what is checked is that each benchmark runs to its
end, reports the figures ``bench/run.py`` judges (every target gets a number and a verdict,
SpiffWorkflow's included: it is in the ``test`` extra), that ``bench/make_page.py`` writes
the page's tables from them, and that the database ``bench/make_db.py`` builds passes
``audit verify`` and is read by ``status``, ``overdue``, ``inbox`` and ``report``. A benchmark
that stops working fails here; none is skipped, except the ones comparing SQLite with
PostgreSQL: without a server they say they are skipped (checked here), and with
``SOPENGINE_TEST_PG`` they run on it (their own test, skipped with its reason without it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pg_support
import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_")}
    e.update(SOPENGINE_LANG="en", XDG_CACHE_HOME=str(tmp_path / "cache"))
    return e


def test_every_benchmark_runs_and_every_target_gets_a_figure_and_a_verdict(tmp_path: Path) -> None:
    results = tmp_path / "results"
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--smoke", "--results", str(results)],
                          cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    assert {n: r["exit"] for n, r in summary["ran"].items()} == {
        "step": 0, "engines": 0, "cli": 0, "queries": 0, "pgqueries": 0, "audit": 0, "writers": 0, "server": 0}
    # without a PostgreSQL server the engine benchmarks say they are skipped, and why
    for name in ("engines", "pgqueries", "writers"):
        assert "--pg" in summary["ran"][name]["skipped"] and "SOPENGINE_BENCH_PG" in summary["ran"][name]["skipped"]
    assert summary["machine"]["postgresql"] is None
    assert "skipped" in proc.stdout and "postgresql: none given" in proc.stdout
    benches = {t["bench"] for t in summary["targets"]}
    assert benches == {"step", "cli", "queries", "audit", "server", "writers"}
    for t in summary["targets"]:
        if t["bench"] == "writers":
            assert t["verdict"] == "skipped" and t["value"] is None
            continue
        assert t["value"] is not None, f"{t['target']} was not measured"
        assert t["verdict"] == ("met" if (t["value"] <= t["limit"] if t["op"] == "<=" else t["value"] >= t["limit"]) else "missed")
    labels = [t["target"] for t in summary["targets"]]
    assert "SpiffWorkflow durable step (load + advance + save) / sopengine step" in labels
    assert any(label.startswith("inbox --person P:") for label in labels)
    step = json.loads((results / "step.json").read_text(encoding="utf-8"))
    assert set(step["medians_ms"]) >= {"sopengine, open Store", "floor: transitions + sqlite3", "SpiffWorkflow, bare in memory",
                                       "SpiffWorkflow, in memory, saved each step", "SpiffWorkflow, load + advance + save"}
    # the office server: every step answered was recorded once, and the history verifies
    server = json.loads((results / "server.json").read_text(encoding="utf-8"))
    assert server["users"] == 3 and all(server["checks"].values()), server["checks"]
    assert server["steps"]["ok"] == 9 == server["recorded"]["step_events"] and server["sign_in"]["ok"] == 3
    # the summary printed names every target with its figure and verdict
    assert "sopengine list / python -c pass" in proc.stdout and ("met" in proc.stdout or "missed" in proc.stdout)

    page = tmp_path / "performance.md"
    shutil.copy(ROOT / "docs" / "performance.md", page)
    made = subprocess.run([sys.executable, str(BENCH / "make_page.py"), "--results", str(results), "--page", str(page)],
                          cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert "cannot be read" not in made.stderr, made.stderr  # every figure the prose quotes is in the results
    text = page.read_text(encoding="utf-8")
    for block in ("machine", "targets", "step", "cli", "queries", "audit", "server"):
        start, end = text.index(f"<!-- bench:{block} -->"), text.index(f"<!-- /bench:{block} -->")
        assert "| --- |" in text[start:end], f"the {block} table was not written"
    assert "sopengine list / python -c pass" in text
    check = subprocess.run([sys.executable, str(BENCH / "make_page.py"), "--results", str(results), "--page", str(page), "--check"],
                           cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, "the page just written differs from its figures"


def test_the_figures_the_prose_quotes_are_written_from_the_results(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "step.json").write_text(json.dumps({
        "sizes": [10, 1000], "medians_ms": {"ours, open": 0.15, "floor: plain": 0.05}, "pages": {"a": 10.434},
        "figures": {"10": {"share": 0.5}, "1000": {"share": 0.25}}}), encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "A step <!-- fig:step|medians_ms/ours, open|ms -->?<!-- /fig --> is"
        " <!-- fig:step|medians_ms/ours, open|x|medians_ms/floor: plain -->?<!-- /fig --> the floor;"
        " 1.5x the floor <!-- fig:step|medians_ms/floor: plain|ms*1.5 -->?<!-- /fig -->;"
        " pages <!-- fig:step|pages/a|g -->?<!-- /fig -->, share at the largest"
        " <!-- fig:step|figures/{sizes.-1}/share|.2f -->?<!-- /fig --> and the smallest"
        " <!-- fig:step|figures/{sizes.0}/share|pct -->?<!-- /fig -->.\n"
        "Wrong: <!-- fig:step|medians_ms/theirs|ms -->kept<!-- /fig -->; not run: <!-- fig:cli|ratios/list|x -->kept<!-- /fig -->\n"
        "No results: <!-- fig:queries|ratio/list|x -->kept<!-- /fig -->; two dashes: <!-- fig:step|pages/a --b|g -->kept<!-- /fig -->;"
        " escaped: <!-- fig:step|pages/-%2Db|g -->?<!-- /fig -->\n",
        encoding="utf-8")
    (results / "step.json").write_text(json.dumps({**json.loads((results / "step.json").read_text(encoding="utf-8")),
                                                   "pages": {"a": 10.434, "--b": 3}}), encoding="utf-8")
    made = subprocess.run([sys.executable, str(BENCH / "make_page.py"), "--results", str(results), "--page", str(page), "--only", "step",
                           "--only", "queries"], cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert page.read_text(encoding="utf-8") == (
        "A step <!-- fig:step|medians_ms/ours, open|ms -->0.150 ms<!-- /fig --> is"
        " <!-- fig:step|medians_ms/ours, open|x|medians_ms/floor: plain -->3.00x<!-- /fig --> the floor;"
        " 1.5x the floor <!-- fig:step|medians_ms/floor: plain|ms*1.5 -->0.075 ms<!-- /fig -->;"
        " pages <!-- fig:step|pages/a|g -->10.434<!-- /fig -->, share at the largest"
        " <!-- fig:step|figures/{sizes.-1}/share|.2f -->0.25<!-- /fig --> and the smallest"
        " <!-- fig:step|figures/{sizes.0}/share|pct -->50.0%<!-- /fig -->.\n"
        "Wrong: <!-- fig:step|medians_ms/theirs|ms -->kept<!-- /fig -->; not run: <!-- fig:cli|ratios/list|x -->kept<!-- /fig -->\n"
        "No results: <!-- fig:queries|ratio/list|x -->kept<!-- /fig -->; two dashes: <!-- fig:step|pages/a --b|g -->kept<!-- /fig -->;"
        " escaped: <!-- fig:step|pages/-%2Db|g -->3<!-- /fig -->\n")
    assert "figure 'step|medians_ms/theirs|ms' cannot be read (KeyError: 'theirs')" in made.stderr
    assert "figure 'step|pages/a --b|g' cannot be read (ValueError: a figure's marker may not hold '--'" in made.stderr
    assert f"no {results / 'queries.json'}: 1 figure(s) of the prose left as they were" in made.stderr
    assert "ratios/list" not in made.stderr  # a figure of a source outside --only is left alone, unnamed


def test_make_db_builds_a_database_that_verifies_and_that_the_commands_read(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    built = subprocess.run([sys.executable, str(BENCH / "make_db.py"), "--runs", "150", "--paths", "1", "-o", str(db), "--json"],
                           cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    facts = json.loads(built.stdout.strip().splitlines()[-1])
    assert facts["runs"] == 150 and facts["events"] > 150
    assert set(facts["states"]) <= {"active", "completed", "cancelled"} and facts["states"].get("active")
    conn = sqlite3.connect(db)
    person = conn.execute("SELECT a.person FROM tasks t JOIN assignments a ON a.run_id = t.run_id AND a.role = t.actor"
                          " WHERE t.state = 'open' LIMIT 1").fetchone()[0]
    run_id = conn.execute("SELECT id FROM runs WHERE status = 'active' LIMIT 1").fetchone()[0]
    conn.close()

    def sopengine(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sopengine", "--db", str(db), "--now", "2026-11-02T10:00", *args],
                              cwd=tmp_path, env=env(tmp_path), capture_output=True, text=True, timeout=120)

    verified = sopengine("audit", "verify", "--json")
    assert verified.returncode == 0, verified.stdout[-1500:] + verified.stderr[-1500:]
    result = json.loads(verified.stdout)
    assert result["ok"] and result["events"] == facts["events"] and result["runs"] == 150
    assert json.loads(sopengine("status", run_id, "--json").stdout)["run_id"] == run_id
    assert len(json.loads(sopengine("status", "--json").stdout)) == facts["states"]["active"]
    assert isinstance(json.loads(sopengine("overdue", "--json").stdout), list)
    mine = json.loads(sopengine("inbox", "--person", person, "--json").stdout)
    assert mine and all(r["state"] == "open" for r in mine)
    report = json.loads(sopengine("report", "--json").stdout)
    assert len(report["runs"]) == 150


def test_make_db_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    for args, says in ((["--runs", "0", "-o", str(tmp_path / "x.db")], "--runs must be 1 or more"),
                       (["--runs", "10", "-o", str(tmp_path / "nowhere" / "x.db")], "does not exist")):
        proc = subprocess.run([sys.executable, str(BENCH / "make_db.py"), *args], cwd=ROOT, env=env(tmp_path),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        assert proc.stderr.startswith("Error: ") and says in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "x.db").exists()


@pytest.fixture
def pg_server_url() -> str:
    """A PostgreSQL server where the benchmarks may create (and drop) their own databases."""
    if not pg_support.SERVER:
        pg_support.unavailable(pg_support.SKIP_REASON)
    return pg_support.SERVER


def bench_databases(server: str) -> set[str]:
    with pg_support.admin(server) as conn:
        return {n for (n,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'")}


def test_the_engine_benchmarks_run_on_postgresql_and_the_page_shows_them(pg_server_url: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    before = bench_databases(pg_server_url)
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--smoke", "engines", "pgqueries", "writers", "--pg", pg_server_url,
                           "--results", str(results)], cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    assert {n: (r["exit"], r.get("skipped")) for n, r in summary["ran"].items()} == {
        "engines": (0, None), "pgqueries": (0, None), "writers": (0, None)}
    fsync = summary["machine"]["postgresql"]["fsync"]
    assert fsync in ("on", "off") and f"fsync={fsync}" in proc.stdout
    assert bench_databases(pg_server_url) == before  # each dropped the databases it made

    engines = json.loads((results / "engines.json").read_text(encoding="utf-8"))
    assert set(engines["medians_ms"]) == {"SQLite, open Store", "PostgreSQL, open Store"} and engines["steps"] > 0
    assert engines["statements"]["PostgreSQL"] <= engines["statements"]["SQLite"] + 1  # at most the run's row lock more
    assert engines["open_ms"]["PostgreSQL"] > 0 and engines["open_ms"]["SQLite"] > 0
    assert engines["commits"] == {"SQLite": 1, "PostgreSQL": 1}
    assert set(engines["counter"]["medians_ms"]) == {"event numbered by the counter row (trigger)",
                                                     "event numbered by a sequence (identity)"}
    writers = json.loads((results / "writers.json").read_text(encoding="utf-8"))
    for engine in ("SQLite", "PostgreSQL", "PostgreSQL, sequence instead of counter"):
        done = writers["results"]["2"][engine]
        assert done["steps"] > 0 and done["refused"] == {} and done["events"] > done["steps"]
    assert [(t["target"], t["verdict"]) for t in summary["targets"]] == [
        ("writers at once: writes refused (busy, concurrent change), every engine", "met")]
    queries = json.loads((results / "pgqueries.json").read_text(encoding="utf-8"))
    assert queries["failed"] == {} and queries["rows"]["PostgreSQL"] == queries["rows"]["SQLite"]
    assert queries["verify"]["PostgreSQL"]["events"] == queries["verify"]["SQLite"]["events"] == queries["events"]
    assert queries["databases"]["PostgreSQL"]["bytes"] > 0

    page = tmp_path / "performance.md"
    shutil.copy(ROOT / "docs" / "performance.md", page)
    made = subprocess.run([sys.executable, str(BENCH / "make_page.py"), "--results", str(results), "--page", str(page),
                           "--only", "engines", "--only", "writers", "--only", "pgqueries"],
                          cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert "cannot be read" not in made.stderr, made.stderr
    text = page.read_text(encoding="utf-8")
    for block in ("engines", "writers", "pgqueries"):
        start, end = text.index(f"<!-- bench:{block} -->"), text.index(f"<!-- /bench:{block} -->")
        assert "| --- |" in text[start:end] and f"fsync={fsync}" in text[start:end], f"the {block} table was not written"


def test_make_db_copies_into_postgresql_and_refuses_a_database_holding_runs(pg_server_url: str, tmp_path: Path) -> None:
    name = f"bench_t_{os.getpid()}_{secrets.token_hex(3)}"
    url = pg_support.database_url(pg_server_url, name)
    with pg_support.admin(pg_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        made = subprocess.run([sys.executable, str(BENCH / "make_db.py"), "--runs", "60", "--paths", "1", "--db", url, "--json"],
                              cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr[-2000:]
        facts = json.loads(made.stdout.strip().splitlines()[-1])
        assert facts["postgresql"]["events"] == facts["events"] and facts["postgresql"]["bytes"] > 0
        assert "pg_database_size" in made.stdout
        assert pg_support.value(url, "SELECT count(*) FROM runs") == 60
        assert pg_support.value(url, "SELECT count(*) FROM events") == facts["events"]
        again = subprocess.run([sys.executable, str(BENCH / "make_db.py"), "--runs", "5", "--db", url],
                               cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=60)
        assert again.returncode == 2 and again.stderr.startswith("Error: ") and "already holds runs" in again.stderr
        assert "Traceback" not in again.stderr and "make_db: " not in again.stdout  # refused before building anything
    finally:
        from sopengine.store import pg

        pg.close_pools()
        with pg_support.admin(pg_server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
