"""The shipments consume loop: batches in, decisions and dead letters out, offsets after acks.

Per batch (``getmany``): parse every record; dead-letter the rejected ones; decide the events
and settle them on the settle path (one transaction, ADRs 0024, 0027); hand every output to the
producer; then, while the next batch is already being decided, await the acknowledgements and
only then commit the batch's offsets (ADR 0025). A crash anywhere before the commit redelivers
the batch, and the stored decisions make that harmless: a redelivered event re-emits its stored
decision. That is also why a decision taken for a shipment event needs no "published" mark of
its own; only re-screening decisions, which no offset covers, are marked (:mod:`rescreen`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from schemas import ShipmentEvent, utc_now
from services.common.kafka_helpers import commit_offsets, next_offsets, observe_lag
from services.common.logging import get_logger
from services.common.tracing import tracer
from services.screening.config import Topics
from services.screening.intake import PROCESSING_ERROR, Rejected, dead_letter, parse_record
from services.screening.metrics import ScreeningMetrics
from services.screening.publish import Publisher
from services.screening.registry.frames import Resolved
from services.screening.registry.resolver import SchemaResolver
from services.screening.retry import StoppingError, is_retryable, retry_transient
from services.screening.screener import Result, Screened, Screener
from services.screening.shipment_traces import BatchTraces

log = get_logger(__name__)


@dataclass
class _Outputs:
    """What a batch sends, in order, and the decision ids to mark as published."""

    records: list[tuple[str, bytes | None, bytes, str | None]] = field(default_factory=list)
    """(topic, key, value, correlation id)"""
    outcomes: Counter[str] = field(default_factory=Counter)
    """New decisions by outcome, re-emitted ones as ``duplicate`` (the per-batch log line)."""
    dead_letters: int = 0
    traces: BatchTraces | None = None
    """Set when tracing is on: the batch's spans, and the headers of each record below."""
    headers: list[Sequence[tuple[str, bytes]]] | None = None


@dataclass
class _Delivery:
    """A batch whose decisions are in the producer: its acks, offsets and log line are pending."""

    batch: dict[TopicPartition, list[ConsumerRecord]]
    outputs: _Outputs
    acks: list[asyncio.Future[Any]]
    issued: int
    """Sequence number of the last time this batch's records were handed to the producer."""
    started: float
    stage_one_s: float
    """Seconds from reading the batch to its decisions being settled (before the hand-over)."""
    stages: dict[str, float]
    """Seconds spent per step of stage one (the batch log line)."""


#: Batches whose delivery (acks, then offset commit) may be pending while the next is decided.
MAX_IN_DELIVERY = 2


