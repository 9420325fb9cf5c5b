"""Evidence packs: written from a real run, checked without the database, refused when altered.

A pack takes its documents' bytes from the database's document store, not from the paths
they were recorded at; it holds nothing its run's chain does not account for.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopengine import audit
from sopengine.cli import cli
from sopengine.errors import RunNotFound
from test_audit import build_history, unwritable_folder


def tamper_store(db: Path, sql: str, args: tuple) -> None:
    """Change the document store with plain sqlite3, behind the engine's back (its triggers dropped)."""
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS document_blobs_append_only_update")
    conn.execute("DROP TRIGGER IF EXISTS document_blobs_append_only_delete")
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def kept_bytes(db: Path, sha256: str) -> bytes:
    row = sqlite3.connect(db).execute("SELECT data FROM document_blobs WHERE sha256 = ?", (sha256,)).fetchone()
    return bytes(row[0])


def make_pack(tmp_path: Path, *, tamper: bool) -> dict:
    """A pack of a run whose files moved on after they were recorded (one changed, one gone);
    with *tamper*, its document store was tampered with first: one document's kept bytes
    edited, another's removed (and its files gone too)."""
    hist = build_history(tmp_path)
    docs = [d for e in audit.history(hist["db"], run=hist["a"]) for d in e["documents"]]
    paths = [d["path"] for d in docs]
    Path(paths[1]).write_text("diubah setelah dicatat\n", encoding="utf-8")  # the file changed since recorded
    Path(paths[2]).unlink()  # the file gone
    changed, missing = docs[1]["sha256"], docs[0]["sha256"]
    assert changed != missing
    if tamper:
        tamper_store(hist["db"], "UPDATE document_blobs SET data = ? WHERE sha256 = ?", (b"disunting diam-diam\n", changed))
        tamper_store(hist["db"], "DELETE FROM document_blobs WHERE sha256 = ?", (missing,))
        for d in docs:
            if d["sha256"] == missing:
                Path(d["path"]).unlink(missing_ok=True)
    target = tmp_path / "bukti.zip"
    result = CliRunner().invoke(cli, ["audit", "pack", hist["a"], "--db", str(hist["db"]), "-o", str(target)])
    assert result.exit_code == 0, result.output
    counts = {"changed": 0, "missing": 0}
    if tamper:
        counts = {"changed": sum(d["sha256"] == changed for d in docs), "missing": sum(d["sha256"] == missing for d in docs)}
    counts["included"] = len(docs) - counts["changed"] - counts["missing"]
    return dict(hist, zip=target, output=result.stdout, paths=paths, docs=docs, changed=changed, missing=missing,
                counts=counts)


@pytest.fixture
def packed(tmp_path: Path) -> dict:
    """A pack of a run whose files moved on after they were recorded: every document is kept, so included."""
    return make_pack(tmp_path, tamper=False)


def counts_text(packed: dict) -> str:
    c = packed["counts"]
    return f"documents {c['included']} included, {c['changed']} changed, {c['missing']} missing"


def rewrite(src: Path, dst: Path, change: dict[str, bytes | None], *, fix_manifest: bool = False) -> Path:
    """A copy of the pack with members replaced (None removes one), the manifest fixed if asked."""
    with zipfile.ZipFile(src) as zin:
        members = {name: zin.read(name) for name in zin.namelist()}
    for name, data in change.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    if fix_manifest:
        manifest = json.loads(members["manifest.json"])
        manifest["members"] = {
            n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items() if n != "manifest.json"
        }
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    return dst


