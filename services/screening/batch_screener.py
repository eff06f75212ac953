"""Decide a whole batch of shipment events in memory, then settle it in one transaction (ADR 0024).

1. one snapshot read: stored decisions of the batch's events, latest decision per shipment,
   usage of every capped or single-use licence the batch's exporters hold;
2. every event decided in batch order against a running usage (a decision consumes before the
   next event is decided); a repeated event re-emits the stored or earlier decision;
3. one transaction: shipments locked and checked unchanged, the consumed licences locked and
   their usage read again; a decision that no longer fits is taken again on the fresh usage
   (same ``decided_at``, same id); bulk writes. If a shipment moved meanwhile, or a re-decision
   needs a licence that is not locked, the transaction is rolled back and the batch starts over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import Decision, License, ShipmentEvent, Trigger, utc_now
from services.common.logging import get_logger
from services.screening.batch_ledger import BatchTransaction, Settled, Snapshot, read_snapshot
from services.screening.catalogue import Catalogue
from services.screening.decision_json import DecisionEncoder
from services.screening.engine import decide
from services.screening.ledger import Ledger
from services.screening.metrics import ScreeningMetrics
from services.screening.reference_data import ReferenceData
from services.screening.running_usage import RunningUsage, consumption_of, tracked
from services.screening.screener import MAX_ATTEMPTS, LedgerContentionError, Screened

log = get_logger(__name__)


class _RestartError(Exception):
    """The batch must be decided again (a shipment moved, or more licences must be locked)."""

    def __init__(self, licences: set[str] | None = None) -> None:
        super().__init__("restart")
        self.licences = licences or set()


@dataclass(frozen=True)
class Overlay:
    """A batch's new decisions, known before they are settled (ADR 0026).

    The next batch is decided on its snapshot with these laid over it: each shipment's latest
    decision and consumption. The next batch reads the usage rows of these shipments one by one,
    so the overlay replaces them exactly whether its snapshot was taken before or after this
    batch committed (amendments and cancellations release consumption: an aggregate read
    before the commit would count it twice and hold what fits). Before it settles, the next
    batch checks that this batch settled exactly these decisions (else it decides again); its
    settle re-checks the rest under its locks, as always (ADR 0024).
    """

    decisions: dict[str, Decision]
    """decision_id -> every new decision of the batch."""
    latest: dict[str, Decision]
    """shipment_id -> the last new decision of the batch for it."""
    payloads: dict[str, str]
    """event_id -> the JSON of its new decision (a repeat in the next batch re-emits it)."""

    @classmethod
    def of(cls, new: Sequence[_Planned]) -> Overlay:
        decisions: dict[str, Decision] = {}
        latest: dict[str, Decision] = {}
        payloads: dict[str, str] = {}
        for plan in new:
            if plan.decision is not None and plan.payload is not None:
                decisions[plan.decision.decision_id] = plan.decision
                latest[plan.decision.shipment_id] = plan.decision
                payloads[plan.event.event_id] = plan.payload
        return cls(decisions, latest, payloads)

    def over(self, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` (read with this batch's shipments tracked one by one) with this batch's
        decisions laid over it: its events decided, its shipments' latest decision and
        consumption."""
        if not self.decisions:
            return snapshot
        latest = dict(snapshot.latest)
        for shipment, decision in self.latest.items():
            latest[shipment] = decision.decision_id
            snapshot.usage.apply(decision)
        return Snapshot({**snapshot.stored, **self.payloads}, latest, snapshot.usage)

    def confirmed_by(self, settled: asyncio.Future[Any]) -> bool:
        """Whether the batch settled exactly the decisions it planned (else: decide again)."""
        if settled.cancelled() or settled.exception() is not None:
            return False
        final: dict[str, Decision] = {}
        for result in settled.result():
            if isinstance(result, Screened) and result.decision is not None:
                final[result.decision.decision_id] = result.decision
        return final == self.decisions


@dataclass(frozen=True)
class Ahead:
    """Deciding a batch ahead: the previous batch's overlay, and its screening to settle after."""

    overlay: Overlay
    previous: asyncio.Future[Any]


