"""Anchored heads: ``audit checkpoint`` signs the history; ``audit verify --checkpoints`` holds it to it.

Each forgery below is one a hash chain cannot show: the chains still hold and ``audit
verify`` alone says OK. Each is caught once the auditor's checkpoint file is given.
"""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import audit, clock
from sopengine.audit import checkpoints
from sopengine.chain import GENESIS, canonical, event_hash
from sopengine.cli import cli
from sopengine.runs import assign
from test_audit import build_history, step

FIELDS = ("run_id", "at", "recorded_at", "person", "os_user", "kind", "step_id", "payload", "prev_hash")


@pytest.fixture
def signed(tmp_path: Path) -> dict:
    """The two runs' history, an auditor's key, and one checkpoint of it."""
    hist = build_history(tmp_path)
    key = tmp_path / "auditor" / "auditor.key"
    key.parent.mkdir()
    checkpoints.keygen(key)
    cp = key.parent / "kantor.checkpoints"
    checkpoints.checkpoint(hist["db"], key, cp)
    return dict(hist, key=key, pub=Path(f"{key}.pub"), cp=cp)


def held(hist: dict, **kwargs) -> dict:
    return audit.verify(hist["db"], checkpoints=hist["cp"], public_key=str(hist["pub"]), **kwargs)


def kinds(result: dict) -> list[str]:
    return [p["kind"] for p in result["problems"]]


def rows(db: Path, where: str = "1", args: tuple = ()) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    found = [dict(r) for r in conn.execute(f"SELECT * FROM events WHERE {where} ORDER BY seq", args)]
    conn.close()
    return found


