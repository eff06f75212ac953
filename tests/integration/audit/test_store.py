"""The store on the real PostgreSQL: idempotent batches, append-only tables, tamper detection."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from deploy.local import RuntimeState
from services.audit.chain import extend
from services.audit.decoding import decode_catalogue
from services.audit.records import (
    RECORD_COLUMNS,
    PendingRecord,
    SourceCoordinates,
    pending_from_decision,
)
from services.audit.store import Rejected, read_head, write_batch, write_catalogues
from services.audit.verify import verify_chain
from services.common.migrations import SERVICES_DIR, apply_migrations
from tests.integration.audit.conftest import AuditDatabase, fresh_database, superuser_connect
from tests.unit.audit.factories import make_decision

pytestmark = pytest.mark.integration


def _records(start: int, count: int) -> list[PendingRecord]:
    now = datetime.now(UTC)
    return [
        pending_from_decision(make_decision(n), SourceCoordinates("decisions.v1", 0, n), now)
        for n in range(start, start + count)
    ]


async def test_batches_are_idempotent_and_the_chain_verifies(audit_db: AuditDatabase) -> None:
    writer = await audit_db.connect("audit")
    auditor = await audit_db.connect("auditor")
    try:
        before = (await read_head(writer)).seq
        first = await write_batch(writer, _records(1, 50))
        # A redelivery of the same records plus new ones, with a duplicate inside the batch.
        again = await write_batch(writer, _records(1, 60) + _records(55, 3))
        assert len(first.inserted) == 50
        assert len(again.inserted) == 10
        assert again.duplicates == 53
        assert (await read_head(writer)).seq == before + 60
        report = await verify_chain(auditor)
        assert report.ok, report.broken
        assert report.head.seq == before + 60
    finally:
        await writer.close()
        await auditor.close()


async def test_rejected_records_are_kept_once(audit_db: AuditDatabase) -> None:
    writer = await audit_db.connect("audit")
    auditor = await audit_db.connect("auditor")
    try:
        source = SourceCoordinates("decisions.v1", 3, 77)
        bad = Rejected(source, b"k", b"\xff not json", "JSONDecodeError", "unexpected byte")
        await write_batch(writer, [], [bad])
        await write_batch(writer, [], [bad])
        rows = await auditor.fetch(
            "SELECT payload, error_type FROM audit.rejected_records_v"
            " WHERE source_partition = 3 AND source_offset = 77"
        )
        assert [(bytes(r["payload"]), r["error_type"]) for r in rows] == [
            (b"\xff not json", "JSONDecodeError")
        ]
    finally:
        await writer.close()
        await auditor.close()


CHANGES = [
    "UPDATE audit.decision_records SET outcome = 'approve'",
    "DELETE FROM audit.decision_records",
    "TRUNCATE audit.decision_records",
    "UPDATE audit.rejected_records SET error = 'x'",
    "DELETE FROM audit.catalogues",
    "TRUNCATE audit.rejected_records",
]


@pytest.mark.parametrize("role", ["audit", "auditor", "admin"])
@pytest.mark.parametrize("statement", CHANGES)
async def test_no_role_can_change_or_remove_records(
    audit_db: AuditDatabase, role: str, statement: str
) -> None:
    # Rows in every table, so that row triggers have something to fire on.
    writer = await audit_db.connect("audit")
    source = SourceCoordinates("controls.v1", 0, 1)
    await write_batch(writer, _records(900, 2), [Rejected(source, None, b"x", "E", "e")])
    await write_catalogues(writer, [decode_catalogue(b'{"version": "v-test"}', source)])  # type: ignore[list-item]
    await writer.close()
    conn = await audit_db.connect(role)
    try:
        # The writer and the auditor lack the privilege; the owner is stopped by the triggers.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    finally:
        await conn.close()


async def test_the_auditor_reads_views_only(audit_db: AuditDatabase) -> None:
    auditor = await audit_db.connect("auditor")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await auditor.fetch("SELECT * FROM audit.decision_records LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await auditor.execute("INSERT INTO audit.catalogues (version) VALUES ('x')")
        assert await auditor.fetchval("SELECT count(*) FROM audit.decisions_v") >= 0
    finally:
        await auditor.close()


async def test_a_superusers_edit_is_caught_by_verify(audit_db: AuditDatabase) -> None:
    writer = await audit_db.connect("audit")
    result = await write_batch(writer, _records(2000, 20))
    await writer.close()
    victim = result.inserted[7].decision_id
    su = await superuser_connect(audit_db.name)
    try:
        await su.execute("SET session_replication_role = replica")  # triggers off
        await su.execute(
            "UPDATE audit.decision_records SET outcome = 'approve',"
            " decision = jsonb_set(decision::jsonb, '{outcome}', '\"approve\"')::text"
            " WHERE decision_id = $1",
            victim,
        )
        seq = await su.fetchval(
            "SELECT seq FROM audit.decision_records WHERE decision_id = $1", victim
        )
    finally:
        await su.close()
    auditor = await audit_db.connect("auditor")
    try:
        report = await verify_chain(auditor)
    finally:
        await auditor.close()
    assert report.broken is not None
    assert report.broken.seq == seq
    assert report.broken.decision_id == victim
    assert "content was altered" in report.broken.problem


async def test_records_written_before_the_text_column_still_verify(
    runtime: RuntimeState, tmp_path: Path
) -> None:
    # A store written under 0001 (decision as jsonb) and migrated afterwards: the converted
    # documents are jsonb's text form, not canonical, and must still verify.
    old = tmp_path / "migrations"
    old.mkdir()
    first = SERVICES_DIR / "audit" / "migrations" / "0001_audit_store.sql"
    (old / first.name).write_bytes(first.read_bytes())
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", old)
        writer = await db.connect("audit")
        try:  # as the writer of the time did: the 0001 columns, chained from the head
            records = _records(1, 5)
            links = extend(await read_head(writer), (r.content for r in records))
            await writer.copy_records_to_table(
                "decision_records",
                schema_name="audit",
                columns=RECORD_COLUMNS[:-2],
                records=[r.row(*link)[:-2] for r, link in zip(records, links, strict=True)],
            )
        finally:
            await writer.close()
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        writer = await db.connect("audit")
        try:
            await write_batch(writer, _records(6, 5))
        finally:
            await writer.close()
        auditor = await db.connect("auditor")
        try:
            report = await verify_chain(auditor)
            kind = await auditor.fetchval(
                "SELECT DISTINCT jsonb_typeof(decision) FROM audit.decisions_v"
            )
        finally:
            await auditor.close()
        assert report.ok, report.broken
        assert report.head.seq == 10
        assert kind == "object"
