"""Watching the outputs: decisions as the broker appended them, audit records as committed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Collection, Mapping

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka_security import kafka_client_options
from services.common.pool import CONNECTION_LOST

#: What the audit poller survives by reconnecting: the database restarting under it.
_DATABASE_DOWN: tuple[type[BaseException], ...] = (*CONNECTION_LOST, asyncpg.PostgresError)


class _Watcher:
    """What both observers share: a background task, and waiting until ids have been seen."""

    _task: asyncio.Task[None] | None = None

    def _seen(self) -> Mapping[str, int]:
        """Id -> the time (ms) it was first seen."""
        raise NotImplementedError

    def missing(self, ids: Collection[str]) -> int:
        seen = self._seen()
        return sum(1 for i in ids if i not in seen)

    async def wait_for(self, ids: Collection[str], timeout_s: float) -> int:
        """Wait until every id has been seen; returns how many are still missing."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = self.missing(ids)
            if not left or time.monotonic() >= deadline:
                return left
            await asyncio.sleep(0.1)

    async def _stop_task(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class DecisionCollector(_Watcher):
    """Reads a decisions topic from the beginning (no group) and indexes what it sees.

    ``first_at_ms[event_id]`` is the broker timestamp (LogAppendTime) of the first decision on a
    shipment event; ``times_ms`` holds the timestamp of every decision record.
    """

    def __init__(
        self, bootstrap: str, topic: str, partitions: int, *, keep_payloads: bool = False
    ) -> None:
        self._bootstrap = bootstrap
        self._keep = keep_payloads
        self.payloads: dict[str, bytes] = {}
        """decision_id -> the decision's bytes (only with ``keep_payloads``)."""
        self._partitions = partitions
        self._consumer: AIOKafkaConsumer | None = None
        self._topic = topic
        self._task: asyncio.Task[None] | None = None
        self.first_at_ms: dict[str, int] = {}
        self.decision_of: dict[str, set[str]] = defaultdict(set)
        self.decision_ids: set[str] = set()
        self.times_ms: list[int] = []
        self.records = 0

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **kafka_client_options(),
        )
        await consumer.start()
        consumer.assign([TopicPartition(self._topic, p) for p in range(self._partitions)])
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batch.values():
                for record in records:
                    self._see(record.value, record.timestamp)

    def _see(self, value: bytes | None, timestamp: int) -> None:
        if value is None:
            return
        decision = orjson.loads(value)
        self.records += 1
        self.times_ms.append(timestamp)
        decision_id = decision["decision_id"]
        self.decision_ids.add(decision_id)
        if self._keep:
            self.payloads.setdefault(decision_id, value)
        if decision.get("trigger") == "shipment_event":
            event_id = decision["event_id"]
            self.decision_of[event_id].add(decision_id)
            self.first_at_ms.setdefault(event_id, timestamp)

    def _seen(self) -> Mapping[str, int]:
        return self.first_at_ms

    def decisions_of(self, event_ids: Collection[str]) -> set[str]:
        """The ids of every decision seen for these events."""
        return {d for e in event_ids for d in self.decision_of.get(e, ())}

    async def stop(self) -> None:
        await self._stop_task()
        if self._consumer is not None:
            await self._consumer.stop()


class AuditPoller(_Watcher):
    """Polls the audit store (auditor role, ``audit.decisions_v``) for one source topic.

    ``seen_at_ms[decision_id]`` is when a poll first saw the committed record: the commit time
    plus at most one polling interval.
    """

    def __init__(self, dsn: str, source_topic: str, interval_s: float = 0.02) -> None:
        self._dsn = dsn
        self._topic = source_topic
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None
        self._last_seq = 0
        self.seen_at_ms: dict[str, int] = {}
        self.copies: dict[str, int] = defaultdict(int)

    async def start(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            self._last_seq = await conn.fetchval(
                "SELECT coalesce(max(seq), 0) FROM audit.chain_head_v"
            )
        finally:
            await conn.close()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while True:
                try:
                    conn = conn or await asyncpg.connect(self._dsn, timeout=2)
                    await self._poll(conn)
                except _DATABASE_DOWN:
                    if conn is not None:  # the database restarted: reconnect next time
                        with contextlib.suppress(Exception):
                            await conn.close()
                    conn = None
                await asyncio.sleep(self._interval)
        finally:
            if conn is not None:
                await conn.close()

    async def _poll(self, conn: asyncpg.Connection) -> None:
        rows = await conn.fetch(
            "SELECT seq, decision_id, source_topic FROM audit.decisions_v"
            " WHERE seq > $1 ORDER BY seq LIMIT 50000",
            self._last_seq,
        )
        now_ms = int(time.time() * 1000)
        for row in rows:
            self._last_seq = row["seq"]
            if row["source_topic"] == self._topic:
                self.seen_at_ms.setdefault(row["decision_id"], now_ms)
                self.copies[row["decision_id"]] += 1

    def _seen(self) -> Mapping[str, int]:
        return self.seen_at_ms

    async def stop(self) -> None:
        await self._stop_task()
