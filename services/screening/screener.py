"""Decide a shipment event (or re-screen a held shipment) and settle it in the ledger.

The loop: read the shipment's state and the usage of the exporter's licences by other shipments,
run the pure engine, then settle in one transaction (lock, re-check, insert). When the ledger
moved meanwhile (a conflict or a newer decision on the shipment) decide again on fresh data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from schemas import Decision, License, ShipmentEvent, Trigger, utc_now
from services.common.logging import get_logger
from services.screening.engine import decide
from services.screening.ledger import Ledger, Settlement, ShipmentState
from services.screening.metrics import ScreeningMetrics
from services.screening.reference_data import ReferenceData

log = get_logger(__name__)

MAX_ATTEMPTS = 50


class LedgerContentionError(RuntimeError):
    """The ledger kept moving under a decision; treated as transient (retried)."""


@dataclass(frozen=True)
class Screened:
    """A decision to emit: its JSON exactly as stored, and whether it was new."""

    decision_id: str
    shipment_id: str
    payload: str
    decision: Decision | None
    """The new decision (``None`` when an already stored one is re-emitted)."""


def same_substance(before: Decision, after: Decision) -> bool:
    """Whether a re-screen changed nothing an operator acts on (outcome, reasons, licences)."""

    def reasons(d: Decision) -> set[tuple[str, int | None, str | None]]:
        return {(r.code.value, r.line_no, r.control_id) for r in d.reasons}

    def licences(d: Decision) -> set[tuple[int, str | None]]:
        return {(line.line_no, line.license_id) for line in d.lines}

    return (
        before.outcome is after.outcome
        and reasons(before) == reasons(after)
        and licences(before) == licences(after)
    )


class Screener:
    """Takes decisions against the reference data and records them in the ledger."""

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

    async def screen_event(self, event: ShipmentEvent) -> Screened:
        """The decision for ``event``: stored once, re-emitted as stored on duplicates."""
        for attempt in range(MAX_ATTEMPTS):
            stored = await self._ledger.decision_for_event(event.event_id)
            if stored is not None:
                self._metrics.duplicates.inc()
                return _re_emit(stored)
            state = await self._ledger.shipment_state(event.shipment_id)
            expected = state.latest_decision_id if state is not None else None
            decision, licences = await self._decide(event, Trigger.SHIPMENT_EVENT, expected)
            settlement, payload = await self._ledger.settle(
                decision, event, licences, expected_latest=expected
            )
            if settlement is Settlement.RECORDED:
                assert payload is not None
                return Screened(decision.decision_id, decision.shipment_id, payload, decision)
            if settlement is Settlement.DUPLICATE:
                assert payload is not None
                self._metrics.duplicates.inc()
                return _re_emit(payload)
            self._metrics.ledger_conflicts.inc()
            log.info("ledger moved; deciding again", settlement=settlement.value, attempt=attempt)
            await asyncio.sleep(min(0.005 * attempt, 0.1))
        raise LedgerContentionError(f"event {event.event_id}: the ledger kept changing")

    async def rescreen(self, state: ShipmentState, trigger: Trigger) -> Screened | None:
        """A new decision superseding ``state``'s latest one, if the outcome or reasons change."""
        for attempt in range(MAX_ATTEMPTS):
            decision, licences = await self._decide(state.event, trigger, state.latest_decision_id)
            if same_substance(state.latest_decision, decision):
                return None
            settlement, payload = await self._ledger.settle(
                decision, state.event, licences, expected_latest=state.latest_decision_id
            )
            if settlement is Settlement.RECORDED:
                assert payload is not None
                return Screened(decision.decision_id, decision.shipment_id, payload, decision)
            if settlement is not Settlement.CONFLICT:
                return None  # someone else decided the shipment meanwhile
            self._metrics.ledger_conflicts.inc()
            fresh = await self._ledger.shipment_state(state.shipment_id)
            if fresh is None or fresh.latest_decision_id != state.latest_decision_id:
                return None
            await asyncio.sleep(min(0.005 * attempt, 0.1))
        raise LedgerContentionError(f"re-screen of {state.shipment_id}: the ledger kept changing")

    async def _decide(
        self, event: ShipmentEvent, trigger: Trigger, supersedes: str | None
    ) -> tuple[Decision, dict[str, License]]:
        catalogue = self._reference.require_catalogue()
        candidates = self._reference.licences_of(event.exporter.id)
        usage = await self._ledger.usage(candidates, exclude_shipment=event.shipment_id)
        decision = decide(
            event,
            catalogue,
            candidates,
            usage,
            decided_at=self._clock(),
            trigger=trigger,
            supersedes=supersedes,
            parties=self._reference.parties,  # controlled-party screening
        )
        return decision, {lic.license_id: lic for lic in candidates}


def _re_emit(payload: str) -> Screened:
    stored = Decision.model_validate_json(payload)
    return Screened(stored.decision_id, stored.shipment_id, payload, None)
