"""Reviews on reviews.v1 in the audit store: each value once, garbage kept, append-only."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from deploy.local import RuntimeState
from services.audit.reviews_ingest import ReviewsIngest
from services.common.kafka_security import kafka_client_options
from services.screening.publish import publish_records
from tests.conftest import NewTopicFactory
from tests.integration.audit.conftest import AuditDatabase

pytestmark = pytest.mark.integration


def _review(reviewer: str) -> bytes:
    return json.dumps(
        {
            "review_id": str(uuid.uuid4()),
            "shipment_id": "SHP-REVIEW-1",
            "decision_id": "d-review-1",
            "line_nos": [1],
            "action": "release",
            "justification": "licence on file",
            "reviewer": {"id": reviewer, "name": reviewer.title()},
            "reviewed_at": "2026-11-30T09:00:00Z",
        }
    ).encode()


async def _ingest_once(runtime: RuntimeState, db: AuditDatabase, topic: str) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=runtime.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_client_options(),
    )
    pool = await asyncpg.create_pool(db.dsn("audit"), min_size=1, max_size=2)
    await consumer.start()
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(ReviewsIngest(consumer, pool).run(stop))
        await asyncio.sleep(3)
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        await consumer.stop()
        await pool.close()


async def test_each_review_is_kept_once_garbage_too_and_nobody_changes_them(
    runtime: RuntimeState, audit_db: AuditDatabase, new_topic: NewTopicFactory
) -> None:
    topic = await new_topic(prefix="reviews")
    values = [_review("rita"), _review("rolf"), b"\x00not a review"]
    await publish_records(runtime.kafka_bootstrap, topic, [(b"SHP-REVIEW-1", v) for v in values])
    await _ingest_once(runtime, audit_db, topic)
    await _ingest_once(runtime, audit_db, topic)  # a restart reads the topic again
    auditor = await audit_db.connect("auditor")
    writer = await audit_db.connect("audit")
    try:
        rows = await auditor.fetch(
            "SELECT reviewer_id, error, payload FROM audit.review_records_v"
            " WHERE source_topic = $1 ORDER BY source_offset",
            topic,
        )
        assert [r["reviewer_id"] for r in rows] == ["rita", "rolf", None]
        assert rows[2]["error"]
        assert bytes(rows[2]["payload"]) == values[2]
        for statement in (
            "UPDATE audit.review_records SET reviewer_name = 'someone else'",
            "DELETE FROM audit.review_records",
            "TRUNCATE audit.review_records",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await writer.execute(statement)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await auditor.execute(
                "INSERT INTO audit.review_records (payload, error, source_topic,"
                " source_partition, source_offset) VALUES ('x', 'e', 't', 0, 0)"
            )
    finally:
        await auditor.close()
        await writer.close()
