"""Terminal and time safety: what people typed is shown, never obeyed; times out of range are refused.

A note, reason, assignee's name or the SOP's own text may hold an escape sequence (recolour,
clear the screen, set the window title), a carriage return or a bidi override. Every
command's human output shows them as text (``\\x1b``, ``\\u202e``); JSON keeps them exact.
(A name typed with ``--by`` loses its invisible characters before it is recorded.) A
``--now`` so far out that a zone or a due time cannot be computed is a one-line error naming
the accepted range.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import api
from sopengine.cli import cli
from sopengine.cli.common import terminal_safe
from sopengine.errors import InputError

DEFINITIONS = Path(__file__).resolve().parent.parent / "definitions"
NOW = "2026-10-01T09:00"
LATER = "2026-10-05T09:00"  # the second step is overdue by then

RED = "\x1b[31m"
CLEAR = "\x1b[2J"
TITLE = "\x1b]0;diretas\x07"
RLO = "\u202e"
NAME = f"Budi{RED}Merah{RLO}"
ASSIGNEE = f"Ani{CLEAR}"
NOTE = f"catatan {TITLE}selesai\r sudah diperiksa"
KEGIATAN = f"Merekap {RED}laporan{RLO} kinerja"
RAW = ("\x1b", "\x07", "\r", RLO)


@pytest.fixture
def world(tmp_path: Path) -> dict[str, str]:
    """A run whose SOP text, actor, assignee, note and cancel reason hold control characters."""
    defs = tmp_path / "defs"
    defs.mkdir()
    source = (DEFINITIONS / "pengumpulan-data.yaml").read_text(encoding="utf-8")
    old = "kegiatan: Merekap laporan kinerja Bulanan dan triwulan"
    assert source.count(old) == 1
    # YAML's double quotes take \e and \u escapes: the SOP's own words may carry them too
    (defs / "pengumpulan-data.yaml").write_text(
        source.replace(old, 'kegiatan: "Merekap \\e[31mlaporan\\u202e kinerja"'), encoding="utf-8")
    db = str(tmp_path / "x.db")
    common = {"db": db, "definitions": str(defs)}
    run_id = api.start_run("pengumpulan-data", period="2026-10", now=NOW, **common)["run_id"]
    api.complete(db, run_id, step="kumpulkan-data", by=NAME, note=NOTE, now="2026-10-01T09:05")
    api.assign(db, run_id, "kasubag-pep", ASSIGNEE, now="2026-10-01T09:06")
    second = api.start_run("pengumpulan-data", period="2026-11", now=NOW, **common)["run_id"]
    api.cancel(db, second, reason=f"salah {CLEAR}periode", by=NAME, now="2026-10-01T09:10")
    return {**common, "run": run_id, "cancelled": second}


def cli_out(world: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", world["db"], "--definitions", world["definitions"], "--now", LATER, *args],
                                env={"COLUMNS": "250"})
    return result.exit_code, result.stdout + result.stderr


def assert_shown_not_obeyed(text: str) -> None:
    for raw in RAW:
        assert raw not in text, f"raw {raw!r} printed:\n{text}"


NOTE_SHOWN = "catatan \\x1b]0;diretas\\x07selesai\\x0d sudah diperiksa"
KEGIATAN_SHOWN = "Merekap \\x1b[31mlaporan\\u202e kinerja"
COMMANDS = {
    "history": (["history"], [NOTE_SHOWN, "Pelaporan: Ani\\x1b[2J", "salah \\x1b[2Jperiode"]),
    "history of a run": (["history", "--run", "{run}"], [NOTE_SHOWN]),
    "status of a run": (["status", "{run}"], ["Assigned: kasubag-pep: Ani\\x1b[2J", NOTE_SHOWN]),
    "status of a cancelled run": (["status", "{cancelled}"], ["run cancelled: salah \\x1b[2Jperiode"]),
    "inbox": (["inbox", "--actor", "kasubag-pep"], [KEGIATAN_SHOWN]),
    "inbox of a person": (["inbox", "--person", ASSIGNEE], ["Waiting for Ani\\x1b[2J", KEGIATAN_SHOWN]),
    "overdue": (["overdue"], [KEGIATAN_SHOWN, "(Ani\\x1b[2J)"]),
    "report": (["report"], [KEGIATAN_SHOWN]),
    "show": (["show", "pengumpulan-data"], ["\\x1b[31mlaporan\\u202e"]),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_shows_control_characters_as_text(world: dict[str, str], name: str) -> None:
    args, expected = COMMANDS[name]
    code, out = cli_out(world, *[a.format(**world) for a in args])
    assert code == 0, out
    assert_shown_not_obeyed(out)
    # a table cell may wrap: look for the start of each escaped text
    for text in expected:
        assert text in out, f"{text!r} not in:\n{out}"


def test_the_sentence_after_a_change_shows_them_as_text(world: dict[str, str]) -> None:
    code, out = cli_out(world, "assign", world["run"], "kasubag-pep", f"Tono{RED}{RLO}")
    assert code == 0, out
    assert_shown_not_obeyed(out)
    assert "Tono\\x1b[31m\\u202e" in out


def test_an_error_message_shows_them_as_text(world: dict[str, str]) -> None:
    code, out = cli_out(world, "status", f"abc{CLEAR}def")
    assert code == 1
    assert out == f"Error: no run 'abc\\x1b[2Jdef' in {world['db']}; 'sopengine status' lists the runs\n"


def test_json_keeps_every_character_exact(world: dict[str, str]) -> None:
    code, out = cli_out(world, "history", "--json")
    assert code == 0
    entries = json.loads(out)
    assert NOTE in [e.get("note") for e in entries]
    status = json.loads(cli_out(world, "status", world["run"], "--json")[1])
    assert ASSIGNEE in _strings(status)


def _strings(data: object) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


def test_csv_keeps_every_character_exact(world: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", world["db"], "history", "--format", "csv"])
    assert result.exit_code == 0
    assert NOTE.replace("\r", "") in result.stdout.replace("\r", "")
    assert f"salah {CLEAR}periode" in result.stdout


def test_terminal_safe_escapes_controls_and_bidi_and_keeps_the_rest() -> None:
    assert terminal_safe("Sekretaris Dinas\tNIP 1971\nbaris dua [sic] — é ñ 漢") == "Sekretaris Dinas\tNIP 1971\nbaris dua [sic] — é ñ 漢"
    assert terminal_safe("\x00\x1b\x7f\x85\x9b\r") == "\\x00\\x1b\\x7f\\x85\\x9b\\x0d"
    assert terminal_safe("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c") == (
        "\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c")
    assert terminal_safe(terminal_safe(NOTE)) == terminal_safe(NOTE)  # shown once, shown the same again


def _on_a_terminal(args: list[str]) -> str:
    """Run sopengine in a real pseudo-terminal, as a person at the office's machine would."""
    leader, follower = pty.openpty()
    env = {**os.environ, "SOPENGINE_LANG": "en", "COLUMNS": "250", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "sopengine", *args], stdin=follower, stdout=follower, stderr=follower,
                            env=env, close_fds=True)
    os.close(follower)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    return out.decode("utf-8", errors="replace")


