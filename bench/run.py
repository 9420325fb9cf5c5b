"""Run every benchmark under ``bench/`` and print their figures.

Each ``bench/bench_*.py`` runs in its own process with this interpreter, one after another
(never side by side: they would slow each other), its output shown as it comes and saved
to ``bench/results/NAME.txt`` under a header naming the machine. A summary at the end
repeats every line that states a target.

    python bench/run.py                # all of them
    python bench/run.py step cli       # bench_step.py and bench_cli.py only
    python bench/run.py --quick        # smaller sizes, for a look in a few minutes

Exit status: 1 when a benchmark fails to run, else 0 (a missed target is a figure, not a failure).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
ORDER = ["step", "cli", "audit", "overdue"]  # the rest follow alphabetically

# Smaller sizes for --quick, given only to a benchmark that has the option.
QUICK = {
    "step": ["--runs", "60", "--profile-runs", "30"],
    "cli": ["--rounds", "15"],
    "audit": ["--runs", "10000"],
    "overdue": ["--runs", "10000"],
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> str:
    """The facts a figure needs beside it to mean anything."""
    return "\n".join([
        f"date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, {platform.system()} {platform.release()}",
        f"python: {sys.version.split()[0]} ({sys.executable}); SQLite {sqlite3.sqlite_version}",
        f"packages: transitions {package_version('transitions')}, click {package_version('click')}, "
        f"SpiffWorkflow {package_version('SpiffWorkflow')}",
        f"sopengine: {commit()}",
        f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ])


def found() -> dict[str, Path]:
    scripts = {p.stem.removeprefix("bench_"): p for p in BENCH.glob("bench_*.py")}
    ordered = [n for n in ORDER if n in scripts] + sorted(n for n in scripts if n not in ORDER)
    return {n: scripts[n] for n in ordered}


def run_one(name: str, script: Path, extra: list[str], header: str) -> tuple[int, float, list[str]]:
    """Run one benchmark, echoing and saving its output; (exit status, seconds, target lines)."""
    RESULTS.mkdir(exist_ok=True)
    lines: list[str] = []
    t0 = time.perf_counter()
    with subprocess.Popen([sys.executable, str(script), *extra], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
    elapsed = time.perf_counter() - t0
    command = " ".join(["python", str(script.relative_to(ROOT)), *extra])
    (RESULTS / f"{name}.txt").write_text(f"{header}\ncommand: {command}\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return proc.returncode, elapsed, [line.strip() for line in lines if line.strip().startswith("target:")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (bench_NAME.py); default all")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, where a benchmark offers them")
    args = parser.parse_args()

    scripts = found()
    unknown = [n for n in args.names if n not in scripts]
    if unknown:
        print(f"Error: no benchmark {', '.join(unknown)}; there are: {', '.join(scripts)}", file=sys.stderr)
        return 1
    chosen = {n: p for n, p in scripts.items() if not args.names or n in args.names}
    header = machine()
    print(header, flush=True)
    summary: list[str] = []
    failed = []
    for name, script in chosen.items():
        extra = []
        if args.quick:
            source = script.read_text(encoding="utf-8")
            options = QUICK.get(name, [])
            for flag, value in zip(options[::2], options[1::2]):
                if f'"{flag}"' in source:
                    extra += [flag, value]
        print(f"\n== {name}: python {script.relative_to(ROOT)} {' '.join(extra)}".rstrip(), flush=True)
        status, seconds, targets = run_one(name, script, extra, header)
        summary.append(f"{name:8s} {'ok' if status == 0 else f'FAILED (exit {status})':16s} {seconds:7.1f} s")
        summary.extend(f"         {t}" for t in targets)
        if status != 0:
            failed.append(name)
    print("\n== summary (outputs in bench/results/)")
    print("\n".join(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
