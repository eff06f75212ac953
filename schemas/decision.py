"""Decision: what the screening service emits on ``decisions.v1`` (CONTRACT.md, "Decision")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from schemas._common import OUTPUT_MODEL_CONFIG
from schemas.license import License
from schemas.party import PartyMatch
from schemas.quantity import Quantity
from schemas.shipment import ShipmentEvent


class Outcome(StrEnum):
    APPROVE = "approve"
    HOLD = "hold"


class Trigger(StrEnum):
    SHIPMENT_EVENT = "shipment_event"
    LICENSE_CHANGE = "license_change"
    CATALOGUE_CHANGE = "catalogue_change"
    #: v1 addition: an entry of a controlled-party list (``parties.v1``) was added or changed.
    PARTY_LIST_CHANGE = "party_list_change"
    #: v1 additions: two different reviewers released held lines (``reviews.v1``).
    REVIEW = "review"


class ReasonCode(StrEnum):
    """Why a line was approved or held. Each code implies one outcome (see :attr:`outcome`)."""

    NOT_CONTROLLED = "NOT_CONTROLLED"
    BELOW_THRESHOLD = "BELOW_THRESHOLD"
    MEASURE_SUSPENDED = "MEASURE_SUSPENDED"
    LICENSED = "LICENSED"
    LICENSE_REQUIRED = "LICENSE_REQUIRED"
    LICENSE_EXPIRED = "LICENSE_EXPIRED"
    LICENSE_EXHAUSTED = "LICENSE_EXHAUSTED"
    LICENSE_SCOPE = "LICENSE_SCOPE"
    LICENSE_INACTIVE = "LICENSE_INACTIVE"
    PROHIBITED_END_USE = "PROHIBITED_END_USE"
    PROHIBITED_DESTINATION = "PROHIBITED_DESTINATION"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
    #: Addition to the contract's table: the shipment was cancelled; nothing may ship under it.
    SHIPMENT_CANCELLED = "SHIPMENT_CANCELLED"
    #: v1 additions: a recognised line whose ship date lies more than 30 days before the event's
    #: ``occurred_at`` date or more than 366 days after it; a person confirms the date.
    SHIP_DATE_IMPLAUSIBLE = "SHIP_DATE_IMPLAUSIBLE"
    #: v1 additions: the line's declared ``control_code`` contradicts what the goods show.
    DECLARATION_MISMATCH = "DECLARATION_MISMATCH"
    #: v1 addition: the consignee or end user is on a controlled-party list in force.
    PROHIBITED_END_USER = "PROHIBITED_END_USER"
    #: v1 addition: a possible, not certain, controlled-party match: a person decides.
    PARTY_REVIEW = "PARTY_REVIEW"
    #: v1 additions: two different reviewers released this held line (never a PROHIBITED_* one).
    RELEASED_BY_REVIEW = "RELEASED_BY_REVIEW"

    @property
    def outcome(self) -> Outcome:
        return Outcome.APPROVE if self in _APPROVING else Outcome.HOLD


_APPROVING = frozenset(
    {
        ReasonCode.NOT_CONTROLLED,
        ReasonCode.BELOW_THRESHOLD,
        ReasonCode.MEASURE_SUSPENDED,
        ReasonCode.LICENSED,
        ReasonCode.RELEASED_BY_REVIEW,
    }
)


class LineDecision(BaseModel):
    """The decision on one cargo line."""

    model_config = OUTPUT_MODEL_CONFIG

    line_no: int
    outcome: Outcome
    controlled: bool
    control_ids: list[str] = []
    license_id: str | None = None
    reasons: Annotated[list[ReasonCode], Field(min_length=1)]
    #: Addition: the licence quantity this line consumes (in the licence's cap unit), if any.
    consumed: Quantity | None = None


class Reason(BaseModel):
    """One reason, with the legal basis it rests on where a measure is involved."""

    model_config = OUTPUT_MODEL_CONFIG

    code: ReasonCode
    line_no: int | None = None
    control_id: str | None = None
    legal_basis: str | None = None
    message: str


class WarningCode(StrEnum):
    """Warnings never change an outcome; they tell a reader how far to trust it."""

    #: The measure's state on the ship date follows only from a date in the catalogue (e.g. a
    #: suspension window's end) after its ``status_confirmed_through`` date.
    MEASURE_STATUS_UNCONFIRMED = "MEASURE_STATUS_UNCONFIRMED"


class DecisionWarning(BaseModel):
    """v1 additions: a warning on a decision (``Decision.warnings``)."""

    model_config = OUTPUT_MODEL_CONFIG

    code: WarningCode
    control_id: str | None = None
    message: str


class LicenseUsage(BaseModel):
    """How much of a capped licence other shipments had used when the decision was taken."""

    model_config = OUTPUT_MODEL_CONFIG

    license_id: str
    used: Quantity | None = None
    used_by_shipment: str | None = None


class DecisionEvidence(BaseModel):
    """Addition: what the decision was taken on, so that an auditor can re-derive it.

    The catalogue itself is identified by ``Decision.catalogue_version`` (label + content hash)
    and published whole on ``controls.v1``.
    """

    model_config = OUTPUT_MODEL_CONFIG

    event: ShipmentEvent
    licenses: list[License] = []
    license_usage: list[LicenseUsage] = []
    #: v1 addition: the controlled-party entries the consignee or end user matched.
    parties: list[PartyMatch] = []
    #: v1 addition: the version (content hash) of the party list screened against.
    party_list_version: str | None = None


class Decision(BaseModel):
    """The approve-or-hold decision on a shipment. Approved only if every line is approved."""

    model_config = OUTPUT_MODEL_CONFIG

    decision_id: str
    shipment_id: str
    event_id: str
    exporter_id: str
    outcome: Outcome
    lines: list[LineDecision]
    reasons: list[Reason]
    catalogue_version: str
    trigger: Trigger
    supersedes: str | None = None
    decided_at: AwareDatetime
    #: Addition: the ship date the decision was taken for (controls in force on that date).
    ship_date: date | None = None
    #: v1 additions: warnings that never change the outcome (e.g. MEASURE_STATUS_UNCONFIRMED).
    warnings: list[DecisionWarning] = []
    #: Addition: the inputs of the decision (event, licences considered and their usage); kept
    #: last (``services.screening.decision_json`` splices it in).
    evidence: DecisionEvidence | None = None


def utc_now() -> datetime:
    """Timestamp helper for ``decided_at`` (always timezone-aware UTC)."""
    return datetime.now(UTC)
