"""Writing batches into the audit store: one transaction per batch, chained under a lock.

The chain must know exactly which records a transaction inserts before it hashes them, so the
usual ``COPY into a temp table + INSERT … ON CONFLICT DO NOTHING`` does not fit: a skipped
conflict would leave a hole in the chain. Instead, under a transaction-scoped advisory lock
(held by every writer of the store), the batch drops the decision ids already stored, the chain
is extended from the current head in Python, and the rows are COPYed straight into the table.
The UNIQUE constraint on ``decision_id`` stays as the backstop: a conflict aborts the
transaction and the batch is retried. See docs/adr/0011-hash-chain-under-advisory-lock.md.

Under the same lock, rejected records are chained too (their own chain, deduplicated by their
Kafka coordinates), and with a :class:`~services.audit.tree_log.TreeLog` the batch stores a new
signed tree head in the same transaction (docs/adr/0016-…).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.audit.canonical import canonical_bytes, canonical_timestamp
from services.audit.chain import ChainHead, extend
from services.audit.partitions import PartitionsAhead, missing_partition
from services.audit.records import RECORD_COLUMNS, PendingRecord, SourceCoordinates
from services.audit.tree_head import SignedTreeHead
from services.audit.tree_log import TreeLog
from services.common.db import Conn

#: Key of the advisory lock that serialises every chain extension ("Audi").
CHAIN_LOCK_KEY = 0x41756469


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record on decisions.v1 that could not be recorded; kept byte for byte, and chained.

    Not decodable, or its signature does not verify (``error_type`` ``SignatureRejected``).
    """

    source: SourceCoordinates
    key: bytes | None
    payload: bytes | None
    error_type: str
    error: str

    def content(self, rejected_at: datetime) -> bytes:
        """The canonical content the rejected records' chain hashes (docs/audit.md)."""
        return rejected_content(
            {
                "source_topic": self.source.topic,
                "source_partition": self.source.partition,
                "source_offset": self.source.offset,
                "record_key": self.key,
                "payload": self.payload,
                "error_type": _storable(self.error_type),
                "error": _storable(self.error),
                "rejected_at": rejected_at,
            }
        )


