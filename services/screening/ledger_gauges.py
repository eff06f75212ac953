"""Open holds and licence utilisation, read from the ledger every ``REFRESH_S`` seconds.

Neither is in the service's memory: holds and consumption live in PostgreSQL, shared by every
instance. Two aggregate queries (a count over ``screening.shipments``, a sum over
``screening.consumption`` for the capped licences) run on a timer rather than per scrape, so a
scraper cannot put load on the database; every instance reports the same cluster-wide values
(aggregate with ``max``, not ``sum``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from decimal import Decimal

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

from schemas import IncompatibleUnitsError, License, Unit, convert
from services.common.logging import get_logger

log = get_logger(__name__)

REFRESH_S = 30.0
_OPEN_HOLDS = (
    "SELECT count(*) FROM screening.shipments"
    " WHERE source_topic = $1 AND outcome = 'hold' AND NOT cancelled"
)
_CONSUMED = (
    "SELECT license_id, unit, sum(amount) AS amount FROM screening.consumption"
    " WHERE license_id = ANY($1::text[]) GROUP BY license_id, unit"
)


class LedgerGauges:
    """``lodestone_screening_open_holds`` and ``lodestone_screening_licence_utilisation_ratio``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.open_holds = Gauge(
            "lodestone_screening_open_holds",
            "Shipments whose latest decision is a hold (not cancelled), in the whole ledger.",
            registry=registry,
        )
        self.utilisation = Gauge(
            "lodestone_screening_licence_utilisation_ratio",
            "Quantity consumed of each capped licence, as a share of its cap (1 = exhausted).",
            ["licence"],
            registry=registry,
        )
        self._reported: set[str] = set()

    async def refresh(
        self, pool: asyncpg.Pool, source_topic: str, licences: Iterable[License]
    ) -> None:
        """Read both from the database and set the gauges."""
        capped = {lic.license_id: lic for lic in licences if lic.max_quantity is not None}
        holds = await pool.fetchval(_OPEN_HOLDS, source_topic)
        rows = await pool.fetch(_CONSUMED, sorted(capped))
        self.open_holds.set(int(holds or 0))
        used: dict[str, Decimal] = dict.fromkeys(capped, Decimal(0))
        for row in rows:
            cap = capped[row["license_id"]].max_quantity
            assert cap is not None
            try:
                used[row["license_id"]] += convert(row["amount"], Unit(row["unit"]), cap.unit)
            except IncompatibleUnitsError:  # never consumed against this cap: not counted
                continue
        for licence_id, amount in used.items():
            cap = capped[licence_id].max_quantity
            assert cap is not None
            self.utilisation.labels(licence_id).set(float(amount / cap.amount))
        for gone in self._reported - set(used):  # withdrawn or no longer capped
            self.utilisation.remove(gone)
        self._reported = set(used)

    async def run(
        self,
        pool: asyncpg.Pool,
        source_topic: str,
        licences: Callable[[], Iterable[License]],
        stopping: Callable[[], bool],
    ) -> None:
        """Refresh until stopped; a failed refresh is logged and tried again next time."""
        while not stopping():
            try:
                await self.refresh(pool, source_topic, licences())
            except Exception as exc:  # a gauge must never take the service down
                log.warning("ledger gauges not refreshed", error=repr(exc))
            await asyncio.sleep(REFRESH_S)
