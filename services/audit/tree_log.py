"""The writer's side of the Merkle tree: extend it with each batch and sign the new head.

The tree's right edge (:class:`~services.audit.merkle.Frontier`, O(log n)) is kept in memory
between batches. Each batch, under the chain lock and inside the batch's transaction, the
frontier is brought up to the stored head first (at start-up, or after another writer wrote),
extended with the batch's record hashes on a copy, and the new head is signed and stored in
``audit.tree_heads``. The copy replaces the frontier only once the transaction has committed,
so a rolled-back batch leaves nothing behind.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.audit.chain import ChainHead
from services.audit.merkle import Frontier
from services.audit.tree_head import SignedTreeHead, sign_tree_head
from services.common.signing import Signer

if TYPE_CHECKING:
    from services.common.db import Conn

_CATCH_UP = (
    "SELECT record_hash FROM audit.decision_records WHERE seq > $1 AND seq <= $2 ORDER BY seq"
)
#: the tree's edge where the latest archived range ends (migration 0006), if any
_LATEST_SEAM = (
    "SELECT last_seq, frontier FROM audit.archived_ranges WHERE last_seq <= $1"
    " ORDER BY last_seq DESC LIMIT 1"
)
_INSERT_HEAD = (
    "INSERT INTO audit.tree_heads (tree_size, head, key_id, signature) VALUES ($1, $2, $3, $4)"
)


@dataclass(frozen=True, slots=True)
class PendingHead:
    """A signed head and the frontier it was computed from, until the transaction commits."""

    head: SignedTreeHead
    frontier: Frontier


class TreeLog:
    """Signs a tree head per batch with the audit log's key."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self._frontier = Frontier()

    @property
    def size(self) -> int:
        return self._frontier.size

    async def prepare(
        self,
        conn: Conn,
        before: ChainHead,
        record_hashes: list[bytes],
        rejected_head: ChainHead,
    ) -> PendingHead:
        """Sign the head after ``record_hashes`` (appended to the chain at ``before``)."""
        frontier = self._frontier
        if frontier.size != before.seq:
            frontier = await self._rebuilt(conn, frontier, before.seq)
        frontier = copy.deepcopy(frontier)
        frontier.extend(record_hashes)
        last = record_hashes[-1] if record_hashes else before.record_hash
        head = sign_tree_head(
            self.signer,
            tree_size=frontier.size,
            root_hash=frontier.root(),
            last_record_hash=last,
            rejected_size=rejected_head.seq,
            rejected_head_hash=rejected_head.record_hash,
        )
        await conn.execute(
            _INSERT_HEAD,
            head.tree_size,
            head.signed_bytes().decode("utf-8"),
            head.key_id,
            head.signature,
        )
        return PendingHead(head, frontier)

    def commit(self, pending: PendingHead) -> None:
        self._frontier = pending.frontier

    @staticmethod
    async def _rebuilt(conn: Conn, frontier: Frontier, size: int) -> Frontier:
        start = frontier
        if frontier.size > size:  # the store holds fewer records than we hashed: start over
            start = Frontier()
        # the records after ``start`` may be archived: then start at the latest seam
        seam = await conn.fetchrow(_LATEST_SEAM, size)
        if seam is not None and seam["last_seq"] > start.size:
            start = Frontier.at(seam["last_seq"], [bytes(h) for h in seam["frontier"]])
        start = copy.deepcopy(start)
        rows = await conn.fetch(_CATCH_UP, start.size, size)
        start.extend(bytes(row[0]) for row in rows)
        if start.size != size:
            raise RuntimeError(f"the chain has gaps: {start.size} records up to seq {size}")
        return start
