"""The hash chain over audit records, in commit order: pure functions, no I/O.

``record_hash = sha256(prev_hash || canonical_content)``, where ``prev_hash`` is the 32 raw bytes
of the previous record's hash (32 zero bytes before the first record) and ``canonical_content``
the canonical JSON bytes of the record's stored fields (see :mod:`services.audit.records`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

GENESIS_HASH = bytes(32)
"""The ``prev_hash`` of the first record in the chain."""


def link_hash(prev_hash: bytes, content: bytes) -> bytes:
    """The hash of a record whose predecessor's hash is ``prev_hash``."""
    if len(prev_hash) != 32:
        raise ValueError(f"prev_hash must be 32 bytes, got {len(prev_hash)}")
    digest = hashlib.sha256(prev_hash)
    digest.update(content)
    return digest.digest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last record of the chain: its position and its hash (seq 0 = empty chain)."""

    seq: int
    record_hash: bytes

    @classmethod
    def genesis(cls) -> ChainHead:
        return cls(seq=0, record_hash=GENESIS_HASH)


@dataclass(frozen=True, slots=True)
class Link:
    """One stored record as the verifier sees it."""

    seq: int
    prev_hash: bytes
    record_hash: bytes
    content: bytes
    decision_id: str = ""


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first record at which the chain does not hold, and why."""

    seq: int
    decision_id: str
    problem: str


def extend(head: ChainHead, contents: Iterable[bytes]) -> Iterator[tuple[int, bytes, bytes]]:
    """Assign ``(seq, prev_hash, record_hash)`` to each content, continuing from ``head``."""
    seq, prev = head.seq, head.record_hash
    for content in contents:
        seq += 1
        record_hash = link_hash(prev, content)
        yield seq, prev, record_hash
        prev = record_hash


def check_links(head: ChainHead, links: Iterable[Link]) -> tuple[ChainHead, ChainBreak | None]:
    """Walk ``links`` (ascending seq) from ``head``; return the new head or the first break."""
    for link in links:
        expected_seq = head.seq + 1
        if link.seq != expected_seq:
            problem = f"record {expected_seq} is missing (next stored record is {link.seq})"
            return head, ChainBreak(expected_seq, link.decision_id, problem)
        if link.prev_hash != head.record_hash:
            problem = "prev_hash does not match the previous record's hash"
            return head, ChainBreak(link.seq, link.decision_id, problem)
        if link_hash(link.prev_hash, link.content) != link.record_hash:
            problem = "record_hash does not match the record's content (content was altered)"
            return head, ChainBreak(link.seq, link.decision_id, problem)
        head = ChainHead(link.seq, link.record_hash)
    return head, None
