"""The auditors' HTTP read API (FastAPI): JSON, keyset-paginated, bearer-token protected.

Tokens come from ``LODESTONE_AUDIT_API_TOKENS`` and are compared in constant time. The API
connects as the read-only auditor role and reads only the documented views.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.audit.merkle import consistency_proof
from services.audit.presentation import jsonable
from services.audit.queries import (
    DecisionFilter,
    auditor_session,
    decision_by_id,
    latest_tree_head,
    leaf_hashes,
    list_decisions,
    shipment_history,
    within_budget,
)
from services.audit.verify import stored_head
from services.common.privileges import check_least_privilege

_bearer = HTTPBearer(auto_error=False)
Identifier = Annotated[str, Query(min_length=1, max_length=128)]


def _token_ok(presented: str, tokens: list[str]) -> bool:
    """Constant time in the presented token: every configured token is compared."""
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented.encode(), token.encode())
    return matched


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = raw.partition(":")
        if prefix != "seq":
            raise ValueError(raw)
        return int(seq)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid cursor") from exc


def create_app(
    dsn: str,
    tokens: list[str],
    *,
    query_timeout_ms: int = 5000,
    page_max_bytes: int = 4_000_000,
) -> FastAPI:
    """The API over the store at ``dsn`` (the auditor role), open to holders of ``tokens``.

    Every statement is cancelled after ``query_timeout_ms``; a page carries at most 1000 rows
    and about ``page_max_bytes`` of decision documents.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=5, server_settings=auditor_session(query_timeout_ms)
        )
        try:
            async with app.state.pool.acquire() as conn:
                await check_least_privilege(conn)  # a read API never runs as an owner
            yield
        finally:
            await app.state.pool.close()

    def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None or not _token_ok(credentials.credentials, tokens):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    app = FastAPI(
        title="Lodestone audit API",
        version="1",
        lifespan=lifespan,
        description="Read-only access to the recorded decisions and the hash chain.",
    )
    # Everything under /v1 needs a token; the probes below do not and reveal nothing.
    v1 = APIRouter(dependencies=[Depends(authorised)])

    @app.exception_handler(asyncpg.QueryCanceledError)
    async def over_budget(request: Request, exc: asyncpg.QueryCanceledError) -> JSONResponse:
        """A statement cut off by ``statement_timeout``: the question is too broad to answer."""
        return JSONResponse(
            {"detail": f"the query ran over its {query_timeout_ms} ms budget; narrow it"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        """Liveness: the process answers (no database round trip, so an outage restarts nothing)."""
        return Response("ok\n", media_type="text/plain")

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        """Readiness: the store answers a trivial query within two seconds."""
        try:
            async with request.app.state.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1", timeout=2)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return Response("not ready\n", status_code=503, media_type="text/plain")
        return Response("ready\n", media_type="text/plain")

    @v1.get("/v1/decisions")
    async def decisions(
        request: Request,
        shipment_id: Identifier | None = None,
        exporter_id: Identifier | None = None,
        outcome: Annotated[str | None, Query(pattern="^(approve|hold)$")] = None,
        reason: Identifier | None = None,
        control_id: Identifier | None = None,
        license_id: Identifier | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=64)] = None,
        include_decision: bool = False,
    ) -> dict[str, Any]:
        """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
        f = DecisionFilter(
            shipment_id, exporter_id, outcome, reason, control_id, license_id, since, until
        )
        before = decode_cursor(cursor) if cursor else None
        async with request.app.state.pool.acquire() as conn:
            rows = await list_decisions(
                conn, f, limit=limit, before_seq=before, with_decision=include_decision
            )
        page = within_budget(rows, page_max_bytes)
        more = len(rows) == limit or len(page) < len(rows)
        rows = page
        next_cursor = encode_cursor(rows[-1]["seq"]) if more else None
        return {"items": [jsonable(r) for r in rows], "next_cursor": next_cursor}

    @v1.get("/v1/decisions/{decision_id}")
    async def decision(request: Request, decision_id: str) -> dict[str, Any]:
        async with request.app.state.pool.acquire() as conn:
            row = await decision_by_id(conn, decision_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such decision")
        return jsonable(row)

    @v1.get("/v1/shipments/{shipment_id}/decisions")
    async def history(request: Request, shipment_id: str) -> dict[str, Any]:
        """The shipment's full history, oldest first, superseded decisions included."""
        async with request.app.state.pool.acquire() as conn:
            rows = await shipment_history(conn, shipment_id)
        return {"shipment_id": shipment_id, "items": [jsonable(r) for r in rows]}

    @v1.get("/v1/chain/head")
    async def chain_head(request: Request) -> dict[str, Any]:
        async with request.app.state.pool.acquire() as conn:
            head = await stored_head(conn)
        return {"seq": head.seq, "record_hash": head.record_hash.hex()}

    @v1.get("/v1/tree/consistency")
    async def tree_consistency(
        request: Request,
        first: Annotated[int, Query(ge=1)],
        second: Annotated[int, Query(ge=1)],
    ) -> dict[str, Any]:
        """RFC 9162 consistency proof: the tree of ``first`` records is a prefix of ``second``.

        For verifiers that hold signed heads but not the records (e.g. followers of
        ``audit.anchors.v1``); check it with ``merkle.verify_consistency`` and the signed roots.
        """
        if first > second:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "first must not exceed second")
        try:
            async with request.app.state.pool.acquire() as conn:
                leaves = await leaf_hashes(conn, second)
            if len(leaves) < second:
                found = f"the log holds {len(leaves)} records"
                raise HTTPException(status.HTTP_404_NOT_FOUND, found)
            proof = consistency_proof(leaves, first)
        except LookupError as exc:  # a tree inside the archived records
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        return {"first": first, "second": second, "proof": [h.hex() for h in proof]}

    @v1.get("/v1/tree/head")
    async def tree_head(request: Request) -> dict[str, Any]:
        """The newest signed tree head (as on ``audit.anchors.v1``)."""
        async with request.app.state.pool.acquire() as conn:
            head = await latest_tree_head(conn)
        if head is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no signed tree head yet")
        return head.to_json()

    app.include_router(v1)
    return app
