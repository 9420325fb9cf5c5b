"""Benchmark: whole commands as people run them, against a bare ``python -c pass``.

Targets: ``sopengine list`` within 8x, ``--help`` within 5x and ``complete RUN`` within 7x a
bare ``python -c pass``, each measured as a whole process in the same rounds. ``list`` reads
its cache of what checking each definition found (filled in the warm-up), as every ``list``
after the first does; ``list, nothing cached`` shows the first one.

Each command runs as a fresh process (``subprocess.run``), the commands taken in turn,
round after round, so that a busy machine slows all of them alike; the figure is the median
over the rounds and the ratio is against ``python -c pass`` from the same rounds. Every
``complete`` and ``decide`` acts on a run of its own, at the step it acts on.

The children find sopengine's bytecode cached (``PYTHONPYCACHEPREFIX`` in a temporary folder,
warmed up first), as an installed package has it; one more command shows ``complete`` with
sopengine compiled from source at every start (``PYTHONDONTWRITEBYTECODE=1``).

Then ``python -X importtime`` lists what the step commands import: the heavy libraries
(pydantic, sqlite-utils, rich, holidays, jinja2) must not be among them.

Run from the repository root::

    python bench/bench_cli.py              # 40 rounds
    python bench/bench_cli.py --rounds 15  # a quicker look

The last line is ``RESULT {json}`` for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sopengine import runs  # noqa: E402
from sopengine.store import Store  # noqa: E402

DEFINITIONS = ROOT / "definitions"
HEAVY = ("pydantic", "sqlite_utils", "rich", "holidays", "jinja2")
NOW = "2026-10-05T09:00"
BY = "Agus Supriyadi"
TARGETS = {"sopengine list": 8.0, "sopengine --help": 5.0, "sopengine complete RUN": 7.0}


def sopengine_command() -> list[str]:
    """The console script next to this interpreter, as people type it; else ``python -m sopengine``."""
    script = Path(sys.executable).parent / "sopengine"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sopengine"]


def child_env(folder: Path, db: Path, bytecode: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPENGINE_", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE"))}
    env.update(SOPENGINE_DB=str(db), SOPENGINE_DEFINITIONS=str(DEFINITIONS), SOPENGINE_NOW=NOW, SOPENGINE_USER=BY,
               XDG_CACHE_HOME=str(folder / "cache"))
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-400:]}")
    return elapsed


def prepare(db: Path, rounds: int) -> dict[str, list[str]]:
    """Runs for every round: at their first step (complete), and at a person's decision (decide)."""
    common = dict(db=db, definitions=DEFINITIONS, by=BY, now="2026-10-05T08:00", allow_duplicate=True)
    ready: dict[str, list[str]] = {"complete": [], "complete-json": [], "complete-raw": [], "decide": [], "status": []}
    with Store(db, create=True) as store:
        common["db"] = store
        for key in ("complete", "complete-json", "complete-raw", "status"):
            ready[key] = [runs.start_run("pengumpulan-data", period="2026-10", **common)["run_id"] for _ in range(rounds + 2)]
        for _ in range(rounds + 2):
            run_id = runs.start_run("surat-keluar", **common)["run_id"]
            runs.complete(store, run_id, by=BY, now="2026-10-05T08:10")
            runs.complete(store, run_id, by=BY, now="2026-10-05T08:20")  # now at periksa-kasubag, Ya / Tidak
            ready["decide"].append(run_id)
    return ready