@dataclass
class _Planned:
    event: ShipmentEvent
    decided_at: datetime
    supersedes: str | None
    decision: Decision | None = None
    payload: str | None = None
    error: Exception | None = None
    duplicate_of: _Planned | None = None
    stored: str | None = None
    event_json: str | None = None
    """``event.model_dump_json()``, once: in the decision's evidence and the shipment's row."""


class BatchScreener:
    """The consume loop's screener: decisions for a batch, in order, one transaction."""

    def __init__(
        self,
        ledger: Ledger,
        reference: ReferenceData,
        metrics: ScreeningMetrics,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._ledger = ledger
        self._reference = reference
        self._metrics = metrics
        self._clock = clock

    async def screen_batch(
        self,
        events: Sequence[ShipmentEvent],
        *,
        ahead: Ahead | None = None,
        decided: asyncio.Future[Overlay | None] | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Screened | Exception]:
        """One result per event, in order: the decision to emit, or the engine's error.

        ``ahead``: the previous batch is still settling (ADR 0026). The first attempt decides on
        its overlay; every attempt settles only once the previous batch's screening is over.
        ``decided`` gets this batch's :class:`Overlay` as soon as it is decided (before it
        settles), for the next batch. ``timings`` receives where the time went (seconds).
        """
        lock_more: set[str] = set()
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await self._attempt(
                    events,
                    lock_more,
                    ahead.overlay if ahead is not None and attempt == 0 else None,
                    ahead.previous if ahead is not None else None,
                    decided,
                    timings,
                )
            except _RestartError as restart:
                lock_more |= restart.licences
                self._metrics.ledger_conflicts.inc()
                log.info("ledger moved under the batch; deciding again", attempt=attempt)
                await asyncio.sleep(min(0.005 * attempt, 0.1))
        raise LedgerContentionError("the ledger kept changing under the batch")

    async def _attempt(
        self,
        events: Sequence[ShipmentEvent],
        lock_more: set[str],
        overlay: Overlay | None,
        after: asyncio.Future[Any] | None,
        decided: asyncio.Future[Overlay | None] | None,
        timings: dict[str, float] | None,
    ) -> list[Screened | Exception]:
        catalogue = self._reference.require_catalogue()
        licences: dict[str, list[License]] = {}
        for e in events:
            if e.exporter.id not in licences:
                licences[e.exporter.id] = self._reference.licences_of(e.exporter.id)
        every = {lic.license_id: lic for group in licences.values() for lic in group}
        shipments = sorted({e.shipment_id for e in events})
        started = time.monotonic()
        # Decided ahead: the previous batch's shipments are read one by one as well, so that its
        # decisions replace their rows exactly, whether it committed before this read or not.
        tracked_shipments = shipments if overlay is None else sorted({*shipments, *overlay.latest})
        snapshot = await read_snapshot(
            self._ledger.pool,
            [e.event_id for e in events],
            tracked_shipments,
            list(every.values()),
        )
        read = time.monotonic()
        if overlay is not None:
            snapshot = overlay.over(snapshot)
        usage = snapshot.usage.replace(snapshot.usage, [])
        latest: dict[str, str | None] = dict(snapshot.latest)
        plans: list[_Planned] = []
        first: dict[str, _Planned] = {}
        encoder = DecisionEncoder()
        for e in events:
            plan = _Planned(e, self._clock(), latest.get(e.shipment_id))
            plans.append(plan)
            if e.event_id in snapshot.stored:
                plan.stored = snapshot.stored[e.event_id]
                continue
            if e.event_id in first:
                plan.duplicate_of = first[e.event_id]
                continue
            self._decide(plan, licences[e.exporter.id], usage, catalogue, encoder)
            if plan.decision is not None:
                first[e.event_id] = plan
                usage.apply(plan.decision)
                latest[e.shipment_id] = plan.decision.decision_id
        new = [p for p in plans if p.decision is not None]
        decided_at = time.monotonic()
        if after is not None:  # settle after the previous batch, whatever became of it
            await asyncio.wait([after])
            if overlay is not None and not overlay.confirmed_by(after):
                raise _RestartError()  # it settled other decisions than it planned
        # Only now may the next batch be decided on this one: a batch that had to decide again
        # would otherwise make every batch after it decide again too.
        if decided is not None and not decided.done():
            decided.set_result(Overlay.of(new))
        settle_from = time.monotonic()
        if new:
            await self._settle(new, snapshot, licences, every, lock_more, catalogue, encoder)
        if timings is not None:
            timings.update(
                snapshot_s=read - started,
                decide_s=decided_at - read,
                previous_s=settle_from - decided_at,
                settle_s=time.monotonic() - settle_from,
            )
        return [self._result(p) for p in plans]

    def _decide(
        self,
        plan: _Planned,
        candidates: list[License],
        usage: RunningUsage,
        catalogue: Catalogue,
        encoder: DecisionEncoder,
    ) -> None:
        e = plan.event
        try:
            plan.decision = decide(
                e,
                catalogue,
                candidates,
                usage.usage_for(e.shipment_id, (c.license_id for c in candidates if tracked(c))),
                decided_at=plan.decided_at,
                trigger=Trigger.SHIPMENT_EVENT,
                supersedes=plan.supersedes,
            )
            if plan.event_json is None:
                plan.event_json = e.model_dump_json()
            plan.payload = encoder.encode(plan.decision, e, plan.event_json)
        except Exception as exc:  # a defect, not the input's: the event is dead-lettered
            plan.decision, plan.error = None, exc

    async def _settle(
        self,
        new: list[_Planned],
        snapshot: Snapshot,
        licences: dict[str, list[License]],
        every: dict[str, License],
        lock_more: set[str],
        catalogue: Catalogue,
        encoder: DecisionEncoder,
    ) -> None:
        expected: dict[str, str | None] = {}
        for p in new:
            expected.setdefault(p.event.shipment_id, snapshot.latest.get(p.event.shipment_id))
        consumed = {
            lid for p in new if p.decision is not None for lid in consumption_of(p.decision)
        }
        to_lock = {lid for lid in consumed | lock_more if lid in every and tracked(every[lid])}
        if consumed - set(every):
            raise LedgerContentionError("a decision consumes a licence no longer known")
        async with self._ledger.pool.acquire() as conn, conn.transaction():
            tx = BatchTransaction(conn, self._ledger.source_topic)
            if not await tx.lock_shipments_unchanged(expected, [p.event.event_id for p in new]):
                raise _RestartError()
            if to_lock:
                fresh = await tx.lock_licences(to_lock, list(every.values()), sorted(expected))
                self._recheck(new, snapshot, fresh, to_lock, licences, catalogue, encoder)
            await tx.write(
                [
                    Settled(p.event, p.decision, p.payload, p.event_json)
                    for p in new
                    if p.decision and p.payload
                ],
                existing=snapshot.latest,
                licences=every,
            )

    def _recheck(
        self,
        new: list[_Planned],
        snapshot: Snapshot,
        fresh: RunningUsage,
        locked: set[str],
        licences: dict[str, list[License]],
        catalogue: Catalogue,
        encoder: DecisionEncoder,
    ) -> None:
        """Walk the batch again on the locked truth; re-decide what no longer fits."""
        usage = snapshot.usage.replace(fresh, locked)
        for p in new:
            assert p.decision is not None
            if not usage.fits(p.decision):
                self._metrics.ledger_conflicts.inc()
                self._decide(p, licences[p.event.exporter.id], usage, catalogue, encoder)
                if p.decision is None:  # the engine failed this time: start over
                    raise _RestartError()
                outside = set(consumption_of(p.decision)) - locked
                if outside:
                    raise _RestartError(outside)
                if not usage.fits(p.decision):
                    raise _RestartError()
            usage.apply(p.decision)

    def _result(self, plan: _Planned) -> Screened | Exception:
        if plan.stored is not None:
            self._metrics.duplicates.inc()
            return _stored(plan.stored)
        if plan.duplicate_of is not None:
            original = plan.duplicate_of
            assert original.decision is not None
            assert original.payload is not None
            self._metrics.duplicates.inc()
            return Screened(
                original.decision.decision_id, original.decision.shipment_id, original.payload, None
            )
        if plan.error is not None:
            return plan.error
        assert plan.decision is not None
        assert plan.payload is not None
        return Screened(
            plan.decision.decision_id, plan.decision.shipment_id, plan.payload, plan.decision
        )


def _stored(payload: str) -> Screened:
    stored = Decision.model_validate_json(payload)
    return Screened(stored.decision_id, stored.shipment_id, payload, None)
