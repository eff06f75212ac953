"""Every documented auditor query walks one index in seq order, and its work does not grow.

The store is filled through the writer with six months of spread decisions, analysed, and each
query of docs/audit.md is run under ``EXPLAIN ANALYZE`` as the auditor; then six more months
are written (newer records: what made a filtered listing of an older window walk the whole table)
and the same queries run again. A plan with a sequential or bitmap scan of the records, or a sort
of more rows than two pages, fails, and so does one whose rows examined grow with the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.audit.decoding import decode_decision
from services.audit.queries import DecisionFilter, build_listing
from services.audit.records import PendingRecord, SourceCoordinates
from services.audit.store import write_batch
from tests.integration.audit.conftest import AuditDatabase, superuser_connect
from tests.integration.audit.spread import Spread, documented_queries

pytestmark = pytest.mark.integration

HALF = 12_000
SPREAD = Spread(2 * HALF, months=12)
LIMIT = 20
#: tables whose scans are the per-query fixed cost (one row per 1024 records), not a walk
SUMMARY_TABLES = {"decided_at_blocks"}
#: may be read whole while small (one row per late record); its rows count as examined
SMALL_TABLES = {"late_decisions"}


async def _fill(db: AuditDatabase, first: int, count: int) -> None:
    writer = await db.connect("audit")
    now = datetime.now(UTC)
    try:
        values = list(SPREAD.values(first, count))
        for start in range(0, count, 1000):
            batch: list[PendingRecord] = []
            for offset, value in enumerate(values[start : start + 1000], first + start):
                record = decode_decision(value, None, SourceCoordinates("d", 0, offset), now)
                assert isinstance(record, PendingRecord)
                batch.append(record)
            await write_batch(writer, batch)
    finally:
        await writer.close()
    su = await superuser_connect(db.name)
    try:
        await su.execute("ANALYZE audit.decision_records, audit.decision_terms")
        await su.execute("ANALYZE audit.decided_at_blocks")
    finally:
        await su.close()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


Measured = tuple[list[str], int, int, int, int, int]


async def _explain(db: AuditDatabase, f: DecisionFilter) -> Measured:
    """(node types, rows examined by walks, rows returned, most rows into a sort, late records
    examined, late records decided in the window) as auditor."""
    sql, params = build_listing(f, limit=LIMIT)
    auditor = await db.connect("auditor")
    try:
        raw = await auditor.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *params)
        returned = len(await auditor.fetch(sql, *params))
        # Read whole while a page or two, the late records would hide the plan a larger store
        # gets; without sequential scans the planner shows which index it walks them by.
        await auditor.execute("SET enable_seqscan = off")
        late_raw = await auditor.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *params)
        in_window = await auditor.fetchval(
            "SELECT count(*) FROM audit.late_decisions_v WHERE ($1::timestamptz IS NULL OR"
            " decided_at >= $1) AND ($2::timestamptz IS NULL OR decided_at < $2)",
            f.since,
            f.until,
        )
    finally:
        await auditor.close()
    late = sum(
        (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        for node in _nodes(json.loads(late_raw)[0]["Plan"])
        if "Scan" in node["Node Type"] and node.get("Relation Name") == "late_decisions"
    )
    root = json.loads(raw)[0]["Plan"]
    kinds: list[str] = []
    examined = sorted_in = 0
    for node in _nodes(root):
        relation = node.get("Relation Name", "")
        kinds.append(f"{node['Node Type']} {relation or node.get('Index Name', '')}".strip())
        if "Scan" in node["Node Type"] and relation not in SUMMARY_TABLES:
            seen = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            examined += seen * node["Actual Loops"]
        if node["Node Type"] in ("Sort", "Incremental Sort"):
            sorted_in = max(sorted_in, *(c["Actual Rows"] for c in node.get("Plans", [])))
    return kinds, examined, returned, sorted_in, late, int(in_window)


@pytest.fixture(scope="module")
async def measured(audit_db: AuditDatabase) -> dict[str, list[Measured]]:
    """Per documented query: its plan and work at 12,000 records, then at 24,000."""
    queries = documented_queries(SPREAD)
    runs: dict[str, list[Measured]] = {name: [] for name in queries}
    for first in (0, HALF):
        await _fill(audit_db, first, HALF)
        for name, f in queries.items():
            runs[name].append(await _explain(audit_db, f))
    return runs


WINDOW_NAMES = [name for name, f in documented_queries(SPREAD).items() if f.since or f.until]


@pytest.mark.parametrize("name", WINDOW_NAMES)
async def test_a_window_reads_only_the_late_records_decided_in_it(
    measured: dict[str, list[Measured]], name: str
) -> None:
    """Not the late records of the whole store: they grow with it (a walk of them by seq did)."""
    f = documented_queries(SPREAD)[name]
    for _, _, _, _, late, in_window in measured[name]:
        if f.until is None:
            assert late == 0  # an open window has no late record outside its range
        else:
            assert late <= in_window, (late, in_window)


QUERY_NAMES = list(documented_queries(SPREAD))


@pytest.mark.parametrize("name", QUERY_NAMES)
async def test_the_plan_walks_an_index_in_seq_order(
    measured: dict[str, list[Measured]], name: str
) -> None:
    for kinds, _, _, sorted_in, _, _ in measured[name]:
        assert kinds[0] == "Limit", kinds
        skip = SUMMARY_TABLES | SMALL_TABLES
        walks = [k for k in kinds if "Scan" in k and not any(t in k for t in skip)]
        assert walks, kinds
        assert not [k for k in walks if k.startswith(("Seq Scan", "Bitmap"))], kinds
        # a sort only ever orders the two sources of a window's page, or its late records
        assert sorted_in <= 2 * LIMIT, (kinds, sorted_in)


@pytest.mark.parametrize("name", QUERY_NAMES)
async def test_the_work_of_a_page_does_not_grow_with_the_table(
    measured: dict[str, list[Measured]], name: str
) -> None:
    (_, small, returned_small, *_), (_, large, returned_large, *_) = measured[name]
    assert returned_large >= min(returned_small, LIMIT)  # the data is there to be found
    # The table doubled with newer records; a walk that filters from the newest end would
    # examine about twice as many rows. Slack: a block of 1024 records at the window's edge.
    assert large <= 1.5 * small + 10 * LIMIT, (small, large)


async def test_no_index_walks_the_late_records_in_seq_order(
    audit_db: AuditDatabase,
) -> None:
    """A window's late records are sought by time; an index leading with seq would let the
    planner walk every late record of the store backwards instead (it did, at 1 M records:
    1,000 examined for a month's two). Whichever plan a small test table gets, none can."""
    su = await superuser_connect(audit_db.name)
    try:
        leading = await su.fetch(
            "SELECT i.indexrelid::regclass::text AS name, a.attname FROM pg_index i"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
            " WHERE i.indrelid = 'audit.late_decisions'::regclass"
        )
    finally:
        await su.close()
    assert leading
    assert {r["attname"] for r in leading} == {"decided_at"}, [dict(r) for r in leading]


async def test_an_open_window_covers_every_record_decided_since(
    audit_db: AuditDatabase, measured: dict[str, list[Measured]]
) -> None:
    """An open window reads no late records apart: none can lie before its range (docs)."""
    auditor = await audit_db.connect("auditor")
    try:
        late = await auditor.fetch("SELECT decided_at FROM audit.late_decisions_v")
        moments = [r["decided_at"] for r in late]
        blocks = await auditor.fetch(
            "SELECT min_decided, max_decided FROM audit.decided_at_blocks_v"
        )
        moments += [b["min_decided"] for b in blocks[::7]] + [b["max_decided"] for b in blocks[::7]]
        assert len(late) > 5, "the spread records some decisions late"
        for moment in moments:
            for since in (moment, moment + timedelta(microseconds=1), moment - timedelta(hours=1)):
                sql, params = build_listing(DecisionFilter(since=since), limit=100_000)
                seqs = [r["seq"] for r in await auditor.fetch(sql, *params)]
                every = await auditor.fetch(
                    "SELECT seq FROM audit.decisions_v WHERE decided_at >= $1 ORDER BY seq DESC",
                    since,
                )
                assert seqs == [r["seq"] for r in every], since
    finally:
        await auditor.close()


async def test_a_window_covers_every_record_decided_in_it(
    audit_db: AuditDatabase, measured: dict[str, list[Measured]]
) -> None:
    """The seq range of a window's blocks is a bound, never a filter: late records are found."""
    auditor = await audit_db.connect("auditor")
    try:
        late = await auditor.fetch(
            "SELECT seq, decided_at FROM (SELECT seq, decided_at, max(decided_at) OVER"
            " (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before"
            " FROM audit.decisions_v) AS d WHERE decided_at < before - interval '1 hour'"
            " ORDER BY seq DESC LIMIT 5"
        )
        assert late, "the spread records some decisions late"
        for row in late:
            moment: datetime = row["decided_at"]
            f = DecisionFilter(since=moment, until=moment + timedelta(milliseconds=1))
            sql, params = build_listing(f, limit=1000)
            seqs = [r["seq"] for r in await auditor.fetch(sql, *params)]
            assert row["seq"] in seqs
            every = await auditor.fetch(
                "SELECT seq FROM audit.decisions_v WHERE decided_at >= $1 AND decided_at < $2"
                " ORDER BY seq DESC",
                f.since,
                f.until,
            )
            assert seqs == [r["seq"] for r in every]
    finally:
        await auditor.close()
