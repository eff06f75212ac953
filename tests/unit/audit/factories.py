"""Realistic decisions for the audit tests (built with the wire models, so they always validate)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import (
    CargoLine,
    Decision,
    DecisionEvidence,
    EndUse,
    EventType,
    License,
    LicenseKind,
    LicenseStatus,
    LicenseUsage,
    LineDecision,
    Outcome,
    Party,
    Quantity,
    Reason,
    ReasonCode,
    ShipmentEvent,
    Trigger,
    Unit,
)
from services.common.signing import KeyRing, Signer

DECISION_SIGNER = Signer(Ed25519PrivateKey.generate())
"""The screening side's key in tests: generated per test process, never stored."""
DECISION_KEYS = KeyRing([DECISION_SIGNER.public_key])
LOG_SIGNER = Signer(Ed25519PrivateKey.generate())
"""The audit log's key in tests."""
LOG_KEYS = KeyRing([LOG_SIGNER.public_key])

CATALOGUE_VERSION = "2026-11-29.1+sha256:" + "ab" * 32
BASE_TIME = datetime(2026, 3, 1, 8, 15, tzinfo=UTC)


def make_decision(
    n: int,
    *,
    shipment_id: str | None = None,
    exporter_id: str = "CN-EXP-0001",
    held: bool | None = None,
    supersedes: str | None = None,
) -> Decision:
    """The ``n``-th decision of a stream: every third one held for lack of a licence."""
    shipment_id = shipment_id or f"SHP-2026-{n:06d}"
    held = (n % 3 == 0) if held is None else held
    event = ShipmentEvent(
        event_id=f"evt-{n:08d}",
        event_type=EventType.DECLARED,
        occurred_at=BASE_TIME + timedelta(seconds=n),
        shipment_id=shipment_id,
        ship_date=date(2026, 3, 2),
        exporter=Party(id=exporter_id, name="Baotou Rare Earth Trading Co.", country="CN"),
        consignee=Party(id="DE-C-77", name="Magnetwerk GmbH", country="DE"),
        end_user=Party(id="DE-C-77", name="Magnetwerk GmbH", country="DE"),
        end_use=EndUse.CIVIL,
        destination_country="DE",
        lines=[
            CargoLine(
                line_no=1,
                hs_code="2846901940",
                description="Samarium oxide 99.9%",
                control_code="1C902.b",
                quantity=Decimal("500"),
                unit=Unit.KG,
                value=Decimal("182000.00"),
                currency="USD",
                origin_country="CN",
                purity_pct=Decimal("99.9"),
            )
        ],
        declared_licenses=[] if held else ["MOFCOM-GL-2025-0042"],
    )
    licence = License(
        license_id="MOFCOM-GL-2025-0042",
        kind=LicenseKind.GENERAL,
        holder_id=exporter_id,
        status=LicenseStatus.ACTIVE,
        valid_from=date(2025, 12, 2),
        valid_to=date(2026, 12, 1),
        control_codes=["1C902"],
        destinations=["DE", "US"],
        max_quantity=Quantity(amount=Decimal("2000"), unit=Unit.KG),
    )
    control_id = "CN-2025-18/1C902.b"
    code = ReasonCode.LICENSE_REQUIRED if held else ReasonCode.LICENSED
    outcome = Outcome.HOLD if held else Outcome.APPROVE
    line = LineDecision(
        line_no=1,
        outcome=outcome,
        controlled=True,
        control_ids=[control_id],
        license_id=None if held else licence.license_id,
        reasons=[code],
        consumed=None if held else Quantity(amount=Decimal("500"), unit=Unit.KG),
    )
    reason = Reason(
        code=code,
        line_no=1,
        control_id=control_id,
        legal_basis="MOFCOM/GAC Announcement 2025 No. 18",
        message="controlled rare-earth item" + ("" if held else ", covered by a licence"),
    )
    return Decision(
        decision_id=hashlib.sha256(f"{shipment_id}/{n}".encode()).hexdigest()[:32],
        shipment_id=shipment_id,
        event_id=event.event_id,
        exporter_id=exporter_id,
        outcome=outcome,
        lines=[line],
        reasons=[reason],
        catalogue_version=CATALOGUE_VERSION,
        trigger=Trigger.SHIPMENT_EVENT,
        supersedes=supersedes,
        decided_at=BASE_TIME + timedelta(seconds=n, milliseconds=123),
        ship_date=event.ship_date,
        evidence=DecisionEvidence(
            event=event,
            licenses=[] if held else [licence],
            license_usage=[] if held else [_usage(licence.license_id)],
        ),
    )


def _usage(license_id: str) -> LicenseUsage:
    used = Quantity(amount=Decimal("750.5"), unit=Unit.KG)
    return LicenseUsage(license_id=license_id, used=used, used_by_shipment="SHP-2026-000001")
