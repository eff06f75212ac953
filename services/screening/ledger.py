"""The licence ledger and decision store in PostgreSQL (schema ``screening``).

Caps hold across screening instances because :meth:`Ledger.settle` re-checks usage while holding
a ``FOR UPDATE`` lock on each consumed licence's row in ``screening.licence_locks`` and an
advisory lock on the shipment, then inserts the consumption in the same transaction.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import asyncpg

from schemas import (
    Decision,
    EventType,
    IncompatibleUnitsError,
    License,
    LicenseKind,
    Outcome,
    ShipmentEvent,
    Trigger,
    Unit,
    convert,
)
from services.common.pool import create_pool
from services.screening.engine import LicenceUsage

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


class Settlement(enum.Enum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    """The event was already decided (by a redelivery or another instance)."""
    STALE = "stale"
    """The shipment's latest decision changed since the decision was taken."""
    CONFLICT = "conflict"
    """A licence the decision consumes was used meanwhile (cap or single use) or withdrawn."""


@dataclass(frozen=True)
class ShipmentState:
    """The latest decision on a shipment and the event it was taken on."""

    shipment_id: str
    exporter_id: str
    latest_decision_id: str
    latest_decision: Decision
    outcome: Outcome
    cancelled: bool
    ship_date: date
    event: ShipmentEvent


_STATE_COLUMNS = """
    s.shipment_id, s.exporter_id, s.latest_decision_id, s.outcome, s.cancelled, s.ship_date,
    s.event, d.payload
"""
_STATE_FROM = (
    "screening.shipments s JOIN screening.decisions d ON d.decision_id = s.latest_decision_id"
)


def _state(row: asyncpg.Record) -> ShipmentState:
    return ShipmentState(
        shipment_id=row["shipment_id"],
        exporter_id=row["exporter_id"],
        latest_decision_id=row["latest_decision_id"],
        latest_decision=Decision.model_validate_json(row["payload"]),
        outcome=Outcome(row["outcome"]),
        cancelled=row["cancelled"],
        ship_date=row["ship_date"],
        event=ShipmentEvent.model_validate_json(row["event"]),
    )


def consumption_by_licence(decision: Decision) -> dict[str, list[tuple[int, Decimal, Unit]]]:
    """What an approved decision consumes, per licence: (line, amount, cap unit).

    A held shipment does not ship, so it consumes nothing; it consumes when a re-screen approves it.
    """
    found: dict[str, list[tuple[int, Decimal, Unit]]] = defaultdict(list)
    if decision.outcome is not Outcome.APPROVE:
        return found
    for line in decision.lines:
        if line.license_id is not None and line.consumed is not None:
            found[line.license_id].append((line.line_no, line.consumed.amount, line.consumed.unit))
    return found


