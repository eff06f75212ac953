"""The ledger's batch path: a few queries per batch of events, whatever its size.

:func:`read_snapshot` reads, before deciding, the stored decisions of the batch's events, the
latest decision of its shipments and the usage of the licences its exporters hold.
:class:`BatchTransaction` then settles every decision in one transaction: shipment locks (in key
order) and the re-check that nothing was decided meanwhile; ``FOR UPDATE`` locks on the licences
the batch consumes (in id order) and their usage read again under the locks; then bulk writes.
Same rules as :meth:`services.screening.ledger.Ledger.settle` (ADR 0021), per batch (ADR 0024).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from schemas import Decision, EventType, License, LicenseKind, ShipmentEvent, Unit
from services.common.db import Conn

#: One row of the grouped consumption query: (licence, shipment or ``None`` for the shipments
#: aggregated together, amount, unit). :class:`~services.screening.running_usage.RunningUsage`
#: is built from them.
UsageRow = tuple[str, str | None, Decimal, Unit]
#: What a decision consumes, as stored: (licence, line, amount, unit).
Consumed = tuple[str, int, Decimal, Unit]

_USAGE = (
    "SELECT license_id, unit, sum(amount) AS amount,"
    " CASE WHEN shipment_id = ANY($2::text[]) OR license_id = ANY($3::text[])"
    " THEN shipment_id END AS shipment"
    " FROM screening.consumption WHERE license_id = ANY($1::text[])"
    " GROUP BY license_id, unit, 4"
)
_STORED = (
    "SELECT event_id, payload FROM screening.decisions"
    " WHERE event_id = ANY($1::text[]) AND trigger = 'shipment_event'"
)
_LATEST = (
    "SELECT shipment_id, latest_decision_id FROM screening.shipments"
    " WHERE shipment_id = ANY($1::text[])"
)

#: The batch's rows, one statement (one round trip): its decisions, the consumption of each
#: shipment's last decision (the previous rows deleted before) and each shipment's latest state.
#: The foreign keys to ``decisions`` are checked at the end of the statement, after all three.
_WRITE = (
    "WITH decided AS (INSERT INTO screening.decisions"
    " (decision_id, event_id, shipment_id, trigger, outcome, payload)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
    " $6::text[]) ON CONFLICT (decision_id) DO NOTHING),"
    " consumed AS (INSERT INTO screening.consumption"
    " (license_id, shipment_id, line_no, amount, unit, single_use, decision_id)"
    " SELECT * FROM unnest($7::text[], $8::text[], $9::int[], $10::numeric[],"
    " $11::text[], $12::bool[], $13::text[]))"
    " INSERT INTO screening.shipments (shipment_id, exporter_id, latest_decision_id,"
    " latest_event_id, outcome, cancelled, ship_date, catalogue_version, event,"
    " source_topic) SELECT * FROM unnest($14::text[], $15::text[], $16::text[], $17::text[],"
    " $18::text[], $19::bool[], $20::date[], $21::text[], $22::text[], $23::text[])"
    " ON CONFLICT (shipment_id) DO UPDATE SET exporter_id = EXCLUDED.exporter_id,"
    " latest_decision_id = EXCLUDED.latest_decision_id,"
    " latest_event_id = EXCLUDED.latest_event_id, outcome = EXCLUDED.outcome,"
    " cancelled = EXCLUDED.cancelled, ship_date = EXCLUDED.ship_date,"
    " catalogue_version = EXCLUDED.catalogue_version, event = EXCLUDED.event,"
    " updated_at = now()"
)


@dataclass(frozen=True)
class Snapshot:
    stored: dict[str, str]
    """event_id → stored Decision JSON (already decided: re-emit)."""
    latest: dict[str, str]
    """shipment_id → latest decision id (shipments without one are new)."""
    usage: list[UsageRow]
    """Consumption of the tracked licences (see :func:`read_snapshot`)."""


async def _usage(
    conn: Conn | asyncpg.Pool, licences: Sequence[License], shipments: Sequence[str]
) -> list[UsageRow]:
    """Consumption of ``licences``, per shipment for ``shipments`` and for every shipment of a
    single-use licence, aggregated for the rest."""
    if not licences:
        return []
    ids = sorted(lic.license_id for lic in licences)
    single = sorted(lic.license_id for lic in licences if lic.kind is LicenseKind.SINGLE)
    rows = await conn.fetch(_USAGE, ids, list(shipments), single)
    return [(r["license_id"], r["shipment"], r["amount"], Unit(r["unit"])) for r in rows]


async def read_snapshot(
    pool: asyncpg.Pool,
    event_ids: Sequence[str],
    shipment_ids: Sequence[str],
    licences: Sequence[License],
) -> Snapshot:
    """``licences``: the capped or single-use licences whose usage the batch needs.

    Three reads for the whole batch, at once on three connections (each its own snapshot,
    as before: the batch transaction re-checks under locks whatever the decisions rely on)."""
    stored, latest, usage = await asyncio.gather(
        pool.fetch(_STORED, list(event_ids)),
        pool.fetch(_LATEST, list(shipment_ids)),
        _usage(pool, licences, shipment_ids),
    )
    return Snapshot(
        stored={r["event_id"]: r["payload"] for r in stored},
        latest={r["shipment_id"]: r["latest_decision_id"] for r in latest},
        usage=usage,
    )


@dataclass
class Settled:
    """A new decision to record: its event, JSON, and the latest decision it expects."""

    event: ShipmentEvent
    decision: Decision
    payload: str
    consumed: Sequence[Consumed]
    """What the decision consumes (nothing for a hold)."""
    event_json: str | None = None
    """``event.model_dump_json()`` if already at hand."""


class BatchTransaction:
    """One open transaction settling a batch; see the module docstring for the order of locks."""

    def __init__(self, conn: Conn, source_topic: str) -> None:
        self._conn = conn
        self._source = source_topic

    async def lock_shipments_unchanged(
        self, expected: dict[str, str | None], event_ids: Sequence[str]
    ) -> bool:
        """Lock the shipments (advisory, key order); False if one moved or an event was decided."""
        shipments = sorted(expected)
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT"
            " hashtextextended('screening.shipment:' || s, 0) AS k"
            " FROM unnest($1::text[]) AS s ORDER BY k) AS keys",
            shipments,
        )
        rows = await self._conn.fetch(
            "SELECT shipment_id AS id, latest_decision_id AS latest FROM screening.shipments"
            " WHERE shipment_id = ANY($1::text[])"
            " UNION ALL SELECT event_id, NULL FROM screening.decisions"
            " WHERE event_id = ANY($2::text[]) AND trigger = 'shipment_event'",
            shipments,
            list(event_ids),
        )
        found = {r["id"]: r["latest"] for r in rows if r["latest"] is not None}
        if len(found) != len(rows):
            return False  # an event of the batch was decided meanwhile
        return all(found.get(s) == latest for s, latest in expected.items())

    async def lock_licences(
        self, licence_ids: Iterable[str], licences: Sequence[License], shipments: Sequence[str]
    ) -> list[UsageRow]:
        """Lock ``licence_ids`` (``FOR UPDATE``, id order); their usage as it now stands."""
        ids = sorted(set(licence_ids))
        await self._conn.execute(
            "INSERT INTO screening.licence_locks (license_id)"
            " SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            ids,
        )
        await self._conn.execute(
            "SELECT license_id FROM screening.licence_locks WHERE license_id = ANY($1::text[])"
            " ORDER BY license_id FOR UPDATE",
            ids,
        )
        wanted = set(ids)
        return await _usage(
            self._conn, [lic for lic in licences if lic.license_id in wanted], shipments
        )

    async def write(
        self, settled: Sequence[Settled], existing: Iterable[str], licences: dict[str, License]
    ) -> None:
        """Record the decisions; each shipment ends with its last decision's consumption."""
        last: dict[str, Settled] = {}
        for item in settled:
            last[item.decision.shipment_id] = item
        release = sorted(set(existing) & set(last))
        if release:
            await self._conn.execute(
                "DELETE FROM screening.consumption WHERE shipment_id = ANY($1::text[])", release
            )
        rows: list[tuple[str, str, int, Decimal, str, bool, str]] = [
            (
                licence_id,
                s.decision.shipment_id,
                line_no,
                amount,
                unit.value,
                licences[licence_id].kind is LicenseKind.SINGLE,
                s.decision.decision_id,
            )
            for s in last.values()
            for licence_id, line_no, amount, unit in s.consumed
        ]
        consumption = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * 7
        items = list(last.values())
        await self._conn.execute(
            _WRITE,
            [s.decision.decision_id for s in settled],
            [s.decision.event_id for s in settled],
            [s.decision.shipment_id for s in settled],
            [s.decision.trigger.value for s in settled],
            [s.decision.outcome.value for s in settled],
            [s.payload for s in settled],
            *consumption,
            [s.decision.shipment_id for s in items],
            [s.event.exporter.id for s in items],
            [s.decision.decision_id for s in items],
            [s.event.event_id for s in items],
            [s.decision.outcome.value for s in items],
            [s.event.event_type is EventType.CANCELLED for s in items],
            [s.event.ship_date for s in items],
            [s.decision.catalogue_version for s in items],
            [s.event_json or s.event.model_dump_json() for s in items],
            [self._source for _ in items],
        )
