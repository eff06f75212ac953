"""Producing to Kafka: the service's decision/dead-letter publisher and the reference-data
publishers behind ``lodestone catalogue publish`` and ``lodestone licenses publish``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from schemas import License
from services.screening.catalogue import Catalogue

CATALOGUE_KEY = b"catalogue"
_JSON_HEADERS = {"content-type": "application/json"}


class Publisher(Protocol):
    """Sends one record without waiting for the broker: the returned future resolves on ack."""

    async def send(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future[Any]: ...


class BrokerPublisher:
    """Publishes through a started FastStream ``KafkaBroker`` (its aiokafka producer)."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def send(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self._broker.publish(
            value, topic, key=key, headers=_JSON_HEADERS, no_confirm=True
        )
        return future


def load_licences_file(path: Path) -> list[License]:
    """A JSON array of License objects (as for ``lodestone screen --licenses``)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON array of licences")
    return [License.model_validate(item) for item in raw]


async def publish_records(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes | None]]
) -> int:
    """Publish (key, value) records and wait for every acknowledgement; returns the count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(records)


async def publish_catalogue(bootstrap: str, topic: str, catalogue: Catalogue) -> str:
    """Publish a whole catalogue version under the key ``catalogue``; returns its version."""
    await publish_records(bootstrap, topic, [(CATALOGUE_KEY, catalogue.to_wire())])
    return catalogue.version


async def publish_licences(bootstrap: str, topic: str, licences: Sequence[License]) -> int:
    """Publish licences keyed by licence id."""
    return await publish_records(
        bootstrap,
        topic,
        [(lic.license_id.encode(), lic.model_dump_json().encode()) for lic in licences],
    )


async def withdraw_licences(bootstrap: str, topic: str, licence_ids: Sequence[str]) -> int:
    """Publish tombstones: the licences are withdrawn."""
    return await publish_records(bootstrap, topic, [(i.encode(), None) for i in licence_ids])
