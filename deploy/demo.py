"""``make demo``: a smoke run of the local pipeline.

For now it publishes one sample shipment event to ``shipments.v1`` and reads it back, showing
that the local broker carries the contract's traffic. The full pipeline (screening and audit
services with sample traffic) replaces this body as the services land.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.common.settings import Settings


def sample_event() -> dict[str, Any]:
    """A shipment of samarium oxide to Germany, as an ERP system would declare it."""
    now = datetime.now(UTC)
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "shipment.declared",
        "occurred_at": now.isoformat(),
        "shipment_id": f"SHP-DEMO-{now:%Y%m%d%H%M%S}",
        "ship_date": (date.today() + timedelta(days=1)).isoformat(),
        "exporter": {"id": "CN-EXP-0001", "name": "Baotou Demo Metals", "country": "CN"},
        "consignee": {"id": "DE-C-77", "name": "Magnetwerk Demo GmbH", "country": "DE"},
        "end_user": {"id": "DE-C-77", "name": "Magnetwerk Demo GmbH", "country": "DE"},
        "end_use": "civil",
        "destination_country": "DE",
        "lines": [
            {
                "line_no": 1,
                "hs_code": "2846901940",
                "description": "Samarium oxide 99.9%",
                "quantity": "500",
                "unit": "kg",
                "value": "182000.00",
                "currency": "USD",
                "origin_country": "CN",
                "purity_pct": "99.9",
            }
        ],
    }


async def run(settings: Settings) -> None:
    event = sample_event()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            settings.topic_shipments,
            json.dumps(event).encode(),
            key=event["exporter"]["id"].encode(),
        )
    finally:
        await producer.stop()
    print(
        f"published {event['shipment_id']} to {settings.topic_shipments} "
        f"partition {meta.partition} offset {meta.offset}",
        file=sys.stderr,
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partition = TopicPartition(settings.topic_shipments, meta.partition)
        consumer.assign([partition])
        consumer.seek(partition, meta.offset)
        record = await asyncio.wait_for(consumer.getone(), timeout=10)
    finally:
        await consumer.stop()
    consumed = json.loads(record.value)
    assert consumed["event_id"] == event["event_id"]
    print(f"consumed from {record.topic}[{record.partition}]@{record.offset}:")
    print(json.dumps(consumed, indent=2))


def main() -> None:
    asyncio.run(run(Settings()))


if __name__ == "__main__":
    main()
