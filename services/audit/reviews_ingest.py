"""Keeping every review on ``reviews.v1`` (a person's release of held lines) in the audit store.

No consumer group: the topic is kept for good and small, so the service reads it from the
beginning at every start and stores each value once per Kafka coordinate
(``ON CONFLICT DO NOTHING``). A value that is not a Review is kept too, with the error: a forged
or garbled review is evidence as well. The decisions a release causes are recorded (and chained)
as decisions; the reviews themselves are append-only rows outside the hash chain.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from schemas.review import review_from_wire
from schemas.strict_json import JsonInputError
from schemas.validation import summarise_validation_error
from services.audit.retry import Backoff, retry_transient
from services.common.logging import get_logger

log = get_logger(__name__)

_INSERT = (
    "INSERT INTO audit.review_records (review_id, shipment_id, decision_id, action, line_nos,"
    " reviewer_id, reviewer_name, justification, reviewed_at, payload, error, source_topic,"
    " source_partition, source_offset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
    " $12, $13, $14) ON CONFLICT DO NOTHING"  # the coordinates are unique: read again, kept once
)


def review_row(value: bytes, topic: str, partition: int, offset: int) -> tuple[Any, ...]:
    """The row of one value on the topic: the review's fields, or the error that stopped it."""
    try:
        review = review_from_wire(value)
    except (JsonInputError, ValidationError) as exc:
        error = summarise_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        return (None,) * 9 + (value, error.replace("\x00", "\\u0000"), topic, partition, offset)
    return (
        review.review_id,
        review.shipment_id,
        review.decision_id,
        review.action.value,
        review.line_nos,
        review.reviewer.id,
        review.reviewer.name,
        review.justification,
        review.reviewed_at,
        value,
        None,
        topic,
        partition,
        offset,
    )


class ReviewsIngest:
    """Reads reviews.v1 from the beginning and stores each value once."""

    def __init__(
        self, consumer: AIOKafkaConsumer, pool: asyncpg.Pool, *, backoff: Backoff | None = None
    ) -> None:
        self._consumer = consumer
        self._pool = pool
        self._backoff = backoff or Backoff()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self._consumer.getmany(timeout_ms=500, max_records=200)
            rows = [
                review_row(msg.value, msg.topic, msg.partition, msg.offset)
                for msgs in batch.values()
                for msg in msgs
                if msg.value is not None
            ]
            if rows:
                await retry_transient(
                    functools.partial(self._write, rows), backoff=self._backoff, what="reviews"
                )
                log.info("reviews stored", count=len(rows))

    async def _write(self, rows: list[tuple[Any, ...]]) -> None:
        async with self._pool.acquire() as conn:
            await conn.executemany(_INSERT, rows)
