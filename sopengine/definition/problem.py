"""One problem found in a definition file: where (file, line, field) and what.

Apart from :mod:`sopengine.errors`, which every command imports, so that the commands that never
read a definition file do not build this dataclass at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from sopengine.i18n import _


@dataclass(frozen=True)
class Problem:
    """One problem found in a definition file.

    ``message`` is English, as ``validate --json`` gives it whatever the language; ``str()``
    and :meth:`text` give it in the language in force, from ``template`` and ``values`` when
    the check kept them (a value with a ``text()`` method is a message too, translated so).
    """

    file: str
    line: int | None
    field: str
    message: str
    severity: str = "error"  # "error" or "warning"
    template: str | None = dc_field(default=None, compare=False, repr=False)
    values: Mapping[str, Any] | None = dc_field(default=None, compare=False, repr=False)

    def text(self) -> str:
        """The message in the language in force."""
        if self.template is None:
            return self.message
        text = _(self.template)
        if self.values is not None:
            text = text.format(**{k: v.text() if callable(getattr(v, "text", None)) else v for k, v in self.values.items()})
        return " ".join(text.split())

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        message = self.text()
        if self.severity == "warning":
            message = _("warning: {message}").format(message=message)
        return f"{where}:{field} {message}"
