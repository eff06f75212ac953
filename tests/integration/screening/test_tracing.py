"""On the real broker: a shipment's trace runs from the ERP's record through intake, decide,
settle and publish to the decision record's headers and the audit service's write."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deploy.local import RuntimeState
from services.audit.retry import Backoff
from services.audit.service import AuditService, ServiceOptions
from services.common.kafka_security import kafka_client_options
from services.common.migrations import SERVICES_DIR, apply_migrations
from services.common.settings import Settings
from services.common.signing import KeyRing
from services.common.tracing import configure_tracing, shutdown_tracing
from tests.integration.audit.conftest import fresh_database
from tests.integration.screening.catalogues import controls_catalogue
from tests.integration.screening.conftest import Pipeline, event, running
from tests.unit.audit.factories import LOG_SIGNER

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01".encode()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing("lodestone-test", environ={}, exporter=exporter)
    try:
        yield exporter
    finally:
        shutdown_tracing()


async def _publish(pipeline: Pipeline, records: list[tuple[bytes, bytes, list[Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.bootstrap, **kafka_client_options())
    await producer.start()
    try:
        acks = [
            await producer.send(pipeline.settings.topic_shipments, value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def _headers_by_event(
    topic: str, pipeline: Pipeline, count: int
) -> dict[str, dict[str, bytes]]:
    """event_id (decisions) or offset (dead letters) -> the record's headers."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=pipeline.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        **kafka_client_options(),
    )
    await consumer.start()
    out: dict[str, dict[str, bytes]] = {}
    deadline = time.monotonic() + 30
    try:
        while len(out) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    body = json.loads(record.value)
                    name = body.get("event_id") or body.get("error_type")
                    out[name] = dict(record.headers)
    finally:
        await consumer.stop()
    return out


def _by_trace(spans: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [
        s
        for s in spans.get_finished_spans()
        if s.context is not None and format(s.context.trace_id, "032x") == trace_id
    ]


@contextlib.asynccontextmanager
async def _audit(runtime: RuntimeState, pipeline: Pipeline) -> AsyncIterator[AuditService]:
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        service = AuditService(
            ServiceOptions(
                bootstrap=runtime.kafka_bootstrap,
                dsn=db.dsn("audit"),
                decisions_topic=pipeline.settings.topic_decisions,
                controls_topic=pipeline.settings.topic_controls,
                # the runtime's decision key: screening signs with it; a test key signs the log
                decision_keys=KeyRing.from_files(Settings().decision_public_keys()),
                log_signer=LOG_SIGNER,
                group_id=f"audit-trace-{uuid.uuid4().hex[:8]}",
                metrics_port=0,
                backoff=Backoff(initial=0.1, maximum=1.0),
            )
        )
        task = asyncio.create_task(service.run())
        try:
            yield service
        finally:
            service.stop()
            await asyncio.wait_for(task, timeout=30)


async def _until(condition: Any, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_shipment_is_followed_from_publish_to_audit(
    pipeline: Pipeline, runtime: RuntimeState, spans: InMemorySpanExporter
) -> None:
    await pipeline.publish_catalogue(controls_catalogue())
    exporter = pipeline.exporter()
    traced, untraced = event(exporter), event(exporter, samarium_kg=None, copper_t="1")
    key = exporter.id.encode()
    async with running(pipeline):
        await _publish(
            pipeline,
            [
                (key, traced.model_dump_json().encode(), [("traceparent", PARENT)]),
                (key, untraced.model_dump_json().encode(), []),
                (key, b"{not json", [("traceparent", PARENT)]),
            ],
        )
        headers = await _headers_by_event(pipeline.settings.topic_decisions, pipeline, 2)
        letters = await _headers_by_event(pipeline.settings.topic_dead_letters, pipeline, 1)
        async with _audit(runtime, pipeline):
            await _until(lambda: any(s.name == "audit write" for s in _by_trace(spans, TRACE_ID)))
    # the decision record continues the ERP's trace; a record without one starts its own
    assert headers[traced.event_id]["traceparent"].split(b"-")[1].decode() == TRACE_ID
    new_trace = headers[untraced.event_id]["traceparent"].split(b"-")[1].decode()
    assert new_trace != TRACE_ID
    assert letters["invalid_json"]["traceparent"].split(b"-")[1].decode() == TRACE_ID
    names = [s.name for s in _by_trace(spans, TRACE_ID)]
    for step in ("screening shipment", "intake", "decide", "settle", "publish", "audit write"):
        assert step in names, (step, names)
    # the dead letter's trace has intake and publish, but nothing was decided for it
    assert names.count("screening shipment") == 2
    assert names.count("decide") == 1
    audit = next(s for s in _by_trace(spans, TRACE_ID) if s.name == "audit write")
    assert audit.attributes is not None
    assert audit.attributes["lodestone.shipment_id"] == traced.shipment_id
    assert {"screening shipment", "decide"} <= {s.name for s in _by_trace(spans, new_trace)}
