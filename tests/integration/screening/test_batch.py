"""The batch path: events of one batch compete for a capped licence; a repeat within the batch."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from deploy.local import RuntimeState
from schemas import Decision, Outcome, ReasonCode
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, licence, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_one_batch_competes_for_a_cap_and_repeats_an_event(
    pipeline: Pipeline, runtime: RuntimeState
) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    capped = licence(exporter, cap="250")
    await pipeline.publish_licences(capped)
    events = [event(exporter, samarium_kg="100") for _ in range(5)]
    # All on one partition (keyed by exporter) and published before the service starts: one batch.
    await pipeline.publish_events([*events[:2], events[0], *events[2:]])
    async with running(pipeline) as service:
        out = await pipeline.decisions(until=lambda ds: len(ds) >= 6)
    assert service._consumer is not None
    assert service._consumer.batches == 1
    assert len(out) == 6
    by_event: dict[str, list[Decision]] = {}
    for d in out:
        by_event.setdefault(d.event_id, []).append(d)
    repeated = by_event[events[0].event_id]
    assert len(repeated) == 2
    assert repeated[0].model_dump_json() == repeated[1].model_dump_json()  # same decision
    outcomes = [by_event[e.event_id][0].outcome for e in events]  # in offset order
    assert outcomes == [Outcome.APPROVE] * 2 + [Outcome.HOLD] * 3
    for e in events[2:]:
        assert ReasonCode.LICENSE_EXHAUSTED in {r.code for r in by_event[e.event_id][0].reasons}
    conn = await asyncpg.connect(runtime.dsn("admin"))
    try:
        rows = await conn.fetch(
            "SELECT shipment_id, amount FROM screening.consumption WHERE license_id = $1",
            capped.license_id,
        )
    finally:
        await conn.close()
    assert sorted(r["shipment_id"] for r in rows) == sorted(e.shipment_id for e in events[:2])
    assert sum(r["amount"] for r in rows) == Decimal(200)
