"""Getting signed tree heads out of the database: ``audit.anchors.v1`` and an append-only file.

Whoever controls the database can rewrite what it holds, but not what was already published
elsewhere: every head the writer signs is appended to the anchor file (JSON lines, opened with
``O_APPEND`` and fsynced, never rewritten; keep it outside the checkout and the database
server, ideally on storage the database owner cannot write) and produced to
``audit.anchors.v1`` under the key ``anchor``. ``lodestone audit verify`` reads the file back
and checks the store against every head in it.

Publishing happens after the batch committed and never stops the service: a head that could
not be published is logged, and the next batch's head (which covers it) is published instead.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer

from services.audit.tree_head import ANCHOR_KEY, SignedTreeHead, TreeHeadError
from services.common.logging import get_logger

log = get_logger(__name__)


def append_anchor(path: Path, head: SignedTreeHead) -> None:
    """Append ``head`` as one JSON line; the file is only ever appended to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, head.to_bytes() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class AnchorFileContents:
    heads: list[SignedTreeHead]
    problems: list[str]
    """Lines that are not tree heads (reported by verify, never skipped silently)."""


def read_anchor_file(path: Path) -> AnchorFileContents:
    """Every tree head in ``path`` (none when it does not exist)."""
    heads: list[SignedTreeHead] = []
    problems: list[str] = []
    if not path.exists():
        return AnchorFileContents(heads, problems)
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            heads.append(SignedTreeHead.from_json(line))
        except TreeHeadError as exc:
            problems.append(f"{path}:{number}: {exc}")
    return AnchorFileContents(heads, problems)


class AnchorPublisher:
    """Publishes each signed head to the anchor file and/or ``audit.anchors.v1``."""

    def __init__(
        self, *, file: Path | None = None, producer: AIOKafkaProducer | None = None, topic: str = ""
    ) -> None:
        self._file = file
        self._producer = producer
        self._topic = topic
        self.failures = 0

    async def publish(self, head: SignedTreeHead) -> None:
        if self._file is not None:
            try:
                await asyncio.to_thread(append_anchor, self._file, head)
            except OSError as exc:
                self.failures += 1
                log.error("tree head not appended to the anchor file", error=str(exc))
        if self._producer is not None:
            try:
                await self._producer.send(self._topic, key=ANCHOR_KEY, value=head.to_bytes())
            except Exception as exc:  # a broker problem must not stop recording
                self.failures += 1
                log.error("tree head not published", topic=self._topic, error=str(exc))