class Ledger:
    """Reads and writes ``screening.*`` through an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, source_topic: str) -> None:
        self._pool = pool
        self._source = source_topic

    @classmethod
    async def connect(cls, dsn: str, source_topic: str, size: int = 10) -> Ledger:
        """A ledger for the shipments read from ``source_topic`` (re-screens stay within it)."""
        # command_timeout: a statement that hangs (a half-open connection during an outage)
        # raises TimeoutError, which the callers retry, instead of stalling the partition.
        pool = await create_pool(dsn, min_size=1, max_size=size, command_timeout=60)
        return cls(pool, source_topic)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @property
    def source_topic(self) -> str:
        return self._source

    async def close(self) -> None:
        await self._pool.close()

    async def decision_for_event(self, event_id: str) -> str | None:
        """The stored Decision JSON of an already decided shipment event."""
        payload: str | None = await self._pool.fetchval(
            "SELECT payload FROM screening.decisions"
            " WHERE event_id = $1 AND trigger = 'shipment_event'",
            event_id,
        )
        return payload

    async def shipment_state(self, shipment_id: str) -> ShipmentState | None:
        row = await self._pool.fetchrow(
            f"SELECT {_STATE_COLUMNS} FROM {_STATE_FROM} WHERE s.shipment_id = $1",  # noqa: S608
            shipment_id,
        )
        return None if row is None else _state(row)

    async def usage(self, licences: Sequence[License], exclude_shipment: str) -> LicenceUsage:
        """What shipments other than ``exclude_shipment`` consumed of ``licences``."""
        if not licences:
            return LicenceUsage.empty()
        by_id = {lic.license_id: lic for lic in licences}
        rows = await self._pool.fetch(
            "SELECT license_id, unit, sum(amount) AS amount, min(shipment_id) AS shipment"
            " FROM screening.consumption WHERE license_id = ANY($1::text[]) AND shipment_id <> $2"
            " GROUP BY license_id, unit",
            list(by_id),
            exclude_shipment,
        )
        consumed: dict[str, Decimal] = defaultdict(Decimal)
        single_used_by: dict[str, str] = {}
        for row in rows:
            licence = by_id[row["license_id"]]
            if licence.kind is LicenseKind.SINGLE:
                single_used_by[licence.license_id] = row["shipment"]
            cap = licence.max_quantity
            if cap is not None:
                try:
                    amount = convert(row["amount"], Unit(row["unit"]), cap.unit)
                    consumed[licence.license_id] += amount
                except IncompatibleUnitsError:
                    continue
        return LicenceUsage(consumed=dict(consumed), single_used_by=single_used_by)

    async def settle(
        self,
        decision: Decision,
        event: ShipmentEvent,
        licences: Mapping[str, License],
        *,
        expected_latest: str | None,
    ) -> tuple[Settlement, str | None]:
        """Record ``decision`` and its consumption atomically, if still valid.

        Returns the settlement and, for ``DUPLICATE``, the stored Decision JSON.
        """
        payload = decision.model_dump_json()
        consumption = consumption_by_licence(decision)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('screening.shipment:' || $1, 0))",
                decision.shipment_id,
            )
            if decision.trigger is Trigger.SHIPMENT_EVENT:
                stored = await conn.fetchval(
                    "SELECT payload FROM screening.decisions"
                    " WHERE event_id = $1 AND trigger = 'shipment_event'",
                    decision.event_id,
                )
                if stored is not None:
                    return Settlement.DUPLICATE, stored
            latest = await conn.fetchval(
                "SELECT latest_decision_id FROM screening.shipments WHERE shipment_id = $1",
                decision.shipment_id,
            )
            if latest != expected_latest:
                return Settlement.STALE, None
            if not await self._lock_and_check(conn, consumption, licences, decision.shipment_id):
                return Settlement.CONFLICT, None
            await conn.execute(
                "DELETE FROM screening.consumption WHERE shipment_id = $1", decision.shipment_id
            )
            await conn.execute(
                "INSERT INTO screening.decisions"
                " (decision_id, event_id, shipment_id, trigger, outcome, payload)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (decision_id) DO NOTHING",
                decision.decision_id,
                decision.event_id,
                decision.shipment_id,
                decision.trigger.value,
                decision.outcome.value,
                payload,
            )
            await conn.executemany(
                "INSERT INTO screening.consumption"
                " (license_id, shipment_id, line_no, amount, unit, single_use, decision_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [
                    (
                        licence_id,
                        decision.shipment_id,
                        line_no,
                        amount,
                        unit.value,
                        licences[licence_id].kind is LicenseKind.SINGLE,
                        decision.decision_id,
                    )
                    for licence_id, lines in consumption.items()
                    for line_no, amount, unit in lines
                ],
            )
            await self._upsert_shipment(conn, decision, event, self._source)
        return Settlement.RECORDED, payload

    @staticmethod
    async def _lock_and_check(
        conn: Connection,
        consumption: Mapping[str, list[tuple[int, Decimal, Unit]]],
        licences: Mapping[str, License],
        shipment_id: str,
    ) -> bool:
        ids = sorted(consumption)
        if not ids:
            return True
        if any(licence_id not in licences for licence_id in ids):
            return False
        await conn.execute(
            "INSERT INTO screening.licence_locks (license_id)"
            " SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            ids,
        )
        await conn.execute(
            "SELECT license_id FROM screening.licence_locks WHERE license_id = ANY($1::text[])"
            " ORDER BY license_id FOR UPDATE",
            ids,
        )
        rows = await conn.fetch(
            "SELECT license_id, unit, sum(amount) AS amount FROM screening.consumption"
            " WHERE license_id = ANY($1::text[]) AND shipment_id <> $2 GROUP BY license_id, unit",
            ids,
            shipment_id,
        )
        used: dict[str, list[tuple[Decimal, Unit]]] = defaultdict(list)
        for row in rows:
            used[row["license_id"]].append((row["amount"], Unit(row["unit"])))
        for licence_id in ids:
            licence = licences[licence_id]
            if licence.kind is LicenseKind.SINGLE and used[licence_id]:
                return False
            if licence.max_quantity is not None and not _within_cap(
                licence, used[licence_id], consumption[licence_id]
            ):
                return False
        return True

    @staticmethod
    async def _upsert_shipment(
        conn: Connection, decision: Decision, event: ShipmentEvent, source: str
    ) -> None:
        await conn.execute(
            "INSERT INTO screening.shipments (shipment_id, exporter_id, latest_decision_id,"
            " latest_event_id, outcome, cancelled, ship_date, catalogue_version, event,"
            " source_topic) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (shipment_id) DO UPDATE SET exporter_id = EXCLUDED.exporter_id,"
            " latest_decision_id = EXCLUDED.latest_decision_id,"
            " latest_event_id = EXCLUDED.latest_event_id, outcome = EXCLUDED.outcome,"
            " cancelled = EXCLUDED.cancelled, ship_date = EXCLUDED.ship_date,"
            " catalogue_version = EXCLUDED.catalogue_version, event = EXCLUDED.event,"
            " updated_at = now()",
            decision.shipment_id,
            event.exporter.id,
            decision.decision_id,
            event.event_id,
            decision.outcome.value,
            event.event_type is EventType.CANCELLED,
            event.ship_date,
            decision.catalogue_version,
            event.model_dump_json(),
            source,
        )

    async def open_holds(self, exporter_ids: Iterable[str] | None = None) -> list[ShipmentState]:
        """Held, not cancelled shipments (of the given exporters, or all)."""
        query = (
            f"SELECT {_STATE_COLUMNS} FROM {_STATE_FROM}"  # noqa: S608
            " WHERE s.source_topic = $1 AND s.outcome = 'hold' AND NOT s.cancelled"
        )
        if exporter_ids is None:
            rows = await self._pool.fetch(query + " ORDER BY s.shipment_id", self._source)
        else:
            rows = await self._pool.fetch(
                query + " AND s.exporter_id = ANY($2::text[]) ORDER BY s.shipment_id",
                self._source,
                list(exporter_ids),
            )
        return [_state(row) for row in rows]

    async def approvals_not_shipped(self, today: date) -> list[ShipmentState]:
        """Approved, not cancelled shipments whose ship date has not passed."""
        rows = await self._pool.fetch(
            f"SELECT {_STATE_COLUMNS} FROM {_STATE_FROM} WHERE s.outcome = 'approve'"  # noqa: S608
            " AND s.source_topic = $2 AND NOT s.cancelled AND s.ship_date >= $1"
            " ORDER BY s.shipment_id",
            today,
            self._source,
        )
        return [_state(row) for row in rows]

    async def mark_published(self, decision_ids: Sequence[str]) -> None:
        if decision_ids:
            await self._pool.execute(
                "UPDATE screening.decisions SET published = true"
                " WHERE decision_id = ANY($1::text[]) AND NOT published",
                list(decision_ids),
            )

    async def unpublished(self, limit: int = 10_000) -> list[tuple[str, str, str]]:
        """(decision_id, shipment_id, payload) of re-screening decisions stored but never
        acknowledged. A shipment event's decision is not marked: until it is acknowledged its
        event's offset is not committed, and the redelivered event re-emits it (ADR 0025)."""
        rows = await self._pool.fetch(
            "SELECT d.decision_id, d.shipment_id, d.payload FROM screening.decisions d"
            " JOIN screening.shipments s ON s.shipment_id = d.shipment_id"
            " WHERE NOT d.published AND d.trigger <> 'shipment_event' AND s.source_topic = $2"
            " ORDER BY d.recorded_at LIMIT $1",
            limit,
            self._source,
        )
        return [(r["decision_id"], r["shipment_id"], r["payload"]) for r in rows]


def _within_cap(
    licence: License,
    used: Sequence[tuple[Decimal, Unit]],
    wanted: Sequence[tuple[int, Decimal, Unit]],
) -> bool:
    cap = licence.max_quantity
    assert cap is not None
    try:
        total = sum((convert(a, u, cap.unit) for a, u in used), Decimal(0))
        total += sum((convert(a, u, cap.unit) for _, a, u in wanted), Decimal(0))
    except IncompatibleUnitsError:
        return False
    return total <= cap.amount
