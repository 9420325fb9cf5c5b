"""Rewrite a format-1 definition as format 2, losing nothing.

Format 1 has one symbol per row and no drawing of its own: renderings drew the first row's
symbol as the start terminator and a row that ends the process as the end terminator, and
printed every outcome's name on its arrow. The upgrade writes those drawings down, so the
format-2 file renders and runs as the format-1 file did:

- each step becomes a row with its printed cells (``inputs`` → ``kelengkapan``, ``outputs``
  → ``output``) and one symbol per lane; a row of several lanes becomes one symbol per lane,
  chained left to right (``id``, ``id-2``, ...), sharing the row's one due time;
- an unnumbered automatic gate becomes a band between rows holding its diamond;
- outcomes keep their names as printed labels; every header field the renderings printed is
  kept (blank where it was blank);
- the file's leading comment block is kept; comments inside the file cannot be placed and
  are listed at the top, marked as moved.
"""

from __future__ import annotations

from typing import Any

from sopengine.definition.flow import step_targets
from sopengine.definition.models import Definition, Header, StepKind, is_end

_HEADER_SKIP = ("labels", "extra")


def upgrade_data(d: Definition) -> dict[str, Any]:
    """The format-2 data of a format-1 definition (plain YAML-ready values)."""
    out: dict[str, Any] = {"format": 2, "id": d.id, "title": d.title}
    header: dict[str, Any] = {}
    for name in Header.model_fields:
        if name in _HEADER_SKIP:
            continue
        value = getattr(d.header, name)
        header[name] = value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else value
    for name in _HEADER_SKIP:
        if getattr(d.header, name):
            header[name] = dict(getattr(d.header, name))
    out["header"] = header
    for name in ("timezone", "hours", "deadline"):
        if getattr(d, name) is not None:
            out[name] = getattr(d, name)
    if d.case:
        out["case"] = [c.model_dump(mode="json", exclude_defaults=True) for c in d.case]
    out["actors"] = [a.model_dump(mode="json", exclude_defaults=True) for a in d.actors]

    used: set[str] = {s.id for s in d.steps}
    rows: list[dict[str, Any]] = []
    for i, step in enumerate(d.steps):
        targets = step_targets(d, i)
        ends = step.kind is StepKind.process and targets and all(is_end(t) for t in targets)
        lanes: list[str | None] = list(step.lanes) or [None]
        ids = [step.id]
        for k in range(1, len(lanes)):
            candidate = lane_symbol(step.id, k + 1)
            while candidate in used:
                candidate += "-lane"
            used.add(candidate)
            ids.append(candidate)
        symbols: list[dict[str, Any]] = []
        for k, lane in enumerate(lanes):
            last = k == len(lanes) - 1
            sym: dict[str, Any] = {"id": ids[k]}
            if step.kind is StepKind.decision:
                sym["kind"] = "decision"
            elif i == 0 and k == 0:
                sym["kind"] = "start"
            elif last and ends:
                sym["kind"] = "end"
            else:
                sym["kind"] = "process"
            if lane is not None:
                sym["lane"] = lane
            if step.no is None:
                sym["text"] = step.kegiatan
                sym["printed"] = False  # format 1's unnumbered gates are not rows of the SOP
            if sym["kind"] in ("start", "end") and len(lanes) > 1:
                sym["task"] = True  # a terminator beside other symbols carries its lane's work
            if step.kind is StepKind.decision:
                if step.automatic:
                    sym["automatic"] = True
                sym["outcomes"] = [
                    {k2: v for k2, v in (("label", o.name), ("meaning", o.meaning), ("next", o.next), ("when", o.when)) if v is not None}
                    for o in step.outcomes
                ]
            elif last:
                if i == 0 and k == 0 and ends:
                    sym["next"] = "selesai"
                elif step.next is not None and not (sym["kind"] == "end"):
                    sym["next"] = step.next
            if k == 0 and step.join:
                sym["join"] = True
            symbols.append(sym)
        if step.no is None:
            band: dict[str, Any] = {"symbols": symbols}
            if step.interpretation:
                symbols[0]["interpretation"] = step.interpretation
            rows.append(band)
            continue
        row: dict[str, Any] = {"no": str(step.no), "kegiatan": step.kegiatan}
        if step.inputs:
            row["kelengkapan"] = [_doc(x) for x in step.inputs]
        for name in ("waktu", "duration"):
            if getattr(step, name) is not None:
                row[name] = getattr(step, name)
        if step.untimed:
            row["untimed"] = True
        if step.outputs:
            row["output"] = [_doc(x) for x in step.outputs]
        if step.keterangan is not None:
            row["keterangan"] = step.keterangan
        if step.handover is not None:
            row["handover"] = step.handover.model_dump(exclude_none=True)
        if step.interpretation:
            row["interpretation"] = step.interpretation
        row["symbols"] = symbols
        rows.append(row)
    out["tables"] = [{"rows": rows}]
    return out


def _doc(doc: Any) -> Any:
    data = doc.model_dump(exclude_defaults=True)
    return data["name"] if list(data) == ["name"] else data


def upgrade_text(text: str, filename: str = "<text>") -> str:
    """The format-2 text of a valid format-1 definition's *text*; raises DefinitionInvalid."""
    import yaml

    from sopengine.definition.loader import check_text
    from sopengine.errors import DefinitionInvalid, InputError
    from sopengine.i18n import _

    checked = check_text(text, filename)
    if not checked.ok or checked.definition is None:
        raise DefinitionInvalid(checked.problems)
    if not isinstance(checked.definition, Definition):
        raise InputError(_("{file} is format 2 already; nothing to upgrade").format(file=filename))
    data = upgrade_data(checked.definition)
    lead: list[str] = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            lead.append(line)
        else:
            break
    inner = [line.strip() for line in text.splitlines()[len(lead):] if line.strip().startswith("#")]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    # PyYAML quotes the key 'no' (a boolean in YAML 1.1); sopengine reads YAML 1.2, where it is text.
    body = body.replace("'no':", "no:")
    parts = ["\n".join(lead).rstrip()] if lead else []
    if inner:
        parts.append("# Comments moved from inside the format-1 file:\n" + "\n".join(f"#   {c.lstrip('#').strip()}" for c in inner))
    parts.append(body.rstrip())
    new = "\n".join(p for p in parts if p) + "\n"
    after = check_text(new, filename)
    if not after.ok:  # never write a file that does not validate
        raise DefinitionInvalid(after.problems)
    return new


def as_format2(d: Any) -> Any:
    """A definition as format 2: a format-2 definition as it is, a format-1 one upgraded in memory.

    Renderings and ``show`` read format 2 only; a format-1 file shows as its upgrade would.
    """
    from sopengine.definition.format2 import Definition2

    if isinstance(d, Definition2):
        return d
    return Definition2.model_validate(upgrade_data(d))


def lane_symbol(step_id: str, part: int) -> str:
    """The symbol id the upgrade gives lane *part* (1-based) of a format-1 step."""
    return step_id if part <= 1 else f"{step_id}-{part}"
