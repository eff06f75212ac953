"""Benchmark: decisions persisted per second by the audit writer vs a raw COPY of the same rows.

``make bench-audit`` (or ``python -m tests.integration.audit.bench_audit [N]``) runs it on the
local runtime, in a scratch database that is dropped afterwards. The writer's path is measured
from the Kafka value bytes: decode, canonicalise, hash, deduplicate, chain, COPY, commit. The
baseline COPYs the finished rows (hashes already computed) into a table with the same columns
and indexes, in the same batch size: the ratio is the price of the audit guarantees.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from deploy.local import Runtime, RuntimeState
from services.audit.chain import ChainHead, extend
from services.audit.decoding import decode_decision
from services.audit.records import RECORD_COLUMNS, PendingRecord, SourceCoordinates
from services.audit.store import write_batch
from services.common.migrations import SERVICES_DIR, apply_migrations
from tests.integration.audit.conftest import _with_database, superuser_connect
from tests.unit.audit.factories import make_decision

BATCH = 1000


def _values(first: int, count: int) -> list[bytes]:
    template = make_decision(first).model_dump_json()
    old_id = make_decision(first).decision_id
    return [
        template.replace(old_id, f"{uuid.uuid4().hex}")
        .replace("SHP-2026-", f"SHP-{n % 97:02d}-", 2)
        .encode()
        for n in range(count)
    ]


async def _audit_path(dsn: str, values: list[bytes]) -> tuple[float, list[PendingRecord]]:
    conn = await asyncpg.connect(dsn)
    decoded: list[PendingRecord] = []
    try:
        started = time.perf_counter()
        for i in range(0, len(values), BATCH):
            now = datetime.now(UTC)
            batch = []
            for offset, value in enumerate(values[i : i + BATCH], start=i):
                item = decode_decision(value, None, SourceCoordinates("bench", 0, offset), now)
                assert isinstance(item, PendingRecord)
                batch.append(item)
            await write_batch(conn, batch)
            decoded += batch
        return time.perf_counter() - started, decoded
    finally:
        await conn.close()


async def _raw_copy(dsn: str, records: list[PendingRecord]) -> float:
    rows = [
        r.row(seq, prev, digest)
        for r, (seq, prev, digest) in zip(
            records, extend(ChainHead.genesis(), (r.content for r in records)), strict=True
        )
    ]
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "raw_copy",
                    schema_name="public",
                    columns=RECORD_COLUMNS,
                    records=rows[i : i + BATCH],
                )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def bench(state: RuntimeState, count: int) -> dict[str, Any]:
    name = f"audit_bench_{uuid.uuid4().hex[:8]}"
    su = await superuser_connect()
    await su.execute(f'CREATE DATABASE "{name}" OWNER lodestone_admin TEMPLATE template0')
    try:
        admin = _with_database(state.dsn("admin"), name)
        writer = _with_database(state.dsn("audit"), name)
        await apply_migrations(admin, "audit", SERVICES_DIR / "audit" / "migrations")
        conn = await asyncpg.connect(admin)
        await conn.execute(
            "CREATE TABLE public.raw_copy (LIKE audit.decision_records INCLUDING ALL)"
        )
        await conn.close()
        sets = [_values(1, count), _values(2, count)]
        # Alternate the order (A B B A) so that drift on a noisy machine hits both sides alike.
        audit_s1, recs1 = await _audit_path(writer, sets[0])
        raw_s1 = await _raw_copy(admin, recs1)
        _, recs2 = await _audit_path_dry(sets[1])
        raw_s2 = await _raw_copy_again(admin, recs2)
        audit_s2, _ = await _audit_path(writer, sets[1])
    finally:
        await su.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await su.close()
    audit_rate = 2 * count / (audit_s1 + audit_s2)
    raw_rate = 2 * count / (raw_s1 + raw_s2)
    return {
        "records": 2 * count,
        "batch": BATCH,
        "audit_records_per_s": round(audit_rate),
        "raw_copy_rows_per_s": round(raw_rate),
        "ratio": round(audit_rate / raw_rate, 3),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


async def _audit_path_dry(values: list[bytes]) -> tuple[float, list[PendingRecord]]:
    now = datetime.now(UTC)
    records = []
    for offset, value in enumerate(values):
        item = decode_decision(value, None, SourceCoordinates("bench", 0, offset), now)
        assert isinstance(item, PendingRecord)
        records.append(item)
    return 0.0, records


async def _raw_copy_again(dsn: str, records: list[PendingRecord]) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE public.raw_copy")
    finally:
        await conn.close()
    return await _raw_copy(dsn, records)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    result = asyncio.run(bench(Runtime().up(), count))
    out = Path(".bench/audit.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"audit writer: {result['audit_records_per_s']:,} records/s | raw COPY of the same rows:"
        f" {result['raw_copy_rows_per_s']:,} rows/s | ratio {result['ratio']:.0%}"
        f" ({result['records']:,} records, batches of {BATCH})"
    )


if __name__ == "__main__":
    main()
