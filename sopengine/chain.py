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
from collections.abc import Callable
from json.encoder import encode_basestring as _json_str  # the C encoder json.dumps uses
from typing import Any

GENESIS = "0" * 64
CHAIN_FIELDS = ("run_id", "at", "recorded_at", "person", "os_user", "kind", "step_id", "payload", "prev_hash")


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _canonical_encoder() -> Callable[[Any], str]:
    """``json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` without
    json.dumps' set-up on every call: the C encoder it uses, made once with the same settings
    (tests/test_audit.py checks that the two agree)."""
    from json import encoder

    make_encoder = getattr(encoder, "c_make_encoder", None)  # not in the typeshed stubs
    if make_encoder is None:  # a Python built without the json accelerator
        return lambda data: json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    make = make_encoder(None, _no_default, encoder.encode_basestring, None, ":", ",", True, False, True)
    return lambda data: "".join(make(data, 0))


canonical: Callable[[Any], str] = _canonical_encoder()
"""The canonical JSON text used for payloads and hashes (``canonical(data) -> str``)."""


def event_digest(run_id: str, at: str, recorded_at: str, person: str, os_user: str, kind: str,
                 step_id: str | None, payload: str, prev_hash: str) -> str:
    """The event hash from its fields, *payload* given as its canonical text, which is written
    into the canonical form as it is rather than parsed and written again.

    Byte-identical to :func:`event_hash` whenever *payload* is ``canonical`` of an object,
    which is how the store writes every payload; all the other fields are text (``step_id``
    may be None).
    """
    text = (f'{{"at":{_json_str(at)},"kind":{_json_str(kind)},"os_user":{_json_str(os_user)},"payload":{payload},'
            f'"person":{_json_str(person)},"prev_hash":{_json_str(prev_hash)},"recorded_at":{_json_str(recorded_at)},'
            f'"run_id":{_json_str(run_id)},"step_id":{"null" if step_id is None else _json_str(step_id)}}}')
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_hash(event: dict[str, Any]) -> str:
    """The sha256 (hex) of an event's canonical form; ``payload`` may be a dict or its JSON text."""
    fields = {name: event[name] for name in CHAIN_FIELDS}
    if isinstance(fields["payload"], str):
        fields["payload"] = json.loads(fields["payload"])
    return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()


def database_head(heads: dict[str, str]) -> str:
    """One hash over every run's last event hash: what auditors note down and compare later."""
    return hashlib.sha256(canonical(dict(sorted(heads.items()))).encode("utf-8")).hexdigest()
