"""Review releases: follows ``reviews.v1`` and hands each completed release to re-screening.

Group-less, from the beginning at every start: the pairing of reviews is rebuilt from the topic
(kept for good), and a release whose decision is no longer its shipment's latest (it was
released already, or decided again) has no effect, so reading it again changes nothing. A value
that is not a Review is logged and skipped; it never stops the follower. Reading again from the
beginning after a broker failure is as harmless as at start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer

from schemas.review import review_from_wire
from services.common.kafka_security import kafka_client_options
from services.common.logging import get_logger
from services.screening.review_release import Release, ReleaseBook

log = get_logger(__name__)
RETRY_S = 5.0


class ReviewFollower:
    def __init__(
        self, *, bootstrap: str, topic: str, on_release: Callable[[Release], Awaitable[object]]
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._on_release = on_release
        self.book = ReleaseBook()
        self.invalid_records = 0

    async def run(self) -> None:
        """Follow until cancelled. A broker refusal (e.g. no READ on the topic) is logged and
        retried: releases wait, shipments are still decided."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("reviews cannot be read; retrying", topic=self._topic, error=repr(exc))
                await asyncio.sleep(RETRY_S)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **kafka_client_options(),
        )
        await consumer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        release = self._read(record.value, record.offset)
                        if release is not None:
                            log.info(
                                "release confirmed by a second reviewer",
                                shipment_id=release.shipment_id,
                                decision_id=release.decision_id,
                                lines=list(release.line_nos),
                            )
                            await self._on_release(release)
        finally:
            await consumer.stop()

    def _read(self, value: bytes | None, offset: int) -> Release | None:
        if value is None:
            return None
        try:
            review = review_from_wire(value)
        except ValueError as exc:  # JsonInputError, ValidationError
            self.invalid_records += 1
            log.error("unreadable review ignored", offset=offset, error=str(exc)[:300])
            return None
        return self.book.add(review)
