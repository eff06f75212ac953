"""Lodestone's wire models (CONTRACT.md v1): the single source of truth for every topic's format."""

from schemas.dead_letter import DeadLetter, SourceCoordinates
from schemas.decision import (
    Decision,
    DecisionEvidence,
    LicenseUsage,
    LineDecision,
    Outcome,
    Reason,
    ReasonCode,
    Trigger,
    utc_now,
)
from schemas.license import License, LicenseKind, LicenseStatus
from schemas.quantity import IncompatibleUnitsError, Quantity, Unit, convert
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
    "DeadLetter",
    "Decision",
    "DecisionEvidence",
    "ElementContent",
    "EndUse",
    "EventType",
    "IncompatibleUnitsError",
    "License",
    "LicenseKind",
    "LicenseStatus",
    "LicenseUsage",
    "LineDecision",
    "Outcome",
    "Party",
    "Quantity",
    "Reason",
    "ReasonCode",
    "ShipmentEvent",
    "SignedTreeHead",
    "SourceCoordinates",
    "Trigger",
    "Unit",
    "convert",
    "utc_now",
]
