"""The batch path: events of one batch compete for a capped licence; a repeat within the batch."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from deploy.local import RuntimeState
from schemas import Decision, EventType, Outcome, ReasonCode
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


async def test_small_batches_give_the_one_by_one_outcome(
    pipeline: Pipeline, runtime: RuntimeState
) -> None:
    """Batches of two, with two batches in delivery while the next is decided (ADR 0025):
    amendments, a cancellation and a repeat across batches, on one capped licence; the outcome
    is what deciding the events one by one in offset order gives."""
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    await pipeline.publish_licences(licence(exporter, cap="300"))
    a, b, c, d = (f"SHP-{pipeline.tag}-{n}" for n in "ABCD")
    events = [
        event(exporter, shipment_id=a, samarium_kg="100"),  # approve, 100 used
        event(exporter, shipment_id=b, samarium_kg="100"),  # approve, 200
        event(exporter, shipment_id=c, samarium_kg="100"),  # approve, 300
        event(exporter, shipment_id=d, samarium_kg="100"),  # hold: exhausted
        event(exporter, shipment_id=a, samarium_kg="50", event_type=EventType.AMENDED),  # 250
        event(exporter, samarium_kg="50"),  # approve, 300
        event(exporter, shipment_id=b, event_type=EventType.CANCELLED),  # releases 100: 200
        event(exporter, samarium_kg="100"),  # approve, 300
        event(exporter, shipment_id=d, samarium_kg="100", event_type=EventType.AMENDED),  # hold
        event(exporter, shipment_id=c, samarium_kg="40", event_type=EventType.AMENDED),  # 240
        event(exporter, samarium_kg="60"),  # approve, 300
    ]
    repeat = events[5]
    await pipeline.publish_events([*events, repeat])
    async with running(pipeline, batch_max_records=2) as service:
        out = await pipeline.decisions(until=lambda ds: len(ds) >= len(events) + 1)
    assert service._consumer is not None
    assert service._consumer.batches == 6
    by_event: dict[str, list[Decision]] = {}
    for emitted in out:  # keyed by shipment: partitions of the decisions topic interleave
        by_event.setdefault(emitted.event_id, []).append(emitted)
    assert len(by_event) == len(events)
    first = [by_event[e.event_id][0] for e in events]
    approve, hold = Outcome.APPROVE, Outcome.HOLD
    assert [x.outcome for x in first] == [
        approve, approve, approve, hold, approve, approve, hold, approve, hold, approve, approve
    ]  # fmt: skip
    again = by_event[repeat.event_id]
    assert len(again) == 2
    assert again[0].model_dump_json() == again[1].model_dump_json()  # the repeat: same decision
    latest: dict[str, str] = {}
    for decision in first:  # in offset order, each supersedes its shipment's previous decision
        assert decision.supersedes == latest.get(decision.shipment_id)
        latest[decision.shipment_id] = decision.decision_id
    conn = await asyncpg.connect(pipeline.settings.database_url)
    try:
        used = await conn.fetchval(
            "SELECT sum(amount) FROM screening.consumption WHERE shipment_id = ANY($1::text[])",
            list(latest),
        )
    finally:
        await conn.close()
    assert used == Decimal("300")
