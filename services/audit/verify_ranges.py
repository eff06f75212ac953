"""Recomputing record hashes over seq ranges, in worker processes, for ``verify --workers N``.

A record's hash covers its own stored ``prev_hash`` and content, so the contents of disjoint
ranges can be checked independently: each worker reads its range (stored bytes, timestamps as
the server formats them) and recomputes ``record_hash = SHA-256(prev_hash ‖ content)``. The
links *between* records - every ``prev_hash`` is the previous record's hash, no seq missing,
the tree's root at every signed head - are checked by :func:`~services.audit.verify.verify_chain`
in one ordered pass over the chain columns only, which is what stitches the ranges at their
seams. See docs/audit.md ("Verify at speed").
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import asyncpg

from services.audit.canonical import NotCanonicalError
from services.audit.chain import ChainBreak, link_hash
from services.audit.records import RECORD_COLUMNS, content_of

#: a timestamp as canonical_timestamp() writes it, formatted by the server
_TEXT_MOMENT = "to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS {c}"
_COLUMNS = ", ".join(
    "decision_text AS decision"
    if c == "decision"
    else _TEXT_MOMENT.format(c=c)
    if c in ("decided_at", "recorded_at")
    else c
    for c in RECORD_COLUMNS
)
#: the stored columns of the records after $1, with timestamps already in canonical text
CONTENT_ROWS = (
    f"SELECT {_COLUMNS} FROM audit.decisions_v"  # noqa: S608 (constant fragments)
    " WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
)
ALTERED = "record_hash does not match the record's content (content was altered)"

ContentCheck = Callable[[int, int], Awaitable[ChainBreak | None]]
"""Checks the contents of records ``first..last``; the first break found, or None."""


def check_row(fields: dict[str, Any]) -> ChainBreak | None:
    """Whether one stored record's hash is that of its own ``prev_hash`` and content."""
    seq, decision_id = fields["seq"], fields["decision_id"]
    try:
        content = content_of(fields)
    except NotCanonicalError as exc:
        return ChainBreak(seq, decision_id, str(exc))
    if link_hash(bytes(fields["prev_hash"]), content) != bytes(fields["record_hash"]):
        return ChainBreak(seq, decision_id, ALTERED)
    return None


async def check_contents(
    conn: asyncpg.Connection, first: int, last: int, chunk: int = 2000
) -> ChainBreak | None:
    """The first record in ``first..last`` whose content does not give its hash."""
    after = first - 1
    while after < last:
        rows = await conn.fetch(CONTENT_ROWS, after, last, chunk)
        if not rows:
            return None
        for row in rows:
            broken = check_row(dict(row))
            if broken is not None:
                return broken
        after = rows[-1]["seq"]
    return None


def _check_range(dsn: str, first: int, last: int) -> tuple[int, str, str] | None:
    """Worker process: :func:`check_contents` on a connection of its own."""

    async def run() -> ChainBreak | None:
        conn = await asyncpg.connect(dsn, server_settings={"default_transaction_read_only": "on"})
        try:
            return await check_contents(conn, first, last)
        finally:
            await conn.close()

    broken = asyncio.run(run())
    return None if broken is None else (broken.seq, broken.decision_id, broken.problem)


class RangeWorkers:
    """``workers`` processes that check the contents of a seq range split between them."""

    def __init__(self, dsn: str, workers: int) -> None:
        self._dsn = dsn
        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    async def __call__(self, first: int, last: int) -> ChainBreak | None:
        loop = asyncio.get_running_loop()
        step = max(1, -(-(last - first + 1) // self.workers))
        jobs = [
            loop.run_in_executor(self._pool, _check_range, self._dsn, lo, min(last, lo + step - 1))
            for lo in range(first, last + 1, step)
        ]
        found = [b for b in await asyncio.gather(*jobs) if b is not None]
        if not found:
            return None
        seq, decision_id, problem = min(found)
        return ChainBreak(seq, decision_id, problem)

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
