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
        self, events: Sequence[ShipmentEvent], timings: dict[str, float] | None = None
    ) -> list[Screened | Exception]:
        """One result per event, in order: the decision to emit, or the engine's error.

        ``timings`` receives where the last attempt's time went (seconds): ``snapshot_s``,
        ``decide_s``, ``settle_s``.
        """
        lock_more: set[str] = set()
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await self._attempt(events, lock_more, timings)
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
        snapshot = await read_snapshot(
            self._ledger.pool, [e.event_id for e in events], shipments, list(every.values())
        )
        read = time.monotonic()
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
        decided = time.monotonic()
        if new:
            await self._settle(new, snapshot, licences, every, lock_more, catalogue, encoder)
        if timings is not None:
            timings.update(
                snapshot_s=read - started,
                decide_s=decided - read,
                settle_s=time.monotonic() - decided,
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
                parties=self._reference.parties,  # controlled-party screening
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
