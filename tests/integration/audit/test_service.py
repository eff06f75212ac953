"""The audit service end to end: Kafka in, exactly one record per decision, chain intact."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from deploy.local import RuntimeConfig, RuntimeState
from deploy.local import postgres as local_postgres
from services.audit.catalogue_keys import catalogue_key
from services.audit.retry import Backoff
from services.audit.service import AuditService, ServiceOptions
from services.audit.verify import verify_chain
from services.common.kafka_security import kafka_client_options
from tests.conftest import NewTopicFactory
from tests.integration.audit.conftest import AuditDatabase
from tests.unit.audit.factories import (
    DECISION_KEYS,
    DECISION_SIGNER,
    LOG_KEYS,
    LOG_SIGNER,
    make_decision,
)

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(service: AuditService) -> AsyncIterator[AuditService]:
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, timeout=30)


def _options(
    runtime: RuntimeState, db: AuditDatabase, decisions: str, controls: str
) -> ServiceOptions:
    return ServiceOptions(
        bootstrap=runtime.kafka_bootstrap,
        dsn=db.dsn("audit"),
        decisions_topic=decisions,
        controls_topic=controls,
        decision_keys=DECISION_KEYS,
        log_signer=LOG_SIGNER,
        group_id=f"audit-test-{uuid.uuid4().hex[:8]}",
        batch_max_records=200,
        metrics_port=0,
        backoff=Backoff(initial=0.1, maximum=1.0),
    )


async def _count(db: AuditDatabase, topic: str) -> tuple[int, int]:
    conn = await db.connect("auditor")
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT decision_id) AS d FROM audit.decisions_v"
            " WHERE source_topic = $1",
            topic,
        )
        assert row is not None
        return int(row["n"]), int(row["d"])
    finally:
        await conn.close()


async def _wait_for(db: AuditDatabase, topic: str, expected: int, within_s: float) -> int:
    deadline = time.monotonic() + within_s
    count = 0
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ConnectionError):
            count, _ = await _count(db, topic)
            if count >= expected:
                return count
        await asyncio.sleep(0.3)
    return count


async def _publish(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=10, compression_type="lz4", **kafka_client_options()
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, headers=DECISION_SIGNER.headers(value))
            for key, value in values
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _stream(first: int, count: int, seed: int) -> list[tuple[bytes, bytes]]:
    """Decisions with redeliveries: a tenth of them published twice, in shuffled order."""
    rng = random.Random(seed)
    decisions = [make_decision(n) for n in range(first, first + count)]
    values = [(d.shipment_id.encode(), d.model_dump_json().encode()) for d in decisions]
    repeats = rng.sample(values, count // 10)
    stream = values + repeats
    rng.shuffle(stream)
    return stream


async def test_each_decision_is_recorded_once_with_a_valid_chain(
    runtime: RuntimeState, audit_db: AuditDatabase, new_topic: NewTopicFactory
) -> None:
    decisions, controls = await new_topic(partitions=3), await new_topic(partitions=1)
    n = 600
    stream = _stream(10_000, n, seed=1)
    stream.insert(50, (b"bad", b"{not json"))
    catalogue = b'{"version": "2026-11-29.1+sha256:abab", "measures": []}'
    await _publish(runtime.kafka_bootstrap, controls, [(b"catalogue", catalogue)])
    await _publish(runtime.kafka_bootstrap, decisions, stream[:300])
    service = AuditService(_options(runtime, audit_db, decisions, controls))
    async with running(service):
        await _publish(runtime.kafka_bootstrap, decisions, stream[300:])
        assert await _wait_for(audit_db, decisions, n, within_s=60) == n
        # Redeliver everything (as after a consumer crash): still nothing new.
        await _publish(runtime.kafka_bootstrap, decisions, stream[:100])
        await asyncio.sleep(2)
        assert service.ready()
    assert await _count(audit_db, decisions) == (n, n)
    conn = await audit_db.connect("auditor")
    try:
        report = await verify_chain(conn, keys=LOG_KEYS)
        assert report.ok, report.broken
        rejected = await conn.fetch(
            "SELECT payload FROM audit.rejected_records_v WHERE source_topic = $1", decisions
        )
        # Published twice (the redelivery above), so kept twice: once per offset.
        assert [bytes(r["payload"]) for r in rejected] == [b"{not json"] * 2
        stored = await conn.fetchval(
            "SELECT content FROM audit.catalogues_v WHERE version = $1",
            catalogue_key(catalogue),
        )
        assert bytes(stored) == catalogue
    finally:
        await conn.close()
    assert service.metrics.records.labels("inserted")._value.get() == n


@pytest.mark.slow
@pytest.mark.chaos
@pytest.mark.timeout(180)
async def test_a_postgres_outage_loses_and_duplicates_nothing(
    runtime: RuntimeState, audit_db: AuditDatabase, new_topic: NewTopicFactory
) -> None:
    decisions, controls = await new_topic(partitions=2), await new_topic(partitions=1)
    n = 1000
    stream = _stream(50_000, n, seed=2)
    cfg = RuntimeConfig.from_env()
    cluster = local_postgres.cluster(cfg)
    service = AuditService(_options(runtime, audit_db, decisions, controls))
    async with running(service):
        await _publish(runtime.kafka_bootstrap, decisions, stream[:400])
        await _wait_for(audit_db, decisions, 100, within_s=30)
        await asyncio.to_thread(local_postgres.stop, cluster)
        try:
            await _publish(runtime.kafka_bootstrap, decisions, stream[400:])
            await asyncio.sleep(10)
            assert not service.ready()
        finally:
            await asyncio.to_thread(local_postgres.start, cfg, cluster)
        assert await _wait_for(audit_db, decisions, n, within_s=90) == n
        await asyncio.sleep(1)
    assert await _count(audit_db, decisions) == (n, n)
    assert service.metrics.write_retries._value.get() > 0
    conn = await audit_db.connect("auditor")
    try:
        report = await verify_chain(conn, keys=LOG_KEYS)
        assert report.ok, report.broken
    finally:
        await conn.close()
