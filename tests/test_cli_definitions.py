"""The definition commands: list, show, validate, schema — through click and as installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sopengine.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
SHIPPED = sorted(p.stem for p in DEFINITIONS.glob("*.yaml"))

BROKEN = """\
id: rusak
title: Rusak
actors:
  - id: staf
    name: Staf
steps:
  - id: tulis
    no: 1
    kegiatan: Menulis
    actor: kepala
    waktu: 15 detik
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def rows(result: Result) -> dict[str, dict]:
    assert result.exit_code == 0, result.output
    return {r["id"]: r for r in json.loads(result.stdout)}


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``list`` keeps what it checked in a cache folder: each test has its own."""
    cache = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("SOPENGINE_CACHE", raising=False)
    return cache / "sopengine" / "definitions.json"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A definitions folder that hides the packaged surat-keluar and holds a broken file."""
    d = tmp_path / "mine"
    d.mkdir()
    text = (DEFINITIONS / "surat-keluar.yaml").read_text(encoding="utf-8")
    (d / "surat-keluar.yaml").write_text(text.replace("title: Pengurusan Surat Keluar", "title: Surat Keluar Kami"), encoding="utf-8")
    (d / "rusak.yaml").write_text(BROKEN, encoding="utf-8")
    return d


# -- list --------------------------------------------------------------------------------------

def test_list_from_an_empty_folder_shows_the_packaged_definitions() -> None:
    found = rows(run("list", "--json"))
    assert sorted(found) == SHIPPED
    assert {r["origin"] for r in found.values()} == {"packaged"}
    assert all(r["valid"] and r["errors"] == 0 and r["warnings"] == 0 for r in found.values())
    assert found["surat-keluar"]["title"] == "Pengurusan Surat Keluar"


def test_list_an_earlier_folder_hides_a_later_ones_file(folder: Path) -> None:
    found = rows(run("list", "--json", "--definitions", str(folder)))
    assert sorted(found) == sorted([*SHIPPED, "rusak"])
    assert found["surat-keluar"]["origin"] == "--definitions"
    assert found["surat-keluar"]["title"] == "Surat Keluar Kami"
    assert found["surat-keluar"]["path"] == str(folder / "surat-keluar.yaml")
    assert found["pengumpulan-data"]["origin"] == "packaged"


def test_list_marks_an_invalid_file(folder: Path) -> None:
    found = rows(run("list", "--json", "--definitions", str(folder)))
    assert found["rusak"]["valid"] is False
    assert found["rusak"]["errors"] == 2  # the unknown actor and the unknown unit
    table = run("list", "--definitions", str(folder))
    assert table.exit_code == 0
    line = next(x for x in table.stdout.splitlines() if "rusak" in x)
    assert "✗ 2 error(s)" in line


def test_list_options_before_and_after_the_command(folder: Path) -> None:
    before = rows(run("--definitions", str(folder), "list", "--json"))
    after = rows(run("list", "--definitions", str(folder), "--json"))
    assert before == after
    assert before["surat-keluar"]["origin"] == "--definitions"


def test_list_reads_the_environment_and_the_local_folder(folder: Path, tmp_path: Path) -> None:
    from_env = rows(run("list", "--json", env={"SOPENGINE_DEFINITIONS": str(folder)}))
    assert from_env["surat-keluar"]["origin"] == "SOPENGINE_DEFINITIONS"
    local = tmp_path / "definitions"
    local.mkdir()
    shutil.copy(folder / "rusak.yaml", local / "rusak.yaml")
    here = rows(run("list", "--json"))
    assert here["rusak"]["origin"] == "./definitions"
    assert here["surat-keluar"]["origin"] == "packaged"


def test_list_remembers_a_check_and_checks_a_changed_file_again(folder: Path, own_cache: Path) -> None:
    first = rows(run("list", "--json", "--definitions", str(folder)))
    assert own_cache.is_file()
    assert first["rusak"]["valid"] is False
    assert rows(run("list", "--json", "--definitions", str(folder))) == first  # from the cache, the same
    # the file is mended: its new text is checked, the cache notwithstanding
    text = (folder / "rusak.yaml").read_text(encoding="utf-8")
    (folder / "rusak.yaml").write_text(text.replace("actor: kepala", "actor: staf").replace("15 detik", "15 Menit"), encoding="utf-8")
    mended = rows(run("list", "--json", "--definitions", str(folder)))["rusak"]
    assert (mended["valid"], mended["errors"]) == (True, 0)
    # the same text under another name is another check: the id must equal the file name
    shutil.copy(folder / "rusak.yaml", folder / "rusak-juga.yaml")
    renamed = rows(run("list", "--json", "--definitions", str(folder)))["rusak-juga"]
    assert (renamed["valid"], renamed["errors"]) == (False, 1)


