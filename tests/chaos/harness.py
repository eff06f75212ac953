"""Run a stream through a pipeline while a fault strikes, then wait until everything settled.

Every wait is bounded; nothing here loops without a deadline.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from benchmarks.observe import AuditPoller, DecisionCollector
from benchmarks.pipeline import Pipeline
from benchmarks.stream import Prepared, Published, new_producer, prepare_events, publish
from services.screening.sample_stream import generate_events
from tests.chaos.conftest import Scale
from tests.hostile_corpus import poison as hostile_poison

Fault = Callable[[], Awaitable[None]]


@dataclass
class Outcome:
    """What went in and what came out."""

    pipeline: Pipeline
    collector: DecisionCollector
    poller: AuditPoller
    published: Published
    event_ids: set[str]
    poison: dict[tuple[int, int], bytes | None] = field(default_factory=dict)
    """(partition, offset) on the shipments topic -> the poison record's value."""
    undecided: int = 0
    not_audited: int = 0
    faults: list[str] = field(default_factory=list)


def poison_values(tag: str) -> list[bytes | None]:
    """Records that can never be decided: each kind of rejection the intake knows, and the
    hostile corpus (control characters, look-alike digits, exotic numbers, duplicate keys …)."""
    hostile = [
        value
        for value in hostile_poison(generate_events(1, seed=5)[0], tag)
        if value is None or len(value) < 100_000  # the oversized one needs a compressed batch
    ]
    return [
        f"{tag}-1 this is not JSON".encode(),
        b"\xff\xfe" + tag.encode() + b"\x00 invalid UTF-8",
        f'["{tag}-3", "a JSON array, not an object"]'.encode(),
        f'{{"event_id": "{tag}-4", "event_type": "shipment.exploded"}}'.encode(),
        f'{{"event_id": "{tag}-5", "event_type": "shipment.declared", "lines": 7}}'.encode(),
        *hostile,
    ]


async def _inject_poison(
    producer: AIOKafkaProducer, topic: str, tag: str
) -> dict[tuple[int, int], bytes | None]:
    out: dict[tuple[int, int], bytes | None] = {}
    for i, value in enumerate(poison_values(tag)):
        meta = await producer.send_and_wait(topic, value, key=f"poison-{i}".encode())
        out[(meta.partition, meta.offset)] = value
    return out


async def _duplicates(producer: AIOKafkaProducer, topic: str, items: list[Prepared]) -> int:
    """Publish exact copies of ~5 % of the events already sent (an ERP retrying)."""
    rng = random.Random(11)
    copies = rng.sample(items, k=max(1, len(items) // 20))
    await publish(producer, topic, copies)
    return len(copies)


async def run_with_fault(
    pipeline: Pipeline,
    scale: Scale,
    fault: Fault | None,
    *,
    poison: bool = False,
    duplicates: bool = False,
) -> Outcome:
    """Stream ``scale.events`` at ``scale.rate``; ``fault`` strikes at ``scale.fault_at_s``."""
    topics = pipeline.topics
    collector = DecisionCollector(pipeline.bootstrap, topics.decisions, 3, keep_payloads=True)
    poller = AuditPoller(pipeline.dsn("auditor"), topics.decisions, interval_s=0.2)
    items = prepare_events(scale.events, pipeline.tag)
    producer = new_producer(pipeline.bootstrap)
    await producer.start()
    await collector.start()
    await poller.start()
    outcome = Outcome(
        pipeline, collector, poller, Published({}), {i.event_id for i in items if i.event_id}
    )
    try:
        stream = asyncio.create_task(
            publish(producer, topics.shipments, items, scale.rate, outcome.published)
        )
        await asyncio.sleep(scale.fault_at_s)
        if poison:
            outcome.poison = await _inject_poison(producer, topics.shipments, pipeline.tag)
        if duplicates:
            sent = items[: int(scale.fault_at_s * scale.rate)]
            outcome.faults.append(f"{await _duplicates(producer, topics.shipments, sent)} copies")
        if fault is not None:
            started = time.monotonic()
            await fault()
            outcome.faults.append(f"fault handled in {time.monotonic() - started:.1f} s")
        await asyncio.wait_for(stream, timeout=scale.drain_timeout_s)
        outcome.undecided = await collector.wait_for(outcome.event_ids, scale.drain_timeout_s)
        outcome.not_audited = await poller.wait_for(
            set(collector.decision_ids), scale.drain_timeout_s
        )
        await asyncio.sleep(1.0)  # late duplicates, if any, would show up now
    finally:
        await producer.stop()
        await collector.stop()
        await poller.stop()
    return outcome
