"""Producing to Kafka: the service's decision/dead-letter publisher and the reference-data
publishers behind ``lodestone catalogue publish`` and ``lodestone licenses publish``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from schemas import License
from services.common.kafka_security import kafka_client_options
from services.common.signing import Signer
from services.screening.catalogue import Catalogue

CATALOGUE_KEY = b"catalogue"
_CONTENT_TYPE = ("content-type", b"application/json")


class Publisher(Protocol):
    """Sends one record without waiting for the broker: the returned future resolves on ack."""

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        correlation_id: str | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> asyncio.Future[Any]: ...


class BrokerPublisher:
    """Publishes through the aiokafka producer of a started FastStream ``KafkaBroker``.

    Straight to ``AIOKafkaProducer.send`` (the broker's settings: acks=all, idempotence,
    compression, linger): FastStream's ``publish`` builds a command, runs the codec and its
    middleware chain and generates a correlation id per message, which cost more CPU than the
    send itself. The records carry the headers ``publish`` would set: ``content-type`` and a
    ``correlation_id`` (the decision id where the caller gives one). Records to
    ``signed_topics`` (the decision topics) also carry the signature headers of ``signer``
    (:mod:`services.common.signing`).
    """

    def __init__(
        self,
        broker: KafkaBroker,
        signer: Signer | None = None,
        signed_topics: frozenset[str] = frozenset(),
    ) -> None:
        self._broker = broker
        self._signer = signer
        self._signed_topics = signed_topics

    def _producer(self) -> AIOKafkaProducer:
        state = getattr(self._broker.config.producer, "_producer", None)
        producer = getattr(state, "producer", None)  # raises while the broker is not started
        if not isinstance(producer, AIOKafkaProducer):
            raise RuntimeError("the broker has no aiokafka producer (not started?)")
        return producer

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        correlation_id: str | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> asyncio.Future[Any]:
        """``headers``: extra headers (the ``traceparent`` when tracing is on)."""
        record_headers = [
            _CONTENT_TYPE,
            ("correlation_id", (correlation_id or str(uuid4())).encode()),
            *headers,
        ]
        if self._signer is not None and topic in self._signed_topics:
            record_headers += self._signer.headers(value)  # contract v1: decisions are signed
        future: asyncio.Future[Any] = await self._producer().send(
            topic, value=value, key=key, headers=record_headers
        )
        return future


async def publish_records(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes | None]]
) -> int:
    """Publish (key, value) records and wait for every acknowledgement; returns the count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        **kafka_client_options(),
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
