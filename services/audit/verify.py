"""Recomputing the hash chain from the store, incrementally from a checkpoint or in full.

Checkpoints ("records 1..seq verified, the hash of seq is H") live in a file the verifier keeps,
deliberately outside the database it checks: whoever can rewrite the records (a superuser) could
rewrite checkpoints stored next to them too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.audit.chain import GENESIS_HASH, ChainBreak, ChainHead, Link, check_links
from services.audit.records import RECORD_COLUMNS, content_of
from services.common.db import Conn

_SELECT = f"SELECT {', '.join(RECORD_COLUMNS)} FROM audit.decisions_v"  # noqa: S608 (constant)
_CHUNK = f"{_SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2"
_ONE = f"{_SELECT} WHERE seq = $1"
_HEAD = "SELECT seq, record_hash FROM audit.chain_head_v"

Progress = Callable[[int, int], None]
"""Called with (records checked so far, records to check in all)."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    record_hash: bytes
    verified_at: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "seq": self.seq,
                "record_hash": self.record_hash.hex(),
                "verified_at": self.verified_at,
            }
        )


def last_checkpoint(path: Path) -> Checkpoint | None:
    """The newest checkpoint in ``path`` (JSON lines), or None."""
    if not path.exists():
        return None
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        return None
    data = json.loads(lines[-1])
    return Checkpoint(int(data["seq"]), bytes.fromhex(data["record_hash"]), data["verified_at"])


def append_checkpoint(path: Path, head: ChainHead) -> Checkpoint:
    checkpoint = Checkpoint(head.seq, head.record_hash, datetime.now(UTC).isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(checkpoint.to_json() + "\n")
    return checkpoint


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of a verification run."""

    started_after: int
    head: ChainHead
    checked: int
    stored_head: int
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def link_of(row: Any) -> Link:
    fields = dict(row)
    return Link(
        seq=fields["seq"],
        prev_hash=bytes(fields["prev_hash"]),
        record_hash=bytes(fields["record_hash"]),
        content=content_of(fields),
        decision_id=fields["decision_id"],
    )


async def stored_head(conn: Conn) -> ChainHead:
    row = await conn.fetchrow(_HEAD)
    return ChainHead.genesis() if row is None else ChainHead(row["seq"], bytes(row["record_hash"]))


async def _resume_point(conn: Conn, checkpoint: Checkpoint) -> tuple[ChainHead, ChainBreak | None]:
    row = await conn.fetchrow(_ONE, checkpoint.seq)
    if row is None:
        problem = f"checkpointed record {checkpoint.seq} is gone (records were deleted)"
        return ChainHead.genesis(), ChainBreak(checkpoint.seq, "", problem)
    link = link_of(row)
    if link.record_hash != checkpoint.record_hash:
        problem = "record_hash differs from the checkpoint (the chain was rewritten)"
        return ChainHead.genesis(), ChainBreak(link.seq, link.decision_id, problem)
    _, broken = check_links(ChainHead(link.seq - 1, link.prev_hash), [link])
    return ChainHead(link.seq, link.record_hash), broken


async def verify_chain(
    conn: Conn,
    *,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
    on_verified: Callable[[ChainHead], None] | None = None,
    chunk_size: int = 5000,
) -> VerifyReport:
    """Check every record after ``checkpoint`` (all records without one) in seq order.

    ``on_verified`` is called with the head after each verified chunk (to write checkpoints).
    """
    top = await stored_head(conn)
    head = ChainHead(0, GENESIS_HASH)
    if checkpoint is not None:
        head, broken = await _resume_point(conn, checkpoint)
        if broken is not None:
            return VerifyReport(checkpoint.seq, head, 0, top.seq, broken)
    started_after, checked = head.seq, 0
    total = max(0, top.seq - started_after)
    while True:
        rows = await conn.fetch(_CHUNK, head.seq, chunk_size)
        if not rows:
            break
        head, broken = check_links(head, (link_of(row) for row in rows))
        if broken is not None:
            return VerifyReport(started_after, head, checked, top.seq, broken)
        checked += len(rows)
        if progress is not None:
            progress(checked, total)
        if on_verified is not None:
            on_verified(head)
    return VerifyReport(started_after, head, checked, top.seq, None)
