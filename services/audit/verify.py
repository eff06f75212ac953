"""Verifying the store against its own hashes and against every head seen outside it.

Three things are checked, in one pass over the records in ``seq`` order:

1. the hash chain: each ``seq`` follows without a gap, ``prev_hash`` is the previous record's
   hash and ``record_hash`` is the hash of the record's content, recomputed from the stored
   bytes (for records after the resume point; all of them with ``full``);
2. the Merkle tree: its root at the size of every signed tree head (from ``audit.tree_heads``
   and from the anchor file, each signature checked first) must be the signed root, and the
   record at that size the signed last record; every checkpoint's record must hold the
   checkpointed hash. A head or checkpoint beyond the end of the store means records were
   removed. So a shortened or rewritten log fails, resumed or ``full``;
3. the rejected records' own chain, and the rejected head each tree head pins.

Records archived out of the live store (:mod:`services.audit.archive`) are read from their files
first, with ``archive_dir``; without it, their range is reported as archived, not as missing.

Checkpoints ("records 1..seq verified, the hash of seq is H") live in a file the verifier keeps,
deliberately outside the database it checks; all of them are checked on every run, and a new
one is only ever appended above the highest (docs/audit.md, ADR 0016).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.audit.archive import archived_prefix
from services.audit.chain import ChainBreak, ChainHead, link_hash
from services.audit.merkle import Frontier
from services.audit.store import rejected_content
from services.audit.tree_head import SignedTreeHead, TreeHeadError
from services.audit.verify_ranges import (
    CONTENT_ROWS,
    ContentCheck,
    check_record,
    confirm_first_break,
)
from services.common.db import Conn
from services.common.signing import KeyRing

_FULL = CONTENT_ROWS  # stored bytes, timestamps formatted by the server
_CHAIN_ONLY = (
    "SELECT seq, prev_hash, record_hash, decision_id FROM audit.decisions_v"
    " WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
)
_HEAD = "SELECT seq, record_hash FROM audit.chain_head_v"
_TREE_HEADS = "SELECT id, head, key_id, signature FROM audit.tree_heads_v ORDER BY id"
_REJECTED = (
    "SELECT seq, prev_hash, record_hash, source_topic, source_partition, source_offset,"
    " record_key, payload, error_type, error, rejected_at FROM audit.rejected_records_v"
    " WHERE seq IS NOT NULL ORDER BY seq"
)
_UNCHAINED = "SELECT count(*) FROM audit.rejected_records_v WHERE seq IS NULL"

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


def read_checkpoints(path: Path) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint in ``path`` (JSON lines) and the lines that are not checkpoints."""
    found: list[Checkpoint] = []
    problems: list[str] = []
    if not path.exists():
        return found, problems
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            record_hash = bytes.fromhex(data["record_hash"])
            if type(data["seq"]) is not int or data["seq"] < 1 or len(record_hash) != 32:
                raise ValueError("not a checkpoint")
            found.append(Checkpoint(data["seq"], record_hash, str(data["verified_at"])))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path}:{number}: not a checkpoint ({exc})")
    return found, problems


def last_checkpoint(path: Path) -> Checkpoint | None:
    """The highest checkpoint in ``path``, or None."""
    found, _ = read_checkpoints(path)
    return max(found, key=lambda c: c.seq, default=None)


