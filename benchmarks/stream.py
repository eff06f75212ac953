"""The load: the demo's realistic event mix, made unique per run, and a paced publisher.

``generate_events`` is reproducible, so its ids repeat from run to run; the ledger and the audit
store are shared, so every id (event, shipment, licence) gets the run's tag. Repeats inside the
stream (ERP retries) stay repeats: the mapping is deterministic.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas import License, ShipmentEvent
from services.common.kafka_security import kafka_client_options
from services.screening.sample_stream import generate_events, sample_licences

_NAMESPACE = uuid.UUID("6f1c2a52-7d0e-4c1e-9d55-5b0d7f3e8a10")


@dataclass(frozen=True, slots=True)
class Prepared:
    """One record to publish: key, value and the event id it carries (None for poison)."""

    key: bytes
    value: bytes
    event_id: str | None


def _tagged(event: ShipmentEvent, tag: str) -> ShipmentEvent:
    return event.model_copy(
        update={
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{tag}:{event.event_id}")),
            "shipment_id": f"{event.shipment_id}-{tag}",
        }
    )


def prepare_events(n: int, tag: str, seed: int = 7) -> list[Prepared]:
    """``n`` events of the sample mix, serialised, with run-unique ids; keyed by exporter."""
    out = []
    for event in generate_events(n, seed=seed):
        tagged = _tagged(event, tag)
        out.append(
            Prepared(
                tagged.exporter.id.encode(), tagged.model_dump_json().encode(), tagged.event_id
            )
        )
    return out


def prepare_licences(tag: str) -> list[License]:
    """The sample licences, renamed for this run so that caps and single use start fresh."""
    return [
        lic.model_copy(update={"license_id": f"{lic.license_id}-{tag}"})
        for lic in sample_licences()
    ]


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type="lz4",
        max_batch_size=256 * 1024,
        **kafka_client_options(),
    )


@dataclass
class Published:
    """Produce times (epoch ms, the record's CreateTime) of the first copy of each event."""

    at_ms: dict[str, int]
    records: int = 0


async def publish(
    producer: AIOKafkaProducer,
    topic: str,
    items: Sequence[Prepared],
    rate: float | None = None,
    published: Published | None = None,
) -> Published:
    """Publish ``items`` at ``rate`` records/s (None: as fast as possible); waits for acks.

    Each record's CreateTime is stamped by us at send time and kept per event id: it is the
    "published" end of the end-to-end latencies.
    """
    out = published or Published({})
    pending: list[tuple[Prepared, int, asyncio.Future[Any]]] = []
    started = time.monotonic()
    i = 0
    while i < len(items):
        due = (
            len(items)
            if rate is None
            else min(len(items), int((time.monotonic() - started) * rate) + 1)
        )
        while i < due:
            item = items[i]
            now_ms = int(time.time() * 1000)
            future = await producer.send(topic, item.value, key=item.key, timestamp_ms=now_ms)
            pending.append((item, now_ms, future))
            if item.event_id is not None:
                out.at_ms.setdefault(item.event_id, now_ms)
            out.records += 1
            i += 1
        if rate is not None and i < len(items):
            await asyncio.sleep(max(0.005, started + i / rate - time.monotonic()))
        if len(pending) >= 5000:
            await _settle(producer, topic, pending)
            pending = []
    await _settle(producer, topic, pending)
    return out


async def _settle(
    producer: AIOKafkaProducer,
    topic: str,
    pending: list[tuple[Prepared, int, asyncio.Future[Any]]],
    attempts: int = 30,
) -> None:
    """Await the acks; send again what failed (a broker restart), like a retrying ERP would.

    The resend keeps the original CreateTime, so latency still counts from the first attempt.
    """
    for _ in range(attempts):
        results = await asyncio.gather(*(f for _, _, f in pending), return_exceptions=True)
        failed = [(item, ts) for (item, ts, _), r in zip(pending, results, strict=True)
                  if isinstance(r, KafkaError)]  # fmt: skip
        if not failed:
            for r in results:
                if isinstance(r, BaseException):
                    raise r
            return
        await asyncio.sleep(1.0)
        pending = [
            (item, ts, await producer.send(topic, item.value, key=item.key, timestamp_ms=ts))
            for item, ts in failed
        ]
    raise RuntimeError(f"{len(pending)} records could not be published after {attempts} attempts")
