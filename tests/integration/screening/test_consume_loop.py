"""The consume loop's scenarios on the real broker: a real consumer in a group of its own, real
topics and a real producer (see the scenarios module; the same tests run in memory)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.local import RuntimeState
from services.common.kafka_security import kafka_client_options
from services.screening.config import Topics
from services.screening.publish import Publisher, publish_records
from tests.conftest import NewTopicFactory
from tests.consume_loop_scenarios import PARTITION, ConsumeLoopScenarios

pytestmark = pytest.mark.integration


class _ProducerPublisher:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        correlation_id: str | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = await self._producer.send(topic, value=value, key=key)
        return ack


class BrokerHarness:
    """One-partition topics of the test's own; the loop's consumer assigned to partition 0."""

    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self.topics = topics
        self._bootstrap = bootstrap
        self._tp = TopicPartition(topics.shipments, PARTITION)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=f"loop-{uuid.uuid4().hex[:8]}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=20,
            **kafka_client_options(),
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            **kafka_client_options(),
        )

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.assign([self._tp])
        await self._producer.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._producer.stop()

    async def put(self, values: Sequence[bytes]) -> None:
        await publish_records(
            self._bootstrap, self.topics.shipments, [(b"CN-LOOP-1", v) for v in values]
        )

    def consumer(self) -> Any:
        return self._consumer

    def publisher(self) -> Publisher:
        return _ProducerPublisher(self._producer)

    async def committed(self) -> int | None:
        offset: int | None = await self._consumer.committed(self._tp)
        return offset

    async def read(self, topic: str, count: int) -> list[tuple[bytes | None, bytes]]:
        reader = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self._bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            **kafka_client_options(),
            enable_auto_commit=False,
        )
        await reader.start()
        found: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + 15
        try:
            while len(found) < count and time.monotonic() < deadline:
                batch = await reader.getmany(timeout_ms=200)
                found.extend((r.key, r.value) for rs in batch.values() for r in rs)
        finally:
            await reader.stop()
        return found


class TestConsumeLoopOnTheBroker(ConsumeLoopScenarios):
    @pytest.fixture
    async def loop_harness(
        self, runtime: RuntimeState, new_topic: NewTopicFactory
    ) -> AsyncIterator[BrokerHarness]:
        topics = Topics(
            shipments=await new_topic(partitions=1, prefix="loop-shipments"),
            decisions=await new_topic(partitions=1, prefix="loop-decisions"),
            dead_letters=await new_topic(partitions=1, prefix="loop-dlq"),
        )
        harness = BrokerHarness(runtime.kafka_bootstrap, topics)
        await harness.start()
        try:
            yield harness
        finally:
            await harness.stop()
