"""The ingest loop with a batch in flight: offsets follow the database, the chain stays whole."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import TopicPartition

from services.audit.decisions_ingest import DecisionsIngest
from services.audit.metrics import AuditMetrics
from services.audit.tree_log import TreeLog
from services.audit.verify import verify_chain
from tests.integration.audit.bench_audit import MemoryConsumer, _values
from tests.integration.audit.conftest import AuditDatabase
from tests.unit.audit.factories import DECISION_KEYS, LOG_KEYS, LOG_SIGNER

pytestmark = pytest.mark.integration


class CheckingConsumer(MemoryConsumer):
    """Records every commit together with how many of its records the store holds by then."""

    def __init__(self, values: list[bytes], auditor: asyncpg.Connection) -> None:
        super().__init__(values)
        self.auditor = auditor
        self.commits: list[tuple[int, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        stored = await self.auditor.fetchval(
            "SELECT count(*) FROM audit.decisions_v WHERE source_topic = $1", self.tp.topic
        )
        self.commits.append((offsets[self.tp], stored))
        await super().commit(offsets)


async def test_offsets_are_committed_in_order_and_only_after_their_records(
    audit_db: AuditDatabase,
) -> None:
    auditor = await audit_db.connect("auditor")
    pool = await asyncpg.create_pool(audit_db.dsn("audit"), min_size=1, max_size=2)
    try:
        values = _values(1, 450)
        consumer = CheckingConsumer(values + values[:50], auditor)  # with redeliveries
        ingest = DecisionsIngest(
            consumer,
            pool,
            AuditMetrics(),
            keys=DECISION_KEYS,
            tree=TreeLog(LOG_SIGNER),
            batch_max_records=100,
            poll_timeout_ms=0,
        )
        while await ingest.run_once():
            pass
        await ingest.flush()
        await ingest.close()
        assert [offset for offset, _ in consumer.commits] == list(range(100, 501, 100))
        for offset, stored in consumer.commits:
            assert stored == min(offset, 450)  # the next batch is written after the commit
        report = await verify_chain(auditor, keys=LOG_KEYS)
        assert report.ok, report.broken
        count = await auditor.fetchval(
            "SELECT count(*) FROM audit.decisions_v WHERE source_topic = $1", consumer.tp.topic
        )
        assert count == 450
    finally:
        await pool.close()
        await auditor.close()
