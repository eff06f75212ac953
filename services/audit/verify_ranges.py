"""Recomputing record hashes over seq ranges, in worker processes, for ``verify --workers N``.

A record's hash covers its own stored ``prev_hash`` and content, so the contents of disjoint
ranges can be checked independently: each worker reads its range (stored bytes, timestamps as
the server formats them) and recomputes ``record_hash = SHA-256(prev_hash ‖ content)``. The
links *between* records - every ``prev_hash`` is the previous record's hash, no seq missing,
the tree's root at every signed head - are checked by :func:`~services.audit.verify.verify_chain`
in one ordered pass over the chain columns only, which is what stitches the ranges at their
seams. A record a witness covers passes by the hash of its stored bytes (:func:`check_record`,
ADR 0019); the others get the exact check. See docs/audit.md ("Verify at speed").
"""

from __future__ import annotations

import asyncio
import binascii
import multiprocessing
import multiprocessing.util
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from hashlib import sha256
from typing import Any

import asyncpg
from orjson import Fragment, JSONDecodeError, dumps, loads

from services.audit.canonical import NotCanonicalError, canonical_bytes
from services.audit.chain import ChainBreak, link_hash
from services.audit.records import RECORD_COLUMNS, content_of
from services.common.db import Conn

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

ContentCheck = Callable[[int, int, int], Awaitable[ChainBreak | None]]
"""Checks the contents of records ``first..last``; the first break found, or None.

The third argument is the highest record a witness covers (:func:`check_record`'s ``proven``).
"""

_B64 = binascii.b2a_base64


def stored_content(row: asyncpg.Record | tuple[Any, ...]) -> bytes:
    """The content of a record read with :data:`CONTENT_ROWS`, its decision as the stored bytes.

    The canonical content (:func:`~services.audit.records.content_of`) whenever the stored text
    is canonical, built with one dict in the content's key order (no per-column conversion, no
    parse of the decision; the signature columns only when set, as there). For other text it
    differs, and so does the hash.
    """
    content = {
        "catalogue_version": row[9],
        "control_ids": row[17],
        "decided_at": row[11],
        "decision": Fragment(row[19]),
        "decision_id": row[3],
        "event_id": row[5],
        "exporter_id": row[6],
        "license_ids": row[18],
        "outcome": row[7],
        "reason_codes": row[16],
        "recorded_at": row[12],
        "shipment_id": row[4],
    }
    if row[21] is not None:
        content["signature"] = _B64(row[21], newline=False).decode("ascii")
    if row[20] is not None:
        content["signature_key_id"] = row[20]
    content["source_offset"] = row[15]
    content["source_partition"] = row[14]
    content["source_topic"] = row[13]
    content["supersedes"] = row[10]
    content["trigger"] = row[8]
    return dumps(content)


def check_row(fields: dict[str, Any]) -> ChainBreak | None:
    """The exact check: the record's content recomputed from its parsed, re-canonicalised text.

    Refuses a decision text that is not JSON or repeats a key, and compares the hash of the
    canonical content with the stored one.
    """
    seq, decision_id = fields["seq"], fields["decision_id"]
    try:
        content = content_of(fields)
    except NotCanonicalError as exc:
        return ChainBreak(seq, decision_id, str(exc))
    if link_hash(bytes(fields["prev_hash"]), content) != bytes(fields["record_hash"]):
        return ChainBreak(seq, decision_id, ALTERED)
    return None


def check_record(row: asyncpg.Record, proven: int) -> ChainBreak | None:
    """Whether one stored record's hash is that of its own ``prev_hash`` and content.

    A record at or below ``proven`` (the highest record a signed tree head or a checkpoint
    covers) whose stored bytes hash to its ``record_hash`` passes without parsing its decision:
    the writer only ever hashes canonical text, and the witness pins the hash the writer made
    (docs/adr/0019). Above ``proven`` the text is first parsed to prove it canonical, and then
    hashed the same way. Every record that fails either (rows from before migration 0002,
    tampering) gets the exact check of :func:`check_row`, which names the problem.
    """
    if (row[0] <= proven or is_canonical_text(row[19])) and sha256(
        row[1] + stored_content(row)
    ).digest() == row[2]:
        return None
    return check_row(dict(row))


def is_canonical_text(text: str) -> bool:
    """Whether ``text`` is JSON in canonical form (so no object in it repeats a key).

    :func:`~services.audit.records.stored_decision`'s test, without building the content from a
    dict of columns: parse, write canonically, compare the bytes.
    """
    raw = text.encode("utf-8")
    try:
        return canonical_bytes(loads(raw)) == raw
    except (JSONDecodeError, NotCanonicalError):
        return False


