"""Benchmark: decisions persisted per second by the audit writer vs a raw COPY of the same rows.

``make bench-audit`` (or ``python -m tests.integration.audit.bench_audit [N] [REPS] [BATCH]``)
runs it on the local runtime. Each repetition gets a scratch database of its own (migrated with
the audit migrations, dropped afterwards), so both paths always start from empty tables with
the same columns and indexes:

* **audit writer** - the service's own :class:`DecisionsIngest` (decode, canonicalise, hash,
  deduplicate, chain under the lock, COPY, commit, then commit the offsets) fed from memory by a
  stand-in for the Kafka consumer, so that the broker's speed is not part of the figure;
* **raw COPY** - the finished rows of the same decisions (hashes already computed) COPYed into
  ``public.raw_copy`` (``LIKE audit.decision_records INCLUDING ALL``: same columns, same
  indexes), in transactions of the same batch size.

The order of the two alternates between repetitions (A B, B A, …) so that drift on a shared
machine hits both alike; the figures reported are the medians over the repetitions.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition

from deploy.local import Runtime, RuntimeState
from services.audit.anchors import AnchorPublisher
from services.audit.chain import ChainHead, extend
from services.audit.config import AuditSettings
from services.audit.decisions_ingest import DecisionsIngest
from services.audit.decoding import decode_decision
from services.audit.metrics import AuditMetrics
from services.audit.records import RECORD_COLUMNS, PendingRecord, SourceCoordinates
from services.audit.tree_log import TreeLog
from services.common.logging import configure_logging
from services.common.migrations import SERVICES_DIR, apply_migrations
from tests.integration.audit.conftest import _with_database, superuser_connect
from tests.unit.audit.factories import DECISION_KEYS, DECISION_SIGNER, LOG_SIGNER, make_decision

TOPIC = "bench.decisions"
DEFAULT_COUNT = 10_000
DEFAULT_REPETITIONS = 5
DEFAULT_BATCH = 1000


def _values(first: int, count: int) -> list[bytes]:
    """``count`` distinct decisions (~2 kB each, with their evidence) as published."""
    template = make_decision(first).model_dump_json()
    old_id = make_decision(first).decision_id
    return [
        template.replace(old_id, f"{uuid.uuid4().hex}")
        .replace("SHP-2026-", f"SHP-{n % 97:02d}-", 2)
        .encode()
        for n in range(count)
    ]


class MemoryConsumer:
    """The part of ``AIOKafkaConsumer`` that :class:`DecisionsIngest` uses, served from memory."""

    def __init__(self, values: list[bytes]) -> None:
        self.tp = TopicPartition(TOPIC, 0)
        self._records = [
            ConsumerRecord(
                TOPIC,
                0,
                offset,
                0,
                0,
                None,
                value,
                None,
                0,
                len(value),
                DECISION_SIGNER.headers(value),
            )
            for offset, value in enumerate(values)
        ]
        self._position = 0
        self.committed = 0

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        await asyncio.sleep(0)
        end = min(len(self._records), self._position + (max_records or len(self._records)))
        batch = self._records[self._position : end]
        self._position = end
        return {self.tp: batch} if batch else {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed = offsets[self.tp]

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    def highwater(self, tp: TopicPartition) -> int:
        return len(self._records)

    async def position(self, tp: TopicPartition) -> int:
        return self._position


async def _audit_path(dsn: str, values: list[bytes], batch: int, anchors: Path) -> float:
    """Seconds until every value is written and its offset committed by the real ingest loop.

    With everything the service does per record and per batch: each decision's signature
    checked, the Merkle tree extended, a tree head signed, stored and appended (fsync) to an
    anchor file. Only the broker is left out (the head is not produced to Kafka).
    """
    consumer = MemoryConsumer(values)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=3)
    try:
        ingest = DecisionsIngest(
            consumer,
            pool,
            AuditMetrics(),
            keys=DECISION_KEYS,
            tree=TreeLog(LOG_SIGNER),
            anchors=AnchorPublisher(file=anchors),
            signature_workers=AuditSettings().signature_workers,
            batch_max_records=batch,
            poll_timeout_ms=0,
        )
        started = time.perf_counter()
        while consumer.committed < len(values):
            if await ingest.run_once() == 0:
                await ingest.flush()
        elapsed = time.perf_counter() - started
        await ingest.close()
        async with pool.acquire() as conn:
            head = await conn.fetchval("SELECT max(seq) FROM audit.decision_records")
        if head != len(values):
            raise AssertionError(f"{len(values)} values written, chain head at {head}")
        return elapsed
    finally:
        await pool.close()


def _rows(values: list[bytes]) -> list[tuple[Any, ...]]:
    """The rows the writer stores for ``values``, chained from genesis (not timed)."""
    now = datetime.now(UTC)
    records: list[PendingRecord] = []
    for offset, value in enumerate(values):
        check = DECISION_KEYS.check_record(value, DECISION_SIGNER.headers(value))
        item = decode_decision(value, None, SourceCoordinates(TOPIC, 0, offset), now, check)
        assert isinstance(item, PendingRecord)
        records.append(item)
    chained = extend(ChainHead.genesis(), (r.content for r in records))
    return [r.row(s, p, d) for r, (s, p, d) in zip(records, chained, strict=True)]


async def _raw_copy(dsn: str, rows: list[tuple[Any, ...]], batch: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "raw_copy",
                    schema_name="public",
                    columns=RECORD_COLUMNS,
                    records=rows[i : i + batch],
                )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def _scratch_database(
    su: asyncpg.Connection[Any], state: RuntimeState
) -> tuple[str, str, str]:
    name = f"audit_bench_{uuid.uuid4().hex[:8]}"
    await su.execute(f'CREATE DATABASE "{name}" OWNER lodestone_owner TEMPLATE template0')
    await su.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{name}" TO lodestone_audit_writer')
    admin = _with_database(state.dsn("admin"), name)
    await apply_migrations(admin, "audit", SERVICES_DIR / "audit" / "migrations")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(
            "CREATE TABLE public.raw_copy (LIKE audit.decision_records INCLUDING ALL)"
        )
    finally:
        await conn.close()
    return name, admin, _with_database(state.dsn("audit"), name)


async def bench(state: RuntimeState, count: int, repetitions: int, batch: int) -> dict[str, Any]:
    runs: list[dict[str, float]] = []
    su = await superuser_connect()
    scratch = tempfile.TemporaryDirectory(prefix="audit-bench-anchors-")
    anchors = Path(scratch.name)
    try:
        for rep in range(repetitions):
            values = _values(1 + rep, count)
            rows = _rows(values)
            name, admin, writer = await _scratch_database(su, state)
            try:
                if rep % 2 == 0:
                    audit_s = await _audit_path(writer, values, batch, anchors / f"{name}.jsonl")
                    raw_s = await _raw_copy(admin, rows, batch)
                else:
                    raw_s = await _raw_copy(admin, rows, batch)
                    audit_s = await _audit_path(writer, values, batch, anchors / f"{name}.jsonl")
            finally:
                await su.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            run = {"audit": count / audit_s, "raw": count / raw_s}
            run["ratio"] = run["audit"] / run["raw"]
            runs.append(run)
            print(
                f"  run {rep + 1}/{repetitions}: audit writer {run['audit']:,.0f} rec/s,"
                f" raw COPY {run['raw']:,.0f} rows/s, ratio {run['ratio']:.0%}",
                file=sys.stderr,
            )
    finally:
        await su.close()
        scratch.cleanup()

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    return {
        "records_per_run": count,
        "repetitions": repetitions,
        "batch": batch,
        "audit_records_per_s": round(median("audit")),
        "raw_copy_rows_per_s": round(median("raw")),
        "ratio": round(median("ratio"), 3),
        "runs": [{k: round(v, 3 if k == "ratio" else None) for k, v in r.items()} for r in runs],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _ints(args: Iterable[str], defaults: tuple[int, int, int]) -> tuple[int, int, int]:
    given = [int(a) for a in args]
    count, reps, batch = (given + list(defaults)[len(given) :])[:3]
    return count, reps, batch


def main() -> None:
    configure_logging("WARNING")  # the per-batch INFO lines are not what is measured
    count, reps, batch = _ints(sys.argv[1:], (DEFAULT_COUNT, DEFAULT_REPETITIONS, DEFAULT_BATCH))
    result = asyncio.run(bench(Runtime().up(), count, reps, batch))
    out = Path(".bench/audit.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"audit writer: {result['audit_records_per_s']:,} records/s | raw COPY of the same rows:"
        f" {result['raw_copy_rows_per_s']:,} rows/s | ratio {result['ratio']:.0%}"
        f" (median of {reps} runs of {count:,} records, batches of {batch})"
    )


if __name__ == "__main__":
    main()
