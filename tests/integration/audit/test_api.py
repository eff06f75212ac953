"""The read API and the queries: tokens required, filters parameterised, evidence packs verify."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.audit.api import create_app
from services.audit.evidence_pack import build_pack, verify_pack
from services.audit.merkle import verify_consistency
from services.audit.queries import DecisionFilter, list_decisions
from services.audit.records import SourceCoordinates, pending_from_decision
from services.audit.store import write_batch
from services.audit.tree_head import SignedTreeHead
from services.audit.tree_log import TreeLog
from tests.integration.audit.conftest import AuditDatabase
from tests.unit.audit.factories import LOG_KEYS, LOG_SIGNER, make_decision

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token-for-tests"
HOSTILE = [
    "' OR 1=1 --",
    "SHP'; DROP TABLE audit.decision_records; --",
    '" OR ""="',
    "%' OR '%'='",
    "SHP-2026-300001' UNION SELECT * FROM pg_shadow --",
]


NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
async def seeded(audit_db: AuditDatabase) -> AuditDatabase:
    writer = await audit_db.connect("audit")
    now = NOW
    first = make_decision(300_001, shipment_id="SHP-API-1")
    amended = make_decision(300_002, shipment_id="SHP-API-1", supersedes=first.decision_id)
    others = [make_decision(n) for n in range(300_010, 300_040)]
    records = [
        pending_from_decision(d, SourceCoordinates("decisions.v1", 0, i), now)
        for i, d in enumerate([first, amended, *others])
    ]
    await write_batch(writer, records, tree=TreeLog(LOG_SIGNER))
    await writer.close()
    return audit_db


@pytest.fixture
async def client(seeded: AuditDatabase) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seeded.dsn("auditor"), [TOKEN, "another-token"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://audit") as c:
            yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}]
)
async def test_requests_without_a_valid_token_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in ("/v1/decisions", "/v1/chain/head", "/v1/shipments/SHP-API-1/decisions"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401, path


async def test_probes_answer_without_a_token_and_reveal_nothing(
    client: httpx.AsyncClient,
) -> None:
    for path, body in (("/healthz", "ok\n"), ("/readyz", "ready\n")):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.text == body
    assert "/readyz" not in (await client.get("/openapi.json")).json()["paths"]


async def test_readiness_fails_when_the_store_is_unreachable(seeded: AuditDatabase) -> None:
    app = create_app(seeded.dsn("auditor"), [TOKEN])
    async with app.router.lifespan_context(app):
        await app.state.pool.close()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://audit") as c:
            assert (await c.get("/readyz")).status_code == 503
            assert (await c.get("/healthz")).status_code == 200


async def test_openapi_document_is_published(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert "/v1/decisions" in response.json()["paths"]


async def test_pages_follow_the_keyset_cursor(client: httpx.AsyncClient) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 7, "exporter_id": "CN-EXP-0001"}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/v1/decisions", params=params, headers=AUTH)).json()
        seen += [item["seq"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == 32


async def test_history_includes_superseded_decisions_with_inputs(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/v1/shipments/SHP-API-1/decisions", headers=AUTH)).json()
    items = body["items"]
    assert len(items) == 2
    assert items[1]["supersedes"] == items[0]["decision_id"]
    assert items[0]["decision"]["evidence"]["event"]["shipment_id"] == "SHP-API-1"


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_filters_match_nothing_and_change_nothing(
    client: httpx.AsyncClient, seeded: AuditDatabase, hostile: str
) -> None:
    for name in ("shipment_id", "exporter_id", "reason", "control_id", "license_id"):
        response = await client.get("/v1/decisions", params={name: hostile}, headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["items"] == []
    response = await client.get("/v1/decisions", params={"outcome": hostile}, headers=AUTH)
    assert response.status_code == 422
    response = await client.get("/v1/decisions", params={"cursor": hostile}, headers=AUTH)
    assert response.status_code == 400
    conn = await seeded.connect("auditor")
    try:
        assert await list_decisions(conn, DecisionFilter(shipment_id=hostile)) == []
        assert await conn.fetchval("SELECT count(*) FROM audit.decisions_v") >= 32
    finally:
        await conn.close()


async def test_an_evidence_pack_verifies_and_detects_edits(seeded: AuditDatabase) -> None:
    conn = await seeded.connect("auditor")
    try:
        pack = await build_pack(conn, "SHP-API-1")
    finally:
        await conn.close()
    assert len(pack["records"]) == 2
    assert verify_pack(pack, LOG_KEYS) == []
    content = pack["records"][0]["content"]
    flipped = "hold" if content["outcome"] == "approve" else "approve"
    content["outcome"] = content["decision"]["outcome"] = flipped
    problems = verify_pack(pack, LOG_KEYS)
    assert any("record_hash does not match" in p for p in problems)


async def test_the_signed_tree_head_is_served_and_verifies(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/tree/head", headers=AUTH)
    assert response.status_code == 200, response.text
    head = SignedTreeHead.from_json(response.json())
    assert head.problem(LOG_KEYS) is None
    assert head.tree_size >= 32
    assert (await client.get("/v1/tree/head")).status_code == 401


async def test_consistency_proofs_hold_between_signed_heads(
    client: httpx.AsyncClient, seeded: AuditDatabase
) -> None:
    """A follower of the anchors checks a new head against an older one with a proof."""
    writer = await seeded.connect("audit")
    try:
        more = [
            pending_from_decision(
                make_decision(n, exporter_id="CN-EXP-TREE"),
                SourceCoordinates("decisions.v1", 1, n),
                NOW,
            )
            for n in range(300_100, 300_105)
        ]
        old = SignedTreeHead.from_json((await client.get("/v1/tree/head", headers=AUTH)).json())
        await write_batch(writer, more, tree=TreeLog(LOG_SIGNER))
    finally:
        await writer.close()
    new = SignedTreeHead.from_json((await client.get("/v1/tree/head", headers=AUTH)).json())
    assert new.tree_size > old.tree_size
    params = {"first": old.tree_size, "second": new.tree_size}
    body = (await client.get("/v1/tree/consistency", params=params, headers=AUTH)).json()
    proof = [bytes.fromhex(h) for h in body["proof"]]
    assert verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof)
    assert not verify_consistency(old.tree_size, new.tree_size, bytes(32), new.root_hash, proof)
    too_far = {"first": 1, "second": new.tree_size + 1}
    assert (
        await client.get("/v1/tree/consistency", params=too_far, headers=AUTH)
    ).status_code == 404
    backwards = {"first": 2, "second": 1}
    assert (
        await client.get("/v1/tree/consistency", params=backwards, headers=AUTH)
    ).status_code == 400
