"""``decide``: the deterministic decision on a shipment event."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from operator import attrgetter

from schemas.decision import (
    Decision,
    DecisionEvidence,
    LicenseUsage,
    LineDecision,
    Outcome,
    Reason,
    ReasonCode,
    Trigger,
)
from schemas.license import License
from schemas.party import PartyMatch
from schemas.quantity import Quantity
from schemas.shipment import EventType, ShipmentEvent
from services.screening.catalogue.model import Catalogue
from services.screening.engine.classification import classify
from services.screening.engine.construct import build
from services.screening.engine.index import Situation, index_for
from services.screening.engine.lines import LicenceState, decide_line, make_reason, not_controlled
from services.screening.engine.recognition import recognise
from services.screening.engine.usage import LicenceUsage
from services.screening.parties import PartyIndex, apply_party_matches, screen_parties

#: Namespace of decision ids (uuid5); never change it, ids of past decisions depend on it.
DECISION_NAMESPACE = uuid.UUID("6f1d3c52-7d0e-5b8a-9a43-6c1e0d5f2b11")


def decision_id_for(
    event_id: str, trigger: Trigger, supersedes: str | None, catalogue_version: str
) -> str:
    """A deterministic decision id: the same input decided again gets the same id."""
    key = "\x1f".join((event_id, str(trigger), supersedes or "", catalogue_version))
    # uuid5 computed inline (same value as uuid.uuid5, without building a UUID object)
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + key.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_NAMESPACE_BYTES = DECISION_NAMESPACE.bytes
_licence_id = attrgetter("license_id")


def decide(
    event: ShipmentEvent,
    catalogue: Catalogue,
    licences: Sequence[License],
    usage: LicenceUsage,
    *,
    decided_at: datetime,
    trigger: Trigger = Trigger.SHIPMENT_EVENT,
    supersedes: str | None = None,
    include_evidence: bool = True,
    parties: PartyIndex | None = None,
) -> Decision:
    """Decide a shipment event against a catalogue, the licences known and their usage.

    ``licences`` may hold other exporters' licences (only the exporter's own are considered);
    ``usage`` is what other shipments have consumed. The result depends on nothing else except
    ``decided_at`` and the controlled-party list ``parties`` (``None``: parties not screened).
    """
    version = catalogue.version
    lines: list[LineDecision] = []
    reasons: list[Reason] = []
    own: list[License] | None = None
    if event.event_type is _CANCELLED:
        message = f"shipment {event.shipment_id} was cancelled; nothing may ship under it"
        reasons.append(make_reason(ReasonCode.SHIPMENT_CANCELLED, None, None, None, message))
        outcome = _HOLD
    else:
        index = index_for(catalogue)
        # What recognised lines need, computed at the first one (most lines are no item).
        context: tuple[Situation, LicenceState] | None = None
        outcome = _APPROVE
        for line in event.lines:
            recognised = recognise(index, line)
            if not recognised:
                line_decision, line_reasons = not_controlled(line)
            else:
                if context is None:
                    own = own_licences(licences, event.exporter.id)
                    context = (index.situation(event), _licence_state(event, own, usage))
                situation, state = context
                found = classify(index, situation, event, line, recognised)
                line_decision, line_reasons = decide_line(event, line, found, state)
            lines.append(line_decision)
            reasons.extend(line_reasons)
            if line_decision.outcome is _HOLD:
                outcome = _HOLD
    # Controlled-party screening (services/screening/parties): holds the lines a listing covers.
    matched = screen_parties(event, parties) if parties is not None else []
    if matched and apply_party_matches(lines, reasons, matched):
        outcome = _HOLD
    evidence = None
    if include_evidence:
        if own is None:
            own = own_licences(licences, event.exporter.id)
        evidence = _evidence(event, own, usage, matched, parties)
    return build(
        Decision,
        _DECISION_FIELDS,
        {
            "decision_id": decision_id_for(event.event_id, trigger, supersedes, version),
            "shipment_id": event.shipment_id,
            "event_id": event.event_id,
            "exporter_id": event.exporter.id,
            "outcome": outcome,
            "lines": lines,
            "reasons": reasons,
            "catalogue_version": version,
            "trigger": trigger,
            "supersedes": supersedes,
            "decided_at": decided_at,
            "ship_date": event.ship_date,
            "evidence": evidence,
        },
    )


_DECISION_FIELDS = frozenset(Decision.model_fields)
_CANCELLED = EventType.CANCELLED
_APPROVE = Outcome.APPROVE
_HOLD = Outcome.HOLD


def own_licences(licences: Sequence[License], holder_id: str) -> list[License]:
    """The licences of ``holder_id``, by licence id (the order licences are tried in)."""
    own = [lic for lic in licences if lic.holder_id == holder_id]
    if len(own) > 1:
        own.sort(key=_licence_id)
    return own


def _licence_state(event: ShipmentEvent, own: list[License], usage: LicenceUsage) -> LicenceState:
    return LicenceState(
        licences=own,
        declared=event.declared_licenses,
        consumed=dict(usage.consumed),
        single_used_by=usage.single_used_by,
    )


def _evidence(
    event: ShipmentEvent,
    own: list[License],
    usage: LicenceUsage,
    matched: list[PartyMatch],
    parties: PartyIndex | None,
) -> DecisionEvidence:
    used: list[LicenseUsage] = []
    for licence in own:
        lid = licence.license_id
        amount = usage.consumed.get(lid, Decimal(0))
        user = usage.single_used_by.get(lid)
        if not amount and user is None:
            continue
        cap = licence.max_quantity
        quantity = (
            Quantity.model_construct(amount=amount, unit=cap.unit) if amount and cap else None
        )
        used.append(
            LicenseUsage.model_construct(license_id=lid, used=quantity, used_by_shipment=user)
        )
    return DecisionEvidence.model_construct(
        event=event,
        licenses=own,
        license_usage=used,
        parties=matched,  # controlled-party evidence (services/screening/parties)
        party_list_version=parties.version if parties is not None else None,
    )