async def check_contents(
    conn: Conn, first: int, last: int, proven: int = 0, chunk: int = 5000
) -> ChainBreak | None:
    """The first record in ``first..last`` whose content does not give its hash."""
    after = first - 1
    while after < last:
        rows = await conn.fetch(CONTENT_ROWS, after, last, chunk)
        if not rows:
            return None
        for row in rows:
            broken = check_record(row, proven)
            if broken is not None:
                return broken
        after = rows[-1][0]
    return None


async def confirm_first_break(
    conn: Conn, broken: ChainBreak, since: int, proven: int
) -> ChainBreak:
    """The break the exact check would have named first, given the first one found at speed.

    Records in ``since+1 .. broken.seq`` (``since``: the highest witness below the break, which
    held) that passed by their stored bytes alone are not yet proven canonical: the witness that
    would prove them is the one that failed, or lies beyond a link that failed. They are checked
    again exactly; an earlier break there, or one at the same record that the exact pass would
    have reported first (a content problem comes before a tree head's, after a link's), wins.
    """
    upto = min(broken.seq, proven)
    if upto <= since:
        return broken
    exact = await check_contents(conn, since + 1, upto)
    if exact is None or exact.seq > broken.seq:
        return broken
    if exact.seq == broken.seq and is_link_problem(broken):
        return broken
    return exact


def is_link_problem(broken: ChainBreak) -> bool:
    """A missing record or a ``prev_hash`` that does not match: found before the content."""
    return "is missing" in broken.problem or broken.problem.startswith("prev_hash")


_worker: tuple[asyncio.AbstractEventLoop, asyncpg.Connection] | None = None
"""A worker process's event loop and read-only connection, kept for all its ranges."""


def _worker_connection(dsn: str) -> tuple[asyncio.AbstractEventLoop, asyncpg.Connection]:
    global _worker
    if _worker is None:
        loop = asyncio.new_event_loop()
        conn = loop.run_until_complete(
            asyncpg.connect(dsn, server_settings={"default_transaction_read_only": "on"})
        )
        _worker = (loop, conn)
        # closed as the worker exits (multiprocessing runs finalizers with a priority then)
        multiprocessing.util.Finalize(None, _close_worker_connection, exitpriority=10)
    return _worker


def _close_worker_connection() -> None:
    global _worker
    if _worker is not None:
        loop, conn = _worker
        _worker = None
        loop.run_until_complete(conn.close())
        loop.close()


def _check_range(dsn: str, first: int, last: int, proven: int) -> tuple[int, str, str] | None:
    """Worker process: :func:`check_contents` on the worker's connection."""
    loop, conn = _worker_connection(dsn)
    broken = loop.run_until_complete(check_contents(conn, first, last, proven))
    return None if broken is None else (broken.seq, broken.decision_id, broken.problem)


def _connect_worker(dsn: str) -> None:
    _worker_connection(dsn)


#: records per job: small enough that the workers finish a window together, large enough that
#: a job's round trip (~1 ms) is nothing beside its ~0.3 s of work
JOB_RECORDS = 20_000


class RangeWorkers:
    """``workers`` processes that check the contents of a seq range split between them.

    Each window is cut into jobs of :data:`JOB_RECORDS`, handed to whichever worker is free, so
    that a worker slowed by other load on the machine does not hold the window back.
    """

    def __init__(self, dsn: str, workers: int) -> None:
        self._dsn = dsn
        self.workers = workers
        # A fork server, started once with this module imported, forks the workers: each starts
        # in milliseconds instead of importing everything again (~0.4 s of CPU per spawned
        # worker), and none inherits the caller's event loop or threads as a plain fork would.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        self._pool = ProcessPoolExecutor(workers, mp_context=context)
        # Start the workers and their connections now, while the caller reads the tree heads.
        for _ in range(workers):
            self._pool.submit(_connect_worker, dsn)

    async def __call__(self, first: int, last: int, proven: int = 0) -> ChainBreak | None:
        loop = asyncio.get_running_loop()
        step = max(1, min(JOB_RECORDS, -(-(last - first + 1) // self.workers)))
        jobs = [
            loop.run_in_executor(
                self._pool, _check_range, self._dsn, lo, min(last, lo + step - 1), proven
            )
            for lo in range(first, last + 1, step)
        ]
        found = [b for b in await asyncio.gather(*jobs) if b is not None]
        if not found:
            return None
        seq, decision_id, problem = min(found)
        return ChainBreak(seq, decision_id, problem)

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
