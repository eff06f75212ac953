"""``verify --workers``: contents recomputed over ranges in processes, links checked in order.

Each tampering is tried at a seam between two workers' ranges, inside a range and at a window's
edge; the parallel verdict must name the same record and problem as the single-process one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.local import RuntimeState
from services.audit.verify import VerifyReport, verify_chain
from services.audit.verify_command import verify_store
from services.audit.verify_ranges import ALTERED, RangeWorkers
from services.common.migrations import SERVICES_DIR, apply_migrations
from tests.integration.audit.conftest import AuditDatabase, fresh_database
from tests.integration.audit.test_tamper_evidence import _rehash_from, _verify, _write, as_owner

pytestmark = pytest.mark.integration

RECORDS = 30  # three batches of ten, one signed head after each
WINDOW = 12  # windows 1-12, 13-24, 25-30; with two workers the seams are at 7, 13, 19, 25, 28


@pytest.fixture
async def store(runtime: RuntimeState, tmp_path: Path) -> AsyncIterator[AuditDatabase]:
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        await _write(db, tmp_path, first=1)
        yield db


async def _both(db: AuditDatabase) -> tuple[VerifyReport, VerifyReport]:
    """The single-process report and the one with two range workers, windows of 12."""
    conn = await db.connect("auditor")
    ranges = RangeWorkers(db.dsn("auditor"), 2)
    try:
        single = await verify_chain(conn)
        parallel = await verify_chain(conn, contents=ranges, window=WINDOW)
    finally:
        ranges.close()
        await conn.close()
    return single, parallel


def _where(report: VerifyReport) -> tuple[int, str] | None:
    b = report.broken
    return None if b is None else (b.seq, b.problem)


async def test_an_untouched_store_verifies_in_parallel(store: AuditDatabase) -> None:
    single, parallel = await _both(store)
    assert single.broken is None
    assert parallel.broken is None
    assert parallel.checked == single.checked == RECORDS
    assert parallel.head == single.head


@pytest.mark.parametrize("seq", [7, 10, 13, 25, 30])
async def test_an_altered_record_is_found_where_it_is(store: AuditDatabase, seq: int) -> None:
    async with as_owner(store) as owner:
        text = await owner.fetchval(
            "SELECT decision FROM audit.decision_records WHERE seq = $1", seq
        )
        await owner.execute(
            "UPDATE audit.decision_records SET decision = $2 WHERE seq = $1",
            seq,
            text.replace('"CN-EXP-0001"', '"CN-EXP-0002"'),
        )
    single, parallel = await _both(store)
    assert _where(parallel) == _where(single) == (seq, ALTERED)


async def test_a_moment_changed_by_a_microsecond_is_found(store: AuditDatabase) -> None:
    """Timestamps reach the hash as the server formats them; a changed one must not pass."""
    async with as_owner(store) as owner:
        await owner.execute(
            "UPDATE audit.decision_records SET recorded_at = recorded_at + interval '1 microsecond'"
            " WHERE seq = 19"
        )
    single, parallel = await _both(store)
    assert _where(parallel) == _where(single) == (19, ALTERED)


async def test_a_record_removed_from_the_middle_is_missing(store: AuditDatabase) -> None:
    async with as_owner(store) as owner:
        await owner.execute("DELETE FROM audit.decision_records WHERE seq = 13")
    single, parallel = await _both(store)
    assert parallel.broken is not None
    assert _where(parallel) == _where(single)
    assert parallel.broken.seq == 13
    assert "missing" in parallel.broken.problem


async def test_a_repeated_key_rehashed_is_refused_in_parallel(store: AuditDatabase) -> None:
    async with as_owner(store) as owner:
        text = await owner.fetchval("SELECT decision FROM audit.decision_records WHERE seq = 8")
        await owner.execute(
            "UPDATE audit.decision_records SET decision = $1 WHERE seq = 8",
            text[:-1] + ',"outcome":"approve"}',
        )
        await _rehash_from(owner, 8)
    single, parallel = await _both(store)
    assert parallel.broken is not None
    assert _where(parallel) == _where(single)
    assert "repeats the key" in parallel.broken.problem


async def test_a_rehashed_rewrite_is_caught_by_the_heads_with_workers(
    store: AuditDatabase, tmp_path: Path, runtime: RuntimeState
) -> None:
    """Contents and links hold after a careful forger re-hashed; the signed roots do not."""
    async with as_owner(store) as owner:
        await owner.execute(
            "UPDATE audit.decision_records SET exporter_id = 'CN-EXP-0009' WHERE seq = 20"
        )
        await _rehash_from(owner, 20)
        await owner.execute("DELETE FROM audit.tree_heads")
    code, out = await _verify(store, tmp_path, full=True, checkpoints="fresh")
    assert code == 1
    assert "rewritten" in out or "differs" in out, out
    lines: list[str] = []
    code = await verify_store(
        full=True,
        checkpoint_file=tmp_path / "fresh2.jsonl",
        anchor_file=tmp_path / "anchors.jsonl",
        log_public_key=tmp_path / "log.pub.pem",
        connect=lambda: store.connect("auditor"),
        echo=lines.append,
        progress=lambda _: None,
        workers=2,
        dsn=store.dsn("auditor"),
    )
    assert code == 1
    assert "\n".join(lines).split(":")[0] == out.split(":")[0], (lines, out)
