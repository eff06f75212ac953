"""Lodestone's wire models (CONTRACT.md v1): the single source of truth for every topic's format."""

from schemas.dead_letter import DeadLetter, SourceCoordinates
from schemas.decision import (
    Decision,
    DecisionEvidence,
    DecisionWarning,
    LicenseUsage,
    LineDecision,
    Outcome,
    Reason,
    ReasonCode,
    Trigger,
    WarningCode,
    utc_now,
)
from schemas.license import License, LicenseKind, LicenseStatus
from schemas.party import (
    ControlledParty,
    MatchKind,
    PartyEffect,
    PartyList,
    PartyMatch,
    PartyStatus,
    StatusWindow,
)
from schemas.quantity import IncompatibleUnitsError, Quantity, Unit, convert
from schemas.review import Review, ReviewAction, Reviewer
from schemas.shipment import (
    MAX_EVENT_BYTES,
    MAX_LINES_PER_SHIPMENT,
    STANDARD_PROPERTIES,
    CargoLine,
    ElementContent,
    EndUse,
    EventType,
    Party,
    ShipmentEvent,
)
from schemas.tree_head import SignedTreeHead

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_LINES_PER_SHIPMENT",
    "STANDARD_PROPERTIES",
    "CargoLine",
    "ControlledParty",
    "DeadLetter",
    "Decision",
    "DecisionEvidence",
    "DecisionWarning",
    "ElementContent",
    "EndUse",
    "EventType",
    "IncompatibleUnitsError",
    "License",
    "LicenseKind",
    "LicenseStatus",
    "LicenseUsage",
    "LineDecision",
    "MatchKind",
    "Outcome",
    "Party",
    "PartyEffect",
    "PartyList",
    "PartyMatch",
    "PartyStatus",
    "Quantity",
    "Reason",
    "ReasonCode",
    "Review",
    "ReviewAction",
    "Reviewer",
    "ShipmentEvent",
    "SignedTreeHead",
    "SourceCoordinates",
    "StatusWindow",
    "Trigger",
    "Unit",
    "WarningCode",
    "convert",
    "utc_now",
]
