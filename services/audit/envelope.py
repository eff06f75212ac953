"""The parts of a decision the audit store indexes, read leniently from what was published.

The store records a decision exactly as the screening service emitted it: the audit trail is
evidence of what was decided, so it must not normalise, drop or re-validate what it did not
produce. Only the fields the store indexes and the chain relies on are validated here; a record
without them is rejected (kept in ``audit.rejected_records``). Full validation against
:class:`schemas.Decision` would also cost several times more than the rest of the write path
(see docs/adr/0012-record-decisions-as-published.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeGuard

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from schemas import Outcome, Trigger

_LENIENT = ConfigDict(extra="ignore", frozen=True)

Text = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class LineView(BaseModel):
    model_config = _LENIENT

    line_no: int
    control_ids: list[Text] = []
    license_id: Text | None = None
    reasons: list[Text] = []


class ReasonView(BaseModel):
    model_config = _LENIENT

    code: Text


class LicenseView(BaseModel):
    model_config = _LENIENT

    license_id: Text


class EvidenceView(BaseModel):
    model_config = _LENIENT

    licenses: list[LicenseView] = []


class DecisionEnvelope(BaseModel):
    """What the store reads from a decision; everything else is kept as published."""

    model_config = _LENIENT

    decision_id: Text
    shipment_id: Text
    event_id: Text
    exporter_id: Text
    outcome: Outcome
    trigger: Trigger
    catalogue_version: Text
    supersedes: Text | None = None
    decided_at: AwareDatetime
    lines: list[LineView] = Field(default_factory=list)
    reasons: list[ReasonView] = Field(default_factory=list)
    evidence: EvidenceView | None = None

    @property
    def reason_codes(self) -> list[str]:
        codes = {r.code for r in self.reasons}
        codes.update(code for line in self.lines for code in line.reasons)
        return sorted(codes)

    @property
    def control_ids(self) -> list[str]:
        return sorted({c for line in self.lines for c in line.control_ids})

    @property
    def license_ids(self) -> list[str]:
        ids = {line.license_id for line in self.lines if line.license_id}
        if self.evidence is not None:
            ids.update(lic.license_id for lic in self.evidence.licenses)
        return sorted(ids)


def read_envelope(payload: Any) -> DecisionEnvelope:
    """Validate the indexed fields of a parsed decision (raises ``ValidationError``)."""
    return DecisionEnvelope.model_validate(payload)


@dataclass(frozen=True, slots=True)
class Indexed:
    """The indexed fields of a decision, as the store keeps them (lists sorted and unique)."""

    decision_id: str
    shipment_id: str
    event_id: str
    exporter_id: str
    outcome: str
    trigger: str
    catalogue_version: str
    supersedes: str | None
    decided_at: datetime
    reason_codes: list[str]
    control_ids: list[str]
    license_ids: list[str]


def read_indexed(payload: dict[str, Any]) -> Indexed:
    """The indexed fields of a parsed decision (raises ``ValidationError`` as the model does).

    Decisions as the screening service publishes them are read by plain dict access with exact
    type checks. Anything that check does not accept as it stands (a missing or malformed field,
    but also an input :class:`DecisionEnvelope` would coerce, such as a timestamp with an offset)
    is handed to :class:`DecisionEnvelope`, which accepts or rejects it with its own error, so
    what is accepted, the values read and the errors are exactly the model's.
    """
    indexed = _read_plain(payload)
    if indexed is not None:
        return indexed
    envelope = read_envelope(payload)
    return Indexed(
        decision_id=envelope.decision_id,
        shipment_id=envelope.shipment_id,
        event_id=envelope.event_id,
        exporter_id=envelope.exporter_id,
        outcome=envelope.outcome.value,
        trigger=envelope.trigger.value,
        catalogue_version=envelope.catalogue_version,
        supersedes=envelope.supersedes,
        decided_at=envelope.decided_at,
        reason_codes=envelope.reason_codes,
        control_ids=envelope.control_ids,
        license_ids=envelope.license_ids,
    )


_OUTCOMES = frozenset(o.value for o in Outcome)
_TRIGGERS = frozenset(t.value for t in Trigger)
_ABSENT: list[Any] = []  # never mutated: stands for a list field that is not there
#: Timestamps read without the model: UTC (``Z``), whole seconds, milliseconds or microseconds.
_PLAIN_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3}|\.[0-9]{6})?Z"
)
_INT64 = 2**63


def _text(value: object) -> TypeGuard[str]:
    return type(value) is str and 0 < len(value) <= 512


def _read_plain(p: dict[str, Any]) -> Indexed | None:
    """:func:`read_indexed` for a decision that needs no coercion, else None (ask the model).

    Written flat (no helper calls per value): it runs for every record.
    """
    get = p.get
    decision_id, shipment_id, event_id = get("decision_id"), get("shipment_id"), get("event_id")
    exporter_id, catalogue_version = get("exporter_id"), get("catalogue_version")
    supersedes, outcome, trigger = get("supersedes"), get("outcome"), get("trigger")
    decided_at = get("decided_at")
    if not (
        _text(decision_id)
        and _text(shipment_id)
        and _text(event_id)
        and _text(exporter_id)
        and _text(catalogue_version)
        and (supersedes is None or _text(supersedes))
        and type(outcome) is str
        and outcome in _OUTCOMES
        and type(trigger) is str
        and trigger in _TRIGGERS
        and type(decided_at) is str
        and _PLAIN_MOMENT.fullmatch(decided_at)
    ):
        return None
    try:
        moment = datetime.fromisoformat(decided_at)
    except ValueError:
        return None
    codes: set[str] = set()
    controls: set[str] = set()
    licences: set[str] = set()
    lines = get("lines", _ABSENT)
    if type(lines) is not list:
        return None
    for line in lines:
        if type(line) is not dict:
            return None
        line_no = line.get("line_no")
        ids = line.get("control_ids", _ABSENT)
        reasons = line.get("reasons", _ABSENT)
        licence = line.get("license_id")
        if not (
            type(line_no) is int
            and -_INT64 <= line_no < _INT64
            and type(ids) is list
            and type(reasons) is list
        ):
            return None
        for text in ids:
            if type(text) is not str or not 0 < len(text) <= 512:
                return None
        for text in reasons:
            if type(text) is not str or not 0 < len(text) <= 512:
                return None
        if licence is not None:
            if type(licence) is not str or not 0 < len(licence) <= 512:
                return None
            licences.add(licence)
        controls.update(ids)
        codes.update(reasons)
    reasons = get("reasons", _ABSENT)
    if type(reasons) is not list:
        return None
    for reason in reasons:
        if type(reason) is not dict:
            return None
        code = reason.get("code")
        if type(code) is not str or not 0 < len(code) <= 512:
            return None
        codes.add(code)
    evidence = get("evidence")
    if evidence is not None:
        if type(evidence) is not dict:
            return None
        considered = evidence.get("licenses", _ABSENT)
        if type(considered) is not list:
            return None
        for item in considered:
            if type(item) is not dict:
                return None
            licence = item.get("license_id")
            if type(licence) is not str or not 0 < len(licence) <= 512:
                return None
            licences.add(licence)
    return Indexed(
        decision_id,
        shipment_id,
        event_id,
        exporter_id,
        outcome,
        trigger,
        catalogue_version,
        supersedes,
        moment,
        sorted(codes),
        sorted(controls),
        sorted(licences),
    )