class _FinishBatchBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: ShipmentConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # the batches in flight are acknowledged and committed before partitions move
        await self._consumer.drain()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class ShipmentConsumer:
    """Runs until :meth:`request_stop`; the batches in flight are finished and committed first.

    Two stages overlap (ADR 0025): while batch *n*'s acknowledgements are awaited and its
    offsets committed, batch *n + 1* is read, decided and settled in the ledger. Records reach
    the producer in batch order; offsets are committed in batch order, each only after its own
    batch's acknowledgements; at most ``MAX_IN_DELIVERY`` batches wait for delivery while the
    next is decided.
    """

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        *,
        topics: Topics,
        screener: Screener,
        publisher: Publisher,
        metrics: ScreeningMetrics,
        batch_max_records: int = 500,
        batch_timeout_ms: int = 200,
        max_delay: float = 5.0,
        schemas: SchemaResolver | None = None,
    ) -> None:
        self._consumer = consumer
        self._schemas = schemas
        self._tracer = tracer()
        """``None`` when tracing is off (the default): then no span is made, no header read."""
        """Set when a schema registry is configured: framed records are read through it."""
        self._topics = topics
        self._screener = screener
        self._publisher = publisher
        self._metrics = metrics
        self._max_records = batch_max_records
        self._timeout_ms = batch_timeout_ms
        self._max_delay = max_delay
        self._lock = asyncio.Lock()
        self._stopping = False
        self._in_flight: deque[asyncio.Task[int]] = deque()
        """Stage two of the batches being delivered, oldest first (at most ``MAX_IN_DELIVERY``)."""
        self._issues = 0
        """Counts every hand-over of a batch's records to the producer (first send or resend)."""
        self._hand_over_lock = asyncio.Lock()
        self._trace = logging.getLogger(__name__).isEnabledFor(logging.DEBUG)
        """Per-event debug lines (the level is set once, at start)."""
        self.batches = 0

    def listener(self) -> ConsumerRebalanceListener:
        return _FinishBatchBeforeRevoke(self)

    def request_stop(self) -> None:
        self._stopping = True

    def _is_stopping(self) -> bool:
        return self._stopping

    async def drain(self) -> None:
        """Wait for the batch being decided and the batches being delivered (rebalance, stop).

        A delivery that failed is left for :meth:`run` to raise; here it only has to be over.
        """
        async with self._lock:
            if self._in_flight:
                await asyncio.wait(list(self._in_flight))

    async def run(self) -> None:
        """Consume until a stop is requested; a batch is never left half-committed."""
        try:
            while not self._stopping:
                batch = await self._consumer.getmany(
                    timeout_ms=self._timeout_ms, max_records=self._max_records
                )
                if batch:
                    async with self._lock:
                        delivery = await self._decide_and_send(batch)
                        previous = self._in_flight[-1] if self._in_flight else None
                        self._in_flight.append(
                            asyncio.create_task(self._deliver(delivery, previous))
                        )
                        while len(self._in_flight) > MAX_IN_DELIVERY:
                            await self._in_flight.popleft()
                await self._reap(wait=False)
                await observe_lag(self._consumer, self._metrics.lag)
            async with self._lock:
                await self._reap(wait=True)
        except StoppingError as exc:
            log.warning("stopped while retrying; the batch will be redelivered", stage=str(exc))

    async def _reap(self, *, wait: bool) -> None:
        """Drop delivered batches, oldest first, raising a delivery's failure (all if ``wait``)."""
        while self._in_flight and (wait or self._in_flight[0].done()):
            await self._in_flight.popleft()

    async def _decide_and_send(
        self, batch: dict[TopicPartition, list[ConsumerRecord]]
    ) -> _Delivery:
        """Stage one: parse, decide and settle the batch, then hand its records to the producer."""
        started = time.monotonic()
        outputs = _Outputs()
        if self._tracer is not None:
            records = [r for records in batch.values() for r in records]
            outputs.traces = BatchTraces(self._tracer, records, time.time_ns())
        schemas = None if self._schemas is None else await self._resolve_schemas(batch)
        items: list[tuple[ConsumerRecord, ShipmentEvent | Rejected]] = [
            (record, parse_record(record.value, schemas))
            for records in batch.values()
            for record in records
        ]
        events = [(r, p) for r, p in items if not isinstance(p, Rejected)]
        timings = {"parse_s": time.monotonic() - started}
        if outputs.traces is not None:
            outputs.traces.parsed()
        results = iter(await self._screen(events, timings))
        if outputs.traces is not None:
            outputs.traces.decided(timings, [isinstance(p, Rejected) for _, p in items])
        decided = time.monotonic()
        now = time.time()
        for record, parsed in items:
            if isinstance(parsed, Rejected):
                self._add_dead_letter(outputs, record, parsed)
                continue
            result = next(results)
            assert result is not None, "only a re-screen is ever dropped"
            if isinstance(result, Exception):
                with structlog.contextvars.bound_contextvars(
                    event_id=parsed.event_id, shipment_id=parsed.shipment_id
                ):
                    log.error("event could not be decided; dead-lettered", error=repr(result))
                self._add_dead_letter(outputs, record, Rejected(PROCESSING_ERROR, repr(result)))
            else:
                self._add_decision(outputs, result, record, now)
        if outputs.traces is not None:  # one output record per input record, in order
            annotate = outputs.traces.annotate
            outputs.headers = [
                annotate(i, output_topic=topic, decision_id=decision_id)
                for i, (topic, _, _, decision_id) in enumerate(outputs.records)
            ]
        acks, issued = await retry_transient(
            lambda: self._hand_over(outputs),
            stage="produce",
            metrics=self._metrics,
            stopping=self._is_stopping,
            max_delay=self._max_delay,
        )
        timings["hand_over_s"] = time.monotonic() - decided
        return _Delivery(batch, outputs, acks, issued, started, decided - started, timings)

    async def _resolve_schemas(
        self, batch: dict[TopicPartition, list[ConsumerRecord]]
    ) -> dict[int, Resolved]:
        """The registry's schemas for the batch's framed records (fetched now if new; a registry
        outage is retried like a database one, so no record is dead-lettered for it)."""
        assert self._schemas is not None
        resolver = self._schemas
        wanted = resolver.unresolved(r.value for records in batch.values() for r in records)
        if wanted:
            await retry_transient(
                lambda: resolver.resolve(wanted),
                stage="schema_registry",
                metrics=self._metrics,
                stopping=self._is_stopping,
                max_delay=self._max_delay,
            )
        return resolver.known

    async def _deliver(self, delivery: _Delivery, previous: asyncio.Task[int] | None) -> int:
        """Stage two: await the acks and the previous batch's delivery, then commit the offsets.
        Returns the sequence number of the last hand-over of this batch's records.

        If an acknowledgement fails, the batch is sent again (retried until acknowledged). A
        batch whose records went to the producer before the previous batch's were sent again is
        sent again too, so that the last copy of every decision on the topic is in batch order
        (copies are harmless: consumers keep one decision per id). Offsets are committed in
        batch order: after the previous batch's commit.
        """
        waited = time.monotonic()
        issued = delivery.issued
        acks = asyncio.gather(*delivery.acks, return_exceptions=True)
        previous_issued = 0 if previous is None else await previous
        failed = next((r for r in await acks if isinstance(r, BaseException)), None)
        if failed is not None and not is_retryable(failed):
            raise failed
        if failed is not None or previous_issued > issued:
            if failed is not None:
                self._metrics.transient_errors.labels("produce").inc()
                log.warning(
                    "a decision was not acknowledged; sending the batch again", error=repr(failed)
                )
            issued = await retry_transient(
                lambda: self._send_all(delivery.outputs),
                stage="produce",
                metrics=self._metrics,
                stopping=self._is_stopping,
                max_delay=self._max_delay,
            )
        produced = time.monotonic()
        if delivery.outputs.traces is not None:
            delivery.outputs.traces.published()
        await commit_offsets(self._consumer, next_offsets(delivery.batch))
        self.batches += 1
        self._metrics.batch_seconds.observe(time.monotonic() - delivery.started)
        outputs = delivery.outputs
        log.info(
            "batch done",
            records=sum(len(r) for r in delivery.batch.values()),
            dead_letters=outputs.dead_letters,
            **outputs.outcomes,
            seconds=round(time.monotonic() - delivery.started, 4),
            stage_one_s=round(delivery.stage_one_s, 4),
            **{k: round(v, 4) for k, v in delivery.stages.items()},
            ack_wait_s=round(produced - waited, 4),
            commit_s=round(time.monotonic() - produced, 4),
        )
        return issued

    async def _screen(
        self, events: list[tuple[ConsumerRecord, ShipmentEvent]], timings: dict[str, float]
    ) -> list[Result]:
        """Every event's decision (or engine error), on the one settle path (ADR 0027)."""
        return await self._screener.screen_all(
            [e for _, e in events],
            retry=self._retry_decide,
            stopping=self._is_stopping,
            timings=timings,
        )

    async def _retry_decide(self, operation: Callable[[], Awaitable[list[Result]]]) -> list[Result]:
        return await retry_transient(
            operation,
            stage="decide",
            metrics=self._metrics,
            stopping=self._is_stopping,
            max_delay=self._max_delay,
        )

    def _add_decision(
        self, out: _Outputs, screened: Screened, record: ConsumerRecord, now: float
    ) -> None:
        out.records.append(
            (
                self._topics.decisions,
                screened.shipment_id.encode(),
                screened.payload.encode(),
                screened.decision_id,
            )
        )
        if screened.decision is not None:
            out.outcomes[screened.decision.outcome.value] += 1
            self._metrics.observe_decision(screened.decision)
            if record.timestamp:
                self._metrics.latency.observe(max(0.0, now - record.timestamp / 1000))
            if self._trace:  # per event: off at the default level; the batch line sums it up
                log.debug(
                    "decided",
                    shipment_id=screened.shipment_id,
                    outcome=screened.decision.outcome.value,
                    decision_id=screened.decision_id,
                )
        else:
            out.outcomes["duplicate"] += 1
            if self._trace:
                log.debug(
                    "duplicate event; stored decision re-emitted",
                    shipment_id=screened.shipment_id,
                    decision_id=screened.decision_id,
                )

    def _add_dead_letter(self, out: _Outputs, record: ConsumerRecord, rejected: Rejected) -> None:
        letter = dead_letter(
            rejected,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            failed_at=utc_now(),
        )
        out.records.append(
            (self._topics.dead_letters, record.key, letter.model_dump_json().encode(), None)
        )
        out.dead_letters += 1
        self._metrics.dead_letters.labels(rejected.error_type).inc()
        log.warning(
            "dead-lettered",
            error_type=rejected.error_type,
            error=rejected.error[:300],
            partition=record.partition,
            offset=record.offset,
        )

    async def _hand_over(self, outputs: _Outputs) -> tuple[list[asyncio.Future[Any]], int]:
        """Give every record of the batch to the producer, in order: their ack futures, and the
        sequence number of this hand-over. One batch at a time, so that a resend and the next
        batch's first send never interleave."""
        async with self._hand_over_lock:
            send = self._publisher.send
            if outputs.headers is None:
                acks = [await send(*record) for record in outputs.records]
            else:
                acks = [
                    await send(*record, headers=headers)
                    for record, headers in zip(outputs.records, outputs.headers, strict=True)
                ]
            self._issues += 1
            return acks, self._issues

    async def _send_all(self, outputs: _Outputs) -> int:
        """Send the batch again and await every ack; the sequence number of the hand-over."""
        acks, issued = await self._hand_over(outputs)
        await asyncio.gather(*acks)
        return issued
