"""Re-screening: when licences or the catalogue change, held shipments are decided again.

A licence change re-screens the open holds of its holder; a catalogue version re-screens every
open hold and every approval whose ship date has not passed. A new decision (trigger
``license_change`` / ``catalogue_change``, ``supersedes`` set) is emitted only when the outcome,
reasons or licences changed. Several instances may do this at once: settling checks that the
shipment's latest decision is still the one re-screened, under a per-shipment lock, and decision
ids are deterministic, so at most one instance records (and emits) each new decision.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from typing import TypeVar

from schemas import Trigger
from services.common.logging import get_logger
from services.screening.catalogue import Catalogue
from services.screening.consumer import Topics
from services.screening.ledger import Ledger, ShipmentState
from services.screening.metrics import ScreeningMetrics
from services.screening.parties.follower import PartyListChange
from services.screening.parties.rescreen import affected, decided_on_another_list
from services.screening.publish import Publisher
from services.screening.reference_data import LicenceChange, ReferenceData
from services.screening.retry import retry_transient
from services.screening.screener import Screened, Screener

log = get_logger(__name__)
T = TypeVar("T")


def _today() -> date:
    return datetime.now(UTC).date()


class Rescreener:
    """Listens to reference-data changes and re-screens the shipments they affect."""

    def __init__(
        self,
        *,
        screener: Screener,
        ledger: Ledger,
        reference: ReferenceData,
        publisher: Publisher,
        topics: Topics,
        metrics: ScreeningMetrics,
        stopping: Callable[[], bool],
        today: Callable[[], date] = _today,
        concurrency: int = 8,
        max_delay: float = 5.0,
    ) -> None:
        self._screener = screener
        self._ledger = ledger
        self._reference = reference
        self._publisher = publisher
        self._topics = topics
        self._metrics = metrics
        self._stopping = stopping
        self._today = today
        self._concurrency = concurrency
        self._max_delay = max_delay

    async def on_change(self, change: LicenceChange | Catalogue | PartyListChange) -> None:
        """The reference follower's listener."""
        if isinstance(change, PartyListChange):  # controlled parties: services/screening/parties
            await self._on_party_change(change)
            return
        if isinstance(change, LicenceChange):
            holders = {lic.holder_id for lic in (change.before, change.after) if lic is not None}
            states = await self._retry(lambda: self._ledger.open_holds(holders), "rescreen_read")
            log.info(
                "licence changed; re-screening holds",
                license_id=change.license_id,
                withdrawn=change.after is None,
                holds=len(states),
            )
            await self.rescreen(states, Trigger.LICENSE_CHANGE)
            return
        self._metrics.catalogue.info({"version": change.version, "source": "published"})
        holds = await self._retry(lambda: self._ledger.open_holds(), "rescreen_read")
        approvals = await self._retry(
            lambda: self._ledger.approvals_not_shipped(self._today()), "rescreen_read"
        )
        log.info(
            "catalogue changed; re-screening",
            catalogue_version=change.version,
            holds=len(holds),
            approvals=len(approvals),
        )
        await self.rescreen([*holds, *approvals], Trigger.CATALOGUE_CHANGE)

    async def _on_party_change(self, change: PartyListChange) -> None:
        """Open holds and unshipped approvals whose consignee or end user the change touches."""
        holds = await self._retry(lambda: self._ledger.open_holds(), "rescreen_read")
        approvals = await self._retry(
            lambda: self._ledger.approvals_not_shipped(self._today()), "rescreen_read"
        )
        states = affected([*holds, *approvals], change)
        log.info("party list changed; re-screening", shipments=len(states))
        await self.rescreen(states, Trigger.PARTY_LIST_CHANGE)

    async def catch_up(self) -> None:
        """At start: emit stored but unacknowledged decisions, then re-screen every open hold."""
        pending = await self._retry(lambda: self._ledger.unpublished(), "republish")
        if pending:
            log.info("re-emitting unacknowledged decisions", count=len(pending))
            await self._emit([(d, s, p) for d, s, p in pending])
        holds = await self._retry(lambda: self._ledger.open_holds(), "rescreen_read")
        version = self._reference.require_catalogue().version
        by_catalogue = [s for s in holds if s.latest_decision.catalogue_version != version]
        by_licence = [s for s in holds if s.latest_decision.catalogue_version == version]
        await self.rescreen(by_catalogue, Trigger.CATALOGUE_CHANGE)
        # Controlled parties (services/screening/parties): holds and unshipped approvals decided
        # on another party list than the one now in force.
        approvals = await self._retry(
            lambda: self._ledger.approvals_not_shipped(self._today()), "rescreen_read"
        )
        by_parties = decided_on_another_list([*by_licence, *approvals], self._reference.parties)
        await self.rescreen(by_parties, Trigger.PARTY_LIST_CHANGE)
        chosen = {s.shipment_id for s in by_parties}
        by_licence = [s for s in by_licence if s.shipment_id not in chosen]
        await self.rescreen(by_licence, Trigger.LICENSE_CHANGE)

    async def rescreen(self, states: Sequence[ShipmentState], trigger: Trigger) -> list[Screened]:
        """Re-screen ``states``; emit and return the new decisions."""
        gate = asyncio.Semaphore(self._concurrency)

        async def one(state: ShipmentState) -> Screened | None:
            async with gate:
                return await self._retry(
                    lambda: self._screener.rescreen(state, trigger), "rescreen"
                )

        results = [r for r in await asyncio.gather(*(one(s) for s in states)) if r is not None]
        for screened in results:
            if screened.decision is not None:
                self._metrics.observe_decision(screened.decision)
                log.info(
                    "re-screened",
                    shipment_id=screened.shipment_id,
                    decision_id=screened.decision_id,
                    trigger=trigger.value,
                    outcome=screened.decision.outcome.value,
                    supersedes=screened.decision.supersedes,
                )
        await self._emit([(s.decision_id, s.shipment_id, s.payload) for s in results])
        return results

    async def _emit(self, decisions: Sequence[tuple[str, str, str]]) -> None:
        if not decisions:
            return

        async def send_all() -> None:
            futures = [
                await self._publisher.send(self._topics.decisions, s.encode(), p.encode(), d)
                for d, s, p in decisions
            ]
            await asyncio.gather(*futures)

        await self._retry(send_all, "produce")
        ids = [d for d, _, _ in decisions]
        await self._retry(lambda: self._ledger.mark_published(ids), "mark_published")

    async def _retry(self, operation: Callable[[], Awaitable[T]], stage: str) -> T:
        return await retry_transient(
            operation,
            stage=stage,
            metrics=self._metrics,
            stopping=self._stopping,
            max_delay=self._max_delay,
        )
