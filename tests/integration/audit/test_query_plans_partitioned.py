"""The plan tests of test_query_plans.py on a store that spans several partitions (migration 0006).

Partitions of 4096 records: the 12,000 records of the first half fill three and start a fourth,
the 24,000 of the second six. Every documented query must still walk its indexes in seq order
(an ordered Append of the partitions' index scans, never a sort of a window's rows) and examine
no more rows as the partitions multiply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from deploy.local import RuntimeState
from services.common.migrations import SERVICES_DIR, apply_migrations
from tests.integration.audit.conftest import AuditDatabase, fresh_database
from tests.integration.audit.test_query_plans import (
    Measured,
    measured,
    test_a_window_reads_only_the_late_records_decided_in_it,
    test_an_open_window_covers_every_record_decided_since,
    test_the_plan_walks_an_index_in_seq_order,
    test_the_work_of_a_page_does_not_grow_with_the_table,
)
from tests.integration.audit.test_query_plans import (
    test_a_window_covers_every_record_decided_in_it as window_covers_every_record,
)

pytestmark = pytest.mark.integration

WIDTH = 4096

__all__ = [
    "measured",
    "test_a_window_reads_only_the_late_records_decided_in_it",
    "test_an_open_window_covers_every_record_decided_since",
    "test_the_plan_walks_an_index_in_seq_order",
    "test_the_work_of_a_page_does_not_grow_with_the_table",
]


@pytest.fixture(scope="module")
async def audit_db(runtime: RuntimeState) -> AsyncIterator[AuditDatabase]:
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        admin = await db.connect("admin")
        try:
            await admin.execute("SET ROLE lodestone_owner")
            await admin.execute("UPDATE audit.partition_layout SET width = $1", WIDTH)
        finally:
            await admin.close()
        yield db


async def test_the_store_spans_several_partitions(
    audit_db: AuditDatabase, measured: dict[str, list[object]]
) -> None:
    auditor = await audit_db.connect("auditor")
    try:
        rows = await auditor.fetch(
            "SELECT first_seq, end_seq FROM audit.record_partitions_v"
            " WHERE attached_at IS NOT NULL ORDER BY first_seq"
        )
        top = await auditor.fetchval("SELECT seq FROM audit.chain_head_v")
    finally:
        await auditor.close()
    assert top == 24_000
    assert [(r["first_seq"], r["end_seq"]) for r in rows] == [
        (n * WIDTH, (n + 1) * WIDTH) for n in range(6)
    ]


async def test_a_window_covers_every_record_decided_in_it(
    audit_db: AuditDatabase, measured: dict[str, list[Measured]]
) -> None:
    """Late records and their windows, across the seams between partitions."""
    await window_covers_every_record(audit_db, measured)
