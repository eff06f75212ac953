"""Shipments in, decisions out: every kind of event, duplicates, compression, cancellations."""

from __future__ import annotations

import time

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from schemas import Decision, EndUse, EventType, Outcome, ReasonCode, Trigger
from services.common.kafka_security import kafka_client_options
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, licence, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _codes(decision: Decision) -> set[ReasonCode]:
    return {r.code for r in decision.reasons}


async def test_every_kind_of_event_gets_one_decision(pipeline: Pipeline) -> None:
    exporter = pipeline.exporter()
    await pipeline.publish_catalogue(controls_catalogue())
    licensed = licence(exporter, cap="1000")
    await pipeline.publish_licences(licensed)
    declared = event(exporter, samarium_kg="100", copper_t="3")
    uncontrolled = event(exporter, samarium_kg=None, copper_t="5")
    military = event(exporter, end_use=EndUse.MILITARY)
    amended = event(
        exporter, shipment_id=declared.shipment_id, samarium_kg="250", event_type=EventType.AMENDED
    )
    cancelled = event(
        exporter, shipment_id=uncontrolled.shipment_id, event_type=EventType.CANCELLED
    )
    events = [declared, uncontrolled, military, amended, cancelled, declared]  # last: duplicate
    async with running(pipeline) as service:
        await pipeline.publish_events(events)
        out = await pipeline.decisions(until=lambda ds: len(ds) >= len(events))
        assert service.ledger is not None
    by_event: dict[str, list[Decision]] = {}
    for d in out:
        by_event.setdefault(d.event_id, []).append(d)
    assert set(by_event) == {e.event_id for e in events}
    assert {len({d.decision_id for d in ds}) for ds in by_event.values()} == {1}
    first = by_event[declared.event_id][0]
    assert first.outcome is Outcome.APPROVE
    assert first.lines[0].license_id == licensed.license_id
    assert by_event[uncontrolled.event_id][0].outcome is Outcome.APPROVE
    assert ReasonCode.PROHIBITED_END_USE in _codes(by_event[military.event_id][0])
    amendment = by_event[amended.event_id][0]
    assert amendment.supersedes == first.decision_id
    assert amendment.outcome is Outcome.APPROVE
    cancellation = by_event[cancelled.event_id][0]
    assert cancellation.outcome is Outcome.HOLD
    assert ReasonCode.SHIPMENT_CANCELLED in _codes(cancellation)
    assert all(d.trigger is Trigger.SHIPMENT_EVENT for d in out)


@pytest.mark.parametrize("compression", ["gzip", "snappy", "lz4", "zstd"])
async def test_compressed_input_is_read(pipeline: Pipeline, compression: str) -> None:
    exporter = pipeline.exporter()
    await pipeline.publish_catalogue(controls_catalogue())
    events = [event(exporter, samarium_kg=None, copper_t=str(n + 1)) for n in range(20)]
    async with running(pipeline):
        await pipeline.publish_events(events, compression=compression)
        out = await pipeline.decisions(until=lambda ds: len(ds) >= len(events))
    assert {d.event_id for d in out} == {e.event_id for e in events}
    assert all(d.outcome is Outcome.APPROVE for d in out)


async def test_decision_records_carry_key_and_headers(pipeline: Pipeline) -> None:
    """Key = shipment id; ``content-type`` JSON and the decision id as ``correlation_id``."""
    exporter = pipeline.exporter()
    await pipeline.publish_catalogue(controls_catalogue())
    events = [event(exporter, samarium_kg=None, copper_t=str(n + 1)) for n in range(5)]
    consumer = AIOKafkaConsumer(
        pipeline.settings.topic_decisions,
        bootstrap_servers=pipeline.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_client_options(),
    )
    raw: list[ConsumerRecord] = []
    async with running(pipeline):
        await pipeline.publish_events(events)
        await consumer.start()
        try:
            deadline = time.monotonic() + 30
            while len(raw) < len(events) and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                raw += [r for rs in batch.values() for r in rs]
        finally:
            await consumer.stop()
    assert len(raw) == len(events)
    for r in raw:
        decision = Decision.model_validate_json(r.value)
        assert r.key == decision.shipment_id.encode()
        headers = dict(r.headers)
        assert headers["content-type"] == b"application/json"
        assert headers["correlation_id"] == decision.decision_id.encode()