def test_list_trusts_no_cache_entry_made_by_other_checking_code(folder: Path, own_cache: Path) -> None:
    truth = rows(run("list", "--json", "--definitions", str(folder)))
    data = json.loads(own_cache.read_text(encoding="utf-8"))
    # an entry that says the broken file is valid, left by another version of the checks
    lies = {key: dict(entry, valid=True, errors=0, title="Bohong") for key, entry in data["files"].items()}
    own_cache.write_text(json.dumps({"checker": "another-version", "files": lies}), encoding="utf-8")
    assert rows(run("list", "--json", "--definitions", str(folder))) == truth
    own_cache.write_text("{not json", encoding="utf-8")  # a damaged cache is passed over, then mended
    assert rows(run("list", "--json", "--definitions", str(folder))) == truth
    assert json.loads(own_cache.read_text(encoding="utf-8"))["checker"] != "another-version"


def test_list_works_without_a_cache(folder: Path, own_cache: Path, tmp_path: Path) -> None:
    truth = rows(run("list", "--json", "--definitions", str(folder)))
    off = rows(run("list", "--json", "--definitions", str(folder), env={"SOPENGINE_CACHE": "off",
                                                                          "XDG_CACHE_HOME": str(tmp_path / "unused")}))
    assert off == truth and not (tmp_path / "unused").exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")  # the cache cannot be written: listed all the same
    assert rows(run("list", "--json", "--definitions", str(folder), env={"XDG_CACHE_HOME": str(blocked)})) == truth


def test_list_human_table() -> None:
    result = run("list")
    assert result.exit_code == 0
    for definition_id in SHIPPED:
        assert definition_id in result.stdout
    assert "Pelayanan Permohonan Informasi Publik" in result.stdout


# -- show --------------------------------------------------------------------------------------

def test_show_json_has_parsed_durations() -> None:
    result = run("show", "surat-keluar", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # format 2: the waktu belongs to the printed row, its symbols share it
    rows = {s["id"]: r for r in data["tables"][0]["rows"] for s in r["symbols"]}
    assert rows["konsep-surat"]["waktu"] == "30 menit"
    assert rows["konsep-surat"]["parsed_duration"] == {"days": 0, "minutes": 30, "calendar": False}
    assert rows["periksa-sekretaris"]["parsed_duration"] == {"days": 0, "minutes": 120, "calendar": False}
    assert data["header"]["labels"] == {"judul": "Judul SOP"}
    assert data["header"]["disahkan_oleh"]["nama"] is None


def test_show_json_untimed_steps_and_deadline() -> None:
    data = json.loads(run("show", "permohonan-informasi-publik", "--json").stdout)
    rows = {r["no"]: r for r in data["tables"][0]["rows"]}
    assert rows["1"]["waktu"] == "Setiap Saat" and rows["1"]["untimed"] is True
    assert rows["1"]["parsed_duration"] is None
    assert data["deadline"] == "Paling lambat 17 hari kerja"
    # format 2: the two-lane row is two symbols, one in each lane
    assert [s["lane"] for s in rows["6"]["symbols"]] == ["perangkat-daerah", "ppid"]


def test_show_prints_labels_as_the_sop_does() -> None:
    result = run("show", "permohonan-informasi-publik")
    assert result.exit_code == 0, result.output
    assert "Kualitas Pelaksana" in result.stdout
    assert "Pencatatan dan Pedataan" in result.stdout
    assert "Process deadline: Paling lambat 17 hari kerja" in result.stdout


def test_show_a_file_path_and_options_after(folder: Path) -> None:
    by_path = run("show", str(folder / "surat-keluar.yaml"), "--json")
    assert json.loads(by_path.stdout)["title"] == "Surat Keluar Kami"
    by_id = run("show", "surat-keluar", "--json", "--definitions", str(folder))
    assert json.loads(by_id.stdout)["title"] == "Surat Keluar Kami"


def test_show_an_invalid_definition_is_one_error_line(folder: Path) -> None:
    result = run("--definitions", str(folder), "show", "rusak")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"Error: {folder / 'rusak.yaml'}:10: steps[1].actor: unknown actor 'kepala'")
    assert "(and 1 more problem(s); run 'sopengine validate')" in result.stderr
    assert result.stdout == ""


# -- validate ----------------------------------------------------------------------------------

def test_validate_everything_found() -> None:
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"{len(SHIPPED)} of {len(SHIPPED)} definition(s) valid." in result.stderr


