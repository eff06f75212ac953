"""The auditors' queries: filters turned into parameterised SQL over the documented views.

Every value a user gives travels as an asyncpg parameter (``$n``); the SQL text is assembled only
from the constant fragments below, so no input can change a statement's shape.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.audit.merkle import ArchivedLeafError, Frontier, SeamedLeaves, leaf_hash

if TYPE_CHECKING:  # the command line imports this module; asyncpg and the keys only when used
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


#: filter field -> SQL condition on its parameter (constant text only), for fields that are
#: columns of the record
_CONDITIONS: dict[str, str] = {
    "shipment_id": "d.shipment_id = ${}",
    "exporter_id": "d.exporter_id = ${}",
    "outcome": "d.outcome = ${}",
    "reason": "d.reason_codes @> ARRAY[${}::text]",
    "control_id": "d.control_ids @> ARRAY[${}::text]",
    "license_id": "d.license_ids @> ARRAY[${}::text]",
    "since": "d.decided_at >= ${}",
    "until": "d.decided_at < ${}",
}

#: array filters that audit.decision_terms_v indexes as (kind, term, seq), most selective first:
#: the first one given drives the listing, the others stay conditions on the record
TERM_KINDS: tuple[tuple[str, str], ...] = (
    ("license_id", "licence"),
    ("control_id", "control"),
    ("reason", "reason"),
)

#: the seq range that holds every record decided in a window (ADR 0017)
_WINDOW_FIRST = (
    "{seq} >= (SELECT min(first_seq) FROM audit.decided_at_blocks_v WHERE max_decided >= ${})"
)
_WINDOW_LAST = (
    "{seq} <= (SELECT max(last_seq) FROM audit.decided_at_blocks_v WHERE min_decided < ${})"
)


def driving_term(f: DecisionFilter) -> tuple[str, str] | None:
    """``(field, kind)`` of the array filter that drives the listing, if the filter has one.

    A shipment id drives instead when given (a shipment has a handful of records).
    """
    if f.shipment_id is not None:
        return None
    for name, kind in TERM_KINDS:
        if getattr(f, name) is not None:
            return name, kind
    return None


def build_listing(
    f: DecisionFilter,
    *,
    limit: int,
    before_seq: int | None = None,
    with_decision: bool = False,
) -> tuple[str, list[Any]]:
    """SQL and parameters for the newest records matching ``f``, older than ``before_seq``.

    Pages go newest first; the cursor of the next page is the last row's ``seq`` (keyset). Each
    shape walks one index in seq order from the cursor (docs/audit.md "Queries at scale"): the
    (kind, term, seq) index of the first array filter given, else (shipment|exporter|outcome,
    seq), else the primary key; a time window also bounds that walk to the seq range of the
    blocks it touches, and adds the late records outside that range from their own index.
    Other filters are conditions on the rows walked.
    """
    params: list[Any] = []

    def param(value: Any) -> int:
        params.append(value)
        return len(params)

    at = {name: param(getattr(f, name)) for name in _CONDITIONS if getattr(f, name) is not None}
    before = param(before_seq) if before_seq is not None else None
    last = param(limit)
    columns = LIST_COLUMNS + (("decision",) if with_decision else ())
    walk = _walk(at, before, driving_term(f), columns, last)
    if f.until is None:
        # No window, or an open one: no late record lies outside the range walked. The range
        # runs from the first block whose latest decision is at or after ``since`` to the
        # newest record; a late record recorded before that block was decided more than an
        # hour before the latest decision recorded before it, which is in an earlier block
        # (or its own batch) and so before ``since`` (docs/audit.md "Queries at scale").
        return walk, params
    # Late records (audit.late_decisions) are left out of the blocks: those outside the range
    # just walked come from their own index, so that the page misses none and repeats none.
    where = [_CONDITIONS[name].format(n) for name, n in at.items()]
    if "since" in at:
        where.append(f"l.decided_at >= ${at['since']}")
    if "until" in at:
        where.append(f"l.decided_at < ${at['until']}")
    first = _WINDOW_FIRST.format(at["since"], seq="l.seq") if "since" in at else "TRUE"
    final = _WINDOW_LAST.format(at["until"], seq="l.seq") if "until" in at else "TRUE"
    where.append(f"NOT coalesce({first} AND {final}, FALSE)")
    if before is not None:
        where.append(f"l.seq < ${before}")
    late = (
        f"SELECT {', '.join(f'd.{c}' for c in columns)}"  # noqa: S608 (constant fragments)
        " FROM audit.late_decisions_v l JOIN audit.decisions_v d ON d.seq = l.seq"
        f" WHERE {' AND '.join(where)} ORDER BY l.seq DESC LIMIT ${last}"
    )
    sql = (
        f"SELECT * FROM (({walk}) UNION ALL ({late})) AS window_rows"  # noqa: S608
        f" ORDER BY seq DESC LIMIT ${last}"
    )
    return sql, params


def _walk(
    at: dict[str, int],
    before: int | None,
    drive: tuple[str, str] | None,
    columns: tuple[str, ...],
    last: int,
) -> str:
    """The listing as one index walk in seq order (a window bounded to its blocks' range)."""
    seq = "t.seq" if drive else "d.seq"
    where: list[str] = []
    if drive is not None:
        name, kind = drive
        where.append(f"t.kind = '{kind}' AND t.term = ${at[name]}")
    for name, n in at.items():
        if drive is None or name != drive[0]:
            where.append(_CONDITIONS[name].format(n))
    if "since" in at:
        where.append(_WINDOW_FIRST.format(at["since"], seq=seq))
    if "until" in at:
        where.append(_WINDOW_LAST.format(at["until"], seq=seq))
    if before is not None:
        where.append(f"{seq} < ${before}")
    source = "audit.decisions_v d"
    if drive is not None:
        source = "audit.decision_terms_v t JOIN audit.decisions_v d ON d.seq = t.seq"
    sql = f"SELECT {', '.join(f'd.{c}' for c in columns)} FROM {source}"  # noqa: S608
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + f" ORDER BY {seq} DESC LIMIT ${last}"


#: a page's rows besides their decision documents, for the byte budget
ROW_OVERHEAD_BYTES = 600


def auditor_session(query_timeout_ms: int) -> dict[str, str]:
    """``server_settings`` of an auditor connection: read-only, statements time-boxed (0: not)."""
    return {
        "statement_timeout": str(query_timeout_ms),
        "idle_in_transaction_session_timeout": str(max(query_timeout_ms, 10_000)),
        "default_transaction_read_only": "on",
    }


def within_budget(rows: list[dict[str, Any]], max_bytes: int) -> list[dict[str, Any]]:
    """The longest prefix of ``rows`` whose documents fit ``max_bytes`` (never fewer than one)."""
    used = 0
    for n, row in enumerate(rows):
        decision = row.get("decision")
        used += ROW_OVERHEAD_BYTES + (len(decision) if isinstance(decision, str) else 0)
        if used > max_bytes and n > 0:
            return rows[:n]
    return rows


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


#: a decision id finds its seq in the one unpartitioned id table (migration 0006), and the seq
#: its partition (pruned while the statement runs): one index probe each, at any size
_BY_ID = "WHERE seq = (SELECT seq FROM audit.decision_ids_v WHERE decision_id = $1)"


async def decision_by_id(conn: Conn, decision_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        _HISTORY.replace("WHERE shipment_id = $1 ORDER BY seq", _BY_ID),
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
    from services.audit.tree_head import SignedTreeHead

    row = await conn.fetchrow(_LATEST_HEAD, covering)
    if row is None:
        return None
    body = json.loads(row["head"])
    body["signature"] = base64.b64encode(bytes(row["signature"])).decode("ascii")
    return SignedTreeHead.from_json(body)


#: the tree's edge where the archived records end (migration 0006), if any are
_LATEST_SEAM = (
    "SELECT last_seq, frontier FROM audit.archived_ranges_v ORDER BY last_seq DESC LIMIT 1"
)
_LEAF_HASHES = (
    "SELECT seq, record_hash FROM audit.decisions_v WHERE seq > $1 AND seq <= $2"
    " ORDER BY seq LIMIT $3"
)
#: leaf hashes per statement: each stays far inside the auditor's statement timeout
LEAF_PAGE = 100_000


async def leaf_hashes(conn: Conn, size: int) -> Sequence[bytes]:
    """The Merkle leaf hashes of the first ``size`` records (fewer if the store is shorter).

    Read in keyset pages, so that a proof over millions of records is many bounded statements
    rather than one that the statement timeout would cut off. When the oldest records are
    archived, the tree's edge at the latest seam stands for them (:class:`SeamedLeaves`: proofs
    of live records are the same; one that needs an archived leaf raises ArchivedLeafError, a
    LookupError).
    """
    seam = await conn.fetchrow(_LATEST_SEAM)
    prefix = None if seam is None else Frontier.at(seam[0], [bytes(h) for h in seam[1]])
    after = 0 if prefix is None else prefix.size
    if size <= after:
        raise ArchivedLeafError(f"records 1..{after} are archived; a tree of {size} lies within")
    leaves: list[bytes] = []
    while after < size:
        rows = await conn.fetch(_LEAF_HASHES, after, size, LEAF_PAGE)
        leaves.extend(leaf_hash(bytes(row[1])) for row in rows)
        if len(rows) < LEAF_PAGE:
            break
        after = rows[-1][0]
    return leaves if prefix is None else SeamedLeaves(prefix, leaves)