def writable(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_update")
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
    return conn


def rehash_run(conn: sqlite3.Connection, events: list[dict]) -> None:
    """Chain one run's events again from the first, as a forger with write access would."""
    prev = GENESIS
    for e in events:
        e["prev_hash"] = prev
        e["hash"] = prev = event_hash({k: e[k] for k in FIELDS})
        conn.execute("UPDATE events SET person = ?, os_user = ?, payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (e["person"], e["os_user"], e["payload"], e["prev_hash"], e["hash"], e["seq"]))
    run_columns = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    if "head" in run_columns:  # a run row that keeps its chain's head follows it
        conn.execute("UPDATE runs SET head = ? WHERE id = ?", (prev, events[-1]["run_id"]))


# -- keys -------------------------------------------------------------------------------------------

def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_replaces_one(tmp_path: Path) -> None:
    key = tmp_path / "auditor.key"
    made = CliRunner().invoke(cli, ["audit", "keygen", str(key), "--json"])
    assert made.exit_code == 0, made.output
    data = json.loads(made.stdout)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert checkpoints.public_key_hex(f"{key}.pub") == data["public_key"]
    assert "PRIVATE KEY" in key.read_text() and "PUBLIC KEY" in Path(f"{key}.pub").read_text()
    before = key.read_bytes()
    again = CliRunner().invoke(cli, ["audit", "keygen", str(key)])
    assert again.exit_code == 1
    assert again.output == f"Error: {key} already exists; choose another name (a key is never replaced)\n"
    assert key.read_bytes() == before


def test_a_key_others_may_read_or_not_a_key_is_refused_and_nothing_is_signed(signed: dict, tmp_path: Path) -> None:
    before = signed["cp"].read_text()
    signed["key"].chmod(0o644)
    loose = CliRunner().invoke(cli, ["--db", str(signed["db"]), "audit", "checkpoint", "--key", str(signed["key"]),
                                     "--file", str(signed["cp"])])
    assert loose.exit_code == 1
    assert loose.output == (f"Error: the key {signed['key']} may be read by others (mode 644); make it private with"
                            f" 'chmod 600 {signed['key']}'\n")
    other = tmp_path / "bukan-kunci.key"
    other.write_text("bukan kunci\n")
    other.chmod(0o600)
    wrong = CliRunner().invoke(cli, ["--db", str(signed["db"]), "audit", "checkpoint", "--key", str(other),
                                     "--file", str(signed["cp"])])
    assert wrong.exit_code == 1
    assert wrong.output.startswith(f"Error: {other} is not an unencrypted Ed25519 private key in PEM form")
    assert signed["cp"].read_text() == before


# -- the history holds --------------------------------------------------------------------------------

def test_checkpoints_of_a_growing_history_all_hold(signed: dict) -> None:
    step(signed["db"], signed["b"], "budi", "2026-10-01T10:00")
    checkpoints.checkpoint(signed["db"], signed["key"], signed["cp"])
    assign(signed["db"], signed["b"], "kepala-seksi", "Sari", by="ani", now="2026-10-01T10:30")
    result = held(signed)
    assert result["ok"], result["problems"]
    summary = result["checkpoints"]
    assert (summary["count"], summary["held"], summary["key_given"]) == (2, 2, True)
    lines = [json.loads(line) for line in signed["cp"].read_text().splitlines()]
    assert lines[1]["seq"] == result["last_seq"] - 1 and lines[1]["head"] == summary["last"]["head"]
    assert lines[0]["prev"] is None and len(lines[1]["prev"]) == 64
    # the real time is signed, whatever --now says
    assert abs(clock.from_iso(lines[1]["time"]) - clock.real_now()) < timedelta(minutes=5)


def test_the_command_line_signs_and_verifies_in_real_processes(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_")}
    env["SOPENGINE_LANG"] = "en"

    def sopengine(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sopengine", "--db", str(hist["db"]), *args], capture_output=True,
                              text=True, env=env, timeout=120)

    key, cp = tmp_path / "auditor.key", tmp_path / "kantor.checkpoints"
    assert sopengine("audit", "keygen", str(key)).returncode == 0
    made = sopengine("audit", "checkpoint", "--key", str(key), "--file", str(cp))
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"Checkpoint 1 added to {cp}: head ")
    checked = sopengine("audit", "verify", "--checkpoints", str(cp), "--public-key", f"{key}.pub", "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["checkpoints"]["held"] == 1
    stranger = tmp_path / "orang-lain.key"
    assert sopengine("audit", "keygen", str(stranger)).returncode == 0
    refused = sopengine("audit", "verify", "--checkpoints", str(cp), "--public-key", f"{stranger}.pub")
    assert refused.returncode == 1
    assert "checkpoint 1 is signed by key" in refused.stdout and "not by the key given" in refused.stdout


# -- what a chain cannot show, and a checkpoint does ---------------------------------------------------

def test_an_event_edited_and_its_run_hashed_again_before_a_checkpoint_is_caught(signed: dict) -> None:
    noted = audit.verify(signed["db"])["head"]
    events = rows(signed["db"], "run_id = ?", (signed["b"],))
    conn = writable(signed["db"])
    events[1]["os_user"] = "kepala.dinas"  # who was logged in, rewritten
    rehash_run(conn, events)
    conn.commit()
    conn.close()
    # the chains hold: without the checkpoint nothing is seen but a changed head
    alone = audit.verify(signed["db"])
    assert alone["ok"] and alone["head"] != noted
    result = held(signed)
    assert kinds(result) == ["checkpoint"]
    assert result["first_problem"]["message"].startswith("checkpoint 1 (")
    assert "the events up to" in result["first_problem"]["message"] and "hashed again" in result["first_problem"]["message"]


def test_a_tail_cut_and_written_anew_before_a_checkpoint_is_caught(signed: dict) -> None:
    """Run a's last two events deleted and two others written in their place, same numbers, chained."""
    events = rows(signed["db"], "run_id = ?", (signed["a"],))
    tail = events[-2:]
    conn = writable(signed["db"])
    conn.execute("DELETE FROM events WHERE seq IN (?, ?)", (tail[0]["seq"], tail[1]["seq"]))
    prev = events[-3]["hash"]
    for e in tail:
        forged = dict(e, prev_hash=prev, os_user="pemalsu")
        forged["hash"] = prev = event_hash({k: forged[k] for k in FIELDS})
        conn.execute(f"INSERT INTO events (seq, {', '.join(FIELDS)}, hash) VALUES (?, {', '.join('?' * len(FIELDS))}, ?)",
                     (forged["seq"], *(forged[k] for k in FIELDS), forged["hash"]))
    if "head" in [r[1] for r in conn.execute("PRAGMA table_info(runs)")]:
        conn.execute("UPDATE runs SET head = ? WHERE id = ?", (prev, signed["a"]))
    conn.commit()
    conn.close()
    assert audit.verify(signed["db"])["ok"]
    assert kinds(held(signed)) == ["checkpoint"]


def test_a_renumbered_history_is_caught_though_its_head_is_the_same(signed: dict) -> None:
    """Two neighbouring events of different runs swap numbers: each run's order, and so every
    chain and the database head, stay as they were."""
    events = rows(signed["db"])
    k = next(i for i in range(len(events) - 1) if events[i]["run_id"] != events[i + 1]["run_id"])
    first, second = events[k]["seq"], events[k + 1]["seq"]
    noted = audit.verify(signed["db"])["head"]
    conn = writable(signed["db"])
    conn.execute("UPDATE events SET seq = -1 WHERE seq = ?", (first,))
    conn.execute("UPDATE events SET seq = ? WHERE seq = ?", (first, second))
    conn.execute("UPDATE events SET seq = ? WHERE seq = -1", (second,))
    conn.commit()
    conn.close()
    alone = audit.verify(signed["db"], expect_head=noted)
    assert alone["ok"] and alone["head_matches"]
    result = held(signed)
    assert kinds(result) == ["checkpoint"]


def test_an_event_slipped_in_after_a_checkpoint_but_dated_before_it_is_named(signed: dict) -> None:
    """A well-chained assignment appended to the active run, with its assignment row: the chains
    and tables agree; only its recorded time, before the checkpoint's, gives it away."""
    line = json.loads(signed["cp"].read_text().splitlines()[-1])
    time, newest = line["time"], line["recorded"]
    before = clock.iso(clock.from_iso(newest) - timedelta(days=3))
    last = rows(signed["db"], "run_id = ?", (signed["b"],))[-1]
    forged = {"run_id": signed["b"], "at": before, "recorded_at": before, "person": "ani", "os_user": "ani",
              "kind": "assigned", "step_id": None, "payload": canonical({"acting": False, "person": "Orang Dalam",
                                                                            "role": "kepala-seksi"}),
              "prev_hash": last["hash"]}
    forged["hash"] = event_hash(forged)
    conn = sqlite3.connect(signed["db"])
    conn.execute(f"INSERT INTO events ({', '.join(FIELDS)}, hash) VALUES ({', '.join('?' * len(FIELDS))}, ?)",
                 (*(forged[k] for k in FIELDS), forged["hash"]))
    conn.execute("INSERT INTO assignments (run_id, role, person, acting, assigned_at, assigned_by) VALUES (?, ?, ?, 0, ?, ?)",
                 (signed["b"], "kepala-seksi", "Orang Dalam", before, "ani"))
    if "head" in [r[1] for r in conn.execute("PRAGMA table_info(runs)")]:
        conn.execute("UPDATE runs SET head = ? WHERE id = ?", (forged["hash"], signed["b"]))
    conn.commit()
    seq = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0]
    conn.close()
    assert audit.verify(signed["db"])["ok"]
    result = held(signed)
    assert kinds(result) == ["late"]
    assert result["first_problem"]["seq"] == seq
    assert result["first_problem"]["message"] == (
        f"event {seq} of run {signed['b']} was written after the checkpoint of {time}, but its recorded time {before}"
        f" is earlier than the newest event that checkpoint signed ({newest}): it was added with a false date")


def test_events_cut_off_below_a_checkpoint_are_named(signed: dict) -> None:
    events = rows(signed["db"])
    conn = writable(signed["db"])
    conn.execute("DELETE FROM events WHERE seq = ?", (events[-1]["seq"],))
    conn.execute("UPDATE sqlite_sequence SET seq = seq - 1 WHERE name = 'events'")
    conn.commit()
    conn.close()
    result = held(signed)
    assert "checkpoint" in kinds(result)
    assert any(f"was signed at event {events[-1]['seq']}, but the last event now is {events[-2]['seq']}" in p["message"]
               for p in result["problems"])


def test_an_office_chain_rewritten_before_a_checkpoint_is_caught(tmp_path: Path) -> None:
    from sopengine import people

    hist = build_history(tmp_path)
    me = pwd.getpwuid(os.getuid()).pw_name
    people.add_person(hist["db"], "Kepala Kantor", logins=[me], access="admin", now="2026-10-02T08:00")
    people.add_person(hist["db"], "Siti Rahma", logins=["siti"], now="2026-10-02T08:05")
    key, cp = tmp_path / "a.key", tmp_path / "a.checkpoints"
    checkpoints.keygen(key)
    made = checkpoints.checkpoint(hist["db"], key, cp)
    assert made["office_seq"] == 2 and made["head"].endswith("+2")
    conn = sqlite3.connect(hist["db"])
    conn.row_factory = sqlite3.Row
    office = [dict(r) for r in conn.execute("SELECT * FROM office_events ORDER BY seq")]
    conn.execute("DROP TRIGGER office_events_append_only_update")
    office[1]["at"] = "2026-10-02T08:04:00Z"  # Siti added a minute earlier than she was
    prev = GENESIS
    for e in office:
        e["prev_hash"] = prev
        e["hash"] = prev = event_hash(dict(e, run_id="@office"))
        conn.execute("UPDATE office_events SET at = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (e["at"], e["prev_hash"], e["hash"], e["seq"]))
    conn.commit()
    conn.close()
    assert audit.verify(hist["db"])["ok"]
    result = audit.verify(hist["db"], checkpoints=cp, public_key=f"{key}.pub")
    assert kinds(result) == ["checkpoint"]
    assert "the office's events up to 2 are not those it signed" in result["first_problem"]["message"]


# -- the checkpoint file itself ------------------------------------------------------------------------

def test_an_edited_or_removed_checkpoint_line_is_named(signed: dict) -> None:
    step(signed["db"], signed["b"], "budi", "2026-10-01T10:00")
    checkpoints.checkpoint(signed["db"], signed["key"], signed["cp"])
    checkpoints.checkpoint(signed["db"], signed["key"], signed["cp"])
    lines = signed["cp"].read_text().splitlines()
    edited = json.loads(lines[1])
    edited["seq"] -= 1
    signed["cp"].write_text("\n".join([lines[0], json.dumps(edited, separators=(",", ":")), lines[2]]) + "\n")
    messages = [p["message"] for p in held(signed)["problems"]]
    assert any(m.startswith("checkpoint 2 (kantor.checkpoints line 2): its signature does not hold") for m in messages)
    signed["cp"].write_text("\n".join([lines[0], lines[2]]) + "\n")
    result = held(signed)
    assert [p["message"] for p in result["problems"]] == [
        "checkpoint 2 does not follow the line before it: a checkpoint was removed, or the lines were reordered or edited"]


def test_no_checkpoint_is_signed_over_a_history_that_does_not_verify(signed: dict) -> None:
    before = signed["cp"].read_text()
    conn = writable(signed["db"])
    conn.execute("UPDATE events SET person = 'Orang Lain' WHERE seq = 3")
    conn.commit()
    conn.close()
    refused = CliRunner().invoke(cli, ["--db", str(signed["db"]), "audit", "checkpoint", "--key", str(signed["key"]),
                                       "--file", str(signed["cp"])])
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: the history does not verify (event 3 of run ")
    assert refused.output.endswith("no checkpoint written — run 'sopengine audit verify' and settle it first\n")
    assert signed["cp"].read_text() == before


def test_public_key_without_checkpoints_is_a_usage_error(signed: dict) -> None:
    result = CliRunner().invoke(cli, ["--db", str(signed["db"]), "audit", "verify", "--public-key", str(signed["pub"])])
    assert result.exit_code == 2
    assert "--public-key checks the signatures of a checkpoint file: give it with --checkpoints FILE" in result.output


# -- the newest recorded time is what later events are judged against ---------------------------------

def later(minutes: int):
    """The auditor's machine's clock, *minutes* ahead of the office's (or the auditor waiting so long)."""
    real = clock.real_now

    def ahead():
        return real() + timedelta(minutes=minutes)

    return ahead


def forge_after(db: Path, run_id: str, recorded: str) -> int:
    """A well-chained assignment appended to *run_id*, recorded at *recorded*; its number."""
    last = rows(db, "run_id = ?", (run_id,))[-1]
    forged = {"run_id": run_id, "at": recorded, "recorded_at": recorded, "person": "ani", "os_user": "ani",
              "kind": "assigned", "step_id": None, "payload": canonical({"acting": False, "person": "Orang Dalam",
                                                                          "role": "kepala-seksi"}),
              "prev_hash": last["hash"]}
    forged["hash"] = event_hash(forged)
    conn = sqlite3.connect(db)
    conn.execute(f"INSERT INTO events ({', '.join(FIELDS)}, hash) VALUES ({', '.join('?' * len(FIELDS))}, ?)",
                 (*(forged[k] for k in FIELDS), forged["hash"]))
    conn.execute("INSERT INTO assignments (run_id, role, person, acting, assigned_at, assigned_by) VALUES (?, ?, ?, 0, ?, ?)",
                 (run_id, "kepala-seksi", "Orang Dalam", recorded, "ani"))
    conn.execute("UPDATE runs SET head = ? WHERE id = ?", (forged["hash"], run_id))
    conn.commit()
    seq = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0]
    conn.close()
    return seq


def test_a_checkpoint_signed_later_over_a_backup_does_not_make_later_real_work_look_forged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backup is taken, real work goes on in the live database, and the auditor signs a
    checkpoint of the backup copy minutes later (or with a clock that runs ahead)."""
    hist = build_history(tmp_path)
    copy = tmp_path / "bk.db"
    made = CliRunner().invoke(cli, ["--db", str(hist["db"]), "backup", str(copy)])
    assert made.exit_code == 0, made.output
    step(hist["db"], hist["b"], "budi", "2026-10-01T10:00")  # real work, after the backup
    key, cp = tmp_path / "auditor.key", tmp_path / "kantor.checkpoints"
    checkpoints.keygen(key)
    monkeypatch.setattr(checkpoints.clock, "real_now", later(10))
    signed = checkpoints.checkpoint(copy, key, cp)
    monkeypatch.undo()
    live = rows(hist["db"])
    assert signed["seq"] < live[-1]["seq"]
    assert signed["recorded"] == max(r["recorded_at"] for r in rows(copy)) < signed["time"]
    assert all(r["recorded_at"] < signed["time"] for r in live)  # what the old rule called forged
    result = audit.verify(hist["db"], checkpoints=cp, public_key=f"{key}.pub")
    assert result["ok"], result["problems"]
    assert result["checkpoints"]["held"] == 1
    # and a forgery dated before the newest event the checkpoint signed is still named
    seq = forge_after(hist["db"], hist["b"], clock.iso(clock.from_iso(signed["recorded"]) - timedelta(minutes=5)))
    caught = audit.verify(hist["db"], checkpoints=cp, public_key=f"{key}.pub")
    assert kinds(caught) == ["late"] and caught["first_problem"]["seq"] == seq


def test_a_write_in_flight_when_the_checkpoint_was_taken_is_not_a_forgery(signed: dict) -> None:
    """An event that read the office's clock before it waited for the write lock is recorded a
    little before the newest event the checkpoint signed; within the grace it is no forgery."""
    newest = json.loads(signed["cp"].read_text().splitlines()[-1])["recorded"]
    forge_after(signed["db"], signed["b"], clock.iso(clock.from_iso(newest) - timedelta(seconds=checkpoints.GRACE_SECONDS)))
    assert held(signed)["ok"]


def first_format_line(record: dict, key_file: Path) -> str:
    """*record* as a checkpoint of the first format signed it: no newest recorded times."""
    old = {k: record[k] for k in checkpoints.SIGNED_FIELDS_1}
    old["format"] = checkpoints.FORMAT_1
    old["signature"] = checkpoints.load_private_key(key_file).sign(checkpoints.signed_bytes(old)).hex()
    return json.dumps(old, ensure_ascii=False, separators=(",", ":")) + "\n"


def test_a_checkpoint_line_of_the_first_format_is_still_read_and_judged_by_its_time(signed: dict) -> None:
    record = json.loads(signed["cp"].read_text().splitlines()[0])
    assert record["format"] == "sopengine-checkpoint/2" and "recorded" in record
    signed["cp"].write_text(first_format_line(record, signed["key"]), encoding="utf-8")
    result = held(signed)
    assert result["ok"], result["problems"]
    assert result["checkpoints"]["held"] == 1
    # a later checkpoint of the new format follows it
    step(signed["db"], signed["b"], "budi", "2026-10-01T10:00")
    made = checkpoints.checkpoint(signed["db"], signed["key"], signed["cp"])
    assert made["format"] == "sopengine-checkpoint/2" and made["number"] == 2
    assert held(signed)["ok"]
    # an event slipped in after the old line, dated more than the grace before its time, is named with today's words
    time = record["time"]
    before = clock.iso(clock.from_iso(time) - timedelta(days=3))
    signed["cp"].write_text(first_format_line(record, signed["key"]), encoding="utf-8")
    seq = forge_after(signed["db"], signed["b"], before)
    caught = held(signed)
    assert [p["message"] for p in caught["problems"] if p["kind"] == "late"] == [
        f"event {seq} of run {signed['b']} was written after the checkpoint of {time}, but its recorded time {before}"
        " is earlier: it was added with a false date"]


def test_the_newest_recorded_time_is_signed(signed: dict) -> None:
    lines = signed["cp"].read_text().splitlines()
    record = json.loads(lines[0])
    record["recorded"] = "2020-01-01T00:00:00Z"  # moved back, to let forgeries through
    signed["cp"].write_text(json.dumps(record, separators=(",", ":")) + "\n")
    assert any("its signature does not hold" in p["message"] for p in held(signed)["problems"])
