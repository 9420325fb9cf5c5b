"""Documents a step records: the files given with ``--output NAME=FILE``.

Each file is read once; its sha256 and size go into the step's event, so the history names
the exact bytes recorded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sopengine.errors import InputError, OutputMissing
from sopengine.i18n import _

if TYPE_CHECKING:
    from sopengine.runs import _Loaded


def record_outputs(loaded: _Loaded, task: dict[str, Any], outputs: list[tuple[str, str]] | dict[str, str] | None) -> list[dict[str, Any]]:
    """Check the outputs given for *task* against its step and read each file's digest."""
    step = loaded.compiled["steps"][task["step_id"]]
    declared = {o["name"].casefold(): o for o in step["outputs"]}
    items = list(outputs.items()) if isinstance(outputs, dict) else list(outputs or [])
    docs = []
    given = set()
    for name, path in items:
        spec = declared.get(name.strip().casefold())
        if spec is None:
            names = ", ".join(repr(o["name"]) for o in step["outputs"]) or _("none")
            raise InputError(_("step {step} has no output {name!r}; its outputs are: {names}").format(
                step=task["step_id"], name=name, names=names))
        file = Path(path).expanduser()
        if file.is_dir():
            raise OutputMissing(_("output {path} is a folder; give the file of {output!r}").format(path=path, output=spec["name"]),
                                path=str(path))
        if not file.is_file():
            raise OutputMissing(
                _("output file {path} does not exist; check the path of {output!r}").format(path=path, output=spec["name"]),
                path=str(path),
            )
        digest = hashlib.sha256()
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        docs.append({
            "task_id": task["id"], "step_id": task["step_id"], "name": spec["name"], "path": str(file.resolve()),
            "sha256": digest.hexdigest(), "size": file.stat().st_size, "recorded_by": loaded.person,
        })
        given.add(spec["name"].casefold())
    lanes = step["lanes"] or [None]
    if task["part"] == len(lanes) - 1:  # required outputs are due when the row's last lane finishes
        for o in step["outputs"]:
            if o["required"] and o["name"].casefold() not in given:
                raise OutputMissing(
                    _("step {step} needs its output {output!r}; add --output '{output}=FILE'").format(
                        step=task["step_id"], output=o["name"]),
                    step=task["step_id"],
                )
    return docs
