r"""The canonical form of an event and its hash chain.

Each event stores ``prev_hash``, the hash of the run's previous event (64 zeros for the
first), and ``hash``, the sha256 of its canonical JSON:

* the object ``{"at", "kind", "os_user", "payload", "person", "prev_hash", "recorded_at",
  "run_id", "step_id"}`` — ``payload`` as a JSON object, ``step_id`` null when none;
* keys sorted by code point at every level, none twice; separators ``","`` and ``":"``
  (no spaces); every character as itself (``ensure_ascii=False``) but ``"``, ``\`` and
  U+0000–U+001F (``\n`` and the like, else ``\u00xx`` in lowercase hex); floats as
  Python's ``repr``; the whole encoded as UTF-8;
* times as stored: UTC ``YYYY-MM-DDTHH:MM:SSZ``.

The store writes each payload as exactly ``canonical(payload)``, so any other stored text is
an edit (``sopengine.audit.payload_problem`` names it). ``docs/auditing.md`` states all this
for auditors; keep the two in step. ``seq`` is not hashed: the order of a run's events is
held by ``prev_hash``, the numbering across runs by nothing but the database head. Standard
library only: the step path imports this module.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
CHAIN_FIELDS = ("run_id", "at", "recorded_at", "person", "os_user", "kind", "step_id", "payload", "prev_hash")


def canonical(data: Any) -> str:
    """The canonical JSON text used for payloads and hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event: dict[str, Any]) -> str:
    """The sha256 (hex) of an event's canonical form; ``payload`` may be a dict or its JSON text."""
    fields = {name: event[name] for name in CHAIN_FIELDS}
    if isinstance(fields["payload"], str):
        fields["payload"] = json.loads(fields["payload"])
    return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()


def database_head(heads: dict[str, str]) -> str:
    """One hash over every run's last event hash: what auditors note down and compare later."""
    return hashlib.sha256(canonical(dict(sorted(heads.items()))).encode("utf-8")).hexdigest()
