"""The wire models accept the contract's examples and reject bad input with the field named."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    DeadLetter,
    EventType,
    IncompatibleUnitsError,
    License,
    Quantity,
    ReasonCode,
    ShipmentEvent,
    Unit,
    convert,
)
from schemas.json_schema import JSON_DIR, WIRE_MODELS, render
from schemas.strict_json import loads_strict

CONTRACT_EVENT: dict[str, Any] = {
    "event_id": "0f8e6c1a",
    "event_type": "shipment.declared",
    "occurred_at": "2026-03-01T08:15:00+08:00",
    "shipment_id": "SHP-2026-000123",
    "ship_date": "2026-03-02",
    "exporter": {"id": "CN-EXP-0001", "name": "Baotou Rare Metals", "country": "CN"},
    "consignee": {"id": "DE-C-77", "name": "Autowerk GmbH", "country": "DE"},
    "end_user": {"id": "DE-C-77", "name": "Autowerk GmbH", "country": "DE"},
    "end_use": "civil",
    "destination_country": "DE",
    "lines": [
        {
            "line_no": 1,
            "hs_code": "2846.90.19.40",
            "description": "Samarium oxide 99.9%",
            "control_code": "1C902.b",
            "quantity": "500",
            "unit": "kg",
            "value": Decimal("182000.00"),  # the JSON number 182000.00, read exactly
            "currency": "USD",
            "origin_country": "CN",
            "purity_pct": "99.9",
            "composition": [{"element": "Dy", "mass_pct": "4.5"}],
            "properties": {"density_g_cm3": "1.8"},
        }
    ],
    "declared_licenses": ["MOFCOM-GL-2025-0042"],
}

CONTRACT_LICENSE: dict[str, Any] = {
    "license_id": "MOFCOM-GL-2025-0042",
    "kind": "general",
    "holder_id": "CN-EXP-0001",
    "status": "active",
    "valid_from": "2025-12-02",
    "valid_to": "2026-12-01",
    "control_codes": ["1C904", "1C905.a"],
    "hs_codes": [],
    "destinations": ["US", "DE"],
    "end_users": ["US-C-12"],
    "max_quantity": {"amount": "2000", "unit": "kg"},
}


def _event(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(CONTRACT_EVENT)
    event.update(changes)
    return event


def _line(**changes: Any) -> dict[str, Any]:
    line: dict[str, Any] = copy.deepcopy(CONTRACT_EVENT["lines"][0])
    line.update(changes)
    return line


def _error_locations(exc: ValidationError) -> list[str]:
    return [".".join(str(part) for part in error["loc"]) for error in exc.errors()]


def test_contract_example_event_parses_with_normalised_values() -> None:
    event = ShipmentEvent.model_validate(CONTRACT_EVENT)
    line = event.lines[0]
    assert event.event_type is EventType.DECLARED
    assert line.hs_code == "2846901940"
    assert line.quantity == Decimal("500")
    assert isinstance(line.value, Decimal)
    assert line.element_pct("Dy") == Decimal("4.5")
    assert line.element_pct("Tb") is None
    assert line.property_value("density_g_cm3") == Decimal("1.8")


def test_json_numbers_become_exact_decimals() -> None:
    raw = ShipmentEvent.model_validate(CONTRACT_EVENT).model_dump_json()
    raw = raw.replace('"purity_pct":"99.9"', '"purity_pct":99.9')
    assert ShipmentEvent.model_validate(loads_strict(raw)).lines[0].purity_pct == Decimal("99.9")


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"destination_country": "XX"}, "destination_country"),
        ({"occurred_at": "2026-03-01T08:15:00"}, "occurred_at"),
        ({"end_use": "peaceful"}, "end_use"),
        ({"event_type": "shipment.exploded"}, "event_type"),
        ({"lines": [_line(hs_code="28469")]}, "lines.0.hs_code"),
        ({"lines": [_line(currency="USX")]}, "lines.0.currency"),
        ({"lines": [_line(quantity="-1")]}, "lines.0.quantity"),
        ({"lines": [_line(quantity="NaN")]}, "lines.0.quantity"),
        ({"lines": [_line(unit="lb")]}, "lines.0.unit"),
        ({"lines": [_line(purity_pct="100.5")]}, "lines.0.purity_pct"),
        (
            {"lines": [_line(composition=[{"element": "Xy", "mass_pct": "1"}])]},
            "lines.0.composition.0.element",
        ),
        ({"lines": [_line(purity="99")]}, "lines.0.purity"),
    ],
)
def test_invalid_fields_are_named(changes: dict[str, Any], location: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ShipmentEvent.model_validate(_event(**changes))
    assert location in _error_locations(caught.value)


def test_duplicate_line_numbers_are_refused() -> None:
    with pytest.raises(ValidationError, match="line_no must be unique"):
        ShipmentEvent.model_validate(_event(lines=[_line(), _line()]))


def test_more_than_500_lines_is_refused() -> None:
    lines = [_line(line_no=n) for n in range(1, 502)]
    with pytest.raises(ValidationError) as caught:
        ShipmentEvent.model_validate(_event(lines=lines))
    assert "lines" in _error_locations(caught.value)


def test_declared_event_needs_lines_but_cancellation_does_not() -> None:
    with pytest.raises(ValidationError, match="at least one line"):
        ShipmentEvent.model_validate(_event(lines=[]))
    cancelled = ShipmentEvent.model_validate(
        {k: v for k, v in _event(event_type="shipment.cancelled").items() if k != "lines"}
    )
    assert cancelled.lines == []


def test_contract_license_parses_and_single_licence_needs_a_cap() -> None:
    licence = License.model_validate(CONTRACT_LICENSE)
    assert licence.max_quantity == Quantity(amount=Decimal(2000), unit=Unit.KG)
    single = dict(CONTRACT_LICENSE, kind="single", max_quantity=None)
    with pytest.raises(ValidationError, match="max_quantity"):
        License.model_validate(single)
    with pytest.raises(ValidationError, match="valid_to"):
        License.model_validate(dict(CONTRACT_LICENSE, valid_to="2025-01-01"))
    with pytest.raises(ValidationError, match="item scope"):
        License.model_validate(dict(CONTRACT_LICENSE, control_codes=[], hs_codes=[]))


def test_unit_conversion_is_exact_and_never_mixes_pieces_with_mass() -> None:
    assert convert(Decimal("1.5"), Unit.T, Unit.KG) == Decimal(1500)
    assert convert(Decimal("1"), Unit.G, Unit.T) == Decimal("0.000001")
    assert convert(Decimal("0.1"), Unit.KG, Unit.G) + convert(
        Decimal("0.2"), Unit.KG, Unit.G
    ) == Decimal(300)
    with pytest.raises(IncompatibleUnitsError):
        convert(Decimal(1), Unit.PCS, Unit.KG)


def test_reason_codes_imply_outcomes() -> None:
    assert ReasonCode.LICENSED.outcome.value == "approve"
    assert ReasonCode.INSUFFICIENT_DATA.outcome.value == "hold"
    assert ReasonCode.SHIPMENT_CANCELLED.outcome.value == "hold"


def test_dead_letter_round_trips_original_bytes() -> None:
    letter = DeadLetter.model_validate(
        {
            "error": "bad",
            "error_type": "invalid_json",
            "source": {"topic": "shipments.v1", "partition": 0, "offset": 7, "key": None},
            "payload_base64": "AP8=",
            "failed_at": "2026-01-01T00:00:00Z",
        }
    )
    assert letter.original_payload() == b"\x00\xff"


@pytest.mark.parametrize("name", sorted(WIRE_MODELS))
def test_committed_json_schemas_are_current(name: str) -> None:
    committed = (JSON_DIR / name).read_text(encoding="utf-8")
    assert committed == render(WIRE_MODELS[name]), "run: python -m schemas.json_schema"


def test_v1_additions_are_optional_and_hold_where_the_contract_says() -> None:
    """v1 additions: new reason codes hold; ``export_country`` defaults to the exporter's."""
    from schemas import DecisionWarning, WarningCode

    assert ReasonCode.SHIP_DATE_IMPLAUSIBLE.outcome.value == "hold"
    assert ReasonCode.DECLARATION_MISMATCH.outcome.value == "hold"
    warning = DecisionWarning(code=WarningCode.MEASURE_STATUS_UNCONFIRMED, message="m")
    assert warning.model_dump()["code"] == "MEASURE_STATUS_UNCONFIRMED"