def test_on_a_real_terminal_tables_keep_their_colours_and_user_text_is_escaped(world: dict[str, str]) -> None:
    shown = _on_a_terminal(["--db", world["db"], "--definitions", world["definitions"], "history"])
    assert "\x1b[" in shown  # rich's own styles reach the terminal
    assert RED not in shown and CLEAR not in shown and RLO not in shown and "\x07" not in shown
    assert "Ani\\x1b[2J" in shown and "\\x1b]0;diretas" in shown
    sentence = _on_a_terminal(["--db", world["db"], "--now", LATER, "assign", world["run"], "kasubag-pep", f"Tono{RED}"])
    assert "Assigned Tono\\x1b[31m to" in sentence and RED not in sentence


# -- time ------------------------------------------------------------------------------------------


RANGE = "is outside the years sopengine counts in; give a time from 1970-01-01 to 9000-12-31"


@pytest.mark.parametrize("when", ["9999-12-31T23:59", "0001-01-01T00:00", "9999-12-31", "0001-01-01T00:00:00Z",
                                  "1969-12-31T23:59:59Z", "9001-01-01T00:00"])
@pytest.mark.parametrize("args", [["run", "pengumpulan-data", "--period", "2026-10"], ["status"], ["overdue"], ["report"],
                                  ["inbox", "--actor", "sekretaris-dinas"], ["calendar"]])
def test_a_now_out_of_range_is_a_one_line_error(tmp_path: Path, when: str, args: list[str]) -> None:
    db = tmp_path / "x.db"
    api.start_run("pengumpulan-data", db=db, period="2026-09", now=NOW)
    result = CliRunner().invoke(cli, ["--db", str(db), "--now", when, *args])
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: time {when!r} {RANGE}\n"
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_edges_of_the_range_work(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    for when in ("1970-01-01T00:00", "9000-12-31T23:59"):
        run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=when, allow_duplicate=True)["run_id"]
        api.complete(db, run_id, step="kumpulkan-data", now=when)
        result = CliRunner().invoke(cli, ["--db", str(db), "--now", when, "status", run_id])
        assert result.exit_code == 0, result.output
        assert CliRunner().invoke(cli, ["--db", str(db), "--now", when, "overdue"]).exit_code == 0


def test_a_now_out_of_range_from_the_environment_and_in_a_fresh_process(tmp_path: Path) -> None:
    env = {**os.environ, "SOPENGINE_LANG": "en", "SOPENGINE_NOW": "9999-12-31T23:59"}
    done = subprocess.run([sys.executable, "-m", "sopengine", "--db", str(tmp_path / "x.db"), "run", "pengumpulan-data",
                           "--period", "2026-10"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr == f"Error: time '9999-12-31T23:59' {RANGE}\n"
    assert list(tmp_path.iterdir()) == []  # refused before a database was made


def test_history_since_year_one_is_refused_with_the_range(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW)
    result = CliRunner().invoke(cli, ["--db", str(db), "history", "--since", "0001-01-01"])
    assert result.exit_code == 1
    assert result.stderr == f"Error: time '0001-01-01' {RANGE}\n"


def test_the_library_refuses_a_datetime_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=RANGE):
        api.start_run("pengumpulan-data", db=tmp_path / "x.db", period="2026-10", now=datetime(1, 1, 1))
    with pytest.raises(InputError, match=RANGE):
        api.start_run("pengumpulan-data", db=tmp_path / "x.db", period="2026-10", now=datetime(9999, 12, 31, 23, 59))
