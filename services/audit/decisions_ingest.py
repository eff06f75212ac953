"""Consuming decisions.v1 into the store: batch, write in one transaction, then commit offsets.

A plain aiokafka consumer loop (``enable_auto_commit=False``) rather than a FastStream
subscriber: the offsets committed are exactly those of the batch just written, and only after
its transaction committed (docs/adr/0010-audit-consumer-loop.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.audit.anchors import AnchorPublisher
from services.audit.decoding import decode_decision
from services.audit.metrics import AuditMetrics
from services.audit.partitions import PartitionsAhead
from services.audit.records import PendingRecord, SourceCoordinates
from services.audit.retry import Backoff, retry_transient
from services.audit.signature_checks import SignatureChecker
from services.audit.store import BatchResult, Rejected, write_batch
from services.audit.traces import Traced, trace_written, traced_records
from services.audit.tree_log import TreeLog
from services.common.kafka_helpers import commit_offsets, observe_lag
from services.common.logging import get_logger
from services.common.signing import KeyRing, SignatureCheck
from services.common.tracing import tracer

log = get_logger(__name__)
_stdlib_log = logging.getLogger(__name__)  # the level configure_logging() sets


@dataclass
class _Decoded:
    records: list[PendingRecord]
    rejected: list[Rejected]
    originals: dict[str, tuple[bytes | None, bytes | None]]
    """decision_id -> (key, value) of its first occurrence, to reject it if the store refuses."""


def decode_batch(
    messages: list[ConsumerRecord[bytes, bytes]], checks: list[SignatureCheck]
) -> _Decoded:
    """Decode one poll's records; unsigned, forged or undecodable ones become rejections.

    ``checks[i]`` is the outcome of checking ``messages[i]``'s signature.
    """
    now = datetime.now(UTC)
    out = _Decoded([], [], {})
    for msg, check in zip(messages, checks, strict=True):
        source = SourceCoordinates(msg.topic, msg.partition, msg.offset)
        item = decode_decision(msg.value, msg.key, source, now, check)
        if isinstance(item, Rejected):
            out.rejected.append(item)
        else:
            out.records.append(item)
            out.originals.setdefault(item.decision_id, (msg.key, msg.value))
    return out


async def decode_verified(
    messages: list[ConsumerRecord[bytes, bytes]], signatures: SignatureChecker
) -> _Decoded:
    """:func:`decode_batch` with every signature checked; the two overlap (see
    :mod:`services.audit.signature_checks`)."""
    pairs = [(msg.value or b"", msg.headers) for msg in messages]
    read = signatures.read(pairs)
    pending = signatures.verify(pairs, read)
    decoded = decode_batch(messages, read)
    checks = await pending
    if any(c.problem is not None and r.problem is None for c, r in zip(checks, read, strict=True)):
        decoded = decode_batch(messages, checks)  # a signature failed: decode again, rejecting it
    return decoded


class DecisionsIngest:
    """Reads decisions.v1 and writes every record exactly once into the audit store."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        pool: asyncpg.Pool,
        metrics: AuditMetrics,
        *,
        keys: KeyRing,
        tree: TreeLog,
        signature_workers: int = 0,
        anchors: AnchorPublisher | None = None,
        batch_max_records: int = 1000,
        poll_timeout_ms: int = 200,
        backoff: Backoff | None = None,
        on_db_state: Callable[[bool], None] = lambda ok: None,
    ) -> None:
        self._consumer = consumer
        self._pool = pool
        self._signatures = SignatureChecker(keys, signature_workers)
        self._tree = tree
        self._ahead = PartitionsAhead()
        self._anchors = anchors
        self._metrics = metrics
        self._batch_max = batch_max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._backoff = backoff or Backoff()
        self._on_db_state = on_db_state
        self._in_flight: asyncio.Task[None] | None = None
        self._tracer = tracer()  # None when tracing is off (the default)

    async def run_once(self) -> int:
        """Poll and decode one batch while the previous one is in the database; returns its size.

        One batch at most is in flight. It is written in one transaction and only then are its
        offsets committed; the next batch's write starts after that. So the chain is extended
        in poll order and no offset is committed before its records (docs/adr/0010-…). What
        overlaps is this batch's polling and decoding with the database's work on the previous
        batch: its COPY rows have been sent when this method returns.
        """
        batch = await self._consumer.getmany(
            timeout_ms=self._poll_timeout_ms, max_records=self._batch_max
        )
        messages = [msg for msgs in batch.values() for msg in msgs]
        if not messages:
            await self.flush()
            await self._update_lag()
            return 0
        offsets = {tp: msgs[-1].offset + 1 for tp, msgs in batch.items() if msgs}
        decoded = await decode_verified(messages, self._signatures)
        traced = None if self._tracer is None else traced_records(messages)
        await self.flush()
        sent = asyncio.Event()
        self._in_flight = asyncio.create_task(
            self._write_and_commit(decoded, offsets, len(messages), sent, traced),
            name="audit-batch-write",
        )
        await sent.wait()
        await self._update_lag()
        return len(messages)

    async def flush(self) -> None:
        """Finish the batch in flight, if any (written, then its offsets committed).

        Raises what writing it raised: a batch that can be neither written nor rejected stops
        the service, and the batch polled after it is never committed either.
        """
        task, self._in_flight = self._in_flight, None
        if task is not None:
            await task

    async def close(self) -> None:
        """Stop without waiting: a batch in flight is cancelled before its offsets are committed.

        Its transaction either rolled back or committed; either way its records are read again
        by the next owner of the partitions and dropped as duplicates where already stored.
        """
        task, self._in_flight = self._in_flight, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._signatures.close()

    async def _write_and_commit(
        self,
        decoded: _Decoded,
        offsets: dict[TopicPartition, int],
        count: int,
        sent: asyncio.Event,
        traced: Traced | None = None,
    ) -> None:
        try:
            started = time.perf_counter()
            started_ns = time.time_ns()
            result = await self._write(decoded, sent.set)
            self._metrics.write_latency.observe(time.perf_counter() - started)
            if traced and self._tracer is not None:
                trace_written(self._tracer, result.inserted, traced, started_ns, time.time_ns())
            self._metrics.batch_size.observe(count)
            self._record(result)
            if result.tree_head is not None and self._anchors is not None:
                await self._anchors.publish(result.tree_head)
            await self._commit(offsets)
        finally:
            sent.set()

    async def _write_once(
        self,
        records: list[PendingRecord],
        rejected: list[Rejected],
        on_sent: Callable[[], None] | None = None,
    ) -> BatchResult:
        async with self._pool.acquire() as conn:
            result = await write_batch(
                conn, records, rejected, on_sent=on_sent, tree=self._tree, ahead=self._ahead
            )
        self._on_db_state(True)
        return result

    async def _write_retrying(
        self,
        records: list[PendingRecord],
        rejected: list[Rejected],
        what: str,
        on_sent: Callable[[], None] | None = None,
    ) -> BatchResult:
        def on_retry(_exc: BaseException) -> None:
            self._metrics.write_retries.inc()
            self._on_db_state(False)

        return await retry_transient(
            lambda: self._write_once(records, rejected, on_sent),
            backoff=self._backoff,
            what=what,
            on_retry=on_retry,
        )

    async def _write(
        self, decoded: _Decoded, on_sent: Callable[[], None] | None = None
    ) -> BatchResult:
        try:
            return await self._write_retrying(
                decoded.records, decoded.rejected, "decision batch", on_sent
            )
        except Exception as exc:  # the store refused something: find the record(s) it refuses
            log.error("batch refused, writing record by record", error=str(exc))
        return await self._write_one_by_one(decoded)

    async def _write_one_by_one(self, decoded: _Decoded) -> BatchResult:
        total = BatchResult()
        rejected = list(decoded.rejected)
        for record in decoded.records:
            try:
                result = await self._write_retrying([record], [], "single decision")
            except Exception as exc:
                key, value = decoded.originals.get(record.decision_id, (None, None))
                rejected.append(Rejected(record.source, key, value, type(exc).__name__, str(exc)))
                continue
            total.inserted += result.inserted
            total.duplicates += result.duplicates
            total.head = result.head
            total.tree_head = result.tree_head or total.tree_head
        # If even this fails the error propagates and the service stops: never skip silently.
        last = await self._write_retrying([], rejected, "rejected records")
        total.rejected = last.rejected
        total.head = total.head or last.head
        total.tree_head = last.tree_head or total.tree_head
        return total

    def _record(self, result: BatchResult) -> None:
        m = self._metrics
        m.records.labels("inserted").inc(len(result.inserted))
        m.records.labels("duplicate").inc(result.duplicates)
        m.records.labels("rejected").inc(result.rejected)
        if result.head is not None:
            m.chain_head.set(result.head.seq)
        # Guarded: structlog runs its processors even for a level the handler then drops.
        for record in result.inserted if _stdlib_log.isEnabledFor(logging.DEBUG) else ():
            log.debug(
                "decision recorded",
                decision_id=record.decision_id,
                shipment_id=record.shipment_id,
                outcome=record.outcome,
            )
        if result.rejected:
            log.warning("undecodable decision records kept as rejected", count=result.rejected)
        log.info(
            "batch written",
            inserted=len(result.inserted),
            duplicates=result.duplicates,
            rejected=result.rejected,
            head_seq=result.head.seq if result.head else None,
            first_decision_id=result.inserted[0].decision_id if result.inserted else None,
            first_shipment_id=result.inserted[0].shipment_id if result.inserted else None,
        )

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        # refused after a rebalance: the new owner re-reads these records and the store drops
        # them as duplicates. Nothing is lost.
        await commit_offsets(self._consumer, offsets)

    async def _update_lag(self) -> None:
        await observe_lag(self._consumer, self._metrics.consumer_lag)
