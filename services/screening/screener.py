"""Decide a batch of shipment events and re-screens in memory, then settle it in one transaction.

The one path that takes and records decisions (ADR 0027): the consume loop hands it the events of
a batch; re-screening hands it the shipments to decide again (:class:`Rescreen`).

1. one snapshot read: stored decisions of the batch's events, latest decision per shipment,
   usage of every capped or single-use licence the batch's exporters hold;
2. every item decided in order against a running usage (a decision consumes before the next item
   is decided); a repeated event re-emits the stored or earlier decision; a re-screen whose
   shipment has a newer decision than the one re-screened, or whose new decision changes nothing
   an operator acts on, is dropped;
3. one transaction: shipments locked and checked unchanged, the consumed licences locked and
   their usage read again; a decision that no longer fits is taken again on the fresh usage
   (same ``decided_at``, same id); bulk writes. If a shipment moved meanwhile, or a re-decision
   needs a licence that is not locked, the transaction is rolled back and the batch starts over.

:meth:`Screener.screen_all` adds the fallback: a batch that fails on a defect (not a transient
failure) is settled again on the same path one item at a time, so that a defect costs only the
item it is in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas import Decision, License, ShipmentEvent, Trigger, utc_now
from services.common.logging import get_logger
from services.screening.batch_ledger import BatchTransaction, Settled, Snapshot, read_snapshot
from services.screening.catalogue import Catalogue
from services.screening.decision_json import DecisionEncoder
from services.screening.engine import decide
from services.screening.ledger import Ledger, ShipmentState
from services.screening.metrics import ScreeningMetrics
from services.screening.reference_data import ReferenceData
from services.screening.review_release import Release, carry_releases, with_release
from services.screening.running_usage import (
    RunningUsage,
    consumed_rows,
    consumption_of,
    tracked,
)

log = get_logger(__name__)

MAX_ATTEMPTS = 50


class LedgerContentionError(RuntimeError):
    """The ledger kept moving under a batch; treated as transient (retried)."""


@dataclass(frozen=True)
class Screened:
    """A decision to emit: its JSON exactly as stored, and whether it was new."""

    decision_id: str
    shipment_id: str
    payload: str
    decision: Decision | None
    """The new decision (``None`` when an already stored one is re-emitted)."""


@dataclass(frozen=True)
class Rescreen:
    """A shipment to decide again on its latest event, because licences or the catalogue changed
    (or, trigger ``review``, because two reviewers released lines of its latest decision)."""

    state: ShipmentState
    trigger: Trigger
    #: Review releases (review_release.py): the release that triggers this re-screen.
    release: Release | None = None


#: What the batch path is given: a shipment event to decide, or a shipment to decide again.
Item = ShipmentEvent | Rescreen
#: Per item: the decision to emit, the engine's error, or ``None`` for a re-screen that is
#: dropped (nothing changed, or the shipment was decided again meanwhile).
Result = Screened | Exception | None


class Retrying(Protocol):
    """Runs an operation until it succeeds or fails on something that is not transient."""

    async def __call__(self, operation: Callable[[], Awaitable[list[Result]]]) -> list[Result]: ...


def same_substance(before: Decision, after: Decision) -> bool:
    """Whether a re-screen changed nothing an operator acts on (outcome, reasons, licences,
    and warnings: a hold whose measure's status an announcement now confirms is news)."""

    def reasons(d: Decision) -> set[tuple[str, int | None, str | None]]:
        return {(r.code.value, r.line_no, r.control_id) for r in d.reasons}

    def licences(d: Decision) -> set[tuple[int, str | None]]:
        return {(line.line_no, line.license_id) for line in d.lines}

    def warnings(d: Decision) -> set[tuple[str, str | None]]:
        return {(w.code.value, w.control_id) for w in d.warnings}

    return (
        before.outcome is after.outcome
        and reasons(before) == reasons(after)
        and licences(before) == licences(after)
        and warnings(before) == warnings(after)
    )


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
    trigger: Trigger = Trigger.SHIPMENT_EVENT
    previous: Decision | None = None
    """A re-screen: the decision it would supersede."""
    release: Release | None = None
    """Review releases: the release a ``review`` re-screen applies."""
    dropped: bool = False
    """A re-screen with nothing new to say."""
    decision: Decision | None = None
    payload: str | None = None
    error: Exception | None = None
    duplicate_of: _Planned | None = None
    stored: str | None = None
    event_json: str | None = None
    """``event.model_dump_json()``, once: in the decision's evidence and the shipment's row."""


def _event_of(item: Item) -> ShipmentEvent:
    return item if isinstance(item, ShipmentEvent) else item.state.event


class Screener:
    """Decisions for a batch of items, in order, settled in one transaction."""

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

    async def screen_all(
        self,
        items: Sequence[Item],
        *,
        retry: Retrying,
        stopping: Callable[[], bool],
        timings: dict[str, float] | None = None,
    ) -> list[Result]:
        """:meth:`screen` under ``retry``; if the batch fails on a defect, the same path one
        item at a time, the failing items' errors in their places. Raises only when
        ``stopping()`` (the batch is then left as it is, to be done again)."""
        if not items:
            return []
        try:
            return await retry(lambda: self.screen(items, timings))
        except Exception:
            if stopping():
                raise
            log.exception("the batch could not be settled; settling its items one at a time")
        results: list[Result] = []
        for item in items:
            try:
                results.extend(await retry(self._alone(item)))
            except Exception as exc:
                if stopping():
                    raise
                results.append(exc)
        return results

    def _alone(self, item: Item) -> Callable[[], Awaitable[list[Result]]]:
        return lambda: self.screen([item])

    async def screen(
        self, items: Sequence[Item], timings: dict[str, float] | None = None
    ) -> list[Result]:
        """One result per item, in order (see :data:`Result`).

        ``timings`` receives where the last attempt's time went (seconds): ``snapshot_s``,
        ``decide_s``, ``settle_s``.
        """
        lock_more: set[str] = set()
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await self._attempt(items, lock_more, timings)
            except _RestartError as restart:
                lock_more |= restart.licences
                self._metrics.ledger_conflicts.inc()
                log.info("ledger moved under the batch; deciding again", attempt=attempt)
                await asyncio.sleep(min(0.005 * attempt, 0.1))
        raise LedgerContentionError("the ledger kept changing under the batch")

    async def _attempt(
        self,
        items: Sequence[Item],
        lock_more: set[str],
        timings: dict[str, float] | None,
    ) -> list[Result]:
        catalogue = self._reference.require_catalogue()
        events = [_event_of(item) for item in items]
        licences: dict[str, list[License]] = {}
        for e in events:
            if e.exporter.id not in licences:
                licences[e.exporter.id] = self._reference.licences_of(e.exporter.id)
        every = {lic.license_id: lic for group in licences.values() for lic in group}
        shipments = sorted({e.shipment_id for e in events})
        started = time.monotonic()
        snapshot = await read_snapshot(
            self._ledger.pool,
            [item.event_id for item in items if isinstance(item, ShipmentEvent)],
            shipments,
            [lic for lic in every.values() if tracked(lic)],
        )
        read = time.monotonic()
        before = RunningUsage(every.values(), snapshot.usage)
        usage = before.replace(before, [])
        latest: dict[str, str | None] = dict(snapshot.latest)
        plans: list[_Planned] = []
        first: dict[str, _Planned] = {}
        encoder = DecisionEncoder()
        for item, e in zip(items, events, strict=True):
            if isinstance(item, Rescreen):
                plan = self._plan_rescreen(item, latest, licences, usage, catalogue, encoder)
            else:
                plan = _Planned(e, self._clock(), latest.get(e.shipment_id))
                if e.event_id in snapshot.stored:
                    plan.stored = snapshot.stored[e.event_id]
                elif e.event_id in first:
                    plan.duplicate_of = first[e.event_id]
                else:
                    self._decide(plan, licences[e.exporter.id], usage, catalogue, encoder)
                    if plan.decision is not None:
                        first[e.event_id] = plan
            plans.append(plan)
            if plan.decision is not None:
                usage.apply(plan.decision)
                latest[e.shipment_id] = plan.decision.decision_id
        new = [p for p in plans if p.decision is not None]
        decided = time.monotonic()
        if new:
            await self._settle(
                new, snapshot, before, licences, every, lock_more, catalogue, encoder
            )
        if timings is not None:
            timings.update(
                snapshot_s=read - started,
                decide_s=decided - read,
                settle_s=time.monotonic() - decided,
            )
        return [self._result(p) for p in plans]

    def _plan_rescreen(
        self,
        item: Rescreen,
        latest: dict[str, str | None],
        licences: dict[str, list[License]],
        usage: RunningUsage,
        catalogue: Catalogue,
        encoder: DecisionEncoder,
    ) -> _Planned:
        state = item.state
        plan = _Planned(
            state.event,
            self._clock(),
            state.latest_decision_id,
            trigger=item.trigger,
            previous=state.latest_decision,
            release=item.release,
        )
        if latest.get(state.shipment_id) != state.latest_decision_id or (
            item.release is not None and item.release.decision_id != state.latest_decision_id
        ):
            plan.dropped = True  # decided again meanwhile: that decision saw the change too
            return plan
        self._decide(plan, licences[state.event.exporter.id], usage, catalogue, encoder)
        if plan.decision is not None and same_substance(state.latest_decision, plan.decision):
            plan.decision, plan.payload, plan.dropped = None, None, True
        return plan

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
                trigger=plan.trigger,
                supersedes=plan.supersedes,
                parties=self._reference.parties,  # controlled-party screening
            )
            if plan.previous is not None:  # review releases: kept by re-screens, or applied
                plan.decision = carry_releases(plan.previous, plan.decision)
                if plan.release is not None:
                    plan.decision = with_release(plan.decision, plan.release)
            if plan.event_json is None:
                plan.event_json = e.model_dump_json()
            plan.payload = encoder.encode(plan.decision, e, plan.event_json)
        except Exception as exc:  # a defect, not the input's: the item fails alone
            plan.decision, plan.error = None, exc

    async def _settle(
        self,
        new: list[_Planned],
        snapshot: Snapshot,
        before: RunningUsage,
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
        new_events = [p.event.event_id for p in new if p.trigger is Trigger.SHIPMENT_EVENT]
        async with self._ledger.pool.acquire() as conn, conn.transaction():
            tx = BatchTransaction(conn, self._ledger.source_topic)
            if not await tx.lock_shipments_unchanged(expected, new_events):
                raise _RestartError()
            if to_lock:
                locked = [lic for lid, lic in every.items() if lid in to_lock]
                fresh = await tx.lock_licences(to_lock, locked, sorted(expected))
                self._recheck(
                    new, before, RunningUsage(locked, fresh), to_lock, licences, catalogue, encoder
                )
            await tx.write(
                [
                    Settled(p.event, p.decision, p.payload, consumed_rows(p.decision), p.event_json)
                    for p in new
                    if p.decision and p.payload
                ],
                existing=snapshot.latest,
                licences=every,
            )

    def _recheck(
        self,
        new: list[_Planned],
        before: RunningUsage,
        fresh: RunningUsage,
        locked: set[str],
        licences: dict[str, list[License]],
        catalogue: Catalogue,
        encoder: DecisionEncoder,
    ) -> None:
        """Walk the batch again on the locked truth; re-decide what no longer fits."""
        usage = before.replace(fresh, locked)
        for p in new:
            assert p.decision is not None
            if not usage.fits(p.decision):
                self._metrics.ledger_conflicts.inc()
                self._decide(p, licences[p.event.exporter.id], usage, catalogue, encoder)
                if p.decision is None:  # the engine failed this time: start over
                    raise _RestartError()
                if p.previous is not None and same_substance(p.previous, p.decision):
                    raise _RestartError()  # the re-screen has nothing new now: start over
                outside = set(consumption_of(p.decision)) - locked
                if outside:
                    raise _RestartError(outside)
                if not usage.fits(p.decision):
                    raise _RestartError()
            usage.apply(p.decision)

    def _result(self, plan: _Planned) -> Result:
        if plan.dropped:
            return None
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
