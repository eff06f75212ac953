"""The auditors' queries: filters turned into parameterised SQL over the documented views.

Every value a user gives travels as an asyncpg parameter (``$n``); the SQL text is assembled only
from the constant fragments below, so no input can change a statement's shape.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.audit.merkle import leaf_hash
from services.audit.tree_head import SignedTreeHead
from services.common.db import Conn

LIST_COLUMNS: tuple[str, ...] = (
    "seq",
    "decision_id",
    "shipment_id",
    "event_id",
    "exporter_id",
    "outcome",
    "trigger",
    "reason_codes",
    "control_ids",
    "license_ids",
    "catalogue_version",
    "supersedes",
    "decided_at",
    "recorded_at",
    "record_hash",
)


@dataclass(frozen=True)
class DecisionFilter:
    """What an auditor asks for; every field narrows the result (all of them must hold)."""

    shipment_id: str | None = None
    exporter_id: str | None = None
    outcome: str | None = None
    reason: str | None = None
    control_id: str | None = None
    license_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


#: filter field -> SQL condition on its parameter (constant text only)
_CONDITIONS: dict[str, str] = {
    "shipment_id": "shipment_id = ${}",
    "exporter_id": "exporter_id = ${}",
    "outcome": "outcome = ${}",
    "reason": "reason_codes @> ARRAY[${}::text]",
    "control_id": "control_ids @> ARRAY[${}::text]",
    "license_id": "license_ids @> ARRAY[${}::text]",
    "since": "decided_at >= ${}",
    "until": "decided_at < ${}",
}


def build_listing(
    f: DecisionFilter,
    *,
    limit: int,
    before_seq: int | None = None,
    with_decision: bool = False,
) -> tuple[str, list[Any]]:
    """SQL and parameters for the newest records matching ``f``, older than ``before_seq``.

    Pages go newest first; the cursor of the next page is the last row's ``seq`` (keyset).
    """
    params: list[Any] = []
    where: list[str] = []
    for name, condition in _CONDITIONS.items():
        value = getattr(f, name)
        if value is not None:
            params.append(value)
            where.append(condition.format(len(params)))
    if before_seq is not None:
        params.append(before_seq)
        where.append(f"seq < ${len(params)}")
    params.append(limit)
    columns = ", ".join(LIST_COLUMNS + (("decision",) if with_decision else ()))
    sql = f"SELECT {columns} FROM audit.decisions_v"  # noqa: S608 (constant fragments)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY seq DESC LIMIT ${len(params)}"
    return sql, params


async def list_decisions(
    conn: Conn,
    f: DecisionFilter,
    *,
    limit: int = 100,
    before_seq: int | None = None,
    with_decision: bool = False,
) -> list[dict[str, Any]]:
    sql, params = build_listing(f, limit=limit, before_seq=before_seq, with_decision=with_decision)
    return [dict(row) for row in await conn.fetch(sql, *params)]


_HISTORY = (
    "SELECT seq, prev_hash, record_hash, decision_id, shipment_id, event_id, exporter_id,"
    " outcome, trigger, catalogue_version, supersedes, decided_at, recorded_at, source_topic,"
    " source_partition, source_offset, reason_codes, control_ids, license_ids, decision,"
    " signature_key_id, signature FROM audit.decisions_v WHERE shipment_id = $1 ORDER BY seq"
)


async def shipment_history(conn: Conn, shipment_id: str) -> list[dict[str, Any]]:
    """Every record of a shipment, oldest first, superseded ones included, with their inputs."""
    return [dict(row) for row in await conn.fetch(_HISTORY, shipment_id)]


async def decision_by_id(conn: Conn, decision_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        _HISTORY.replace("WHERE shipment_id = $1 ORDER BY seq", "WHERE decision_id = $1"),
        decision_id,
    )
    return None if row is None else dict(row)


async def catalogue(conn: Conn, version: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT version, content, content_sha256, recorded_at FROM audit.catalogues_v"
        " WHERE version = $1",
        version,
    )
    return None if row is None else dict(row)


_LATEST_HEAD = (
    "SELECT head, signature FROM audit.tree_heads_v WHERE tree_size >= $1"
    " ORDER BY tree_size DESC, id DESC LIMIT 1"
)


async def latest_tree_head(conn: Conn, covering: int = 0) -> SignedTreeHead | None:
    """The newest signed tree head of at least ``covering`` records, as signed."""
    row = await conn.fetchrow(_LATEST_HEAD, covering)
    if row is None:
        return None
    body = json.loads(row["head"])
    body["signature"] = base64.b64encode(bytes(row["signature"])).decode("ascii")
    return SignedTreeHead.from_json(body)


_LEAF_HASHES = "SELECT record_hash FROM audit.decisions_v WHERE seq <= $1 ORDER BY seq"


async def leaf_hashes(conn: Conn, size: int) -> list[bytes]:
    """The Merkle leaf hashes of the first ``size`` records (fewer if the store is shorter)."""
    return [leaf_hash(bytes(row[0])) for row in await conn.fetch(_LEAF_HASHES, size)]