def imports(cmd: list[str], env: dict[str, str], cwd: Path) -> list[tuple[str, int, int]]:
    """(module, self us, depth) for every module *cmd* imports, from ``-X importtime``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "sopengine", *cmd], env=env, cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"sopengine {' '.join(cmd)} failed: {proc.stderr[-400:]}")
    out = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, _cumulative, name = line[len("import time:"):].split("|")
        out.append((name.strip(), int(self_us), (len(name) - len(name.lstrip())) // 2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="times each command runs (median)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sopengine-bench-cli-"))
    try:
        db = folder / "cli.db"
        ready = prepare(db, args.rounds)
        env = child_env(folder, db)
        # sopengine compiled from source at every start, as in a checkout run with
        # PYTHONDONTWRITEBYTECODE=1: what a developer sees, not what users see.
        raw_env = child_env(folder, db, bytecode=False)
        py, sop = [sys.executable], sopengine_command()
        commands: dict[str, tuple[list[str], str | None]] = {
            "python -c pass": ([*py, "-c", "pass"], None),
            "python -c 'import click, yaml, transitions, sqlite3'": ([*py, "-c", "import click, yaml, transitions, sqlite3"], None),
            "sopengine --help": ([*sop, "--help"], None),
            "sopengine list": ([*sop, "list"], None),
            "sopengine list --json": ([*sop, "list", "--json"], None),
            "sopengine list, nothing cached": ([*sop, "list"], None),
            "sopengine complete RUN": ([*sop, "complete"], "complete"),
            "sopengine complete RUN --json": ([*sop, "complete"], "complete-json"),
            "sopengine decide RUN Ya": ([*sop, "decide"], "decide"),
            "sopengine status RUN --json": ([*sop, "status"], "status"),
            "sopengine status RUN (table)": ([*sop, "status"], "status"),
            "sopengine complete RUN, no bytecode cache": ([*sop, "complete"], "complete-raw"),
        }
        # the first list of a machine: checking each file, cached nowhere
        cold_env = dict(env, SOPENGINE_CACHE="off")
        envs = {name: raw_env if "no bytecode" in name else cold_env if "nothing cached" in name else env for name in commands}
        first = ["--step", "kumpulkan-data"]
        extra = {"sopengine complete RUN": first, "sopengine complete RUN --json": [*first, "--json"],
                 "sopengine complete RUN, no bytecode cache": first,
                 "sopengine decide RUN Ya": ["Ya", "--step", "periksa-kasubag"], "sopengine status RUN --json": ["--json"]}

        def argv(name: str, i: int) -> list[str]:
            cmd, pool = commands[name]
            run = [ready[pool][i]] if pool else []
            return [*cmd, *run, *extra.get(name, [])]

        print(f"bench_cli: {len(commands)} commands x {args.rounds} rounds, Python {sys.version.split()[0]}; "
              f"command: {' '.join(Path(c).name for c in sop)}; load average {os.getloadavg()[0]:.2f}")
        # Warm-up: fills the bytecode cache and the OS file cache; the runs it uses are spares
        # (one pass is enough for a look of a round or two).
        for name in commands:
            for i in (args.rounds, args.rounds + 1) if args.rounds > 2 else (args.rounds,):
                timed(argv(name, i), envs[name], folder)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(args.rounds):
            names = list(commands)
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                # the status runs are only read: the table and the JSON read the same runs
                samples[name].append(timed(argv(name, i), envs[name], folder))
        base = statistics.median(samples["python -c pass"])
        print(f"  {'command':56s} {'median':>9s} {'x pass':>7s}")
        medians = {}
        for name, values in samples.items():
            medians[name] = statistics.median(values)
            print(f"  {name:56s} {medians[name] * 1000:7.1f} ms {medians[name] / base:6.2f}x")
        ratios = {name: medians[name] / base for name in medians}

        spare = [runs.start_run("pengumpulan-data", db=db, definitions=DEFINITIONS, period="2026-10", by=BY,
                                now="2026-10-05T08:00", allow_duplicate=True)["run_id"] for _ in range(3)]
        # decided Ya in the warm-up: now at periksa-sekretaris
        decide_spare = ready["decide"][args.rounds + 1 if args.rounds > 2 else args.rounds]
        checks = {
            "complete RUN": ["complete", spare[0], "--step", "kumpulkan-data"],
            "complete RUN --json": ["complete", spare[1], "--step", "kumpulkan-data", "--json"],
            "decide RUN Ya": ["decide", decide_spare, "Ya", "--step", "periksa-sekretaris"],
            "status RUN --json": ["status", spare[2], "--json"],
            "status RUN (table)": ["status", spare[2]],
            "--help": ["--help"],
            "list": ["list"],
            "list --json": ["list", "--json"],
        }
        print("imports (python -X importtime -m sopengine ...):")
        listed: dict[str, list[tuple[str, int, int]]] = {}
        for label, cmd in checks.items():
            mods = listed[label] = imports(cmd, env, folder)
            found = sorted({m.split(".")[0] for m, _, _ in mods if m.split(".")[0] in HEAVY})
            own = [m for m in mods if m[0].startswith("sopengine")]
            verdict = "none of " + ", ".join(HEAVY) if not found else "IMPORTS " + ", ".join(found)
            print(f"  {label:22s} {len(mods):4d} modules ({len(own)} of sopengine, {sum(s for _, s, _ in own) / 1000:.1f} ms self): {verdict}")
        step_heavy = {m.split(".")[0] for label in ("complete RUN", "complete RUN --json", "decide RUN Ya", "status RUN --json", "--help")
                      for m, _, _ in listed[label] if m.split(".")[0] in HEAVY}
        print(f"  complete, decide, status --json and --help import none of {', '.join(HEAVY)}: "
              + ("so" if not step_heavy else "no: " + ", ".join(sorted(step_heavy))))

        # Where a complete's time goes: interpreter start, the imports alone, and the rest.
        top = [m for m, _, depth in listed["complete RUN"] if depth == 0 and m not in ("sopengine.__main__", "runpy", "__main__")]
        import_only = [*py, "-c", "import " + ", ".join(dict.fromkeys(top))]
        imp = statistics.median(timed(import_only, env, folder) for _ in range(args.rounds))
        step = medians["sopengine complete RUN"]
        print(f"where 'sopengine complete RUN' spends {step * 1000:.1f} ms: interpreter start {base * 1000:.1f} ms, "
              f"imports {(imp - base) * 1000:.1f} ms, parsing, the step, the next-step summary and exit {(step - imp) * 1000:.1f} ms")
        own = sorted(((s, m) for m, s, _ in listed["complete RUN"] if m.startswith("sopengine")), reverse=True)[:6]
        print("  heaviest sopengine modules on that path (self time): " + ", ".join(f"{m} {s / 1000:.1f} ms" for s, m in own))
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
        print("RESULT " + json.dumps({
            "rounds": args.rounds,
            "medians_ms": {k: round(v * 1000, 2) for k, v in medians.items()},
            "ratios": {k: round(v, 3) for k, v in ratios.items()},
            "modules": {label: len(mods) for label, mods in listed.items()},
            "heavy": {label: sorted({m.split(".")[0] for m, _, _ in mods if m.split(".")[0] in HEAVY}) for label, mods in listed.items()},
            "step_heavy": sorted(step_heavy),
        }, ensure_ascii=False), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
