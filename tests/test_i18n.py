"""Bahasa Indonesia by default, English on request; JSON and exit codes never change.

- The Indonesian catalogue translates every message the code marks, every help text and
  click's own words, with the same placeholders.
- A pseudo catalogue that marks every translation runs the commands and their error paths:
  any English word left outside the marks is a message that never passed through the
  catalogue.
- The language comes from --lang (before or after the command name), SOPENGINE_LANG, then
  the locale, and Indonesian otherwise.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sopengine.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
FORMAT2 = Path(__file__).resolve().parent / "data" / "format2"
NOW = "2026-12-07T09:00"


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "400", **(env or {})}, catch_exceptions=False)


def no_language() -> dict[str, str | None]:
    """An environment that names no language: sopengine's default applies."""
    return {"SOPENGINE_LANG": None, "LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": None}


# -- the catalogue --------------------------------------------------------------------------------

def test_the_indonesian_catalogue_translates_every_message() -> None:
    from sopengine.locale.catalog import problems

    found = problems("id")
    assert found == [], "\n".join(found[:40]) + (f"\n... and {len(found) - 40} more" if len(found) > 40 else "")


def test_the_catalogue_holds_no_part_files_left_to_fold_in() -> None:
    parts = ROOT / "sopengine" / "locale" / "id" / "LC_MESSAGES" / "parts"
    assert not list(parts.glob("*.po")), "run 'python -m sopengine.locale update' to fold the part files into the catalogue"


# -- choosing the language ------------------------------------------------------------------------

def test_indonesian_is_the_default() -> None:
    result = invoke("--help", env=no_language())
    assert result.exit_code == 0
    assert not result.output.startswith("Usage:")
    assert "Penggunaan:" in result.output or "Cara pakai:" in result.output or "Pemakaian:" in result.output


@pytest.mark.parametrize("args", [["--lang", "en", "--help"], ["run", "--lang", "en", "--help"], ["--lang=en", "status", "--help"]])
def test_lang_en_gives_english_wherever_it_stands(args: list[str]) -> None:
    result = invoke(*args, env=no_language())
    assert result.exit_code == 0 and result.output.startswith("Usage: ")


@pytest.mark.parametrize(("env", "english"), [
    ({"SOPENGINE_LANG": "en"}, True),
    ({"SOPENGINE_LANG": "id", "LANG": "en_US.UTF-8"}, False),
    ({"LANG": "en_US.UTF-8"}, True),
    ({"LC_ALL": "id_ID.UTF-8"}, False),
    ({"LANG": "C.UTF-8"}, False),
])
def test_the_environment_and_the_locale_choose_in_order(env: dict[str, str], english: bool) -> None:
    result = invoke("--help", env={**no_language(), **env})
    assert result.output.startswith("Usage:") is english


def test_an_unknown_language_is_a_usage_error() -> None:
    result = invoke("--lang", "fr", "--help", env=no_language())
    assert result.exit_code == 2 and "fr" in result.output