def append_checkpoint(path: Path, head: ChainHead) -> Checkpoint:
    """Append ``head`` as a checkpoint, only ever above the highest one already in ``path``."""
    highest = last_checkpoint(path)
    if highest is not None and head.seq <= highest.seq:
        raise ValueError(f"checkpoint {head.seq} would not be above checkpoint {highest.seq}")
    checkpoint = Checkpoint(head.seq, head.record_hash, datetime.now(UTC).isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(checkpoint.to_json() + "\n")
    return checkpoint


@dataclass(frozen=True)
class Witness:
    """What something outside the chain says the log held at ``size``."""

    size: int
    source: str
    root: bytes | None = None
    record_hash: bytes | None = None
    rejected_size: int | None = None
    rejected_hash: bytes | None = None


@dataclass
class VerifyReport:
    """Outcome of a verification run."""

    started_after: int
    head: ChainHead
    checked: int
    stored_head: int
    broken: ChainBreak | None
    witnesses: int = 0
    """Signed tree heads and checkpoints the store was checked against."""
    rejected_chained: int = 0
    rejected_unchained: int = 0
    archived: int = 0
    """Records read (and recomputed) from archive files before the live store."""
    rejected_by_type: dict[str, int] = field(default_factory=dict)
    """Chained rejected records by ``error_type`` (e.g. ``SignatureRejected``)."""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None


def witnesses_of(
    checkpoints: Iterable[Checkpoint], heads: Iterable[tuple[str, SignedTreeHead]]
) -> list[Witness]:
    found = [Witness(c.seq, "checkpoint", record_hash=c.record_hash) for c in checkpoints]
    for source, h in heads:
        last = h.last_record_hash if h.tree_size > 0 else None
        found.append(
            Witness(h.tree_size, source, h.root_hash, last, h.rejected_size, h.rejected_head_hash)
        )
    return found


async def stored_head(conn: Conn) -> ChainHead:
    row = await conn.fetchrow(_HEAD)
    return ChainHead.genesis() if row is None else ChainHead(row["seq"], bytes(row["record_hash"]))


async def stored_tree_heads(
    conn: Conn, keys: KeyRing
) -> tuple[list[tuple[str, SignedTreeHead]], ChainBreak | None]:
    """The tree heads in the store, each signature checked; a forged one is a break."""
    found: list[tuple[str, SignedTreeHead]] = []
    for row in await conn.fetch(_TREE_HEADS):
        where = f"audit.tree_heads id {row['id']}"
        try:
            body = json.loads(row["head"])
            body["signature"] = base64.b64encode(bytes(row["signature"])).decode()
            head = SignedTreeHead.from_json(body)
        except (TreeHeadError, ValueError, TypeError) as exc:
            return found, ChainBreak(0, "", f"{where} is malformed: {exc}")
        if head.signed_bytes() != row["head"].encode("utf-8"):
            return found, ChainBreak(0, "", f"{where} is not in canonical form")
        problem = head.problem(keys)
        if problem is not None:
            return found, ChainBreak(head.tree_size, "", f"{where}: {problem}")
        found.append((where, head))
    return found, None


def check_signed(heads: Iterable[tuple[str, SignedTreeHead]], keys: KeyRing) -> ChainBreak | None:
    for source, head in heads:
        problem = head.problem(keys)
        if problem is not None:
            return ChainBreak(head.tree_size, "", f"{source}: {problem}")
    return None


class _Scan:
    """The running state of one pass: chain head, tree frontier, witnesses by size."""

    def __init__(self, witnesses: list[Witness]) -> None:
        self.head = ChainHead.genesis()
        self.frontier = Frontier()
        self.by_size: dict[int, list[Witness]] = {}
        for w in witnesses:
            self.by_size.setdefault(w.size, []).append(w)
        self.matched = 0

    def take(
        self, seq: int, prev: bytes, record_hash: bytes, decision_id: str, content: bytes | None
    ) -> ChainBreak | None:
        expected = self.head.seq + 1
        if seq != expected:
            return ChainBreak(
                expected, decision_id, f"record {expected} is missing (next is {seq})"
            )
        if prev != self.head.record_hash:
            return ChainBreak(
                seq, decision_id, "prev_hash does not match the previous record's hash"
            )
        if content is not None and link_hash(prev, content) != record_hash:
            problem = "record_hash does not match the record's content (content was altered)"
            return ChainBreak(seq, decision_id, problem)
        self.head = ChainHead(seq, record_hash)
        self.frontier.append(record_hash)
        return self.check_witnesses(decision_id)

    def check_witnesses(self, decision_id: str = "") -> ChainBreak | None:
        size = self.frontier.size
        for w in self.by_size.get(size, ()):
            if w.root is not None and w.root != self.frontier.root():
                problem = (
                    f"the tree of the first {size} records differs from the signed tree head "
                    f"in {w.source} (the log was rewritten)"
                )
                return ChainBreak(size, decision_id, problem)
            if w.record_hash is not None and w.record_hash != self.head.record_hash:
                problem = f"record_hash differs from the {w.source} (the chain was rewritten)"
                return ChainBreak(size, decision_id, problem)
            self.matched += 1
        return None


async def verify_chain(
    conn: Conn,
    *,
    checkpoint: Checkpoint | None = None,
    witnesses: list[Witness] | None = None,
    keys: KeyRing | None = None,
    progress: Progress | None = None,
    on_verified: Callable[[ChainHead], None] | None = None,
    chunk_size: int = 5000,
    contents: ContentCheck | None = None,
    window: int = 200_000,
    archive_dir: Path | None = None,
) -> VerifyReport:
    """Check the store; contents are recomputed after ``checkpoint`` (all without one).

    ``witnesses`` are the checkpoints and outside tree heads to hold the store to; with
    ``keys`` (the log's public keys) the store's own tree heads are checked and used too.
    ``on_verified`` is called with the head after each verified chunk (to write checkpoints), or
    with the last witness below it while records there rest on a witness still ahead.
    With ``contents`` (e.g. :class:`~services.audit.verify_ranges.RangeWorkers`) the contents
    of each ``window`` of records are recomputed by it, in parallel with one ordered pass here
    over the chain columns that checks every link, seq and signed root. Records archived
    out of the store are read from ``archive_dir`` first (:func:`archived_prefix`).
    """
    top = await stored_head(conn)
    all_witnesses = list(witnesses or [])
    if checkpoint is not None:
        all_witnesses.append(
            Witness(checkpoint.seq, "checkpoint", record_hash=checkpoint.record_hash)
        )
    if keys is not None:
        stored, broken = await stored_tree_heads(conn, keys)
        if broken is not None:
            return VerifyReport(0, ChainHead.genesis(), 0, top.seq, broken)
        all_witnesses.extend(witnesses_of([], stored))
    start = checkpoint.seq if checkpoint is not None else 0
    scan = _Scan(all_witnesses)
    report = VerifyReport(start, scan.head, 0, top.seq, None)
    report.broken = scan.check_witnesses()  # heads of the empty log
    if report.broken is None:  # the oldest records may live in archive files
        report.broken = await archived_prefix(conn, archive_dir, scan.take)
        report.archived = scan.head.seq
    # The prefix already verified: its chain and tree, not its contents.
    while report.broken is None and scan.head.seq < min(start, top.seq):
        rows = await conn.fetch(_CHAIN_ONLY, scan.head.seq, start, chunk_size)
        if not rows:
            break
        for row in rows:
            report.broken = scan.take(
                row["seq"], bytes(row["prev_hash"]), bytes(row["record_hash"]),
                row["decision_id"], None,
            )  # fmt: skip
            if report.broken is not None:
                break
    total = max(0, top.seq - start)
    # Records up to the highest witness pass by their stored bytes' hash (check_record).
    proven = max((w.size for w in all_witnesses if w.size <= top.seq), default=0)
    while contents is not None and report.broken is None and scan.head.seq < top.seq:
        first, last = scan.head.seq + 1, min(top.seq, scan.head.seq + window)
        recomputed = asyncio.ensure_future(contents(first, last, proven))
        linked = await _links(conn, scan, last, chunk_size)
        breaks = [b for b in (linked, await recomputed) if b is not None]
        if breaks:
            report.broken = min(breaks, key=lambda b: b.seq)
            break
        report.checked += last - first + 1
        if progress is not None:
            progress(report.checked, total)
        if on_verified is not None:
            on_verified(_settled(scan.head, proven, all_witnesses))
    while contents is None and report.broken is None:
        rows = await conn.fetch(_FULL, scan.head.seq, top.seq, chunk_size)
        if not rows:
            break
        for row in rows:
            seq, prev, record_hash, decision_id = row[0], row[1], row[2], row[3]
            if seq == scan.head.seq + 1 and prev == scan.head.record_hash:
                report.broken = check_record(row, proven)  # links first, as take() orders them
                if report.broken is not None:
                    break
            report.broken = scan.take(seq, prev, record_hash, decision_id, None)
            if report.broken is not None:
                break
            report.checked += 1
        if report.broken is None:
            if progress is not None:
                progress(report.checked, total)
            if on_verified is not None:
                on_verified(_settled(scan.head, proven, all_witnesses))
    if report.broken is not None and report.broken.seq > start:
        since = max([start, *(w.size for w in all_witnesses if w.size < report.broken.seq)])
        report.broken = await confirm_first_break(conn, report.broken, since, proven)
    report.head = scan.head
    report.witnesses = scan.matched
    if report.broken is None:
        beyond = [w for w in all_witnesses if w.size > scan.head.seq]
        if beyond:
            w = max(beyond, key=lambda w: w.size)
            problem = (
                f"the log ends at record {scan.head.seq} but the {w.source} covers {w.size} "
                "records (records were removed)"
            )
            report.broken = ChainBreak(scan.head.seq + 1, "", problem)
    if report.broken is None:
        await _verify_rejected(conn, all_witnesses, report)
    return report


def _settled(head: ChainHead, proven: int, witnesses: list[Witness]) -> ChainHead:
    """The highest record below ``head`` that a checkpoint may pin.

    Records up to ``proven`` passed by their stored bytes (``check_record``) are settled only once
    a witness at or above them has held; those above ``proven`` were checked exactly.
    """
    if head.seq > proven:
        return head
    held = [w for w in witnesses if w.size <= head.seq and w.record_hash is not None]
    if not held:
        return ChainHead.genesis()
    w = max(held, key=lambda w: w.size)
    assert w.record_hash is not None
    return ChainHead(w.size, w.record_hash)


async def _links(conn: Conn, scan: _Scan, last: int, chunk_size: int) -> ChainBreak | None:
    """Extend ``scan`` by the chain columns of the records up to ``last`` (contents unread)."""
    while scan.head.seq < last:
        rows = await conn.fetch(_CHAIN_ONLY, scan.head.seq, last, chunk_size)
        if not rows:
            return ChainBreak(scan.head.seq + 1, "", f"record {scan.head.seq + 1} is missing")
        for row in rows:
            broken = scan.take(
                row["seq"], bytes(row["prev_hash"]), bytes(row["record_hash"]),
                row["decision_id"], None,
            )  # fmt: skip
            if broken is not None:
                return broken
    return None


async def _verify_rejected(conn: Conn, witnesses: list[Witness], report: VerifyReport) -> None:
    """The rejected records' chain, and the rejected head each tree head pins."""
    pinned: dict[int, list[Witness]] = {}
    for w in witnesses:
        if w.rejected_size is not None:
            pinned.setdefault(w.rejected_size, []).append(w)
    head = ChainHead.genesis()

    def check_pins() -> ChainBreak | None:
        for w in pinned.get(head.seq, ()):
            if w.rejected_hash != head.record_hash:
                problem = f"rejected record {head.seq} differs from the {w.source} (rewritten)"
                return ChainBreak(head.seq, "", problem)
        return None

    report.broken = check_pins()
    for row in await conn.fetch(_REJECTED) if report.broken is None else []:
        fields: dict[str, Any] = dict(row)
        seq, prev, record_hash = (
            fields["seq"],
            bytes(fields["prev_hash"]),
            bytes(fields["record_hash"]),
        )
        problem = None
        if seq != head.seq + 1:
            problem = f"rejected record {head.seq + 1} is missing"
        elif prev != head.record_hash:
            problem = "prev_hash does not match the previous rejected record's hash"
        elif link_hash(prev, rejected_content(fields)) != record_hash:
            problem = "record_hash does not match the rejected record's content (altered)"
        if problem is not None:
            report.broken = ChainBreak(seq, "", f"rejected records: {problem}")
            return
        head = ChainHead(seq, record_hash)
        kind = fields["error_type"]
        report.rejected_by_type[kind] = report.rejected_by_type.get(kind, 0) + 1
        report.broken = check_pins()
        if report.broken is not None:
            return
    report.rejected_chained = head.seq
    report.rejected_unchained = int(await conn.fetchval(_UNCHAINED) or 0)
    removed = [w for w in witnesses if (w.rejected_size or 0) > head.seq]
    if removed:
        w = max(removed, key=lambda w: w.rejected_size or 0)
        problem = (
            f"the rejected records end at {head.seq} but the {w.source} covers "
            f"{w.rejected_size} (rejected records were removed)"
        )
        report.broken = ChainBreak(head.seq + 1, "", problem)
