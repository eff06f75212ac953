"""Baselines taken in the same run: what the machine does with no Lodestone code in the way.

* passthrough: a raw aiokafka consume→produce loop over the same bytes, with the screening
  service's consumer and producer settings (batches of 500, send without awaiting each, await
  the acks, then commit);
* raw COPY: ``copy_records_to_table`` of the same audit rows, in batches of the audit service's
  size, into a scratch table shaped (and indexed) like ``audit.decision_records``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from benchmarks.pipeline import create_topics, delete_topics
from benchmarks.stats import rate_per_s
from benchmarks.stream import Prepared, new_producer, publish
from services.audit.records import RECORD_COLUMNS
from services.common.kafka_helpers import next_offsets
from services.common.kafka_security import kafka_client_options


async def _timestamps(
    bootstrap: str, topic: str, partitions: int, expected: int, timeout_s: float
) -> list[int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", **kafka_client_options()
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        times: list[int] = []
        deadline = time.monotonic() + timeout_s
        while len(times) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10000)
            times.extend(r.timestamp for records in batch.values() for r in records)
        return times
    finally:
        await consumer.stop()


async def relay(bootstrap: str, source: str, sink: str, total: int, timeout_s: float) -> int:
    """The passthrough loop: copy ``total`` records from ``source`` to ``sink``; how many it did."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"passthrough.{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_client_options(),
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=10,
        compression_type="lz4",
        max_batch_size=256 * 1024,
        **kafka_client_options(),
    )
    await consumer.start()
    await producer.start()
    relayed = 0
    deadline = time.monotonic() + timeout_s
    try:
        while relayed < total and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            futures = [
                await producer.send(sink, r.value, key=r.key)
                for records in batch.values()
                for r in records
            ]
            await asyncio.gather(*futures)
            if batch:
                await consumer.commit(next_offsets(batch))
            relayed += len(futures)
    finally:
        await producer.stop()
        await consumer.stop()
    return relayed


async def passthrough(
    bootstrap: str, items: Sequence[Prepared], partitions: int = 6, timeout_s: float = 300.0
) -> float:
    """Records/s of the raw relay, from the sink's first to its last LogAppendTime."""
    tag = uuid.uuid4().hex[:10]
    source, sink = f"bench.{tag}.raw-in", f"bench.{tag}.raw-out"
    await create_topics(
        bootstrap,
        [
            NewTopic(source, partitions, 1),
            NewTopic(
                sink, partitions, 1, topic_configs={"message.timestamp.type": "LogAppendTime"}
            ),
        ],
    )
    try:
        producer = new_producer(bootstrap)
        await producer.start()
        try:
            await publish(producer, source, items)
        finally:
            await producer.stop()
        relayed = await relay(bootstrap, source, sink, len(items), timeout_s)
        times = await _timestamps(bootstrap, sink, partitions, relayed, 60.0)
        return rate_per_s(times)
    finally:
        await delete_topics(bootstrap, [source, sink])


async def raw_copy(admin_dsn: str, source_topic: str, batch: int = 1000) -> tuple[int, float]:
    """(rows, rows/s) of COPYing this run's audit rows again into an identically shaped table."""
    conn = await asyncpg.connect(admin_dsn)
    table = f"bench_copy_{uuid.uuid4().hex[:10]}"
    try:
        rows: list[Any] = await conn.fetch(
            f"SELECT {', '.join(RECORD_COLUMNS)} FROM audit.decision_records"  # noqa: S608
            " WHERE source_topic = $1 ORDER BY seq",
            source_topic,
        )
        await conn.execute(
            f"CREATE TABLE public.{table}"
            " (LIKE audit.decision_records INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
            " INCLUDING INDEXES)"
        )
        records = [tuple(row) for row in rows]
        started = time.perf_counter()
        for i in range(0, len(records), batch):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    table,
                    schema_name="public",
                    columns=RECORD_COLUMNS,
                    records=records[i : i + batch],
                )
        elapsed = time.perf_counter() - started
        return len(records), (len(records) / elapsed if elapsed > 0 else 0.0)
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS public.{table}")
        await conn.close()
