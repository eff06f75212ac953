"""Reading the shipments a what-if re-decides: the latest decision per shipment, from the ledger.

Read in one read-only transaction (a consistent snapshot; the ledger cannot be changed through
it), in shipment order, in pages so that a large ledger does not sit in memory twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import asyncpg

from services.screening.whatif import RecordedShipment

_QUERY = """
SELECT s.shipment_id, s.exporter_id, s.ship_date, s.cancelled, d.payload
  FROM screening.shipments s
  JOIN screening.decisions d ON d.decision_id = s.latest_decision_id
 WHERE s.source_topic = $1
   AND ($2::date IS NULL OR s.ship_date >= $2)
   AND ($3::date IS NULL OR s.ship_date <= $3)
   AND ($4::text IS NULL OR s.exporter_id = $4)
 ORDER BY s.shipment_id
"""


async def recorded_shipments(
    conn: asyncpg.Connection,
    source_topic: str,
    *,
    ship_from: date | None = None,
    ship_to: date | None = None,
    exporter: str | None = None,
    page: int = 2000,
) -> AsyncIterator[RecordedShipment]:
    """Every shipment of ``source_topic`` with a ship date in [from, to] (inclusive)."""
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        cursor = conn.cursor(_QUERY, source_topic, ship_from, ship_to, exporter, prefetch=page)
        async for row in cursor:
            yield RecordedShipment(
                shipment_id=row["shipment_id"],
                exporter_id=row["exporter_id"],
                ship_date=row["ship_date"],
                cancelled=row["cancelled"],
                decision=row["payload"],
            )