def test_the_pack_holds_the_pinned_definition_events_check_and_files(packed: dict) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        for name, entry in manifest["members"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == entry["sha256"]
        assert set(manifest["members"]) == names - {"manifest.json"}
        pinned = sqlite3.connect(packed["db"]).execute(
            "SELECT definition_hash FROM runs WHERE id = ?", (packed["a"],)
        ).fetchone()[0]
        assert hashlib.sha256(zf.read("definition.yaml")).hexdigest() == pinned
        assert "id: pengumpulan-data" in zf.read("definition.yaml").decode("utf-8")
        events = json.loads(zf.read("events.json"))
        assert [e["seq"] for e in events] == [e["seq"] for e in audit.history(packed["db"], run=packed["a"])]
        assert all(e["run_id"] == packed["a"] for e in events)
        rows = list(csv.reader(io.StringIO(zf.read("events.csv").decode("utf-8-sig"))))
        assert rows[0] == list(audit.CSV_COLUMNS) and len(rows) == len(events) + 1
        verification = json.loads(zf.read("verification.json"))
        assert verification["ok"] is True and verification["run_head"] == events[-1]["hash"]
        assert verification["database_head"] == audit.head(packed["db"])["head"]
        documents = json.loads(zf.read("documents.json"))
        status = {d["path"]: d["status"] for d in documents}
        assert set(status.values()) == {"included"}
        assert status[packed["paths"][2]] == "included"  # its file is gone, its bytes are kept
        included = [d for d in documents if d["status"] == "included"]
        assert len(included) == packed["counts"]["included"] > 0
        for d in included:
            assert d["member"] in names and d["source"] == "store" and d["kept"] is True
            assert zf.read(d["member"]) == kept_bytes(packed["db"], d["sha256"])
            assert hashlib.sha256(zf.read(d["member"])).hexdigest() == d["sha256"]
    assert counts_text(packed) in packed["output"]


def test_a_pack_of_a_database_that_lost_kept_documents_says_so_and_does_not_hold(tmp_path: Path) -> None:
    """The document store tampered with before the pack was made: one document's kept bytes
    edited, another's removed. The pack lists them as changed and missing, and verify-pack
    refuses it: a kept document is always included."""
    packed = make_pack(tmp_path, tamper=True)
    with zipfile.ZipFile(packed["zip"]) as zf:
        documents = json.loads(zf.read("documents.json"))
    status = {d["path"]: d["status"] for d in documents}
    expected = {d["path"]: "changed" if d["sha256"] == packed["changed"] else "missing" if d["sha256"] == packed["missing"]
                else "included" for d in packed["docs"]}
    assert status == expected
    removed = [d for d in documents if d["sha256"] == packed["missing"]]
    assert removed and all(d["kept"] is False and "removed from it" in d["note"] for d in removed)
    edited = [d for d in documents if d["sha256"] == packed["changed"]]
    assert edited and all(d["kept"] is True for d in edited)
    assert counts_text(packed) in packed["output"]
    result = audit.verify_pack(packed["zip"])
    assert not result["ok"]
    lost = [p for p in result["problems"] if "a kept document is always included" in p]
    assert len(lost) == len(removed) + len(edited)
    assert any(f"of event {d['event']} was recorded after the database began to keep its documents, yet the pack lists"
               " it as missing" in p for d in removed for p in lost)
    assert any(f"of event {d['event']} was recorded after the database began to keep its documents, yet the pack lists"
               " it as changed" in p for d in edited for p in lost)


def test_an_unaltered_pack_verifies_on_another_machine_without_the_database(packed: dict, tmp_path: Path) -> None:
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    copy = Path(shutil.copy(packed["zip"], elsewhere / "bukti.zip"))
    packed["db"].unlink()  # no database anywhere near
    proc = subprocess.run(
        [sys.executable, "-m", "sopengine", "audit", "verify-pack", str(copy)],
        capture_output=True, text=True, cwd=elsewhere, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"OK: {copy} holds; run {packed['a']}")
    assert not (elsewhere / "sopengine.db").exists()


def test_a_changed_member_is_refused_and_named(packed: dict, tmp_path: Path) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        events = zf.read("events.json")
    altered = rewrite(packed["zip"], tmp_path / "a.zip", {"events.json": events.replace(b"joko", b"jaka")})
    result = CliRunner().invoke(cli, ["audit", "verify-pack", str(altered)])
    assert result.exit_code == 1
    assert result.output.startswith(f"FAILED: {altered}: events.json: its sha256 differs from the manifest")


def test_events_altered_with_a_fixed_manifest_fail_the_chain(packed: dict, tmp_path: Path) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        events = json.loads(zf.read("events.json"))
    target = next(e for e in events if e["person"] == "joko")
    target["person"] = "jaka"
    altered = rewrite(packed["zip"], tmp_path / "b.zip", {"events.json": json.dumps(events).encode()}, fix_manifest=True)
    result = audit.verify_pack(altered)
    assert not result["ok"]
    assert result["first_problem"] == f"events.json: event {target['seq']} does not match its hash (its fields were edited)"


def test_a_removed_event_fails_the_chain(packed: dict, tmp_path: Path) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        events = json.loads(zf.read("events.json"))
    gone = events.pop(3)
    altered = rewrite(packed["zip"], tmp_path / "c.zip", {"events.json": json.dumps(events).encode()}, fix_manifest=True)
    first = audit.verify_pack(altered)["first_problem"]
    assert first == f"events.json: event {events[3]['seq']} does not link to the event before it (deleted, reordered or forged)"
    assert gone["seq"] < events[3]["seq"]


def test_a_swapped_document_is_refused(packed: dict, tmp_path: Path) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        member = next(n for n in zf.namelist() if n.startswith("documents/"))
    altered = rewrite(packed["zip"], tmp_path / "d.zip", {member: b"dokumen palsu\n"}, fix_manifest=True)
    result = audit.verify_pack(altered)
    assert result["first_problem"].startswith(f"{member}: its sha256 differs from the one recorded")


def test_an_added_or_missing_member_is_refused(packed: dict, tmp_path: Path) -> None:
    added = rewrite(packed["zip"], tmp_path / "e.zip", {"catatan.txt": b"tambahan"})
    assert audit.verify_pack(added)["first_problem"] == "catatan.txt: in the pack but not in the manifest (a member was added)"
    removed = rewrite(packed["zip"], tmp_path / "f.zip", {"definition.yaml": None})
    assert audit.verify_pack(removed)["first_problem"] == "definition.yaml: listed in the manifest but not in the pack"


def test_a_different_definition_text_is_refused(packed: dict, tmp_path: Path) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        text = zf.read("definition.yaml")
    altered = rewrite(packed["zip"], tmp_path / "g.zip", {"definition.yaml": text.replace(b"15 Menit", b"150 Menit")},
                      fix_manifest=True)
    assert audit.verify_pack(altered)["first_problem"] == (
        "definition.yaml: its sha256 is not the definition hash the run_started event recorded"
    )


def test_the_noted_run_head_is_compared(packed: dict) -> None:
    head = audit.verify_pack(packed["zip"])["run_head"]
    assert audit.verify_pack(packed["zip"], expect_head=head)["ok"]
    other = audit.verify_pack(packed["zip"], expect_head="0" * 64)
    assert not other["ok"] and other["first_problem"].startswith("the run head")


def test_pack_refuses_to_overwrite_and_unknown_runs(packed: dict) -> None:
    again = CliRunner().invoke(cli, ["audit", "pack", packed["a"], "--db", str(packed["db"]), "-o", str(packed["zip"])])
    assert again.exit_code == 1 and "already exists" in again.output
    with pytest.raises(RunNotFound):
        audit.pack(packed["db"], "xxx-yyy", packed["zip"].with_name("x.zip"))
    assert not packed["zip"].with_name("x.zip").exists()


def test_a_pack_of_a_broken_chain_records_it_and_fails(packed: dict, tmp_path: Path) -> None:
    conn = sqlite3.connect(packed["db"])
    conn.execute("DROP TRIGGER events_append_only_update")
    conn.execute("UPDATE events SET person = 'mallory' WHERE person = 'joko'")
    conn.commit()
    conn.close()
    target = tmp_path / "rusak.zip"
    result = CliRunner().invoke(cli, ["audit", "pack", packed["a"], "--db", str(packed["db"]), "-o", str(target)])
    assert result.exit_code == 1
    assert "The run's chain is broken" in result.stdout
    checked = audit.verify_pack(target)
    assert not checked["ok"] and "does not match its hash" in checked["first_problem"]


def test_not_a_pack_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "x.zip"
    bogus.write_bytes(b"not a zip")
    result = CliRunner().invoke(cli, ["audit", "verify-pack", str(bogus)])
    assert result.exit_code == 1 and result.output.startswith(f"Error: {bogus} is not a zip file")


def test_pack_refuses_a_run_whose_pinned_definition_fails_its_check(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    conn = sqlite3.connect(hist["db"])
    conn.execute("UPDATE definitions SET source = replace(source, '15 Menit', '150 Menit')")
    conn.commit()
    conn.close()
    target = tmp_path / "bukti.zip"
    result = CliRunner().invoke(cli, ["audit", "pack", hist["a"], "--db", str(hist["db"]), "-o", str(target)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no pack written: the definition run {hist['a']} is pinned to (")
    assert "its source text does not match its hash" in result.stderr
    assert not target.exists() and not list(tmp_path.glob(".bukti.zip*"))


def test_the_pack_takes_its_documents_from_the_chained_events_not_the_table(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    conn = sqlite3.connect(hist["db"])
    recorded = [(e["seq"], d["name"], d["sha256"]) for e in audit.history(hist["db"], run=hist["a"]) for d in e["documents"]]
    # the table is edited: one row gone, another pointing at another file
    conn.execute("DELETE FROM documents WHERE id = (SELECT MIN(id) FROM documents WHERE run_id = ?)", (hist["a"],))
    conn.execute("UPDATE documents SET sha256 = 'f' || substr(sha256, 2) WHERE id = (SELECT MAX(id) FROM documents WHERE run_id = ?)",
                 (hist["a"],))
    conn.commit()
    conn.close()
    target = tmp_path / "bukti.zip"
    result = audit.pack(hist["db"], hist["a"], target)
    assert result["documents"] == {"included": len(recorded), "changed": 0, "missing": 0}
    with zipfile.ZipFile(target) as zf:
        listed = json.loads(zf.read("documents.json"))
    assert [(d["event"], d["name"], d["sha256"]) for d in listed] == recorded
    assert {d["recorded_by"] for d in listed} <= {e["person"] for e in audit.history(hist["db"], run=hist["a"])}
    assert audit.verify_pack(target)["ok"]


def test_every_file_the_chain_recorded_must_be_accounted_for(packed: dict, tmp_path: Path) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        documents = json.loads(zf.read("documents.json"))
    missing = documents[0]
    kept = [d for d in documents if d is not missing]
    dropped = rewrite(packed["zip"], tmp_path / "h.zip", {"documents.json": json.dumps(kept).encode()}, fix_manifest=True)
    assert audit.verify_pack(dropped)["first_problem"] == (
        f"documents.json: event {missing['event']} recorded {missing['name']!r} (sha256 {missing['sha256'][:12]}…), which the"
        " pack neither includes nor lists as changed or missing"
    )
    invented = dict(missing, event=1, sha256="0" * 64)
    added = rewrite(packed["zip"], tmp_path / "i.zip", {"documents.json": json.dumps(documents + [invented]).encode()},
                    fix_manifest=True)
    assert audit.verify_pack(added)["first_problem"] == (
        f"documents.json: {missing['name']!r} of event 1 is not a file the chain recorded"
    )


def test_verify_pack_prints_the_document_counts(packed: dict) -> None:
    result = CliRunner().invoke(cli, ["audit", "verify-pack", str(packed["zip"])])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"OK: {packed['zip']} holds; run {packed['a']}, {len(audit.history(packed['db'], run=packed['a']))} events;"
        f" {counts_text(packed)}."
    )


def test_a_zip_with_a_repeated_member_name_is_refused(packed: dict, tmp_path: Path) -> None:
    """zipfile reads the last of two equal names, other tools may show the first."""
    import warnings

    doubled = tmp_path / "ganda.zip"
    shutil.copy(packed["zip"], doubled)
    with warnings.catch_warnings(), zipfile.ZipFile(doubled, "a") as zf:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it is asked to write
        zf.writestr("definition.yaml", b"id: palsu\n")
    with zipfile.ZipFile(doubled) as zf:
        assert [n for n in zf.namelist() if n == "definition.yaml"] == ["definition.yaml"] * 2
    result = CliRunner().invoke(cli, ["audit", "verify-pack", str(doubled)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {doubled} holds more than one member named definition.yaml: a zip with repeated names reads differently"
        " in different tools, and sopengine never writes one; it is not a pack to trust\n"
    )


def test_an_altered_events_csv_is_found_by_making_it_again(packed: dict, tmp_path: Path) -> None:
    """The run head covers events.json; events.csv is made again from it and compared."""
    with zipfile.ZipFile(packed["zip"]) as zf:
        text = zf.read("events.csv")
    assert b"joko" in text
    altered = rewrite(packed["zip"], tmp_path / "j.zip", {"events.csv": text.replace(b"joko", b"jaka")}, fix_manifest=True)
    assert audit.verify_pack(altered)["problems"] == [
        "events.csv: it differs from the events of events.json (made again from them and the definition): the spreadsheet was altered"
    ]


def test_an_altered_run_json_is_checked_against_the_events(packed: dict, tmp_path: Path) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        info = json.loads(zf.read("run.json"))
    assert audit.verify_pack(packed["zip"])["ok"]
    info["period"] = "2026-S2"
    task = next(t for t in info["tasks"] if t["closed_by"] == "joko")
    task["closed_by"] = "jaka"
    info["assignments"].append({"role": "kepala-bidang", "person": "mallory", "acting": 0,
                                "assigned_at": "2026-07-01T01:30:00Z", "assigned_by": "ani"})
    altered = rewrite(packed["zip"], tmp_path / "k.zip", {"run.json": json.dumps(info).encode()}, fix_manifest=True)
    problems = audit.verify_pack(altered)["problems"]
    assert problems[0] == "run.json: its period '2026-S2' differs from the run_started event's '2026-S1'"
    assert problems[1].startswith(f"run.json: task {task['id']} of run {packed['a']} (step rekap-dua-laporan) differs from event ")
    assert "in closed_by ('jaka' in the table, 'joko' in the event)" in problems[1]
    assert problems[2].startswith(f"run.json: mallory is assigned to kepala-bidang in run {packed['a']}")
    assert len(problems) == 3


def test_the_noted_manifest_sha256_is_compared(packed: dict, tmp_path: Path) -> None:
    printed = next(line for line in packed["output"].splitlines() if line.startswith("Manifest sha256: "))
    noted = printed.split(": ")[1]
    same = CliRunner().invoke(cli, ["audit", "verify-pack", str(packed["zip"]), "--expect-manifest", noted.upper()])
    assert same.exit_code == 0, same.output
    # a pack rebuilt with consistent hashes throughout (said to be made a year later) has another manifest
    with zipfile.ZipFile(packed["zip"]) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    manifest["created_at"] = manifest["created_at"].replace(manifest["created_at"][:4], str(int(manifest["created_at"][:4]) + 1), 1)
    rebuilt = rewrite(packed["zip"], tmp_path / "l.zip", {"manifest.json": json.dumps(manifest).encode()})
    assert audit.verify_pack(rebuilt)["ok"]
    other = CliRunner().invoke(cli, ["audit", "verify-pack", str(rebuilt), "--expect-manifest", noted])
    assert other.exit_code == 1
    assert f"differs from the noted {noted[:16]}…: this is not the pack that was noted" in other.stdout
    bad = CliRunner().invoke(cli, ["audit", "verify-pack", str(rebuilt), "--expect-manifest", "abc"])
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: cannot read manifest sha256 'abc'")


def test_a_pack_event_with_only_its_hash_edited_is_named_as_such(packed: dict, tmp_path: Path) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        events = json.loads(zf.read("events.json"))
    events[2]["hash"] = "ab" * 32
    altered = rewrite(packed["zip"], tmp_path / "m.zip", {"events.json": json.dumps(events).encode()}, fix_manifest=True)
    assert audit.verify_pack(altered)["first_problem"] == (
        f"events.json: event {events[2]['seq']} does not match its stored hash, but its fields hash to what the next event"
        " links to (its hash was edited)"
    )


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def pack_members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz")
    hist = build_history(folder)
    target = folder / "bukti.zip"
    audit.pack(hist["db"], hist["a"], target)
    with zipfile.ZipFile(target) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(member=st.sampled_from(["events.json", "documents.json", "run.json", "verification.json"]),
       path=st.lists(st.integers(min_value=0, max_value=40) | st.sampled_from(
           ["payload", "documents", "tasks", "assignments", "hash", "seq", "at", "name", "event", "sha256", "status",
            "member", "kind", "person", "step_id", "run_head", "ok", "problem", "case_data", "period", "status"]), min_size=0, max_size=3),
       value=_json_value)
def test_verify_pack_on_any_shape_of_member_answers_without_a_traceback(
    pack_members: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory, member: str, path: list, value: object,
) -> None:
    data = json.loads(pack_members[member])
    node = data
    for key in path[:-1]:  # walk as far as the path leads, then put the value there
        if isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        elif isinstance(node, dict) and isinstance(key, str) and key in node:
            node = node[key]
    last = path[-1] if path else None
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value
    elif isinstance(node, dict) and isinstance(last, str):
        node[last] = value
    else:
        data = value
    members = dict(pack_members, **{member: json.dumps(data).encode()})
    manifest = json.loads(members["manifest.json"])
    manifest["members"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()
                           if n != "manifest.json"}
    members["manifest.json"] = json.dumps(manifest).encode()
    target = tmp_path_factory.mktemp("f") / "p.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    try:
        result = audit.verify_pack(target)
    except audit.AuditError:
        return
    assert isinstance(result["ok"], bool)
    if not result["ok"]:
        assert isinstance(result["first_problem"], str)


def test_a_pack_into_a_folder_that_cannot_be_written_is_a_one_line_error(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    target = unwritable_folder(tmp_path) / "bukti.zip"
    result = CliRunner().invoke(cli, ["audit", "pack", hist["a"], "--db", str(hist["db"]), "-o", str(target)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write {target} (") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("member,data,said", [
    ("events.json", b'{"events": []}', "events.json is not a list of events (each an object)"),
    ("events.json", b'["run_started"]', "events.json is not a list of events (each an object)"),
    ("documents.json", b"{}", "documents.json is not a list of documents (each an object)"),
    ("verification.json", b"[]", "verification.json is not an object"),
    ("run.json", b"[1, 2]", "run.json: it is not a JSON object"),
    ("verification.json", b'{"ok": true, "ok": false}', "verification.json cannot be read (the key 'ok' is written twice)"),
])
def test_members_of_the_wrong_shape_are_named_without_a_traceback(packed: dict, tmp_path: Path, member: str, data: bytes,
                                                                  said: str) -> None:
    altered = rewrite(packed["zip"], tmp_path / "n.zip", {member: data}, fix_manifest=True)
    result = CliRunner().invoke(cli, ["audit", "verify-pack", str(altered)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"FAILED: {altered}: {said}"


def test_a_manifest_of_the_wrong_shape_is_a_one_line_error(packed: dict, tmp_path: Path) -> None:
    altered = rewrite(packed["zip"], tmp_path / "o.zip", {"manifest.json": b'{"members": ["events.json"]}'})
    result = CliRunner().invoke(cli, ["audit", "verify-pack", str(altered)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {altered}: manifest.json cannot be read as a pack's manifest")


def test_the_readme_holds_the_canonical_form_and_the_first_event_to_check_by_hand(packed: dict) -> None:
    with zipfile.ZipFile(packed["zip"]) as zf:
        readme = zf.read("README.txt").decode("utf-8")
        first = json.loads(zf.read("events.json"))[0]
    assert "keys sorted by Unicode code point" in readme and "lowercase hex" in readme
    assert 'json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)' in readme
    lines = readme.rstrip("\n").splitlines()
    line, digest = lines[-2], lines[-1]
    assert json.loads(line)["kind"] == "run_started" and digest == first["hash"]
    assert hashlib.sha256(line.encode("utf-8")).hexdigest() == digest  # by hand, as the README says


def test_zip_member_dates_are_when_things_were_recorded(packed: dict) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    def wib(utc_text: str) -> tuple:
        local = datetime.fromisoformat(utc_text.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Jakarta"))
        return (local.year, local.month, local.day, local.hour, local.minute, local.second - local.second % 2)  # zip: 2 s steps

    with zipfile.ZipFile(packed["zip"]) as zf:
        documents = {d.get("member"): d for d in json.loads(zf.read("documents.json"))}
        created = json.loads(zf.read("manifest.json"))["created_at"]
        infos = zf.infolist()
    assert all(info.date_time[0] > 1980 for info in infos)
    for info in infos:
        expected = wib(documents[info.filename]["recorded_at"]) if info.filename in documents else wib(created)
        assert info.date_time == expected, info.filename
        assert (info.external_attr >> 16) & 0o444 == 0o444  # readable once unpacked


# -- the documents come from the document store ---------------------------------------------------------

def test_the_pack_takes_the_documents_bytes_from_the_store_not_their_paths(tmp_path: Path) -> None:
    hist = build_history(tmp_path)
    docs = [d for e in audit.history(hist["db"], run=hist["a"]) for d in e["documents"]]
    first = {d["sha256"]: Path(d["path"]).read_bytes() for d in docs}
    for d in docs:  # every file edited or removed after it was recorded
        Path(d["path"]).unlink(missing_ok=True)
    Path(docs[0]["path"]).write_text("versi lain di tempat yang sama\n", encoding="utf-8")
    target = tmp_path / "bukti.zip"
    result = audit.pack(hist["db"], hist["a"], target)
    assert result["documents"] == {"included": len(docs), "changed": 0, "missing": 0} and result["not_kept"] == []
    with zipfile.ZipFile(target) as zf:
        listed = json.loads(zf.read("documents.json"))
        for d in listed:
            assert zf.read(d["member"]) == first[d["sha256"]]
    assert audit.verify_pack(target)["ok"]


def test_a_pack_of_a_release_0_1_database_says_its_documents_were_not_kept(tmp_path: Path) -> None:
    release = Path(__file__).resolve().parent / "data" / "release-0.1"
    folder = tmp_path / "release-0.1"
    shutil.copytree(release, folder, ignore=shutil.ignore_patterns("*-wal", "*-shm", "*-journal"))
    run = next(r["run_id"] for r in json.loads((folder / "runs.json").read_text()) if r["label"] == "data-2026-06")
    target = tmp_path / "lama.zip"
    result = CliRunner().invoke(cli, ["audit", "pack", run, "--db", str(folder / "sopengine.db"), "-o", str(target),
                                      "--json"])
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert len(made["not_kept"]) == 4
    assert {d["note"] for d in made["not_kept"]} == {"not kept in the database (recorded before the document store)"}
    # the files stayed where release 0.1 made them, under /tmp/sopengine-release-0.1/docs/, if anywhere
    for d in made["not_kept"]:
        assert d["status"] == ("included" if Path(d["path"]).is_file() else "missing")
    human = CliRunner().invoke(cli, ["audit", "pack", run, "--db", str(folder / "sopengine.db"), "-o", str(target),
                                     "--force"])
    assert "4 documents not kept in the database (recorded before the document store)" in human.stdout
    assert audit.verify_pack(target)["ok"]


# -- a pack holds only what the chain recorded --------------------------------------------------------

def good_pack(tmp_path: Path) -> Path:
    hist = build_history(tmp_path)
    target = tmp_path / "bukti.zip"
    audit.pack(hist["db"], hist["a"], target)
    assert audit.verify_pack(target)["ok"]
    return target


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return good_pack(tmp_path_factory.mktemp("good"))


def members_of(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def refused(pack: Path) -> str:
    """verify-pack's first line on a pack that must not hold: exit code 1, FAILED and the reason."""
    result = CliRunner().invoke(cli, ["audit", "verify-pack", str(pack)])
    assert result.exit_code == 1, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"FAILED: {pack}: ")
    return first[len(f"FAILED: {pack}: "):]


@pytest.mark.parametrize("name,data", [
    ("documents/0099-1-kumpulkan-data/tambahan.pdf", b"%PDF-1.4 dokumen yang tidak pernah dicatat\n"),
    ("setup.exe", b"MZ\x90\x00"),
    ("catatan.txt", b"tambahan"),
])
def test_a_member_the_chain_does_not_account_for_is_refused_even_with_a_fixed_manifest(
        good: Path, tmp_path: Path, name: str, data: bytes) -> None:
    altered = rewrite(good, tmp_path / "x.zip", {name: data}, fix_manifest=True)
    assert refused(altered) == (
        f"{name}: the run's chain does not account for it (a pack holds its fixed members and the documents its"
        " events recorded, nothing else)"
    )
    assert audit.verify_pack(altered)["ok"] is False  # the library says the same without --expect-manifest


@pytest.mark.parametrize("name,what", [
    ("../../x.txt", "'..'"),
    ("documents/../../../etc/cron.d/x", "'..'"),
    ("/etc/passwd", "an absolute path"),
    ("C:/Windows/x.dll", "an absolute path"),
    ("documents\\..\\x.txt", "a backslash"),
    ("documents/a\x1b[2Jb.txt", "a control character"),
])
def test_a_member_name_that_could_write_outside_the_folder_is_refused(good: Path, tmp_path: Path, name: str,
                                                                       what: str) -> None:
    altered = rewrite(good, tmp_path / "x.zip", {name: b"isi"}, fix_manifest=True)
    result = audit.verify_pack(altered)
    assert not result["ok"]
    assert result["first_problem"] == (
        f"{name!r}: a member name with {what}, which could write outside the folder the pack is unpacked in;"
        " sopengine never writes one, so the pack was altered"
    )
    proc = subprocess.run([sys.executable, "-m", "sopengine", "audit", "verify-pack", str(altered)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "SOPENGINE_LANG": "en"})
    assert proc.returncode == 1 and proc.stdout.startswith(f"FAILED: {altered}: ") and "Traceback" not in proc.stderr


def test_a_member_that_is_a_symbolic_link_is_refused(good: Path, tmp_path: Path) -> None:
    altered = tmp_path / "link.zip"
    shutil.copy(good, altered)
    with zipfile.ZipFile(altered, "a") as zf:
        info = zipfile.ZipInfo("documents/tautan")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/shadow")
    assert "a member name with a symbolic link" in refused(altered)


@pytest.mark.parametrize("change,said", [
    ({"events": 3}, "verification.json: it counts 3 events, events.json holds {events}"),
    ({"run_head": "ab" * 32}, "verification.json: its run head differs from the last event of events.json"),
    ({"first_hash": "ab" * 32}, "verification.json: its first hash differs from the first event of events.json"),
    ({"run_id": "aaa-bbb"}, "verification.json: its run 'aaa-bbb' is not the pack's {run!r}"),
    ({"database_head": "ab" * 32}, "manifest.json: its database head differs from the one verification.json recorded"),
    ({"checked_at": "kemarin"}, "verification.json: its checked_at 'kemarin' is not a time as sopengine writes it"),
    ({"checked_at": "2999-01-01T00:00:00Z"},
     "verification.json: it was checked after the pack was made (checked_at after the manifest's created_at)"),
    ({"problem": {"message": "palsu"}}, "verification.json: it says the chain holds yet records a problem"),
    ({"catatan": "semua beres"}, "verification.json: its fields are not those of a pack's check (catatan)"),
])
def test_a_verification_json_that_disagrees_with_the_events_is_refused(good: Path, tmp_path: Path, change: dict,
                                                                        said: str) -> None:
    members = members_of(good)
    verification = json.loads(members["verification.json"])
    events = json.loads(members["events.json"])
    verification.update(change)
    altered = rewrite(good, tmp_path / "v.zip", {"verification.json": json.dumps(verification).encode()}, fix_manifest=True)
    assert refused(altered) == said.format(events=len(events), run=events[0]["run_id"])


def test_manifest_fields_that_disagree_with_the_events_are_refused(good: Path, tmp_path: Path) -> None:
    members = members_of(good)
    manifest = json.loads(members["manifest.json"])
    manifest["period"] = "2026-S2"
    altered = rewrite(good, tmp_path / "m.zip", {"manifest.json": json.dumps(manifest).encode()})
    assert refused(altered) == "manifest.json: its period '2026-S2' differs from the run_started event's '2026-S1'"


def test_an_edited_readme_is_refused_and_a_readme_of_before_the_store_holds(good: Path, tmp_path: Path) -> None:
    from sopengine.audit.packs import README_DOCUMENTS, README_DOCUMENTS_BEFORE_STORE

    readme = members_of(good)["README.txt"]
    edited = readme.replace(b"64 zeros", b"64 ones")
    altered = rewrite(good, tmp_path / "r.zip", {"README.txt": edited}, fix_manifest=True)
    assert refused(altered) == "README.txt: it differs from the text a pack of these events holds: the instructions were altered"
    older = readme.replace(README_DOCUMENTS.encode(), README_DOCUMENTS_BEFORE_STORE.encode())
    assert older != readme
    assert audit.verify_pack(rewrite(good, tmp_path / "o.zip", {"README.txt": older}, fix_manifest=True))["ok"]


def test_a_document_entry_naming_a_fixed_member_as_its_file_is_refused(good: Path, tmp_path: Path) -> None:
    members = members_of(good)
    documents = json.loads(members["documents.json"])
    documents[0]["member"] = "events.json"
    altered = rewrite(good, tmp_path / "d.zip", {"documents.json": json.dumps(documents).encode()}, fix_manifest=True)
    problems = audit.verify_pack(altered)["problems"]
    assert any(p.endswith("names events.json as its file, which is not a document member of its own") for p in problems)


def test_a_good_pack_holds_in_a_real_process(good: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sopengine", "audit", "verify-pack", str(good), "--json"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "SOPENGINE_LANG": "en"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["ok"] is True


# -- a kept document removed from the pack ----------------------------------------------------------------

def without_document(good: Path, target: Path, **entry: object) -> tuple[Path, dict]:
    """*good* with its first document's file removed, its documents.json entry changed by *entry*
    (status missing), and the manifest written again to match."""
    members = members_of(good)
    documents = json.loads(members["documents.json"])
    lost = documents[0]
    assert lost["status"] == "included" and lost["kept"] is True
    member = lost.pop("member")
    lost.pop("source")
    lost.update({"status": "missing"}, **entry)
    return rewrite(good, target, {member: None, "documents.json": json.dumps(documents).encode()}, fix_manifest=True), lost


def test_a_kept_document_removed_from_the_pack_and_listed_as_missing_is_refused(good: Path, tmp_path: Path) -> None:
    altered, lost = without_document(good, tmp_path / "k.zip")
    said = (f"documents.json: {lost['name']!r} of event {lost['event']} was recorded after the database began to keep its"
            " documents, yet the pack lists it as missing: a kept document is always included, so its file was removed"
            " from the pack, or the database's copy was removed or altered")
    assert refused(altered) == said
    proc = subprocess.run([sys.executable, "-m", "sopengine", "audit", "verify-pack", str(altered)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "SOPENGINE_LANG": "en"})
    assert proc.returncode == 1 and proc.stdout.splitlines()[0] == f"FAILED: {altered}: {said}"
    changed, _lost = without_document(good, tmp_path / "c.zip", status="changed", current_sha256="0" * 64)
    assert "yet the pack lists it as changed: a kept document is always included" in refused(changed)


def test_a_kept_document_relabelled_as_recorded_before_the_store_is_refused(good: Path, tmp_path: Path) -> None:
    """kept set to false with the note of a document recorded before the store: the pack still
    includes, from the store, a document an event recorded no later, so the store existed."""
    from sopengine.documents import NOT_KEPT

    members = members_of(good)
    documents = json.loads(members["documents.json"])
    from_store = sorted((d for d in documents if d.get("source") == "store"), key=lambda d: d["event"])
    assert len({d["event"] for d in from_store}) >= 2
    first = from_store[0]["event"]
    # the last document's file removed and said to be of before the store
    last = max(documents, key=lambda d: d["event"])
    member = last.pop("member")
    last.pop("source")
    last.update(status="missing", kept=False, note=NOT_KEPT)
    altered = rewrite(good, tmp_path / "n.zip", {member: None, "documents.json": json.dumps(documents).encode()},
                      fix_manifest=True)
    assert refused(altered) == (
        f"documents.json: {last['name']!r} of event {last['event']} is said to be recorded before the document store, yet"
        f" the pack includes from the store a document that event {first} recorded no later: it was kept, and its file"
        " was removed from the pack")
