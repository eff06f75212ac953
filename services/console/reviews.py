"""Reviews from the console: a reviewer's release of held lines, published on ``reviews.v1``.

The console refuses what can never take effect — a line that is not held in the current
decision, a PROHIBITED_* hold, a second release by the same reviewer — and shows the releases
already on the topic. The rule itself (a release takes effect when a second, different reviewer
sends the same release for the same decision) is the consumer's of ``reviews.v1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from schemas.review import Review, ReviewAction, Reviewer, review_from_wire
from schemas.validation import summarise_validation_error
from services.common.kafka_security import kafka_client_options
from services.console.metrics import ConsoleMetrics

if TYPE_CHECKING:
    from services.console.auth import User
    from services.console.decision_view import DecisionPage

log = structlog.get_logger(__name__)


class ReviewDesk:
    def __init__(self, bootstrap: str, topic: str, metrics: ConsoleMetrics | None = None) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._metrics = metrics or ConsoleMetrics()
        self.following = False
        self._by_decision: dict[str, list[Review]] = {}
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            await self._producer.stop()

    def reviews_of(self, decision_id: str) -> list[Review]:
        return list(self._by_decision.get(decision_id, []))

    async def release(
        self, page: DecisionPage, user: User, line_nos: list[int], justification: str
    ) -> str | None:
        """Publish ``user``'s release of ``line_nos``; the reason it is refused, or None."""
        if not page.current:
            return "this decision has been superseded: review the current one"
        releasable = {line.line_no for line in page.releasable_lines}
        refused = [n for n in line_nos if n not in releasable]
        if not line_nos or refused:
            return f"lines {refused or line_nos} cannot be released (not held, or prohibited)"
        if any(
            r.reviewer.id == user.id and r.action is ReviewAction.RELEASE
            for r in self.reviews_of(page.decision_id)
        ):
            return "you have released this decision already: a different reviewer confirms"
        try:
            review = Review(
                review_id=str(uuid.uuid4()),
                shipment_id=page.shipment_id,
                decision_id=page.decision_id,
                line_nos=line_nos,
                action=ReviewAction.RELEASE,
                # a textarea's line breaks become spaces: the contract's text is one line
                justification=" ".join(justification.split()),
                reviewer=Reviewer(id=user.id, name=user.name),
                reviewed_at=datetime.now(UTC),
            )
        except ValidationError as exc:
            return f"the review cannot be sent: {summarise_validation_error(exc)}"
        producer = await self._producer_started()
        await producer.send_and_wait(
            self._topic, review.model_dump_json().encode(), key=page.shipment_id.encode()
        )
        self._remember(review)
        self._metrics.reviews.labels(review.action.value).inc()
        return None

    def _following(self, now: bool) -> None:
        self.following = now
        self._metrics.following.labels("reviews").set(1 if now else 0)

    def _remember(self, review: Review) -> None:
        known = self._by_decision.setdefault(review.decision_id, [])
        if all(r.review_id != review.review_id for r in known):
            known.append(review)

    async def _producer_started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                enable_idempotence=True,
                **kafka_client_options(),
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def _follow(self) -> None:
        """Every review on the topic, from its beginning (no group: nothing committed)."""
        while True:
            consumer = AIOKafkaConsumer(
                self._topic,
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **kafka_client_options(),
            )
            try:
                await consumer.start()
                self._following(True)
                log.info("console.reviews.following", topic=self._topic)
                async for record in consumer:
                    if record.value is None:
                        continue
                    try:
                        self._remember(review_from_wire(record.value))
                    except ValueError:  # what screening would not count is not shown either
                        continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._following(False)
                log.warning("console.reviews.retry", error=str(exc))
                await asyncio.sleep(2.0)
            finally:
                await consumer.stop()
