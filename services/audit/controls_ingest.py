"""Keeping every control catalogue version seen on controls.v1 (compacted), for evidence packs.

No consumer group (the consumer is built with ``group_id=None`` and the topic, so it takes every
partition): the topic is compacted and small, so the service reads it from the beginning on every
start and stores each version once (``ON CONFLICT DO NOTHING`` on the version).
"""

from __future__ import annotations

import asyncio
import functools

import asyncpg
from aiokafka import AIOKafkaConsumer

from services.audit.decoding import decode_catalogue
from services.audit.metrics import AuditMetrics
from services.audit.records import SourceCoordinates
from services.audit.retry import Backoff, retry_transient
from services.audit.store import CatalogueVersion, write_catalogues
from services.common.logging import get_logger

log = get_logger(__name__)


class ControlsIngest:
    """Reads controls.v1 from the beginning and stores each catalogue version."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        pool: asyncpg.Pool,
        metrics: AuditMetrics,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self._consumer = consumer
        self._pool = pool
        self._metrics = metrics
        self._backoff = backoff or Backoff()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self._consumer.getmany(timeout_ms=500, max_records=50)
            versions: list[CatalogueVersion] = []
            for msgs in batch.values():
                for msg in msgs:
                    self._metrics.catalogues.inc()
                    source = SourceCoordinates(msg.topic, msg.partition, msg.offset)
                    version = decode_catalogue(msg.value, source)
                    if version is not None:
                        versions.append(version)
            if versions:
                await retry_transient(
                    functools.partial(self._write, versions),
                    backoff=self._backoff,
                    what="catalogues",
                )
                log.info("catalogue versions stored", versions=[v.version for v in versions])

    async def _write(self, versions: list[CatalogueVersion]) -> None:
        async with self._pool.acquire() as conn:
            await write_catalogues(conn, versions)
