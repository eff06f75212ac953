"""On the real broker and database: open holds and licence utilisation are read from the ledger,
and every screening metric the Grafana dashboard queries is in the running service's scrape."""

from __future__ import annotations

import pytest

from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, licence, running
from tests.unit.foundation.test_grafana_dashboard import expressions, metrics_in
from tests.unit.screening.test_health_server import _get

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


async def test_holds_utilisation_and_the_dashboards_metrics(pipeline: Pipeline) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    capped, uncapped = licence(exporter, cap="250"), licence(pipeline.exporter(2))
    await pipeline.publish_licences(capped, uncapped)
    events = [event(exporter, samarium_kg="100") for _ in range(5)]
    await pipeline.publish_events(events)
    async with running(pipeline) as service:
        await pipeline.decisions(until=lambda ds: len(ds) >= 5)
        assert service.ledger is not None
        gauges = service.ledger_gauges
        await gauges.refresh(
            service.ledger.pool, service.ledger.source_topic, service.reference.licences.values()
        )
        assert gauges.open_holds._value.get() == 3  # 2 x 100 kg fit the 250 kg cap
        assert gauges.utilisation.labels(capped.license_id)._value.get() == pytest.approx(0.8)
        status, scrape = await _get(service.health.port, "/metrics")
    assert status == 200
    assert "lodestone_screening_open_holds 3.0" in scrape
    assert (
        f'lodestone_screening_licence_utilisation_ratio{{licence="{uncapped.license_id}"'
        not in scrape
    )
    exposed = {line.split()[2] for line in scrape.splitlines() if line.startswith("# TYPE ")} | {
        line.split("{")[0].split()[0] for line in scrape.splitlines() if line and line[0] != "#"
    }
    queried = {
        m for e in expressions() for m in metrics_in(e) if m.startswith("lodestone_screening")
    }
    missing = {
        m
        for m in queried
        if m not in exposed
        and m.removesuffix("_total") not in exposed
        and m.removesuffix("_bucket") not in exposed
    }
    assert not missing, missing
