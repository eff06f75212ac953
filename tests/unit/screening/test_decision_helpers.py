"""Pure helpers around decisions: what a decision consumes, what a re-screen changed, tail."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from schemas import Decision, DecisionWarning, License, ShipmentEvent, WarningCode
from services.screening.catalogue import Catalogue
from services.screening.engine import UsageByOthers, decide
from services.screening.running_usage import consumption_of
from services.screening.sample_stream import generate_events, sample_licences
from services.screening.screener import same_substance
from services.screening.tail import matches, render
from tests.integration.screening.catalogues import SAMARIUM_HS, controls_catalogue


def _samarium_event(kg: str = "100") -> ShipmentEvent:
    raw = json.loads(generate_events(1, seed=5)[0].model_dump_json())
    line = raw["lines"][0] | {
        "hs_code": SAMARIUM_HS,
        "quantity": kg,
        "unit": "kg",
        "purity_pct": "99.9",
        "control_code": None,
    }
    raw |= {"lines": [line], "destination_country": "DE", "end_use": "civil"}
    return ShipmentEvent.model_validate(raw)


def _licence(holder: str) -> License:
    today = datetime.now(UTC).date()
    return License.model_validate(
        {
            "license_id": "L-1",
            "kind": "general",
            "holder_id": holder,
            "status": "active",
            "valid_from": today - timedelta(days=1),
            "valid_to": today + timedelta(days=99),
            "hs_codes": ["2846"],
            "max_quantity": {"amount": "1", "unit": "t"},
        }
    )


def _decide(catalogue: Catalogue, licensed: bool = False) -> Decision:
    event = _samarium_event()
    licences = [_licence(event.exporter.id)] if licensed else []
    return decide(event, catalogue, licences, UsageByOthers.empty(), decided_at=datetime.now(UTC))


def test_an_approval_consumes_in_the_cap_unit_and_a_hold_consumes_nothing() -> None:
    held = _decide(controls_catalogue())
    approved = _decide(controls_catalogue(), licensed=True)
    assert consumption_of(held) == {}
    consumed = consumption_of(approved)
    assert list(consumed) == ["L-1"]
    ((_, amount, unit),) = consumed["L-1"]
    assert (amount, unit.value) == (Decimal("0.1"), "t")


def test_a_rescreen_that_changes_nothing_is_not_news() -> None:
    held = _decide(controls_catalogue())
    again = _decide(controls_catalogue(label="2026-02-01.1"))
    approved = _decide(controls_catalogue(), licensed=True)
    assert same_substance(held, again)
    assert not same_substance(held, approved)


def test_a_warning_that_comes_or_goes_is_news() -> None:
    """A hold whose measure status an announcement confirms (its warning gone) is re-emitted."""
    held = _decide(controls_catalogue())
    warning = DecisionWarning(
        code=WarningCode.MEASURE_STATUS_UNCONFIRMED, control_id="CN-2025-18/1C902.b", message="m"
    )
    warned = held.model_copy(update={"warnings": [warning]})
    assert not same_substance(warned, held)
    assert same_substance(warned, warned.model_copy())


def test_tail_renders_outcome_reasons_and_legal_basis() -> None:
    held = _decide(controls_catalogue())
    text = render(held).plain
    assert "HOLD" in text
    assert "LICENSE_REQUIRED" in text
    assert "MOFCOM/GAC Announcement 2025 No. 18" in text
    assert matches(held, None, "hold")
    assert not matches(held, "someone-else", None)


def test_sample_stream_is_reproducible_and_varied() -> None:
    first, second = generate_events(300, seed=11), generate_events(300, seed=11)
    assert [e.event_id for e in first] == [e.event_id for e in second]
    assert {e.event_type.value for e in first} == {
        "shipment.declared",
        "shipment.amended",
        "shipment.cancelled",
    }
    assert len({e.event_id for e in first}) < len(first)  # ERP retries are in the stream
    assert all(lic.valid_from <= date.today() + timedelta(days=1) for lic in sample_licences())
