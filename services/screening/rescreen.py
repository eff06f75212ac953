"""Re-screening: when licences or the catalogue change, held shipments are decided again.

A licence change re-screens the open holds of its holder; a catalogue version re-screens every
open hold and every approval whose ship date has not passed. The shipments go, in batches, through
the same settle path as shipment events (:class:`Screener`, ADR 0027). A new decision (trigger
``license_change`` / ``catalogue_change``, ``supersedes`` set) is emitted only when the outcome,
reasons or licences changed. Several instances may do this at once: settling checks that the
shipment's latest decision is still the one re-screened, under a per-shipment lock, and decision
ids are deterministic, so at most one instance records (and emits) each new decision.

A shipment that cannot be re-screened (a defect met by the engine on its event) is logged and
counted (``lodestone_screening_rescreen_failures_total``) and keeps its decision; the others go
on. No single shipment can end the reference-data task or stop the service from starting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from typing import TypeVar

from schemas import Trigger
from services.common.logging import get_logger
from services.screening.catalogue import Catalogue
from services.screening.config import Topics
from services.screening.ledger import Ledger, ShipmentState
from services.screening.metrics import ScreeningMetrics
from services.screening.parties.follower import PartyListChange
from services.screening.parties.rescreen import affected, decided_on_another_list
from services.screening.publish import Publisher
from services.screening.reference_data import LicenceChange, ReferenceData
from services.screening.retry import retry_transient
from services.screening.review_release import Release
from services.screening.screener import Rescreen, Result, Screened, Screener

log = get_logger(__name__)
T = TypeVar("T")

#: Shipments re-screened per batch (one snapshot, one transaction, one emit).
RESCREEN_BATCH = 200


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
        batch_size: int = RESCREEN_BATCH,
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
        self._batch_size = batch_size
        self._max_delay = max_delay

    async def on_change(self, change: LicenceChange | Catalogue | PartyListChange) -> None:
        """The reference follower's listener."""
        if isinstance(change, PartyListChange):  # controlled parties: services/screening/parties
            await self._on_party_change(change)
            return
        if isinstance(change, LicenceChange):
            holders = {lic.holder_id for lic in (change.before, change.after) if lic is not None}
            unreadable = self._unreadable(Trigger.LICENSE_CHANGE)
            states = await self._retry(
                lambda: self._ledger.open_holds(holders, unreadable=unreadable), "rescreen_read"
            )
            log.info(
                "licence changed; re-screening holds",
                license_id=change.license_id,
                withdrawn=change.after is None,
                holds=len(states),
            )
            await self.rescreen(states, Trigger.LICENSE_CHANGE)
            return
        self._metrics.catalogue.info({"version": change.version, "source": "published"})
        unreadable = self._unreadable(Trigger.CATALOGUE_CHANGE)
        holds = await self._retry(
            lambda: self._ledger.open_holds(unreadable=unreadable), "rescreen_read"
        )
        approvals = await self._retry(
            lambda: self._ledger.approvals_not_shipped(self._today(), unreadable=unreadable),
            "rescreen_read",
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
        unreadable = self._unreadable(Trigger.LICENSE_CHANGE)
        holds = await self._retry(
            lambda: self._ledger.open_holds(unreadable=unreadable), "rescreen_read"
        )
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

    async def on_release(self, release: Release) -> list[Screened]:
        """Review releases: decide the shipment again with ``release`` applied, if the released
        decision is still its latest (a release of an older decision has no effect)."""
        state = await self._retry(lambda: self._ledger.state_of(release.shipment_id), "review")
        if state is None or state.latest_decision_id != release.decision_id:
            log.info(
                "release of a decision that is not the shipment's latest; ignored",
                shipment_id=release.shipment_id,
                decision_id=release.decision_id,
            )
            return []
        return await self.rescreen([state], Trigger.REVIEW, release)

    async def rescreen(
        self, states: Sequence[ShipmentState], trigger: Trigger, release: Release | None = None
    ) -> list[Screened]:
        """Re-screen ``states``, a batch at a time; emit and return the new decisions."""
        emitted: list[Screened] = []
        for start in range(0, len(states), self._batch_size):
            chunk = states[start : start + self._batch_size]
            results = await self._screener.screen_all(
                [Rescreen(state, trigger, release) for state in chunk],
                retry=self._retry_rescreen,
                stopping=self._stopping,
            )
            new = [
                kept
                for state, result in zip(chunk, results, strict=True)
                if (kept := self._kept(state, result, trigger)) is not None
            ]
            await self._emit([(s.decision_id, s.shipment_id, s.payload) for s in new])
            emitted.extend(new)
        return emitted

    def _unreadable(self, trigger: Trigger) -> Callable[[str, Exception], None]:
        def skip(shipment_id: str, error: Exception) -> None:
            self._metrics.rescreen_failures.labels(trigger.value).inc()
            log.error(
                "stored shipment unreadable; not re-screened",
                shipment_id=shipment_id,
                trigger=trigger.value,
                error=str(error).splitlines()[0],
            )

        return skip

    def _kept(self, state: ShipmentState, result: Result, trigger: Trigger) -> Screened | None:
        if isinstance(result, Exception):
            self._metrics.rescreen_failures.labels(trigger.value).inc()
            log.error(
                "re-screen failed; the shipment keeps its decision",
                shipment_id=state.shipment_id,
                decision_id=state.latest_decision_id,
                trigger=trigger.value,
                error=repr(result),
            )
            return None
        if result is not None and result.decision is not None:
            self._metrics.observe_decision(result.decision)
            log.info(
                "re-screened",
                shipment_id=result.shipment_id,
                decision_id=result.decision_id,
                trigger=trigger.value,
                outcome=result.decision.outcome.value,
                supersedes=result.decision.supersedes,
            )
        return result

    async def _retry_rescreen(
        self, operation: Callable[[], Awaitable[list[Result]]]
    ) -> list[Result]:
        return await self._retry(operation, "rescreen")

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
