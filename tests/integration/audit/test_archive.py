"""Archiving closed partitions (``lodestone audit archive``) and verifying through the archives.

A store with partitions of 1024 seqs is written the way the service writes it (signed tree heads
in an anchor file outside the database); the two closed partitions are archived and detached.
``verify --archive DIR`` must then pass from record 1 with every signed head, also after a
restarted writer went on from the seam; and fail, naming the record, when an archived record is
altered, an archive file is missing or cut short (its seam no longer meets the live store), a
partition is detached without an archive, or no archive directory is given.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from deploy.local import RuntimeState
from services.audit.anchors import AnchorPublisher
from services.audit.archive_command import ArchiveRefusedError, archive_partitions
from services.audit.decoding import decode_decision
from services.audit.evidence_pack import build_pack, verify_pack
from services.audit.merkle import consistency_proof, verify_consistency
from services.audit.queries import leaf_hashes
from services.audit.records import PendingRecord, SourceCoordinates
from services.audit.store import write_batch
from services.audit.tree_log import TreeLog
from services.audit.verify_command import verify_store
from services.common.migrations import SERVICES_DIR, apply_migrations
from tests.integration.audit.conftest import AuditDatabase, fresh_database, superuser_connect
from tests.unit.audit.factories import LOG_KEYS, LOG_SIGNER, make_decision

pytestmark = pytest.mark.integration

WIDTH = 1024
_NOW = datetime.now(UTC)


def _record(n: int) -> PendingRecord:
    value = make_decision(n).model_dump_json().encode()
    item = decode_decision(value, None, SourceCoordinates("decisions.v1", 0, n), _NOW)
    assert isinstance(item, PendingRecord)
    return item


async def _write(db: AuditDatabase, tmp_path: Path, first: int, count: int) -> None:
    """As the service: a tree log of its own (a fresh start), each head to the anchor file."""
    tree, anchors = TreeLog(LOG_SIGNER), AnchorPublisher(file=tmp_path / "anchors.jsonl")
    writer = await db.connect("audit")
    try:
        for start in range(first, first + count, 500):
            batch = [_record(n) for n in range(start, min(first + count, start + 500))]
            result = await write_batch(writer, batch, tree=tree)
            assert result.tree_head is not None
            await anchors.publish(result.tree_head)
    finally:
        await writer.close()


async def _owner(db: AuditDatabase) -> Any:
    conn = await db.connect("admin")
    await conn.execute("SET ROLE lodestone_owner")
    return conn


async def _verify(
    db: AuditDatabase, tmp_path: Path, archive: Path | None, role: str = "auditor"
) -> tuple[int, str]:
    lines: list[str] = []
    key = tmp_path / "log.pub.pem"
    key.write_bytes(
        LOG_SIGNER.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    code = await verify_store(
        full=True,
        checkpoint_file=tmp_path / "checkpoints.jsonl",
        anchor_file=tmp_path / "anchors.jsonl",
        log_public_key=key,
        connect=(lambda: _owner(db)) if role == "owner" else (lambda: db.connect(role)),
        echo=lines.append,
        progress=lambda _: None,
        archive_dir=archive,
    )
    return code, "\n".join(lines)


async def _archive(db: AuditDatabase, tmp_path: Path, through: int) -> list[Path]:
    archive = tmp_path / "archive"
    archive.mkdir(exist_ok=True)

    async def verified() -> bool:
        code, _ = await _verify(db, tmp_path, archive, role="owner")
        return code == 0

    owner = await _owner(db)
    try:
        return await archive_partitions(
            owner, archive, through=through, verified=verified, echo=lambda _: None
        )
    finally:
        await owner.close()


@pytest.fixture
async def archived(runtime: RuntimeState, tmp_path: Path) -> AsyncIterator[AuditDatabase]:
    """2500 records in partitions of 1024; records 1..2047 archived and their partitions gone."""
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        owner = await _owner(db)
        try:
            await owner.execute("UPDATE audit.partition_layout SET width = $1", WIDTH)
        finally:
            await owner.close()
        await _write(db, tmp_path, 1, 2500)
        files = await _archive(db, tmp_path, through=2500)
        assert [f.name for f in files] == [
            "decision_records_000000000000.jsonl.gz",
            "decision_records_000000001024.jsonl.gz",
        ]
        yield db


def _rewrite(path: Path, change: Any) -> None:
    """Rewrite an archive file's lines through ``change`` (a list of lines in, a list out)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(change(lines)) + "\n")


