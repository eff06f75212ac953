"""The licence ledger and decision store in PostgreSQL (schema ``screening``): the pool, and the
reads of re-screening and of re-emitting (what shipments to decide again, what was never sent).

Decisions and consumption are written by one path only, the batch path of :mod:`screener` (SQL in
:mod:`batch_ledger`, ADR 0027).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from schemas import Decision, Outcome, ShipmentEvent
from services.common.pool import create_pool


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


#: Told of a stored shipment that no longer parses (its id and the error): it is skipped.
Unreadable = Callable[[str, Exception], None]


def _states(rows: Iterable[asyncpg.Record], unreadable: Unreadable | None) -> list[ShipmentState]:
    """The rows that parse; a row stored under older, looser validation rules may not, and one
    such shipment must not stop the others from being re-screened."""
    states: list[ShipmentState] = []
    for row in rows:
        try:
            states.append(_state(row))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            if unreadable is None:
                raise
            unreadable(row["shipment_id"], exc)
    return states


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

    async def open_holds(
        self, exporter_ids: Iterable[str] | None = None, *, unreadable: Unreadable | None = None
    ) -> list[ShipmentState]:
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
        return _states(rows, unreadable)

    async def state_of(self, shipment_id: str) -> ShipmentState | None:
        """The shipment's latest decision and event (review releases), or None."""
        row = await self._pool.fetchrow(
            f"SELECT {_STATE_COLUMNS} FROM {_STATE_FROM}"  # noqa: S608
            " WHERE s.source_topic = $1 AND s.shipment_id = $2",
            self._source,
            shipment_id,
        )
        return None if row is None else _state(row)

    async def approvals_not_shipped(
        self, today: date, *, unreadable: Unreadable | None = None
    ) -> list[ShipmentState]:
        """Approved, not cancelled shipments whose ship date has not passed."""
        rows = await self._pool.fetch(
            f"SELECT {_STATE_COLUMNS} FROM {_STATE_FROM} WHERE s.outcome = 'approve'"  # noqa: S608
            " AND s.source_topic = $2 AND NOT s.cancelled AND s.ship_date >= $1"
            " ORDER BY s.shipment_id",
            today,
            self._source,
        )
        return _states(rows, unreadable)

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
