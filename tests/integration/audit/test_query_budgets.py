"""The auditor's budgets: statements time-boxed and read-only, API pages bounded in bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from services.audit import queries
from services.audit.api import create_app
from services.audit.decoding import decode_decision
from services.audit.merkle import leaf_hash
from services.audit.queries import DecisionFilter, auditor_session, list_decisions
from services.audit.records import PendingRecord, SourceCoordinates
from services.audit.store import write_batch
from tests.integration.audit.conftest import AuditDatabase, superuser_connect
from tests.integration.audit.spread import Spread, exporter_id

pytestmark = pytest.mark.integration

TOKEN = "budget-token"
Params = dict[str, str | int | bool]
COUNT = 300


@pytest.fixture(scope="module")
async def seeded(audit_db: AuditDatabase) -> AuditDatabase:
    writer = await audit_db.connect("audit")
    now = datetime.now(UTC)
    try:
        records = []
        for offset, value in enumerate(Spread(COUNT, months=2).values()):
            record = decode_decision(value, None, SourceCoordinates("d", 0, offset), now)
            assert isinstance(record, PendingRecord)
            records.append(record)
        await write_batch(writer, records)
    finally:
        await writer.close()
    return audit_db


async def _client(db: AuditDatabase, **budgets: int) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(db.dsn("auditor"), [TOKEN], **budgets)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://audit", headers=headers
        ) as c:
            yield c


async def test_a_statement_over_the_budget_is_cancelled(seeded: AuditDatabase) -> None:
    conn = await asyncpg.connect(seeded.dsn("auditor"), server_settings=auditor_session(200))
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            await conn.fetchval("SELECT pg_sleep(2)")
        # and the session cannot write, even where a grant would allow it
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("CREATE TEMPORARY TABLE scratch (n int)")
    finally:
        await conn.close()


async def test_the_api_answers_503_when_a_query_runs_over(seeded: AuditDatabase) -> None:
    async for client in _client(seeded, query_timeout_ms=300):
        # the owner's lock makes the listing wait; waiting counts against the budget
        su = await superuser_connect(seeded.name)
        try:
            async with su.transaction():
                await su.execute("LOCK TABLE audit.decision_records IN ACCESS EXCLUSIVE MODE")
                answer = await client.get("/v1/decisions", params={"limit": 5})
        finally:
            await su.close()
        assert answer.status_code == 503
        assert "300 ms budget" in answer.json()["detail"]
        assert (await client.get("/v1/decisions", params={"limit": 5})).status_code == 200


async def test_pages_end_at_the_byte_budget_and_the_cursor_loses_nothing(
    seeded: AuditDatabase,
) -> None:
    conn = await seeded.connect("auditor")
    try:
        every = [r["seq"] for r in await list_decisions(conn, DecisionFilter(), limit=1000)]
    finally:
        await conn.close()
    assert len(every) == COUNT
    async for client in _client(seeded, page_max_bytes=20_000):  # about eight documents
        seen: list[int] = []
        params: Params = {"limit": 100, "include_decision": True}
        pages = 0
        while True:
            body = (await client.get("/v1/decisions", params=params)).json()
            pages += 1
            assert 1 <= len(body["items"]) < 100
            seen.extend(item["seq"] for item in body["items"])
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]
        assert seen == every
        assert pages >= COUNT // 10
        # without documents the same budget is far from reached: full pages
        plain = (await client.get("/v1/decisions", params={"limit": 20})).json()
        assert len(plain["items"]) == 20


async def test_every_documented_filter_pages_without_gaps(seeded: AuditDatabase) -> None:
    """Keyset pages of a term-driven and a window-bounded listing add up to the whole answer."""
    spread = Spread(COUNT, months=2)
    since, until = spread.start, spread.moment(COUNT // 2)
    cases: list[tuple[Params, DecisionFilter]] = [
        ({"reason": "LICENSE_REQUIRED"}, DecisionFilter(reason="LICENSE_REQUIRED")),
        (
            {"exporter_id": exporter_id(1), "since": since.isoformat(), "until": until.isoformat()},
            DecisionFilter(exporter_id=exporter_id(1), since=since, until=until),
        ),
    ]
    conn = await seeded.connect("auditor")
    try:
        async for client in _client(seeded):
            for query, f in cases:
                expected = [r["seq"] for r in await list_decisions(conn, f, limit=1000)]
                assert len(expected) > 7, query
                seen: list[int] = []
                params: Params = {**query, "limit": 7}
                while True:
                    body = (await client.get("/v1/decisions", params=params)).json()
                    seen.extend(item["seq"] for item in body["items"])
                    if body["next_cursor"] is None:
                        break
                    params["cursor"] = body["next_cursor"]
                assert seen == expected, query
    finally:
        await conn.close()


@pytest.mark.parametrize("size", [1, 7, 8, 100, COUNT, COUNT + 5])
async def test_leaf_hashes_read_in_pages_are_the_tree_of_the_records(
    seeded: AuditDatabase, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """Proofs read their leaves in bounded statements; page edges neither drop nor repeat one."""
    conn = await seeded.connect("auditor")
    try:
        stored = [
            leaf_hash(bytes(r[0]))
            for r in await conn.fetch(
                "SELECT record_hash FROM audit.decisions_v WHERE seq <= $1 ORDER BY seq", size
            )
        ]
        monkeypatch.setattr(queries, "LEAF_PAGE", 7)
        assert await queries.leaf_hashes(conn, size) == stored
        assert len(stored) == min(size, COUNT)
    finally:
        await conn.close()
