"""The library's one namespace: what the CLI does, a Python caller does through sopengine.api."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopengine import api
from sopengine.errors import InputError

NOW = "2026-10-01T09:00"


def test_a_run_through_the_facade(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    run_id = api.start_run("pengumpulan-data", db=db, period="2026-10", now=NOW, by="Ani")["run_id"]
    api.complete(db, run_id, by="Ani", now="2026-10-01T09:10")
    assert [e["kind"] for e in api.history(db, run=run_id)] == ["run_started", "step_completed"]
    assert api.verify(db)["ok"] is True
    late = api.overdue(db, now="2026-10-02T12:00")
    assert [(row["run_id"], row["step"]) for row in late] == [(run_id, "rekap-laporan")]
    assert "flowchart" in api.render(fmt="mermaid", run=run_id, db=db)
    backup = tmp_path / "copy.db"
    api.backup(db, backup)
    assert api.verify(backup)["head"] == api.verify(db)["head"]


def test_render_names_the_formats_it_knows() -> None:
    with pytest.raises(InputError, match="unknown format 'pdf'; use html, md or mermaid"):
        api.render("pengumpulan-data", fmt="pdf")
    with pytest.raises(InputError, match="give a definition ID, or --run RUN"):
        api.render(fmt="html")
