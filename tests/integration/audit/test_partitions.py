"""The partitioned record store (migration 0006): old rows survive, ids stay unique, rights hold.

* a store filled before 0006 verifies ``--full`` after it with the same chain head and every
  signed tree head still holding;
* a decision delivered again after the chain has moved to a later partition stays one record,
  and a writer that skipped the check (a faulty or hostile one) is stopped by the database;
* a partition attached by ``audit.ensure_partitions`` (the writer's call, no DDL right) belongs
  to the owner, refuses UPDATE, DELETE and TRUNCATE even from the owner, vacuums by a fixed
  number of inserts, and the writer still passes its least-privilege check; a right granted on
  one partition alone is named by that check.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from deploy.local import RuntimeState
from services.audit.chain import ChainHead, extend
from services.audit.decoding import decode_decision
from services.audit.partitions import PartitionsAhead
from services.audit.records import RECORD_COLUMNS, PendingRecord, SourceCoordinates
from services.audit.store import read_head, write_batch
from services.audit.tree_log import TreeLog
from services.audit.verify import verify_chain
from services.common.migrations import SERVICES_DIR, apply_migrations
from services.common.privileges import ExcessPrivilegeError, check_least_privilege
from tests.integration.audit.conftest import AuditDatabase, fresh_database, superuser_connect
from tests.unit.audit.factories import LOG_KEYS, LOG_SIGNER, make_decision

pytestmark = pytest.mark.integration

MIGRATIONS = SERVICES_DIR / "audit" / "migrations"
WIDTH = 1024
_NOW = datetime.now(UTC)


def _record(n: int) -> PendingRecord:
    value = make_decision(n).model_dump_json().encode()
    item = decode_decision(value, None, SourceCoordinates("decisions.v1", 0, n), _NOW)
    assert isinstance(item, PendingRecord)
    return item


async def _set_width(db: AuditDatabase, width: int) -> None:
    admin = await db.connect("admin")
    try:
        await admin.execute("SET ROLE lodestone_owner")
        await admin.execute("UPDATE audit.partition_layout SET width = $1", width)
    finally:
        await admin.close()


@pytest.fixture
async def small_partitions(runtime: RuntimeState) -> AsyncIterator[AuditDatabase]:
    """A migrated store whose partitions hold 1024 seqs each."""
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", MIGRATIONS)
        await _set_width(db, WIDTH)
        yield db


async def _write(db: AuditDatabase, first: int, count: int, tree: TreeLog | None = None) -> None:
    writer = await db.connect("audit")
    try:
        for start in range(first, first + count, 500):
            batch = [_record(n) for n in range(start, min(first + count, start + 500))]
            await write_batch(writer, batch, tree=tree)
    finally:
        await writer.close()


async def _write_before_0006(conn: Any, records: list[PendingRecord], tree: TreeLog) -> None:
    """What the writer did before migration 0006: chain, COPY, sign the tree head."""
    async with conn.transaction():
        before = await read_head(conn)
        links = list(zip(records, extend(before, (r.content for r in records)), strict=True))
        rows = [r.row(seq, prev, digest) for r, (seq, prev, digest) in links]
        await conn.copy_records_to_table(
            "decision_records", schema_name="audit", columns=RECORD_COLUMNS, records=rows
        )
        hashes = [digest for _, (_, _, digest) in links]
        pending = await tree.prepare(conn, before, hashes, ChainHead.genesis())
    tree.commit(pending)


async def test_records_stored_before_the_migration_verify_after_it(
    runtime: RuntimeState, tmp_path: Path
) -> None:
    before_0006 = tmp_path / "migrations"
    before_0006.mkdir()
    for path in sorted(MIGRATIONS.glob("000[1-5]_*.sql")):
        shutil.copy(path, before_0006 / path.name)
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", before_0006)
        writer, tree = await db.connect("audit"), TreeLog(LOG_SIGNER)
        try:
            for start in range(1, 2500, 500):
                await _write_before_0006(
                    writer, [_record(n) for n in range(start, start + 500)], tree
                )
        finally:
            await writer.close()
        auditor = await db.connect("auditor")
        try:
            old = await verify_chain(auditor, keys=LOG_KEYS)
            old_heads = await auditor.fetch("SELECT * FROM audit.tree_heads_v ORDER BY id")
        finally:
            await auditor.close()
        assert old.ok
        assert (old.head.seq, old.witnesses) == (2500, 5)

        assert "0006_partitioned_records" in await apply_migrations(
            db.dsn("admin"), "audit", MIGRATIONS
        )
        auditor = await db.connect("auditor")
        try:
            new = await verify_chain(auditor, keys=LOG_KEYS)
            heads = await auditor.fetch("SELECT * FROM audit.tree_heads_v ORDER BY id")
            kind = await auditor.fetchval(
                "SELECT relkind::text FROM pg_class WHERE oid = 'audit.decision_records'::regclass"
            )
            ids = await auditor.fetchval("SELECT count(*) FROM audit.decision_ids_v")
        finally:
            await auditor.close()
        assert kind == "p"
        assert new.ok, new.broken
        assert (new.head, new.checked, new.witnesses) == (old.head, 2500, old.witnesses)
        assert heads == old_heads
        assert ids == 2500
        # the writer goes on from the head the migration kept, with the same tree
        await _write(db, 2501, 10, tree=TreeLog(LOG_SIGNER))
        auditor = await db.connect("auditor")
        try:
            after = await verify_chain(auditor, keys=LOG_KEYS)
        finally:
            await auditor.close()
        assert after.ok
        assert (after.head.seq, after.witnesses) == (2510, 6)


async def test_a_decision_delivered_again_in_a_later_partition_stays_one_record(
    small_partitions: AuditDatabase,
) -> None:
    db = small_partitions
    await _write(db, 1, 1000)
    # a batch across the seam at seq 1024, with decisions of partition 0 delivered again
    writer = await db.connect("audit")
    try:
        again = [_record(n) for n in (3, 1000)]
        result = await write_batch(writer, [*again, *(_record(n) for n in range(1001, 1101))])
        assert (len(result.inserted), result.duplicates) == (100, 2)
        result = await write_batch(writer, [_record(5), _record(1050)])
        assert (len(result.inserted), result.duplicates) == (0, 2)
        # a writer that skips the check: the database refuses the repeated id in any partition
        head = await read_head(writer)
        ((seq, prev, digest),) = extend(head, [_record(3).content])
        with pytest.raises(asyncpg.UniqueViolationError):
            await writer.copy_records_to_table(
                "decision_records",
                schema_name="audit",
                columns=RECORD_COLUMNS,
                records=[_record(3).row(seq, prev, digest)],
            )
    finally:
        await writer.close()
    auditor = await db.connect("auditor")
    try:
        counts = await auditor.fetchrow(
            "SELECT count(*) AS records, count(DISTINCT decision_id) AS ids FROM audit.decisions_v"
        )
        report = await verify_chain(auditor)
    finally:
        await auditor.close()
    assert counts is not None
    assert (counts["records"], counts["ids"]) == (1100, 1100)
    assert report.ok
    assert report.head.seq == 1100


async def test_partitions_attached_by_the_writer_are_append_only_and_owned_by_the_owner(
    small_partitions: AuditDatabase,
) -> None:
    db = small_partitions
    await _write(db, 1, 2500)  # partitions [0, 1024), [1024, 2048), [2048, 3072)
    su = await superuser_connect(db.name)
    try:
        parts = await su.fetch(
            "SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, c.reloptions,"
            " p.relname AS parent"
            "  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            "  JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.relname IN ('decision_records', 'decision_terms') ORDER BY c.relname"
        )
    finally:
        await su.close()
    assert len(parts) == 6, parts
    for part in parts:
        assert part["owner"] == "lodestone_owner"
        threshold = 200000 if part["parent"] == "decision_records" else 500000
        assert f"autovacuum_vacuum_insert_threshold={threshold}" in part["reloptions"]
        assert "autovacuum_vacuum_insert_scale_factor=0" in part["reloptions"]

    records = [p["relname"] for p in parts if p["parent"] == "decision_records"]
    writer = await db.connect("audit")
    try:
        await check_least_privilege(writer)  # passes: no right on any partition
        for name in records:
            for sql in (
                f"UPDATE audit.{name} SET outcome = 'approve'",
                f"DELETE FROM audit.{name}",
                f"TRUNCATE audit.{name}",
                f"ALTER TABLE audit.{name} DISABLE TRIGGER USER",
            ):
                with pytest.raises(
                    (asyncpg.InsufficientPrivilegeError, asyncpg.UndefinedTableError)
                ):
                    await writer.execute(sql)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await writer.execute("SELECT audit.prepare_next_partition()")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await writer.execute("CREATE TABLE audit.mine (x int)")
    finally:
        await writer.close()

    owner = await db.connect("admin")
    try:
        await owner.execute("SET ROLE lodestone_owner")
        for name in records:
            for sql in (
                f"UPDATE audit.{name} SET outcome = 'approve'",
                f"DELETE FROM audit.{name}",
                f"TRUNCATE audit.{name}",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                    await owner.execute(sql)
        # a right granted on one partition alone is an excess right of the writer
        await owner.execute(f"GRANT DELETE ON audit.{records[-1]} TO lodestone_audit_writer")
    finally:
        await owner.close()
    writer = await db.connect("audit")
    try:
        with pytest.raises(ExcessPrivilegeError, match=f"may DELETE audit.{records[-1]}"):
            await check_least_privilege(writer)
    finally:
        await writer.close()


async def test_the_chain_and_the_tree_span_the_partitions(small_partitions: AuditDatabase) -> None:
    db = small_partitions
    await _write(db, 1, 3000, tree=TreeLog(LOG_SIGNER))
    # a writer started afresh rebuilds its tree frontier across the partitions
    await _write(db, 3001, 100, tree=TreeLog(LOG_SIGNER))
    auditor = await db.connect("auditor")
    try:
        report = await verify_chain(auditor, keys=LOG_KEYS)
        attached = await auditor.fetchval(
            "SELECT count(*) FROM audit.record_partitions_v WHERE attached_at IS NOT NULL"
        )
    finally:
        await auditor.close()
    assert report.ok, report.broken
    assert (report.head.seq, report.checked, report.witnesses) == (3100, 3100, 7)
    assert attached == 4


async def test_a_writer_that_knew_less_than_another_attaches_what_its_batch_needs(
    small_partitions: AuditDatabase,
) -> None:
    """Two writers: one of them took the chain into partitions the other never heard of."""
    db = small_partitions
    first, second = await db.connect("audit"), await db.connect("audit")
    knows_little, knows_more = PartitionsAhead(), PartitionsAhead()
    try:
        await write_batch(first, [_record(n) for n in range(1, 501)], ahead=knows_little)
        for start in range(501, 3001, 500):
            batch = [_record(n) for n in range(start, start + 500)]
            await write_batch(second, batch, ahead=knows_more)
        # 3001..3500 need the partition [3072, 4096), which the first writer believes unneeded
        batch = [_record(n) for n in range(3001, 3501)]
        result = await write_batch(first, batch, ahead=knows_little)
    finally:
        await first.close()
        await second.close()
    assert result.head is not None
    assert result.head.seq == 3500
    assert knows_little.covered == 4096
    auditor = await db.connect("auditor")
    try:
        report = await verify_chain(auditor)
    finally:
        await auditor.close()
    assert report.ok
    assert report.head.seq == 3500
