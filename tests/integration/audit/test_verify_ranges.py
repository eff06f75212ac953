"""``verify --workers``: contents recomputed over ranges in processes, links checked in order.

Each tampering is tried at a seam between two workers' ranges, inside a range and at a window's
edge; the parallel verdict must name the same record and problem as the single-process one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from deploy.local import RuntimeState
from services.audit import verify as verify_module
from services.audit import verify_ranges
from services.audit.chain import ChainBreak, ChainHead
from services.audit.verify import VerifyReport, verify_chain
from services.audit.verify_command import verify_store
from services.audit.verify_ranges import ALTERED, RangeWorkers, check_row, is_canonical_text
from services.common.migrations import SERVICES_DIR, apply_migrations
from tests.integration.audit.conftest import AuditDatabase, fresh_database
from tests.integration.audit.test_tamper_evidence import _rehash_from, _verify, _write, as_owner
from tests.unit.audit.factories import LOG_KEYS

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


# --- Under signed tree heads: records pass by the hash of their stored bytes -------------------
#
# With the log's key every record lies under a signed head, so the pass at speed accepts a record
# whose stored bytes hash to its record_hash without parsing its decision (check_record). Each
# tampering below must be named exactly as the exact check (every decision parsed and
# re-canonicalised, what verify did before) names it under the same heads: in one process, and
# with two range workers.


def _exact(row: asyncpg.Record, proven: int) -> ChainBreak | None:
    return check_row(dict(row))


async def _witnessed(
    db: AuditDatabase, monkeypatch: pytest.MonkeyPatch
) -> tuple[VerifyReport, VerifyReport, VerifyReport]:
    """The exact check, and the pass at speed single and parallel, all with the log's key."""
    conn = await db.connect("auditor")
    ranges = RangeWorkers(db.dsn("auditor"), 2)
    try:
        with monkeypatch.context() as patched:
            patched.setattr(verify_module, "check_record", _exact)
            exact = await verify_chain(conn, keys=LOG_KEYS)
        fast = await verify_chain(conn, keys=LOG_KEYS)
        parallel = await verify_chain(conn, keys=LOG_KEYS, contents=ranges, window=WINDOW)
    finally:
        ranges.close()
        await conn.close()
    return exact, fast, parallel


def _same(reports: tuple[VerifyReport, ...]) -> tuple[int, str] | None:
    where = {_where(r) for r in reports}
    assert len(where) == 1, [r.broken for r in reports]
    return where.pop()


async def _set_text(owner: asyncpg.Connection[Any], seq: int, edit: Callable[[str], str]) -> None:
    text = await owner.fetchval("SELECT decision FROM audit.decision_records WHERE seq = $1", seq)
    await owner.execute(
        "UPDATE audit.decision_records SET decision = $2 WHERE seq = $1", seq, edit(text)
    )


def _repeat_outcome(text: str) -> str:
    return text[:-1] + ',"outcome":"approve"}'


def _reordered(text: str) -> str:
    """The same JSON object with its keys in reverse order: valid, not canonical."""
    return orjson.dumps(dict(reversed(orjson.loads(text).items()))).decode()


def _spaced(text: str) -> str:
    return text.replace('":', '": ', 1)