async def test_verify_reads_the_archives_then_the_live_store(
    archived: AuditDatabase, tmp_path: Path
) -> None:
    auditor = await archived.connect("auditor")
    try:
        live = await auditor.fetchval("SELECT min(seq) FROM audit.decisions_v")
        ranges = await auditor.fetch(
            "SELECT first_seq, last_seq FROM audit.archived_ranges_v ORDER BY first_seq"
        )
    finally:
        await auditor.close()
    assert live == 2048
    assert [tuple(r) for r in ranges] == [(1, 1023), (1024, 2047)]
    code, out = await _verify(archived, tmp_path, tmp_path / "archive")
    assert code == 0, out
    assert "OK: 2047 archived record(s) recomputed" in out
    assert "chain head 2500" in out
    # the 5 heads in the store, the 5 in the anchor file (4 of them signed over archived
    # records) and the checkpoint the archive command's verification left at 2500
    assert "11 signed head(s) and checkpoint(s) hold" in out

    # a writer started afresh takes the tree's edge from the seam and goes on
    await _write(archived, tmp_path, 2501, 700)
    code, out = await _verify(archived, tmp_path, tmp_path / "archive")
    assert code == 0, out
    assert "chain head 3200" in out


async def test_without_the_archives_verify_says_where_the_records_are(
    archived: AuditDatabase, tmp_path: Path
) -> None:
    code, out = await _verify(archived, tmp_path, None)
    assert code == 1
    assert "BROKEN at record 1 " in out
    assert "records 1..2047 are archived" in out
    assert "--archive DIR" in out
    assert "missing" not in out


async def test_an_altered_archived_record_fails_naming_it(
    archived: AuditDatabase, tmp_path: Path
) -> None:
    path = tmp_path / "archive" / "decision_records_000000001024.jsonl.gz"

    def approve_1500(lines: list[str]) -> list[str]:
        out = [lines[0]]
        for line in lines[1:]:
            fields = json.loads(line)
            if fields["seq"] == 1500:
                fields["outcome"] = "approve" if fields["outcome"] == "hold" else "hold"
            out.append(json.dumps(fields))
        return out

    _rewrite(path, approve_1500)
    code, out = await _verify(archived, tmp_path, tmp_path / "archive")
    assert code == 1
    assert "BROKEN at record 1500 " in out
    assert "content was altered" in out


async def test_a_missing_archive_file_fails_naming_its_first_record(
    archived: AuditDatabase, tmp_path: Path
) -> None:
    (tmp_path / "archive" / "decision_records_000000001024.jsonl.gz").unlink()
    code, out = await _verify(archived, tmp_path, tmp_path / "archive")
    assert code == 1
    assert "BROKEN at record 1024 " in out
    assert "records 1024..2047 are archived in decision_records_000000001024.jsonl.gz" in out


async def test_an_archive_whose_seam_does_not_meet_the_live_store_fails(
    archived: AuditDatabase, tmp_path: Path
) -> None:
    path = tmp_path / "archive" / "decision_records_000000001024.jsonl.gz"
    _rewrite(path, lambda lines: lines[:-1])  # record 2047, the seam, is gone
    code, out = await _verify(archived, tmp_path, tmp_path / "archive")
    assert code == 1
    assert "BROKEN at record 2047 " in out

    # an archive of another range under the right name: its seam is not the store's
    first = tmp_path / "archive" / "decision_records_000000000000.jsonl.gz"
    path.write_bytes(first.read_bytes())
    code, out = await _verify(archived, tmp_path, tmp_path / "archive")
    assert code == 1
    assert "BROKEN at record 1024 " in out


