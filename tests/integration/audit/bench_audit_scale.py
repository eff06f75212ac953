"""Benchmark: the auditors' queries, verify and storage of a store filled to a given size.

``make bench-audit-scale`` (or ``python -m tests.integration.audit.bench_audit_scale [N]``) fills
a scratch database of its own through the service's writer (:class:`DecisionsIngest`: signature
check, chain, tree, signed heads, COPY) with N decisions of a realistic spread
(``tests/integration/audit/spread.py``: hundreds of exporters, twelve months of ``decided_at``,
every reason code), lets PostgreSQL analyse it, then reports:

* p50/p99 of every documented query (docs/audit.md) through the HTTP API (in process, over
  ASGI: routing, auth, the pool, JSON) - first pages and pages after a cursor;
* the wall time of ``lodestone audit query`` as a fresh process, for a few of them;
* the rows each query's plan examines (EXPLAIN ANALYZE), the figure that must not grow with N;
* the wall time of ``lodestone audit verify --full`` as a fresh process, in one process and with
  workers, against every signed head; and bytes per record on disk (table, TOAST, indexes, terms).

The figures go to ``.bench/audit-scale.json``; the scratch database is dropped afterwards unless
``LODESTONE_BENCH_KEEP=1``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import ConsumerRecord, TopicPartition
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from deploy.local import Runtime, RuntimeState
from services.audit.api import create_app
from services.audit.config import AuditSettings
from services.audit.decisions_ingest import DecisionsIngest
from services.audit.metrics import AuditMetrics
from services.audit.queries import DecisionFilter, build_listing
from services.audit.tree_log import TreeLog
from services.common.logging import configure_logging
from services.common.migrations import SERVICES_DIR, apply_migrations
from tests.integration.audit.conftest import _with_database, superuser_connect
from tests.integration.audit.spread import Spread, documented_queries
from tests.unit.audit.factories import DECISION_KEYS, DECISION_SIGNER, LOG_SIGNER

TOPIC = "bench.decisions"
TOKEN = "bench-token"
DEFAULT_COUNT = 200_000
REPEATS = 200
"""Samples per query: the p99 of 200 is their 198th, not their maximum (one scheduling hiccup)."""
CLI_REPEATS = 20
PAGE = 100
NOISE = 0.25
"""Growth in rows examined between half and full size that counts as the spread's randomness."""