def test_validate_paths_folders_and_ids(folder: Path) -> None:
    one = run("validate", str(DEFINITIONS / "surat-keluar.yaml"))
    assert one.exit_code == 0 and "1 of 1 definition(s) valid." in one.stderr
    whole = run("validate", str(DEFINITIONS))
    assert whole.exit_code == 0 and f"{len(SHIPPED)} of {len(SHIPPED)}" in whole.stderr
    by_id = run("validate", "pengumpulan-data", "permohonan-informasi-publik")
    assert by_id.exit_code == 0 and "2 of 2 definition(s) valid." in by_id.stderr
    mixed = run("validate", str(folder))
    assert mixed.exit_code == 1
    assert "1 of 2 definition(s) valid." in mixed.stderr
    assert mixed.stdout.splitlines() == [
        f"{folder / 'rusak.yaml'}:10: steps[1].actor: unknown actor 'kepala'; declared actors are: staf",
        f"{folder / 'rusak.yaml'}:11: steps[1].waktu: unknown unit of time 'detik' in '15 detik'; "
        "keep waktu as written and add 'duration:' with the time to count, e.g. 'duration: 15 menit'",
    ]


def test_validate_an_id_from_a_folder_given_after(folder: Path) -> None:
    result = run("validate", "rusak", "--definitions", str(folder))
    assert result.exit_code == 1
    assert "unknown actor 'kepala'" in result.stdout


def test_validate_unknown_id_is_an_error() -> None:
    result = run("validate", "tidak-ada")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no definition 'tidak-ada'")
    assert "Traceback" not in result.output


def test_validate_json(folder: Path) -> None:
    result = run("validate", "--json", str(folder))
    assert result.exit_code == 1
    data = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    assert data["surat-keluar.yaml"]["valid"] is True and data["surat-keluar.yaml"]["problems"] == []
    broken = data["rusak.yaml"]
    assert broken["valid"] is False and broken["id"] == "rusak"
    assert [(p["line"], p["field"], p["severity"]) for p in broken["problems"]] == [
        (10, "steps[1].actor", "error"),
        (11, "steps[1].waktu", "error"),
    ]


def test_validate_warnings_do_not_fail(tmp_path: Path) -> None:
    text = (DEFINITIONS / "surat-keluar.yaml").read_text(encoding="utf-8")
    path = tmp_path / "surat-keluar.yaml"
    path.write_text(text.replace("    kelengkapan:\n    - Konsep surat\n", "    kelengkapan:\n    - Konsep surat\n    - Nota Dinas\n"), encoding="utf-8")
    result = run("validate", "--json", str(path))
    assert result.exit_code == 0
    [checked] = json.loads(result.stdout)
    assert checked["valid"] is True
    assert [p["severity"] for p in checked["problems"]] == ["warning"]


# -- schema ------------------------------------------------------------------------------------

def test_schema_command() -> None:
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "sopengine SOP definition"
    assert "Step" in schema["$defs"]


# -- the installed console script ----------------------------------------------------------------

@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sopengine installed from this source tree (not editable) into a fresh virtual environment."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    pip = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        capture_output=True, text=True,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    return bin_dir / "sopengine"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPENGINE_") and k != "PYTHONPATH"}
    env["SOPENGINE_LANG"] = "en"  # the words these tests read are the English ones
    return env


@pytest.mark.slow
def test_installed_sopengine_lists_its_packaged_definitions(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    listed = subprocess.run([str(installed), "list", "--json"], cwd=empty, env=_clean_env(), capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    found = {r["id"]: r for r in json.loads(listed.stdout)}
    assert sorted(found) == SHIPPED
    for r in found.values():
        assert r["valid"] and r["origin"] == "packaged"
        # from inside the installed package, not from this source tree
        assert Path(r["path"]).parent.name == "_definitions"
        assert not Path(r["path"]).is_relative_to(ROOT)
    table = subprocess.run([str(installed), "list"], cwd=empty, env=_clean_env(), capture_output=True, text=True)
    assert table.returncode == 0 and "surat-keluar" in table.stdout
    checked = subprocess.run([str(installed), "validate"], cwd=empty, env=_clean_env(), capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{len(SHIPPED)} of {len(SHIPPED)} definition(s) valid." in checked.stderr
    schema = (Path(found["surat-keluar"]["path"]).parent / "definition.schema.json").read_text(encoding="utf-8")
    assert schema == (DEFINITIONS / "definition.schema.json").read_text(encoding="utf-8")


@pytest.mark.slow
def test_installed_sopengine_reports_a_bad_file_without_traceback(installed: Path, tmp_path: Path) -> None:
    bad = tmp_path / "rusak.yaml"
    bad.write_text(BROKEN, encoding="utf-8")
    result = subprocess.run([str(installed), "validate", str(bad)], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.startswith(f"{bad}:10: steps[1].actor: unknown actor 'kepala'")
