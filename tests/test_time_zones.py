"""Time zones: WIB/WITA/WIT aliases, a run counted and shown in its calendar's zone, and the
zone of --now, --since and --until for the commands that read many runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopengine import clock
from sopengine.calendar import load_calendar
from sopengine.definition.loader import check_text
from sopengine.errors import InputError


def definition_text(definition_id: str = "satu", extra: str = "", waktu: str = "1 Jam") -> str:
    return f"""format: 1
id: {definition_id}
title: Uji zona waktu
{extra}actors:
  - {{id: staf, name: Staf Pelaksana}}
steps:
  - id: kerjakan
    no: 1
    kegiatan: Mengerjakan tugas
    actor: staf
    waktu: {waktu}
"""


# -- aliases --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alias, iana", [("WITA", "Asia/Makassar"), ("wib", "Asia/Jakarta"), ("WIT", "Asia/Jayapura")])
def test_a_calendar_file_may_name_its_zone_wib_wita_or_wit(tmp_path: Path, alias: str, iana: str) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(f"timezone: {alias}\n", encoding="utf-8")
    cal = load_calendar(path, years=[2026])
    assert cal.zone == iana
    assert cal.snapshot()["zone"] == iana  # the snapshot keeps the IANA name


def test_a_definition_may_name_its_zone_wita_and_it_is_stored_as_the_iana_name() -> None:
    checked = check_text(definition_text(extra="timezone: WITA\n"), "satu.yaml", "satu")
    assert not checked.errors
    assert checked.definition.timezone == "Asia/Makassar"


def test_an_unknown_zone_names_the_aliases_in_its_fix(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text("timezone: WITT\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"timezone: unknown time zone 'WITT'.*WIB, WITA, WIT"):
        load_calendar(path, years=[2026])
    checked = check_text(definition_text(extra="timezone: WITT\n"), "satu.yaml", "satu")
    assert any("unknown time zone 'WITT'" in p.message and "WITA" in p.message for p in checked.errors)


def test_the_clock_reads_a_time_in_an_aliased_zone() -> None:
    assert clock.iso(clock.parse_time("2026-10-05T09:00", "WITA")) == "2026-10-05T01:00:00Z"
    assert clock.local("2026-10-05T01:00:00Z", "WIT") == "2026-10-05 10:00 WIT"
