"""Attaching the partition the chain is about to enter, without giving the writer any DDL right.

The record table is partitioned by range of ``seq`` (migration 0006, ADR 0018). A COPY of a
record whose partition is not attached fails, so before a batch whose records would reach past
the attached partitions, the writer calls ``audit.ensure_partitions(upto)``: a SECURITY DEFINER
function owned by the NOLOGIN owner that the writer may execute. It attaches the partition
prepared ahead (a plain table with the range as a CHECK constraint, so no scan) and prepares the
next one.

ATTACH PARTITION locks the parent only in SHARE UPDATE EXCLUSIVE mode: auditors' queries and a
running verify neither block it nor wait for it. It runs in a statement of its own before the
batch's transaction, about once per partition width (1,048,576 records by default); every other
batch pays one integer comparison.
"""

from __future__ import annotations

import asyncpg

from services.common.db import Conn

_ENSURE = "SELECT audit.ensure_partitions($1)"
_HEAD_SEQ = "SELECT coalesce(max(seq), 0) FROM audit.decision_records"


class PartitionsAhead:
    """What this writer knows of the attached partitions: where they end."""

    __slots__ = ("covered", "head")

    def __init__(self) -> None:
        self.covered: int | None = None
        """The first seq no attached partition holds (None: not asked yet)."""
        self.head = 0
        """The chain head after this writer's last batch (another writer may be further)."""

    async def ensure(self, conn: Conn, count: int) -> None:
        """Make sure ``count`` more records have their partition. Called outside a transaction."""
        if self.covered is not None and self.head + count < self.covered:
            return
        self.head = int(await conn.fetchval(_HEAD_SEQ))
        self.covered = int(await conn.fetchval(_ENSURE, self.head + count))

    def written(self, head: int) -> None:
        """Note the chain head after a committed batch."""
        self.head = max(self.head, head)

    def forget(self) -> None:
        """A record found no partition (another writer moved on): ask again next time."""
        self.covered = None


def missing_partition(exc: asyncpg.PostgresError) -> bool:
    """Whether ``exc`` is PostgreSQL's "no partition of relation … found for row"."""
    return isinstance(exc, asyncpg.CheckViolationError) and "no partition" in str(exc)