def _storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL: it is kept as the six characters ``\\u0000``."""
    return text.replace("\x00", "\\u0000")


def rejected_content(fields: dict[str, Any]) -> bytes:
    """Canonical content of a rejected record from its stored columns."""
    key, payload, moment = fields["record_key"], fields["payload"], fields["rejected_at"]
    return canonical_bytes(
        {
            "error": fields["error"],
            "error_type": fields["error_type"],
            "payload_base64": None if payload is None else base64.b64encode(payload).decode(),
            "record_key_base64": None if key is None else base64.b64encode(key).decode(),
            "rejected_at": canonical_timestamp(moment) if isinstance(moment, datetime) else moment,
            "source_offset": fields["source_offset"],
            "source_partition": fields["source_partition"],
            "source_topic": fields["source_topic"],
        }
    )


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
    tree_head: SignedTreeHead | None = None
    """The head signed for this batch (None when the batch changed nothing, or no tree)."""


#: every decision id ever recorded (migration 0006: one small table, archived partitions included)
_EXISTING = "SELECT decision_id FROM audit.decision_ids WHERE decision_id = ANY($1::text[])"
_HEAD = "SELECT seq, record_hash FROM audit.decision_records ORDER BY seq DESC LIMIT 1"
_INSERT_REJECTED = """
INSERT INTO audit.rejected_records
    (source_topic, source_partition, source_offset, record_key, payload, error_type, error,
     rejected_at, seq, prev_hash, record_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""
_REJECTED_HEAD = (
    "SELECT seq, record_hash FROM audit.rejected_records WHERE seq IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1"
)
_REJECTED_STORED = """
SELECT r.source_topic, r.source_partition, r.source_offset
  FROM audit.rejected_records r
  JOIN unnest($1::text[], $2::integer[], $3::bigint[]) AS b(topic, part, off)
    ON r.source_topic = b.topic AND r.source_partition = b.part AND r.source_offset = b.off
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


async def read_rejected_head(conn: Conn) -> ChainHead:
    """The head of the rejected records' chain (genesis when none is chained)."""
    row = await conn.fetchrow(_REJECTED_HEAD)
    return ChainHead.genesis() if row is None else ChainHead(row["seq"], bytes(row["record_hash"]))


async def _fresh_rejections(conn: Conn, rejected: list[Rejected]) -> list[Rejected]:
    """Rejections whose coordinates are neither stored nor repeated earlier in the batch."""
    if not rejected:
        return []
    rows = await conn.fetch(
        _REJECTED_STORED,
        [r.source.topic for r in rejected],
        [r.source.partition for r in rejected],
        [r.source.offset for r in rejected],
    )
    seen: set[tuple[str, int, int]] = {(row[0], row[1], row[2]) for row in rows}
    fresh: list[Rejected] = []
    for r in rejected:
        where = (r.source.topic, r.source.partition, r.source.offset)
        if where not in seen:
            seen.add(where)
            fresh.append(r)
    return fresh


async def _chain_rejections(conn: Conn, rejected: list[Rejected]) -> ChainHead:
    """Insert ``rejected`` chained after the rejected records' head; returns the new head."""
    head = await read_rejected_head(conn)
    if not rejected:
        return head
    now = datetime.now(UTC)
    links = list(zip(rejected, extend(head, (r.content(now) for r in rejected)), strict=True))
    await conn.executemany(
        _INSERT_REJECTED, [(*_rejected_args(r), now, *link) for r, link in links]
    )
    _, (seq, _, digest) = links[-1]
    return ChainHead(seq, digest)


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
    tree: TreeLog | None = None,
    ahead: PartitionsAhead | None = None,
) -> BatchResult:
    """Insert ``records`` (idempotent on decision_id) and ``rejected`` in one transaction.

    ``on_sent`` is called once the rows have been handed to the connection, while the database
    is still working on them (and before the commit): the caller may prepare the next batch.
    With ``tree``, a batch that adds anything also stores a new signed tree head. ``ahead``
    remembers the partitions already created ahead of the chain (without it, every batch asks).
    """
    ahead = PartitionsAhead() if ahead is None else ahead
    for attempt in (1, 2):
        if records:
            await ahead.ensure(conn, len(records))
        try:
            result = await _write_in_transaction(conn, records, rejected, on_sent, tree)
        except asyncpg.PostgresError as exc:
            if attempt == 2 or not missing_partition(exc):
                raise
            ahead.forget()  # another writer took the chain past what this one knew: ask again
            continue
        ahead.written(result.head.seq if result.head is not None else 0)
        return result
    raise AssertionError("unreachable")


async def _write_in_transaction(
    conn: Conn,
    records: list[PendingRecord],
    rejected: list[Rejected] | None,
    on_sent: Callable[[], None] | None,
    tree: TreeLog | None,
) -> BatchResult:
    result = BatchResult()
    pending_head = None
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", CHAIN_LOCK_KEY)
        ids = [record.decision_id for record in records]
        stored = {row[0] for row in await conn.fetch(_EXISTING, ids)} if ids else set()
        fresh = _first_of_each(records, stored)
        head = before = await read_head(conn)
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
        new_rejections = await _fresh_rejections(conn, rejected or [])
        rejected_head = await _chain_rejections(conn, new_rejections)
        if tree is not None and (links or new_rejections or tree.size != head.seq):
            hashes = [digest for _, (_, _, digest) in links]
            pending_head = await tree.prepare(conn, before, hashes, rejected_head)
    if tree is not None and pending_head is not None:
        tree.commit(pending_head)
        result.tree_head = pending_head.head
    result.inserted = fresh
    result.duplicates = len(records) - len(fresh)
    result.rejected = len(new_rejections)
    result.head = head
    return result


async def _then(rows: list[tuple[Any, ...]], callback: Callable[[], None]) -> AsyncIterator[Any]:
    """``rows``, then ``callback()`` once the last one has been taken."""
    for row in rows:
        yield row
    callback()


def _rejected_args(r: Rejected) -> tuple[object, ...]:
    s = r.source
    error_type, error = _storable(r.error_type), _storable(r.error)
    return (s.topic, s.partition, s.offset, r.key, r.payload, error_type, error)


async def write_catalogues(conn: Conn, versions: list[CatalogueVersion]) -> None:
    """Store catalogue versions; a version already stored is kept as first seen."""
    args = [
        (v.version, v.content, v.content_sha256, s.topic, s.partition, s.offset)
        for v in versions
        for s in (v.source,)
    ]
    await conn.executemany(_INSERT_CATALOGUE, args)
