"""The local broker carries every codec the contract allows, and keeps committed offsets."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.local import RuntimeState
from services.common.kafka_security import kafka_client_options
from tests.conftest import NewTopicFactory

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
async def test_produce_and_consume_with_each_codec(
    runtime: RuntimeState, new_topic: NewTopicFactory, codec: str
) -> None:
    topic = await new_topic(partitions=1)
    payloads = [f'{{"n": {i}, "pad": "{"x" * 200}"}}'.encode() for i in range(20)]
    producer = AIOKafkaProducer(
        bootstrap_servers=runtime.kafka_bootstrap,
        compression_type=codec,
        linger_ms=5,
        **kafka_client_options(),
    )
    await producer.start()
    try:
        for payload in payloads:
            await producer.send(topic, payload, key=b"k")
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=runtime.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_client_options(),
    )
    await consumer.start()
    try:
        received: list[bytes] = []
        while len(received) < len(payloads):
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, f"timed out with {len(received)} of {len(payloads)} records"
            received += [record.value for records in batch.values() for record in records]
    finally:
        await consumer.stop()
    assert received == payloads


async def _consume_one(bootstrap: str, topic: str, group: str) -> bytes:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_client_options(),
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
        assert record.value is not None
        return bytes(record.value)
    finally:
        await consumer.stop()


async def test_committed_offset_survives_consumer_restart(
    runtime: RuntimeState, new_topic: NewTopicFactory
) -> None:
    topic = await new_topic(partitions=1)
    group = f"test-group-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(
        bootstrap_servers=runtime.kafka_bootstrap, acks="all", **kafka_client_options()
    )
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(topic, f"m{i}".encode())
    finally:
        await producer.stop()

    first = await _consume_one(runtime.kafka_bootstrap, topic, group)
    second = await _consume_one(runtime.kafka_bootstrap, topic, group)  # a new consumer
    assert (first, second) == (b"m0", b"m1")
