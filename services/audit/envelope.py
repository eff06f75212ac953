"""The parts of a decision the audit store indexes, read leniently from what was published.

The store records a decision exactly as the screening service emitted it: the audit trail is
evidence of what was decided, so it must not normalise, drop or re-validate what it did not
produce. Only the fields the store indexes and the chain relies on are validated here; a record
without them is rejected (kept in ``audit.rejected_records``). Full validation against
:class:`schemas.Decision` would also cost several times more than the rest of the write path
(see docs/adr/0012-record-decisions-as-published.md).
"""

from __future__ import annotations

from typing import Annotated, Any

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
