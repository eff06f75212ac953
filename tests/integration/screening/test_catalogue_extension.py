"""An announced extension of a suspension is a one-line catalogue change; publishing it
re-decides exactly the open decisions that rested on the assumed status, on real Kafka and
PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources

import pytest
from prometheus_client import generate_latest

from schemas import CargoLine, Outcome, Party, ReasonCode, ShipmentEvent, Trigger
from services.screening.app import ScreeningService
from services.screening.catalogue import Catalogue, load_bundled_catalogue, parse_catalogue_yaml
from services.screening.catalogue.loading import BUNDLED_CATALOGUE
from tests.integration.screening.conftest import Pipeline, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

CONFIRMED_THROUGH = 'oct2025_suspension_end: &oct2025_end "2026-11-10"'


def extended_to(day: date) -> Catalogue:
    """The bundled catalogue with the October 2025 suspension extended to ``day``: the one
    changed fact line, plus the label."""
    text = (
        resources.files("services.screening.catalogue.data")
        .joinpath(BUNDLED_CATALOGUE)
        .read_text(encoding="utf-8")
    )
    assert text.count(CONFIRMED_THROUGH) == 1
    changed = text.replace(CONFIRMED_THROUGH, f'oct2025_suspension_end: &oct2025_end "{day}"')
    label = f'label: "{load_bundled_catalogue().label}"'
    return parse_catalogue_yaml(changed.replace(label, 'label: "2099-01-01.1"'), "extended")


def _metrics(service: ScreeningService) -> str:
    return generate_latest(service.metrics.registry).decode()


def shipment(exporter: Party, description: str, hs_code: str, ship_date: date) -> ShipmentEvent:
    customer = Party(id="KR-C-5", name="Hanbit Materials", country="KR")
    return ShipmentEvent(
        event_id=uuid.uuid4().hex,
        event_type="shipment.declared",
        occurred_at=datetime.now(UTC),
        shipment_id=f"SHP-{uuid.uuid4().hex[:12]}",
        ship_date=ship_date,
        exporter=exporter,
        consignee=customer,
        end_user=customer,
        end_use="civil",
        destination_country="KR",
        lines=[
            CargoLine(
                line_no=1,
                hs_code=hs_code,
                description=description,
                quantity=Decimal("50"),
                unit="kg",
                value=Decimal("5000"),
                currency="USD",
                origin_country="CN",
            )
        ],
    )


async def test_extension_redecides_exactly_the_assumed_holds(pipeline: Pipeline) -> None:
    ship_date = datetime.now(UTC).date() + timedelta(days=5)
    assert ship_date > date(2026, 11, 10), "the window must have ended for this test"
    bundled = load_bundled_catalogue()
    await pipeline.publish_catalogue(bundled)
    exporter = pipeline.exporter()
    holmium = shipment(exporter, "Holmium oxide", "2846901990", ship_date)
    dysprosium = shipment(exporter, "Dysprosium oxide", "2846901993", ship_date)
    copper = shipment(exporter, "Copper cathodes", "7403110000", ship_date)
    async with running(pipeline) as service:
        assert any("CN-2025-57:" in line for line in service.readiness_detail())
        assert 'measure="CN-2025-57"' in _metrics(service)
        await pipeline.publish_events([holmium, dysprosium, copper])
        first = await pipeline.decisions(until=lambda ds: len(ds) >= 3)
        by_shipment = {d.shipment_id: d for d in first}
        ho = by_shipment[holmium.shipment_id]
        assert ho.outcome is Outcome.HOLD
        assert [w.control_id for w in ho.warnings] == ["CN-2025-57/1C909.b"]
        assert by_shipment[dysprosium.shipment_id].warnings == []
        assert by_shipment[copper.shipment_id].outcome is Outcome.APPROVE

        extended = extended_to(ship_date + timedelta(days=365))
        await pipeline.publish_catalogue(extended)
        await pipeline.decisions(until=lambda ds: len(ds) >= 4)
        await asyncio.sleep(3.0)  # anything else the change would wrongly re-emit
        assert service.reference.require_catalogue().version == extended.version
        assert not any("CN-2025-57:" in line for line in service.readiness_detail())
        assert any("CN-2024-46/Art.2:" in line for line in service.readiness_detail())
        unconfirmed = [
            line
            for line in _metrics(service).splitlines()
            if line.startswith("lodestone_screening_unconfirmed_measures{")
        ]
        assert not any('measure="CN-2025-57"' in line for line in unconfirmed)
        assert service.is_ready()
    final = await pipeline.decisions(until=lambda ds: False, wait_s=2.0)
    assert len(final) == 4, [(d.shipment_id, d.trigger) for d in final]
    # decisions are read across partitions, in no set order: pick the re-decision by trigger
    (redecided,) = [d for d in final if d.trigger is Trigger.CATALOGUE_CHANGE]
    assert redecided.shipment_id == holmium.shipment_id
    assert redecided.trigger is Trigger.CATALOGUE_CHANGE
    assert redecided.supersedes == ho.decision_id
    assert redecided.catalogue_version == extended.version
    assert redecided.outcome is Outcome.APPROVE
    assert [r.code for r in redecided.reasons] == [ReasonCode.MEASURE_SUSPENDED]
    assert redecided.reasons[0].legal_basis == "MOFCOM/GAC Announcement 2025 No. 57"
    assert redecided.warnings == []