async def test_a_partition_detached_without_an_archive_fails_naming_its_first_record(
    archived: AuditDatabase, tmp_path: Path
) -> None:
    await _write(archived, tmp_path, 2501, 700)  # partition [2048, 3072) closes
    su = await superuser_connect(archived.name)
    try:
        await su.execute(
            "ALTER TABLE audit.decision_records DETACH PARTITION"
            " audit.decision_records_000000002048"
        )
    finally:
        await su.close()
    code, out = await _verify(archived, tmp_path, tmp_path / "archive")
    assert code == 1
    assert "BROKEN at record 2048 " in out
    assert "record 2048 is missing" in out


async def test_nothing_is_archived_from_a_store_that_does_not_verify(
    archived: AuditDatabase, tmp_path: Path
) -> None:
    await _write(archived, tmp_path, 2501, 700)
    su = await superuser_connect(archived.name)
    try:
        await su.execute(
            "ALTER TABLE audit.decision_records_000000002048 DISABLE TRIGGER USER;"
            " UPDATE audit.decision_records SET outcome = 'approve' WHERE seq = 2100;"
        )
    finally:
        await su.close()
    with pytest.raises(ArchiveRefusedError, match="does not verify"):
        await _archive(archived, tmp_path, through=3200)
    auditor = await archived.connect("auditor")
    try:
        assert await auditor.fetchval("SELECT count(*) FROM audit.archived_ranges_v") == 2
        assert await auditor.fetchval("SELECT min(seq) FROM audit.decisions_v") == 2048
    finally:
        await auditor.close()


async def test_the_writer_may_not_archive_or_detach(archived: AuditDatabase) -> None:
    writer = await archived.connect("audit")
    try:
        for sql in (
            "ALTER TABLE audit.decision_records DETACH PARTITION"
            " audit.decision_records_000000002048",
            "INSERT INTO audit.archived_ranges (first_seq, last_seq, prev_hash,"
            " last_record_hash, frontier, file_name, file_sha256) VALUES"
            " (2048, 3071, '\\x00', '\\x00', '{}', 'x', '\\x00')",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await writer.execute(sql)
    finally:
        await writer.close()


async def test_proofs_of_live_records_start_from_the_seam(
    archived: AuditDatabase, tmp_path: Path
) -> None:
    """Evidence packs and consistency proofs over a store whose first records are archived."""
    await _write(archived, tmp_path, 2501, 700)  # signed heads at 3000 and 3200 too
    auditor = await archived.connect("auditor")
    try:
        shipment = await auditor.fetchval(
            "SELECT shipment_id FROM audit.decisions_v WHERE seq = 2400"
        )
        pack = await build_pack(auditor, shipment)
        roots = {
            json.loads(row["head"])["tree_size"]: bytes.fromhex(
                json.loads(row["head"])["root_hash"]
            )
            for row in await auditor.fetch("SELECT head FROM audit.tree_heads_v")
        }
        leaves = await leaf_hashes(auditor, 3200)
        with pytest.raises(LookupError, match="archived"):
            consistency_proof(leaves, 1000)  # the tree of 1000 lies inside the archive
        with pytest.raises(LookupError, match="archived"):
            await leaf_hashes(auditor, 2000)
    finally:
        await auditor.close()
    assert verify_pack(pack, LOG_KEYS) == []
    assert [r["seq"] for r in pack["records"]] == [2400]
    proof = consistency_proof(leaves, 2500)
    assert verify_consistency(2500, 3200, roots[2500], roots[3200], proof)
    assert not verify_consistency(2500, 3200, roots[2000], roots[3200], proof)