async def test_the_pass_at_speed_parses_no_decision_under_signed_heads(
    store: AuditDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []

    def counting_exact(fields: dict[str, Any]) -> ChainBreak | None:
        parsed.append(fields["decision"])
        return check_row(fields)

    def counting_canonical(text: str) -> bool:
        parsed.append(text)
        return is_canonical_text(text)

    monkeypatch.setattr(verify_ranges, "check_row", counting_exact)
    monkeypatch.setattr(verify_ranges, "is_canonical_text", counting_canonical)
    conn = await store.connect("auditor")
    try:
        witnessed = await verify_chain(conn, keys=LOG_KEYS)
        assert (witnessed.broken, witnessed.checked, parsed) == (None, RECORDS, [])
        unwitnessed = await verify_chain(conn)  # no head to pin what the writer hashed
    finally:
        await conn.close()
    assert unwitnessed.broken is None
    assert len(parsed) == RECORDS


async def test_legacy_text_whose_canonical_form_was_hashed_still_verifies(
    store: AuditDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows from before migration 0002 hold jsonb's spacing: their stored bytes do not give the
    hash, their canonical form does."""
    async with as_owner(store) as owner:
        await _set_text(owner, 9, _spaced)
        await _set_text(owner, 10, _reordered)
    assert _same(await _witnessed(store, monkeypatch)) is None


@pytest.mark.parametrize("seq", [7, 10, 13, 30])
async def test_an_altered_record_under_the_heads_is_named(
    store: AuditDatabase, monkeypatch: pytest.MonkeyPatch, seq: int
) -> None:
    async with as_owner(store) as owner:
        await _set_text(owner, seq, lambda t: t.replace('"CN-EXP-0001"', '"CN-EXP-0002"'))
    assert _same(await _witnessed(store, monkeypatch)) == (seq, ALTERED)


@pytest.mark.parametrize(
    ("seq", "edit", "problem"),
    [
        (8, _repeat_outcome, "repeats the key"),
        (10, _repeat_outcome, "repeats the key"),  # on a signed head's own record
        (11, _reordered, ALTERED),
        (14, _spaced, ALTERED),
    ],
)
async def test_rehashed_text_that_is_not_canonical_is_named_where_it_is(
    store: AuditDatabase,
    monkeypatch: pytest.MonkeyPatch,
    seq: int,
    edit: Callable[[str], str],
    problem: str,
) -> None:
    """A forger who hashes the bytes as stored passes the hash; the head above it does not, and
    the exact check then names the record, not the head."""
    async with as_owner(store) as owner:
        await _set_text(owner, seq, edit)
        await _rehash_from(owner, seq)
    where = _same(await _witnessed(store, monkeypatch))
    assert where is not None
    assert where[0] == seq
    assert problem in where[1]


@pytest.mark.parametrize(
    ("later", "args"),
    [
        ("UPDATE audit.decision_records SET exporter_id = 'CN-EXP-0009' WHERE seq = 15", ()),
        ("UPDATE audit.decision_records SET prev_hash = $1 WHERE seq = 15", (bytes(32),)),
    ],
    ids=["a later alteration", "a broken link"],
)
async def test_a_rehashed_repeated_key_before_a_later_break_is_named_first(
    store: AuditDatabase, monkeypatch: pytest.MonkeyPatch, later: str, args: tuple[bytes, ...]
) -> None:
    async with as_owner(store) as owner:
        await _set_text(owner, 12, _repeat_outcome)
        await _rehash_from(owner, 12)
        await owner.execute(later, *args)
    where = _same(await _witnessed(store, monkeypatch))
    assert where is not None
    assert where[0] == 12
    assert "repeats the key" in where[1]


async def test_a_broken_link_comes_before_its_own_records_content(
    store: AuditDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with as_owner(store) as owner:
        await _set_text(owner, 15, _repeat_outcome)
        await owner.execute(
            "UPDATE audit.decision_records SET prev_hash = $1 WHERE seq = 15", bytes(32)
        )
    where = _same(await _witnessed(store, monkeypatch))
    assert where is not None
    assert where[0] == 15
    assert where[1].startswith("prev_hash")


async def test_a_removed_record_under_the_heads_is_missing(
    store: AuditDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with as_owner(store) as owner:
        await owner.execute("DELETE FROM audit.decision_records WHERE seq = 13")
    where = _same(await _witnessed(store, monkeypatch))
    assert where is not None
    assert (where[0], "missing" in where[1]) == (13, True)


async def test_no_checkpoint_is_offered_over_a_record_no_witness_has_settled_yet(
    store: AuditDatabase,
) -> None:
    """Record 12 passes by its re-hashed bytes until the head at 20 fails: no checkpoint may
    have pinned it (or anything after it) before then, in one process or with workers."""
    async with as_owner(store) as owner:
        await _set_text(owner, 12, _repeat_outcome)
        await _rehash_from(owner, 12)
    conn = await store.connect("auditor")
    ranges = RangeWorkers(store.dsn("auditor"), 2)
    single: list[ChainHead] = []
    parallel: list[ChainHead] = []
    try:
        one = await verify_chain(conn, keys=LOG_KEYS, chunk_size=4, on_verified=single.append)
        two = await verify_chain(
            conn, keys=LOG_KEYS, contents=ranges, window=WINDOW, on_verified=parallel.append
        )
        stored = {
            r["seq"]: bytes(r["record_hash"])
            for r in await conn.fetch("SELECT seq, record_hash FROM audit.decisions_v")
        }
    finally:
        ranges.close()
        await conn.close()
    assert _where(one) == _where(two)
    assert one.broken is not None
    assert one.broken.seq == 12
    assert [h.seq for h in single] == [0, 0, 10, 10]  # after records 4, 8, 12, 16: the head at 10
    assert [h.seq for h in parallel] == [10]  # after the window 1-12
    for head in single + parallel:
        assert head.seq == 0 or stored[head.seq] == head.record_hash