class SpreadConsumer:
    """The part of ``AIOKafkaConsumer`` the ingest uses, serving a spread signed on the fly."""

    def __init__(self, spread: Spread) -> None:
        self.tp = TopicPartition(TOPIC, 0)
        self._values: Iterator[bytes] = spread.values()
        self._count = spread.count
        self._position = 0
        self.committed = 0

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        await asyncio.sleep(0)
        batch: list[ConsumerRecord[bytes, bytes]] = []
        for value in self._values:
            headers = DECISION_SIGNER.headers(value)
            batch.append(
                ConsumerRecord(
                    TOPIC, 0, self._position, 0, 0, None, value, None, 0, len(value), headers
                )
            )
            self._position += 1
            if len(batch) == (max_records or 1000):
                break
        return {self.tp: batch} if batch else {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed = offsets[self.tp]

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    def highwater(self, tp: TopicPartition) -> int:
        return self._count

    async def position(self, tp: TopicPartition) -> int:
        return self._position


async def fill(
    writer_dsn: str,
    spread: Spread,
    anchors: Path,
    halfway: Callable[[], Awaitable[None]] | None = None,
) -> float:
    """Records/s of the real ingest loop writing the whole spread.

    ``halfway`` is awaited once when half the spread is written (its time is not counted).
    """
    consumer = SpreadConsumer(spread)
    pool = await asyncpg.create_pool(writer_dsn, min_size=1, max_size=3)
    try:
        ingest = DecisionsIngest(
            consumer,
            pool,
            AuditMetrics(),
            keys=DECISION_KEYS,
            tree=TreeLog(LOG_SIGNER),
            anchors=_anchor_publisher(anchors),
            signature_workers=AuditSettings().signature_workers,
            batch_max_records=1000,
            poll_timeout_ms=0,
        )
        started = time.perf_counter()
        last = started
        paused = 0.0
        while consumer.committed < spread.count:
            if await ingest.run_once() == 0:
                await ingest.flush()
            if halfway is not None and consumer.committed >= spread.count // 2:
                await ingest.flush()
                pause = time.perf_counter()
                await halfway()
                halfway = None
                paused += time.perf_counter() - pause
            if time.perf_counter() - last > 30:
                last = time.perf_counter()
                rate = consumer.committed / (last - started)
                print(f"  filled {consumer.committed:,} ({rate:,.0f}/s)", file=sys.stderr)
        elapsed = time.perf_counter() - started - paused
        await ingest.close()
        return spread.count / elapsed
    finally:
        await pool.close()


def _anchor_publisher(path: Path) -> Any:
    from services.audit.anchors import AnchorPublisher

    return AnchorPublisher(file=path)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p99_ms": round(p99 * 1000, 2)}


def _params(f: DecisionFilter) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in vars(f).items():
        if value is not None:
            out[name] = value.isoformat() if isinstance(value, datetime) else str(value)
    return out


async def api_latencies(
    auditor_dsn: str, queries: dict[str, DecisionFilter], extra: dict[str, str]
) -> dict[str, dict[str, float]]:
    app = create_app(auditor_dsn, [TOKEN])
    out: dict[str, dict[str, float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://audit", headers=headers
        ) as client:
            for name, f in queries.items():
                params = {**_params(f), "limit": str(PAGE)}
                first = await client.get("/v1/decisions", params=params)
                first.raise_for_status()
                cursor = first.json()["next_cursor"]
                for label, query in (("", params), (" (next page)", {**params, "cursor": cursor})):
                    if label and cursor is None:
                        continue
                    samples = []
                    for _ in range(REPEATS):
                        started = time.perf_counter()
                        answer = await client.get("/v1/decisions", params=query)
                        samples.append(time.perf_counter() - started)
                        answer.raise_for_status()
                    out[name + label] = {
                        **_percentiles(samples),
                        "rows": len(answer.json()["items"]),
                    }
            for name, path in extra.items():
                samples = []
                for _ in range(REPEATS):
                    started = time.perf_counter()
                    answer = await client.get(path)
                    samples.append(time.perf_counter() - started)
                    answer.raise_for_status()
                out[name] = _percentiles(samples)
    return out


def cli_latencies(auditor_dsn: str, queries: dict[str, DecisionFilter]) -> dict[str, Any]:
    """Wall time of ``lodestone audit query`` as a fresh process (start, connect, query, print)."""
    env = {**os.environ, "LODESTONE_AUDITOR_DATABASE_URL": auditor_dsn}
    exe = str(Path(sys.executable).with_name("lodestone"))
    out: dict[str, Any] = {}
    for name, f in queries.items():
        args = [exe, "audit", "query", "--format", "json", "--limit", str(PAGE)]
        for key, value in _params(f).items():
            option = {"shipment_id": "shipment", "exporter_id": "exporter"}.get(key, key)
            args += [f"--{option.replace('_', '-')}", value]
        samples = []
        for _ in range(CLI_REPEATS):
            started = time.perf_counter()
            subprocess.run(args, env=env, check=True, capture_output=True)
            samples.append(time.perf_counter() - started)
        out[name] = _percentiles(samples)
    started = time.perf_counter()
    for _ in range(CLI_REPEATS):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    out["bare interpreter"] = {
        "p50_ms": round((time.perf_counter() - started) / CLI_REPEATS * 1000, 2)
    }
    return out


async def examined(
    auditor_dsn: str, queries: dict[str, DecisionFilter]
) -> dict[str, dict[str, int]]:
    """Rows walked by each query's first page (EXPLAIN ANALYZE), summary tables excluded,
    and rows it returned."""
    conn = await asyncpg.connect(auditor_dsn)
    out: dict[str, dict[str, int]] = {}
    try:
        for name, f in queries.items():
            sql, params = build_listing(f, limit=PAGE)
            plan = json.loads(
                await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *params)
            )[0]["Plan"]
            total = 0
            stack = [plan]
            while stack:
                node = stack.pop()
                stack.extend(node.get("Plans", []))
                if "Scan" in node["Node Type"] and node.get("Relation Name") != "decided_at_blocks":
                    rows = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
                    total += rows * node["Actual Loops"]
            out[name] = {"examined": total, "returned": plan["Actual Rows"]}
    finally:
        await conn.close()
    return out


def projected(
    half: dict[str, dict[str, int]], full: dict[str, dict[str, int]], count: int, size: int
) -> dict[str, int | None]:
    """Rows each plan would examine at ``size`` records, extrapolated from two sizes.

    Only a query whose first page was already full at half size is comparable (a page that
    ran out of matches walked to the end of what there was); for it, the growth per record
    between the two sizes is carried on to ``size``: a flat plan's projection is its figure.
    A walk filtered by a common value (an exporter with a sixth of the records, walked along
    the primary key) examines page / share rows at any size, give or take the spread's
    randomness, so growth within ``NOISE`` counts as none. Others get None.
    """
    out: dict[str, int | None] = {}
    for name, now in full.items():
        then = half.get(name)
        if then is None or then["returned"] < PAGE or now["returned"] < PAGE:
            out[name] = None
            continue
        grown = now["examined"] - then["examined"]
        if grown <= NOISE * then["examined"]:
            grown = 0
        growth = grown / (count - count // 2)
        out[name] = round(now["examined"] + growth * (size - count))
    return out


VERIFY_WORKERS = (0, 2)
"""``--workers`` values ``verify --full`` is timed with: one process, and one per core here."""


def verify_rate(
    auditor_dsn: str, count: int, anchors: Path, log_key: Path, workers: int
) -> dict[str, Any]:
    """Wall time of ``lodestone audit verify --full`` as a fresh process, against every head.

    The real command (start, connect, every signed head in the store and the anchor file held to
    the recomputed tree, rejected records), with a checkpoint file of its own so that nothing is
    resumed; records/s counts the process start too.
    """
    env = {**os.environ, "LODESTONE_AUDITOR_DATABASE_URL": auditor_dsn}
    exe = str(Path(sys.executable).with_name("lodestone"))
    with tempfile.TemporaryDirectory(prefix="verify-") as scratch:
        args = [
            exe, "audit", "verify", "--full", "--workers", str(workers),
            "--checkpoint-file", str(Path(scratch) / "checkpoints.jsonl"),
            "--anchor-file", str(anchors), "--log-public-key", str(log_key),
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
    if done.returncode != 0 or f"OK: {count} record(s) recomputed" not in done.stdout:
        raise AssertionError(f"verify failed: {done.stdout}{done.stderr}")
    return {
        "workers": workers,
        "records": count,
        "seconds": round(elapsed, 2),
        "records_per_s": round(count / elapsed),
        "load_average": round(os.getloadavg()[0], 2),
    }


def log_public_key(directory: Path) -> Path:
    """The log's public key (PEM), as an auditor holds it."""
    path = directory / "log.pub.pem"
    path.write_bytes(
        LOG_SIGNER.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    return path


async def sizes(su: asyncpg.Connection[Any], count: int) -> dict[str, Any]:
    # the record and term tables are partitioned (migration 0006): their partitions hold the data
    row = await su.fetchrow(
        "SELECT (SELECT sum(pg_table_size(relid)) FROM pg_partition_tree('audit.decision_records'))"
        "::bigint AS heap,"
        " (SELECT sum(pg_indexes_size(relid)) FROM pg_partition_tree('audit.decision_records'))"
        "::bigint AS indexes,"
        " (SELECT sum(pg_total_relation_size(relid))"
        "    FROM pg_partition_tree('audit.decision_terms'))::bigint AS terms,"
        " pg_total_relation_size('audit.decision_ids') AS ids,"
        " pg_total_relation_size('audit.decided_at_blocks') AS blocks"
    )
    assert row is not None
    sizes = dict(row)
    total = sum(sizes.values())
    return {**sizes, "bytes_per_record": round(total / count), "total_mb": round(total / 2**20)}


async def bench(state: RuntimeState, count: int, anchors: Path) -> dict[str, Any]:
    su = await superuser_connect()
    name = f"audit_scale_{uuid.uuid4().hex[:8]}"
    await su.execute(f'CREATE DATABASE "{name}" OWNER lodestone_owner TEMPLATE template0')
    await su.execute(
        f'GRANT CONNECT, TEMPORARY ON DATABASE "{name}" TO lodestone_audit_writer,'
        " lodestone_auditor"
    )
    dsn = {role: _with_database(state.dsn(role), name) for role in ("admin", "audit", "auditor")}
    spread = Spread(count)
    result: dict[str, Any] = {"records": count, "database": name}
    queries = documented_queries(spread)

    async def analyse() -> None:
        db_su = await superuser_connect(name)
        try:
            await db_su.execute("VACUUM ANALYZE audit.decision_records")
            await db_su.execute("VACUUM ANALYZE audit.decision_terms")
            await db_su.execute("ANALYZE audit.decided_at_blocks")
        finally:
            await db_su.close()

    async def halfway() -> None:
        """Rows each plan examines with half the records: the full store's must be no more."""
        print(f"  half filled ({count // 2:,}): plans ...", file=sys.stderr)
        await analyse()
        result["examined_rows_at_half"] = await examined(dsn["auditor"], queries)

    try:
        await apply_migrations(dsn["admin"], "audit", SERVICES_DIR / "audit" / "migrations")
        result["fill_records_per_s"] = round(await fill(dsn["audit"], spread, anchors, halfway))
        await analyse()
        db_su = await superuser_connect(name)
        try:
            result["storage"] = await sizes(db_su, count)
            sample = await db_su.fetchrow(
                "SELECT decision_id, shipment_id FROM audit.decision_records WHERE seq = $1",
                count // 3,
            )
        finally:
            await db_su.close()
        assert sample is not None
        extra = {
            "decision by id": f"/v1/decisions/{sample['decision_id']}",
            "shipment history": f"/v1/shipments/{sample['shipment_id']}/decisions",
        }
        print("  queries through the API ...", file=sys.stderr)
        result["api"] = await api_latencies(dsn["auditor"], queries, extra)
        result["examined_rows"] = await examined(dsn["auditor"], queries)
        print("  the command line ...", file=sys.stderr)
        cli = {
            k: queries[k] for k in ("exporter, oldest month", "holds citing a control", "licence")
        }
        result["cli"] = cli_latencies(dsn["auditor"], cli)
        result["projected_examined_rows_at_10m"] = projected(
            result["examined_rows_at_half"], result["examined_rows"], count, 10_000_000
        )
        print("  verify --full ...", file=sys.stderr)
        key = log_public_key(anchors.parent)
        result["verify"] = [
            verify_rate(dsn["auditor"], count, anchors, key, workers) for workers in VERIFY_WORKERS
        ]
    finally:
        if os.environ.get("LODESTONE_BENCH_KEEP") != "1":
            await su.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await su.close()
    result["load_average"] = os.getloadavg()
    result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def main() -> None:
    configure_logging("WARNING")
    count = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_COUNT
    with tempfile.TemporaryDirectory(prefix="audit-scale-") as scratch:
        result = asyncio.run(bench(Runtime().up(), count, Path(scratch) / "anchors.jsonl"))
    out = Path(".bench/audit-scale.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(
        f"{count:,} records: filled at {result['fill_records_per_s']:,}/s;"
        f" {result['storage']['bytes_per_record']:,} bytes/record"
    )
    for figures in result["verify"]:
        print(
            f"  verify --full --workers {figures['workers']}: {figures['records_per_s']:,}"
            f" records/s ({figures['seconds']} s, load {figures['load_average']})"
        )
    half = result.get("examined_rows_at_half", {})
    ahead = result["projected_examined_rows_at_10m"]
    for name, figures in result["api"].items():
        rows = result["examined_rows"].get(name)
        walked = ""
        if rows is not None:
            then = half.get(name, {}).get("examined")
            walked = f"  examined {rows['examined']} (half size {then}; 10 M {ahead.get(name)})"
        print(
            f"  API {name:<38} p50 {figures['p50_ms']:>7} ms  p99 {figures['p99_ms']:>7} ms"
            + walked
        )
    comparable = {n: r for n, r in ahead.items() if r is not None}
    flat = [n for n, r in comparable.items() if r <= result["examined_rows"][n]["examined"]]
    print(
        f"  plans: {len(flat)} of {len(comparable)} queries with a full first page at both"
        " sizes examine no more rows at full size than at half size"
    )
    for name, figures in result["cli"].items():
        print(f"  CLI {name:<38} p50 {figures['p50_ms']:>7} ms")


if __name__ == "__main__":
    main()
