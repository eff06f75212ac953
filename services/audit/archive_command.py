"""``lodestone audit archive``: closed, verified partitions to archive files, then detached.

Run as the bootstrap identity (``SET ROLE`` to the owner: detaching is the owner's right, and
the writer must never hold it). For each partition the chain has passed, oldest first, up to
``--through``:

1. the whole store is verified first (``verify --full``, archives already written included);
   nothing is archived from a store that does not verify;
2. one pass over the partition's chain columns gives its seam: the first record's
   ``prev_hash``, the last record's hash, the Merkle tree's edge at its end;
3. its records are written to ``DIR/decision_records_<first seq>.jsonl.gz`` exactly as the
   verifier reads them, flushed to disk, then read back and checked link by link;
4. in one transaction the seam goes into ``audit.archived_ranges`` and the partitions of the
   records and their terms are detached (the detached tables stay, owned by the owner, until
   the operator drops them once the file is stored safely: docs/audit.md "Retention").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from services.audit.archive import (
    ArchiveError,
    ArchiveWriter,
    archive_name,
    archived_ranges,
    file_sha256,
    read_archive,
)
from services.audit.chain import link_hash
from services.audit.merkle import Frontier
from services.audit.records import content_of
from services.audit.verify_ranges import CONTENT_ROWS
from services.common.db import Conn

_CLOSED = """
SELECT first_seq, end_seq, records_table, terms_table FROM audit.record_partitions
 WHERE attached_at IS NOT NULL AND end_seq - 1 > $1 AND end_seq - 1 <= $2
 ORDER BY first_seq
"""
_HEAD = "SELECT coalesce(max(seq), 0) FROM audit.decision_records"
_CHAIN = (
    "SELECT seq, prev_hash, record_hash FROM audit.decision_records"
    " WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
)
_ARCHIVED = """
INSERT INTO audit.archived_ranges
    (first_seq, last_seq, prev_hash, last_record_hash, frontier, file_name, file_sha256)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
_DETACH = "ALTER TABLE audit.{parent} DETACH PARTITION audit.{table}"
CHUNK = 5000


class ArchiveRefusedError(RuntimeError):
    """Nothing was archived: the reason says why."""


async def archive_partitions(
    conn: Conn,
    directory: Path,
    *,
    through: int,
    verified: Callable[[], Awaitable[bool]],
    echo: Callable[[str], Any],
) -> list[Path]:
    """Archive and detach every closed partition whose last seq is at most ``through``.

    ``conn`` acts as the owner; ``directory`` exists. ``verified`` runs the full verification
    (archives in ``directory`` included) and says whether it passed. Returns the files written.
    """
    if not await verified():
        raise ArchiveRefusedError("the store does not verify: nothing archived")
    ranges = await archived_ranges(conn)
    done = ranges[-1].last_seq if ranges else 0
    frontier = Frontier() if not ranges else Frontier.at(done, ranges[-1].frontier)
    head = int(await conn.fetchval(_HEAD))
    written: list[Path] = []
    for part in await conn.fetch(_CLOSED, done, min(through, head)):
        first, last = max(1, part["first_seq"]), part["end_seq"] - 1
        if first != done + 1:
            raise ArchiveRefusedError(
                f"records {done + 1}..{first - 1} are neither archived nor in a partition"
            )
        seam = await _seam(conn, first, last, frontier)
        path = directory / archive_name(part["first_seq"])
        digest = await _export(conn, path, first, last, seam)
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '10s'")
            await conn.execute(
                _ARCHIVED,
                first,
                last,
                seam["prev_hash"],
                seam["last_record_hash"],
                seam["frontier"],
                path.name,
                digest,
            )
            for parent, table in (
                ("decision_records", part["records_table"]),
                ("decision_terms", part["terms_table"]),
            ):
                await conn.execute(_DETACH.format(parent=parent, table=_ident(table)))
        table = part["records_table"]
        echo(f"archived records {first}..{last} to {path}; partition {table} detached")
        written.append(path)
        done = last
    return written


async def _seam(conn: Conn, first: int, last: int, frontier: Frontier) -> dict[str, Any]:
    """The seam of records ``first..last``; extends ``frontier`` to ``last``."""
    seq, prev_hash, last_hash = first - 1, None, b""
    while seq < last:
        rows = await conn.fetch(_CHAIN, seq, last, CHUNK)
        if not rows:
            break
        for row in rows:
            if row["seq"] != seq + 1:
                raise ArchiveRefusedError(f"record {seq + 1} is missing from its partition")
            if prev_hash is None:
                prev_hash = bytes(row["prev_hash"])
            seq, last_hash = row["seq"], bytes(row["record_hash"])
            frontier.append(last_hash)
    if seq != last or prev_hash is None:
        raise ArchiveRefusedError(f"records {first}..{last} are not all in the store")
    return {
        "first_seq": first,
        "last_seq": last,
        "prev_hash": prev_hash,
        "last_record_hash": last_hash,
        "frontier": frontier.subtrees(),
    }


async def _export(conn: Conn, path: Path, first: int, last: int, seam: dict[str, Any]) -> bytes:
    """Write the archive, read it back link by link; the file's SHA-256."""
    with ArchiveWriter(path, seam, count=last - first + 1) as out:
        after = first - 1
        while after < last:
            rows = await conn.fetch(CONTENT_ROWS, after, last, CHUNK)
            if not rows:
                break
            out.write([dict(row) for row in rows])
            after = rows[-1]["seq"]
    _check_written(path, seam)
    return file_sha256(path)


def _check_written(path: Path, seam: dict[str, Any]) -> None:
    """The file holds the range, every record's hash is that of its content and its link."""
    header, records = read_archive(path)
    prev, seq = seam["prev_hash"], seam["first_seq"] - 1
    for fields in records:
        if fields["seq"] != seq + 1 or fields["prev_hash"] != prev:
            raise ArchiveError(f"{path}: record {seq + 1} does not follow in the file")
        if link_hash(prev, content_of(fields)) != fields["record_hash"]:
            raise ArchiveError(f"{path}: record {fields['seq']} does not hash to its hash")
        prev, seq = fields["record_hash"], fields["seq"]
    if seq != seam["last_seq"] or prev != seam["last_record_hash"] or set(header) < set(seam):
        raise ArchiveError(f"{path} does not end at record {seam['last_seq']}")


def _ident(name: str) -> str:
    """A partition's name (made by the store: ``decision_(records|terms)_<digits>``), quoted."""
    if not name.replace("_", "").isalnum() or not name.startswith("decision_"):
        raise ArchiveRefusedError(f"unexpected partition name {name!r}")
    return '"' + name + '"'
