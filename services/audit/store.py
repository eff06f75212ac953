"""Writing batches into the audit store: one transaction per batch, chained under a lock.

The chain must know exactly which records a transaction inserts before it hashes them, so the
usual ``COPY into a temp table + INSERT … ON CONFLICT DO NOTHING`` does not fit: a skipped
conflict would leave a hole in the chain. Instead, under a transaction-scoped advisory lock
(held by every writer of the store), the batch drops the decision ids already stored, the chain
is extended from the current head in Python, and the rows are COPYed straight into the table.
The UNIQUE constraint on ``decision_id`` stays as the backstop: a conflict aborts the
transaction and the batch is retried. See docs/adr/0011-hash-chain-under-advisory-lock.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from services.audit.chain import ChainHead, extend
from services.audit.records import RECORD_COLUMNS, PendingRecord, SourceCoordinates
from services.common.db import Conn

#: Key of the advisory lock that serialises every chain extension ("Audi").
CHAIN_LOCK_KEY = 0x41756469


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record on decisions.v1 that could not be decoded; kept byte for byte."""

    source: SourceCoordinates
    key: bytes | None
    payload: bytes | None
    error_type: str
    error: str


@dataclass(frozen=True, slots=True)
class CatalogueVersion:
    """One control catalogue version as published on controls.v1."""

    version: str
    content: bytes
    content_sha256: bytes
    source: SourceCoordinates


@dataclass(slots=True)
class BatchResult:
    """What one batch did to the store."""

    inserted: list[PendingRecord] = field(default_factory=list)
    duplicates: int = 0
    rejected: int = 0
    head: ChainHead | None = None


_EXISTING = "SELECT decision_id FROM audit.decision_records WHERE decision_id = ANY($1::text[])"
_HEAD = "SELECT seq, record_hash FROM audit.decision_records ORDER BY seq DESC LIMIT 1"
_INSERT_REJECTED = """
INSERT INTO audit.rejected_records
    (source_topic, source_partition, source_offset, record_key, payload, error_type, error)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING
"""
_INSERT_CATALOGUE = """
INSERT INTO audit.catalogues
    (version, content, content_sha256, source_topic, source_partition, source_offset)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
"""


async def read_head(conn: Conn) -> ChainHead:
    """The current chain head (genesis when the store is empty)."""
    row = await conn.fetchrow(_HEAD)
    return ChainHead.genesis() if row is None else ChainHead(row["seq"], bytes(row["record_hash"]))


def _first_of_each(records: list[PendingRecord], stored: set[str]) -> list[PendingRecord]:
    """Records whose decision id is neither stored nor repeated earlier in the batch."""
    seen = set(stored)
    fresh: list[PendingRecord] = []
    for record in records:
        if record.decision_id not in seen:
            seen.add(record.decision_id)
            fresh.append(record)
    return fresh


async def write_batch(
    conn: Conn,
    records: list[PendingRecord],
    rejected: list[Rejected] | None = None,
    *,
    on_sent: Callable[[], None] | None = None,
) -> BatchResult:
    """Insert ``records`` (idempotent on decision_id) and ``rejected`` in one transaction.

    ``on_sent`` is called once the rows have been handed to the connection, while the database
    is still working on them (and before the commit): the caller may prepare the next batch.
    """
    result = BatchResult()
    rejected = rejected or []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", CHAIN_LOCK_KEY)
        ids = [record.decision_id for record in records]
        stored = {row[0] for row in await conn.fetch(_EXISTING, ids)} if ids else set()
        fresh = _first_of_each(records, stored)
        head = await read_head(conn)
        links = list(zip(fresh, extend(head, (r.content for r in fresh)), strict=True))
        rows = [record.row(seq, prev, digest) for record, (seq, prev, digest) in links]
        if links:
            _, (seq, _, digest) = links[-1]
            head = ChainHead(seq, digest)
            await conn.copy_records_to_table(
                "decision_records",
                schema_name="audit",
                columns=RECORD_COLUMNS,
                records=rows if on_sent is None else _then(rows, on_sent),
            )
        elif on_sent is not None:
            on_sent()
        if rejected:
            await conn.executemany(_INSERT_REJECTED, [_rejected_args(r) for r in rejected])
    result.inserted = fresh
    result.duplicates = len(records) - len(fresh)
    result.rejected = len(rejected)
    result.head = head
    return result


async def _then(rows: list[tuple[Any, ...]], callback: Callable[[], None]) -> AsyncIterator[Any]:
    """``rows``, then ``callback()`` once the last one has been taken."""
    for row in rows:
        yield row
    callback()


def _rejected_args(r: Rejected) -> tuple[object, ...]:
    s = r.source
    return (s.topic, s.partition, s.offset, r.key, r.payload, r.error_type, r.error)


async def write_catalogues(conn: Conn, versions: list[CatalogueVersion]) -> None:
    """Store catalogue versions; a version already stored is kept as first seen."""
    args = [
        (v.version, v.content, v.content_sha256, s.topic, s.partition, s.offset)
        for v in versions
        for s in (v.source,)
    ]
    await conn.executemany(_INSERT_CATALOGUE, args)