def test_json_and_exit_codes_do_not_change_with_the_language(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    common = ["--db", db, "--definitions", str(FORMAT2), "--by", "Ani", "--now", NOW]
    started = invoke("run", "rantai-persetujuan", "--set", "jenis=biasa", "--json", *common, env=no_language())
    assert started.exit_code == 0, started.output
    run = json.loads(started.stdout)["run_id"]
    outputs = {}
    for lang in ("id", "en"):
        st = invoke("status", run, "--json", "--lang", lang, *common, env=no_language())
        bad = invoke("decide", run, "Mungkin", "--step", "susun", "--lang", lang, *common, env=no_language())
        late = invoke("overdue", "--json", "--lang", lang, "--db", db, "--now", "2026-12-20T09:00", env=no_language())
        outputs[lang] = (st.exit_code, st.stdout, bad.exit_code, late.exit_code, late.stdout)
    assert outputs["id"] == outputs["en"]


def test_an_error_reads_in_indonesian_by_default(tmp_path: Path) -> None:
    result = invoke("status", "abc-def", "--db", str(tmp_path / "none.db"), env=no_language())
    assert result.exit_code == 1
    english = invoke("status", "abc-def", "--db", str(tmp_path / "none.db"), "--lang", "en", env=no_language())
    assert english.output.startswith("Error: ")
    assert not result.output.startswith("Error: ") and result.output != english.output


def test_a_real_process_speaks_indonesian_by_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SOPENGINE_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    done = subprocess.run([sys.executable, "-m", "sopengine", "--help"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stdout.startswith("Usage:")
    done = subprocess.run([sys.executable, "-m", "sopengine", "--help"], env={**env, "SOPENGINE_LANG": "en"}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("Usage:")


# -- every message through the catalogue ----------------------------------------------------------

OPEN, CLOSE = "\u27e6", "\u27e7"


@pytest.fixture(scope="module")
def pseudo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalogue whose every translation is its English between marks."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from sopengine.locale.catalog import messages

    catalog = Catalog(locale="id", domain="sopengine")
    for key in messages():
        if isinstance(key, tuple):
            catalog.add(key, (OPEN + key[0] + CLOSE, OPEN + key[1] + CLOSE))
        else:
            catalog.add(key, OPEN + key + CLOSE)
    folder = tmp_path_factory.mktemp("pseudo")
    target = folder / "id" / "LC_MESSAGES" / "sopengine.mo"
    target.parent.mkdir(parents=True)
    with target.open("wb") as fh:
        write_mo(fh, catalog)
    return folder


def _english_words() -> set[str]:
    """Words of the English messages that their Indonesian does not use too (so not 'Senin', 'SOP')."""
    from sopengine.locale.catalog import messages, read

    def words_of(text: str) -> set[str]:
        return {w.lower() for w in re.findall(r"[A-Za-z]{3,}", re.sub(r"\{[^}]*\}", " ", text))}

    english: set[str] = set()
    for key in messages():
        for text in (key if isinstance(key, tuple) else (key,)):
            english |= words_of(text)
    indonesian: set[str] = set()
    for m in read("id"):
        for text in (m.string if isinstance(m.string, (tuple, list)) else (m.string,)):
            indonesian |= words_of(text or "")
    return english - indonesian


def _data_words(*extra: Path) -> set[str]:
    """Words that may stand outside the marks: the SOPs' own, ids, names, and the command line's."""
    words: set[str] = set()
    for path in [*DEFINITIONS.glob("*.yaml"), *FORMAT2.glob("*.yaml"), *extra]:
        words.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", path.read_text(encoding="utf-8")))
    words.update(w.lower() for name in COMMANDS for w in re.findall(r"[A-Za-z]{3,}", name))
    # options, metavars and file names printed as they are typed
    words.update({"sopengine", "json", "yaml", "csv", "html", "mermaid", "sqlite", "wib", "wita", "wit", "utc", "iso",
                  "env", "db", "path", "file", "dir", "name", "time", "run", "step", "outcome", "role", "lang",
                  "now", "definitions", "calendar", "period", "table", "set", "assign", "format", "output",
                  "note", "reason", "value", "key", "text", "true", "false", "none", "null", "ani", "budi", "siti",
                  "head", "seq", "zip", "sha", "salah", "batal", "siap"})
    return words


def _leftovers(text: str, english: set[str], data: set[str]) -> list[str]:
    stripped = text
    pattern = re.compile(re.escape(OPEN) + r"[^" + OPEN + CLOSE + r"]*" + re.escape(CLOSE), re.S)
    while True:
        new = pattern.sub(" ", stripped)
        if new == stripped:
            break
        stripped = new
    # click shortens a command's one-line summary in --help to its first sentence: the mark it
    # opened, whose close was cut off, still counts
    stripped = re.sub(re.escape(OPEN) + r"[^" + OPEN + CLOSE + r"\n]*$", " ", stripped, flags=re.M)
    stripped = re.sub(r"\S*[/\\.]\S*", " ", stripped)  # paths, file names, ids with dots
    stripped = re.sub(r"--?[A-Za-z][\w-]*", " ", stripped)  # options as typed
    out = []
    for line in stripped.splitlines():
        for word in re.findall(r"[A-Za-z]{3,}", line):
            if word.lower() in english and word.lower() not in data:
                out.append(f"{word!r} in: {line.strip()[:120]}")
    return out


def test_every_human_line_passes_through_the_catalogue(tmp_path: Path, pseudo: Path) -> None:
    env = {**no_language(), "SOPENGINE_LANG": "id", "SOPENGINE_LOCALE_DIR": str(pseudo)}
    db = str(tmp_path / "x.db")
    defs = str(FORMAT2)
    doc = tmp_path / "draft.txt"
    doc.write_text("draft\n", encoding="utf-8")
    bad_yaml = tmp_path / "rusak.yaml"
    bad_yaml.write_text("format: 2\nid: rusak\ntitle: x\nactors: [{id: a, name: A}]\ntables: [{rows: [{no: '1', symbols: []}]}]\n", encoding="utf-8")
    g = ["--db", db, "--definitions", defs, "--by", "Ani"]
    outputs: list[str] = []

    def run(*args: str) -> Result:
        result = invoke(*args, env=env)
        outputs.append(result.output)
        return result

    for name in COMMANDS:
        run(name, "--help")
    run("--help")
    started = run("run", "rantai-persetujuan", "--set", "jenis=biasa", "--now", NOW, *g)
    run_id = re.search(r"[a-z2-9]{3}-[a-z2-9]{3}", started.output)
    assert run_id, started.output
    r = run_id.group(0)
    run("status", *g, "--now", NOW)
    run("status", r, *g, "--now", NOW)
    run("complete", r, "--step", "susun", "--output", f"Draft surat={doc}", "--note", "siap", "--now", "2026-12-07T10:00", *g)
    run("decide", r, "Mungkin", "--step", "2", "--now", "2026-12-07T10:00", *g)  # no such outcome
    run("complete", r, "--step", "periksa-kabid", "--now", "2026-12-07T10:00", *g)  # a decision, not a box
    run("decide", r, "Ya", "--step", "periksa-kabid", "--now", "2026-12-07T11:00", *g)
    run("assign", r, "kasat", "Budi", "--now", "2026-12-07T11:00", *g)
    run("decide", r, "Ya", "--step", "periksa-sekretaris", "--now", "2026-12-07T11:00", *g)
    run("decide", r, "Ya", "--step", "periksa-kasat", "--now", "2026-12-07T11:30", *g)  # not Budi: refused
    run("reopen", r, "2", "--reason", "salah", "--now", "2026-12-07T12:00", *g)
    run("inbox", "--person", "Budi", *g, "--now", NOW)
    run("overdue", *g, "--now", "2026-12-20T09:00")
    run("calendar", *g, "--now", NOW)
    run("report", "--run", r, *g, "--now", "2026-12-20T09:00")
    run("report", "--monitoring", "--definition", "rantai-persetujuan", *g, "--now", "2026-12-20T09:00")
    run("history", "--run", r, *g)
    run("audit", "verify", *g)
    run("audit", "pack", r, "-o", str(tmp_path / "pack.zip"), *g)
    run("audit", "verify-pack", str(tmp_path / "pack.zip"), *g)
    run("backup", str(tmp_path / "copy.db"), *g)
    run("cancel", r, "--reason", "batal", "--now", "2026-12-08T09:00", *g)
    run("complete", r, *g)  # a cancelled run
    run("list", *g)
    run("show", "rantai-persetujuan", *g)
    run("validate", str(bad_yaml), *g)
    run("upgrade", str(ROOT / "tests" / "data" / "format1" / "surat-keluar.yaml"), "-o", str(tmp_path / "up.yaml"))
    run("status", "abc-def", "--db", str(tmp_path / "none.db"))
    run("run", "tidak-ada", *g)
    run("tidak-ada")
    run("status", "--bogus")
    english, data = _english_words(), _data_words()
    found = [x for out in outputs for x in _leftovers(out, english, data)]
    assert found == [], "words that never passed through the catalogue:\n" + "\n".join(dict.fromkeys(found))


# -- the catalogue kept in the user's cache -------------------------------------------------------

def _mo() -> Path:
    return ROOT / "sopengine" / "locale" / "id" / "LC_MESSAGES" / "sopengine.mo"


def test_the_kept_catalogue_translates_every_message_as_gettext_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gettext

    from sopengine import i18n

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SOPENGINE_CACHE", raising=False)
    first = i18n._read_catalogue(str(_mo()))  # read by gettext, then kept
    assert (tmp_path / "sopengine" / "catalogue-id.marshal").is_file()
    kept = i18n._read_catalogue(str(_mo()))  # read back from the cache
    with open(_mo(), "rb") as fh:
        parsed = gettext.GNUTranslations(fh)
    assert type(kept) is gettext.GNUTranslations and kept is not first
    messages = [k for k in parsed._catalog if type(k) is str and k]  # type: ignore[attr-defined]
    assert len(messages) > 1000
    for message in messages:
        assert kept.gettext(message) == parsed.gettext(message)
    for n in (0, 1, 2, 5):
        assert kept.ngettext("{n} visit completed", "{n} visits completed", n) == parsed.ngettext(
            "{n} visit completed", "{n} visits completed", n) != "{n} visits completed"
    assert kept.gettext("not a message of the catalogue") == "not a message of the catalogue"
    assert kept.info() == parsed.info() and kept.charset() == parsed.charset()


def test_a_catalogue_changed_since_it_was_kept_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import marshal
    import shutil

    from sopengine import i18n

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SOPENGINE_CACHE", raising=False)
    mine = tmp_path / "locale" / "id" / "LC_MESSAGES" / "sopengine.mo"
    mine.parent.mkdir(parents=True)
    shutil.copy(_mo(), mine)
    i18n._read_catalogue(str(mine))
    kept = tmp_path / "cache" / "sopengine" / "catalogue-id.marshal"
    data = marshal.loads(kept.read_bytes())
    message = next(k for k, v in data["catalog"].items() if type(k) is str and k and v and k != v)
    original = data["catalog"][message]
    # the cache says something else for it: read back while the file is as it was kept ...
    data["catalog"][message] = "ditulis ulang"
    kept.write_bytes(marshal.dumps(data))
    assert i18n._read_catalogue(str(mine)).gettext(message) == "ditulis ulang"
    # ... and passed over once the file has changed since
    later = data["key"][2] + 10**9
    os.utime(mine, ns=(later, later))
    assert i18n._read_catalogue(str(mine)).gettext(message) == original
    assert marshal.loads(kept.read_bytes())["key"][2] == later  # kept again, for the file as it is now
    # a damaged cache is passed over
    kept.write_bytes(b"\x00not marshal")
    assert i18n._read_catalogue(str(mine)).gettext(message) == original


def test_no_catalogue_is_kept_with_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sopengine import i18n

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("SOPENGINE_CACHE", "off")
    assert i18n._read_catalogue(str(_mo())).gettext("Options") != "Options"
    assert not (tmp_path / "sopengine").exists()


def test_a_cache_that_cannot_be_written_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sopengine import i18n

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SOPENGINE_CACHE", raising=False)
    (tmp_path / "sopengine" / "catalogue-id.marshal").mkdir(parents=True)  # a folder where the file should go
    assert i18n._read_catalogue(str(_mo())).gettext("Options") != "Options"
    assert sorted(p.name for p in (tmp_path / "sopengine").iterdir()) == ["catalogue-id.marshal"]
