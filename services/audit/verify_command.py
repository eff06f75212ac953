"""``lodestone audit verify``: gather every head seen outside the store, then verify against them.

The heads are the verifier's own checkpoints (all of them, not just the last), the signed tree
heads in the anchor file and those in the store (signatures checked with the log's public key).
A run that passes appends a checkpoint only above the highest one: verify never lowers or
replaces what it saw, ``--full`` or not.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from services.audit.anchors import read_anchor_file
from services.audit.chain import ChainHead
from services.audit.verify import (
    append_checkpoint,
    check_signed,
    read_checkpoints,
    stored_head,
    verify_chain,
    witnesses_of,
)
from services.audit.verify_catalogues import check_catalogues, describe_missing
from services.audit.verify_ranges import RangeWorkers
from services.common.signing import KeyFileError, KeyRing

CHECKPOINT_EVERY = 100_000
PARALLEL_FROM = 50_000
"""With the worker count left to verify: workers when at least this many records are recomputed
(below it, starting them costs more than they save)."""


def auto_workers(to_recompute: int) -> int:
    """One worker per core for a large recomputation (the main process checks the links)."""
    return (os.cpu_count() or 1) if to_recompute >= PARALLEL_FROM else 0


def run_verify(**kwargs: Any) -> int:
    """:func:`verify_store` in an event loop of its own (for the command line)."""
    return asyncio.run(verify_store(**kwargs))


async def verify_store(
    *,
    full: bool,
    checkpoint_file: Path,
    anchor_file: Path | None,
    log_public_key: Path | None,
    connect: Callable[[], Awaitable[Any]],
    echo: Callable[[str], Any],
    progress: Callable[[str], Any],
    workers: int | None = 0,
    dsn: str | None = None,
    archive_dir: Path | None = None,
) -> int:
    """Verify; print the outcome; return the exit code (0 OK, 1 broken or unusable input).

    With ``workers`` > 0 and the auditor's ``dsn``, record contents are recomputed by that many
    processes over ranges (:mod:`services.audit.verify_ranges`) while this one checks the links;
    ``None`` chooses by the number of records to recompute (:func:`auto_workers`).
    With ``archive_dir``, records archived out of the store are read from their files first.
    """
    checkpoints, problems = read_checkpoints(checkpoint_file)
    heads = read_anchor_file(anchor_file) if anchor_file is not None else None
    if heads is not None:
        problems += heads.problems
    keys = None
    if log_public_key is not None:
        try:
            keys = KeyRing.from_files([log_public_key])
        except KeyFileError as exc:
            problems.append(str(exc))
    if heads is not None and heads.heads and keys is None:
        problems.append("the anchor file holds signed heads but no log public key is given")
    if problems:
        for problem in problems:
            echo(f"BROKEN: {problem}")
        return 1
    outside = [(f"anchor file {anchor_file}", h) for h in (heads.heads if heads else [])]
    if keys is not None:
        forged = check_signed(outside, keys)
        if forged is not None:
            echo(f"BROKEN: {forged.problem}")
            return 1
    highest = max((c.seq for c in checkpoints), default=0)
    resume = None if full else max(checkpoints, key=lambda c: c.seq, default=None)
    written = [highest]

    def on_verified(head: ChainHead) -> None:
        if head.seq - written[0] >= CHECKPOINT_EVERY:
            append_checkpoint(checkpoint_file, head)
            written[0] = head.seq

    async def check() -> int:
        conn = await connect()
        count = workers
        if count is None:
            count = auto_workers((await stored_head(conn)).seq - (resume.seq if resume else 0))
        ranges = RangeWorkers(dsn, count) if count > 0 and dsn is not None else None
        try:
            report = await verify_chain(
                conn,
                checkpoint=resume,
                witnesses=witnesses_of(checkpoints, outside),
                keys=keys,
                progress=lambda done, total: progress(f"verified {done}/{total} records"),
                on_verified=on_verified,
                contents=ranges,
                archive_dir=archive_dir,
            )
            if report.broken is None:  # a broken chain is the answer: nothing more is read
                catalogues = await check_catalogues(conn, report.started_after)
        finally:
            await conn.close()
            if ranges is not None:
                ranges.close()
        if report.broken is not None:
            b = report.broken
            echo(f"BROKEN at record {b.seq} (decision {b.decision_id or '?'}): {b.problem}")
            return 1
        if catalogues.altered is not None:
            echo(f"BROKEN: {catalogues.altered}")
            return 1
        if report.head.seq > written[0]:
            append_checkpoint(checkpoint_file, report.head)
        echo(
            (
                f"OK: {report.archived} archived record(s) recomputed from {archive_dir}; "
                if report.archived
                else "OK: "
            )
            + f"{report.checked} record(s) recomputed after record {report.started_after};"
            f" chain head {report.head.seq} {report.head.record_hash.hex()};"
            f" {report.witnesses} signed head(s) and checkpoint(s) hold;"
            f" {catalogues.checked} catalogue(s) match their digests;"
            f" rejected records: {report.rejected_chained} chained"
            + (f" ({_kinds(report.rejected_by_type)})" if report.rejected_by_type else "")
            + (
                f", {report.rejected_unchained} from before the chain"
                if report.rejected_unchained
                else ""
            )
        )
        missing = describe_missing(catalogues, report.started_after)
        if missing is not None:
            echo(missing)
        if keys is None:
            echo("NOTE: no log public key given: signed tree heads were not checked")
        return 0

    return await check()


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
