"""Live decisions for the console: one consumer of ``decisions.v1``, fanned out to browsers.

The console follows the topic from its end (no consumer group: it commits nothing and takes
no partition from anybody) and hands each decision signed by a trusted key to every open event
stream. A record that is not one (unsigned, an unknown key, altered after signing, not a
decision) is handed on as an ``unverified`` event naming its partition, offset and problem,
never what it claims to be. A browser that cannot keep up loses the oldest events (bounded
queues), never the console.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer

from schemas import Decision
from services.common.decision_records import signed_decision
from services.common.kafka_security import kafka_client_options
from services.common.signing import KeyRing
from services.console.metrics import ConsoleMetrics

log = structlog.get_logger(__name__)
QUEUE_SIZE = 200


def summary(decision: Decision) -> dict[str, Any]:
    """What a browser shows of a decision as it happens."""
    return {
        "decision_id": decision.decision_id,
        "shipment_id": decision.shipment_id,
        "exporter_id": decision.exporter_id,
        "outcome": decision.outcome.value,
        "trigger": decision.trigger.value,
        "reasons": sorted({r.code.value for r in decision.reasons}),
        "decided_at": decision.decided_at.isoformat(),
    }


#: what an event stream carries: ``("decision", summary)`` or ``("unverified", where and why)``
LiveEvent = tuple[str, dict[str, Any]]


class DecisionFeed:
    def __init__(
        self, bootstrap: str, topic: str, keys: KeyRing, metrics: ConsoleMetrics | None = None
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._keys = keys
        self._metrics = metrics or ConsoleMetrics()
        self.following = False
        self._subscribers: set[asyncio.Queue[LiveEvent]] = set()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[LiveEvent]]:
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        self._metrics.streams.inc()
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
            self._metrics.streams.dec()

    def publish(self, item: LiveEvent) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(item)

    def _following(self, now: bool) -> None:
        self.following = now
        self._metrics.following.labels("decisions").set(1 if now else 0)

    async def _from_the_end(self, consumer: AIOKafkaConsumer) -> None:
        """Wait for every partition to be assigned and positioned at its end (so "ready" means
        nothing published later is missed)."""
        for _ in range(1200):  # a minute at most; the caller retries on failure
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        else:
            raise TimeoutError(f"no partition of {self._topic} was assigned")
        for tp in consumer.assignment():
            await consumer.position(tp)

    async def _follow(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                self._topic,
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="latest",
                **kafka_client_options(),
            )
            try:
                await consumer.start()
                await self._from_the_end(consumer)
                self.ready.set()
                self._following(True)
                log.info("console.live.following", topic=self._topic)
                async for record in consumer:
                    decision = signed_decision(self._keys, record.value, record.headers)
                    if isinstance(decision, str):  # the audit service chains it as rejected
                        where = {"partition": record.partition, "offset": record.offset}
                        log.warning("console.live.unverified", problem=decision, **where)
                        self._metrics.unverified.inc()
                        self.publish(("unverified", {**where, "problem": decision}))
                        continue
                    self.publish(("decision", summary(decision)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker away: retry, the pages still work
                self._following(False)
                log.warning("console.live.retry", error=str(exc))
                await asyncio.sleep(2.0)
            finally:
                await consumer.stop()
