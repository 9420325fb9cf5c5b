"""The SOP definition format as pydantic models.

A definition is what the signed SOP says; it never changes while a run uses it. Field
names follow the SOP AP's own words (``kegiatan``, ``waktu``, ``keterangan``) so that an
admin can put the paper table beside the YAML. Every model forbids unknown keys: a
misspelt field is an error with its line, never silently ignored.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from sopengine.definition.durations import DurationError, parse_duration
from sopengine.definition.messages import N_

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
END = "selesai"
"""The target that ends the process (``next: selesai``); ``end`` is accepted too."""
END_ALIASES = {"selesai", "end"}

Id = Annotated[str, Field(pattern=ID_PATTERN, description="lower-case letters, digits, '-' and '_'")]


# A required field's description is marked for the catalogue (N_): the message of a missing
# field shows it in the language in force. The JSON Schema keeps the English. Messages of the
# validators are English too (N_): pydantic keeps them, and they are translated when shown.
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Official(_Model):
    """The official who signs the SOP (*disahkan oleh*)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True)

    jabatan: str | None = None
    nama: str | None = None
    nip: str | None = None


class Header(_Model):
    """The SOP AP header, kept verbatim. A field the SOP leaves blank stays blank."""

    # An unquoted NIP or nomor is read by YAML as a number: keep it as the text it was.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True)

    instansi: str | None = Field(None, description="Agency, e.g. 'Pemerintah Provinsi Banten'")
    unit: str | None = Field(None, description="Unit that owns the SOP")
    nomor: str | None = Field(None, description="Nomor SOP as printed")
    tanggal_pembuatan: str | None = None
    tanggal_revisi: str | None = None
    tanggal_efektif: str | None = None
    disahkan_oleh: Official | None = None
    judul: str | None = Field(None, description="Nama/Judul SOP as printed")
    dasar_hukum: list[str] = []
    kualifikasi_pelaksana: list[str] = []
    keterkaitan: list[str] = []
    peralatan: list[str] = Field([], description="Peralatan/Perlengkapan")
    peringatan: list[str] = []
    pencatatan: list[str] = Field([], description="Pencatatan dan Pendataan")
    labels: dict[str, str] = Field(
        {}, description="A field's label as printed where it differs, e.g. kualifikasi_pelaksana: Kualitas Pelaksana"
    )
    extra: dict[str, str | list[str]] = Field({}, description="Fields some agencies add, label -> value")

    @field_validator(
        "dasar_hukum", "kualifikasi_pelaksana", "keterkaitan", "peralatan", "peringatan", "pencatatan",
        mode="before",
        # One item may be written as plain text: tell editors so through the schema.
        json_schema_input_type=list[str] | str | None,
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        return value


class ActorKind(str, Enum):
    internal = "internal"  # an official of the agency
    external = "external"  # a citizen or another agency; staff record their steps for them
    system = "system"  # an application that does the step


class Actor(_Model):
    """A *pelaksana* column."""

    id: Id = Field(description=N_("Short id that steps use in 'actor', e.g. kepala-bidang"))
    name: str = Field(min_length=1, description=N_("The column heading as the SOP writes it"))
    kind: ActorKind = ActorKind.internal
    alternatives: list[str] = Field(
        [], description="Alternative roles sharing one column, e.g. ['Sekretaris', 'Kepala Bidang']"
    )
    description: str | None = None


class CaseType(str, Enum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"


class CaseField(_Model):
    """Case data recorded when a run starts (``sopengine run --set NAME=VALUE``)."""

    name: Id = Field(description=N_("Used as case.<name> in 'when' and as --set NAME=VALUE"))
    type: CaseType = CaseType.string
    values: list[str | int | float | bool] | None = Field(None, description="Allowed values")
    required: StrictBool = False
    description: str | None = None


class Document(_Model):
    """A document the step needs (*kelengkapan*) or produces (*output*)."""

    name: str = Field(min_length=1, description=N_("The document as the SOP names it"))
    required: StrictBool = Field(False, description="Outputs only: the step cannot be completed without this file")
    external: StrictBool = Field(False, description="Inputs only: comes from outside the process")
    produced_by: str | None = Field(
        None, description="Inputs only: the step (id) whose output this is, where the SOP names it differently"
    )


def _documents(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        value = [value]
    if isinstance(value, list):
        return [{"name": v} if isinstance(v, str) else v for v in value]
    return value


Condition = dict[str, str | int | float | bool | list[str | int | float | bool]]


def _target_text(value: Any) -> Any:
    """A row number written as a target ('next: 3', as the SOP prints "Next: 3") becomes text.

    It is not accepted as a target: the flow check names the id of the step with that number.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return [_target_text(v) for v in value]
    return value


class Outcome(_Model):
    """One way out of a decision."""

    name: str = Field(min_length=1, description=N_("As the SOP writes it: Ya, Tidak, Lengkap, Diterima ..."))
    meaning: str | None = Field(None, description="What the outcome means, e.g. 'setuju'")
    next: str = Field(description=N_("Step id to go to, or 'selesai' to end the process"))
    when: Condition | Literal["otherwise"] | None = Field(
        None, description="Automatic decisions: facts that must all hold, or 'otherwise'"
    )

    @field_validator("next", mode="before")
    @classmethod
    def _row_number(cls, value: Any) -> Any:
        return _target_text(value)


class Handover(_Model):
    """A hand-over to another SOP (*keterkaitan*)."""

    sop: str = Field(description=N_("The other SOP's id or name"))
    note: str | None = None


class StepKind(str, Enum):
    process = "process"  # a box: work done by the actor(s)
    decision = "decision"  # a diamond: one of several outcomes


class Step(_Model):
    """One row of the SOP table (*kegiatan*)."""

    id: Id = Field(description=N_("Short id of the step, e.g. periksa-konsep; used by 'next' and outcomes"))
    no: StrictInt | None = Field(None, ge=1, description="The row number; only unnumbered gates may omit it")
    kegiatan: str = Field(min_length=1, description=N_("The activity, verbatim"))
    kind: StepKind = StepKind.process
    actor: str | None = Field(None, description="Actor id of the lane the symbol stands in")
    actors: list[str] | None = Field(None, description="Several lanes in one row, in order")
    inputs: Annotated[list[Document], Field(description="Persyaratan/Kelengkapan")] = []
    waktu: str | None = Field(None, description="The standard time as the SOP writes it")
    duration: str | None = Field(None, description="A parsable duration used instead of waktu")
    untimed: StrictBool = Field(False, description="waktu is a window, not a duration: no due time")
    outputs: list[Document] = []
    keterangan: str | None = None
    next: str | list[str] | None = Field(
        None, description="Step id(s) after a process step; default the next row; a list splits"
    )
    join: StrictBool = Field(False, description="Wait until every branch that can reach this step arrives")
    outcomes: list[Outcome] = []
    automatic: StrictBool = Field(False, description="The engine decides by the outcomes' 'when'")
    handover: Handover | None = None
    interpretation: str | None = Field(None, description="Where this row's reading is interpretation")

    # A document may be written as its name alone: tell editors so through the schema.
    @field_validator("inputs", "outputs", mode="before", json_schema_input_type=list[str | Document] | str | None)
    @classmethod
    def _docs(cls, value: Any) -> Any:
        return _documents(value)

    @field_validator("next", mode="before")
    @classmethod
    def _row_numbers(cls, value: Any) -> Any:
        return _target_text(value)

    @field_validator("waktu", "duration", "keterangan", "kegiatan", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @property
    def lanes(self) -> list[str]:
        """The actor ids of this row, in order."""
        if self.actors:
            return list(self.actors)
        return [self.actor] if self.actor else []

    @property
    def parsed_duration(self) -> dict | None:
        """The parsed duration, or None for an untimed step or a step without waktu."""
        text = self.duration or self.waktu
        if self.untimed or not text:
            return None
        try:
            return parse_duration(text)
        except ValueError:
            return None

    @model_validator(mode="after")
    def _shape(self) -> Step:
        if self.actor and self.actors:
            raise ValueError(N_("the row has both 'actor' and 'actors'; keep one ('actors' lists several lanes)"))
        if self.kind is StepKind.decision:
            if self.next is not None:
                raise ValueError(N_("a decision goes on through its outcomes; remove 'next'"))
            if self.actors and len(self.actors) > 1:
                raise ValueError(N_("a decision is taken in one lane; give one 'actor'"))
            if self.join:
                raise ValueError(N_("a decision cannot be a join; put the join on a process step before it"))
        else:
            if self.outcomes:
                raise ValueError(N_("only a decision has outcomes; add 'kind: decision'"))
            if self.automatic:
                raise ValueError(N_("only a decision can be automatic; add 'kind: decision'"))
        if not self.automatic and not self.lanes:
            raise ValueError(N_("a step needs an 'actor'; add 'actor: <actor id>' (only an automatic decision may go without)"))
        if self.no is None and not (self.kind is StepKind.decision and self.automatic):
            raise ValueError(N_("a step needs its row number; add 'no:' with the number the SOP prints (only an automatic decision may go without)"))
        return self


class Definition(_Model):
    """One SOP: its header, actors, case data and steps."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, title="sopengine SOP definition")

    format: Literal[1] = Field(1, description="Version of this file format")
    id: Id = Field(description=N_("Equals the file name without .yaml"))
    title: str = Field(min_length=1, description=N_("Short title of the SOP"))
    header: Header = Header()
    timezone: str | None = Field(None, description="IANA zone, default from the calendar (Asia/Jakarta)")
    hours: dict[str, str | None] | None = Field(None, description="Office hours per weekday, overriding the calendar")
    deadline: str | None = Field(None, description="Process-level deadline, e.g. 'Paling lambat 17 hari kerja'")
    case: list[CaseField] = []
    actors: list[Actor] = Field(min_length=1, description=N_("The pelaksana columns, left to right"))
    steps: list[Step] = Field(min_length=1, description=N_("The rows of the SOP table, in order"))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from sopengine.clock import zone_name

        try:
            # WIB, WITA and WIT are stored as the IANA zone they stand for.
            return ZoneInfo(zone_name(value)).key
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                N_("unknown time zone {zone!r}; use an IANA name such as Asia/Jakarta, or WIB, WITA, WIT").format(zone=value)
            ) from None

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except DurationError as exc:
                raise ValueError(N_("{error}; a deadline is one duration, e.g. 'Paling lambat 17 hari kerja'").format(error=exc.message)) from None
        return value

    def step(self, key: str | int) -> Step | None:
        """The step with this id or row number."""
        for s in self.steps:
            if s.id == key or (s.no is not None and str(s.no) == str(key)):
                return s
        return None

    def actor(self, actor_id: str) -> Actor | None:
        return next((a for a in self.actors if a.id == actor_id), None)


def is_end(target: str) -> bool:
    return target.lower() in END_ALIASES


def slug(text: str) -> str:
    """A lower-case id made of a name, for outcomes ('Tidak Lengkap' -> 'tidak-lengkap')."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
