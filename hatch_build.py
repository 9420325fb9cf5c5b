"""Build hook: compile the message catalogues (``.po`` → ``.mo``) into the wheel.

The ``.po`` files are kept in the repository; the compiled catalogues are made here, with
Babel, so that an installed sopengine reads them with the standard library alone. An
editable install compiles them beside their sources instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CatalogueBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        locale = Path(self.root) / "sopengine" / "locale"
        out = Path(tempfile.mkdtemp(prefix="sopengine-mo-"))
        for po in sorted(locale.glob("*/LC_MESSAGES/*.po")):
            relative = po.relative_to(locale).with_suffix(".mo")
            with po.open("rb") as fh:
                catalog = read_po(fh)
            target = (po.with_suffix(".mo") if version == "editable" else out / relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as fh:
                write_mo(fh, catalog, use_fuzzy=False)
            if version != "editable":
                build_data["force_include"][str(target)] = f"sopengine/locale/{relative.as_posix()}"
