"""Archived partitions: files that hold closed ranges of the chain, and reading them back.

``lodestone audit archive`` (:mod:`services.audit.archive_command`) exports a closed, verified
partition to a file and detaches it; ``audit.archived_ranges`` keeps its seam. An archive file is
gzip-compressed JSON lines:

* line 1, the seam: ``first_seq``, ``last_seq``, ``count``, ``prev_hash`` (of the first record),
  ``last_record_hash`` and ``frontier`` (the Merkle tree's edge after ``last_seq``, largest
  subtree first; enough to extend the tree without the records before);
* then one record per line: every stored column exactly as the verifier reads it from the live
  store (the decision as its stored text, timestamps as the server formats them), bytes in hex.

``verify --archive DIR`` (:func:`archived_prefix`) reads the archived records before the live
store, recomputing each record's hash from its content, so the chain and the tree still span
from record 1 and every signed tree head and checkpoint is checked where it falls. Nothing in
an archive is trusted: its seam is only a shortcut for the writer's tree, and the files'
digests in the store only name the file that was written.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.audit.canonical import NotCanonicalError
from services.audit.chain import ChainBreak
from services.audit.records import RECORD_COLUMNS, content_of
from services.common.db import Conn

ARCHIVE_FORMAT = "lodestone-audit-archive/1"
#: stored columns held as bytes (hex in the file)
_BYTES = ("prev_hash", "record_hash", "signature")
_RANGES = (
    "SELECT first_seq, last_seq, prev_hash, last_record_hash, frontier, file_name, file_sha256"
    " FROM audit.archived_ranges_v ORDER BY first_seq"
)

Take = Callable[[int, bytes, bytes, str, bytes | None], ChainBreak | None]
"""Extends a verification pass by one record (seq, prev_hash, record_hash, decision_id, content)."""


class ArchiveError(ValueError):
    """An archive file that cannot be read as one."""


@dataclass(frozen=True)
class ArchivedRange:
    """One row of ``audit.archived_ranges``: a range of the chain that lives in a file."""

    first_seq: int
    last_seq: int
    prev_hash: bytes
    last_record_hash: bytes
    frontier: list[bytes]
    file_name: str
    file_sha256: bytes


async def archived_ranges(conn: Conn) -> list[ArchivedRange]:
    """Every archived range, oldest first (none in a store from before migration 0006)."""
    if await conn.fetchval("SELECT to_regclass('audit.archived_ranges_v')") is None:
        return []
    return [
        ArchivedRange(
            row["first_seq"],
            row["last_seq"],
            bytes(row["prev_hash"]),
            bytes(row["last_record_hash"]),
            [bytes(h) for h in row["frontier"]],
            row["file_name"],
            bytes(row["file_sha256"]),
        )
        for row in await conn.fetch(_RANGES)
    ]


def archive_name(first_seq: int) -> str:
    """The file name of the archive of the partition that starts at ``first_seq``."""
    return f"decision_records_{first_seq:012d}.jsonl.gz"


class ArchiveWriter:
    """Writes an archive file: the seam, then records (stored columns as the verifier reads them).

    Written under a temporary name, flushed to disk and renamed on a clean exit: a crash or an
    error leaves no partial file under the final name.
    """

    def __init__(self, path: Path, seam: dict[str, Any], *, count: int) -> None:
        self.path = path
        self._temporary = path.with_name(path.name + ".partial")
        self._raw = self._temporary.open("wb")
        self._out = gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0)
        self._out.write(_line({"format": ARCHIVE_FORMAT, **_jsonable(seam), "count": count}))

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._out.write(_line(_jsonable({c: row[c] for c in RECORD_COLUMNS})))

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._out.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        if error is None:
            self._temporary.replace(self.path)
        else:
            self._temporary.unlink(missing_ok=True)


def file_sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def read_archive(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The seam of the archive at ``path`` and an iterator over its records (stored columns)."""
    lines = _lines(path)
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError, OSError) as exc:
        raise ArchiveError(f"{path} is not an archive ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError(f"{path} is not an archive of format {ARCHIVE_FORMAT}")
    return header, (_record(path, line) for line in lines)


async def archived_prefix(conn: Conn, directory: Path | None, take: Take) -> ChainBreak | None:
    """Feed every archived record to ``take``, oldest first; the first break, or None.

    Without ``directory`` (or without the file of a range in it) the archived records cannot be
    checked: that is a break that says where they are, not that they are missing.
    """
    ranges = await archived_ranges(conn)
    if not ranges:
        return None
    if directory is None:
        last = ranges[-1].last_seq
        return ChainBreak(
            1,
            "",
            f"records 1..{last} are archived ({len(ranges)} file(s), {ranges[0].file_name} to "
            f"{ranges[-1].file_name}), not in the live store: verify with --archive DIR",
        )
    for archived in ranges:
        broken = _take_file(directory, archived, take)
        if broken is not None:
            return broken
    return None


def _take_file(directory: Path, archived: ArchivedRange, take: Take) -> ChainBreak | None:
    path = directory / archived.file_name
    span = f"records {archived.first_seq}..{archived.last_seq}"
    if not path.is_file():
        problem = f"{span} are archived in {archived.file_name}, which is not in {directory}"
        return ChainBreak(archived.first_seq, "", problem)
    try:
        header, records = read_archive(path)
        if (header.get("first_seq"), header.get("last_seq")) != (
            archived.first_seq,
            archived.last_seq,
        ):
            problem = f"{path} does not hold {span} (its seam says otherwise)"
            return ChainBreak(archived.first_seq, "", problem)
        seq = archived.first_seq - 1
        for fields in records:
            seq, decision_id = fields["seq"], fields["decision_id"]
            try:
                content = content_of(fields)
            except NotCanonicalError as exc:
                return ChainBreak(seq, decision_id, f"{path}: {exc}")
            broken = take(seq, fields["prev_hash"], fields["record_hash"], decision_id, content)
            if broken is not None:
                return ChainBreak(broken.seq, broken.decision_id, f"{path}: {broken.problem}")
    except ArchiveError as exc:
        return ChainBreak(archived.first_seq, "", str(exc))
    if seq != archived.last_seq:
        problem = f"{path} ends at record {seq}, its range at {archived.last_seq}"
        return ChainBreak(seq + 1, "", problem)
    if file_sha256(path) != archived.file_sha256:
        problem = f"{path} is not the file that was archived (its SHA-256 differs)"
        return ChainBreak(archived.first_seq, "", problem)
    return None


def _lines(path: Path) -> Iterator[bytes]:
    try:
        with gzip.open(path, "rb") as handle:
            yield from handle
    except (OSError, EOFError) as exc:
        raise ArchiveError(f"{path} is not a readable archive ({exc})") from exc


def _record(path: Path, line: bytes) -> dict[str, Any]:
    try:
        fields = json.loads(line)
        for column in _BYTES:
            if fields[column] is not None:
                fields[column] = bytes.fromhex(fields[column])
        if not isinstance(fields["seq"], int) or set(fields) != set(RECORD_COLUMNS):
            raise ValueError("not a record of the store")
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(f"{path}: a line is not an archived record ({exc})") from exc
    return dict(fields)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, bytes | bytearray | memoryview):
            value = bytes(value).hex()
        elif isinstance(value, list | tuple):
            value = [bytes(v).hex() if isinstance(v, bytes | memoryview) else v for v in value]
        out[key] = value
    return out


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
