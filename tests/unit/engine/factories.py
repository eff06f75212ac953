"""Builders for shipment events and licences in engine tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas import Decision, License, ShipmentEvent
from services.screening.catalogue import Catalogue, load_bundled_catalogue
from services.screening.engine import UsageByOthers, decide

DECIDED_AT = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
EXPORTER = "CN-EXP-0001"


def line(
    description: str,
    hs_code: str,
    *,
    line_no: int = 1,
    quantity: str = "100",
    unit: str = "kg",
    origin: str = "CN",
    **facts: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "line_no": line_no,
        "hs_code": hs_code,
        "description": description,
        "quantity": quantity,
        "unit": unit,
        "value": "1000.00",
        "currency": "USD",
        "origin_country": origin,
    }
    data.update(facts)
    return data


def event(
    *lines: dict[str, Any],
    ship_date: str = "2026-03-02",
    destination: str = "DE",
    end_use: str = "civil",
    end_user: str = "DE-C-77",
    end_user_country: str | None = None,
    exporter_country: str = "CN",
    shipment_id: str = "SHP-1",
    event_id: str = "EVT-1",
    event_type: str = "shipment.declared",
    declared: list[str] | None = None,
    occurred_on: str | None = None,
    occurred_at: str | None = None,
    export_country: str | None = None,
) -> ShipmentEvent:
    """A shipment event; it occurs the day before its ship date unless ``occurred_on`` (a date,
    08:15 in Shanghai) or ``occurred_at`` (an RFC 3339 time) says otherwise."""
    occurred = occurred_on or str(date.fromisoformat(ship_date) - timedelta(days=1))
    extra = {"export_country": export_country} if export_country else {}
    return ShipmentEvent.model_validate(
        {
            **extra,
            "event_id": event_id,
            "event_type": event_type,
            "occurred_at": occurred_at or f"{occurred}T08:15:00+08:00",
            "shipment_id": shipment_id,
            "ship_date": ship_date,
            "exporter": {"id": EXPORTER, "name": "Exporter", "country": exporter_country},
            "consignee": {"id": end_user, "name": "Consignee", "country": destination},
            "end_user": {
                "id": end_user,
                "name": "End user",
                "country": end_user_country or destination,
            },
            "end_use": end_use,
            "destination_country": destination,
            "lines": list(lines),
            "declared_licenses": declared or [],
        }
    )


def licence(
    license_id: str = "LIC-1",
    *,
    kind: str = "general",
    status: str = "active",
    valid_from: str = "2025-01-01",
    valid_to: str = "2027-12-31",
    control_codes: list[str] | None = None,
    hs_codes: list[str] | None = None,
    destinations: list[str] | None = None,
    end_users: list[str] | None = None,
    cap: tuple[str, str] | None = None,
    holder: str = EXPORTER,
) -> License:
    data: dict[str, Any] = {
        "license_id": license_id,
        "kind": kind,
        "holder_id": holder,
        "status": status,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "control_codes": control_codes or [],
        "hs_codes": hs_codes or [],
        "destinations": destinations or [],
        "end_users": end_users or [],
    }
    if cap is not None:
        data["max_quantity"] = {"amount": cap[0], "unit": cap[1]}
    return License.model_validate(data)


def screen(
    shipment: ShipmentEvent,
    licences: list[License] | None = None,
    usage: UsageByOthers | None = None,
    catalogue: Catalogue | None = None,
) -> Decision:
    return decide(
        shipment,
        catalogue or load_bundled_catalogue(),
        licences or [],
        usage or UsageByOthers.empty(),
        decided_at=DECIDED_AT,
    )


def codes(decision: Decision, line_no: int = 1) -> list[str]:
    for line_decision in decision.lines:
        if line_decision.line_no == line_no:
            return [str(code) for code in line_decision.reasons]
    raise AssertionError(f"no line {line_no}")


def as_of(day: str) -> date:
    return date.fromisoformat(day)


__all__ = ["DECIDED_AT", "Decimal", "as_of", "codes", "event", "licence", "line", "screen"]
